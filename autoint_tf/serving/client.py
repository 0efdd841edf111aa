r"""Client for AutoInt models on TensorFlow Serving, over REST or gRPC, and a CLI that renders
a whole image from a camera pose in batches of rays.

  python -m serving.client --server=localhost:8501 --model=autoint --out=view.png   # REST
  python -m serving.client --protocol=grpc --server=localhost:8500 --model=autoint \
      --azimuth=30 --elevation=20 --radius=3 --height=64 --width=64 --focal=88
  python -m serving.client --metadata      # the signatures and what the model was trained on

REST follows TF Serving's documented API: POST /v1/models/NAME[/versions/V]:predict with the
row ("instances") or columnar ("inputs") format, GET /v1/models/NAME[/versions/V]/metadata.
gRPC uses tensorflow-serving-api's PredictionServiceStub (Predict, GetModelMetadata).
"""

import json

from absl import app
from absl import flags
import numpy as np


class ServingError(RuntimeError):
  """A request the server refused: `code` is the status (e.g. INVALID_ARGUMENT, NOT_FOUND)."""

  def __init__(self, code, message):
    super().__init__(f"{code}: {message}")
    self.code, self.message = code, message


_HTTP_CODES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 412: "FAILED_PRECONDITION",
               500: "INTERNAL", 503: "UNAVAILABLE"}


def _array(values):
  """A response tensor as numpy: float32 for numbers, as they are for strings."""
  array = np.asarray(values)
  return array.astype(np.float32) if array.dtype.kind in "fiub" else array


def _model_info(client):
  """The export's model_info (what the model was trained on) as a dict, or None for exports
  without the signature."""
  if "model_info" not in client.metadata():
    return None
  out = client.predict({"request": np.zeros(1, np.float32)}, "model_info")
  text = next(iter(out.values()))[0]
  return json.loads(text.decode() if isinstance(text, bytes) else text)


class RestClient:
  """TF Serving REST client. `server` is host:port (8501 by default) or a URL."""

  def __init__(self, server="localhost:8501", model="autoint", version=None, timeout=120.0):
    import requests  # pylint: disable=g-import-not-at-top
    self._session = requests.Session()
    self.base = server if server.startswith("http") else f"http://{server}"
    self.model, self.version, self.timeout = model, version, timeout

  def _url(self, suffix):
    version = f"/versions/{int(self.version)}" if self.version else ""
    return f"{self.base}/v1/models/{self.model}{version}{suffix}"

  def _call(self, method, suffix, body=None):
    response = self._session.request(method, self._url(suffix), data=body, timeout=self.timeout)
    try:
      payload = response.json()
    except ValueError:
      payload = {"error": response.text}
    if response.status_code != 200:
      raise ServingError(_HTTP_CODES.get(response.status_code, str(response.status_code)),
                         payload.get("error", response.text))
    return payload

  def predict(self, inputs, signature="serving_default", row_format=False):
    """inputs: dict name -> array [B, ...]. Returns dict name -> np.ndarray [B, ...]."""
    inputs = {k: np.asarray(v) for k, v in inputs.items()}
    if row_format:
      rows = len(next(iter(inputs.values())))
      body = {"signature_name": signature,
              "instances": [{k: v[i].tolist() for k, v in inputs.items()} for i in range(rows)]}
    else:
      body = {"signature_name": signature, "inputs": {k: v.tolist() for k, v in inputs.items()}}
    payload = self._call("POST", ":predict", json.dumps(body))
    if row_format:
      rows = payload["predictions"]
      if rows and isinstance(rows[0], dict):
        return {k: _array([r[k] for r in rows]) for k in rows[0]}
      return {"output": _array(rows)}
    outputs = payload["outputs"]
    if isinstance(outputs, dict):
      return {k: _array(v) for k, v in outputs.items()}
    return {"output": _array(outputs)}

  def metadata(self):
    """{signature name: {"inputs": {name: shape}, "outputs": {name: shape}}}."""
    payload = self._call("GET", "/metadata")
    defs = payload["metadata"]["signature_def"]["signature_def"]
    shape = lambda t: [int(d.get("size", -1)) for d in t.get("tensor_shape", {}).get("dim", [])]
    return {name: {io: {k: shape(v) for k, v in d.get(io, {}).items()}
                   for io in ("inputs", "outputs")} for name, d in defs.items()}

  def model_info(self):
    return _model_info(self)


class GrpcClient:
  """TF Serving gRPC client (PredictionService). `server` is host:port (8500 by default)."""

  def __init__(self, server="localhost:8500", model="autoint", version=None, timeout=120.0):
    import grpc  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
    options = [("grpc.max_send_message_length", 1 << 30),
               ("grpc.max_receive_message_length", 1 << 30)]
    self._channel = grpc.insecure_channel(server, options=options)
    self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
    self.model, self.version, self.timeout = model, version, timeout

  def _spec(self, request, signature=None):
    request.model_spec.name = self.model
    if self.version:
      request.model_spec.version.value = int(self.version)
    if signature is not None:
      request.model_spec.signature_name = signature

  def _call(self, method, request):
    import grpc  # pylint: disable=g-import-not-at-top
    try:
      return method(request, timeout=self.timeout)
    except grpc.RpcError as e:
      raise ServingError(e.code().name, e.details()) from None

  def predict(self, inputs, signature="serving_default"):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
    request = predict_pb2.PredictRequest()
    self._spec(request, signature)
    for k, v in inputs.items():
      v = np.asarray(v)
      request.inputs[k].CopyFrom(tf.make_tensor_proto(
          v.astype(np.float32) if v.dtype.kind == "f" else v))
    response = self._call(self._stub.Predict, request)
    return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}

  def metadata(self):
    from tensorflow_serving.apis import get_model_metadata_pb2  # pylint: disable=g-import-not-at-top
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    self._spec(request)
    request.metadata_field.append("signature_def")
    response = self._call(self._stub.GetModelMetadata, request)
    defs = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(defs)
    shape = lambda t: [d.size for d in t.tensor_shape.dim]
    return {name: {"inputs": {k: shape(v) for k, v in d.inputs.items()},
                   "outputs": {k: shape(v) for k, v in d.outputs.items()}}
            for name, d in defs.signature_def.items()}

  def model_info(self):
    return _model_info(self)

  def close(self):
    self._channel.close()


def render_image(client, c2w, height, width, focal, batch_size=4096, signature="render_rays",
                 pixel_center=0.0):
  """Renders a [H, W] view of camera `c2w` [4, 4] through the server, `batch_size` rays a
  request (pixel_center: the model's, from its model_info context). Returns dict of rgb
  [H, W, 3], depth [H, W], opacity [H, W]."""
  from autoint_tf import rays  # pylint: disable=g-import-not-at-top
  rays_o, rays_d = rays.camera_rays(c2w, height, width, focal, pixel_center=pixel_center)
  rays_o, rays_d = rays_o.numpy().reshape(-1, 3), rays_d.numpy().reshape(-1, 3)
  parts = []
  for i in range(0, len(rays_o), batch_size):
    parts.append(client.predict({"rays_o": rays_o[i:i + batch_size],
                                 "rays_d": rays_d[i:i + batch_size]}, signature))
  return {"rgb": np.concatenate([p["rgb"] for p in parts]).reshape(height, width, 3),
          "depth": np.concatenate([p["depth"] for p in parts]).reshape(height, width),
          "opacity": np.concatenate([p["opacity"] for p in parts]).reshape(height, width)}


def make_client(protocol, server, model, version=None):
  if protocol == "rest":
    return RestClient(server, model, version)
  if protocol == "grpc":
    return GrpcClient(server, model, version)
  raise ValueError(f"Unknown protocol {protocol!r}: rest or grpc.")


def define_flags():
  """The command's flags (defined only when run as a program, so modules import cleanly)."""
  flags.DEFINE_enum("protocol", "rest", ["rest", "grpc"], "REST (port 8501) or gRPC (port 8500).")
  flags.DEFINE_string("server", "", "host:port (default localhost:8501 REST, localhost:8500 gRPC).")
  flags.DEFINE_string("model", "autoint", "Model name.")
  flags.DEFINE_integer("model_version", 0, "Model version (0: the latest).")
  flags.DEFINE_bool("metadata", False, "Print the signatures and what the model was trained "
                    "on (its model_info) and exit.")
  flags.DEFINE_string("pose", "", "Camera-to-world 4x4 as JSON; empty: an orbit pose (below).")
  flags.DEFINE_float("azimuth", 30.0, "Orbit pose: azimuth in degrees.")
  flags.DEFINE_float("elevation", 25.0, "Orbit pose: elevation in degrees.")
  flags.DEFINE_float("radius", 3.0, "Orbit pose: distance from the origin.")
  flags.DEFINE_integer("height", 64, "Image height.")
  flags.DEFINE_integer("width", 64, "Image width.")
  flags.DEFINE_float("focal", 88.0, "Focal length in pixels.")
  flags.DEFINE_float("pixel_center", 0.0, "Where in its pixel a pixel's ray passes: the "
                     "model's (its model_info context; 0 NeRF's convention, 0.5 the centre).")
  flags.DEFINE_integer("batch_size", 4096, "Rays a request.")
  flags.DEFINE_string("out", "view.png", "Output PNG.")


def main(argv):
  del argv
  f = flags.FLAGS
  server = f.server or ("localhost:8501" if f.protocol == "rest" else "localhost:8500")
  client = make_client(f.protocol, server, f.model, f.model_version or None)
  if f.metadata:
    print(json.dumps({"signatures": client.metadata(), "model_info": client.model_info()},
                     indent=2))
    return
  from autoint_tf import plots  # pylint: disable=g-import-not-at-top
  from autoint_tf import rays  # pylint: disable=g-import-not-at-top
  if f.pose:
    c2w = np.asarray(json.loads(f.pose), np.float32)
  else:
    c2w = rays.orbit_poses(1, f.radius, (f.elevation,), phase_deg=f.azimuth)[0]
  out = render_image(client, c2w, f.height, f.width, f.focal, f.batch_size,
                     pixel_center=f.pixel_center)
  plots.save_png(out["rgb"], f.out)
  print(f"Wrote {f.out} ({f.height}x{f.width}, {f.protocol} {server}, model {f.model}); mean "
        f"opacity {out['opacity'].mean():.3f}")


def run():
  """The console script: the flags, then `main`."""
  define_flags()
  app.run(main)
