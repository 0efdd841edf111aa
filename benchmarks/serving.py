r"""Latency of render_rays for batches of 1, 1024 and 16384 rays: in process, through the TF1
session loader TF Serving uses (serving/session.py: what the server's model runtime does with
the export), and, given a running TF Serving (`--rest_server`, `--grpc_server`), through its
REST and gRPC APIs; p50/p99 and rays per second, all measured in one run. The model is the
tiny architecture (4x128 swish, sampling network with K = 8, N = 8 at export) after a few
training steps: latency does not depend on the weights.

  python -m benchmarks.serving [--seconds=4]
  python -m benchmarks.serving --grpc_server=localhost:8500 --rest_server=localhost:8501 \
      --export_base=/models --nowrite          # against tensorflow/serving serving the export
"""

import os
import tempfile

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from autoint_tf import configs
from autoint_tf import radiance
from autoint_tf import scenes
from benchmarks import report
from benchmarks import timing
from autoint_tf.serving import client
from autoint_tf.serving import export
from autoint_tf.serving import session

flags.DEFINE_list("batches", ["1", "1024", "16384"], "Rays a request.")
flags.DEFINE_float("seconds", 4.0, "Time budget per (path, batch) case.")
flags.DEFINE_string("rest_server", "", "host:port of a TF Serving REST API serving the export.")
flags.DEFINE_string("grpc_server", "", "host:port of a TF Serving gRPC API serving the export.")
flags.DEFINE_bool("write", True, "Write results and the BENCHMARKS.md table.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  tmp = tempfile.mkdtemp()
  config = configs.replace(radiance.Config(), {
      "scene.image_size": 8, "batch.size": 64, "loop.steps": 2, "loop.eval_every": 1000,
      "loop.checkpoint_every": 1000})
  train, test = scenes.procedural_views(num_train=3, num_test=1, size=8)
  model, _ = radiance.train(config, train, test, os.path.join(tmp, "run"), progress=False)
  path = export.export(os.path.join(tmp, "run"), os.path.join(tmp, "exports"), "autoint",
                       max_batch=max(int(b) for b in FLAGS.batches))
  loaded = session.SessionModel(path)
  render = tf.function(lambda o, d: model.render(
      {"rays_o": o, "rays_d": d, "near": tf.fill(tf.shape(o)[:1], test.near),
       "far": tf.fill(tf.shape(o)[:1], test.far)}, 8), jit_compile=False, reduce_retracing=True)
  remote = {}
  if FLAGS.rest_server:
    remote["REST (columnar)"] = client.RestClient(FLAGS.rest_server, "autoint")
  if FLAGS.grpc_server:
    remote["gRPC"] = client.GrpcClient(FLAGS.grpc_server, "autoint")
  rng = np.random.default_rng(0)
  rows = []
  for b in (int(x) for x in FLAGS.batches):
    eye = rng.normal(size=(b, 3)).astype(np.float32)
    eye = 3 * eye / np.linalg.norm(eye, axis=-1, keepdims=True)
    inputs = {"rays_o": eye, "rays_d": (rng.uniform(-.3, .3, (b, 3)) - eye).astype(np.float32)}
    paths = {
        "in process": lambda: render(tf.constant(inputs["rays_o"]),
                                     tf.constant(inputs["rays_d"]))["rgb"].numpy(),
        "session loader (TF Serving's)": lambda: loaded.run("render_rays", inputs),
        **{name: (lambda c=c: c.predict(inputs, "render_rays")) for name, c in remote.items()},
    }
    for name, call in paths.items():
      t = timing.for_budget(call, FLAGS.seconds)
      rows.append({"path": name, "batch": b, "p50_ms": 1000 * float(np.median(t)),
                   "p99_ms": 1000 * float(np.percentile(t, 99)),
                   "rays_per_second": b / float(np.median(t)), "requests": len(t)})
      print(rows[-1], flush=True)
  servers = ", ".join(f"{k} {v}" for k, v in (("REST", FLAGS.rest_server),
                                              ("gRPC", FLAGS.grpc_server)) if v)
  text = ("`python -m benchmarks.serving` (render_rays, tiny architecture, N = 8"
          + (f"; TF Serving at {servers}" if servers else "") + "):\n\n" + report.table(
              ["path", "rays/request", "p50 ms", "p99 ms", "rays/s", "requests"],
              [[r["path"], r["batch"], f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
                f"{r['rays_per_second']:.0f}", r["requests"]] for r in rows]))
  print(text)
  if FLAGS.write:
    report.publish("serving_table", "Serving latency of render_rays", text, {"rows": rows})


if __name__ == "__main__":
  app.run(main)
