r"""Latency of render_rays: in process, through REST and through gRPC (loopback stand-in of TF
Serving, see tests/serving_standin.py), for batches of 1, 1024 and 16384 rays; p50/p99 and rays
per second, all measured in one run. The model is the cpu_tiny architecture (4x128 swish,
sampling network with K = 8, N = 8 at export) after a few training steps: latency does not
depend on the weights.

  python -m benchmarks.serving [--seconds=4]
"""

import os
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from autoint_tf import io_utils
from autoint_tf import radiance_train as rt
from autoint_tf import scenes
from serving import client
from serving import export

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_list("batches", ["1", "1024", "16384"], "Rays a request.")
flags.DEFINE_float("seconds", 4.0, "Time budget per (path, batch) case.")
flags.DEFINE_bool("write", True, "Write results and the BENCHMARKS.md table.")
FLAGS = flags.FLAGS


def _time(call, budget, min_reps=5):
  call()  # warm-up
  times, start = [], time.perf_counter()
  while len(times) < min_reps or time.perf_counter() - start < budget:
    t = time.perf_counter()
    call()
    times.append(time.perf_counter() - t)
  return np.array(times)


def main(argv):
  del argv
  sys.path.insert(0, os.path.join(ROOT, "tests"))
  from serving_standin import Standin  # pylint: disable=g-import-not-at-top
  tmp = tempfile.mkdtemp()
  config = rt.TrainConfig(image_size=8, batch_size=64, steps=2, eval_every=1000,
                          checkpoint_every=1000)
  train, test = scenes.procedural_views(num_train=3, num_test=1, size=8)
  model, _ = rt.train(config, train, test, os.path.join(tmp, "run"), progress=False)
  export.export("radiance", os.path.join(tmp, "run"), os.path.join(tmp, "exports"), "autoint",
                max_batch=max(int(b) for b in FLAGS.batches))
  standin = Standin(os.path.join(tmp, "exports"), ["autoint"])
  rest_port, grpc_port = standin.start()
  rest = client.RestClient(f"127.0.0.1:{rest_port}", "autoint")
  grpc_client = client.GrpcClient(f"127.0.0.1:{grpc_port}", "autoint")
  render = tf.function(lambda o, d: model.render(
      {"rays_o": o, "rays_d": d, "near": tf.fill(tf.shape(o)[:1], test.near),
       "far": tf.fill(tf.shape(o)[:1], test.far)}, 8), jit_compile=False, reduce_retracing=True)
  rng = np.random.default_rng(0)
  rows = []
  for b in (int(x) for x in FLAGS.batches):
    eye = rng.normal(size=(b, 3)).astype(np.float32)
    eye = 3 * eye / np.linalg.norm(eye, axis=-1, keepdims=True)
    inputs = {"rays_o": eye, "rays_d": (rng.uniform(-.3, .3, (b, 3)) - eye).astype(np.float32)}
    paths = {
        "in process": lambda: render(tf.constant(inputs["rays_o"]),
                                     tf.constant(inputs["rays_d"]))["rgb"].numpy(),
        "REST (columnar)": lambda: rest.predict(inputs, "render_rays"),
        "gRPC": lambda: grpc_client.predict(inputs, "render_rays"),
    }
    for name, call in paths.items():
      t = _time(call, FLAGS.seconds)
      rows.append({"path": name, "batch": b, "p50_ms": 1000 * float(np.median(t)),
                   "p99_ms": 1000 * float(np.percentile(t, 99)),
                   "rays_per_second": b / float(np.median(t)), "requests": len(t)})
      print(rows[-1], flush=True)
  standin.stop()
  text = ("`python -m benchmarks.serving` (render_rays, cpu_tiny architecture, N = 8, loopback "
          "stand-in of TF Serving on 127.0.0.1):\n\n"
          "| path | rays/request | p50 ms | p99 ms | rays/s | requests |\n"
          "|---|---|---|---|---|---|\n" + "".join(
              f"| {r['path']} | {r['batch']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['rays_per_second']:.0f} | {r['requests']} |\n" for r in rows))
  print(text)
  if FLAGS.write:
    io_utils.write_json(os.path.join(ROOT, "benchmarks", "results", "serving.json"),
                        {"rows": rows})
    io_utils.replace_section(os.path.join(ROOT, "BENCHMARKS.md"), "serving_table",
                             "Serving latency of render_rays", text)


if __name__ == "__main__":
  app.run(main)
