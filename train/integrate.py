r"""Fits a grad network to an integrand (1D, or 2D box integrals) and integrates it with the
integral network. Rerunning with the same --workdir resumes from the last checkpoint.

  python -m train.integrate --workdir=runs/poly                    # the paper's polynomial
  python -m train.integrate --integrand=sinc --lower=-1 --upper=1
  python -m train.integrate --integrand=expression --expression="np.exp(-x**2)"
  python -m train.integrate --integrand=samples --samples_path=f.npy   # [N, 2] (x, f)
  python -m train.integrate --integrand=smooth2d --lower=-1 --upper=1  # 2D box integrals
"""

import json

from absl import app
from absl import flags

from autoint_tf import config_flags
from autoint_tf import toy

flags.DEFINE_string("workdir", "runs/integrate", "Output directory.")
config_flags.define(toy.Config, enums={
    "integrand": sorted(toy.INTEGRANDS) + ["expression", "samples"],
    "mode": ["auto", "forward", "tape", "explicit"]})
FLAGS = flags.FLAGS


def main(argv):
  del argv
  metrics = toy.train_and_evaluate(config_flags.config(toy.Config), FLAGS.workdir)
  print(json.dumps(metrics, indent=2))
  print(f"Integrals over {metrics['num_boxes']} random sub-boxes: max error "
        f"{100 * metrics['max_error_over_range_volume']:.3f}% of (integrand range x length); "
        f"plot: {FLAGS.workdir}/plot.png")


if __name__ == "__main__":
  app.run(main)
