"""An exported model as TF Serving runs it: the TF1 session loader on the `serve` tag and the
SavedModel's `signature_def`s (a plain Keras 3 tf.saved_model.save fails in this loader; the
ExportArchive exports of serving/export.py load). Used by the demo to check an export the way
TF Serving will load it, by `saved_model_cli`-style checks, and by the tests' stand-in server.

  model = SessionModel("exports/autoint/1")
  out = model.run("render_rays", {"rays_o": o, "rays_d": d})   # dict of numpy arrays

Errors are `RequestError`s with TF Serving's status codes (INVALID_ARGUMENT, NOT_FOUND,
INTERNAL) and its messages.
"""

import numpy as np
import tensorflow as tf


class RequestError(Exception):
  """A refused request: `code` is TF Serving's status name, `message` its text."""

  def __init__(self, code, message):
    super().__init__(message)
    self.code, self.message = code, message


class SessionModel:
  """One version of an exported model, loaded with the TF1 session loader."""

  def __init__(self, path):
    self.path = path
    self.graph = tf.Graph()
    self.session = tf.compat.v1.Session(graph=self.graph)
    with self.graph.as_default():
      meta = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], path)
    self.signatures = {k: v for k, v in meta.signature_def.items()
                       if not k.startswith("__")}

  def run(self, signature, inputs, strict_dtypes=False):
    """Runs `signature` on a dict of arrays; returns a dict of arrays.

    strict_dtypes: refuse inputs of another dtype (gRPC tensors carry one; JSON does not).
    """
    if not isinstance(signature, str):  # (a JSON list or object is not hashable)
      raise RequestError("INVALID_ARGUMENT", f"signature_name must be a string, got "
                         f"{type(signature).__name__} {str(signature)[:80]}")
    if signature not in self.signatures:
      raise RequestError("INVALID_ARGUMENT",
                         f'Serving signature key "{signature}" not found.')
    sig = self.signatures[signature]
    if set(inputs) != set(sig.inputs):
      raise RequestError("INVALID_ARGUMENT",
                         f"input size does not match signature: {len(inputs)}!={len(sig.inputs)} "
                         f"len({{{', '.join(sorted(inputs))}}}) != "
                         f"len({{{', '.join(sorted(sig.inputs))}}})")
    feed = {}
    for name, value in inputs.items():
      spec = sig.inputs[name]
      dtype = tf.dtypes.as_dtype(spec.dtype).as_numpy_dtype
      if strict_dtypes and np.asarray(value).dtype != dtype:
        raise RequestError("INVALID_ARGUMENT",
                           f"input {name}: expects arg to be {np.dtype(dtype).name} but "
                           f"{np.asarray(value).dtype.name} is provided")
      try:
        feed[spec.name] = np.asarray(value, dtype=dtype)
      except (TypeError, ValueError) as e:
        raise RequestError("INVALID_ARGUMENT", f"input {name}: {e}") from None
    fetches = {k: v.name for k, v in sig.outputs.items()}
    try:
      return self.session.run(fetches, feed)
    except (tf.errors.InvalidArgumentError, ValueError) as e:
      raise RequestError("INVALID_ARGUMENT", getattr(e, "message", str(e))) from None
    except tf.errors.OpError as e:
      raise RequestError("INTERNAL", e.message) from None
