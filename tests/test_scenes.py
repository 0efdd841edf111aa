"""Tests of autoint_tf.scenes: the procedural scene, the NeRF data loaders, ray batches."""

import dataclasses
import json
import os

import numpy as np
import pytest

from autoint_tf import rays as rays_lib
from autoint_tf import scenes
from conftest import SHARED_DATA


LEGO_NPZ = os.path.join(SHARED_DATA, "lego_100px.npz")


LEGO = os.path.join(SHARED_DATA, "nerf_synthetic_lego")


FERN = os.path.join(SHARED_DATA, "nerf_llff_fern")


def test_procedural_views_are_deterministic_and_show_the_scene():
  train, test = scenes.procedural_views(num_train=3, num_test=2, size=12)
  again, _ = scenes.procedural_views(num_train=3, num_test=2, size=12)
  np.testing.assert_array_equal(train.images, again.images)
  assert train.images.shape == (3, 12, 12, 3) and test.images.shape == (2, 12, 12, 3)
  # The scene (at the origin) is in the middle of every view, the corners see background.
  assert np.all(train.images[:, 6, 6].sum(-1) > 0.5)
  assert np.all(train.images[:, 0, 0].sum(-1) < 0.05)


def _needs(path):
  if not os.path.exists(path):
    pytest.skip(f"{path} is absent (the shared datasets are not on this machine)")


def _assert_object_at_origin(views, mask):
  """The lego sits at the world origin: it projects onto object pixels in every view."""
  for pose, m in zip(views.poses, mask):
    col, row = rays_lib.project(pose, np.zeros((1, 3)), views.focal, views.height,
                               views.width)[0]
    assert m[int(row), int(col)], (col, row)
    # The principal point: Blender cameras look (nearly) at the origin.
    assert abs(col - views.width / 2) < 0.2 * views.width


def test_lego_npz_and_blender_share_cameras_and_land_on_the_object():
  _needs(LEGO_NPZ)
  train, test = scenes.load_npz(LEGO_NPZ)
  assert len(train) == 100 and len(test) == 25 and train.height == 100
  with np.load(LEGO_NPZ) as data:
    alpha = data["alpha"]
  _assert_object_at_origin(train.subset(slice(0, 10)), alpha[:10] > 0.5)
  white, _ = scenes.load_npz(LEGO_NPZ, white_background=True)
  np.testing.assert_allclose(white.images[0, 0, 0], 1.0)
  # Both keep the coverage: the white images are the black ones + 1 - alpha.
  np.testing.assert_array_equal(white.alpha, alpha[:100])
  np.testing.assert_allclose(white.images, train.images + 1 - alpha[:100, ..., None], atol=1e-6)
  _needs(LEGO)
  blender = scenes.load_blender(LEGO, "train", downscale=8)
  assert blender.height == 100 and blender.background == (1.0, 1.0, 1.0)
  np.testing.assert_allclose(blender.focal, train.focal, rtol=1e-3)
  # r_0 of the Blender files is view 0 of the npz: the same pose and (area-downscaled) image.
  np.testing.assert_allclose(blender.poses[0], train.poses[0], atol=1e-5)
  # (The npz averaged premultiplied colour before compositing: edges differ a little.)
  assert np.mean(np.abs(blender.images[0] - white.images[0])) < 0.01
  assert np.mean(np.abs(blender.images[0] - white.images[1])) > 0.05
  assert np.mean(np.abs(blender.alpha[0] - white.alpha[0])) < 0.01
  # A point on the ray of a given pixel of view 0 reprojects into that pixel.
  rays = blender.rays(slice(0, 1))
  pix = 57 * 100 + 31
  point = rays["rays_o"][pix] + 4.0 * rays["rays_d"][pix]
  np.testing.assert_allclose(rays_lib.project(blender.poses[0], point[None], blender.focal, 100,
                                             100)[0], [31, 57], atol=1e-3)


def test_llff_fern_loads_with_nerf_conventions():
  _needs(FERN)
  train, test = scenes.load_llff(FERN, factor=8)
  assert len(train) == 17 and len(test) == 3  # every 8th image (0, 8, 16) held out
  assert (train.height, train.width) == (378, 504)
  np.testing.assert_allclose(train.focal, 3260.5 / 8, rtol=2e-3)
  # Recentred: the average camera is the identity, all cameras look down -z (forward-facing).
  poses = np.concatenate([train.poses, test.poses])
  np.testing.assert_allclose(poses[:, :3, 3].mean(0), 0, atol=1e-5)
  assert np.all(poses[:, 2, 2] > 0.9)
  rays = test.rays(slice(0, 1))
  assert np.all(np.abs(rays["rays_o"][:, :2]) < 1.5) and np.allclose(rays["rays_o"][:, 2], -1,
                                                                      atol=1e-4)


def test_ray_batches_are_pixels_of_the_views_and_repeatable():
  train, _ = scenes.procedural_views(num_train=2, num_test=1, size=6)
  all_rays = train.rays()
  batch = next(iter(scenes.ray_batches(train, 32, seed=3, start_step=5)))
  again = next(iter(scenes.ray_batches(train, 32, seed=3, start_step=5)))
  np.testing.assert_array_equal(batch["rgb"].numpy(), again["rgb"].numpy())
  for o, d, rgb in zip(batch["rays_o"].numpy(), batch["rays_d"].numpy(), batch["rgb"].numpy()):
    k = np.argmin(np.sum((all_rays["rays_o"] - o)**2 + (all_rays["rays_d"] - d)**2, -1))
    np.testing.assert_allclose(all_rays["rays_o"][k], o, atol=1e-5)
    np.testing.assert_allclose(all_rays["rays_d"][k], d, atol=1e-5)
    np.testing.assert_allclose(all_rays["rgb"][k], rgb)


def test_silhouette_box_bounds_a_sphere_from_its_silhouettes():
  centre, radius = np.array([0.3, -0.2, 0.1]), 0.5
  train, _ = scenes.procedural_views(num_train=24, num_test=1, size=32)
  rays = train.rays()
  o, d = rays["rays_o"], rays["rays_d"]
  t = np.sum((centre - o) * d, -1) / np.sum(d * d, -1)        # closest approach to the centre
  miss = np.linalg.norm(o + t[:, None] * d - centre, axis=-1)
  images = np.where(miss < radius, 0.8, 0.0)[:, None] * np.ones(3)
  sphere = dataclasses.replace(train, images=images.reshape(train.images.shape).astype(np.float32))
  lo, hi = map(np.array, scenes.silhouette_box(sphere))
  # Contains the sphere (the hull contains the object), and not by much: 24 views of 32 px
  # (a pixel is ~0.05 units at the sphere) and two cells of the 48^3 carving grid.
  assert np.all(lo <= centre - radius) and np.all(hi >= centre + radius), (lo, hi)
  assert np.all(lo > centre - radius - 0.2) and np.all(hi < centre + radius + 0.2), (lo, hi)
  with pytest.raises(ValueError, match=r"no point is foreground.*white_background"):
    scenes.silhouette_box(dataclasses.replace(sphere, images=np.zeros_like(sphere.images)))
  with pytest.raises(ValueError, match=r"forward-facing"):
    scenes.silhouette_box(dataclasses.replace(sphere, ndc=True))


def test_precrop_batches_draw_from_the_central_half_then_from_everywhere():
  train, _ = scenes.procedural_views(num_train=2, num_test=1, size=4)
  h, w = 20, 30
  rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
  images = np.stack([rows / 100, cols / 100, np.zeros_like(rows, float)], -1)
  views = dataclasses.replace(train, images=np.broadcast_to(
      images, (2, h, w, 3)).astype(np.float32), focal=20.0, alpha=None)
  batches = iter(scenes.ray_batches(views, 2000, seed=3, precrop_steps=2))
  for step in range(3):
    rgb = next(batches)["rgb"].numpy()
    r, c = np.round(rgb[:, 0] * 100), np.round(rgb[:, 1] * 100)
    if step < 2:  # the central 10 x 15 pixels: rows 5..14, columns 7..21
      assert (r.min(), r.max(), c.min(), c.max()) == (5, 14, 7, 21)
    else:
      assert (r.min(), r.max(), c.min(), c.max()) == (0, h - 1, 0, w - 1)
  # Resuming at step 1 continues the same sequence.
  again = next(iter(scenes.ray_batches(views, 2000, seed=3, start_step=1, precrop_steps=2)))
  first = iter(scenes.ray_batches(views, 2000, seed=3, precrop_steps=2))
  next(first)
  np.testing.assert_array_equal(next(first)["rgb"].numpy(), again["rgb"].numpy())


def test_point_samples_read_the_fine_image_where_the_coarse_rays_pass():
  from benchmarks import pixel_ceiling  # pylint: disable=g-import-not-at-top
  factor, size = 8, 40
  rows, cols = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
  ramp = np.stack([rows, cols, 3 * rows - cols], -1)     # linear: bilinear lookups are exact
  k = np.arange(size // factor)
  for center in (0.0, 0.5):
    out = pixel_ceiling.point_samples(ramp, factor, center)
    where = factor * (k + center)                        # the rays' points, corner at 0
    inside = slice(1, None) if center == 0 else slice(None)  # NeRF's k = 0 is clamped
    np.testing.assert_allclose(out[inside, inside, 0], np.broadcast_to(
        where[:, None], out.shape[:2])[inside, inside], atol=1e-9)
    np.testing.assert_allclose(out[inside, inside, 1], np.broadcast_to(
        where[None, :], out.shape[:2])[inside, inside], atol=1e-9)
  # At the centre of an even block the lookup is the mean of its four middle pixels.
  block = np.random.default_rng(0).random((size, size, 3))
  middle = block.reshape(5, 8, 5, 8, 3)[:, 3:5, :, 3:5].mean((1, 3))
  np.testing.assert_allclose(pixel_ceiling.point_samples(block, 8, 0.5), middle, atol=1e-12)
