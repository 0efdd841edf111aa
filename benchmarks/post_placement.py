r"""What the sampling network's posts cost a finished AutoInt run at N sections.

Renders the run's test views at N with the posts its sampling network gives, and with posts
placed from a finer render of the same model: the quantiles of the weights of its render at
`--finer` sections, mixed with a uniform density (`renderers.quantile_posts`, the target of
`--sampler_loss=quantiles`). The second needs that finer render first, so it is no renderer:
it bounds what better posts alone could give the same integral networks at N.

  python -m benchmarks.post_placement --runs=runs/lego_dir[,...] [--views=test|train]
"""

from absl import app
from absl import flags
import tensorflow as tf

from autoint_tf import metrics
from autoint_tf import radiance
from autoint_tf import renderers
from autoint_tf import training
from benchmarks import report

flags.DEFINE_list("runs", [], "Workdirs of finished train.radiance runs of the AutoInt renderer.")
flags.DEFINE_integer("sections", 8, "N: sections of the renders compared.")
flags.DEFINE_integer("finer", 16, "Sections of the render whose weights place the posts.")
flags.DEFINE_list("uniform", ["0", "0.1", "0.3", "0.5"], "Shares of the uniform density.")
flags.DEFINE_enum("views", "test", ["test", "train"], "Score the test views, or 10 evenly spaced "
                  "training views (radiance.fit_views).")
flags.DEFINE_bool("write", False, "Write the BENCHMARKS.md section post_placement.")
FLAGS = flags.FLAGS


def placed_render(model, views, n, finer, uniform):
  """rgb [V, H, W, 3]: `views` rendered at n sections with posts at the quantiles of the
  weights of the model's own render at `finer` sections (a share `uniform` of uniform)."""

  @tf.function(jit_compile=False, reduce_retracing=True)
  def render(rays):
    fine = model.render(rays, finer, return_weights=True)
    posts = renderers.quantile_posts(fine["posts"], fine["weights"], n, uniform)
    return {"rgb": model.render_at_posts(rays, posts)["rgb"]}

  return radiance.render_chunks(render, views)[0]["rgb"]


def main(argv):
  del argv
  n, rows = FLAGS.sections, []
  for workdir in FLAGS.runs:
    run = training.restore(workdir)
    if run.application != "radiance" or run.config.renderer != "autoint":
      raise app.UsageError(f"--runs={workdir}: give train.radiance runs of the AutoInt renderer.")
    train, test = radiance.load_views(run.config)
    views = test if FLAGS.views == "test" else radiance.fit_views(train)
    own = radiance.render_views(run.model, views, "autoint", n)["rgb"]
    rows.append([f"`{workdir}`", "the sampling network's",
                 f"{metrics.view_metrics(own, views.images)[0]:.2f}"])
    print(" | ".join(rows[-1]), flush=True)
    for share in map(float, FLAGS.uniform):
      rgb = placed_render(run.model, views, n, FLAGS.finer, share)
      rows.append([f"`{workdir}`", f"quantiles of its N = {FLAGS.finer} weights, {share:g} "
                   "uniform", f"{metrics.view_metrics(rgb, views.images)[0]:.2f}"])
      print(" | ".join(rows[-1]), flush=True)
  where = "all test views" if FLAGS.views == "test" else "10 evenly spaced training views"
  text = (f"`python -m benchmarks.post_placement --runs={','.join(FLAGS.runs)} --sections={n} "
          f"--finer={FLAGS.finer} --views={FLAGS.views}` ({where}; each run's own integral "
          f"networks at N = {n}, with its sampling network's posts and with posts placed from "
          "its own finer render, which is no renderer: it needs that render first):\n\n"
          + report.table(["run", "posts", f"{FLAGS.views} PSNR at N = {n} (dB)"], rows))
  print(text)
  if FLAGS.write:
    name = "post_placement" + ("" if FLAGS.views == "test" else "_train")
    report.publish(name, f"Where the posts go on the {FLAGS.views} views", text,
                   {"runs": FLAGS.runs, "views": FLAGS.views, "rows": rows})


if __name__ == "__main__":
  app.run(main)
