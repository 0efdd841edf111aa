"""Tests of autoint_tf.grad_net: grad networks (all modes) and definite/box integrals."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import autoint_tf as ai
from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import training
from conftest import BATCH_SHAPES
from conftest import assert_layer_contract

F64 = "float64"


def _phi(names=("t", "c"), k=2, activation="swish", **kw):
  return ai.IntegralMLP(names, output_dim=k, depth=3, width=24, activation=activation,
                        num_frequencies=3, dtype=F64, **kw)


def _inputs(batch, names=("t", "c"), dims=None, seed=0):
  rng = np.random.default_rng(seed)
  dims = dims or {}
  return {n: tf.constant(rng.uniform(-1, 1, size=batch + (dims.get(n, 1 if n != "c" else 2),)))
          for n in names}


def _shift(inputs, deltas):
  out = dict(inputs)
  for name, h in deltas.items():
    out[name] = inputs[name] + h
  return out


def _central_mixed(phi, inputs, variables, h, richardson=False):
  """Mixed central difference d^d Phi / dt_1..dt_d with step h (independent reference);
  with Richardson extrapolation (error O(h^4) instead of O(h^2)) if asked."""
  if richardson:
    return (4 * _central_mixed(phi, inputs, variables, h / 2) -
            _central_mixed(phi, inputs, variables, h)) / 3
  total = 0.0
  for signs in itertools.product((1, -1), repeat=len(variables)):
    sgn = np.prod(signs)
    total = total + sgn * phi(_shift(inputs, {v: s * h for v, s in zip(variables, signs)}))
  return total / (2 * h)**len(variables)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_all_modes_match_finite_differences_1d(batch, k):
  phi = _phi(k=k)
  x = _inputs(batch)
  fd = _central_mixed(phi, x, ["t"], 1e-5).numpy()
  for mode in ("auto", "forward", "tape", "explicit"):
    got = ai.GradNetwork(phi, mode=mode)(x).numpy()
    assert got.shape == batch + (k,)
    np.testing.assert_allclose(got, fd, rtol=1e-7, atol=1e-9, err_msg=mode)


@pytest.mark.parametrize("d,h,tol", [(2, 1e-3, 1e-7), (3, 4e-3, 1e-6)])
@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_mixed_partials_match_finite_differences(d, h, tol, batch):
  names = ("x", "y", "z")[:d]
  phi = _phi(names + ("c",), k=2, activation="tanh")
  x = _inputs(batch, names + ("c",))
  fd = _central_mixed(phi, x, names, h, richardson=True).numpy()
  fwd = ai.GradNetwork(phi, variables=names, mode="forward")(x).numpy()
  tape = ai.GradNetwork(phi, variables=names, mode="tape")(x).numpy()
  np.testing.assert_allclose(fwd, tape, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(fwd, fd, rtol=tol, atol=tol * 1e-1)


def test_tensor_input_with_column_variables():
  phi = ai.IntegralMLP(None, output_dim=2, depth=2, width=16, dtype=F64)
  x = tf.constant(np.random.default_rng(0).uniform(-1, 1, size=(6, 3)))
  h = 1e-5
  e = np.zeros(3)
  e[1] = h
  fd = ((phi(x + e) - phi(x - e)) / (2 * h)).numpy()
  for mode in ("forward", "tape", "explicit"):
    got = ai.GradNetwork(phi, variables=(1,), mode=mode)(x).numpy()
    np.testing.assert_allclose(got, fd, rtol=1e-7, atol=1e-10, err_msg=mode)
  # Box integral over columns 0 and 2 with column 1 held fixed.
  lo, hi = np.full((6, 2), -0.5), np.full((6, 2), 0.25)
  box = ai.definite_integral(phi, lo, hi, inputs=x, variables=(0, 2)).numpy()
  ref = 0.0
  for c0, c2 in itertools.product((0, 1), repeat=2):
    pt = x.numpy().copy()
    pt[:, 0] = (lo, hi)[c0][:, 0]
    pt[:, 2] = (lo, hi)[c2][:, 1]
    ref = ref + (-1.0)**(2 - c0 - c2) * phi(pt).numpy()
  np.testing.assert_allclose(box, ref, rtol=1e-12, atol=1e-14)


def test_grad_network_gradient_checks_with_compute_gradient():
  phi = _phi(k=1)
  grad = ai.GradNetwork(phi, mode="forward")
  c = tf.constant([[0.3, -0.2]], F64)

  def f(t):
    return grad({"t": t, "c": c})

  theoretical, numerical = tf.test.compute_gradient(f, [tf.constant([[0.4]], F64)], delta=1e-6)
  np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_definite_integral_equals_quadrature_of_grad_network(batch):
  phi = _phi(k=2)
  x = _inputs(batch, seed=3)
  rng = np.random.default_rng(4)
  a = rng.uniform(-1, 0, size=batch)
  b = rng.uniform(0, 1.5, size=batch)
  got = ai.definite_integral(phi, a, b, inputs=x).numpy()
  # Composite Simpson with 2001 points on each interval, of the grad network.
  n = 2001
  s = np.linspace(0, 1, n)
  t = a[..., None] + (b - a)[..., None] * s  # [..., n]
  grad = ai.GradNetwork(phi)
  c = np.broadcast_to(x["c"].numpy()[..., None, :], batch + (n, 2))
  f = grad({"t": t[..., None], "c": c}).numpy()  # [..., n, 2]
  w = np.ones(n)
  w[1:-1:2], w[2:-1:2] = 4, 2
  quad = (b - a)[..., None] * np.einsum("...nk,n->...k", f, w) / (3 * (n - 1))
  assert got.shape == batch + (2,)
  np.testing.assert_allclose(got, quad, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("d", [2, 3])
def test_box_integral_equals_quadrature_of_mixed_partial(d):
  names = ("x", "y", "z")[:d]
  phi = _phi(names, k=1, activation="tanh")
  lo = np.array([-0.7, -0.2, 0.1])[:d]
  hi = np.array([0.4, 0.9, 0.5])[:d]
  got = ai.definite_integral(phi, lo, hi, variables=names).numpy()
  nodes, weights = np.polynomial.legendre.leggauss(24)
  grids = [0.5 * (h - l) * nodes + 0.5 * (h + l) for l, h in zip(lo, hi)]
  pts = np.stack(np.meshgrid(*grids, indexing="ij"), -1).reshape(-1, d)
  f = ai.GradNetwork(phi, variables=names)({n: pts[:, i:i + 1] for i, n in enumerate(names)})
  w = np.ones(1)
  for l, h in zip(lo, hi):
    w = np.multiply.outer(w, 0.5 * (h - l) * weights)
  quad = np.sum(w.reshape(-1) * f.numpy()[:, 0])
  np.testing.assert_allclose(got[0], quad, rtol=1e-9)


def test_definite_integral_broadcasts_bounds_against_inputs():
  phi = _phi(k=1)
  x = _inputs((4,))
  got = ai.definite_integral(phi, 0.0, np.linspace(0.1, 0.4, 4), inputs=x).numpy()
  ref = (phi(_shift({"c": x["c"]}, {}) | {"t": np.linspace(0.1, 0.4, 4)[:, None]})
         - phi({"c": x["c"], "t": np.zeros((4, 1))})).numpy()
  np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_training_the_grad_network_trains_phi_and_last_bias_gets_no_gradient():
  phi = _phi(k=1)
  grad = ai.GradNetwork(phi)
  x = _inputs((16,))
  before = phi(x).numpy()
  opt = keras.optimizers.Adam(1e-2)
  with tf.GradientTape(persistent=True) as tape:
    loss = tf.reduce_mean(tf.square(grad(x) - 1.0))
  raw = tape.gradient(loss, grad.trainable_variables)
  assert len(grad.trainable_variables) == len(phi.trainable_variables) > 0
  last_bias = phi.mlp.biases[-1]
  for g, v in zip(raw, grad.trainable_variables):
    assert (g is None) == (v is last_bias), v.path
  opt.apply_gradients(zip(training.gradients(tape, loss, grad.trainable_variables),
                          grad.trainable_variables))
  assert np.max(np.abs(phi(x).numpy() - before)) > 1e-4


def test_grad_network_layer_contract(tmp_path):
  phi = ai.IntegralMLP(("t", "c"), output_dim=2, depth=2, width=8)
  x = {"t": np.random.default_rng(0).normal(size=(3, 1)).astype(np.float32),
       "c": np.random.default_rng(1).normal(size=(3, 2)).astype(np.float32)}
  assert_layer_contract(ai.GradNetwork(phi, mode="forward"), x, tmp_path)


def test_saved_model_reload_equality(tmp_path):
  phi = ai.IntegralMLP(("t",), output_dim=2, depth=2, width=8)
  grad = ai.GradNetwork(phi)
  t = np.linspace(-1, 1, 5, dtype=np.float32)[:, None]
  grad({"t": t})
  archive = keras.export.ExportArchive()
  archive.track(grad)
  spec = {"t": tf.TensorSpec([None, 1], tf.float32)}
  archive.add_endpoint("grad", lambda x: grad(x), input_signature=[spec])
  archive.add_endpoint("integral", lambda x: phi(x), input_signature=[spec])
  path = str(tmp_path / "sm")
  archive.write_out(path, verbose=False)
  loaded = tf.saved_model.load(path)
  np.testing.assert_allclose(loaded.grad({"t": t}).numpy(), grad({"t": t}).numpy(), rtol=1e-6)
  np.testing.assert_allclose(loaded.integral({"t": t}).numpy(), phi({"t": t}).numpy(),
                             rtol=1e-6)


# Bad input: each error names what is wrong.


def test_error_variable_not_an_input():
  phi = _phi(k=1)
  with pytest.raises(ValueError, match=r"\['s'\] are not inputs of Phi"):
    ai.GradNetwork(phi, variables=("s",))(_inputs((2,)))


def test_error_variable_not_used_by_phi():
  phi = ai.IntegralMLP(("c",), output_dim=1, depth=1, width=4, dtype=F64)
  x = _inputs((2,))
  for mode in ("forward", "tape"):
    with pytest.raises(ValueError, match="does not depend on integration variable 't'"):
      ai.GradNetwork(phi, mode=mode)(x)


def test_error_bounds_do_not_broadcast():
  phi = _phi(k=1)
  with pytest.raises(ValueError, match=r"do not broadcast.*upper"):
    ai.definite_integral(phi, np.zeros(3), np.ones(4), inputs={"c": np.zeros((3, 2))})
  with pytest.raises(ValueError, match=r"`lower` must have shape \[\.\.\., 2\]"):
    ai.definite_integral(phi, np.zeros((3, 3)), np.ones((3, 2)), variables=("t", "c"))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_error_nan_or_inf_in_inputs_names_the_input(bad):
  phi = _phi(k=1)
  x = _inputs((3,))
  c = x["c"].numpy()
  c[1, 0] = bad
  with pytest.raises(tf.errors.InvalidArgumentError, match="input 'c' contains NaN or inf"):
    ai.GradNetwork(phi)({"t": x["t"], "c": c})
  with pytest.raises(tf.errors.InvalidArgumentError, match="input 'upper' contains NaN"):
    ai.definite_integral(phi, np.zeros(3), np.array([1.0, bad, 1.0]), inputs=x)


def test_error_unknown_mode_and_explicit_without_jvp():
  with pytest.raises(ValueError, match="Unknown GradNetwork mode 'reverse'"):
    ai.GradNetwork(_phi(), mode="reverse")
  plain = keras.layers.Dense(1, dtype=F64)
  with pytest.raises(ValueError, match="mode='explicit' needs"):
    grad_net.mixed_partial(plain, tf.zeros((2, 3), F64), (0,), mode="explicit")


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("names", [("x",), ("x", "y")])
@pytest.mark.parametrize("mode", ["forward", "tape", "explicit"])
def test_weight_gradients_of_grad_network_match_finite_differences(mode, names, graph):
  """Training needs d(loss)/d(weights) through the grad network to be right (nested
  ForwardAccumulators get this wrong in TF 2.21 for d = 2, which is why they are not used)."""
  phi = ai.IntegralMLP(("x", "y"), 1, depth=2, width=16, num_frequencies=1, dtype=F64)
  x = _inputs((32,), ("x", "y"))
  grad = ai.GradNetwork(phi, variables=names, mode=mode)

  def loss_and_grads():
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(grad(x) - 1.0))
    return loss, tape.gradient(loss, phi.mlp.kernels[0])

  fn = tf.function(loss_and_grads, autograph=False) if graph else loss_and_grads
  got = fn()[1].numpy()
  kernel = phi.mlp.kernels[0]
  w0 = kernel.numpy()
  h = 1e-6
  for idx in [(0, 0), (1, 3), (2, 7)]:
    e = np.zeros_like(w0)
    e[idx] = h
    kernel.assign(w0 + e)
    lp = float(loss_and_grads()[0])
    kernel.assign(w0 - e)
    lm = float(loss_and_grads()[0])
    kernel.assign(w0)
    np.testing.assert_allclose(got[idx], (lp - lm) / (2 * h), rtol=1e-5, atol=1e-9)


def test_user_composed_functional_model_as_integral_network():
  """Any Keras model works as Phi: here a functional model with a custom mixing of inputs."""
  t_in = keras.Input((1,), name="t", dtype=F64)
  c_in = keras.Input((2,), name="c", dtype=F64)
  h = keras.layers.Concatenate(dtype=F64)([t_in * c_in, t_in, c_in])
  h = keras.layers.Dense(16, activation="tanh", dtype=F64)(h)
  out = keras.layers.Dense(2, dtype=F64)(h)
  phi = keras.Model({"t": t_in, "c": c_in}, out)
  x = _inputs((5,))
  fd = _central_mixed(phi, x, ["t"], 1e-3, richardson=True).numpy()
  for mode in ("auto", "forward", "tape"):
    got = ai.GradNetwork(phi, mode=mode)(x).numpy()
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8, err_msg=mode)
  integral = ai.definite_integral(phi, -0.3, 0.6, inputs=x).numpy()
  ref = (phi({"t": tf.fill([5, 1], tf.constant(0.6, F64)), "c": x["c"]}) -
         phi({"t": tf.fill([5, 1], tf.constant(-0.3, F64)), "c": x["c"]})).numpy()
  np.testing.assert_allclose(integral, ref, rtol=1e-12)


def test_definite_integral_of_a_bfloat16_network_is_evaluated_in_float32():
  phi = fields.IntegralMLP(input_names=("t", "c"), output_dim=2, dtype="float32")
  low = fields.IntegralMLP(input_names=("t", "c"), output_dim=2, dtype="mixed_bfloat16")
  x = {"t": np.zeros((1, 1), np.float32), "c": np.zeros((1, 2), np.float32)}
  phi(x), low(x)
  low.set_weights(phi.get_weights())
  rng = np.random.default_rng(0)
  a = rng.uniform(-1, 1, (50, 1)).astype(np.float32)
  b = a + rng.uniform(1e-3, 1e-2, (50, 1)).astype(np.float32)  # short intervals: cancellation
  c = {"c": rng.normal(size=(50, 2)).astype(np.float32)}
  want = grad_net.definite_integral(phi, a, b, inputs=c).numpy()
  got = grad_net.definite_integral(low, a, b, inputs=c)
  assert got.dtype == tf.float32
  np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-7)
  # The grad network itself trains in bfloat16 (float32 variables).
  f = grad_net.GradNetwork(low, variables=("t",))
  assert f({"t": a, **c}).dtype == tf.bfloat16 and low.weights[0].dtype == "float32"
