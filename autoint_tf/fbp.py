"""Filtered back-projection in TensorFlow: the classical baseline for AutoInt's CT images.

Parallel beam (Kak & Slaney, Sec. 3.3): p(rho, theta) on detector offsets rho_j = rho_0 + j tau,
  q = tau * (p conv h),  h the band-limited ramp (Ram-Lak) kernel sampled at spacing tau,
  f(x) = sum_a w_a q_a(x . n_a),   n_a = (cos theta_a, sin theta_a),  A views over [0, pi).
Flat-detector fan beam (Kak & Slaney, Sec. 3.4.2), source at D (cos b, sin b), detector offsets
rescaled to the plane through the centre, s_j = offset_j * D_so / D_sd:
  q = tau' * ((p * D / sqrt(D^2 + s^2)) conv h),
  f(x) = 1/2 sum_a w_a D^2 / (D - x . c_a)^2 * q_a(D x . tau_a / (D - x . c_a)),
  c_a = (cos b_a, sin b_a), tau_a = (-sin b_a, cos b_a), A views over [0, 2 pi).
w_a: the angle each view covers (`angular_weights`; pi / A or 2 pi / A for even views).
Back-projection interpolates q linearly and is zero off the detector.
"""

import numpy as np
import tensorflow as tf

from autoint_tf import tomography


def ramp_filter(sinogram, spacing):
  """tau * (p conv h) along the last axis of [A, N], by zero-padded FFT (no wrap-around)."""
  p = tf.convert_to_tensor(sinogram, tf.float64)
  n = int(p.shape[-1])
  k = np.arange(-(n - 1), n)
  h = np.where(k == 0, 1.0 / (4 * spacing**2), 0.0)
  odd = k % 2 == 1
  h[odd] = -1.0 / (np.pi**2 * k[odd]**2 * spacing**2)
  size = int(2**np.ceil(np.log2(3 * n - 2)))
  conv = tf.signal.irfft(tf.signal.rfft(p, [size]) * tf.signal.rfft(tf.constant(h), [size]),
                         [size])
  return spacing * conv[..., n - 1:2 * n - 1]


def angular_weights(angles, period):
  """d(angle) of each view [A]: half the gaps to its neighbours, angles taken modulo `period`
  (pi / A each for A views evenly covering [0, pi)); views may come in any order. A
  limited-angle scan (`tomography.covers_period` false) does not wrap: the missing arc counts
  as one median gap, so the end views weigh as much as the others."""
  angles = np.mod(np.asarray(angles, np.float64), period)
  order = np.argsort(angles)
  a = angles[order]
  gaps = np.diff(np.concatenate([a, a[:1] + period]))
  if not tomography.covers_period(a, period):
    gaps[np.argmax(gaps)] = np.median(gaps)
  w = np.empty_like(a)
  w[order] = 0.5 * (gaps + np.roll(gaps, 1))
  return w


def _interpolate(q, index):
  """q [A, N] at fractional detector indices [A, P], linear, zero outside [0, N-1]."""
  n = int(q.shape[-1])
  lo = tf.floor(index)
  w = index - lo
  lo = tf.cast(lo, tf.int32)
  def take(i):
    inside = tf.cast((i >= 0) & (i <= n - 1), q.dtype)
    return tf.gather(q, tf.clip_by_value(i, 0, n - 1), batch_dims=1) * inside
  return (1 - w) * take(lo) + w * take(lo + 1)


def reconstruct_parallel(sinogram, angles, image_size, radius=1.0, detector_spacing=None):
  """FBP image [image_size, image_size] (tomography.pixel_centres layout).

  Args:
    sinogram: [A, N] line integrals at tomography.parallel_beam_lines(angles, N, radius) offsets
      (or `detector_spacing` apart, centred); angles: [A] radians, evenly covering [0, pi).
  """
  sinogram = np.asarray(sinogram, np.float64)
  n = sinogram.shape[1]
  tau = detector_spacing or 2 * radius / n
  q = ramp_filter(sinogram, tau)
  x = tomography.pixel_centres(image_size, radius).reshape(-1, 2)
  angles = np.asarray(angles, np.float64)
  normal = np.stack([np.cos(angles), np.sin(angles)], -1)
  index = (normal @ x.T) / tau + (n - 1) / 2  # [A, P]
  w = angular_weights(angles, np.pi)[:, None]
  image = tf.reduce_sum(w * _interpolate(q, tf.constant(index)), 0)
  return image.numpy().reshape(image_size, image_size)


def reconstruct_fan(sinogram, angles, source_origin, source_detector, pixel_size, image_size,
             radius=1.0):
  """FBP image of a tomography.fan_beam_lines sinogram [A, N]; angles [A] evenly cover [0, 2 pi)."""
  sinogram = np.asarray(sinogram, np.float64)
  n = sinogram.shape[1]
  d = float(source_origin)
  tau = pixel_size * d / source_detector
  s = (np.arange(n) - (n - 1) / 2) * tau
  q = ramp_filter(sinogram * (d / np.sqrt(d**2 + s**2)), tau)
  x = tomography.pixel_centres(image_size, radius).reshape(-1, 2)
  angles = np.asarray(angles, np.float64)
  c = np.stack([np.cos(angles), np.sin(angles)], -1)
  tangent = np.stack([-np.sin(angles), np.cos(angles)], -1)
  depth = d - c @ x.T  # [A, P], distance from the source along the central ray
  index = (d * (tangent @ x.T) / depth) / tau + (n - 1) / 2
  weight = tf.constant(0.5 * angular_weights(angles, 2 * np.pi)[:, None] * d**2 / depth**2)
  image = tf.reduce_sum(weight * _interpolate(q, tf.constant(index)), 0)
  return image.numpy().reshape(image_size, image_size)


def reconstruct(sinogram, angles, geometry, image_size, extent=None):
  """FBP of a sinogram [A, N] measured with a ct_data geometry dict at `angles` (radians), on
  the grid of half-width `extent` (default: the field of view's radius)."""
  radius = float(geometry.get("radius", 1.0))
  extent = radius if extent is None else float(extent)
  if geometry["type"] == "parallel":
    spacing = geometry.get("detector_spacing") or 2 * radius / np.shape(sinogram)[1]
    return reconstruct_parallel(sinogram, angles, image_size, extent, spacing)
  return reconstruct_fan(sinogram, angles, geometry["source_origin"], geometry["source_detector"],
                  geometry["pixel_size"], image_size, extent)
