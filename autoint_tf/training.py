"""The one training engine of every application (toy integrals, CT, volume rendering), the
workdir format of a run, and `restore(workdir)`.

Notation:
  step: optimizer steps done. Logs, summaries and checkpoints use it 1-based: what is logged
    at step s is the loss of the s-th step, `ckpt-s` holds the weights after s steps.
  batch k: the k-th global batch of a task's `dataset(start_step)`; it must be a pure function
    of (seed, start_step + k), so that resuming at a step continues the same sequence and a
    batch does not depend on how it is split over replicas.

An application supplies a `Task` (its model, its per-example loss, its evaluation); `fit` owns
everything else: the tf.distribute strategy (default, MirroredStrategy, MultiWorkerMirroredStrategy
from TF_CONFIG), the `strategy.run` loop over the distributed dataset, the learning-rate
schedule, checkpoints with exact resume (a damaged newest checkpoint falls back to the newest
intact one, with a warning), the NaN/inf stop that keeps the last good checkpoint, TensorBoard
scalars and images, the progress bar and periodic evaluation.

Why not Keras `fit`: Keras 3 `fit` fails under MultiWorkerMirroredStrategy
(keras-team/keras#20585), and a `train_step` shared by `fit` and a custom loop would mean two
loops whose checkpoints, resume and NaN handling must be kept equal. One loop that works under
every strategy is simpler; Keras callbacks are not supported (TensorBoard summaries and the
metrics files cover what they were used for here).

Workdir of a run (every application):
  config.json   {"application", "config" (the resolved dataclass), "context" (what the data
                told the model, e.g. near/far, the scan geometry)}; written by `write_run`.
  checkpoints/  tf.train.CheckpointManager: every weight by name, optimizer, step, last loss.
  tb/           TensorBoard summaries.
  metrics.json  the application's final report (`write_metrics`).
"""

import dataclasses
import importlib
import json
import math
import os
import re
import shutil
import tempfile
import time
import types
import warnings

import keras
import numpy as np
import tensorflow as tf

from autoint_tf import configs
from autoint_tf import io_utils
from autoint_tf.configs import check_choice
from autoint_tf.configs import check_range
from autoint_tf.configs import knob

STRATEGIES = ("default", "mirrored", "multiworker")
LR_SCHEDULES = ("constant", "cosine", "exponential")
APPLICATIONS = ("toy", "ct", "radiance")


@dataclasses.dataclass
class LoopConfig:
  """Options of the training loop; every application config nests one as `loop`."""
  steps: int = knob(1000, "Optimizer steps.")
  learning_rate: float = knob(1e-3, "Peak Adam learning rate.")
  lr_schedule: str = knob("constant", "constant, cosine (down to final_lr_fraction) or "
                          "exponential (x lr_decay_rate every lr_decay_steps).")
  lr_decay_steps: int = knob(0, "Exponential: lr x lr_decay_rate every lr_decay_steps.")
  lr_decay_rate: float = knob(0.2, "Exponential: the factor applied every lr_decay_steps.")
  lr_decay_fraction: float = knob(0.0, "With budget_minutes: lr x lr_decay_rate every this "
                                  "fraction of the steps the budget buys on this machine (a "
                                  "60-step probe measures the rate first; the fitted "
                                  "lr_decay_steps goes to config.json and a resumed run keeps "
                                  "it). 0: off.")
  final_lr_fraction: float = knob(0.05, "Cosine: the last step's lr as a fraction of the peak.")
  warmup_steps: int = knob(0, "Linear warm-up from 0 over this many steps.")
  amsgrad: bool = knob(False, "Adam's amsgrad variant (the official AutoInt code uses it).")
  clipnorm: float = knob(0.0, "Global gradient-norm clip (0: off).")
  log_every: int = knob(100, "Steps between loss logs (progress bar, TensorBoard).")
  eval_every: int = knob(0, "Steps between evaluations (0: at the end only).")
  checkpoint_every: int = knob(250, "Steps between checkpoints.")
  budget_minutes: float = knob(0.0, "Stop after this much training time (0: run all steps).")
  deterministic: bool = knob(True, "TF op determinism (process-wide once on): the same seed "
                             "gives the same weights, and resume equals a straight run.")
  strategy: str = knob("default", "default, mirrored (GPUs of one host) or multiworker "
                       "(TF_CONFIG).")
  seed: int = knob(0, "Weights and every batch are functions of (seed, step).")
  steps_per_execution: int = knob(1, "Optimizer steps a call of the traced step runs at most "
                                  "(Keras' option of that name: fewer round trips through "
                                  "Python, the same weights as 1; logs, checkpoints and "
                                  "evaluations still fall on their steps).")

  def __post_init__(self):
    check_choice("config.loop.lr_schedule", self.lr_schedule, LR_SCHEDULES)
    check_choice("config.loop.strategy", self.strategy, STRATEGIES)
    check_range("config.loop.steps", self.steps, 0, what="a number of steps")
    check_range("config.loop.steps_per_execution", self.steps_per_execution, 1,
                what="a number of optimizer steps a call of the traced step runs,")
    check_range("config.loop.lr_decay_fraction", self.lr_decay_fraction, 0.0, 1.0,
                "a fraction of the steps the budget buys (0: off),")
    for name in ("log_every", "checkpoint_every"):
      check_range(f"config.loop.{name}", getattr(self, name), 1, what="a number of steps")
    if self.lr_decay_fraction and (not self.budget_minutes or self.strategy == "multiworker"):
      raise ValueError("--config.loop.lr_decay_fraction fits the decay to "
                       "--config.loop.budget_minutes on this machine: give a budget (not with "
                       "--config.loop.strategy=multiworker, whose workers each have their own "
                       "clock), or give --config.loop.lr_decay_steps instead.")
    if self.lr_decay_fraction and self.lr_schedule != "exponential":
      raise ValueError("--config.loop.lr_decay_fraction fits an exponential decay, not "
                       f"--config.loop.lr_schedule={self.lr_schedule}.")


class Task:
  """What an application gives `fit`. Subclasses set `name`, `global_batch_size` and
  `examples` (what a batch row is, e.g. "rays"), and implement the methods below."""
  name = "train"
  global_batch_size = 1
  examples = "examples"

  def build_model(self):
    """The model to train and checkpoint, with every weight created (called in the strategy's
    scope)."""
    raise NotImplementedError

  def dataset(self, start_step):
    """A tf.data.Dataset of global batches; batch k a pure function of (seed, start_step + k)."""
    raise NotImplementedError

  def loss(self, model, batch):
    """(per-example losses [B] of this replica's batch, an extra scalar loss or None)."""
    raise NotImplementedError

  def log_metrics(self, loss):
    """Extra scalars derived from the mean training loss (e.g. PSNR), for logs."""
    del loss
    return {}

  def evaluate(self, model, step):
    """(scalars dict, images dict [N, H, W, C] in [0, 1]) at an evaluation step (chief only)."""
    del model, step
    return {}, {}


def learning_rate_schedule(config):
  """The learning rate as a function of the step (a Keras schedule or a float)."""
  if config.lr_schedule not in LR_SCHEDULES:
    raise ValueError(f"Unknown lr_schedule {config.lr_schedule!r}: choose one of {LR_SCHEDULES}.")
  if config.lr_schedule == "constant" and not config.warmup_steps:
    return config.learning_rate
  if config.lr_schedule == "exponential" and config.lr_decay_steps <= 0:
    raise ValueError("lr_schedule='exponential' needs lr_decay_steps > 0.")
  return _Schedule(config.learning_rate, config.lr_schedule, max(config.steps, 1),
                   config.lr_decay_steps, config.lr_decay_rate, config.final_lr_fraction,
                   config.warmup_steps)


class _Schedule(keras.optimizers.schedules.LearningRateSchedule):
  """Linear warm-up, then constant, cosine or exponential decay."""

  def __init__(self, peak, kind, steps, decay_steps, decay_rate, final_fraction, warmup):
    self.peak, self.kind, self.steps = peak, kind, steps
    self.decay_steps, self.decay_rate = decay_steps, decay_rate
    self.final_fraction, self.warmup = final_fraction, warmup

  def __call__(self, step):
    step = tf.cast(step, tf.float32)
    if self.kind == "cosine":
      progress = tf.minimum(step / self.steps, 1.0)
      decayed = self.final_fraction + (1 - self.final_fraction) * 0.5 * (
          1 + tf.cos(np.pi * progress))
    elif self.kind == "exponential":
      decayed = tf.pow(self.decay_rate, step / self.decay_steps)
    else:
      decayed = tf.ones_like(step)
    warm = tf.minimum((step + 1) / self.warmup, 1.0) if self.warmup else 1.0
    return self.peak * decayed * warm

  def get_config(self):
    return {"peak": self.peak, "kind": self.kind, "steps": self.steps,
            "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
            "final_fraction": self.final_fraction, "warmup": self.warmup}


def make_strategy(name):
  """The tf.distribute strategy called `name` (one of STRATEGIES)."""
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multiworker":
    if "TF_CONFIG" not in os.environ:
      raise ValueError("--config.loop.strategy=multiworker needs TF_CONFIG (cluster and task) in the "
                       "environment of every worker.")
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ValueError(f"Unknown strategy {name!r}: choose one of {STRATEGIES}.")


def is_chief(strategy):
  """True on the one worker that writes checkpoints, summaries and reports."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  return resolver.task_type == "chief" or (resolver.task_type == "worker" and
                                           resolver.task_id == 0 and
                                           "chief" not in resolver.cluster_spec().as_dict())


def distribute(strategy, dataset):
  """`dataset` of global batches split over the strategy's replicas (each worker of a
  MultiWorkerMirroredStrategy takes its share of every batch: DATA sharding)."""
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return strategy.experimental_distribute_dataset(dataset.with_options(options))


def gradients(tape, loss, variables):
  """Gradients of `loss` w.r.t. Keras variables, zeros where unconnected.

  The last bias of an integral network is the constant of integration and gets no
  gradient from the grad network; a zero keeps optimizers quiet and its value fixed.
  """
  grads = tape.gradient(loss, variables)
  return [tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(grads, variables)]


def named_variables(model):
  """{name: variable} of a Keras 3 layer/model, for tf.train.Checkpoint.

  A Keras 3 model passed to tf.train.Checkpoint directly saves none of its weights (only an
  optimizer's references to them would), so checkpoints name every weight. Names are the
  position in `model.weights` (fixed by the architecture) and the weight's own name, not its
  path, which depends on the layer that first built it (e.g. a grad network).
  """
  return {f"{i:03d}_{re.sub(r'[^A-Za-z0-9_]', '_', v.name)}": v
          for i, v in enumerate(model.weights)}


def checkpoints_on_disk(directory):
  """The checkpoint prefixes in `directory` that have an index file, oldest first (by number)."""
  found = []
  for name in os.listdir(directory) if os.path.isdir(directory) else ():
    match = re.fullmatch(r"ckpt-(\d+)\.index", name)
    if match:
      found.append((int(match.group(1)), os.path.join(directory, name[:-len(".index")])))
  return [path for _, path in sorted(found)]


def checkpoint_state_problem(directory):
  """(checkpoints on disk, oldest first; what is wrong with `directory`'s state file
  `checkpoint`, which tf.train.CheckpointManager trusts, or None): missing, unreadable,
  naming files that are not there or missing ones that are."""
  found = checkpoints_on_disk(directory)
  try:
    state = tf.train.get_checkpoint_state(directory)
    problem = None if state else "is missing"
  except Exception as e:  # pylint: disable=broad-except (a text proto that does not parse)
    state, problem = None, f"is unreadable ({str(e).splitlines()[0][:120]})"
  if state and problem is None:  # (its paths come back joined to the directory)
    listed = list(state.all_model_checkpoint_paths)
    if not os.path.exists(state.model_checkpoint_path + ".index"):
      problem = f"names {os.path.basename(state.model_checkpoint_path)}, which is not on disk"
    elif sorted(map(os.path.normpath, listed)) != sorted(map(os.path.normpath, found)):
      problem = "does not list the checkpoints on disk"
  return found, problem


def repair_checkpoint_state(directory):
  """Makes `directory`'s state file list the checkpoints that are on disk, newest last, when
  `checkpoint_state_problem` finds it wrong; warns what it found. Returns the paths."""
  found, problem = checkpoint_state_problem(directory)
  state_file = os.path.join(directory, "checkpoint")
  if problem and found:
    warnings.warn(f"{state_file} {problem}; rebuilt from the checkpoints on disk: "
                  f"{', '.join(os.path.basename(p) for p in found)}.")
    # (TensorFlow writes the state file atomically.)
    names = [os.path.basename(p) for p in found]  # relative: the run directory may move
    tf.compat.v1.train.update_checkpoint_state(directory, names[-1], names)
  return found


def restore_checkpoint(checkpoint, manager, log=print, partial=False):
  """Restores the newest intact checkpoint of `manager` into `checkpoint`; returns its path
  (None: there is none). A damaged newer checkpoint is skipped with a warning naming it.
  `partial`: `checkpoint` tracks only some of what was saved (e.g. the weights, for serving).

  Raises:
    ValueError: every checkpoint is damaged (the run is not silently restarted).
  """
  candidates = list(reversed(manager.checkpoints))
  latest = manager.latest_checkpoint
  if latest and latest not in candidates:
    candidates.insert(0, latest)
  errors = []
  for path in candidates:
    try:
      status = checkpoint.restore(path)
      (status.expect_partial() if partial else status).assert_existing_objects_matched()
    except Exception as e:  # pylint: disable=broad-except (unreadable for any reason: try older)
      message = getattr(e, "message", str(e)).splitlines()[0]
      errors.append(f"{path}: {message}")
      warnings.warn(f"Checkpoint {path} is damaged ({message}); trying an older one.")
      continue
    if errors:
      log(f"Resuming from {path}, the newest intact checkpoint (skipped: {len(errors)}).")
    return path
  if errors:
    raise ValueError("Every checkpoint in the run is damaged; move the checkpoints directory "
                     "away to start again:\n  " + "\n  ".join(errors))
  return None


def make_train_steps(task, model, optimizer, step, strategy):
  """The traced training call: `train_steps(iterator, count)` runs `count` optimizer steps of
  `task` on `model` under `strategy` (each replica's mean loss scaled to the global batch),
  adds them to `step` and returns the last step's loss summed over replicas."""
  variables = model.trainable_variables

  def replica_step(batch):
    with tf.GradientTape() as tape:
      per_example, extra = task.loss(model, batch)
      loss = tf.nn.compute_average_loss(per_example, global_batch_size=task.global_batch_size)
      if extra is not None:
        loss += tf.nn.scale_regularization_loss(extra)
    optimizer.apply_gradients(zip(gradients(tape, loss, variables), variables))
    return loss

  @tf.function(jit_compile=False)
  def train_steps(it, count):
    loss = tf.constant(0.0)
    for _ in tf.range(count):
      loss = strategy.reduce(tf.distribute.ReduceOp.SUM,
                             strategy.run(replica_step, args=(next(it),)), axis=None)
      step.assign_add(1)
    return loss

  return train_steps


def next_stop(config, s):
  """The first step after s at which the loop must be back in Python (a log, a checkpoint, an
  evaluation, the end, or steps_per_execution steps on)."""
  stop = min(s + config.steps_per_execution, config.steps)
  for every in (config.log_every, config.checkpoint_every, config.eval_every):
    if every:
      stop = min(stop, (s // every + 1) * every)
  return stop


class _Progress:
  """The loop's logs: history, TensorBoard scalars, the progress bar and the training rate
  (training time only: evaluations are left out)."""

  def __init__(self, task, config, start, show):
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    self.task, self.history = task, {"loss": [], "rates": [], "eval": [], "start_step": start}
    self.bar = tqdm(initial=start, total=config.steps, unit="step", disable=not show,
                    desc=task.name, mininterval=1.0)
    self.tick = self.began = time.perf_counter()
    self.done, self.eval_seconds = 0, 0.0

  def train_minutes(self):
    return (time.perf_counter() - self.began - self.eval_seconds) / 60

  def steps(self, count):
    self.bar.update(count)
    self.done += count * self.task.global_batch_size

  def log(self, s, loss):
    now = time.perf_counter()
    rate = self.done / max(now - self.tick, 1e-9)
    self.tick, self.done = now, 0
    extra = self.task.log_metrics(loss)
    self.history["loss"].append((s, loss))
    self.history["rates"].append((s, rate))
    examples = self.task.examples
    tf.summary.scalar("train/loss", loss, step=s)
    tf.summary.scalar(f"train/{examples}_per_second", rate, step=s)
    for k, v in extra.items():
      tf.summary.scalar(f"train/{k}", v, step=s)
    self.bar.set_postfix(loss=f"{loss:.4g}", **{k: f"{v:.4g}" for k, v in extra.items()},
                         **{f"{examples}_s": f"{rate:.0f}"})

  def evaluate(self, model, s):
    evaluating = time.perf_counter()
    scalars, images = self.task.evaluate(model, s)
    self.history["eval"].append((s, dict(scalars, train_minutes=self.train_minutes())))
    for k, v in scalars.items():
      tf.summary.scalar(f"eval/{k}", v, step=s)
    for k, v in images.items():
      tf.summary.image(f"eval/{k}", v, step=s)
    spent = time.perf_counter() - evaluating
    self.eval_seconds += spent
    self.tick += spent

  def close(self, s):
    self.bar.close()
    self.history.update(last_step=s, eval_seconds=self.eval_seconds,
                        train_seconds=self.train_minutes() * 60)
    return self.history


def _check_strategy(task, config, strategy):
  replicas = strategy.num_replicas_in_sync
  if config.budget_minutes and getattr(strategy, "cluster_resolver", None) is not None:
    raise ValueError("--config.loop.budget_minutes is a per-process clock and would stop the "
                     "workers of a multi-worker run at different steps; give "
                     "--config.loop.steps instead.")
  if task.global_batch_size % replicas:
    raise ValueError(f"The batch of {task.global_batch_size} {task.examples} must be divisible "
                     f"by the {replicas} replicas.")


def fit(task, config, workdir, strategy=None, progress=True):
  """Trains `task.build_model()` for `config.steps` steps; resumes from `workdir/checkpoints`.

  Args:
    task: a `Task`.
    config: a `LoopConfig`.
    workdir: the run's directory (checkpoints/, tb/).
    strategy: a tf.distribute strategy (default: `make_strategy(config.strategy)`).
  Returns:
    (model, history): history has loss [(step, loss)], rates [(step, examples a second
    since the previous log)], eval [(step, scalars with train_minutes, the training time of
    this call so far)], start_step, optimizer_iterations_at_start, final_loss (the last logged
    loss, kept in the checkpoint), last_step (below config.steps when `budget_minutes` ran out
    first), train_seconds and eval_seconds (the budget counts training only).
  Raises:
    FloatingPointError: the loss became NaN or inf (the last good checkpoint is kept).
  """
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  strategy = strategy or make_strategy(config.strategy)
  keras.utils.set_random_seed(config.seed)
  _check_strategy(task, config, strategy)
  with strategy.scope():
    model = task.build_model()
    optimizer = keras.optimizers.Adam(learning_rate_schedule(config), amsgrad=config.amsgrad,
                                      global_clipnorm=config.clipnorm or None)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    last_loss = tf.Variable(float("nan"), dtype=tf.float32, trainable=False, name="last_loss")
  chief = is_chief(strategy)
  say = print if progress and chief else (lambda *a: None)
  ckpt_dir = os.path.join(workdir, "checkpoints") if chief else tempfile.mkdtemp()
  repair_checkpoint_state(ckpt_dir)
  ckpt = tf.train.Checkpoint(weights=named_variables(model), optimizer=optimizer, step=step,
                             last_loss=last_loss)
  manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=3)
  restored = restore_checkpoint(ckpt, manager, say)
  s = int(step.numpy())
  if restored:
    say(f"Resumed from {restored} at step {s}.")
  logs = _Progress(task, config, s, progress and chief)
  logs.history["optimizer_iterations_at_start"] = int(optimizer.iterations.numpy())
  iterator = iter(distribute(strategy, task.dataset(s)))
  train_steps = make_train_steps(task, model, optimizer, step, strategy)
  writer = (tf.summary.create_file_writer(os.path.join(workdir, "tb")) if chief
            else tf.summary.create_noop_writer())
  with writer.as_default():
    while s < config.steps:
      count = next_stop(config, s) - s
      loss = train_steps(iterator, tf.constant(count, tf.int64))
      s += count  # steps done after this call
      logs.steps(count)
      last = s == config.steps or bool(
          config.budget_minutes and logs.train_minutes() > config.budget_minutes)
      log = s % config.log_every == 0 or last
      save = s % config.checkpoint_every == 0 or last
      if log or save:  # (no checkpoint is written without this check)
        loss = float(loss)
        if not math.isfinite(loss):
          raise FloatingPointError(
              f"The loss became {loss} at step {s}; training stopped. The last good checkpoint "
              f"({manager.latest_checkpoint}) is kept: lower --config.loop.learning_rate and "
              "rerun to resume from it.")
        last_loss.assign(loss)
      if log:
        logs.log(s, loss)
      if save:
        manager.save(checkpoint_number=s)
      if chief and ((config.eval_every and s % config.eval_every == 0) or last):
        logs.evaluate(model, s)
      if last:
        break
  writer.flush()
  history = logs.close(s)
  final = float(last_loss.numpy())
  history["final_loss"] = None if math.isnan(final) else final
  return model, history


def steps_per_minute(make_task, config, workdir, probe_steps=60):
  """Training steps a minute of the task `make_task(loop)` on this machine under `config` (a
  LoopConfig): the engine's logged rates over a `probe_steps` run in workdir/calibration
  (deleted after; the first rate, which includes tracing, is left out)."""
  scratch = os.path.join(workdir, "calibration")
  shutil.rmtree(scratch, ignore_errors=True)
  probe = dataclasses.replace(config, steps=probe_steps, budget_minutes=0, lr_decay_fraction=0,
                              log_every=max(probe_steps // 4, 1), eval_every=0,
                              checkpoint_every=10**9)
  task = make_task(probe)
  _, history = fit(task, probe, scratch, progress=False)
  shutil.rmtree(scratch, ignore_errors=True)
  rate = np.median([r for _, r in history["rates"][1:]])
  return 60 * rate / task.global_batch_size


def fit_schedule(make_task, config, workdir, log=print, probe_steps=60):
  """`config` (a LoopConfig) with lr_decay_steps = lr_decay_fraction x the steps its budget
  buys here, measured by `steps_per_minute` (as given when lr_decay_fraction is 0). A run
  resumed in `workdir` keeps its first fit."""
  fraction = config.lr_decay_fraction
  if not fraction:
    return config
  if checkpoints_on_disk(os.path.join(workdir, "checkpoints")):
    _, saved, _ = read_run(workdir)
    if (saved.loop.lr_decay_fraction, saved.loop.budget_minutes) == (
        fraction, config.budget_minutes):
      return dataclasses.replace(config, lr_decay_steps=saved.loop.lr_decay_steps)
  rate = steps_per_minute(make_task, config, workdir, probe_steps)
  expected = max(int(rate * config.budget_minutes), 1)
  config = dataclasses.replace(config, lr_decay_steps=max(int(fraction * expected), 1))
  log(f"{rate:.0f} steps a minute measured, ~{expected} steps in {config.budget_minutes:g} "
      f"minutes: lr x {config.lr_decay_rate:g} every {config.lr_decay_steps} steps")
  return config


# ---------------------------------------------------------------------------------------------
# The workdir of a run.

@dataclasses.dataclass
class Run:
  """A trained run rebuilt from its workdir."""
  application: str      # toy, ct or radiance
  config: object        # the application's config dataclass
  context: dict         # what the data told the model (e.g. near/far, scan geometry)
  model: object         # the trained model (weights of `checkpoint`)
  checkpoint: str       # the checkpoint the weights came from


def write_run(workdir, application, config, context):
  """Writes workdir/config.json: the application, its resolved config and the data context."""
  if application not in APPLICATIONS:
    raise ValueError(f"Unknown application {application!r}: one of {APPLICATIONS}.")
  io_utils.write_json(os.path.join(workdir, "config.json"),
                      {"application": application, "config": configs.to_dict(config),
                       "context": context})


def write_metrics(workdir, metrics):
  io_utils.write_json(os.path.join(workdir, "metrics.json"), metrics)


def read_run(workdir):
  """(application, config dataclass, context) of a run's config.json."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path!r} is missing: {workdir!r} is not the workdir of a "
                            "train.integrate / train.tomography / train.radiance run.")
  try:
    with open(path) as f:
      saved = json.load(f)
    application = saved["application"]
    if application not in APPLICATIONS:
      raise KeyError(f"application {application!r} is not one of {APPLICATIONS}")
    module = importlib.import_module(f"autoint_tf.{application}")
    return application, configs.from_dict(module.Config, saved["config"]), saved.get("context",
                                                                                      {})
  except (json.JSONDecodeError, KeyError, TypeError, ValueError, ModuleNotFoundError) as e:
    raise ValueError(f"Malformed {path!r} ({e!r}): it needs 'application' (one of "
                     f"{APPLICATIONS}), 'config' and 'context'.") from None


def restore(workdir, checkpoint=None):
  """The trained model of a workdir (any application) with its config: a `Run`.

  Uses the newest intact checkpoint on disk (or `checkpoint`); reads and never writes the
  workdir (a damaged state file is reported and left for the next training run to rebuild)."""
  application, config, context = read_run(workdir)
  module = importlib.import_module(f"autoint_tf.{application}")
  model = module.make_model(config, context)
  ckpt = tf.train.Checkpoint(weights=named_variables(model))
  if checkpoint:
    ckpt.restore(checkpoint).expect_partial().assert_existing_objects_matched()
  else:
    directory = os.path.join(workdir, "checkpoints")
    found, problem = checkpoint_state_problem(directory)
    if problem and found:
      warnings.warn(f"{os.path.join(directory, 'checkpoint')} {problem}; read from the "
                    f"checkpoints on disk: {', '.join(os.path.basename(p) for p in found)} "
                    "(the file is left as it is; the next training run rebuilds it).")
    on_disk = types.SimpleNamespace(checkpoints=found,  # (what restore_checkpoint reads)
                                    latest_checkpoint=found[-1] if found else None)
    checkpoint = restore_checkpoint(ckpt, on_disk, log=lambda *a: None, partial=True)
    if checkpoint is None:
      raise FileNotFoundError(f"No checkpoint in {directory}: train first.")
  return Run(application, config, context, model, checkpoint)

