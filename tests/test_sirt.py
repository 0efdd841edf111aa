"""Tests of autoint_tf.sirt: the projector against the closed-form Radon transform, its adjoint,
and SIRT's convergence to the phantom."""

import numpy as np
import pytest

from autoint_tf import ct_data
from autoint_tf import metrics
from autoint_tf import sirt
from autoint_tf import tomography


DISC = np.array([[1.0, 0.5, 0.3, 0.2, -0.1, 30.0]])  # an offset, rotated ellipse of value 1


@pytest.mark.parametrize("kind", ["parallel", "fan"])
def test_projector_matches_the_closed_form_radon_of_the_rasterized_ellipse(kind):
  scan = ct_data.phantom_scan("shepp_logan", ct_data.default_geometry(kind, 12, 48), 96)
  forward, _ = sirt.make_projector(scan.lines, 1.0, 96)
  projected = forward(tomography.rasterize(DISC, 96)).numpy()
  error = np.abs(projected - tomography.radon(DISC, scan.lines).reshape(-1))
  # Rasterization moves the edge by up to a pixel (2/96 of the radius): chords of length up
  # to 1.2 are off by ~0.02 near the edge. Measured: mean 0.0014, 99th percentile 0.025.
  assert np.mean(error) < 0.003 and np.percentile(error, 99) < 0.04 and np.max(error) < 0.08


def test_adjoint_is_the_transpose():
  lines = tomography.fan_beam_lines(np.linspace(0, 2 * np.pi, 5, endpoint=False), 3.0, 6.0, 0.2,
                                    9)
  forward, adjoint = sirt.make_projector(lines, 1.0, 16)
  rng = np.random.default_rng(0)
  x, r = rng.normal(size=(16, 16)), rng.normal(size=lines.shape[0] * lines.shape[1])
  assert np.dot(forward(x).numpy(), r) == pytest.approx(np.sum(x * adjoint(r).numpy()),
                                                        rel=1e-10)


def test_sirt_converges_to_the_phantom_and_beats_fbp_on_few_views():
  from autoint_tf import fbp  # pylint: disable=g-import-not-at-top
  geometry = ct_data.default_geometry("parallel", 16, 64)
  scan = ct_data.phantom_scan("shepp_logan", geometry, 64)
  image = sirt.reconstruct(scan.sinogram, scan.lines, 1.0, 64, iterations=300)
  truth_range = np.ptp(scan.image)
  sirt_psnr = metrics.psnr(image, scan.image, truth_range)
  fbp_psnr = metrics.psnr(fbp.reconstruct(scan.sinogram, scan.angles, geometry, 64), scan.image,
                          truth_range)
  # Measured: 19.8 dB against FBP's 16.4 dB.
  assert sirt_psnr > 18.5 and sirt_psnr > fbp_psnr + 2, (sirt_psnr, fbp_psnr)
  assert image.min() >= 0
