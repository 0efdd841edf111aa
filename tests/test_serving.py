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
import requests
import tensorflow as tf

from autoint_tf import ct
from autoint_tf import grad_net
from autoint_tf import radiance
from autoint_tf import scenes
from autoint_tf import tomography
from autoint_tf import toy
from autoint_tf import training
from serving import client
from serving import export
from serving import tflite

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
SMALL_BATCH = 4096


@pytest.fixture(scope="module")
def served(tmp_path_factory):
  """Trains tiny radiance, CT and 1D models, exports them, serves them with the stand-in."""
  from serving_standin import Standin  # pylint: disable=g-import-not-at-top
  tmp = tmp_path_factory.mktemp("serving")
  base = str(tmp / "exports")
  config = radiance.Config(image_size=8, batch_size=64, steps=3, log_every=1, eval_every=1000,
                           checkpoint_every=1000, num_sections=4)
  train, test = scenes.procedural_views(num_train=3, num_test=1, size=8)
  model, _ = radiance.train(config, train, test, str(tmp / "radiance"), progress=False)
  v1 = export.export(str(tmp / "radiance"), base, "autoint", max_batch=SMALL_BATCH)
  v2 = export.export(str(tmp / "radiance"), base, "autoint")
  ct_config = ct.Config(num_angles=8, num_detectors=8, subsample=2, width=16, depth=2,
                          parameterization="point", steps=5, samples_per_line=4)
  _, ct_out = ct.train_and_evaluate(ct_config, workdir=str(tmp / "ct"), progress=False)
  export.export(str(tmp / "ct"), base, "ct")
  toy.train_and_evaluate(toy.Config(steps=20, width=16, depth=2, num_eval_intervals=10),
                         str(tmp / "toy"), progress=False)
  export.export(str(tmp / "toy"), base, "poly")
  standin = Standin(base, ["autoint", "ct", "poly"])
  rest_port, grpc_port = standin.start()
  rays = test.rays()
  yield {"workdir": str(tmp / "radiance"), "model": model, "base": base, "v1": v1, "v2": v2, "rest": f"127.0.0.1:{rest_port}",
         "grpc": f"127.0.0.1:{grpc_port}", "rays": rays, "test": test, "ct": ct_out,
         "toy": str(tmp / "toy")}
  standin.stop()


def _inputs(served, n=40):
  return {"rays_o": served["rays"]["rays_o"][:n], "rays_d": served["rays"]["rays_d"][:n]}


def _in_process(served, inputs):
  r = {k: tf.constant(v) for k, v in inputs.items()}
  b = len(inputs["rays_o"])
  r.update(near=tf.fill([b], served["test"].near), far=tf.fill([b], served["test"].far))
  return {k: v.numpy() for k, v in served["model"].render(r, 8).items()}


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
  local = radiance.render_views(served["model"], test.subset(slice(0, 1)), "autoint", 8)
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


def _bad_requests(served):
  """(description, callable that must raise ServingError, substring of the message)."""
  rest = client.RestClient(served["rest"], "autoint")
  rest_v1 = client.RestClient(served["rest"], "autoint", 1)
  grpc_client = client.GrpcClient(served["grpc"], "autoint")
  ct_rest = client.RestClient(served["rest"], "ct")
  poly = client.GrpcClient(served["grpc"], "poly")
  good = _inputs(served, 4)
  o, d = good["rays_o"], good["rays_d"]
  nan_o = o.copy()
  nan_o[1, 2] = np.nan
  inf_d = d.copy()
  inf_d[0, 0] = np.inf
  zero_d = d.copy()
  zero_d[2] = 0
  n4 = np.full(4, 2.0, np.float32)
  url = f"http://{served['rest']}/v1/models/autoint:predict"

  def raw(body):
    def call():
      r = requests.post(url, data=body, timeout=30)
      if r.status_code != 200:
        raise client.ServingError(r.status_code, r.json()["error"])
    return call

  return [
      ("last dimension 2", lambda: rest.predict({"rays_o": o[:, :2], "rays_d": d}), "rays_o"),
      ("rank 1", lambda: grpc_client.predict({"rays_o": o[0], "rays_d": d}), "rays_o"),
      ("rows differ", lambda: rest.predict({"rays_o": o, "rays_d": d[:3]}), "rays_d"),
      ("NaN origin", lambda: rest.predict({"rays_o": nan_o, "rays_d": d}), "rays_o"),
      ("inf direction", lambda: grpc_client.predict({"rays_o": o, "rays_d": inf_d}), "rays_d"),
      ("zero direction", lambda: rest.predict({"rays_o": o, "rays_d": zero_d}), "zero-length"),
      ("empty batch", lambda: grpc_client.predict({"rays_o": o[:0], "rays_d": d[:0]}),
       "empty batch"),
      ("huge batch", lambda: rest_v1.predict({"rays_o": np.repeat(o, 1100, 0),
                                              "rays_d": np.repeat(d, 1100, 0)}),
       "max_batch_size"),
      ("near >= far", lambda: rest.predict({"rays_o": o, "rays_d": d, "near": n4, "far": n4},
                                           "render_rays_bounded"), "near must be < far"),
      ("NaN near", lambda: grpc_client.predict(
          {"rays_o": o, "rays_d": d, "near": n4 * np.nan, "far": n4 + 1},
          "render_rays_bounded"), "near"),
      ("far rows", lambda: rest.predict({"rays_o": o, "rays_d": d, "near": n4, "far": n4[:2]},
                                        "render_rays_bounded"), "far"),
      ("inf t1", lambda: rest.predict({"rays_o": o, "rays_d": d, "t0": n4, "t1": n4 * np.inf},
                                      "ray_integral"), "t1"),
      ("unknown signature", lambda: rest.predict(good, "render_everything"),
       "render_everything"),
      ("missing input", lambda: grpc_client.predict({"rays_o": o}, "render_rays"), "rays_d"),
      ("extra input", lambda: rest.predict({**good, "focal": n4}, "render_rays"), "focal"),
      ("malformed JSON", raw("{\"inputs\": [1, 2"), "JSON"),
      ("strings", raw(json.dumps({"inputs": {"rays_o": [["a", "b", "c"]],
                                             "rays_d": [[0, 0, 1]]}})), "numeric"),
      ("both formats", raw(json.dumps({"inputs": {}, "instances": []})), "exactly one"),
      ("instances not objects", raw(json.dumps({"instances": [[0, 0, 0]]})), "instances"),
      ("wrong dtype (gRPC int)", lambda: grpc_client.predict(
          {"rays_o": o.astype(np.int64), "rays_d": d}), "rays_o"),
      ("CT zero-length line", lambda: ct_rest.predict(
          {"start": np.zeros((2, 2)), "end": np.zeros((2, 2))}, "line_integral"), "end - start"),
      ("1D bounds rows", lambda: poly.predict({"lower": np.zeros((3, 1)),
                                               "upper": np.ones((2, 1))}), "upper"),
      ("unknown model", lambda: client.RestClient(served["rest"], "nope").predict(good), "nope"),
      # Answers that would be wrong (NaN, or quietly another scene) are refused.
      ("direction 1e20", lambda: rest.predict({"rays_o": o, "rays_d": d * 1e20}),
       "rays_d has a component larger than 10000"),
      ("far beyond the trained range", lambda: grpc_client.predict(
          {"rays_o": o, "rays_d": d, "near": n4, "far": n4 * 5}, "render_rays_bounded"),
       "far above 4.3: this model was trained on [1.7, 4.3]"),
      ("negative near", lambda: rest.predict(
          {"rays_o": o, "rays_d": d, "near": -n4, "far": n4}, "render_rays_bounded"),
       "near below 1.7"),
      ("t0 before the trained range", lambda: rest.predict(
          {"rays_o": o, "rays_d": d, "t0": n4 * 0, "t1": n4}, "ray_integral"), "t0 below"),
      ("CT end 1e30", lambda: ct_rest.predict(
          {"start": np.zeros((2, 2)), "end": np.full((2, 2), 1e30)}, "line_integral"),
       "end has a component larger"),
      ("1D bound 1e9", lambda: poly.predict({"lower": np.zeros((2, 1), np.float32),
                                             "upper": np.full((2, 1), 1e9, np.float32)}),
       "upper has a component larger"),
  ]


def test_bad_requests_get_clear_errors_and_the_server_keeps_answering(served):
  cases = _bad_requests(served)
  assert len(cases) >= 29
  for name, call, needle in cases:
    with pytest.raises(client.ServingError) as e:
      call()
    assert needle.lower() in str(e.value).lower(), (name, str(e.value)[:500])
  inputs = _inputs(served, 5)
  got = client.GrpcClient(served["grpc"], "autoint").predict(inputs, "render_rays")
  np.testing.assert_allclose(got["rgb"], _in_process(served, inputs)["rgb"], atol=1e-5)
  assert np.all(np.isfinite(got["rgb"]))


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
  assert sorted(os.listdir(model_dir)) == [f".tmp-{os.getpid()}-running", "1", "2", "3"]
  for path in (second, os.path.join(second, "saved_model.pb"),
               os.path.join(second, "variables")):
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
  got = tflite.run(flats["render_rays"], inputs)
  np.testing.assert_allclose(got["rgb"], _in_process(served, inputs)["rgb"], atol=1e-4)


def test_tftrt_stops_with_a_clear_message():
  run = subprocess.run([sys.executable, "-m", "serving.tftrt", "--saved_model=x", "--out=y"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert run.returncode == 2
  assert "TF-TRT is not available" in run.stderr and "TFLite" in run.stderr
  assert "Traceback" not in run.stderr


@pytest.mark.parametrize("parameterization", ["ray", "point"])
def test_line_integral_signature_agrees_for_any_geometry_and_orientation(parameterization):
  cfg = ct.Config(parameterization=parameterization, depth=2, width=16)
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
