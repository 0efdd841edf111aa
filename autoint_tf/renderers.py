"""Volume renderers (AutoInt, Sec. 4.3): integral networks, sampling network, compositing.

Notation (Lindell et al., CVPR 2021, Sec. 4.3 and Eqs. 7-9; docs/method.md): a ray
r(t) = o + t d, d unnormalized, t in [near, far].
  Posts tau_0 = near < ... < tau_N = far cut it into N sections; in section i
    sigma_i = relu((Phi_s(tau_i) - Phi_s(tau_{i-1})) / dtau_i),
    c_i     = sigmoid((Phi_c(tau_i) - Phi_c(tau_{i-1})) / dtau_i),
    delta_i = |d| dtau_i,  compositing as NeRF (tensorflow-graphics `compute_radiance`).
  Rendering: N + 1 evaluations of each integral network per ray (`render`).
  Training: the grad networks dPhi/dt at M stratified samples inside each section, section means
    before the activations (`render_training`); gradients reach the sampling network through the
    sample positions and delta. As M grows these means tend to the exact ones of `render` at
    N = K, which a training loss can also use directly (radiance `section_means="exact"`: K + 1
    plain evaluations a ray instead of K M forward-mode ones, and no sampling noise; with
    `exact_scales` S, the renders at K, 2K, ..., 2^(S-1) K from one evaluation at the finest
    render's posts, `render_scales`).
  Sampling network (`SamplingNetwork`, a plain field, not integrated): PE(o, d) -> ReLU MLP ->
    K section lengths |out + 1/K|, renormalized, floored at `min_section` / K. Posts for any N: piecewise-linear in the section index (N = K gives
    the K sections; N = 2K halves each; N = K / 2 merges pairs).
  Baseline (`QuadratureRenderer`): the same network architecture used as plain fields
    (`fields.PointField`: sigma = relu(net), c = sigmoid(net) at points), NeRF quadrature with
    64 stratified + 128 importance samples.
Shapes: B rays; rays_o, rays_d [B, 3]; near, far [B]. K: sections of the sampling network
(training); N: sections at render time (any positive int); M: samples a section in training;
L: positional-encoding octaves.
"""

import dataclasses

import keras
import tensorflow as tf
from tensorflow_graphics.rendering.volumetric import ray_radiance

from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import rays as rays_lib


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  depth: int = 4                      # hidden layers of the sigma and colour networks
  width: int = 128
  activation: str = "swish"
  num_frequencies: int = 10           # L: PE octaves of the point x = o + t d
  direction_frequencies: int = 4      # PE octaves of the 6-D ray orientation (o, d)
  view_consistent_sigma: bool = False  # sigma's network sees only the point
  color_orientation: str = "ray"      # what the colour network sees besides the point: "ray"
                                      # (origin and direction: the paper's 6-D orientation) or
                                      # "direction" (NeRF's: no camera position to tell views by)
  shared_trunk: bool = False          # one trunk for sigma and colour (fields.RadianceField):
                                      # one forward-mode pass, sigma from the point only
  head_depth: int = 1                 # shared trunk: hidden layers of the colour head
  head_width: int = 64                # shared trunk: width of the colour head
  num_sections: int = 8               # K: sections of the sampling network (training N)
  samples_per_section: int = 4        # M: grad-network samples a section in training
  learned_sampling: bool = True       # False: evenly spaced posts
  sampler_depth: int = 3
  sampler_width: int = 64
  sampler_frequencies: int = 5
  sampler_input: str = "ray"          # what the sampling network sees: "ray" (o and d, the
                                      # paper's) or "line" (the ray's line only: line_coordinates)
  min_section: float = 0.05           # no section shorter than min_section / K of [near, far]


MODEL_PRESETS = {
    "paper": ModelConfig(depth=8, width=256, num_sections=32, sampler_depth=5, sampler_width=256),
    # The CPU recipe (BENCHMARKS.md, benchmarks.radiance_recipe): 6 octaves of the point, the
    # raw ray orientation (no PE) into the colour head (and, by default, radiance.Config's
    # shared trunk).
    "tiny": ModelConfig(num_frequencies=6, direction_frequencies=0),
}


def composite(sigma, color, delta, t_mid, background, portable=False):
  """NeRF compositing of N sections: sigma [..., N], color [..., N, 3], delta [..., N] (metric
  lengths), t_mid [..., N] -> (rgb [..., 3], depth [...], opacity [...], weights [..., N]).

  tensorflow-graphics' `compute_radiance` does it with a cumulative product, which TFLite's
  built-in ops lack; `portable` computes the same transmittance as the exponential of an
  exclusive cumulative sum of log(1 - alpha + 1e-10) (equal up to float rounding).
  """
  if portable:
    alpha = 1.0 - tf.exp(-sigma * delta)
    log_t = tf.math.cumsum(tf.math.log(1.0 - alpha + 1e-10), -1, exclusive=True)
    weights = alpha * tf.exp(log_t)
    rgb = tf.reduce_sum(weights[..., None] * color, -2)
    opacity = tf.reduce_sum(weights, -1)
  else:
    rgba = tf.concat([color, sigma[..., None]], -1)
    rgb, alpha, weights = ray_radiance.compute_radiance(rgba, delta)
    opacity = alpha[..., 0]
  rgb = rgb + (1.0 - opacity)[..., None] * tf.cast(background, rgb.dtype)
  depth = tf.reduce_sum(weights * t_mid, -1)
  return rgb, depth, opacity, weights


def empty_outside_box(rays, sigma):
  """sigma [B, N], zero on the rays that miss the scene's box (`inside` 0, rays.scene_rays):
  nothing is outside the box, so those rays show the background (and train nothing)."""
  if "inside" not in rays:
    return sigma
  return sigma * tf.cast(rays["inside"], sigma.dtype)[:, None]


def recomposite(rgb, opacity, background, new_background):
  """rgb [..., 3] composited on `background` -> the same render on `new_background` [..., 3]
  (per ray or one colour): what shows through the ray's transparency (1 - opacity) changes."""
  return rgb + (1.0 - opacity)[..., None] * (new_background - tf.cast(background, rgb.dtype))


COLOR_ORIENTATIONS = ("ray", "direction")
SAMPLER_INPUTS = ("ray", "line")


def _radiance_field(config, name, dtype):
  return fields.RadianceField(config.num_frequencies, config.direction_frequencies, config.depth,
                              config.width, config.activation, head_depth=config.head_depth,
                              head_width=config.head_width,
                              orientation=config.color_orientation, dtype=dtype, name=name)


def _point_network(config, output_dim, orientation, name, dtype,
                   cls=fields.PointIntegralNetwork):
  return cls(
      num_frequencies=config.num_frequencies,
      direction_frequencies=config.direction_frequencies, depth=config.depth,
      width=config.width, activation=config.activation, output_dim=output_dim,
      orientation=orientation, dtype=dtype, name=name)


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

  With `config.sampler_input="line"` it sees the ray's line instead (`line_coordinates`): every
  camera looking along one line gets the same fractions, which is right where [near, far] is
  the line's own (cut to the scene's box, or NDC's 0 to 1). The paper's (o, d) must learn that
  from the training cameras; between them it places posts worse on a new camera (BENCHMARKS.md,
  "where the sampling network puts its posts").

  Call arguments:
    rays_o, rays_d: [B, 3].

  Returns:
    [B, K] fractions (positive, sum 1).
  """

  def __init__(self, config=ModelConfig(), **kwargs):
    kwargs.setdefault("autocast", False)  # the rays reach the network's encoding in float32
    super().__init__(**kwargs)
    self.num_sections, self.min_section = config.num_sections, config.min_section
    if config.sampler_input not in SAMPLER_INPUTS:
      raise ValueError(f"sampler_input={config.sampler_input!r}: choose one of "
                       f"{', '.join(SAMPLER_INPUTS)} (ray: origin and direction, the paper's; "
                       "line: the ray's line only).")
    self.line = config.sampler_input == "line"
    self.net = fields.EncodedMLP(
        ("o", "d"), output_dim=config.num_sections, depth=config.sampler_depth,
        width=config.sampler_width, activation="relu", num_frequencies=config.sampler_frequencies,
        dtype=self.dtype_policy, name="mlp")

  def call(self, rays_o, rays_d):
    k = self.num_sections
    if self.line:
      rays_o, rays_d = line_coordinates(rays_o, rays_d)
    lengths = tf.abs(tf.cast(self.net({"o": rays_o, "d": rays_d}), tf.float32) + 1.0 / k)
    lengths = lengths / tf.reduce_sum(lengths, -1, keepdims=True)
    floor = self.min_section / k
    return (lengths + floor) / (1.0 + k * floor)


def jitter_posts(posts, u, spread):
  """posts [B, N + 1] with each interior post i moved by (u_i - 1/2) * spread * the shorter of
  its two sections; u [B, N - 1] in [0, 1). The ends stay; spread <= 1 keeps the posts in
  order (two neighbours move towards each other by at most half their section each)."""
  dtau = posts[:, 1:] - posts[:, :-1]
  room = tf.minimum(dtau[:, :-1], dtau[:, 1:])
  inner = posts[:, 1:-1] + (tf.cast(u, posts.dtype) - 0.5) * spread * room
  return tf.concat([posts[:, :1], inner, posts[:, -1:]], -1)


class AutoIntRenderer(keras.Model):
  """sigma and colour integral networks + sampling network; renders with N + 1 evaluations.

  Every sub-network takes the renderer's dtype policy (`dtype=`, else Keras' global one).
  Under `mixed_bfloat16` the grad networks and the sampling network train in bfloat16 (float32
  variables); `render` evaluates everything in float32 (`fields.full_precision`) and all
  compositing is float32."""

  def __init__(self, config=ModelConfig(), background=(0.0, 0.0, 0.0), **kwargs):
    super().__init__(**kwargs)
    fields.check_activation(config.activation)
    self.config = config
    self.background = tf.constant(background, tf.float32)
    policy = self.dtype_policy
    if config.shared_trunk:
      self.phi = _radiance_field(config, "phi", policy)
      self.grad = grad_net.GradNetwork(self.phi, name="grad", validate=False)
    else:
      self.phi_sigma = _point_network(
          config, 1, "none" if config.view_consistent_sigma else "ray", "phi_sigma", policy)
      self.phi_color = _point_network(config, 3, config.color_orientation, "phi_color", policy)
      self.grad_sigma = grad_net.GradNetwork(self.phi_sigma, name="grad_sigma", validate=False)
      self.grad_color = grad_net.GradNetwork(self.phi_color, name="grad_color", validate=False)
    self.sampler = (SamplingNetwork(config, dtype=policy, name="sampler")
                    if config.learned_sampling else None)

  def integrals(self, inputs):
    """(Phi_sigma [...], Phi_color [..., 3]): the integral networks at point-network inputs."""
    with fields.full_precision():
      if self.config.shared_trunk:
        phi = tf.cast(self.phi(inputs), tf.float32)
        return phi[..., 0], phi[..., 1:]
      return (tf.cast(self.phi_sigma(inputs)[..., 0], tf.float32),
              tf.cast(self.phi_color(inputs), tf.float32))

  def integrands(self, inputs):
    """(f_sigma [...], f_color [..., 3]): the grad networks at point-network inputs."""
    if self.config.shared_trunk:
      f = tf.cast(self.grad(inputs), tf.float32)
      return f[..., 0], f[..., 1:]
    return (tf.cast(self.grad_sigma(inputs)[..., 0], tf.float32),
            tf.cast(self.grad_color(inputs), tf.float32))

  def build_all(self):
    """Creates every weight (a tiny forward and training render)."""
    rays = {"rays_o": tf.zeros([1, 3]), "rays_d": tf.constant([[0.0, 0.0, -1.0]]),
            "near": tf.ones([1]), "far": tf.ones([1]) * 2}
    self.render(rays, 2)
    self.render_training(rays, tf.zeros([1, self.config.num_sections,
                                         self.config.samples_per_section]))
    self.built = True
    return self

  def section_fractions(self, rays_o, rays_d):
    """[B, K] fractions of [near, far] per section (sum 1)."""
    if self.sampler is None:
      k = self.config.num_sections
      return tf.fill([tf.shape(rays_o)[0], k], 1.0 / k)
    return self.sampler(rays_o, rays_d)

  def posts(self, rays, num_sections):
    """[B, N + 1] section posts from near to far (N = num_sections, any positive int)."""
    near, far = rays["near"][:, None], rays["far"][:, None]
    frac = self.section_fractions(rays["rays_o"], rays["rays_d"])
    k = self.config.num_sections
    cdf = tf.concat([tf.zeros_like(frac[:, :1]), tf.cumsum(frac, -1)], -1)  # [B, K + 1]
    if num_sections != k:
      # Piecewise-linear in the section index: u in [0, K] at N + 1 evenly spaced places.
      u = tf.linspace(0.0, float(k), num_sections + 1)
      lo = tf.minimum(tf.cast(tf.floor(u), tf.int32), k - 1)
      w = u - tf.cast(lo, u.dtype)
      cdf = (1 - w) * tf.gather(cdf, lo, axis=-1) + w * tf.gather(cdf, lo + 1, axis=-1)
    return near + (far - near) * cdf

  def render(self, rays, num_sections, return_weights=False, portable=False, post_jitter=None):
    """AutoInt rendering: N + 1 evaluations of each integral network a ray.

    Returns a dict with rgb [B, 3], depth [B], opacity [B] (and posts, weights). `portable`:
    compositing with TFLite built-in ops only (see `composite`). `post_jitter`: None, or
    (u [B, N - 1], spread) to train on exact section means at randomly moved posts
    (`jitter_posts`).
    """
    return self.render_scales(rays, num_sections, 1, post_jitter, return_weights, portable)[0]

  def render_scales(self, rays, num_sections, scales, post_jitter=None, return_weights=False,
                    portable=False, sampler_gradient=True):
    """Renders at N, 2N, ..., 2^(S-1) N sections (S = scales), coarse to fine, from one
    evaluation of the integral networks at the finest render's 2^(S-1) N + 1 posts.

    The coarser renders take every 2nd, 4th, ... of those posts: the sampling network's posts
    nest (`posts` halves each section when N doubles), so each is what `render` gives at its N.
    `post_jitter`: None or (u [B, 2^(S-1) N - 1], spread), moving the finest posts (a coarse
    post moves with the fine post it is). `sampler_gradient`: False stops the gradient of the
    renders at the posts (the sampling network then learns from a loss of its own).
    """
    finest = num_sections * 2 ** (scales - 1)
    with fields.full_precision():  # (the sampler too: a served render is float32 throughout)
      posts = self.posts(rays, finest)
      if not sampler_gradient:
        posts = tf.stop_gradient(posts)
      if post_jitter is not None:
        posts = jitter_posts(posts, *post_jitter)
      inputs = rays_lib.broadcast_rays(rays["rays_o"], rays["rays_d"], posts)
      phi_s, phi_c = self.integrals(inputs)                # [B, N + 1], [B, N + 1, 3]
    outs = []
    for scale in range(scales):
      every = 2 ** (scales - 1 - scale)
      pick = (lambda x: x[:, ::every]) if every > 1 else (lambda x: x)
      outs.append(self._render_posts(rays, pick(posts), pick(phi_s), pick(phi_c),
                                     return_weights, portable))
    return outs

  def render_at_posts(self, rays, posts):
    """The render (rgb, depth, opacity) with the sections between given posts [B, N + 1] from
    near to far, instead of the sampling network's."""
    with fields.full_precision():
      inputs = rays_lib.broadcast_rays(rays["rays_o"], rays["rays_d"], posts)
      phi_s, phi_c = self.integrals(inputs)
    return self._render_posts(rays, posts, phi_s, phi_c, False, False)

  def _render_posts(self, rays, posts, phi_s, phi_c, return_weights, portable):
    """Section means from the integral networks at the posts [B, N + 1], composited."""
    # A section of zero length (a ray that only grazes the box: near = far in float32) has
    # equal posts, so Phi(b) - Phi(a) = 0 exactly: 0 / tiny = 0 instead of 0 / 0 = NaN (and
    # its alpha is 0 whatever its mean).
    dtau = tf.maximum(posts[:, 1:] - posts[:, :-1], 1e-20)
    sigma = tf.nn.relu((phi_s[:, 1:] - phi_s[:, :-1]) / dtau)
    color = tf.sigmoid((phi_c[:, 1:] - phi_c[:, :-1]) / dtau[..., None])
    return self._composite(rays, posts, sigma, color, return_weights, portable)

  def render_training(self, rays, jitter):
    """Training rendering: grad networks at M stratified samples in each of the K sections.

    jitter: [B, K, M] uniform [0, 1) offsets (zeros: the left end of each stratum); its last
    dimension sets M.
    """
    m = jitter.shape[-1]
    posts = self.posts(rays, self.config.num_sections)
    dtau = posts[:, 1:] - posts[:, :-1]
    u = (tf.range(m, dtype=tf.float32) + jitter) / m       # [B, K, M]
    t = posts[:, :-1, None] + dtau[..., None] * u
    inputs = rays_lib.broadcast_rays(rays["rays_o"], rays["rays_d"], t)
    f_s, f_c = self.integrands(inputs)                     # [B, K, M], [B, K, M, 3]
    sigma = tf.nn.relu(tf.reduce_mean(f_s, -1))
    color = tf.sigmoid(tf.reduce_mean(f_c, -2))
    return self._composite(rays, posts, sigma, color, False)

  def _composite(self, rays, posts, sigma, color, return_weights, portable=False):
    dtau = posts[:, 1:] - posts[:, :-1]
    delta = dtau * tf.norm(rays["rays_d"], axis=-1, keepdims=True)
    t_mid = 0.5 * (posts[:, 1:] + posts[:, :-1])
    rgb, depth, opacity, weights = composite(empty_outside_box(rays, sigma), color, delta,
                                             t_mid, self.background, portable)
    out = {"rgb": rgb, "depth": depth, "opacity": opacity}
    if return_weights:
      out.update(posts=posts, weights=weights)
    return out

  def evaluations_per_ray(self, num_sections):
    """Network evaluations a ray at render time: N + 1 posts x 2 networks + the sampler."""
    return 2 * (num_sections + 1) + (1 if self.sampler is not None else 0)


def sample_pdf(bins, weights, num_samples, uniform):
  """Inverse-transform samples [B, S] of the piecewise-constant pdf `weights` [B, N] over
  `bins` [B, N + 1]; uniform: [B, S] numbers in [0, 1) (sorted or not)."""
  w = weights + 1e-5
  pdf = w / tf.reduce_sum(w, -1, keepdims=True)
  cdf = tf.concat([tf.zeros_like(pdf[:, :1]), tf.cumsum(pdf, -1)], -1)  # [B, N + 1]
  idx = tf.searchsorted(cdf, uniform, side="right")
  n = tf.shape(weights)[-1]
  below = tf.clip_by_value(idx - 1, 0, n - 1)
  above = tf.clip_by_value(idx, 1, n)
  cdf_lo, cdf_hi = tf.gather(cdf, below, batch_dims=1), tf.gather(cdf, above, batch_dims=1)
  bin_lo, bin_hi = tf.gather(bins, below, batch_dims=1), tf.gather(bins, above, batch_dims=1)
  frac = tf.math.divide_no_nan(uniform - cdf_lo, cdf_hi - cdf_lo)
  return bin_lo + tf.clip_by_value(frac, 0.0, 1.0) * (bin_hi - bin_lo)


def quantile_posts(posts, weights, num_sections, uniform):
  """[B, K + 1] posts (K = num_sections) from near to far that give each of K sections an equal
  share of a render's weights [B, N] over its posts [B, N + 1], mixed with the uniform density
  on [near, far] (a fraction `uniform` of the mass): the interior posts are the quantiles
  1/K, ..., (K - 1)/K of that piecewise-constant pdf. A ray with no weight gets evenly spaced
  posts. The sampling network's target with `sampler_loss="quantiles"`: its K sections close
  in on what the ray shows, and `uniform` keeps some of them on the rest of the ray.
  """
  length = posts[:, 1:] - posts[:, :-1]
  share = weights / (tf.reduce_sum(weights, -1, keepdims=True) + 1e-10)
  pdf = (1.0 - uniform) * share + uniform * length / tf.reduce_sum(length, -1, keepdims=True)
  k = num_sections
  u = tf.broadcast_to(tf.linspace(1.0 / k, 1.0 - 1.0 / k, k - 1)[None],
                      [tf.shape(posts)[0], k - 1])
  inner = sample_pdf(posts, pdf, k - 1, u)
  return tf.concat([posts[:, :1], inner, posts[:, -1:]], -1)


class QuadratureRenderer(keras.Model):
  """NeRF-style baseline: the same sigma/colour network architecture used as plain fields, with
  `num_coarse` stratified + `num_fine` importance samples (one network pair for both passes)."""

  def __init__(self, config=ModelConfig(), background=(0.0, 0.0, 0.0), num_coarse=64,
               num_fine=128, **kwargs):
    super().__init__(**kwargs)
    self.config = config
    self.background = tf.constant(background, tf.float32)
    self.num_coarse, self.num_fine = num_coarse, num_fine
    policy = self.dtype_policy
    if config.shared_trunk:
      self.net = _radiance_field(config, "net", policy)
    else:
      self.net_sigma = _point_network(
          config, 1, "none" if config.view_consistent_sigma else "ray", "net_sigma", policy,
          fields.PointField)
      self.net_color = _point_network(config, 3, config.color_orientation, "net_color", policy,
                                      fields.PointField)

  def build_all(self):
    rays = {"rays_o": tf.zeros([1, 3]), "rays_d": tf.constant([[0.0, 0.0, -1.0]]),
            "near": tf.ones([1]), "far": tf.ones([1]) * 2}
    self.render(rays)
    self.built = True
    return self

  def _fields(self, rays, t):
    inputs = rays_lib.broadcast_rays(rays["rays_o"], rays["rays_d"], t)
    # The field at the point x = o + t d: the network read as a value, not integrated.
    if self.config.shared_trunk:
      out = tf.cast(self.net(inputs), tf.float32)
      return tf.nn.relu(out[..., 0]), tf.sigmoid(out[..., 1:])
    return (tf.nn.relu(tf.cast(self.net_sigma(inputs)[..., 0], tf.float32)),
            tf.sigmoid(tf.cast(self.net_color(inputs), tf.float32)))

  def _render_at(self, rays, t):
    """Quadrature with samples t [B, S] (sorted): each sample stands for the interval to the
    next one, and the last for the interval to `far` (NeRF instead gives it a length of 1e10,
    so that anything behind the last sample is opaque; here the ray ends at far and the
    background shows through)."""
    sigma, color = self._fields(rays, t)
    delta_t = tf.concat([t[:, 1:] - t[:, :-1], rays["far"][:, None] - t[:, -1:]], -1)
    delta = delta_t * tf.norm(rays["rays_d"], axis=-1, keepdims=True)
    rgb, depth, opacity, weights = composite(empty_outside_box(rays, sigma), color, delta, t,
                                             self.background)
    return {"rgb": rgb, "depth": depth, "opacity": opacity}, weights

  def render(self, rays, uniform=None):
    """Coarse + fine render; `uniform` = (jitter [B, C], u [B, F]) for training, else midpoints."""
    near, far = rays["near"][:, None], rays["far"][:, None]
    c, f = self.num_coarse, self.num_fine
    batch = tf.shape(rays["near"])[0]
    jitter, u = (tf.fill([batch, c], 0.5), tf.broadcast_to(
        (tf.range(f, dtype=tf.float32) + 0.5) / f, [batch, f])) if uniform is None else uniform
    bins = near + (far - near) * tf.linspace(0.0, 1.0, c + 1)[None]      # [B, C + 1]
    t_coarse = bins[:, :-1] + (bins[:, 1:] - bins[:, :-1]) * jitter
    coarse, weights = self._render_at(rays, t_coarse)
    first = {"coarse_rgb": coarse["rgb"], "coarse_opacity": coarse["opacity"]}
    if f == 0:
      return {**coarse, **first}
    t_fine = sample_pdf(bins, tf.stop_gradient(weights), f, u)
    t_all = tf.sort(tf.concat([t_coarse, tf.stop_gradient(t_fine)], -1), -1)
    fine, _ = self._render_at(rays, t_all)
    return {**fine, **first}

  def evaluations_per_ray(self, num_sections=None):
    del num_sections
    return 2 * (self.num_coarse + (self.num_coarse + self.num_fine if self.num_fine else 0))
