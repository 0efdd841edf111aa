"""Volume renderers (AutoInt, Sec. 4.3): integral networks, sampling network, compositing.

Notation (Lindell et al., CVPR 2021, Sec. 4.3 and Eqs. 7-9; docs/method.md): a ray
r(t) = o + t d, d unnormalized, t in [near, far].
  Posts tau_0 = near < ... < tau_N = far cut it into N sections; in section i
    sigma_i = relu((Phi_s(tau_i) - Phi_s(tau_{i-1})) / dtau_i),
    c_i     = sigmoid((Phi_c(tau_i) - Phi_c(tau_{i-1})) / dtau_i),
    delta_i = |d| dtau_i,  compositing as NeRF (rendering.composite).
  Rendering: N + 1 evaluations of the integral networks per ray (`AutoIntRenderer.render`).
  Training (`LossConfig`): the paper's section means are the grad networks dPhi/dt averaged over
    M stratified samples inside each section (`section_means="sampled"`); gradients reach the
    sampling network through the sample positions and delta. As M grows they tend to the exact
    means of rendering at N = K, which the loss can use directly (`"exact"`: K + 1 plain
    evaluations a ray instead of K M forward-mode ones, and no sampling noise; with
    `exact_scales` S, the renders at K, 2K, ..., 2^(S-1) K from one evaluation at the finest
    render's posts).
  Sampling network (`SamplingNetwork`, a plain field, not integrated): PE(o, d) -> ReLU MLP ->
    K section lengths |out + 1/K|, renormalized, floored at `min_section` / K. Posts for any N:
    piecewise-linear in the section index (N = K gives the K sections; N = 2K halves each;
    N = K / 2 merges pairs).
  Baseline (`QuadratureRenderer`): the same field read as values at points (sigma = relu,
    c = sigmoid), NeRF quadrature with 64 stratified + 128 importance samples.
Shapes: B rays; rays_o, rays_d [B, 3]; near, far [B]. K: sections of the sampling network
(training); N: sections at render time (any positive int); M: samples a section in training;
L: positional-encoding octaves.

Each renderer owns its training: `batch_noise` draws the random numbers a training batch needs
(from a stateless seed, in the input pipeline), `training_outputs` renders a batch that carries
them, and `per_ray_loss` scores those renders against the batch's pixels (on the batch's own
background colours when it has them).
"""

import dataclasses

import keras
import tensorflow as tf

from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import rays as rays_lib
from autoint_tf import rendering
from autoint_tf.configs import check_choice
from autoint_tf.configs import check_range
from autoint_tf.configs import knob

COLOR_ORIENTATIONS = ("ray", "direction")
SAMPLER_INPUTS = ("ray", "line")
SECTION_MEANS = ("sampled", "exact")


@dataclasses.dataclass
class ModelConfig:
  """The density and colour networks (integral networks for AutoInt, fields for the baseline)."""
  depth: int = knob(4, "Hidden layers of the density and colour networks (the shared trunk's "
                    "layers with shared_trunk).")
  width: int = knob(128, "Hidden width.")
  activation: str = knob("swish", "Activation of the hidden layers (fields.ACTIVATIONS).")
  num_frequencies: int = knob(6, "L: positional-encoding octaves of the point x = o + t d.")
  direction_frequencies: int = knob(0, "Positional-encoding octaves of what colour sees "
                                    "besides the point (0: the raw values only).")
  view_consistent_sigma: bool = knob(False, "Two networks: the density network sees only the "
                                     "point (the official code's sees the ray, its issue #9).")
  color_orientation: str = knob("ray", "What colour sees besides the point: ray (origin and "
                                "direction, the paper's 6-D orientation) or direction (NeRF's).")
  shared_trunk: bool = knob(True, "One trunk for density and colour (fields.RadianceField: one "
                            "forward-mode pass); False: the paper's two networks.")
  head_depth: int = knob(1, "Shared trunk: hidden layers of the colour head.")
  head_width: int = knob(64, "Shared trunk: width of the colour head.")

  def __post_init__(self):
    fields.check_activation(self.activation)
    check_choice("config.model.color_orientation", self.color_orientation, COLOR_ORIENTATIONS,
                 "ray: origin and direction, the paper's; direction: NeRF's")
    for name in ("depth", "width", "head_width"):
      check_range(f"config.model.{name}", getattr(self, name), 1, what="a count")
    for name in ("num_frequencies", "direction_frequencies", "head_depth"):
      check_range(f"config.model.{name}", getattr(self, name), 0, what="a count")


@dataclasses.dataclass
class SamplerConfig:
  """AutoInt's sampling network: where a ray's K sections go."""
  num_sections: int = knob(8, "K: sections of the sampling network (the N of training).")
  learned: bool = knob(True, "False: evenly spaced posts, no sampling network.")
  depth: int = knob(3, "Hidden layers of the sampling network.")
  width: int = knob(64, "Its hidden width.")
  num_frequencies: int = knob(5, "Positional-encoding octaves of its input.")
  input: str = knob("ray", "What it sees: ray (origin and direction, the paper's) or line (the "
                    "ray's line only, so every camera on one line gets the same posts; needs a "
                    "scene box or an NDC scene, where [near, far] is the line's own).")
  min_section: float = knob(0.05, "No section is shorter than min_section / K of [near, far].")

  def __post_init__(self):
    check_range("config.sampler.num_sections", self.num_sections, 1, what="a count")
    check_range("config.sampler.depth", self.depth, 0, what="a count")
    check_range("config.sampler.width", self.width, 1, what="a count")
    check_range("config.sampler.num_frequencies", self.num_frequencies, 0, what="a count")
    check_choice("config.sampler.input", self.input, SAMPLER_INPUTS,
                 "ray: origin and direction, the paper's; line: the ray's line only")
    check_range("config.sampler.min_section", self.min_section, 0.0, 1.0, "a fraction")


@dataclasses.dataclass
class LossConfig:
  """How AutoInt's training renders a batch."""
  section_means: str = knob("sampled", "sampled (the paper: the grad networks' mean over M "
                            "stratified samples of each section) or exact ((Phi(tau_i) - "
                            "Phi(tau_i-1)) / dtau of the integral networks at the K + 1 posts, "
                            "as rendering computes them: the same loss as M -> infinity).")
  samples_per_section: int = knob(4, "M: grad-network samples a section (sampled means).")
  post_jitter: float = knob(0.0, "Exact means: every interior post of a training ray moves at "
                            "random by up to +-post_jitter / 2 of its shorter section (at most "
                            "1), so Phi is fitted between the posts too.")
  exact_scales: int = knob(1, "Exact means: the loss averages the renders at K, 2K, ..., "
                           "2^(S-1) K sections from Phi at the finest render's posts (1: K).")

  def __post_init__(self):
    check_choice("config.loss.section_means", self.section_means, SECTION_MEANS,
                 "sampled: the paper's grad-network samples; exact: the integral networks' "
                 "differences at the posts")
    check_range("config.loss.samples_per_section", self.samples_per_section, 1, what="a count")
    check_range("config.loss.post_jitter", self.post_jitter, 0.0, 1.0,
                "a fraction of the shorter neighbouring section (more would let posts cross),")
    check_range("config.loss.exact_scales", self.exact_scales, 1, what="a count of scales")
    if self.section_means != "exact" and (self.post_jitter or self.exact_scales > 1):
      raise ValueError(
          f"--config.loss.post_jitter={self.post_jitter} / --config.loss.exact_scales="
          f"{self.exact_scales} act on exact section means; with --config.loss.section_means="
          f"{self.section_means} the grad networks' samples already cover each section: add "
          "--config.loss.section_means=exact or leave them at 0 and 1.")


@dataclasses.dataclass
class QuadratureConfig:
  """The NeRF-style baseline's samples a ray."""
  num_coarse: int = knob(64, "Stratified samples of the coarse pass.")
  num_fine: int = knob(128, "Importance samples of the fine pass (0: coarse only).")

  def __post_init__(self):
    check_range("config.quadrature.num_coarse", self.num_coarse, 1, what="a count")
    check_range("config.quadrature.num_fine", self.num_fine, 0, what="a count")


def radiance_field(model, name, dtype):
  """The density and colour networks of `model` (a ModelConfig) as one layer: dict of "t",
  "origin", "direction" -> [..., 4] (sigma, then colour), with a `jvp` beside `call`."""
  if model.shared_trunk:
    return fields.RadianceField(model.num_frequencies, model.direction_frequencies, model.depth,
                                model.width, model.activation, head_depth=model.head_depth,
                                head_width=model.head_width, orientation=model.color_orientation,
                                dtype=dtype, name=name)
  return fields.TwoNetworkRadianceField(
      model.num_frequencies, model.direction_frequencies, model.depth, model.width,
      model.activation, view_consistent_sigma=model.view_consistent_sigma,
      orientation=model.color_orientation, dtype=dtype, name=name)


def line_coordinates(rays_o, rays_d):
  """(p, u) [..., 3] each: the oriented line of the rays o + t d, as its point p closest to the
  world origin and its unit direction u. Every ray on one line, whatever its origin on it and
  the length of its d, has the same (p, u); p = u x (o x u), from the line's Plucker moment."""
  u = rays_d / tf.norm(rays_d, axis=-1, keepdims=True)
  return rays_o - tf.reduce_sum(rays_o * u, -1, keepdims=True) * u, u


class SamplingNetwork(keras.layers.Layer):
  """The sampling network: PE(o, d) -> ReLU MLP -> K section fractions of [near, far] per ray.

  A plain field (`fields.EncodedMLP`), not integrated. Lengths |out + 1/K| are renormalized to
  sum 1 and floored at `min_section` / K.

  With `config.input="line"` it sees the ray's line instead (`line_coordinates`): every camera
  looking along one line gets the same fractions, which is right where [near, far] is the
  line's own (cut to the scene's box, or NDC's 0 to 1). The paper's (o, d) must learn that
  from the training cameras, and between them it places posts worse on a new camera.

  Args:
    config: a `SamplerConfig`.

  Call arguments:
    rays_o, rays_d: [B, 3].

  Returns:
    [B, K] fractions (positive, sum 1).
  """

  def __init__(self, config=SamplerConfig(), **kwargs):
    kwargs.setdefault("autocast", False)  # the rays reach the network's encoding in float32
    super().__init__(**kwargs)
    self.num_sections, self.min_section = config.num_sections, config.min_section
    self.line = config.input == "line"
    self.net = fields.EncodedMLP(
        ("o", "d"), output_dim=config.num_sections, depth=config.depth, width=config.width,
        activation="relu", num_frequencies=config.num_frequencies, dtype=self.dtype_policy,
        name="mlp")

  def call(self, rays_o, rays_d):
    k = self.num_sections
    if self.line:
      rays_o, rays_d = line_coordinates(rays_o, rays_d)
    lengths = tf.abs(tf.cast(self.net({"o": rays_o, "d": rays_d}), tf.float32) + 1.0 / k)
    lengths = lengths / tf.reduce_sum(lengths, -1, keepdims=True)
    floor = self.min_section / k
    return (lengths + floor) / (1.0 + k * floor)


def _probe_rays():
  """One ray, enough to create every weight of a renderer."""
  return {"rays_o": tf.zeros([1, 3]), "rays_d": tf.constant([[0.0, 0.0, -1.0]]),
          "near": tf.ones([1]), "far": tf.ones([1]) * 2}


class Renderer(keras.Model):
  """What both renderers share: the field, the background and the colour loss of a batch.

  Subclasses implement `render(rays, num_sections)`, `batch_noise(batch_size, seed)`,
  `training_outputs(batch)` (a list of renders with rgb and opacity) and
  `evaluations_per_ray(num_sections)`; `average_renders` says whether `per_ray_loss` averages
  the squared errors of those renders (AutoInt's scales) or adds them (NeRF's coarse + fine).
  """
  average_renders = True
  renders_at_sections = True   # render(rays, N) depends on N (AutoInt's posts)

  def __init__(self, model=ModelConfig(), background=(0.0, 0.0, 0.0), **kwargs):
    super().__init__(**kwargs)
    self.model_config = model
    self.background = tf.constant(background, tf.float32)
    self.phi = radiance_field(model, "phi", self.dtype_policy)

  def build_all(self):
    """Creates every weight (one render and one training render of a ray)."""
    rays = _probe_rays()
    self.render(rays, 2)
    self.training_outputs({**rays, **self.batch_noise(1, tf.constant([0, 0], tf.int64))})
    self.built = True
    return self

  def per_ray_loss(self, batch):
    """Squared colour error per ray [B] of the training renders of `batch` (with rgb [B, 3]),
    on the batch's own background colours when it carries them (`background` [B, 3]).

    With `background_variance` [B] (and the pixels' `alpha` [B]) the error is its expectation
    over background colours of that mean and variance per channel: the error on the mean
    colour plus variance x (opacity - alpha)^2 (the colour error on background B is
    (c - c') + (alpha - opacity) B, c premultiplied)."""
    terms = []
    for out in self.training_outputs(batch):
      rgb = out["rgb"]
      if "background" in batch:
        rgb = rendering.recomposite(rgb, out["opacity"], self.background, batch["background"])
      term = tf.reduce_mean(tf.square(rgb - batch["rgb"]), -1)
      if "background_variance" in batch:
        term += batch["background_variance"] * tf.square(out["opacity"] - batch["alpha"])
      terms.append(term)
    total = tf.add_n(terms)
    return total / len(terms) if self.average_renders else total

  def rgb_mse(self, loss):
    """The mean squared colour error of one render, from the mean of `per_ray_loss`."""
    return loss if self.average_renders else loss / self.loss_renders

  def _composite(self, rays, t_mid, sigma, color, delta_t, portable=False):
    delta = delta_t * tf.norm(rays["rays_d"], axis=-1, keepdims=True)
    rgb, depth, opacity, weights = rendering.composite(
        rendering.empty_outside_box(rays, sigma), color, delta, t_mid, self.background, portable)
    depth = rendering.callers_depth(rays, depth, opacity)
    return {"rgb": rgb, "depth": depth, "opacity": opacity, "weights": weights}


class AutoIntRenderer(Renderer):
  """sigma and colour integral networks + sampling network; renders with N + 1 evaluations.

  Every sub-network takes the renderer's dtype policy (`dtype=`, else Keras' global one).
  Under `mixed_bfloat16` the grad networks and the sampling network train in bfloat16 (float32
  variables); `render` evaluates everything in float32 (`fields.full_precision`) and all
  compositing is float32.

  Args:
    model: a `ModelConfig`; sampler: a `SamplerConfig`; loss: a `LossConfig`.
    background: RGB the rays end on.
  """

  def __init__(self, model=ModelConfig(), sampler=SamplerConfig(), loss=LossConfig(),
               background=(0.0, 0.0, 0.0), **kwargs):
    super().__init__(model, background, **kwargs)
    self.sampler_config, self.loss_config = sampler, loss
    self.grad = grad_net.GradNetwork(self.phi, name="grad", validate=False)
    self.sampler = (SamplingNetwork(sampler, dtype=self.dtype_policy, name="sampler")
                    if sampler.learned else None)

  def integrals(self, inputs):
    """(Phi_sigma [...], Phi_color [..., 3]): the integral networks at point-network inputs."""
    with fields.full_precision():
      phi = tf.cast(self.phi(inputs), tf.float32)
    return phi[..., 0], phi[..., 1:]

  def integrands(self, inputs):
    """(f_sigma [...], f_color [..., 3]): the grad networks at point-network inputs."""
    f = tf.cast(self.grad(inputs), tf.float32)
    return f[..., 0], f[..., 1:]

  def section_fractions(self, rays_o, rays_d):
    """[B, K] fractions of [near, far] per section (sum 1)."""
    if self.sampler is None:
      k = self.sampler_config.num_sections
      return tf.fill([tf.shape(rays_o)[0], k], 1.0 / k)
    return self.sampler(rays_o, rays_d)

  def posts(self, rays, num_sections):
    """[B, N + 1] section posts from near to far (N = num_sections, any positive int)."""
    near, far = rays["near"][:, None], rays["far"][:, None]
    frac = self.section_fractions(rays["rays_o"], rays["rays_d"])
    k = self.sampler_config.num_sections
    cdf = tf.concat([tf.zeros_like(frac[:, :1]), tf.cumsum(frac, -1)], -1)  # [B, K + 1]
    if num_sections != k:
      # Piecewise-linear in the section index: u in [0, K] at N + 1 evenly spaced places.
      u = tf.linspace(0.0, float(k), num_sections + 1)
      lo = tf.minimum(tf.cast(tf.floor(u), tf.int32), k - 1)
      w = u - tf.cast(lo, u.dtype)
      cdf = (1 - w) * tf.gather(cdf, lo, axis=-1) + w * tf.gather(cdf, lo + 1, axis=-1)
    return near + (far - near) * cdf

  def render(self, rays, num_sections, portable=False):
    """AutoInt rendering: N + 1 evaluations of the integral networks a ray.

    Returns a dict with rgb [B, 3], depth [B], opacity [B], posts [B, N + 1] and weights
    [B, N]. `portable`: compositing with TFLite built-in ops only (`rendering.composite`).
    """
    return self.exact_renders(rays, num_sections, 1, portable=portable)[0]

  def exact_renders(self, rays, num_sections, scales, post_noise=None, portable=False):
    """Renders at N, 2N, ..., 2^(S-1) N sections (S = scales), coarse to fine, from one
    evaluation of the integral networks at the finest render's 2^(S-1) N + 1 posts.

    The coarser renders take every 2nd, 4th, ... of those posts: the sampling network's posts
    nest (`posts` halves each section when N doubles), so each is what `render` gives at its N.
    `post_noise`: None or u [B, 2^(S-1) N - 1] in [0, 1), moving the finest posts by the loss's
    `post_jitter` (`rendering.jitter_posts`; a coarse post moves with the fine post it is).
    """
    finest = num_sections * 2 ** (scales - 1)
    with fields.full_precision():  # (the sampler too: a served render is float32 throughout)
      posts = self.posts(rays, finest)
      if post_noise is not None:
        posts = rendering.jitter_posts(posts, post_noise, self.loss_config.post_jitter)
      inputs = rays_lib.broadcast_rays(rays["rays_o"], rays["rays_d"], posts)
      phi_s, phi_c = self.integrals(inputs)                # [B, N + 1], [B, N + 1, 3]
    outs = []
    for scale in range(scales):
      every = 2 ** (scales - 1 - scale)
      p, s, c = posts[:, ::every], phi_s[:, ::every], phi_c[:, ::every]
      # A section of zero length (a ray that only grazes the box: near = far in float32) has
      # equal posts, so Phi(b) - Phi(a) = 0 exactly: 0 / tiny = 0 instead of 0 / 0 = NaN (and
      # its alpha is 0 whatever its mean).
      dtau = tf.maximum(p[:, 1:] - p[:, :-1], 1e-20)
      sigma = tf.nn.relu((s[:, 1:] - s[:, :-1]) / dtau)
      color = tf.sigmoid((c[:, 1:] - c[:, :-1]) / dtau[..., None])
      outs.append(dict(self._composite_posts(rays, p, sigma, color, portable), posts=p))
    return outs

  def sampled_render(self, rays, strata):
    """The paper's training render: grad networks at M stratified samples in each of the K
    sections. strata: [B, K, M] uniform [0, 1) offsets (zeros: the left end of each stratum);
    its last dimension sets M."""
    m = strata.shape[-1]
    posts = self.posts(rays, self.sampler_config.num_sections)
    dtau = posts[:, 1:] - posts[:, :-1]
    u = (tf.range(m, dtype=tf.float32) + strata) / m       # [B, K, M]
    t = posts[:, :-1, None] + dtau[..., None] * u
    inputs = rays_lib.broadcast_rays(rays["rays_o"], rays["rays_d"], t)
    f_s, f_c = self.integrands(inputs)                     # [B, K, M], [B, K, M, 3]
    sigma = tf.nn.relu(tf.reduce_mean(f_s, -1))
    color = tf.sigmoid(tf.reduce_mean(f_c, -2))
    return self._composite_posts(rays, posts, sigma, color)

  def _composite_posts(self, rays, posts, sigma, color, portable=False):
    t_mid = 0.5 * (posts[:, 1:] + posts[:, :-1])
    return self._composite(rays, t_mid, sigma, color, posts[:, 1:] - posts[:, :-1], portable)

  def batch_noise(self, batch_size, seed):
    """The random numbers of a training batch: strata [B, K, M] (sampled means) or, with
    post_jitter, post_noise [B, 2^(S-1) K - 1] (exact means); a pure function of `seed`."""
    loss, k = self.loss_config, self.sampler_config.num_sections
    if loss.section_means == "sampled":
      return {"strata": tf.random.stateless_uniform(
          [batch_size, k, loss.samples_per_section], seed)}
    if loss.post_jitter:
      return {"post_noise": tf.random.stateless_uniform(
          [batch_size, k * 2 ** (loss.exact_scales - 1) - 1], seed)}
    return {}

  def training_outputs(self, batch):
    """The training renders of a batch of rays with its `batch_noise`: one sampled-means
    render at K, or the exact renders at K, ..., 2^(S-1) K."""
    if self.loss_config.section_means == "sampled":
      return [self.sampled_render(batch, batch["strata"])]
    return self.exact_renders(batch, self.sampler_config.num_sections,
                              self.loss_config.exact_scales, batch.get("post_noise"))

  def evaluations_per_ray(self, num_sections):
    """Network evaluations a ray at render time: N + 1 posts x 2 networks + the sampler."""
    return 2 * (num_sections + 1) + (1 if self.sampler is not None else 0)


class QuadratureRenderer(Renderer):
  """NeRF-style baseline: the same field read as values at points, with `num_coarse`
  stratified + `num_fine` importance samples (one network for both passes).

  Args:
    model: a `ModelConfig`; quadrature: a `QuadratureConfig`; background: RGB.
  """
  average_renders = False  # NeRF's loss adds the coarse and the fine render's errors
  loss_renders = 2
  renders_at_sections = False

  def __init__(self, model=ModelConfig(), quadrature=QuadratureConfig(),
               background=(0.0, 0.0, 0.0), **kwargs):
    super().__init__(model, background, **kwargs)
    self.num_coarse, self.num_fine = quadrature.num_coarse, quadrature.num_fine

  def _render_at(self, rays, t):
    """Quadrature with samples t [B, S] (sorted): each sample stands for the interval to the
    next one, and the last for the interval to `far` (NeRF instead gives it a length of 1e10,
    so that anything behind the last sample is opaque; here the ray ends at far and the
    background shows through)."""
    out = tf.cast(self.phi(rays_lib.broadcast_rays(rays["rays_o"], rays["rays_d"], t)),
                  tf.float32)
    sigma, color = tf.nn.relu(out[..., 0]), tf.sigmoid(out[..., 1:])
    delta_t = tf.concat([t[:, 1:] - t[:, :-1], rays["far"][:, None] - t[:, -1:]], -1)
    return self._composite(rays, t, sigma, color, delta_t)

  def render(self, rays, num_sections=None, noise=None):
    """Coarse + fine render (`num_sections` is AutoInt's and is ignored). `noise`: a batch's
    {coarse_jitter [B, C], fine_uniform [B, F]} for training, else midpoints. Returns rgb,
    depth, opacity, weights (of the fine pass) and coarse_rgb, coarse_opacity."""
    del num_sections
    near, far = rays["near"][:, None], rays["far"][:, None]
    c, f = self.num_coarse, self.num_fine
    batch = tf.shape(rays["near"])[0]
    if noise is None:
      jitter = tf.fill([batch, c], 0.5)
      u = tf.broadcast_to((tf.range(f, dtype=tf.float32) + 0.5) / f, [batch, f])
    else:
      jitter, u = noise["coarse_jitter"], noise["fine_uniform"]
    bins = near + (far - near) * tf.linspace(0.0, 1.0, c + 1)[None]      # [B, C + 1]
    t_coarse = bins[:, :-1] + (bins[:, 1:] - bins[:, :-1]) * jitter
    coarse = self._render_at(rays, t_coarse)
    first = {"coarse_rgb": coarse["rgb"], "coarse_opacity": coarse["opacity"]}
    if f == 0:
      return {**coarse, **first}
    t_fine = rendering.sample_pdf(bins, tf.stop_gradient(coarse["weights"]), u)
    t_all = tf.sort(tf.concat([t_coarse, tf.stop_gradient(t_fine)], -1), -1)
    return {**self._render_at(rays, t_all), **first}

  def batch_noise(self, batch_size, seed):
    """coarse_jitter [B, C] and fine_uniform [B, F] of a training batch."""
    return {"coarse_jitter": tf.random.stateless_uniform([batch_size, self.num_coarse], seed),
            "fine_uniform": tf.random.stateless_uniform([batch_size, self.num_fine], seed + 1)}

  def training_outputs(self, batch):
    """The fine and the coarse render of a batch (NeRF trains both)."""
    out = self.render(batch, noise=batch)
    return [out, {"rgb": out["coarse_rgb"], "opacity": out["coarse_opacity"]}]

  def evaluations_per_ray(self, num_sections=None):
    del num_sections
    return 2 * (self.num_coarse + (self.num_coarse + self.num_fine if self.num_fine else 0))
