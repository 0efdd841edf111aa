r"""How far the paper's sampled section means are from the exact ones, on a trained model.

The rendering loss sees the field only through the K section means. Training with the grad
networks estimates them from M stratified samples; the integral networks give them exactly,
(Phi(tau_i) - Phi(tau_i-1)) / dtau at the K + 1 posts (radiance `section_means="exact"`). This
renders a finished AutoInt run's 10 evenly spaced training views both ways at N = K and prints
the PSNR of each: sampled means at growing M should rise to the exact means' PSNR if they are
a noisy estimate of the same target.

  python -m benchmarks.section_means --run=runs/lego_center
"""

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from autoint_tf import metrics
from autoint_tf import radiance
from autoint_tf import training

flags.DEFINE_string("run", "", "Workdir of a finished train.radiance run of the AutoInt renderer.")
flags.DEFINE_list("samples", ["2", "8", "32"], "M: grad-network samples a section.")
flags.DEFINE_integer("draws", 2, "Random draws of the stratification at each M.")
FLAGS = flags.FLAGS


def sampled_render(model, views, m, seed):
  """rgb [V, H, W, 3] of `views` rendered by `render_training` with M = m stratified samples."""
  k = model.config.num_sections
  out = []
  for v in range(len(views)):
    rays = {key: r for key, r in views.rays(slice(v, v + 1)).items() if key != "rgb"}
    jitter = tf.random.stateless_uniform([len(rays["near"]), k, m], [seed, v])
    out.append(model.render_training(rays, jitter)["rgb"].numpy())
  return np.stack(out).reshape(views.images.shape)


def main(argv):
  del argv
  run = training.restore(FLAGS.run)
  if run.application != "radiance" or run.config.renderer != "autoint":
    raise app.UsageError(f"--run={FLAGS.run}: give a train.radiance run of the AutoInt renderer.")
  views = radiance.fit_views(radiance.load_views(run.config)[0])
  k = run.model.config.num_sections
  exact = radiance.render_views(run.model, views, "autoint", k)["rgb"]
  print(f"{FLAGS.run}: {len(views)} training views at N = K = {k}")
  print(f"exact section means: {metrics.view_metrics(exact, views.images)[0]:.2f} dB")
  for m in map(int, FLAGS.samples):
    psnrs = [metrics.view_metrics(sampled_render(run.model, views, m, s), views.images)[0]
             for s in range(FLAGS.draws)]
    print(f"sampled, M = {m}: " + " / ".join(f"{p:.2f}" for p in psnrs) + " dB")


if __name__ == "__main__":
  app.run(main)
