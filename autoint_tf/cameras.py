"""Pinhole cameras and rays, in the NeRF / OpenGL convention (camera looks down -z, x right, y up).

Poses are camera-to-world matrices c2w [..., 3, 4] or [..., 4, 4]. Pixel (i, j) (column i, row j)
is looked up at (i, j) exactly as NeRF does (no half-pixel shift), with the principal point at
(W / 2, H / 2), so datasets made for NeRF line up. Directions are *not* normalized: the ray is
r(t) = o + t d with d = c2w[:3, :3] (x', -y', -1), its camera-frame z component -1, as AutoInt
and NeRF use them (t is then depth along the optical axis).
"""

import numpy as np
import tensorflow as tf
from tensorflow_graphics.rendering.camera import perspective


def pixel_grid(height, width):
  """[H, W, 2] (column, row) pixel coordinates."""
  j, i = np.meshgrid(np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32),
                     indexing="ij")
  return np.stack([i, j], -1)


def camera_rays(c2w, height, width, focal, pixels=None):
  """Rays of a pinhole camera: (rays_o, rays_d), each [..., H, W, 3] (or [..., P, 3]).

  Args:
    c2w: [..., 3, 4] or [..., 4, 4] camera-to-world poses.
    focal: focal length in pixels (scalar, or [..., 2] for (f_x, f_y)).
    pixels: optional [P, 2] (column, row) coordinates instead of the full image grid.
  """
  c2w = tf.convert_to_tensor(c2w, tf.float32)[..., :3, :4]
  points = tf.constant(pixel_grid(height, width) if pixels is None else pixels, tf.float32)
  focal = tf.broadcast_to(tf.cast(focal, tf.float32), [2])
  principal = tf.constant([width / 2, height / 2], tf.float32)
  # tensorflow-graphics gives (x', y', 1) in the OpenCV frame (y down, z forward) ...
  d_cv = perspective.ray(points, focal, principal)
  # ... which is (x', -y', -1) in the OpenGL frame of the pose.
  d_gl = d_cv * tf.constant([1.0, -1.0, -1.0])
  batch = tf.shape(c2w)[:-2]
  grid_rank = len(points.shape) - 1
  rot = tf.reshape(c2w[..., :3, :3], tf.concat([batch, [1] * grid_rank, [3, 3]], 0))
  rays_d = tf.linalg.matvec(rot, d_gl)
  origin = tf.reshape(c2w[..., :3, 3], tf.concat([batch, [1] * grid_rank, [3]], 0))
  rays_o = tf.broadcast_to(origin, tf.shape(rays_d))
  return rays_o, rays_d


def pixel_rays(c2w, pixels, focal, height, width):
  """One ray per pixel, each with its own pose: c2w [B, 3|4, 4], pixels [B, 2] (column, row)
  -> (rays_o, rays_d) [B, 3] (the same rays as `camera_rays`)."""
  c2w = tf.convert_to_tensor(c2w, tf.float32)[..., :3, :4]
  focal = tf.broadcast_to(tf.cast(focal, tf.float32), [2])
  principal = tf.constant([width / 2, height / 2], tf.float32)
  d_gl = perspective.ray(tf.cast(pixels, tf.float32), focal, principal) * tf.constant(
      [1.0, -1.0, -1.0])
  return c2w[:, :, 3], tf.linalg.matvec(c2w[:, :, :3], d_gl)


def project(c2w, points, focal, height, width):
  """World points [P, 3] to (column, row) pixel coordinates [P, 2] of one camera: the inverse of
  `camera_rays` (a point on the ray of pixel (i, j) projects to (i, j))."""
  c2w = np.asarray(c2w, np.float64)[:3, :4]
  cam = (np.asarray(points, np.float64) - c2w[:, 3]) @ c2w[:, :3]  # world -> camera (OpenGL)
  depth = -cam[:, 2]
  col = focal * cam[:, 0] / depth + width / 2
  row = -focal * cam[:, 1] / depth + height / 2
  return np.stack([col, row], -1)


def look_at(eye, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)):
  """c2w [4, 4] of a camera at `eye` looking at `target` (OpenGL: -z towards the target)."""
  eye = np.asarray(eye, np.float64)
  back = eye - np.asarray(target, np.float64)
  back /= np.linalg.norm(back)
  right = np.cross(np.asarray(up, np.float64), back)
  if np.linalg.norm(right) < 1e-8:  # looking along `up`: pick another up
    right = np.cross([0.0, 1.0, 0.0], back)
  right /= np.linalg.norm(right)
  upv = np.cross(back, right)
  c2w = np.eye(4)
  c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, upv, back, eye
  return c2w


def orbit_poses(num_views, radius, elevations_deg=(30.0,), turns=1.0, phase_deg=0.0):
  """[V, 4, 4] cameras on a sphere around the origin looking at it (a turntable or spiral)."""
  elevations = np.resize(np.asarray(elevations_deg, np.float64), num_views)
  azimuths = np.deg2rad(phase_deg) + 2 * np.pi * turns * np.arange(num_views) / num_views
  el = np.deg2rad(elevations)
  eyes = radius * np.stack([np.cos(el) * np.cos(azimuths), np.cos(el) * np.sin(azimuths),
                            np.sin(el)], -1)
  return np.stack([look_at(e) for e in eyes]).astype(np.float32)
