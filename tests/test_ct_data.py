"""Tests of autoint_tf.ct_data: measured sinograms with their geometry, and their errors."""

import os

import h5py
import numpy as np
import pytest
import scipy.io

from autoint_tf import ct_data
from autoint_tf import tomography
from conftest import SHARED_DATA


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
  with pytest.raises(KeyError,
                     match=r"v5.mat.*no variable 'sino'.*\['data'\].*--config.variable"):
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


def _struct_files(tmp_path, sinogram, angles_deg):
  """The same scan as a MATLAB v5 struct and as v7.3 groups (arrays stored transposed)."""
  scipy.io.savemat(tmp_path / "v5.mat", {"CtData": {
      "type": "2d", "sinogram": sinogram, "parameters": {"angles": angles_deg}}})
  with h5py.File(tmp_path / "v73.mat", "w") as f:
    f["CtData/sinogram"] = sinogram.T
    f["CtData/parameters/angles"] = angles_deg[None, :].T
    f["CtData/type"] = np.array([[50], [100]], np.uint16)
  return str(tmp_path / "v5.mat"), str(tmp_path / "v73.mat")


def test_struct_fields_and_groups_are_reached_by_dotted_paths(tmp_path):
  geometry = {"type": "parallel", "num_detectors": 16, "angle_unit": "degrees",
              "angles_variable": "CtData.parameters.angles"}
  angles_deg = np.arange(12) * 15.0
  truth = ct_data.phantom_scan("shepp_logan", {**geometry, "angles": angles_deg.tolist()})
  for path in _struct_files(tmp_path, truth.sinogram, angles_deg):
    for variable in ("CtData.sinogram", None):  # None: the only struct's sinogram field
      scan = ct_data.load_scan(path, geometry, variable)
      np.testing.assert_allclose(scan.sinogram, truth.sinogram)
      np.testing.assert_allclose(scan.angles, np.deg2rad(angles_deg))
    with pytest.raises(KeyError, match=r"no 'sino' under 'CtData' \(it has \['parameters', "
                                       r"'sinogram', 'type'\]\)"):
      ct_data.load_scan(path, geometry, "CtData.sino")
    with pytest.raises(ValueError, match=r"'CtData.parameters' is a struct/group with fields "
                                         r"\['angles'\]"):
      ct_data.load_scan(path, geometry, "CtData.parameters")
    with pytest.raises(KeyError, match=r"angles variable 'CtData.angles'.*no 'angles' under "
                                       r"'CtData'"):
      ct_data.load_scan(path, {**geometry, "angles_variable": "CtData.angles"})


def test_astra_proj_geom_and_the_astra_convention_give_the_same_lines():
  angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
  proj_geom = {"type": "fanflat", "DetectorWidth": 0.2, "DetectorCount": 40,
               "ProjectionAngles": angles, "DistanceOriginSource": 40.0,
               "DistanceOriginDetector": 15.0}
  geometry = ct_data.load_geometry(proj_geom)
  ours = {"type": "fan", "convention": "astra", "source_origin": 40.0, "source_detector": 55.0,
          "pixel_size": 0.2, "num_detectors": 40, "angles": angles.tolist(),
          "radius": geometry["radius"]}
  a = ct_data.phantom_scan("shepp_logan", geometry)
  b = ct_data.phantom_scan("shepp_logan", ours)
  np.testing.assert_allclose(a.angles, angles - np.pi / 2)
  np.testing.assert_allclose(a.lines.origin, b.lines.origin)
  # ASTRA's fanflat source at angle 0 sits on -y: our beta = -90 degrees puts it there.
  src, _ = tomography.fan_beam_endpoints(a.angles[:1], 40.0, 55.0, 0.2, 40)
  np.testing.assert_allclose(src[0], [0.0, -40.0], atol=1e-12)
  # The default field of view is what the detector sees at the origin: every line hits it.
  assert geometry["radius"] == pytest.approx(40 * 0.2 / 2 * 40 / 55)
  parallel = ct_data.load_geometry({"type": "parallel", "DetectorWidth": 0.5,
                                    "DetectorCount": 8, "ProjectionAngles": [0.0, 1.0]})
  assert parallel["detector_spacing"] == 0.5 and parallel["radius"] == 2.0
  scan = ct_data.phantom_scan("shepp_logan", parallel)
  np.testing.assert_allclose(scan.angles, [0.0, 1.0])  # parallel-beam angles agree


def test_geometry_lengths_and_complex_sinograms_are_refused(tmp_path):
  geometry = {"type": "parallel", "num_angles": 4, "num_detectors": 8}
  for name, value in (("radius", 0), ("radius", -1.0), ("detector_spacing", -0.1),
                      ("radius", "big")):
    with pytest.raises(ValueError, match=f"geometry '{name}' is .*finite length > 0"):
      ct_data.phantom_scan("shepp_logan", {**geometry, name: value})
  with pytest.raises(ValueError, match="'pixel_size' is 0"):
    ct_data.phantom_scan("shepp_logan", {**ct_data.default_geometry("fan", 4, 8),
                                         "pixel_size": 0})
  np.save(tmp_path / "c.npy", np.ones((4, 8)) * (1 + 1j))
  with pytest.raises(ValueError, match="c.npy.*complex"):
    ct_data.load_scan(str(tmp_path / "c.npy"), geometry)
  (tmp_path / "empty.npz").write_bytes(b"")
  with pytest.raises(ValueError, match="empty.npz' is not a readable .npz file"):
    ct_data.load_scan(str(tmp_path / "empty.npz"), geometry)


HTC = os.path.join(SHARED_DATA, "ct_htc2022")


@pytest.mark.parametrize("name", ["tc_category7.mat", "ta_subsample73.mat"])
def test_htc2022_measured_scans_load_as_published(name):
  path = os.path.join(HTC, name)
  if not os.path.exists(path):
    pytest.skip(f"{path} is absent (the shared datasets are not on this machine)")
  scan = ct_data.load_scan(path, ct_data.HTC2022_GEOMETRY, ct_data.HTC2022_VARIABLE)
  assert scan.sinogram.shape == (61, 560)
  first = 42.0 if name.startswith("tc") else 299.0
  np.testing.assert_allclose(np.rad2deg(scan.angles), first - 90 + 0.5 * np.arange(61))
  # The object is an acrylic disc of 70 mm diameter near the rotation axis: in every view the
  # detector pixels that see it (line integral > 0.2) are the lines passing within ~35 mm of
  # the centre.
  dist = np.abs(np.sum(scan.lines.origin * np.stack(
      [scan.lines.direction[..., 1], -scan.lines.direction[..., 0]], -1), -1))
  seen = scan.sinogram > 0.2
  assert np.all(np.abs(seen.sum(1) - (dist < 35.0).sum(1)) < 40), seen.sum(1)
  assert 0.3 < scan.sinogram.mean() < 1.5 and scan.sinogram.max() < 2.5


def test_a_scan_stored_out_of_angle_order_loads_in_order_and_keeps_the_same_views(tmp_path):
  angles = np.linspace(0, np.pi, 12, endpoint=False)
  sinogram = 1.0 + np.arange(12)[:, None] * np.ones((12, 5))  # row i measured at angles[i]
  shuffled = np.random.default_rng(0).permutation(12)
  loaded = []
  for name, order in [("ordered", np.arange(12)), ("shuffled", shuffled)]:
    path = str(tmp_path / f"{name}.npz")
    np.savez(path, sinogram=sinogram[order], angles=angles[order])
    loaded.append(ct_data.load_scan(path, {"type": "parallel"}, "sinogram"))
  with pytest.warns(UserWarning, match="shuffled.npz'.*not in angle order; they are put"):
    ct_data.load_scan(str(tmp_path / "shuffled.npz"), {"type": "parallel"}, "sinogram")
  for scan in loaded:
    np.testing.assert_array_equal(scan.angles, angles)
    np.testing.assert_array_equal(scan.sinogram, sinogram)  # each row with its own angle
    np.testing.assert_allclose(scan.lines.origin, loaded[0].lines.origin)
