r"""AutoInt vs the NeRF-style quadrature baseline on lego_100px.npz, side by side in one run.

Trains AutoInt (tiny preset) and the quadrature baseline (the same networks as fields, 64
stratified + 128 importance samples) for the same number of steps, then reports test-view
PSNR/SSIM, rays per second and network evaluations per ray for AutoInt at N = 4, 8, 16, 32 and
for the baseline. Rendering speed is timed interleaved (median of rounds) in this process.
Writes benchmarks/results/render.json and the table in BENCHMARKS.md.

  python -m benchmarks.render                       # lego_100px, 400 steps each (~40 min)
  python -m benchmarks.render --steps=50 --test_views=2 --nowrite   # smoke run
"""

import dataclasses
import os
import time

from absl import app
from absl import flags

from autoint_tf import metrics
from autoint_tf import radiance
from benchmarks import report
from benchmarks import timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_string("data_path", os.path.join(ROOT, "..", "shared", "data", "lego_100px.npz"),
                    "tiny-NeRF style .npz.")
flags.DEFINE_integer("steps", 400, "Training steps of each model.")
flags.DEFINE_integer("batch_size", 512, "Rays a step.")
flags.DEFINE_integer("test_views", 5, "Test views to evaluate (of 25).")
flags.DEFINE_integer("rounds", 3, "Timed rendering rounds (median).")
flags.DEFINE_string("workdir", os.path.join(ROOT, "runs", "bench_render"), "Checkpoints.")
flags.DEFINE_bool("write", True, "Write results and the BENCHMARKS.md table.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  base = dataclasses.replace(radiance.PRESETS["tiny"], scene="npz", data_path=FLAGS.data_path,
                             white_background=False, steps=FLAGS.steps,
                             batch_size=FLAGS.batch_size, eval_every=max(FLAGS.steps // 4, 1),
                             checkpoint_every=200)
  train_views, test_views = radiance.load_views(base)
  test_views = test_views.subset(slice(0, FLAGS.test_views))
  models, seconds = {}, {}
  for renderer in ("autoint", "quadrature"):
    config = dataclasses.replace(base, renderer=renderer)
    start = time.time()
    models[renderer], _ = radiance.train(config, train_views, test_views,
                                         os.path.join(FLAGS.workdir, renderer))
    seconds[renderer] = time.time() - start
  cases = [("autoint", n) for n in (4, 8, 16, 32)] + [("quadrature", None)]
  quality = {}
  for renderer, n in cases:
    out = radiance.render_views(models[renderer], test_views, renderer, n or 8)
    quality[(renderer, n)] = metrics.view_metrics(out["rgb"], test_views.images)
  times = timing.interleaved(
      {case: (lambda r=case[0], n=case[1]: radiance.render_views(models[r], test_views, r, n or 8))
       for case in cases}, FLAGS.rounds, warmup=0)
  rays = len(test_views) * test_views.height * test_views.width
  quad_rate = rays / times[("quadrature", None)]
  quad_psnr = quality[("quadrature", None)][0]
  rows = []
  for renderer, n in cases:
    rate = rays / times[(renderer, n)]
    psnr, ssim = quality[(renderer, n)]
    rows.append({"renderer": renderer, "sections": n, "psnr": psnr, "ssim": ssim,
                 "rays_per_second": rate,
                 "evaluations_per_ray": models[renderer].evaluations_per_ray(n),
                 "speedup": rate / quad_rate, "psnr_drop": quad_psnr - psnr,
                 "train_seconds": seconds[renderer]})
  head = (f"`python -m benchmarks.render --steps={FLAGS.steps}` (lego 100×100, tiny 4×128 "
          f"swish, {FLAGS.batch_size} rays a step, {FLAGS.steps} steps each, "
          f"{len(test_views)} test views, black background):\n\n"
          "| renderer | N | test PSNR | SSIM | rays/s | evaluations/ray | speed-up | PSNR drop | "
          "train s |\n|---|---|---|---|---|---|---|---|---|\n")
  body = "".join(
      f"| {r['renderer']} | {r['sections'] or '64+128'} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
      f"{r['rays_per_second']:.0f} | {r['evaluations_per_ray']} | {r['speedup']:.1f}× | "
      f"{r['psnr_drop']:+.2f} | {r['train_seconds']:.0f} |\n" for r in rows)
  text = head + body
  print(text)
  if FLAGS.write:
    report.publish("render_table", "Volume rendering: AutoInt vs quadrature (lego 100×100)",
                   text, {"rows": rows, "steps": FLAGS.steps})


if __name__ == "__main__":
  app.run(main)
