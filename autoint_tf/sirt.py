"""SIRT: the iterative classical baseline of sparse-view CT, with a pixel projector in TF.

Notation (tomography.py): lines [L] flat (origin, direction, t_min, t_max); images [S, S] in
the pixel_centres layout over the field of view of radius R (row 0 at y = +R).
  A: the projector, (A x)_l = integral of the bilinearly interpolated image x along line l
     (midpoint rule, samples at most a quarter pixel apart); A^T its exact adjoint (autodiff of
     the linear map).
  SIRT (Gregor and Benson 2008; ASTRA's "SIRT"): x <- x + C A^T R (p - A x), R = 1 / (A 1),
     C = 1 / (A^T 1), with x >= 0 enforced after each step (attenuation is non-negative).
"""

import numpy as np
import tensorflow as tf


MAX_SAMPLES = 2e7  # samples of all lines together (memory: ~100 bytes each)


def _sample_points(lines, radius, image_size):
  """[L, M, 2] sample points and [L] step lengths of the midpoint rule along each chord:
  four a pixel, fewer when the lines together would exceed MAX_SAMPLES."""
  m = int(np.ceil(4 * image_size * float(np.max(lines.t_max - lines.t_min)) / (2 * radius)))
  m = max(min(m, int(MAX_SAMPLES // max(lines.t_min.size, 1))), 2)
  t_min, t_max = lines.t_min.reshape(-1), lines.t_max.reshape(-1)
  frac = (np.arange(m) + 0.5) / m
  t = t_min[:, None] + (t_max - t_min)[:, None] * frac[None]
  points = lines.origin.reshape(-1, 2)[:, None] + t[..., None] * lines.direction.reshape(-1, 2)[:, None]
  return points, (t_max - t_min) / m


def make_projector(lines, radius, image_size):
  """(A, A^T) of `lines` for [S, S] images: A(x) -> [L], A^T(r [L]) -> [S, S] (float64)."""
  points, step = _sample_points(lines, radius, image_size)
  s = image_size
  col = (points[..., 0] + radius) / (2 * radius) * s - 0.5
  row = (radius - points[..., 1]) / (2 * radius) * s - 0.5
  c0, r0 = np.floor(col), np.floor(row)
  wc, wr = col - c0, row - r0
  corners = []
  for dr, dc, w in ((0, 0, (1 - wr) * (1 - wc)), (0, 1, (1 - wr) * wc), (1, 0, wr * (1 - wc)),
                    (1, 1, wr * wc)):
    rr, cc = (r0 + dr).astype(np.int64), (c0 + dc).astype(np.int64)
    inside = (rr >= 0) & (rr < s) & (cc >= 0) & (cc < s)
    corners.append((np.where(inside, rr * s + cc, 0), np.where(inside, w, 0.0)))
  index = tf.constant(np.stack([c[0] for c in corners], -1))            # [L, M, 4]
  weight = tf.constant(np.stack([c[1] for c in corners], -1) * step[:, None, None])

  @tf.function(jit_compile=False)
  def forward(x):
    return tf.reduce_sum(tf.gather(tf.reshape(x, [-1]), index) * weight, axis=[1, 2])

  @tf.function(jit_compile=False)
  def adjoint(r):
    contributions = tf.reshape(weight * r[:, None, None], [-1])
    return tf.reshape(tf.math.unsorted_segment_sum(contributions, tf.reshape(index, [-1]), s * s),
                      [s, s])

  return (lambda x: forward(tf.constant(x, tf.float64))), (
      lambda r: adjoint(tf.constant(r, tf.float64)))


def reconstruct(sinogram, lines, radius, image_size, iterations=200, nonnegative=True):
  """SIRT image [S, S] of line integrals `sinogram` (any shape, as lines.shape) along `lines`."""
  forward, adjoint = make_projector(lines, radius, image_size)
  p = tf.constant(np.asarray(sinogram, np.float64).reshape(-1))
  row = forward(np.ones((image_size, image_size)))
  col = adjoint(np.ones(int(p.shape[0])))
  inv_row = tf.math.divide_no_nan(tf.ones_like(row), row)
  inv_col = tf.math.divide_no_nan(tf.ones_like(col), col)
  x = tf.zeros([image_size, image_size], tf.float64)
  for _ in range(iterations):
    x = x + inv_col * adjoint((p - forward(x)) * inv_row)
    if nonnegative:
      x = tf.maximum(x, 0.0)
  return x.numpy()
