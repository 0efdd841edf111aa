"""Tests of autoint_tf.tomography: CT geometry, the phantom's closed-form Radon transform, the
canonical line orientation (NumPy and the TF version serving uses)."""

import numpy as np
import pytest
import tensorflow as tf

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
    lines = tomography.parallel_beam_lines(angles, 23)
  else:
    lines = tomography.fan_beam_lines(angles * 2, 3.0, 5.0, 0.08, 23)
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
  lines = tomography.parallel_beam_lines([0.3], 9)
  rho = lines.origin[0] @ np.array([np.cos(0.3), np.sin(0.3)])
  want = 1.5 * 2 * np.sqrt(np.maximum(0.25 - rho**2, 0))
  np.testing.assert_allclose(tomography.radon(disc, lines)[0], want, atol=1e-12)


def test_fan_beam_lines_pass_through_source_and_detector_pixel_centres():
  # Hand-computed case: beta = 0, source at (2, 0), flat detector at x = -2, pixels 0.5 apart.
  src, det = tomography.fan_beam_endpoints([0.0], 2.0, 4.0, 0.5, 3)
  np.testing.assert_allclose(src, [[2.0, 0.0]])
  np.testing.assert_allclose(det[0], [[-2.0, -0.5], [-2.0, 0.0], [-2.0, 0.5]], atol=1e-12)
  lines = tomography.fan_beam_lines([0.0, 0.7, 2.0], 2.0, 4.0, 0.5, 3)
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
  lines = tomography.parallel_beam_lines(angles, 5)
  rho, theta = lines.rho_theta()
  np.testing.assert_allclose(theta, np.broadcast_to(angles[:, None], (8, 5)), atol=1e-12)
  np.testing.assert_allclose(rho[0], (np.arange(5) - 2) * 0.4, atol=1e-12)
  # Fan-beam lines point every way: (rho, theta) must still name each line's foot point.
  fan = tomography.fan_beam_lines(np.linspace(0, 2 * np.pi, 9), 3.0, 5.0, 0.2, 7)
  rho, theta = fan.rho_theta()
  assert np.all((theta >= 0) & (theta < np.pi))
  foot = rho[..., None] * np.stack([np.cos(theta), np.sin(theta)], -1)
  np.testing.assert_allclose(foot, fan.origin, atol=1e-12)


def test_geometry_errors_are_clear():
  with pytest.raises(ValueError, match="must lie outside the field of view"):
    tomography.fan_beam_lines([0.0], 0.5, 2.0, 0.1, 4)
  with pytest.raises(ValueError, match="miss the field of view"):
    tomography.fan_beam_lines([0.0], 2.0, 4.0, 2.0, 4)
  with pytest.raises(ValueError, match="zero length"):
    tomography.lines_through(np.zeros((1, 2)), np.zeros((1, 2)))


def test_canonical_lines_run_along_their_rho_theta_direction():
  lines = tomography.fan_beam_lines(np.linspace(0, 2 * np.pi, 9, endpoint=False), 3.0, 6.0, 0.4, 7)
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


def test_tf_canonical_segments_equal_the_numpy_canonical_lines():
  lines = tomography.fan_beam_lines(np.linspace(0, 2 * np.pi, 11, endpoint=False), 3.0, 6.0,
                                    0.4, 7)
  canon = lines.canonical()
  rho, theta = lines.rho_theta()
  ends = [lines.origin + t[..., None] * lines.direction for t in (lines.t_min, lines.t_max)]
  for a, b in (ends, ends[::-1]):  # either end first
    seg = tomography.canonical_segments(tf.constant(a.reshape(-1, 2)),
                                        tf.constant(b.reshape(-1, 2)))
    np.testing.assert_allclose(seg["theta"].numpy(), theta.reshape(-1), atol=1e-9)
    np.testing.assert_allclose(seg["rho"].numpy(), rho.reshape(-1), atol=1e-9)
    np.testing.assert_allclose(seg["direction"].numpy(), canon.direction.reshape(-1, 2),
                               atol=1e-9)
    np.testing.assert_allclose(seg["origin"].numpy(), canon.origin.reshape(-1, 2), atol=1e-9)
    np.testing.assert_allclose(seg["t0"].numpy(), canon.t_min.reshape(-1), atol=1e-9)
    np.testing.assert_allclose(seg["t1"].numpy(), canon.t_max.reshape(-1), atol=1e-9)


def test_limited_angle_scans_are_told_from_full_ones():
  full = np.arange(16) * np.pi / 16
  assert tomography.covers_period(full, np.pi) and tomography.covers_period(full[::4], np.pi)
  assert tomography.covers_period([0.1, 2.0, 0.5, 3.0], np.pi)  # uneven, but all round
  arc = np.deg2rad(42 + 0.5 * np.arange(61))  # HTC 2022: 30 degrees of a fan beam's circle
  assert not tomography.covers_period(arc, 2 * np.pi)
  assert not tomography.covers_period(arc[::4], 2 * np.pi)


# A disc of radius 0.6 off the centre, seen by a fan beam over 30 degrees (HTC 2022's arc).
DISC = np.array([[1.0, 0.6, 0.6, 0.1, -0.15, 0.0]])
DISC_LINES = tomography.fan_beam_lines(np.deg2rad(np.linspace(10, 40, 61)), 4.0, 6.0, 0.005, 560)


def test_fit_disc_finds_a_disc_from_its_sinograms_support_over_a_short_arc():
  sinogram = tomography.radon(DISC, DISC_LINES)
  centre, radius, residual = tomography.fit_disc(sinogram, DISC_LINES)
  np.testing.assert_allclose(centre, [0.1, -0.15], atol=1e-3)
  assert radius == pytest.approx(0.6, abs=1e-3) and residual < 1e-3
  # Its level line is the only approximation: a 20% level shrinks the support the same way.
  assert tomography.fit_disc(sinogram, DISC_LINES, level=0.2)[1] == pytest.approx(0.6, abs=2e-3)
  # An ellipse is no disc: its tangents miss every circle by much more.
  ellipse = DISC.copy()
  ellipse[0, 1] = 0.35
  assert tomography.fit_disc(tomography.radon(ellipse, DISC_LINES), DISC_LINES)[2] > 5e-3
  with pytest.raises(ValueError, match="no positive line integral"):
    tomography.fit_disc(-sinogram, DISC_LINES)
  cut_off = DISC.copy()  # wider than the detector's fan: no view holds the whole object
  cut_off[0, 1:3] = 0.99
  with pytest.raises(ValueError, match="0 view.*hold the whole object"):
    tomography.fit_disc(tomography.radon(cut_off, DISC_LINES), DISC_LINES)


def test_lines_clipped_to_a_disc_are_its_chords_and_keep_what_lies_inside():
  centre, radius = np.array([0.1, -0.15]), 0.6
  clipped = DISC_LINES.clipped_to_disc(centre, radius)
  foot = DISC_LINES.origin + np.sum((centre - DISC_LINES.origin) * DISC_LINES.direction,
                                    -1)[..., None] * DISC_LINES.direction
  distance = np.linalg.norm(foot - centre, axis=-1)
  chord = 2 * np.sqrt(np.maximum(radius**2 - distance**2, 0))
  np.testing.assert_allclose(clipped.t_max - clipped.t_min, chord, atol=1e-12)
  assert np.sum(chord == 0) > 1000  # (lines that miss it keep a chord of length 0)
  inner = np.array([[1.0, 0.3, 0.2, 0.2, -0.1, 20.0]])  # an ellipse inside the disc
  np.testing.assert_allclose(tomography.radon(inner, clipped), tomography.radon(inner, DISC_LINES),
                             atol=1e-12)
  # cut points lie on the circle (where the chord is not the whole line)
  hit = chord > 0
  for t in (clipped.t_min, clipped.t_max):
    points = clipped.origin + t[..., None] * clipped.direction
    np.testing.assert_allclose(np.linalg.norm(points[hit] - centre, axis=-1), radius, atol=1e-9)
