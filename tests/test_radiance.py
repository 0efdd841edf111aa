"""Tests of cameras, the volume renderers and the view loaders."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import erf
from tensorflow_graphics.rendering.volumetric import ray_radiance

from autoint_tf import cameras
from autoint_tf import radiance
from autoint_tf import scenes
from conftest import SHARED_DATA

LEGO_NPZ = os.path.join(SHARED_DATA, "lego_100px.npz")
LEGO = os.path.join(SHARED_DATA, "nerf_synthetic_lego")
FERN = os.path.join(SHARED_DATA, "nerf_llff_fern")


def _nerf_get_rays(h, w, focal, c2w):
  """NeRF's get_rays, written out independently in numpy."""
  i, j = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32), indexing="xy")
  dirs = np.stack([(i - w * .5) / focal, -(j - h * .5) / focal, -np.ones_like(i)], -1)
  rays_d = np.sum(dirs[..., None, :] * c2w[:3, :3], -1)
  return np.broadcast_to(c2w[:3, -1], rays_d.shape), rays_d


def test_camera_rays_match_nerf_get_rays_and_project_inverts_them():
  c2w = cameras.look_at([1.0, -3.0, 2.0], target=[0.1, 0.2, -0.3])
  rays_o, rays_d = cameras.camera_rays(c2w, 6, 10, 7.5)
  want_o, want_d = _nerf_get_rays(6, 10, 7.5, c2w)
  np.testing.assert_allclose(rays_o.numpy(), want_o, atol=1e-6)
  np.testing.assert_allclose(rays_d.numpy(), want_d, atol=1e-6)
  points = (rays_o + 2.7 * rays_d).numpy().reshape(-1, 3)
  np.testing.assert_allclose(cameras.project(c2w, points, 7.5, 6, 10),
                             cameras.pixel_grid(6, 10).reshape(-1, 2), atol=1e-4)
  # look_at is OpenGL: the camera's -z axis points at the target.
  forward = -c2w[:3, 2]
  np.testing.assert_allclose(forward, np.array([-0.9, 3.2, -2.3]) / np.linalg.norm([.9, 3.2, 2.3]),
                             atol=1e-12)


class _AnalyticPhi:
  """Closed-form integral networks along rays: Phi_s = integral of a Gaussian blob's density
  (erf), Phi_c = integral of a colour pre-activation linear in x."""

  def __init__(self, centre, scale, amplitude, logit_w, logit_b):
    self.m, self.s, self.a = np.asarray(centre), scale, amplitude
    self.w, self.b = np.asarray(logit_w), np.asarray(logit_b)

  def density(self, x):
    return self.a * np.exp(-np.sum((x - self.m)**2, -1) / (2 * self.s**2))

  def logits(self, x):
    return x @ self.w + self.b

  def sigma(self, inputs):
    o, d, t = (np.asarray(inputs[k], np.float64) for k in ("origin", "direction", "t"))
    dd = np.sum(d * d, -1, keepdims=True)
    t0 = np.sum((self.m - o) * d, -1, keepdims=True) / dd      # closest approach
    r2 = np.sum((o + t0 * d - self.m)**2, -1, keepdims=True)
    k = np.sqrt(dd) / (np.sqrt(2) * self.s)
    out = (self.a * np.exp(-r2 / (2 * self.s**2)) * np.sqrt(np.pi) / (2 * k) *
           erf(k * (t - t0)))
    return tf.constant(out, tf.float32)

  def color(self, inputs):
    o, d, t = (np.asarray(inputs[k], np.float64) for k in ("origin", "direction", "t"))
    out = t * (o @ self.w + self.b) + 0.5 * t**2 * (d @ self.w)
    return tf.constant(out, tf.float32)


def _analytic_renderer(background):
  field = _AnalyticPhi([0.1, -0.2, 0.0], 0.35, 8.0, [[1.5, -1, 0.5], [0, 2, -1], [-1, 0.5, 1]],
                       [0.2, -0.3, 0.1])
  model = radiance.AutoIntRenderer(dataclasses.replace(radiance.ModelConfig(),
                                                       learned_sampling=False), background)
  model.phi_sigma, model.phi_color = field.sigma, field.color
  return model, field


def _rays(n=16, seed=0):
  rng = np.random.default_rng(seed)
  eye = rng.normal(size=(n, 3))
  eye = 3 * eye / np.linalg.norm(eye, axis=-1, keepdims=True)
  d = (rng.uniform(-.3, .3, (n, 3)) - eye) * rng.uniform(0.5, 1.5, (n, 1))  # unnormalized
  t_centre = 1.0 / rng.uniform(0.5, 1.5, n)
  return {"rays_o": eye.astype(np.float32), "rays_d": d.astype(np.float32),
          "near": (t_centre * 0.3).astype(np.float32), "far": (t_centre * 1.7).astype(np.float32)}


def test_autoint_rendering_converges_to_dense_quadrature_as_n_grows():
  model, field = _analytic_renderer((0.2, 0.3, 0.4))
  rays = _rays()
  # Dense reference of the same fields: sigma = density, colour = sigmoid(logits), 20k samples.
  s = 20000
  t = rays["near"][:, None] + (rays["far"] - rays["near"])[:, None] * (np.arange(s) + .5) / s
  x = rays["rays_o"][:, None] + t[..., None] * rays["rays_d"][:, None]
  delta = ((rays["far"] - rays["near"]) / s * np.linalg.norm(rays["rays_d"], axis=-1))[:, None]
  ref, _, _, _ = radiance.composite(tf.constant(field.density(x)), tf.sigmoid(field.logits(x)),
                                    tf.constant(delta * np.ones_like(t)), tf.constant(t),
                                    tf.constant([0.2, 0.3, 0.4], tf.float64))
  errors = [np.max(np.abs(model.render(rays, n)["rgb"].numpy() - ref.numpy()))
            for n in (4, 16, 64, 256)]
  assert all(a > b for a, b in zip(errors, errors[1:])), errors
  assert errors[-1] < 2e-3 and errors[0] > 10 * errors[-1], errors


def test_autoint_rendering_equals_compute_radiance_on_the_section_values():
  model, field = _analytic_renderer((1.0, 1.0, 1.0))
  rays = _rays(seed=1)
  out = model.render(rays, 8, return_weights=True)
  posts = out["posts"].numpy().astype(np.float64)
  inputs = lambda t: {k: np.repeat(v[:, None], posts.shape[1], 1) for k, v in
                      rays.items() if k.startswith("rays")} | {"t": t}
  io = inputs(posts[..., None])
  phi_s = field.sigma({"origin": io["rays_o"], "direction": io["rays_d"], "t": io["t"]}).numpy()
  phi_c = field.color({"origin": io["rays_o"], "direction": io["rays_d"], "t": io["t"]}).numpy()
  dt = np.diff(posts, axis=1)
  sigma = np.maximum(np.diff(phi_s[..., 0], axis=1) / dt, 0)
  color = 1 / (1 + np.exp(-np.diff(phi_c, axis=1) / dt[..., None]))
  delta = dt * np.linalg.norm(rays["rays_d"], axis=-1, keepdims=True)
  rgb, alpha, _ = ray_radiance.compute_radiance(
      tf.constant(np.concatenate([color, sigma[..., None]], -1), tf.float32),
      tf.constant(delta, tf.float32))
  np.testing.assert_allclose(out["rgb"].numpy(), rgb.numpy() + (1 - alpha.numpy()), atol=2e-5)
  # ... and compute_radiance is the NeRF compositing, written out here in numpy.
  a = 1 - np.exp(-sigma * delta)
  trans = np.cumprod(np.concatenate([np.ones_like(a[:, :1]), 1 - a[:, :-1]], 1), 1)
  np.testing.assert_allclose(out["opacity"].numpy(), np.sum(a * trans, 1), atol=2e-5)
  np.testing.assert_allclose(out["depth"].numpy(),
                             np.sum(a * trans * 0.5 * (posts[:, 1:] + posts[:, :-1]), 1),
                             rtol=1e-4)


def test_sampling_network_posts_span_near_far_for_any_n():
  model = radiance.AutoIntRenderer(radiance.ModelConfig(num_sections=8, width=16, depth=1,
                                                        sampler_width=16)).build_all()
  rays = {k: tf.constant(v) for k, v in _rays(5).items()}
  posts8 = model.posts(rays, 8).numpy()
  np.testing.assert_allclose(posts8[:, 0], rays["near"], rtol=1e-6)
  np.testing.assert_allclose(posts8[:, -1], rays["far"], rtol=1e-5)
  assert np.all(np.diff(posts8, axis=1) >= 0.05 / 8 * (rays["far"] - rays["near"])[:, None] - 1e-6)
  np.testing.assert_allclose(model.posts(rays, 4).numpy(), posts8[:, ::2], rtol=1e-6)
  np.testing.assert_allclose(model.posts(rays, 16).numpy()[:, ::2], posts8, rtol=1e-6)


def test_gradients_reach_the_sampling_network_through_training_renders():
  model = radiance.AutoIntRenderer(radiance.ModelConfig(num_sections=4, width=16, depth=2,
                                                        sampler_width=16)).build_all()
  rays = {k: tf.constant(v) for k, v in _rays(8).items()}
  with tf.GradientTape() as tape:
    out = model.render_training(rays, tf.random.uniform([8, 4, 4]))
    loss = tf.reduce_sum(out["rgb"])
  grads = tape.gradient(loss, model.sampler.trainable_variables)
  assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


def test_sample_pdf_inverts_the_cdf():
  bins = tf.constant([[0.0, 1.0, 3.0, 4.0]])
  weights = tf.constant([[1.0, 0.0, 3.0]])
  u = tf.constant([[0.0, 0.125, 0.4, 0.5, 1.0 - 1e-7]])
  np.testing.assert_allclose(radiance.sample_pdf(bins, weights, 5, u).numpy(),
                             [[0.0, 0.5, 3.2, 3.0 + 1 / 3, 4.0]], atol=1e-3)


def test_procedural_views_are_deterministic_and_show_the_scene():
  train, test = scenes.procedural_views(num_train=3, num_test=2, size=12)
  again, _ = scenes.procedural_views(num_train=3, num_test=2, size=12)
  np.testing.assert_array_equal(train.images, again.images)
  assert train.images.shape == (3, 12, 12, 3) and test.images.shape == (2, 12, 12, 3)
  # The scene (at the origin) is in the middle of every view, the corners see background.
  assert np.all(train.images[:, 6, 6].sum(-1) > 0.5)
  assert np.all(train.images[:, 0, 0].sum(-1) < 0.05)


def test_loader_errors_name_the_file(tmp_path):
  with pytest.raises(FileNotFoundError, match="transforms_train.json"):
    scenes.load_blender(str(tmp_path))
  (tmp_path / "transforms_train.json").write_text("{not json")
  with pytest.raises(ValueError, match="Malformed.*transforms_train.json"):
    scenes.load_blender(str(tmp_path))
  (tmp_path / "transforms_train.json").write_text(json.dumps(
      {"camera_angle_x": 0.7, "frames": [{"file_path": "./train/r_0",
                                          "transform_matrix": np.eye(4).tolist()}]}))
  with pytest.raises(FileNotFoundError, match="r_0.png"):
    scenes.load_blender(str(tmp_path))
  np.savez(tmp_path / "bad.npz", images=np.zeros((3, 4, 4, 3)), poses=np.zeros((2, 4, 4)), focal=1.)
  with pytest.raises(ValueError, match="bad.npz': 3 images but 2 poses"):
    scenes.load_npz(str(tmp_path / "bad.npz"))
  os.makedirs(tmp_path / "llff" / "images_8")
  np.save(tmp_path / "llff" / "poses_bounds.npy", np.zeros((2, 17)))
  with pytest.raises(ValueError, match="0 images in .*images_8 but 2 poses"):
    scenes.load_llff(str(tmp_path / "llff"))


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


def _needs(path):
  if not os.path.exists(path):
    pytest.skip(f"{path} is absent (the shared datasets are not on this machine)")


def _assert_object_at_origin(views, mask):
  """The lego sits at the world origin: it projects onto object pixels in every view."""
  for pose, m in zip(views.poses, mask):
    col, row = cameras.project(pose, np.zeros((1, 3)), views.focal, views.height,
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
  _needs(LEGO)
  blender = scenes.load_blender(LEGO, "train", downscale=8)
  assert blender.height == 100 and blender.background == (1.0, 1.0, 1.0)
  np.testing.assert_allclose(blender.focal, train.focal, rtol=1e-3)
  # r_0 of the Blender files is view 0 of the npz: the same pose and (area-downscaled) image.
  np.testing.assert_allclose(blender.poses[0], train.poses[0], atol=1e-5)
  # (The npz averaged premultiplied colour before compositing: edges differ a little.)
  assert np.mean(np.abs(blender.images[0] - white.images[0])) < 0.01
  assert np.mean(np.abs(blender.images[0] - white.images[1])) > 0.05
  # A point on the ray of a given pixel of view 0 reprojects into that pixel.
  rays = blender.rays(slice(0, 1))
  pix = 57 * 100 + 31
  point = rays["rays_o"][pix] + 4.0 * rays["rays_d"][pix]
  np.testing.assert_allclose(cameras.project(blender.poses[0], point[None], blender.focal, 100,
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


def test_a_few_hundred_steps_learn_the_procedural_scene(tmp_path):
  from autoint_tf import radiance_train as rt  # pylint: disable=g-import-not-at-top
  config = rt.TrainConfig(image_size=16, batch_size=512, steps=300, eval_every=1000,
                          checkpoint_every=1000, log_every=50)
  train, test = scenes.procedural_views(size=16)
  model, history = rt.train(config, train, test, str(tmp_path), progress=False)
  rows, _ = rt.evaluate(model, test, "autoint", sections=(8,))
  # Measured (seed 0, 300 steps): 20.4 dB on the 8 held-out views at N = 8; the training
  # views' mean colour scores 11.1 dB and a black image 7.7 dB. Floor: 19 dB.
  mean_colour = np.broadcast_to(train.images.mean((0, 1, 2)), test.images.shape)
  baseline, _ = rt.image_metrics(mean_colour, test.images)
  assert rows[0]["psnr"] > 19.0 and rows[0]["psnr"] > baseline + 5, (rows, baseline)


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


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
  from autoint_tf import radiance_train as rt  # pylint: disable=g-import-not-at-top
  config = rt.TrainConfig(image_size=8, batch_size=64, num_sections=4, steps=6,
                          checkpoint_every=3, log_every=100, eval_every=100)
  train, test = scenes.procedural_views(num_train=2, num_test=1, size=8)
  rt.train(config, train, test, str(tmp_path), progress=False)
  poisoned = dataclasses.replace(train, images=np.full_like(train.images, np.nan))
  with pytest.raises(FloatingPointError, match=r"at step 9.*ckpt-6.*is kept"):
    rt.train(dataclasses.replace(config, steps=12), poisoned, test, str(tmp_path),
             progress=False)
  assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-6")
  model, _ = rt.load_trained(str(tmp_path))
  assert all(np.all(np.isfinite(w)) for w in model.get_weights())
