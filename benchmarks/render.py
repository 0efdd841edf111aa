r"""AutoInt vs the NeRF-style quadrature baseline trained for the same wall-clock budget.

Both renderers use the CPU recipe (`radiance.Config()`: shared trunk 4x128 swish, PE 6, 256
rays a step, lr 5e-3 with exponential decay); the baseline evaluates the same networks as
fields at 64 stratified + 128 importance samples, NeRF's hierarchical sampling. Each model's
learning-rate decay is fitted to the steps its budget buys: a short calibration run measures
its training rate, and lr x 0.2 every `decay_fraction` x those steps (the built-in scene's
recipe ends at the same point of its decay). Then, in one process:

  1. the baseline trains for the budget (S_q steps);
  2. AutoInt trains S_q steps, is scored there (the equal-steps rows), and resumes from that
     checkpoint for the rest of its budget (resume is exact, so this is one uninterrupted run);
  3. test PSNR/SSIM on every test view, AutoInt at N = 4, 8, 16, 32 and the baseline;
     rays/s timed interleaved (median of rounds) on `timing_views` views; the test-PSNR curve
     against training minutes (the engine's periodic evaluation on the first test view);
  4. small images: test views side by side, a turntable (or, for LLFF, a spiral) of AutoInt.

  python -m benchmarks.render --budget_minutes=45        # lego 100x100 (~2 h in all)
  python -m benchmarks.render --config.scene.format=llff \
      --config.scene.data_path=../shared/data/nerf_llff_fern --config.scene.downscale=8 \
      --config.scene.white_background=false --budget_minutes=30 --name=render_fern
  python -m benchmarks.render --budget_minutes=0.3 --test_views=2 --nowrite   # smoke run
  python -m benchmarks.render --autoint_run=runs/a --quadrature_run=runs/q   # finished runs

With --autoint_run and --quadrature_run it trains nothing: it scores two finished runs of one
scene (e.g. train.radiance runs with different flags, each trained alone for its budget) the
same way, and --equal_steps_run names AutoInt's run stopped near the baseline's steps.
Both models are built from one `--config`, train.radiance's (the renderer and the budget's
schedule are set here); a variant of one model alone (the lego preset's sampling network, say)
is trained with train.radiance and scored this way.
"""

import dataclasses
import glob
import json
import os
import shutil

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from autoint_tf import configs
from autoint_tf import plots
from autoint_tf import radiance
from autoint_tf import rays as rays_lib
from autoint_tf import training
from autoint_tf.cli import define_config
from benchmarks import report
from benchmarks import timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


flags.DEFINE_float("budget_minutes", 45.0, "Training minutes of each model.")
flags.DEFINE_string("name", "render_table", "Results name and section of docs/benchmarks_log.md.")
flags.DEFINE_float("decay_fraction", 0.64, "lr x 0.2 every decay_fraction x budget steps.")
flags.DEFINE_string("workdir", os.path.join(ROOT, "runs", "bench_render"), "The runs' workdirs.")
flags.DEFINE_integer("calibration_steps", 60, "Steps of the rate-measuring run.")
flags.DEFINE_string("autoint_run", "", "With quadrature_run: score these finished runs "
                    "(train.radiance workdirs) instead of training.")
flags.DEFINE_integer("curve_points", 10, "Evaluations along each training run.")
flags.DEFINE_string("quadrature_run", "", "See autoint_run.")
flags.DEFINE_integer("test_views", 0, "Test views to score (0: all).")
flags.DEFINE_string("equal_steps_run", "", "With them: AutoInt's run stopped at about the "
                    "baseline's steps (the same config, fewer steps).")
flags.DEFINE_integer("timing_views", 2, "Test views rendered in each timing round.")
flags.DEFINE_float("equal_steps_within", 0.1, "How far from the baseline's steps, as a "
                   "fraction of them, the equal-steps checkpoint may be.")
flags.DEFINE_integer("rounds", 3, "Timed rendering rounds (median).")
flags.DEFINE_integer("video_frames", 24, "Frames of the turntable / spiral (0: none).")
flags.DEFINE_bool("write", True, "Write results, images and the BENCHMARKS.md section.")
# Both models' config (the scene and the losses; the renderer and the budget are set here):
# the same --config as train.radiance, by default the tiny model on lego 100x100.
CONFIG = define_config(radiance.preset(configs.replace(radiance.Config(), {
    "scene.format": "npz",
    "scene.data_path": os.path.join(ROOT, "..", "shared", "data", "lego_100px.npz")})),
                       radiance.preset)
FLAGS = flags.FLAGS
SECTIONS = (4, 8, 16, 32)
RESULT_FLAGS = ("budget_minutes", "decay_fraction", "calibration_steps", "curve_points",
                "test_views", "name", "autoint_run", "quadrature_run", "equal_steps_run",
                "equal_steps_within")


def train_for_budget(config, train_views, test_views, workdir, stop_at=None):
  """Trains `config` for FLAGS.budget_minutes; with stop_at, first exactly stop_at steps
  (returned as the second value) and then resumes for the rest of the budget."""
  config = configs.replace(config, {"loop.budget_minutes": FLAGS.budget_minutes,
                                    "loop.lr_decay_fraction": 0.0})
  rate, expected = radiance.budget_steps(config, train_views, test_views, workdir,
                                         FLAGS.calibration_steps)
  config = configs.replace(config, {
      "loop.steps": 4 * expected,
      "loop.lr_decay_steps": max(int(FLAGS.decay_fraction * expected), 1),
      "loop.eval_every": max(expected // FLAGS.curve_points, 1), "loop.checkpoint_every": 500})
  print(f"{config.renderer}: {rate:.0f} steps/min measured, ~{expected} steps in the budget; "
        f"lr x 0.2 every {config.loop.lr_decay_steps} steps")
  run = os.path.join(workdir, config.renderer)
  shutil.rmtree(run, ignore_errors=True)
  early, minutes, curve = None, 0.0, []
  if stop_at:
    model, history = radiance.train(configs.replace(config, {"loop.steps": stop_at,
                                                             "loop.budget_minutes": 0}),
                                    train_views, test_views, run)
    early = radiance.evaluate(model, test_views, (8,))[0][0]
    minutes = history["train_seconds"] / 60
    curve = [(s, e["train_minutes"], e["psnr"]) for s, e in history["eval"]]
    config = configs.replace(config, {"loop.budget_minutes": FLAGS.budget_minutes - minutes})
  model, history = radiance.train(config, train_views, test_views, run)
  curve += [(s, minutes + e["train_minutes"], e["psnr"]) for s, e in history["eval"]]
  return model, early, {"steps": history["last_step"], "curve": curve, "config": config,
                        "evals": history["eval"],
                        "train_minutes": minutes + history["train_seconds"] / 60}


def finished_runs():
  """(autoint model, equal-steps row or None, its run, quadrature model, its run, train views,
  test views) of the finished train.radiance runs --autoint_run and --quadrature_run, each
  trained alone for its own --budget_minutes. Curves: the runs' TensorBoard evaluations,
  minutes at a constant step rate. Equal steps: AutoInt's kept checkpoint nearest the
  baseline's steps, if within --equal_steps_within of them."""
  if not (FLAGS.autoint_run and FLAGS.quadrature_run):
    raise SystemExit("--autoint_run and --quadrature_run go together: the workdirs of a "
                     "finished AutoInt run and a finished quadrature run of one scene.")
  runs = {}
  for renderer, workdir in (("autoint", FLAGS.autoint_run), ("quadrature", FLAGS.quadrature_run)):
    run = training.restore(workdir)
    if run.application != "radiance" or run.config.renderer != renderer:
      raise SystemExit(f"--{renderer}_run={workdir}: not a train.radiance run of the "
                       f"{renderer} renderer.")
    runs[renderer] = run
  auto, quad = runs["autoint"], runs["quadrature"]
  for key in ("near", "far", "box", "background", "height", "width", "focal", "pixel_center"):
    if auto.context.get(key, 0.0) != quad.context.get(key, 0.0):
      raise SystemExit(f"The two runs differ in {key} ({auto.context.get(key)} against "
                       f"{quad.context.get(key)}): compare runs of the same scene and bounds.")
  train_views, test_views = radiance.load_views(auto.config)
  if FLAGS.test_views:
    test_views = test_views.subset(slice(0, FLAGS.test_views))
  summaries = {r: _finished(runs[r]) for r in runs}
  equal_steps, paths = None, []
  steps = summaries["quadrature"]["steps"]
  for workdir in filter(None, (FLAGS.autoint_run, FLAGS.equal_steps_run)):
    kept = tf.train.get_checkpoint_state(os.path.join(workdir, "checkpoints"))
    paths += [(workdir, p) for p in (kept.all_model_checkpoint_paths if kept else [])]
  if paths:
    workdir, nearest = min(paths, key=lambda w_p: abs(_checkpoint_step(w_p[1]) - steps))
    at = _checkpoint_step(nearest)
    if abs(at - steps) <= FLAGS.equal_steps_within * steps:
      early = training.restore(workdir, nearest)
      if early.config.renderer != "autoint" or early.context != auto.context:
        raise SystemExit(f"--equal_steps_run={workdir}: not an AutoInt run of the same scene "
                         "and bounds as --autoint_run.")
      equal_steps = dict(radiance.evaluate(early.model, test_views, "autoint", (8,))[0][0],
                         steps=at)
  return (auto.model, equal_steps, summaries["autoint"], quad.model, summaries["quadrature"],
          train_views, test_views)


def _finished(run):
  """steps, curve [(step, minutes, view-0 PSNR)], config and train_minutes of a finished run
  (minutes: its --budget_minutes spread evenly over its steps)."""
  step = _checkpoint_step(run.checkpoint)
  evals = {}
  for path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(run.checkpoint)),
                                            "tb", "events.*"))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == "eval/psnr":
          evals[event.step] = float(tf.make_ndarray(value.tensor))
  # (A run that ended on its --steps, or had no budget, trained for unknown minutes.)
  budgeted = run.config.loop.budget_minutes and step < run.config.loop.steps
  minutes = run.config.loop.budget_minutes if budgeted else float("nan")
  curve = [(s, minutes * s / step, p) for s, p in sorted(evals.items()) if s <= step]
  return {"steps": step, "curve": curve, "config": run.config, "train_minutes": minutes}


def _checkpoint_step(path):
  """The step of a checkpoint path (…/ckpt-<step>)."""
  return int(path.rsplit("-", 1)[1])


def video(model, views, all_poses, path):
  """A turntable around an object scene or NeRF's spiral path (around the average of
  `all_poses`, the training and test cameras) for a forward-facing one."""
  if views.ndc:
    poses = rays_lib.spiral_poses(all_poses, views.near, views.far, FLAGS.video_frames)
  else:
    radius = float(np.linalg.norm(views.poses[0][:3, 3]))
    poses = rays_lib.orbit_poses(FLAGS.video_frames, radius, elevations_deg=(25.0,))
  blank = np.zeros([len(poses), views.height, views.width, 3], np.float32)
  path_views = dataclasses.replace(views, images=blank, poses=np.asarray(poses, np.float32),
                                   name="path", depth=None)
  plots.save_gif(radiance.render_views(model, path_views, "autoint", 8)["rgb"], path)


def main(argv):
  del argv
  base = configs.validated(CONFIG.value)  # both models' (the budget: train_for_budget)
  if FLAGS.autoint_run or FLAGS.quadrature_run:
    auto, equal_steps, auto_run, quad, quad_run, train_views, test_views = finished_runs()
  else:
    train_views, test_views = radiance.load_views(base)
    if FLAGS.test_views:
      test_views = test_views.subset(slice(0, FLAGS.test_views))
    print(f"{train_views.name}: {len(train_views)} training, {len(test_views)} test views of "
          f"{test_views.height}x{test_views.width}; {FLAGS.budget_minutes} training minutes each")
    quad, _, quad_run = train_for_budget(configs.replace(base, {"renderer": "quadrature"}),
                                         train_views, test_views, FLAGS.workdir)
    step, last = quad_run["evals"][-1]
    if last["max_opacity"] < radiance.DEAD_OPACITY:  # stop before AutoInt's budget is spent
      raise SystemExit(radiance.dead_densities_message(quad_run["config"], step,
                                                       last["max_opacity"]))
    auto, equal_steps, auto_run = train_for_budget(
        configs.replace(base, {"renderer": "autoint"}), train_views, test_views, FLAGS.workdir,
        stop_at=quad_run["steps"])
  rows, renders = radiance.evaluate(auto, test_views, SECTIONS)
  quad_rows, quad_renders = radiance.evaluate(quad, test_views)
  fit = radiance.fit_views(train_views)
  fit_rows = radiance.evaluate(auto, fit, SECTIONS)[0] + radiance.evaluate(quad, fit)[0]
  timed = test_views.subset(slice(0, FLAGS.timing_views))
  models = {("autoint", n): auto for n in SECTIONS}
  models[("quadrature", None)] = quad
  times = timing.interleaved(
      {(r, n): (lambda m=m, n=n: radiance.render_views(m, timed, n or 8))
       for (r, n), m in models.items()}, FLAGS.rounds, warmup=0)
  rays = len(timed) * timed.height * timed.width
  quad_rate, quad_psnr = rays / times[("quadrature", None)], quad_rows[0]["psnr"]
  runs = {"autoint": auto_run, "quadrature": quad_run}
  for row, fit_row in zip(rows + quad_rows, fit_rows):
    rate = rays / times[(row["renderer"], row["sections"])]
    run = runs[row["renderer"]]
    row.update(rays_per_second=rate, speedup=rate / quad_rate, psnr_drop=quad_psnr - row["psnr"],
               steps=run["steps"], train_minutes=run["train_minutes"],
               train_views_psnr=fit_row["psnr"])
  if equal_steps:
    equal_steps.update(steps=equal_steps.get("steps", quad_run["steps"]),
                       psnr_drop=quad_psnr - equal_steps["psnr"])
  text = table(rows + quad_rows, equal_steps, test_views)
  print(text)
  if not FLAGS.write:
    return
  results = os.path.join(ROOT, "benchmarks", "results")
  plots.compare_views([("AutoInt N = 8", renders[8]["rgb"]),
                       ("quadrature 64+128", quad_renders[None]["rgb"])],
                      test_views, os.path.join(results, f"{FLAGS.name}_test_views.png"))
  plots.training_curves({r: runs[r]["curve"] for r in runs},
                        os.path.join(results, f"{FLAGS.name}_curve.png"))
  if FLAGS.video_frames:
    video(auto, test_views, np.concatenate([train_views.poses, test_views.poses]),
          os.path.join(results, f"{FLAGS.name}_path.gif"))
  payload = {"rows": rows + quad_rows, "equal_steps": equal_steps,
             "curves": {r: runs[r]["curve"] for r in runs},
             "configs": {r: configs.to_dict(runs[r]["config"]) for r in runs},
             "budget_minutes": FLAGS.budget_minutes}
  report.publish(FLAGS.name, f"Volume rendering at an equal training budget ({train_views.name})",
                 text, json.loads(json.dumps(payload, default=str)))


def _command_flags():
  """The flags of this run that change the result, as typed on a command line."""
  parts = [f"--{k}={FLAGS[k].value}" for k in RESULT_FLAGS if FLAGS[k].value != FLAGS[k].default]
  default = configs.flat(CONFIG.default)
  parts += [f"--config.{k}={v}" for k, v in configs.flat(configs.validated(CONFIG.value)).items()
            if v != default[k]]
  return " ".join(parts)


def _minutes(rows):
  minutes = sorted({round(r["train_minutes"], 1) for r in rows})
  return " and ".join(f"{m:g}" for m in minutes)


def table(rows, equal_steps, views):
  flags_text = _command_flags()
  head = (f"`python -m benchmarks.render {flags_text}`".replace(" `", "`") +
          f" ({views.name}, {len(views)} test views of {views.height}×{views.width}, each model "
          f"trained {_minutes(rows)} minutes; rays/s interleaved, median of "
          f"{FLAGS.rounds} rounds):\n\n")
  body = report.table(
      ["renderer", "N", "steps", "test PSNR", "SSIM", "PSNR on 10 training views", "rays/s",
       "evaluations/ray", "speed-up", "PSNR drop"],
      [[r["renderer"], r["sections"] or "64+128", r["steps"], f"{r['psnr']:.2f}",
        f"{r['ssim']:.3f}", f"{r['train_views_psnr']:.2f}", f"{r['rays_per_second']:.0f}",
        r["evaluations_per_ray"], f"{r['speedup']:.1f}×", f"{r['psnr_drop']:+.2f}"]
       for r in rows])
  if equal_steps:
    tail = (f"\nEqual steps: AutoInt after {equal_steps['steps']} steps (the baseline's: "
            f"{rows[-1]['steps']}) scores {equal_steps['psnr']:.2f} dB (SSIM "
            f"{equal_steps['ssim']:.3f}) at N = 8, {equal_steps['psnr_drop']:+.2f} dB from the "
            "baseline.\n")
  else:
    tail = ("\nEqual steps: not measured (the AutoInt run kept no checkpoint within "
            f"{FLAGS.equal_steps_within:.0%} of the baseline's steps).\n")
  if FLAGS.autoint_run:
    tail += (f"\nFinished runs scored: `{FLAGS.autoint_run}` and `{FLAGS.quadrature_run}` "
             "(each trained alone for its budget; their configs are in the results JSON; the "
             "curves' minutes spread each budget evenly over its steps).\n")
  return head + body + tail


if __name__ == "__main__":
  app.run(main)
