"""CT scans as data: a sinogram, its angles and geometry, and the lines it measured.

A geometry is a small dict (a JSON file or flags), lengths in the sinogram's units:
  {"type": "parallel", "num_detectors": 64, "radius": 1.0,          # FOV radius
   "detector_spacing": 0.03125,                                      # default 2 R / N
   "angles": [...] | "num_angles": 64, "angle_range": [0, 180],     # evenly, end excluded
   "angle_unit": "degrees" | "radians"}                              # default radians
  {"type": "fan", "source_origin": 3.0, "source_detector": 6.0, "pixel_size": 0.07, ...}
The sinogram is [A, N]: one row per view (angle), one column per detector pixel. Angles may
also come from the file ("angles" key of an .npz/.mat), in the geometry's angle unit.
"""

import dataclasses
import json
import os
from typing import Optional

import numpy as np

from autoint_tf import tomography

GEOMETRY_TYPES = ("parallel", "fan")


@dataclasses.dataclass(frozen=True)
class Scan:
  """A sinogram [A, N], its view angles [A] (radians), its lines [A, N] and geometry."""
  sinogram: np.ndarray
  angles: np.ndarray
  lines: tomography.Lines
  geometry: dict
  image: Optional[np.ndarray] = None   # ground truth image (phantoms), pixel_centres layout
  source: str = "phantom"

  @property
  def radius(self):
    return float(self.geometry.get("radius", 1.0))

  @property
  def period(self):
    """Angle period of the geometry: pi for parallel beam (with the rho flip), 2 pi for fan."""
    return np.pi if self.geometry["type"] == "parallel" else 2 * np.pi


def default_geometry(kind="parallel", num_angles=64, num_detectors=64):
  """The built-in geometries: parallel over [0, pi); fan (D_so 3, D_sd 6) over [0, 2 pi)."""
  if kind == "parallel":
    return {"type": "parallel", "num_detectors": num_detectors, "num_angles": num_angles,
            "angle_range": [0.0, np.pi], "radius": 1.0}
  if kind == "fan":
    d_so, d_sd = 3.0, 6.0
    # The outermost rays just graze the unit field of view.
    pixel = 0.98 * 2 * d_sd * np.tan(np.arcsin(1 / d_so)) / num_detectors
    return {"type": "fan", "num_detectors": num_detectors, "num_angles": num_angles,
            "angle_range": [0.0, 2 * np.pi], "radius": 1.0, "source_origin": d_so,
            "source_detector": d_sd, "pixel_size": float(pixel)}
  raise ValueError(f"Unknown geometry type {kind!r}: choose one of {GEOMETRY_TYPES}.")


def _angles(geometry, from_file=None):
  unit = geometry.get("angle_unit", "radians")
  if unit not in ("degrees", "radians"):
    raise ValueError(f"geometry angle_unit {unit!r}: use 'degrees' or 'radians'.")
  if "angles" in geometry:
    angles = np.asarray(geometry["angles"], np.float64).reshape(-1)
  elif from_file is not None:
    angles = np.asarray(from_file, np.float64).reshape(-1)
  elif "num_angles" in geometry:
    start, stop = geometry.get("angle_range", [0.0, 180.0 if unit == "degrees" else np.pi])
    angles = start + (stop - start) * np.arange(geometry["num_angles"]) / geometry["num_angles"]
  else:
    raise ValueError("geometry needs the view angles: 'angles' (a list), or 'num_angles' (and "
                     "optionally 'angle_range'), or an 'angles' array in the data file.")
  if not np.all(np.isfinite(angles)):
    raise ValueError("geometry: the view angles contain NaN or inf.")
  return np.deg2rad(angles) if unit == "degrees" else angles


def geometry_lines(geometry, angles):
  """The Lines [A, N] a geometry measures at `angles` (radians)."""
  kind = geometry.get("type")
  if kind not in GEOMETRY_TYPES:
    raise ValueError(f"geometry type {kind!r}: choose one of {GEOMETRY_TYPES}.")
  missing = [k for k in ("num_detectors",) + (
      ("source_origin", "source_detector", "pixel_size") if kind == "fan" else ())
             if k not in geometry]
  if missing:
    raise ValueError(f"{kind}-beam geometry is missing {missing}.")
  radius = float(geometry.get("radius", 1.0))
  n = int(geometry["num_detectors"])
  if kind == "parallel":
    spacing = float(geometry.get("detector_spacing", 2 * radius / n))
    if spacing * n > 2 * radius * (1 + 1e-9):
      raise ValueError(f"parallel-beam geometry: {n} detectors x spacing {spacing} is wider "
                       f"than the field of view (diameter {2 * radius}); raise 'radius'.")
    return tomography.parallel_beam_lines(angles, n, radius=radius, spacing=spacing)
  return tomography.fan_beam_lines(angles, float(geometry["source_origin"]),
                             float(geometry["source_detector"]), float(geometry["pixel_size"]),
                             n, radius=radius)


def phantom_scan(phantom="shepp_logan", geometry=None, image_size=None):
  """The exact (closed-form) sinogram of a phantom, with its rasterized image."""
  if phantom not in tomography.PHANTOMS:
    raise ValueError(f"Unknown phantom {phantom!r}: choose one of {sorted(tomography.PHANTOMS)}.")
  geometry = dict(geometry or default_geometry())
  angles = _angles(geometry)
  lines = geometry_lines(geometry, angles)
  ellipses = tomography.PHANTOMS[phantom]
  radius = float(geometry.get("radius", 1.0))
  size = image_size or int(geometry["num_detectors"])
  return Scan(tomography.radon(ellipses, lines), angles, lines, geometry,
              image=tomography.rasterize(ellipses, size, radius=radius), source=phantom)


def _pick(keys, variable, path, kind):
  """The sinogram's name: `variable`, else "sinogram", else the file's only array."""
  name = variable or ("sinogram" if "sinogram" in keys or len(keys) != 1 else keys[0])
  if name not in keys:
    raise KeyError(f"{path!r} ({kind}) has no variable {name!r} (it has {keys}); name the "
                   "sinogram with --variable.")
  return name


def _read_array(path, variable):
  """Reads `variable` (and an optional 'angles' array) from .npy/.npz/.mat (v5 or v7.3)."""
  ext = os.path.splitext(path)[1].lower()
  if not os.path.exists(path):
    raise FileNotFoundError(f"Sinogram file {path!r} does not exist.")
  if ext == ".npy":
    return np.load(path), None
  if ext == ".npz":
    with np.load(path) as data:
      keys = [k for k in data.keys() if k != "angles"]
      name = _pick(keys, variable, path, "npz")
      return data[name], (data["angles"] if "angles" in data else None)
  if ext == ".mat":
    import h5py  # pylint: disable=g-import-not-at-top
    import scipy.io  # pylint: disable=g-import-not-at-top
    if h5py.is_hdf5(path):  # MATLAB v7.3 stores HDF5 with arrays transposed
      with h5py.File(path, "r") as f:
        keys = [k for k in f.keys() if not k.startswith("#") and k != "angles"]
        name = _pick(keys, variable, path, "MATLAB v7.3")
        angles = np.array(f["angles"]).T if "angles" in f else None
        return np.array(f[name]).T, angles
    data = scipy.io.loadmat(path)
    keys = [k for k in data if not k.startswith("__") and k != "angles"]
    name = _pick(keys, variable, path, "MATLAB v5")
    return data[name], data.get("angles")
  raise ValueError(f"Unsupported sinogram file {path!r}: use .npy, .npz or .mat.")


def load_geometry(spec):
  """A geometry dict from a dict, a JSON string or a path to a JSON file."""
  if isinstance(spec, dict):
    return dict(spec)
  text = spec
  if os.path.exists(spec):
    with open(spec) as f:
      text = f.read()
  try:
    geometry = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"Geometry {spec!r} is neither a JSON file nor JSON: {e}") from None
  if not isinstance(geometry, dict):
    raise ValueError(f"Geometry {spec!r} must be a JSON object, got {type(geometry).__name__}.")
  return geometry


def load_scan(path, geometry, variable=None):
  """A measured sinogram [A, N] and its geometry (dict, JSON text or JSON path) as a Scan.

  Raises:
    ValueError: NaN/inf in the sinogram, or a sinogram whose shape disagrees with the geometry.
    KeyError: the file has no such variable.
  """
  geometry = load_geometry(geometry)
  sinogram, file_angles = _read_array(path, variable)
  sinogram = np.asarray(sinogram, np.float64)
  if geometry.get("transpose"):
    sinogram = sinogram.T
  if sinogram.ndim != 2:
    raise ValueError(f"Sinogram in {path!r} has shape {sinogram.shape}: expected 2-D "
                     "[angles, detectors].")
  bad = ~np.isfinite(sinogram)
  if np.any(bad):
    rows, cols = np.nonzero(bad)
    raise ValueError(f"Sinogram in {path!r} has {int(bad.sum())} NaN/inf value(s), first at "
                     f"[view {rows[0]}, detector {cols[0]}]; clean or mask them first.")
  geometry.setdefault("num_detectors", sinogram.shape[1])
  angles = _angles(geometry, file_angles)
  want = (len(angles), int(geometry["num_detectors"]))
  if sinogram.shape != want:
    hint = (" It looks transposed: add \"transpose\": true to the geometry."
            if sinogram.shape == want[::-1] else "")
    raise ValueError(f"Sinogram in {path!r} has shape {sinogram.shape} but the geometry gives "
                     f"{want[0]} angles x {want[1]} detectors.{hint}")
  return Scan(sinogram, angles, geometry_lines(geometry, angles), geometry, source=path)
