"""Every figure and animation of the project (matplotlib, Agg backend; written atomically).

Notation: as in the module that produced the arrays (toy.py, ct.py, radiance.py). Functions
take arrays and a path; none of them computes a model output.
"""

import os

import numpy as np

from autoint_tf import io_utils
from autoint_tf import metrics


def _pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def integrand_1d(x, f, grad, F, phi, samples, title, path):
  """Integrand vs grad network, antiderivative vs integral network (shifted to F at x[0]).

  x, f, grad, F, phi: [P]; samples: (x_s, f_s) training samples (drawn when <= 200).
  """
  plt = _pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  axes[0].plot(x, f, "k", lw=2, label="integrand f")
  axes[0].plot(x, grad, "r--", label="grad network dPhi/dx")
  if len(samples[0]) <= 200:
    axes[0].plot(samples[0], samples[1], "bo", ms=4, label="training samples")
  axes[1].plot(x, F, "k", lw=2, label="antiderivative F")
  axes[1].plot(x, phi - phi[0] + F[0], "r--", label="integral network Phi (shifted)")
  for ax in axes:
    ax.legend()
    ax.set_xlabel("x")
  fig.suptitle(title)
  io_utils.save_figure(fig, path)


def images_side_by_side(images, titles, extent, path):
  """Images [H, W] in a row with colour bars (e.g. f, the grad network, |error|)."""
  plt = _pyplot()
  fig, axes = plt.subplots(1, len(images), figsize=(4.7 * len(images), 4))
  for ax, img, title in zip(np.atleast_1d(axes), images, titles):
    im = ax.imshow(img, origin="lower", extent=extent)
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
  io_utils.save_figure(fig, path)


def ct_report(out, report, path):
  """Sinograms (measured, AutoInt, interpolation), the centre detector across views and, when
  there are, the images (phantom, FBP, SIRT, the TV image prior, AutoInt and its spread over
  directions)."""
  plt = _pyplot()
  images = [(k, out[k]) for k in ("image", "fbp_image", "sirt_image", "tv_image", "point_image",
                                   "point_image_std") if out.get(k) is not None]
  segments = list((out.get("segmentations") or {}).items())
  if segments and out.get("reference_segmentation") is not None:
    segments.append(("reference", out["reference_segmentation"]))
  rows = 1 + bool(images) + bool(segments)
  cols = max(4, len(images), len(segments))
  fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), squeeze=False)
  if "psnr_heldout_autoint" in report:
    titles = {"prediction": f"AutoInt {report['psnr_heldout_autoint']:.1f} dB held-out",
              "interpolation": f"interpolation {report['psnr_heldout_interpolation']:.1f} dB"}
  else:  # every view trained
    titles = {"prediction": f"AutoInt {report['psnr_train_views']:.1f} dB (its own views)",
              "interpolation": "interpolation (no held-out views)"}
  titles["truth"] = "measured (all views)"
  for ax, key in zip(axes[0, :3], ("truth", "prediction", "interpolation")):
    ax.imshow(out[key].T, aspect="auto", cmap="gray")
    ax.set_title(titles[key])
    ax.set_xlabel("view")
  mid = out["truth"].shape[1] // 2
  for key, style in (("truth", "k"), ("prediction", "r--"), ("interpolation", "b:")):
    axes[0, 3].plot(out[key][:, mid], style, label=key)
  axes[0, 3].plot(out["kept"], out["truth"][out["kept"], mid], "ko", label="kept views")
  axes[0, 3].set_title("centre detector across views")
  axes[0, 3].legend()
  for ax in axes[0, 4:]:
    ax.axis("off")

  def score(key):  # " 17.5 dB" against the phantom, "" for a measured scan (no ground truth)
    value = report.get(f"psnr_image_{key}")
    return "" if value is None else f" {value:.1f} dB"

  image_titles = {
      "image": "phantom", "fbp_image": "FBP" + score("fbp"),
      "sirt_image": "SIRT" + score("sirt"), "tv_image": "TV (the image prior)" + score("tv"),
      "point_image": "AutoInt (mean over directions)" + score("autoint"),
      "point_image_std": "AutoInt std over directions"}
  for ax in axes[1:].ravel():
    ax.axis("off")
  phantom = out.get("image")
  for ax, (key, img) in zip(axes[1], images):
    # On the phantom's grey scale when there is one; a measured scan has none, so each image
    # on its own (0 to its 99.5th percentile: FBP and SIRT of a limited arc differ in scale).
    spread = key == "point_image_std"
    vmax = float(np.max(phantom)) if phantom is not None else float(np.percentile(img, 99.5))
    ax.imshow(img, cmap="gray", vmin=None if spread else 0, vmax=None if spread else vmax)
    ax.set_title(image_titles[key])
  mcc = report.get("mcc", {})
  for ax, (key, mask) in zip(axes[-1] if segments else [], segments):
    ax.imshow(mask, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title("ground truth" if key == "reference" else
                 f"{key.upper() if key != 'autoint' else 'AutoInt'} MCC {mcc[key]:.3f}")
  io_utils.save_figure(fig, path)


def ct_activations(sinograms, path):
  """The paper's CT figure: predicted sinograms per model and activation (rows) and
  subsampling (columns), and the centre detector across views against the truth.

  sinograms: dict "model_activation_sub" -> [A, N] and "truth" -> [A, N]. Runs with other
  settings ("model+settings_activation_sub") are left out: the figure compares activations.
  """
  runs = sorted({k.rsplit("_", 1)[0] for k in sinograms if k.count("_") == 2 and "+" not in k})
  subs = sorted({int(k.rsplit("_", 1)[1]) for k in sinograms if k.count("_") == 2})
  if not runs:
    return
  plt = _pyplot()
  truth = sinograms["truth"]
  mid = truth.shape[1] // 2
  fig, axes = plt.subplots(len(runs), len(subs) + 1, figsize=(3.2 * (len(subs) + 1),
                                                              2.6 * len(runs)), squeeze=False)
  for r, run in enumerate(runs):
    for c, sub in enumerate(subs):
      ax = axes[r, c]
      pred = sinograms.get(f"{run}_{sub}")
      ax.axis("off")
      if pred is not None:
        ax.imshow(pred.T, aspect="auto", cmap="gray", vmin=truth.min(), vmax=truth.max())
        ax.set_title(f"{run.replace('_', ' ')} {sub}x", fontsize=9)
        axes[r, -1].plot(pred[:, mid], label=f"{sub}x", lw=1)
    axes[r, -1].plot(truth[:, mid], "k", lw=1.5, label="truth")
    axes[r, -1].set_title(f"{run.replace('_', ' ')}: centre detector", fontsize=9)
    axes[r, -1].legend(fontsize=7)
  io_utils.save_figure(fig, path)


def test_views(out, views, path, max_views=4, label="AutoInt"):
  """A grid: prediction | reference | depth | opacity, one row per test view.

  out: dict of rgb [V, H, W, 3], depth, opacity [V, H, W]; views: scenes.Views.
  """
  plt = _pyplot()
  n = min(max_views, len(views))
  fig, axes = plt.subplots(n, 4, figsize=(12, 3 * n), squeeze=False)
  for i in range(n):
    psnr = metrics.psnr(np.clip(out["rgb"][i], 0, 1), views.images[i])
    panels = [(np.clip(out["rgb"][i], 0, 1), f"{label} {psnr:.1f} dB"),
              (views.images[i], "reference"), (out["depth"][i], "depth"),
              (out["opacity"][i], "opacity")]
    for ax, (img, title) in zip(axes[i], panels):
      ax.imshow(img, cmap=None if img.ndim == 3 else "viridis")
      ax.set_title(title)
      ax.axis("off")
  io_utils.save_figure(fig, path)


def compare_views(renders, views, path, max_views=4):
  """A grid: each renderer's image (with its PSNR) | reference, one row per test view.

  renders: list of (label, rgb [V, H, W, 3]); views: scenes.Views.
  """
  plt = _pyplot()
  n = min(max_views, len(views))
  cols = len(renders) + 1
  fig, axes = plt.subplots(n, cols, figsize=(3 * cols, 3 * n), squeeze=False)
  for i in range(n):
    panels = [(np.clip(rgb[i], 0, 1), f"{label} "
               f"{metrics.psnr(np.clip(rgb[i], 0, 1), views.images[i]):.1f} dB")
              for label, rgb in renders] + [(views.images[i], "reference")]
    for ax, (img, title) in zip(axes[i], panels):
      ax.imshow(img)
      ax.set_title(title, fontsize=9)
      ax.axis("off")
  io_utils.save_figure(fig, path)


def training_curves(curves, path, ylabel="test PSNR (dB)"):
  """Quality against training time: curves, {label: [(step, minutes, value)]}."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(6, 4))
  for label, points in curves.items():
    if points:
      _, minutes, values = zip(*points)
      ax.plot(minutes, values, "o-", label=label)
  ax.set_xlabel("training minutes")
  ax.set_ylabel(ylabel)
  ax.grid(alpha=0.3)
  ax.legend()
  io_utils.save_figure(fig, path)


def save_gif(frames, path, seconds_per_frame=0.08):
  """An endlessly looping GIF of frames [F, H, W, 3] in [0, 1]."""
  import imageio.v2 as imageio  # pylint: disable=g-import-not-at-top
  with io_utils.atomic_path(path) as tmp:
    imageio.mimsave(tmp, (np.clip(frames, 0, 1) * 255).astype(np.uint8), format="GIF",
                    duration=seconds_per_frame, loop=0)


def save_png(image, path):
  """An image [H, W, 3] in [0, 1] as an 8-bit PNG."""
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  with io_utils.atomic_path(path) as tmp:
    iio.imwrite(tmp, (np.clip(image, 0, 1) * 255).astype(np.uint8), extension=os.path.splitext(
        path)[1] or ".png")
