r"""Sparse-view CT: fits an integral network to every k-th view of a sinogram and predicts the
held-out views with two evaluations per line; the point model also gives an image (vs FBP).

  python -m train.tomography --config.subsample=4 --workdir=runs/ct4      # paper's (rho, theta, t)
  python -m train.tomography --config.parameterization=point --config.subsample=8
  python -m train.tomography --config.geometry=fan --config.parameterization=point  # fan beam
  python -m train.tomography --config.sinogram=scan.mat --config.variable=sino \
      --config.geometry_json='{"type": "parallel", "angle_unit": "degrees",
                               "angle_range": [0, 180], "num_angles": 180, "radius": 1.0}'

Measured sinograms: .npy, .npz or .mat (v5 and v7.3), [views, detectors]; the geometry is a
JSON object or file (see autoint_tf/ct_data.py). Rerunning with the same --workdir resumes
from the last checkpoint. Writes metrics.json, sinogram.npz and ct.png to --workdir.
"""

import json

from absl import app
from absl import flags

from autoint_tf import ct
from autoint_tf.cli import config_value
from autoint_tf.cli import define_config


def define_flags():
  return define_config(ct.Config(), workdir="runs/tomography")


def main(argv):
  del argv
  config = config_value(flags.FLAGS["config"])
  try:
    scan = ct.scan_for(config)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  report, outputs = ct.train_and_evaluate(config, scan, workdir=flags.FLAGS.workdir)
  ct.write_report(report, outputs, scan, flags.FLAGS.workdir)
  print(json.dumps(report, indent=2))


def run():
  """The console script autoint-tomography."""
  define_flags()
  app.run(main)
