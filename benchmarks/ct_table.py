r"""The paper's CT comparison on this CPU: activations x angle subsampling (4x/8x/16x) on the
64x64 Shepp-Logan phantom (64 views), for the paper's (rho, theta, t) model and the point model.

Held-out-view PSNR/SSIM of AutoInt against angular linear interpolation of the kept views; for
the point model also its image against FBP, SIRT and TV reconstructions of the same kept
views. Nothing is tuned on the held-out views. Writes benchmarks/results/ct_table.{json,md}
and the table in BENCHMARKS.md.

  python -m benchmarks.ct_table                       # ~45 min on 2 CPU cores
  python -m benchmarks.ct_table --config.loop.steps=200 --activations=swish --subsamples=8 --nowrite
  python -m benchmarks.ct_table --parameterizations=point --merge   # add to the saved rows

Every ct.Config field is a flag (--config.FIELD, as for train.tomography); the table's default
is 1000 full-batch steps a run. A row keeps its config flat, the loop's fields by their own
names (steps, learning_rate, ...), as rows always had.
"""

import dataclasses
import json
import os
import time

from absl import app
from absl import flags
import numpy as np

from autoint_tf import configs
from autoint_tf import ct
from autoint_tf import io_utils
from autoint_tf import plots
from autoint_tf.cli import define_config
from benchmarks import report

flags.DEFINE_list("activations", ["relu", "swish", "sine", "softplus"], "Activations.")
flags.DEFINE_list("subsamples", ["4", "8", "16"], "Keep every k-th view.")
flags.DEFINE_list("parameterizations", ["ray", "point"], "CT models.")
flags.DEFINE_bool("write", True, "Write results and the BENCHMARKS.md table.")
flags.DEFINE_string("import_lines", "", "Merge rows from the JSON lines another run of this "
                    "command printed (fields it did not print stay empty).")
flags.DEFINE_bool("merge", False, "Keep the rows of benchmarks/results/ct_table.json that this "
                  "run does not redo (to run the models in separate invocations).")


CONFIG = define_config(configs.replace(ct.Config(), {"loop.steps": 1000}))
FLAGS = flags.FLAGS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fmt(x, digits=1):
  return "–" if x is None else f"{x:.{digits}f}"


def _row(config):
  """A config as a row's flat fields (the loop's by their own names)."""
  return {k.rsplit(".", 1)[-1] if k.startswith("loop.") else k: v
          for k, v in configs.flat(config).items()}


def _settings(row):
  """What a row's run changed from the table's defaults (CONFIG's), e.g. "tv_weight 0.0001",
  besides its model, activation, subsampling and steps; "" for none."""
  defaults = _row(CONFIG.default)
  per_run = {"parameterization", "activation", "subsample", "steps"}
  return ", ".join(f"{k} {row[k]:g}" if isinstance(row[k], float) else f"{k} {row[k]}"
                   for k in defaults if k not in per_run and k in row and row[k] != defaults[k])


BASELINES = ("psnr_image_fbp", "ssim_image_fbp", "psnr_image_sirt", "ssim_image_sirt",
             "psnr_image_tv", "ssim_image_tv", "psnr_heldout_tv", "ssim_heldout_tv",
             "psnr_heldout_interpolation", "ssim_heldout_interpolation")


def fill_baselines(rows):
  """Rows with the baselines' numbers (interpolation, FBP, SIRT, TV of the kept views) that an
  older run (or one without the image prior) did not compute, from a row of the same
  subsampling that did: they depend on the phantom and the kept views only, not on the model
  (TV: at the default prior_tv and prior_size)."""
  known = {}
  for r in rows:
    for k in BASELINES:
      if r.get(k) is not None:
        known.setdefault((int(r["subsample"]), k), r[k])
  return [{**r, **{k: known.get((int(r["subsample"]), k)) for k in BASELINES
                   if r.get(k) is None}} for r in rows]


def _suffix(config):
  """Model-name suffix of a run's sinogram: its settings (no "_", which separates the key)."""
  text = _settings(_row(config)).replace("_", "").replace(", ", "+")
  return ("+" + text.replace(" ", "")) if text else ""


def table(rows):
  head = ("| model | act. | settings | sub. | AutoInt held-out PSNR / SSIM | "
          "interpolation PSNR / SSIM | Δ dB | TV reprojected | image PSNR AutoInt | "
          "image PSNR FBP | image PSNR SIRT | image PSNR TV | steps | s |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
  body = "".join(
      f"| {r['parameterization']} | {r['activation']} | {_settings(r) or 'defaults'} | "
      f"{r['subsample']}× | "
      f"{_fmt(r['psnr_heldout_autoint'])} / {_fmt(r.get('ssim_heldout_autoint'), 3)} | "
      f"{_fmt(r['psnr_heldout_interpolation'])} / "
      f"{_fmt(r.get('ssim_heldout_interpolation'), 3)} | "
      f"{r['psnr_heldout_autoint'] - r['psnr_heldout_interpolation']:+.1f} | "
      f"{_fmt(r.get('psnr_heldout_tv'))} | "
      f"{'n/a' if r['parameterization'] == 'ray' else _fmt(r.get('psnr_image_autoint'))} | "
      f"{_fmt(r['psnr_image_fbp'])} | {_fmt(r.get('psnr_image_sirt'))} | "
      f"{_fmt(r.get('psnr_image_tv'))} | {r['steps']} | "
      f"{_fmt(r['seconds'], 0)} |\n" for r in rows)
  steps = sorted({int(r["steps"]) for r in rows})
  command = (f"`python -m benchmarks.ct_table --config.loop.steps={steps[0]}`"
             if len(steps) == 1 else
             "`python -m benchmarks.ct_table` (rows added with `--merge`; each row's "
             "`--config.loop.steps` in its steps column)")
  return (f"{command} (4×128, PE 10, 16 stratified "
          "samples a line, Adam (amsgrad) 1e-3, full-batch steps; the ray model is the paper's "
          "Φ(ρ, θ, t) and has no image; the point model has the view-consistency prior (weight 1) "
          "and any other settings in their column, among them the image prior (`prior_weight`: "
          "the grad network pulled towards the TV reconstruction of the kept views); the "
          "interpolation, FBP, SIRT and TV columns depend only on the kept views (TV "
          "reprojected: that TV image's line integrals on the held-out views), and rows "
          "without them take them from a row of the same subsampling):\n\n"
          + head + body)


def main(argv):
  del argv
  path = os.path.join(ROOT, "benchmarks", "results", "ct_table.json")
  base = configs.validated(CONFIG.value)
  rows = []
  if FLAGS.merge and os.path.exists(path):
    with open(path) as f:
      rows = json.load(f)["rows"]
  key = lambda r: (r["parameterization"], r["activation"], int(r["subsample"]), _settings(r),
                   r["steps"])
  npz = os.path.join(ROOT, "benchmarks", "results", "ct_sinograms.npz")
  sinograms = dict(np.load(npz)) if FLAGS.merge and os.path.exists(npz) else {}
  if FLAGS.import_lines:
    with open(FLAGS.import_lines) as f:
      imported = [{"steps": base.loop.steps, "seconds": None, **json.loads(line)} for line in f
                  if line.startswith("{")]
    rows = [r for r in rows if key(r) not in {key(i) for i in imported}] + imported
  for parameterization in FLAGS.parameterizations:
    for activation in FLAGS.activations:
      for sub in FLAGS.subsamples:
        config = dataclasses.replace(base, parameterization=parameterization,
                                     activation=activation, subsample=int(sub))
        start = time.time()
        metrics, out = ct.train_and_evaluate(config, progress=False)
        sinograms[f"{parameterization}{_suffix(config)}_{activation}_{sub}"] = out["prediction"]
        sinograms["truth"], sinograms[f"kept_{sub}"] = out["truth"], out["kept"]
        row = {**_row(config), **metrics, "seconds": time.time() - start}
        rows = [r for r in rows if key(r) != key(row)] + [row]
        if FLAGS.write:  # after every run: a crash loses at most the run in progress
          io_utils.write_json(path, {"rows": rows})
          with io_utils.atomic_path(npz) as tmp:
            np.savez_compressed(tmp, **sinograms)
        print(json.dumps({k: row[k] for k in ("parameterization", "activation", "subsample",
                                              "psnr_heldout_autoint",
                                              "psnr_heldout_interpolation")}
                         | {k: row.get(k) for k in ("psnr_image_autoint", "psnr_image_fbp")}),
              flush=True)
  order = {p: i for i, p in enumerate(("ray", "point"))}
  rows.sort(key=lambda r: (order.get(r["parameterization"], 9), r["activation"], _settings(r),
                           r["steps"], int(r["subsample"])))
  rows = fill_baselines(rows)
  text = table(rows)
  print(text)
  if FLAGS.write:
    out = os.path.join(ROOT, "benchmarks", "results")
    io_utils.write_json(path, {"rows": rows})
    with io_utils.atomic_path(os.path.join(out, "ct_table.md")) as tmp:
      open(tmp, "w").write(text)
    plots.ct_activations(sinograms, os.path.join(out, "ct_activations.png"))
    report.publish("ct_table", "Sparse-view CT: activations × subsampling", text)


if __name__ == "__main__":
  app.run(main)
