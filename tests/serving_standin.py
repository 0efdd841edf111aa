"""A loopback stand-in for tensorflow_model_server (a test fixture, not a product).

No tensorflow_model_server binary can be installed on these machines, so the tests check the
serving contract against this: it loads every version under EXPORT_BASE/MODEL_NAME/ with the
TF1 session loader (what TF Serving uses; a plain Keras 3 tf.saved_model.save fails there) and
answers the documented calls the way TF Serving does:
  gRPC  tensorflow.serving.PredictionService/Predict, /GetModelMetadata
  REST  POST /v1/models/NAME[/versions/V]:predict  (row "instances" or columnar "inputs")
        GET  /v1/models/NAME[/versions/V]/metadata, GET /v1/models/NAME[/versions/V]
Errors: NOT_FOUND (HTTP 404) for an unknown model or version, INVALID_ARGUMENT (HTTP 400) for
a bad request (unknown signature, missing/extra inputs, malformed JSON, failed checks).

Stricter than TF Serving in one place: a TensorProto whose value count differs from its shape
is refused (TF's Tensor::FromProto pads a short repeated field with its last value). Malformed
HTTP (a Content-Length that is not a number, negative, too large, or longer than the body; JSON
nested too deeply) gets an error within `BODY_TIMEOUT` seconds, never a hang.
"""

import concurrent.futures
import contextlib
import http.server
import json
import os
import re
import socket
import threading

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from autoint_tf.serving.session import RequestError
from autoint_tf.serving.session import SessionModel


BODY_TIMEOUT = 5.0         # seconds a REST request may take to send its body
MAX_BODY = 1 << 30         # bytes
_VALUE_FIELDS = {"float_val": np.float32, "double_val": np.float64, "int_val": np.int32,
                 "int64_val": np.int64, "bool_val": np.bool_, "half_val": np.float16,
                 "string_val": object}


def tensor_from_proto(name, proto):
  """The array of a request's TensorProto; refuses (INVALID_ARGUMENT naming the input) a proto
  whose number of values or bytes disagrees with its shape."""
  dims = [d.size for d in proto.tensor_shape.dim]
  if any(d < 0 for d in dims):
    raise RequestError("INVALID_ARGUMENT", f"input {name}: unknown dimension in its shape {dims}")
  count = int(np.prod(dims)) if dims else 1
  try:
    dtype = tf.dtypes.as_dtype(proto.dtype)
  except TypeError:
    raise RequestError("INVALID_ARGUMENT", f"input {name}: unknown dtype {proto.dtype}") from None
  if not (dtype.is_floating or dtype.is_integer or dtype.is_bool or dtype == tf.string):
    # complex, variant, resource, quantized: not a tensor of values any input here takes
    raise RequestError("INVALID_ARGUMENT", f"input {name}: a {dtype.name} tensor; send DT_FLOAT "
                       "(float32), the dtype GetModelMetadata lists for every input")
  if proto.tensor_content:
    want = count * dtype.size
    if len(proto.tensor_content) != want:
      raise RequestError("INVALID_ARGUMENT", f"input {name}: tensor_content has "
                         f"{len(proto.tensor_content)} bytes, its shape {dims} of {dtype.name} "
                         f"needs {want}")
  else:
    values = [len(v) for f, v in proto.ListFields() if f.name in _VALUE_FIELDS]
    got = values[0] if values else 0
    if got != count:
      raise RequestError("INVALID_ARGUMENT", f"input {name}: {got} values for shape {dims} "
                         f"({count} values)")
  try:
    return tf.make_ndarray(proto)
  except Exception as e:  # pylint: disable=broad-except
    raise RequestError("INVALID_ARGUMENT", f"input {name}: {e}") from None


_KINDS = {"U": "strings", "S": "bytes", "b": "booleans"}


def json_input(name, value):
  """A REST input as float32; refuses (naming the input) nulls, strings, booleans and ragged
  lists, which TF Serving's JSON parser refuses for a float input."""
  try:
    array = np.asarray(value)
  except ValueError as e:  # ragged
    raise RequestError("INVALID_ARGUMENT", f"input {name}: not a rectangular array ({e})"
                       ) from None
  if array.dtype == object:  # rectangular, but of Python objects: which one?
    for item in array.ravel():
      if isinstance(item, int) and not isinstance(item, bool):
        if abs(item) > int(np.finfo(np.float32).max):
          digits = str(abs(item))
          raise RequestError("INVALID_ARGUMENT", f"input {name}: the JSON integer "
                             f"{digits[:8]}... ({len(digits)} digits) is beyond float32's "
                             "range (+-3.4e38)")
      elif not isinstance(item, float):
        raise RequestError("INVALID_ARGUMENT", f"input {name}: expected numbers, got "
                           f"{'null' if item is None else type(item).__name__} "
                           "(a float input takes JSON numbers only)")
    return array.astype(np.float32)  # integers of float32's range, above int64's
  if array.dtype.kind not in "fiu":
    raise RequestError("INVALID_ARGUMENT", f"input {name}: expected numbers, got "
                       f"{_KINDS.get(array.dtype.kind, array.dtype.name)} (a float input takes "
                       "JSON numbers only)")
  return array.astype(np.float32)


_GRPC = {"NOT_FOUND": grpc.StatusCode.NOT_FOUND,
         "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
         "INTERNAL": grpc.StatusCode.INTERNAL}
_HTTP = {"NOT_FOUND": 404, "INVALID_ARGUMENT": 400, "INTERNAL": 500}


class Standin:
  """Serves EXPORT_BASE/MODEL_NAME/<versions> over gRPC and REST on 127.0.0.1."""

  def __init__(self, export_base, model_names):
    self.models = {}
    for name in model_names:
      root = os.path.join(export_base, name)
      versions = sorted(int(v) for v in os.listdir(root) if re.fullmatch(r"\d+", v))
      self.models[name] = {v: SessionModel(os.path.join(root, str(v))) for v in versions}

  def servable(self, name, version=None):
    versions = self.models.get(name)
    if not versions:
      raise RequestError("NOT_FOUND", f"Servable not found for request: Latest({name})")
    if version is None:
      return max(versions), versions[max(versions)]
    if version not in versions:
      raise RequestError("NOT_FOUND",
                         f"Servable not found for request: Specific({name}, {version})")
    return version, versions[version]

  def predict(self, name, version, signature, inputs, strict_dtypes=False):
    return self.servable(name, version)[1].run(signature or "serving_default", inputs,
                                               strict_dtypes)

  def metadata(self, name, version):
    version, servable = self.servable(name, version)
    defs = get_model_metadata_pb2.SignatureDefMap()
    for k, v in servable.signatures.items():
      defs.signature_def[k].CopyFrom(v)
    return version, defs

  # -- gRPC ------------------------------------------------------------------------------------
  def _servicer(self):
    standin = self

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):

      def Predict(self, request, context):  # pylint: disable=invalid-name
        version = request.model_spec.version.value if request.model_spec.HasField(
            "version") else None
        try:
          inputs = {k: tensor_from_proto(k, v) for k, v in request.inputs.items()}
          out = standin.predict(request.model_spec.name, version,
                                request.model_spec.signature_name, inputs, strict_dtypes=True)
        except RequestError as e:
          context.abort(_GRPC[e.code], e.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for k, v in out.items():
          response.outputs[k].CopyFrom(tf.make_tensor_proto(v))
        return response

      def GetModelMetadata(self, request, context):  # pylint: disable=invalid-name
        version = request.model_spec.version.value if request.model_spec.HasField(
            "version") else None
        try:
          version, defs = standin.metadata(request.model_spec.name, version)
        except RequestError as e:
          context.abort(_GRPC[e.code], e.message)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.metadata["signature_def"].Pack(defs)
        return response

    return Servicer()

  # -- REST ------------------------------------------------------------------------------------
  def _handler(self):
    standin = self
    route = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?(:predict|/metadata)?$")

    class Handler(http.server.BaseHTTPRequestHandler):
      protocol_version = "HTTP/1.1"
      timeout = BODY_TIMEOUT  # (socket timeout of the connection)

      def log_message(self, *args):  # quiet
        pass

      def setup(self):
        super().setup()  # answer small requests without Nagle + delayed-ACK stalls
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

      def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
          self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

      def _route(self):
        match = route.match(self.path)
        if not match:
          raise RequestError("NOT_FOUND", f"Malformed request: {self.command} {self.path}")
        name, version, verb = match.groups()
        return name, None if version is None else int(version), verb

      def do_GET(self):  # pylint: disable=invalid-name
        try:
          name, version, verb = self._route()
          if verb == "/metadata":
            version, defs = standin.metadata(name, version)
            self._send(200, {"model_spec": {"name": name, "version": str(version)},
                             "metadata": {"signature_def": json_format.MessageToDict(
                                 defs, preserving_proto_field_name=True)}})
          elif verb is None:
            version, _ = standin.servable(name, version)
            self._send(200, {"model_version_status": [
                {"version": str(version), "state": "AVAILABLE",
                 "status": {"error_code": "OK", "error_message": ""}}]})
          else:
            raise RequestError("INVALID_ARGUMENT", "predict needs POST")
        except RequestError as e:
          self._send(_HTTP[e.code], {"error": e.message})

      def _body(self):
        text = self.headers.get("Content-Length", "0")
        try:
          length = int(text)
        except ValueError:
          length = -1
        if not 0 <= length <= MAX_BODY:
          self.close_connection = True
          raise RequestError("INVALID_ARGUMENT", f"Content-Length {text!r}: expected the body's "
                             f"size in bytes, at most {MAX_BODY}")
        try:
          raw = self.rfile.read(length)
        except (socket.timeout, OSError):
          raw = b""
        if len(raw) != length:
          self.close_connection = True
          raise RequestError("INVALID_ARGUMENT", f"body of {len(raw)} bytes within "
                             f"{BODY_TIMEOUT:g} s, Content-Length says {length}")
        return raw

      def do_POST(self):  # pylint: disable=invalid-name
        try:
          raw = self._body()
          name, version, verb = self._route()
          if verb != ":predict":
            raise RequestError("INVALID_ARGUMENT", f"Unsupported POST {self.path}")
          try:
            body = json.loads(raw)
          except ValueError as e:
            raise RequestError("INVALID_ARGUMENT", f"JSON Parse error: {e}") from None
          except RecursionError:
            raise RequestError("INVALID_ARGUMENT", "JSON Parse error: nested too deeply"
                               ) from None
          if not isinstance(body, dict):
            raise RequestError("INVALID_ARGUMENT", "JSON Value is not an object")
          signature = body.get("signature_name", "serving_default")
          if ("instances" in body) == ("inputs" in body):
            raise RequestError("INVALID_ARGUMENT",
                               "Missing 'inputs' or 'instances' key (exactly one is needed)")
          row = "instances" in body
          if row:
            rows = body["instances"]
            if not isinstance(rows, list) or not rows or not all(isinstance(r, dict)
                                                                for r in rows):
              raise RequestError("INVALID_ARGUMENT",
                                 "'instances' must be a non-empty list of objects")
            keys = set(rows[0])
            if any(set(r) != keys for r in rows):
              raise RequestError("INVALID_ARGUMENT", "instances have differing input names")
            inputs = {k: [r[k] for r in rows] for k in keys}
          else:
            inputs = body["inputs"]
            if not isinstance(inputs, dict):
              raise RequestError("INVALID_ARGUMENT", "'inputs' must be an object of named inputs")
          inputs = {k: json_input(k, v) for k, v in inputs.items()}
          out = standin.predict(name, version, signature, inputs)
          out = {k: np.char.decode(v.astype(bytes)) if v.dtype.kind in "OS" else v
                 for k, v in out.items()}  # (string outputs go out as JSON strings)
          if row:
            n = len(next(iter(out.values())))
            rows = [{k: v[i].tolist() for k, v in out.items()} for i in range(n)]
            self._send(200, {"predictions": rows if len(out) > 1 else
                             [next(iter(r.values())) for r in rows]})
          else:
            outputs = {k: v.tolist() for k, v in out.items()}
            self._send(200, {"outputs": outputs if len(out) > 1 else
                             next(iter(outputs.values()))})
        except RequestError as e:
          self._send(_HTTP[e.code], {"error": e.message})

    return Handler

  def start(self, rest_port=0, grpc_port=0):
    """Starts both servers on loopback, on free ports unless given; returns (rest_port,
    grpc_port)."""
    options = [("grpc.max_send_message_length", 1 << 30),
               ("grpc.max_receive_message_length", 1 << 30)]
    self._grpc = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=16),
                             options=options)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(self._servicer(),
                                                                        self._grpc)
    grpc_port = self._grpc.add_insecure_port(f"127.0.0.1:{grpc_port}")
    self._grpc.start()
    self._http = _HTTPServer(("127.0.0.1", rest_port), self._handler())
    threading.Thread(target=self._http.serve_forever, daemon=True).start()
    return self._http.server_address[1], grpc_port

  def stop(self):
    """Stops both servers and drops open connections, as a server that goes away does."""
    self._http.shutdown()
    self._http.server_close()
    self._http.drop_connections()
    self._grpc.stop(None)


class _HTTPServer(http.server.ThreadingHTTPServer):
  """A threading HTTP server that knows its open connections (keep-alive ones outlive
  `shutdown`, which only stops accepting new ones)."""
  daemon_threads = True

  def __init__(self, *args, **kwargs):
    self._open, self._lock = set(), threading.Lock()
    super().__init__(*args, **kwargs)

  def process_request(self, request, client_address):
    with self._lock:
      self._open.add(request)
    super().process_request(request, client_address)

  def shutdown_request(self, request):
    with self._lock:
      self._open.discard(request)
    super().shutdown_request(request)

  def drop_connections(self):
    with self._lock:
      for request in list(self._open):
        with contextlib.suppress(OSError):
          request.shutdown(socket.SHUT_RDWR)
