"""Shared test set-up: quiet TensorFlow, repository root importable, helpers."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

BATCH_SHAPES = [(), (3,), (2, 4)]
SHARED_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "..", "shared", "data")


def assert_layer_contract(layer, inputs, tmp_path):
  """Config round-trip and .keras reload give the same layer and the same outputs."""
  expected = np.asarray(layer(inputs))
  clone = layer.__class__.from_config(layer.get_config())
  clone(inputs)
  clone.set_weights(layer.get_weights())
  np.testing.assert_allclose(np.asarray(clone(inputs)), expected, rtol=1e-6, atol=1e-7)
  assert clone.get_config() == layer.get_config()
  if isinstance(inputs, dict):
    sym = {k: keras.Input(np.shape(v)[1:], name=k, dtype=str(np.asarray(v).dtype))
           for k, v in inputs.items()}
  else:
    sym = keras.Input(np.shape(inputs)[1:], dtype=str(np.asarray(inputs).dtype))
  model = keras.Model(sym, layer(sym))
  path = os.path.join(str(tmp_path), "layer.keras")
  model.save(path)
  reloaded = keras.saving.load_model(path)
  np.testing.assert_allclose(np.asarray(reloaded(inputs)), expected, rtol=1e-6, atol=1e-7)


def committed_step(checkpoint_dir):
  """The step of the newest checkpoint the state file names (its data files are written
  first, so only a named checkpoint is complete); 0 if there is none."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  latest = tf.train.latest_checkpoint(str(checkpoint_dir))
  return int(latest.rsplit("-", 1)[1]) if latest else 0


@pytest.fixture(autouse=True)
def _seed():
  keras.utils.set_random_seed(1234)
