"""Bad requests over REST, gRPC and the session loader TF Serving uses, one table.

Each kind of bad request must be refused with INVALID_ARGUMENT (or NOT_FOUND for an unknown
model or version) and a message naming the input: never answered with a wrong number (NaN, or
quietly another scene), never a crash or a hang; the server keeps answering afterwards.
Counted in BENCHMARKS.md's Reliability section: `python -m pytest tests/test_bad_requests.py -q`.
"""

import json
import socket

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from conftest import in_process
from conftest import served_inputs
from autoint_tf.serving import client
from autoint_tf.serving import session

_SESSIONS = {}


def rest(s, model="autoint", version=None):
  return client.RestClient(s["rest"], model, version)


def grpc(s, model="autoint", version=None):
  return client.GrpcClient(s["grpc"], model, version)


def loaded(s, model="autoint"):
  """The newest export as TF Serving loads it (TF1 session loader), once a session."""
  version = {"autoint": 2}.get(model, 1)
  key = (s["base"], model, version)
  if key not in _SESSIONS:
    _SESSIONS[key] = session.SessionModel(f"{s['base']}/{model}/{version}")
  return _SESSIONS[key]


def in_session(s, signature, inputs, model="autoint"):
  try:
    return loaded(s, model).run(signature, inputs)
  except session.RequestError as e:
    raise client.ServingError(e.code, e.message) from None


def raw_http(s, data, timeout=30.0):
  """Sends `data` (a whole HTTP request, bytes) to the REST port; raises ServingError for a
  non-200 status. A server that does not answer within `timeout` fails the test (a hang)."""
  host, port = s["rest"].split(":")
  with socket.create_connection((host, int(port)), timeout=timeout) as sock:
    sock.sendall(data)
    reply = b""
    try:
      while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < _length(reply):
        chunk = sock.recv(65536)
        if not chunk:
          break
        reply += chunk
    except socket.timeout:
      pytest.fail(f"no answer within {timeout} s: the server hangs on {data[:80]!r}")
  head, _, body = reply.partition(b"\r\n\r\n")
  status = int(head.split(b" ")[1])
  if status != 200:
    raise client.ServingError(client._HTTP_CODES.get(status, str(status)),  # pylint: disable=protected-access
                              json.loads(body)["error"])


def _length(reply):
  for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
    if line.lower().startswith(b"content-length:"):
      return int(line.split(b":")[1])
  return 0


def post(s, body, path="/v1/models/autoint:predict", length=None):
  body = body.encode() if isinstance(body, str) else body
  length = len(body) if length is None else length
  return raw_http(s, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
                  "Content-Type: application/json\r\n\r\n".encode() + body)


def grpc_protos(s, protos, signature="render_rays", model="autoint"):
  """A Predict call with hand-made TensorProtos (what a client other than ours might send)."""
  import grpc as grpc_lib  # pylint: disable=g-import-not-at-top
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model
  request.model_spec.signature_name = signature
  for k, v in protos.items():
    request.inputs[k].CopyFrom(v)
  with grpc_lib.insecure_channel(s["grpc"]) as channel:
    try:
      prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=60)
    except grpc_lib.RpcError as e:
      raise client.ServingError(e.code().name, e.details()) from None


def proto(values, shape, dtype=tf.float32):
  """A TensorProto of `values` (flat, any count) claiming `shape`."""
  p = tf.make_tensor_proto(np.zeros(0, dtype.as_numpy_dtype), dtype=dtype)
  p.tensor_shape.Clear()
  for d in shape:
    p.tensor_shape.dim.add().size = d
  getattr(p, {tf.float32: "float_val", tf.string: "string_val"}[dtype]).extend(values)
  return p


def good(s, n=4):
  return served_inputs(s, n)


def o(s):
  return good(s)["rays_o"]


def d(s):
  return good(s)["rays_d"]


def with_value(array, index, value):
  array = array.copy()
  array[index] = value
  return array


N4 = np.full(4, 2.0, np.float32)
OK_PROTO = lambda s: tf.make_tensor_proto(d(s))  # noqa: E731
NESTED = "[" * 100000 + "]" * 100000

# (id, call(served) that must be refused, status code, text the message must contain).
CASES = [
    # Shapes, counts and values of the rays (REST / gRPC / session loader).
    ("rest/last dimension 2", lambda s: rest(s).predict({"rays_o": o(s)[:, :2], "rays_d": d(s)}),
     "INVALID_ARGUMENT", "rays_o"),
    ("grpc/rank 1", lambda s: grpc(s).predict({"rays_o": o(s)[0], "rays_d": d(s)}),
     "INVALID_ARGUMENT", "rays_o"),
    ("session/rank 3", lambda s: in_session(s, "render_rays", {"rays_o": o(s)[None],
                                                                "rays_d": d(s)}),
     "INVALID_ARGUMENT", "rays_o"),
    ("rest/rows differ", lambda s: rest(s).predict({"rays_o": o(s), "rays_d": d(s)[:3]}),
     "INVALID_ARGUMENT", "rays_d must have one row per ray"),
    ("session/rows differ", lambda s: in_session(s, "render_rays", {"rays_o": o(s)[:2],
                                                                     "rays_d": d(s)}),
     "INVALID_ARGUMENT", "rays_d must have one row per ray"),
    ("rest/NaN origin", lambda s: rest(s).predict({"rays_o": with_value(o(s), (1, 2), np.nan),
                                                   "rays_d": d(s)}),
     "INVALID_ARGUMENT", "rays_o contains NaN or inf"),
    ("grpc/inf direction", lambda s: grpc(s).predict(
        {"rays_o": o(s), "rays_d": with_value(d(s), (0, 0), np.inf)}),
     "INVALID_ARGUMENT", "rays_d contains NaN or inf"),
    ("session/NaN direction", lambda s: in_session(s, "render_rays", {
        "rays_o": o(s), "rays_d": with_value(d(s), (3, 1), np.nan)}),
     "INVALID_ARGUMENT", "rays_d contains NaN or inf"),
    ("rest/zero direction", lambda s: rest(s).predict({"rays_o": o(s),
                                                       "rays_d": with_value(d(s), 2, 0.0)}),
     "INVALID_ARGUMENT", "rays_d has a zero-length direction"),
    ("grpc/empty batch", lambda s: grpc(s).predict({"rays_o": o(s)[:0], "rays_d": d(s)[:0]}),
     "INVALID_ARGUMENT", "rays_o: empty batch"),
    ("rest/batch above max_batch_size", lambda s: rest(s, version=1).predict(
        {"rays_o": np.repeat(o(s), 1100, 0), "rays_d": np.repeat(d(s), 1100, 0)}),
     "INVALID_ARGUMENT", "max_batch_size 4096"),
    ("rest/direction 1e20", lambda s: rest(s).predict({"rays_o": o(s), "rays_d": d(s) * 1e20}),
     "INVALID_ARGUMENT", "rays_d has a component larger than 10000"),
    ("grpc/direction 2e19 (finite float32)", lambda s: grpc(s).predict(
        {"rays_o": o(s), "rays_d": with_value(d(s), (0, 1), 2e19)}),
     "INVALID_ARGUMENT", "rays_d has a component larger than 10000"),
    ("session/origin 1e6", lambda s: in_session(s, "render_rays", {"rays_o": o(s) + 1e6,
                                                                    "rays_d": d(s)}),
     "INVALID_ARGUMENT", "rays_o has a component larger"),
    ("rest/JSON number beyond float32 (1e39)", lambda s: post(s, json.dumps(
        {"inputs": {"rays_o": [[1e39, 0, 0]], "rays_d": [[0, 0, 1]]}})),
     "INVALID_ARGUMENT", "rays_o contains NaN or inf"),
    # Bounds: order, finiteness, rows, and the range the model was trained on.
    ("rest/near >= far", lambda s: rest(s).predict(
        {"rays_o": o(s), "rays_d": d(s), "near": N4, "far": N4}, "render_rays_bounded"),
     "INVALID_ARGUMENT", "near must be < far"),
    ("grpc/NaN near", lambda s: grpc(s).predict(
        {"rays_o": o(s), "rays_d": d(s), "near": N4 * np.nan, "far": N4 + 1},
        "render_rays_bounded"), "INVALID_ARGUMENT", "near contains NaN"),
    ("rest/far rows", lambda s: rest(s).predict(
        {"rays_o": o(s), "rays_d": d(s), "near": N4, "far": N4[:2]}, "render_rays_bounded"),
     "INVALID_ARGUMENT", "far must have one row per ray"),
    ("grpc/far beyond the trained range", lambda s: grpc(s).predict(
        {"rays_o": o(s), "rays_d": d(s), "near": N4, "far": N4 * 5}, "render_rays_bounded"),
     "INVALID_ARGUMENT", "far above 4.3: this model was trained on [1.7, 4.3]"),
    ("rest/negative near", lambda s: rest(s).predict(
        {"rays_o": o(s), "rays_d": d(s), "near": -N4, "far": N4}, "render_rays_bounded"),
     "INVALID_ARGUMENT", "near below 1.7"),
    ("session/near 0 far 1e38", lambda s: in_session(s, "render_rays_bounded", {
        "rays_o": o(s), "rays_d": d(s), "near": N4 * 0, "far": np.full(4, 1e38, np.float32)}),
     "INVALID_ARGUMENT", "near below 1.7"),
    ("rest/inf t1", lambda s: rest(s).predict(
        {"rays_o": o(s), "rays_d": d(s), "t0": N4, "t1": N4 * np.inf}, "ray_integral"),
     "INVALID_ARGUMENT", "t1 contains NaN or inf"),
    ("rest/t0 before the trained range", lambda s: rest(s).predict(
        {"rays_o": o(s), "rays_d": d(s), "t0": N4 * 0, "t1": N4}, "ray_integral"),
     "INVALID_ARGUMENT", "t0 below"),
    ("grpc/t0 > t1", lambda s: grpc(s).predict(
        {"rays_o": o(s), "rays_d": d(s), "t0": N4 + 1, "t1": N4}, "ray_integral"),
     "INVALID_ARGUMENT", "t0 must be < t1"),
    # Signatures and inputs.
    ("rest/unknown signature", lambda s: rest(s).predict(good(s), "render_everything"),
     "INVALID_ARGUMENT", "render_everything"),
    *[(f"rest/signature_name a {kind}", lambda s, name=name: post(s, json.dumps({
        "signature_name": name, "inputs": {k: v.tolist() for k, v in good(s).items()}})),
       "INVALID_ARGUMENT", "signature_name must be a string")
      for kind, name in [("list", ["render_rays"]), ("dict", {"name": "render_rays"})]],
    ("session/unknown signature", lambda s: in_session(s, "render", good(s)),
     "INVALID_ARGUMENT", '"render" not found'),
    ("grpc/missing input", lambda s: grpc(s).predict({"rays_o": o(s)}, "render_rays"),
     "INVALID_ARGUMENT", "rays_d"),
    ("rest/extra input", lambda s: rest(s).predict({**good(s), "focal": N4}, "render_rays"),
     "INVALID_ARGUMENT", "focal"),
    ("session/misnamed input", lambda s: in_session(s, "render_rays", {"rays_o": o(s),
                                                                        "ray_d": d(s)}),
     "INVALID_ARGUMENT", "ray_d"),
    ("grpc/int64 input", lambda s: grpc(s).predict({"rays_o": o(s).astype(np.int64),
                                                    "rays_d": d(s)}),
     "INVALID_ARGUMENT", "input rays_o: expects arg to be float32"),
    ("session/strings input", lambda s: in_session(s, "render_rays", {
        "rays_o": np.full((4, 3), "a"), "rays_d": d(s)}), "INVALID_ARGUMENT", "input rays_o"),
    ("grpc/model_info above max_batch_size", lambda s: grpc(s, version=1).predict(
        {"request": np.zeros(4097, np.float32)}, "model_info"), "INVALID_ARGUMENT",
     "request: batch larger than this export"),
    ("grpc/model_info extra input", lambda s: grpc(s).predict(
        {"request": N4, "rays_o": o(s)}, "model_info"), "INVALID_ARGUMENT", "rays_o"),
    # Malformed tensors over gRPC (TensorProtos other clients may build).
    ("grpc/TensorProto 5 values for [4, 3]", lambda s: grpc_protos(s, {
        "rays_o": proto([1.0] * 5, [4, 3]), "rays_d": OK_PROTO(s)}),
     "INVALID_ARGUMENT", "input rays_o: 5 values for shape [4, 3]"),
    ("grpc/TensorProto 13 values for [4, 3]", lambda s: grpc_protos(s, {
        "rays_o": proto([1.0] * 13, [4, 3]), "rays_d": OK_PROTO(s)}),
     "INVALID_ARGUMENT", "input rays_o: 13 values"),
    ("grpc/TensorProto no values", lambda s: grpc_protos(s, {
        "rays_o": proto([], [4, 3]), "rays_d": OK_PROTO(s)}),
     "INVALID_ARGUMENT", "input rays_o: 0 values"),
    ("grpc/tensor_content of wrong length", lambda s: grpc_protos(s, {
        "rays_o": tf.make_tensor_proto(o(s)), "rays_d": (lambda p: (
            p.__setattr__("tensor_content", p.tensor_content[:-4]), p)[1])(OK_PROTO(s))}),
     "INVALID_ARGUMENT", "input rays_d: tensor_content has 44 bytes"),
    *[(f"grpc/{dtype.name} tensor", lambda s, dtype=dtype: grpc_protos(s, {
        "rays_o": tf.make_tensor_proto(np.ones((4, 3)), dtype), "rays_d": OK_PROTO(s)}),
       "INVALID_ARGUMENT", f"input rays_o: a {dtype.name} tensor; send DT_FLOAT")
      for dtype in (tf.complex64, tf.complex128)],
    ("grpc/DT_VARIANT tensor", lambda s: grpc_protos(s, {
        "rays_o": tensor_pb2.TensorProto(dtype=types_pb2.DT_VARIANT, tensor_shape={
            "dim": [{"size": 4}, {"size": 3}]}), "rays_d": OK_PROTO(s)}),
     "INVALID_ARGUMENT", "input rays_o: a variant tensor; send DT_FLOAT"),
    ("grpc/string tensor", lambda s: grpc_protos(s, {
        "rays_o": proto([b"x"] * 12, [4, 3], tf.string), "rays_d": OK_PROTO(s)}),
     "INVALID_ARGUMENT", "rays_o"),
    # Malformed REST bodies and HTTP.
    ("rest/malformed JSON", lambda s: post(s, '{"inputs": [1, 2'), "INVALID_ARGUMENT", "JSON"),
    ("rest/JSON list at the top", lambda s: post(s, "[1, 2]"), "INVALID_ARGUMENT",
     "not an object"),
    ("rest/strings for floats", lambda s: post(s, json.dumps(
        {"inputs": {"rays_o": [["a", "b", "c"]], "rays_d": [[0, 0, 1]]}})),
     "INVALID_ARGUMENT", "input rays_o: expected numbers"),
    ("rest/booleans for floats", lambda s: post(s, json.dumps(
        {"inputs": {"rays_o": [[0, 0, 3]], "rays_d": [[True, False, True]]}})),
     "INVALID_ARGUMENT", "input rays_d: expected numbers"),
    ("rest/a 400-digit integer", lambda s: post(s, json.dumps(
        {"inputs": {"rays_o": [[0, 0, 10**400]], "rays_d": [[0, 0, 1]]}})),
     "INVALID_ARGUMENT", "input rays_o: the JSON integer 10000000... (401 digits) is beyond "
     "float32's range"),
    ("rest/null among numbers", lambda s: post(s, json.dumps(
        {"inputs": {"rays_o": [[0, None, 3]], "rays_d": [[0, 0, 1]]}})),
     "INVALID_ARGUMENT", "input rays_o: expected numbers, got null"),
    ("rest/null input", lambda s: post(s, json.dumps(
        {"inputs": {"rays_o": None, "rays_d": [[0, 0, 1]]}})),
     "INVALID_ARGUMENT", "input rays_o: expected numbers"),
    ("rest/ragged rows", lambda s: post(s, json.dumps(
        {"inputs": {"rays_o": [[0, 0, 3], [0, 0]], "rays_d": [[0, 0, 1], [0, 0, 1]]}})),
     "INVALID_ARGUMENT", "input rays_o: not a rectangular array"),
    ("rest/both formats", lambda s: post(s, json.dumps({"inputs": {}, "instances": []})),
     "INVALID_ARGUMENT", "exactly one"),
    ("rest/instances not objects", lambda s: post(s, json.dumps({"instances": [[0, 0, 0]]})),
     "INVALID_ARGUMENT", "instances"),
    ("rest/instances with differing inputs", lambda s: post(s, json.dumps({"instances": [
        {"rays_o": [0, 0, 3], "rays_d": [0, 0, 1]}, {"rays_o": [0, 0, 3]}]})),
     "INVALID_ARGUMENT", "differing input names"),
    ("rest/empty instances", lambda s: post(s, json.dumps({"instances": []})),
     "INVALID_ARGUMENT", "non-empty list"),
    ("rest/JSON nested 100000 deep", lambda s: post(s, '{"inputs": ' + NESTED + "}"),
     "INVALID_ARGUMENT", "nested too deeply"),
    ("http/Content-Length not a number", lambda s: post(s, "{}", length="ten"),
     "INVALID_ARGUMENT", "Content-Length 'ten'"),
    ("http/negative Content-Length", lambda s: post(s, "{}", length=-5),
     "INVALID_ARGUMENT", "Content-Length '-5'"),
    ("http/Content-Length beyond the body (no hang)", lambda s: post(s, "{}", length=1000),
     "INVALID_ARGUMENT", "within 5 s, Content-Length says 1000"),
    ("http/Content-Length of 1 TB", lambda s: post(s, "{}", length=10**12),
     "INVALID_ARGUMENT", "at most"),
    ("http/GET of predict", lambda s: raw_http(
        s, b"GET /v1/models/autoint:predict HTTP/1.1\r\nHost: x\r\n\r\n"),
     "INVALID_ARGUMENT", "predict needs POST"),
    ("http/POST of metadata", lambda s: post(s, "{}", path="/v1/models/autoint/metadata"),
     "INVALID_ARGUMENT", "Unsupported POST"),
    ("http/unknown path", lambda s: post(s, "{}", path="/v2/models/autoint:predict"),
     "NOT_FOUND", "Malformed request"),
    # Models and versions.
    ("rest/unknown model", lambda s: rest(s, "nope").predict(good(s)), "NOT_FOUND", "nope"),
    ("grpc/unknown model", lambda s: grpc(s, "nope").predict(good(s)), "NOT_FOUND", "nope"),
    ("grpc/unknown version", lambda s: grpc(s, version=7).predict(good(s)), "NOT_FOUND",
     "Specific(autoint, 7)"),
    ("rest/unknown version", lambda s: rest(s, version=7).predict(good(s)), "NOT_FOUND",
     "Specific(autoint, 7)"),
    # CT and 1D/nD signatures.
    ("rest/CT zero-length line", lambda s: rest(s, "ct").predict(
        {"start": np.zeros((2, 2)), "end": np.zeros((2, 2))}, "line_integral"),
     "INVALID_ARGUMENT", "end - start has a zero-length direction"),
    ("grpc/CT end 1e30", lambda s: grpc(s, "ct").predict(
        {"start": np.zeros((2, 2), np.float32), "end": np.full((2, 2), 1e30, np.float32)},
        "line_integral"), "INVALID_ARGUMENT", "end has a component larger"),
    ("session/CT 3-D points", lambda s: in_session(s, "line_integral", {
        "start": np.zeros((2, 3), np.float32), "end": np.ones((2, 3), np.float32)}, "ct"),
     "INVALID_ARGUMENT", "start"),
    ("grpc/1D bounds rows", lambda s: grpc(s, "poly").predict(
        {"lower": np.zeros((3, 1), np.float32), "upper": np.ones((2, 1), np.float32)}),
     "INVALID_ARGUMENT", "upper must have one row"),
    ("grpc/1D bound 1e9", lambda s: grpc(s, "poly").predict(
        {"lower": np.zeros((2, 1), np.float32), "upper": np.full((2, 1), 1e9, np.float32)}),
     "INVALID_ARGUMENT", "upper has a component larger"),
    ("rest/1D given 2-D bounds", lambda s: rest(s, "poly").predict(
        {"lower": np.zeros((2, 2)), "upper": np.ones((2, 2))}), "INVALID_ARGUMENT", "lower"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_bad_request_is_refused_naming_the_input(case, served):
  _, call, code, needle = case
  with pytest.raises(client.ServingError) as e:
    call(served)
  assert e.value.code == code, (e.value.code, e.value.message[:300])
  assert needle.lower() in e.value.message.lower(), e.value.message[:500]


def test_the_server_keeps_answering_after_the_bad_requests(served):
  for _, call, _, _ in CASES[::7]:
    with pytest.raises(client.ServingError):
      call(served)
  inputs = served_inputs(served, 5)
  want = in_process(served, inputs)["rgb"]
  for c in (grpc(served), rest(served)):
    np.testing.assert_allclose(c.predict(inputs, "render_rays")["rgb"], want, atol=1e-5)
