"""Training utilities shared by the jobs (toy, tomography, radiance)."""

import tensorflow as tf


def gradients(tape, loss, variables):
  """Gradients of `loss` w.r.t. Keras variables, zeros where unconnected.

  The last bias of an integral network is the constant of integration and gets no
  gradient from the grad network; a zero keeps optimizers quiet and its value fixed.
  """
  grads = tape.gradient(loss, variables)
  return [tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(grads, variables)]
