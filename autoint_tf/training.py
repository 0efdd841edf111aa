"""Training utilities shared by the jobs (toy, tomography, radiance)."""

import re

import tensorflow as tf


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
