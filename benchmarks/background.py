r"""What a radiance model says where the scene is empty: its test views' PSNR, and on the pixels
whose truth is background (coverage < 1%) the share with opacity > 0.5, the median opacity and
the median depth against the truth's, for finished runs of the built-in scene side by side
(e.g. trained with and without random backgrounds).

  python -m benchmarks.background --runs=runs/demo_opaque,runs/demo [--sections=8]

The truth is the built-in scene's reference render (scenes.procedural_views: colour, depth and
coverage), so runs must be of that scene.
"""

from absl import app
from absl import flags
import numpy as np

from autoint_tf import metrics
from autoint_tf import radiance
from autoint_tf import scenes
from autoint_tf import training
from benchmarks import report

flags.DEFINE_list("runs", ["runs/demo"], "train.radiance workdirs of the built-in scene.")
flags.DEFINE_list("labels", [], "What each run is (its random backgrounds, steps, box), one a "
                  "run; default: its random_background setting as written in its config.")
flags.DEFINE_integer("sections", 8, "N of AutoInt runs.")
flags.DEFINE_bool("write", True, "Write results and the log's table.")
FLAGS = flags.FLAGS


def background_stats(workdir, sections):
  run = training.restore(workdir)
  if run.config.scene.format != "blobs":
    raise ValueError(f"--runs: {workdir} is of {run.config.scene.format!r}; this benchmark "
                     "needs runs of the built-in scene (its truth is known everywhere).")
  _, test = scenes.load(run.config.scene)
  out = radiance.render_views(run.model, test, sections)
  empty = test.alpha < 0.01
  psnr, _ = metrics.view_metrics(out["rgb"], test.images)
  return {"run": workdir, "random_background": radiance.random_backgrounds(
              run.config.batch, test), "setting": run.config.batch.random_background,
          "steps": run.config.loop.steps, "psnr": psnr,
          "background_pixels": int(empty.sum()),
          "opaque_share": float((out["opacity"][empty] > 0.5).mean()),
          "median_opacity": float(np.median(out["opacity"][empty])),
          "median_depth": float(np.median(out["depth"][empty])),
          "true_median_depth": float(np.median(test.depth[empty])),
          "object_opacity": float(np.median(out["opacity"][test.alpha > 0.99]))}


def main(argv):
  del argv
  if FLAGS.labels and len(FLAGS.labels) != len(FLAGS.runs):
    raise ValueError(f"--labels: {len(FLAGS.labels)} labels for {len(FLAGS.runs)} --runs; give "
                     "one a run, or none.")
  rows = [background_stats(w, FLAGS.sections) for w in FLAGS.runs]
  for row, label in zip(rows, FLAGS.labels or [r["setting"] for r in rows]):
    row["label"] = label
  labels = f" --labels={','.join(FLAGS.labels)}" if FLAGS.labels else ""
  text = (f"`python -m benchmarks.background --runs={','.join(FLAGS.runs)}{labels}` (the built-in "
          f"scene's 8 test views at N = {FLAGS.sections}; background: pixels whose coverage "
          "is below 1%):\n\n" + report.table(
              ["run", "random backgrounds", "steps", "test PSNR", "background pixels",
               "of them opacity > 0.5", "median opacity there", "median depth there (truth)",
               "median opacity on the object"],
              [[r["run"], r["label"], r["steps"],
                f"{r['psnr']:.2f}", r["background_pixels"], f"{r['opaque_share']:.0%}",
                f"{r['median_opacity']:.3f}",
                f"{r['median_depth']:.2f} ({r['true_median_depth']:.2f})",
                f"{r['object_opacity']:.3f}"] for r in rows]))
  print(text)
  if FLAGS.write:
    report.publish("background", "What the model says where the scene is empty", text,
                   {"rows": rows})


if __name__ == "__main__":
  app.run(main)
