"""Tests of autoint_tf.fbp: filtered back-projection of closed-form sinograms."""

import numpy as np
import pytest

from autoint_tf import ct_data
from autoint_tf import fbp
from autoint_tf import metrics
from autoint_tf import tomography


DISC = np.array([[1.0, 0.5, 0.3, 0.2, -0.1, 30.0]])  # an offset, rotated ellipse of value 1


@pytest.mark.parametrize("kind", ["parallel", "fan"])
def test_fbp_reconstructs_an_ellipse_and_the_phantom(kind):
  size = 96
  geometry = ct_data.default_geometry(kind, num_angles=192 if kind == "parallel" else 384,
                                      num_detectors=size)
  for ellipses, min_psnr in ((DISC, 31.0), (tomography.MODIFIED_SHEPP_LOGAN, 26.0)):
    scan = ct_data.phantom_scan("shepp_logan", geometry, size)
    sino = tomography.radon(ellipses, scan.lines)
    image = fbp.reconstruct(sino, scan.angles, geometry, size)
    truth = tomography.rasterize(ellipses, size)
    assert metrics.psnr(image, truth, 1.0) > min_psnr
  # Deep inside the ellipse the value is 1 (2% ripple allowed); away from it, inside the field
  # of view, 0 on average with edge streaks below 0.05.
  core = tomography.attenuation(DISC * [1, .6, .6, 1, 1, 1], tomography.pixel_centres(size)) > 0
  image = fbp.reconstruct(tomography.radon(DISC, scan.lines), scan.angles, geometry, size)
  assert np.max(np.abs(image[core] - 1)) < 0.02
  centres = tomography.pixel_centres(size)
  far = ((np.hypot(*np.moveaxis(centres - [0.2, -0.1], -1, 0)) > 0.75)
         & (np.hypot(*np.moveaxis(centres, -1, 0)) < 1))
  assert np.mean(np.abs(image[far])) < 0.01 and np.max(np.abs(image[far])) < 0.05


def test_fbp_angular_weights_cover_the_period_for_uneven_views():
  w = fbp.angular_weights([0.1, 2.0, 0.5, 3.0], np.pi)
  np.testing.assert_allclose(w.sum(), np.pi)
  np.testing.assert_allclose(w[2], 0.5 * (0.4 + 1.5))
  # Dropping views of an even set keeps the reconstruction's scale (weights grow).
  geometry = ct_data.default_geometry("parallel", 64, 64)
  scan = ct_data.phantom_scan("shepp_logan", geometry)
  full = fbp.reconstruct(scan.sinogram, scan.angles, geometry, 64)
  half = fbp.reconstruct(scan.sinogram[::2], scan.angles[::2], geometry, 64)
  np.testing.assert_allclose(half.mean(), full.mean(), rtol=2e-2)
