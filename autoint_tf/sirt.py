"""The iterative classical baselines of sparse-view CT (SIRT, TV-regularised least squares),
with a pixel projector in TF.

Notation (tomography.py): lines [L] flat (origin, direction, t_min, t_max); images [S, S] in
the pixel_centres layout over the field of view of radius R (row 0 at y = +R).
  A: the projector, a sparse system matrix [L, S^2] built once (`system_matrix`): Joseph's
     ray-driven projector (ASTRA's "linear"): along a line's major axis one sample per pixel
     column (or row), the image interpolated linearly between the two pixel centres it falls
     between, each sample weighted by the length of its step inside the line's chord
     [t_min, t_max]. A^T is its exact transpose, and the gradient of A is A^T.
  SIRT (Gregor and Benson 2008; ASTRA's "SIRT"): x <- x + C A^T R (p - A x), R = 1 / (A 1),
     C = 1 / (A^T 1), with x >= 0 enforced after each step (attenuation is non-negative).
  TV:   argmin over x >= 0 of mean (A x - p)^2 / P^2 + w TV(x / s) / S, the total variation
        TV(y) = sum over pixels of |forward differences of y| (isotropic), P = max |p|,
        s = P / (2 R) (the attenuation of a chord of the whole field of view measuring P): the
        weight w is the same for any scan's units. Solved by Adam on x = relu(y) * s.
  Pixels whose centre lies outside the field of view (the disc the lines' chords fill) are
  no unknowns of A: both reconstructions leave them 0.
"""

import numpy as np
from scipy import sparse
import tensorflow as tf

from autoint_tf import tomography


def bilinear(points, radius, image_size):
  """Bilinear interpolation of [S, S] images (continued by zeros outside) at points [..., 2]:
  (index [..., 4] into the flattened image, weight [..., 4]) in the points' dtype."""
  points = tf.convert_to_tensor(points)
  s = image_size
  col = (points[..., 0] + radius) / (2 * radius) * s - 0.5
  row = (radius - points[..., 1]) / (2 * radius) * s - 0.5
  c0, r0 = tf.floor(col), tf.floor(row)
  wc, wr = col - c0, row - r0
  index, weight = [], []
  for dr, dc, w in ((0, 0, (1 - wr) * (1 - wc)), (0, 1, (1 - wr) * wc), (1, 0, wr * (1 - wc)),
                    (1, 1, wr * wc)):
    rr, cc = tf.cast(r0, tf.int64) + dr, tf.cast(c0, tf.int64) + dc
    inside = (rr >= 0) & (rr < s) & (cc >= 0) & (cc < s)
    index.append(tf.where(inside, rr * s + cc, tf.zeros_like(rr)))
    weight.append(tf.where(inside, w, tf.zeros_like(w)))
  return tf.stack(index, -1), tf.stack(weight, -1)


def sample(image, points, radius=1.0):
  """Bilinear samples [...] of an image [S, S] at points [..., 2] (the projector's
  interpolation; differentiable in the image and the points)."""
  index, weight = bilinear(points, radius, int(image.shape[0]))
  flat = tf.reshape(tf.cast(image, weight.dtype), [-1])
  return tf.reduce_sum(tf.gather(flat, index) * weight, -1)


def system_matrix(lines, radius, image_size, dtype=np.float64, chunk=4096, support=None):
  """The projector A (module docstring) of `lines` (flat or any shape; rows in their flat
  order) for [S, S] images over [-R, R]^2: a scipy CSR matrix [L, S^2] of `dtype`, built in
  numpy `chunk` lines at a time (at most 2 S entries a line). With `support` ({"centre",
  "radius"}, the object's disc, the lines' chords cut to it) pixels whose centre lies outside
  it are no unknowns either."""
  s, h = image_size, 2.0 * radius / image_size
  origin = np.asarray(lines.origin, np.float64).reshape(-1, 2)
  direction = np.asarray(lines.direction, np.float64).reshape(-1, 2)
  t_min = np.asarray(lines.t_min, np.float64).reshape(-1)
  t_max = np.asarray(lines.t_max, np.float64).reshape(-1)
  centres = -radius + (np.arange(s) + 0.5) * h  # columns' x; rows' y is -centres[::-1]
  # The field of view: the disc the chords fill. A pixel whose centre lies outside it is
  # never measured along a whole step, only grazed by interpolation (SIRT would give it any
  # value): it is no unknown of A, its column is empty.
  fov = np.sqrt(np.max(np.sum(origin**2, -1) + np.maximum(t_min**2, t_max**2)))
  in_fov = centres[:, None]**2 + centres[None, :]**2 <= fov**2  # [row, column] (symmetric)
  if support is not None:
    in_fov &= tomography.disc_mask(support, s, radius)
  take = lambda a, axis: np.take_along_axis(a, axis, 1)
  rows, cols, values = [], [], []
  for start in range(0, len(t_min), chunk):
    part = slice(start, start + chunk)
    o, d, t0, t1 = origin[part], direction[part], t_min[part, None], t_max[part, None]
    along_x = np.abs(d[:, 0]) >= np.abs(d[:, 1])  # step through columns (else rows)
    major = np.where(along_x, 0, 1)[:, None]
    minor = 1 - major
    d_major, o_major = take(d, major), take(o, major)
    # The sample of step k sits at the k-th pixel centre of the major axis (x ascending for
    # columns, y descending for rows: row k's centre is y = R - (k + 1/2) h).
    position = np.where(along_x[:, None], centres[None], -centres[None])  # [B, S]
    t = (position - o_major) / d_major
    step = h / np.abs(d_major)
    length = np.clip(np.minimum(t1, t + step / 2) - np.maximum(t0, t - step / 2), 0.0, None)
    across = take(o, minor) + t * take(d, minor)
    # its continuous index on the minor axis: columns count x up from -R, rows y down from R
    u = np.where(along_x[:, None], (radius - across) / h, (across + radius) / h) - 0.5
    low = np.floor(u)
    frac = u - low
    k = np.broadcast_to(np.arange(s)[None], t.shape)
    line = np.broadcast_to(np.arange(start, start + len(t0))[:, None], t.shape)
    for index, weight in ((low, 1.0 - frac), (low + 1, frac)):
      keep = (length > 0) & (index >= 0) & (index < s) & (weight > 0)
      i = index[keep].astype(np.int64)
      by_column = np.broadcast_to(along_x[:, None], t.shape)[keep]
      flat = np.where(by_column, i * s + k[keep], k[keep] * s + i)  # (row, column) flat
      measured = in_fov.reshape(-1)[flat]
      keep[keep] = measured
      flat = flat[measured]
      rows.append(line[keep])
      cols.append(flat)
      values.append((weight * length)[keep])
  return sparse.csr_matrix(
      (np.concatenate(values).astype(dtype), (np.concatenate(rows), np.concatenate(cols))),
      shape=(len(t_min), s * s))


MAX_SAMPLES = 2e7  # sampled_projector: samples of all lines together (~100 bytes each)


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


def sampled_projector(lines, radius, image_size, dtype=tf.float64):
  """(A, A^T) as `make_projector` returns them, by the midpoint rule on the bilinearly
  interpolated image (samples a quarter pixel apart, at most MAX_SAMPLES in all), gathered in
  TF: the projector before the system matrix, kept as its reference in tests and benchmarks
  (benchmarks/ct_projector.py)."""
  points, step = _sample_points(lines, radius, image_size)
  s = image_size
  index, weight = bilinear(tf.constant(points, tf.float64), radius, s)  # [L, M, 4]
  weight = tf.cast(weight * step[:, None, None], dtype)

  @tf.function(jit_compile=False)
  def forward(x):
    return tf.reduce_sum(tf.gather(tf.reshape(x, [-1]), index) * weight, axis=[1, 2])

  @tf.function(jit_compile=False)
  def adjoint(r):
    contributions = tf.reshape(weight * r[:, None, None], [-1])
    return tf.reshape(tf.math.unsorted_segment_sum(contributions, tf.reshape(index, [-1]), s * s),
                      [s, s])

  return (lambda x: forward(tf.cast(x, dtype))), (lambda r: adjoint(tf.cast(r, dtype)))


def make_projector(lines, radius, image_size, dtype=tf.float64, support=None):
  """(A, A^T) of `lines` for [S, S] images: A(x) -> [L], A^T(r [L]) -> [S, S] in `dtype`;
  x and r may be arrays or tensors. A is differentiable (its gradient is A^T) and works in
  tf.function; both run the sparse system matrix (`system_matrix`, built here once) on the
  CPU through tf.numpy_function. `support`: system_matrix's."""
  np_dtype = tf.as_dtype(dtype).as_numpy_dtype
  matrix = system_matrix(lines, radius, image_size, np_dtype, support=support)
  transpose = matrix.T.tocsr()
  s, count = image_size, matrix.shape[0]

  def adjoint(r):
    flat = tf.numpy_function(lambda v: transpose @ v, [tf.reshape(tf.cast(r, dtype), [-1])],
                             dtype, stateful=False)
    return tf.reshape(flat, [s, s])

  @tf.custom_gradient
  def forward(x):
    y = tf.numpy_function(lambda v: matrix @ v.reshape(-1), [x], dtype, stateful=False)
    y = tf.ensure_shape(y, [count])
    return y, lambda g: tf.reshape(tf.cast(adjoint(g), x.dtype), tf.shape(x))

  return (lambda x: forward(tf.cast(x, dtype))), adjoint


def reconstruct(sinogram, lines, radius, image_size, iterations=200, nonnegative=True,
                support=None):
  """SIRT image [S, S] of line integrals `sinogram` (any shape, as lines.shape) along `lines`
  (0 outside a `support` disc, system_matrix's)."""
  forward, adjoint = make_projector(lines, radius, image_size, support=support)
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


def total_variation(image):
  """Isotropic total variation of [S, S] images: sum of |forward differences| over pixels
  (smoothed by 1e-8 inside the square root so that its gradient is defined at flat pixels)."""
  dy = image[1:, :-1] - image[:-1, :-1]
  dx = image[:-1, 1:] - image[:-1, :-1]
  return tf.reduce_sum(tf.sqrt(tf.square(dx) + tf.square(dy) + 1e-8))


def reconstruct_tv(sinogram, lines, radius, image_size, tv_weight=3e-5, iterations=1500,
                   learning_rate=0.02, progress=False, support=None):
  """TV-regularised non-negative least-squares image [S, S] (module docstring) of line
  integrals `sinogram` (any shape, as lines.shape) along `lines`: Adam, `iterations` steps
  (with a progress bar if `progress`); 0 outside a `support` disc (system_matrix's)."""
  if tv_weight < 0 or iterations < 1:
    raise ValueError(f"tv_weight={tv_weight} must be >= 0 and iterations={iterations} >= 1.")
  forward, adjoint = make_projector(lines, radius, image_size, tf.float32, support)
  p = np.asarray(sinogram, np.float64).reshape(-1)
  measured = tf.cast(adjoint(tf.ones(p.shape, tf.float32)) > 0, tf.float32)  # others: 0
  peak = max(float(np.max(np.abs(p))), 1e-12)
  target = tf.constant(p / peak, tf.float32)
  scale = peak / (2.0 * radius)
  y = tf.Variable(tf.fill([image_size, image_size], 0.05))
  optimizer = tf.keras.optimizers.Adam(learning_rate)

  @tf.function(jit_compile=False)
  def step():
    with tf.GradientTape() as tape:
      x = tf.nn.relu(y) * measured
      loss = (tf.reduce_mean(tf.square(forward(x) * (scale / peak) - target))
              + tv_weight * total_variation(x) / image_size)
    optimizer.apply_gradients([(tape.gradient(loss, y), y)])

  steps = range(iterations)
  if progress:
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    steps = tqdm(steps, desc="TV image", unit="step", mininterval=1.0)
  for _ in steps:
    step()
  return (tf.nn.relu(y) * measured).numpy().astype(np.float64) * scale
