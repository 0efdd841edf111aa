"""Volume-rendering numerics shared by the renderers and the reference scene: pure TF.

Notation (renderers.py; docs/method.md): B rays, N sections of a ray cut by posts
tau_0 < ... < tau_N; in section i a density sigma_i, a colour c_i and the metric length
delta_i = |d| (tau_i - tau_{i-1}); t_mid the sections' midpoints. Compositing is NeRF's
(tensorflow-graphics `compute_radiance`): alpha_i = 1 - exp(-sigma_i delta_i), weights
w_i = alpha_i prod_{j<i} (1 - alpha_j).
"""

import tensorflow as tf

from autoint_tf.graphics import ray_radiance


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


def callers_depth(rays, depth, opacity):
  """depth [B] of rays on a box's terms (`t_offset`, `t_scale`: rays.box_rays) in the
  caller's t (t = t_offset + t_scale t_box, weighted by opacity as depth is); else as it is."""
  if "t_offset" not in rays:
    return depth
  return (opacity * tf.cast(rays["t_offset"], depth.dtype) +
          depth * tf.cast(rays["t_scale"], depth.dtype))


def recomposite(rgb, opacity, background, new_background):
  """rgb [..., 3] composited on `background` -> the same render on `new_background` [..., 3]
  (per ray or one colour): what shows through the ray's transparency (1 - opacity) changes."""
  return rgb + (1.0 - opacity)[..., None] * (new_background - tf.cast(background, rgb.dtype))


def jitter_posts(posts, u, spread):
  """posts [B, N + 1] with each interior post i moved by (u_i - 1/2) * spread * the shorter of
  its two sections; u [B, N - 1] in [0, 1). The ends stay; spread <= 1 keeps the posts in
  order (two neighbours move towards each other by at most half their section each)."""
  dtau = posts[:, 1:] - posts[:, :-1]
  room = tf.minimum(dtau[:, :-1], dtau[:, 1:])
  inner = posts[:, 1:-1] + (tf.cast(u, posts.dtype) - 0.5) * spread * room
  return tf.concat([posts[:, :1], inner, posts[:, -1:]], -1)


def sample_pdf(bins, weights, uniform):
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
