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
from the last checkpoint. Writes metrics.json, sinogram.npz and ct.png to --workdir.
"""

import json

from absl import app
from absl import flags

from autoint_tf import config_flags
from autoint_tf import ct
from autoint_tf import ct_data
from autoint_tf import fields
from autoint_tf import tomography

flags.DEFINE_string("workdir", "runs/tomography", "Output directory (checkpoints, tb/, figures).")
config_flags.define(ct.Config, enums={
    "phantom": sorted(tomography.PHANTOMS), "geometry": ct_data.GEOMETRY_TYPES,
    "parameterization": ct.PARAMETERIZATIONS, "activation": sorted(fields.ACTIVATIONS)})
FLAGS = flags.FLAGS


def main(argv):
  del argv
  config = config_flags.config(ct.Config)
  try:
    scan = ct.scan_for(config)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  report, outputs = ct.train_and_evaluate(config, scan, workdir=FLAGS.workdir)
  ct.write_report(report, outputs, scan, FLAGS.workdir)
  print(json.dumps(report, indent=2))


if __name__ == "__main__":
  app.run(main)
