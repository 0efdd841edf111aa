"""ASTRA Toolbox as an independent reference for the CT geometry and the SIRT baseline.

ASTRA (astra-toolbox 2.5.0, its CPU projectors) forward-projects a rasterised phantom in its
own geometry conventions; this project's exact line integrals of the same ellipses on the lines
`ct_data` builds from the same `proj_geom` must agree with it to the rasterisation error, for
parallel and fan beams, given as ASTRA fields, with "convention": "astra", or in this
project's own convention (fan angle = ASTRA's - 90 degrees). A geometry 90 degrees off or an
image flipped upside down must not agree (the comparison has teeth).
"""

import numpy as np
import pytest

from autoint_tf import ct_data
from autoint_tf import sirt
from autoint_tf import tomography

astra = pytest.importorskip("astra")

RADIUS = 1.0
SIZE = 256
# Shepp-Logan plus one bright off-centre ellipse: not symmetric under any flip or rotation.
PHANTOM = np.concatenate([tomography.SHEPP_LOGAN, [[0.5, 0.12, 0.06, 0.45, 0.3, 30]]])
ANGLES = np.linspace(0, np.pi, 12, endpoint=False) + 0.1
FAN_ANGLES = np.linspace(0, 2 * np.pi, 13, endpoint=False) + 0.1  # (a quarter turn is not a
                                                                    # multiple of the step)
PROJ_GEOMS = {
    "parallel": ("strip", lambda angles: astra.create_proj_geom(
        "parallel", 2 * RADIUS / 100, 100, angles), ANGLES),
    "fanflat": ("strip_fanflat", lambda angles: astra.create_proj_geom(
        "fanflat", 0.03, 100, angles, 3.0, 2.0), FAN_ANGLES),
}


def _astra_sinogram(proj_geom, projector, image):
  vol = astra.create_vol_geom(SIZE, SIZE, -RADIUS, RADIUS, -RADIUS, RADIUS)
  pid = astra.create_projector(projector, proj_geom, vol)
  try:
    sid, sino = astra.create_sino(image.astype(np.float32), pid)
    astra.data2d.delete(sid)
  finally:
    astra.projector.delete(pid)
  return sino


def _relative_error(a, b):
  return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _exact(geometry):
  geometry = ct_data.normalize_geometry(dict(geometry))
  angles = ct_data._angles(geometry)  # pylint: disable=protected-access
  return tomography.radon(PHANTOM, ct_data.geometry_lines(geometry, angles))


@pytest.fixture(scope="module")
def image():
  return tomography.rasterize(PHANTOM, SIZE, supersample=4, radius=RADIUS)


@pytest.mark.parametrize("kind", sorted(PROJ_GEOMS))
def test_exact_sinograms_match_astra_forward_projection_in_both_conventions(kind, image):
  projector, make, angles = PROJ_GEOMS[kind]
  proj_geom = make(angles)
  reference = _astra_sinogram(proj_geom, projector, image)
  # 1. ASTRA's own proj_geom fields (ct_data.from_astra).
  fields = {k: proj_geom[k] for k in ("DetectorWidth", "DetectorCount", "ProjectionAngles",
                                      "DistanceOriginSource", "DistanceOriginDetector")
            if k in proj_geom}
  ours = ct_data.from_astra({"type": proj_geom["type"], **fields})
  tolerance = {"parallel": 0.015, "fanflat": 0.03}[kind]  # rasterisation error of 256 px
  assert _relative_error(reference, _exact(ours)) < tolerance
  # 2. This project's convention: the same scan with angles = ASTRA's + ASTRA_OFFSET.
  own = dict(ours, convention="autoint", angles=(np.asarray(ours["angles"]) +
                                                 ct_data.ASTRA_OFFSET[ours["type"]]).tolist())
  np.testing.assert_allclose(_exact(own), _exact(ours), atol=1e-10)
  # Teeth: the scan a quarter turn off (for a fan beam, exactly ASTRA's angles read in this
  # project's convention), or the image upside down, do not match.
  quarter = dict(own, angles=(np.asarray(own["angles"]) + np.pi / 2).tolist())
  right = _relative_error(reference, _exact(ours))
  turned = _relative_error(reference, _exact(quarter))
  flipped = _relative_error(_astra_sinogram(proj_geom, projector, image[::-1]), _exact(ours))
  print(f"{kind}: relative error {right:.4f}; a quarter turn off {turned:.4f}; upside down "
        f"{flipped:.4f}")
  assert turned > 0.1 and flipped > 3 * right


def test_sirt_agrees_with_astra_sirt_on_the_same_scan(image):
  """This project's SIRT (autoint_tf.sirt: bilinear pixels, midpoint rule) and ASTRA's CPU SIRT
  (Joseph's "linear" projector) on the same 16-view scan: different discretisations, so not the
  same image, but ours is as close to the phantom as the reference implementation's."""
  n, iterations = 64, 100
  angles = np.linspace(0, np.pi, 16, endpoint=False)
  proj_geom = astra.create_proj_geom("parallel", 2 * RADIUS / n, n, angles)
  geometry = ct_data.from_astra(proj_geom)
  sinogram = _exact(geometry)
  vol = astra.create_vol_geom(n, n, -RADIUS, RADIUS, -RADIUS, RADIUS)
  pid = astra.create_projector("linear", proj_geom, vol)
  sid = astra.data2d.create("-sino", proj_geom, sinogram.astype(np.float32))
  rid = astra.data2d.create("-vol", vol, 0.0)
  cfg = astra.astra_dict("SIRT")
  cfg.update(ProjectorId=pid, ProjectionDataId=sid, ReconstructionDataId=rid,
             option={"MinConstraint": 0.0})  # (ours keeps attenuation >= 0 too)
  alg = astra.algorithm.create(cfg)
  try:
    astra.algorithm.run(alg, iterations)
    theirs = astra.data2d.get(rid)
  finally:
    astra.algorithm.delete(alg)
    astra.data2d.delete([sid, rid])
    astra.projector.delete(pid)
  lines = ct_data.geometry_lines(geometry, ct_data._angles(geometry))  # pylint: disable=protected-access
  ours = np.asarray(sirt.reconstruct(sinogram, lines, RADIUS, n, iterations=iterations))
  truth = tomography.rasterize(PHANTOM, n, supersample=4, radius=RADIUS)
  ours_error, theirs_error = _relative_error(ours, truth), _relative_error(theirs, truth)
  print(f"SIRT relative error: ours {ours_error:.3f}, ASTRA {theirs_error:.3f}, between "
        f"{_relative_error(ours, theirs):.3f}")
  assert ours_error < 1.5 * theirs_error and theirs_error < 0.5
