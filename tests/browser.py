"""A real browser for the viewer's tests and its screenshots: headless Chromium from the system
packages (Debian's `chromium`; .ci/run and `make setup` install it), driven by Playwright."""

import contextlib
import os
import re
import shutil
import time

import numpy as np

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
                  "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-extensions", "--mute-audio"]
FRAMES = re.compile(r"Frames: (\d+)")


def chromium():
  """The system Chromium, or an error naming how to install it."""
  for name in ("chromium", "chromium-browser", "google-chrome"):
    path = shutil.which(name)
    if path:
      return path
  raise RuntimeError("No system Chromium for the browser tests: install it with "
                     "`apt-get update && apt-get install -y chromium` (as .ci/run does).")


@contextlib.contextmanager
def page(url, width=960, height=600, timeout=60.0):
  """A Playwright page of `url` in headless Chromium, loaded."""
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
    try:
      tab = browser.new_page(viewport={"width": width, "height": height})
      tab.set_default_timeout(timeout * 1e3)
      tab.goto(url)
      yield tab
    finally:
      browser.close()


def text(tab):
  return tab.inner_text("body")


def frames(tab):
  """The page's frame counter (frames the viewer has shown this browser)."""
  found = FRAMES.search(text(tab))
  return int(found.group(1)) if found else 0


def wait_for(tab, condition, timeout=60.0, what="the page"):
  """Polls condition(page text) until true; returns the seconds it took."""
  start = time.monotonic()
  while time.monotonic() - start < timeout:
    body = text(tab)
    if condition(body):
      return time.monotonic() - start
    time.sleep(0.1)
  raise AssertionError(f"{what} did not happen within {timeout:g} s; the page says:\n"
                       f"{text(tab)[:2000]}")


def full_frames(body):
  """How many models show a full-resolution frame."""
  return len(re.findall(r"ms/frame · [\d,]+ rays/s · \d+×\d+ · full", body))


def canvas(tab, path=None):
  """The page as an RGB array [H, W, 3] (the rendered image fills the canvas behind the
  panels); also written to `path` as PNG if given."""
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  png = tab.screenshot(path=path)
  return iio.imread(png, extension=".png")[..., :3].astype(np.float32) / 255


def drag(tab, start, end, steps=10):
  """A left-button mouse drag on the page from `start` to `end` (x, y): viser orbits."""
  tab.mouse.move(*start)
  tab.mouse.down()
  tab.mouse.move(*end, steps=steps)
  tab.mouse.up()


def dismiss_notifications(tab):
  """Closes viser's notifications (the software-WebGL one covers part of the canvas)."""
  for button in tab.locator(".mantine-Notification-closeButton").all():
    with contextlib.suppress(Exception):
      button.click(timeout=2000)
