r"""Sparse-view CT: fits an integral network to every k-th view of a sinogram and predicts the
held-out views with two evaluations per line; the point model also gives an image (vs FBP).

  python -m train.tomography --subsample=4 --workdir=runs/ct4                 # paper's (rho, theta, t)
  python -m train.tomography --parameterization=point --subsample=8 --workdir=runs/ct8p
  python -m train.tomography --geometry=fan --parameterization=point          # fan-beam phantom
  python -m train.tomography --sinogram=scan.mat --variable=sino \
      --geometry_json='{"type": "parallel", "angle_unit": "degrees", "angle_range": [0, 180],
                        "num_angles": 180, "radius": 1.0}'

Measured sinograms: .npy, .npz or .mat (v5 and v7.3), [views, detectors]; the geometry is a
JSON object or file (see autoint_tf/ct_data.py). Rerunning with the same --workdir resumes
from the last checkpoint.
"""

import json
import os

from absl import app
from absl import flags
import numpy as np

from autoint_tf import config_flags
from autoint_tf import ct
from autoint_tf import ct_data
from autoint_tf import fields
from autoint_tf import io_utils
from autoint_tf import tomography

flags.DEFINE_string("workdir", "runs/tomography", "Output directory (checkpoints, tb/, figures).")
flags.DEFINE_string("sinogram", "", "Measured sinogram file (.npy/.npz/.mat); empty: phantom.")
flags.DEFINE_string("variable", "", "Array/variable name in the .npz/.mat (default 'sinogram').")
flags.DEFINE_string("geometry_json", "", "Geometry of --sinogram: JSON text or a .json path.")
config_flags.define(ct.CTConfig, {
    "phantom": "Phantom (no --sinogram).",
    "geometry": "Built-in geometry of the phantom.",
    "num_angles": "Phantom views (parallel: over [0, pi), fan: over [0, 2 pi)).",
    "num_detectors": "Phantom detector pixels.",
    "subsample": "Keep every k-th view (paper: 4, 8, 16).",
    "parameterization": "ray: Phi(rho, theta, t) (paper); point: Phi(o + t d, d).",
    "activation": "relu, swish, sine, softplus, ...",
    "depth": "Hidden layers.",
    "width": "Hidden units.",
    "num_frequencies": "PE octaves of (rho, theta, t) or of the point.",
    "direction_frequencies": "PE octaves of the direction (point model).",
    "samples_per_line": "Stratified grad-network samples a line.",
    "consistency_weight": "Point model: weight of the loss that makes the attenuation at a point "
                          "the same along every direction (0: off).",
    "consistency_points": "Random points a step for the consistency loss.",
    "learning_rate": "Adam (amsgrad) learning rate.",
    "steps": "Training steps (full batch of kept lines).",
    "checkpoint_every": "Steps between checkpoints.",
    "seed": "Random seed.",
}, enums={"phantom": sorted(tomography.PHANTOMS), "geometry": ct_data.GEOMETRY_TYPES,
          "parameterization": ct.PARAMETERIZATIONS, "activation": sorted(fields.ACTIVATIONS)})
FLAGS = flags.FLAGS


def figure(out, metrics, path):
  """Sinograms, the centre scanline and (when there are) the images."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  images = [(k, out[k]) for k in ("image", "fbp_image", "point_image", "point_image_std")
            if out.get(k) is not None]
  rows = 2 if images else 1
  fig, axes = plt.subplots(rows, 4, figsize=(16, 4 * rows), squeeze=False)
  titles = {"truth": "measured (all views)",
            "prediction": f"AutoInt {metrics['psnr_heldout_autoint']:.1f} dB held-out",
            "interpolation": f"interpolation {metrics['psnr_heldout_interpolation']:.1f} dB"}
  for ax, key in zip(axes[0, :3], ("truth", "prediction", "interpolation")):
    ax.imshow(out[key].T, aspect="auto", cmap="gray")
    ax.set_title(titles[key])
    ax.set_xlabel("view")
  mid = out["truth"].shape[1] // 2
  for key, style in (("truth", "k"), ("prediction", "r--"), ("interpolation", "b:")):
    axes[0, 3].plot(out[key][:, mid], style, label=key)
  axes[0, 3].plot(out["kept"], out["truth"][out["kept"], mid], "ko", label="kept views")
  axes[0, 3].set_title("centre detector across views")
  axes[0, 3].legend()
  image_titles = {
      "image": "phantom", "fbp_image": f"FBP {metrics.get('psnr_image_fbp', float('nan')):.1f} dB",
      "point_image": f"AutoInt (mean over directions) "
                     f"{metrics.get('psnr_image_autoint', float('nan')):.1f} dB",
      "point_image_std": "AutoInt std over directions"}
  for ax in axes[1:].ravel():
    ax.axis("off")
  if images:
    vmax = float(np.max(images[0][1]))
    for ax, (key, img) in zip(axes[1], images):
      ax.imshow(img, cmap="gray", vmin=0 if key != "point_image_std" else None,
                vmax=vmax if key != "point_image_std" else None)
      ax.set_title(image_titles[key])
  io_utils.save_figure(fig, path)


def main(argv):
  del argv
  config = config_flags.config(ct.CTConfig)
  if FLAGS.sinogram:
    if not FLAGS.geometry_json:
      raise app.UsageError("--sinogram needs --geometry_json (JSON text or file), e.g. "
                           '\'{"type": "parallel", "num_angles": 180, "angle_unit": "degrees", '
                           '"angle_range": [0, 180]}\'.')
    scan = ct_data.load_scan(FLAGS.sinogram, FLAGS.geometry_json, FLAGS.variable or None)
  else:
    scan = ct.scan_for(config)
  os.makedirs(FLAGS.workdir, exist_ok=True)
  io_utils.write_json(os.path.join(FLAGS.workdir, "config.json"),
                      {**config.__dict__, "sinogram": FLAGS.sinogram,
                       "scan_geometry": scan.geometry})
  metrics, out = ct.train_and_evaluate(config, scan, workdir=FLAGS.workdir)
  io_utils.write_json(os.path.join(FLAGS.workdir, "metrics.json"), metrics)
  with io_utils.atomic_path(os.path.join(FLAGS.workdir, "sinogram.npz")) as tmp:
    arrays = {k: out[k] for k in ("prediction", "truth", "interpolation", "kept", "fbp_image",
                                  "point_image") if out.get(k) is not None}
    np.savez(tmp, angles=scan.angles, **arrays)
  figure(out, metrics, os.path.join(FLAGS.workdir, "ct.png"))
  print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
  app.run(main)
