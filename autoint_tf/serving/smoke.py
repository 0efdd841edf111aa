r"""End of `make demo`: loads the newest export the way TF Serving does and answers one request.

  python -m serving.smoke --export_base=runs/demo/exports --model_name=autoint --workdir=runs/demo

No tensorflow_model_server installs on these machines, so the export is loaded with the TF1
session loader TF Serving uses (serving/session.py: `serve` tag, `signature_def`), and one test
view is rendered through its `render_rays` signature, checked against the in-process renderer
and written to served_view.png beside the export. With a real server running, pass
--server=HOST:PORT to send the request over gRPC instead. Prints the `tensorflow/serving`
command that serves the export.
"""

import os
import re
import time

from absl import app
from absl import flags
import numpy as np


def define_flags():
  flags.DEFINE_string("export_base", "runs/demo/exports", "TF Serving model base path.")
  flags.DEFINE_string("model_name", "autoint", "Model name.")
  flags.DEFINE_string("workdir", "runs/demo", "The train.radiance workdir of the model.")
  flags.DEFINE_string("server", "", "host:port of a running TF Serving (gRPC); empty: load the "
                      "export in this process with the session loader.")


def main(argv):
  del argv
  from autoint_tf import metrics  # pylint: disable=g-import-not-at-top
  from autoint_tf import plots  # pylint: disable=g-import-not-at-top
  from autoint_tf import radiance  # pylint: disable=g-import-not-at-top
  from autoint_tf import training  # pylint: disable=g-import-not-at-top
  from autoint_tf.serving import client  # pylint: disable=g-import-not-at-top
  from autoint_tf.serving import export  # pylint: disable=g-import-not-at-top
  from autoint_tf.serving import session  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  run = training.restore(f.workdir)
  _, test = radiance.load_views(run.config)
  view = test.subset(slice(0, 1))
  rays = view.rays()
  inputs = {"rays_o": rays["rays_o"], "rays_d": rays["rays_d"]}
  start = time.perf_counter()
  if f.server:
    where = f"TF Serving at {f.server} (gRPC)"
    served = client.GrpcClient(f.server, f.model_name).predict(inputs, "render_rays")
  else:
    model_dir = os.path.join(f.export_base, f.model_name)
    version = max(int(v) for v in os.listdir(model_dir) if re.fullmatch(r"\d+", v))
    where = f"{model_dir}/{version} loaded with TF Serving's session loader"
    served = session.SessionModel(os.path.join(model_dir, str(version))).run("render_rays",
                                                                             inputs)
  seconds = time.perf_counter() - start
  image = served["rgb"].reshape(view.height, view.width, 3)
  local = radiance.render_views(run.model, view, 8)
  diff = float(np.max(np.abs(image - local["rgb"][0])))
  psnr = metrics.psnr(np.clip(image, 0, 1), view.images[0])
  path = os.path.join(f.export_base, "served_view.png")
  plots.save_png(image, path)
  print(f"Served render_rays of model {f.model_name!r} ({where}): one request of "
        f"{view.height * view.width} rays in {1000 * seconds:.0f} ms, test-view PSNR "
        f"{psnr:.2f} dB, max |served - in-process| = {diff:.1e}; image: {path}\n"
        f"Serve it with TF Serving: {export.serve_command(f.export_base, f.model_name)}")
  if diff > 1e-4:
    raise SystemExit(f"The served render differs from the in-process one by {diff}.")


def run():
  """The console script: the flags, then `main`."""
  define_flags()
  app.run(main)
