"""CT scans as data: a sinogram, its angles and geometry, and the lines it measured.

A geometry is a small dict (a JSON file or flags), lengths in the sinogram's units:
  {"type": "parallel", "num_detectors": 64, "radius": 1.0,          # FOV radius
   "detector_spacing": 0.03125,                                      # default 2 R / N
   "angles": [...] | "num_angles": 64, "angle_range": [0, 180],     # evenly, end excluded
   "angle_unit": "degrees" | "radians"}                              # default radians
  {"type": "fan", "source_origin": 3.0, "source_detector": 6.0, "pixel_size": 0.07, ...}
The sinogram is [A, N]: one row per view (angle), one column per detector pixel. Angles may
also come from the file ("angles" key of an .npz/.mat, or the dotted path "angles_variable",
e.g. "CtData.parameters.angles" inside a MATLAB struct), in the geometry's angle unit.

ASTRA: a geometry may be ASTRA's own proj_geom fields ({"type": "parallel" | "fanflat",
"DetectorWidth", "DetectorCount", "ProjectionAngles" (radians), and for fanflat
"DistanceOriginSource", "DistanceOriginDetector"}), or this project's fields with
"convention": "astra", meaning the angles are ASTRA's. This project's fan-beam angle beta is
ASTRA's fanflat angle minus 90 degrees (the source of ASTRA's fanflat at angle 0 sits on -y,
ours on +x); parallel-beam angles agree. Lengths in any one unit (e.g. mm); "radius" is the
field of view (default: what the detector sees at the origin).
"""

import dataclasses
import json
import os
import warnings
from typing import Optional

import numpy as np

from autoint_tf import io_utils
from autoint_tf import tomography

GEOMETRY_TYPES = ("parallel", "fan")

# The measured HTC 2022 scans as published (DATA.md; Meaney et al., CC BY 4.0): the sinogram at
# HTC2022_VARIABLE of a MATLAB struct, lengths in mm, ASTRA fanflat angles in degrees.
HTC2022_VARIABLE = "CtDataLimited.sinogram"
HTC2022_GEOMETRY = {"type": "fan", "convention": "astra", "source_origin": 410.66,
                    "source_detector": 553.74, "pixel_size": 0.2, "num_detectors": 560,
                    "radius": 45.0, "angle_unit": "degrees",
                    "angles_variable": "CtDataLimited.parameters.angles"}


@dataclasses.dataclass(frozen=True)
class Scan:
  """A sinogram [A, N], its view angles [A] (radians), its lines [A, N] and geometry."""
  sinogram: np.ndarray
  angles: np.ndarray
  lines: tomography.Lines
  geometry: dict
  image: Optional[np.ndarray] = None   # ground truth image (phantoms), pixel_centres layout
  source: str = "phantom"
  # The object's support when known: {"centre": [x, y], "radius"} (ct.support_disc), the
  # lines' chords then cut to it (tomography.Lines.clipped_to_disc).
  support: Optional[dict] = None

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


ASTRA_OFFSET = {"parallel": 0.0, "fan": -np.pi / 2}  # our angle = ASTRA's + offset


def from_astra(proj_geom):
  """This project's geometry dict from ASTRA proj_geom fields (parallel or fanflat)."""
  kind = proj_geom.get("type")
  need = ["DetectorWidth", "DetectorCount", "ProjectionAngles"] + (
      ["DistanceOriginSource", "DistanceOriginDetector"] if kind == "fanflat" else [])
  missing = [k for k in need if k not in proj_geom]
  if kind not in ("parallel", "fanflat") or missing:
    raise ValueError(f"ASTRA proj_geom of type {kind!r} (parallel or fanflat) is missing "
                     f"{missing}.")
  n, width = int(proj_geom["DetectorCount"]), float(proj_geom["DetectorWidth"])
  geometry = {"num_detectors": n, "angle_unit": "radians", "convention": "astra",
              "angles": np.asarray(proj_geom["ProjectionAngles"], np.float64).ravel().tolist()}
  if kind == "parallel":
    geometry.update(type="parallel", detector_spacing=width, radius=n * width / 2)
  else:
    d_so = float(proj_geom["DistanceOriginSource"])
    d_sd = d_so + float(proj_geom["DistanceOriginDetector"])
    geometry.update(type="fan", source_origin=d_so, source_detector=d_sd, pixel_size=width,
                    radius=n * width / 2 * d_so / d_sd)
  if "radius" in proj_geom:
    geometry["radius"] = float(proj_geom["radius"])
  return geometry


def _angles(geometry, from_file=None):
  unit = geometry.get("angle_unit", "radians")
  if unit not in ("degrees", "radians"):
    raise ValueError(f"geometry angle_unit {unit!r}: use 'degrees' or 'radians'.")
  if "angles" in geometry:
    angles = np.asarray(geometry["angles"], np.float64).reshape(-1)
  elif from_file is not None:
    angles = np.asarray(from_file, np.float64).reshape(-1)
  elif "num_angles" in geometry:
    count = geometry["num_angles"]
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
      raise ValueError(f"geometry num_angles {count!r}: give the number of views, an integer "
                       ">= 1.")
    start, stop = geometry.get("angle_range", [0.0, 180.0 if unit == "degrees" else np.pi])
    angles = start + (stop - start) * np.arange(geometry["num_angles"]) / geometry["num_angles"]
  else:
    raise ValueError("geometry needs the view angles: 'angles' (a list), or 'num_angles' (and "
                     "optionally 'angle_range'), or an 'angles' array in the data file.")
  if not np.all(np.isfinite(angles)):
    where = ("the data file's angles" if "angles" not in geometry and from_file is not None
             else "geometry")
    raise ValueError(f"{where}: the view angles contain NaN or inf (first at view "
                     f"{int(np.argmin(np.isfinite(angles)))}).")
  angles = np.deg2rad(angles) if unit == "degrees" else angles
  convention = geometry.get("convention", "autoint")
  if convention not in ("autoint", "astra"):
    raise ValueError(f"geometry convention {convention!r}: use 'autoint' (default) or 'astra'.")
  if convention == "astra":
    angles = angles + ASTRA_OFFSET[geometry["type"]]
  return angles


def _check_lengths(geometry, names):
  """Each named geometry length must be a finite number > 0."""
  for name in names:
    value = geometry.get(name)
    if value is None:
      continue
    try:
      ok = float(value) > 0 and np.isfinite(float(value))
    except (TypeError, ValueError):
      ok = False
    if not ok:
      raise ValueError(f"geometry {name!r} is {value!r}: it must be a finite length > 0 (in "
                       "the sinogram's units).")


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
  _check_lengths(geometry, ("radius", "detector_spacing", "pixel_size", "source_origin",
                            "source_detector"))
  if int(geometry["num_detectors"]) < 1:
    raise ValueError(f"geometry num_detectors is {geometry['num_detectors']}: it must be >= 1.")
  radius = float(geometry.get("radius", 1.0))
  n = int(geometry["num_detectors"])
  if kind == "parallel":
    spacing = float(geometry.get("detector_spacing", 2 * radius / n))
    if spacing * n > 2 * radius * (1 + 1e-9):
      raise ValueError(f"parallel-beam geometry: {n} detectors x spacing {spacing} is wider "
                       f"than the field of view (diameter {2 * radius}); raise 'radius'.")
    return tomography.parallel_beam_lines(angles, n, radius=radius, spacing=spacing)
  return tomography.fan_beam_lines(angles, float(geometry["source_origin"]),
                                   float(geometry["source_detector"]),
                                   float(geometry["pixel_size"]), n, radius=radius)


def phantom_scan(phantom="shepp_logan", geometry=None, image_size=None):
  """The exact (closed-form) sinogram of a phantom, with its rasterized image (side
  `image_size`, default the detector count, at most 256)."""
  if phantom not in tomography.PHANTOMS:
    raise ValueError(f"Unknown phantom {phantom!r}: choose one of {sorted(tomography.PHANTOMS)}.")
  geometry = dict(geometry or default_geometry())
  angles = _angles(geometry)
  lines = geometry_lines(geometry, angles)
  ellipses = tomography.PHANTOMS[phantom]
  radius = float(geometry.get("radius", 1.0))
  size = image_size or min(int(geometry["num_detectors"]), 256)
  return Scan(tomography.radon(ellipses, lines), angles, lines, geometry,
              image=tomography.rasterize(ellipses, size, radius=radius), source=phantom)


def _keys(node):
  return sorted(k for k in node.keys() if not k.startswith(("#", "__")))


def _is_group(node):
  return isinstance(node, dict) or (hasattr(node, "keys") and not hasattr(node, "shape"))


def _lookup(tree, dotted, path, kind, what="variable"):
  """The node at a dotted path ("CtData.parameters.angles") of a file's tree of MATLAB structs
  (dicts) or HDF5 groups. Raises a KeyError listing what exists where the path stops."""
  node, walked = tree, []
  for part in dotted.split("."):
    keys = _keys(node) if _is_group(node) else []
    if part not in keys:
      where = f" under {'.'.join(walked)!r}" if walked else ""
      has = f"it has {keys}" if keys else f"{'.'.join(walked)!r} is an array, not a struct"
      raise KeyError(f"{path!r} ({kind}) has no {what} {dotted!r}: no {part!r}{where} ({has}). "
                     "Name it with --config.variable; a dotted path reaches struct fields and HDF5 "
                     "groups, e.g. CtData.sinogram.")
    node, walked = node[part], walked + [part]
  return node


def _default_name(tree, path, kind):
  """"sinogram", else the file's only array, else the `sinogram` field of its only struct."""
  keys = [k for k in _keys(tree) if k != "angles"]
  if "sinogram" in keys:
    return "sinogram"
  if len(keys) == 1:
    only = tree[keys[0]]
    if not _is_group(only):
      return keys[0]
    if "sinogram" in _keys(only):
      return f"{keys[0]}.sinogram"
  raise KeyError(f"{path!r} ({kind}) has no variable 'sinogram' (it has {keys}); name the "
                 "sinogram with --config.variable (a dotted path reaches struct fields, e.g. "
                 "CtData.sinogram).")


def _as_array(node, dotted, path, transposed):
  if _is_group(node):
    raise ValueError(f"{path!r}: {dotted!r} is a struct/group with fields {_keys(node)}, not "
                     "an array; name one of its fields (a dotted path).")
  array = np.asarray(node)
  if array.dtype.kind == "c":
    raise ValueError(f"{path!r}: {dotted!r} is complex; a sinogram holds real line integrals "
                     "(take the real part, or -log of the magnitude of a transmission, first).")
  if array.dtype.kind not in "fiub":
    raise ValueError(f"{path!r}: {dotted!r} holds {array.dtype} values, not numbers.")
  return array.T if transposed else array


def _read_array(path, variable, angles_variable=None):
  """Reads the sinogram at `variable` (a name or a dotted struct/group path; default as
  `_default_name`) and the angles (`angles_variable`, else an optional top-level 'angles')
  from .npy/.npz/.mat (v5 or v7.3). Returns (sinogram, angles or None)."""
  ext = os.path.splitext(path)[1].lower()
  if not os.path.exists(path):
    raise FileNotFoundError(f"Sinogram file {path!r} does not exist.")
  if ext == ".npy":
    return _as_array(io_utils.load_numpy(path, ".npy array"), "the array", path, False), None
  try:
    if ext == ".npz":
      with io_utils.load_numpy(path, ".npz file") as data:
        return _read_tree(dict(data), path, "npz", variable, angles_variable, False)
    if ext == ".mat":
      import h5py  # pylint: disable=g-import-not-at-top
      import scipy.io  # pylint: disable=g-import-not-at-top
      if h5py.is_hdf5(path):  # MATLAB v7.3 stores HDF5 with arrays transposed
        with h5py.File(path, "r") as f:
          return _read_tree(f, path, "MATLAB v7.3", variable, angles_variable, True)
      data = scipy.io.loadmat(path, simplify_cells=True)
      return _read_tree(data, path, "MATLAB v5", variable, angles_variable, False)
  except (KeyError, FileNotFoundError):
    raise
  except Exception as e:  # pylint: disable=broad-except  (every reader error of a bad file)
    if isinstance(e, ValueError) and str(e).startswith(repr(path)):
      raise
    raise ValueError(f"{path!r} is not a readable {ext} file ({type(e).__name__}: {e})"
                     ) from None
  raise ValueError(f"Unsupported sinogram file {path!r}: use .npy, .npz or .mat.")


def _read_tree(tree, path, kind, variable, angles_variable, transposed):
  name = variable or _default_name(tree, path, kind)
  sinogram = _as_array(_lookup(tree, name, path, kind), name, path, transposed)
  angles = None
  if angles_variable:
    angles = _as_array(_lookup(tree, angles_variable, path, kind, "angles variable"),
                       angles_variable, path, transposed)
  elif "angles" in _keys(tree):
    angles = _as_array(tree["angles"], "angles", path, transposed)
  return sinogram, angles


def load_geometry(spec):
  """A geometry dict from a dict, a JSON string or a path to a JSON file."""
  if isinstance(spec, dict):
    return normalize_geometry(spec)
  text = spec
  if os.path.exists(spec):
    with open(spec) as f:
      text = f.read()
  elif spec.strip()[:1] not in ("{", "[") and spec.lower().endswith(".json"):
    raise FileNotFoundError(f"Geometry file {spec!r} does not exist (give a JSON file's path "
                            "or the JSON itself).")
  try:
    geometry = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"Geometry {spec!r} is neither a JSON file nor JSON: {e}") from None
  if not isinstance(geometry, dict):
    raise ValueError(f"Geometry {spec!r} must be a JSON object, got {type(geometry).__name__}.")
  return normalize_geometry(geometry)


def normalize_geometry(geometry):
  """A geometry dict in this project's fields (ASTRA proj_geom fields are converted)."""
  if "DetectorCount" in geometry or geometry.get("type") == "fanflat":
    extra = {k: v for k, v in geometry.items() if k in ("radius", "angles_variable", "transpose")}
    return {**from_astra(geometry), **extra}
  return dict(geometry)


def load_scan(path, geometry, variable=None):
  """A measured sinogram [A, N] and its geometry (dict, JSON text or JSON path) as a Scan.

  Raises:
    ValueError: NaN/inf in the sinogram, or a sinogram whose shape disagrees with the geometry.
    KeyError: the file has no such variable.
  """
  geometry = load_geometry(geometry)
  sinogram, file_angles = _read_array(path, variable, geometry.get("angles_variable"))
  if np.asarray(sinogram).dtype == bool:
    raise ValueError(f"Sinogram in {path!r} is boolean (a mask?); a sinogram holds the "
                     "measured line integrals (attenuation), numbers >= 0.")
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
  try:
    angles = _angles(geometry, file_angles)
  except ValueError as e:
    raise ValueError(f"Scan {path!r}: {e}") from None
  want = (len(angles), int(geometry["num_detectors"]))
  if sinogram.shape != want:
    hint = (" It looks transposed: add \"transpose\": true to the geometry."
            if sinogram.shape == want[::-1] else "")
    raise ValueError(f"Sinogram in {path!r} has shape {sinogram.shape} but the geometry gives "
                     f"{want[0]} angles x {want[1]} detectors.{hint}")
  sinogram, angles = _checked_views(sinogram, angles, path, geometry)
  return Scan(sinogram, angles, geometry_lines(geometry, angles), geometry, source=path)


def _checked_views(sinogram, angles, path, geometry):
  """The views of a measured scan, checked for what loads but is wrong, in angle order.

  Refused: a sinogram with no positive value (line integrals of attenuation are >= 0: a sign
  flipped), angles spanning more than a turn in radians (degrees labelled radians), one angle
  with two different rows. Views stored out of angle order are put in order, with a warning:
  "every k-th view" then keeps the same views whatever order the file has.
  """
  if sinogram.max() <= 0:
    raise ValueError(f"Sinogram in {path!r} has no positive value (min {sinogram.min():.4g}, "
                     f"max {sinogram.max():.4g}); line integrals of attenuation are >= 0: if "
                     "it is -log(I/I0) with the sign flipped, negate it.")
  span = float(np.ptp(angles))
  if geometry.get("angle_unit", "radians") == "radians" and span > 2 * np.pi * (1 + 1e-6):
    raise ValueError(f"Geometry of {path!r}: the view angles span {span:.4g} radians, "
                     f"{span / (2 * np.pi):.1f} turns; if they are degrees, set "
                     "\"angle_unit\": \"degrees\".")
  order = np.argsort(angles, kind="stable")
  sorted_angles = angles[order]
  same = np.nonzero(np.diff(sorted_angles) <= 1e-9 * max(span, 1.0))[0]
  for k in same:
    i, j = sorted(order[[k, k + 1]])
    if not np.allclose(sinogram[i], sinogram[j]):
      raise ValueError(f"Sinogram in {path!r}: views {i} and {j} have the same angle "
                       f"({angles[i]:.6g} rad) but different rows; remove one of them or "
                       "fix the angles.")
  steps = np.diff(angles)
  if not (np.all(steps >= 0) or np.all(steps <= 0)):
    warnings.warn(f"Sinogram in {path!r}: its views are not in angle order; they are put in "
                  "order (every k-th view is then the same whatever order the file has).")
    return sinogram[order], sorted_angles
  return sinogram, angles
