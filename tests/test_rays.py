"""Tests of autoint_tf.rays: camera rays against NeRF's get_rays, projection, NDC rays."""

import numpy as np

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
