"""Tests of autoint_tf.renderers: AutoInt rendering against closed-form integral networks and
dense quadrature, compositing, the sampling network, sample_pdf."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import erf
from tensorflow_graphics.rendering.volumetric import ray_radiance

from conftest import autoint_renderer
from conftest import quadrature_renderer
from autoint_tf import rays as rays_lib
from autoint_tf import renderers
from autoint_tf import rendering


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
  model = autoint_renderer(background, learned_sampling=False)
  model.phi = lambda x: tf.concat([field.sigma(x), field.color(x)], -1)
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
  ref, _, _, _ = rendering.composite(tf.constant(field.density(x)), tf.sigmoid(field.logits(x)),
                                    tf.constant(delta * np.ones_like(t)), tf.constant(t),
                                    tf.constant([0.2, 0.3, 0.4], tf.float64))
  errors = [np.max(np.abs(model.render(rays, n)["rgb"].numpy() - ref.numpy()))
            for n in (4, 16, 64, 256)]
  assert all(a > b for a, b in zip(errors, errors[1:])), errors
  assert errors[-1] < 2e-3 and errors[0] > 10 * errors[-1], errors


def _reference_render(field, rays, posts):
  """(rgb, opacity, depth, sigma, delta) of the closed-form field's section means at posts
  [B, N + 1] on a white background: compute_radiance, in float64 numpy where it can be."""
  posts = posts.astype(np.float64)
  io = {"origin": np.repeat(rays["rays_o"][:, None], posts.shape[1], 1),
        "direction": np.repeat(rays["rays_d"][:, None], posts.shape[1], 1), "t": posts[..., None]}
  phi_s, phi_c = field.sigma(io).numpy(), field.color(io).numpy()
  dt = np.diff(posts, axis=1)
  sigma = np.maximum(np.diff(phi_s[..., 0], axis=1) / dt, 0)
  color = 1 / (1 + np.exp(-np.diff(phi_c, axis=1) / dt[..., None]))
  delta = dt * np.linalg.norm(rays["rays_d"], axis=-1, keepdims=True)
  rgb, alpha, _ = ray_radiance.compute_radiance(
      tf.constant(np.concatenate([color, sigma[..., None]], -1), tf.float32),
      tf.constant(delta, tf.float32))
  return rgb.numpy() + (1 - alpha.numpy()), sigma, delta


def test_autoint_rendering_equals_compute_radiance_on_the_section_values():
  model, field = _analytic_renderer((1.0, 1.0, 1.0))
  rays = _rays(seed=1)
  out = model.render(rays, 8)
  posts = out["posts"].numpy().astype(np.float64)
  rgb, sigma, delta = _reference_render(field, rays, posts)
  np.testing.assert_allclose(out["rgb"].numpy(), rgb, atol=2e-5)
  # ... and compute_radiance is the NeRF compositing, written out here in numpy.
  a = 1 - np.exp(-sigma * delta)
  trans = np.cumprod(np.concatenate([np.ones_like(a[:, :1]), 1 - a[:, :-1]], 1), 1)
  np.testing.assert_allclose(out["opacity"].numpy(), np.sum(a * trans, 1), atol=2e-5)
  np.testing.assert_allclose(out["depth"].numpy(),
                             np.sum(a * trans * 0.5 * (posts[:, 1:] + posts[:, :-1]), 1),
                             rtol=1e-4)


def test_renders_at_nested_scales_are_the_renders_at_each_n_from_one_set_of_posts():
  # exact_renders(N = 4, S = 3): renders at 4, 8 and 16 sections from Phi at the 17 posts of the
  # finest. Unjittered, each is render() at its N; jittered, each coarse render's posts are
  # every 2nd / 4th fine post, and its colour is the closed form's section means at them.
  model, field = _analytic_renderer((1.0, 1.0, 1.0))
  rays = _rays(seed=2)
  outs = model.exact_renders(rays, 4, 3)
  assert len(outs) == 3
  for n, out in zip((4, 8, 16), outs):
    np.testing.assert_allclose(out["rgb"].numpy(), model.render(rays, n)["rgb"].numpy(),
                               atol=1e-6)
  u = tf.constant(np.random.default_rng(0).uniform(size=(16, 15)), tf.float32)
  model.loss_config = renderers.LossConfig(section_means="exact", post_jitter=1.0)
  moved = model.exact_renders(rays, 4, 3, u)
  fine = moved[-1]["posts"].numpy()
  np.testing.assert_allclose(fine, rendering.jitter_posts(model.posts(rays, 16), u, 1.0).numpy())
  for every, out in zip((4, 2, 1), moved):
    np.testing.assert_array_equal(out["posts"].numpy(), fine[:, ::every])
    np.testing.assert_allclose(out["rgb"].numpy(),
                               _reference_render(field, rays, fine[:, ::every])[0], atol=2e-5)
  assert np.abs(moved[0]["rgb"].numpy() - outs[0]["rgb"].numpy()).max() > 1e-3


def test_sampling_network_posts_span_near_far_for_any_n():
  model = autoint_renderer(num_sections=8, width=16, depth=1, sampler_width=16).build_all()
  rays = {k: tf.constant(v) for k, v in _rays(5).items()}
  posts8 = model.posts(rays, 8).numpy()
  np.testing.assert_allclose(posts8[:, 0], rays["near"], rtol=1e-6)
  np.testing.assert_allclose(posts8[:, -1], rays["far"], rtol=1e-5)
  assert np.all(np.diff(posts8, axis=1) >= 0.05 / 8 * (rays["far"] - rays["near"])[:, None] - 1e-6)
  np.testing.assert_allclose(model.posts(rays, 4).numpy(), posts8[:, ::2], rtol=1e-6)
  np.testing.assert_allclose(model.posts(rays, 16).numpy()[:, ::2], posts8, rtol=1e-6)


def test_gradients_reach_the_sampling_network_through_training_renders():
  model = autoint_renderer(num_sections=4, width=16, depth=2, sampler_width=16).build_all()
  rays = {k: tf.constant(v) for k, v in _rays(8).items()}
  with tf.GradientTape() as tape:
    out = model.sampled_render(rays, tf.random.uniform([8, 4, 4]))
    loss = tf.reduce_sum(out["rgb"])
  grads = tape.gradient(loss, model.sampler.trainable_variables)
  assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


def test_line_coordinates_are_the_closest_point_and_unit_direction_of_each_line():
  o = tf.constant([[0.0, 0.0, 5.0], [1.0, 2.0, 3.0]])
  d = tf.constant([[0.0, 0.0, -2.0], [0.5, -1.0, 0.25]])
  p, u = (x.numpy() for x in renderers.line_coordinates(o, d))
  np.testing.assert_allclose(p[0], [0, 0, 0], atol=1e-6)
  np.testing.assert_allclose(u[0], [0, 0, -1], atol=1e-6)
  np.testing.assert_allclose(np.linalg.norm(u, axis=-1), 1, rtol=1e-6)
  np.testing.assert_allclose(np.sum(p * u, -1), 0, atol=1e-5)  # p is the foot of the origin
  # p lies on the line, and its distance from the origin is |o x d| / |d|.
  on_line = np.cross(p - o.numpy(), d.numpy())
  np.testing.assert_allclose(on_line, 0, atol=1e-5)
  np.testing.assert_allclose(np.linalg.norm(p, axis=-1), np.linalg.norm(
      np.cross(o.numpy(), d.numpy()), axis=-1) / np.linalg.norm(d.numpy(), axis=-1), rtol=1e-5)


def test_a_line_sampler_gives_every_camera_on_one_line_the_same_sections():
  # sampler_input="line": a camera moved along the line (o - s d) and a rescaled d see the same
  # line, so the same fractions; the paper's (o, d) sampler tells them apart.
  rays = _rays(8, seed=4)
  o, d = (tf.constant(rays[k]) for k in ("rays_o", "rays_d"))
  for sampler_input, same in (("line", True), ("ray", False)):
    tf.random.set_seed(0)
    sampler = renderers.SamplingNetwork(renderers.SamplerConfig(
        num_sections=8, width=16, input=sampler_input))
    a, b = sampler(o, d).numpy(), sampler(o - 0.7 * d, 2.5 * d).numpy()
    gap = np.abs(a - b).max()
    assert (gap < 1e-5) if same else (gap > 1e-3), (sampler_input, gap)
  with pytest.raises(ValueError, match=r"--config.sampler.input=camera: choose one of ray, line"):
    renderers.SamplingNetwork(renderers.SamplerConfig(input="camera"))


def test_jittered_posts_move_by_at_most_half_the_shorter_section_and_keep_their_order():
  posts = tf.constant([[0.0, 1.0, 3.0, 4.0, 8.0]])          # sections 1, 2, 1, 4
  u = tf.constant([[1.0, 0.0, 0.5]])
  np.testing.assert_allclose(rendering.jitter_posts(posts, u, 1.0).numpy(),
                             [[0.0, 1.5, 2.5, 4.0, 8.0]])
  np.testing.assert_allclose(rendering.jitter_posts(posts, u, 0.5).numpy(),
                             [[0.0, 1.25, 2.75, 4.0, 8.0]])
  np.testing.assert_array_equal(rendering.jitter_posts(posts, u, 0.0).numpy(), posts.numpy())
  rng = np.random.default_rng(0)
  posts = tf.constant(np.cumsum(rng.exponential(size=(64, 9)), 1), tf.float32)
  moved = rendering.jitter_posts(posts, tf.constant(rng.uniform(size=(64, 7)), tf.float32), 1.0)
  np.testing.assert_array_equal(moved.numpy()[:, [0, -1]], posts.numpy()[:, [0, -1]])
  assert np.all(np.diff(moved.numpy(), axis=1) >= -1e-6)


def test_sample_pdf_inverts_the_cdf():
  bins = tf.constant([[0.0, 1.0, 3.0, 4.0]])
  weights = tf.constant([[1.0, 0.0, 3.0]])
  u = tf.constant([[0.0, 0.125, 0.4, 0.5, 1.0 - 1e-7]])
  np.testing.assert_allclose(rendering.sample_pdf(bins, weights, u).numpy(),
                             [[0.0, 0.5, 3.2, 3.0 + 1 / 3, 4.0]], atol=1e-3)


def test_shared_trunk_renderer_trains_renders_and_feeds_the_sampler():
  config = dict(num_sections=4, width=16, depth=2, sampler_width=16, shared_trunk=True,
                head_width=8, num_frequencies=4)
  model = autoint_renderer((1.0, 1.0, 1.0), **config).build_all()
  rays = {k: tf.constant(v) for k, v in _rays(6).items()}
  with tf.GradientTape() as tape:
    out = model.sampled_render(rays, tf.random.uniform([6, 4, 4]))
    loss = tf.reduce_sum(out["rgb"])
  grads = tape.gradient(loss, model.trainable_variables)
  # Every weight learns but the output biases of Phi (the constants of integration).
  unconnected = sorted(v.path.split("/", 1)[-1] for g, v in zip(grads, model.trainable_variables)
                       if g is None)
  assert unconnected == ["color/bias_1", "sigma/bias_0"], unconnected
  # Rendering with the integral network equals the midpoint rule of its grad network as the
  # training jitter samples it finely (the sections' means converge to the integrals).
  posts = model.posts(rays, 4)
  inputs = rays_lib.broadcast_rays(rays["rays_o"], rays["rays_d"], posts)
  phi_s, phi_c = model.integrals(inputs)
  m = 256
  t = posts[:, :-1, None] + (posts[:, 1:] - posts[:, :-1])[..., None] * (
      (np.arange(m) + 0.5) / m)
  f_s, f_c = model.integrands(rays_lib.broadcast_rays(rays["rays_o"], rays["rays_d"], t))
  dt = (posts[:, 1:] - posts[:, :-1]).numpy()
  np.testing.assert_allclose((phi_s[:, 1:] - phi_s[:, :-1]).numpy(),
                             f_s.numpy().mean(-1) * dt, rtol=2e-3, atol=2e-4)
  np.testing.assert_allclose((phi_c[:, 1:] - phi_c[:, :-1]).numpy(),
                             f_c.numpy().mean(-2) * dt[..., None], rtol=2e-3, atol=2e-4)
  baseline = quadrature_renderer((1.0, 1.0, 1.0), num_coarse=8, num_fine=8,
                                 **config).build_all()
  assert baseline.render(rays)["rgb"].shape == (6, 3)


def _twins(config, precision):
  """A float32 renderer and one in `precision` with the same (random) float32 weights."""
  ref = autoint_renderer(dtype="float32", **config).build_all()
  low = autoint_renderer(dtype=precision, **config).build_all()
  low.set_weights(ref.get_weights())
  return ref, low


@pytest.mark.parametrize("shared_trunk", [True, False])
def test_mixed_bfloat16_trains_in_bfloat16_and_renders_in_float32(shared_trunk):
  config = dict(num_frequencies=6, direction_frequencies=0, shared_trunk=shared_trunk,
                view_consistent_sigma=True)  # (the tiny model)
  ref, low = _twins(config, "mixed_bfloat16")
  assert {v.dtype for v in low.weights} == {"float32"}
  rng = np.random.default_rng(0)
  d = rng.normal(size=(64, 3)).astype(np.float32)
  rays = {"rays_o": tf.constant(-3.0 * d / np.linalg.norm(d, axis=-1, keepdims=True)),
          "rays_d": tf.constant(d / np.linalg.norm(d, axis=-1, keepdims=True)),
          "near": tf.fill([64], 1.7), "far": tf.fill([64], 4.3)}
  # Rendering (integral networks, Phi(b) - Phi(a)) is float32 in both: the same numbers.
  for n in (4, 8, 16):
    want, got = ref.render(rays, n), low.render(rays, n)
    for k in ("rgb", "depth", "opacity"):
      assert got[k].dtype == tf.float32
      np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), atol=1e-5)
  # Training renders run the grad networks in bfloat16: close to float32, not equal.
  jitter = tf.constant(rng.uniform(size=(64, 8, 4)), tf.float32)   # K = 8, M = 4
  net = low.grad
  inputs = rays_lib.broadcast_rays(rays["rays_o"], rays["rays_d"], tf.fill([64, 2], 2.5))
  assert net(inputs).dtype == tf.bfloat16
  want, got = ref.sampled_render(rays, jitter), low.sampled_render(rays, jitter)
  diff = np.abs(got["rgb"].numpy() - want["rgb"].numpy())
  assert 0 < diff.max() < 0.03, diff.max()
  # A training step: float32 gradients for every float32 variable, a finite loss.
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(tf.square(low.sampled_render(rays, jitter)["rgb"] - 0.5))
  grads = tape.gradient(loss, low.trainable_variables)
  assert np.isfinite(float(loss))
  assert all(g is None or g.dtype == tf.float32 for g in grads)
  assert sum(g is not None for g in grads) >= len(grads) - 2  # (last biases have no tangent)


def test_the_global_keras_policy_is_honoured():
  import keras  # pylint: disable=g-import-not-at-top
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    model = renderers.AutoIntRenderer().build_all()
  finally:
    keras.mixed_precision.set_global_policy("float32")
  assert model.phi.compute_dtype == "bfloat16" and model.sampler.compute_dtype == "bfloat16"
  assert {v.dtype for v in model.weights} == {"float32"}


def test_recompositing_a_render_equals_compositing_it_on_the_new_background():
  rng = np.random.default_rng(0)
  sigma = tf.constant(rng.uniform(0, 3, [50, 6]), tf.float32)
  color = tf.constant(rng.uniform(0, 1, [50, 6, 3]), tf.float32)
  delta = tf.constant(rng.uniform(0.05, 0.3, [50, 6]), tf.float32)
  t_mid = tf.cumsum(delta, -1)
  new = tf.constant(rng.uniform(0, 1, [50, 3]), tf.float32)      # a colour for each ray
  rgb, _, opacity, _ = rendering.composite(sigma, color, delta, t_mid, (1.0, 1.0, 1.0))
  want, _, _, _ = rendering.composite(sigma, color, delta, t_mid, new)
  np.testing.assert_allclose(rendering.recomposite(rgb, opacity, (1.0, 1.0, 1.0), new), want,
                             atol=1e-6)
  assert 0.1 < float(tf.reduce_min(opacity)) and float(tf.reduce_max(opacity)) < 0.999


def test_rays_that_miss_the_scene_box_show_the_background_in_both_renderers():
  background = (0.2, 0.5, 0.9)
  rays = _rays(12)
  inside = np.array([1, 0] * 6, np.float32)
  marked = {**rays, "inside": inside}
  autoint, _ = _analytic_renderer(background)
  config = dict(width=16, depth=2, num_frequencies=2, direction_frequencies=0,
                shared_trunk=True)
  quadrature = quadrature_renderer(background, num_coarse=8, num_fine=8, **config).build_all()
  jitter = tf.random.stateless_uniform([12, 8, 4], [0, 1])
  renders = [(autoint.render(rays, 8), autoint.render(marked, 8)),
             (autoint.sampled_render(rays, jitter), autoint.sampled_render(marked, jitter)),
             (quadrature.render(rays), quadrature.render(marked))]
  for plain, boxed in renders:
    hit, miss = inside == 1, inside == 0
    assert float(tf.reduce_min(tf.gather(plain["opacity"], np.flatnonzero(miss)))) > 1e-3
    np.testing.assert_allclose(boxed["rgb"].numpy()[miss], np.tile(background, (6, 1)),
                               atol=1e-7)
    np.testing.assert_array_equal(boxed["opacity"].numpy()[miss], 0.0)
    for key in ("rgb", "opacity", "depth"):
      np.testing.assert_allclose(boxed[key].numpy()[hit], plain[key].numpy()[hit], atol=1e-6)


def test_rays_that_only_graze_the_box_render_the_background_not_nan():
  # A ray through a corner of the box has near = far, or a few float32 steps apart (a lego
  # test pixel: 3.890334 and 3.8903358): its sections have zero length, Phi(b) - Phi(a) = 0.
  background = (0.2, 0.5, 0.9)
  rays = _rays(6)
  rays["near"][:2] = rays["far"][:2] = np.float32(3.890334)
  rays["near"][2], rays["far"][2] = np.float32(3.890334), np.float32(3.8903358)
  config = dict(width=16, depth=2, num_frequencies=2, direction_frequencies=0,
                shared_trunk=True)
  autoint = autoint_renderer(background, **config).build_all()
  quadrature = quadrature_renderer(background, num_coarse=8, num_fine=8, **config).build_all()
  jitter = tf.random.stateless_uniform([6, 8, 4], [0, 1])
  renders = [autoint.render(rays, n) for n in (4, 8, 16, 32)]
  renders += [autoint.sampled_render(rays, jitter), quadrature.render(rays)]
  for out in renders:
    for key in ("rgb", "opacity", "depth"):
      assert np.all(np.isfinite(out[key].numpy())), (key, out[key])
    np.testing.assert_allclose(out["opacity"].numpy()[:3], 0.0, atol=1e-5)
    np.testing.assert_allclose(out["rgb"].numpy()[:3], np.tile(background, (3, 1)), atol=1e-5)


@pytest.mark.parametrize("shared_trunk", [True, False])
def test_colour_that_sees_the_direction_only_cannot_tell_cameras_on_one_line_apart(shared_trunk):
  # color_orientation="direction": the colour network sees the point and the direction, not the
  # origin, so the same segment of the same line, reached from another camera position on it
  # (o - s d, [near + s, far + s]), renders the same; the paper's "ray" orientation tells the
  # two cameras apart. (Evenly spaced posts: the sampling network sees the origin either way;
  # two networks: sigma's sees only the point.)
  rays = _rays(8, seed=3)
  moved = dict(rays, rays_o=rays["rays_o"] - 0.7 * rays["rays_d"], near=rays["near"] + 0.7,
               far=rays["far"] + 0.7)
  for orientation, same in (("direction", True), ("ray", False)):
    config = dict(width=32, depth=2, head_width=16, learned_sampling=False,
                  shared_trunk=shared_trunk, view_consistent_sigma=True,
                  color_orientation=orientation)
    for make in (autoint_renderer, quadrature_renderer):
      tf.random.set_seed(0)
      model = make(**config).build_all()
      a, b = (model.render(r, 8) for r in (rays, moved))
      gap = np.abs(a["rgb"].numpy() - b["rgb"].numpy()).max()
      assert (gap < 1e-4) if same else (gap > 1e-3), (orientation, make.__name__, gap)
