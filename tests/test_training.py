"""Tests of autoint_tf.training: the engine's schedule, checkpoints (damaged ones included),
resume after SIGKILL, the workdir format and restore."""

import dataclasses
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import app_config
from autoint_tf import toy
from autoint_tf import training
from conftest import committed_step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = app_config(toy.Config, steps=10, width=16, depth=2, checkpoint_every=5, log_every=5,
                  num_eval_intervals=10)


@pytest.mark.parametrize("kind", ["constant", "cosine", "exponential"])
def test_learning_rate_schedules_are_their_closed_forms(kind):
  config = training.LoopConfig(steps=100, learning_rate=0.1, lr_schedule=kind, warmup_steps=10,
                               lr_decay_steps=50, lr_decay_rate=0.2, final_lr_fraction=0.05)
  lr = training.learning_rate_schedule(config)
  for step in (0, 9, 10, 50, 99, 100):
    decay = {"constant": 1.0,
             "cosine": 0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * step / 100)),
             "exponential": 0.2**(step / 50)}[kind]
    want = 0.1 * decay * min((step + 1) / 10, 1.0)
    assert float(lr(step)) == pytest.approx(want, rel=1e-5), step
  with pytest.raises(ValueError, match="lr_decay_steps > 0"):
    training.learning_rate_schedule(dataclasses.replace(config, lr_decay_steps=0,
                                                        lr_schedule="exponential"))
  with pytest.raises(ValueError, match="--config.loop.lr_schedule=step: choose one of"):
    training.LoopConfig(lr_schedule="step")


def test_workdir_format_and_restore_of_a_finished_run(tmp_path):
  metrics = toy.train_and_evaluate(TINY, str(tmp_path), progress=False)
  assert sorted(os.listdir(tmp_path)) == ["checkpoints", "config.json", "metrics.json",
                                          "plot.png", "tb"]
  run = training.restore(str(tmp_path))
  assert run.application == "toy" and run.config == TINY and run.checkpoint.endswith("ckpt-10")
  x = {"x": np.linspace(-1, 2, 7, dtype=np.float32)[:, None]}
  assert np.all(np.isfinite(run.model(x).numpy()))
  # Rerunning a finished workdir trains nothing and keeps the final loss.
  again = toy.train_and_evaluate(TINY, str(tmp_path), progress=False)
  assert again["final_loss"] == pytest.approx(metrics["final_loss"])
  with pytest.raises(FileNotFoundError, match="config.json.*not the workdir"):
    training.restore(str(tmp_path / "checkpoints"))


def test_a_damaged_newest_checkpoint_falls_back_to_the_newest_intact_one(tmp_path):
  toy.train_and_evaluate(TINY, str(tmp_path), progress=False)
  ckpt = tmp_path / "checkpoints"
  data = next(p for p in ckpt.iterdir() if p.name.startswith("ckpt-10.data"))
  data.write_bytes(data.read_bytes()[:100])  # truncated, as by a full disk
  with pytest.warns(UserWarning, match="ckpt-10 is damaged"):
    run = training.restore(str(tmp_path))
  assert run.checkpoint.endswith("ckpt-5")
  task = toy.Task(TINY, toy.INTEGRANDS["poly"], *toy.training_points(
      TINY, toy.INTEGRANDS["poly"], np.random.default_rng(0)))
  with pytest.warns(UserWarning, match="ckpt-10 is damaged"):
    _, history = training.fit(task, app_config(TINY, steps=15).loop, str(tmp_path),
                              progress=False)
  assert history["start_step"] == 5 and history["loss"][-1][0] == 15
  # The logged rates and the evaluation curve's training minutes (of this call) are recorded.
  assert [s for s, _ in history["rates"]] == [s for s, _ in history["loss"]]
  assert all(rate > 0 for _, rate in history["rates"])
  minutes = [e["train_minutes"] for _, e in history["eval"]]
  assert minutes and minutes == sorted(minutes) and 0 < minutes[-1] < 60 * history[
      "train_seconds"]
  # Every checkpoint damaged: an error naming them, never a silent restart from scratch.
  for p in ckpt.iterdir():
    if p.name.startswith("ckpt-") and ".index" in p.name:
      p.write_bytes(b"not an sstable")
  with pytest.raises(ValueError, match="Every checkpoint in the run is damaged"):
    training.fit(task, app_config(TINY, steps=20).loop, str(tmp_path), progress=False)


@pytest.mark.parametrize("damage", ["deleted", "garbage", "names a missing newest"])
def test_a_damaged_checkpoint_state_file_resumes_from_the_checkpoints_on_disk(tmp_path, damage):
  config = app_config(TINY, steps=15)
  toy.train_and_evaluate(config, str(tmp_path), progress=False)
  ckpt = tmp_path / "checkpoints"
  state = ckpt / "checkpoint"
  assert sorted(os.path.basename(p) for p in training.checkpoints_on_disk(str(ckpt))) == [
      "ckpt-10", "ckpt-15", "ckpt-5"]
  if damage == "deleted":
    state.unlink()
  elif damage == "garbage":
    state.write_text("\x00 this is { not a text proto")
  else:  # the newest checkpoint's files gone, the state naming only it
    for p in ckpt.iterdir():
      if p.name.startswith("ckpt-15."):
        p.unlink()
    state.write_text('model_checkpoint_path: "ckpt-15"\nall_model_checkpoint_paths: "ckpt-15"\n')
  newest = "ckpt-10" if damage == "names a missing newest" else "ckpt-15"
  before = state.read_bytes() if state.exists() else None
  # A read-only use (export, viewer) reads the checkpoints on disk and leaves the file be.
  with pytest.warns(UserWarning, match=f"checkpoint .*read from the checkpoints on disk: "
                    f"ckpt-5, ckpt-10.*left as it is"):
    run = training.restore(str(tmp_path))
  assert run.checkpoint.endswith(newest)
  assert (state.read_bytes() if state.exists() else None) == before
  # Training rebuilds it.
  task = toy.Task(TINY, toy.INTEGRANDS["poly"], *toy.training_points(
      TINY, toy.INTEGRANDS["poly"], np.random.default_rng(0)))
  with pytest.warns(UserWarning, match=f"checkpoint .*rebuilt from the checkpoints on disk: "
                    f"ckpt-5, ckpt-10"):
    _, history = training.fit(task, app_config(TINY, steps=20).loop, str(tmp_path),
                              progress=False)
  assert history["start_step"] == int(newest.split("-")[1]) and history["loss"][-1][0] == 20
  assert training.restore(str(tmp_path)).checkpoint.endswith("ckpt-20")


def test_several_steps_a_call_give_the_weights_and_logs_of_one_step_a_call(tmp_path):
  # 13 steps, 4 a call, logs and checkpoints every 5: calls of 4, 1, 4, 1, 3 steps.
  config = app_config(TINY, steps=13)
  task = toy.Task(config, toy.INTEGRANDS["poly"], *toy.training_points(
      config, toy.INTEGRANDS["poly"], np.random.default_rng(0)))
  runs = {}
  for k in (1, 4):
    model, history = training.fit(task, app_config(config, steps_per_execution=k).loop,
                                  str(tmp_path / str(k)), progress=False)
    runs[k] = model.get_weights(), history
    assert [s for s, _ in history["loss"]] == [5, 10, 13] and history["last_step"] == 13
    assert committed_step(tmp_path / str(k) / "checkpoints") == 13
  for a, b in zip(runs[1][0], runs[4][0]):
    np.testing.assert_array_equal(a, b)  # the same batches in the same order
  assert runs[1][1]["loss"] == runs[4][1]["loss"]
  with pytest.raises(ValueError, match="--config.loop.steps_per_execution=0: give a number"):
    app_config(config, steps_per_execution=0)


def test_toy_job_resumes_after_sigkill_with_the_weights_of_an_uninterrupted_run(tmp_path):
  workdir = tmp_path / "run"
  # A constant learning rate: the killed run (steps=100000) and the resumed one (fewer steps)
  # then follow the same schedule.
  args = [sys.executable, "-m", "train.integrate", f"--workdir={workdir}", "--config.width=16",
          "--config.depth=2", "--config.loop.checkpoint_every=20", "--config.loop.log_every=20",
          "--config.loop.steps=100000", "--config.loop.lr_schedule=constant"]
  proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

  deadline = time.time() + 300
  while time.time() < deadline and committed_step(workdir / "checkpoints") < 40:
    time.sleep(0.2)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  saved = committed_step(workdir / "checkpoints")
  assert saved >= 40, "no checkpoint was committed before the deadline"
  config = app_config(toy.Config, width=16, depth=2, checkpoint_every=20, log_every=20,
                      steps=saved + 20, lr_schedule="constant", num_eval_intervals=10)
  toy.train_and_evaluate(config, str(workdir), progress=False)
  toy.train_and_evaluate(config, str(tmp_path / "straight"), progress=False)
  resumed, straight = (training.restore(str(d)) for d in (workdir, tmp_path / "straight"))
  assert resumed.checkpoint.endswith(f"ckpt-{saved + 20}")
  for a, b in zip(resumed.model.get_weights(), straight.model.get_weights()):
    np.testing.assert_array_equal(a, b)  # op determinism: bit for bit
