"""Tests of measured-sinogram loading, FBP, checkpoint/resume and the fan-beam training path."""

import h5py
import numpy as np
import pytest
import scipy.io

from autoint_tf import ct
from autoint_tf import ct_data
from autoint_tf import fbp
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
    assert ct.psnr(image, truth, 1.0) > min_psnr
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


def _write(path, sinogram, angles_deg, fmt):
  if fmt == "npy":
    np.save(path, sinogram)
  elif fmt == "npz":
    np.savez(path, sino=sinogram, angles=angles_deg)
  elif fmt == "mat5":
    scipy.io.savemat(path, {"sino": sinogram, "angles": angles_deg})
  else:  # MATLAB v7.3 is HDF5 with every array stored transposed
    with h5py.File(path, "w") as f:
      f["sino"] = sinogram.T
      f["angles"] = angles_deg[None, :].T


@pytest.mark.parametrize("fmt,ext", [("npy", ".npy"), ("npz", ".npz"), ("mat5", ".mat"),
                                     ("mat73", ".mat")])
def test_measured_sinogram_loads_with_its_geometry(tmp_path, fmt, ext):
  geometry = {"type": "parallel", "num_detectors": 32, "radius": 2.0, "angle_unit": "degrees"}
  angles_deg = np.arange(24) * 7.5
  truth = ct_data.phantom_scan("shepp_logan", {**geometry, "angles": angles_deg.tolist()})
  path = str(tmp_path / f"scan{ext}")
  _write(path, truth.sinogram, angles_deg, fmt)
  spec = dict(geometry, **({"angles": angles_deg.tolist()} if fmt == "npy" else {}))
  scan = ct_data.load_scan(path, spec, variable=None if fmt == "npy" else "sino")
  np.testing.assert_allclose(scan.sinogram, truth.sinogram)
  np.testing.assert_allclose(scan.angles, np.deg2rad(angles_deg))
  # The lines are the ones that measured it: the closed form on them reproduces the data.
  np.testing.assert_allclose(tomography.radon(tomography.SHEPP_LOGAN, scan.lines), scan.sinogram,
                             atol=1e-12)
  assert np.max(np.abs(scan.lines.origin)) < 2.0 and scan.radius == 2.0


def test_measured_sinogram_errors_name_the_problem(tmp_path):
  geometry = {"type": "parallel", "num_angles": 10, "angle_range": [0, 180],
              "angle_unit": "degrees"}
  sino = np.ones((10, 16))
  np.save(tmp_path / "ok.npy", sino)
  with pytest.raises(ValueError, match=r"shape \(16, 10\).*10 angles x 16 detectors.*transpose"):
    np.save(tmp_path / "t.npy", sino.T)
    ct_data.load_scan(str(tmp_path / "t.npy"), {**geometry, "num_detectors": 16})
  transposed = ct_data.load_scan(str(tmp_path / "t.npy"),
                                 {**geometry, "num_detectors": 16, "transpose": True})
  assert transposed.sinogram.shape == (10, 16)
  with pytest.raises(ValueError, match=r"gives 12 angles x 16 detectors"):
    ct_data.load_scan(str(tmp_path / "ok.npy"), {**geometry, "num_angles": 12})
  bad = sino.copy()
  bad[3, 5] = np.nan
  np.save(tmp_path / "nan.npy", bad)
  with pytest.raises(ValueError, match=r"nan.npy.*1 NaN/inf.*view 3, detector 5"):
    ct_data.load_scan(str(tmp_path / "nan.npy"), geometry)
  scipy.io.savemat(tmp_path / "v5.mat", {"data": sino})
  with pytest.raises(KeyError, match=r"v5.mat.*no variable 'sino'.*\['data'\].*--variable"):
    ct_data.load_scan(str(tmp_path / "v5.mat"), geometry, variable="sino")
  with h5py.File(tmp_path / "v73.mat", "w") as f:
    f["data"] = sino.T
    f["other"] = sino.T
  with pytest.raises(KeyError, match=r"v7.3.*no variable 'sinogram'"):
    ct_data.load_scan(str(tmp_path / "v73.mat"), geometry)
  with pytest.raises(ValueError, match=r"fan-beam geometry is missing \['source_origin'"):
    ct_data.load_scan(str(tmp_path / "ok.npy"), {**geometry, "type": "fan"})
  with pytest.raises(ValueError, match="neither a JSON file nor JSON"):
    ct_data.load_scan(str(tmp_path / "ok.npy"), "{not json")
  with pytest.raises(FileNotFoundError, match="missing.npy"):
    ct_data.load_scan(str(tmp_path / "missing.npy"), geometry)
  with pytest.raises(ValueError, match="angle_unit 'grad'"):
    ct_data.load_scan(str(tmp_path / "ok.npy"), {**geometry, "angle_unit": "grad"})


def test_point_image_reads_the_grad_network_at_pixel_centres():
  # A stand-in grad network that returns the phantom at the point: image = raster, std = 0.
  def grad(inputs):
    return tomography.attenuation(tomography.SHEPP_LOGAN, inputs["origin"])[:, None]
  import tensorflow as tf
  fake = lambda inputs: tf.constant(grad(inputs))
  directions = np.stack([np.cos([0.1, 1.0, 2.0]), np.sin([0.1, 1.0, 2.0])], -1)
  image, std = ct.point_image(fake, 32, directions, chunk=1000)
  want = tomography.rasterize(tomography.SHEPP_LOGAN, 32, supersample=1)
  inside = np.sum(tomography.pixel_centres(32)**2, -1) < 1
  np.testing.assert_allclose(image[inside], want[inside])
  assert np.all(std == 0) and np.all(image[~inside] == 0)


def test_resume_after_a_crash_continues_exactly(tmp_path):
  config = ct.CTConfig(num_angles=8, num_detectors=8, subsample=2, width=16, depth=2,
                       samples_per_line=4, steps=12, checkpoint_every=6)
  straight, _ = ct.train_and_evaluate(config, workdir=str(tmp_path / "a"), progress=False)
  import dataclasses
  # "Crash" after the checkpoint at step 6, then rerun the full job on the same workdir.
  ct.train_and_evaluate(dataclasses.replace(config, steps=6), workdir=str(tmp_path / "b"),
                        progress=False)
  resumed, out = ct.train_and_evaluate(config, workdir=str(tmp_path / "b"), progress=False)
  _, ref = ct.train_and_evaluate(config, workdir=str(tmp_path / "a"), progress=False)
  for w0, w1 in zip(out["phi"].get_weights(), ref["phi"].get_weights()):
    np.testing.assert_allclose(w0, w1, rtol=1e-6, atol=1e-7)
  assert resumed["psnr_heldout_autoint"] == pytest.approx(straight["psnr_heldout_autoint"],
                                                          abs=1e-4)


def test_fan_beam_point_model_trains_and_gives_an_image():
  config = ct.CTConfig(geometry="fan", num_angles=16, num_detectors=24, subsample=2, width=64,
                       parameterization="point", steps=300, samples_per_line=8)
  metrics, out = ct.train_and_evaluate(config, progress=False)
  assert out["point_image"].shape == (24, 24)
  truth = out["truth"][out["kept"]]
  constant = ct.psnr(np.full_like(truth, truth.mean()), truth, np.ptp(out["truth"]))
  # 300 steps are far from converged, but well past the best constant sinogram (~10 dB) ...
  assert metrics["psnr_train_views"] > constant + 4, (constant, metrics)
  # ... with an image positively correlated with the phantom (an untrained net scores ~0).
  inside = out["image"] > 0
  assert np.corrcoef(out["point_image"][inside], out["image"][inside])[0, 1] > 0.15, metrics
