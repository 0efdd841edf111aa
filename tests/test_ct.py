"""Tests of autoint_tf.ct: the CT models, two evaluations vs quadrature, the interpolation
baseline, training on the engine (resume, minibatches), images, the CLI."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import app_config
from autoint_tf import ct
from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import metrics
from autoint_tf import sirt
from autoint_tf import tomography

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("octaves,samples,tol", [(6, 256, 1e-3), (10, 1024, 2e-4)])
@pytest.mark.parametrize("parameterization", ["ray", "point"])
def test_two_evaluations_equal_dense_quadrature_of_the_grad_network(parameterization, octaves,
                                                                    samples, tol):
  # The midpoint rule must resolve the highest PE octave (2^9 rad/unit at 10 octaves of an
  # untrained net): 256 samples do for 6 octaves, 10 octaves need 1024.
  lines = tomography.parallel_beam_lines(np.linspace(0, np.pi, 4, endpoint=False), 8)
  phi = (ct.ray_network(octaves, depth=2, width=32) if parameterization == "ray" else
         fields.PointIntegralNetwork(octaves, depth=2, width=32))
  grad = grad_net.GradNetwork(phi)
  inputs, t0, t1 = ct.flat_line_inputs(parameterization, lines)
  two = ct.line_integrals(phi, inputs, t0, t1).numpy()
  quad = ct.quadrature(grad, inputs, t0, t1, samples).numpy()
  assert np.max(np.abs(two - quad)) < tol * np.max(np.abs(quad))


@pytest.mark.parametrize("parameterization", ["ray", "point"])
def test_the_integral_data_term_is_the_integral_networks_difference_and_the_samples_limit(
    parameterization):
  # data_term=integral: each line's error is Phi(t_max) - Phi(t_min) - p (two evaluations,
  # exact); data_term=samples: chord x the mean of m stratified grad-network samples, whose
  # limit (m -> inf) is the same integral by the fundamental theorem of calculus.
  config = app_config(ct.Config, num_angles=8, num_detectors=8, subsample=2, width=16, depth=2,
                      num_frequencies=4, parameterization=parameterization)
  errors, weights = {}, None
  for term, m in (("integral", 1), ("samples", 2048)):
    task = ct.Task(app_config(config, data_term=term, samples_per_line=m), ct.scan_for(config),
                   *ct.split_views(config, 8))
    phi = task.build_model()  # (the samples' grad network is of this phi: one per task)
    weights = weights or phi.get_weights()
    phi.set_weights(weights)  # the same network for both terms
    errors[term], _ = task.loss(phi, next(iter(task.dataset(0))))
  phi_difference = ct.line_integrals(phi, task.inputs, task.t_min, task.t_max)
  np.testing.assert_allclose(errors["integral"], np.square(phi_difference - task.target),
                             rtol=1e-5, atol=1e-12)
  np.testing.assert_allclose(np.sqrt(errors["samples"]), np.sqrt(errors["integral"]),
                             atol=2e-3 * float(np.max(np.abs(task.target))))


def test_interpolation_baseline_is_exact_on_kept_angles_and_wraps_at_pi():
  angles = np.arange(8) * np.pi / 8
  sino = tomography.radon(tomography.SHEPP_LOGAN, tomography.parallel_beam_lines(angles, 6))
  kept = np.arange(0, 8, 4)
  interp = ct.interpolate_angles(sino[kept], angles[kept], angles)
  np.testing.assert_allclose(interp[kept], sino[kept])
  # Between the last kept view (index 4) and pi (index 8 = view 0 flipped in rho).
  np.testing.assert_allclose(interp[6], 0.5 * (sino[4] + sino[0, ::-1]))
  # Fan beam: periodic over 2 pi, no flip; kept views in any order.
  full = np.arange(8) * 2 * np.pi / 8
  fan = ct.interpolate_angles(sino[[4, 0]], full[[4, 0]], full, 2 * np.pi, flip=False)
  np.testing.assert_allclose(fan[6], 0.5 * (sino[4] + sino[0]))
  np.testing.assert_allclose(fan[1], 0.75 * sino[0] + 0.25 * sino[4])


def test_short_training_fits_the_kept_angles(tmp_path):
  config = app_config(ct.Config, num_angles=16, num_detectors=16, subsample=4, steps=300, width=64,
                       samples_per_line=8)
  report, out = ct.train_and_evaluate(config, progress=False)
  assert out["prediction"].shape == (16, 16)
  # 300 steps already fit the 4 kept views well beyond a constant guess (~6 dB).
  assert report["psnr_train_views"] > 20, report


def test_cli_writes_sinograms_metrics_and_figure(tmp_path):
  subprocess.run([sys.executable, "-m", "train.tomography", f"--workdir={tmp_path}",
                  "--config.loop.steps=5", "--config.num_angles=16", "--config.num_detectors=16",
                  "--config.width=16", "--config.parameterization=point"],
                 cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
  written = json.loads((tmp_path / "metrics.json").read_text())
  assert set(written) >= {"psnr_heldout_autoint", "psnr_heldout_interpolation"}
  data = np.load(tmp_path / "sinogram.npz")
  assert data["prediction"].shape == (16, 16)
  assert data["point_image"].shape == (16, 16)
  assert set(written) >= {"psnr_image_autoint", "psnr_image_fbp", "image_direction_std"}
  assert os.path.getsize(tmp_path / "ct.png") > 0
  assert list((tmp_path / "tb").iterdir()) and (tmp_path / "checkpoints" / "checkpoint").exists()


def test_point_image_reads_the_grad_network_at_pixel_centres():
  # A stand-in grad network that returns the phantom at the point: image = raster, std = 0.
  def grad(inputs):
    return tomography.attenuation(tomography.SHEPP_LOGAN, inputs["origin"])[:, None]
  fake = lambda inputs: tf.constant(grad(inputs))
  directions = np.stack([np.cos([0.1, 1.0, 2.0]), np.sin([0.1, 1.0, 2.0])], -1)
  image, std = ct.point_image(fake, 32, directions, chunk=1000)
  want = tomography.rasterize(tomography.SHEPP_LOGAN, 32, supersample=1)
  inside = np.sum(tomography.pixel_centres(32)**2, -1) < 1
  np.testing.assert_allclose(image[inside], want[inside])
  assert np.all(std == 0) and np.all(image[~inside] == 0)


@pytest.mark.parametrize("batch_lines,parameterization,priors", [
    (0, "ray", {}), (8, "point", {"tv_weight": 1e-3, "nonnegative_weight": 1.0,
                                  "prior_weight": 1.0, "prior_iterations": 20})])
def test_resume_after_a_crash_continues_exactly(tmp_path, batch_lines, parameterization, priors):
  config = app_config(ct.Config, num_angles=8, num_detectors=8, subsample=2, width=16, depth=2,
                     samples_per_line=4, steps=12, checkpoint_every=6, batch_lines=batch_lines,
                     parameterization=parameterization, **priors)
  straight, _ = ct.train_and_evaluate(config, workdir=str(tmp_path / "a"), progress=False)
  # "Crash" after the checkpoint at step 6, then rerun the full job on the same workdir.
  ct.train_and_evaluate(app_config(config, steps=6), workdir=str(tmp_path / "b"),
                        progress=False)
  resumed, out = ct.train_and_evaluate(config, workdir=str(tmp_path / "b"), progress=False)
  _, ref = ct.train_and_evaluate(config, workdir=str(tmp_path / "a"), progress=False)
  for w0, w1 in zip(out["phi"].get_weights(), ref["phi"].get_weights()):
    np.testing.assert_array_equal(w0, w1)  # op determinism: bit for bit
  assert resumed["psnr_heldout_autoint"] == pytest.approx(straight["psnr_heldout_autoint"],
                                                          abs=1e-4)


def test_minibatches_of_lines_are_drawn_by_seed_and_step():
  config = app_config(ct.Config, num_angles=8, num_detectors=8, subsample=2, batch_lines=8)
  task = ct.Task(config, ct.scan_for(config), *ct.split_views(config, 8))
  first = [b["line"].numpy() for b in task.dataset(0).take(3)]
  again = [b["line"].numpy() for b in task.dataset(1).take(2)]
  # 8 of the 32 kept lines a step; step 1 is the same whether the pipeline starts at 0 or 1.
  assert task.global_batch_size == 8 and all(len(b) == 8 and b.max() < 32 for b in first)
  np.testing.assert_array_equal(first[1], again[0])
  assert not np.array_equal(first[0], first[1])


def test_fan_beam_point_model_trains_and_gives_an_image():
  config = app_config(ct.Config, geometry="fan", num_angles=16, num_detectors=24, subsample=2, width=64,
                       parameterization="point", steps=300, samples_per_line=8)
  report, out = ct.train_and_evaluate(config, progress=False)
  assert out["point_image"].shape == (24, 24)
  truth = out["truth"][out["kept"]]
  constant = metrics.psnr(np.full_like(truth, truth.mean()), truth, np.ptp(out["truth"]))
  # 300 steps are far from converged, but well past the best constant sinogram (~10 dB) ...
  assert report["psnr_train_views"] > constant + 4, (constant, report)
  # ... with an image positively correlated with the phantom (an untrained net scores ~0).
  inside = out["image"] > 0
  assert np.corrcoef(out["point_image"][inside], out["image"][inside])[0, 1] > 0.15, report


@pytest.mark.parametrize("radius", [1.0, 2.0])
def test_point_image_is_in_the_scans_units_at_any_radius(radius):
  # The exact field (the phantom) as the grad network, in the unit field of view the networks
  # see: the image must equal the phantom, not the phantom / radius.
  geometry = {"type": "parallel", "num_detectors": 48, "num_angles": 16, "radius": radius,
              "angle_range": [0, np.pi]}
  scan = ct.ct_data.phantom_scan("shepp_logan", geometry)
  exact = lambda inputs: tf.constant(tomography.attenuation(
      tomography.SHEPP_LOGAN, radius * np.asarray(inputs["origin"], np.float64))[:, None])
  config = app_config(ct.Config, parameterization="point", depth=1, width=8)
  kept, held = ct.split_views(config, 16)
  report, out = ct.evaluate(config, scan, ct.make_model(config), exact, kept, held)
  inside = out["image"] != 0
  ratio = out["point_image"][inside].mean() / out["image"][inside].mean()
  assert ratio == pytest.approx(1.0, abs=0.03), ratio
  assert report["psnr_image_autoint"] > 20, report
  assert report["image_direction_std"] == 0.0


def test_limited_angle_interpolation_does_not_wrap_across_the_missing_arc():
  angles = np.deg2rad(np.arange(10) * 10.0)  # 0..90 degrees of a fan beam's 360
  sino = np.stack([np.full(3, a) for a in angles])  # each view's value is its angle
  kept = np.arange(0, 10, 3)  # 0, 30, 60, 90 degrees
  interp = ct.interpolate_angles(sino[kept], angles[kept], angles, 2 * np.pi, flip=False)
  np.testing.assert_allclose(interp[:, 0], angles)  # linear inside the arc: exact
  beyond = ct.interpolate_angles(sino[kept], angles[kept], np.deg2rad([100.0, 350.0]),
                                 2 * np.pi, flip=False)
  np.testing.assert_allclose(beyond[:, 0], np.deg2rad([90.0, 0.0]))  # the nearer end


@pytest.mark.parametrize("field,expected", [
    # f = x: consistent; TV = E|e . grad f| = E|cos| = 2 / pi; negative = E[x^2; x < 0] = 1/8.
    (lambda x, u: x[:, :1], {"consistency": 0.0, "tv": 2 / np.pi, "negative": 1 / 8}),
    # f = u_x - 2: inconsistent, E (cos a - cos b)^2 = 1; constant in space (TV = eps floor);
    # always negative: E (cos a - 2)^2 = 4.5.
    (lambda x, u: u[:, :1] - 2.0, {"consistency": 1.0, "tv": 1e-3, "negative": 4.5}),
])
def test_prior_losses_match_their_closed_forms_on_known_fields(field, expected):
  def grad(inputs):  # a stand-in grad network: f(x, u) at x = origin + t u
    x = inputs["origin"] + inputs["t"] * inputs["direction"]
    return field(x, inputs["direction"])
  seed = tf.constant([3, 4], tf.int64)
  losses = ct.prior_losses(grad, seed, 200_000, tv_step=1e-3)
  for name, value in expected.items():
    assert abs(float(losses[name]) - value) < 0.01 * max(value, 0.1), (name, losses)
  assert float(ct.consistency_loss(grad, seed, 200_000)) == pytest.approx(
      float(losses["consistency"]))
  assert "tv" not in ct.prior_losses(grad, seed, 10, tv_step=0.0)


def test_prior_losses_see_only_the_scan_directions_and_the_support_disc():
  def grad_of(field):
    return lambda inputs: field(inputs["origin"] + inputs["t"] * inputs["direction"],
                                inputs["direction"])
  seed = tf.constant([7, 8], tf.int64)
  directions = tf.constant([[1.0, 0.0], [0.0, 1.0]])  # the scan's: two
  centre, radius = np.array([0.3, -0.2]), 0.5
  # f = u_x - 2 along (1, 0) or (0, 1), each half the time: u and v differ half the time,
  # E (u_x - v_x)^2 = 1/2; E (u_x - 2)^2 = (1 + 4) / 2.
  losses = ct.prior_losses(grad_of(lambda x, u: u[:, :1] - 2.0), seed, 200_000, 0.0,
                           directions=directions, disc=(centre, radius))
  assert float(losses["consistency"]) == pytest.approx(0.5, abs=0.01)
  assert float(losses["negative"]) == pytest.approx(2.5, abs=0.02)
  # f = -|x - c|^2 at points uniform in the disc: E |x - c|^4 = r^4 / 3; f = -1 outside it
  # would count: nothing does.
  squared = lambda x: tf.reduce_sum(tf.square(x - centre.astype(np.float32)), -1,
                                    keepdims=True)
  losses = ct.prior_losses(grad_of(lambda x, u: -squared(x)), seed, 200_000, 0.0,
                           directions=directions, disc=(centre, radius))
  assert float(losses["negative"]) == pytest.approx(radius**4 / 3, rel=0.01)
  outside = ct.prior_losses(grad_of(lambda x, u: -tf.cast(squared(x) > radius**2, tf.float32)),
                            seed, 10_000, 0.0, directions=directions, disc=(centre, radius))
  assert float(outside["negative"]) == 0.0


@pytest.mark.parametrize("angles,period,expected", [
    (np.deg2rad(np.arange(0, 30, 0.5)), 2 * np.pi, "scan"),  # a 30-degree fan-beam arc
    (np.linspace(0, np.pi, 16, endpoint=False), np.pi, "circle"),  # parallel, all round
])
def test_auto_prior_directions_are_the_scans_on_a_limited_arc_only(angles, period, expected):
  assert ct.prior_direction_mode("auto", angles, period) == expected
  assert ct.prior_direction_mode("circle", angles, period) == "circle"
  assert ct.prior_direction_mode("scan", angles, period) == "scan"


def test_image_prior_loss_is_the_mean_squared_distance_to_the_prior():
  image = tf.constant(tomography.rasterize(tomography.SHEPP_LOGAN, 32), tf.float32)
  seed = tf.constant([5, 6], tf.int64)

  def stand_in(field):
    return lambda inputs: field(inputs["origin"] + inputs["t"] * inputs["direction"],
                                inputs["direction"])
  at = lambda x: sirt.sample(image, x)[:, None]  # I(x), as the prior reads it
  # f = I along every direction: zero; f = I + u_1: E cos^2 = 1/2, whatever I is.
  same = ct.prior_losses(stand_in(lambda x, u: at(x)), seed, 100_000, 0.0, image)
  shifted = ct.prior_losses(stand_in(lambda x, u: at(x) + u[:, :1]), seed, 100_000, 0.0, image)
  assert float(same["image"]) < 1e-10
  assert float(shifted["image"]) == pytest.approx(0.5, abs=0.01)
  assert "image" not in ct.prior_losses(stand_in(lambda x, u: u[:, :1]), seed, 10, 0.0)


def test_image_prior_puts_one_image_behind_all_views():
  # 4 of 16 views: the image prior (the TV reconstruction of the kept views) must make the
  # point model better on held-out views and as an image than the same run without it.
  base = app_config(ct.Config, num_angles=16, num_detectors=32, subsample=4, parameterization="point",
                   activation="sine", width=64, steps=150, samples_per_line=8,
                   consistency_points=2048, prior_iterations=300)
  scan = ct.scan_for(base)
  plain, _ = ct.train_and_evaluate(base, scan, progress=False)
  prior, _ = ct.train_and_evaluate(app_config(base, prior_weight=1.0,
                                                       consistency_weight=0.0),
                                   scan, progress=False)
  # Measured: image 18.9 dB against 16.5 without the prior, held-out views 25.9 against 22.2.
  assert prior["psnr_image_autoint"] > plain["psnr_image_autoint"] + 1.5, (plain, prior)
  assert prior["psnr_heldout_autoint"] > plain["psnr_heldout_autoint"] + 2, (plain, prior)
  # The prior's own numbers (its image, its reprojection) are reported beside AutoInt's.
  assert {"psnr_image_tv", "psnr_heldout_tv"} <= set(prior) and "psnr_heldout_tv" not in plain


def test_the_ray_models_field_over_space_is_its_grad_network_on_the_canonical_line():
  # The ray model read at points (its priors and image) against its grad network on the
  # lines built by tomography.lines_through(...).canonical() in numpy: either orientation of
  # the direction, and a point given as origin + t direction.
  phi = ct.ray_network(num_frequencies=3, depth=2, width=16, activation="sine")
  grad = grad_net.GradNetwork(phi, variables=("t",))
  rng = np.random.default_rng(0)
  x = rng.uniform(-0.6, 0.6, (7, 2))
  a = rng.uniform(0, 2 * np.pi, 7)
  u = np.stack([np.cos(a), np.sin(a)], -1)
  lines = tomography.lines_through(x, u).canonical()
  rho, theta = lines.rho_theta()
  t = np.sum((x - lines.origin) * lines.direction, -1)
  expected = grad({"rho": rho[:, None].astype(np.float32),
                   "theta": (theta / np.pi)[:, None].astype(np.float32),
                   "t": t[:, None].astype(np.float32)}).numpy()
  field = ct.point_field(grad, "ray")
  for sign in (1.0, -1.0):
    got = field({"origin": (x - 0.3 * sign * u).astype(np.float32),
                 "direction": (sign * u).astype(np.float32),
                 "t": np.full((7, 1), 0.3, np.float32)}).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
  assert ct.point_field(grad, "point") is grad


def test_the_ray_model_takes_the_priors_only_when_one_beyond_consistency_is_asked_for():
  ray = ct.Config(parameterization="ray")
  assert not ct.uses_priors(ray)  # the paper's loss alone, whatever consistency_weight says
  assert ct.uses_priors(dataclasses.replace(ray, prior_weight=1.0))
  assert ct.uses_priors(dataclasses.replace(ray, tv_weight=1e-3))
  assert ct.uses_priors(ct.Config(parameterization="point"))  # its consistency loss
  assert not ct.uses_priors(ct.Config(parameterization="point", consistency_weight=0.0))


@pytest.mark.parametrize("settings,message", [
    ({"parameterization": "point", "prior_weight": -1.0},
     "--config.prior_weight=-1.0 must be >= 0"),
    ({"parameterization": "point", "prior_weight": 1.0, "prior_iterations": 0},
     "--config.prior_iterations=0 must be >= 1"),
])
def test_prior_settings_that_would_be_ignored_or_wrong_are_refused(settings, message):
  config = app_config(ct.Config, num_angles=8, num_detectors=8, subsample=2, **settings)
  with pytest.raises(ValueError, match=message):
    ct.Task(config, ct.scan_for(config), *ct.split_views(config, 8))


def test_the_ray_models_line_encoding_is_plain_and_old_runs_restore_as_trained():
  config = ct.Config(parameterization="ray")
  assert config.line_encoding == "plain"
  encoders = lambda phi: [phi.encoders[k].normalized for k in ("rho", "theta", "t")]
  assert encoders(ct.make_network(config)) == [False, False, True]  # t keeps 1/2^k
  # A run written before the knob existed has no line_encoding in its context: normalized.
  assert encoders(ct.make_model(config, {"radius": 1.0})) == [True, True, True]
  assert encoders(ct.make_model(config, {"radius": 1.0, "line_encoding": "plain"})) == [
      False, False, True]
  with pytest.raises(ValueError, match="line_encoding=fourier: choose one of plain, normalized"):
    ct.Config(line_encoding="fourier")


def test_the_support_is_the_fitted_disc_when_the_object_is_one_and_refused_when_not():
  config = app_config(ct.Config, geometry="fan", num_angles=24, num_detectors=96, subsample=2)
  phantom = ct.scan_for(config)
  kept, _ = ct.split_views(config, 24)
  assert ct.with_support(config, phantom, kept) is phantom  # auto: Shepp-Logan is no disc
  with pytest.raises(ValueError, match="--config.support=disc: the support's tangents fit no "
                                       "disc .* use --config.support=fov"):
    ct.with_support(app_config(config, support="disc"), phantom, kept)
  disc = np.array([[1.0, 0.5, 0.5, 0.2, -0.1, 0.0]])
  scan = dataclasses.replace(phantom, sinogram=tomography.radon(disc, phantom.lines))
  cut = ct.with_support(config, scan, kept)
  np.testing.assert_allclose(cut.support["fitted"]["centre"], [0.2, -0.1], atol=5e-3)
  assert cut.support["radius"] == pytest.approx(0.5 * (1 + ct.SUPPORT_MARGIN), abs=5e-3)
  # every chord is cut to the disc; the line integrals of what lies inside are unchanged
  chords = cut.lines.t_max - cut.lines.t_min
  assert np.max(chords) <= 2 * cut.support["radius"] + 1e-9 and np.sum(chords == 0) > 0
  np.testing.assert_allclose(tomography.radon(disc, cut.lines), scan.sinogram, atol=1e-9)
  assert ct.with_support(app_config(config, support="fov"), scan, kept) is scan
  # Four views fit any convex object to a circle: a disc needs ct.SUPPORT_VIEWS of them.
  assert ct.support_disc(scan, kept[:4]) == (None, "fit_disc: 4 view(s) hold the whole object "
                                                   "inside the detector; the disc needs 8.")
