r"""End of `make demo`: answers one request for an exported model through the serving client.

  python -m serving.smoke --export_base=runs/demo/exports --model_name=autoint --workdir=runs/demo

No tensorflow_model_server binary exists on these machines, so the request goes to the test
suite's loopback stand-in (tests/serving_standin.py: the exported SavedModel loaded with the
session loader TF Serving uses, behind TF Serving's REST and gRPC APIs). With a real server
running (README: docker run ... tensorflow/serving), pass --server=HOST:PORT instead.
Renders one test view through gRPC, checks it against the in-process renderer and writes
served_view.png next to the export.
"""

import os
import sys
import time

from absl import app
from absl import flags
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def define_flags():
  flags.DEFINE_string("export_base", "runs/demo/exports", "TF Serving model base path.")
  flags.DEFINE_string("model_name", "autoint", "Model name.")
  flags.DEFINE_string("workdir", "runs/demo", "The train.radiance workdir of the model.")
  flags.DEFINE_string("server", "", "host:port of a running TF Serving (gRPC); empty: stand-in.")


def main(argv):
  del argv
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  from autoint_tf import io_utils  # pylint: disable=g-import-not-at-top
  from autoint_tf import radiance_train as rt  # pylint: disable=g-import-not-at-top
  from serving import client  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  standin = None
  server = f.server
  if not server:
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from serving_standin import Standin  # pylint: disable=g-import-not-at-top
    standin = Standin(f.export_base, [f.model_name])
    _, grpc_port = standin.start()
    server = f"127.0.0.1:{grpc_port}"
  try:
    model, info = rt.load_trained(f.workdir)
    _, test = rt.load_views(info["train_config"])
    view = test.subset(slice(0, 1))
    grpc_client = client.GrpcClient(server, f.model_name)
    start = time.perf_counter()
    served = client.render_image(grpc_client, view.poses[0], view.height, view.width,
                                 view.focal, batch_size=view.height * view.width)
    seconds = time.perf_counter() - start
    local = rt.render_views(model, view, "autoint", 8)
    diff = float(np.max(np.abs(served["rgb"] - local["rgb"][0])))
    psnr = -10 * np.log10(np.mean((np.clip(served["rgb"], 0, 1) - view.images[0])**2))
    path = os.path.join(f.export_base, "served_view.png")
    with io_utils.atomic_path(path) as tmp:
      iio.imwrite(tmp, (np.clip(served["rgb"], 0, 1) * 255).astype(np.uint8), extension=".png")
    print(f"Served render_rays of model {f.model_name!r} over gRPC ({server}"
          f"{', loopback stand-in' if standin else ''}): one request of "
          f"{view.height * view.width} rays in {1000 * seconds:.0f} ms, test-view PSNR "
          f"{psnr:.2f} dB, max |served - in-process| = {diff:.1e}; image: {path}")
    if diff > 1e-4:
      raise SystemExit(f"The served render differs from the in-process one by {diff}.")
  finally:
    if standin:
      standin.stop()


if __name__ == "__main__":
  define_flags()
  app.run(main)
