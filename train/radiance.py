r"""Neural volume rendering with AutoInt: trains the sigma/colour integral networks and the
sampling network (or the NeRF-style quadrature baseline), then evaluates and renders.

  python -m train.radiance --workdir=runs/blobs                        # built-in scene, CPU
  python -m train.radiance --preset=cpu_tiny --scene=npz --data_path=../shared/data/lego_100px.npz
  python -m train.radiance --preset=paper_blender --strategy=mirrored  # GPUs of one host
  TF_CONFIG=... python -m train.radiance --preset=paper_llff --strategy=multiworker

Flags given on the command line override the preset. Rerunning with the same --workdir resumes
from the last checkpoint. Outputs in --workdir: metrics.json (test PSNR/SSIM, rays/s and network
evaluations a ray for AutoInt at each N and for the quadrature timing), test_views.png
(prediction | reference | depth | opacity), turntable.gif, tb/ (TensorBoard), checkpoints/.
"""

import json
import os

from absl import app
from absl import flags
import numpy as np

from autoint_tf import config_flags
from autoint_tf import fields
from autoint_tf import io_utils
from autoint_tf import radiance
from autoint_tf import radiance_train as rt

flags.DEFINE_string("workdir", "runs/radiance", "Output directory.")
flags.DEFINE_enum("preset", "cpu_tiny", sorted(rt.TRAIN_PRESETS), "Starting configuration.")
flags.DEFINE_list("eval_sections_list", ["4", "8", "16", "32"], "AutoInt N for the test report.")
flags.DEFINE_integer("turntable_frames", 24, "Frames of the turntable GIF (0: none).")
flags.DEFINE_bool("time_quadrature", True,
                  "Also time the NeRF-style quadrature renderer (same networks) on the test rays.")
config_flags.define(rt.TrainConfig, {
    "scene": "blobs (built in), npz, blender or llff.",
    "data_path": "Scene file/directory (npz, blender, llff).",
    "downscale": "Blender: image downscale; LLFF: images_<factor>.",
    "white_background": "Blender: composite RGBA on white (NeRF) rather than black.",
    "image_size": "Built-in scene: view size in pixels.",
    "renderer": "autoint, or quadrature (NeRF-style baseline).",
    "model": "Network preset (radiance.MODEL_PRESETS): tiny or paper.",
    "activation": "Override the preset's activation.",
    "num_sections": "Override K, the sampling network's sections (training N).",
    "view_consistent_sigma": "sigma's network sees only the point, not the ray orientation.",
    "num_coarse": "Baseline: stratified samples.",
    "num_fine": "Baseline: importance samples.",
    "batch_size": "Rays a step (global).",
    "learning_rate": "Adam learning rate.",
    "lr_decay_steps": "lr x 0.2 every this many steps.",
    "steps": "Training steps.",
    "eval_sections": "AutoInt N for validation renders.",
    "log_every": "Steps between loss logs.",
    "eval_every": "Steps between validation renders.",
    "checkpoint_every": "Steps between checkpoints.",
    "strategy": "default, mirrored (GPUs of one host) or multiworker (TF_CONFIG).",
    "seed": "Random seed.",
}, enums={"scene": ["blobs", "npz", "blender", "llff"], "renderer": rt.RENDERERS,
          "model": sorted(radiance.MODEL_PRESETS), "strategy": rt.STRATEGIES})
FLAGS = flags.FLAGS


def save_views(out, views, path, max_views=4):
  """A grid: prediction | reference | depth | opacity, one row per test view."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  n = min(max_views, len(views))
  fig, axes = plt.subplots(n, 4, figsize=(12, 3 * n), squeeze=False)
  for i in range(n):
    mse = np.mean((np.clip(out["rgb"][i], 0, 1) - views.images[i])**2)
    panels = [(np.clip(out["rgb"][i], 0, 1), f"AutoInt {-10 * np.log10(mse):.1f} dB"),
              (views.images[i], "reference"), (out["depth"][i], "depth"),
              (out["opacity"][i], "opacity")]
    for ax, (img, title) in zip(axes[i], panels):
      ax.imshow(img, cmap=None if img.ndim == 3 else "viridis")
      ax.set_title(title)
      ax.axis("off")
  io_utils.save_figure(fig, path)


def turntable(model, views, config, path, frames):
  import imageio.v2 as imageio  # pylint: disable=g-import-not-at-top
  from autoint_tf import cameras  # pylint: disable=g-import-not-at-top
  radius = float(np.linalg.norm(views.poses[0][:3, 3]))
  poses = cameras.orbit_poses(frames, radius, elevations_deg=(25.0,))
  images = np.zeros([frames, views.height, views.width, 3], np.float32)
  spin = rt.scenes.Views(images, poses, views.focal, views.near, views.far, views.background,
                         "turntable", views.ndc)
  out = rt.render_views(model, spin, config.renderer, config.eval_sections)
  with io_utils.atomic_path(path) as tmp:
    imageio.mimsave(tmp, (np.clip(out["rgb"], 0, 1) * 255).astype(np.uint8), format="GIF",
                    duration=0.08, loop=0)


def main(argv):
  del argv
  config = config_flags.config(rt.TrainConfig, base=rt.TRAIN_PRESETS[FLAGS.preset])
  if config.activation:
    fields.check_activation(config.activation)
  os.makedirs(FLAGS.workdir, exist_ok=True)
  io_utils.write_json(os.path.join(FLAGS.workdir, "config.json"), config)
  train_views, test_views = rt.load_views(config)
  print(f"{train_views.name}: {len(train_views)} training and {len(test_views)} test views "
        f"of {test_views.height}x{test_views.width}")
  model, history = rt.train(config, train_views, test_views, FLAGS.workdir)
  sections = [int(s) for s in FLAGS.eval_sections_list]
  rows, _ = rt.evaluate(model, test_views, config.renderer, sections)
  metrics = {"test": rows, "final_loss": history["loss"][-1][1] if history["loss"] else None}
  if FLAGS.time_quadrature and config.renderer == "autoint":
    # Speed only: the NeRF-style renderer with the same networks (untrained) on the test rays.
    baseline = rt.make_renderer(
        rt.dataclasses.replace(config, renderer="quadrature"), test_views.background).build_all()
    timing = rt.render_views(baseline, test_views.subset(slice(0, 1)), "quadrature")
    quad = timing["rays"] / timing["seconds"]
    metrics["quadrature_rays_per_second"] = quad
    metrics["quadrature_evaluations_per_ray"] = baseline.evaluations_per_ray()
    for row in rows:
      row["speedup_over_quadrature"] = row["rays_per_second"] / quad
  io_utils.write_json(os.path.join(FLAGS.workdir, "metrics.json"), metrics)
  out = rt.render_views(model, test_views, config.renderer, config.eval_sections)
  save_views(out, test_views, os.path.join(FLAGS.workdir, "test_views.png"))
  if FLAGS.turntable_frames and not test_views.ndc:
    turntable(model, test_views, config, os.path.join(FLAGS.workdir, "turntable.gif"),
              FLAGS.turntable_frames)
  print(json.dumps(metrics, indent=2))
  for row in rows:
    extra = (f", {row['speedup_over_quadrature']:.1f}x the quadrature renderer's rays/s"
             if "speedup_over_quadrature" in row else "")
    print(f"{config.renderer} N={row['sections']}: test PSNR {row['psnr']:.2f} dB, SSIM "
          f"{row['ssim']:.3f}, {row['rays_per_second']:.0f} rays/s{extra}")
  print(f"Renders: {FLAGS.workdir}/test_views.png")


if __name__ == "__main__":
  app.run(main)
