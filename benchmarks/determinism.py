r"""Speed cost of TF op determinism (LoopConfig.deterministic, on by default) on the radiance
training step: the tiny model on the built-in scene at 16x16, with and without, each in fresh
processes (op determinism is process-wide), interleaved rounds; the time of a step is the
difference between a long and a short run over their difference in steps (tracing cancels).

  python -m benchmarks.determinism [--rounds=2]
"""

import json
import os
import subprocess
import sys

from absl import app
from absl import flags
import numpy as np

from benchmarks import report
from benchmarks import timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_integer("rounds", 2, "Interleaved rounds.")
flags.DEFINE_bool("write", True, "Write the BENCHMARKS.md section.")
FLAGS = flags.FLAGS
SHORT, LONG = 20, 120
JOB = """
import json, sys, tempfile
from autoint_tf import configs, radiance, scenes
det, steps = sys.argv[1] == "1", int(sys.argv[2])
train, test = scenes.procedural_views(num_train=8, num_test=1, size=16)
config = configs.replace(radiance.Config(), {
    "scene.image_size": 16, "loop.steps": steps, "loop.deterministic": det, "loop.eval_every": 0,
    "loop.log_every": 10**6, "loop.checkpoint_every": 10**6, "batch.size": 1024})
model, history = radiance.train(config, train, test, tempfile.mkdtemp(), progress=False)
print(json.dumps({"seconds": history["train_seconds"]}))
"""


def _run(det, steps):
  out = subprocess.run([sys.executable, "-c", JOB, str(int(det)), str(steps)], cwd=ROOT,
                       capture_output=True, text=True, check=True,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
  return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main(argv):
  del argv
  per_step = {False: [], True: []}
  for _ in range(FLAGS.rounds):
    for det in (False, True):
      per_step[det].append(timing.seconds_per_step(lambda n, d=det: _run(d, n), LONG, SHORT))
  off, on = (float(np.median(per_step[d])) for d in (False, True))
  text = (f"`python -m benchmarks.determinism --rounds={FLAGS.rounds}` (radiance training step, "
          "tiny model, 1024 rays, fresh processes, interleaved): "
          f"{1000 * off:.0f} ms a step without op determinism, {1000 * on:.0f} ms with it: "
          f"×{on / off:.2f}.\n")
  print(text)
  if FLAGS.write:
    report.publish("determinism", "Cost of deterministic training", text,
                   {"seconds_per_step": {"off": per_step[False], "on": per_step[True]}})


if __name__ == "__main__":
  app.run(main)
