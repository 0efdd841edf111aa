r"""The HTC 2022 table: every shared HTC 2022 scan with its ground-truth segmentation,
reconstructed from all its views on the challenge's grid (512 effective detector pixels,
ct.image_grid) by FBP, SIRT (150 non-negative iterations), the TV reconstruction and AutoInt
(the ray model read as a field over space) trained with it as image prior (`recipe`), every
one with the lines cut to the disc fitted to the sinogram's support (ct.with_support),
segmented by that disc with its holes
(metrics.disc_segmentation; Otsu's threshold beside it) and scored by the Matthews correlation
coefficient, as HTC 2022 scores; with the seconds of each, and a figure per scan
(benchmarks/results/htc_<scan>.png). Writes the log's section and
benchmarks/results/ct_htc2022_mcc.json. ~10 minutes a scan at the default budget.

  python -m benchmarks.htc_table                                 # every scan, 8 minutes each
  python -m benchmarks.htc_table --scans=tc_category7.mat --nowrite --runs_dir=runs/htc
  python -m benchmarks.htc_table --config.prior_weight=0.5 --config.loop.budget_minutes=0 \
      --config.loop.steps=1050                                   # an experiment of the log

The recipe is one `--config` (a ct.Config, as `python -m train.tomography` takes it: any
--config.FIELD.PATH=VALUE overrides a knob, docs/flags.md); each scan's file, geometry and
ground truth are the table's own.
"""

import dataclasses
import os
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

from autoint_tf import ct
from autoint_tf import ct_data
from autoint_tf import cli
from autoint_tf import plots
from benchmarks import report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# scan file -> its phantom's ground-truth segmentation (one PNG scores every arc of a phantom).
HTC_SCANS = {"tc_category7.mat": "tc_category7.png", "ta_category7.mat": "ta_category7.png",
             "ta_subsample73.mat": "ta_category7.png"}
METHODS = (("fbp", "FBP"), ("sirt", "SIRT"), ("tv", "TV"), ("autoint", "AutoInt"))


def recipe():
  """The ray model (sine) read as a field over space (ct.point_field), its data term the
  integral network's two evaluations a line, with the image prior, on every view of an HTC
  2022 scan, on the challenge's grid, trained for 8 minutes of wall clock with the cosine
  schedule; `--config.loop.steps=N --config.loop.budget_minutes=0` trains N steps instead,
  the schedule decaying over them. On ta_category7 (2026-12-06, docs/benchmarks_log.md "The
  integral data term"): MCC 0.908 against the point model's 0.868 with the same data term and
  0.851 with the paper's sampled one."""
  return ct.Config(parameterization="ray", data_term="integral", activation="sine",
                   subsample=1,
                   prior_weight=1.0, consistency_weight=0.0, consistency_points=8192,
                   batch_lines=4096, image_size=ct.HTC_GRID, sirt_iterations=150,
                   loop=dataclasses.replace(ct.Config().loop, steps=1_000_000,
                                            budget_minutes=8.0, log_every=50,
                                            lr_schedule="cosine",
                                            checkpoint_every=1_000_000))


CONFIG = cli.define_config(recipe())  # (benchmarks.ct_prior_fit takes the recipe from it too)
flags.DEFINE_list("scans", [], "Only these scans (file names; default all).")
flags.DEFINE_string("runs_dir", "", "Keep each scan's run (checkpoints, metrics.json, image.npy, "
                    "sinogram.npz with every method's image, the segmentations) in "
                    "RUNS_DIR/<scan>; default: temporary directories.")
flags.DEFINE_bool("write", True, "Write the figures, results and the log's table.")
flags.DEFINE_string("htc_dir", os.path.join(ROOT, "..", "shared", "data", "ct_htc2022"),
                    "The shared HTC 2022 scans and ground-truth PNGs.")
FLAGS = flags.FLAGS


def mcc_table(config):
  """Rows of the table, one a scan present in --htc_dir (and in --scans): scan, views, arc,
  and per method (FBP, SIRT, the TV image prior, AutoInt) its MCC and seconds."""
  if config.reference_segmentation or config.sinogram:
    raise app.UsageError("--config.reference_segmentation and --config.sinogram are the "
                         "table's own (each scan's file and ground truth): drop them.")
  unknown = sorted(set(FLAGS.scans) - set(HTC_SCANS))
  if unknown:
    raise app.UsageError(f"--scans={','.join(unknown)}: not HTC 2022 scans of this table; "
                         f"choose among {', '.join(HTC_SCANS)}.")
  rows = []
  for scan_name, png in HTC_SCANS.items():
    path = os.path.join(FLAGS.htc_dir, scan_name)
    if not os.path.exists(path) or (FLAGS.scans and scan_name not in FLAGS.scans):
      print(f"skipped {path}: " + ("absent" if not os.path.exists(path) else "not in --scans"))
      continue
    scan = ct_data.load_scan(path, ct_data.HTC2022_GEOMETRY, ct_data.HTC2022_VARIABLE)
    run = dataclasses.replace(config, reference_segmentation=os.path.join(FLAGS.htc_dir, png))
    start = time.perf_counter()
    workdir = (os.path.join(FLAGS.runs_dir, scan_name[:-4]) if FLAGS.runs_dir else
               tempfile.mkdtemp(prefix="htc_"))
    result, outputs = ct.train_and_evaluate(run, scan, workdir)
    if FLAGS.runs_dir:
      ct.write_report(result, outputs, scan, workdir)
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
  if not rows:
    raise app.UsageError(f"No HTC 2022 scan of --scans in --htc_dir={FLAGS.htc_dir}: give the "
                         "directory of the shared scans (../shared/data/ct_htc2022 beside a "
                         "checkout).")
  return rows


def describe(config, rows, overrides):
  """The table's Markdown: the command, what each column is, a row a scan."""
  seconds = {"fbp": "seconds_fbp", "sirt": "seconds_sirt", "tv": "seconds_tv_prior",
             "autoint": "seconds_autoint"}
  loop = config.loop
  trained = (f"{loop.budget_minutes:g} minutes" if loop.budget_minutes else
             f"{loop.steps} steps")
  command = " ".join(["python -m benchmarks.htc_table", *overrides])
  return (f"`{command}` (each shared HTC 2022 "
          "scan from all its views, on the challenge's 512 × 512 grid of effective detector "
          "pixels; every method's lines cut to the disc fitted to the sinogram's support, 2% "
          "wider (`--config.support=auto`); MCC against the phantom's ground truth of the "
          "segmentation by that disc with its holes (`--config.segmentation=disc`), in "
          "brackets of Otsu's threshold. FBP (cut to the disc); SIRT, "
          f"{config.sirt_iterations} non-negative iterations; TV, the TV-regularised "
          "reconstruction that is AutoInt's image prior; AutoInt, the "
          f"{config.parameterization} model ({config.depth}×{config.width} "
          f"{config.activation}) trained {trained} on {config.batch_lines} lines a step "
          f"({config.data_term} data term) with that prior (at random points of the "
          "support disc, along the scan's directions), its image the grad network at the "
          "pixel centres):\n\n" + report.table(
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


def main(argv):
  del argv
  config = cli.config_value(CONFIG)
  rows = mcc_table(config)
  text = describe(config, rows, [a for a in sys.argv[1:] if a.startswith(("--config",
                                                                           "--scans"))])
  print(text)
  if FLAGS.write:
    report.publish("ct_htc2022_mcc", "HTC 2022 scans scored as the challenge scores them", text,
                   {"rows": rows, "config": dataclasses.asdict(config)})


if __name__ == "__main__":
  app.run(main)
