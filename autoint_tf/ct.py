"""Sparse-view CT with integral networks (AutoInt, Sec. 4.2): models, training, evaluation.

Notation (see tomography.py for the geometry):
  lines: `tomography.Lines` [A, N]; p: [A, N] measured line integrals (the sinogram).
  Two parameterizations of the integral network Phi, both integrated along t:
    "ray"   (the paper's): Phi(rho, theta, t); the same point has different coordinates on
            different lines, so there is no single attenuation image (official issue #7).
    "point": Phi(x(t), u) with x(t) = origin + t u (fields.PointIntegralNetwork, 2-D here);
            its grad network dPhi/dt = grad_x Phi . u is a field over space that can be
            queried at pixels.
  Training (on the engine training.fit), over every kept line (full batch) or `batch_lines` of
  them drawn by (seed, step), the data term `data_term`:
      samples   (the paper's) M stratified samples t_k of the grad network f on each chord,
                loss = mean over lines of (chord * mean_k f(t_k) - p)^2; its expectation over
                the samples adds their variance, chord^2 Var(mean_k f(t_k)), which favours an
                f smooth along the lines;
      integral  loss = mean over lines of (Phi(t_max) - Phi(t_min) - p)^2: two evaluations of
                the integral network a line, exact (the fundamental theorem of calculus) and
                cheaper than M grad-network samples;
  plus weighted priors at random points (`prior_losses`), among them the image prior: one
  direction-free image I behind all views (the TV reconstruction of the kept views, computed
  before training) that f is pulled towards along every direction.
  Prediction (integral network): p = Phi(t_max) - Phi(t_min), two evaluations a line.
"""

import dataclasses
import os
import time
import warnings

import numpy as np
import tensorflow as tf

from autoint_tf import ct_data
from autoint_tf import fbp
from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import io_utils
from autoint_tf import metrics
from autoint_tf import plots
from autoint_tf import sirt
from autoint_tf import tomography
from autoint_tf import training
from autoint_tf.configs import check_choice
from autoint_tf.configs import check_range
from autoint_tf.configs import knob

PARAMETERIZATIONS = ("ray", "point")




def ray_network(num_frequencies=10, depth=4, width=128, activation="swish", w0=30.0,
                line_encoding="plain"):
  """The paper's Phi(rho, theta, t). `line_encoding`: how rho and theta, constant along each
  integral, are encoded: "plain" (NeRF's sin/cos of 2^k x) or "normalized" (AutoInt's
  1/2^k-weighted features, which t needs; on rho and theta they keep the fine octaves too
  weak to resolve a measured scan's views: its sinogram collapses to the mean over angles)."""
  check_choice("config.line_encoding", line_encoding, LINE_ENCODINGS)
  return fields.IntegralMLP(("rho", "theta", "t"), output_dim=1, depth=depth, width=width,
                            activation=activation, w0=w0, num_frequencies=num_frequencies,
                            plain_inputs=("rho", "theta") if line_encoding == "plain" else (),
                            name="phi_ray")


LINE_ENCODINGS = ("plain", "normalized")
SEGMENTATIONS = ("disc", "otsu")
SUPPORTS = ("auto", "disc", "fov")
PRIOR_DIRECTIONS = ("auto", "scan", "circle")
DATA_TERMS = ("samples", "integral")
SUPPORT_MARGIN = 0.02  # the support disc is the fitted one, 2% wider (its fit is ~0.3% off)
SUPPORT_VIEWS = 8  # the fewest views (2 tangents each) a support disc is fitted to


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


def line_integrals(phi, inputs, t_min, t_max, validate=True):
  """Phi(t_max) - Phi(t_min) per line: [...]. inputs: per-line dict, t_*: [...]. validate:
  grad_net.definite_integral's NaN/inf checks (training's lines are checked once, on load)."""
  return grad_net.definite_integral(phi, t_min, t_max, inputs=inputs, validate=validate)[..., 0]


def prior_disc(scan):
  """Where a run's priors draw their points, in field-of-view radii: (centre [2], radius) of
  the scan's support disc, or None (the unit disc, the field of view)."""
  if scan.support is None:
    return None
  return (np.asarray(scan.support["centre"]) / scan.radius,
          scan.support["radius"] / scan.radius)


def image_directions(lines, count):
  """About `count` directions [K, 2] an image is averaged over: every view's centre line,
  canonical (as training saw them), evenly thinned. lines: `tomography.Lines` [A, N]."""
  centre = lines.canonical().direction[:, lines.shape[1] // 2]
  return centre[::max(1, len(centre) // count)]


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


@dataclasses.dataclass
class Config:
  """A CT run: the scan (a phantom or a measured file), the model and its training loop."""
  loop: training.LoopConfig = knob(training.LoopConfig(steps=2000, learning_rate=1e-3,
                                                       amsgrad=True, log_every=25),
                                   "The training loop.")
  phantom: str = knob("shepp_logan", "Tomography.PHANTOMS key (when no sinogram file).")
  geometry: str = knob("parallel", "Built-in geometry of the phantom: parallel or fan.")
  num_angles: int = knob(64, "Full set of views (parallel [0, pi), fan [0, 2 pi)).")
  num_detectors: int = knob(64, "Detector pixels.")
  sinogram: str = knob("", "Measured sinogram file (.npy/.npz/.mat); '': phantom.")
  variable: str = knob("", "Its array/variable name (default 'sinogram').")
  geometry_json: str = knob("", "Its geometry: JSON text or a .json path (ct_data.py).")
  subsample: int = knob(4, "Keep every k-th view (4, 8, 16 in the paper).")
  parameterization: str = knob("ray", "'ray' (paper) or 'point'.")
  activation: str = knob("swish", "fields.ACTIVATIONS (the paper compares relu, swish, sine, "
                                  "softplus).")
  depth: int = knob(4, "Hidden layers of Phi.")
  width: int = knob(128, "Hidden units of Phi.")
  num_frequencies: int = knob(10, "PE octaves of (rho, theta, t) or of the point.")
  line_encoding: str = knob("plain", "Ray model: the encoding of rho and theta, constant along "
                            "a line: plain (NeRF's sin/cos) or normalized (AutoInt's 1/2^k "
                            "features, as t's; a measured scan's sinogram then collapses to "
                            "its mean over angles).")
  direction_frequencies: int = knob(2, "PE octaves of the direction (point model).")
  samples_per_line: int = knob(16, "Stratified grad-network samples per line (data_term "
                               "samples).")
  data_term: str = knob("samples", "How the kept views are fit: samples (the paper's: chord x "
                        "the mean of samples_per_line stratified grad-network samples a line) "
                        "or integral (the integral network's two evaluations a line, Phi(t_max) "
                        "- Phi(t_min): exact, where the samples' variance, part of their "
                        "loss's expectation, smooths the field along the lines).")
  batch_lines: int = knob(0, "Lines a step (0: every kept line, full batch).")
  consistency_weight: float = knob(1.0, "Weight of the view-consistency loss (the point "
                                   "model; the ray model with another prior, read at points).")
  consistency_points: int = knob(1024, "Random points a step for the point model's priors.")
  tv_weight: float = knob(0.0, "Weight of the total-variation prior (either model, read at "
                           "points: ct.point_field).")
  tv_step: float = knob(1.0 / 64, "Its finite-difference step (field-of-view radius 1).")
  nonnegative_weight: float = knob(0.0, "Weight of the f >= 0 penalty (either model).")
  prior_weight: float = knob(0.0, "Weight of the image prior (either model), the mean (f(x, "
                                  "u) - I(x))^2 against the TV reconstruction I of the kept "
                                  "views (sirt.reconstruct_tv).")
  prior_tv: float = knob(3e-5, "TV weight of that reconstruction.")
  prior_size: int = knob(0, "Its side in pixels (0: twice the image's, at most 512).")
  prior_iterations: int = knob(1500, "Its Adam steps.")
  sirt_iterations: int = knob(200, "Iterations of the SIRT baseline image.")
  image_size: int = knob(256, "Measured scans: the image grid's side in pixels (phantoms: "
                         "theirs).")
  image_pixel_size: float = knob(0.0, "Measured scans: the grid's pixel in the scan's length "
                                 "unit. 0: HTC 2022's grid for fan beam (the effective "
                                 "detector pixel at the origin at image_size 512, the same "
                                 "region in coarser pixels below), the field of view for "
                                 "parallel beam.")
  reference_segmentation: str = knob("", "A 1-bit PNG on the image grid (1 = material, HTC "
                                     "2022's ground truth): every method's segmentation is "
                                     "scored by its Matthews correlation coefficient "
                                     "(metrics.json 'mcc'; 'mcc_otsu' always Otsu's).")
  support: str = knob("auto", "Where the attenuation may be non-zero: disc (the disc fitted "
                      "to the kept views' sinogram support, 2% wider: every line's chord is "
                      "cut to it, for AutoInt, SIRT, TV and the export; HTC 2022's phantoms), "
                      "fov (the field of view) or auto (disc when one fits the support's "
                      "tangents to 1% of its radius, else fov).")
  segmentation: str = knob("disc", "How images are segmented: disc (HTC 2022's phantoms: the "
                           "disc fitted to the kept views' sinogram support, holes where the "
                           "image drops 30% below its grey closing; Otsu's threshold when no "
                           "disc fits) or otsu (one global threshold).")
  segmentation_closing: float = knob(0.125, "The disc segmentation's closing radius, as a "
                                     "fraction of the disc's radius (wider than its holes).")
  image_directions: int = knob(16, "Point model: directions its image is averaged over.")
  prior_directions: str = knob("auto", "Point model: the directions its priors see each "
                               "random point along: scan (those of the scan's lines, every "
                               "view's, held-out ones too: the directions it is asked about), "
                               "circle (uniform) or auto (scan on a limited arc, circle on "
                               "a scan that goes round).")

  def __post_init__(self):
    check_choice("config.phantom", self.phantom, sorted(tomography.PHANTOMS))
    check_choice("config.geometry", self.geometry, ct_data.GEOMETRY_TYPES)
    check_choice("config.parameterization", self.parameterization, PARAMETERIZATIONS,
                 "ray: the paper's Phi(rho, theta, t); point: Phi(o + t u, u)")
    fields.check_activation(self.activation)
    check_choice("config.line_encoding", self.line_encoding, LINE_ENCODINGS)
    check_choice("config.segmentation", self.segmentation, SEGMENTATIONS)
    check_choice("config.support", self.support, SUPPORTS)
    check_choice("config.prior_directions", self.prior_directions, PRIOR_DIRECTIONS)
    check_choice("config.data_term", self.data_term, DATA_TERMS)
    check_range("config.segmentation_closing", self.segmentation_closing, 0.0, 1.0,
                what="a fraction of the disc's radius")
    check_range("config.subsample", self.subsample, 1, what="a view step")
    check_range("config.image_size", self.image_size, 8, what="a number of pixels")
    check_range("config.image_pixel_size", self.image_pixel_size, 0.0,
                what="0 (the default grid) or a length")


def interpolate_angles(sinogram, angles, query, period=np.pi, flip=True):
  """Linear interpolation along angle of a sinogram [A, N] measured at `angles` [A], evaluated
  at `query` [Q] -> [Q, N]. Periodic with `period` when the views go round it; with `flip`
  (parallel beam, period pi), p(rho, theta + pi) = p(-rho, theta): the view one period on is
  the mirrored first view. A limited-angle scan (tomography.covers_period false) is not
  wrapped across its missing arc: queries beyond its ends take the nearest end view.
  """
  a = np.asarray(angles, np.float64)
  q = np.asarray(query, np.float64)
  if not tomography.covers_period(a, period):  # unwrap the arc so that it is contiguous
    start = np.sort(np.mod(a, period))
    gaps = np.diff(np.concatenate([start, start[:1] + period]))
    origin = start[(np.argmax(gaps) + 1) % len(start)]
    a, q = np.mod(a - origin, period), np.mod(q - origin, period)
    q = np.where(q > 0.5 * (a.max() + period), q - period, q)  # the nearer end of the arc
    order = np.argsort(a)
    s = np.asarray(sinogram)[order]
    return np.stack([np.interp(q, a[order], s[:, j]) for j in range(s.shape[1])], -1)
  a = np.mod(a, period)
  order = np.argsort(a)
  a, s = a[order], np.asarray(sinogram)[order]
  wrapped = s[:, ::-1] if flip else s
  ext_a = np.concatenate([a[-1:] - period, a, a[:1] + period])
  ext_s = np.concatenate([wrapped[-1:], s, wrapped[:1]], 0)
  q = np.mod(q, period)
  return np.stack([np.interp(q, ext_a, ext_s[:, j]) for j in range(s.shape[1])], -1)


def make_network(config):
  """The integral network Phi of a config."""
  fields.check_activation(config.activation)
  if config.parameterization == "ray":
    return ray_network(config.num_frequencies, config.depth, config.width, config.activation,
                       line_encoding=config.line_encoding)
  if config.parameterization == "point":
    return fields.PointIntegralNetwork(config.num_frequencies, config.direction_frequencies,
                                config.depth, config.width, config.activation, name="phi_point")
  raise ValueError(f"Unknown parameterization {config.parameterization!r}: choose one of "
                   f"{PARAMETERIZATIONS}.")


def point_field(grad, parameterization):
  """The grad network of either model as a field over space: a callable on {"origin" [B, 2],
  "direction" [B, 2], "t" [B, 1]} -> f [B, 1] at the point origin + t direction seen along the
  direction. The point model is one already; the ray model's f(rho, theta, t) is read on the
  canonical line through the point (Lines.canonical: origin the foot point, so rho = x . n,
  t = x . u), whichever orientation was asked for (f, the attenuation, has none). Its
  priors and image then need no point model: its Phi is the cumulative integral of the image
  in the line's own frame, one function of (rho, theta, t), where the point model's Phi(x, u)
  is a different function of x for every u, and with the image prior it learns a sharper image
  (the HTC 2022 table's recipe: ta_category7 MCC 0.908 against the point model's 0.868)."""
  if parameterization == "point":
    return grad

  def field(inputs):
    u = tf.convert_to_tensor(inputs["direction"], tf.float32)
    x = (tf.convert_to_tensor(inputs["origin"], tf.float32) +
         tf.convert_to_tensor(inputs["t"], tf.float32) * u)
    line = tomography.canonical_segments(x, x + u)  # the line's rho, theta and direction
    return grad({"rho": line["rho"][:, None], "theta": line["theta"][:, None] / np.pi,
                 "t": tf.reduce_sum(x * line["direction"], -1, keepdims=True)})

  return field


def _random_points(seed, num_points, directions=None, disc=None):
  """[num_points, 2] points uniform in a disc, and two [num_points, 2] unit directions.

  directions: None (uniform over the circle) or [K, 2] unit vectors to draw from (a scan's
  lines: the only directions its measurements constrain). disc: None (the unit disc, the
  field of view) or (centre [2], radius), the support.
  """
  r = tf.sqrt(tf.random.stateless_uniform([num_points, 1], seed))
  a, b, c = tf.unstack(tf.random.stateless_uniform([3, num_points, 1], seed + 1, 0, 2 * np.pi))
  x = r * _unit(a)
  if disc is not None:
    x = tf.constant(disc[0], tf.float32) + float(disc[1]) * x
  if directions is None:
    return x, _unit(b), _unit(c)
  pick = tf.random.stateless_uniform([2, num_points], seed + 4, 0, tf.shape(directions)[0],
                                     tf.int32)
  return x, tf.gather(directions, pick[0]), tf.gather(directions, pick[1])


def _unit(angle):
  """[..., 1] angles -> [..., 2] unit vectors."""
  return tf.concat([tf.cos(angle), tf.sin(angle)], -1)


def consistency_loss(grad, seed, num_points):
  """Mean squared difference of the point model's grad network at the same random point of the
  unit disc seen along two random directions: zero iff the attenuation is direction-independent
  (the view inconsistency of the official code's issue #7). Uses no measurements.
  seed: [2] int64, of tf.random.stateless_uniform."""
  return prior_losses(grad, seed, num_points, tv_step=0.0)["consistency"]


def prior_losses(grad, seed, num_points, tv_step, prior=None, directions=None, disc=None):
  """The point model's image priors at `num_points` random points x of the unit disc (or of
  `disc`, (centre, radius): the support), each seen along random directions u, v (uniform, or
  drawn from `directions` [K, 2], the scan's; none uses a measurement):

    consistency  mean (f(x, u) - f(x, v))^2: zero iff the attenuation does not depend on the
                 direction it is seen along (official issue #7);
    tv           mean sqrt((f(x + h e, u) - f(x, u))^2 / h^2 + eps^2), e a random unit vector,
                 h = tv_step: a Monte Carlo total variation (E|grad f . e| = (2/pi)|grad f|),
                 the classical prior of sparse-view CT (piecewise-constant attenuation);
    negative     mean min(f(x, u), 0)^2: attenuation is non-negative;
    image        mean (f(x, u) - I(x))^2 over both directions, I = `prior` [S, S] (an image
                 over the unit field of view, sampled bilinearly by sirt.sample): one image
                 behind all views.

  f is the grad network (the attenuation). Returns {name: scalar}; tv only when tv_step > 0,
  image only with a prior.
  """
  x, u, v = _random_points(seed, num_points, directions, disc)
  points, seen = [x, x], [u, v]
  if tv_step > 0:
    e = tf.random.stateless_uniform([num_points, 1], seed + 2, 0, 2 * np.pi)
    points.append(x + tv_step * _unit(e))
    seen.append(u)
  f = grad({"origin": tf.concat(points, 0), "direction": tf.concat(seen, 0),
            "t": tf.zeros([len(points) * num_points, 1])})[:, 0]
  f = tf.reshape(f, [len(points), num_points])
  losses = {"consistency": tf.reduce_mean(tf.square(f[0] - f[1])),
            "negative": tf.reduce_mean(tf.square(tf.minimum(f[:2], 0.0)))}
  if tv_step > 0:
    losses["tv"] = tf.reduce_mean(tf.sqrt(tf.square((f[2] - f[0]) / tv_step) + 1e-6))
  if prior is not None:
    losses["image"] = tf.reduce_mean(tf.square(f[:2] - sirt.sample(prior, x)[None]))
  return losses


def point_image(grad, size, directions, chunk=65536, extent=1.0):
  """The point model's grad network as an attenuation image at the pixel centres of a grid
  of half-width `extent` (in field-of-view radii: 1 is the field of view's square).

  Returns (mean over `directions` [K, 2], std over them), each [size, size], zero outside
  the field of view. A consistent field gives the same value along every direction.
  """
  x = tomography.pixel_centres(size, extent).reshape(-1, 2)
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
  """The scan of a config: its measured sinogram file, else the phantom's exact sinogram."""
  if config.sinogram:
    if not config.geometry_json:
      raise ValueError("--config.sinogram needs --config.geometry_json (JSON text or file), e.g. "
                       '\'{"type": "parallel", "num_angles": 180, "angle_unit": "degrees", '
                       '"angle_range": [0, 180]}\'.')
    return ct_data.load_scan(config.sinogram, config.geometry_json, config.variable or None)
  geometry = ct_data.default_geometry(config.geometry, config.num_angles, config.num_detectors)
  return ct_data.phantom_scan(config.phantom, geometry)


def split_views(config, num_views):
  """(kept, held-out) view indices: every `subsample`-th view is kept."""
  if not 1 <= config.subsample < num_views:
    raise ValueError(f"subsample={config.subsample} must be in [1, {num_views}) for "
                     f"{num_views} views.")
  kept = np.arange(0, num_views, config.subsample)
  return kept, np.setdiff1d(np.arange(num_views), kept)


def _dummy_inputs(parameterization):
  if parameterization == "ray":
    return {"rho": tf.zeros([1, 1]), "theta": tf.zeros([1, 1]), "t": tf.zeros([1, 1])}
  return {"origin": tf.zeros([1, 2]), "direction": tf.ones([1, 2]), "t": tf.zeros([1, 1])}


def make_model(config, context=None):
  """The integral network Phi of a run with its weights created (training.restore fills them).
  context: {"radius", "scan_geometry", "line_encoding"} of the scan; a run written before
  `line_encoding` existed has none in its context and was trained "normalized"."""
  if context is not None and config.parameterization == "ray":
    config = dataclasses.replace(config, line_encoding=context.get("line_encoding",
                                                                   "normalized"))
  phi = make_network(config)
  phi(_dummy_inputs(config.parameterization))
  return phi


PRIOR_WEIGHTS = ("consistency_weight", "tv_weight", "nonnegative_weight", "prior_weight")


def check_priors(config):
  """Raises a ValueError naming the flag when a prior's weight or setting is out of range, or a
  weight is set for the ray model (the priors need the point model's field over space)."""
  for name in PRIOR_WEIGHTS:
    if getattr(config, name) < 0:
      raise ValueError(f"--config.{name}={getattr(config, name)} must be >= 0 (0 turns it off).")
  for name, low in (("prior_tv", 0), ("prior_size", 0), ("prior_iterations", 1)):
    if getattr(config, name) < low:
      raise ValueError(f"--config.{name}={getattr(config, name)} must be >= {low}.")


def uses_priors(config):
  """Whether training adds the priors at random points: the point model with any prior
  weight; the ray model (whose runs without priors keep the paper's loss alone, the default
  consistency weight included) when the TV, non-negativity or image prior is asked for."""
  if config.parameterization == "point":
    return any(getattr(config, n) for n in PRIOR_WEIGHTS)
  return any(getattr(config, n) for n in PRIOR_WEIGHTS[1:])


def prior_direction_mode(choice, angles, period):
  """What --config.prior_directions=`choice` means for views at `angles`: "scan" or "circle".
  auto: the scan's directions on a limited arc (on 30 degrees, the circle's other 330 spend
  the network on directions no line measures: ta_category7's MCC 0.78 -> 0.85), the circle on
  a scan that goes round its period (the Shepp-Logan phantom at 8x: held-out views 0.5 dB
  better than along the scan's directions)."""
  if choice != "auto":
    return choice
  return "circle" if tomography.covers_period(angles, period) else "scan"


class Task(training.Task):
  """Fit the kept views: per line (chord x mean of M stratified grad-network samples - p)^2
  or (Phi(t_max) - Phi(t_min) - p)^2 (config.data_term), on all kept lines (full batch) or
  `batch_lines` drawn by (seed, step), plus the priors at random points (`prior_losses`).
  Lengths are in units of the field-of-view radius."""
  examples = "lines"

  def __init__(self, config, scan, kept, held, progress=False, reference=None):
    check_priors(config)
    self.config, self.scan, self.kept, self.held = config, scan, kept, held
    self.name = "fit sinogram"
    self.lines = scan.lines.scaled(1.0 / scan.radius)
    self.inputs, self.t_min, self.t_max = flat_line_inputs(config.parameterization, self.lines,
                                                           kept)
    self.target = tf.constant(scan.sinogram[kept].reshape(-1) / scan.radius, tf.float32)
    n = int(self.t_min.shape[0])
    self.global_batch_size = min(config.batch_lines, n) if config.batch_lines > 0 else n
    self.evaluation = None
    # where the priors look: in the support (no line sees attenuation outside it), along the
    # directions of every view of the scan (its geometry, held-out views too: no
    # measurement), or along the whole circle
    self.prior_disc = prior_disc(scan)
    self.prior_directions = None
    if uses_priors(config) and prior_direction_mode(
        config.prior_directions, scan.angles, scan.period) == "scan":
      self.prior_directions = tf.constant(
          self.lines.canonical().direction.reshape(-1, 2), tf.float32)
    self.prior, self.prior_seconds = None, None
    # the reference segmentation, read once (train_and_evaluate reads it before anything)
    self.reference = reference if reference is not None else reference_segmentation(config,
                                                                                     scan)
    if uses_priors(config) and config.prior_weight:
      start = time.perf_counter()
      self.prior = prior_image(config, scan, kept, progress)
      self.prior_seconds = time.perf_counter() - start

  def build_model(self):
    phi = make_model(self.config)
    self.grad = grad_net.GradNetwork(phi, variables=("t",), name="grad")
    return phi

  def dataset(self, start_step):
    n, b, m = int(self.t_min.shape[0]), self.global_batch_size, self.config.samples_per_line
    seed0 = tf.cast(self.config.loop.seed, tf.int64)

    def batch(index):
      seed = tf.stack([seed0, index])
      lines = (tf.range(n) if b == n else
               tf.random.stateless_uniform([b], seed + 2, 0, n, tf.int32))
      out = {"line": lines, "seed": tf.broadcast_to(seed + 3, [b, 2])}
      if self.config.data_term == "samples":  # the stratified samples' positions
        out["jitter"] = tf.random.stateless_uniform([b, m], seed)
      return out

    return tf.data.Dataset.counter(start_step).map(batch).prefetch(tf.data.AUTOTUNE)

  def loss(self, model, batch):
    idx = batch["line"]
    inputs = {k: tf.gather(v, idx) for k, v in self.inputs.items()}
    t_min, t_max = tf.gather(self.t_min, idx), tf.gather(self.t_max, idx)
    if self.config.data_term == "integral":  # exact: two evaluations of Phi a line
      pred = line_integrals(model, inputs, t_min, t_max, validate=False)
    else:  # the paper's: chord x the mean of m stratified grad-network samples
      m = self.config.samples_per_line
      strata = (tf.range(m, dtype=tf.float32) + batch["jitter"]) / m
      pred = chord_integral(self.grad, inputs, t_min, t_max, strata)
    extra = None
    c = self.config
    weights = {"consistency": c.consistency_weight, "tv": c.tv_weight,
               "negative": c.nonnegative_weight, "image": c.prior_weight}
    if uses_priors(c):
      prior = None if self.prior is None else tf.constant(self.prior, tf.float32)
      priors = prior_losses(point_field(self.grad, c.parameterization), batch["seed"][0], c.consistency_points,
                            c.tv_step if c.tv_weight else 0.0, prior, self.prior_directions,
                            self.prior_disc)
      extra = tf.add_n([w * priors[k] for k, w in weights.items() if w])
    return tf.square(pred - tf.gather(self.target, idx)), extra

  def evaluate(self, model, step):
    report, outputs = evaluate(self.config, self.scan, model, self.grad, self.kept, self.held,
                               self.prior, self.reference)
    self.evaluation = (step, report, outputs)
    images = {}
    for k in ("prediction", "point_image", "fbp_image"):
      if outputs.get(k) is not None:
        img = outputs[k] - outputs[k].min()
        images[k] = (img / max(img.max(), 1e-12))[None, ..., None]
    return {k: v for k, v in report.items() if isinstance(v, float)}, images


def train_and_evaluate(config, scan=None, workdir=None, progress=True):
  """Fits the grad network on every `subsample`-th view of `scan` (default: `scan_for(config)`),
  predicts all views with two evaluations a line, and compares with the baselines.

  Writes config.json, checkpoints/ (resumed on restart) and tb/ to `workdir` (a temporary
  directory if None). Returns (metrics dict, outputs dict).
  """
  import tempfile  # pylint: disable=g-import-not-at-top
  scan = scan if scan is not None else scan_for(config)
  workdir = workdir or tempfile.mkdtemp(prefix="autoint_ct_")
  kept, held = split_views(config, len(scan.angles))
  reference = reference_segmentation(config, scan)  # refused before training, not after
  scan = with_support(config, scan, kept)
  training.write_run(workdir, "ct", config, {"radius": scan.radius,
                                             "scan_geometry": scan.geometry,
                                             "line_encoding": config.line_encoding,
                                             "source": scan.source,
                                             "support": scan.support})
  task = Task(config, scan, kept, held, progress, reference)
  phi, history = training.fit(task, config.loop, workdir, progress=progress)
  if task.evaluation is None or task.evaluation[0] != history["last_step"]:
    task.evaluate(phi, history["last_step"])
  _, report, outputs = task.evaluation
  report["final_loss"] = (history["final_loss"] * scan.radius**2
                          if history["final_loss"] is not None else None)
  report.update(steps=history["last_step"], train_seconds=history["train_seconds"])
  if task.prior_seconds is not None:
    report["seconds_tv_prior"] = task.prior_seconds
  outputs.update(phi=phi, grad=task.grad)
  return report, outputs


def write_report(report, outputs, scan, workdir):
  """metrics.json, sinogram.npz (predicted, measured, interpolated sinograms, images) and
  ct.png in a run's workdir."""
  training.write_metrics(workdir, report)
  with io_utils.atomic_path(os.path.join(workdir, "sinogram.npz")) as tmp:
    arrays = {k: outputs[k] for k in ("prediction", "truth", "interpolation", "kept",
                                      "fbp_image", "sirt_image", "tv_image", "point_image")
              if outputs.get(k) is not None}
    np.savez(tmp, angles=scan.angles, **arrays)
  plots.ct_report(outputs, report, os.path.join(workdir, "ct.png"))
  write_images(outputs, workdir)


def write_images(outputs, workdir):
  """image.npy and image.png: the attenuation image on the run's grid (the point model's,
  else SIRT's; ASTRA's array orientation, row 0 at +y), and segmentation_<method>.png of
  every method scored."""
  image = outputs.get("point_image")
  image = outputs["sirt_image"] if image is None else image
  with io_utils.atomic_path(os.path.join(workdir, "image.npy")) as tmp:
    np.save(tmp, np.asarray(image, np.float32))
  span = max(float(np.ptp(image)), 1e-12)
  plots.save_png((image - image.min()) / span, os.path.join(workdir, "image.png"))
  for method, mask in (outputs.get("segmentations") or {}).items():
    plots.save_png(mask.astype(np.float64), os.path.join(workdir, f"segmentation_{method}.png"))


def image_grid(config, scan):
  """(side in pixels, half-width in the scan's length unit) of a run's images (the square of
  tomography.pixel_centres): a phantom's own; for a measured scan `image_size` pixels of
  `image_pixel_size`, by default HTC 2022's grid for fan beam (ASTRA's create_vol_geom(512,
  512) in effective detector pixels at the origin; a smaller size covers the same region)
  and the field of view for parallel beam."""
  if scan.image is not None:
    return int(scan.image.shape[0]), scan.radius
  size = config.image_size
  pixel = config.image_pixel_size
  if not pixel:
    g = scan.geometry
    if g["type"] != "fan":
      return size, scan.radius
    pixel = float(g["pixel_size"]) * float(g["source_origin"]) / float(g["source_detector"])
    pixel *= HTC_GRID / size
  return size, 0.5 * size * pixel


HTC_GRID = 512  # the side of HTC 2022's reconstruction grid


def prior_image(config, scan, kept, progress=False):
  """The image prior of a point-model run: the TV reconstruction (sirt.reconstruct_tv) of the
  kept views, [S, S] over the field of view, in the scan's attenuation units."""
  size = config.prior_size or min(2 * image_grid(config, scan)[0], 512)
  return sirt.reconstruct_tv(scan.sinogram[kept], scan.lines.take(kept), scan.radius, size,
                             config.prior_tv, config.prior_iterations, progress=progress,
                             support=scan.support)


def reference_segmentation(config, scan):
  """The run's reference segmentation (metrics.read_segmentation of
  --config.reference_segmentation on the image grid), or None without one."""
  if not config.reference_segmentation:
    return None
  return metrics.read_segmentation(config.reference_segmentation, image_grid(config, scan)[0],
                                   "--config.reference_segmentation")


def support_disc(scan, kept):
  """(disc, why not): the object's disc fitted to the kept views' sinogram support
  (tomography.fit_disc) as {"centre": [x, y], "radius", "residual"} in the scan's length
  unit, or None and the reason when none fits (fewer than SUPPORT_VIEWS views hold the whole
  object, or the tangents miss one circle by more than 1% of its radius: the object is no
  disc)."""
  try:
    centre, radius, residual = tomography.fit_disc(scan.sinogram[kept], scan.lines.take(kept),
                                                   min_views=SUPPORT_VIEWS)
  except ValueError as e:
    return None, str(e)
  if not (radius > 0 and residual <= 0.01 * radius):
    return None, (f"the support's tangents fit no disc (radius {radius:.4g}, rms residual "
                  f"{residual:.3g}, more than 1% of it).")
  return {"centre": [float(c) for c in centre], "radius": float(radius),
          "residual": residual}, ""


def with_support(config, scan, kept):
  """The scan with its support (config.support): for a disc, `Scan.support` set to the
  fitted disc 2% wider and every line's chord cut to it; the scan itself for the field of
  view (and for `auto` when no disc fits)."""
  if config.support == "fov" or scan.support is not None:
    return scan
  disc, why = support_disc(scan, kept)
  if disc is None:
    if config.support == "auto":
      return scan
    raise ValueError(f"--config.support=disc: {why} The object is no disc: use "
                     "--config.support=fov (or auto).")
  support = {"centre": disc["centre"], "radius": disc["radius"] * (1 + SUPPORT_MARGIN),
             "fitted": disc}
  return dataclasses.replace(scan, support=support, lines=scan.lines.clipped_to_disc(
      support["centre"], support["radius"]))


def segmentation_disc(config, scan, kept):
  """The disc config.segmentation segments by: None for Otsu's threshold (asked for, or, with
  a warning, when no disc fits); the fitted disc of the scan's support when it has one."""
  if config.segmentation != "disc":
    return None
  if scan.support is not None:
    return scan.support["fitted"]
  disc, why = support_disc(scan, kept)
  if disc is None:
    warnings.warn(f"--config.segmentation=disc: {why} Segmenting by Otsu's threshold.")
  return disc


def evaluate(config, scan, phi, grad, kept, held, prior=None, reference=None):
  """Held-out-view PSNR/SSIM of AutoInt and of angular interpolation; for the point model its
  image against FBP and SIRT of the same kept views (and against the phantom when there is
  one). With an image `prior` (the point model's TV reconstruction) also its reprojection on
  the held-out views and its image. report["seconds_<stage>"]: the time of each stage."""
  clock = [time.perf_counter()]

  def lap():
    now = time.perf_counter()
    seconds, clock[0] = now - clock[0], now
    return seconds

  lines = scan.lines.scaled(1.0 / scan.radius)
  pred = line_integrals(phi, *flat_line_inputs(config.parameterization, lines))
  pred = pred.numpy().reshape(scan.sinogram.shape) * scan.radius
  seconds = {"predict_all_views": lap()}
  psnr, ssim = metrics.psnr, metrics.ssim
  truth = scan.sinogram
  data_range = float(truth.max() - truth.min())
  interp = interpolate_angles(truth[kept], scan.angles[kept], scan.angles, scan.period,
                              flip=scan.geometry["type"] == "parallel")
  report = {"psnr_train_views": psnr(pred[kept], truth[kept], data_range)}
  if len(held):  # (none with --config.subsample=1: every view trains, only images score)
    report.update({
        "psnr_heldout_autoint": psnr(pred[held], truth[held], data_range),
        "psnr_heldout_interpolation": psnr(interp[held], truth[held], data_range),
        "ssim_heldout_autoint": ssim(pred[held], truth[held], data_range),
        "ssim_heldout_interpolation": ssim(interp[held], truth[held], data_range)})
  size, extent = image_grid(config, scan)
  lap()
  fbp_image = fbp.reconstruct(truth[kept], scan.angles[kept], scan.geometry, size, extent)
  seconds["fbp"] = lap()
  sirt_image = sirt.reconstruct(truth[kept], scan.lines.take(kept), extent, size,
                                iterations=config.sirt_iterations, support=scan.support)
  # No line saw attenuation outside the support: FBP (which knows none) and AutoInt's image
  # are cut to it.
  support = 1.0 if scan.support is None else tomography.disc_mask(scan.support, size, extent)
  fbp_image = fbp_image * support
  seconds["sirt"] = lap()
  prior_small = None
  if prior is not None:
    if len(held):
      forward, _ = sirt.make_projector(scan.lines.take(held), scan.radius, prior.shape[0])
      reprojected = forward(prior).numpy().reshape(truth[held].shape)
      report["psnr_heldout_tv"] = psnr(reprojected, truth[held], data_range)
      report["ssim_heldout_tv"] = ssim(reprojected, truth[held], data_range)
    factor = prior.shape[0] // size
    if extent == scan.radius:
      prior_small = (prior.reshape(size, factor, size, factor).mean((1, 3))
                     if factor * size == prior.shape[0] else None)
    else:  # the field of view's reconstruction on the image grid
      prior_small = sirt.sample(prior, tomography.pixel_centres(size, extent),
                                scan.radius).numpy()
    seconds["tv_reprojection"] = lap()
  outputs = {"prediction": pred, "truth": truth, "interpolation": interp, "kept": kept,
             "fbp_image": fbp_image, "sirt_image": sirt_image, "tv_image": prior,
             "point_image": None, "image": scan.image}
  # The image of the field over space (point_field), of either model, along every direction
  # the scanner measured (the geometry only, no held-out measurements).
  # Training scaled lengths and targets by 1 / radius together, so the grad network is the
  # attenuation in the scan's own units: no further scaling.
  image, spread = point_image(point_field(grad, config.parameterization), size,
                              image_directions(lines, config.image_directions),
                              extent=extent / scan.radius)
  image = image * support
  seconds["autoint_image"] = lap()
  outputs.update(point_image=image, point_image_std=spread)
  inside = np.sum(tomography.pixel_centres(size, extent / scan.radius)**2, -1) < 1.0
  report["image_direction_std"] = float(np.mean(spread[inside]))
  report["image_direction_std_relative"] = float(
      np.mean(spread[inside]) / max(np.ptp(image[inside]), 1e-12))
  if scan.image is not None:
    image_range = float(scan.image.max() - scan.image.min())
    report["psnr_image_fbp"] = psnr(fbp_image, scan.image, image_range)
    report["ssim_image_fbp"] = ssim(fbp_image, scan.image, image_range)
    report["psnr_image_sirt"] = psnr(sirt_image, scan.image, image_range)
    report["ssim_image_sirt"] = ssim(sirt_image, scan.image, image_range)
    if prior_small is not None:
      report["psnr_image_tv"] = psnr(prior_small, scan.image, image_range)
      report["ssim_image_tv"] = ssim(prior_small, scan.image, image_range)
    if outputs["point_image"] is not None:
      report["psnr_image_autoint"] = psnr(outputs["point_image"], scan.image, image_range)
      report["ssim_image_autoint"] = ssim(outputs["point_image"], scan.image, image_range)
  images = {"fbp": fbp_image, "sirt": sirt_image, "tv": prior_small,
            "autoint": outputs["point_image"]}
  if reference is None:
    reference = reference_segmentation(config, scan)
  if reference is not None:
    images = {k: v for k, v in images.items() if v is not None}
    score = lambda mask: metrics.mcc(metrics.upsample(mask, reference.shape[0]), reference)
    otsu = {k: metrics.otsu_segmentation(v) for k, v in images.items()}
    segments, report["segmentation"] = otsu, "otsu"
    disc = segmentation_disc(config, scan, kept)
    if disc is not None:
      inside = tomography.disc_mask(disc, size, extent)
      closing = config.segmentation_closing * disc["radius"] / (2 * extent / size)
      segments = {k: metrics.disc_segmentation(v, inside, closing) for k, v in images.items()}
      report.update(segmentation="disc", support_disc=disc)
    report["mcc"] = {k: score(v) for k, v in segments.items()}
    report["mcc_otsu"] = {k: score(v) for k, v in otsu.items()}
    outputs.update(segmentations=segments, reference_segmentation=reference)
    seconds["segmentation"] = lap()
  report.update(grid_pixels=size, grid_pixel_size=2 * extent / size)  # (the images' grid)
  report.update({f"seconds_{k}": v for k, v in seconds.items()})
  return report, outputs
