r"""Training steps a call of the traced step (`--steps_per_execution`): the lego preset
trained by the engine with one step a call and with several, side by side in one process,
interleaved rounds. The time of a step is the difference between a long and a short run over
their difference in steps (tracing and the final evaluation cancel), median over the rounds.

  python -m benchmarks.steps_per_execution [--rounds=3] [--batch_size=256]
"""

import os
import tempfile

from absl import app
from absl import flags
import numpy as np

from autoint_tf import configs
from autoint_tf import radiance
from benchmarks import report
from benchmarks import timing

flags.DEFINE_string("data_path", "../shared/data/lego_100px.npz", "npz scene (tiny-NeRF format).")
flags.DEFINE_integer("batch_size", 256, "Rays a step.")
flags.DEFINE_list("values", ["1", "8"], "steps_per_execution values to compare (first: the "
                  "reference of the ratios).")
flags.DEFINE_integer("rounds", 3, "Interleaved rounds.")
flags.DEFINE_bool("write", True, "Write the BENCHMARKS.md section.")
FLAGS = flags.FLAGS
SHORT, LONG = 100, 1000


def recipe(batch_size, steps_per_execution, steps):
  """The lego preset (model and loss; no budget) for `steps` steps."""
  return configs.replace(radiance.preset("lego"), {
      "scene.data_path": FLAGS.data_path, "loop.budget_minutes": 0.0,
      "loop.lr_decay_fraction": 0.0, "batch.size": batch_size, "loop.steps": steps,
      "loop.steps_per_execution": steps_per_execution, "loop.eval_every": 0,
      "loop.log_every": 1000, "loop.checkpoint_every": 2000})


def main(argv):
  del argv
  values = [int(v) for v in FLAGS.values]
  train_views, test_views = radiance.load_views(recipe(FLAGS.batch_size, 1, 1))
  test_views = test_views.subset(slice(0, 1))

  def seconds(k, steps):
    config = recipe(FLAGS.batch_size, k, steps)
    with tempfile.TemporaryDirectory() as workdir:
      _, history = radiance.train(config, train_views, test_views, workdir, progress=False)
    return history["train_seconds"]

  per_step = {k: [] for k in values}
  for r in range(FLAGS.rounds):
    for k in values:
      per_step[k].append(timing.seconds_per_step(lambda n, k=k: seconds(k, n), LONG, SHORT))
      print(f"round {r + 1}/{FLAGS.rounds}, steps_per_execution={k}: "
            f"{1000 * per_step[k][-1]:.1f} ms a step", flush=True)
  ms = {k: 1000 * float(np.median(v)) for k, v in per_step.items()}
  ref = ms[values[0]]
  rows = "\n".join(f"| {k} | {ms[k]:.1f} | {ref / ms[k]:.2f}× |" for k in values)
  text = (f"`python -m benchmarks.steps_per_execution --rounds={FLAGS.rounds} "
          f"--batch_size={FLAGS.batch_size}` (the lego preset's model and loss, "
          f"{os.path.basename(FLAGS.data_path)}, {FLAGS.batch_size} rays a step, one process, "
          f"interleaved; a step's time is that of {LONG} steps minus {SHORT}, over "
          f"{LONG - SHORT}):\n\n| steps a call | ms a step | steps a second against "
          f"{values[0]} a call |\n|---|---|---|\n{rows}\n")
  print(text)
  if FLAGS.write:
    report.publish("steps_per_execution", "Training steps a call of the traced step", text,
                   {"seconds_per_step": {str(k): v for k, v in per_step.items()},
                    "batch_size": FLAGS.batch_size, "short": SHORT, "long": LONG})


if __name__ == "__main__":
  app.run(main)
