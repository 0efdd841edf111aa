"""CT geometry, the Shepp-Logan phantom and its exact Radon transform (AutoInt, Sec. 4.2).

Notation:
  Every measured line is data, whatever the scanner: a `Lines` holds its foot point
  `origin` (the point of the line closest to the centre of the field of view), its unit
  `direction`, and the chord [t_min, t_max] of the field-of-view circle (radius R):
      x(t) = origin + t * direction,   t in [t_min, t_max] = [-sqrt(R^2 - |origin|^2), +...].
  (rho, theta): the same line in the paper's parameters: unit normal
      n = (cos theta, sin theta), origin = rho * n, direction = (-sin theta, cos theta).
  Shapes: `A` angles (views), `N` detector pixels; lines are [A, N].
  Images: [H, W], row 0 at y = +R, column 0 at x = -R, pixel centres.
"""

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Lines:
  """A set of lines through the field of view. Arrays of shape SH + [2] or SH."""
  origin: np.ndarray     # SH + [2], foot point (closest to the centre)
  direction: np.ndarray  # SH + [2], unit direction
  t_min: np.ndarray      # SH, chord start (t of entry into the field of view)
  t_max: np.ndarray      # SH, chord end

  @property
  def shape(self):
    return self.t_min.shape

  def take(self, index):
    """The lines lines[index] (index into the leading axes, e.g. kept views)."""
    return Lines(self.origin[index], self.direction[index], self.t_min[index], self.t_max[index])

  def scaled(self, factor):
    """The same lines with every length multiplied by `factor` (e.g. 1 / R: unit FOV)."""
    return Lines(self.origin * factor, self.direction, self.t_min * factor, self.t_max * factor)

  def clipped_to_disc(self, centre, radius):
    """The same lines with each chord cut to its part inside the disc (centre [2], radius):
    t in [t_c - h, t_c + h] within [t_min, t_max], t_c the foot of the centre, h the half
    chord; a line that misses the disc keeps a zero-length chord (it integrates to 0)."""
    centre = np.asarray(centre, np.float64)
    t_c = np.sum((centre - self.origin) * self.direction, -1)
    distance2 = np.sum((self.origin + t_c[..., None] * self.direction - centre)**2, -1)
    half = np.sqrt(np.maximum(radius**2 - distance2, 0.0))
    t_min = np.clip(t_c - half, self.t_min, self.t_max)
    t_max = np.clip(t_c + half, self.t_min, self.t_max)
    return Lines(self.origin, self.direction, t_min, np.maximum(t_max, t_min))

  def canonical(self):
    """The same lines, each directed as (-sin theta, cos theta) of its (rho, theta) with theta
    in [0, pi): the orientation the paper's parameterization integrates along (parallel-beam
    lines already have it; half of a fan beam's lines point the other way)."""
    _, theta = self.rho_theta()
    u = np.stack([-np.sin(theta), np.cos(theta)], -1)
    flip = np.sum(u * self.direction, -1) < 0
    return Lines(self.origin, np.where(flip[..., None], -self.direction, self.direction),
                 np.where(flip, -self.t_max, self.t_min), np.where(flip, -self.t_min, self.t_max))

  def rho_theta(self):
    """The paper's (rho, theta) of every line, theta in [0, pi)."""
    # The normal n = (cos theta, sin theta) is the direction rotated by -90 degrees; a
    # normal outside [0, pi) names the same line as (-rho, theta - pi).
    normal = np.stack([self.direction[..., 1], -self.direction[..., 0]], -1)
    theta = np.arctan2(normal[..., 1], normal[..., 0])  # (-pi, pi]
    rho = np.sum(self.origin * normal, -1)
    neg = theta < 0
    theta, rho = np.where(neg, theta + np.pi, theta), np.where(neg, -rho, rho)
    top = theta >= np.pi  # also catches -1e-17 + pi, which rounds to pi
    theta, rho = np.where(top, theta - np.pi, theta), np.where(top, -rho, rho)
    return rho, theta


def covers_period(angles, period):
  """True when views at `angles` (any order) go round the whole `period` (pi for parallel
  beam, 2 pi for fan beam). False for a limited-angle scan: one gap between neighbours (the
  wrap-around included), the missing arc, exceeds three times every other gap."""
  a = np.sort(np.mod(np.asarray(angles, np.float64), period))
  if len(a) < 2:
    return False
  gaps = np.sort(np.diff(np.concatenate([a, a[:1] + period])))
  return bool(gaps[-1] <= 3 * gaps[-2])


def canonical_segments(start, end):
  """TF version of `lines_through(start, end - start).canonical()` for serving graphs: the
  segments from `start` to `end` [B, 2] as canonical lines (direction (-sin theta, cos theta),
  theta in [0, pi)), each integrated from its lower to its upper t whichever end came first.

  Returns:
    dict of rho [B], theta [B], normal [B, 2], direction [B, 2], origin [B, 2] (= rho normal,
    the foot point), t0 <= t1 [B] (the segment's ends along the direction).
  """
  u = (end - start) / tf.norm(end - start, axis=-1, keepdims=True)
  theta = tf.atan2(-u[:, 0], u[:, 1])  # the normal (u_y, -u_x) has angle theta
  theta = tf.where(theta < 0, theta + np.pi, theta)
  theta = tf.where(theta >= np.pi, theta - np.pi, theta)
  normal = tf.stack([tf.cos(theta), tf.sin(theta)], -1)
  direction = tf.stack([-tf.sin(theta), tf.cos(theta)], -1)
  rho = tf.reduce_sum(start * normal, -1)
  ta = tf.reduce_sum(start * direction, -1)
  tb = tf.reduce_sum(end * direction, -1)
  return {"rho": rho, "theta": theta, "normal": normal, "direction": direction,
          "origin": rho[:, None] * normal, "t0": tf.minimum(ta, tb), "t1": tf.maximum(ta, tb)}


def clip_segments_to_disc(segments, centre, radius):
  """TF version of `Lines.clipped_to_disc` for serving graphs: `segments` (canonical_segments'
  dict) with t0 <= t1 cut to their part inside the disc (centre [2], radius; 0 length when
  a segment misses it)."""
  centre = tf.constant(np.asarray(centre, np.float64), segments["t0"].dtype)
  t_c = tf.reduce_sum((centre - segments["origin"]) * segments["direction"], -1)
  gap = segments["origin"] + t_c[:, None] * segments["direction"] - centre
  half = tf.sqrt(tf.maximum(radius**2 - tf.reduce_sum(gap**2, -1), 0.0))
  t0 = tf.clip_by_value(t_c - half, segments["t0"], segments["t1"])
  t1 = tf.clip_by_value(t_c + half, segments["t0"], segments["t1"])
  return {**segments, "t0": t0, "t1": tf.maximum(t1, t0)}


def lines_through(points, directions, radius=1.0):
  """Lines through `points` along `directions` ([..., 2] each), as chords of the FOV circle.

  Raises:
    ValueError: a zero direction, or a line that misses the field of view.
  """
  points = np.asarray(points, np.float64)
  directions = np.asarray(directions, np.float64)
  norm = np.linalg.norm(directions, axis=-1, keepdims=True)
  if np.any(norm == 0):
    raise ValueError("lines_through: a direction has zero length.")
  u = directions / norm
  origin = points - np.sum(points * u, -1, keepdims=True) * u
  d2 = radius**2 - np.sum(origin**2, -1)
  if np.any(d2 <= 0):
    raise ValueError(f"lines_through: {int(np.sum(d2 <= 0))} line(s) miss the field of view "
                     f"(radius {radius}); shrink the detector or enlarge the radius.")
  half = np.sqrt(d2)
  return Lines(origin, u, -half, half)


def parallel_beam_lines(angles, num_detectors, radius=1.0, spacing=None):
  """Parallel-beam lines [A, N]: offsets rho at detector-pixel centres, centred on 0.

  Args:
    angles: [A] view angles theta in radians.
    num_detectors: N detector pixels of width `spacing` (default 2R/N: they span [-R, R]).
  """
  angles = np.asarray(angles, np.float64)
  spacing = 2 * radius / num_detectors if spacing is None else spacing
  rho = (np.arange(num_detectors) - (num_detectors - 1) / 2) * spacing
  n = np.stack([np.cos(angles), np.sin(angles)], -1)[:, None, :]  # [A, 1, 2]
  u = np.stack([-np.sin(angles), np.cos(angles)], -1)[:, None, :]
  origin = rho[None, :, None] * n
  half = np.sqrt(np.maximum(radius**2 - rho**2, 0.0))[None, :].repeat(len(angles), 0)
  return Lines(origin, np.broadcast_to(u, origin.shape).copy(), -half, half)


def fan_beam_endpoints(angles, source_origin, source_detector, pixel_size, num_detectors):
  """Source positions [A, 2] and detector-pixel centres [A, N, 2] of a flat-detector fan beam.

  At angle beta the source sits at S(beta) = D_so (cos beta, sin beta); the flat detector is
  perpendicular to the central ray, at distance D_sd from the source, pixels centred on it.
  """
  angles = np.asarray(angles, np.float64)
  c = np.stack([np.cos(angles), np.sin(angles)], -1)
  tangent = np.stack([-np.sin(angles), np.cos(angles)], -1)
  source = source_origin * c
  centre = source - source_detector * c
  offsets = (np.arange(num_detectors) - (num_detectors - 1) / 2) * pixel_size
  detector = centre[:, None, :] + offsets[None, :, None] * tangent[:, None, :]
  return source, detector


def fan_beam_lines(angles, source_origin, source_detector, pixel_size, num_detectors, radius=1.0):
  """Fan-beam lines [A, N] from each source position to each detector-pixel centre."""
  if not source_origin > radius:
    raise ValueError(f"fan_beam_lines: the source (distance {source_origin}) must lie outside the "
                     f"field of view (radius {radius}).")
  if not source_detector > source_origin:
    raise ValueError("fan_beam_lines: source_detector must exceed source_origin (the detector is "
                     f"beyond the centre); got {source_detector} <= {source_origin}.")
  source, detector = fan_beam_endpoints(angles, source_origin, source_detector, pixel_size,
                                        num_detectors)
  src = np.broadcast_to(source[:, None, :], detector.shape)
  return lines_through(src, detector - src, radius)


# Shepp-Logan ellipses: (intensity, semi-axis a along x, semi-axis b along y, x0, y0, phi in
# degrees). Shepp & Logan (1974); "modified" has the higher-contrast intensities of Toft (1996).
SHEPP_LOGAN = np.array([
    [2.00, .6900, .920, 0.00, 0.0000, 0],
    [-.98, .6624, .874, 0.00, -.0184, 0],
    [-.02, .1100, .310, 0.22, 0.0000, -18],
    [-.02, .1600, .410, -.22, 0.0000, 18],
    [0.01, .2100, .250, 0.00, 0.3500, 0],
    [0.01, .0460, .046, 0.00, 0.1000, 0],
    [0.01, .0460, .046, 0.00, -.1000, 0],
    [0.01, .0460, .023, -.08, -.6050, 0],
    [0.01, .0230, .023, 0.00, -.6060, 0],
    [0.01, .0230, .046, 0.06, -.6050, 0],
])
MODIFIED_SHEPP_LOGAN = SHEPP_LOGAN.copy()
MODIFIED_SHEPP_LOGAN[:, 0] = [1.0, -0.8, -0.2, -0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
PHANTOMS = {"shepp_logan": SHEPP_LOGAN, "modified_shepp_logan": MODIFIED_SHEPP_LOGAN}


def _to_ellipse_frame(ellipse, points, vectors=None):
  _, a, b, x0, y0, phi = ellipse
  c, s = np.cos(np.deg2rad(phi)), np.sin(np.deg2rad(phi))
  p = points - np.array([x0, y0])
  p = np.stack([(c * p[..., 0] + s * p[..., 1]) / a, (-s * p[..., 0] + c * p[..., 1]) / b], -1)
  if vectors is None:
    return p
  v = np.stack([(c * vectors[..., 0] + s * vectors[..., 1]) / a,
                (-s * vectors[..., 0] + c * vectors[..., 1]) / b], -1)
  return p, v


def radon(ellipses, lines):
  """Exact line integrals of a sum of uniform ellipses along `lines` (closed form).

  Each ellipse maps to the unit disc; the line meets it where |p + t v|^2 = 1, a quadratic
  in t whose root gap 2 sqrt(B^2 - AC) / A is the chord length in world units (|u| = 1).
  Chords are clipped to [t_min, t_max].

  Returns:
    lines.shape array of integrals.
  """
  total = np.zeros(lines.shape)
  for e in np.asarray(ellipses):
    p, v = _to_ellipse_frame(e, lines.origin, lines.direction)
    qa = np.sum(v * v, -1)
    qb = np.sum(p * v, -1)
    qc = np.sum(p * p, -1) - 1.0
    disc = np.maximum(qb * qb - qa * qc, 0.0)
    root = np.sqrt(disc)
    lo = np.clip((-qb - root) / qa, lines.t_min, lines.t_max)
    hi = np.clip((-qb + root) / qa, lines.t_min, lines.t_max)
    total += e[0] * np.maximum(hi - lo, 0.0)
  return total


def attenuation(ellipses, points):
  """Phantom value at points [..., 2]."""
  out = np.zeros(np.shape(points)[:-1])
  for e in np.asarray(ellipses):
    p = _to_ellipse_frame(e, np.asarray(points, np.float64))
    out += e[0] * (np.sum(p * p, -1) <= 1.0)
  return out


def pixel_centres(size, radius=1.0):
  """[size, size, 2] (x, y) pixel centres; row 0 at y = +R."""
  c = (np.arange(size) + 0.5) * (2 * radius / size) - radius
  x, y = np.meshgrid(c, -c)
  return np.stack([x, y], -1)


def disc_mask(disc, size, radius=1.0):
  """[size, size] bool: the pixel centres (pixel_centres' layout) inside a disc {"centre":
  [x, y], "radius"}."""
  return np.sum((pixel_centres(size, radius) - disc["centre"])**2, -1) <= disc["radius"]**2


def rasterize(ellipses, size, supersample=4, radius=1.0):
  """[size, size] image, each pixel the mean of supersample^2 point samples."""
  fine = pixel_centres(size * supersample, radius)
  img = attenuation(ellipses, fine)
  return img.reshape(size, supersample, size, supersample).mean((1, 3))


def _cross(a, b):
  return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def fit_disc(sinogram, lines, level=0.05, min_views=2):
  """The disc whose tangents are the edges of a sinogram's support: HTC 2022's phantoms are a
  disc of one material with holes, and its outline is measured in every view, whatever the
  arc (a limited-angle image loses it to the missing wedge).

  Per view, the support is where the line integral exceeds `level` times the sinogram's
  maximum; each of its two edges (linearly interpolated to where the integral crosses that
  level, between the last detector above and the first below) is a line tangent to the disc.
  A tangent with unit direction d through o is at the distance r of the centre c:
      s cross(d, c - o) = r,   s = sign(cross(d, q - o)), q a point of the support's middle
  line (the side the disc lies on); every tangent of every view gives one such equation,
  solved for (c, r) by least squares. Views whose support reaches the detector's end (the
  object is cut off) give none. A uniform disc's largest integral is along its diameter, so
  its level line lies at r sqrt(1 - level^2) from the centre: the radius is divided by that.

  Args:
    sinogram: [A, N] line integrals along `lines` ([A, N], tomography.Lines).
    level: the support's threshold as a fraction of the maximum.
    min_views: the fewest views holding the whole object that are accepted.

  Returns:
    (centre [2], radius, rms residual of the equations) in the lines' length unit.

  Raises:
    ValueError: a sinogram without a positive value, or fewer than `min_views` views whose
      support lies inside the detector (with fewer than two the disc is not determined).
  """
  p = np.asarray(sinogram, np.float64)
  if p.ndim != 2 or p.shape != lines.shape:
    raise ValueError(f"fit_disc: a sinogram [A, N] of the lines' shape {lines.shape}, got "
                     f"{p.shape}.")
  peak = float(np.max(p)) if p.size else 0.0
  if not peak > 0:
    raise ValueError("fit_disc: the sinogram has no positive line integral (no object).")
  threshold = level * peak
  origin = np.asarray(lines.origin, np.float64)
  direction = np.asarray(lines.direction, np.float64)
  middle = origin + 0.5 * (lines.t_min + lines.t_max)[..., None] * direction
  rows, rhs = [], []
  for view in range(p.shape[0]):
    above = np.flatnonzero(p[view] > threshold)
    if not len(above) or above[0] == 0 or above[-1] == p.shape[1] - 1:
      continue
    q = middle[view, (above[0] + above[-1]) // 2]
    for edge, outside in ((above[0], above[0] - 1), (above[-1], above[-1] + 1)):
      f = (p[view, edge] - threshold) / (p[view, edge] - p[view, outside])  # toward outside
      d = (1 - f) * direction[view, edge] + f * direction[view, outside]
      d /= np.linalg.norm(d)
      o = (1 - f) * origin[view, edge] + f * origin[view, outside]
      s = np.sign(_cross(d, q - o))
      rows.append([-s * d[1], s * d[0], -1.0])
      rhs.append(s * _cross(d, o))
  need = max(min_views, 2)
  if len(rows) < 2 * need:
    raise ValueError(f"fit_disc: {len(rows) // 2} view(s) hold the whole object inside the "
                     f"detector; the disc needs {need}.")
  rows, rhs = np.asarray(rows), np.asarray(rhs)
  solution = np.linalg.lstsq(rows, rhs, rcond=None)[0]
  residual = float(np.sqrt(np.mean((rows @ solution - rhs)**2)))
  return solution[:2], float(solution[2]) / np.sqrt(1 - level**2), residual
