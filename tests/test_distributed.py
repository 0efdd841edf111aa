"""tf.distribute: MirroredStrategy over 2 logical CPUs, 2 MultiWorker processes on 127.0.0.1,
and SIGKILL + resume of the training job."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np

from conftest import committed_step
from conftest import radiance_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = os.path.join(ROOT, "tests", "distributed_job.py")


def _run(strategy, tmp_path, env=None, tag=None):
  out = tmp_path / f"{tag or strategy}.npz"
  proc = subprocess.Popen([sys.executable, JOB, strategy, str(out), str(tmp_path / (tag or strategy))],
                          cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
  return proc, out


def _weights(path):
  data = np.load(path)
  return [data[f"arr_{i}"] for i in range(len([k for k in data if k.startswith("arr_")]))], data


def test_mirrored_over_two_devices_takes_the_same_steps_as_one_device(tmp_path):
  procs = [_run("one", tmp_path), _run("mirrored", tmp_path)]
  for proc, _ in procs:
    log = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, log[-3000:]
  (one, d1), (two, d2) = _weights(procs[0][1]), _weights(procs[1][1])
  assert int(d1["replicas"]) == 1 and int(d2["replicas"]) == 2
  np.testing.assert_allclose(d2["loss"], d1["loss"], rtol=1e-5)
  # The step: the gradient of a global batch, all-reduced over the two replicas, equals the
  # one-device gradient up to float summation order.
  grads = [k for k in d1 if k.startswith("grad_")]
  assert grads
  for k in grads:
    scale = np.max(np.abs(d1[k])) + 1e-12
    np.testing.assert_allclose(d2[k], d1[k], rtol=1e-3, atol=1e-4 * scale)
  # Four Adam steps (lr 5e-4) from the same start give the same weights, up to Adam's
  # normalization amplifying last-bit differences of near-zero gradients (at most 2 lr a step).
  for a, b in zip(one, two):
    assert np.mean(np.abs(a - b)) < 1e-5 and np.max(np.abs(a - b)) < 3e-3
  assert d1["loss"][0] != d1["loss"][-1]  # the steps did change the weights


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


def test_multiworker_two_processes_train_and_agree(tmp_path):
  workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
  procs = []
  for i in range(2):
    tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
    procs.append(_run("multiworker", tmp_path, {"TF_CONFIG": json.dumps(tf_config)},
                      tag=f"worker{i}"))
  for proc, _ in procs:
    log = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, log[-3000:]
  (w0, d0), (w1, d1) = _weights(procs[0][1]), _weights(procs[1][1])
  assert int(d0["replicas"]) == 2
  assert len(d0["loss"]) == 2 and np.all(np.isfinite(d0["loss"]))
  for a, b in zip(w0, w1):
    np.testing.assert_array_equal(a, b)


def test_sigkill_then_restart_resumes_step_and_optimizer_state(tmp_path):
  workdir = tmp_path / "run"
  args = [sys.executable, "-m", "train.radiance", f"--workdir={workdir}",
          "--config.scene.image_size=8", "--config.batch.size=64",
          "--config.sampler.num_sections=4", "--config.loop.checkpoint_every=5",
          "--config.loop.log_every=5", "--config.loop.eval_every=100000",
          "--config.eval.turntable_frames=0", "--config.eval.time_quadrature=false",
          "--config.eval.report_sections=(4,)"]
  proc = subprocess.Popen(args + ["--config.loop.steps=100000"], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  ckpt = workdir / "checkpoints"
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  deadline = time.time() + 400
  while time.time() < deadline and committed_step(ckpt) < 15:
    time.sleep(0.5)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert committed_step(ckpt) >= 15, "no checkpoint was committed before the deadline"
  from autoint_tf import radiance  # pylint: disable=g-import-not-at-top
  latest = tf.train.latest_checkpoint(str(ckpt))
  saved_step = int(latest.rsplit("-", 1)[1])
  assert saved_step >= 15 and saved_step % 5 == 0
  # Restart: resumes at the last checkpoint with the optimizer's state (its step counter and
  # Adam moments) restored, then trains on to the end.
  config = radiance_config(image_size=8, batch_size=64, num_sections=4, checkpoint_every=5,
                           log_every=5, eval_every=100000, steps=saved_step + 5)
  train, test = radiance.load_views(config)  # the scene the command trained on (its box too)
  reader = tf.train.load_checkpoint(latest)
  moments = [n for n, _ in tf.train.list_variables(latest) if "optimizer" in n and "VARIABLE" in n]
  assert moments
  model, history = radiance.train(config, train, test, str(workdir), progress=False)
  assert history["start_step"] == saved_step
  assert history["optimizer_iterations_at_start"] == saved_step
  assert [s for s, _ in history["loss"]] == [saved_step + 5]
  assert tf.train.latest_checkpoint(str(ckpt)).endswith(f"ckpt-{saved_step + 5}")
  assert any(np.any(reader.get_tensor(n) != 0) for n in moments)
  # The batches and jitter are functions of the step: the killed-and-resumed run ends with the
  # weights of an uninterrupted run.
  straight, _ = radiance.train(config, train, test, str(tmp_path / "straight"), progress=False)
  for a, b in zip(model.get_weights(), straight.get_weights()):
    np.testing.assert_array_equal(a, b)  # op determinism: bit for bit
