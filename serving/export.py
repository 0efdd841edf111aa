r"""Exports a trained model as a TF Serving model directory EXPORT_BASE/MODEL_NAME/VERSION/.

  python -m serving.export --workdir=runs/demo --export_base=exports --model_name=autoint
  python -m serving.export --kind=ct --workdir=runs/ct8 --model_name=ct
  python -m serving.export --kind=integral --workdir=runs/demo_1d --model_name=poly

Built with keras.export.ExportArchive (a plain tf.saved_model.save of a Keras 3 model does not
load in the session loader TF Serving uses). Written to a hidden temporary directory and renamed
into place, so a half-written export never appears as a version. Signatures (named inputs and
outputs; every request is checked inside the graph, bad input -> INVALID_ARGUMENT naming it):

  radiance models (kind=radiance):
    render_rays (= serving_default): rays_o [B,3], rays_d [B,3] -> rgb [B,3], depth [B],
        opacity [B]; sampling network + integral networks at the N + 1 posts, the training
        near/far. TF Serving signatures have no optional inputs, so the bounds go in:
    render_rays_bounded: rays_o, rays_d, near [B], far [B] -> rgb, depth, opacity.
    ray_integral: rays_o, rays_d, t0 [B], t1 [B] -> sigma_integral [B], color_integral [B,3]:
        integral over [t0, t1] of the density and colour pre-activations (two evaluations).
  CT models (kind=ct): line_integral: start [B,2], end [B,2] (line end points, the sinogram's
        units) -> value [B], the line integral of the attenuation between them.
  1D/nD models (kind=integral): definite_integral: lower [B,D], upper [B,D] -> integral [B,K].
"""

import dataclasses
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

from autoint_tf import ct
from autoint_tf import grad_net
from autoint_tf import radiance_train as rt
from autoint_tf import scenes
from autoint_tf import training

DEFAULT_MAX_BATCH = 65536


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

  def passed(self, *tensors):
    """The tensors, usable only after every check passed."""
    with tf.control_dependencies(self._deps):
      out = [tf.identity(t) for t in tensors]
    return out if len(out) > 1 else out[0]


def _spec(shape, name):
  return tf.TensorSpec(shape, tf.float32, name=name)


# ---------------------------------------------------------------------------------------------
# Radiance models.

def radiance_functions(model, info, num_sections=8, max_batch=DEFAULT_MAX_BATCH, checks=True,
                       portable=False):
  """{name: (python function, input signature)} of a trained AutoIntRenderer (`portable`:
  TFLite built-in ops only, see radiance.composite)."""
  near0, far0 = float(info["near"]), float(info["far"])
  ndc = bool(info.get("ndc"))

  def rays(rays_o, rays_d, near, far):
    if ndc:  # forward-facing models were trained on NDC rays in [0, 1]
      rays_o, rays_d = scenes.ndc_rays(info["height"], info["width"], info["focal"], 1.0, rays_o,
                                       rays_d)
    return {"rays_o": rays_o, "rays_d": rays_d, "near": near, "far": far}

  def check_rays(rays_o, rays_d, **more):
    """Checks the rays (and more named per-ray inputs); returns them all, checked."""
    if not checks:
      return (rays_o, rays_d, *more.values())
    c = _Checks(max_batch)
    c.batch("rays_o", rays_o)
    c.rows(rays_o, "rays_d", rays_d)
    c.directions("rays_d", rays_d)
    for name, x in more.items():
      c.rows(rays_o, name, x)
    if "near" in more:
      c.order("near", more["near"], "far", more["far"])
    return c.passed(rays_o, rays_d, *more.values())

  def render_rays(rays_o, rays_d):
    rays_o, rays_d = check_rays(rays_o, rays_d)
    b = tf.shape(rays_o)[0]
    out = model.render(rays(rays_o, rays_d, tf.fill([b], near0), tf.fill([b], far0)),
                       num_sections, portable=portable)
    return {k: out[k] for k in ("rgb", "depth", "opacity")}

  def render_rays_bounded(rays_o, rays_d, near, far):
    rays_o, rays_d, near, far = check_rays(rays_o, rays_d, near=near, far=far)
    out = model.render(rays(rays_o, rays_d, near, far), num_sections, portable=portable)
    return {k: out[k] for k in ("rgb", "depth", "opacity")}

  def ray_integral(rays_o, rays_d, t0, t1):
    rays_o, rays_d, t0, t1 = check_rays(rays_o, rays_d, t0=t0, t1=t1)
    r = rays(rays_o, rays_d, t0, t1)
    inputs = {"origin": r["rays_o"], "direction": r["rays_d"]}
    sigma = grad_net.definite_integral(model.phi_sigma, r["near"][:, None], r["far"][:, None],
                                       inputs=inputs, validate=False)
    color = grad_net.definite_integral(model.phi_color, r["near"][:, None], r["far"][:, None],
                                       inputs=inputs, validate=False)
    return {"sigma_integral": sigma[:, 0], "color_integral": color}

  ray = [_spec([None, 3], "rays_o"), _spec([None, 3], "rays_d")]
  return {
      "render_rays": (render_rays, ray),
      "render_rays_bounded": (render_rays_bounded,
                              ray + [_spec([None], "near"), _spec([None], "far")]),
      "ray_integral": (ray_integral, ray + [_spec([None], "t0"), _spec([None], "t1")]),
  }


# ---------------------------------------------------------------------------------------------
# CT and 1D/nD models.

def load_ct(workdir):
  """(phi, config) of a train.tomography workdir (config.json + checkpoints/)."""
  with open(os.path.join(workdir, "config.json")) as f:
    saved = json.load(f)
  config = ct.CTConfig(**{k: v for k, v in saved.items()
                          if k in {f.name for f in dataclasses.fields(ct.CTConfig)}})
  phi = ct.make_network(config)
  checkpoint = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
  if not checkpoint:
    raise FileNotFoundError(f"No checkpoint in {workdir}/checkpoints: train first.")
  radius = float(saved.get("scan_geometry", {}).get("radius", 1.0))
  dummy = {"rho": tf.zeros([1, 1]), "theta": tf.zeros([1, 1]), "t": tf.zeros([1, 1])} if (
      config.parameterization == "ray") else {"origin": tf.zeros([1, 2]),
                                              "direction": tf.ones([1, 2]), "t": tf.zeros([1, 1])}
  phi(dummy)
  status = tf.train.Checkpoint(weights=training.named_variables(phi)).restore(checkpoint)
  status.expect_partial().assert_existing_objects_matched()
  return phi, config, radius


def ct_functions(phi, config, radius=1.0, max_batch=DEFAULT_MAX_BATCH, checks=True):
  """line_integral: the line integral between two points, in the sinogram's units."""

  def line_integral(start, end):
    if checks:
      c = _Checks(max_batch)
      c.batch("start", start)
      c.rows(start, "end", end)
      c.directions("end - start", end - start)
      start, end = c.passed(start, end)
    a, b = start / radius, end / radius
    # The line's (rho, theta), theta in [0, pi), and its canonical direction (as in training:
    # tomography.Lines.canonical); the segment is integrated from its lower to upper t.
    u = (b - a) / tf.norm(b - a, axis=-1, keepdims=True)
    theta = tf.atan2(-u[:, 0], u[:, 1])  # the normal (u_y, -u_x) has angle theta
    theta = tf.where(theta < 0, theta + np.pi, theta)
    theta = tf.where(theta >= np.pi, theta - np.pi, theta)
    normal = tf.stack([tf.cos(theta), tf.sin(theta)], -1)
    direction = tf.stack([-tf.sin(theta), tf.cos(theta)], -1)
    rho = tf.reduce_sum(a * normal, -1)
    ta, tb = tf.reduce_sum(a * direction, -1), tf.reduce_sum(b * direction, -1)
    t0, t1 = tf.minimum(ta, tb), tf.maximum(ta, tb)
    if config.parameterization == "point":
      inputs = {"origin": rho[:, None] * normal, "direction": direction}
    else:
      inputs = {"rho": rho[:, None], "theta": (theta / np.pi)[:, None]}
    value = grad_net.definite_integral(phi, t0[:, None], t1[:, None], inputs=inputs,
                                       validate=False)[:, 0]
    return {"value": value * radius}

  return {"line_integral": (line_integral, [_spec([None, 2], "start"), _spec([None, 2], "end")])}


def integral_functions(phi, variables, max_batch=DEFAULT_MAX_BATCH, checks=True):
  """definite_integral over the box [lower, upper] of the integration variables."""
  d = len(variables)

  def definite(lower, upper):
    if checks:
      c = _Checks(max_batch)
      c.batch("lower", lower)
      c.rows(lower, "upper", upper)
      lower, upper = c.passed(lower, upper)
    return {"integral": grad_net.definite_integral(phi, lower, upper, variables=variables,
                                                   validate=False)}

  return {"definite_integral": (definite, [_spec([None, d], "lower"), _spec([None, d], "upper")])}


# ---------------------------------------------------------------------------------------------

def next_version(model_dir):
  versions = [int(v) for v in os.listdir(model_dir) if re.fullmatch(r"\d+", v)] if (
      os.path.isdir(model_dir)) else []
  return max(versions, default=0) + 1


def write_export(tracked, functions, export_base, model_name, version=None, default=None):
  """Writes the ExportArchive of `functions` to EXPORT_BASE/MODEL_NAME/VERSION atomically.

  Returns the version directory.
  """
  model_dir = os.path.join(export_base, model_name)
  os.makedirs(model_dir, exist_ok=True)
  version = version or next_version(model_dir)
  final = os.path.join(model_dir, str(int(version)))
  if os.path.exists(final):
    raise FileExistsError(f"{final} exists: versions are immutable; pick another --version.")
  archive = keras.export.ExportArchive()
  for obj in tracked:
    archive.track(obj)
  for name, (fn, signature) in functions.items():
    archive.add_endpoint(name, fn, input_signature=signature)
  if default:
    archive.add_endpoint("serving_default", functions[default][0],
                         input_signature=functions[default][1])
  tmp = tempfile.mkdtemp(prefix=f".{int(version)}.tmp-", dir=model_dir)
  try:
    archive.write_out(tmp, verbose=False)
    os.rename(tmp, final)
  finally:
    if os.path.exists(tmp):
      shutil.rmtree(tmp)
  return final


def export(kind, workdir, export_base, model_name, version=None, num_sections=8,
           max_batch=DEFAULT_MAX_BATCH):
  """Exports a train.radiance / train.tomography / train.integrate_1d workdir."""
  if kind == "radiance":
    model, info = rt.load_trained(workdir)
    if info["train_config"].renderer != "autoint":
      raise ValueError("Only AutoInt renderers export render_rays (the quadrature baseline has "
                       "no integral networks).")
    return write_export([model], radiance_functions(model, info, num_sections, max_batch),
                        export_base, model_name, version, default="render_rays")
  if kind == "ct":
    phi, config, radius = load_ct(workdir)
    return write_export([phi], ct_functions(phi, config, radius, max_batch), export_base,
                        model_name, version, default="line_integral")
  if kind == "integral":
    path = os.path.join(workdir, "phi.keras")
    if not os.path.exists(path):
      raise FileNotFoundError(f"{path!r} is missing: is {workdir!r} a train.integrate_1d run?")
    phi = keras.saving.load_model(path)
    variables = tuple(phi.input.keys()) if isinstance(phi.input, dict) else ("t",)
    return write_export([phi], integral_functions(phi, variables, max_batch), export_base,
                        model_name, version, default="definite_integral")
  raise ValueError(f"Unknown kind {kind!r}: radiance, ct or integral.")


def define_flags():
  """The command's flags (defined only when run as a program, so modules import cleanly)."""
  flags.DEFINE_enum("kind", "radiance", ["radiance", "ct", "integral"], "What the workdir holds.")
  flags.DEFINE_string("workdir", "runs/demo", "Training workdir (checkpoints and config).")
  flags.DEFINE_string("export_base", "exports", "TF Serving model base path.")
  flags.DEFINE_string("model_name", "autoint", "Model name (a directory under export_base).")
  flags.DEFINE_integer("version", 0, "Version number (0: next free integer).")
  flags.DEFINE_integer("num_sections", 8, "N sections of render_rays.")
  flags.DEFINE_integer("max_batch_size", DEFAULT_MAX_BATCH, "Largest batch a request may send.")


def main(argv):
  del argv
  path = export(flags.FLAGS.kind, flags.FLAGS.workdir, flags.FLAGS.export_base,
                flags.FLAGS.model_name, flags.FLAGS.version or None, flags.FLAGS.num_sections,
                flags.FLAGS.max_batch_size)
  print(f"Exported {path}\nServe it: docker run -p 8500:8500 -p 8501:8501 "
        f"-v {os.path.abspath(flags.FLAGS.export_base)}/{flags.FLAGS.model_name}:"
        f"/models/{flags.FLAGS.model_name} -e MODEL_NAME={flags.FLAGS.model_name} "
        "tensorflow/serving")


if __name__ == "__main__":
  define_flags()
  app.run(main)
