r"""The paper's CT comparison on this CPU: activations x angle subsampling (4x/8x/16x) on the
64x64 Shepp-Logan phantom (64 views), for the paper's (rho, theta, t) model and the point model.

Held-out-view PSNR/SSIM of AutoInt against angular linear interpolation of the kept views; for
the point model also its image against FBP of the same kept views. Nothing is tuned on the
held-out views. Writes benchmarks/results/ct_table.{json,md} and the table in BENCHMARKS.md.

  python -m benchmarks.ct_table                       # ~45 min on 2 CPU cores
  python -m benchmarks.ct_table --steps=200 --activations=swish --subsamples=8 --no-write
"""

import dataclasses
import json
import os
import time

from absl import app
from absl import flags

from autoint_tf import ct
from autoint_tf import io_utils

flags.DEFINE_list("activations", ["relu", "swish", "sine", "softplus"], "Activations.")
flags.DEFINE_list("subsamples", ["4", "8", "16"], "Keep every k-th view.")
flags.DEFINE_list("parameterizations", ["ray", "point"], "CT models.")
flags.DEFINE_integer("steps", 1000, "Training steps per run (full batch of kept lines).")
flags.DEFINE_bool("write", True, "Write results and the BENCHMARKS.md table.")
FLAGS = flags.FLAGS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fmt(x, digits=1):
  return "–" if x is None else f"{x:.{digits}f}"


def table(rows, steps):
  head = ("| model | act. | sub. | AutoInt held-out PSNR / SSIM | interpolation PSNR / SSIM | "
          "Δ dB | image PSNR AutoInt | image PSNR FBP | s |\n"
          "|---|---|---|---|---|---|---|---|---|\n")
  body = "".join(
      f"| {r['parameterization']} | {r['activation']} | {r['subsample']}× | "
      f"{_fmt(r['psnr_heldout_autoint'])} / {_fmt(r['ssim_heldout_autoint'], 3)} | "
      f"{_fmt(r['psnr_heldout_interpolation'])} / {_fmt(r['ssim_heldout_interpolation'], 3)} | "
      f"{r['psnr_heldout_autoint'] - r['psnr_heldout_interpolation']:+.1f} | "
      f"{_fmt(r.get('psnr_image_autoint'))} | {_fmt(r['psnr_image_fbp'])} | "
      f"{r['seconds']:.0f} |\n" for r in rows)
  return (f"`python -m benchmarks.ct_table --steps={steps}` (4×128, PE 10, 16 stratified "
          f"samples a line, Adam 1e-3, {steps} full-batch steps each):\n\n" + head + body)


def main(argv):
  del argv
  rows = []
  for parameterization in FLAGS.parameterizations:
    for activation in FLAGS.activations:
      for sub in FLAGS.subsamples:
        config = ct.CTConfig(parameterization=parameterization, activation=activation,
                             subsample=int(sub), steps=FLAGS.steps)
        start = time.time()
        metrics, _ = ct.train_and_evaluate(config, progress=False)
        row = {**dataclasses.asdict(config), **metrics, "seconds": time.time() - start}
        rows.append(row)
        if FLAGS.write:  # after every run: a crash loses at most the run in progress
          io_utils.write_json(os.path.join(ROOT, "benchmarks", "results", "ct_table.json"),
                              {"rows": rows, "complete": False})
        print(json.dumps({k: row[k] for k in ("parameterization", "activation", "subsample",
                                              "psnr_heldout_autoint",
                                              "psnr_heldout_interpolation")}
                         | {k: row.get(k) for k in ("psnr_image_autoint", "psnr_image_fbp")}),
              flush=True)
  text = table(rows, FLAGS.steps)
  print(text)
  if FLAGS.write:
    out = os.path.join(ROOT, "benchmarks", "results")
    io_utils.write_json(os.path.join(out, "ct_table.json"), {"rows": rows, "complete": True})
    with io_utils.atomic_path(os.path.join(out, "ct_table.md")) as tmp:
      open(tmp, "w").write(text)
    io_utils.replace_section(os.path.join(ROOT, "BENCHMARKS.md"), "ct_table",
                             "Sparse-view CT: activations × subsampling", text)


if __name__ == "__main__":
  app.run(main)
