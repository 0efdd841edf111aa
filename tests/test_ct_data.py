"""Tests of autoint_tf.ct_data: measured sinograms with their geometry, and their errors."""

import h5py
import numpy as np
import pytest
import scipy.io

from autoint_tf import ct_data
from autoint_tf import tomography


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
