r"""The training recipe of the built-in scene (make demo): variants of the tiny preset, each
trained for the same wall-clock budget on this machine, then held-out PSNR/SSIM at N = 8 on
all 8 test views. One variant at a time (two cores: a concurrent job would skew the budget).
Writes benchmarks/results/radiance_recipe.json and the table in BENCHMARKS.md.

  python -m benchmarks.radiance_recipe --budget_minutes=3                # every variant
  python -m benchmarks.radiance_recipe --variant=default --variant="+ shared trunk" \
      --budget_minutes=1 --nowrite
  python -m benchmarks.radiance_recipe --budget_minutes=6 --section=radiance_precision \
      --variant="shared trunk, PE 6, 256 rays, x0.2 / 3200, orientation PE 0" \
      --variant="shared trunk, PE 6, 256 rays, x0.2 / 3200, orientation PE 0, mixed_bfloat16"
"""

import dataclasses
import json
import tempfile

from absl import app
from absl import flags

from autoint_tf import metrics
from autoint_tf import radiance
from benchmarks import report

# Every variant is spelled out from the recipe before this benchmark (the paper's schedule, two
# networks, PE 10 / 4, 1024 rays), so the table does not move when the defaults do.
BEFORE = dict(learning_rate=5e-4, lr_decay_steps=200000, batch_size=1024, shared_trunk=False,
              num_frequencies=10, direction_frequencies=4)
FAST = dict(BEFORE, learning_rate=5e-3, lr_decay_steps=400)
VARIANTS = {
    "default": BEFORE,
    "lr 5e-3, x0.2 / 400 steps": FAST,
    "+ view-consistent sigma": dict(FAST, view_consistent_sigma=True),
    "+ shared trunk": dict(FAST, shared_trunk=True),
    "+ shared trunk, PE 6": dict(FAST, shared_trunk=True, num_frequencies=6),
    "+ shared trunk, PE 6, 512 rays": dict(FAST, shared_trunk=True, num_frequencies=6,
                                           batch_size=512, lr_decay_steps=800),
    # Longer budgets: the decay stretched with the steps the budget allows.
    "shared trunk, PE 6, 512 rays, x0.2 / 1600": dict(
        FAST, shared_trunk=True, num_frequencies=6, batch_size=512, lr_decay_steps=1600),
    "shared trunk, PE 6, 256 rays, x0.2 / 3200": dict(
        FAST, shared_trunk=True, num_frequencies=6, batch_size=256, lr_decay_steps=3200),
    "shared trunk, PE 6, 256 rays, x0.2 / 3200, orientation PE 0": dict(
        FAST, shared_trunk=True, num_frequencies=6, batch_size=256, lr_decay_steps=3200,
        direction_frequencies=0),  # = radiance.Config() (make demo) at these 6 minutes
    "shared trunk, PE 6, 256 rays, x0.2 / 3200, orientation PE 0, mixed_bfloat16": dict(
        FAST, shared_trunk=True, num_frequencies=6, batch_size=256, lr_decay_steps=3200,
        direction_frequencies=0, precision="mixed_bfloat16"),
}
flags.DEFINE_multi_string("variant", list(VARIANTS), "A name in VARIANTS to run (repeat the "
                          "flag for several; default: all).")
flags.DEFINE_float("budget_minutes", 3.0, "Training time of each variant.")
flags.DEFINE_integer("image_size", 32, "View size of the built-in scene.")
flags.DEFINE_string("section", "", "BENCHMARKS.md section (default: "
                    "radiance_recipe_<budget>min).")
flags.DEFINE_bool("write", True, "Write results and the BENCHMARKS.md table.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  base = dataclasses.replace(radiance.Config(), image_size=FLAGS.image_size,
                             steps=1_000_000, budget_minutes=FLAGS.budget_minutes,
                             eval_every=0, checkpoint_every=1_000_000, log_every=50)
  train_views, test_views = radiance.load_views(base)
  rows = []
  for name in FLAGS.variant:
    config = dataclasses.replace(base, **VARIANTS[name])
    model, history = radiance.train(config, train_views, test_views,
                                    tempfile.mkdtemp(prefix="recipe_"), progress=False)
    (row,), _ = radiance.evaluate(model, test_views, "autoint", sections=(8,))
    train_psnr = metrics.psnr_from_mse(history["final_loss"])
    rows.append({"variant": name, "overrides": VARIANTS[name], "steps": history["last_step"],
                 "train_seconds": history["train_seconds"], "psnr": row["psnr"],
                 "ssim": row["ssim"], "train_batch_psnr": train_psnr})
    print(json.dumps(rows[-1]), flush=True)
  text = (f"`python -m benchmarks.radiance_recipe --budget_minutes={FLAGS.budget_minutes:g}` "
          f"(built-in scene, {FLAGS.image_size}×{FLAGS.image_size} views, tiny preset 4×128 "
          "swish, each variant trained alone for the same wall-clock budget, held-out PSNR at "
          "N = 8 on all 8 test views):\n\n" + report.table(
              ["variant", "steps", "test PSNR N = 8", "SSIM", "last training-batch PSNR"],
              [[r["variant"], r["steps"], f"{r['psnr']:.2f}", f"{r['ssim']:.3f}",
                f"{r['train_batch_psnr']:.2f}"] for r in rows]))
  print(text)
  if FLAGS.write:
    report.publish(FLAGS.section or f"radiance_recipe_{FLAGS.budget_minutes:g}min",
                   f"Training recipe of the built-in scene (make demo), "
                   f"{FLAGS.budget_minutes:g} minutes", text,
                   {"rows": rows, "budget_minutes": FLAGS.budget_minutes})


if __name__ == "__main__":
  app.run(main)
