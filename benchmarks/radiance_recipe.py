r"""The training recipe: variants of the tiny preset, each trained for the same wall-clock
budget on this machine, then held-out PSNR/SSIM at N = 8 on all test views. One variant at a
time (two cores: a concurrent job would skew the budget). On the built-in scene (make demo) the
variants lead from the paper's recipe to today's default; on lego 100x100 (`--scene=lego`) they
are the levers of issue 11 tried one at a time on today's default. Writes
benchmarks/results/<section>.json and the table in BENCHMARKS.md.

  python -m benchmarks.radiance_recipe --budget_minutes=3                # every variant
  python -m benchmarks.radiance_recipe --variant=default --variant="+ shared trunk" \
      --budget_minutes=1 --nowrite
  python -m benchmarks.radiance_recipe --budget_minutes=6 --section=radiance_precision \
      --variant="shared trunk, PE 6, 256 rays, x0.2 / 3200, orientation PE 0" \
      --variant="shared trunk, PE 6, 256 rays, x0.2 / 3200, orientation PE 0, mixed_bfloat16"
  python -m benchmarks.radiance_recipe --budget_minutes=6 --section=radiance_section_means \
      --variant="shared trunk, PE 6, 256 rays, x0.2 / 3200, orientation PE 0" \
      --variant="shared trunk, PE 6, 256 rays, x0.2 / 7000, orientation PE 0, exact means, jittered posts"
  python -m benchmarks.radiance_recipe --scene=lego --budget_minutes=5   # lego levers
"""

import dataclasses
import json
import os
import tempfile

from absl import app
from absl import flags

from autoint_tf import metrics
from autoint_tf import radiance
from benchmarks import report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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
    # Exact section means at jittered posts (section_means, post_jitter: lego's recipe): ~2x the
    # steps a minute, so the decay stretched to them.
    "shared trunk, PE 6, 256 rays, x0.2 / 7000, orientation PE 0, exact means, jittered posts":
        dict(FAST, shared_trunk=True, num_frequencies=6, batch_size=256, lr_decay_steps=7000,
             direction_frequencies=0, section_means="exact", post_jitter=1.0),
}
# lego 100x100: one lever at a time on radiance.Config() (the 45-minute run's recipe; its lr
# decay x0.2 / 3200 steps is 0.64 x the steps of ~6 minutes, as benchmarks.render fits it).
LEGO_VARIANTS = {
    "default": {},
    "width 256": dict(width=256),
    "PE 8": dict(num_frequencies=8),
    "512 rays, x0.2 / 1600": dict(batch_size=512, lr_decay_steps=1600),
    "2 samples a section": dict(samples_per_section=2),
    "view-consistent sigma": dict(view_consistent_sigma=True),
    "near 2.5, far 5.5": dict(near=2.5, far=5.5),
    "lr 1e-2": dict(learning_rate=1e-2),
    "box of the visual hull": dict(box=("auto",)),
    "box of the visual hull, PE 8, 2 samples a section": dict(
        box=("auto",), num_frequencies=8, samples_per_section=2),
    "random background": dict(random_background=True),
    "box, PE 8, 2 samples, random background": dict(
        box=("auto",), num_frequencies=8, samples_per_section=2, random_background=True),
}
# The lr schedule and samples a section on the box recipe, at 9 minutes: each schedule spans
# the steps that budget allows (~1,900 a minute at 2 samples a section, ~2,800 at 1), so that
# it ends near the budget as the 45-minute runs' do.
BOX = dict(box=("auto",), num_frequencies=8, samples_per_section=2)
LEGO_VARIANTS.update({
    "box recipe, lr 5e-3 x0.2 / 11000": dict(BOX, steps=17000, lr_decay_steps=11000),
    "box recipe, lr 5e-3 cosine": dict(BOX, steps=17000, lr_schedule="cosine"),
    "box recipe, lr 5e-3 x0.2 / 7000": dict(BOX, steps=17000, lr_decay_steps=7000),
    "box recipe, 1 sample a section, lr 5e-3 x0.2 / 17000": dict(
        BOX, steps=26000, samples_per_section=1, lr_decay_steps=17000),
})
SCENES = {"blobs": (VARIANTS, {}),
          "lego": (LEGO_VARIANTS, dict(scene="npz", data_path=os.path.join(
              ROOT, "..", "shared", "data", "lego_100px.npz")))}
flags.DEFINE_enum("scene", "blobs", list(SCENES), "blobs: the built-in scene; lego: "
                  "lego_100px.npz on white, its 25 test views.")
flags.DEFINE_multi_string("variant", [], "A variant name of the scene to run (repeat the "
                          "flag for several; default: all of the scene's).")
flags.DEFINE_float("budget_minutes", 3.0, "Training time of each variant.")
flags.DEFINE_integer("image_size", 32, "View size of the built-in scene.")
flags.DEFINE_string("section", "", "BENCHMARKS.md section (default: "
                    "radiance_recipe_<budget>min).")
flags.DEFINE_bool("write", True, "Write results and the BENCHMARKS.md table.")
flags.DEFINE_bool("merge", False, "Keep the saved rows of the section's other variants (run "
                  "at the same budget) and replace those run now.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  variants, scene = SCENES[FLAGS.scene]
  unknown = sorted(set(FLAGS.variant) - set(variants))
  if unknown:
    raise app.UsageError(f"--variant={unknown[0]!r} is not a {FLAGS.scene} variant: choose "
                         f"from {list(variants)}.")
  base = dataclasses.replace(radiance.Config(), image_size=FLAGS.image_size,
                             steps=1_000_000, budget_minutes=FLAGS.budget_minutes,
                             eval_every=0, checkpoint_every=1_000_000, log_every=50, **scene)
  rows = []
  for variant in FLAGS.variant or list(variants):
    config = dataclasses.replace(base, **variants[variant])
    train_views, test_views = radiance.load_views(config)
    model, history = radiance.train(config, train_views, test_views,
                                    tempfile.mkdtemp(prefix="recipe_"), progress=False)
    (row,), _ = radiance.evaluate(model, test_views, "autoint", sections=(8,))
    train_psnr = metrics.psnr_from_mse(history["final_loss"])
    rows.append({"variant": variant, "overrides": variants[variant],
                 "steps": history["last_step"], "train_seconds": history["train_seconds"],
                 "psnr": row["psnr"], "ssim": row["ssim"], "train_batch_psnr": train_psnr})
    print(json.dumps(rows[-1]), flush=True)
  if FLAGS.scene == "blobs":
    command = f"--budget_minutes={FLAGS.budget_minutes:g}"
    what = (f"built-in scene, {FLAGS.image_size}×{FLAGS.image_size} views, tiny preset 4×128 "
            "swish")
    section, title = "radiance_recipe", "Training recipe of the built-in scene (make demo)"
  else:
    command = f"--scene=lego --budget_minutes={FLAGS.budget_minutes:g}"
    what = ("lego 100×100 on white, each variant `radiance.Config()` (shared trunk 4×128 "
            "swish, PE 6, 256 rays, lr 5e-3 × 0.2 / 3200 steps) with the overrides its name "
            "gives")
    section, title = "radiance_levers_lego", "Training levers on lego 100×100"
  name = FLAGS.section or f"{section}_{FLAGS.budget_minutes:g}min"
  saved = os.path.join(ROOT, "benchmarks", "results", f"{name}.json")
  if FLAGS.merge and os.path.exists(saved):
    with open(saved) as f:
      old = json.load(f)
    if old["budget_minutes"] != FLAGS.budget_minutes:
      raise app.UsageError(f"--merge: {saved} was run at {old['budget_minutes']:g} minutes, "
                           f"not {FLAGS.budget_minutes:g}.")
    ran = {r["variant"] for r in rows}
    order = list(variants)
    rows = sorted([r for r in old["rows"] if r["variant"] not in ran] + rows,
                  key=lambda r: order.index(r["variant"]) if r["variant"] in order else 99)
  text = (f"`python -m benchmarks.radiance_recipe {command}` ({what}, each variant trained "
          "alone for the same wall-clock budget, held-out PSNR at N = 8 on all "
          f"{len(test_views)} test views):\n\n" + report.table(
              ["variant", "steps", "test PSNR N = 8", "SSIM", "last training-batch PSNR"],
              [[r["variant"], r["steps"], f"{r['psnr']:.2f}", f"{r['ssim']:.3f}",
                f"{r['train_batch_psnr']:.2f}"] for r in rows]))
  print(text)
  if FLAGS.write:
    report.publish(name, f"{title}, {FLAGS.budget_minutes:g} minutes", text,
                   {"rows": rows, "budget_minutes": FLAGS.budget_minutes})


if __name__ == "__main__":
  app.run(main)
