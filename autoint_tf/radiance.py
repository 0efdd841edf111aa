"""Volume rendering with AutoInt (Sec. 4.3), the application: config, model, training task,
evaluation and the report of a run.

Notation: rays as in rays.py; renderers and their N, K, M as in renderers.py. V views; B rays a
batch. Training runs on the engine (training.fit): each batch carries its own stratification
jitter, made in the input pipeline from the seed and the batch index, so a step does not
depend on how the batch is split over replicas and a resumed run continues exactly.
"""

import copy
import dataclasses
import os
import time
import warnings

import numpy as np
import tensorflow as tf

from autoint_tf import configs
from autoint_tf import metrics
from autoint_tf import plots
from autoint_tf import rays as rays_lib
from autoint_tf import renderers
from autoint_tf import rendering
from autoint_tf import scenes
from autoint_tf import training
from autoint_tf.configs import check_choice
from autoint_tf.configs import check_range
from autoint_tf.configs import knob

RENDERERS = ("autoint", "quadrature")
PRECISIONS = ("float32", "mixed_bfloat16")


@dataclasses.dataclass
class BatchConfig:
  """The rays of a training step."""
  size: int = knob(256, "Rays a step (global, over all replicas).")
  precrop_steps: int = knob(0, "First steps on the central half of each view (NeRF's precrop; "
                            "guards against densities dying at the start).")
  random_background: str = knob("auto", "Each training ray on a random background colour, so "
                                "that what the object does not cover is learned as empty "
                                "(opacity 0), not as the background's colour: on (a uniform "
                                "random colour per ray), expected (the loss's expectation "
                                "over those colours, in closed form: no sampling noise), off, "
                                "auto (expected when the training views carry alpha: the "
                                "built-in scene, npz with alpha, Blender RGBA; else off).")

  def __post_init__(self):
    if isinstance(self.random_background, bool) or str(self.random_background).lower() in (
        "true", "false"):  # (a bool, as the flag was before it had "auto")
      self.random_background = "on" if str(self.random_background).lower() == "true" else "off"
    check_choice("config.batch.random_background", self.random_background,
                 ("auto", "on", "expected", "off"),
                 "auto: expected when the training views carry alpha")
    check_range("config.batch.size", self.size, 1, what="a number of rays")
    check_range("config.batch.precrop_steps", self.precrop_steps, 0,
                what="0 (off) or a number of steps")


@dataclasses.dataclass
class EvalConfig:
  """What a run renders and reports."""
  sections: int = knob(8, "N at which AutoInt renders validation images, test views and the "
                       "turntable.")
  report_sections: tuple = knob((4, 8, 16, 32), "N of the final test report.")
  turntable_frames: int = knob(24, "Frames of turntable.gif (0: none).")
  time_quadrature: bool = knob(True, "AutoInt runs: report also the quadrature renderer's "
                               "rays/s on the same rays.")

  def __post_init__(self):
    check_range("config.eval.sections", self.sections, 1, what="a number of sections")
    for n in self.report_sections:
      check_range("config.eval.report_sections", int(n), 1, what="numbers of sections")


@dataclasses.dataclass
class Config:
  """A radiance run: the scene, the renderer's components, the batch, the loop, the report.

  The defaults are the CPU recipe of the built-in scene (`make demo`); `PRESETS` holds whole
  configs for lego on this CPU and the paper's GPU settings.
  """
  renderer: str = knob("autoint", "autoint or quadrature (the NeRF-style baseline).")
  scene: scenes.SceneConfig = knob(scenes.SceneConfig(), "The views and their region.")
  model: renderers.ModelConfig = knob(renderers.ModelConfig(width=192), "The density and "
                                      "colour networks (192 wide: +3.4 dB over 128 on the "
                                      "built-in scene, BENCHMARKS.md).")
  sampler: renderers.SamplerConfig = knob(renderers.SamplerConfig(), "AutoInt's sampling "
                                          "network.")
  loss: renderers.LossConfig = knob(renderers.LossConfig(), "How AutoInt's training renders.")
  quadrature: renderers.QuadratureConfig = knob(renderers.QuadratureConfig(), "The baseline's "
                                                "samples.")
  batch: BatchConfig = knob(BatchConfig(), "The rays of a step.")
  loop: training.LoopConfig = knob(training.LoopConfig(
      steps=3000, learning_rate=5e-3, lr_schedule="exponential", lr_decay_steps=1920,
      log_every=100, eval_every=1000, checkpoint_every=500), "The training loop (lr x 0.2 "
      "every lr_decay_steps; the paper's: 5e-4 x 0.2 every 200k steps).")
  eval: EvalConfig = knob(EvalConfig(), "What the run renders and reports.")
  precision: str = knob("float32", "Keras dtype policy of the networks: float32 or "
                        "mixed_bfloat16 (float32 variables; rendering in float32).")

  def __post_init__(self):
    check_choice("config.renderer", self.renderer, RENDERERS)
    check_choice("config.precision", self.precision, PRECISIONS)


def _paper(scene):
  return Config(scene=scene, model=renderers.ModelConfig(
      depth=8, width=256, num_frequencies=10, direction_frequencies=4, shared_trunk=False),
                sampler=renderers.SamplerConfig(num_sections=32, depth=5, width=256),
                batch=BatchConfig(size=4096, random_background="off"), loop=training.LoopConfig(
                    steps=300000, learning_rate=5e-4, lr_schedule="exponential",
                    lr_decay_steps=200000, eval_every=5000, checkpoint_every=2500))


PRESETS = {
    # The built-in scene on this CPU (make demo); trained on random backgrounds (its views
    # carry alpha), so its opacity and depth are right where the scene is empty.
    "tiny": Config(),
    # lego 100x100 on this 2-core CPU, 45 minutes (BENCHMARKS.md): exact section means at
    # jittered posts, two scales, the scene box, a sampling network that sees the ray's line.
    "lego": Config(
        scene=scenes.SceneConfig(format="npz", data_path="../shared/data/lego_100px.npz",
                                 box=("auto",), pixel_center=0.5),
        model=renderers.ModelConfig(num_frequencies=8, color_orientation="direction"),
        sampler=renderers.SamplerConfig(input="line"),
        loss=renderers.LossConfig(section_means="exact", post_jitter=1.0, exact_scales=2),
        batch=BatchConfig(random_background="off"),  # as measured (its npz has alpha)
        loop=training.LoopConfig(steps=1000000, learning_rate=5e-3, lr_schedule="exponential",
                                 lr_decay_steps=3200, lr_decay_fraction=0.47,
                                 budget_minutes=45.0, log_every=100, eval_every=10000,
                                 checkpoint_every=500)),
    # The paper's settings (GPU runs).
    "paper_blender": _paper(scenes.SceneConfig(
        format="blender", data_path="../shared/data/nerf_synthetic_lego")),
    "paper_llff": _paper(scenes.SceneConfig(
        format="llff", data_path="../shared/data/nerf_llff_fern", downscale=8)),
}


def preset(name):
  """A fresh copy of the config PRESETS[name] (the command line's --config=NAME)."""
  if isinstance(name, Config):
    return name
  if name not in PRESETS:
    raise ValueError(f"--config={name}: choose a preset: {', '.join(PRESETS)}.")
  return copy.deepcopy(PRESETS[name])


def random_backgrounds(batch, views):
  """Whether training rays go on random background colours (BatchConfig.random_background)."""
  return batch.random_background in ("on", "expected") or (
      batch.random_background == "auto" and views.alpha is not None)


def load_views(config):
  """(train, test) Views of the configured scene (scenes.load), checked against what the
  renderer needs of them."""
  train_views, test_views = scenes.load(config.scene)
  if config.batch.random_background in ("on", "expected") and train_views.alpha is None:
    raise ValueError(f"--config.batch.random_background: {train_views.name!r} has no alpha "
                     "(coverage) to composite on other backgrounds; it needs RGBA views (npz "
                     "with an alpha array, or Blender PNGs). Leave it off for this scene.")
  if (config.renderer == "autoint" and config.sampler.input == "line" and
      not (train_views.ndc or train_views.box is not None)):
    raise ValueError(f"--config.sampler.input=line: the sampling network then places its posts "
                     f"by the ray's line alone, but {train_views.name!r} renders each ray from "
                     "its camera's near to far, which moves along the line with the camera "
                     "(--config.scene.box=none). Leave the box at default (or give one) so that "
                     "each ray's segment is the line's own, or use --config.sampler.input=ray.")
  return train_views, test_views


def make_renderer(config, background):
  """The renderer a config names, built from its components' configs."""
  if config.renderer == "autoint":
    return renderers.AutoIntRenderer(config.model, config.sampler, config.loss, background,
                                     dtype=config.precision, name="autoint")
  return renderers.QuadratureRenderer(config.model, config.quadrature, background,
                                      dtype=config.precision, name="quadrature")


def make_model(config, context):
  """The renderer of a run with every weight created (training.restore fills them)."""
  return make_renderer(config, tuple(context["background"])).build_all()


class Task(training.Task):
  """Volume rendering on the engine: ray batches of the training views, the renderer's loss."""
  examples = "rays"

  def __init__(self, config, train_views, test_views):
    self.config, self.train_views, self.test_views = config, train_views, test_views
    self.name = f"train {config.renderer}"
    self.global_batch_size = config.batch.size
    self.model = None

  def build_model(self):
    self.model = make_renderer(self.config, self.train_views.background).build_all()
    return self.model

  def dataset(self, start_step):
    """Ray batches with the renderer's random numbers; batch k is a pure function of
    (seed, start_step + k)."""
    batch_config, b = self.config.batch, self.config.batch.size
    noise = (self.model or make_renderer(self.config, self.train_views.background)).batch_noise

    def add_noise(batch):
      seed = tf.stack([tf.cast(self.config.loop.seed, tf.int64) + 1, batch.pop("index")])
      batch.update(noise(b, seed))
      if random_backgrounds(batch_config, self.train_views):  # pixel and render on one colour
        if batch_config.random_background != "on":  # E over U[0, 1]^3 (per_ray_loss)
          batch["background"] = tf.fill([b, 3], 0.5)
          batch["background_variance"] = tf.fill([b], 1.0 / 12.0)
        else:
          batch["background"] = tf.random.stateless_uniform([b, 3], seed + 2)
        batch["rgb"] = rendering.recomposite(batch["rgb"], batch["alpha"],
                                             self.train_views.background,
                                             batch["background"])
      return batch

    return scenes.ray_batches(self.train_views, b, self.config.loop.seed, start_step,
                              batch_config.precrop_steps).map(add_noise)

  def loss(self, model, batch):
    return model.per_ray_loss(batch), None

  def log_metrics(self, loss):
    return {"psnr": metrics.psnr_from_mse(self.model.rgb_mse(loss))}

  def evaluate(self, model, step):
    view = self.test_views.subset(slice(0, 1))
    out = render_views(model, view, self.config.eval.sections)
    psnr, _ = metrics.view_metrics(out["rgb"], view.images)
    max_opacity = float(out["opacity"].max())
    if max_opacity < DEAD_OPACITY:
      warnings.warn(dead_densities_message(self.config, step, max_opacity))
    depth = out["depth"][..., None] / max(float(out["depth"].max()), 1e-6)
    images = {"rgb": np.concatenate([np.clip(out["rgb"], 0, 1), view.images], 2),
              "depth": depth}
    return {"psnr": psnr, "max_opacity": max_opacity}, images


DEAD_OPACITY = 1e-4  # a validation view with no pixel more opaque than this shows nothing


def dead_densities_message(config, step, max_opacity):
  """What to do when the model renders nothing: every density is <= 0, so relu passes no
  gradient and no step can bring it back (seen on lego with the box at an unlucky seed)."""
  return (f"{config.renderer} at step {step}: the validation view shows no density (max "
          f"opacity {max_opacity:.1e}): every sigma is <= 0 and gets no gradient, so training "
          "cannot recover. Restart with --config.batch.precrop_steps=500 (the first steps on "
          "the object, not the background) or another --config.loop.seed.")


def budget_steps(config, train_views, test_views, workdir, probe_steps=60):
  """(steps a minute, steps config.loop.budget_minutes buy) of `config` on this machine,
  measured by `training.steps_per_minute`."""
  rate = training.steps_per_minute(_task_maker(config, train_views, test_views), config.loop,
                                   workdir, probe_steps)
  return rate, max(int(rate * config.loop.budget_minutes), 1)


def _task_maker(config, train_views, test_views):
  return lambda loop: Task(dataclasses.replace(config, loop=loop), train_views, test_views)


def train(config, train_views, test_views, workdir, strategy=None, progress=True):
  """Trains a renderer on the engine; returns (model, history). Writes the run's config.json
  (with lr_decay_fraction, the decay fitted to the budget: `training.fit_schedule`)."""
  config = configs.validated(config)
  say = (lambda m: print(f"{config.renderer}: {m}")) if progress else (lambda *a: None)
  loop = training.fit_schedule(_task_maker(config, train_views, test_views), config.loop,
                               workdir, say)
  config = dataclasses.replace(config, loop=loop)
  task = Task(config, train_views, test_views)
  strategy = strategy or training.make_strategy(loop.strategy)
  if training.is_chief(strategy):
    training.write_run(workdir, "radiance", config, train_views.context())
  return training.fit(task, loop, workdir, strategy, progress)


def render_chunks(fn, views, chunk=8192):
  """Runs `fn` (a dict of rays [B, ...] -> a dict of [B, ...] tensors) on every view of
  `views`, one view's rays at a time in chunks of `chunk` rays (memory is bounded by one view,
  e.g. 800 x 800, and one chunk of network activations).

  Returns (dict of [V, H, W, ...] arrays, seconds): the seconds leave out a first call on the
  first chunk, which traces a tf.function.
  """
  outs, seconds = {}, 0.0
  for v in range(len(views)):
    rays = {k: r for k, r in views.rays(slice(v, v + 1)).items() if k != "rgb"}
    if v == 0:
      fn({k: r[:chunk] for k, r in rays.items()})  # trace outside the timing
    start = time.perf_counter()
    for i in range(0, len(rays["near"]), chunk):
      for k, out in fn({k: r[i:i + chunk] for k, r in rays.items()}).items():
        outs.setdefault(k, []).append(out.numpy())
    seconds += time.perf_counter() - start
  shape = (len(views), views.height, views.width)
  return ({k: np.concatenate(parts).reshape(shape + parts[0].shape[1:])
           for k, parts in outs.items()}, seconds)


def render_views(model, views, num_sections=8, chunk=8192):
  """Renders every view of `views` (`render_chunks`) with the model, AutoInt at
  `num_sections` (the baseline ignores it).

  Returns dict of rgb [V, H, W, 3], depth [V, H, W], opacity [V, H, W], seconds and rays.
  """
  cache = model.__dict__.setdefault("_render_functions", {})
  if num_sections not in cache:  # one traced function per N (no retracing per call)
    def render(rays):
      out = model.render(rays, num_sections)
      return {k: out[k] for k in ("rgb", "depth", "opacity")}
    cache[num_sections] = tf.function(render, jit_compile=False, reduce_retracing=True)
  out, seconds = render_chunks(cache[num_sections], views, chunk)
  return dict(out, seconds=seconds, rays=len(views) * views.height * views.width)


def evaluate(model, views, sections=(4, 8, 16, 32)):
  """Test-split PSNR/SSIM, rays per second and network evaluations per ray; for AutoInt at
  each N in `sections`, for the baseline once. Returns (rows, {N (None: baseline): renders})."""
  rows, renders = [], {}
  for n in (sections if model.renders_at_sections else (None,)):
    out = render_views(model, views, n or 8)
    psnr, ssim = metrics.view_metrics(out["rgb"], views.images)
    rows.append({"renderer": model.name, "sections": n, "psnr": psnr, "ssim": ssim,
                 "rays_per_second": out["rays"] / out["seconds"],
                 "evaluations_per_ray": model.evaluations_per_ray(n)})
    renders[n] = out
  return rows, renders


def fit_views(views, count=10):
  """`count` of `views` evenly spaced (all if fewer): the training views a finished run is
  scored on as well, since a test PSNR alone does not tell a model that underfits (training
  views as poor as the test views) from one that overfits (training views far better)."""
  index = np.unique(np.linspace(0, len(views) - 1, min(count, len(views))).round().astype(int))
  return views.subset(index)


def turntable(model, views, num_sections, path, frames):
  """A GIF of `frames` views on a circle around the scene (rendered by the trained model)."""
  radius = float(np.linalg.norm(views.poses[0][:3, 3]))
  poses = rays_lib.orbit_poses(frames, radius, elevations_deg=(25.0,))
  images = np.zeros([frames, views.height, views.width, 3], np.float32)
  spin = dataclasses.replace(views, images=images, poses=poses, name="turntable", depth=None)
  plots.save_gif(render_views(model, spin, num_sections)["rgb"], path)


def quadrature_speedup(config, rows, test_views):
  """The report's speed-up of each AutoInt row over the NeRF-style renderer with the same
  networks (untrained: speed only) on the first test view's rays."""
  baseline = make_renderer(dataclasses.replace(config, renderer="quadrature"),
                           test_views.background).build_all()
  timing = render_views(baseline, test_views.subset(slice(0, 1)))
  quad = timing["rays"] / timing["seconds"]
  for row in rows:
    row["speedup_over_quadrature"] = row["rays_per_second"] / quad
  return {"quadrature_rays_per_second": quad,
          "quadrature_evaluations_per_ray": baseline.evaluations_per_ray()}


def train_and_evaluate(config, workdir, progress=True):
  """Trains on the configured scene, then reports on its test views. Writes to workdir:
  config.json, checkpoints/, tb/, metrics.json (test PSNR/SSIM, rays/s and evaluations a ray
  per N; with time_quadrature, the speed-up over the quadrature renderer; PSNR/SSIM on 10
  training views at the validation N, `fit_views`), test_views.png
  (prediction | reference | depth | opacity) and turntable.gif. Returns the metrics dict."""
  config = configs.validated(config)
  train_views, test_views = load_views(config)
  if progress:
    print(f"{train_views.name}: {len(train_views)} training and {len(test_views)} test views "
          f"of {test_views.height}x{test_views.width}")
  model, history = train(config, train_views, test_views, workdir, progress=progress)
  rows, renders = evaluate(model, test_views, config.eval.report_sections)
  shown = config.eval.sections if model.renders_at_sections else None
  fitted = fit_views(train_views)
  fit = evaluate(model, fitted, (shown,))[0][0]
  report = {"test": rows, "train_views": dict(fit, views=len(fitted)),
            "final_loss": history["final_loss"], "steps": history["last_step"],
            "train_seconds": history["train_seconds"]}
  if config.eval.time_quadrature and model.renders_at_sections:
    report.update(quadrature_speedup(config, rows, test_views))
  training.write_metrics(workdir, report)
  out = renders.get(shown) or render_views(model, test_views, shown or 8)
  plots.test_views(out, test_views, os.path.join(workdir, "test_views.png"))
  if config.eval.turntable_frames and not test_views.ndc:
    turntable(model, test_views, config.eval.sections,
              os.path.join(workdir, "turntable.gif"), config.eval.turntable_frames)
  return report
