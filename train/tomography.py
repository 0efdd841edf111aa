r"""Sparse-view CT: fits an integral network to the kept views of a parallel-beam sinogram of
the Shepp-Logan phantom and predicts the held-out views with two evaluations per line.

  python -m train.tomography --subsample=4 --parameterization=ray --workdir=runs/ct4
"""

import dataclasses
import json
import os

from absl import app
from absl import flags
import numpy as np

from autoint_tf import ct
from autoint_tf import io_utils
from autoint_tf import tomography

_D = ct.CTConfig()
flags.DEFINE_string("workdir", "runs/tomography", "Output directory.")
flags.DEFINE_enum("phantom", _D.phantom, sorted(tomography.PHANTOMS), "Phantom.")
flags.DEFINE_integer("num_angles", _D.num_angles, "Views over [0, pi).")
flags.DEFINE_integer("num_detectors", _D.num_detectors, "Detector pixels.")
flags.DEFINE_integer("subsample", _D.subsample, "Keep every k-th view (paper: 4, 8, 16).")
flags.DEFINE_enum("parameterization", _D.parameterization, list(ct.PARAMETERIZATIONS),
                  "ray: Phi(rho, theta, t) (paper); point: Phi(o + t d, d).")
flags.DEFINE_string("activation", _D.activation, "swish, sine, relu, softplus, ...")
flags.DEFINE_integer("depth", _D.depth, "Hidden layers.")
flags.DEFINE_integer("width", _D.width, "Hidden units.")
flags.DEFINE_integer("num_frequencies", _D.num_frequencies, "PE octaves.")
flags.DEFINE_integer("samples_per_line", _D.samples_per_line, "Stratified samples a line.")
flags.DEFINE_float("learning_rate", _D.learning_rate, "Adam (amsgrad) learning rate.")
flags.DEFINE_integer("steps", _D.steps, "Training steps (full batch of kept lines).")
flags.DEFINE_integer("seed", _D.seed, "Random seed.")
FLAGS = flags.FLAGS


def _figure(out, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, 4, figsize=(16, 4))
  for ax, key in zip(axes[:3], ("truth", "prediction", "interpolation")):
    ax.imshow(out[key].T, aspect="auto", cmap="gray")
    ax.set_title(key)
    ax.set_xlabel("angle index")
  mid = out["truth"].shape[1] // 2
  for key, style in (("truth", "k"), ("prediction", "r--"), ("interpolation", "b:")):
    axes[3].plot(out[key][:, mid], style, label=key)
  axes[3].plot(out["kept"], out["truth"][out["kept"], mid], "ko", label="measured")
  axes[3].set_title("scanline through the centre")
  axes[3].legend()
  io_utils.save_figure(fig, path)


def main(argv):
  del argv
  config = ct.CTConfig(**{f.name: getattr(FLAGS, f.name) for f in dataclasses.fields(ct.CTConfig)
                          if f.name in FLAGS})
  os.makedirs(FLAGS.workdir, exist_ok=True)
  io_utils.write_json(os.path.join(FLAGS.workdir, "config.json"), config)
  metrics, out = ct.train_and_evaluate(config)
  io_utils.write_json(os.path.join(FLAGS.workdir, "metrics.json"), metrics)
  with io_utils.atomic_path(os.path.join(FLAGS.workdir, "sinogram.npz")) as tmp:
    np.savez(tmp, prediction=out["prediction"], truth=out["truth"], kept=out["kept"])
  _figure(out, os.path.join(FLAGS.workdir, "sinograms.png"))
  print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
  app.run(main)
