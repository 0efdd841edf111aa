"""Serving: exported signatures vs the in-process models, saved_model_cli, the TF Serving
contract through the loopback stand-in with the real REST and gRPC clients, bad requests,
concurrent load, TFLite parity and the TF-TRT message."""

import concurrent.futures
import json
import os
import shutil
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import app_config
from autoint_tf import ct
from autoint_tf import grad_net
from autoint_tf import radiance
from autoint_tf import tomography
from autoint_tf import training
from autoint_tf.serving import client
from autoint_tf.serving import export
from autoint_tf.serving import tflite
from conftest import in_process as _in_process
from conftest import served_inputs as _inputs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


def test_export_records_what_the_model_was_trained_on(served):
  with open(os.path.join(served["v2"], "assets.extra", "model_info.json")) as f:
    info = json.load(f)
  assert info["application"] == "radiance" and info["num_sections"] == 8
  assert (info["context"]["near"], info["context"]["far"]) == pytest.approx((1.7, 4.3))
  assert not info["allow_any_bounds"] and info["max_batch_size"] == 65536


def test_exported_signatures_equal_the_in_process_models(served):
  inputs = _inputs(served)
  want = _in_process(served, inputs)
  loaded = tf.saved_model.load(served["v2"])
  got = loaded.signatures["render_rays"](**{k: tf.constant(v) for k, v in inputs.items()})
  for k in ("rgb", "depth", "opacity"):
    np.testing.assert_allclose(got[k].numpy(), want[k], atol=1e-5)
  default = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
  np.testing.assert_allclose(default["rgb"].numpy(), want["rgb"], atol=1e-5)
  # ray_integral: Phi(t1) - Phi(t0) of both networks.
  b = len(inputs["rays_o"])
  t0, t1 = np.full(b, 2.0, np.float32), np.linspace(2.5, 4.0, b).astype(np.float32)
  got = loaded.signatures["ray_integral"](t0=tf.constant(t0), t1=tf.constant(t1),
                                          **{k: tf.constant(v) for k, v in inputs.items()})
  model = served["model"]
  x = {"origin": inputs["rays_o"], "direction": inputs["rays_d"]}
  want_s = grad_net.definite_integral(lambda y: model.integrals(y)[0][..., None],
                                      t0[:, None], t1[:, None], inputs=x)
  np.testing.assert_allclose(got["sigma_integral"].numpy(), want_s.numpy()[:, 0], atol=1e-5)
  # line_integral of the CT model: the sinogram of the in-process model on full chords.
  out = served["ct"]
  lines = tomography.parallel_beam_lines(np.arange(8) * np.pi / 8, 8)
  start = lines.origin + lines.t_min[..., None] * lines.direction
  end = lines.origin + lines.t_max[..., None] * lines.direction
  got = tf.saved_model.load(os.path.join(served["base"], "ct", "1")).signatures["line_integral"](
      start=tf.constant(start.reshape(-1, 2), tf.float32),
      end=tf.constant(end.reshape(-1, 2), tf.float32))
  want = ct.line_integrals(out["phi"], *ct.flat_line_inputs("point", lines)).numpy()
  np.testing.assert_allclose(got["value"].numpy(), want, atol=1e-5)
  # definite_integral of the 1D model.
  phi = training.restore(served["toy"]).model
  lo, hi = np.array([[-1.0], [0.0]], np.float32), np.array([[2.0], [0.5]], np.float32)
  got = tf.saved_model.load(os.path.join(served["base"], "poly", "1")).signatures[
      "definite_integral"](lower=tf.constant(lo), upper=tf.constant(hi))
  np.testing.assert_allclose(got["integral"].numpy(),
                             grad_net.definite_integral(phi, lo, hi, variables=("x",)).numpy(),
                             atol=1e-5)


def test_saved_model_cli_lists_and_runs_every_signature(served, tmp_path):
  show = subprocess.run([CLI, "show", "--dir", served["v2"], "--all"], capture_output=True,
                        text=True, check=True).stdout
  for name in ("render_rays", "render_rays_bounded", "ray_integral", "serving_default"):
    assert f"signature_def['{name}']" in show
  inputs = _inputs(served, 3)
  exprs = {"render_rays": "", "serving_default": "",
           "render_rays_bounded": ";near=[2.0, 2.0, 2.0];far=[4.0, 4.0, 4.0]",
           "ray_integral": ";t0=[2.0, 2.0, 2.0];t1=[3.0, 3.0, 3.0]"}
  for name, extra in exprs.items():
    expr = (f"rays_o={inputs['rays_o'].tolist()};rays_d={inputs['rays_d'].tolist()}" + extra)
    run = subprocess.run([CLI, "run", "--dir", served["v2"], "--tag_set", "serve",
                          "--signature_def", name, "--input_exprs", expr,
                          "--outdir", str(tmp_path / name)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
  rgb = np.load(tmp_path / "render_rays" / "rgb.npy")
  np.testing.assert_allclose(rgb, _in_process(served, inputs)["rgb"], atol=1e-5)


def test_grpc_and_both_rest_formats_give_the_same_numbers(served):
  inputs = _inputs(served, 25)
  want = _in_process(served, inputs)
  rest = client.RestClient(served["rest"], "autoint")
  grpc_client = client.GrpcClient(served["grpc"], "autoint")
  answers = [rest.predict(inputs, "render_rays"), rest.predict(inputs, "render_rays", True),
             grpc_client.predict(inputs, "render_rays"), rest.predict(inputs)]
  for got in answers:
    for k in ("rgb", "depth", "opacity"):
      np.testing.assert_allclose(got[k], want[k], atol=1e-5)
  for meta in (rest.metadata(), grpc_client.metadata()):
    assert {"render_rays", "render_rays_bounded", "ray_integral", "serving_default"} <= set(meta)
    assert meta["render_rays"]["inputs"] == {"rays_o": [-1, 3], "rays_d": [-1, 3]}
    assert set(meta["render_rays"]["outputs"]) == {"rgb", "depth", "opacity"}
  # A whole image through the server equals the in-process render of the same camera.
  test = served["test"]
  image = client.render_image(grpc_client, test.poses[0], test.height, test.width, test.focal,
                              batch_size=16)
  local = radiance.render_views(served["model"], test.subset(slice(0, 1)), 8)
  np.testing.assert_allclose(image["rgb"], local["rgb"][0], atol=1e-5)
  grpc_client.close()


def test_unknown_model_or_version_is_not_found(served):
  inputs = _inputs(served, 2)
  for make in (lambda m, v: client.RestClient(served["rest"], m, v),
               lambda m, v: client.GrpcClient(served["grpc"], m, v)):
    with pytest.raises(client.ServingError) as e:
      make("nonexistent", None).predict(inputs)
    assert e.value.code == "NOT_FOUND" and "nonexistent" in e.value.message
    with pytest.raises(client.ServingError) as e:
      make("autoint", 7).predict(inputs)
    assert e.value.code == "NOT_FOUND"
    np.testing.assert_allclose(make("autoint", 1).predict(inputs)["rgb"],
                               make("autoint", 2).predict(inputs)["rgb"])


def test_eight_concurrent_clients_get_single_request_answers(served):
  requests_ = [{k: v[i * 8:(i + 1) * 8] for k, v in _inputs(served, 64).items()}
               for i in range(8)]
  want = [client.RestClient(served["rest"], "autoint").predict(r)["rgb"] for r in requests_]

  def worker(i):
    c = (client.RestClient(served["rest"], "autoint") if i % 2 else
         client.GrpcClient(served["grpc"], "autoint"))
    answers, deadline = 0, time.time() + 5.0
    while time.time() < deadline:
      k = (i + answers) % 8
      np.testing.assert_allclose(c.predict(requests_[k])["rgb"], want[k], atol=1e-6)
      answers += 1
    return answers

  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    counts = list(pool.map(worker, range(8)))  # re-raises any error or mismatch
  assert all(c > 0 for c in counts), counts


def test_atomic_export_never_leaves_a_half_written_version(served, tmp_path, monkeypatch):
  base = str(tmp_path / "exp")
  model, info = served["model"], training.restore(served["workdir"]).context
  written = []

  def crash(src, dst):  # the export is complete on disk, the process dies before the rename
    written.append(sorted(os.listdir(src)))
    raise KeyboardInterrupt("simulated crash")

  monkeypatch.setattr(export.os, "rename", crash)
  with pytest.raises(KeyboardInterrupt):
    export.write_export([model], export.radiance_functions(model, info), base, "m")
  assert "saved_model.pb" in written[0]
  assert os.listdir(os.path.join(base, "m")) == []  # no version, no temporary left
  monkeypatch.undo()
  assert export.write_export([model], export.radiance_functions(model, info), base,
                             "m").endswith(os.path.join("m", "1"))
  assert export.next_version(os.path.join(base, "m")) == 2
  with pytest.raises(FileExistsError, match="immutable"):
    export.write_export([model], export.radiance_functions(model, info), base, "m", version=1)


def test_concurrent_exports_take_different_versions_readable_by_all(served, tmp_path,
                                                                    monkeypatch):
  base = str(tmp_path / "exp")
  model, info = served["model"], training.restore(served["workdir"]).context
  functions = export.radiance_functions(model, info)
  model_dir = tmp_path / "exp" / "m"
  os.makedirs(model_dir / ".tmp-999999999-killed")  # a killed export's leftovers
  os.makedirs(model_dir / f".tmp-{os.getpid()}-running")  # a live export's (this process)
  for name in (".models.999999999.k2j4.tmp.config", ".batching_parameters.999999999.x1.tmp.txt",
               f".models.{os.getpid()}.live.tmp.config"):  # killed and live atomic writes
    (model_dir / name).write_text("partial")
  first = export.write_export([model], functions, base, "m")
  # Another export takes version 2 while ours is being written: ours must take 3.
  real_next = export.next_version
  calls = []

  def racing(directory):
    calls.append(1)
    if len(calls) == 1:
      shutil.copytree(first, os.path.join(directory, "2"))
      return 2
    return real_next(directory)

  monkeypatch.setattr(export, "next_version", racing)
  second = export.write_export([model], functions, base, "m")
  assert second.endswith(os.path.join("m", "3")) and len(calls) == 2
  assert sorted(os.listdir(model_dir)) == [f".models.{os.getpid()}.live.tmp.config",
                                           f".tmp-{os.getpid()}-running", "1", "2", "3",
                                           "batching_parameters.txt", "models.config"]
  for path in (second, os.path.join(second, "saved_model.pb"),
               os.path.join(second, "variables"), os.path.join(model_dir, "models.config")):
    mode = os.stat(path).st_mode
    assert mode & stat.S_IROTH, (path, oct(mode))


def test_tflite_render_rays_matches_tensorflow(served):
  model = served["model"]
  info = training.restore(served["workdir"]).context
  flats = tflite.convert(model, info)
  assert set(flats) == {"render_rays", "ray_integral"}
  diffs = tflite.parity(model, info, flats, _inputs(served, 64))
  assert max(diffs.values()) < 1e-4, diffs
  # ... and against the exported TF Serving signature itself.
  inputs = _inputs(served, 16)
  got = tflite.invoke(flats["render_rays"], inputs)
  np.testing.assert_allclose(got["rgb"], _in_process(served, inputs)["rgb"], atol=1e-4)


def test_tftrt_stops_with_a_clear_message():
  run = subprocess.run([sys.executable, "-m", "serving.tftrt", "--saved_model=x", "--out=y"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert run.returncode == 2
  assert "TF-TRT is not available" in run.stderr and "TFLite" in run.stderr
  assert "Traceback" not in run.stderr


@pytest.mark.parametrize("parameterization", ["ray", "point"])
def test_line_integral_signature_agrees_for_any_geometry_and_orientation(parameterization):
  cfg = app_config(ct.Config, parameterization=parameterization, depth=2, width=16)
  phi = ct.make_network(cfg)
  fn = export.ct_functions(phi, cfg, radius=2.0, checks=False)["line_integral"][0]
  for lines in (tomography.parallel_beam_lines(np.arange(6) * np.pi / 6, 5),
                tomography.fan_beam_lines(np.arange(6) * np.pi / 3, 3.0, 6.0, 0.5, 5)):
    want = ct.line_integrals(phi, *ct.flat_line_inputs(parameterization, lines)).numpy()
    ends = [(lines.origin + t[..., None] * lines.direction).reshape(-1, 2).astype(np.float32) * 2
            for t in (lines.t_min, lines.t_max)]
    for a, b in (ends, ends[::-1]):  # either end first: the same segment, the same integral
      got = fn(tf.constant(a), tf.constant(b))["value"].numpy()
      np.testing.assert_allclose(got, 2 * want, atol=1e-5)  # lengths scale with the radius
  # A run with a support disc (ct.with_support): each segment is cut to it as in training.
  support = {"centre": [0.3, -0.2], "radius": 0.9}  # in the scan's units (radius 2)
  fn = export.ct_functions(phi, cfg, radius=2.0, checks=False,
                           support=support)["line_integral"][0]
  lines = tomography.fan_beam_lines(np.arange(6) * np.pi / 3, 3.0, 6.0, 0.5, 5)
  clipped = lines.clipped_to_disc([0.15, -0.1], 0.45)  # the same disc in units of the radius
  want = ct.line_integrals(phi, *ct.flat_line_inputs(parameterization, clipped)).numpy()
  missed = (clipped.t_max == clipped.t_min).reshape(-1)  # lines that miss the disc: 0
  assert missed.any() and not want[missed].any()
  ends = [(lines.origin + t[..., None] * lines.direction).reshape(-1, 2).astype(np.float32) * 2
          for t in (lines.t_min, lines.t_max)]
  got = fn(tf.constant(ends[1]), tf.constant(ends[0]))["value"].numpy()
  np.testing.assert_allclose(got, 2 * want, atol=1e-5)


def _batching_parameters_class():
  """tensorflow.serving.BatchingParameters (session_bundle_config.proto; not shipped in the
  tensorflow-serving-api wheel) built from its schema: the fields TF Serving reads."""
  from google.protobuf import descriptor_pb2  # pylint: disable=g-import-not-at-top
  from google.protobuf import descriptor_pool  # pylint: disable=g-import-not-at-top
  from google.protobuf import message_factory  # pylint: disable=g-import-not-at-top
  from google.protobuf import wrappers_pb2  # pylint: disable=g-import-not-at-top
  f = descriptor_pb2.FieldDescriptorProto
  pool = descriptor_pool.DescriptorPool()
  pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
  file = descriptor_pb2.FileDescriptorProto(name="batching.proto", package="tensorflow.serving",
                                            dependency=["google/protobuf/wrappers.proto"],
                                            syntax="proto3")
  message = file.message_type.add(name="BatchingParameters")
  for number, (name, kind, label, type_name) in enumerate([
      ("max_batch_size", f.TYPE_MESSAGE, f.LABEL_OPTIONAL, ".google.protobuf.Int64Value"),
      ("batch_timeout_micros", f.TYPE_MESSAGE, f.LABEL_OPTIONAL, ".google.protobuf.Int64Value"),
      ("max_enqueued_batches", f.TYPE_MESSAGE, f.LABEL_OPTIONAL, ".google.protobuf.Int64Value"),
      ("num_batch_threads", f.TYPE_MESSAGE, f.LABEL_OPTIONAL, ".google.protobuf.Int64Value"),
      ("thread_pool_name", f.TYPE_MESSAGE, f.LABEL_OPTIONAL, ".google.protobuf.StringValue"),
      ("allowed_batch_sizes", f.TYPE_INT64, f.LABEL_REPEATED, None),
      ("pad_variable_length_inputs", f.TYPE_BOOL, f.LABEL_OPTIONAL, None)], start=1):
    field = message.field.add(name=name, number=number, type=kind, label=label)
    if type_name:
      field.type_name = type_name
  pool.Add(file)
  return message_factory.GetMessageClass(
      pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def test_operator_files_parse_with_tf_serving_protos_and_warmup_replays(served):
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import prediction_log_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.config import model_server_config_pb2  # pylint: disable=g-import-not-at-top
  from autoint_tf.serving import session  # pylint: disable=g-import-not-at-top
  model_dir = os.path.join(served["base"], "autoint")
  with open(os.path.join(model_dir, "models.config")) as f:
    config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
  (entry,) = config.model_config_list.config
  assert (entry.name, entry.base_path, entry.model_platform) == (
      "autoint", "/models/autoint", "tensorflow")
  assert entry.model_version_policy.latest.num_versions == 1
  with open(os.path.join(model_dir, "batching_parameters.txt")) as f:
    batching = text_format.Parse(f.read(), _batching_parameters_class()())
  assert batching.max_batch_size.value == export.SERVING_BATCH <= 65536
  assert batching.num_batch_threads.value >= 1 and batching.batch_timeout_micros.value > 0
  assert "--model_config_file=/models/autoint/models.config" in export.serve_command(
      served["base"], "autoint")
  # Warm-up: PredictionLogs of every signature at each batch size, all answered.
  for name, version, count in (("autoint", "2", 4), ("autoint", "1", 4), ("ct", "1", 2),
                               ("poly", "1", 2)):
    path = os.path.join(served["base"], name, version, "assets.extra",
                        "tf_serving_warmup_requests")
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(path)]
    assert len(logs) == count * len(export.WARMUP_BATCH_SIZES) <= 1000, (name, len(logs))
    model = session.SessionModel(os.path.join(served["base"], name, version))
    assert {log.predict_log.request.model_spec.signature_name for log in logs} == (
        set(model.signatures) - {"serving_default"})
    for log in logs:
      request = log.predict_log.request
      inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
      out = model.run(request.model_spec.signature_name, inputs)
      rows = len(next(iter(inputs.values())))
      assert all(len(v) == rows for v in out.values())
      assert all(np.all(np.isfinite(v)) for v in out.values() if v.dtype.kind == "f")


def test_metadata_shows_what_the_model_was_trained_on(served):
  for c in (client.RestClient(served["rest"], "autoint"),
            client.GrpcClient(served["grpc"], "autoint")):
    info = c.model_info()
    assert info["application"] == "radiance" and info["num_sections"] == 8
    assert info["context"]["near"] == pytest.approx(1.7) and not info["allow_any_bounds"]
    assert "model_info" in c.metadata()
  info = client.GrpcClient(served["grpc"], "ct").model_info()
  assert info["application"] == "ct" and "radius" in info["context"]
  out = subprocess.run([sys.executable, "-m", "serving.client", "--metadata",
                        f"--server={served['rest']}", "--model=autoint"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, check=True).stdout
  printed = json.loads(out[out.index("{"):])
  assert printed["model_info"]["context"]["far"] == pytest.approx(4.3)
  assert set(printed["signatures"]) >= {"render_rays", "ray_integral", "model_info"}
