"""The PSNR a perfect one-ray-a-pixel renderer scores against area-downsampled views.

`lego_100px.npz` averages each 8×8 block of the 800 px Blender renders (DATA.md). A renderer that
shoots one ray a pixel shows the scene at one point of each pixel instead, so even the exact scene
scores a finite PSNR against those images, and where in the pixel the ray passes
(`--pixel_center`, rays.py) decides how much. This script measures it from the 800 px originals:
each coarse pixel's ray is looked up in the 800 px image (bilinear between the fine pixels'
centres; the 800 px renders stand in for the exact scene) and compared with the 8×8 mean, on
white, for NeRF's convention (the ray through the pixel's corner) and for the pixel's centre.

  python -m benchmarks.pixel_ceiling
"""

from absl import app
from absl import flags
import numpy as np

from autoint_tf import metrics
from autoint_tf import scenes
from benchmarks import report

flags.DEFINE_string("data_path", "../shared/data/nerf_synthetic_lego",
                    "A NeRF Blender scene with its full-resolution RGBA PNGs.")
flags.DEFINE_integer("factor", 8, "Downscale factor of the area-averaged views (8: 800 -> 100 px).")
flags.DEFINE_bool("write", True, "Write benchmarks/results and BENCHMARKS.md.")
FLAGS = flags.FLAGS

CENTERS = (("NeRF's convention (pixel_center 0)", 0.0), ("the pixel's centre (0.5)", 0.5))


def point_samples(image, factor, pixel_center):
  """What one ray a pixel shows of `image` [H, W, C] when its pixels are merged factor × factor:
  the image at the coarse rays' points, factor × (k + pixel_center) in the image plane whose
  corner is 0, bilinear between the fine pixels' centres (fine pixel m's value sits at m + 0.5;
  clamped at the border). Returns [H / factor, W / factor, C]."""
  def axis(n):
    x = factor * (np.arange(n // factor) + pixel_center) - 0.5
    low = np.floor(x)
    return (np.clip(low, 0, n - 1).astype(int), np.clip(low + 1, 0, n - 1).astype(int),
            (x - low)[:, None])
  r0, r1, fr = axis(image.shape[0])
  c0, c1, fc = axis(image.shape[1])
  rows = [image[r][:, c0] * (1 - fc) + image[r][:, c1] * fc for r in (r0, r1)]
  return rows[0] * (1 - fr[..., None]) + rows[1] * fr[..., None]


def main(argv):
  del argv
  rows, payload = [], {}
  for split in ("train", "test"):
    fine = scenes.load_blender(FLAGS.data_path, split)
    coarse = scenes.load_blender(FLAGS.data_path, split, downscale=FLAGS.factor)
    cells = [split, len(fine)]
    for name, center in CENTERS:
      shown = np.stack([point_samples(v, FLAGS.factor, center) for v in fine.images])
      psnr, _ = metrics.view_metrics(shown, coarse.images)
      cells.append(f"{psnr:.2f}")
      payload[f"{split}/{center}"] = psnr
    rows.append(cells)
  text = (f"`python -m benchmarks.pixel_ceiling` ({fine.name.split('/')[0]}: the "
          f"{fine.width} px originals, each pixel's ray looked up in them, against their "
          f"{FLAGS.factor}×{FLAGS.factor} means on white; mean PSNR over the views):\n\n" +
          report.table(["views", "count"] + [f"ray through {name}" for name, _ in CENTERS], rows))
  print(text)
  if FLAGS.write:
    report.publish("pixel_ceiling", "What one ray a pixel can score against area-averaged views",
                   text, payload)


if __name__ == "__main__":
  app.run(main)
