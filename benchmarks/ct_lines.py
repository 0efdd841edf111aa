r"""Lines per second of a sinogram: two integral-network evaluations vs quadrature of the grad
network with 64 and 128 samples a line, side by side in one run (interleaved, median).

  python -m benchmarks.ct_lines [--parameterization=ray --repeats=10]
"""

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from autoint_tf import ct
from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import tomography
from benchmarks import timing

flags.DEFINE_enum("parameterization", "ray", list(ct.PARAMETERIZATIONS), "CT model.")
flags.DEFINE_integer("num_angles", 64, "Views.")
flags.DEFINE_integer("num_detectors", 64, "Detector pixels.")
flags.DEFINE_integer("repeats", 10, "Timed rounds.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  lines = tomography.parallel_beam_lines(np.arange(FLAGS.num_angles) * np.pi / FLAGS.num_angles,
                                   FLAGS.num_detectors)
  phi = (ct.ray_network() if FLAGS.parameterization == "ray" else fields.PointIntegralNetwork())
  grad = grad_net.GradNetwork(phi, validate=False)
  inputs, t0, t1 = ct.flat_line_inputs(FLAGS.parameterization, lines)
  fns = {"autoint (2 evaluations)": tf.function(
      lambda: ct.line_integrals(phi, inputs, t0, t1), jit_compile=False)}
  for m in (64, 128):
    fns[f"quadrature ({m} samples)"] = tf.function(
        lambda m=m: ct.quadrature(grad, inputs, t0, t1, m), jit_compile=False)
  times = timing.interleaved({k: (lambda fn=fn: fn().numpy()) for k, fn in fns.items()},
                             FLAGS.repeats)
  n = t0.shape[0]
  base = times["autoint (2 evaluations)"]
  print(f"{n} lines, {FLAGS.parameterization} model 4x128 swish PE 10, median of "
        f"{FLAGS.repeats} interleaved rounds")
  print("| method | ms per sinogram | lines / s | AutoInt speed-up |")
  print("|---|---|---|---|")
  for k, med in times.items():
    print(f"| {k} | {1e3 * med:.1f} | {n / med:,.0f} | {med / base:.1f}x |")


if __name__ == "__main__":
  app.run(main)
