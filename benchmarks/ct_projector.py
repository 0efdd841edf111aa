r"""The CT projector at a measured scan's size: the sparse system matrix (sirt.make_projector,
Joseph's ray-driven projector) against the sampled bilinear projector it replaced
(sirt.sampled_projector), side by side in one run (interleaved, median): building each, a
forward projection, the gradient of a loss through it (A^T), one Adam step of the TV
reconstruction and one SIRT iteration, at HTC 2022's size (the 61 views x 560 detectors of a
shared scan on the challenge's 512 x 512 grid).

  python -m benchmarks.ct_projector [--scan=../shared/data/ct_htc2022/tc_category7.mat]
  python -m benchmarks.ct_projector --phantom   # what each projector makes of the phantom

--phantom: the images instead of the times: SIRT (200 iterations) and the TV reconstruction
(the point model's image prior, ct.prior_image's settings) of every 4th, 8th and 16th of the
64-view Shepp-Logan sinogram, PSNR against the phantom, with each projector.
"""

import os
import time
from datetime import date

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from autoint_tf import ct
from autoint_tf import ct_data
from autoint_tf import sirt
from benchmarks import report
from benchmarks import timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_string("scan", os.path.join(ROOT, "..", "shared", "data", "ct_htc2022",
                                         "tc_category7.mat"), "An HTC 2022 scan (its lines).")
flags.DEFINE_integer("image_size", ct.HTC_GRID, "The image grid's side.")
flags.DEFINE_integer("repeats", 5, "Timed rounds.")
flags.DEFINE_bool("phantom", False, "The phantom's SIRT and TV images with each projector.")
flags.DEFINE_bool("write", True, "Write the log's section and its JSON.")
FLAGS = flags.FLAGS

PROJECTORS = {"system matrix": sirt.make_projector, "sampled (before)": sirt.sampled_projector}


def _cases(forward, adjoint, lines, size):
  """{stage: fn} of one projector: forward, gradient, a TV Adam step, a SIRT iteration."""
  rng = np.random.default_rng(0)
  x = tf.Variable(rng.uniform(0, 1, (size, size)).astype(np.float32))
  r = tf.constant(rng.normal(size=lines.t_min.size).astype(np.float32))
  optimizer = tf.keras.optimizers.Adam(0.01)

  @tf.function(jit_compile=False)
  def gradient():
    with tf.GradientTape() as tape:
      value = tf.reduce_sum(forward(x) * r)
    return tape.gradient(value, x)

  @tf.function(jit_compile=False)
  def tv_step():  # sirt.reconstruct_tv's step
    with tf.GradientTape() as tape:
      loss = (tf.reduce_mean(tf.square(forward(tf.nn.relu(x)) - r)) +
              3e-5 * sirt.total_variation(tf.nn.relu(x)) / size)
    optimizer.apply_gradients([(tape.gradient(loss, x), x)])

  x64, r64 = tf.cast(x, tf.float64), tf.cast(r, tf.float64)
  return {"forward": lambda: forward(x).numpy(), "gradient (A^T)": lambda: gradient().numpy(),
          "TV Adam step": tv_step,
          "SIRT iteration": lambda: tf.maximum(x64 + adjoint(r64 - forward(x64)), 0.0).numpy()}


def phantom_table():
  """SIRT and TV image PSNR of the subsampled phantom with each projector."""
  from autoint_tf import metrics  # pylint: disable=g-import-not-at-top
  scan = ct_data.phantom_scan("shepp_logan", ct_data.default_geometry("parallel", 64, 64))
  peak = float(np.ptp(scan.image))
  size = scan.image.shape[0]
  rows, payload = [], {}
  for sub in (4, 8, 16):
    config = ct.Config(subsample=sub)
    kept, _ = ct.split_views(config, len(scan.angles))
    cells = []
    for name, make in PROJECTORS.items():
      original, sirt.make_projector = sirt.make_projector, make  # (what both reconstructions call)
      try:
        sirt_image = sirt.reconstruct(scan.sinogram[kept], scan.lines.take(kept), scan.radius,
                                      size, iterations=config.sirt_iterations)
        prior = ct.prior_image(config, scan, kept)
      finally:
        sirt.make_projector = original
      factor = prior.shape[0] // size
      tv = prior.reshape(size, factor, size, factor).mean((1, 3))
      scores = [metrics.psnr(sirt_image, scan.image, peak), metrics.psnr(tv, scan.image, peak)]
      payload[f"{name}, every {sub}th"] = scores
      cells += [f"{v:.2f}" for v in scores]
    rows.append([f"every {sub}th", *cells])
  text = ("`python -m benchmarks.ct_projector --phantom` (Shepp-Logan, 64 parallel views of 64 "
          f"detectors, {size}² image; SIRT {ct.Config.sirt_iterations} iterations; TV: "
          "ct.prior_image, the point model's image prior; PSNR in dB against the phantom; "
          f"{date.today().isoformat()}):\n\n" + report.table(
              ["kept views", "SIRT, system matrix", "TV, system matrix", "SIRT, sampled (before)",
               "TV, sampled (before)"], rows))
  print(text)
  if FLAGS.write:
    report.publish("ct_projector_phantom", "What each CT projector makes of the phantom", text,
                   payload)


def main(argv):
  del argv
  if FLAGS.phantom:
    return phantom_table()
  scan = ct_data.load_scan(FLAGS.scan, ct_data.HTC2022_GEOMETRY, ct_data.HTC2022_VARIABLE)
  size, extent = ct.image_grid(ct.Config(image_size=FLAGS.image_size), scan)
  lines = scan.lines
  build, cases = {}, {}
  for name, make in PROJECTORS.items():
    for dtype in (tf.float32, tf.float64):  # (the TV step runs float32, SIRT float64)
      start = time.perf_counter()
      projector = make(lines, extent, size, dtype)
      build.setdefault(name, []).append(time.perf_counter() - start)
      cases.setdefault(name, {}).update({
          k: v for k, v in _cases(*projector, lines, size).items()
          if (k == "SIRT iteration") == (dtype == tf.float64)})
  times = timing.interleaved({(n, k): fn for n, c in cases.items() for k, fn in c.items()},
                             FLAGS.repeats, warmup=1)
  stages = list(cases["system matrix"])
  rows = [["build (float32 + float64)", *(f"{sum(build[n]):.1f} s" for n in PROJECTORS),
           f"{sum(build['sampled (before)']) / sum(build['system matrix']):.2f}x"]]
  for stage in stages:
    new, old = times[("system matrix", stage)], times[("sampled (before)", stage)]
    rows.append([stage, f"{1e3 * new:.0f} ms", f"{1e3 * old:.0f} ms", f"{old / new:.1f}x"])
  text = (f"`python -m benchmarks.ct_projector` ({os.path.basename(FLAGS.scan)}: "
          f"{lines.t_min.size} lines, {scan.sinogram.shape[0]} views x "
          f"{scan.sinogram.shape[1]} detectors, on the {size} x {size} grid; median of "
          f"{FLAGS.repeats} interleaved rounds):\n\n" + report.table(
              ["stage", "system matrix", "sampled (before)", "speed-up"], rows) +
          f"\n{date.today().isoformat()}, one process. At this size the sampled projector is "
          f"capped at sirt.MAX_SAMPLES ({sirt.MAX_SAMPLES:.0e} samples in all: "
          f"{int(sirt.MAX_SAMPLES // lines.t_min.size)} a line, fewer than one a pixel); the "
          "system matrix has one sample a pixel column (or row) of every line at any size.\n")
  print(text)
  if FLAGS.write:
    report.publish("ct_projector", "The CT projector at a measured scan's size", text,
                   {"build_seconds": build, "seconds": {f"{n}: {k}": v
                                                        for (n, k), v in times.items()}})


if __name__ == "__main__":
  app.run(main)
