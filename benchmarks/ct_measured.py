r"""CT on a measured scan, or at its size. Default: a fan-beam Shepp-Logan phantom with 181
views over a 90-degree arc (limited angle) and 560 detectors (the HTC 2022 scanner's geometry
scaled to the unit field of view). With --htc: one of the measured HTC 2022 scans as published
(61 views over 30 degrees, 560 detectors, MATLAB struct, ASTRA fanflat angles), which has no
ground-truth image. Every 4th view kept; AutoInt's point model trained on minibatches of lines
for a wall-clock budget, then: held-out views against angular interpolation, its image against
FBP and SIRT of the same kept views (PSNR/SSIM when there is a phantom), the time of every stage.
Writes benchmarks/results/<name>.{json,png} and the table in BENCHMARKS.md.

  python -m benchmarks.ct_measured                        # ~12 min on 2 CPU cores
  python -m benchmarks.ct_measured --htc=../shared/data/ct_htc2022/tc_category7.mat
  python -m benchmarks.ct_measured --config.loop.budget_minutes=1 --nowrite
  python -m benchmarks.ct_measured --config.parameterization=ray --config.activation=sine

The model and its loop are one `--config` (a ct.Config, as `python -m train.tomography` takes
it: --config.FIELD.PATH=VALUE overrides a knob of `recipe`, docs/flags.md).

The HTC 2022 table (MCC, as the challenge scores) is benchmarks/htc_table.py.
"""

import dataclasses
import os
import sys
import tempfile
import time

from absl import app
from absl import flags

from autoint_tf import cli
from autoint_tf import ct
from autoint_tf import ct_data
from autoint_tf import plots
from benchmarks import report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_string("htc", "", "A measured HTC 2022 .mat scan instead of the phantom.")
flags.DEFINE_bool("write", True, "Write results and the BENCHMARKS.md table.")
FLAGS = flags.FLAGS


def recipe():
  """The point model 4x128 swish with its consistency loss on every 4th view, 4096 lines a
  step for 8 minutes of wall clock; --config.FIELD.PATH=VALUE overrides a knob (docs/flags.md),
  e.g. --config.parameterization=ray --config.activation=sine."""
  return ct.Config(parameterization="point", activation="swish",
                   tv_step=1.0 / ct.Config.image_size,  # half a pixel of the image
                   subsample=4, batch_lines=4096, sirt_iterations=100,
                   loop=dataclasses.replace(ct.Config().loop, steps=1_000_000,
                                            budget_minutes=8.0, log_every=50,
                                            checkpoint_every=1_000_000))


_CONFIG = cli.define_config(recipe())

# The HTC 2022 scanner (ct_data.HTC2022_GEOMETRY, mm: a 70 mm disc in a field of view of
# radius 45 mm) with every length divided by that radius, over a 90-degree arc of 181 views.
_HTC = ct_data.HTC2022_GEOMETRY
GEOMETRY = {"type": "fan", "num_detectors": _HTC["num_detectors"], "num_angles": 181,
            **{k: _HTC[k] / _HTC["radius"] for k in ("source_origin", "source_detector",
                                                     "pixel_size")},
            "angle_range": [0.0, 90.5], "angle_unit": "degrees", "radius": 1.0}


def _cells(row, method):
  """'PSNR / SSIM' of a method's image, or 'no ground truth' for a measured scan."""
  if f"psnr_image_{method}" not in row:
    return "no ground truth"
  return f"{row[f'psnr_image_{method}']:.2f} / {row[f'ssim_image_{method}']:.3f}"


def main(argv):
  del argv
  start = time.perf_counter()
  if FLAGS.htc:
    scan = ct_data.load_scan(FLAGS.htc, ct_data.HTC2022_GEOMETRY, ct_data.HTC2022_VARIABLE)
    name = "ct_htc2022"
    what = (f"the measured HTC 2022 scan `{os.path.basename(FLAGS.htc)}`, fan beam, "
            f"{len(scan.angles)} views over 30°, 560 detectors")
    command = f"--htc={FLAGS.htc} "
  else:
    scan = ct_data.phantom_scan("shepp_logan", GEOMETRY, image_size=256)
    name, what, command = "ct_measured", "fan beam, 181 views over 90°, 560 detectors", ""
  load_seconds = time.perf_counter() - start
  config = cli.config_value(_CONFIG)
  workdir = tempfile.mkdtemp(prefix="ct_measured_")
  start = time.perf_counter()
  result, outputs = ct.train_and_evaluate(config, scan, workdir)
  total = time.perf_counter() - start + load_seconds
  start = time.perf_counter()
  out_dir = os.path.join(ROOT, "benchmarks", "results")
  if FLAGS.write:
    plots.ct_report(outputs, result, os.path.join(out_dir, f"{name}.png"))
  figure_seconds = time.perf_counter() - start
  row = {k: v for k, v in result.items() if isinstance(v, (int, float))}
  row.update(seconds_load=load_seconds, seconds_figure=figure_seconds,
             seconds_total=total + figure_seconds, config=dataclasses.asdict(config))
  stages = ", ".join(f"{k[8:]} {v:.1f} s" for k, v in row.items()
                     if k.startswith("seconds_") and k != "seconds_total")
  command += " ".join(a for a in sys.argv[1:] if a.startswith("--config"))
  text = (f"`python -m benchmarks.ct_measured {command}`".replace(" `", "`") +
          f" ({what}, every {config.subsample}th view kept; {config.parameterization} model "
          f"{config.depth}×{config.width} {config.activation}, "
          f"{config.batch_lines} lines a step, {row['steps']} steps):\n\n"
          "| | AutoInt | interpolation | FBP | SIRT |\n|---|---|---|---|---|\n"
          f"| kept views PSNR | {row['psnr_train_views']:.2f} | | | |\n"
          f"| held-out views PSNR / SSIM | {row['psnr_heldout_autoint']:.2f} / "
          f"{row['ssim_heldout_autoint']:.3f} | {row['psnr_heldout_interpolation']:.2f} / "
          f"{row['ssim_heldout_interpolation']:.3f} | | |\n"
          f"| image PSNR / SSIM | {_cells(row, 'autoint')} | | {_cells(row, 'fbp')} | "
          f"{_cells(row, 'sirt')} |\n\n"
          f"Whole job {row['seconds_total'] / 60:.1f} min: train "
          f"{row['train_seconds']:.0f} s, {stages}. Figure: "
          f"[benchmarks/results/{name}.png](benchmarks/results/{name}.png).\n")
  print(text)
  if FLAGS.write:
    title = ("CT on a measured scan (HTC 2022)" if FLAGS.htc else
             "CT at a measured scan's size (181 × 560 fan beam, 90° arc)")
    report.publish(name, title, text, row)


if __name__ == "__main__":
  app.run(main)
