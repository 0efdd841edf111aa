r"""Neural volume rendering with AutoInt: trains the sigma/colour integral networks and the
sampling network (or the NeRF-style quadrature baseline), then evaluates and renders.

  python -m train.radiance --workdir=runs/blobs                        # built-in scene, CPU
  python -m train.radiance --config=lego --workdir=runs/lego           # lego's 45-minute recipe
  python -m train.radiance --config.scene.format=npz \
      --config.scene.data_path=../shared/data/lego_100px.npz --config.renderer=quadrature
  python -m train.radiance --config=paper_blender --config.loop.strategy=mirrored  # GPUs
  TF_CONFIG=... python -m train.radiance --config=paper_llff --config.loop.strategy=multiworker

`--config=PRESET` starts from a preset (radiance.PRESETS: tiny, the default; lego;
paper_blender; paper_llff); `--config.FIELD.PATH=VALUE` overrides one field (docs/flags.md).
Rerunning with the same --workdir resumes from the last checkpoint. Outputs in --workdir:
config.json, checkpoints/, tb/ (TensorBoard), metrics.json (test PSNR/SSIM, rays/s and network
evaluations a ray at each N), test_views.png (prediction | reference | depth | opacity),
turntable.gif.
"""

import json

from absl import app
from absl import flags

from autoint_tf import radiance
from autoint_tf.cli import config_value
from autoint_tf.cli import define_config


def define_flags():
  return define_config(radiance.preset("tiny"), radiance.preset, workdir="runs/radiance")


def main(argv):
  del argv
  config = config_value(flags.FLAGS["config"])
  try:
    report = radiance.train_and_evaluate(config, flags.FLAGS.workdir)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  print(json.dumps(report, indent=2))
  for row in report["test"]:
    extra = (f", {row['speedup_over_quadrature']:.1f}x the quadrature renderer's rays/s"
             if "speedup_over_quadrature" in row else "")
    print(f"{config.renderer} N={row['sections']}: test PSNR {row['psnr']:.2f} dB, SSIM "
          f"{row['ssim']:.3f}, {row['rays_per_second']:.0f} rays/s{extra}")
  fit = report["train_views"]
  print(f"{config.renderer} N={fit['sections']}: PSNR {fit['psnr']:.2f} dB on {fit['views']} "
        "training views (near the test PSNR: the model underfits; far above: it overfits)")
  print(f"Renders: {flags.FLAGS.workdir}/test_views.png")


def run():
  """The console script autoint-radiance."""
  define_flags()
  app.run(main)
