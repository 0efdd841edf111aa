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
  python -m benchmarks.ct_measured --budget_minutes=1 --nowrite
  python -m benchmarks.ct_measured --mcc_table --budget_minutes=8   # HTC 2022's score

--mcc_table: every shared HTC 2022 scan with its ground-truth segmentation, reconstructed from
all its views on the challenge's grid (512 effective detector pixels, ct.image_grid) by FBP,
SIRT (150 non-negative iterations), the TV reconstruction and AutoInt's point model trained
--budget_minutes with it as image prior (htc_config), every one with the lines cut to the disc
fitted to the sinogram's support (ct.with_support), segmented by that disc with its holes
(metrics.disc_segmentation; Otsu's threshold beside it) and scored by the Matthews correlation
coefficient, as HTC 2022 scores; with the seconds of each, and a figure per scan
(benchmarks/results/htc_<scan>.png). ~12 minutes a scan at the default budget.

  python -m benchmarks.ct_measured --mcc_table --scans=tc_category7.mat   # one scan
"""

import dataclasses
import os
import tempfile
import time

from absl import app
from absl import flags

import numpy as np

from autoint_tf import configs
from autoint_tf import ct
from autoint_tf import ct_data
from autoint_tf import fbp
from autoint_tf import metrics
from autoint_tf import plots
from autoint_tf import sirt
from benchmarks import report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_float("budget_minutes", 8.0, "Training time.")
flags.DEFINE_integer("batch_lines", 4096, "Lines a step.")
flags.DEFINE_integer("subsample", 4, "Keep every k-th view.")
flags.DEFINE_string("activation", "swish", "Activation of the model.")
flags.DEFINE_enum("parameterization", "point", list(ct.PARAMETERIZATIONS), "The CT model.")
flags.DEFINE_enum("line_encoding", "plain", list(ct.LINE_ENCODINGS),
                  "Ray model: the encoding of rho and theta.")
flags.DEFINE_float("tv_weight", ct.Config.tv_weight, "Weight of the point model's TV prior.")
flags.DEFINE_string("htc", "", "A measured HTC 2022 .mat scan instead of the phantom.")
flags.DEFINE_bool("write", True, "Write results and the BENCHMARKS.md table.")
flags.DEFINE_bool("mcc_table", False, "The HTC 2022 table of the baselines' MCC instead.")
flags.DEFINE_integer("steps", 0, "--mcc_table: train this many steps (cosine schedule over "
                     "them) instead of --budget_minutes.")
flags.DEFINE_list("scans", [], "--mcc_table: only these scans (file names; default all).")
flags.DEFINE_multi_string("set", [], "--mcc_table: a ct.Config knob of the recipe changed, "
                          "path=value (e.g. --set=prior_weight=0.5 --set=loop.learning_rate="
                          "3e-3): the experiments of docs/benchmarks_log.md.")
flags.DEFINE_string("htc_dir", os.path.join(ROOT, "..", "shared", "data", "ct_htc2022"),
                    "The shared HTC 2022 scans and ground-truth PNGs.")
FLAGS = flags.FLAGS

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


# scan file -> its phantom's ground-truth segmentation (one PNG scores every arc of a phantom).
HTC_SCANS = {"tc_category7.mat": "tc_category7.png", "ta_category7.mat": "ta_category7.png",
             "ta_subsample73.mat": "ta_category7.png"}


def with_settings(config, settings):
  """`config` with `settings` ["path=value", ...] (--set) applied, each value of the knob's
  type; a path that is no knob is refused naming it."""
  knobs = configs.flat(config)
  changes = {}
  for item in settings:
    path, sep, text = item.partition("=")
    if not sep or path not in knobs:
      raise ValueError(f"--set={item}: expected path=value with path one of ct.Config's knobs "
                       f"({', '.join(sorted(knobs))}).")
    kind = type(knobs[path])
    changes[path] = (text.lower() in ("1", "true") if kind is bool else kind(text))
  return configs.replace(config, changes)


def htc_config(png, budget_minutes, steps=0):
  """The point model with the image prior on every view of an HTC 2022 scan, on the
  challenge's grid, scored against the phantom's segmentation `png` (the phantom recipe of
  BENCHMARKS.md's sparse-view table, in lines a step), trained for a wall-clock budget or, with
  `steps`, that many steps with the cosine schedule decaying over them."""
  return ct.Config(parameterization="point", activation="sine", subsample=1,
                   prior_weight=1.0, consistency_weight=0.0, consistency_points=8192,
                   batch_lines=FLAGS.batch_lines, image_size=ct.HTC_GRID,
                   reference_segmentation=png, sirt_iterations=150,
                   loop=dataclasses.replace(ct.Config().loop, steps=steps or 1_000_000,
                                            budget_minutes=0.0 if steps else budget_minutes,
                                            log_every=50, lr_schedule="cosine",
                                            checkpoint_every=1_000_000))


METHODS = (("fbp", "FBP"), ("sirt", "SIRT"), ("tv", "TV"), ("autoint", "AutoInt"))


def mcc_table():
  """Rows of the HTC 2022 table: scan, views, arc, and per method (FBP, SIRT, the TV image
  prior, AutoInt's point model) its MCC and seconds; a figure per scan."""
  rows = []
  for scan_name, png in HTC_SCANS.items():
    path = os.path.join(FLAGS.htc_dir, scan_name)
    if not os.path.exists(path) or (FLAGS.scans and scan_name not in FLAGS.scans):
      print(f"skipped {path}: " + ("absent" if not os.path.exists(path) else "not in --scans"))
      continue
    scan = ct_data.load_scan(path, ct_data.HTC2022_GEOMETRY, ct_data.HTC2022_VARIABLE)
    config = with_settings(htc_config(os.path.join(FLAGS.htc_dir, png), FLAGS.budget_minutes,
                                      FLAGS.steps), FLAGS.set)
    start = time.perf_counter()
    result, outputs = ct.train_and_evaluate(config, scan, tempfile.mkdtemp(prefix="htc_"))
    row = {"scan": scan_name, "views": len(scan.angles),
           "arc_degrees": float(np.rad2deg(np.ptp(scan.angles))),
           "seconds_total": time.perf_counter() - start,
           "mcc": result["mcc"], "mcc_otsu": result["mcc_otsu"], "steps": result["steps"],
           "segmentation": result["segmentation"], "support_disc": result.get("support_disc"),
           "psnr_train_views": result["psnr_train_views"],
           **{k: v for k, v in result.items() if k.startswith("seconds_")}}
    row["seconds_autoint"] = result["train_seconds"] + result["seconds_autoint_image"]
    print(row, flush=True)
    if FLAGS.write:
      plots.ct_report(outputs, result, os.path.join(
          ROOT, "benchmarks", "results", f"htc_{scan_name[:-4]}.png"))
    rows.append(row)
  seconds = {"fbp": "seconds_fbp", "sirt": "seconds_sirt", "tv": "seconds_tv_prior",
             "autoint": "seconds_autoint"}
  trained = (f"{FLAGS.steps} steps" if FLAGS.steps else f"{FLAGS.budget_minutes:g} minutes")
  command = (f"--steps={FLAGS.steps}" if FLAGS.steps else
             f"--budget_minutes={FLAGS.budget_minutes:g}")
  command += "".join(f" --set={item}" for item in FLAGS.set)
  text = (f"`python -m benchmarks.ct_measured --mcc_table {command}` (each shared HTC 2022 "
          "scan from all its views, on the challenge's 512 × 512 grid of effective detector "
          "pixels; every method's lines cut to the disc fitted to the sinogram's support, 2% "
          "wider (`--config.support=auto`); MCC against the phantom's ground truth of the "
          "segmentation by that disc with its holes (`--config.segmentation=disc`), in "
          "brackets of Otsu's threshold. FBP (cut to the disc); SIRT, 150 non-negative "
          "iterations; TV, "
          "the TV-regularised reconstruction that is AutoInt's image prior; AutoInt, the point "
          f"model (4×128 sine) trained {trained} on "
          f"{FLAGS.batch_lines} lines a step with that prior (at random points of the support "
          "disc, along the scan's directions), its image the grad network at the pixel "
          "centres):\n\n" + report.table(
              ["scan", "views, arc", *(f"{n} MCC" for _, n in METHODS), "AutoInt kept-view "
               "PSNR", "AutoInt steps", *(f"{n} s" for _, n in METHODS), "whole job"],
              [[r["scan"], f"{r['views']}, {r['arc_degrees']:.0f}°",
                *(f"{r['mcc'][k]:.3f} ({r['mcc_otsu'][k]:.3f})" for k, _ in METHODS),
                f"{r['psnr_train_views']:.2f}",
                r["steps"],
                *(f"{r[seconds[k]]:.0f}" for k, _ in METHODS),
                f"{r['seconds_total'] / 60:.1f} min"] for r in rows]) +
          "\nFigures (sinograms, images, segmentations and the ground truth): " +
          ", ".join(f"[{r['scan']}](benchmarks/results/htc_{r['scan'][:-4]}.png)"
                    for r in rows) + ".\n")
  print(text)
  if FLAGS.write:
    report.publish("ct_htc2022_mcc", "HTC 2022 scans scored as the challenge scores them", text,
                   {"rows": rows})


def main(argv):
  del argv
  if FLAGS.mcc_table:
    return mcc_table()
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
  config = ct.Config(parameterization=FLAGS.parameterization, activation=FLAGS.activation,
                     line_encoding=FLAGS.line_encoding,
                     tv_weight=FLAGS.tv_weight,
                     tv_step=1.0 / ct.Config.image_size,  # half a pixel of the image
                     subsample=FLAGS.subsample, batch_lines=FLAGS.batch_lines,
                     loop=dataclasses.replace(ct.Config().loop, steps=1_000_000,
                                              budget_minutes=FLAGS.budget_minutes, log_every=50,
                                              checkpoint_every=1_000_000),
                     sirt_iterations=100)
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
  text = (f"`python -m benchmarks.ct_measured {command}--budget_minutes="
          f"{FLAGS.budget_minutes:g} --tv_weight={FLAGS.tv_weight:g} --parameterization="
          f"{FLAGS.parameterization} --line_encoding={FLAGS.line_encoding}` ({what}, every "
          f"{FLAGS.subsample}th view kept; {FLAGS.parameterization} model 4×128 "
          f"{FLAGS.activation}, "
          f"{FLAGS.batch_lines} lines a step, {row['steps']} steps):\n\n"
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
