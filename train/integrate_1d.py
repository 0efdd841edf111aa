r"""Fits a grad network to an integrand and integrates it with the integral network.

  python -m train.integrate_1d --workdir=runs/poly                 # the paper's polynomial
  python -m train.integrate_1d --integrand=sinc --lower=-1 --upper=1
  python -m train.integrate_1d --integrand=expression --expression="np.exp(-x**2)"
  python -m train.integrate_1d --integrand=samples --samples_path=f.npy   # [N, 2] (x, f)
  python -m train.integrate_1d --integrand=smooth2d --lower=-1 --upper=1  # 2D box integrals
"""

import dataclasses
import json

from absl import app
from absl import flags

from autoint_tf import toy

_D = toy.ToyConfig()
flags.DEFINE_string("workdir", "runs/integrate_1d", "Output directory.")
flags.DEFINE_enum("integrand", _D.integrand, sorted(toy.INTEGRANDS) + ["expression", "samples"],
                  "What to integrate.")
flags.DEFINE_string("expression", _D.expression, "numpy expression of x (--integrand=expression).")
flags.DEFINE_string("samples_path", _D.samples_path, ".npy of [N, 2] (x, f) rows.")
flags.DEFINE_float("lower", _D.lower, "Domain lower bound (each axis).")
flags.DEFINE_float("upper", _D.upper, "Domain upper bound (each axis).")
flags.DEFINE_integer("depth", _D.depth, "Hidden layers.")
flags.DEFINE_integer("width", _D.width, "Hidden units.")
flags.DEFINE_string("activation", _D.activation, "swish, sine, requ, softplus, tanh or relu.")
flags.DEFINE_integer("num_frequencies", _D.num_frequencies, "Normalized PE octaves.")
flags.DEFINE_float("learning_rate", _D.learning_rate, "Adam (amsgrad) learning rate.")
flags.DEFINE_float("final_lr_fraction", _D.final_lr_fraction, "Cosine decay floor of the lr.")
flags.DEFINE_integer("steps", _D.steps, "Training steps.")
flags.DEFINE_integer("batch_size", _D.batch_size, "Samples a step.")
flags.DEFINE_float("sample_margin", _D.sample_margin,
                   "Closed-form integrands: train this fraction of the width beyond the edges.")
flags.DEFINE_integer("num_train_points", _D.num_train_points,
                     "0: fresh uniform samples; n: n fixed grid points (paper: 12).")
flags.DEFINE_enum("mode", _D.mode, ["auto", "forward", "tape", "explicit"], "Grad-network mode.")
flags.DEFINE_integer("seed", _D.seed, "Random seed.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  config = toy.ToyConfig(**{f.name: getattr(FLAGS, f.name)
                            for f in dataclasses.fields(toy.ToyConfig) if f.name in FLAGS})
  metrics = toy.train_and_evaluate(config, FLAGS.workdir)
  print(json.dumps(metrics, indent=2))
  print(f"Integrals over {metrics['num_boxes']} random sub-boxes: max error "
        f"{100 * metrics['max_error_over_range_volume']:.3f}% of (integrand range x length); "
        f"plot: {FLAGS.workdir}/plot.png")


if __name__ == "__main__":
  app.run(main)
