"""Toy integration jobs (AutoInt, Sec. 4.1): fit a grad network to f, integrate with Phi.

Training runs on the engine (training.fit): batch k of samples is drawn from the pool by
(seed, k), so a resumed run continues exactly.

Notation:
  x: [N, d] sample positions in the box [lower, upper]^d (d = 1 or 2).
  f: [N, 1] integrand values; F: closed-form antiderivative (d = 1) or the function whose
    mixed partial d^2 F / dx dy is f (d = 2), used as exact ground truth.
  phi: the integral network; grad: its grad network (mixed partial for d = 2).
"""

import dataclasses
import os

import numpy as np
import scipy.special
import tensorflow as tf

from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import plots
from autoint_tf import training
from autoint_tf.configs import check_choice
from autoint_tf.configs import knob

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
    raise ValueError(f"Could not evaluate --config.expression={expression!r} as a numpy "
                     f"expression of x (names allowed: x, {sorted(_EXPR_NAMESPACE)}): {e}") from e
  if not np.all(np.isfinite(fs)):
    raise ValueError(f"--config.expression={expression!r} is NaN or inf somewhere on "
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


@dataclasses.dataclass
class Config:
  """A toy run: the integrand, Phi and its training loop."""
  loop: training.LoopConfig = knob(training.LoopConfig(steps=5000, learning_rate=5e-4,
                                                       lr_schedule="cosine", amsgrad=True,
                                                       clipnorm=1.0, checkpoint_every=1000),
                                   "The training loop.")
  integrand: str = knob("poly", "Name in INTEGRANDS, or 'expression' / 'samples'.")
  expression: str = knob("", "Numpy expression of x when integrand == 'expression'.")
  samples_path: str = knob("", ".npy [N, 2] (x, f) rows when integrand == 'samples'.")
  lower: float = knob(-1.0, "Domain [lower, upper] (per axis for d = 2).")
  upper: float = knob(2.0, "Domain upper bound (per axis for d = 2).")
  depth: int = knob(4, "Hidden layers of Phi.")
  width: int = knob(128, "Hidden units of Phi.")
  activation: str = knob("swish", "See fields.ACTIVATIONS.")
  num_frequencies: int = knob(4, "Normalized PE octaves.")
  batch_size: int = knob(256, "Samples a step.")
  sample_margin: float = knob(0.05, "Closed-form integrands: also train this fraction of the "
                                    "domain width beyond each edge (edges become interior).")
  num_train_points: int = knob(0, "0: fresh uniform samples; n > 0: n fixed points of a "
                                  "3000-point grid (the paper used 12).")
  mode: str = knob("auto", "Grad-network mode, see grad_net.MODES.")
  num_eval_intervals: int = knob(1000, "Random sub-intervals (boxes) for the error report.")

  def __post_init__(self):
    check_choice("config.integrand", self.integrand,
                 sorted(INTEGRANDS) + ["expression", "samples"])
    check_choice("config.mode", self.mode, grad_net.MODES)
    fields.check_activation(self.activation)


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


def make_model(config, context):
  """The integral network Phi of a run with its weights created (training.restore fills them).
  context: {"dims": d}."""
  d = int(context["dims"])
  phi = make_integral_network(config, d)
  phi(_as_inputs(np.zeros((1, d), np.float32)))
  return phi


class Task(training.Task):
  """Fit the grad network to f: MSE on batches drawn from the pool of training points."""
  examples = "samples"

  def __init__(self, config, integrand, x_pool, f_pool):
    self.config, self.dims = config, integrand.dims
    self.name = f"fit {config.integrand}"
    self.x_pool, self.f_pool = x_pool, f_pool
    self.global_batch_size = min(config.batch_size, len(x_pool))

  def build_model(self):
    phi = make_model(self.config, {"dims": self.dims})
    self.grad = grad_net.GradNetwork(phi, variables=_VARIABLES[:self.dims], mode=self.config.mode,
                                     name="grad")
    return phi

  def dataset(self, start_step):
    x_pool, f_pool = tf.constant(self.x_pool), tf.constant(self.f_pool)
    n, b, seed = len(self.x_pool), self.global_batch_size, self.config.loop.seed

    def batch(index):
      if b >= n:
        return {"x": x_pool, "f": f_pool}
      idx = tf.random.stateless_uniform([b], tf.stack([tf.cast(seed, tf.int64), index]), 0, n,
                                        tf.int32)
      return {"x": tf.gather(x_pool, idx), "f": tf.gather(f_pool, idx)}

    return tf.data.Dataset.counter(start_step).map(batch).prefetch(tf.data.AUTOTUNE)

  def loss(self, model, batch):
    del model
    return tf.reduce_mean(tf.square(self.grad(_as_inputs(batch["x"])) - batch["f"]), -1), None


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
  if integrand.dims == 1:
    x = np.linspace(config.lower, config.upper, 3000)[:, None].astype(np.float32)
    plots.integrand_1d(x[:, 0], integrand.f(x[:, 0]), grad(_as_inputs(x)).numpy()[:, 0],
                       integrand.F(x[:, 0]), phi(_as_inputs(x)).numpy()[:, 0], points,
                       f"AutoInt 1D: {config.integrand}", path)
    return
  n = 128
  grid = np.linspace(config.lower, config.upper, n)
  mesh = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2).astype(np.float32)
  fx = integrand.f(mesh).reshape(n, n)
  g = grad(_as_inputs(mesh)).numpy().reshape(n, n)
  plots.images_side_by_side((fx, g, np.abs(g - fx)),
                            ("integrand f", "grad network d2Phi/dxdy", "|error|"),
                            [config.lower, config.upper, config.lower, config.upper], path)


def train_and_evaluate(config, workdir, progress=True):
  """Trains the grad network on the integrand (resuming from workdir), evaluates box integrals
  and writes config.json, checkpoints/, tb/, metrics.json and plot.png to workdir.

  Returns the metrics dict.
  """
  fields.check_activation(config.activation)
  if not config.lower < config.upper:
    raise ValueError(f"The domain needs lower < upper, got [{config.lower}, {config.upper}].")
  integrand = make_integrand(config)
  rng = np.random.default_rng(config.loop.seed)
  x_pool, f_pool = training_points(config, integrand, rng)
  training.write_run(workdir, "toy", config, {"dims": integrand.dims})
  task = Task(config, integrand, x_pool, f_pool)
  phi, history = training.fit(task, config.loop, workdir, progress=progress)
  metrics = evaluate(phi, config, integrand, rng)
  metrics.update(final_loss=history["final_loss"], train_seconds=history["train_seconds"],
                 steps=history["last_step"])
  training.write_metrics(workdir, metrics)
  plot(phi, task.grad, config, integrand, (x_pool[:, 0], f_pool[:, 0]),
       os.path.join(workdir, "plot.png"))
  return metrics
