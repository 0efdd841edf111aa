"""Bad data files through every loader: each is converted correctly or refused with an error
that names the file (and the field or index), never loaded into a wrong array and never a raw
crash (KeyError/IndexError/TypeError without the file).

Two tables: `REFUSED` (kinds of bad file -> the loader's error) and `CONVERTED` (files in an
unusual but valid encoding -> the exact values they must load as). Counted in BENCHMARKS.md's
Reliability section: `python -m pytest tests/test_bad_files.py -q`.
"""

import json
import os
import re

import h5py
import numpy as np
from PIL import Image
import pytest
import scipy.io

from conftest import app_config
from autoint_tf import ct_data
from autoint_tf import scenes
from autoint_tf import toy
from autoint_tf import training

EYE = np.eye(4).tolist()
POSE = [[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 4], [0, 0, 0, 1]]


# ---------------------------------------------------------------------------------------------
# Builders: each writes a (possibly bad) data set under `root` and returns its path.

def _png(path, array, mode=None):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image = Image.fromarray(array, mode) if mode else Image.fromarray(array)
  if mode == "P":  # indices into a gray ramp
    image.putpalette([v for i in range(256) for v in (i, i, i)])
  image.save(path)


def blender(root, meta=None, images=None, raw=None):
  """A Blender scene: transforms_train.json (`meta`, or `raw` text) and PNGs {name: array}."""
  os.makedirs(root, exist_ok=True)
  if meta is None and raw is None:
    meta = {"camera_angle_x": 0.7, "frames": [{"file_path": "./train/r_0",
                                               "transform_matrix": POSE}]}
  with open(os.path.join(root, "transforms_train.json"), "w") as f:
    f.write(raw if raw is not None else json.dumps(meta))
  images = {"r_0": np.zeros((4, 4, 4), np.uint8)} if images is None else images
  for name, array in images.items():
    if isinstance(array, bytes):
      os.makedirs(os.path.join(root, "train"), exist_ok=True)
      with open(os.path.join(root, "train", name + ".png"), "wb") as f:
        f.write(array)
    else:
      _png(os.path.join(root, "train", name + ".png"), array)
  return root


def two_frames(shape0=(4, 4, 3), shape1=(4, 4, 3)):
  meta = {"camera_angle_x": 0.7, "frames": [
      {"file_path": "./train/r_0", "transform_matrix": POSE},
      {"file_path": "./train/r_1", "transform_matrix": POSE}]}
  return meta, {"r_0": np.zeros(shape0, np.uint8), "r_1": np.zeros(shape1, np.uint8)}


def npz(root, **overrides):
  """A tiny-NeRF .npz: 3 views of 4x4, with `overrides` (None removes a key)."""
  arrays = {"images": np.full((3, 4, 4, 3), 0.5, np.float32),
            "poses": np.tile(np.asarray(POSE, np.float32), (3, 1, 1)), "focal": np.float32(5.0)}
  arrays.update(overrides)
  path = os.path.join(root, "scene.npz")
  np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
  return path


def raw_file(root, name, content):
  path = os.path.join(root, name)
  with open(path, "wb") as f:
    f.write(content)
  return path


def llff(root, rows=None, images=None, raw=None):
  """An LLFF scene: poses_bounds.npy (2 rows, or `rows`; `raw` bytes) and images_8/."""
  os.makedirs(os.path.join(root, "images_8"), exist_ok=True)
  if rows is None:
    pose = np.concatenate([np.array([[0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 1, 0]], np.float64),
                           np.array([[32.0], [32.0], [40.0]])], 1)  # [down, right, back] + hwf
    row = np.concatenate([pose.ravel(), [1.0, 10.0]])
    rows = np.stack([row, row + np.r_[np.zeros(3), 0.1, np.zeros(13)]])
  path = os.path.join(root, "poses_bounds.npy")
  if raw is not None:
    with open(path, "wb") as f:
      f.write(raw)
  else:
    np.save(path, rows)
  images = [np.zeros((4, 4, 3), np.uint8)] * 2 if images is None else images
  for i, array in enumerate(images):
    _png(os.path.join(root, "images_8", f"{i:03d}.png"), array)
  return root


def with_row(change):
  """An LLFF loader call on the default scene with `change` applied to its rows."""

  def build(root):
    llff(root)
    rows = np.load(os.path.join(root, "poses_bounds.npy"))
    change(rows)
    np.save(os.path.join(root, "poses_bounds.npy"), rows)
    scenes.load_llff(root)
  return build


GEOMETRY = {"type": "parallel", "num_angles": 6, "angle_range": [0, 180],
            "angle_unit": "degrees"}
FAN = {"type": "fan", "num_angles": 6, "angle_range": [0, 360], "angle_unit": "degrees",
       "source_origin": 4.0, "source_detector": 8.0, "pixel_size": 0.1}


def scan(root, sinogram=None, name="scan.npy", geometry=None):
  """(path, geometry) of a 6 x 8 sinogram."""
  sinogram = np.ones((6, 8)) if sinogram is None else sinogram
  path = os.path.join(root, name)
  np.save(path, sinogram)
  return path, dict(GEOMETRY if geometry is None else geometry)


def npz_scan(root):
  """(path, geometry) of a 6 x 8 sinogram in an .npz whose angles array has a NaN."""
  path = os.path.join(root, "scan.npz")
  np.savez(path, sinogram=np.ones((6, 8)), angles=[0, 0.5, 1, 1.5, np.nan, 2.5])
  return path, {"type": "parallel"}


def with_nan():
  s = np.ones((6, 8))
  s[2, 3] = np.nan
  return s


def mat_struct(root):
  path = os.path.join(root, "struct.mat")
  scipy.io.savemat(path, {"CtData": {"sinogram": np.ones((6, 8)),
                                     "parameters": {"angles": np.arange(6.0)}}})
  return path


def h5_file(root):
  path = os.path.join(root, "v73.mat")
  with h5py.File(path, "w") as f:
    f["CtData/sinogram"] = np.ones((8, 6))
  return path


def workdir(root, config=None, raw=None):
  os.makedirs(root, exist_ok=True)
  with open(os.path.join(root, "config.json"), "w") as f:
    f.write(raw if raw is not None else json.dumps(config))
  return root


def trained_toy(root):
  """A toy run of 2 steps whose every checkpoint is then damaged."""
  config = app_config(toy.Config, steps=2, checkpoint_every=1, log_every=1, eval_every=0)
  toy.train_and_evaluate(config, root, progress=False)
  ckpts = os.path.join(root, "checkpoints")
  for name in os.listdir(ckpts):
    if ".data-" in name:
      with open(os.path.join(ckpts, name), "wb") as f:
        f.write(b"\0" * 7)
  return root


# (id, call(tmp) -> None (must raise), error type, regex the message must match). `{root}` in a
# regex stands for the temporary directory (the file's own path is named).
R = [
    # Blender transforms_*.json and its images.
    ("blender/no transforms", lambda t: scenes.load_blender(t), FileNotFoundError,
     r"transforms_train.json' is missing"),
    ("blender/not json", lambda t: scenes.load_blender(blender(t, raw="{not json")),
     ValueError, r"transforms_train.json' is not valid JSON"),
    ("blender/list at top", lambda t: scenes.load_blender(blender(t, raw="[1, 2]")),
     ValueError, r"transforms_train.json': the top level is not an object"),
    ("blender/no camera_angle_x", lambda t: scenes.load_blender(blender(t, {"frames": []})),
     ValueError, r"transforms_train.json' has no 'camera_angle_x'"),
    ("blender/no frames", lambda t: scenes.load_blender(blender(t, {"camera_angle_x": 0.7})),
     ValueError, r"transforms_train.json' has no 'frames'"),
    ("blender/camera_angle_x text", lambda t: scenes.load_blender(
        blender(t, {"camera_angle_x": "wide", "frames": []})), ValueError,
     r"camera_angle_x = 'wide'"),
    ("blender/camera_angle_x 0", lambda t: scenes.load_blender(
        blender(t, {"camera_angle_x": 0, "frames": []})), ValueError, r"camera_angle_x = 0;"),
    ("blender/empty frames", lambda t: scenes.load_blender(
        blender(t, {"camera_angle_x": 0.7, "frames": []})), ValueError, r"'frames' is empty"),
    ("blender/frame without file_path", lambda t: scenes.load_blender(
        blender(t, {"camera_angle_x": 0.7, "frames": [{"transform_matrix": EYE}]})),
     ValueError, r"frames\[0\] has no file_path"),
    ("blender/frame without transform_matrix", lambda t: scenes.load_blender(
        blender(t, {"camera_angle_x": 0.7, "frames": [{"file_path": "./train/r_0"}]})),
     ValueError, r"frames\[0\] \(./train/r_0\) has no transform_matrix"),
    ("blender/2x3 transform_matrix", lambda t: scenes.load_blender(
        blender(t, {"camera_angle_x": 0.7, "frames": [
            {"file_path": "./train/r_0", "transform_matrix": [[1, 0, 0], [0, 1, 0]]}]})),
     ValueError, r"frames\[0\]: transform_matrix of shape \(2, 3\)"),
    ("blender/text in transform_matrix", lambda t: scenes.load_blender(
        blender(t, {"camera_angle_x": 0.7, "frames": [
            {"file_path": "./train/r_0", "transform_matrix": [["a"] * 4] * 4}]})),
     ValueError, r"frames\[0\]: transform_matrix of shape"),
    ("blender/NaN in transform_matrix", lambda t: scenes.load_blender(
        blender(t, {"camera_angle_x": 0.7, "frames": [
            {"file_path": "./train/r_0",
             "transform_matrix": [[float("nan")] * 4] + POSE[1:]}]})),
     ValueError, r"transforms_train.json': pose 0 contains NaN"),
    ("blender/singular transform_matrix", lambda t: scenes.load_blender(
        blender(t, {"camera_angle_x": 0.7, "frames": [
            {"file_path": "./train/r_0", "transform_matrix": np.zeros((4, 4)).tolist()}]})),
     ValueError, r"pose 0 has a singular rotation"),
    *[(f"blender/{name} rotation", lambda t, m=m: scenes.load_blender(blender(t, {
        "camera_angle_x": 0.7, "frames": [{"file_path": "./train/r_0", "transform_matrix": (
            np.asarray(POSE) @ np.diag(m + [1.0])).tolist()}]})), ValueError, match)
      for name, m, match in [
          ("scaled x2", [2.0, 2.0, 2.0], r"rotation part of pose 0 is not a rotation \(column "
           r"lengths 2, 2, 2"),
          ("scaled x0.5", [0.5, 0.5, 0.5], r"pose 0 is not a rotation .*rigid"),
          ("reflected (det -1)", [1.0, -1.0, 1.0], r"pose 0 is a reflection \(determinant −1")]],
    ("blender/sheared rotation", lambda t: scenes.load_blender(blender(t, {
        "camera_angle_x": 0.7, "frames": [{"file_path": "./train/r_0", "transform_matrix": [
            [1.0, 0.3, 0, 0], [0, 1, 0, 0], [0, 0, 1, 4], [0, 0, 0, 1]]}]})), ValueError,
     r"pose 0 is not a rotation .*off the identity by 0.3"),
    ("blender/last row not 0 0 0 1", lambda t: scenes.load_blender(blender(t, {
        "camera_angle_x": 0.7, "frames": [{"file_path": "./train/r_0", "transform_matrix":
                                           POSE[:3] + [[0, 0, 0.5, 1]]}]})), ValueError,
     r"pose 0 has the last row \[0.0, 0.0, 0.5, 1.0\]; a camera-to-world matrix ends with"),
    ("npz/scaled rotation", lambda t: scenes.load_npz(npz(t, poses=np.tile(
        np.asarray(POSE) @ np.diag([2.0, 2, 2, 1]), (3, 1, 1)))), ValueError,
     r"scene.npz': the rotation part of pose 0 is not a rotation"),
    ("blender/missing image", lambda t: scenes.load_blender(blender(t, images={})),
     FileNotFoundError, r"r_0.png' is missing"),
    ("blender/garbage image", lambda t: scenes.load_blender(
        blender(t, images={"r_0": b"not a png at all"})), ValueError,
     r"r_0.png' cannot be read"),
    ("blender/empty image file", lambda t: scenes.load_blender(
        blender(t, images={"r_0": b""})), ValueError, r"r_0.png' cannot be read"),
    ("blender/images of different sizes", lambda t: scenes.load_blender(
        blender(t, *two_frames((4, 4, 3), (6, 4, 3)))), ValueError,
     r"different sizes .*r_1.png' differs"),
    # tiny-NeRF .npz.
    ("npz/missing file", lambda t: scenes.load_npz(os.path.join(t, "none.npz")),
     FileNotFoundError, r"none.npz' is missing"),
    ("npz/empty file", lambda t: scenes.load_npz(raw_file(t, "e.npz", b"")), ValueError,
     r"e.npz' is not a readable tiny-NeRF .npz"),
    ("npz/garbage", lambda t: scenes.load_npz(raw_file(t, "g.npz", b"PK\x03\x04garbage")),
     ValueError, r"g.npz' is not a readable"),
    ("npz/a single .npy array", lambda t: scenes.load_npz(
        (np.save(os.path.join(t, "a.npy"), np.zeros(3)), os.path.join(t, "a.npy"))[1]),
     ValueError, r"a.npy' holds one array"),
    ("npz/pickled objects", lambda t: scenes.load_npz(
        npz(t, images=np.array([object()] * 3))), ValueError, r"scene.npz' is damaged"),
    ("npz/no focal", lambda t: scenes.load_npz(npz(t, focal=None)), ValueError,
     r"scene.npz' lacks \['focal'\]"),
    ("npz/images 3-D", lambda t: scenes.load_npz(npz(t, images=np.zeros((3, 4, 4)))),
     ValueError, r"scene.npz': images of shape \(3, 4, 4\)"),
    ("npz/no views", lambda t: scenes.load_npz(npz(t, images=np.zeros((0, 4, 4, 3)))),
     ValueError, r"images of shape \(0, 4, 4, 3\)"),
    ("npz/NaN pixel", lambda t: scenes.load_npz(npz(t, images=np.where(
        np.arange(48).reshape(1, 4, 4, 3) == 7, np.nan, np.zeros((3, 4, 4, 3))))),
     ValueError, r"scene.npz' images: NaN or inf pixel at index \(0, 0, 2, 1\)"),
    ("npz/inf pixel", lambda t: scenes.load_npz(npz(t, images=np.full((3, 4, 4, 3), np.inf))),
     ValueError, r"NaN or inf pixel at index \(0, 0, 0, 0\)"),
    ("npz/negative floats", lambda t: scenes.load_npz(npz(t, images=np.full((3, 4, 4, 3), -1.))),
     ValueError, r"images: float pixels span \[-1, "),
    ("npz/floats above 255", lambda t: scenes.load_npz(npz(t, images=np.full((3, 4, 4, 3),
                                                                             1000.))),
     ValueError, r"float pixels span \[0, 1000\]"),
    ("npz/HDR floats up to 1.3", lambda t: scenes.load_npz(npz(t, images=np.full(
        (3, 4, 4, 3), 1.3, np.float32))), ValueError, r"float pixels span \[0, 1.3\]"),
    ("npz/int32 pixels", lambda t: scenes.load_npz(npz(t, images=np.zeros((3, 4, 4, 3),
                                                                          np.int32))),
     ValueError, r"images: pixels of dtype int32 are not images"),
    ("npz/string pixels", lambda t: scenes.load_npz(npz(t, images=np.full((3, 4, 4, 3), "x"))),
     ValueError, r"pixels of dtype <U1 are not images"),
    ("npz/poses 3x3", lambda t: scenes.load_npz(npz(t, poses=np.zeros((3, 3, 3)))),
     ValueError, r"scene.npz': poses of shape \(3, 3, 3\)"),
    ("npz/NaN pose", lambda t: scenes.load_npz(npz(t, poses=np.full((3, 4, 4), np.nan))),
     ValueError, r"scene.npz': pose 0 contains NaN"),
    ("npz/3 images 2 poses", lambda t: scenes.load_npz(
        npz(t, poses=np.tile(np.asarray(POSE), (2, 1, 1)))), ValueError,
     r"scene.npz': 3 images but 2 poses"),
    ("npz/focal of two values", lambda t: scenes.load_npz(npz(t, focal=np.array([5.0, 6.0]))),
     ValueError, r"scene.npz': focal must be one number"),
    ("npz/focal 0", lambda t: scenes.load_npz(npz(t, focal=np.float32(0))), ValueError,
     r"scene.npz': focal length 0.0"),
    ("npz/focal NaN", lambda t: scenes.load_npz(npz(t, focal=np.float32(np.nan))), ValueError,
     r"focal length nan"),
    ("npz/white without alpha", lambda t: scenes.load_npz(npz(t), white_background=True),
     ValueError, r"scene.npz' has no alpha array"),
    ("npz/alpha of another shape", lambda t: scenes.load_npz(
        npz(t, alpha=np.ones((3, 2, 2), np.float32)), white_background=True), ValueError,
     r"scene.npz': alpha of shape \(3, 2, 2\)"),
    ("npz/i_test out of range", lambda t: scenes.load_npz(npz(t, i_test=np.array([5]))),
     ValueError, r"scene.npz': i_test must be .* in \[0, 3\)"),
    ("npz/i_train floats", lambda t: scenes.load_npz(
        npz(t, i_test=np.array([2]), i_train=np.array([0.0, 1.0]))), ValueError,
     r"i_train must be a non-empty list of view indices"),
    # LLFF poses_bounds.npy and images_<factor>/.
    ("llff/no poses_bounds", lambda t: scenes.load_llff(t), FileNotFoundError,
     r"poses_bounds.npy' is missing"),
    ("llff/garbage poses_bounds", lambda t: scenes.load_llff(llff(t, raw=b"\x93NUMPY garbage")),
     ValueError, r"poses_bounds.npy' is not a readable"),
    ("llff/shape [2, 15]", lambda t: scenes.load_llff(llff(t, rows=np.ones((2, 15)))),
     ValueError, r"poses_bounds.npy' has shape \(2, 15\)"),
    ("llff/no rows", lambda t: scenes.load_llff(llff(t, rows=np.ones((0, 17)))), ValueError,
     r"has shape \(0, 17\)"),
    ("llff/NaN in a pose", with_row(lambda r: r.__setitem__((1, 3), np.nan)), ValueError,
     r"poses_bounds.npy': row 1 contains NaN"),
    ("llff/NaN bound", with_row(lambda r: r.__setitem__((0, 16), np.nan)), ValueError,
     r"row 0 contains NaN"),
    ("llff/near 0", with_row(lambda r: r.__setitem__((0, 15), 0.0)), ValueError,
     r"row 0 has bounds near 0, far 10; expected 0 < near < far"),
    ("llff/near > far", with_row(lambda r: r.__setitem__((1, 15), 20.0)), ValueError,
     r"row 1 has bounds near 20, far 10"),
    ("llff/focal 0", with_row(lambda r: r.__setitem__((0, 14), 0.0)), ValueError,
     r"row 0 has \[H, W, focal\]"),
    ("llff/singular pose", with_row(lambda r: r.__setitem__((1, [0, 1, 2, 5, 6, 7, 10, 11, 12]),
                                                             0.0)),
     ValueError, r"poses_bounds.npy': pose 1 has a singular rotation"),
    ("llff/no images_8", lambda t: scenes.load_llff(llff(t), factor=4), FileNotFoundError,
     r"images_4' is missing"),
    ("llff/3 images 2 poses", lambda t: scenes.load_llff(
        llff(t, images=[np.zeros((4, 4, 3), np.uint8)] * 3)), ValueError,
     r"3 images in .*images_8 but 2 poses"),
    ("llff/images of different sizes", lambda t: scenes.load_llff(
        llff(t, images=[np.zeros((4, 4, 3), np.uint8), np.zeros((4, 6, 3), np.uint8)])),
     ValueError, r"images_8: images of different sizes .*001.png' differs"),
    # CT sinograms (.npy/.npz/.mat) and geometries.
    ("ct/missing file", lambda t: ct_data.load_scan(os.path.join(t, "no.npy"), GEOMETRY),
     FileNotFoundError, r"no.npy' does not exist"),
    ("ct/empty .npy", lambda t: ct_data.load_scan(raw_file(t, "e.npy", b""), GEOMETRY),
     ValueError, r"e.npy' is not a readable .npy"),
    ("ct/garbage .mat", lambda t: ct_data.load_scan(raw_file(t, "g.mat", b"MATLAB junk"),
                                                    GEOMETRY), ValueError,
     r"g.mat' is not a readable .mat"),
    ("ct/unsupported extension", lambda t: ct_data.load_scan(raw_file(t, "s.tif", b"II*"),
                                                             GEOMETRY), ValueError,
     r"Unsupported sinogram file .*s.tif"),
    ("ct/NaN in the sinogram", lambda t: ct_data.load_scan(*scan(t, with_nan())), ValueError,
     r"scan.npy' has 1 NaN/inf value\(s\), first at \[view 2, detector 3\]"),
    ("ct/complex sinogram", lambda t: ct_data.load_scan(*scan(t, np.ones((6, 8)) * 1j)),
     ValueError, r"scan.npy': 'the array' is complex"),
    ("ct/text sinogram", lambda t: ct_data.load_scan(*scan(t, np.full((6, 8), "a"))),
     ValueError, r"scan.npy': 'the array' holds <U1 values, not numbers"),
    ("ct/3-D sinogram", lambda t: ct_data.load_scan(*scan(t, np.ones((6, 8, 2)))),
     ValueError, r"scan.npy' has shape \(6, 8, 2\): expected 2-D"),
    ("ct/views disagree with angles", lambda t: ct_data.load_scan(*scan(t, np.ones((5, 8)))),
     ValueError, r"scan.npy' has shape \(5, 8\) but the geometry gives 6 angles"),
    ("ct/no such struct field", lambda t: ct_data.load_scan(mat_struct(t), GEOMETRY,
                                                            "CtData.sino"), KeyError,
     r"struct.mat' .*no 'sino' under 'CtData' \(it has \['parameters', 'sinogram'\]\)"),
    ("ct/v7.3 no such group", lambda t: ct_data.load_scan(h5_file(t), GEOMETRY, "Data.sinogram"),
     KeyError, r"v73.mat' \(MATLAB v7.3\) has no variable 'Data.sinogram'"),
    ("ct/struct instead of array", lambda t: ct_data.load_scan(mat_struct(t), GEOMETRY,
                                                               "CtData.parameters"),
     ValueError, r"'CtData.parameters' is a struct/group"),
    ("ct/geometry not JSON", lambda t: ct_data.load_scan(*scan(t)[:1], "{radius: 1"),
     ValueError, r"neither a JSON file nor JSON"),
    ("ct/geometry a list", lambda t: ct_data.load_scan(*scan(t)[:1], "[1, 2]"), ValueError,
     r"must be a JSON object, got list"),
    ("ct/unknown geometry type", lambda t: ct_data.load_scan(
        *scan(t, geometry=dict(GEOMETRY, type="cone"))), ValueError,
     r"geometry type 'cone'"),
    ("ct/fan without distances", lambda t: ct_data.load_scan(
        *scan(t, geometry=dict(GEOMETRY, type="fan"))), ValueError,
     r"fan-beam geometry is missing \['source_origin', 'source_detector', 'pixel_size'\]"),
    ("ct/radius 0", lambda t: ct_data.load_scan(*scan(t, geometry=dict(GEOMETRY, radius=0))),
     ValueError, r"geometry 'radius' is 0: it must be a finite length > 0"),
    ("ct/negative pixel size", lambda t: ct_data.load_scan(
        *scan(t, geometry=dict(FAN, pixel_size=-0.1))), ValueError,
     r"'pixel_size' is -0.1"),
    ("ct/detector spacing text", lambda t: ct_data.load_scan(
        *scan(t, geometry=dict(GEOMETRY, detector_spacing="wide"))), ValueError,
     r"'detector_spacing' is 'wide'"),
    ("ct/sign-flipped sinogram", lambda t: ct_data.load_scan(*scan(t, -np.ones((6, 8)))),
     ValueError, r"scan.npy' has no positive value .*negate it"),
    ("ct/boolean sinogram", lambda t: ct_data.load_scan(*scan(t, np.ones((6, 8), bool))),
     ValueError, r"scan.npy' is boolean"),
    ("ct/degrees labelled radians", lambda t: ct_data.load_scan(*scan(t, geometry={
        "type": "parallel", "angles": [0, 30, 60, 90, 120, 150]})), ValueError,
     r"span 150 radians, 23.9 turns; if they are degrees, set \"angle_unit\": \"degrees\""),
    ("ct/one angle two rows", lambda t: ct_data.load_scan(*scan(t, np.arange(48.0).reshape(
        6, 8) + 1, geometry={"type": "parallel", "angles": [0, 0.5, 1, 1, 2, 2.5]})),
     ValueError, r"views 2 and 3 have the same angle \(1 rad\) but different rows"),
    ("ct/num_angles -16", lambda t: ct_data.load_scan(*scan(t, geometry=dict(
        GEOMETRY, num_angles=-16))), ValueError, r"scan.npy': geometry num_angles -16: give"),
    ("ct/missing geometry file", lambda t: ct_data.load_scan(scan(t)[0], os.path.join(
        t, "geometry.json")), FileNotFoundError, r"geometry.json' does not exist"),
    ("ct/NaN in the file's angles", lambda t: ct_data.load_scan(*npz_scan(t), "sinogram"),
     ValueError, r"scan.npz': the data file's angles: the view angles contain NaN or inf "
     r"\(first at view 4\)"),
    ("ct/NaN angle", lambda t: ct_data.load_scan(*scan(t, geometry={
        "type": "parallel", "angles": [0, 1, 2, 3, 4, float("nan")]})), ValueError,
     r"angles contain NaN or inf"),
    ("ct/no angles", lambda t: ct_data.load_scan(*scan(t, geometry={"type": "parallel"})),
     ValueError, r"geometry needs the view angles"),
    ("ct/angle unit grad", lambda t: ct_data.load_scan(
        *scan(t, geometry=dict(GEOMETRY, angle_unit="grad"))), ValueError,
     r"angle_unit 'grad'"),
    ("ct/unknown convention", lambda t: ct_data.load_scan(
        *scan(t, geometry=dict(GEOMETRY, convention="matlab"))), ValueError,
     r"convention 'matlab'"),
    # Training workdirs: config.json and checkpoints.
    ("run/no config.json", lambda t: training.restore(t), FileNotFoundError,
     r"config.json' is missing: .* is not the workdir"),
    ("run/config.json not JSON", lambda t: training.restore(workdir(t, raw="{")), ValueError,
     r"Malformed .*config.json'"),
    ("run/unknown application", lambda t: training.restore(workdir(
        t, {"application": "grad_net", "config": {}, "context": {}})), ValueError,
     r"config.json'.*'grad_net'.*one of"),
    ("run/no checkpoints", lambda t: training.restore(workdir(
        t, {"application": "toy", "config": {}, "context": {"dims": 1, "outputs": 1}})),
     FileNotFoundError, r"No checkpoint in .*checkpoints: train first"),
    ("run/every checkpoint damaged", lambda t: training.restore(trained_toy(t)), ValueError,
     r"Every checkpoint in the run is damaged.*ckpt-2"),
]


@pytest.mark.parametrize("case", R, ids=[c[0] for c in R])
def test_a_bad_file_is_refused_with_its_name(case, tmp_path):
  _, call, error, pattern = case
  root = str(tmp_path / "data")
  os.makedirs(root, exist_ok=True)
  with pytest.raises(error) as info:
    call(root)
  message = str(info.value.args[0] if info.value.args else info.value)
  assert re.search(pattern, message, re.S), message
  assert root in message or "geometry" in message.lower(), message  # names the file/input


# ---------------------------------------------------------------------------------------------
# Valid files in unusual encodings load as exactly these values.

GRAY = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
GRAY16 = np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000


def _blender_image(t, array, mode=None):
  root = blender(t, images={})
  _png(os.path.join(root, "train", "r_0.png"), array, mode)
  return scenes.load_blender(root, white_background=False).images[0]


GRID = np.kron(np.array([[255, 0, 0], [0, 0, 128]], np.uint8), np.ones((8, 8), np.uint8))


def _blender_image_exif(t, array, orientation):
  """A Blender view of `array` [H, W] stored the way a camera stores a turned photo: the
  pixels turned and an EXIF orientation that says how to turn them back (6: 90° clockwise)."""
  image = Image.fromarray(np.rot90(array, 1 if orientation == 6 else -1))
  exif = image.getexif()
  exif[0x0112] = orientation
  root = blender(t, images={})
  os.makedirs(os.path.join(root, "train"), exist_ok=True)
  image.save(os.path.join(root, "train", "r_0.png"), exif=exif)
  return scenes.load_blender(root, white_background=False).images[0]


C = [
    ("8-bit gray PNG", lambda t: _blender_image(t, GRAY),
     np.repeat(GRAY[..., None] / 255.0, 3, -1)),
    ("16-bit gray PNG", lambda t: _blender_image(t, GRAY16),
     np.repeat(GRAY16[..., None] / 65535.0, 3, -1)),
    ("gray + alpha PNG (on black)", lambda t: _blender_image(
        t, np.stack([GRAY, np.full_like(GRAY, 255)], -1), "LA"),
     np.repeat(GRAY[..., None] / 255.0, 3, -1)),
    ("RGBA PNG half transparent (on black)", lambda t: _blender_image(
        t, np.concatenate([np.full((4, 4, 3), 200, np.uint8), np.full((4, 4, 1), 51, np.uint8)],
                          -1)), np.full((4, 4, 3), 200 / 255.0 * 0.2)),
    ("palette PNG", lambda t: _blender_image(t, GRAY, "P"),
     np.repeat(GRAY[..., None] / 255.0, 3, -1)),
    ("uint16 images in .npz", lambda t: scenes.load_npz(npz(t, images=np.full(
        (3, 4, 4, 3), 65535 // 5, np.uint16)))[0].images[0], np.full((4, 4, 3), 0.2)),
    ("uint8 images in .npz", lambda t: scenes.load_npz(npz(t, images=np.full(
        (3, 4, 4, 3), 51, np.uint8)))[0].images[0], np.full((4, 4, 3), 0.2)),
    ("float 0..255 images in .npz", lambda t: scenes.load_npz(npz(t, images=np.full(
        (3, 4, 4, 3), 51.0, np.float32)))[0].images[0], np.full((4, 4, 3), 0.2)),
    ("RGBA images in .npz on white", lambda t: scenes.load_npz(npz(t, images=np.concatenate(
        [np.full((3, 4, 4, 3), 0.3), np.full((3, 4, 4, 1), 0.5)], -1).astype(np.float32)),
        white_background=True)[0].images[0], np.full((4, 4, 3), 0.8)),
    ("[V, 3, 4] poses in .npz", lambda t: scenes.load_npz(npz(t, poses=np.tile(
        np.asarray(POSE, np.float32)[:3], (3, 1, 1))))[0].poses[0], np.asarray(POSE)),
    *[(f"PNG stored turned, EXIF orientation {o}", lambda t, o=o: _blender_image_exif(t, GRID, o),
       np.repeat(GRID[..., None] / 255.0, 3, -1)) for o in (6, 8)],
    ("gray images in LLFF", lambda t: scenes.load_llff(llff(
        t, images=[GRAY, GRAY]))[0].images[0], np.repeat(GRAY[..., None] / 255.0, 3, -1)),
]


@pytest.mark.parametrize("case", C, ids=[c[0] for c in C])
def test_an_unusual_encoding_loads_as_its_values(case, tmp_path):
  _, call, expected = case
  root = str(tmp_path / "data")
  os.makedirs(root, exist_ok=True)
  np.testing.assert_allclose(call(root), expected, atol=1e-6)
