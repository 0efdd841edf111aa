r"""Exports a trained model as a TF Serving model directory EXPORT_BASE/MODEL_NAME/VERSION/.

  python -m serving.export --workdir=runs/demo --export_base=exports --model_name=autoint
  python -m serving.export --workdir=runs/ct8 --model_name=ct
  python -m serving.export --workdir=runs/poly --model_name=poly

Any training workdir (train.radiance, train.tomography, train.integrate) is read with
`training.restore`, which says what the run is.

Built with keras.export.ExportArchive (a plain tf.saved_model.save of a Keras 3 model does not
load in the session loader TF Serving uses). Written to a hidden temporary directory and renamed
into place, so a half-written export never appears as a version. Signatures (named inputs and
outputs; every request is checked inside the graph, bad input -> INVALID_ARGUMENT naming it):

  radiance models:
    render_rays (= serving_default): rays_o [B,3], rays_d [B,3] -> rgb [B,3], depth [B],
        opacity [B]; sampling network + integral networks at the N + 1 posts, the training
        near/far. TF Serving signatures have no optional inputs, so the bounds go in:
    render_rays_bounded: rays_o, rays_d, near [B], far [B] -> rgb, depth, opacity.
    ray_integral: rays_o, rays_d, t0 [B], t1 [B] -> sigma_integral [B], color_integral [B,3]:
        integral over [t0, t1] of the density and colour pre-activations (two evaluations);
        with a scene box, over the part of [t0, t1] inside it (0 for rays that miss it).
    The quadrature baseline exports render_rays and render_rays_bounded (its own coarse +
    fine samples; no integral networks, so no ray_integral), e.g. to compare it in the viewer.
  CT models: line_integral: start [B,2], end [B,2] (line end points, the sinogram's
        units) -> value [B], the line integral of the attenuation between them.
  1D/nD models: definite_integral: lower [B,D], upper [B,D] -> integral [B,K].
  every model: model_info: request [B] (any numbers) -> model_info_json [B], what the model
        was trained on (application, near/far or scan radius, NDC, N, background, limits) as
        JSON text, one copy per row; `python -m serving.client --metadata` prints it.

Beside the versions, for a TF Serving operator (EXPORT_BASE/MODEL_NAME/):
  models.config             ModelServerConfig text proto (serve the newest version)
  batching_parameters.txt   BatchingParameters text proto for --enable_batching
and in each version assets.extra/tf_serving_warmup_requests: a TFRecord of PredictionLogs
(every signature at batch sizes 1, 64 and 1024) that TF Serving replays on load
(--enable_model_warmup) so the first client request does not pay for graph warm-up.
"""

import json
import os
import re
import shutil
import tempfile

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

from autoint_tf import grad_net
from autoint_tf import io_utils
from autoint_tf import rays as rays_lib
from autoint_tf import tomography
from autoint_tf import training

DEFAULT_MAX_BATCH = 65536
MAX_MAGNITUDE = 1e4  # largest |coordinate| a request may send (scene or scan units)
WARMUP_BATCH_SIZES = (1, 64, 1024)
SERVING_BATCH = 4096  # TF Serving's batching: largest merged batch (the client's batch size)


# ---------------------------------------------------------------------------------------------
# Checks inside the graph: each failure is an INVALID_ARGUMENT whose message names the input.

class _Checks:
  """Request checks run in order: each check's ops wait until the previous check passed (so a
  row-count mismatch is reported as such, not as a shape error of a later comparison)."""

  def __init__(self, max_batch):
    self.max_batch = max_batch
    self._deps = []

  def _add(self, make):
    with tf.control_dependencies(self._deps):
      op = make()
    if op is not None:  # (eager asserts return None)
      self._deps = [op]

  def batch(self, name, x):
    self._add(lambda: tf.debugging.assert_positive(
        tf.shape(x)[0], message=f"{name}: empty batch, send at least one row"))
    self._add(lambda: tf.debugging.assert_less_equal(
        tf.shape(x)[0], self.max_batch, message=f"{name}: batch larger than this export's "
        f"max_batch_size {self.max_batch}; split the request"))
    self.finite(name, x)

  def finite(self, name, x):
    self._add(lambda: tf.debugging.assert_all_finite(x, message=f"{name} contains NaN or inf"))

  def rows(self, first, name, x):
    self._add(lambda: tf.debugging.assert_equal(
        tf.shape(x)[0], tf.shape(first)[0],
        message=f"{name} must have one row per ray/line (as many as the first input)"))
    self.finite(name, x)

  def directions(self, name, d):
    self._add(lambda: tf.debugging.assert_positive(
        tf.norm(d, axis=-1), message=f"{name} has a zero-length direction"))

  def order(self, lo_name, lo, hi_name, hi):
    self._add(lambda: tf.debugging.assert_less(
        lo, hi, message=f"{lo_name} must be < {hi_name} for every row"))

  def pair(self, first_name, first, second_name, second):
    """Two per-row inputs: a batch, one row each, finite, of bounded magnitude."""
    self.batch(first_name, first)
    self.rows(first, second_name, second)
    self.magnitude(first_name, first)
    self.magnitude(second_name, second)

  def magnitude(self, name, x, limit=MAX_MAGNITUDE):
    self._add(lambda: tf.debugging.assert_less_equal(
        tf.reduce_max(tf.abs(x)), tf.constant(limit, x.dtype),
        message=f"{name} has a component larger than {limit:g} in magnitude: out of the range "
        "this model can answer"))

  def within(self, name, x, lo, hi, hint):
    self._add(lambda: tf.debugging.assert_greater_equal(
        x, tf.constant(lo, x.dtype), message=f"{name} below {lo:g}: {hint}"))
    self._add(lambda: tf.debugging.assert_less_equal(
        x, tf.constant(hi, x.dtype), message=f"{name} above {hi:g}: {hint}"))

  def passed(self, *tensors):
    """The tensors, usable only after every check passed."""
    with tf.control_dependencies(self._deps):
      out = [tf.identity(t) for t in tensors]
    return out if len(out) > 1 else out[0]


def checked_result(outputs, checks=True):
  """The outputs, refused (INVALID_ARGUMENT) if any is NaN or inf: an answer that cannot be
  right is never sent."""
  if not checks:
    return outputs
  deps = [tf.debugging.assert_all_finite(v, message=f"the answer ({k}) is not finite for this "
                                         "request: an input is out of the range this model "
                                         "can answer") for k, v in outputs.items()]
  with tf.control_dependencies([d for d in deps if d is not None]):
    return {k: tf.identity(v) for k, v in outputs.items()}


def _spec(shape, name):
  return tf.TensorSpec(shape, tf.float32, name=name)


# ---------------------------------------------------------------------------------------------
# Radiance models.

def radiance_functions(model, info, num_sections=8, max_batch=DEFAULT_MAX_BATCH, checks=True,
                       portable=False, allow_any_bounds=False):
  """{name: (python function, input signature)} of a trained AutoIntRenderer (`portable`:
  TFLite built-in ops only, see radiance.composite). Bounds (near/far, t0/t1) outside the
  [near, far] the model was trained on are refused unless `allow_any_bounds`."""
  near0, far0 = float(info["near"]), float(info["far"])
  box = info.get("box")  # a model trained with a scene box saw every ray cut to it
  # With a box, any segment is the box's part of it: every t >= 0 is answerable.
  lo, hi = ((0.0, max(far0, MAX_MAGNITUDE)) if allow_any_bounds or box else
            (near0 - 1e-6 * abs(near0), far0 + 1e-6 * abs(far0)))
  hint = ("bounds must be >= 0" if allow_any_bounds or box else
          f"this model was trained on [{near0:g}, {far0:g}]; re-export with "
          "--allow_any_bounds to answer outside it")
  # Forward-facing models were trained on NDC rays in [0, 1].
  ndc = (info["height"], info["width"], info["focal"]) if info.get("ndc") else None

  def rays(rays_o, rays_d, near, far):
    return rays_lib.scene_rays(rays_o, rays_d, near, far, ndc, box)

  def check_rays(rays_o, rays_d, **more):
    """Checks the rays (and more named per-ray inputs); returns them all, checked."""
    if not checks:
      return (rays_o, rays_d, *more.values())
    c = _Checks(max_batch)
    c.pair("rays_o", rays_o, "rays_d", rays_d)
    c.directions("rays_d", rays_d)
    for name, x in more.items():
      c.rows(rays_o, name, x)
      c.within(name, x, lo, hi, hint)
    names = list(more)
    if names:
      c.order(names[0], more[names[0]], names[1], more[names[1]])
    return c.passed(rays_o, rays_d, *more.values())

  def render(scene_rays):
    if model.renders_at_sections:
      out = model.render(scene_rays, num_sections, portable=portable)
    else:  # the quadrature baseline: its own samples
      out = model.render(scene_rays)
    return checked_result({k: out[k] for k in ("rgb", "depth", "opacity")}, checks)

  def render_rays(rays_o, rays_d):
    rays_o, rays_d = check_rays(rays_o, rays_d)
    b = tf.shape(rays_o)[0]
    return render(rays(rays_o, rays_d, tf.fill([b], near0), tf.fill([b], far0)))

  def render_rays_bounded(rays_o, rays_d, near, far):
    rays_o, rays_d, near, far = check_rays(rays_o, rays_d, near=near, far=far)
    return render(rays(rays_o, rays_d, near, far))

  def ray_integral(rays_o, rays_d, t0, t1):
    rays_o, rays_d, t0, t1 = check_rays(rays_o, rays_d, t0=t0, t1=t1)
    # The integral over [t0, t1] as asked; with a box, over its part inside the box (nothing
    # is outside), on the box's terms (rays.box_rays: t in world units, times t_scale = 1/|d|
    # back to the caller's t).
    r = rays(rays_o, rays_d, t0, t1)
    inputs = {"origin": r["rays_o"], "direction": r["rays_d"]}

    def both(x):  # [..., 1 + 3]: sigma and colour integral networks
      phi_s, phi_c = model.integrals(x)
      return tf.concat([phi_s[..., None], phi_c], -1)

    out = grad_net.definite_integral(both, r["near"][:, None], r["far"][:, None],
                                     inputs=inputs, validate=False)
    if "inside" in r:
      out = out * (r["inside"] * r["t_scale"])[:, None]
    return checked_result({"sigma_integral": out[:, 0], "color_integral": out[:, 1:]}, checks)

  ray = [_spec([None, 3], "rays_o"), _spec([None, 3], "rays_d")]
  functions = {"render_rays": (render_rays, ray),
               "render_rays_bounded": (render_rays_bounded,
                                       ray + [_spec([None], "near"), _spec([None], "far")])}
  if model.renders_at_sections:  # integral networks: any section's integral in two evaluations
    functions["ray_integral"] = (ray_integral, ray + [_spec([None], "t0"), _spec([None], "t1")])
  return functions


# ---------------------------------------------------------------------------------------------
# CT and 1D/nD models.

def ct_functions(phi, config, radius=1.0, max_batch=DEFAULT_MAX_BATCH, checks=True,
                 support=None):
  """line_integral: the line integral between two points, in the sinogram's units. With the
  run's `support` ({"centre", "radius"}, ct.with_support: the disc the attenuation lies in,
  every training chord cut to it) each segment is cut to that disc as in training, so that a
  segment reaching outside it integrates nothing there (0 for one that misses it)."""

  def line_integral(start, end):
    if checks:
      c = _Checks(max_batch)
      c.pair("start", start, "end", end)
      c.directions("end - start", end - start)
      start, end = c.passed(start, end)
    # The canonical line (as in training: tomography.Lines.canonical), in units of the radius.
    seg = tomography.canonical_segments(start / radius, end / radius)
    if support is not None:  # its part inside the disc, as trained
      seg = tomography.clip_segments_to_disc(seg, np.asarray(support["centre"]) / radius,
                                             support["radius"] / radius)
    if config.parameterization == "point":
      inputs = {"origin": seg["origin"], "direction": seg["direction"]}
    else:
      inputs = {"rho": seg["rho"][:, None], "theta": (seg["theta"] / np.pi)[:, None]}
    value = grad_net.definite_integral(phi, seg["t0"][:, None], seg["t1"][:, None],
                                       inputs=inputs, validate=False)[:, 0]
    return checked_result({"value": value * radius}, checks)

  return {"line_integral": (line_integral, [_spec([None, 2], "start"), _spec([None, 2], "end")])}


def integral_functions(phi, variables, max_batch=DEFAULT_MAX_BATCH, checks=True):
  """definite_integral over the box [lower, upper] of the integration variables."""
  d = len(variables)

  def definite(lower, upper):
    if checks:
      c = _Checks(max_batch)
      c.pair("lower", lower, "upper", upper)
      lower, upper = c.passed(lower, upper)
    return checked_result({"integral": grad_net.definite_integral(
        phi, lower, upper, variables=variables, validate=False)}, checks)

  return {"definite_integral": (definite, [_spec([None, d], "lower"), _spec([None, d], "upper")])}


# ---------------------------------------------------------------------------------------------
# What an operator needs: model_info, warm-up requests, models.config, batching parameters.

def info_functions(info):
  """model_info: the export's model_info.json as a string, one copy per request row (rows, so
  that TF Serving's batching can merge these requests like any other), at most
  info["max_batch_size"] rows (an answer is ~300 bytes a row)."""
  text = json.dumps(info, sort_keys=True)
  max_batch = int(info.get("max_batch_size", DEFAULT_MAX_BATCH))

  def model_info(request):
    c = _Checks(max_batch)
    c.batch("request", request)
    return {"model_info_json": tf.fill(tf.shape(c.passed(request))[:1], tf.constant(text))}

  return {"model_info": (model_info, [_spec([None], "request")])}


def warmup_inputs(application, context, signatures, batch_sizes=WARMUP_BATCH_SIZES, seed=0):
  """[(signature, {input: array})]: valid requests of every signature at `batch_sizes`, inside
  the range the model was trained on (so the export's checks pass them)."""
  rng = np.random.default_rng(seed)
  out = []
  for b in batch_sizes:
    if application == "radiance":
      near, far = float(context["near"]), float(context["far"])
      d = rng.normal(size=(b, 3)).astype(np.float32)
      d /= np.linalg.norm(d, axis=-1, keepdims=True)
      centre = np.zeros(3)
      if context.get("box"):  # rays from outside the box through its centre
        centre, radius = rays_lib.box_sphere(context["box"])
        near, far = 0.0, 4.0 * radius
      rays = {"rays_o": (centre - 0.5 * (near + far) * d).astype(np.float32), "rays_d": d}
      inner = np.full(b, near + 0.25 * (far - near), np.float32)
      outer = np.full(b, near + 0.75 * (far - near), np.float32)
      out += [("render_rays", rays),
              ("render_rays_bounded", {**rays, "near": inner, "far": outer}),
              ("ray_integral", {**rays, "t0": inner, "t1": outer})]
    elif application == "ct":
      r = float(context.get("radius", 1.0))
      y = rng.uniform(-0.5 * r, 0.5 * r, size=b).astype(np.float32)
      out.append(("line_integral", {"start": np.stack([np.full(b, -r, np.float32), y], -1),
                                    "end": np.stack([np.full(b, r, np.float32), y], -1)}))
    else:
      dims = int(context["dims"])
      out.append(("definite_integral", {"lower": np.zeros((b, dims), np.float32),
                                        "upper": np.ones((b, dims), np.float32)}))
    out.append(("model_info", {"request": np.zeros(b, np.float32)}))
  return [(name, inputs) for name, inputs in out if name in signatures]


def write_warmup(path, model_name, requests):
  """assets.extra/tf_serving_warmup_requests: one PredictionLog a request (at most 1000, TF
  Serving's limit)."""
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import prediction_log_pb2  # pylint: disable=g-import-not-at-top
  if len(requests) > 1000:
    raise ValueError(f"{len(requests)} warm-up requests: TF Serving reads at most 1000.")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with tf.io.TFRecordWriter(path) as writer:
    for signature, inputs in requests:
      request = predict_pb2.PredictRequest()
      request.model_spec.name = model_name
      request.model_spec.signature_name = signature
      for k, v in inputs.items():
        request.inputs[k].CopyFrom(tf.make_tensor_proto(v))
      log = prediction_log_pb2.PredictionLog(
          predict_log=prediction_log_pb2.PredictLog(request=request))
      writer.write(log.SerializeToString())


def models_config(model_name):
  """ModelServerConfig text proto serving /models/MODEL_NAME (its newest version)."""
  return ("model_config_list {\n"
          "  config {\n"
          f'    name: "{model_name}"\n'
          f'    base_path: "/models/{model_name}"\n'
          '    model_platform: "tensorflow"\n'
          "    model_version_policy { latest { num_versions: 1 } }\n"
          "  }\n"
          "}\n")


def batching_parameters(max_batch=SERVING_BATCH, threads=None):
  """BatchingParameters text proto: merge concurrent requests up to `max_batch` rows, waiting
  at most 2 ms for more. One batch thread a core by default."""
  threads = threads or os.cpu_count() or 1
  return (f"max_batch_size {{ value: {max_batch} }}\n"
          "batch_timeout_micros { value: 2000 }\n"
          "max_enqueued_batches { value: 100 }\n"
          f"num_batch_threads {{ value: {threads} }}\n")


def write_operator_files(model_dir, model_name):
  """models.config and batching_parameters.txt beside the versions (TF Serving only loads
  numbered directories; these files are for its flags)."""
  io_utils.write_text(os.path.join(model_dir, "models.config"), models_config(model_name))
  io_utils.write_text(os.path.join(model_dir, "batching_parameters.txt"),
                      batching_parameters())


def next_version(model_dir):
  versions = [int(v) for v in os.listdir(model_dir) if re.fullmatch(r"\d+", v)] if (
      os.path.isdir(model_dir)) else []
  return max(versions, default=0) + 1


def _clean_stale_temporaries(model_dir):
  """Removes the temporary directories and files of exports whose process is gone (killed
  exports)."""
  for name in os.listdir(model_dir):
    match = re.fullmatch(r"\.tmp-(\d+)-.*", name)
    if match and not io_utils.process_alive(int(match.group(1))):
      shutil.rmtree(os.path.join(model_dir, name), ignore_errors=True)
  io_utils.remove_stale_temporaries(model_dir)  # of models.config, batching_parameters.txt


def _world_readable(root):
  """Directories 0755 and files 0644, so a TF Serving process of another user can read them."""
  os.chmod(root, 0o755)
  for parent, dirs, files in os.walk(root):
    for d in dirs:
      os.chmod(os.path.join(parent, d), 0o755)
    for f in files:
      os.chmod(os.path.join(parent, f), 0o644)


def write_export(tracked, functions, export_base, model_name, version=None, default=None,
                 info=None, warmup=None):
  """Writes the ExportArchive of `functions` to EXPORT_BASE/MODEL_NAME/VERSION atomically.

  The export is written to a hidden temporary directory and renamed into place: TF Serving
  never sees a half-written version. Without `version` it takes the next free integer; exports
  running at the same time into one base take different versions. Versions are world-readable.
  `info` (a JSON-able dict) goes to assets.extra/model_info.json and the model_info signature;
  `warmup` ([(signature, inputs)]) to assets.extra/tf_serving_warmup_requests. Writes
  models.config and batching_parameters.txt beside the versions. Returns the version directory.
  """
  if info is not None:
    functions = {**functions, **info_functions(info)}
  model_dir = os.path.join(export_base, model_name)
  os.makedirs(model_dir, exist_ok=True)
  _clean_stale_temporaries(model_dir)
  if version and os.path.exists(os.path.join(model_dir, str(int(version)))):
    raise FileExistsError(f"{os.path.join(model_dir, str(int(version)))} exists: versions are "
                          "immutable; pick another --version.")
  archive = keras.export.ExportArchive()
  for obj in tracked:
    archive.track(obj)
  for name, (fn, signature) in functions.items():
    archive.add_endpoint(name, fn, input_signature=signature)
  if default:
    archive.add_endpoint("serving_default", functions[default][0],
                         input_signature=functions[default][1])
  tmp = tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-", dir=model_dir)
  try:
    archive.write_out(tmp, verbose=False)
    if info is not None:
      io_utils.write_json(os.path.join(tmp, "assets.extra", "model_info.json"), info)
    if warmup:
      write_warmup(os.path.join(tmp, "assets.extra", "tf_serving_warmup_requests"), model_name,
                   warmup)
    _world_readable(tmp)
    while True:
      final = os.path.join(model_dir, str(int(version or next_version(model_dir))))
      try:
        os.rename(tmp, final)  # fails if another export took this version meanwhile
        write_operator_files(model_dir, model_name)
        return final
      except OSError as e:
        if version or not os.path.exists(final):
          raise FileExistsError(f"{final} exists: versions are immutable; pick another "
                                f"--version ({e}).") from None
  finally:
    if os.path.exists(tmp):
      shutil.rmtree(tmp)


def renderer_info(model, num_sections):
  """model_info's description of a radiance renderer: which, its network evaluations a ray,
  and N for AutoInt (the baseline has no sections)."""
  info = {"renderer": "autoint" if model.renders_at_sections else "quadrature",
          "evaluations_per_ray": model.evaluations_per_ray(num_sections)}
  if model.renders_at_sections:
    info["num_sections"] = num_sections
  return info


def export(workdir, export_base, model_name, version=None, num_sections=8,
           max_batch=DEFAULT_MAX_BATCH, allow_any_bounds=False):
  """Exports the trained model of a training workdir (any application); returns the version
  directory. What the model was trained on goes into assets.extra/model_info.json."""
  run = training.restore(workdir)
  info = {"application": run.application, "context": run.context,
          "checkpoint": os.path.basename(run.checkpoint), "max_batch_size": max_batch,
          "max_magnitude": MAX_MAGNITUDE}
  if run.application == "radiance":
    functions, default = radiance_functions(run.model, run.context, num_sections, max_batch,
                                            allow_any_bounds=allow_any_bounds), "render_rays"
    info.update(renderer_info(run.model, num_sections), allow_any_bounds=allow_any_bounds)
  elif run.application == "ct":
    functions, default = ct_functions(run.model, run.config, float(run.context["radius"]),
                                      max_batch, support=run.context.get("support")),\
        "line_integral"
  else:
    variables = ("x", "y", "z")[:int(run.context["dims"])]
    functions, default = integral_functions(run.model, variables, max_batch), "definite_integral"
  warmup = warmup_inputs(run.application, run.context, set(functions) | {"model_info"},
                         [b for b in WARMUP_BATCH_SIZES if b <= max_batch])
  return write_export([run.model], functions, export_base, model_name, version, default=default,
                      info=info, warmup=warmup)


def serve_command(export_base, model_name):
  """The docker command that serves EXPORT_BASE/MODEL_NAME with TF Serving, with the export's
  models.config, batching parameters and warm-up requests."""
  models = f"/models/{model_name}"
  return (f"docker run -p 8500:8500 -p 8501:8501 "
          f"-v {os.path.abspath(export_base)}/{model_name}:{models} tensorflow/serving "
          f"--model_config_file={models}/models.config --enable_batching "
          f"--batching_parameters_file={models}/batching_parameters.txt --enable_model_warmup")


def define_flags():
  """The command's flags (defined only when run as a program, so modules import cleanly)."""
  flags.DEFINE_string("workdir", "runs/demo", "Training workdir (checkpoints and config).")
  flags.DEFINE_string("export_base", "exports", "TF Serving model base path.")
  flags.DEFINE_string("model_name", "autoint", "Model name (a directory under export_base).")
  flags.DEFINE_integer("version", 0, "Version number (0: next free integer).")
  flags.DEFINE_integer("num_sections", 8, "N sections of render_rays.")
  flags.DEFINE_integer("max_batch_size", DEFAULT_MAX_BATCH, "Largest batch a request may send.")
  flags.DEFINE_bool("allow_any_bounds", False, "Radiance: answer render_rays_bounded and "
                    "ray_integral for bounds outside the [near, far] the model was trained on.")


def main(argv):
  del argv
  path = export(flags.FLAGS.workdir, flags.FLAGS.export_base,
                flags.FLAGS.model_name, flags.FLAGS.version or None, flags.FLAGS.num_sections,
                flags.FLAGS.max_batch_size, flags.FLAGS.allow_any_bounds)
  print(f"Exported {path}\nServe it: "
        f"{serve_command(flags.FLAGS.export_base, flags.FLAGS.model_name)}")


def run():
  """The console script: the flags, then `main`."""
  define_flags()
  app.run(main)
