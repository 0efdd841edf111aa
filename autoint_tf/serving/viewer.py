r"""A live web viewer of trained or served radiance models, built on viser.

  python -m serving.viewer --workdir=runs/demo                       # a training run
  python -m serving.viewer --export=runs/demo/exports/autoint        # an export (newest version)
  python -m serving.viewer --server=localhost:8501 --model=autoint   # a running TF Serving
  python -m serving.viewer --workdir=runs/demo --workdir=runs/baseline   # two, side by side

then open the URL it prints (http://localhost:8080 by default; `--port`). Orbit with the left
mouse button, pan with the right one, zoom with the wheel. Every frame is rendered by the
model's `render_rays` signature (in process for a workdir, the TF1 session loader TF Serving
uses for an export, REST or gRPC for a server), so what the page shows is what the endpoint
serves: at `--preview_resolution` while the camera moves, at `--resolution` once it rests.
The page shows, for each model, ms a frame, rays/s, N, the image size and what the model was
trained on (its `model_info`); the display can switch to depth or opacity.

Two models (any two of the flags above, each given once or one given twice) render the same
camera side by side: each the H x W/2 half of the view, with the same vertical field of view
and its own timings. A server that goes away shows a message and is retried every
`--retry_seconds`; a request the model refuses (e.g. outside the bounds it was trained on)
shows the refusal; only the newest camera is rendered, however fast the camera moves.

Camera conventions: viser's camera is OpenCV's (x right, y down, z forward); the models'
poses are OpenGL's (x right, y up, looking down -z), c2w_gl = c2w_cv diag(1, -1, -1, 1). Rays
are world rays (rays.camera_rays with the model's pixel_center); an NDC (LLFF) model's export
warps them itself. The start view is the training camera the run recorded (`view_pose`).

Why viser: nerfstudio's viewer library; its web client ships in the wheel (no node build), it
streams a background image per client and reports each client's camera, which is all a
renderer-driven viewer needs. It is the `[viewer]` extra; the core library does not need it.
"""

import dataclasses
import functools
import json
import os
import re
import threading
import time

import numpy as np

DEFAULT_PORT = 8080
DISPLAYS = ("rgb", "depth", "opacity")
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0])


class Unavailable(RuntimeError):
  """The model cannot be reached now (a server that went away): retried."""


class Refused(RuntimeError):
  """The model refused the request (e.g. rays outside its bounds): shown, not retried."""


# ---------------------------------------------------------------------------------------------
# Cameras.

def quaternion_matrix(wxyz):
  """The rotation matrix [3, 3] of a unit quaternion (w, x, y, z), viser's convention."""
  from viser import transforms  # pylint: disable=g-import-not-at-top
  wxyz = np.asarray(wxyz, np.float64)
  return transforms.SO3(wxyz / np.linalg.norm(wxyz)).as_matrix()


def pose_from_viser(wxyz, position):
  """OpenGL camera-to-world [4, 4] of a viser camera (OpenCV frame, rotation `wxyz`)."""
  c2w = np.eye(4)
  c2w[:3, :3] = quaternion_matrix(wxyz) @ OPENCV_TO_OPENGL
  c2w[:3, 3] = position
  return c2w.astype(np.float32)


def viser_view(c2w):
  """(position, look_at, up_direction) that put viser's orbit camera at the OpenGL pose c2w:
  looking where it looks, orbiting the point of its optical axis nearest the origin (1 unit
  ahead if that is behind it), with the world axis nearest the camera's up as up."""
  c2w = np.asarray(c2w, np.float64)
  position, forward, up = c2w[:3, 3], -c2w[:3, 2], c2w[:3, 1]
  distance = float(-position @ forward)
  look_at = position + forward * (distance if distance > 1e-3 else 1.0)
  axis = np.argmax(np.abs(up))
  world_up = np.zeros(3)
  world_up[axis] = np.sign(up[axis])
  return position, look_at, world_up


def focal_length(fov_y, height):
  """Focal length in pixels of a vertical field of view (radians) over `height` pixels."""
  return 0.5 * height / np.tan(0.5 * fov_y)


def image_size(resolution, aspect, models=1):
  """(height, width) of one model's image: `resolution` rows, the canvas' aspect, the width
  shared by `models` side by side."""
  height = max(int(resolution), 1)
  return height, max(int(round(height * aspect / models)), 1)


def display(out, mode, depth_range=(0.0, 1.0)):
  """uint8 [H, W, 3] of a render: its colour, its depth (turbo, near dark to far bright over
  `depth_range`; transparent pixels black) or its opacity (grey)."""
  if mode == "rgb":
    image = out["rgb"]
  elif mode == "depth":
    from matplotlib import colormaps  # pylint: disable=g-import-not-at-top
    lo, hi = depth_range
    scaled = np.clip((out["depth"] - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    image = colormaps["turbo"](scaled)[..., :3] * np.clip(out["opacity"], 0, 1)[..., None]
  elif mode == "opacity":
    image = np.repeat(out["opacity"][..., None], 3, -1)
  else:
    raise ValueError(f"display {mode!r}: one of {DISPLAYS}.")
  return (np.clip(np.nan_to_num(image), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Models: anything with a render_rays signature.

@dataclasses.dataclass
class Model:
  """A model the viewer renders: `predict(inputs, signature) -> dict of arrays` (the serving
  clients' interface), what it was trained on (`info`, its model_info) and a label."""
  label: str
  predict: object
  info: dict = None
  fetch_info: object = None  # () -> info, for a server that may be down when the viewer starts
  max_batch: int = 65536

  def model_info(self):
    if self.info is None and self.fetch_info is not None:
      self.info = _calling(self.fetch_info)
    return self.info or {}

  @property
  def context(self):
    return self.model_info().get("context", {})

  def render(self, c2w, height, width, focal):
    """The render_rays outputs of the camera (dict of rgb [H, W, 3], depth, opacity [H, W])
    and the seconds the model took (rays in and answers out included)."""
    center = float(self.context.get("pixel_center", 0.0))
    rays_o, rays_d = camera_rays(height, width, center)(np.asarray(c2w, np.float32),
                                                         np.float32(focal))
    rays_o, rays_d = rays_o.numpy().reshape(-1, 3), rays_d.numpy().reshape(-1, 3)
    parts, start = [], time.perf_counter()
    for i in range(0, len(rays_o), self.max_batch):
      parts.append(_calling(self.predict, {"rays_o": rays_o[i:i + self.max_batch],
                                           "rays_d": rays_d[i:i + self.max_batch]},
                            "render_rays"))
    seconds = time.perf_counter() - start
    out = {k: np.concatenate([np.asarray(p[k]) for p in parts]).reshape(
        (height, width) + np.shape(parts[0][k])[1:]) for k in ("rgb", "depth", "opacity")}
    return out, seconds


@functools.lru_cache(maxsize=16)
def camera_rays(height, width, pixel_center=0.0):
  """rays.camera_rays of one image size as a graph: (c2w [4, 4], focal) -> (rays_o, rays_d)
  [H, W, 3] (run eagerly, its ops cost ~5 ms of a 100² frame)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from autoint_tf import rays  # pylint: disable=g-import-not-at-top
  return tf.function(lambda c2w, focal: rays.camera_rays(c2w, height, width, focal,
                                                         pixel_center=pixel_center))


def _calling(fn, *args):
  """fn(*args) with the failures of a model as `Unavailable` (retry) or `Refused` (show)."""
  from autoint_tf.serving import client, session  # pylint: disable=g-import-not-at-top
  try:
    return fn(*args)
  except (client.ServingError, session.RequestError) as e:
    if e.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
      raise Unavailable(f"{e.code}: {e.message}") from None
    raise Refused(f"{e.code}: {e.message}") from None
  except (ConnectionError, OSError) as e:
    raise Unavailable(str(e)) from None
  except Exception as e:  # pylint: disable=broad-except
    if type(e).__module__.startswith(("requests", "urllib3")):  # connection refused, reset
      raise Unavailable(f"{type(e).__name__}: {e}") from None
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if isinstance(e, tf.errors.InvalidArgumentError):
      raise Refused(f"INVALID_ARGUMENT: {e.message}") from None
    raise


def from_workdir(workdir, num_sections=8):
  """A training run's model, in process, through the render_rays its export would have."""
  from autoint_tf import training  # pylint: disable=g-import-not-at-top
  run = training.restore(workdir)
  if run.application != "radiance":
    raise ValueError(f"--workdir={workdir}: a {run.application} run; the viewer shows radiance "
                     "runs (train.radiance).")
  model = from_renderer(run.model, run.context, num_sections, f"{workdir} (in process)")
  model.info["checkpoint"] = os.path.basename(run.checkpoint)
  return model


def from_renderer(renderer, context, num_sections=8, label="in process"):
  """A renderer (AutoInt or the quadrature baseline) in process, through the render_rays
  signature its export has (serving.export.radiance_functions, checks included)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from autoint_tf.serving import export  # pylint: disable=g-import-not-at-top
  fn, signature = export.radiance_functions(renderer, context, num_sections)["render_rays"]
  render = tf.function(fn, input_signature=signature, jit_compile=False)
  info = {"application": "radiance", "context": context,
          **export.renderer_info(renderer, num_sections)}

  def predict(inputs, signature="render_rays"):
    del signature
    return {k: v.numpy() for k, v in render(inputs["rays_o"], inputs["rays_d"]).items()}

  return Model(label, predict, info)


def from_export(path):
  """An export EXPORT_BASE/NAME[/VERSION] (the newest version if none), loaded with the TF1
  session loader TF Serving uses."""
  from autoint_tf.serving import session  # pylint: disable=g-import-not-at-top
  version_dir = path
  if os.path.isdir(path) and not os.path.exists(os.path.join(path, "saved_model.pb")):
    versions = sorted(int(v) for v in os.listdir(path) if re.fullmatch(r"\d+", v))
    if not versions:
      raise ValueError(f"--export={path}: no version directory (1, 2, ...) with a "
                       "saved_model.pb in it; give EXPORT_BASE/NAME or EXPORT_BASE/NAME/VERSION "
                       "of `python -m serving.export`.")
    version_dir = os.path.join(path, str(versions[-1]))
  if not os.path.exists(os.path.join(version_dir, "saved_model.pb")):
    raise ValueError(f"--export={path}: no saved_model.pb there; give EXPORT_BASE/NAME or "
                     "EXPORT_BASE/NAME/VERSION of `python -m serving.export`.")
  model = session.SessionModel(version_dir)
  if "render_rays" not in model.signatures:
    raise ValueError(f"--export={path}: no render_rays signature (it has "
                     f"{sorted(model.signatures)}); the viewer shows radiance exports.")
  text = model.run("model_info", {"request": np.zeros(1, np.float32)})["model_info_json"][0]
  info = json.loads(text.decode() if isinstance(text, bytes) else text)
  return Model(f"{version_dir} (session loader)", lambda inputs, sig: model.run(sig, inputs),
               info, max_batch=int(info.get("max_batch_size", 65536)))


def from_server(server, protocol="rest", name="autoint", version=None):
  """A model on a running TF Serving (serving.client, REST or gRPC); what it was trained on is
  asked when the server answers."""
  from autoint_tf.serving import client  # pylint: disable=g-import-not-at-top
  c = client.make_client(protocol, server, name, version)
  model = Model(f"{name} on {server} ({protocol})", c.predict, fetch_info=c.model_info,
                max_batch=4096)
  return model


# ---------------------------------------------------------------------------------------------
# The render loop of one browser: only the newest camera, low resolution while it moves.

@dataclasses.dataclass
class Camera:
  c2w: np.ndarray   # [4, 4] OpenGL camera-to-world
  fov_y: float      # vertical field of view, radians
  aspect: float     # canvas width / height


@dataclasses.dataclass
class Frame:
  """What one model showed for one camera."""
  image: np.ndarray = None  # uint8 [H, W, 3], or None when it failed
  outputs: dict = None
  seconds: float = float("nan")        # the viewer's whole render path
  model_seconds: float = float("nan")  # of which the model's render_rays
  error: str = ""
  retry: bool = False


class LiveView:
  """Renders the newest camera of one browser with each model and hands the frames to `show`
  (frames, camera, full_resolution). Camera updates only replace the pending camera, so a burst
  of them costs one render; a camera that has rested `rest_seconds` is rendered again at full
  resolution; a model that could not be reached is retried every `retry_seconds`."""

  def __init__(self, models, show, resolution=100, preview_resolution=32, display_mode="rgb",
               rest_seconds=0.3, retry_seconds=2.0):
    self.models, self.show = list(models), show
    self.resolution, self.preview_resolution = resolution, preview_resolution
    self.display_mode = display_mode
    self.rest_seconds, self.retry_seconds = rest_seconds, retry_seconds
    self.frames_shown = 0
    self._camera, self._version, self._moved = None, 0, 0.0
    self._wake = threading.Event()
    self._stop = False
    self._last = None  # (frames, camera, full) of the last render
    self._thread = threading.Thread(target=self._loop, daemon=True, name="autoint-viewer")
    self._thread.start()

  def set_camera(self, camera):
    self._camera, self._version, self._moved = camera, self._version + 1, time.monotonic()
    self._wake.set()

  def redraw(self):
    """Show the last frames again (e.g. in another display mode), without rendering."""
    if self._last is not None:
      frames, camera, full = self._last
      for frame, model in zip(frames, self.models):
        if frame.outputs is not None:
          frame.image = display(frame.outputs, self.display_mode, depth_range(model.context))
      self.show(frames, camera, full)

  def rerender(self):
    self._version += 1
    self._moved = 0.0
    self._wake.set()

  def stop(self):
    self._stop = True
    self._wake.set()
    self._thread.join(timeout=10)

  def _loop(self):
    done = None  # (version, full) of the last render
    while not self._stop:
      timeout = None
      if done is not None and not done[1]:
        timeout = self.rest_seconds  # a preview is on screen: come back to render it in full
      if done is not None and done[2]:
        timeout = self.retry_seconds
      self._wake.wait(timeout)
      self._wake.clear()
      if self._stop or self._camera is None:
        continue
      version, camera = self._version, self._camera
      full = time.monotonic() - self._moved >= self.rest_seconds
      if done is not None and done[0] == version and (done[1] or not full) and not done[2]:
        continue
      frames = self.render(camera, self.resolution if full else self.preview_resolution)
      self.frames_shown += 1
      self._last = (frames, camera, full)
      self.show(frames, camera, full)
      done = (version, full, any(f.retry for f in frames))

  def render(self, camera, resolution):
    """One Frame per model for `camera` at `resolution` rows (each model its share of the
    width)."""
    return [render_frame(model, camera, resolution, self.display_mode, len(self.models),
                         self.retry_seconds) for model in self.models]


def depth_range(context, c2w=None):
  """The depths a model's display spans: its near to far (NDC: 0 to 1); with a scene box,
  the box's depths seen from the camera c2w (its centre's distance -+ its half diagonal)."""
  if context.get("ndc"):
    return 0.0, 1.0
  if context.get("box") and c2w is not None:
    from autoint_tf import rays  # pylint: disable=g-import-not-at-top
    centre, radius = rays.box_sphere(context["box"])
    distance = float(np.linalg.norm(centre - np.asarray(c2w)[:3, 3]))
    return max(distance - radius, 0.0), distance + radius
  return float(context.get("near", 0.0)), float(context.get("far", 1.0))


def render_frame(model, camera, resolution, mode="rgb", models=1, retry_seconds=2.0):
  """The viewer's render path for one model: the camera's rays at `resolution` rows (the
  model's share of the width of `models` side by side), its render_rays, the displayed image.
  frame.seconds is the whole path, frame.model_seconds the model's part."""
  height, width = image_size(resolution, camera.aspect, models)
  start = time.perf_counter()
  try:
    outputs, model_seconds = model.render(camera.c2w, height, width,
                                          focal_length(camera.fov_y, height))
  except Unavailable as e:
    return Frame(error=f"unreachable, retrying every {retry_seconds:g} s: {e}", retry=True)
  except Refused as e:
    return Frame(error=f"refused: {e}")
  image = display(outputs, mode, depth_range(model.context, camera.c2w))
  return Frame(image, outputs, time.perf_counter() - start, model_seconds=model_seconds)


def side_by_side(frames, height, width):
  """The frames' images side by side (a failed model's half dark red), uint8 [H, W, 3]."""
  halves = []
  for frame in frames:
    if frame.image is not None:
      halves.append(frame.image)
    else:
      failed = np.zeros((height, width, 3), np.uint8)
      failed[..., 0] = 96
      halves.append(failed)
  return np.concatenate(halves, axis=1)


def frame_stats(model, frame, full):
  """One model's line of the page: its label, then ms a frame, rays/s, N and the size."""
  info = model.model_info()
  n = info.get("num_sections")
  what = f"AutoInt N = {n}" if n else f"{info.get('renderer', 'quadrature')} baseline"
  if frame.image is None:
    return f"**{model.label}** ({what})  \n⚠ {frame.error}"
  h, w = frame.image.shape[:2]
  rays = h * w / frame.model_seconds if frame.model_seconds > 0 else float("nan")
  return (f"**{model.label}** ({what})  \n{1e3 * frame.seconds:.1f} ms/frame · "
          f"{rays:,.0f} rays/s · {h}×{w} · {'full' if full else 'preview'}")


def trained_on(model):
  """What the model was trained on, as markdown lines (its model_info)."""
  info = model.model_info()
  c = info.get("context", {})
  if not c:
    return f"**{model.label}**: model_info not available yet"
  lines = [f"**{model.label}**",
           f"- application: {info.get('application', '?')}, renderer "
           f"{info.get('renderer', 'autoint')}, checkpoint {info.get('checkpoint', '?')}",
           (f"- region: the box {c['box']} ({c.get('box_source') or 'given'}); each ray "
            "is cut to its segment inside it" if c.get("box") else
            f"- near/far {c.get('near'):g} / {c.get('far'):g}" + (
                " (NDC volume)" if c.get("ndc") else "")),
           f"- views {c.get('height')}×{c.get('width')}, focal {c.get('focal', 0):.1f}, "
           f"background {c.get('background')}",
           f"- evaluations a ray: {info.get('evaluations_per_ray', '?')}"]
  return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The page.

class Viewer:
  """A viser server showing `models`; one LiveView a connected browser."""

  def __init__(self, models, host="0.0.0.0", port=DEFAULT_PORT, resolution=100,
               preview_resolution=32, retry_seconds=2.0):
    import viser  # pylint: disable=g-import-not-at-top
    self.models = list(models)
    self.server = viser.ViserServer(host=host, port=port, verbose=False)
    self.server.gui.configure_theme(control_width="large")
    self.views = {}
    gui = self.server.gui
    self.frames_text = gui.add_markdown("Frames: 0")
    self.stats = [gui.add_markdown(f"**{m.label}**: waiting for a camera") for m in self.models]
    self.display = gui.add_dropdown("Display", DISPLAYS, initial_value="rgb")
    self.resolution = gui.add_slider("Resolution", 16, 400, 4, resolution)
    self.preview = gui.add_slider("While moving", 8, 200, 4, preview_resolution)
    with gui.add_folder("Trained on", expand_by_default=False):
      self.info_text = [gui.add_markdown(trained_on(m)) for m in self.models]
    self.retry_seconds = retry_seconds
    self.display.on_update(lambda _: self._each(lambda v: self._set_display(v)))
    self.resolution.on_update(lambda _: self._each(self._set_resolution))
    self.preview.on_update(lambda _: self._each(self._set_resolution))
    self.server.on_client_connect(self._connect)
    self.server.on_client_disconnect(self._disconnect)

  @property
  def port(self):
    return self.server.get_port()

  def _each(self, fn):
    for view in list(self.views.values()):
      fn(view)

  def _set_display(self, view):
    view.display_mode = self.display.value
    view.redraw()

  def _set_resolution(self, view):
    view.resolution, view.preview_resolution = int(self.resolution.value), int(self.preview.value)
    view.rerender()

  def _connect(self, client):
    def show(frames, camera, full):
      del camera
      h = next((f.image.shape[0] for f in frames if f.image is not None), None)
      w = next((f.image.shape[1] for f in frames if f.image is not None), None)
      if h is not None:
        client.scene.set_background_image(side_by_side(frames, h, w), format="jpeg",
                                          jpeg_quality=92)
      self.frames_text.content = f"Frames: {view.frames_shown}"
      for model, text, frame, info in zip(self.models, self.stats, frames, self.info_text):
        text.content = frame_stats(model, frame, full)
        info.content = trained_on(model)

    view = LiveView(self.models, show, int(self.resolution.value), int(self.preview.value),
                    self.display.value, retry_seconds=self.retry_seconds)
    self.views[client.client_id] = view
    self._start_camera(client)

    @client.camera.on_update
    def _(camera):
      view.set_camera(Camera(pose_from_viser(camera.wxyz, camera.position), float(camera.fov),
                             float(camera.aspect)))

  def _start_camera(self, client):
    """The start view: the training camera the run recorded, with its field of view."""
    try:
      context = self.models[0].context
    except (Unavailable, Refused):
      return
    pose = context.get("view_pose")
    if pose is None:
      return
    position, look_at, up = viser_view(pose)
    with client.atomic():
      client.camera.up_direction = up
      client.camera.position = position
      client.camera.look_at = look_at
      height, focal = context.get("height"), context.get("focal")
      if height and focal:
        client.camera.fov = 2 * np.arctan(0.5 * height / focal)

  def _disconnect(self, client):
    view = self.views.pop(client.client_id, None)
    if view is not None:
      view.stop()

  def stop(self):
    self._each(lambda v: v.stop())
    self.server.stop()


# ---------------------------------------------------------------------------------------------
# The command.

def define_flags():
  """The command's flags (defined only when run as a program, so modules import cleanly)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_multi_string("workdir", [], "A training run of train.radiance, rendered in "
                            "process through the render_rays its export would have.")
  flags.DEFINE_multi_string("export", [], "An export EXPORT_BASE/NAME[/VERSION] of "
                            "serving.export (newest version if none), loaded the way TF Serving "
                            "loads it.")
  flags.DEFINE_multi_string("server", [], "A running TF Serving HOST:PORT (8501 REST, 8500 "
                            "gRPC; --protocol).")
  flags.DEFINE_enum("protocol", "rest", ["rest", "grpc"], "How to talk to --server.")
  flags.DEFINE_string("model", "autoint", "The model name on --server.")
  flags.DEFINE_integer("model_version", 0, "The model version on --server (0: the newest).")
  flags.DEFINE_integer("num_sections", 8, "N of a --workdir model (an export has its own).")
  flags.DEFINE_integer("port", DEFAULT_PORT, "The port of the page.")
  flags.DEFINE_string("host", "0.0.0.0", "The address to listen on (127.0.0.1: this machine "
                      "only).")
  flags.DEFINE_integer("resolution", 100, "Image rows once the camera rests.")
  flags.DEFINE_integer("preview_resolution", 32, "Image rows while the camera moves.")
  flags.DEFINE_float("retry_seconds", 2.0, "How often an unreachable server is retried.")


def open_models(workdirs=(), exports=(), servers=(), protocol="rest", name="autoint",
                version=None, num_sections=8):
  """The one or two models the flags name, in the order workdir, export, server."""
  count = len(workdirs) + len(exports) + len(servers)
  if not 1 <= count <= 2:
    raise ValueError(f"Give one model to view, or two to compare side by side (--workdir, "
                     f"--export, --server, each repeatable); got {count}.")
  return ([from_workdir(w, num_sections) for w in workdirs] +
          [from_export(e) for e in exports] +
          [from_server(s, protocol, name, version) for s in servers])


def main(argv):
  del argv
  from absl import app, flags  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  try:
    models = open_models(f.workdir, f.export, f.server, f.protocol, f.model,
                         f.model_version or None, f.num_sections)
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from None
  viewer = Viewer(models, f.host, f.port, f.resolution, f.preview_resolution, f.retry_seconds)
  print(f"The viewer of {' | '.join(m.label for m in models)}: open "
        f"http://localhost:{viewer.port} (Ctrl-C stops it)", flush=True)
  try:
    while True:
      time.sleep(3600)
  except KeyboardInterrupt:
    viewer.stop()


def run():
  """The console script: the flags, then `main`."""
  from absl import app  # pylint: disable=g-import-not-at-top
  define_flags()
  app.run(main)
