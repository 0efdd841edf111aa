"""Helper process for tests/test_distributed.py: trains a few steps of the tiny renderer under a
strategy and writes the final weights to an .npz. Not a test module itself.

  python tests/distributed_job.py STRATEGY OUT.npz WORKDIR   (STRATEGY: one, mirrored, multiworker)
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from conftest import radiance_config  # noqa: E402  (this script's folder is tests/)

# Two calls of two steps each: the multi-step call (steps_per_execution) under every strategy.
CONFIG = dict(image_size=8, batch_size=64, steps=4, log_every=2, eval_every=1000,
              checkpoint_every=1000, num_sections=4, steps_per_execution=2)


def main(strategy_name, out, workdir):
  if strategy_name == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
  from autoint_tf import configs  # pylint: disable=g-import-not-at-top
  from autoint_tf import radiance  # pylint: disable=g-import-not-at-top
  from autoint_tf import scenes  # pylint: disable=g-import-not-at-top
  from autoint_tf import training  # pylint: disable=g-import-not-at-top
  strategy = {"one": lambda: tf.distribute.OneDeviceStrategy("/cpu:0"),
              "mirrored": lambda: tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
              "multiworker": tf.distribute.MultiWorkerMirroredStrategy}[strategy_name]()
  config = radiance_config(**CONFIG)
  train, test = scenes.procedural_views(num_train=3, num_test=1, size=8)
  # The all-reduced gradient of one global batch at the initial weights: "the same step".
  model, _ = radiance.train(configs.replace(config, {"loop.steps": 0}), train, test, workdir,
                            strategy=strategy, progress=False)
  task = radiance.Task(config, train, test)
  batches = training.distribute(strategy, task.dataset(100))
  variables = model.trainable_variables

  def replica_grads(batch):
    with tf.GradientTape() as tape:
      loss = tf.nn.compute_average_loss(task.loss(model, batch)[0],
                                        global_batch_size=config.batch.size)
    return training.gradients(tape, loss, variables)

  grads = strategy.run(tf.function(replica_grads), args=(next(iter(batches)),))
  grads = [strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None).numpy() for g in grads]
  model, history = radiance.train(config, train, test, workdir, strategy=strategy, progress=False)
  np.savez(out, *model.get_weights(), loss=np.array([l for _, l in history["loss"]]),
           replicas=strategy.num_replicas_in_sync,
           **{f"grad_{i}": g for i, g in enumerate(grads)})


if __name__ == "__main__":
  main(*sys.argv[1:4])
