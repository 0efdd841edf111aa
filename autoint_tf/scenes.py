"""View sets (images + cameras) for volume rendering: the built-in procedural scene and the
NeRF data formats (Blender `transforms_*.json`, LLFF `poses_bounds.npy`, tiny-NeRF `.npz`).

A `Views` holds images [V, H, W, 3] in [0, 1], camera-to-world poses [V, 4, 4] (OpenGL: -z
forward), the focal length in pixels, near/far bounds and the background colour the images
were composited on. `ray_batches` turns views into a `tf.data` pipeline of ray batches.

Notation: V views of H x W pixels; R rays (flat); B rays a batch. Rays as in rays.py.
"""

import dataclasses
import json
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from autoint_tf import io_utils
from autoint_tf import rays as rays_lib
from autoint_tf import rendering
from autoint_tf.configs import check_choice
from autoint_tf.configs import knob


@dataclasses.dataclass
class Views:
  images: np.ndarray            # [V, H, W, 3] float32 in [0, 1]
  poses: np.ndarray             # [V, 4, 4] float32 camera-to-world
  focal: float
  near: float
  far: float
  background: tuple = (0.0, 0.0, 0.0)
  name: str = ""
  ndc: bool = False             # LLFF forward-facing: rays in normalized device coordinates
  depth: Optional[np.ndarray] = None  # [V, H, W] reference depth, when known
  box: Optional[tuple] = None   # ((x0, y0, z0), (x1, y1, z1)): rays cut to it (rays.box_rays)
  box_source: str = "none"      # where the box came from (scenes.load)
  alpha: Optional[np.ndarray] = None  # [V, H, W] coverage in [0, 1], when known: images are
                                      # then premultiplied colour + (1 - alpha) * background
  pixel_center: float = 0.0     # where in its pixel a pixel's ray passes (rays.py): 0 NeRF's
                                # convention, 0.5 the centre

  @property
  def height(self):
    return int(self.images.shape[1])

  @property
  def width(self):
    return int(self.images.shape[2])

  def __len__(self):
    return int(self.images.shape[0])

  def subset(self, index):
    return dataclasses.replace(self, images=self.images[index], poses=self.poses[index],
                               depth=None if self.depth is None else self.depth[index],
                               alpha=None if self.alpha is None else self.alpha[index])

  def rays(self, index=None):
    """All rays of views `index` (default all), flat: dict of rays_o, rays_d [R, 3],
    near, far [R], rgb [R, 3]."""
    views = self if index is None else self.subset(index)
    rays_o, rays_d = rays_lib.camera_rays(views.poses, self.height, self.width, self.focal,
                                          pixel_center=self.pixel_center)
    rays_o, rays_d = tf.reshape(rays_o, [-1, 3]), tf.reshape(rays_d, [-1, 3])
    count = int(rays_o.shape[0])
    out = rays_lib.scene_rays(rays_o, rays_d, tf.fill([count], float(self.near)),
                              tf.fill([count], float(self.far)), self.ndc_camera, self.box)
    out = {k: v.numpy().astype(np.float32) for k, v in out.items()}
    out["rgb"] = views.images.reshape(-1, 3).astype(np.float32)
    return out

  def pixels_in_box(self):
    """Flat indices (view * H * W + row * W + column) of the pixels whose rays meet the box,
    or None without a box. The others show only the background (rays.scene_rays)."""
    if self.box is None:
      return None
    # One view at a time: memory of one view's rays.
    hits = [self.rays(slice(v, v + 1))["inside"] > 0 for v in range(len(self))]
    return np.flatnonzero(np.concatenate(hits)).astype(np.int64)

  @property
  def ndc_camera(self):
    """(height, width, focal) for NDC rays (forward-facing scenes), else None."""
    return (self.height, self.width, self.focal) if self.ndc else None

  def context(self):
    """What a model trained on these views needs to know at render time (JSON-able)."""
    return {"background": [float(c) for c in self.background], "near": float(self.near),
            "far": float(self.far), "ndc": bool(self.ndc), "height": self.height,
            "width": self.width, "focal": float(self.focal),
            "pixel_center": float(self.pixel_center),
            "box": None if self.box is None else [list(map(float, c)) for c in self.box],
            "box_source": self.box_source,
            # a camera of these views (c2w 4x4): where a viewer of the model starts
            "view_pose": np.asarray(self.poses[0], np.float64).tolist()}


def ray_batches(views, batch_size, seed=0, start_step=0, precrop_steps=0, precrop_fraction=0.5):
  """An endless tf.data pipeline of ray batches drawn uniformly (with replacement) from every
  pixel of every view: dicts of rays_o, rays_d [B, 3], near, far [B], rgb [B, 3] (and alpha
  [B] when the views have it).

  Batch k is a pure function of (seed, start_step + k): resuming at a step continues the same
  sequence. Rays are made from the poses on the fly, so memory holds only the images.
  Batches before step `precrop_steps` draw only from the central `precrop_fraction` of each
  image's height and width (NeRF's precrop: on object scenes the first steps then see the
  object, not mostly background, which can kill every density at the start).
  With a scene box, batches draw only from the pixels whose rays meet it (the others show the
  background whatever the model: `Views.pixels_in_box`).
  """
  images = tf.constant(views.images, tf.float32)
  alpha = None if views.alpha is None else tf.constant(views.alpha, tf.float32)
  poses = tf.constant(views.poses[:, :3, :4], tf.float32)
  v, h, w = len(views), views.height, views.width
  in_box = views.pixels_in_box()
  if in_box is not None and not len(in_box):
    raise ValueError(f"{views.name!r}: no ray of any view meets the scene box {views.box}; "
                     "give a --config.scene.box that contains the object (or auto).")
  in_box = None if in_box is None else tf.constant(in_box)

  def batch(index):
    seed_v = tf.stack([tf.cast(seed, tf.int64), index])
    if in_box is None:
      view = tf.random.stateless_uniform([batch_size], seed_v, 0, v, tf.int32)
      pix = tf.random.stateless_uniform([batch_size], seed_v + 7, 0, h * w, tf.int32)
    else:
      pick = tf.random.stateless_uniform([batch_size], seed_v, 0, tf.size(in_box, tf.int64),
                                         tf.int64)
      flat = tf.gather(in_box, pick)
      view, pix = tf.cast(flat // (h * w), tf.int32), tf.cast(flat % (h * w), tf.int32)
    row, col = pix // w, pix % w
    if precrop_steps:
      ch, cw = max(int(h * precrop_fraction), 1), max(int(w * precrop_fraction), 1)
      crop = tf.random.stateless_uniform([batch_size], seed_v + 7, 0, ch * cw, tf.int32)
      early = index < precrop_steps
      row = tf.where(early, (h - ch) // 2 + crop // cw, row)
      col = tf.where(early, (w - cw) // 2 + crop % cw, col)
    rays_o, rays_d = rays_lib.pixel_rays(tf.gather(poses, view), tf.stack(
        [tf.cast(col, tf.float32), tf.cast(row, tf.float32)], -1), views.focal, h, w,
        views.pixel_center)
    out = rays_lib.scene_rays(rays_o, rays_d, tf.fill([batch_size], float(views.near)),
                              tf.fill([batch_size], float(views.far)), views.ndc_camera,
                              views.box)
    where = tf.stack([view, row, col], -1)
    out.update(rgb=tf.gather_nd(images, where), index=index)
    if alpha is not None:
      out["alpha"] = tf.gather_nd(alpha, where)
    return out

  return (tf.data.Dataset.counter(start_step).map(batch, num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(tf.data.AUTOTUNE))


def silhouette_box(views, resolution=48, tolerance=1.5 / 255):
  """The bounding box ((x0, y0, z0), (x1, y1, z1)) of the scene's visual hull: the points
  that every view seeing them shows as foreground (a pixel that differs from the background
  colour by more than `tolerance`), among the points at least half of the views see. Carved
  twice on a grid of `resolution`^3: over the cube the cameras span, then over the box found,
  each grown by one cell on every side.

  For object captures on a plain background (Blender, tiny-NeRF npz); a forward-facing scene
  (NDC rays) has no background to carve with. The hull contains the object (silhouettes only
  remove empty space), so cutting rays to this box loses nothing the views can show.
  """
  if views.ndc:
    raise ValueError(f"{views.name!r} is a forward-facing scene (NDC rays): it has no plain "
                     "background to carve a bounding box from.")
  poses = np.asarray(views.poses, np.float32)[:, :3, :4]
  background = np.asarray(views.background, np.float32)
  masks = np.abs(views.images - background).max(-1) > tolerance   # [V, H, W] foreground
  # Grown by a pixel: a point of the object can project up to half a pixel off the nearest
  # pixel whose ray meets it.
  padded = np.pad(masks, ((0, 0), (1, 1), (1, 1)))
  masks = np.any([padded[:, 1 + i:1 + i + views.height, 1 + j:1 + j + views.width]
                  for i in (-1, 0, 1) for j in (-1, 0, 1)], 0)
  half = float(np.abs(poses[:, :, 3]).max())
  lo, hi = np.full(3, -half), np.full(3, half)
  for _ in range(2):
    axes = [np.linspace(a, b, resolution, dtype=np.float32) for a, b in zip(lo, hi)]
    cell = (hi - lo) / (resolution - 1)
    points = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    keep = np.ones(len(points), bool)
    seen = np.zeros(len(points), np.int32)
    for mask, pose in zip(masks, poses):
      with np.errstate(divide="ignore", invalid="ignore"):  # points in the camera's plane
        pixels, depth = rays_lib.project(pose, points, views.focal, views.height, views.width,
                                         with_depth=True, pixel_center=views.pixel_center)
        # The nearest pixel: pixel (i, j)'s ray runs through (i, j) exactly (rays.py).
        col, row = np.nan_to_num(np.floor(pixels + 0.5)).T
      inside = ((depth > 0) & (col >= 0) & (col < views.width) & (row >= 0) &
                (row < views.height))
      seen += inside
      c = np.clip(col, 0, views.width - 1).astype(np.int64)
      r = np.clip(row, 0, views.height - 1).astype(np.int64)
      keep &= ~inside | mask[r, c]
    keep &= seen >= max(len(views) // 2, 1)
    if not keep.any():
      raise ValueError(f"{views.name!r}: no point is foreground in every view that sees it; "
                       "are the images composited on the background colour "
                       f"{tuple(views.background)} (white_background)?")
    lo, hi = points[keep].min(0) - cell, points[keep].max(0) + cell
  return tuple(float(v) for v in lo), tuple(float(v) for v in hi)


# ---------------------------------------------------------------------------------------------
# The built-in procedural scene: coloured, semi-transparent Gaussian blobs.

@dataclasses.dataclass(frozen=True)
class BlobScene:
  """sigma(x) = sum_k a_k g_k(x), c(x) = sum_k a_k g_k(x) c_k / sigma(x),
  g_k(x) = exp(-|x - m_k|^2 / (2 s_k^2))."""
  centres: tuple = ((0.0, 0.0, 0.0), (0.55, 0.1, 0.15), (-0.4, 0.45, -0.1),
                    (0.05, -0.55, 0.35), (-0.3, -0.2, -0.45))
  scales: tuple = (0.32, 0.2, 0.22, 0.18, 0.25)
  densities: tuple = (6.0, 14.0, 10.0, 18.0, 8.0)
  colours: tuple = ((0.9, 0.85, 0.8), (0.9, 0.15, 0.1), (0.1, 0.7, 0.2), (0.15, 0.3, 0.95),
                    (0.95, 0.8, 0.1))

  def extent(self, spread=4.0):
    """The scene's box ((x0, y0, z0), (x1, y1, z1)): every blob's centre +- `spread` scales
    (outside it each blob's density is below exp(-spread^2 / 2) of its peak: 3e-4 at 4)."""
    centres, scales = np.asarray(self.centres), np.asarray(self.scales)[:, None]
    return (tuple(float(v) for v in (centres - spread * scales).min(0)),
            tuple(float(v) for v in (centres + spread * scales).max(0)))

  def fields(self, x):
    """(sigma [...], colour [..., 3]) at points x [..., 3] (TF)."""
    m = tf.constant(self.centres, x.dtype)
    s = tf.constant(self.scales, x.dtype)
    a = tf.constant(self.densities, x.dtype)
    g = a * tf.exp(-tf.reduce_sum(tf.square(x[..., None, :] - m), -1) / (2 * s**2))  # [..., K]
    sigma = tf.reduce_sum(g, -1)
    colour = tf.math.divide_no_nan(g @ tf.constant(self.colours, x.dtype), sigma[..., None])
    return sigma, colour


def reference_render(scene, rays, num_samples=512, background=(0.0, 0.0, 0.0), chunk=4096):
  """Dense midpoint quadrature of the volume rendering integral of an analytic scene over
  each ray's [near, far] (rays as `Views.rays` gives them, on a box's terms or not): dict of
  rgb [R, 3], depth [R], opacity [R]."""
  outs = []
  for i in range(0, len(rays["near"]), chunk):
    r = {k: tf.constant(v[i:i + chunk], tf.float64) for k, v in rays.items() if k != "rgb"}
    o, d = r["rays_o"], r["rays_d"]
    near, far = r["near"][:, None], r["far"][:, None]
    t = near + (far - near) * (tf.range(num_samples, dtype=tf.float64) + 0.5) / num_samples
    sigma, colour = scene.fields(o[:, None] + t[..., None] * d[:, None])
    delta = (far - near) / num_samples * tf.norm(d, axis=-1, keepdims=True) * tf.ones_like(t)
    rgb, depth, opacity, _ = rendering.composite(rendering.empty_outside_box(r, sigma), colour,
                                                delta, t, tf.constant(background, tf.float64))
    depth = rendering.callers_depth(r, depth, opacity)
    outs.append((rgb.numpy(), depth.numpy(), opacity.numpy()))
  return {k: np.concatenate([o[j] for o in outs]).astype(np.float32)
          for j, k in enumerate(("rgb", "depth", "opacity"))}


def procedural_views(num_train=40, num_test=8, size=32, scene=BlobScene(), radius=3.0,
                     background=(0.0, 0.0, 0.0), pixel_center=0.0, box=None):
  """(train, test) Views of the blob scene rendered by `reference_render` (deterministic),
  each pixel along its ray at `pixel_center` (rays.py); with a `box` (e.g. the scene's own
  `BlobScene.extent`), over the rays' segments inside it, else over [near, far].

  Training cameras sit on a spiral over the upper and lower hemispheres, test cameras in
  between (azimuths and elevations not in the training set).
  """
  focal = 0.5 * size / np.tan(0.5 * np.deg2rad(40.0))  # 40 degree field of view
  def views(poses, name):
    near, far = (0.0, UNBOUNDED) if box else (radius - 1.3, radius + 1.3)
    tmp = Views(np.zeros([len(poses), size, size, 3], np.float32), poses, float(focal),
                near, far, tuple(background), name, pixel_center=pixel_center, box=box)
    rays = tmp.rays()
    ref = reference_render(scene, rays, background=background)
    return dataclasses.replace(tmp, images=ref["rgb"].reshape(-1, size, size, 3),
                               depth=ref["depth"].reshape(-1, size, size),
                               alpha=ref["opacity"].reshape(-1, size, size))
  train = rays_lib.orbit_poses(num_train, radius, elevations_deg=(-30, -10, 10, 30, 50), turns=3)
  test = rays_lib.orbit_poses(num_test, radius, elevations_deg=(20, 0, 40, -20), turns=1,
                             phase_deg=22.5)
  return views(train, "blobs/train"), views(test, "blobs/test")


# ---------------------------------------------------------------------------------------------
# NeRF data formats.

def unit_pixels(array, where):
  """Pixel values as float32 in [0, 1], scaled as their dtype implies: uint8 / 255, uint16 /
  65535, bool as 0/1, floats as they are (floats whose maximum lies in (1.5, 255] are read as
  8-bit values and divided by 255). Refuses NaN/inf, negative values, floats above 255 or with
  a maximum in (1.001, 1.5] (HDR or a scale that is not evident) and other dtypes, naming
  `where` (the file, and the index when there is one)."""
  array = np.asarray(array)
  if array.dtype == np.uint8:
    return array.astype(np.float32) / 255.0
  if array.dtype == np.uint16:
    return array.astype(np.float32) / 65535.0
  if array.dtype == np.bool_:
    return array.astype(np.float32)
  if array.dtype.kind != "f":
    raise ValueError(f"{where}: pixels of dtype {array.dtype} are not images; give uint8, "
                     "uint16 or floats in [0, 1].")
  array = array.astype(np.float32)
  bad = ~np.isfinite(array)
  if bad.any():
    first = np.argwhere(bad)[0]
    raise ValueError(f"{where}: NaN or inf pixel at index {tuple(int(i) for i in first)}; "
                     "fix or drop that image.")
  low, high = float(array.min(initial=0.0)), float(array.max(initial=0.0))
  if low < 0 or high > 255 or 1.001 < high <= 1.5:  # (the last: neither scale is evident)
    raise ValueError(f"{where}: float pixels span [{low:g}, {high:g}]; give values in [0, 1] "
                     "(or 8-bit values in [0, 255]).")
  return array / 255.0 if high > 1.5 else np.minimum(array, 1.0)


def split_channels(image, where):
  """(rgb [H, W, 3], alpha [H, W] or None) of a gray [H, W], gray+alpha, RGB or RGBA image."""
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim != 3 or image.shape[-1] not in (1, 2, 3, 4) or min(image.shape[:2]) < 1:
    raise ValueError(f"{where}: an image of shape {image.shape}; expected [H, W] (gray) or "
                     "[H, W, C] with 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels.")
  colour = image[..., :1] if image.shape[-1] <= 2 else image[..., :3]
  alpha = image[..., -1] if image.shape[-1] in (2, 4) else None
  return np.broadcast_to(colour, image.shape[:2] + (3,)).astype(np.float32), alpha


def _exif_orientation(path):
  """The EXIF orientation tag of an image file (1, upright, when it has none)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(path) as image:
      return int(image.getexif().get(0x0112, 1) or 1)
  except Exception:  # pylint: disable=broad-except  (not a Pillow format: no EXIF to apply)
    return 1


def _read_image(path):
  """(rgb [H, W, 3], alpha [H, W] or None) in [0, 1] of an image file of any mode and bit depth
  (8/16-bit gray, gray + alpha, RGB, RGBA, palette)."""
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  if not os.path.exists(path):
    raise FileNotFoundError(f"Image {path!r} is missing.")
  try:
    # An EXIF orientation (a photo stored rotated) is applied, as image viewers show it.
    array = iio.imread(path, rotate=True) if _exif_orientation(path) > 1 else iio.imread(path)
  except Exception as e:  # pylint: disable=broad-except  (every reader error of a bad file)
    raise ValueError(f"Image {path!r} cannot be read ({type(e).__name__}: {e}); is it an "
                     "image file?") from None
  return split_channels(unit_pixels(array, f"Image {path!r}"), f"Image {path!r}")


def _same_sizes(images, names, what):
  sizes = {image.shape[:2] for image in images}
  if len(sizes) > 1:
    first = images[0].shape[:2]
    odd = next(n for n, image in zip(names, images) if image.shape[:2] != first)
    raise ValueError(f"{what}: images of different sizes ({first} for {names[0]!r}, "
                     f"{odd!r} differs); give every view at one size.")


RIGID_TOLERANCE = 1e-3  # of |RᵀR − I| and of the last row: float32 files are within 1e-6


def check_cameras(poses, where, focal=None):
  """Camera-to-world poses [V, 4, 4] (a [V, 3, 4] array gains its last row), finite and rigid
  (an orthonormal rotation part of determinant +1, last row [0, 0, 0, 1]); a finite positive
  focal length. Returns float32 poses."""
  poses = np.asarray(poses)
  if poses.dtype.kind not in "fiu":
    raise ValueError(f"{where}: poses of dtype {poses.dtype}; expected numbers.")
  if poses.ndim != 3 or poses.shape[1:] not in ((4, 4), (3, 4)):
    raise ValueError(f"{where}: poses of shape {poses.shape}; expected [V, 4, 4] "
                     "camera-to-world matrices (or [V, 3, 4]).")
  poses = poses.astype(np.float64)
  if poses.shape[1] == 3:
    poses = np.concatenate([poses, np.tile([[[0.0, 0, 0, 1]]], (len(poses), 1, 1))], 1)
  for i, pose in enumerate(poses):
    if not np.all(np.isfinite(pose)):
      raise ValueError(f"{where}: pose {i} contains NaN or inf.")
    rot = pose[:3, :3]
    det = np.linalg.det(rot)
    if abs(det) < 1e-6:
      raise ValueError(f"{where}: pose {i} has a singular rotation part; expected a "
                       "camera-to-world matrix.")
    if np.abs(pose[3] - [0.0, 0.0, 0.0, 1.0]).max() > RIGID_TOLERANCE:
      raise ValueError(f"{where}: pose {i} has the last row {np.round(pose[3], 4).tolist()}; "
                       "a camera-to-world matrix ends with [0, 0, 0, 1].")
    error = np.abs(rot.T @ rot - np.eye(3)).max()
    if error > RIGID_TOLERANCE or det < 0:
      scales = np.linalg.norm(rot, axis=0)
      what = ("a reflection (determinant −1: a flipped axis)" if det < 0 and error <=
              RIGID_TOLERANCE else f"not a rotation (column lengths "
              f"{', '.join(f'{v:.3g}' for v in scales)}, RᵀR off the identity by {error:.2g})")
      raise ValueError(f"{where}: the rotation part of pose {i} is {what}; a camera-to-world "
                       "pose is rigid: [R | t] with R orthonormal and det R = +1 (a scene "
                       "that was scaled scales t, not R). Fix the poses in the file.")
  if focal is not None and not (np.isfinite(focal) and focal > 0):
    raise ValueError(f"{where}: focal length {focal!r}; expected a finite number > 0 (pixels).")
  return poses.astype(np.float32)


def _downscale(image, factor):
  if factor == 1:
    return image
  h, w = image.shape[0] // factor * factor, image.shape[1] // factor * factor
  return image[:h, :w].reshape(h // factor, factor, w // factor, factor, -1).mean((1, 3))


def load_blender(root, split="train", downscale=1, white_background=True, max_views=None):
  """NeRF synthetic (Blender) views: transforms_{split}.json + RGBA PNGs, composited on white
  (NeRF's convention, needed to compare PSNR) or black; near 2, far 6."""
  path = os.path.join(root, f"transforms_{split}.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path!r} is missing: is {root!r} a NeRF Blender scene?")
  needs = ("it needs camera_angle_x (radians, in (0, pi)) and a non-empty list of frames, "
           "each with file_path and a 4x4 transform_matrix")
  try:
    with open(path) as f:
      meta = json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ValueError(f"{path!r} is not valid JSON ({e}); {needs}.") from None
  if not isinstance(meta, dict):
    raise ValueError(f"{path!r}: the top level is not an object; {needs}.")
  for field in ("camera_angle_x", "frames"):
    if field not in meta:
      raise ValueError(f"{path!r} has no {field!r}; {needs}.")
  try:
    angle = float(meta["camera_angle_x"])
  except (TypeError, ValueError):
    angle = float("nan")
  if not 0 < angle < np.pi:
    raise ValueError(f"{path!r}: camera_angle_x = {meta['camera_angle_x']!r}; {needs}.")
  frames = meta["frames"]
  if not isinstance(frames, list) or not frames:
    raise ValueError(f"{path!r}: 'frames' is empty or not a list; {needs}.")
  images, alphas, poses, files = [], [], [], []
  for i, frame in enumerate(frames[:max_views]):
    where = f"{path!r}, frames[{i}]"
    if not isinstance(frame, dict) or not isinstance(frame.get("file_path"), str):
      raise ValueError(f"{where} has no file_path string; {needs}.")
    if "transform_matrix" not in frame:
      raise ValueError(f"{where} ({frame['file_path']}) has no transform_matrix; {needs}.")
    try:
      matrix = np.asarray(frame["transform_matrix"], np.float64)
    except (TypeError, ValueError):
      matrix = np.zeros([0])
    if matrix.shape != (4, 4):
      raise ValueError(f"{where}: transform_matrix of shape {matrix.shape}; {needs}.")
    file = os.path.join(root, frame["file_path"])
    file = file if os.path.splitext(file)[1] else file + ".png"
    rgb, alpha = _read_image(file)
    if alpha is not None:
      bg = 1.0 if white_background else 0.0
      rgb = rgb * alpha[..., None] + bg * (1 - alpha[..., None])
    images.append(_downscale(rgb, downscale))
    alphas.append(None if alpha is None else _downscale(alpha[..., None], downscale)[..., 0])
    poses.append(matrix)
    files.append(file)
  _same_sizes(images, files, path)
  width = images[0].shape[1]
  focal = 0.5 * width / np.tan(0.5 * angle)
  bg = (1.0,) * 3 if white_background else (0.0,) * 3
  alpha = None if any(a is None for a in alphas) else np.stack(alphas).astype(np.float32)
  return Views(np.stack(images), check_cameras(np.stack(poses), repr(path)), float(focal), 2.0, 6.0,
               bg, f"{os.path.basename(os.path.normpath(root))}/{split}", alpha=alpha)


def load_npz(path, num_test=None, white_background=False):
  """tiny-NeRF style `.npz` (images [V, H, W, 3], poses [V, 4, 4], focal; optionally i_train,
  i_test and alpha [V, H, W]): (train, test) Views, near 2, far 6. Without i_test the last
  `num_test` = max(1, V // 10) views are the test split. Images are composited on black; with
  `white_background` and an alpha array, on white (images + 1 - alpha, NeRF's convention)."""
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path!r} is missing.")
  data = io_utils.load_numpy(path, "tiny-NeRF .npz")
  if not isinstance(data, np.lib.npyio.NpzFile):
    raise ValueError(f"{path!r} holds one array, not an .npz archive of images, poses and "
                     "focal.")
  with data:
    missing = {"images", "poses", "focal"} - set(data.keys())
    if missing:
      raise ValueError(f"{path!r} lacks {sorted(missing)}: a tiny-NeRF .npz has images, poses "
                       "and focal.")
    try:
      arrays = {k: data[k] for k in ("images", "poses", "focal", "alpha", "i_train", "i_test")
                if k in data}
    except Exception as e:  # pylint: disable=broad-except  (a damaged member)
      raise ValueError(f"{path!r} is damaged ({type(e).__name__}: {e}).") from None
  if arrays["focal"].size != 1 or arrays["focal"].dtype.kind not in "fiu":
    raise ValueError(f"{path!r}: focal must be one number (pixels), got shape "
                     f"{arrays['focal'].shape} of {arrays['focal'].dtype}.")
  focal = float(arrays["focal"].reshape(()))
  raw = arrays["images"]
  if raw.ndim != 4 or raw.shape[-1] not in (3, 4) or 0 in raw.shape:
    raise ValueError(f"{path!r}: images of shape {raw.shape}; expected [V, H, W, 3] (or RGBA).")
  images = unit_pixels(raw, f"{path!r} images")
  poses = check_cameras(arrays["poses"], f"{path!r}", focal)
  if len(images) != len(poses):
    raise ValueError(f"{path!r}: {len(images)} images but {len(poses)} poses.")
  if images.shape[-1] == 4 and "alpha" not in arrays:
    arrays["alpha"] = images[..., 3]
  images = images[..., :3]
  background, alpha = (0.0, 0.0, 0.0), None
  if "alpha" in arrays:
    alpha = unit_pixels(arrays["alpha"], f"{path!r} alpha")
    if alpha.shape != images.shape[:3]:
      raise ValueError(f"{path!r}: alpha of shape {alpha.shape}, images {images.shape[:3]}.")
  if white_background:
    if alpha is None:
      raise ValueError(f"{path!r} has no alpha array: it cannot be composited on white.")
    images = images + (1.0 - alpha[..., None])
    background = (1.0, 1.0, 1.0)
  views = Views(images, poses, focal, 2.0, 6.0, background, os.path.basename(path), alpha=alpha)
  if "i_test" in arrays:
    test = np.asarray(arrays["i_test"])
    train = np.asarray(arrays.get("i_train", np.setdiff1d(np.arange(len(views)), test)))
    for name, index in (("i_train", train), ("i_test", test)):
      if (index.dtype.kind not in "iu" or index.ndim != 1 or not index.size or
          index.min() < 0 or index.max() >= len(views)):
        raise ValueError(f"{path!r}: {name} must be a non-empty list of view indices in "
                         f"[0, {len(views)}).")
  else:
    n_test = num_test or max(1, len(views) // 10)
    train, test = np.arange(len(views) - n_test), np.arange(len(views) - n_test, len(views))
  return views.subset(train), views.subset(test)


def load_llff(root, factor=8, bd_factor=0.75, hold_every=8):
  """LLFF forward-facing views (poses_bounds.npy + images_{factor}/): NeRF's conversion from
  [down, right, backwards] to [right, up, backwards], bd_factor rescale, recentring, NDC rays;
  every `hold_every`-th image is the test split. Returns (train, test)."""
  path = os.path.join(root, "poses_bounds.npy")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path!r} is missing: is {root!r} an LLFF scene?")
  data = io_utils.load_numpy(path, "poses_bounds.npy")
  if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 17 or not len(data):
    raise ValueError(f"{path!r} has shape {getattr(data, 'shape', None)}: expected [V, 17] "
                     "(V >= 1).")
  if data.dtype.kind not in "fiu":
    raise ValueError(f"{path!r} holds {data.dtype}; expected numbers.")
  for i, row in enumerate(data):
    if not np.all(np.isfinite(row)):
      raise ValueError(f"{path!r}: row {i} contains NaN or inf.")
    if not 0 < row[15] < row[16]:
      raise ValueError(f"{path!r}: row {i} has bounds near {row[15]:g}, far {row[16]:g}; "
                       "expected 0 < near < far (NeRF rescales by the nearest bound).")
    if not np.all(row[[4, 9, 14]] > 0):
      raise ValueError(f"{path!r}: row {i} has [H, W, focal] = {row[[4, 9, 14]]}; expected "
                       "positive numbers.")
  poses = data[:, :15].reshape(-1, 3, 5)
  bounds = data[:, 15:]
  image_dir = os.path.join(root, f"images_{factor}")
  if not os.path.isdir(image_dir):
    raise FileNotFoundError(f"{image_dir!r} is missing (images downscaled by {factor}).")
  files = sorted(f for f in os.listdir(image_dir)
                 if f.lower().endswith((".png", ".jpg", ".jpeg")))
  if len(files) != len(poses):
    raise ValueError(f"{root!r}: {len(files)} images in {image_dir} but {len(poses)} poses in "
                     "poses_bounds.npy.")
  images = [_read_image(os.path.join(image_dir, f))[0] for f in files]
  _same_sizes(images, files, image_dir)
  images = np.stack(images)
  h, w, f = poses[0, :, 4]
  focal = float(f) * images.shape[1] / float(h)
  # [down, right, back] -> [right, up, back]
  rot = np.concatenate([poses[:, :, 1:2], -poses[:, :, 0:1], poses[:, :, 2:4]], -1)
  scale = 1.0 / (bounds.min() * bd_factor)
  rot[:, :, 3] *= scale
  bounds = bounds * scale
  check_cameras(rot, repr(path))
  c2w = _recentre(rot)
  poses4 = np.concatenate([c2w, np.tile([[[0, 0, 0, 1.0]]], (len(c2w), 1, 1))], 1)
  views = Views(images, poses4.astype(np.float32), focal, float(bounds.min() * 0.9),
                float(bounds.max()), (0.0, 0.0, 0.0), os.path.basename(os.path.normpath(root)),
                ndc=True)
  test = np.arange(0, len(views), hold_every)
  train = np.setdiff1d(np.arange(len(views)), test)
  return views.subset(train), views.subset(test)


def _recentre(poses):
  """NeRF's recenter_poses: express the poses [V, 3, 4] in the frame of their average pose."""
  centre = poses[:, :, 3].mean(0)
  z = poses[:, :, 2].sum(0)
  z /= np.linalg.norm(z)
  up = poses[:, :, 1].sum(0)
  x = np.cross(up, z)
  x /= np.linalg.norm(x)
  y = np.cross(z, x)
  avg = np.eye(4)
  avg[:3, :4] = np.stack([x, y, z, centre], 1)
  full = np.concatenate([poses, np.tile([[[0, 0, 0, 1.0]]], (len(poses), 1, 1))], 1)
  return (np.linalg.inv(avg) @ full)[:, :3, :4]


# ---------------------------------------------------------------------------------------------
# A scene as configured.

SCENE_FORMATS = ("blobs", "npz", "blender", "llff")


@dataclasses.dataclass
class SceneConfig:
  """Which views to train and test on, and the region their rays cover."""
  format: str = knob("blobs", "blobs (the built-in scene), npz (tiny-NeRF style), blender "
                     "(transforms_*.json) or llff (poses_bounds.npy, NDC rays).")
  data_path: str = knob("", "File or directory of the scene (npz, blender, llff).")
  downscale: int = knob(1, "blender: image downscale factor; llff: images_<factor>.")
  white_background: bool = knob(True, "blender/npz: composite on white (NeRF) or black.")
  pixel_center: float = knob(0.0, "Where in its pixel each pixel's ray passes: 0 NeRF's "
                             "convention, 0.5 the pixel's centre (rays.py).")
  image_size: int = knob(32, "blobs: the side of its rendered views.")
  near: float = knob(0.0, "Override the scene's near bound (0: the scene's); not for NDC.")
  far: float = knob(0.0, "Override the scene's far bound (0: the scene's); not for NDC.")
  box: tuple = knob(("default",), "The region the model covers; every ray is cut to its "
                    "segment inside it (a ray that misses it shows the background) and "
                    "training draws only rays that meet it. default: the built-in scene's "
                    "extent; the training views' visual hull where they carry alpha "
                    "(silhouette_box); for other object scenes the hull of the training "
                    "cameras' frusta between near and far; for LLFF the NDC volume its rays "
                    "already run in. auto: the visual hull; x0,y0,z0,x1,y1,z1: this box; "
                    "none: rays from the cameras' near to far.")

  def __post_init__(self):
    check_choice("config.scene.format", self.format, SCENE_FORMATS)
    rays_lib.check_pixel_center(self.pixel_center)
    if self.format != "blobs" and not self.data_path:
      raise ValueError(f"--config.scene.format={self.format} reads a scene from disk: give "
                       "--config.scene.data_path.")
    if tuple(self.box) not in BOX_WORDS:
      check_box(self.box)


BOX_WORDS = (("default",), ("auto",), ("none",), ())  # () is none (the setting before 12-03)
UNBOUNDED = 1e9  # a box scene's far: each ray runs to where it leaves the box


def check_box(values):
  """((x0, y0, z0), (x1, y1, z1)) from the six numbers of a box, or a ValueError naming it."""
  try:
    numbers = [float(v) for v in values]
  except (TypeError, ValueError):
    numbers = []
  if len(numbers) != 6 or not all(np.isfinite(numbers)) or not all(
      a < b for a, b in zip(numbers[:3], numbers[3:])):
    raise ValueError(f"--config.scene.box={','.join(map(str, values))}: give six numbers "
                     "x0,y0,z0,x1,y1,z1 with x0 < x1, y0 < y1, z0 < z1 (the scene's bounding "
                     "box in world units), or auto.")
  return tuple(numbers[:3]), tuple(numbers[3:])


def frusta_box(views):
  """The bounding box of the training cameras' frusta between near and far: the corners of
  every view's image at depth near and at far."""
  corners = np.array([[0, 0], [views.width - 1, 0], [0, views.height - 1],
                      [views.width - 1, views.height - 1]], np.float32)
  poses = np.repeat(np.asarray(views.poses, np.float32)[:, :3, :4], len(corners), 0)
  o, d = (v.numpy() for v in rays_lib.pixel_rays(poses, np.tile(corners, (len(views), 1)),
                                                 views.focal, views.height, views.width,
                                                 views.pixel_center))
  points = np.concatenate([o + t * d for t in (views.near, views.far)])  # d's z is -1: depth
  return tuple(float(v) for v in points.min(0)), tuple(float(v) for v in points.max(0))


def _read_scene(config, box=None):
  """(train, test) Views as the files (or the built-in scene, rendered over `box`) give them."""
  if config.format == "blobs":
    return procedural_views(size=config.image_size, pixel_center=config.pixel_center, box=box)
  if config.format == "npz":
    return load_npz(config.data_path, white_background=config.white_background)
  if config.format == "blender":
    kw = dict(downscale=config.downscale, white_background=config.white_background)
    return (load_blender(config.data_path, "train", **kw),
            load_blender(config.data_path, "test", **kw))
  return load_llff(config.data_path, factor=config.downscale)


def known_box(config):
  """(box or None, where it came from) of a SceneConfig when its views are not needed to
  find it (given numbers, none, the built-in scene's extent), else None."""
  word = tuple(config.box)
  if word in (("none",), ()):
    return None, "none"
  if word not in BOX_WORDS:
    return check_box(config.box), "given"
  if word == ("default",) and config.format == "blobs":
    return BlobScene().extent(), "the scene's extent"
  return None


def scene_box(config, train_views):
  """(box or None, where it came from) of a SceneConfig for its training views."""
  known = known_box(config)
  if known is not None:
    return known
  if tuple(config.box) == ("default",) and train_views.ndc:
    return None, "ndc"
  if tuple(config.box) == ("auto",) or train_views.alpha is not None:
    return silhouette_box(train_views), "the training views' visual hull"
  return frusta_box(train_views), "the training cameras' frusta"


def load(config):
  """(train, test) Views of a SceneConfig, with its pixel centre, near/far and box. With a
  box, a ray's segment is where it lies inside the box (near 0, far unbounded, unless
  --config.scene.near/far bound it too): a camera anywhere sees the scene."""
  known = known_box(config)
  # The built-in scene is rendered over the segments its model sees.
  train_views, test_views = _read_scene(config, known[0] if known else None)
  center = rays_lib.check_pixel_center(config.pixel_center)
  train_views = dataclasses.replace(train_views, pixel_center=center)  # (the hulls use it)
  if train_views.ndc and (config.near or config.far or tuple(config.box) not in (
      ("default",), ("none",), ())):
    raise ValueError(f"--config.scene.near/far/box: {train_views.name!r} is a forward-facing "
                     "scene whose NDC rays always run from 0 to 1 (its region is the NDC "
                     "volume); leave near and far at 0 and box at default.")
  box, source = known or scene_box(config, train_views)
  near = config.near or (0.0 if box else train_views.near)
  far = config.far or (UNBOUNDED if box else train_views.far)
  if not 0 <= near < far:
    raise ValueError(f"--config.scene.near={config.near:g} --config.scene.far={config.far:g}: "
                     f"need 0 < near < far (the scene's own bounds are {train_views.near:g} "
                     f"and {train_views.far:g}).")
  change = dict(near=near, far=far, box=box, box_source=source, pixel_center=center)
  return (dataclasses.replace(train_views, **change),
          dataclasses.replace(test_views, **change))
