r"""How fast each CT model's grad network, read as a field over space (ct.point_field), learns
an image: the ray model Phi(rho, theta, t) and the point model Phi(x, u), trained on the image
prior alone (the TV reconstruction of a measured HTC 2022 scan, ct.prior_image: no data term)
for the same steps, each point seen along the scan's directions; then its image (the mean over
the scan's directions, as the HTC table reads it) against that prior, PSNR inside the support
disc, and its spread over directions. Both share every other setting of the HTC table's recipe
(benchmarks/htc_table.py). ~9 minutes at the defaults.

  python -m benchmarks.ct_prior_fit                    # ta_category7, 2000 steps a model
  python -m benchmarks.ct_prior_fit --steps=500 --nowrite --config.width=256

A grad network dPhi/dt equals one image I(x) along every direction u only if Phi is the
cumulative integral of I along u: in the line's own frame (the ray model) that is one function
of (rho, theta, t); in the world frame (the point model) a different function of x for each u.
"""

import dataclasses
import os
import sys
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from autoint_tf import cli
from autoint_tf import ct
from autoint_tf import ct_data
from autoint_tf import grad_net
from autoint_tf import metrics
from autoint_tf import sirt
from autoint_tf import tomography
from autoint_tf import training
from benchmarks import htc_table
from benchmarks import report

flags.DEFINE_string("scan", "ta_category7.mat", "An HTC 2022 scan of --htc_dir.")
flags.DEFINE_integer("steps", 2000, "Adam steps of the image prior a model.")
flags.DEFINE_integer("image_size", 256, "Side of the image the fit is scored on.")
# (--htc_dir, --write and the recipe's --config are benchmarks.htc_table's flags)
FLAGS = flags.FLAGS
MODELS = ("point", "ray")


def fit(config, prior, directions, disc, steps):
  """The grad network of `config`'s model (a field over space) after `steps` Adam steps of
  the image prior alone (ct.prior_losses "image"), the learning rate the engine's cosine
  schedule over those steps."""
  phi = ct.make_model(config)
  grad = ct.point_field(grad_net.GradNetwork(phi, variables=("t",)), config.parameterization)
  loop = dataclasses.replace(config.loop, steps=steps, lr_schedule="cosine")
  optimizer = tf.keras.optimizers.Adam(training.learning_rate_schedule(loop),
                                       amsgrad=loop.amsgrad)
  image = tf.constant(prior, tf.float32)

  @tf.function
  def step(index):
    with tf.GradientTape() as tape:
      loss = ct.prior_losses(grad, tf.stack([tf.constant(loop.seed, tf.int64), index]),
                             config.consistency_points, 0.0, image, directions, disc)["image"]
    gradients = tape.gradient(loss, phi.trainable_variables)
    optimizer.apply_gradients(zip(gradients, phi.trainable_variables))
    return loss

  for i in range(steps):
    loss = step(tf.constant(i, tf.int64))
    if (i + 1) % max(1, steps // 10) == 0:
      print(f"  {config.parameterization}: step {i + 1}/{steps}, loss {float(loss):.3g}",
            flush=True)
  return grad, float(loss)


def main(argv):
  del argv
  path = os.path.join(FLAGS.htc_dir, FLAGS.scan)
  if not os.path.exists(path):
    raise app.UsageError(f"--scan={FLAGS.scan}: no such file in --htc_dir={FLAGS.htc_dir} "
                         "(give the directory of the shared HTC 2022 scans).")
  scan = ct_data.load_scan(path, ct_data.HTC2022_GEOMETRY, ct_data.HTC2022_VARIABLE)
  config = dataclasses.replace(cli.config_value(htc_table.CONFIG), image_size=FLAGS.image_size)
  kept = np.arange(len(scan.angles))
  scan = ct.with_support(config, scan, kept)
  if scan.support is None:
    raise app.UsageError(f"--scan={FLAGS.scan}: no support disc fits its sinogram; give an "
                         "HTC 2022 scan.")
  start = time.perf_counter()
  prior = ct.prior_image(config, scan, kept, progress=True)
  prior_seconds = time.perf_counter() - start
  radius = scan.radius
  lines = scan.lines.scaled(1.0 / radius)
  directions = tf.constant(lines.canonical().direction.reshape(-1, 2), tf.float32)
  disc = ct.prior_disc(scan)
  size, extent = ct.image_grid(config, scan)
  extent /= radius
  centre = ct.image_directions(lines, config.image_directions)
  want = sirt.sample(prior, tomography.pixel_centres(size, extent), 1.0).numpy()
  inside = tomography.disc_mask({"centre": list(disc[0]), "radius": disc[1]}, size, extent)
  span = float(np.ptp(want[inside]))
  rows = []
  for model in MODELS:
    start = time.perf_counter()
    grad, loss = fit(dataclasses.replace(config, parameterization=model), prior, directions,
                     disc, FLAGS.steps)
    seconds = time.perf_counter() - start
    image, spread = ct.point_image(grad, size, centre, extent=extent)
    rows.append({"model": model, "steps": FLAGS.steps, "final_loss": loss,
                 "psnr_to_prior": metrics.psnr(image[inside], want[inside], span),
                 "spread_relative": float(np.mean(spread[inside]) / span),
                 "train_seconds": seconds})
    print(rows[-1], flush=True)
  command = " ".join(["python -m benchmarks.ct_prior_fit", f"--steps={FLAGS.steps}",
                      *(a for a in sys.argv[1:] if a.startswith(("--config", "--scan=")))])
  text = (f"`{command}` (the TV reconstruction of `{FLAGS.scan}`, {prior_seconds:.0f} s, as "
          "the only loss; "
          f"{config.depth}×{config.width} {config.activation}, "
          f"{config.consistency_points} points a step along the scan's directions; the image "
          f"on {size}² pixels of the HTC grid's region, inside the support disc):\n\n" +
          report.table(["model", "steps", "image PSNR to the prior", "spread over directions "
                        "/ range", "seconds"],
                       [[r["model"], r["steps"], f"{r['psnr_to_prior']:.2f}",
                         f"{r['spread_relative']:.3f}", f"{r['train_seconds']:.0f}"]
                        for r in rows]))
  print(text)
  if FLAGS.write:
    report.publish("ct_prior_fit", "How fast each CT model learns an image", text,
                   {"rows": rows, "scan": FLAGS.scan, "config": dataclasses.asdict(config)})


if __name__ == "__main__":
  app.run(main)
