"""ASTRA Toolbox as an independent reference for the CT geometry and the SIRT baseline.

ASTRA (astra-toolbox 2.5.0, its CPU projectors) forward-projects a rasterised phantom in its
own geometry conventions; this project's exact line integrals of the same ellipses on the lines
`ct_data` builds from the same `proj_geom` must agree with it to the rasterisation error, for
parallel and fan beams, given as ASTRA fields, with "convention": "astra", or in this
project's own convention (fan angle = ASTRA's - 90 degrees). A geometry 90 degrees off or an
image flipped upside down must not agree (the comparison has teeth).
"""

import json

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


def _astra_sinogram(proj_geom, projector, image, size=SIZE):
  vol = astra.create_vol_geom(size, size, -RADIUS, RADIUS, -RADIUS, RADIUS)
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


def test_the_projector_is_astras_linear_projector():
  """The system matrix (sirt.system_matrix) is Joseph's projector, which ASTRA's parallel-beam
  "linear" projector implements: the same sinogram of a random image (ASTRA in float32),
  where the lines run through the whole volume (ASTRA does not cut them to a circle)."""
  n = 48
  image = np.random.default_rng(0).uniform(0, 1, (n, n))
  angles = np.linspace(0, np.pi, 16, endpoint=False) + 0.1  # no line along an axis
  proj_geom = astra.create_proj_geom("parallel", 0.9 * 2 * RADIUS / n, n, angles)
  theirs = _astra_sinogram(proj_geom, "linear", image, n)
  geometry = ct_data.from_astra(proj_geom)
  lines = ct_data.geometry_lines(geometry, ct_data._angles(geometry))  # pylint: disable=protected-access
  whole = tomography.Lines(lines.origin, lines.direction, np.full(lines.shape, -2 * RADIUS),
                           np.full(lines.shape, 2 * RADIUS))
  ours = sirt.make_projector(whole, RADIUS, n)[0](image).numpy().reshape(theirs.shape)
  np.testing.assert_allclose(ours, theirs, atol=1e-4 * np.max(theirs))


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


# HTC 2022's grid: ASTRA's create_vol_geom(n, n) in effective detector pixels at the origin,
# the angles of the file fed to fanflat unchanged; the scan itself in millimetres.
HTC = {"source_origin": 410.66, "source_detector": 553.74, "pixel_size": 0.2}
PIXEL = HTC["pixel_size"] * HTC["source_origin"] / HTC["source_detector"]  # 0.1483 mm


def _asymmetric_mask(n):
  """A binary phantom no flip, transpose or rotation maps onto itself (row 0 at the top)."""
  y, x = np.mgrid[0:n, 0:n] + 0.5 - n / 2
  mask = (x - 0.08 * n)**2 + (y - 0.05 * n)**2 < (0.33 * n)**2  # an off-centre disc
  mask &= ~((np.abs(x + 0.12 * n) < 0.1 * n) & (np.abs(y + 0.18 * n) < 0.05 * n))  # a slot
  mask |= (x - 0.3 * n)**2 + (y + 0.33 * n)**2 < (0.07 * n)**2  # a dot at the top right
  return mask


def _disc_with_holes(n):
  """HTC 2022's kind of phantom: an off-centre disc of one material with holes (row 0 at
  the top), and its disc (centre (x, y) and radius in pixels, y up)."""
  y, x = np.mgrid[0:n, 0:n] + 0.5 - n / 2
  centre, radius = (0.06 * n, -0.04 * n), 0.38 * n  # (x right, y up: row = n/2 - y)
  mask = (x - centre[0])**2 + (y + centre[1])**2 < radius**2
  mask &= ~((x + 0.1 * n)**2 + (y - 0.1 * n)**2 < (0.04 * n)**2)
  mask &= ~((np.abs(x - 0.18 * n) < 0.025 * n) & (np.abs(y + 0.02 * n) < 0.14 * n))
  return mask, centre, radius


def _htc_like_scan(tmp_path, n, detectors=100, num_angles=180, arc=360.0, mask=None):
  """(scan path, geometry JSON, mask): `mask` (default _asymmetric_mask) projected by
  ASTRA's fanflat on create_vol_geom(n, n) in HTC 2022's conventions, over `arc` degrees,
  the geometry in millimetres."""
  angles_deg = np.linspace(0, arc, num_angles, endpoint=arc == 360.0) + 1.0
  px = {k: v / PIXEL for k, v in HTC.items()}  # the same geometry in effective pixels
  proj = astra.create_proj_geom("fanflat", px["pixel_size"], detectors, np.deg2rad(angles_deg),
                                px["source_origin"], px["source_detector"] - px["source_origin"])
  mask = _asymmetric_mask(n) if mask is None else mask
  vol = astra.create_vol_geom(n, n)
  pid = astra.create_projector("line_fanflat", proj, vol)
  try:
    sid, sino = astra.create_sino(mask.astype(np.float32), pid)
    astra.data2d.delete(sid)
  finally:
    astra.projector.delete(pid)
  path = str(tmp_path / "scan.npz")
  np.savez(path, sinogram=sino, angles=angles_deg)
  geometry = {"type": "fan", "convention": "astra", "angle_unit": "degrees",
              "num_detectors": detectors, "radius": 0.6 * detectors * PIXEL, **HTC}
  return path, geometry, mask


def _orientations(image):
  return {"as stored": image, "flipped up-down": image[::-1], "flipped left-right": image[:, ::-1],
          "transposed": image.T, "rotated 90°": np.rot90(image)}


def test_the_htc_grid_is_astras_volume_and_its_orientation(tmp_path):
  from autoint_tf import ct, fbp, metrics  # pylint: disable=g-import-not-at-top
  n = 64
  path, geometry, mask = _htc_like_scan(tmp_path, n)
  scan = ct_data.load_scan(path, geometry, "sinogram")
  # The default grid is HTC's: 512 effective pixels, and the same region at other sizes.
  for size in (512, n):
    got = ct.image_grid(ct.Config(image_size=size), scan)
    assert got[0] == size and got[1] == pytest.approx(256 * PIXEL)
  size, extent = ct.image_grid(ct.Config(image_size=n, image_pixel_size=PIXEL), scan)
  assert extent == pytest.approx(n / 2 * PIXEL)
  image = fbp.reconstruct(scan.sinogram, scan.angles, scan.geometry, size, extent)
  corr = {k: np.corrcoef(image.ravel(), v.ravel().astype(float))[0, 1]
          for k, v in _orientations(mask).items()}
  assert corr["as stored"] > 0.95 and all(v < corr["as stored"] - 0.2 for k, v in corr.items()
                                           if k != "as stored"), corr
  # Segmented and scored as HTC 2022 scores: Otsu, then MCC against the mask as stored.
  mcc = {k: metrics.mcc(metrics.otsu_segmentation(image), v)
         for k, v in _orientations(mask).items()}
  assert mcc["as stored"] > 0.95 and all(v < mcc["as stored"] - 0.2 for k, v in mcc.items()
                                          if k != "as stored"), mcc


def _scored_run_config(tmp_path, n, num_angles, **settings):
  """A 3-step point-model run's config on an HTC-like scan of the n-pixel mask, scored
  against that mask as its reference segmentation (a PNG)."""
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  from autoint_tf import ct  # pylint: disable=g-import-not-at-top
  from conftest import app_config  # pylint: disable=g-import-not-at-top
  path, geometry, mask = _htc_like_scan(tmp_path, n, num_angles=num_angles)
  reference = str(tmp_path / "reference.png")
  iio.imwrite(reference, mask.astype(np.uint8) * 255)
  return app_config(ct.Config, sinogram=path, variable="sinogram", steps=3,
                    geometry_json=json.dumps(geometry), parameterization="point", width=16,
                    depth=2, sirt_iterations=50, reference_segmentation=reference, **settings)


def test_a_measured_run_scores_every_method_against_a_reference_segmentation(tmp_path):
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  from autoint_tf import ct  # pylint: disable=g-import-not-at-top
  from conftest import app_config  # pylint: disable=g-import-not-at-top
  # A 32-pixel image of the same region as the 64-pixel reference (pixels of 2 x 0.148 mm).
  config = _scored_run_config(tmp_path, 64, 90, subsample=2, image_size=32,
                              image_pixel_size=2 * PIXEL)
  report, outputs = ct.train_and_evaluate(config, workdir=str(tmp_path / "run"), progress=False)
  assert set(report["mcc"]) == {"fbp", "sirt", "autoint"}
  assert report["grid_pixels"] == 32 and report["grid_pixel_size"] == pytest.approx(2 * PIXEL)
  assert report["mcc"]["fbp"] > 0.8 and report["mcc"]["sirt"] > 0.8, report["mcc"]
  assert -1 <= report["mcc"]["autoint"] <= 1  # (3 steps: a score, not yet a good one)
  ct.write_report(report, outputs, ct.scan_for(config), str(tmp_path / "run"))
  written = np.load(tmp_path / "run" / "image.npy")
  assert written.shape == (32, 32)
  for name in ("image.png", "segmentation_fbp.png", "segmentation_sirt.png"):
    assert iio.imread(tmp_path / "run" / name).shape == (32, 32)
  with pytest.raises(ValueError, match="reference_segmentation=.*64² but the image grid has "
                                       "48² pixels"):
    ct.train_and_evaluate(app_config(config, image_size=48), workdir=str(tmp_path / "r2"),
                          progress=False)


def test_every_view_trains_and_the_tv_prior_is_scored_too(tmp_path):
  """--config.subsample=1 (the challenge's setting): no held-out views, every image scored,
  the TV image prior among them, and the figure shows the segmentations and the truth."""
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  from autoint_tf import ct  # pylint: disable=g-import-not-at-top
  config = _scored_run_config(tmp_path, 32, 60, subsample=1, image_size=32,
                              image_pixel_size=PIXEL, prior_weight=1.0, prior_iterations=300)
  report, outputs = ct.train_and_evaluate(config, workdir=str(tmp_path / "run"), progress=False)
  assert not [k for k in report if "heldout" in k]
  assert set(report["mcc"]) == {"fbp", "sirt", "tv", "autoint"}
  assert report["mcc"]["tv"] > 0.8, report["mcc"]
  ct.write_report(report, outputs, ct.scan_for(config), str(tmp_path / "run"))
  figure = iio.imread(tmp_path / "run" / "ct.png")
  # three rows of five panels (sinograms; images; segmentations and the truth): two rows
  # would be 0.4 as high as wide
  assert figure.shape[0] > 0.5 * figure.shape[1], figure.shape


def test_a_discs_support_is_fitted_in_astras_frame_and_segments_a_short_arc(tmp_path):
  """A disc with holes seen over 30 degrees (HTC 2022's hardest arc, 61 views): the disc
  fitted to the sinogram's support is the phantom's, in the grid's (x, y); cutting the lines
  to it lifts the limited-angle SIRT's score (Otsu's threshold), and the disc segmentation
  lifts it again."""
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  from autoint_tf import ct, metrics  # pylint: disable=g-import-not-at-top
  from conftest import app_config  # pylint: disable=g-import-not-at-top
  n = 128
  mask, centre, radius = _disc_with_holes(n)
  path, geometry, _ = _htc_like_scan(tmp_path, n, detectors=200, num_angles=61, arc=30.0,
                                     mask=mask)
  reference = str(tmp_path / "reference.png")
  iio.imwrite(reference, mask.astype(np.uint8) * 255)
  config = app_config(ct.Config, sinogram=path, variable="sinogram", steps=3, subsample=1,
                      geometry_json=json.dumps(geometry), parameterization="point", width=16,
                      depth=2, sirt_iterations=150, image_size=n, image_pixel_size=PIXEL,
                      reference_segmentation=reference)
  report, _ = ct.train_and_evaluate(config, workdir=str(tmp_path / "run"), progress=False)
  disc = report["support_disc"]
  np.testing.assert_allclose(np.asarray(disc["centre"]) / PIXEL, centre, atol=0.5)
  assert disc["radius"] / PIXEL == pytest.approx(radius, abs=0.5)
  with open(tmp_path / "run" / "config.json") as f:
    assert json.load(f)["context"]["support"]["fitted"] == disc
  _the_export_cuts_its_segments_to_the_support(tmp_path, config)
  # Measured: SIRT on the whole field of view 0.70 (Otsu), on the disc 0.953, segmented
  # by the disc 0.978.
  scan = ct_data.load_scan(path, geometry, "sinogram")
  size, extent = ct.image_grid(config, scan)
  whole = sirt.reconstruct(scan.sinogram, scan.lines, extent, size, iterations=150)
  plain = metrics.mcc(metrics.otsu_segmentation(np.asarray(whole)), mask)
  assert report["segmentation"] == "disc"
  scores = report["mcc"]["sirt"], report["mcc_otsu"]["sirt"]
  assert scores[1] > plain + 0.15 and scores[0] > scores[1] + 0.01 and scores[0] > 0.96, (
      plain, report["mcc"], report["mcc_otsu"])


def _the_export_cuts_its_segments_to_the_support(tmp_path, config):
  """The exported line_integral of the run of `config` (in tmp_path/run) on whole chords of
  the field of view: the run's model on the same lines cut to its support disc, as trained (0
  for lines that miss it)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from autoint_tf import ct, training  # pylint: disable=g-import-not-at-top
  from autoint_tf.serving import export  # pylint: disable=g-import-not-at-top
  version = export.export(str(tmp_path / "run"), str(tmp_path / "export"), "ct")
  scan = ct.scan_for(config)
  lines = scan.lines.take(np.array([0, 30, 60]))
  cut = ct.with_support(config, scan, np.arange(len(scan.angles))).lines.take(
      np.array([0, 30, 60]))
  run, r = training.restore(str(tmp_path / "run")), scan.radius
  want = r * ct.line_integrals(run.model, *ct.flat_line_inputs("point", cut.scaled(1 / r))).numpy()
  ends = [(lines.origin + t[..., None] * lines.direction).reshape(-1, 2).astype(np.float32)
          for t in (lines.t_min, lines.t_max)]
  got = tf.saved_model.load(version).signatures["line_integral"](
      start=tf.constant(ends[0]), end=tf.constant(ends[1]))["value"].numpy()
  missed = (cut.t_max == cut.t_min).reshape(-1)
  assert missed.any() and not got[missed].any()
  np.testing.assert_allclose(got, want, atol=1e-4 * np.max(np.abs(want)))
