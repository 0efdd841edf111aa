"""Tests of CT geometry, the phantom's closed-form Radon transform and the CT models."""

import numpy as np
import pytest

from autoint_tf import ct
from autoint_tf import grad_net
from autoint_tf import tomography


def _numeric_line_integrals(image, lines, step=1.0 / 1024):
  """Line integrals of a rasterized [S, S] image (nearest pixel) by dense sampling."""
  size = image.shape[0]
  out = np.zeros(lines.shape)
  for idx in np.ndindex(lines.shape):
    n = max(int(np.ceil((lines.t_max[idx] - lines.t_min[idx]) / step)), 1)
    t = lines.t_min[idx] + (np.arange(n) + 0.5) * (lines.t_max[idx] - lines.t_min[idx]) / n
    p = lines.origin[idx] + t[:, None] * lines.direction[idx]
    col = np.clip(((p[:, 0] + 1) / 2 * size).astype(int), 0, size - 1)
    row = np.clip(((1 - p[:, 1]) / 2 * size).astype(int), 0, size - 1)
    out[idx] = np.sum(image[row, col]) * (lines.t_max[idx] - lines.t_min[idx]) / n
  return out


@pytest.mark.parametrize("geometry", ["parallel", "fan"])
def test_closed_form_radon_matches_integration_of_the_rasterized_phantom(geometry):
  ellipses = tomography.MODIFIED_SHEPP_LOGAN
  angles = np.linspace(0, np.pi, 7, endpoint=False) + 0.1
  if geometry == "parallel":
    lines = tomography.parallel_beam(angles, 23)
  else:
    lines = tomography.fan_beam(angles * 2, 3.0, 5.0, 0.08, 23)
  image = tomography.rasterize(ellipses, 1024, supersample=1)
  exact = tomography.radon(ellipses, lines)
  numeric = _numeric_line_integrals(image, lines)
  scale = np.max(np.abs(exact))
  # Nearest-pixel sampling of a 1024^2 raster errs by ~1 pixel per edge crossing.
  assert np.mean(np.abs(exact - numeric)) < 4e-3 * scale
  assert np.max(np.abs(exact - numeric)) < 3e-2 * scale
  # ... while a phantom with the 18-degree ellipses mirrored is far off: the check bites.
  mirrored = ellipses.copy()
  mirrored[2:4, 5] *= -1
  assert np.max(np.abs(tomography.radon(mirrored, lines) - numeric)) > 5e-2 * scale


def test_radon_of_a_disc_is_its_chord_length():
  disc = np.array([[1.5, 0.5, 0.5, 0.0, 0.0, 0.0]])
  lines = tomography.parallel_beam([0.3], 9)
  rho = lines.origin[0] @ np.array([np.cos(0.3), np.sin(0.3)])
  want = 1.5 * 2 * np.sqrt(np.maximum(0.25 - rho**2, 0))
  np.testing.assert_allclose(tomography.radon(disc, lines)[0], want, atol=1e-12)


def test_fan_beam_lines_pass_through_source_and_detector_pixel_centres():
  # Hand-computed case: beta = 0, source at (2, 0), flat detector at x = -2, pixels 0.5 apart.
  src, det = tomography.fan_beam_endpoints([0.0], 2.0, 4.0, 0.5, 3)
  np.testing.assert_allclose(src, [[2.0, 0.0]])
  np.testing.assert_allclose(det[0], [[-2.0, -0.5], [-2.0, 0.0], [-2.0, 0.5]], atol=1e-12)
  lines = tomography.fan_beam([0.0, 0.7, 2.0], 2.0, 4.0, 0.5, 3)
  src, det = tomography.fan_beam_endpoints([0.0, 0.7, 2.0], 2.0, 4.0, 0.5, 3)
  for idx in np.ndindex(lines.shape):
    for point in (src[idx[0]], det[idx]):
      off = point - lines.origin[idx]
      cross = off[0] * lines.direction[idx][1] - off[1] * lines.direction[idx][0]
      assert abs(cross) < 1e-12  # the point lies on the line
  # The central ray goes through the centre: foot point at the origin, chord = diameter.
  np.testing.assert_allclose(lines.origin[:, 1], 0.0, atol=1e-12)
  np.testing.assert_allclose(lines.t_max[:, 1] - lines.t_min[:, 1], 2.0)


def test_rho_theta_round_trip_for_parallel_beam():
  angles = np.linspace(0, np.pi, 8, endpoint=False)
  lines = tomography.parallel_beam(angles, 5)
  rho, theta = lines.rho_theta()
  np.testing.assert_allclose(theta, np.broadcast_to(angles[:, None], (8, 5)), atol=1e-12)
  np.testing.assert_allclose(rho[0], (np.arange(5) - 2) * 0.4, atol=1e-12)
  # Fan-beam lines point every way: (rho, theta) must still name each line's foot point.
  fan = tomography.fan_beam(np.linspace(0, 2 * np.pi, 9), 3.0, 5.0, 0.2, 7)
  rho, theta = fan.rho_theta()
  assert np.all((theta >= 0) & (theta < np.pi))
  foot = rho[..., None] * np.stack([np.cos(theta), np.sin(theta)], -1)
  np.testing.assert_allclose(foot, fan.origin, atol=1e-12)


def test_geometry_errors_are_clear():
  with pytest.raises(ValueError, match="must lie outside the field of view"):
    tomography.fan_beam([0.0], 0.5, 2.0, 0.1, 4)
  with pytest.raises(ValueError, match="miss the field of view"):
    tomography.fan_beam([0.0], 2.0, 4.0, 2.0, 4)
  with pytest.raises(ValueError, match="zero length"):
    tomography.lines_through(np.zeros((1, 2)), np.zeros((1, 2)))


@pytest.mark.parametrize("octaves,samples,tol", [(6, 256, 1e-3), (10, 1024, 2e-4)])
@pytest.mark.parametrize("parameterization", ["ray", "point"])
def test_two_evaluations_equal_dense_quadrature_of_the_grad_network(parameterization, octaves,
                                                                    samples, tol):
  # The midpoint rule must resolve the highest PE octave (2^9 rad/unit at 10 octaves of an
  # untrained net): 256 samples do for 6 octaves, 10 octaves need 1024.
  lines = tomography.parallel_beam(np.linspace(0, np.pi, 4, endpoint=False), 8)
  phi = (ct.ray_network(octaves, depth=2, width=32) if parameterization == "ray" else
         ct.PointIntegralNetwork(octaves, depth=2, width=32))
  grad = grad_net.GradNetwork(phi)
  inputs, t0, t1 = ct.flat_line_inputs(parameterization, lines)
  two = ct.line_integrals(phi, inputs, t0, t1).numpy()
  quad = ct.quadrature(grad, inputs, t0, t1, samples).numpy()
  assert np.max(np.abs(two - quad)) < tol * np.max(np.abs(quad))


def test_point_network_explicit_jvp_matches_forward_mode():
  phi = ct.PointIntegralNetwork(depth=2, width=16, dtype="float64")
  rng = np.random.default_rng(0)
  x = {"t": rng.uniform(-1, 1, (5, 1)), "origin": rng.uniform(-.5, .5, (5, 2)),
       "direction": rng.normal(size=(5, 2))}
  f_explicit = grad_net.GradNetwork(phi, mode="explicit")(x).numpy()
  f_forward = grad_net.GradNetwork(phi, mode="forward")(x).numpy()
  np.testing.assert_allclose(f_explicit, f_forward, rtol=1e-9, atol=1e-12)


def test_interpolation_baseline_is_exact_on_kept_angles_and_wraps_at_pi():
  angles = np.arange(8) * np.pi / 8
  sino = tomography.radon(tomography.SHEPP_LOGAN, tomography.parallel_beam(angles, 6))
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
  config = ct.CTConfig(num_angles=16, num_detectors=16, subsample=4, steps=300, width=64,
                       samples_per_line=8)
  metrics, out = ct.train_and_evaluate(config, progress=False)
  assert out["prediction"].shape == (16, 16)
  # 300 steps already fit the 4 kept views well beyond a constant guess (~6 dB).
  assert metrics["psnr_train_views"] > 20, metrics


def test_cli_writes_sinograms_metrics_and_figure(tmp_path):
  import json
  import os
  import subprocess
  import sys
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  subprocess.run([sys.executable, "-m", "train.tomography", f"--workdir={tmp_path}",
                  "--steps=5", "--num_angles=16", "--num_detectors=16", "--width=16",
                  "--parameterization=point"],
                 cwd=root, capture_output=True, text=True, timeout=300, check=True)
  metrics = json.loads((tmp_path / "metrics.json").read_text())
  assert set(metrics) >= {"psnr_heldout_autoint", "psnr_heldout_interpolation"}
  data = np.load(tmp_path / "sinogram.npz")
  assert data["prediction"].shape == (16, 16)
  assert data["point_image"].shape == (16, 16)
  assert set(metrics) >= {"psnr_image_autoint", "psnr_image_fbp", "image_direction_std"}
  assert os.path.getsize(tmp_path / "ct.png") > 0
  assert list((tmp_path / "tb").iterdir()) and (tmp_path / "checkpoints" / "checkpoint").exists()


def test_canonical_lines_run_along_their_rho_theta_direction():
  lines = tomography.fan_beam(np.linspace(0, 2 * np.pi, 9, endpoint=False), 3.0, 6.0, 0.4, 7)
  canon = lines.canonical()
  rho, theta = lines.rho_theta()
  np.testing.assert_allclose(canon.direction, np.stack([-np.sin(theta), np.cos(theta)], -1),
                             atol=1e-12)
  assert np.any(np.sum(canon.direction * lines.direction, -1) < 0)  # some were flipped
  np.testing.assert_allclose(tomography.radon(tomography.SHEPP_LOGAN, canon),
                             tomography.radon(tomography.SHEPP_LOGAN, lines), atol=1e-12)
  start = lambda l: l.origin + l.t_min[..., None] * l.direction
  end = lambda l: l.origin + l.t_max[..., None] * l.direction
  flipped = np.sum(canon.direction * lines.direction, -1) < 0
  np.testing.assert_allclose(start(canon)[flipped], end(lines)[flipped], atol=1e-12)
