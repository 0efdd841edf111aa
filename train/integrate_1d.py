r"""Fits a grad network to an integrand and integrates it with the integral network.

  python -m train.integrate_1d --workdir=runs/poly                 # the paper's polynomial
  python -m train.integrate_1d --integrand=sinc --lower=-1 --upper=1
  python -m train.integrate_1d --integrand=expression --expression="np.exp(-x**2)"
  python -m train.integrate_1d --integrand=samples --samples_path=f.npy   # [N, 2] (x, f)
  python -m train.integrate_1d --integrand=smooth2d --lower=-1 --upper=1  # 2D box integrals
"""

import json

from absl import app
from absl import flags

from autoint_tf import config_flags
from autoint_tf import toy

flags.DEFINE_string("workdir", "runs/integrate_1d", "Output directory.")
config_flags.define(toy.ToyConfig, {
    "integrand": "What to integrate.",
    "expression": "numpy expression of x (--integrand=expression).",
    "samples_path": ".npy of [N, 2] (x, f) rows.",
    "lower": "Domain lower bound (each axis).",
    "upper": "Domain upper bound (each axis).",
    "depth": "Hidden layers.",
    "width": "Hidden units.",
    "activation": "swish, sine, requ, softplus, tanh or relu.",
    "num_frequencies": "Normalized PE octaves.",
    "learning_rate": "Adam (amsgrad) learning rate.",
    "final_lr_fraction": "Cosine decay floor of the lr.",
    "steps": "Training steps.",
    "batch_size": "Samples a step.",
    "sample_margin": "Closed-form integrands: train this fraction of the width beyond the edges.",
    "num_train_points": "0: fresh uniform samples; n: n fixed grid points (paper: 12).",
    "mode": "Grad-network mode.",
    "seed": "Random seed.",
}, enums={"integrand": sorted(toy.INTEGRANDS) + ["expression", "samples"],
          "mode": ["auto", "forward", "tape", "explicit"]})
FLAGS = flags.FLAGS


def main(argv):
  del argv
  config = config_flags.config(toy.ToyConfig)
  metrics = toy.train_and_evaluate(config, FLAGS.workdir)
  print(json.dumps(metrics, indent=2))
  print(f"Integrals over {metrics['num_boxes']} random sub-boxes: max error "
        f"{100 * metrics['max_error_over_range_volume']:.3f}% of (integrand range x length); "
        f"plot: {FLAGS.workdir}/plot.png")


if __name__ == "__main__":
  app.run(main)
