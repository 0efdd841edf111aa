"""Shared test set-up: quiet TensorFlow, helpers. autoint_tf is imported as installed
(`make test` installs the checkout, editable); the jobs (`python -m train.*`) run from the
repository root."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

BATCH_SHAPES = [(), (3,), (2, 4)]
SHARED_DATA = os.path.join(REPO, "..", "shared", "data")

# A radiance config by the short names of its knobs: each short name is the last part of one
# dotted path of radiance.Config, except those below (the flat names of before the nesting).
RADIANCE_NAMES = {
    "scene": "scene.format", "batch_size": "batch.size", "eval_sections": "eval.sections",
    "num_sections": "sampler.num_sections", "sampler_depth": "sampler.depth",
    "sampler_width": "sampler.width", "sampler_frequencies": "sampler.num_frequencies",
    "sampler_input": "sampler.input", "learned_sampling": "sampler.learned",
    "width": "model.width", "depth": "model.depth", "num_frequencies": "model.num_frequencies",
}


def radiance_config(base=None, **short):
  """radiance.Config() (or `base`) with `short` overrides, e.g. radiance_config(width=16,
  steps=5)."""
  from autoint_tf import configs, radiance  # pylint: disable=g-import-not-at-top
  paths = {}
  for path in configs.flat(radiance.Config()):
    paths.setdefault(path.rsplit(".", 1)[-1], []).append(path)
  changes = {}
  for name, value in short.items():
    if name in RADIANCE_NAMES:
      changes[RADIANCE_NAMES[name]] = value
    elif name in paths and len(paths[name]) == 1:
      changes[paths[name][0]] = value
    else:
      raise KeyError(f"{name}: {paths.get(name, 'no such field')}")
  return configs.replace(base or radiance.Config(), changes)


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


# ---------------------------------------------------------------------------------------------
# Served models (test_serving, test_bad_requests): one set a session.

SMALL_BATCH = 4096


@pytest.fixture(scope="session")
def served(tmp_path_factory):
  """Trains tiny radiance, CT and 1D models, exports them, serves them with the stand-in."""
  from autoint_tf import ct, radiance, scenes, toy  # pylint: disable=g-import-not-at-top
  from autoint_tf.serving import export  # pylint: disable=g-import-not-at-top
  from serving_standin import Standin  # pylint: disable=g-import-not-at-top
  tmp = tmp_path_factory.mktemp("serving")
  base = str(tmp / "exports")
  config = radiance_config(image_size=8, batch_size=64, steps=3, log_every=1, eval_every=1000,
                           checkpoint_every=1000, num_sections=4)
  train, test = scenes.procedural_views(num_train=3, num_test=1, size=8)
  model, _ = radiance.train(config, train, test, str(tmp / "radiance"), progress=False)
  v1 = export.export(str(tmp / "radiance"), base, "autoint", max_batch=SMALL_BATCH)
  v2 = export.export(str(tmp / "radiance"), base, "autoint")
  ct_config = app_config(ct.Config, num_angles=8, num_detectors=8, subsample=2, width=16, depth=2,
                          parameterization="point", steps=5, samples_per_line=4)
  _, ct_out = ct.train_and_evaluate(ct_config, workdir=str(tmp / "ct"), progress=False)
  export.export(str(tmp / "ct"), base, "ct")
  toy.train_and_evaluate(app_config(toy.Config, steps=20, width=16, depth=2, num_eval_intervals=10),
                         str(tmp / "toy"), progress=False)
  export.export(str(tmp / "toy"), base, "poly")
  standin = Standin(base, ["autoint", "ct", "poly"])
  rest_port, grpc_port = standin.start()
  rays = test.rays()
  yield {"workdir": str(tmp / "radiance"), "model": model, "base": base, "v1": v1, "v2": v2,
         "rest": f"127.0.0.1:{rest_port}", "grpc": f"127.0.0.1:{grpc_port}", "rays": rays,
         "test": test, "ct": ct_out, "toy": str(tmp / "toy")}
  standin.stop()


def served_inputs(served, n=40):
  return {"rays_o": served["rays"]["rays_o"][:n], "rays_d": served["rays"]["rays_d"][:n]}


def in_process(served, inputs):
  """render_rays of the in-process model (N = 8, the training near/far)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  r = {k: tf.constant(v) for k, v in inputs.items()}
  b = len(inputs["rays_o"])
  r.update(near=tf.fill([b], served["test"].near), far=tf.fill([b], served["test"].far))
  return {k: v.numpy() for k, v in served["model"].render(r, 8).items()}


# Renderers by the short names of their knobs, from the component defaults of before the
# nesting (renderers.ModelConfig() then: PE 10 and 4 octaves, two networks), which the
# renderer tests were written against.
OLD_MODEL_DEFAULTS = dict(num_frequencies=10, direction_frequencies=4, shared_trunk=False)


def autoint_renderer(background=(0.0, 0.0, 0.0), dtype=None, **short):
  from autoint_tf import renderers  # pylint: disable=g-import-not-at-top
  c = radiance_config(**{**OLD_MODEL_DEFAULTS, **short})
  return renderers.AutoIntRenderer(c.model, c.sampler, c.loss, background, dtype=dtype)


def quadrature_renderer(background=(0.0, 0.0, 0.0), dtype=None, **short):
  from autoint_tf import renderers  # pylint: disable=g-import-not-at-top
  c = radiance_config(**{**OLD_MODEL_DEFAULTS, **short})
  return renderers.QuadratureRenderer(c.model, c.quadrature, background, dtype=dtype)


def app_config(base, **short):
  """A ct.Config / toy.Config (a class: its defaults; or an instance) with `short` overrides;
  the training loop's fields by their own names (steps=5 is loop.steps)."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  from autoint_tf import configs, training  # pylint: disable=g-import-not-at-top
  base = base() if isinstance(base, type) else base
  top = {f.name for f in dataclasses.fields(base)}
  loop = {f.name for f in dataclasses.fields(training.LoopConfig)}
  return configs.replace(base, {(k if k in top or k not in loop else f"loop.{k}"): v
                                for k, v in short.items()})
