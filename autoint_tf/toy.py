"""Toy integration jobs (AutoInt, Sec. 4.1): fit a grad network to f, integrate with Phi.

Notation:
  x: [N, d] sample positions in the box [lower, upper]^d (d = 1 or 2).
  f: [N, 1] integrand values; F: closed-form antiderivative (d = 1) or the function whose
    mixed partial d^2 F / dx dy is f (d = 2), used as exact ground truth.
  phi: the integral network; grad: its grad network (mixed partial for d = 2).
"""

import dataclasses
import math
import os
import time

import keras
import numpy as np
import scipy.special
import tensorflow as tf

from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import io_utils
from autoint_tf import training

_VARIABLES = ("x", "y", "z")


@dataclasses.dataclass(frozen=True)
class Integrand:
  """An integrand with its exact antiderivative. f, F: numpy callables of [N, d] arrays."""
  f: object
  F: object
  dims: int = 1


def _poly(x):  # the paper's polynomial
  return 0.1 * x**5 - 0.2 * x**4 + 0.2 * x**3 - 0.4 * x**2 + 0.1 * x


def _poly_F(x):
  return x**6 / 60 - 0.04 * x**5 + 0.05 * x**4 - 0.4 * x**3 / 3 + 0.05 * x**2


INTEGRANDS = {
    "poly": Integrand(_poly, _poly_F),
    "sinc": Integrand(lambda x: np.sinc(20 * x / np.pi),  # sin(20x) / (20x)
                      lambda x: scipy.special.sici(20 * x)[0] / 20),
    "xcos": Integrand(lambda x: x * np.cos(x), lambda x: np.cos(x) + x * np.sin(x)),
    "cos10": Integrand(lambda x: np.cos(10 * x), lambda x: np.sin(10 * x) / 10),
    # d = 2: f = d^2F/dxdy.
    "smooth2d": Integrand(
        lambda p: np.cos(p[..., 0]) * np.cos(2 * p[..., 1]) + 0.5 * p[..., 0] * p[..., 1]**2,
        lambda p: np.sin(p[..., 0]) * np.sin(2 * p[..., 1]) / 2 + p[..., 0]**2 * p[..., 1]**3 / 12,
        dims=2),
}

_EXPR_NAMESPACE = {k: getattr(np, k) for k in (
    "sin", "cos", "tan", "exp", "log", "sqrt", "abs", "sinc", "tanh", "arctan", "pi",
    "where", "maximum", "minimum", "heaviside", "cosh", "sinh")}
_EXPR_NAMESPACE["np"] = np


def _tabulated(xs, fs):
  """Integrand from sorted samples: linear interpolation, trapezoid antiderivative."""
  Fs = np.concatenate([[0.0], np.cumsum(0.5 * (fs[1:] + fs[:-1]) * np.diff(xs))])
  return Integrand(lambda x: np.interp(x, xs, fs), lambda x: np.interp(x, xs, Fs))


def expression_integrand(expression, lower, upper):
  """Integrand from a numpy expression of x; F by a 200001-point trapezoid rule."""
  xs = np.linspace(lower, upper, 200001)
  try:
    fs = np.broadcast_to(eval(expression, {"__builtins__": {}},  # pylint: disable=eval-used
                              dict(_EXPR_NAMESPACE, x=xs)), xs.shape).astype(np.float64)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"Could not evaluate --expression={expression!r} as a numpy "
                     f"expression of x (names allowed: x, {sorted(_EXPR_NAMESPACE)}): {e}") from e
  if not np.all(np.isfinite(fs)):
    raise ValueError(f"--expression={expression!r} is NaN or inf somewhere on "
                     f"[{lower}, {upper}]; choose another domain or expression.")
  return _tabulated(xs, fs)


def samples_integrand(path):
  """Integrand from a .npy file of shape [N, 2] holding (x, f(x)) rows."""
  try:
    data = np.load(path)
  except (OSError, ValueError) as e:
    raise ValueError(f"Could not read integrand samples from {path!r}: {e}") from e
  if data.ndim != 2 or data.shape[1] != 2 or data.shape[0] < 2:
    raise ValueError(f"{path!r}: expected an array of shape [N >= 2, 2] with (x, f) rows, "
                     f"got shape {data.shape}.")
  if not np.all(np.isfinite(data)):
    raise ValueError(f"{path!r}: the samples contain NaN or inf.")
  data = data[np.argsort(data[:, 0])].astype(np.float64)
  return _tabulated(data[:, 0], data[:, 1])


@dataclasses.dataclass(frozen=True)
class ToyConfig:
  integrand: str = "poly"          # name in INTEGRANDS, or "expression" / "samples"
  expression: str = ""             # numpy expression of x when integrand == "expression"
  samples_path: str = ""           # .npy [N, 2] (x, f) rows when integrand == "samples"
  lower: float = -1.0              # domain [lower, upper] (per axis for d = 2)
  upper: float = 2.0
  depth: int = 4                   # hidden layers of Phi
  width: int = 128                 # hidden units of Phi
  activation: str = "swish"        # see fields.ACTIVATIONS
  num_frequencies: int = 4         # normalized PE octaves
  learning_rate: float = 5e-4      # Adam (amsgrad), as the official code
  clipnorm: float = 1.0            # global gradient-norm clip (guards against loss spikes)
  final_lr_fraction: float = 0.05  # cosine decay of the learning rate down to this fraction
  steps: int = 5000                # training steps
  batch_size: int = 256            # samples a step
  sample_margin: float = 0.05      # closed-form integrands: also train this fraction of the
                                   # domain width beyond each edge (edges become interior)
  num_train_points: int = 0        # 0: fresh uniform samples; n > 0: n fixed points of a
                                   # 3000-point grid (the paper used 12)
  mode: str = "auto"               # grad-network mode, see grad_net.MODES
  num_eval_intervals: int = 1000   # random sub-intervals (boxes) for the error report
  seed: int = 0


def make_integrand(config):
  if config.integrand == "expression":
    return expression_integrand(config.expression, config.lower, config.upper)
  if config.integrand == "samples":
    return samples_integrand(config.samples_path)
  if config.integrand not in INTEGRANDS:
    raise ValueError(f"Unknown integrand {config.integrand!r}: choose one of "
                     f"{sorted(INTEGRANDS) + ['expression', 'samples']}.")
  return INTEGRANDS[config.integrand]


def make_integral_network(config, dims=1):
  return fields.IntegralMLP(input_names=_VARIABLES[:dims], output_dim=1, depth=config.depth,
                            width=config.width, activation=config.activation,
                            num_frequencies=config.num_frequencies, name="phi")


def _as_inputs(x):
  return {v: x[..., i:i + 1] for i, v in enumerate(_VARIABLES[:x.shape[-1]])}


def training_points(config, integrand, rng):
  """The pool [N, d] of sample positions the loss may see, and f at them [N, 1]."""
  d = integrand.dims
  if config.num_train_points > 0:
    if d != 1:
      raise ValueError("num_train_points applies to 1D integrands only.")
    grid = np.linspace(config.lower, config.upper, 3000)
    x = np.sort(rng.choice(grid, config.num_train_points, replace=False))[:, None]
  else:
    margin = config.sample_margin * (config.upper - config.lower)
    if config.integrand not in INTEGRANDS:  # tabulated integrands end at the domain
      margin = 0.0
    x = rng.uniform(config.lower - margin, config.upper + margin, size=(1 << 16, d))
  f = integrand.f(x[:, 0] if d == 1 else x)
  return x.astype(np.float32), np.asarray(f, np.float32).reshape(-1, 1)


def make_train_step(grad, optimizer, x_pool, f_pool, batch_size):
  """A compiled step: MSE between the grad network and f on a batch drawn from the pool."""
  variables = grad.trainable_variables
  x_pool, f_pool = tf.constant(x_pool), tf.constant(f_pool)
  n = x_pool.shape[0]

  @tf.function(jit_compile=False)
  def step():
    if batch_size >= n:
      x, f = x_pool, f_pool
    else:
      idx = tf.random.uniform([batch_size], 0, n, dtype=tf.int32)
      x, f = tf.gather(x_pool, idx), tf.gather(f_pool, idx)
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(grad(_as_inputs(x)) - f))
    grads = training.gradients(tape, loss, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return loss

  return step


def random_boxes(config, dims, n, rng):
  a = rng.uniform(config.lower, config.upper, size=(n, dims))
  b = rng.uniform(config.lower, config.upper, size=(n, dims))
  return np.minimum(a, b), np.maximum(a, b)


def exact_box_integral(integrand, a, b):
  """Closed-form integral over boxes [a, b], a, b: [n, d] (inclusion-exclusion on F)."""
  if integrand.dims == 1:
    return integrand.F(b[:, 0]) - integrand.F(a[:, 0])
  total = 0.0
  for cx in (0, 1):
    for cy in (0, 1):
      p = np.stack([(a, b)[cx][:, 0], (a, b)[cy][:, 1]], -1)
      total = total + (-1.0)**(2 - cx - cy) * integrand.F(p)
  return total


def evaluate(phi, config, integrand, rng):
  """Errors of Phi's box integrals against the closed form, normalized by range * volume."""
  d = integrand.dims
  a, b = random_boxes(config, d, config.num_eval_intervals, rng)
  exact = exact_box_integral(integrand, a, b)
  # The network's integrals, evaluated in float64 (the model's error) and in its own fp32
  # (adds the cancellation error of the corner differences on small boxes).
  phi64 = fields.with_dtype(phi, "float64", _as_inputs(np.zeros((1, d))))
  pred32 = grad_net.definite_integral(phi, a.astype(np.float32), b.astype(np.float32),
                                      variables=_VARIABLES[:d]).numpy()[:, 0]
  pred = grad_net.definite_integral(phi64, a, b, variables=_VARIABLES[:d]).numpy()[:, 0]
  grid = np.linspace(config.lower, config.upper, 513)
  mesh = grid[:, None] if d == 1 else np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
  fvals = integrand.f(mesh[:, 0] if d == 1 else mesh)
  f_range = float(np.max(fvals) - np.min(fvals))
  volume = np.prod(b - a, axis=-1)
  rel = np.abs(pred - exact) / (f_range * volume + 1e-12)
  return {"max_abs_error": float(np.max(np.abs(pred - exact))),
          "mean_abs_error": float(np.mean(np.abs(pred - exact))),
          "max_error_over_range_volume": float(np.max(rel)),
          "max_error_over_range_volume_fp32": float(
              np.max(np.abs(pred32 - exact) / (f_range * volume + 1e-12))),
          "mean_error_over_range_volume": float(np.mean(rel)),
          "integrand_range": f_range, "num_boxes": int(len(a))}


def plot(phi, grad, config, integrand, points, path):
  """Integrand vs grad network and antiderivative vs integral network (d = 1),
  or f and the grad network as images (d = 2)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  if integrand.dims == 1:
    x = np.linspace(config.lower, config.upper, 3000)[:, None].astype(np.float32)
    fx, Fx = integrand.f(x[:, 0]), integrand.F(x[:, 0])
    g = grad(_as_inputs(x)).numpy()[:, 0]
    p = phi(_as_inputs(x)).numpy()[:, 0]
    p = p - p[0] + Fx[0]  # the constant of integration is arbitrary
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(x, fx, "k", lw=2, label="integrand f")
    axes[0].plot(x, g, "r--", label="grad network dPhi/dx")
    if len(points[0]) <= 200:
      axes[0].plot(points[0], points[1], "bo", ms=4, label="training samples")
    axes[1].plot(x, Fx, "k", lw=2, label="antiderivative F")
    axes[1].plot(x, p, "r--", label="integral network Phi (shifted)")
    for ax in axes:
      ax.legend()
      ax.set_xlabel("x")
    fig.suptitle(f"AutoInt 1D: {config.integrand}")
  else:
    n = 128
    grid = np.linspace(config.lower, config.upper, n)
    mesh = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2).astype(np.float32)
    fx = integrand.f(mesh).reshape(n, n)
    g = grad(_as_inputs(mesh)).numpy().reshape(n, n)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ext = [config.lower, config.upper, config.lower, config.upper]
    for ax, img, title in zip(axes, (fx, g, np.abs(g - fx)),
                              ("integrand f", "grad network d2Phi/dxdy", "|error|")):
      im = ax.imshow(img, origin="lower", extent=ext)
      ax.set_title(title)
      fig.colorbar(im, ax=ax)
  io_utils.save_figure(fig, path)


def train_and_evaluate(config, workdir, progress=True):
  """Trains the grad network on the integrand, evaluates box integrals, writes outputs.

  Writes to workdir: config.json, metrics.json, phi.keras, plot.png, TensorBoard logs.
  Returns the metrics dict.
  """
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  fields.check_activation(config.activation)
  if not config.lower < config.upper:
    raise ValueError(f"The domain needs lower < upper, got [{config.lower}, {config.upper}].")
  integrand = make_integrand(config)
  os.makedirs(workdir, exist_ok=True)
  io_utils.write_json(os.path.join(workdir, "config.json"), config)
  rng = np.random.default_rng(config.seed)
  keras.utils.set_random_seed(config.seed)
  d = integrand.dims
  phi = make_integral_network(config, d)
  grad = grad_net.GradNetwork(phi, variables=_VARIABLES[:d], mode=config.mode, name="grad")
  grad(_as_inputs(np.zeros((1, d), np.float32)))
  schedule = keras.optimizers.schedules.CosineDecay(
      config.learning_rate, max(config.steps, 1), alpha=config.final_lr_fraction)
  optimizer = keras.optimizers.Adam(schedule, amsgrad=True, global_clipnorm=config.clipnorm)
  x_pool, f_pool = training_points(config, integrand, rng)
  step = make_train_step(grad, optimizer, x_pool, f_pool, config.batch_size)
  writer = tf.summary.create_file_writer(os.path.join(workdir, "tb"))
  start = time.time()
  bar = tqdm(range(config.steps), disable=not progress, desc=f"fit {config.integrand}",
             unit="step", mininterval=0.5)
  loss = float("nan")
  for i in bar:
    loss = step()
    if i % 100 == 0 or i == config.steps - 1:
      loss = float(loss)
      if not math.isfinite(loss):
        raise FloatingPointError(f"The loss became {loss} at step {i}; lower "
                                 f"--learning_rate (now {config.learning_rate}).")
      bar.set_postfix(loss=f"{loss:.3g}")
      with writer.as_default(step=i):
        tf.summary.scalar("loss", loss)
  metrics = evaluate(phi, config, integrand, rng)
  metrics.update(final_loss=float(loss), train_seconds=time.time() - start, steps=config.steps)
  with writer.as_default(step=config.steps):
    for k in ("max_error_over_range_volume", "mean_error_over_range_volume"):
      tf.summary.scalar(f"eval/{k}", metrics[k])
  writer.close()
  io_utils.write_json(os.path.join(workdir, "metrics.json"), metrics)
  with io_utils.atomic_path(os.path.join(workdir, "phi.keras")) as tmp:
    fields.as_model(phi, {v: 1 for v in _VARIABLES[:d]}).save(tmp)
  plot(phi, grad, config, integrand, (x_pool[:, 0], f_pool[:, 0]),
       os.path.join(workdir, "plot.png"))
  return metrics
