"""Tests of autoint_tf.rays: camera rays against NeRF's get_rays, projection, NDC rays."""

import numpy as np
import pytest
import tensorflow as tf

from autoint_tf import rays
from autoint_tf import scenes


def _nerf_get_rays(h, w, focal, c2w):
  """NeRF's get_rays, written out independently in numpy."""
  i, j = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32), indexing="xy")
  dirs = np.stack([(i - w * .5) / focal, -(j - h * .5) / focal, -np.ones_like(i)], -1)
  rays_d = np.sum(dirs[..., None, :] * c2w[:3, :3], -1)
  return np.broadcast_to(c2w[:3, -1], rays_d.shape), rays_d


def test_camera_rays_match_nerf_get_rays_and_project_inverts_them():
  c2w = rays.look_at([1.0, -3.0, 2.0], target=[0.1, 0.2, -0.3])
  rays_o, rays_d = rays.camera_rays(c2w, 6, 10, 7.5)
  want_o, want_d = _nerf_get_rays(6, 10, 7.5, c2w)
  np.testing.assert_allclose(rays_o.numpy(), want_o, atol=1e-6)
  np.testing.assert_allclose(rays_d.numpy(), want_d, atol=1e-6)
  points = (rays_o + 2.7 * rays_d).numpy().reshape(-1, 3)
  np.testing.assert_allclose(rays.project(c2w, points, 7.5, 6, 10),
                             rays.pixel_grid(6, 10).reshape(-1, 2), atol=1e-4)
  # look_at is OpenGL: the camera's -z axis points at the target.
  forward = -c2w[:3, 2]
  np.testing.assert_allclose(forward, np.array([-0.9, 3.2, -2.3]) / np.linalg.norm([.9, 3.2, 2.3]),
                             atol=1e-12)


def test_pixel_centres_make_rays_symmetric_and_survive_area_downsampling():
  c2w = rays.look_at([1.0, -3.0, 2.0], target=[0.1, 0.2, -0.3])
  h, w, f = 6, 10, 7.5
  _, d = rays.camera_rays(np.eye(4, dtype=np.float32), h, w, f, pixel_center=0.5)
  # Closed form: pixel (i, j) looks through (i + 0.5 - W/2, -(j + 0.5 - H/2), -f) / f, so an
  # even image's rays are mirror images about the optical axis (NeRF's (i, j) rays are not).
  i, j = np.meshgrid(np.arange(w), np.arange(h), indexing="xy")
  np.testing.assert_allclose(d.numpy(), np.stack([(i + 0.5 - w / 2) / f, -(j + 0.5 - h / 2) / f,
                                                   -np.ones((h, w))], -1), atol=1e-6)
  np.testing.assert_allclose(d[:, ::-1, 0], -d[:, :, 0], atol=1e-6)
  np.testing.assert_allclose(d[::-1, :, 1], -d[:, :, 1], atol=1e-6)
  # project inverts camera_rays and pixel_rays with the same centre.
  rays_o, rays_d = rays.camera_rays(c2w, h, w, f, pixel_center=0.5)
  points = (rays_o + 2.7 * rays_d).numpy().reshape(-1, 3)
  grid = rays.pixel_grid(h, w).reshape(-1, 2)
  np.testing.assert_allclose(rays.project(c2w, points, f, h, w, pixel_center=0.5), grid,
                             atol=1e-4)
  o, d1 = rays.pixel_rays(np.repeat(c2w[None], len(grid), 0), grid, f, h, w, pixel_center=0.5)
  np.testing.assert_allclose(d1.numpy(), rays_d.numpy().reshape(-1, 3), atol=1e-6)
  # A point seen by an 8x finer camera (the 800 px originals of a 100 px image averaged over
  # each pixel's area) lands in the fine pixels that average into the coarse pixel it lands
  # in: fine (col + 0.5) = 8 (coarse col + 0.5). With NeRF's convention it is half a coarse
  # pixel off.
  point = points[:7]
  coarse = rays.project(c2w, point, f, h, w, pixel_center=0.5)
  fine = rays.project(c2w, point, 8 * f, 8 * h, 8 * w, pixel_center=0.5)
  np.testing.assert_allclose(fine + 0.5, 8 * (coarse + 0.5), atol=1e-6)
  nerf_fine = rays.project(c2w, point, 8 * f, 8 * h, 8 * w)
  nerf_coarse = rays.project(c2w, point, f, h, w)
  np.testing.assert_allclose(nerf_fine + 0.5 - 8 * (nerf_coarse + 0.5), -3.5, atol=1e-6)
  for bad in (-0.1, 1.0):
    with pytest.raises(ValueError, match=r"--pixel_center=.*: give where in its pixel"):
      rays.camera_rays(c2w, h, w, f, pixel_center=bad)


def test_ndc_rays_keep_width_with_x_and_height_with_y():
  h, w, f = 4, 8, 5.0
  views = scenes.Views(np.zeros((1, h, w, 3), np.float32), np.eye(4, dtype=np.float32)[None], f,
                       0.0, 1.0, ndc=True)
  rays = views.rays()
  o = rays["rays_o"].reshape(h, w, 3)
  # Pixel column i sits at NDC x = (i - W/2) / (W/2) and row j at y = -(j - H/2) / (H/2).
  np.testing.assert_allclose(o[0, :, 0], (np.arange(w) - w / 2) / (w / 2), atol=1e-6)
  np.testing.assert_allclose(o[:, 0, 1], -(np.arange(h) - h / 2) / (h / 2), atol=1e-6)
  np.testing.assert_allclose(o[..., 2], -1.0, atol=1e-6)


def test_spiral_poses_circle_the_average_camera_and_look_at_the_focus_point():
  # Forward-facing cameras spread in x and y around the origin, all looking down -z.
  offsets = np.array([[-1, 0, 0], [1, 0, 0], [0, -0.5, 0], [0, 0.5, 0], [0, 0, 0.2]])
  poses = np.tile(np.eye(4), (5, 1, 1))
  poses[:, :3, 3] = offsets
  near, far = 1.0, 10.0
  path = rays.spiral_poses(poses, near, far, 8, rotations=2, zrate=0.5, percentile=100)
  assert path.shape == (8, 4, 4)
  centre = offsets.mean(0)
  focus = 1.0 / (0.25 / near + 0.75 / (5 * far))  # NeRF's focus depth
  target = centre - np.array([0, 0, focus])
  radii = np.abs(offsets - centre).max(0)
  for k, pose in enumerate(path):
    theta = 2 * np.pi * 2 * k / 8
    eye = centre + radii * np.array([np.cos(theta), -np.sin(theta), -np.sin(0.5 * theta)])
    np.testing.assert_allclose(pose[:3, 3], eye, atol=1e-5)
    look = (target - eye) / np.linalg.norm(target - eye)
    np.testing.assert_allclose(-pose[:3, 2], look, atol=1e-5)  # OpenGL: -z looks forward
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-5)
    assert pose[1, 1] > 0.9  # +y stays up


def test_clip_to_box_cuts_each_ray_to_the_box_by_closed_forms():
  box = ((-1.0, -2.0, -0.5), (1.0, 2.0, 0.5))
  rays_o = tf.constant([[-5.0, 0.0, 0.0],    # along +x through the middle: x in [-1, 1]
                        [0.0, 6.0, 0.2],     # along -y at 2 units a t: y in [2, -2]
                        [-3.0, -4.0, 0.0],   # diagonal (1, 1, 0): enters at x = -1 (t = 2),
                                             # leaves at x = 1 (t = 4), y in [-2, 0] on the way
                        [0.0, 0.0, 3.0],     # along +x above the box: misses
                        [0.0, 0.0, 0.0]])    # starts inside: near stays, leaves at x = 1
  rays_d = tf.constant([[1.0, 0.0, 0.0], [0.0, -2.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0],
                        [1.0, 0.0, 0.0]])
  near, far = tf.constant([0.5, 0.5, 0.5, 0.5, 0.25]), tf.constant([10.0, 10.0, 10.0, 9.0, 0.75])
  clipped_near, clipped_far, hit = rays.clip_to_box(rays_o, rays_d, near, far, box)
  np.testing.assert_allclose(clipped_near.numpy(), [4.0, 2.0, 2.0, 0.5, 0.25], atol=1e-6)
  np.testing.assert_allclose(clipped_far.numpy(), [6.0, 4.0, 4.0, 9.0, 0.75], atol=1e-6)
  np.testing.assert_array_equal(hit.numpy(), [True, True, True, False, True])
  # scene_rays applies it on the lines' terms (box_rays): origin where the line enters the
  # box, unit direction, t in world units from there; the ray that misses is marked and put
  # at the box's centre on [0, 1]. Without a box the rays and bounds stay as given.
  out = {k: v.numpy() for k, v in rays.scene_rays(rays_o, rays_d, near, far, box=box).items()}
  r2 = np.sqrt(2.0)
  np.testing.assert_allclose(out["rays_o"], [[-1, 0, 0], [0, 2, 0.2], [-1, -2, 0], [0, 0, 0],
                                             [-1, 0, 0]], atol=1e-6)
  np.testing.assert_allclose(out["rays_d"], [[1, 0, 0], [0, -1, 0], [1 / r2, 1 / r2, 0],
                                             [1, 0, 0], [1, 0, 0]], atol=1e-6)
  np.testing.assert_allclose(out["near"], [0, 0, 0, 0, 1.25], atol=1e-6)
  np.testing.assert_allclose(out["far"], [2, 4, 2 * r2, 1, 1.75], atol=1e-6)
  np.testing.assert_array_equal(out["inside"], [1, 1, 1, 0, 1])
  # t_offset + t_scale * t maps the box's t back to the caller's (the entry points' t).
  np.testing.assert_allclose(out["t_offset"][[0, 1, 2, 4]], [4, 2, 2, -1], atol=1e-6)
  np.testing.assert_allclose(out["t_scale"], [1, 0.5, 1 / r2, 1, 1], atol=1e-6)
  plain = rays.scene_rays(rays_o, rays_d, near, far)
  np.testing.assert_array_equal(plain["far"].numpy(), far.numpy())
  assert "inside" not in plain


def test_clipped_rays_begin_and_end_on_the_box_faces():
  box = ((-0.6, -1.1, -0.5), (0.6, 1.1, 1.0))
  rng = np.random.default_rng(0)
  rays_o = rng.normal(size=[512, 3]) * 4
  rays_d = rng.uniform(-1.5, 1.5, size=[512, 3]) - rays_o  # towards points around the box
  near, far = np.zeros(512), np.full(512, 50.0)
  a, b, _ = (t.numpy() for t in rays.clip_to_box(tf.constant(rays_o), tf.constant(rays_d),
                                                tf.constant(near), tf.constant(far), box))
  hit = (a != near) | (b != far)
  lo, hi = np.array(box[0]), np.array(box[1])
  for t in (a[hit], b[hit]):
    x = rays_o[hit] + t[:, None] * rays_d[hit]
    assert np.all((x >= lo - 1e-9) & (x <= hi + 1e-9))
    on_face = np.isclose(x, lo, atol=1e-9) | np.isclose(x, hi, atol=1e-9)
    assert np.all(on_face.any(-1) | (t == 0))
  # Misses: no point of the ray in [near, far] is inside (checked by dense sampling).
  t = np.linspace(0, 50, 20001)
  x = rays_o[~hit, None] + t[:, None] * rays_d[~hit, None]
  assert not np.any(np.all((x >= lo) & (x <= hi), -1))
  assert 50 < hit.sum() < 500


def test_box_rays_are_the_same_from_any_camera_on_the_line_and_any_length_of_d():
  box = ((-1.0, -0.7, -1.2), (0.9, 1.1, 0.8))
  rng = np.random.default_rng(3)
  rays_o = rng.normal(size=[256, 3])  # cameras outside the box, 3 to 6 from its middle
  rays_o *= rng.uniform(3, 6, size=[256, 1]) / np.linalg.norm(rays_o, axis=-1, keepdims=True)
  rays_d = rng.uniform(-1.5, 1.5, size=[256, 3]) - rays_o  # towards points in and around it
  near, far = np.zeros(256), np.full(256, 1e9)
  def canonical(o, d):
    out = rays.scene_rays(tf.constant(o, tf.float32), tf.constant(d, tf.float32),
                          tf.constant(near, tf.float32), tf.constant(far, tf.float32), box=box)
    return {k: v.numpy() for k, v in out.items()}
  here = canonical(rays_o, rays_d)
  assert 0.2 < here["inside"].mean() < 0.9
  unit = rays_d / np.linalg.norm(rays_d, axis=-1, keepdims=True)
  # 50 units further back along each ray's line, d scaled by 1000 (and by 1/1000).
  for o, d in ((rays_o - 50 * unit, rays_d * 1000), (rays_o - 50 * unit, rays_d / 1000)):
    there = canonical(o, d)
    np.testing.assert_array_equal(there["inside"], here["inside"])
    hit = here["inside"] > 0
    for key in ("rays_o", "rays_d", "near", "far"):
      np.testing.assert_allclose(there[key][hit], here[key][hit], atol=2e-4)
    # The same world points: o + t d at the caller's t of the box's entry and exit.
    for t_box in ("near", "far"):
      t = there["t_offset"] + there["t_scale"] * there[t_box]
      np.testing.assert_allclose((o + t[:, None] * d)[hit],
                                 (here["rays_o"] + here[t_box][:, None] * here["rays_d"])[hit],
                                 atol=5e-3)
