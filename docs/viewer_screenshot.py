r"""Takes docs/viewer.jpg, the viewer screenshot of README.md and docs/rendering.md, with the
browser tests' machinery (tests/browser.py: the system's headless Chromium, Playwright).

  python -m docs.viewer_screenshot --workdir=runs/demo --workdir=runs/demo_quadrature

The models are given as to `python -m serving.viewer` (one, or two side by side). The page is
captured once every model shows a full-resolution frame, after a small orbit (so
its timings are of warm graphs), and written scaled to --out_width.
"""

import os
import sys
import time

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from autoint_tf import io_utils
from autoint_tf.serving import viewer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
import browser  # pylint: disable=g-import-not-at-top,wrong-import-position

viewer.define_flags()
flags.DEFINE_string("out", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "viewer.jpg"), "The JPEG to write.")
flags.DEFINE_list("page_size", ["1200", "640"], "The browser window: width,height in pixels.")
flags.DEFINE_integer("out_width", 900, "The written image's width (the page scaled down).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  models = viewer.open_models(FLAGS.workdir, FLAGS.export, FLAGS.server, FLAGS.protocol,
                              FLAGS.model, FLAGS.model_version or None, FLAGS.num_sections)
  page = viewer.Viewer(models, "127.0.0.1", FLAGS.port, FLAGS.resolution,
                       FLAGS.preview_resolution, FLAGS.retry_seconds)
  try:
    width, height = (int(v) for v in FLAGS.page_size)
    with browser.page(f"http://127.0.0.1:{page.port}", width, height) as tab:
      browser.wait_for(tab, lambda body: browser.full_frames(body) == len(models), 120.0,
                       "a full-resolution frame of every model")
      # A small orbit: the timings shown are then of warm graphs, not of the first frame.
      count = browser.frames(tab)
      browser.drag(tab, (300, 300), (330, 296), 4)
      browser.wait_for(tab, lambda body: browser.frames(tab) > count + 1 and
                       browser.full_frames(body) == len(models), 120.0, "the frames of a move")
      browser.dismiss_notifications(tab)
      time.sleep(1.0)  # the browser draws the last image and closes the notification
      image = Image.fromarray((browser.canvas(tab) * 255 + 0.5).astype(np.uint8))
  finally:
    page.stop()
  height = round(image.height * FLAGS.out_width / image.width)
  image = image.resize((FLAGS.out_width, height), Image.LANCZOS)
  with io_utils.atomic_path(FLAGS.out) as tmp:
    image.save(tmp, format="JPEG", quality=88)  # small enough to commit
  print(f"wrote {FLAGS.out} ({os.path.getsize(FLAGS.out) / 1e3:.0f} kB, "
        f"{FLAGS.out_width}×{height})")


if __name__ == "__main__":
  app.run(main)
