"""Sparse-view CT with integral networks (AutoInt, Sec. 4.2): models, training, evaluation.

Notation (see tomography.py for the geometry):
  lines: `tomography.Lines` [A, N]; p: [A, N] measured line integrals (the sinogram).
  Two parameterizations of the integral network Phi, both integrated along t:
    "ray"   (the paper's): Phi(rho, theta, t); the same point has different coordinates on
            different lines, so there is no single attenuation image (official issue #7).
    "point": Phi(x(t), u) with x(t) = origin + t u; its grad network
            dPhi/dt = grad_x Phi . u is a field over space that can be queried at pixels.
  Training (grad network): M stratified samples t_k on each chord,
      loss = mean over lines of (chord * mean_k f(t_k) - p)^2.
  Prediction (integral network): p = Phi(t_max) - Phi(t_min), two evaluations a line.
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from autoint_tf import ct_data
from autoint_tf import fbp
from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import tomography
from autoint_tf import training

PARAMETERIZATIONS = ("ray", "point")


# Phi(x(t), u): see fields.PointIntegralNetwork (2-D here: origin, direction [..., 2]).
PointIntegralNetwork = fields.PointIntegralNetwork


def ray_network(num_frequencies=10, depth=4, width=128, activation="swish", w0=30.0):
  """The paper's Phi(rho, theta, t)."""
  return fields.IntegralMLP(("rho", "theta", "t"), output_dim=1, depth=depth, width=width,
                            activation=activation, w0=w0, num_frequencies=num_frequencies,
                            name="phi_ray")


def line_inputs(parameterization, lines):
  """Per-line constant inputs of Phi (everything but t), float32 arrays SH + [D]."""
  if parameterization == "ray":
    rho, theta = lines.rho_theta()
    return {"rho": rho[..., None].astype(np.float32),
            "theta": (theta / np.pi)[..., None].astype(np.float32)}  # theta / pi in [0, 1)
  if parameterization == "point":
    return {"origin": lines.origin.astype(np.float32),
            "direction": lines.direction.astype(np.float32)}
  raise ValueError(f"Unknown parameterization {parameterization!r}: choose one of "
                   f"{PARAMETERIZATIONS}.")


def line_integrals(phi, inputs, t_min, t_max):
  """Phi(t_max) - Phi(t_min) per line: [...]. inputs: per-line dict, t_*: [...]."""
  return grad_net.definite_integral(phi, t_min, t_max, inputs=inputs)[..., 0]


def flat_line_inputs(parameterization, lines, index=None):
  """Per-line inputs of Phi, t_min and t_max as flat tensors [L, D] / [L] (of lines[index]),
  every line in its canonical orientation (`Lines.canonical`)."""
  lines = lines.canonical()
  inputs = line_inputs(parameterization, lines)
  pick = (lambda a: a) if index is None else (lambda a: a[index])
  flat = {k: tf.constant(pick(v).reshape(-1, v.shape[-1])) for k, v in inputs.items()}
  return (flat, tf.constant(pick(lines.t_min).reshape(-1), tf.float32),
          tf.constant(pick(lines.t_max).reshape(-1), tf.float32))


def chord_integral(grad, inputs, t_min, t_max, fractions):
  """chord * mean of the grad network at t = t_min + fractions * chord: [...].

  fractions: [..., M] (or [M]) positions in [0, 1] along each chord, e.g. midpoints
  (quadrature) or stratified random samples (training, AutoInt Sec. 4.2).
  """
  t_min = tf.convert_to_tensor(t_min)[..., None]
  t_max = tf.cast(t_max, t_min.dtype)[..., None]
  t = t_min + (t_max - t_min) * tf.cast(fractions, t_min.dtype)  # [..., M]
  expanded = {k: tf.broadcast_to(tf.convert_to_tensor(v)[..., None, :],
                                 tf.concat([tf.shape(t), tf.shape(v)[-1:]], 0))
              for k, v in inputs.items()}
  f = grad({**expanded, "t": t[..., None]})[..., 0]
  return (t_max[..., 0] - t_min[..., 0]) * tf.reduce_mean(f, -1)


def quadrature(grad, inputs, t_min, t_max, num_samples):
  """Midpoint rule of the grad network with num_samples per line: [...]."""
  return chord_integral(grad, inputs, t_min, t_max,
                        (np.arange(num_samples) + 0.5) / num_samples)


@dataclasses.dataclass(frozen=True)
class CTConfig:
  phantom: str = "shepp_logan"        # tomography.PHANTOMS key (ignored for measured data)
  geometry: str = "parallel"          # built-in geometry of the phantom: parallel or fan
  num_angles: int = 64                # full set of views (parallel [0, pi), fan [0, 2 pi))
  num_detectors: int = 64             # detector pixels
  subsample: int = 4                  # keep every k-th view (4, 8, 16 in the paper)
  parameterization: str = "ray"       # "ray" (paper) or "point"
  activation: str = "swish"
  depth: int = 4
  width: int = 128
  num_frequencies: int = 10           # PE octaves of (rho, theta, t) or of the point
  direction_frequencies: int = 2      # PE octaves of the direction (point model)
  samples_per_line: int = 16          # stratified grad-network samples per line
  consistency_weight: float = 1.0     # point model only: weight of the view-consistency loss
  consistency_points: int = 1024      # random points a step for that loss
  learning_rate: float = 1e-3         # Adam (amsgrad)
  steps: int = 2000
  checkpoint_every: int = 250         # steps between checkpoints (workdir only)
  seed: int = 0


def psnr(pred, target, data_range):
  mse = np.mean((np.asarray(pred) - np.asarray(target))**2)
  return float(10 * np.log10(data_range**2 / max(mse, 1e-20)))


def ssim(pred, target, data_range):
  """tf.image.ssim of two 2-D arrays (filter shrunk to fit small arrays)."""
  size = min(11, *np.shape(target))
  return float(tf.image.ssim(tf.constant(np.asarray(pred)[..., None], tf.float32),
                             tf.constant(np.asarray(target)[..., None], tf.float32),
                             max_val=data_range, filter_size=size))


def interpolate_angles(sinogram, angles, query, period=np.pi, flip=True):
  """Linear interpolation along angle of a sinogram [A, N] measured at `angles` [A], evaluated
  at `query` [Q] -> [Q, N]. Periodic with `period`; with `flip` (parallel beam, period pi),
  p(rho, theta + pi) = p(-rho, theta): the view one period on is the mirrored first view.
  """
  a = np.mod(np.asarray(angles, np.float64), period)
  order = np.argsort(a)
  a, s = a[order], np.asarray(sinogram)[order]
  wrapped = s[:, ::-1] if flip else s
  ext_a = np.concatenate([a[-1:] - period, a, a[:1] + period])
  ext_s = np.concatenate([wrapped[-1:], s, wrapped[:1]], 0)
  q = np.mod(np.asarray(query, np.float64), period)
  return np.stack([np.interp(q, ext_a, ext_s[:, j]) for j in range(s.shape[1])], -1)


def make_network(config):
  """The integral network Phi of a config."""
  fields.check_activation(config.activation)
  if config.parameterization == "ray":
    return ray_network(config.num_frequencies, config.depth, config.width, config.activation)
  if config.parameterization == "point":
    return PointIntegralNetwork(config.num_frequencies, config.direction_frequencies,
                                config.depth, config.width, config.activation, name="phi_point")
  raise ValueError(f"Unknown parameterization {config.parameterization!r}: choose one of "
                   f"{PARAMETERIZATIONS}.")


def consistency_loss(grad, rng, num_points):
  """Mean squared difference of the point model's grad network at the same random point of the
  unit disc seen along two random directions: zero iff the attenuation is direction-independent
  (the view inconsistency of the official code's issue #7). Uses no measurements."""
  r = tf.sqrt(rng.uniform([num_points, 1]))
  a, b, c = tf.unstack(rng.uniform([3, num_points, 1], 0, 2 * np.pi))
  x = r * tf.concat([tf.cos(a), tf.sin(a)], -1)
  t = tf.zeros([2 * num_points, 1])
  u = tf.concat([tf.concat([tf.cos(b), tf.sin(b)], -1), tf.concat([tf.cos(c), tf.sin(c)], -1)], 0)
  f = grad({"origin": tf.concat([x, x], 0), "direction": u, "t": t})
  return tf.reduce_mean(tf.square(f[:num_points] - f[num_points:]))


def point_image(grad, size, directions, chunk=65536):
  """The point model's grad network as an attenuation image at pixel centres (unit FOV).

  Returns (mean over `directions` [K, 2], std over them), each [size, size], zero outside
  the field of view. A consistent field gives the same value along every direction.
  """
  x = tomography.pixel_centres(size).reshape(-1, 2)
  inside = np.sum(x**2, -1) < 1.0
  u = np.asarray(directions, np.float64)
  pts = np.repeat(x[inside], len(u), 0).astype(np.float32)
  dirs = np.tile(u, (int(inside.sum()), 1)).astype(np.float32)
  values = []
  for i in range(0, len(pts), chunk):
    inputs = {"origin": pts[i:i + chunk], "direction": dirs[i:i + chunk],
              "t": np.zeros((len(pts[i:i + chunk]), 1), np.float32)}
    values.append(grad(inputs).numpy()[:, 0])
  values = np.concatenate(values).reshape(-1, len(u))
  mean, std = np.zeros(len(x)), np.zeros(len(x))
  mean[inside], std[inside] = values.mean(1), values.std(1)
  return mean.reshape(size, size), std.reshape(size, size)


def scan_for(config):
  """The built-in scan of a config: the phantom's exact sinogram in its geometry."""
  geometry = ct_data.default_geometry(config.geometry, config.num_angles, config.num_detectors)
  return ct_data.phantom_scan(config.phantom, geometry)


def train_and_evaluate(config, scan=None, workdir=None, progress=True):
  """Fits the grad network on every `subsample`-th view of `scan` (default: `scan_for(config)`),
  predicts all views with two evaluations a line, and compares with the baselines.

  With a workdir: checkpoints (resumed on restart) and TensorBoard summaries go there.
  Lengths are rescaled by 1 / radius so the networks always see a unit field of view.
  Returns (metrics dict, outputs dict).
  """
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  scan = scan if scan is not None else scan_for(config)
  keras.utils.set_random_seed(config.seed)
  phi = make_network(config)
  grad = grad_net.GradNetwork(phi, variables=("t",), name="grad")
  num_views = len(scan.angles)
  if not 1 <= config.subsample < num_views:
    raise ValueError(f"subsample={config.subsample} must be in [1, {num_views}) for "
                     f"{num_views} views.")
  kept = np.arange(0, num_views, config.subsample)
  held = np.setdiff1d(np.arange(num_views), kept)
  lines = scan.lines.scaled(1.0 / scan.radius)
  train_in, t_min, t_max = flat_line_inputs(config.parameterization, lines, kept)
  target = tf.constant(scan.sinogram[kept].reshape(-1) / scan.radius, tf.float32)
  m = config.samples_per_line
  optimizer = keras.optimizers.Adam(config.learning_rate, amsgrad=True)
  grad({**{k: v[:1] for k, v in train_in.items()}, "t": t_min[:1, None]})
  variables = grad.trainable_variables
  optimizer.build(variables)
  rng = tf.random.Generator.from_seed(config.seed)
  step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

  consistency = config.consistency_weight if config.parameterization == "point" else 0.0

  @tf.function(jit_compile=False)
  def train_step():
    strata = tf.range(m, dtype=tf.float32) + rng.uniform([tf.shape(t_min)[0], m])
    with tf.GradientTape() as tape:
      pred = chord_integral(grad, train_in, t_min, t_max, strata / m)  # stratified samples
      loss = tf.reduce_mean(tf.square(pred - target))
      if consistency:
        loss += consistency * consistency_loss(grad, rng, config.consistency_points)
    optimizer.apply_gradients(zip(training.gradients(tape, loss, variables), variables))
    step_var.assign_add(1)
    return loss

  manager, writer = None, tf.summary.create_noop_writer()
  if workdir:
    ckpt = tf.train.Checkpoint(step=step_var, weights=training.named_variables(phi),
                               optimizer=optimizer, rng=rng)
    manager = tf.train.CheckpointManager(ckpt, os.path.join(workdir, "checkpoints"), 3)
    if manager.latest_checkpoint:
      ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
      if progress:
        print(f"Resumed from {manager.latest_checkpoint} at step {int(step_var.numpy())}.")
    writer = tf.summary.create_file_writer(os.path.join(workdir, "tb"))
  start = int(step_var.numpy())
  bar = tqdm(range(start, config.steps), disable=not progress, desc="fit sinogram", unit="step",
             mininterval=0.5, initial=start, total=config.steps)
  loss = float("nan")
  with writer.as_default():
    for i in bar:
      loss = train_step()
      log = i % 25 == 0 or i == config.steps - 1
      save = manager is not None and (i + 1) % config.checkpoint_every == 0
      if log or save:  # (no checkpoint is written without this check)
        loss = float(loss)
        if not np.isfinite(loss):
          raise FloatingPointError(f"CT training diverged at step {i} (loss {loss}); the last "
                                   "good checkpoint is kept. Lower --learning_rate.")
      if log:
        tf.summary.scalar("loss", loss, step=i)
        bar.set_postfix(loss=f"{loss:.3g}")
      if save:
        manager.save(checkpoint_number=i + 1)
    if manager and start < config.steps:
      manager.save(checkpoint_number=config.steps)
    metrics, outputs = evaluate(config, scan, phi, grad, kept, held)
    for k, v in metrics.items():
      tf.summary.scalar(f"eval/{k}", v, step=config.steps)
    for k in ("prediction", "point_image", "fbp_image"):
      if outputs.get(k) is not None:
        img = outputs[k] - outputs[k].min()
        img = img / max(img.max(), 1e-12)
        tf.summary.image(k, img[None, ..., None], step=config.steps)
  metrics["final_loss"] = float(loss) * scan.radius**2 if start < config.steps else None
  outputs.update(phi=phi, grad=grad)
  return metrics, outputs


def evaluate(config, scan, phi, grad, kept, held):
  """Held-out-view PSNR/SSIM of AutoInt and of angular interpolation; for the point model its
  image against FBP of the same kept views (and against the phantom when there is one)."""
  lines = scan.lines.scaled(1.0 / scan.radius)
  pred = line_integrals(phi, *flat_line_inputs(config.parameterization, lines))
  pred = pred.numpy().reshape(scan.sinogram.shape) * scan.radius
  truth = scan.sinogram
  data_range = float(truth.max() - truth.min())
  interp = interpolate_angles(truth[kept], scan.angles[kept], scan.angles, scan.period,
                              flip=scan.geometry["type"] == "parallel")
  metrics = {
      "psnr_heldout_autoint": psnr(pred[held], truth[held], data_range),
      "psnr_heldout_interpolation": psnr(interp[held], truth[held], data_range),
      "ssim_heldout_autoint": ssim(pred[held], truth[held], data_range),
      "ssim_heldout_interpolation": ssim(interp[held], truth[held], data_range),
      "psnr_train_views": psnr(pred[kept], truth[kept], data_range),
  }
  size = scan.image.shape[0] if scan.image is not None else int(truth.shape[1])
  fbp_image = fbp.reconstruct(truth[kept], scan.angles[kept], scan.geometry, size)
  outputs = {"prediction": pred, "truth": truth, "interpolation": interp, "kept": kept,
             "fbp_image": fbp_image, "point_image": None, "image": scan.image}
  if config.parameterization == "point":
    # Every direction the scanner measured (the geometry only, no held-out measurements).
    centre = lines.direction[:, lines.shape[1] // 2]
    image, spread = point_image(grad, size, centre)
    image = image / scan.radius
    outputs.update(point_image=image, point_image_std=spread / scan.radius)
    inside = np.sum(tomography.pixel_centres(size)**2, -1) < 1.0
    metrics["image_direction_std"] = float(np.mean(spread[inside]) / scan.radius)
    metrics["image_direction_std_relative"] = float(
        np.mean(spread[inside]) / max(np.ptp(image[inside]) * scan.radius, 1e-12))
  if scan.image is not None:
    image_range = float(scan.image.max() - scan.image.min())
    metrics["psnr_image_fbp"] = psnr(fbp_image, scan.image, image_range)
    metrics["ssim_image_fbp"] = ssim(fbp_image, scan.image, image_range)
    if outputs["point_image"] is not None:
      metrics["psnr_image_autoint"] = psnr(outputs["point_image"], scan.image, image_range)
      metrics["ssim_image_autoint"] = ssim(outputs["point_image"], scan.image, image_range)
  return metrics, outputs
