"""Training and evaluation of the volume renderers under tf.distribute (custom loop).

Keras 3 `model.fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585), so the
loop is `strategy.run` over `experimental_distribute_dataset`: the default strategy (one
device), `MirroredStrategy` (the GPUs of one host) or `MultiWorkerMirroredStrategy` (hosts
from TF_CONFIG). Each batch carries its own stratification jitter (made in the input
pipeline from the seed and the batch index), so a step does not depend on how the batch is
split over replicas. Checkpoints every `checkpoint_every` steps (resumed on restart); a
non-finite loss stops training with the last good checkpoint kept.
"""

import dataclasses
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from autoint_tf import io_utils
from autoint_tf import radiance
from autoint_tf import scenes
from autoint_tf import training

RENDERERS = ("autoint", "quadrature")
STRATEGIES = ("default", "mirrored", "multiworker")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  scene: str = "blobs"              # blobs (built in), npz, blender, llff
  data_path: str = ""               # file or directory of the scene (npz, blender, llff)
  downscale: int = 1                # blender: image downscale factor; llff: images_<factor>
  white_background: bool = True     # blender/npz: composite on white (NeRF) or black
  image_size: int = 32              # blobs: rendered view size
  renderer: str = "autoint"         # autoint or quadrature (the NeRF-style baseline)
  model: str = "tiny"               # radiance.MODEL_PRESETS key
  activation: str = ""              # override the preset's activation
  num_sections: int = 0             # override K (training sections)
  view_consistent_sigma: bool = False
  num_coarse: int = 64              # quadrature baseline samples
  num_fine: int = 128
  batch_size: int = 1024            # rays a step (global, over all replicas)
  learning_rate: float = 5e-4
  lr_decay_steps: int = 200000      # lr x 0.2 every lr_decay_steps (the paper's schedule)
  steps: int = 600
  eval_sections: int = 8            # N at which AutoInt renders validation images
  log_every: int = 25
  eval_every: int = 200             # validation image + PSNR (one test view)
  checkpoint_every: int = 100
  strategy: str = "default"
  seed: int = 0


TRAIN_PRESETS = {
    "cpu_tiny": TrainConfig(),
    "paper_blender": TrainConfig(scene="blender", data_path="../shared/data/nerf_synthetic_lego",
                                 model="paper", batch_size=4096, steps=300000,
                                 eval_every=5000, checkpoint_every=2500, log_every=100),
    "paper_llff": TrainConfig(scene="llff", data_path="../shared/data/nerf_llff_fern",
                              downscale=8, model="paper", batch_size=4096, steps=300000,
                              eval_every=5000, checkpoint_every=2500, log_every=100),
}


def model_config(config):
  base = radiance.MODEL_PRESETS[config.model]
  overrides = {"view_consistent_sigma": config.view_consistent_sigma}
  if config.activation:
    overrides["activation"] = config.activation
  if config.num_sections:
    overrides["num_sections"] = config.num_sections
  return dataclasses.replace(base, **overrides)


def load_views(config):
  """(train, test) Views of the configured scene."""
  if config.scene == "blobs":
    return scenes.procedural_views(size=config.image_size)
  if config.scene == "npz":
    return scenes.load_npz(config.data_path, white_background=config.white_background)
  if config.scene == "blender":
    kw = dict(downscale=config.downscale, white_background=config.white_background)
    return (scenes.load_blender(config.data_path, "train", **kw),
            scenes.load_blender(config.data_path, "test", **kw))
  if config.scene == "llff":
    return scenes.load_llff(config.data_path, factor=config.downscale)
  raise ValueError(f"Unknown scene {config.scene!r}: choose blobs, npz, blender or llff.")


def load_trained(workdir, checkpoint=None):
  """(model, info) rebuilt from a training workdir: model.json + the latest (or given)
  checkpoint. info has train_config (TrainConfig), background, near, far, ndc, checkpoint."""
  import json  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, "model.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path!r} is missing: {workdir!r} is not a train.radiance workdir.")
  with open(path) as f:
    info = json.load(f)
  info["train_config"] = TrainConfig(**info["train_config"])
  checkpoint = checkpoint or tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
  if not checkpoint:
    raise FileNotFoundError(f"No checkpoint in {workdir}/checkpoints: train first.")
  model = make_renderer(info["train_config"], tuple(info["background"])).build_all()
  status = tf.train.Checkpoint(weights=training.named_variables(model)).restore(checkpoint)
  status.expect_partial().assert_existing_objects_matched()
  info["checkpoint"] = checkpoint
  return model, info


def make_renderer(config, background):
  mc = model_config(config)
  if config.renderer == "autoint":
    return radiance.AutoIntRenderer(mc, background, name="autoint")
  if config.renderer == "quadrature":
    return radiance.QuadratureRenderer(mc, background, config.num_coarse, config.num_fine,
                                       name="quadrature")
  raise ValueError(f"Unknown renderer {config.renderer!r}: choose one of {RENDERERS}.")


def make_strategy(name):
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multiworker":
    if "TF_CONFIG" not in os.environ:
      raise ValueError("--strategy=multiworker needs TF_CONFIG (cluster and task) in the "
                       "environment of every worker.")
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ValueError(f"Unknown strategy {name!r}: choose one of {STRATEGIES}.")


def _is_chief(strategy):
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  return resolver.task_type == "chief" or (resolver.task_type == "worker" and
                                           resolver.task_id == 0 and
                                           "chief" not in resolver.cluster_spec().as_dict())


def training_batches(views, config, mc, start_step=0):
  """Ray batches with their stratification jitter; batch k is a pure function of
  (seed, start_step + k), so a resumed run continues the same sequence."""
  b = config.batch_size

  def add_jitter(batch):
    seed = tf.stack([tf.cast(config.seed, tf.int64) + 1, batch.pop("index")])
    if config.renderer == "autoint":
      batch["jitter"] = tf.random.stateless_uniform(
          [b, mc.num_sections, mc.samples_per_section], seed)
    else:
      batch["jitter"] = tf.random.stateless_uniform([b, config.num_coarse], seed)
      batch["u"] = tf.random.stateless_uniform([b, config.num_fine], seed + 1)
    return batch

  ds = scenes.ray_batches(views, b, config.seed, start_step).map(add_jitter)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return ds.with_options(options)


def per_ray_loss(model, batch, renderer):
  """Squared colour error per ray [B] (the NeRF baseline adds its coarse pass, as NeRF)."""
  if renderer == "autoint":
    out = model.render_training(batch, batch["jitter"])
    return tf.reduce_mean(tf.square(out["rgb"] - batch["rgb"]), -1)
  out = model.render(batch, (batch["jitter"], batch["u"]))
  return (tf.reduce_mean(tf.square(out["rgb"] - batch["rgb"]), -1) +
          tf.reduce_mean(tf.square(out["coarse_rgb"] - batch["rgb"]), -1))


def render_views(model, views, renderer, num_sections=8, chunk=8192):
  """Renders every view of `views` in chunks of rays, one view's rays at a time (memory is
  bounded by one view, e.g. 800 x 800, and one chunk of network activations).

  Returns dict of rgb [V, H, W, 3], depth [V, H, W], opacity [V, H, W] and seconds.
  """
  cache = model.__dict__.setdefault("_render_functions", {})
  key = (renderer, num_sections)
  if key not in cache:  # one traced function per N (no retracing per call)
    cache[key] = tf.function(
        (lambda r: model.render(r, num_sections)) if renderer == "autoint" else model.render,
        jit_compile=False, reduce_retracing=True)
  fn = cache[key]
  outs = {"rgb": [], "depth": [], "opacity": []}
  seconds = 0.0
  for v in range(len(views)):
    rays = views.rays(slice(v, v + 1))
    if v == 0:
      fn({k: r[:chunk] for k, r in rays.items() if k != "rgb"})  # trace outside the timing
    start = time.perf_counter()
    for i in range(0, len(rays["near"]), chunk):
      out = fn({k: r[i:i + chunk] for k, r in rays.items() if k != "rgb"})
      for k in outs:
        outs[k].append(out[k].numpy())
    seconds += time.perf_counter() - start
  shape = (len(views), views.height, views.width)
  return {"rgb": np.concatenate(outs["rgb"]).reshape(shape + (3,)),
          "depth": np.concatenate(outs["depth"]).reshape(shape),
          "opacity": np.concatenate(outs["opacity"]).reshape(shape),
          "seconds": seconds, "rays": int(np.prod(shape))}


def image_metrics(pred, target):
  """Mean PSNR and SSIM (tf.image, max_val 1) over views [V, H, W, 3]."""
  pred = np.clip(pred, 0, 1)
  mse = np.mean((pred - target)**2, axis=(1, 2, 3))
  psnr = float(np.mean(-10 * np.log10(np.maximum(mse, 1e-10))))
  size = min(11, pred.shape[1], pred.shape[2])
  ssim = float(tf.reduce_mean(tf.image.ssim(tf.constant(pred), tf.constant(target), 1.0,
                                            filter_size=size)))
  return psnr, ssim


def train(config, train_views, test_views, workdir, strategy=None, progress=True):
  """Trains a renderer with the custom distributed loop; returns (model, history dict)."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  strategy = strategy or make_strategy(config.strategy)
  keras.utils.set_random_seed(config.seed)
  mc = model_config(config)
  replicas = strategy.num_replicas_in_sync
  if config.batch_size % replicas:
    raise ValueError(f"batch_size={config.batch_size} must be divisible by the "
                     f"{replicas} replicas.")
  with strategy.scope():
    model = make_renderer(config, train_views.background).build_all()
    schedule = keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, config.lr_decay_steps, 0.2)
    optimizer = keras.optimizers.Adam(schedule)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  chief = _is_chief(strategy)
  if chief:  # what serving/export.py needs to rebuild the model from the checkpoints
    io_utils.write_json(os.path.join(workdir, "model.json"),
                        {"train_config": dataclasses.asdict(config),
                         "background": [float(c) for c in train_views.background],
                         "near": float(train_views.near), "far": float(train_views.far),
                         "ndc": bool(train_views.ndc), "height": train_views.height,
                         "width": train_views.width, "focal": float(train_views.focal)})
  ckpt_dir = os.path.join(workdir, "checkpoints") if chief else tempfile.mkdtemp()
  ckpt = tf.train.Checkpoint(weights=training.named_variables(model), optimizer=optimizer,
                            step=step)
  manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=3)
  if manager.latest_checkpoint:
    ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    if progress and chief:
      print(f"Resumed from {manager.latest_checkpoint} at step {int(step.numpy())}.")
  start = int(step.numpy())
  dataset = strategy.experimental_distribute_dataset(
      training_batches(train_views, config, mc, start))
  iterator = iter(dataset)
  variables = model.trainable_variables

  def replica_step(batch):
    with tf.GradientTape() as tape:
      losses = per_ray_loss(model, batch, config.renderer)
      loss = tf.nn.compute_average_loss(losses, global_batch_size=config.batch_size)
    # (Phi's output biases cancel in every difference and derivative: zero gradients.)
    grads = training.gradients(tape, loss, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return loss

  @tf.function(jit_compile=False)
  def train_step(it):
    loss = strategy.reduce(tf.distribute.ReduceOp.SUM,
                           strategy.run(replica_step, args=(next(it),)), axis=None)
    step.assign_add(1)
    return loss

  writer = (tf.summary.create_file_writer(os.path.join(workdir, "tb")) if chief
            else tf.summary.create_noop_writer())
  history = {"loss": [], "val_psnr": [], "start_step": start,
             "optimizer_iterations_at_start": int(optimizer.iterations.numpy())}
  bar = tqdm(range(start, config.steps), initial=start, total=config.steps, unit="step",
             disable=not (progress and chief), desc=f"train {config.renderer}", mininterval=1.0)
  tick, rays_done = time.perf_counter(), 0
  with writer.as_default():
    for i in bar:
      loss = train_step(iterator)
      rays_done += config.batch_size
      log = (i + 1) % config.log_every == 0 or i + 1 == config.steps
      save = (i + 1) % config.checkpoint_every == 0 or i + 1 == config.steps
      if log or save:  # (no checkpoint is written without this check)
        loss = float(loss)
        if not np.isfinite(loss):
          raise FloatingPointError(
              f"Loss became {loss} at step {i + 1}; training stopped. The last good checkpoint "
              f"({manager.latest_checkpoint}) is kept: lower --learning_rate and rerun to "
              "resume from it.")
      if log:
        now = time.perf_counter()
        rate = rays_done / (now - tick)
        tick, rays_done = now, 0
        psnr = -10 * np.log10(max(loss / (2 if config.renderer == "quadrature" else 1), 1e-10))
        history["loss"].append((i + 1, loss))
        tf.summary.scalar("train/loss", loss, step=i + 1)
        tf.summary.scalar("train/psnr", psnr, step=i + 1)
        tf.summary.scalar("train/rays_per_second", rate, step=i + 1)
        bar.set_postfix(loss=f"{loss:.4f}", psnr=f"{psnr:.1f}", rays_s=f"{rate:.0f}")
      if save:
        manager.save(checkpoint_number=i + 1)
      if chief and ((i + 1) % config.eval_every == 0 or i + 1 == config.steps):
        out = render_views(model, test_views.subset(slice(0, 1)), config.renderer,
                           config.eval_sections)
        psnr, _ = image_metrics(out["rgb"], test_views.images[:1])
        history["val_psnr"].append((i + 1, psnr))
        tf.summary.scalar("val/psnr", psnr, step=i + 1)
        tf.summary.image("val/rgb", np.concatenate(
            [np.clip(out["rgb"], 0, 1), test_views.images[:1]], 2), step=i + 1)
        depth = out["depth"][..., None] / max(float(out["depth"].max()), 1e-6)
        tf.summary.image("val/depth", depth, step=i + 1)
  return model, history


def evaluate(model, views, renderer, sections=(4, 8, 16, 32)):
  """Test-split PSNR/SSIM, rays per second and network evaluations per ray; for AutoInt at
  each N in `sections`, for the baseline once. Returns (rows, renders of the last row)."""
  rows, last = [], None
  for n in (sections if renderer == "autoint" else (None,)):
    out = render_views(model, views, renderer, n or 8)
    psnr, ssim = image_metrics(out["rgb"], views.images)
    rows.append({"renderer": renderer, "sections": n, "psnr": psnr, "ssim": ssim,
                 "rays_per_second": out["rays"] / out["seconds"],
                 "evaluations_per_ray": model.evaluations_per_ray(n)})
    last = out
  return rows, last
