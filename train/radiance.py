r"""Neural volume rendering with AutoInt: trains the sigma/colour integral networks and the
sampling network (or the NeRF-style quadrature baseline), then evaluates and renders.

  python -m train.radiance --workdir=runs/blobs                        # built-in scene, CPU
  python -m train.radiance --preset=tiny --scene=npz --data_path=../shared/data/lego_100px.npz
  python -m train.radiance --preset=paper_blender --strategy=mirrored  # GPUs of one host
  TF_CONFIG=... python -m train.radiance --preset=paper_llff --strategy=multiworker

Flags given on the command line override the preset. Rerunning with the same --workdir resumes
from the last checkpoint. Outputs in --workdir: config.json, checkpoints/, tb/ (TensorBoard),
metrics.json (test PSNR/SSIM, rays/s and network evaluations a ray for AutoInt at each N and
for the quadrature timing), test_views.png (prediction | reference | depth | opacity),
turntable.gif.
"""

import json

from absl import app
from absl import flags

from autoint_tf import config_flags
from autoint_tf import radiance
from autoint_tf import renderers

flags.DEFINE_string("workdir", "runs/radiance", "Output directory.")
flags.DEFINE_enum("preset", "tiny", sorted(radiance.PRESETS), "Starting configuration.")
config_flags.define(radiance.Config, enums={
    "scene": radiance.SCENES, "renderer": radiance.RENDERERS,
    "model": sorted(renderers.MODEL_PRESETS), "precision": radiance.PRECISIONS,
    "section_means": radiance.SECTION_MEANS,
    "sampler_loss": radiance.SAMPLER_LOSSES,
    "color_orientation": renderers.COLOR_ORIENTATIONS})
FLAGS = flags.FLAGS


def main(argv):
  del argv
  config = config_flags.config(radiance.Config, base=radiance.PRESETS[FLAGS.preset])
  report = radiance.train_and_evaluate(config, FLAGS.workdir)
  print(json.dumps(report, indent=2))
  for row in report["test"]:
    extra = (f", {row['speedup_over_quadrature']:.1f}x the quadrature renderer's rays/s"
             if "speedup_over_quadrature" in row else "")
    print(f"{config.renderer} N={row['sections']}: test PSNR {row['psnr']:.2f} dB, SSIM "
          f"{row['ssim']:.3f}, {row['rays_per_second']:.0f} rays/s{extra}")
  fit = report["train_views"]
  print(f"{config.renderer} N={fit['sections']}: PSNR {fit['psnr']:.2f} dB on {fit['views']} "
        "training views (near the test PSNR: the model underfits; far above: it overfits)")
  print(f"Renders: {FLAGS.workdir}/test_views.png")


if __name__ == "__main__":
  app.run(main)
