"""Fields: Keras layers that map coordinates to values (encodings, MLPs, integral networks).

Notation:
  x: [..., D] coordinates (the integration variable t is one of them, or enters through them).
  x_dot: [..., D] a tangent of x (dx/dt); every layer here also propagates tangents
    exactly (`jvp`), which is the hand-written forward-mode path of the grad network.
  phi: [..., C] integral-network outputs (C channels); the integrand f is dphi/dt.
  L: octaves of a positional encoding (`num_frequencies`).

No rays and no derivatives w.r.t. inputs are computed here except through `jvp`; the
automatic derivatives live in `grad_net.py`.

Precision: every layer honours its Keras dtype policy (its own `dtype`, else the global one).
Under a low-precision policy (`mixed_bfloat16`, `mixed_float16`) the variables stay float32,
coordinates and their positional encodings are computed in float32 (bfloat16 keeps 8
significant bits: x = o + t d would move by ~1e-2) and the matrix products run in the low
precision. Inside `full_precision()` the same layers compute everything in float32 with the
same variables: integral networks are evaluated that way for rendering, export and
`definite_integral`, because Phi(b) - Phi(a) cancels badly in low precision. Layers cast their
own inputs (`autocast=False`), so a float32 coordinate reaches them unrounded.

Activations (AutoInt, Sec. 3): the integrand seen in training is phi'(z) of the integral
network's activation, so ReLU (whose grad network is a step function) is offered only for
comparison. `sine` is SIREN's sin(w0 z) with its initialization; `requ` is relu(z)^2 / 2.
"""

import contextlib
import math
import threading

import keras
import tensorflow as tf

_PACKAGE = "autoint_tf"
_LOW_PRECISION = ("bfloat16", "float16")
_SCOPE = threading.local()


@contextlib.contextmanager
def full_precision():
  """Within it (while a function is traced or run eagerly), layers under a low-precision policy
  compute in float32 with their float32 variables."""
  from keras.src.backend import AutocastScope  # pylint: disable=g-import-not-at-top
  previous = getattr(_SCOPE, "full", False)
  _SCOPE.full = True
  try:
    # An explicit "no autocasting" scope: without one, Keras reads the variables of a layer
    # with a mixed policy cast to its compute dtype (even with autocast=False).
    with AutocastScope(None):
      yield
  finally:
    _SCOPE.full = previous


def compute_dtype(layer):
  """The dtype of `layer`'s matrix products: its policy's compute dtype, or float32 inside
  `full_precision()` when that is a low precision."""
  dtype = layer.compute_dtype
  return "float32" if dtype in _LOW_PRECISION and getattr(_SCOPE, "full", False) else dtype


def coordinate_dtype(layer):
  """The dtype of coordinates and their encodings: float32 under a low-precision policy, else
  the compute dtype (e.g. float64)."""
  dtype = layer.compute_dtype
  return "float32" if dtype in _LOW_PRECISION else dtype


def _own_casting(kwargs):
  """Layer kwargs with autocast off: these layers cast their inputs themselves."""
  kwargs.setdefault("autocast", False)
  return kwargs


def _swish_grad(z):
  s = tf.sigmoid(z)
  return s * (1.0 + z * (1.0 - s))


def _swish_second(z):
  s = tf.sigmoid(z)
  return s * (1.0 - s) * (2.0 + z * (1.0 - 2.0 * s))


def _requ(z):
  r = tf.nn.relu(z)
  return 0.5 * r * r


# name -> (activation(z, w0), derivative(z, w0), second derivative(z, w0)), exact closed forms.
ACTIVATIONS = {
    "swish": (lambda z, w0: z * tf.sigmoid(z), lambda z, w0: _swish_grad(z),
              lambda z, w0: _swish_second(z)),
    "sine": (lambda z, w0: tf.sin(w0 * z), lambda z, w0: w0 * tf.cos(w0 * z),
             lambda z, w0: -w0 * w0 * tf.sin(w0 * z)),
    "requ": (lambda z, w0: _requ(z), lambda z, w0: tf.nn.relu(z),
             lambda z, w0: tf.cast(z > 0, z.dtype)),
    "softplus": (lambda z, w0: tf.nn.softplus(z), lambda z, w0: tf.sigmoid(z),
                 lambda z, w0: tf.sigmoid(z) * (1.0 - tf.sigmoid(z))),
    "tanh": (lambda z, w0: tf.tanh(z), lambda z, w0: 1.0 - tf.square(tf.tanh(z)),
             lambda z, w0: -2.0 * tf.tanh(z) * (1.0 - tf.square(tf.tanh(z)))),
    "relu": (lambda z, w0: tf.nn.relu(z), lambda z, w0: tf.cast(z > 0, z.dtype),
             lambda z, w0: tf.zeros_like(z)),
}


def dual_activation(name, z, z_dot, w0=30.0):
  """(a(z), a'(z) z_dot): an activation and its tangent, with a hand-written backward pass.

  The backward pass is the closed form
      dL/dz = g_y a'(z) + g_ydot z_dot a''(z),   dL/dz_dot = g_ydot a'(z),
  a few elementwise products instead of autodiff's longer chain through the forward
  expressions (the explicit grad step takes 0.83x the time, `benchmarks.grad_network` rows (d)
  and (d0)). It is built from differentiable ops, so an outer GradientTape (mixed partials in
  grad_net) still works.
  """
  act, first, second = ACTIVATIONS[name]

  @tf.custom_gradient
  def dual(z, z_dot):
    d = first(z, w0)
    def backward(g_y, g_ydot):
      return g_y * d + g_ydot * z_dot * second(z, w0), g_ydot * d
    return (act(z, w0), d * z_dot), backward

  return dual(z, z_dot)


def check_activation(name):
  """Returns `name` if it is a known activation, else raises a ValueError listing them."""
  if name not in ACTIVATIONS:
    raise ValueError(
        f"Unknown activation {name!r}: choose one of {sorted(ACTIVATIONS)}.")
  return name


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PositionalEncoding(keras.layers.Layer):
  """Normalized positional encoding of AutoInt: [x, sin(2^k x)/2^k, cos(2^k x)/2^k].

  The 1/2^k factor (and no pi) keeps the derivative of every feature bounded by 1,
  so the grad network is not dominated by its highest frequency. That matters for the
  variable the network is integrated along; an input held constant along the integral (a CT
  line's rho and theta) can take NeRF's plain [x, sin(2^k x), cos(2^k x)] instead
  (`normalized=False`), whose fine octaves are not 2^k times weaker.

  Args:
    num_frequencies: int, number L of octaves k = 0..L-1. Defaults to 4.
    include_input: bool, whether x itself is part of the output. Defaults to True.
    normalized: bool, the 1/2^k factor. Defaults to True.

  Call arguments:
    x: [..., D] float tensor.

  Returns:
    [..., D * (include_input + 2L)] features.
  """

  def __init__(self, num_frequencies=4, include_input=True, normalized=True, **kwargs):
    super().__init__(**_own_casting(kwargs))
    if int(num_frequencies) < 0:
      raise ValueError(f"num_frequencies must be >= 0, got {num_frequencies}.")
    self.num_frequencies = int(num_frequencies)
    self.include_input = bool(include_input)
    self.normalized = bool(normalized)

  def _scales(self, dtype):
    return tf.constant([2.0**k for k in range(self.num_frequencies)], dtype)

  def call(self, x):
    return self.jvp(x, None)[0]

  def jvp(self, x, x_dot):
    """Features and their tangent. x, x_dot: [..., D] (x_dot None means zero)."""
    x = tf.cast(x, coordinate_dtype(self))
    x_dot = None if x_dot is None else tf.cast(x_dot, x.dtype)
    parts, dparts = ([x], [x_dot]) if self.include_input else ([], [])
    if self.num_frequencies:
      scales = self._scales(x.dtype)
      xs = x[..., None, :] * scales[:, None]  # [..., L, D]
      new_shape = tf.concat([tf.shape(x)[:-1], [-1]], 0)
      sin, cos = tf.sin(xs), tf.cos(xs)
      if self.normalized:
        sin_part, cos_part = sin / scales[:, None], cos / scales[:, None]
      else:
        sin_part, cos_part = sin, cos
      parts += [tf.reshape(sin_part, new_shape), tf.reshape(cos_part, new_shape)]
      if x_dot is not None:
        xd = x_dot[..., None, :] * (1.0 if self.normalized else scales[:, None])
        dparts += [tf.reshape(cos * xd, new_shape), tf.reshape(-sin * xd, new_shape)]
    y = tf.concat(parts, -1)
    y_dot = None if x_dot is None else tf.concat(dparts, -1)
    return y, y_dot

  def compute_output_shape(self, input_shape):
    d = input_shape[-1]
    mult = int(self.include_input) + 2 * self.num_frequencies
    return tuple(input_shape[:-1]) + (None if d is None else d * mult,)

  def get_config(self):
    config = super().get_config()
    config.update(num_frequencies=self.num_frequencies, include_input=self.include_input,
                  normalized=self.normalized)
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MLP(keras.layers.Layer):
  """Fully connected network: `depth` hidden layers of `width` units, then a linear output.

  Args:
    output_dim: int, number of outputs C.
    depth: int, number of hidden layers. Defaults to 4.
    width: int, hidden units. Defaults to 128.
    activation: str, one of `ACTIVATIONS`. Defaults to "swish".
    w0: float, frequency of the `sine` activation (SIREN). Defaults to 30.
    skips: tuple of hidden-layer indices whose input is concatenated with the MLP's input
      (NeRF-style skip connections). Defaults to ().

  Call arguments:
    x: [..., D] float tensor.

  Returns:
    [..., output_dim] tensor.
  """

  def __init__(self, output_dim, depth=4, width=128, activation="swish", w0=30.0,
               skips=(), **kwargs):
    super().__init__(**_own_casting(kwargs))
    self.output_dim = int(output_dim)
    self.depth = int(depth)
    self.width = int(width)
    self.activation = check_activation(activation)
    self.w0 = float(w0)
    self.skips = tuple(int(s) for s in skips)
    if self.depth < 0 or self.width <= 0 or self.output_dim <= 0:
      raise ValueError(f"MLP needs depth >= 0, width > 0 and output_dim > 0; got "
                       f"depth={depth}, width={width}, output_dim={output_dim}.")

  def _initializers(self, index, fan_in):
    if self.activation != "sine":
      return "glorot_uniform", "zeros"
    # SIREN (Sitzmann et al. 2020): first layer U(-1/n, 1/n); later U(-sqrt(6/n)/w0, .).
    limit = 1.0 / fan_in if index == 0 else math.sqrt(6.0 / fan_in) / self.w0
    bias = 1.0 / math.sqrt(fan_in)
    return (keras.initializers.RandomUniform(-limit, limit),
            keras.initializers.RandomUniform(-bias, bias))

  def build(self, input_shape):
    in_dim = int(input_shape[-1])
    self.kernels, self.biases = [], []
    fan_in = in_dim
    for i in range(self.depth + 1):
      if i in self.skips and 0 < i <= self.depth:
        fan_in += in_dim
      units = self.width if i < self.depth else self.output_dim
      k_init, b_init = self._initializers(i, fan_in)
      if i == self.depth and self.activation == "sine":
        k_init = keras.initializers.RandomUniform(
            -math.sqrt(6.0 / fan_in) / self.w0, math.sqrt(6.0 / fan_in) / self.w0)
      self.kernels.append(self.add_weight(shape=(fan_in, units), initializer=k_init,
                                          name=f"kernel_{i}"))
      self.biases.append(self.add_weight(shape=(units,), initializer=b_init,
                                         name=f"bias_{i}"))
      fan_in = units

  def call(self, x):
    return self.jvp(x, None)[0]

  def jvp(self, x, x_dot):
    """Outputs and their tangent: y, y_dot = MLP(x), dMLP/dx . x_dot (x_dot None: zero)."""
    x = tf.cast(x, compute_dtype(self))
    batch_shape = tf.shape(x)[:-1]
    x2 = tf.reshape(x, [-1, tf.shape(x)[-1]])
    xd2 = None if x_dot is None else tf.reshape(tf.cast(x_dot, x.dtype), tf.shape(x2))
    act = ACTIVATIONS[self.activation][0]
    h, hd = x2, xd2
    for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
      if i in self.skips and 0 < i <= self.depth:
        h = tf.concat([h, x2], -1)
        hd = None if hd is None else tf.concat([hd, xd2], -1)
      kernel = tf.cast(kernel, h.dtype)
      z = tf.matmul(h, kernel) + tf.cast(bias, h.dtype)
      zd = None if hd is None else tf.matmul(hd, kernel)  # the bias has no tangent
      if i < self.depth:
        h, hd = ((act(z, self.w0), None) if zd is None else
                 dual_activation(self.activation, z, zd, self.w0))
      else:
        h, hd = z, zd
    out_shape = tf.concat([batch_shape, [self.output_dim]], 0)
    y = tf.reshape(h, out_shape)
    return y, (None if hd is None else tf.reshape(hd, out_shape))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.output_dim,)

  def get_config(self):
    config = super().get_config()
    config.update(output_dim=self.output_dim, depth=self.depth, width=self.width,
                  activation=self.activation, w0=self.w0, skips=list(self.skips))
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EncodedMLP(keras.layers.Layer):
  """Named inputs -> normalized PE -> MLP: a plain field (e.g. the sampling network) or, as
  `IntegralMLP` (the same class), an integral network Phi: its grad network is trained, Phi
  itself is evaluated at interval ends. The integration variable(s) are among the named inputs
  (for example `t`, or `rho`, `theta`, `t` for CT). Any other Keras layer or model taking a
  dict (or a tensor) works with `GradNetwork` too.

  Args:
    input_names: tuple of str, the keys read from the input dict, in order; None means the
      layer is called on a single [..., D] tensor. Defaults to ("t",).
    output_dim: int, number of outputs C. Defaults to 1.
    depth, width, activation, w0, skips: as in `MLP`.
    num_frequencies: int (same for every input) or dict name -> int, octaves of the
      normalized positional encoding. Defaults to 4.
    plain_inputs: tuple of input names encoded without the 1/2^k factor (inputs held
      constant along the integral; `PositionalEncoding`). Defaults to ().

  Call arguments:
    inputs: dict name -> [..., D_name] tensor (or a [..., D] tensor if input_names is None).

  Returns:
    [..., output_dim] tensor.

  Example:
    >>> sampler = EncodedMLP(input_names=("o", "d"), output_dim=8, activation="relu")
    >>> phi = IntegralMLP(input_names=("t",), output_dim=1)
    >>> f = GradNetwork(phi, variables=("t",))   # dPhi/dt, shares Phi's weights
    >>> integral = definite_integral(phi, a, b)   # Phi(b) - Phi(a)
  """

  def __init__(self, input_names=("t",), output_dim=1, depth=4, width=128,
               activation="swish", w0=30.0, skips=(), num_frequencies=4, plain_inputs=(),
               **kwargs):
    super().__init__(**_own_casting(kwargs))
    self.input_names = None if input_names is None else tuple(input_names)
    if isinstance(num_frequencies, dict):
      num_frequencies = {str(k): int(v) for k, v in num_frequencies.items()}
      unknown = set(num_frequencies) - set(self.input_names or ())
      if unknown:
        raise ValueError(f"num_frequencies names {sorted(unknown)} that are not in "
                         f"input_names {self.input_names}.")
    self.num_frequencies = num_frequencies
    keys = self.input_names or ("x",)
    freqs = {k: (num_frequencies.get(k, 0) if isinstance(num_frequencies, dict)
                 else int(num_frequencies)) for k in keys}
    self.plain_inputs = tuple(plain_inputs)
    unknown = set(self.plain_inputs) - set(keys)
    if unknown:
      raise ValueError(f"plain_inputs names {sorted(unknown)} that are not in input_names "
                       f"{self.input_names}.")
    self.encoders = {k: PositionalEncoding(freqs[k], normalized=k not in self.plain_inputs,
                                           dtype=self.dtype_policy, name=f"pe_{k}")
                     for k in keys}
    self.mlp = MLP(output_dim, depth=depth, width=width, activation=activation, w0=w0,
                   skips=skips, dtype=self.dtype_policy, name="mlp")
    self.output_dim = int(output_dim)

  def _as_dict(self, inputs, what="inputs"):
    if self.input_names is None:
      if isinstance(inputs, dict):
        raise ValueError(f"This {type(self).__name__} was built with input_names=None and takes a "
                         f"tensor, but got a dict with keys {sorted(inputs)}.")
      return {"x": inputs}
    if not isinstance(inputs, dict):
      raise ValueError(f"{type(self).__name__} takes a dict with keys {self.input_names} as {what}, "
                       f"got {type(inputs).__name__}.")
    missing = [k for k in self.input_names if k not in inputs]
    if missing:
      raise ValueError(f"{type(self).__name__} {what} lack keys {missing}; it needs "
                       f"{list(self.input_names)} and got {sorted(inputs)}.")
    return inputs

  def build(self, input_shape):
    shapes = self._as_dict(input_shape, "input shapes")
    total = 0
    for k, enc in self.encoders.items():
      enc.build(shapes[k])
      total += enc.compute_output_shape(tuple(shapes[k]))[-1]
    self.mlp.build((None, total))

  def call(self, inputs):
    return self.jvp(inputs, None)[0]

  def jvp(self, inputs, tangents):
    """Outputs and tangents. tangents: same structure as inputs (missing or None = 0)."""
    inputs = self._as_dict(inputs)
    if tangents is not None and not isinstance(tangents, dict):
      tangents = {"x": tangents}
    tangents = tangents or {}
    feats, dfeats, any_tangent = [], [], False
    dtype = coordinate_dtype(self)
    for k, enc in self.encoders.items():
      x = tf.cast(inputs[k], dtype)
      xd = tangents.get(k)
      any_tangent |= xd is not None
      f, fd = enc.jvp(x, None if xd is None else tf.cast(xd, dtype))
      feats.append(f)
      dfeats.append(tf.zeros_like(f) if fd is None else fd)
    feats = _broadcast_concat(feats)
    dfeats = _broadcast_concat(dfeats) if any_tangent else None
    if dfeats is not None:
      dfeats = tf.broadcast_to(dfeats, tf.shape(feats))
    return self.mlp.jvp(feats, dfeats)

  def compute_output_shape(self, input_shape):
    shapes = self._as_dict(input_shape, "input shapes")
    return tuple(shapes[next(iter(self.encoders))][:-1]) + (self.output_dim,)

  def get_config(self):
    config = super().get_config()
    mlp = self.mlp
    config.update(input_names=None if self.input_names is None else list(self.input_names),
                  output_dim=self.output_dim, depth=mlp.depth, width=mlp.width,
                  activation=mlp.activation, w0=mlp.w0, skips=list(mlp.skips),
                  num_frequencies=self.num_frequencies, plain_inputs=list(self.plain_inputs))
    return config


IntegralMLP = EncodedMLP  # an integral network is an EncodedMLP that gets integrated


def with_dtype(layer, dtype, example_inputs):
  """A copy of a (built) layer computing in `dtype` with the same weights, cast.

  Evaluating a trained fp32 integral network in float64 removes the cancellation error of
  Phi(b) - Phi(a) for short intervals (the function itself is unchanged).
  """
  config = layer.get_config()
  config["dtype"] = dtype
  clone = layer.__class__.from_config(config)
  clone(example_inputs)
  clone.set_weights([w.astype(dtype) for w in layer.get_weights()])
  return clone


def _broadcast_concat(tensors):
  """Concatenates [..., D_i] tensors on the last axis after broadcasting their batch dims."""
  if len(tensors) == 1:
    return tensors[0]
  batch = tf.shape(tensors[0])[:-1]
  for t in tensors[1:]:
    batch = tf.broadcast_dynamic_shape(batch, tf.shape(t)[:-1])
  return tf.concat([tf.broadcast_to(t, tf.concat([batch, tf.shape(t)[-1:]], 0))
                    for t in tensors], -1)


ORIENTATIONS = ("direction", "ray", "none")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PointField(keras.layers.Layer):
  """A field of the point x(t) = origin + t * direction (and optionally of the orientation):
  read as a value at points (the quadrature baseline's fields) or, as `PointIntegralNetwork`
  (the same class), integrated along t.

  Args:
    output_dim: channels of Phi. Defaults to 1.
    num_frequencies: PE octaves of the point. Defaults to 10.
    direction_frequencies: PE octaves of the orientation. Defaults to 2.
    orientation: what else Phi sees: "direction" (u), "ray" (origin and u: the paper's 6-D ray
      orientation for volume rendering) or "none" (the point only).
    depth, width, activation, w0: as in `MLP`.

  Call arguments:
    inputs: dict with "t" [..., 1], "origin" [..., D], "direction" [..., D].

  Returns:
    [..., output_dim] tensor.
  """

  def __init__(self, num_frequencies=10, direction_frequencies=2, depth=4, width=128,
               activation="swish", w0=30.0, output_dim=1, orientation="direction", **kwargs):
    super().__init__(**_own_casting(kwargs))
    if orientation not in ORIENTATIONS:
      raise ValueError(f"orientation={orientation!r}: choose one of {ORIENTATIONS}.")
    names = ("x",) if orientation == "none" else ("x", "orientation")
    self.net = EncodedMLP(
        names, output_dim=output_dim, depth=depth, width=width, activation=activation, w0=w0,
        num_frequencies={"x": num_frequencies, "orientation": direction_frequencies}
        if orientation != "none" else {"x": num_frequencies},
        dtype=self.dtype_policy, name="mlp")
    self.orientation = orientation
    self.output_dim = output_dim
    self._config = dict(num_frequencies=num_frequencies,
                        direction_frequencies=direction_frequencies, depth=depth,
                        width=width, activation=activation, w0=w0, output_dim=output_dim,
                        orientation=orientation)

  def _orientation(self, origin, u):
    if self.orientation == "direction":
      return {"orientation": u}
    if self.orientation == "ray":
      return {"orientation": tf.concat([origin, u], -1)}
    return {}

  def build(self, input_shape):
    o = tuple(input_shape["origin"])
    shapes = {"x": o, "orientation": o[:-1] + (
        o[-1] * (2 if self.orientation == "ray" else 1),)}
    self.net.build({k: v for k, v in shapes.items() if k in self.net.input_names})

  def _point(self, inputs):
    dtype = coordinate_dtype(self)
    t = tf.cast(inputs["t"], dtype)
    u = tf.cast(inputs["direction"], dtype)
    origin = tf.cast(inputs["origin"], dtype)
    return {"x": origin + t * u, **self._orientation(origin, u)}

  def call(self, inputs):
    return self.net(self._point(inputs))

  def jvp(self, inputs, tangents):
    """Tangent along t only (what the grad network needs): dx = dt * direction."""
    x = self._point(inputs)
    t_dot = (tangents or {}).get("t")
    u = tf.cast(inputs["direction"], x["x"].dtype)
    x_dot = None if t_dot is None else {"x": tf.cast(t_dot, x["x"].dtype) * u}
    return self.net.jvp(x, x_dot)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape["t"][:-1]) + (self.output_dim,)

  def get_config(self):
    return {**super().get_config(), **self._config}


# Phi(x(t), orientation) integrated along t: t enters only through the point, so the grad
# network dPhi/dt = grad_x Phi . direction is a field over space (any dimension).
PointIntegralNetwork = PointField


@keras.saving.register_keras_serializable(package=_PACKAGE)
class RadianceField(keras.layers.Layer):
  """The density and colour integral networks of a radiance field with one shared trunk:
  Phi(x(t), orientation) [..., 1 + 3] with x(t) = origin + t * direction.

    features = trunk(PE(x))                       (MLP, linear last layer of `width`)
    Phi_sigma = linear(features)                  (the point only: view-consistent density)
    Phi_color = head([features, PE(orientation)]) (MLP of `head_depth` x `head_width`)

  One forward-mode pass through the trunk gives both grad networks (about half the work of
  two separate networks), and the ray orientation enters only the colour head (the official
  code's issue #9: its density is view-dependent).

  Args:
    num_frequencies: PE octaves of the point. Defaults to 10.
    direction_frequencies: PE octaves of the orientation. Defaults to 4.
    depth, width, activation, w0: the trunk, as in `MLP` (depth - 1 hidden layers and a
      linear layer of `width` features). Defaults to 4, 128, "swish", 30.
    head_depth, head_width: the colour head's hidden layers. Defaults to 1, 64.
    orientation: "ray" (origin and direction: the paper's 6-D orientation) or "direction".

  Call arguments:
    inputs: dict with "t" [..., 1], "origin" [..., 3], "direction" [..., 3].

  Returns:
    [..., 4] tensor: Phi_sigma, then the three colour channels.
  """

  def __init__(self, num_frequencies=10, direction_frequencies=4, depth=4, width=128,
               activation="swish", w0=30.0, head_depth=1, head_width=64, orientation="ray",
               **kwargs):
    super().__init__(**_own_casting(kwargs))
    if orientation not in ("ray", "direction"):
      raise ValueError(f"orientation={orientation!r}: choose 'ray' or 'direction'.")
    self.orientation = orientation
    self.encode_x = PositionalEncoding(num_frequencies, dtype=self.dtype_policy, name="pe_x")
    self.encode_o = PositionalEncoding(direction_frequencies, dtype=self.dtype_policy,
                                       name="pe_orientation")
    self.trunk = MLP(width, depth=max(depth - 1, 0), width=width, activation=activation, w0=w0,
                     dtype=self.dtype_policy, name="trunk")
    self.sigma_head = MLP(1, depth=0, dtype=self.dtype_policy, name="sigma")
    self.color_head = MLP(3, depth=head_depth, width=head_width, activation=activation, w0=w0,
                          dtype=self.dtype_policy, name="color")
    self._config = dict(num_frequencies=num_frequencies,
                        direction_frequencies=direction_frequencies, depth=depth, width=width,
                        activation=activation, w0=w0, head_depth=head_depth,
                        head_width=head_width, orientation=orientation)

  def _orientation(self, inputs):
    u = tf.cast(inputs["direction"], coordinate_dtype(self))
    if self.orientation == "ray":
      return tf.concat([tf.cast(inputs["origin"], u.dtype), u], -1)
    return u

  def build(self, input_shape):
    d = int(input_shape["origin"][-1])
    x_dim = self.encode_x.compute_output_shape((None, d))[-1]
    o_dim = self.encode_o.compute_output_shape(
        (None, d * (2 if self.orientation == "ray" else 1)))[-1]
    width = self._config["width"]
    self.trunk.build((None, x_dim))
    self.sigma_head.build((None, width))
    self.color_head.build((None, width + o_dim))

  def call(self, inputs):
    return self.jvp(inputs, None)[0]

  def jvp(self, inputs, tangents):
    """Outputs and their tangent along t (dx = dt * direction; the orientation is constant)."""
    dtype = coordinate_dtype(self)
    u = tf.cast(inputs["direction"], dtype)
    x = tf.cast(inputs["origin"], dtype) + tf.cast(inputs["t"], dtype) * u
    t_dot = (tangents or {}).get("t")
    x_dot = None if t_dot is None else tf.cast(t_dot, dtype) * u
    e, e_dot = self.encode_x.jvp(x, x_dot)
    h, h_dot = self.trunk.jvp(e, e_dot)
    sigma, sigma_dot = self.sigma_head.jvp(h, h_dot)
    o = tf.cast(self.encode_o.jvp(self._orientation(inputs), None)[0], h.dtype)
    o = tf.broadcast_to(o, tf.concat([tf.shape(h)[:-1], tf.shape(o)[-1:]], 0))
    color_in = tf.concat([h, o], -1)
    color_dot_in = None if h_dot is None else tf.concat([h_dot, tf.zeros_like(o)], -1)
    color, color_dot = self.color_head.jvp(color_in, color_dot_in)
    y = tf.concat([sigma, color], -1)
    return y, (None if h_dot is None else tf.concat([sigma_dot, color_dot], -1))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape["t"][:-1]) + (4,)

  def get_config(self):
    return {**super().get_config(), **self._config}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TwoNetworkRadianceField(keras.layers.Layer):
  """The paper's density and colour networks as one layer: two `PointField`s,
  Phi(x(t), orientation) [..., 1 + 3] with x(t) = origin + t * direction (the same interface
  as `RadianceField`, so a renderer works on either).

  Args:
    num_frequencies, direction_frequencies, depth, width, activation, w0: as in `PointField`,
      for both networks. Defaults to 10, 4, 4, 128, "swish", 30.
    view_consistent_sigma: the density network sees only the point (the official code's sees
      the ray, its issue #9). Defaults to False.
    orientation: what the colour network sees besides the point: "ray" or "direction".

  Call arguments:
    inputs: dict with "t" [..., 1], "origin" [..., 3], "direction" [..., 3].

  Returns:
    [..., 4] tensor: Phi_sigma, then the three colour channels.
  """

  def __init__(self, num_frequencies=10, direction_frequencies=4, depth=4, width=128,
               activation="swish", w0=30.0, view_consistent_sigma=False, orientation="ray",
               **kwargs):
    super().__init__(**_own_casting(kwargs))
    common = dict(num_frequencies=num_frequencies, direction_frequencies=direction_frequencies,
                  depth=depth, width=width, activation=activation, w0=w0,
                  dtype=self.dtype_policy)
    self.sigma = PointField(output_dim=1, orientation="none" if view_consistent_sigma else "ray",
                            name="sigma", **common)
    self.color = PointField(output_dim=3, orientation=orientation, name="color", **common)
    self._config = dict(num_frequencies=num_frequencies,
                        direction_frequencies=direction_frequencies, depth=depth, width=width,
                        activation=activation, w0=w0,
                        view_consistent_sigma=view_consistent_sigma, orientation=orientation)

  def build(self, input_shape):
    self.sigma.build(input_shape)
    self.color.build(input_shape)

  def call(self, inputs):
    return tf.concat([self.sigma(inputs), self.color(inputs)], -1)

  def jvp(self, inputs, tangents):
    """Outputs and their tangent along t, each network's `PointField.jvp` side by side."""
    (s, s_dot), (c, c_dot) = self.sigma.jvp(inputs, tangents), self.color.jvp(inputs, tangents)
    return tf.concat([s, c], -1), (None if s_dot is None else tf.concat([s_dot, c_dot], -1))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape["t"][:-1]) + (4,)

  def get_config(self):
    return {**super().get_config(), **self._config}
