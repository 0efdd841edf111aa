r"""Fits a grad network to an integrand (1D, or 2D box integrals) and integrates it with the
integral network. Rerunning with the same --workdir resumes from the last checkpoint.

  python -m train.integrate --workdir=runs/poly                    # the paper's polynomial
  python -m train.integrate --config.integrand=sinc --config.lower=-1 --config.upper=1
  python -m train.integrate --config.integrand=expression --config.expression="np.exp(-x**2)"
  python -m train.integrate --config.integrand=samples --config.samples_path=f.npy  # [N, 2]
  python -m train.integrate --config.integrand=smooth2d --config.lower=-1 --config.upper=1
"""

import json

from absl import app
from absl import flags

from autoint_tf import toy
from autoint_tf.cli import config_value
from autoint_tf.cli import define_config


def define_flags():
  return define_config(toy.Config(), workdir="runs/integrate")


def main(argv):
  del argv
  metrics = toy.train_and_evaluate(config_value(flags.FLAGS["config"]), flags.FLAGS.workdir)
  print(json.dumps(metrics, indent=2))
  print(f"Integrals over {metrics['num_boxes']} random sub-boxes: max error "
        f"{100 * metrics['max_error_over_range_volume']:.3f}% of (integrand range x length); "
        f"plot: {flags.FLAGS.workdir}/plot.png")


def run():
  """The console script autoint-integrate."""
  define_flags()
  app.run(main)
