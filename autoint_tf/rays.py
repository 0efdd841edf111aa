"""Rays: pinhole cameras (NeRF / OpenGL convention), NDC rays, and rays broadcast to samples.

Notation:
  A ray is r(t) = o + t d: rays_o, rays_d [..., 3], d *not* normalized, t in [near, far].
  Poses are camera-to-world matrices c2w [..., 3, 4] or [..., 4, 4]; the camera looks down -z,
  x right, y up. Pixel (i, j) (column i, row j) is looked up at (i + c, j + c) of the image
  plane whose corner is (0, 0), principal point (W / 2, H / 2), c = pixel_center: 0 is NeRF's
  convention (the default, so models trained on NeRF's terms line up), 0.5 the pixel's true
  centre (mip-NeRF's fix; what an image made by averaging over each pixel's area shows). Its
  direction is d = c2w[:3, :3] (x', -y', -1), camera-frame z component -1 (t is depth along the
  optical axis), as AutoInt and NeRF use them.
  Forward-facing (LLFF) scenes use NeRF's NDC rays: near 0, far 1 (`ndc_rays`, `scene_rays`).
"""

import numpy as np
import tensorflow as tf

from autoint_tf.graphics import perspective


def pixel_grid(height, width):
  """[H, W, 2] (column, row) pixel coordinates."""
  j, i = np.meshgrid(np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32),
                     indexing="ij")
  return np.stack([i, j], -1)


def check_pixel_center(pixel_center):
  """pixel_center as a float in [0, 1), or a ValueError naming it."""
  if not 0.0 <= float(pixel_center) < 1.0:
    raise ValueError(f"--pixel_center={pixel_center}: give where in its pixel a pixel's ray "
                     "passes, in [0, 1): 0 (NeRF's convention) or 0.5 (the pixel's centre).")
  return float(pixel_center)


def _camera_directions(pixels, focal, height, width, pixel_center=0.0):
  """Camera-frame (OpenGL) directions (x', -y', -1) of (column, row) pixels [..., 2]."""
  focal = tf.broadcast_to(tf.cast(focal, tf.float32), [2])
  # Pixel i's ray passes at i + c: the principal point, in pixel indices, is W / 2 - c.
  c = check_pixel_center(pixel_center)
  principal = tf.constant([width / 2 - c, height / 2 - c], tf.float32)
  # tensorflow-graphics gives (x', y', 1) in the OpenCV frame (y down, z forward) ...
  d_cv = perspective.ray(tf.cast(pixels, tf.float32), focal, principal)
  # ... which is (x', -y', -1) in the OpenGL frame of the pose.
  return d_cv * tf.constant([1.0, -1.0, -1.0])


def camera_rays(c2w, height, width, focal, pixels=None, pixel_center=0.0):
  """Rays of a pinhole camera: (rays_o, rays_d), each [..., H, W, 3] (or [..., P, 3]).

  Args:
    c2w: [..., 3, 4] or [..., 4, 4] camera-to-world poses.
    focal: focal length in pixels (scalar, or [..., 2] for (f_x, f_y)).
    pixels: optional [P, 2] (column, row) coordinates instead of the full image grid.
    pixel_center: where in its pixel each ray passes (notation above): 0 or 0.5.
  """
  c2w = tf.convert_to_tensor(c2w, tf.float32)[..., :3, :4]
  points = tf.constant(pixel_grid(height, width) if pixels is None else pixels, tf.float32)
  d_gl = _camera_directions(points, focal, height, width, pixel_center)
  batch = tf.shape(c2w)[:-2]
  grid_rank = len(points.shape) - 1
  rot = tf.reshape(c2w[..., :3, :3], tf.concat([batch, [1] * grid_rank, [3, 3]], 0))
  rays_d = tf.linalg.matvec(rot, d_gl)
  origin = tf.reshape(c2w[..., :3, 3], tf.concat([batch, [1] * grid_rank, [3]], 0))
  rays_o = tf.broadcast_to(origin, tf.shape(rays_d))
  return rays_o, rays_d


def pixel_rays(c2w, pixels, focal, height, width, pixel_center=0.0):
  """One ray per pixel, each with its own pose: c2w [B, 3|4, 4], pixels [B, 2] (column, row)
  -> (rays_o, rays_d) [B, 3] (the same rays as `camera_rays`)."""
  c2w = tf.convert_to_tensor(c2w, tf.float32)[..., :3, :4]
  d_gl = _camera_directions(pixels, focal, height, width, pixel_center)
  return c2w[:, :, 3], tf.linalg.matvec(c2w[:, :, :3], d_gl)


def project(c2w, points, focal, height, width, with_depth=False, pixel_center=0.0):
  """World points [P, 3] to (column, row) pixel coordinates [P, 2] of one camera: the inverse of
  `camera_rays` with the same pixel_center (a point on the ray of pixel (i, j) projects to
  (i, j)). with_depth: also their depth along the optical axis [P] (negative behind the
  camera)."""
  c = check_pixel_center(pixel_center)
  c2w = np.asarray(c2w, np.float64)[:3, :4]
  cam = (np.asarray(points, np.float64) - c2w[:, 3]) @ c2w[:, :3]  # world -> camera (OpenGL)
  depth = -cam[:, 2]
  col = focal * cam[:, 0] / depth + width / 2 - c
  row = -focal * cam[:, 1] / depth + height / 2 - c
  pixels = np.stack([col, row], -1)
  return (pixels, depth) if with_depth else pixels


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


def spiral_poses(poses, near, far, num_views, rotations=2, zrate=0.5, percentile=90):
  """[V, 4, 4] cameras on NeRF's spiral path (render_path_spiral) for forward-facing scenes.

  The path circles `rotations` times around the average of `poses` [P, 4, 4] (recentred, as
  scenes.load_llff gives them), in an ellipse whose radii are the `percentile` of the camera
  offsets, moving in depth at `zrate` of the angular rate, every camera looking at a point at
  the focus depth 1 / ((1 - 0.75) / near + 0.75 / (5 far)) in front of the average camera.
  """
  poses = np.asarray(poses, np.float64)
  centre = poses[:, :3, 3].mean(0)
  forward = poses[:, :3, 2].sum(0)
  forward /= np.linalg.norm(forward)
  up = poses[:, :3, 1].sum(0)
  right = np.cross(up, forward)
  right /= np.linalg.norm(right)
  up = np.cross(forward, right)
  frame = np.stack([right, up, forward], 1)  # the average camera's axes (its z looks back)
  radii = np.percentile(np.abs((poses[:, :3, 3] - centre) @ frame), percentile, 0)
  focus = 1.0 / ((1 - 0.75) / near + 0.75 / (5 * far))
  target = centre - focus * forward
  out = []
  for theta in np.linspace(0, 2 * np.pi * rotations, num_views + 1)[:-1]:
    eye = centre + frame @ (radii * np.array([np.cos(theta), -np.sin(theta),
                                              -np.sin(theta * zrate)]))
    back = eye - target
    back /= np.linalg.norm(back)
    x = np.cross(up, back)
    x /= np.linalg.norm(x)
    c2w = np.eye(4)
    c2w[:3, :4] = np.stack([x, np.cross(back, x), back, eye], 1)
    out.append(c2w)
  return np.stack(out).astype(np.float32)


def ndc_rays(height, width, focal, near, rays_o, rays_d):
  """NeRF's forward-facing NDC warp (camera at the origin looking down -z; the plane z = -near
  maps to NDC z = -1). Image width goes with x and height with y (the official AutoInt code
  swapped them)."""
  t = -(near + rays_o[..., 2]) / rays_d[..., 2]
  rays_o = rays_o + t[..., None] * rays_d
  ox, oy, oz = rays_o[..., 0], rays_o[..., 1], rays_o[..., 2]
  dx, dy, dz = rays_d[..., 0], rays_d[..., 1], rays_d[..., 2]
  o = tf.stack([-focal / (width / 2) * ox / oz, -focal / (height / 2) * oy / oz,
                1 + 2 * near / oz], -1)
  d = tf.stack([-focal / (width / 2) * (dx / dz - ox / oz),
                -focal / (height / 2) * (dy / dz - oy / oz), -2 * near / oz], -1)
  return o, d


def scene_rays(rays_o, rays_d, near, far, ndc=None, box=None):
  """The rays a model of a scene sees: dict of rays_o, rays_d [B, 3], near, far [B].

  ndc: None, or (height, width, focal) of a forward-facing scene, whose models were trained
  on NDC rays (then near/far are replaced by 0/1).
  box: None, or the scene's bounding box ((x0, y0, z0), (x1, y1, z1)). Nothing is outside it:
  [near, far] is cut to the part of each ray inside it (`clip_to_box`), and every ray is
  rewritten on its line's own terms (`box_rays`): its origin where the line enters the box,
  its direction of unit length, t in world units from there. A camera anywhere on a line,
  with d of any length, gives the model the same ray; only the segment differs (a camera
  inside the box sees from itself on). The dict then also has `inside` [B] (1 for rays that
  meet the box inside [near, far], 0 for those that miss it, which the renderers show as
  background), and `t_offset`, `t_scale` [B], which map the box's t back to the caller's:
  t = t_offset + t_scale * t_box (`Renderer._composite` reports depth that way).
  """
  if ndc is not None:
    rays_o, rays_d = ndc_rays(*ndc, 1.0, rays_o, rays_d)
    near, far = tf.zeros_like(near), tf.ones_like(far)
  if box is not None:
    return box_rays(rays_o, rays_d, near, far, box)
  return {"rays_o": rays_o, "rays_d": rays_d, "near": near, "far": far}


def box_rays(rays_o, rays_d, near, far, box):
  """Rays o + t d, t in [near, far], on their lines' terms inside the box (`scene_rays`):
  o' = o + t_in d with t_in where the whole line enters the box, d' = d / |d|, and
  [near', far'] = ([near, far] cut to the box - t_in) |d|. Rays that miss the box get
  o' = the box's centre and [0, 1] (any finite ray: their density is zeroed)."""
  lo = tf.constant(box[0], rays_o.dtype)
  hi = tf.constant(box[1], rays_o.dtype)
  length = tf.norm(rays_d, axis=-1)
  enter, leave = _slabs(rays_o, rays_d, lo, hi)
  clipped_near, clipped_far, hit = _clip(near, far, enter, leave)
  line_in = tf.where(hit, enter, clipped_near)
  centre = tf.broadcast_to(0.5 * (lo + hi), tf.shape(rays_o))
  return {"rays_o": tf.where(hit[:, None], rays_o + line_in[:, None] * rays_d, centre),
          "rays_d": rays_d / length[:, None],
          "near": tf.where(hit, (clipped_near - line_in) * length, tf.zeros_like(near)),
          "far": tf.where(hit, (clipped_far - line_in) * length, tf.ones_like(far)),
          "inside": tf.cast(hit, rays_o.dtype), "t_offset": line_in, "t_scale": 1.0 / length}


def _slabs(rays_o, rays_d, lo, hi):
  """(enter, leave) [B]: where the line o + t d, t in R, enters and leaves the box [lo, hi]
  (slab test; enter > leave when it misses)."""
  # d_i = 0 becomes 1e-12: a slab the ray runs inside (or outside) of for any finite t.
  inv = 1.0 / tf.where(tf.abs(rays_d) < 1e-12, tf.constant(1e-12, rays_d.dtype), rays_d)
  t_lo, t_hi = (lo - rays_o) * inv, (hi - rays_o) * inv
  return (tf.reduce_max(tf.minimum(t_lo, t_hi), -1), tf.reduce_min(tf.maximum(t_lo, t_hi), -1))


def _clip(near, far, enter, leave):
  """(near, far, hit): [near, far] cut to [enter, leave]; rays that miss keep theirs."""
  clipped_near, clipped_far = tf.maximum(near, enter), tf.minimum(far, leave)
  hit = clipped_near < clipped_far
  return tf.where(hit, clipped_near, near), tf.where(hit, clipped_far, far), hit


def clip_to_box(rays_o, rays_d, near, far, box):
  """(near, far, hit) [B]: [near, far] cut to where o + t d lies inside the box
  ((x0, y0, z0), (x1, y1, z1)) (slab test), and whether the ray meets the box inside
  [near, far]. Rays that miss it keep [near, far], so that no section has zero length."""
  return _clip(near, far, *_slabs(rays_o, rays_d, tf.constant(box[0], rays_o.dtype),
                                  tf.constant(box[1], rays_o.dtype)))


def box_sphere(box):
  """(centre [3], radius): the sphere through the corners of a box ((x0, y0, z0), (x1, y1,
  z1)) as JSON lists or tuples, in numpy float64."""
  lo, hi = np.asarray(box, np.float64)
  return 0.5 * (lo + hi), 0.5 * float(np.linalg.norm(hi - lo))


def broadcast_rays(rays_o, rays_d, t):
  """Inputs of a point network at t [B, ...]: origin/direction [B, 3] broadcast to t's shape
  + [3], and t [B, ..., 1]."""
  shape = tf.concat([tf.shape(t), [3]], 0)
  extra = len(t.shape) - 1
  expand = lambda v: tf.reshape(v, tf.concat([tf.shape(v)[:1], [1] * extra, [3]], 0))
  return {"origin": tf.broadcast_to(expand(rays_o), shape),
          "direction": tf.broadcast_to(expand(rays_d), shape), "t": t[..., None]}
