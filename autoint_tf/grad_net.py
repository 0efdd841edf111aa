"""Grad networks and definite integrals: the only code that differentiates w.r.t. inputs.

Notation (AutoInt, Sec. 3 and supplement):
  phi: the integral network Phi(t, c), any Keras layer/model/callable. It is called with a
    dict of named tensors (integration variables are keys) or with one [..., D] tensor
    (integration variables are column indices).
  t_1..t_d: integration variables, each [..., 1].
  f: the grad network d^d Phi / dt_1...dt_d, [..., K]: what is trained on integrand samples.
  integral over the box [a, b] (a, b: [..., d]) = sum over the 2^d corners v of
    (-1)^(number of lower bounds in v) Phi(v, c)        (d = 1: Phi(b) - Phi(a)).

Modes of the grad network (all share Phi's weights). They differ in how the innermost
derivative d/dt_d is taken; the outer ones (d > 1) always use `tf.GradientTape`, one
gradient per output channel, because nested `ForwardAccumulator`s give wrong gradients
w.r.t. the weights in TF 2.21 (their values are right; tests/test_grad_net.py checks both):
  "forward":  `tf.autodiff.ForwardAccumulator`, tangent dt_d = 1, all channels at once.
  "tape":     `tf.GradientTape`, one gradient per channel (reference; costlier).
  "explicit": Phi's own hand-written `jvp(inputs, tangents)`, available on
              `IntegralMLP`/`MLP`, all channels at once.
  "auto":     "explicit" when Phi has a jvp, else "forward" (picked by
              benchmarks/grad_network.py, see BENCHMARKS.md).
"""

import itertools

import keras
import tensorflow as tf

from autoint_tf import fields

MODES = ("auto", "forward", "tape", "explicit")


def _normalize_variables(variables):
  if isinstance(variables, (str, int)):
    variables = (variables,)
  variables = tuple(variables)
  if not variables:
    raise ValueError("At least one integration variable is needed, got variables=().")
  if len(set(variables)) != len(variables):
    raise ValueError(f"Integration variables must be distinct, got {variables}.")
  kinds = {isinstance(v, str) for v in variables}
  if len(kinds) != 1 or not all(isinstance(v, (str, int)) for v in variables):
    raise ValueError("Integration variables are all names (dict inputs) or all column "
                     f"indices (tensor input), got {variables}.")
  return variables


def _check_finite(tensor, name, where):
  return tf.debugging.assert_all_finite(
      tensor, f"{where}: input '{name}' contains NaN or inf; remove or clip those values.")


class _Slots:
  """Reads and writes the integration variables of one input structure."""

  def __init__(self, inputs, variables, where):
    self.where = where
    self.variables = variables
    self.is_dict = isinstance(inputs, dict)
    if self.is_dict:
      if not isinstance(variables[0], str):
        raise ValueError(f"{where}: Phi takes a dict, so integration variables must be "
                         f"input names, got {variables}.")
      missing = [v for v in variables if v not in inputs]
      if missing:
        raise ValueError(
            f"{where}: integration variable(s) {missing} are not inputs of Phi; its inputs "
            f"are {sorted(inputs)}. Pass variables= naming Phi's inputs.")
      self.inputs = {k: tf.convert_to_tensor(v) for k, v in inputs.items()}
      for v in variables:
        last = self.inputs[v].shape[-1] if self.inputs[v].shape.rank else None
        if last != 1:
          raise ValueError(f"{where}: integration variable '{v}' must have shape [..., 1], "
                           f"got {self.inputs[v].shape}.")
    else:
      if not isinstance(variables[0], int):
        raise ValueError(f"{where}: Phi takes a tensor, so integration variables must be "
                         f"column indices, got {variables}.")
      self.inputs = tf.convert_to_tensor(inputs)
      dim = self.inputs.shape[-1]
      bad = [v for v in variables if dim is not None and not -dim <= v < dim]
      if bad:
        raise ValueError(f"{where}: integration variable column(s) {bad} are not inputs "
                         f"of Phi, whose input has {dim} columns.")
      self.variables = tuple(v % dim for v in variables)

  def check_finite(self):
    items = self.inputs.items() if self.is_dict else [("inputs", self.inputs)]
    checks = [_check_finite(x, k, self.where) for k, x in items if x.dtype.is_floating]
    return checks

  def get(self):
    if self.is_dict:
      return [self.inputs[v] for v in self.variables]
    return [self.inputs[..., v:v + 1] for v in self.variables]

  def set(self, values):
    if self.is_dict:
      out = dict(self.inputs)
      out.update(zip(self.variables, values))
      return out
    cols = tf.unstack(self.inputs, axis=-1)
    for v, val in zip(self.variables, values):
      cols[v] = val[..., 0]
    return tf.stack(cols, -1)

  def tangent(self, inputs, i):
    """Tangent of `inputs` (this structure) for d/dt_i: one on variable i, zero elsewhere."""
    v = self.variables[i]
    if self.is_dict:
      return {v: tf.ones_like(inputs[v])}
    return tf.one_hot(tf.fill(tf.shape(inputs)[:-1], v), tf.shape(inputs)[-1],
                      dtype=inputs.dtype)


def _unconnected(where, name):
  return ValueError(
      f"{where}: the output of Phi does not depend on integration variable {name!r}, so its "
      "grad network would be zero. Make the variable an input of Phi (or fix variables=).")


def _channels(y, where):
  """Output channels of y [..., K], split while the tape records (K must be static)."""
  if y.shape[-1] is None:
    raise ValueError(f"{where}: Phi needs a static number of output channels.")
  return tf.unstack(y, axis=-1)


def _per_channel_gradient(tape, channels, x, where, name):
  """d channels[k] / d x for every channel k (rows are independent): [..., K]."""
  grads = [tape.gradient(c, x) for c in channels]
  if any(g is None for g in grads):
    raise _unconnected(where, name)
  return tf.concat(grads, -1)


def _partial(inner, values, i, where, names):
  """d^(d-i) Phi / dt_i..dt_d: `inner` takes d/dt_d, GradientTapes take the others."""
  if i == len(values) - 1:
    return inner(values)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(values[i])
    channels = _channels(_partial(inner, values, i + 1, where, names), where)
  out = _per_channel_gradient(tape, channels, values[i], where, names[i])
  del tape
  return out


def mixed_partial(phi, inputs, variables=("t",), mode="auto", validate=True,
                  where="GradNetwork"):
  """d^d Phi / dt_1 ... dt_d at `inputs` (the grad network's output).

  Args:
    phi: the integral network (callable on `inputs`).
    inputs: dict name -> [..., D] tensor, or a [..., D] tensor.
    variables: names (dict) or column indices (tensor) of the integration variables.
    mode: one of MODES.
    validate: check inputs for NaN/inf.
    where: name used in error messages.

  Returns:
    [..., K] tensor.

  Raises:
    ValueError: unknown mode, a variable that is not an input of Phi or that Phi's output
      does not depend on. InvalidArgumentError: NaN or inf in the inputs (validate=True).
  """
  variables = _normalize_variables(variables)
  if mode not in MODES:
    raise ValueError(f"{where}: unknown mode {mode!r}; choose one of {MODES}.")
  slots = _Slots(inputs, variables, where)
  deps = slots.check_finite() if validate else []
  explicit_ok = callable(getattr(phi, "jvp", None))
  if mode == "explicit" and not explicit_ok:
    raise ValueError(f"{where}: mode='explicit' needs a Phi with a jvp() method "
                     f"(IntegralMLP, MLP); got {type(phi).__name__}. Use mode='forward'.")
  if mode == "auto":
    mode = "explicit" if explicit_ok else "forward"
  last = variables[-1]

  def inner(values):  # d Phi / dt_d at `values`, all output channels
    if mode == "explicit":
      x = slots.set(values)
      y_dot = phi.jvp(x, slots.tangent(x, len(values) - 1))[1]
    elif mode == "forward":
      with tf.autodiff.ForwardAccumulator(values[-1], tf.ones_like(values[-1])) as acc:
        y = phi(slots.set(values))
      y_dot = acc.jvp(y)
    else:
      with tf.GradientTape(persistent=True) as tape:
        tape.watch(values[-1])
        channels = _channels(phi(slots.set(values)), where)
      return _per_channel_gradient(tape, channels, values[-1], where, last)
    if y_dot is None:
      raise _unconnected(where, last)
    return y_dot

  with tf.control_dependencies(deps):
    return _partial(inner, slots.get(), 0, where, variables)


@keras.saving.register_keras_serializable(package="autoint_tf")
class GradNetwork(keras.layers.Layer):
  """The grad network of an integral network: f = d^d Phi / dt_1...dt_d.

  It owns no weights of its own: it tracks `integral_network`, so training this layer
  trains Phi (Phi's last bias gets no gradient: it is the constant of integration).

  Args:
    integral_network: Keras layer or model, Phi.
    variables: tuple of input names (Phi takes a dict) or column indices (Phi takes a
      tensor) of the integration variables; d = len(variables). Defaults to ("t",).
    mode: "auto", "forward", "tape" or "explicit" (see module doc). Defaults to "auto".
    validate: check inputs for NaN/inf. Defaults to True.

  Call arguments:
    inputs: what Phi takes: dict name -> [..., D] or a [..., D] tensor.

  Returns:
    [..., K] tensor, K = number of Phi's outputs (all channels in one pass).

  Example:
    >>> phi = IntegralMLP(input_names=("t",), output_dim=3)
    >>> f = GradNetwork(phi)
    >>> f({"t": tf.zeros([8, 1])}).shape
    TensorShape([8, 3])
  """

  def __init__(self, integral_network, variables=("t",), mode="auto", validate=True,
               **kwargs):
    if "dtype" not in kwargs and getattr(integral_network, "dtype_policy", None) is not None:
      kwargs["dtype"] = integral_network.dtype_policy
    kwargs.setdefault("autocast", False)  # Phi casts its inputs (coordinates stay float32)
    super().__init__(**kwargs)
    if mode not in MODES:
      raise ValueError(f"Unknown GradNetwork mode {mode!r}; choose one of {MODES}.")
    self.integral_network = integral_network
    self.integration_variables = _normalize_variables(variables)
    self.mode = mode
    self.validate = bool(validate)

  def build(self, input_shape):
    if not self.integral_network.built:
      self.integral_network.build(input_shape)

  def call(self, inputs):
    return mixed_partial(self.integral_network, inputs, self.integration_variables, self.mode,
                         self.validate, where=self.name)

  def compute_output_shape(self, input_shape):
    return self.integral_network.compute_output_shape(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update(
        integral_network=keras.saving.serialize_keras_object(self.integral_network),
        variables=list(self.integration_variables), mode=self.mode, validate=self.validate)
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["integral_network"] = keras.saving.deserialize_keras_object(
        config["integral_network"])
    return cls(**config)


def _float_dtype(x):
  dtype = getattr(x, "dtype", None)
  return dtype if dtype is not None and tf.as_dtype(dtype).is_floating else tf.float32


def _as_float(x, dtype):
  return tf.cast(x, dtype) if tf.is_tensor(x) else tf.convert_to_tensor(x, dtype)


def _bound(x, d, name):
  x = tf.convert_to_tensor(x)
  if d == 1 and (x.shape.rank == 0 or x.shape[-1] != 1):
    x = x[..., None]
  if x.shape.rank == 0 or x.shape[-1] != d:
    raise ValueError(f"definite_integral: `{name}` must have shape [..., {d}] for {d} "
                     f"integration variable(s), got {x.shape}.")
  return x


def _integral_dtype(phi, inputs, lower):
  """The dtype definite_integral computes in: that of what Phi is fed (the other inputs),
  else Phi's, else the bounds'."""
  fed = list(inputs.values()) if isinstance(inputs, dict) else [inputs]
  given = [v for v in fed if getattr(v, "dtype", None) is not None and
           tf.as_dtype(v.dtype).is_floating]
  if given:
    return _float_dtype(given[0])
  return tf.as_dtype(fields.coordinate_dtype(phi) if hasattr(phi, "compute_dtype")
                     else _float_dtype(lower))


def _batch_shape(lower, upper, inputs, others):
  """The static batch shape that the bounds and the other inputs broadcast to, or a
  ValueError naming the first that does not fit."""
  shapes = [("lower", lower.shape[:-1]), ("upper", upper.shape[:-1])]
  shapes += [(f"inputs[{k!r}]", v.shape[:-1]) for k, v in others.items()]
  if not isinstance(inputs, dict):
    shapes.append(("inputs", tf.convert_to_tensor(inputs).shape[:-1]))
  batch = tf.TensorShape([])
  for name, shape in shapes:
    try:
      batch = tf.broadcast_static_shape(batch, shape)
    except ValueError:
      described = ", ".join(f"{n} {s}" for n, s in shapes)
      raise ValueError(f"definite_integral: batch shapes do not broadcast: {described} "
                       f"({name} is the first that does not fit).") from None
  return batch


def _corner_inputs(inputs, others, variables, lower, upper, batch, dtype, validate):
  """Phi's inputs at the 2^d corners of the box [lower, upper] (a leading axis of 2^d, the
  batch broadcast), the inclusion-exclusion signs [2^d] and the dynamic batch shape."""
  d = len(variables)
  corners = list(itertools.product((0, 1), repeat=d))  # 1 = upper bound
  signs = tf.constant([(-1.0)**(d - sum(c)) for c in corners], dtype)
  sel = tf.constant(corners, dtype)  # [2^d, d]
  n = len(corners)

  tensors = [lower, upper] + list(others.values())
  if not isinstance(inputs, dict):
    tensors.append(tf.convert_to_tensor(inputs))
  batch_dyn = tf.shape(lower)[:-1]
  for x in tensors[1:]:
    batch_dyn = tf.broadcast_dynamic_shape(batch_dyn, tf.shape(x)[:-1])

  def expand(x):  # [..., m] -> [2^d, *batch, m]
    x = tf.convert_to_tensor(x)
    return tf.broadcast_to(x[None], tf.concat([[n], batch_dyn, tf.shape(x)[-1:]], 0))

  bshape = [n] + [1] * batch.rank + [d]
  pts = (expand(lower) * (1.0 - tf.reshape(sel, bshape)) +
         expand(upper) * tf.reshape(sel, bshape))  # [2^d, ..., d]
  if isinstance(inputs, dict):
    full = {k: expand(tf.cast(v, dtype) if v.dtype.is_floating else v)
            for k, v in others.items()}
    if not isinstance(variables[0], str):
      raise ValueError("definite_integral: Phi takes a dict, so variables must be names, "
                       f"got {variables}.")
    full.update({v: pts[..., i:i + 1] for i, v in enumerate(variables)})
  else:
    full = expand(tf.cast(inputs, dtype))
  slots = _Slots(full, variables, "definite_integral")
  if validate:
    with tf.control_dependencies(slots.check_finite()):
      pts = tf.identity(pts)
  values = slots.set([pts[..., i:i + 1] for i in range(d)])
  return values, signs, batch_dyn


def definite_integral(phi, lower, upper, inputs=None, variables=("t",), validate=True):
  """Integral of the grad network over [lower, upper] from 2^d evaluations of Phi.

  d = 1: Phi(upper, c) - Phi(lower, c). d > 1: inclusion-exclusion over the box corners.
  All corners are evaluated in one batched call of Phi.

  Args:
    phi: the integral network.
    lower: [..., d] (or [...] when d = 1) lower bounds a.
    upper: [..., d] (or [...] when d = 1) upper bounds b.
    inputs: the other inputs c, constant along the integral: a dict (Phi takes a dict;
      integration-variable keys, if present, are ignored), a [..., D] tensor whose
      variable columns are ignored (Phi takes a tensor), or None (Phi takes only the
      variables: a dict of them if `variables` are names, a [..., d] tensor if indices).
    variables: names or column indices of the integration variables. Defaults to ("t",).
    validate: check bounds and inputs for NaN/inf. Defaults to True.

  Returns:
    [..., K] integrals, batch dims broadcast from lower, upper and inputs. Phi is evaluated in
    float32 under a low-precision Keras policy (`fields.full_precision`).

  Raises:
    ValueError: bounds of the wrong shape or whose batch shapes do not broadcast,
      variables that are not inputs of Phi. InvalidArgumentError: NaN or inf.
  """
  variables = _normalize_variables(variables)
  d = len(variables)
  dtype = _integral_dtype(phi, inputs, lower)
  lower = _bound(_as_float(lower, dtype), d, "lower")
  upper = _bound(_as_float(upper, dtype), d, "upper")
  if inputs is None:
    inputs = ({v: lower[..., i:i + 1] for i, v in enumerate(variables)}
              if isinstance(variables[0], str) else lower)
  others = ({k: tf.convert_to_tensor(v) for k, v in inputs.items() if k not in variables}
            if isinstance(inputs, dict) else {})
  batch = _batch_shape(lower, upper, inputs, others)
  deps = []
  if validate:
    deps = [_check_finite(lower, "lower", "definite_integral"),
            _check_finite(upper, "upper", "definite_integral")]
  with tf.control_dependencies(deps):
    lower, upper = tf.identity(lower), tf.identity(upper)
  values, signs, batch_dyn = _corner_inputs(inputs, others, variables, lower, upper, batch,
                                            dtype, validate)
  n = signs.shape[0]
  # Flatten [2^d, *batch] to one batch axis: Keras models often fix the input rank.
  flat = tf.nest.map_structure(lambda v: tf.reshape(v, [-1, tf.shape(v)[-1]]), values)
  with fields.full_precision():  # (Phi(b) - Phi(a) cancels badly in bfloat16)
    out = tf.convert_to_tensor(phi(flat))  # [2^d * batch, K]
  phi_corners = tf.reshape(out, tf.concat([[n], batch_dyn, tf.shape(out)[-1:]], 0))
  phi_corners.set_shape([n] + [None] * batch.rank + [out.shape[-1]])
  signs = tf.reshape(tf.cast(signs, phi_corners.dtype), [n] + [1] * (phi_corners.shape.rank - 1))
  return tf.reduce_sum(signs * phi_corners, axis=0)
