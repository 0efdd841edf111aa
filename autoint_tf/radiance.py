"""Volume rendering with AutoInt (Sec. 4.3), the application: config, model, training task,
evaluation and the report of a run.

Notation: rays as in rays.py; renderers and their N, K, M as in renderers.py. V views; B rays a
batch. Training runs on the engine (training.fit): each batch carries its own stratification
jitter, made in the input pipeline from the seed and the batch index, so a step does not
depend on how the batch is split over replicas and a resumed run continues exactly.
"""

import dataclasses
import os
import shutil
import time
import warnings

import numpy as np
import tensorflow as tf

from autoint_tf import fields
from autoint_tf import metrics
from autoint_tf import plots
from autoint_tf import rays as rays_lib
from autoint_tf import renderers
from autoint_tf import scenes
from autoint_tf import training

RENDERERS = ("autoint", "quadrature")
SCENES = ("blobs", "npz", "blender", "llff")
PRECISIONS = ("float32", "mixed_bfloat16")
SECTION_MEANS = ("sampled", "exact")
SAMPLER_LOSSES = ("render", "quantiles")


@dataclasses.dataclass(frozen=True)
class Config(training.LoopConfig):
  """A radiance run: the scene, the model and (inherited) the training loop."""
  # Defaults: the CPU recipe of the built-in scene (BENCHMARKS.md: 32.8 dB at N = 8 after 6
  # minutes of training); the paper's schedule is lr 5e-4 x 0.2 every 200k steps (presets).
  steps: int = 5000
  learning_rate: float = 5e-3
  lr_schedule: str = "exponential"
  lr_decay_steps: int = 3200        # lr x 0.2 every lr_decay_steps
  lr_decay_fraction: float = 0.0    # with budget_minutes: lr x 0.2 every this fraction of the
                                    # steps the budget buys on this machine (a 60-step probe
                                    # measures the rate first; the fitted lr_decay_steps goes
                                    # to config.json and a resumed run keeps it). 0: off
  log_every: int = 100
  eval_every: int = 1000            # validation render + PSNR (one test view)
  checkpoint_every: int = 500
  scene: str = "blobs"              # blobs (built in), npz, blender, llff
  data_path: str = ""               # file or directory of the scene (npz, blender, llff)
  downscale: int = 1                # blender: image downscale factor; llff: images_<factor>
  white_background: bool = True     # blender/npz: composite on white (NeRF) or black
  pixel_center: float = 0.0         # where in its pixel each pixel's ray passes: 0 NeRF's
                                    # convention, 0.5 the pixel's centre (rays.py)
  image_size: int = 32              # blobs: rendered view size
  renderer: str = "autoint"         # autoint or quadrature (the NeRF-style baseline)
  model: str = "tiny"               # renderers.MODEL_PRESETS key
  activation: str = ""              # override the preset's activation
  num_frequencies: int = 0          # override L, the PE octaves of the point (0: the preset's)
  direction_frequencies: int = -1   # override the PE octaves of the ray orientation (-1: the
                                    # preset's)
  num_sections: int = 0             # override K (the sampling network's sections)
  samples_per_section: int = 0      # override M, grad-network samples a section in training
  section_means: str = "sampled"    # AutoInt training: sampled (the paper: the grad networks'
                                    # mean over M stratified samples of each section) or exact
                                    # ((Phi(tau_i) - Phi(tau_i-1)) / dtau of the integral
                                    # networks at the K + 1 posts, as rendering computes them:
                                    # the limit M -> infinity of the same loss, without its noise)
  post_jitter: float = 0.0          # section_means=exact: each training batch moves every
                                    # interior post at random by up to +-post_jitter / 2 of the
                                    # shorter of its sections (0: the sampling network's posts;
                                    # at most 1), so Phi is fitted between posts too
  exact_scales: int = 1             # section_means=exact: the loss averages the renders at K,
                                    # 2K, ..., 2^(S-1) K sections, all from the integral
                                    # networks at the finest render's posts (jittered), so Phi
                                    # is fitted at each N that rendering uses (1: K only)
  sampler_loss: str = "render"      # what trains AutoInt's sampling network: render (the
                                    # paper's: the rendering loss, through the posts) or
                                    # quantiles (its K posts are fitted to the quantiles of the
                                    # finest training render's weights mixed with a uniform
                                    # density, renderers.quantile_posts; the renders' gradient
                                    # stops at the posts). Needs --section_means=exact
  sampler_uniform: float = 0.3      # sampler_loss=quantiles: the uniform density's share of
                                    # the mixture (0: the weights alone; at most 1)
  width: int = 0                    # override the preset's hidden width (0: the preset's)
  depth: int = 0                    # override the preset's hidden layers (0: the preset's)
  sampler_depth: int = 0            # override the sampling network's hidden layers (AutoInt;
                                    # 0: the preset's)
  sampler_width: int = 0            # override its hidden width (0: the preset's)
  sampler_frequencies: int = -1     # override the PE octaves of its ray (-1: the preset's)
  sampler_input: str = "ray"        # what the sampling network sees: ray (origin and
                                    # direction, the paper's) or line (the ray's line only, so
                                    # every camera on one line gets the same posts; needs
                                    # --box or an NDC scene, where [near, far] is the line's)
  near: float = 0.0                 # override the scene's near bound (0: the scene's); not
  far: float = 0.0                  # for NDC (LLFF) scenes, whose rays run from 0 to 1
  box: tuple = ()                   # x0,y0,z0,x1,y1,z1: the scene's bounding box, or auto:
                                    # that of the training views' visual hull
                                    # (scenes.silhouette_box); every ray's [near, far] is cut
                                    # to it, rays that miss it show the background, and
                                    # training draws only rays that meet it (not for NDC)
  view_consistent_sigma: bool = False  # sigma's network sees only the point
  color_orientation: str = "ray"    # what colour sees besides the point: ray (origin and
                                    # direction, the paper's) or direction (NeRF's: it cannot
                                    # tell the training views apart by their camera position)
  shared_trunk: bool = True         # one trunk for sigma and colour (renderers.RadianceField);
                                    # False: the paper's two networks
  num_coarse: int = 64              # quadrature baseline samples
  num_fine: int = 128               # quadrature baseline importance samples
  batch_size: int = 256             # rays a step (global, over all replicas)
  eval_sections: int = 8            # N at which AutoInt renders validation images
  report_sections: tuple = (4, 8, 16, 32)  # N of the final test report
  turntable_frames: int = 24        # frames of turntable.gif (0: none)
  time_quadrature: bool = True      # report also the quadrature renderer's rays/s
  precrop_steps: int = 0            # first steps on the central half of each view (NeRF's
                                    # precrop; guards against densities dying at the start)
  random_background: bool = False   # training rays on a random background colour each
                                    # (needs views with alpha: npz/blender): what the object
                                    # does not cover must stay transparent, not take the
                                    # background's colour
  precision: str = "float32"        # Keras dtype policy of the networks: float32 or
                                    # mixed_bfloat16 (float32 variables; rendering in float32)


PRESETS = {
    "tiny": Config(),
    # lego 100x100 on this 2-core CPU, 45 minutes (BENCHMARKS.md: 25.19 dB at N = 8, 26.29 at
    # N = 16): exact section means at jittered posts, two scales, the scene box, a sampling
    # network that sees the ray's line.
    "lego": Config(scene="npz", data_path="../shared/data/lego_100px.npz", box=("auto",),
                   num_frequencies=8, pixel_center=0.5, section_means="exact", post_jitter=1.0,
                   exact_scales=2, color_orientation="direction", budget_minutes=45.0,
                   steps=1000000, lr_decay_fraction=0.47, eval_every=10000,
                   sampler_input="line"),
    "paper_blender": Config(scene="blender", data_path="../shared/data/nerf_synthetic_lego",
                            model="paper", batch_size=4096, steps=300000, learning_rate=5e-4,
                            lr_decay_steps=200000, eval_every=5000, checkpoint_every=2500,
                            shared_trunk=False),
    "paper_llff": Config(scene="llff", data_path="../shared/data/nerf_llff_fern",
                         downscale=8, model="paper", batch_size=4096, steps=300000,
                         learning_rate=5e-4, lr_decay_steps=200000, eval_every=5000,
                         checkpoint_every=2500, shared_trunk=False),
}


def model_config(config):
  """The renderers.ModelConfig of a run: its preset with the run's overrides."""
  base = renderers.MODEL_PRESETS[config.model]
  overrides = {"view_consistent_sigma": config.view_consistent_sigma,
               "shared_trunk": config.shared_trunk,
               "color_orientation": config.color_orientation,
               "sampler_input": config.sampler_input}
  if config.sampler_input not in renderers.SAMPLER_INPUTS:
    raise ValueError(f"--sampler_input={config.sampler_input}: choose one of "
                     f"{', '.join(renderers.SAMPLER_INPUTS)} (ray: origin and direction, the "
                     "paper's; line: the ray's line only).")
  if config.color_orientation not in renderers.COLOR_ORIENTATIONS:
    raise ValueError(f"--color_orientation={config.color_orientation}: choose one of "
                     f"{', '.join(renderers.COLOR_ORIENTATIONS)} (ray: origin and direction, "
                     "the paper's; direction: the direction only, NeRF's).")
  if config.activation:
    overrides["activation"] = fields.check_activation(config.activation)
  for name in ("num_sections", "samples_per_section", "width", "depth", "num_frequencies",
               "sampler_depth", "sampler_width"):
    if getattr(config, name) < 0:
      raise ValueError(f"--{name}={getattr(config, name)}: give a positive count (0: the "
                       f"{config.model!r} preset's).")
    if getattr(config, name):
      overrides[name] = getattr(config, name)
  for name in ("direction_frequencies", "sampler_frequencies"):
    if getattr(config, name) < -1:
      raise ValueError(f"--{name}={getattr(config, name)}: give a number of octaves (0: the "
                       f"raw input only; -1: the {config.model!r} preset's).")
    if getattr(config, name) >= 0:
      overrides[name] = getattr(config, name)
  if not 0 <= config.post_jitter <= 1:
    raise ValueError(f"--post_jitter={config.post_jitter}: give a fraction in [0, 1] of the "
                     "shorter neighbouring section (more would let posts cross).")
  if config.section_means not in SECTION_MEANS:
    raise ValueError(f"--section_means={config.section_means}: choose one of "
                     f"{', '.join(SECTION_MEANS)} (sampled: the paper's grad-network samples; "
                     "exact: the integral networks' differences at the posts).")
  if config.exact_scales < 1 or (config.exact_scales > 1 and config.section_means != "exact"):
    raise ValueError(f"--exact_scales={config.exact_scales}: give 1 (the K sections only) or, "
                     "with --section_means=exact, the number of renders at K, 2K, 4K, ... "
                     "sections the loss averages.")
  if config.post_jitter and config.section_means != "exact":
    raise ValueError(f"--post_jitter={config.post_jitter} moves the posts of exact section "
                     f"means; with --section_means={config.section_means} the grad networks' "
                     "samples already cover each section: add --section_means=exact or drop "
                     "--post_jitter.")
  if config.sampler_loss not in SAMPLER_LOSSES:
    raise ValueError(f"--sampler_loss={config.sampler_loss}: choose one of "
                     f"{', '.join(SAMPLER_LOSSES)} (render: the paper's; quantiles: the posts "
                     "fitted to the quantiles of the rendered weights).")
  if config.sampler_loss == "quantiles" and config.section_means != "exact":
    raise ValueError("--sampler_loss=quantiles fits the posts to the weights of the exact-means "
                     "render: add --section_means=exact.")
  if not 0 <= config.sampler_uniform <= 1:
    raise ValueError(f"--sampler_uniform={config.sampler_uniform}: give the uniform density's "
                     "share of the mixture, in [0, 1].")
  return dataclasses.replace(base, **overrides)


def load_views(config):
  """(train, test) Views of the configured scene, with the run's near/far and box if it sets
  them."""
  if config.precrop_steps < 0:
    raise ValueError(f"--precrop_steps={config.precrop_steps}: give 0 (off) or a positive "
                     "number of steps.")
  train_views, test_views = _load_scene(config)
  center = rays_lib.check_pixel_center(config.pixel_center)
  train_views = dataclasses.replace(train_views, pixel_center=center)
  test_views = dataclasses.replace(test_views, pixel_center=center)
  if config.random_background and train_views.alpha is None:
    raise ValueError(f"--random_background: {train_views.name!r} has no alpha (coverage) to "
                     "composite on other backgrounds; it needs RGBA views (npz with an alpha "
                     "array, or Blender PNGs). Leave the flag off for this scene.")
  if config.sampler_input == "line" and not (train_views.ndc or config.box):
    raise ValueError(f"--sampler_input=line: the sampling network then places its posts by the "
                     f"ray's line alone, but {train_views.name!r} renders each ray from its "
                     "camera's near to far, which moves along the line with the camera. Add "
                     "--box=auto (or the scene's box) so that [near, far] is the line's own, or "
                     "use --sampler_input=ray.")
  if not (config.near or config.far or config.box):
    return train_views, test_views
  if train_views.ndc:
    raise ValueError(f"--near/--far/--box: {train_views.name!r} is a forward-facing scene "
                     "whose NDC rays always run from 0 to 1; leave --near and --far at 0 and "
                     "--box empty.")
  box = None
  if tuple(config.box) == ("auto",):
    box = scenes.silhouette_box(train_views)
  elif config.box:
    box = check_box(config.box)
  near = config.near or train_views.near
  far = config.far or train_views.far
  if not 0 < near < far:
    raise ValueError(f"--near={config.near:g} --far={config.far:g}: need 0 < near < far (the "
                     f"scene's own bounds are {train_views.near:g} and {train_views.far:g}).")
  return (dataclasses.replace(train_views, near=near, far=far, box=box),
          dataclasses.replace(test_views, near=near, far=far, box=box))


def check_box(values):
  """((x0, y0, z0), (x1, y1, z1)) from the six numbers of --box, or a ValueError naming it."""
  try:
    numbers = [float(v) for v in values]
  except ValueError:
    numbers = []
  if len(numbers) != 6 or not all(np.isfinite(numbers)) or not all(
      a < b for a, b in zip(numbers[:3], numbers[3:])):
    raise ValueError(f"--box={','.join(map(str, values))}: give six numbers x0,y0,z0,x1,y1,z1 "
                     "with x0 < x1, y0 < y1, z0 < z1 (the scene's bounding box in world units), "
                     "or auto.")
  return tuple(numbers[:3]), tuple(numbers[3:])


def _load_scene(config):
  if config.scene == "blobs":
    return scenes.procedural_views(size=config.image_size, pixel_center=config.pixel_center)
  if config.scene == "npz":
    return scenes.load_npz(config.data_path, white_background=config.white_background)
  if config.scene == "blender":
    kw = dict(downscale=config.downscale, white_background=config.white_background)
    return (scenes.load_blender(config.data_path, "train", **kw),
            scenes.load_blender(config.data_path, "test", **kw))
  if config.scene == "llff":
    return scenes.load_llff(config.data_path, factor=config.downscale)
  raise ValueError(f"Unknown scene {config.scene!r}: choose one of {SCENES}.")


def make_renderer(config, background):
  mc = model_config(config)
  if config.precision not in PRECISIONS:
    raise ValueError(f"Unknown precision {config.precision!r}: choose one of {PRECISIONS}.")
  if config.renderer == "autoint":
    return renderers.AutoIntRenderer(mc, background, dtype=config.precision, name="autoint")
  if config.renderer == "quadrature":
    return renderers.QuadratureRenderer(mc, background, config.num_coarse, config.num_fine,
                                        dtype=config.precision, name="quadrature")
  raise ValueError(f"Unknown renderer {config.renderer!r}: choose one of {RENDERERS}.")


def make_model(config, context):
  """The renderer of a run with every weight created (training.restore fills them)."""
  return make_renderer(config, tuple(context["background"])).build_all()


class Task(training.Task):
  """Volume rendering on the engine: ray batches of the training views, MSE to pixel colour."""
  examples = "rays"

  def __init__(self, config, train_views, test_views):
    self.config, self.train_views, self.test_views = config, train_views, test_views
    self.name = f"train {config.renderer}"
    self.global_batch_size = config.batch_size
    self.mc = model_config(config)

  def build_model(self):
    return make_renderer(self.config, self.train_views.background).build_all()

  def dataset(self, start_step):
    """Ray batches with their stratification jitter; batch k is a pure function of
    (seed, start_step + k)."""
    config, b, mc = self.config, self.config.batch_size, self.mc

    def add_jitter(batch):
      seed = tf.stack([tf.cast(config.seed, tf.int64) + 1, batch.pop("index")])
      if config.renderer == "autoint":
        if config.section_means == "sampled":
          batch["jitter"] = tf.random.stateless_uniform(
              [b, mc.num_sections, mc.samples_per_section], seed)
        elif config.post_jitter:
          batch["jitter"] = tf.random.stateless_uniform(
              [b, mc.num_sections * 2 ** (config.exact_scales - 1) - 1], seed)
      else:
        batch["jitter"] = tf.random.stateless_uniform([b, config.num_coarse], seed)
        batch["u"] = tf.random.stateless_uniform([b, config.num_fine], seed + 1)
      if config.random_background:    # the pixel and the render, both on a random colour
        batch["background"] = tf.random.stateless_uniform([b, 3], seed + 2)
        batch["rgb"] = renderers.recomposite(batch["rgb"], batch["alpha"],
                                             self.train_views.background,
                                             batch["background"])
      return batch

    return scenes.ray_batches(self.train_views, b, config.seed, start_step,
                              config.precrop_steps).map(add_jitter)

  def loss(self, model, batch):
    """Squared colour error per ray [B] (the NeRF baseline adds its coarse pass, as NeRF;
    AutoInt with exact_scales > 1 averages its renders at K, 2K, ... sections), on the batch's
    background colours when it has them (random_background)."""
    def error(rgb, opacity):
      if "background" in batch:
        rgb = renderers.recomposite(rgb, opacity, model.background, batch["background"])
      return tf.reduce_mean(tf.square(rgb - batch["rgb"]), -1)

    if self.config.renderer == "autoint":
      quantiles = self.config.sampler_loss == "quantiles"   # (needs exact means: model_config)
      if self.config.section_means == "sampled":
        outs = [model.render_training(batch, batch["jitter"])]
      else:
        outs = model.render_scales(batch, self.mc.num_sections, self.config.exact_scales, (
            (batch["jitter"], self.config.post_jitter) if self.config.post_jitter else None),
                                   return_weights=quantiles, sampler_gradient=not quantiles)
      per_ray = tf.add_n([error(o["rgb"], o["opacity"]) for o in outs]) / len(outs)
      if quantiles:
        # The sampling network's loss enters the gradient, not the value (the logged loss and
        # PSNR stay the rendering's).
        fit = self.sampler_fit(model, batch, outs[-1])
        per_ray += fit - tf.stop_gradient(fit)
      return per_ray, None
    out = model.render(batch, (batch["jitter"], batch["u"]))
    return error(out["rgb"], out["opacity"]) + error(out["coarse_rgb"],
                                                      out["coarse_opacity"]), None

  def sampler_fit(self, model, batch, finest):
    """Per ray: the mean squared distance, in fractions of [near, far], from the sampling
    network's K posts to the quantiles of the finest render's weights (`quantile_posts`)."""
    k = self.mc.num_sections
    target = tf.stop_gradient(renderers.quantile_posts(
        finest["posts"], finest["weights"], k, self.config.sampler_uniform))
    span = tf.maximum(batch["far"] - batch["near"], 1e-6)[:, None]
    return tf.reduce_mean(tf.square((model.posts(batch, k) - target)[:, 1:-1] / span), -1)

  def log_metrics(self, loss):
    return {"psnr": metrics.psnr_from_mse(loss / (2 if self.config.renderer == "quadrature"
                                                  else 1))}

  def evaluate(self, model, step):
    view = self.test_views.subset(slice(0, 1))
    out = render_views(model, view, self.config.renderer, self.config.eval_sections)
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
          "cannot recover. Restart with --precrop_steps=500 (the first steps on the object, "
          "not the background) or another --seed.")


def steps_per_minute(config, train_views, test_views, workdir, probe_steps=60):
  """Training steps a minute of `config` on this machine: the engine's logged rates over a
  `probe_steps` run in workdir/calibration (deleted after; the first rate, which includes
  tracing, is left out)."""
  scratch = os.path.join(workdir, "calibration")
  shutil.rmtree(scratch, ignore_errors=True)
  probe = dataclasses.replace(config, steps=probe_steps, budget_minutes=0, lr_decay_fraction=0,
                              log_every=max(probe_steps // 4, 1), eval_every=0,
                              checkpoint_every=10**9)
  _, history = train(probe, train_views, test_views, scratch, progress=False)
  shutil.rmtree(scratch, ignore_errors=True)
  rays_per_second = np.median([rate for _, rate in history["rates"][1:]])
  return 60 * rays_per_second / config.batch_size


def budget_steps(config, train_views, test_views, workdir, probe_steps=60):
  """(steps a minute, steps config.budget_minutes buy) of `config` on this machine, measured by
  `steps_per_minute`."""
  rate = steps_per_minute(config, train_views, test_views, workdir, probe_steps)
  return rate, max(int(rate * config.budget_minutes), 1)


def fit_schedule(config, train_views, test_views, workdir, log=print):
  """`config` with lr_decay_steps = lr_decay_fraction x the steps its budget buys here (as
  given when lr_decay_fraction is 0). A run resumed in `workdir` keeps its first fit."""
  fraction = config.lr_decay_fraction
  if not fraction:
    return config
  if not 0 < fraction <= 1:
    raise ValueError(f"--lr_decay_fraction={fraction:g}: give a fraction in (0, 1] of the "
                     "steps the budget buys (0: off).")
  if not config.budget_minutes or config.strategy == "multiworker":
    raise ValueError("--lr_decay_fraction fits the decay to --budget_minutes on this machine: "
                     "give a budget (not with --strategy=multiworker, whose workers each have "
                     "their own clock), or give --lr_decay_steps instead.")
  if config.lr_schedule != "exponential":
    raise ValueError(f"--lr_decay_fraction fits an exponential decay, not "
                     f"--lr_schedule={config.lr_schedule}.")
  if tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")):
    _, saved, _ = training.read_run(workdir)
    if (saved.lr_decay_fraction, saved.budget_minutes) == (fraction, config.budget_minutes):
      return dataclasses.replace(config, lr_decay_steps=saved.lr_decay_steps)
  rate, expected = budget_steps(config, train_views, test_views, workdir)
  config = dataclasses.replace(config, lr_decay_steps=max(int(fraction * expected), 1))
  log(f"{config.renderer}: {rate:.0f} steps a minute measured, ~{expected} steps in "
      f"{config.budget_minutes:g} minutes: lr x {config.lr_decay_rate:g} every "
      f"{config.lr_decay_steps} steps")
  return config


def train(config, train_views, test_views, workdir, strategy=None, progress=True):
  """Trains a renderer on the engine; returns (model, history). Writes the run's config.json
  (with lr_decay_fraction, the decay fitted to the budget: `fit_schedule`)."""
  config = fit_schedule(config, train_views, test_views, workdir,
                        print if progress else (lambda *a: None))
  task = Task(config, train_views, test_views)
  strategy = strategy or training.make_strategy(config.strategy)
  if training.is_chief(strategy):
    training.write_run(workdir, "radiance", config, train_views.context())
  return training.fit(task, config, workdir, strategy, progress)


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


def render_views(model, views, renderer, num_sections=8, chunk=8192):
  """Renders every view of `views` (`render_chunks`) with the model's `renderer`, AutoInt at
  `num_sections`.

  Returns dict of rgb [V, H, W, 3], depth [V, H, W], opacity [V, H, W], seconds and rays.
  """
  cache = model.__dict__.setdefault("_render_functions", {})
  key = (renderer, num_sections)
  if key not in cache:  # one traced function per N (no retracing per call)
    def render(rays):
      out = model.render(rays, num_sections) if renderer == "autoint" else model.render(rays)
      return {k: out[k] for k in ("rgb", "depth", "opacity")}
    cache[key] = tf.function(render, jit_compile=False, reduce_retracing=True)
  out, seconds = render_chunks(cache[key], views, chunk)
  return dict(out, seconds=seconds, rays=len(views) * views.height * views.width)


def evaluate(model, views, renderer, sections=(4, 8, 16, 32)):
  """Test-split PSNR/SSIM, rays per second and network evaluations per ray; for AutoInt at
  each N in `sections`, for the baseline once. Returns (rows, {N (None: baseline): renders})."""
  rows, renders = [], {}
  for n in (sections if renderer == "autoint" else (None,)):
    out = render_views(model, views, renderer, n or 8)
    psnr, ssim = metrics.view_metrics(out["rgb"], views.images)
    rows.append({"renderer": renderer, "sections": n, "psnr": psnr, "ssim": ssim,
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


def turntable(model, views, config, path, frames):
  """A GIF of `frames` views on a circle around the scene (rendered by the trained model)."""
  radius = float(np.linalg.norm(views.poses[0][:3, 3]))
  poses = rays_lib.orbit_poses(frames, radius, elevations_deg=(25.0,))
  images = np.zeros([frames, views.height, views.width, 3], np.float32)
  spin = dataclasses.replace(views, images=images, poses=poses, name="turntable", depth=None)
  out = render_views(model, spin, config.renderer, config.eval_sections)
  plots.save_gif(out["rgb"], path)


def train_and_evaluate(config, workdir, progress=True):
  """Trains on the configured scene, then reports on its test views. Writes to workdir:
  config.json, checkpoints/, tb/, metrics.json (test PSNR/SSIM, rays/s and evaluations a ray
  per N; with time_quadrature, the speed-up over the quadrature renderer; PSNR/SSIM on 10
  training views at the validation N, `fit_views`), test_views.png
  (prediction | reference | depth | opacity) and turntable.gif. Returns the metrics dict."""
  train_views, test_views = load_views(config)
  if progress:
    print(f"{train_views.name}: {len(train_views)} training and {len(test_views)} test views "
          f"of {test_views.height}x{test_views.width}")
  model, history = train(config, train_views, test_views, workdir, progress=progress)
  rows, renders = evaluate(model, test_views, config.renderer, config.report_sections)
  shown = config.eval_sections if config.renderer == "autoint" else None
  fitted = fit_views(train_views)
  fit = evaluate(model, fitted, config.renderer, (shown,))[0][0]
  report = {"test": rows, "train_views": dict(fit, views=len(fitted)),
            "final_loss": history["final_loss"], "steps": history["last_step"],
            "train_seconds": history["train_seconds"]}
  if config.time_quadrature and config.renderer == "autoint":
    # Speed only: the NeRF-style renderer with the same networks (untrained) on the test rays.
    baseline = make_renderer(dataclasses.replace(config, renderer="quadrature"),
                             test_views.background).build_all()
    timing = render_views(baseline, test_views.subset(slice(0, 1)), "quadrature")
    quad = timing["rays"] / timing["seconds"]
    report["quadrature_rays_per_second"] = quad
    report["quadrature_evaluations_per_ray"] = baseline.evaluations_per_ray()
    for row in rows:
      row["speedup_over_quadrature"] = row["rays_per_second"] / quad
  training.write_metrics(workdir, report)
  out = renders.get(shown) or render_views(model, test_views, config.renderer, shown or 8)
  plots.test_views(out, test_views, os.path.join(workdir, "test_views.png"))
  if config.turntable_frames and not test_views.ndc:
    turntable(model, test_views, config, os.path.join(workdir, "turntable.gif"),
              config.turntable_frames)
  return report
