"""Tests of autoint_tf.fields: encodings, MLPs, activations, serialization."""

import numpy as np
import pytest
import tensorflow as tf

from autoint_tf import fields
from autoint_tf import grad_net
from conftest import BATCH_SHAPES
from conftest import assert_layer_contract


def _np_encoding(x, k):
  """[x, sin(2^i x)/2^i for i (octave-major), cos(2^i x)/2^i for i]."""
  sins = [np.sin(2.0**i * x) / 2.0**i for i in range(k)]
  coss = [np.cos(2.0**i * x) / 2.0**i for i in range(k)]
  return np.concatenate([x] + sins + coss, -1)


@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_positional_encoding_is_normalized_nerf_encoding(batch):
  x = np.random.default_rng(0).normal(size=batch + (3,))
  enc = fields.PositionalEncoding(5, dtype="float64")
  got = enc(x).numpy()
  assert got.shape == batch + (3 * 11,)
  np.testing.assert_allclose(got, _np_encoding(x, 5), rtol=1e-12, atol=1e-15)


def test_positional_encoding_derivative_is_bounded_and_exact():
  x = tf.constant(np.linspace(-3, 3, 101)[:, None])
  enc = fields.PositionalEncoding(8, include_input=False, dtype="float64")
  y, y_dot = enc.jvp(x, tf.ones_like(x))
  with tf.GradientTape() as tape:
    tape.watch(x)
    total = enc(x)
  jac = tape.batch_jacobian(total, x)[..., 0]  # [B, 16]
  np.testing.assert_allclose(y_dot.numpy(), jac.numpy(), atol=1e-12)
  assert np.max(np.abs(y_dot.numpy())) <= 1.0 + 1e-12  # normalized: |d/dx| <= 1
  assert y.shape == (101, 16)


def test_plain_positional_encoding_is_nerfs_and_its_jvp_exact():
  x = tf.constant(np.random.default_rng(3).normal(size=(7, 2)))
  enc = fields.PositionalEncoding(4, normalized=False, dtype="float64")
  scales = 2.0 ** np.arange(4)
  xs = x.numpy()[:, None, :] * scales[:, None]
  want = np.concatenate([x.numpy(), np.sin(xs).reshape(7, -1), np.cos(xs).reshape(7, -1)], -1)
  np.testing.assert_allclose(enc(x).numpy(), want, rtol=1e-12)
  x_dot = tf.constant(np.random.default_rng(4).normal(size=(7, 2)))
  with tf.autodiff.ForwardAccumulator(x, x_dot) as acc:
    y = enc(x)
  np.testing.assert_allclose(enc.jvp(x, x_dot)[1].numpy(), acc.jvp(y).numpy(), rtol=1e-10)
  assert fields.PositionalEncoding.from_config(enc.get_config()).normalized is False
  mlp = fields.IntegralMLP(("rho", "t"), plain_inputs=("rho",))
  assert [mlp.encoders[k].normalized for k in ("rho", "t")] == [False, True]
  with pytest.raises(ValueError, match=r"plain_inputs names \['theta'\]"):
    fields.IntegralMLP(("rho", "t"), plain_inputs=("theta",))


@pytest.mark.parametrize("activation", sorted(fields.ACTIVATIONS))
def test_activation_derivatives_match_autodiff(activation):
  z = tf.constant(np.linspace(-2.3, 2.1, 57))
  act, first, second = fields.ACTIVATIONS[activation]
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(z)
    y = act(z, 30.0)
    dy = tape.gradient(y, z)
  np.testing.assert_allclose(first(z, 30.0).numpy(), dy.numpy(), rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(second(z, 30.0).numpy(), tape.gradient(dy, z).numpy(),
                             rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("activation", sorted(fields.ACTIVATIONS))
def test_dual_activation_backward_matches_autodiff_and_second_order(activation):
  # Its hand-written backward pass against autodiff of the same forward expressions, with
  # both outputs in the loss, with only one of them, and under an outer tape (d/dz of dL/dz).
  rng = np.random.default_rng(0)
  z, z_dot, g = (tf.constant(rng.normal(size=(5, 7))) for _ in range(3))
  act, first, _ = fields.ACTIVATIONS[activation]
  for weights in ((1.0, 1.0), (0.0, 1.0), (1.0, 0.0)):
    grads = []
    for dual in (lambda a, b: fields.dual_activation(activation, a, b),
                 lambda a, b: (act(a, 30.0), first(a, 30.0) * b)):
      with tf.GradientTape() as outer:
        outer.watch(z)
        with tf.GradientTape() as tape:
          tape.watch([z, z_dot])
          y, y_dot = dual(z, z_dot)
          loss = tf.reduce_sum(g * (weights[0] * y + weights[1] * y_dot**2))
        gz, gzd = tape.gradient(loss, [z, z_dot])
        total = tf.reduce_sum(gz * g) + tf.reduce_sum(gzd)
      grads.append([gz, gzd, outer.gradient(total, z)])
    for ours, reference in zip(*grads):
      np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-9, atol=1e-9)


def test_requ_is_half_relu_squared():
  z = np.array([-1.0, 0.0, 0.5, 2.0])
  np.testing.assert_allclose(fields.ACTIVATIONS["requ"][0](tf.constant(z), 0.0).numpy(),
                             0.5 * np.maximum(z, 0)**2)


@pytest.mark.parametrize("activation", ["swish", "sine", "requ", "softplus", "tanh", "relu"])
@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_mlp_jvp_matches_forward_accumulator(activation, batch):
  mlp = fields.MLP(3, depth=3, width=16, activation=activation, skips=(2,), dtype="float64")
  x = tf.constant(np.random.default_rng(1).normal(size=batch + (4,)))
  x_dot = tf.constant(np.random.default_rng(2).normal(size=batch + (4,)))
  mlp(x)
  y, y_dot = mlp.jvp(x, x_dot)
  with tf.autodiff.ForwardAccumulator(x, x_dot) as acc:
    y_ref = mlp(x)
  assert y.shape == batch + (3,)
  np.testing.assert_allclose(y.numpy(), y_ref.numpy(), rtol=1e-12)
  np.testing.assert_allclose(y_dot.numpy(), acc.jvp(y_ref).numpy(), rtol=1e-9, atol=1e-12)


def test_sine_mlp_uses_siren_initialization():
  mlp = fields.MLP(1, depth=3, width=64, activation="sine", w0=30.0)
  mlp.build((None, 2))
  first = mlp.kernels[0].numpy()
  hidden = mlp.kernels[1].numpy()
  assert np.max(np.abs(first)) <= 1.0 / 2
  assert np.max(np.abs(hidden)) <= np.sqrt(6.0 / 64) / 30.0 + 1e-7
  assert np.max(np.abs(hidden)) > 0.5 * np.sqrt(6.0 / 64) / 30.0


def test_unknown_activation_names_the_choices():
  with pytest.raises(ValueError, match=r"Unknown activation 'gelu'.*swish"):
    fields.MLP(1, activation="gelu")
  with pytest.raises(ValueError, match="Unknown activation"):
    fields.IntegralMLP(activation="Swish")


def test_integral_mlp_missing_input_key_is_named():
  phi = fields.IntegralMLP(("t", "c"), output_dim=2)
  with pytest.raises(ValueError, match=r"lack keys \['c'\]"):
    phi({"t": np.zeros((2, 1), np.float32)})


def test_integral_mlp_broadcasts_batch_dims_of_inputs():
  phi = fields.IntegralMLP(("t", "c"), output_dim=2, depth=2, width=8, dtype="float64")
  t = np.random.default_rng(0).normal(size=(5, 1))
  c = np.random.default_rng(1).normal(size=(1, 3))
  out = phi({"t": t, "c": c}).numpy()
  full = phi({"t": t, "c": np.repeat(c, 5, 0)}).numpy()
  np.testing.assert_allclose(out, full, rtol=1e-12)


def test_layer_contracts(tmp_path):
  x = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
  assert_layer_contract(fields.PositionalEncoding(3), x, tmp_path)
  assert_layer_contract(fields.MLP(2, depth=2, width=8, activation="sine", skips=(1,)), x,
                        tmp_path)
  inputs = {"t": x[:, :1], "c": x}
  assert_layer_contract(
      fields.IntegralMLP(("t", "c"), output_dim=3, depth=2, width=8,
                         num_frequencies={"t": 3, "c": 1}), inputs, tmp_path)


def _ray_inputs(dims, seed=0):
  rng = np.random.default_rng(seed)
  return {"t": rng.uniform(-1, 1, (5, 1)), "origin": rng.uniform(-.5, .5, (5, dims)),
          "direction": rng.normal(size=(5, dims))}


@pytest.mark.parametrize("make,dims", [
    (lambda: fields.PointIntegralNetwork(depth=2, width=16, dtype="float64"), 2),
    (lambda: fields.RadianceField(num_frequencies=3, direction_frequencies=2, depth=3,
                                  width=16, head_width=8, dtype="float64"), 3)])
def test_point_networks_explicit_jvp_matches_forward_mode(make, dims):
  phi, x = make(), _ray_inputs(dims)
  f_explicit = grad_net.GradNetwork(phi, mode="explicit")(x).numpy()
  f_forward = grad_net.GradNetwork(phi, mode="forward")(x).numpy()
  np.testing.assert_allclose(f_explicit, f_forward, rtol=1e-9, atol=1e-12)


def test_radiance_field_sigma_ignores_the_ray(tmp_path):
  field = fields.RadianceField(num_frequencies=3, direction_frequencies=2, depth=3, width=16,
                               head_width=8, dtype="float64")
  rng = np.random.default_rng(1)
  x = _ray_inputs(3)
  # The same point seen along another ray: the same Phi_sigma, another colour.
  t2 = rng.uniform(-1, 1, (5, 1))
  d2 = rng.normal(size=(5, 3))
  point = x["origin"] + x["t"] * x["direction"]
  other = {"t": t2, "direction": d2, "origin": point - t2 * d2}
  a, b = field(x).numpy(), field(other).numpy()
  np.testing.assert_allclose(a[:, 0], b[:, 0], rtol=1e-10)
  assert np.max(np.abs(a[:, 1:] - b[:, 1:])) > 1e-3
  assert_layer_contract(fields.RadianceField(num_frequencies=2, depth=2, width=8, head_width=4),
                        {k: v.astype(np.float32) for k, v in x.items()}, tmp_path)
