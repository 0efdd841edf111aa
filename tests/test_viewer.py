"""The live viewer: its camera -> rays -> image path against radiance.render_views (orbit and
NDC runs), its render loop (newest camera only, retries, refusals), and the page itself in a
real browser (headless Chromium driven by Playwright)."""

import dataclasses
import os
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import browser
from conftest import REPO
from conftest import radiance_config
from autoint_tf import radiance
from autoint_tf import scenes
from autoint_tf.serving import client
from autoint_tf.serving import export
from autoint_tf.serving import viewer


def viser_camera(c2w, height, width, focal):
  """The viewer's Camera for an OpenGL pose as viser would report it: the OpenCV rotation as a
  quaternion (scipy, independent of the viewer's own conversion), the vertical fov, the
  aspect."""
  c2w = np.asarray(c2w, np.float64)
  x, y, z, w = Rotation.from_matrix(c2w[:3, :3] @ np.diag([1.0, -1.0, -1.0])).as_quat()
  pose = viewer.pose_from_viser((w, x, y, z), c2w[:3, 3])
  return viewer.Camera(pose, 2 * np.arctan(0.5 * height / focal), width / height)


def forward_facing(views):
  """`views` as an LLFF-style NDC scene: cameras near the origin looking down -z."""
  poses = np.tile(np.eye(4, dtype=np.float32), (len(views), 1, 1))
  poses[:, 0, 3] = np.linspace(-0.2, 0.2, len(views))
  poses[:, :3, :3] = Rotation.from_euler("y", np.linspace(-5, 5, len(views))[:, None],
                                         degrees=True).as_matrix()
  return dataclasses.replace(views, poses=poses, ndc=True, near=1.0, far=6.0, name="ndc")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """Tiny trained runs: AutoInt on an orbit scene, AutoInt on an NDC scene, the quadrature
  baseline; each exported."""
  tmp = tmp_path_factory.mktemp("viewer")
  train, test = scenes.procedural_views(num_train=3, num_test=1, size=8)
  out = {}
  for name, renderer, views in [("orbit", "autoint", (train, test)),
                                ("ndc", "autoint", tuple(map(forward_facing, (train, test)))),
                                ("quadrature", "quadrature", (train, test))]:
    config = radiance_config(image_size=8, batch_size=64, steps=3, log_every=1,
                             eval_every=1000, checkpoint_every=1000, renderer=renderer,
                             num_coarse=8, num_fine=8)
    workdir = str(tmp / name)
    model, _ = radiance.train(config, *views, workdir, progress=False)
    out[name] = {"workdir": workdir, "model": model, "views": views[1],
                 "export": os.path.dirname(export.export(workdir, str(tmp / "exports"), name))}
  return out


def test_quaternions_and_poses_follow_viser_and_opengl_conventions():
  rng = np.random.default_rng(0)
  for q in rng.normal(size=(5, 4)):
    x, y, z, w = q / np.linalg.norm(q)
    np.testing.assert_allclose(viewer.quaternion_matrix((w, x, y, z)),
                               Rotation.from_quat((x, y, z, w)).as_matrix(), atol=1e-12)
  # A camera looking down -z in OpenGL looks down +z in OpenCV: the identity of viser maps to
  # diag(1, -1, -1).
  np.testing.assert_allclose(viewer.pose_from_viser((1, 0, 0, 0), (1, 2, 3))[:3],
                             [[1, 0, 0, 1], [0, -1, 0, 2], [0, 0, -1, 3]], atol=1e-7)
  # The start view looks along the pose's optical axis at its point nearest the origin.
  pose = np.asarray(scenes.procedural_views(num_train=1, num_test=1, size=4)[0].poses[0])
  position, look_at, up = viewer.viser_view(pose)
  np.testing.assert_allclose(position, pose[:3, 3])
  forward = (look_at - position) / np.linalg.norm(look_at - position)
  np.testing.assert_allclose(forward, -pose[:3, 2], atol=1e-6)
  assert np.linalg.norm(look_at - position) == pytest.approx(float(position @ pose[:3, 2]))
  np.testing.assert_array_equal(up, [0, 0, 1])


@pytest.mark.parametrize("name", ["orbit", "ndc"])
@pytest.mark.parametrize("source", ["workdir", "export"])
def test_the_viewer_renders_the_pixels_of_render_views(runs, name, source):
  run = runs[name]
  views = run["views"]
  model = (viewer.from_workdir(run["workdir"]) if source == "workdir" else
           viewer.from_export(run["export"]))
  assert model.context["ndc"] == (name == "ndc")
  want = radiance.render_views(run["model"], views, 8)
  camera = viser_camera(views.poses[0], views.height, views.width, views.focal)
  frame = viewer.render_frame(model, camera, views.height)
  assert frame.image.shape == (views.height, views.width, 3) and not frame.error
  for k in ("rgb", "depth", "opacity"):
    np.testing.assert_allclose(frame.outputs[k], want[k][0], rtol=1e-4, atol=2e-5, err_msg=k)
  assert frame.seconds >= frame.model_seconds > 0
  # The displayed image is the colour, quantized.
  np.testing.assert_allclose(frame.image / 255, np.clip(want["rgb"][0], 0, 1), atol=0.5 / 255 + 1e-6)


def test_depth_and_opacity_displays_show_those_outputs():
  out = {"rgb": np.zeros((2, 2, 3)), "depth": np.array([[2.0, 4.0], [3.0, 9.0]]),
         "opacity": np.array([[1.0, 1.0], [0.5, 0.0]])}
  grey = viewer.display(out, "opacity")
  np.testing.assert_array_equal(grey[..., 0], [[255, 255], [128, 0]])
  depth = viewer.display(out, "depth", (2.0, 4.0)).astype(float)
  assert np.all(depth[1, 1] == 0)                    # transparent: black
  assert not np.allclose(depth[0, 0], depth[0, 1])   # near and far differ
  with pytest.raises(ValueError, match="display 'normals'"):
    viewer.display(out, "normals")


class SlowModel(viewer.Model):
  """A model whose render takes `seconds` and records each camera it rendered."""

  def __init__(self, seconds=0.05, failures=(), **kwargs):
    super().__init__("slow", self._predict, {"context": {"near": 2.0, "far": 6.0}}, **kwargs)
    self.seconds, self.failures, self.rendered = seconds, list(failures), []

  def _predict(self, inputs, signature):
    assert signature == "render_rays"
    time.sleep(self.seconds)
    if self.failures:
      raise self.failures.pop(0)
    b = len(inputs["rays_o"])
    return {"rgb": np.full((b, 3), 0.5), "depth": np.full(b, 3.0), "opacity": np.ones(b)}

  def render(self, c2w, height, width, focal):
    self.rendered.append((float(c2w[0, 3]), height))
    return super().render(c2w, height, width, focal)


def _camera(x):
  c2w = np.eye(4, dtype=np.float32)
  c2w[0, 3] = x
  return viewer.Camera(c2w, 0.8, 1.0)


def _wait(condition, timeout=20.0):
  start = time.monotonic()
  while not condition():
    assert time.monotonic() - start < timeout, "timed out"
    time.sleep(0.01)


def test_a_burst_of_camera_moves_renders_only_the_newest_camera():
  model, shown = SlowModel(0.05), []
  view = viewer.LiveView([model], lambda frames, camera, full: shown.append((camera, full)),
                         resolution=16, preview_resolution=4, rest_seconds=0.3)
  try:
    for i in range(60):  # 60 moves in ~0.3 s, while a render takes 0.05 s
      view.set_camera(_camera(float(i)))
      time.sleep(0.005)
    _wait(lambda: shown and shown[-1][1] and shown[-1][0].c2w[0, 3] == 59.0)
    time.sleep(0.5)
  finally:
    view.stop()
  assert len(model.rendered) < 20, model.rendered          # not one render per move
  previews = [h for _, h in model.rendered if h == 4]
  assert previews and model.rendered[-1] == (59.0, 16)      # the last camera, in full
  assert sum(1 for x, h in model.rendered if h == 16) == 1  # full resolution once, at rest


def test_an_unreachable_model_is_retried_and_a_refusal_is_shown(runs):
  away = [client.ServingError("UNAVAILABLE", "connection refused")] * 2
  model, shown = SlowModel(0.0, failures=away), []
  view = viewer.LiveView([model], lambda frames, camera, full: shown.append(frames[0]),
                         resolution=8, preview_resolution=8, rest_seconds=0.0, retry_seconds=0.1)
  try:
    view.set_camera(_camera(0.0))
    _wait(lambda: shown and shown[-1].image is not None)
  finally:
    view.stop()
  assert "unreachable, retrying" in shown[0].error and shown[0].image is None
  assert "ms/frame" in viewer.frame_stats(model, shown[-1], True)
  assert "⚠ unreachable" in viewer.frame_stats(model, shown[0], True)
  # A real export refuses a camera beyond the magnitudes it answers; the page shows why.
  served = viewer.from_export(runs["orbit"]["export"])
  frame = viewer.render_frame(served, _camera(3e4), 8)
  assert frame.image is None and frame.error.startswith("refused: INVALID_ARGUMENT")
  assert "rays_o" in frame.error


def test_quadrature_baseline_exports_render_rays_but_no_ray_integral(runs):
  model = viewer.from_export(runs["quadrature"]["export"])
  info = model.model_info()
  assert info["renderer"] == "quadrature" and "num_sections" not in info
  from autoint_tf.serving import session  # pylint: disable=g-import-not-at-top
  versions = os.listdir(runs["quadrature"]["export"])
  loaded = session.SessionModel(os.path.join(runs["quadrature"]["export"],
                                             [v for v in versions if v.isdigit()][0]))
  assert "render_rays" in loaded.signatures and "ray_integral" not in loaded.signatures


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _region(image, rows, cols):
  h, w = image.shape[:2]
  return image[int(rows[0] * h):int(rows[1] * h), int(cols[0] * w):int(cols[1] * w)]


LEFT, RIGHT, LOW = (0.12, 0.45), (0.55, 0.88), (0.55, 0.92)  # clear of the page's panels


def test_the_page_in_a_real_browser_side_by_side(runs):
  models = [viewer.from_workdir(runs["orbit"]["workdir"]),
            viewer.from_export(runs["quadrature"]["export"])]
  page_viewer = viewer.Viewer(models, host="127.0.0.1", port=_free_port(), resolution=48,
                              preview_resolution=16)
  try:
    with browser.page(f"http://127.0.0.1:{page_viewer.port}") as tab:
      # An image of each model arrives (stated time: 60 s, most of it Chromium's start).
      browser.wait_for(tab, lambda body: browser.full_frames(body) == 2, 60.0,
                       "a full-resolution frame of both models")
      body = browser.text(tab)
      times = [float(t) for t in re.findall(r"([\d.]+) ms/frame", body)]
      rates = [float(r.replace(",", "")) for r in re.findall(r"([\d,]+) rays/s", body)]
      assert len(times) == len(rates) == 2 and all(t > 0 for t in times + rates)
      assert "AutoInt N = 8" in body and "quadrature baseline" in body
      # The browser's camera starts at the run's training camera.
      view = next(iter(page_viewer.views.values()))
      start = view._camera.c2w  # pylint: disable=protected-access
      np.testing.assert_allclose(start[:3, :3], np.asarray(models[0].context["view_pose"])[:3, :3],
                                 atol=1e-3)
      first = browser.canvas(tab)
      left, right = _region(first, LOW, LEFT), _region(first, LOW, RIGHT)
      assert left.std() > 0.01 and right.std() > 0.01               # two images, not blank
      assert np.abs(left.mean((0, 1)) - right.mean((0, 1))).max() > 0.01 or \
          np.abs(left - right).mean() > 0.02                         # of two different models
      # A drag on the canvas orbits the camera; a new image arrives and differs.
      count = browser.frames(tab)
      browser.drag(tab, (300, 420), (520, 380), 10)
      browser.wait_for(tab, lambda body: browser.frames(tab) > count + 1 and
                       browser.full_frames(body) == 2, 60.0, "a new frame after the drag")
      assert not np.allclose(view._camera.c2w, start, atol=1e-3)  # pylint: disable=protected-access
      time.sleep(0.5)  # the browser draws the last image
      second = browser.canvas(tab)
      assert np.abs(_region(second, LOW, LEFT) - left).mean() > 0.005
      # Depth instead of colour: the same camera, another image.
      count = browser.frames(tab)
      tab.get_by_role("combobox").first.click()      # viser's dropdown is a Mantine combobox
      tab.get_by_role("option", name="depth").click()
      time.sleep(1.0)
      third = browser.canvas(tab)
      assert np.abs(_region(third, LOW, LEFT) - _region(second, LOW, LEFT)).mean() > 0.005
  finally:
    page_viewer.stop()


def test_the_command_shows_a_server_that_goes_away_and_comes_back(served):
  from serving_standin import Standin  # pylint: disable=g-import-not-at-top
  standin, rest = Standin(served["base"], ["autoint"]), _free_port()
  standin.start(rest_port=rest)
  port = _free_port()
  proc = subprocess.Popen(
      [sys.executable, "-m", "serving.viewer", f"--server=127.0.0.1:{rest}", "--host=127.0.0.1",
       f"--port={port}", "--resolution=24", "--preview_resolution=8", "--retry_seconds=0.5"],
      cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  lines = []
  threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
  try:
    _wait(lambda: any(f"http://localhost:{port}" in line for line in lines) or
          proc.poll() is not None, 120.0)
    assert proc.poll() is None, "".join(lines)
    with browser.page(f"http://127.0.0.1:{port}") as tab:
      browser.wait_for(tab, lambda body: browser.full_frames(body) == 1, 60.0, "a frame")
      standin.stop()
      browser.drag(tab, (300, 420), (420, 400), 5)
      browser.wait_for(tab, lambda body: "unreachable, retrying" in body, 30.0,
                       "the message of a server that went away")
      standin.start(rest_port=rest)
      browser.wait_for(tab, lambda body: "unreachable" not in body and
                       browser.full_frames(body) == 1, 30.0, "a frame once the server is back")
  finally:
    proc.terminate()
    proc.wait(timeout=30)
    standin.stop()
