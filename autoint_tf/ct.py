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

import keras
import numpy as np
import tensorflow as tf

from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import tomography
from autoint_tf import training

PARAMETERIZATIONS = ("ray", "point")


@keras.saving.register_keras_serializable(package="autoint_tf")
class PointIntegralNetwork(keras.layers.Layer):
  """Phi(x(t), u) with x(t) = origin + t * direction: t enters only through the point.

  Args:
    num_frequencies: PE octaves of the point. Defaults to 10.
    direction_frequencies: PE octaves of the direction. Defaults to 2.
    depth, width, activation, w0: as in `fields.MLP`.

  Call arguments:
    inputs: dict with "t" [..., 1], "origin" [..., 2], "direction" [..., 2].

  Returns:
    [..., 1] tensor.
  """

  def __init__(self, num_frequencies=10, direction_frequencies=2, depth=4, width=128,
               activation="swish", w0=30.0, **kwargs):
    super().__init__(**kwargs)
    self.net = fields.IntegralMLP(
        ("x", "direction"), output_dim=1, depth=depth, width=width, activation=activation,
        w0=w0, num_frequencies={"x": num_frequencies, "direction": direction_frequencies},
        dtype=self.dtype_policy, name="mlp")
    self._config = dict(num_frequencies=num_frequencies,
                        direction_frequencies=direction_frequencies, depth=depth,
                        width=width, activation=activation, w0=w0)

  def build(self, input_shape):
    self.net.build({"x": input_shape["origin"], "direction": input_shape["direction"]})

  def _point(self, inputs):
    dtype = self.compute_dtype
    t = tf.cast(inputs["t"], dtype)
    u = tf.cast(inputs["direction"], dtype)
    return {"x": tf.cast(inputs["origin"], dtype) + t * u, "direction": u}

  def call(self, inputs):
    return self.net(self._point(inputs))

  def jvp(self, inputs, tangents):
    """Tangent along t only (what the grad network needs): dx = dt * direction."""
    x = self._point(inputs)
    t_dot = (tangents or {}).get("t")
    x_dot = None if t_dot is None else {"x": tf.cast(t_dot, x["x"].dtype) * x["direction"]}
    return self.net.jvp(x, x_dot)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape["t"][:-1]) + (1,)

  def get_config(self):
    return {**super().get_config(), **self._config}


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
  """Per-line inputs of Phi, t_min and t_max as flat tensors [L, D] / [L] (of lines[index])."""
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
  phantom: str = "shepp_logan"        # tomography.PHANTOMS key
  num_angles: int = 64                # full set of views over [0, pi)
  num_detectors: int = 64             # detector pixels across the field of view
  subsample: int = 4                  # keep every k-th angle (4, 8, 16 in the paper)
  parameterization: str = "ray"       # "ray" (paper) or "point"
  activation: str = "swish"
  depth: int = 4
  width: int = 128
  num_frequencies: int = 10           # PE octaves of (rho, theta, t) or of the point
  samples_per_line: int = 16          # stratified grad-network samples per line
  learning_rate: float = 1e-3         # Adam (amsgrad)
  steps: int = 2000
  seed: int = 0


def psnr(pred, target, data_range):
  mse = np.mean((np.asarray(pred) - np.asarray(target))**2)
  return float(10 * np.log10(data_range**2 / max(mse, 1e-20)))


def interpolate_angles(sinogram, kept, num_angles):
  """Linear interpolation along angle of a parallel-beam sinogram [A_kept, N] taken at
  angle indices `kept` (evenly spaced), wrapping at pi with p(rho, theta + pi) = p(-rho, theta).
  """
  kept = np.asarray(kept)
  ext = np.concatenate([sinogram, sinogram[:1, ::-1]], 0)  # the view at pi: flipped first
  ext_idx = np.concatenate([kept, [num_angles]])
  out = np.empty((num_angles, sinogram.shape[1]))
  for j in range(sinogram.shape[1]):
    out[:, j] = np.interp(np.arange(num_angles), ext_idx, ext[:, j])
  return out


def train_and_evaluate(config, progress=True):
  """Fits the grad network on the kept angles; returns metrics and the predicted sinogram."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  fields.check_activation(config.activation)
  keras.utils.set_random_seed(config.seed)
  ellipses = tomography.PHANTOMS[config.phantom]
  angles = np.arange(config.num_angles) * np.pi / config.num_angles
  lines = tomography.parallel_beam(angles, config.num_detectors)
  truth = tomography.radon(ellipses, lines)
  kept = np.arange(0, config.num_angles, config.subsample)
  held = np.setdiff1d(np.arange(config.num_angles), kept)
  if config.parameterization == "ray":
    phi = ray_network(config.num_frequencies, config.depth, config.width, config.activation)
  else:
    phi = PointIntegralNetwork(config.num_frequencies, 2, config.depth, config.width,
                               config.activation, name="phi_point")
  grad = grad_net.GradNetwork(phi, variables=("t",), name="grad")
  train_in, t_min, t_max = flat_line_inputs(config.parameterization, lines, kept)
  target = tf.constant(truth[kept].reshape(-1), tf.float32)
  m = config.samples_per_line
  optimizer = keras.optimizers.Adam(config.learning_rate, amsgrad=True)
  grad({**{k: v[:1] for k, v in train_in.items()}, "t": t_min[:1, None]})
  variables = grad.trainable_variables

  @tf.function(jit_compile=False)
  def step():
    strata = tf.range(m, dtype=tf.float32) + tf.random.uniform([tf.shape(t_min)[0], m])
    with tf.GradientTape() as tape:
      pred = chord_integral(grad, train_in, t_min, t_max, strata / m)  # stratified samples
      loss = tf.reduce_mean(tf.square(pred - target))
    optimizer.apply_gradients(zip(training.gradients(tape, loss, variables), variables))
    return loss

  bar = tqdm(range(config.steps), disable=not progress, desc="fit sinogram", unit="step",
             mininterval=0.5)
  for i in bar:
    loss = step()
    if i % 100 == 0:
      bar.set_postfix(loss=f"{float(loss):.3g}")
  pred = line_integrals(phi, *flat_line_inputs(config.parameterization, lines))
  pred = pred.numpy().reshape(truth.shape)
  data_range = float(truth.max() - truth.min())
  interp = interpolate_angles(truth[kept], kept, config.num_angles)
  metrics = {
      "psnr_heldout_autoint": psnr(pred[held], truth[held], data_range),
      "psnr_heldout_interpolation": psnr(interp[held], truth[held], data_range),
      "psnr_train_angles": psnr(pred[kept], truth[kept], data_range),
      "final_loss": float(loss),
  }
  return metrics, {"prediction": pred, "truth": truth, "interpolation": interp,
                   "phi": phi, "grad": grad, "lines": lines, "kept": kept}
