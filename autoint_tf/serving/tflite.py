r"""TFLite export of the integral-network signatures (built-in ops only) and a runner.

  python -m serving.tflite --workdir=runs/demo --out_dir=exports/tflite

Rendering uses only the integral networks (no autodiff), so render_rays and ray_integral
convert with TFLite built-in ops; the grad networks (training) do not and are not exported.
The in-graph request checks (tf.debugging asserts) are left out of the TFLite graphs: validate
inputs in the app. Prints each model's size and its largest deviation from TensorFlow on test
rays; `ai-edge-litert` runs them.
"""

import os
import tempfile

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from autoint_tf import io_utils
from autoint_tf import radiance
from autoint_tf import training
from autoint_tf.serving import export

SIGNATURES = ("render_rays", "ray_integral")


def convert(model, info, num_sections=8, signatures=SIGNATURES):
  """{signature: flatbuffer bytes} of the model's integral-network signatures, converted from
  a temporary SavedModel (ExportArchive) of their portable, check-free versions."""
  functions = export.radiance_functions(model, info, num_sections, checks=False,
                                        portable=True)
  out = {}
  with tempfile.TemporaryDirectory() as tmp:
    path = export.write_export([model], {k: functions[k] for k in signatures}, tmp, "tflite")
    for name in signatures:
      converter = tf.lite.TFLiteConverter.from_saved_model(path, signature_keys=[name])
      converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
      out[name] = converter.convert()
  return out


def invoke(flatbuffer, inputs):
  """Runs a converted signature with ai-edge-litert: dict of arrays in, dict of arrays out."""
  from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
  interp = litert.Interpreter(model_content=flatbuffer)
  runner = interp.get_signature_runner()
  return runner(**{k: np.asarray(v, np.float32) for k, v in inputs.items()})


def parity(model, info, flatbuffers, rays, num_sections=8):
  """Largest |TFLite - TensorFlow| per signature on `rays` (dict of rays_o, rays_d [B, 3])."""
  functions = export.radiance_functions(model, info, num_sections, checks=False)
  t = {"t0": np.full(len(rays["rays_o"]), info["near"], np.float32),
       "t1": np.full(len(rays["rays_o"]), info["far"], np.float32)}
  result = {}
  for name, flat in flatbuffers.items():
    inputs = {"rays_o": rays["rays_o"], "rays_d": rays["rays_d"],
              **(t if name == "ray_integral" else {})}
    want = functions[name][0](**{k: tf.constant(v) for k, v in inputs.items()})
    got = invoke(flat, inputs)
    result[name] = max(float(np.max(np.abs(got[k] - want[k].numpy()))) for k in want)
  return result


def define_flags():
  """The command's flags (defined only when run as a program, so modules import cleanly)."""
  flags.DEFINE_string("workdir", "runs/demo", "train.radiance workdir.")
  flags.DEFINE_string("out_dir", "exports/tflite", "Where the .tflite files go.")
  flags.DEFINE_integer("num_sections", 8, "N sections of render_rays.")


def main(argv):
  del argv
  run = training.restore(flags.FLAGS.workdir)
  if run.application != "radiance":
    raise app.UsageError(f"{flags.FLAGS.workdir} holds a {run.application} run; TFLite export "
                         "covers radiance models (train.radiance).")
  model, info = run.model, run.context
  flats = convert(model, info, flags.FLAGS.num_sections)
  _, test = radiance.load_views(run.config)
  rays = test.subset(slice(0, 1)).rays()
  diffs = parity(model, info, flats, {k: rays[k][:4096] for k in ("rays_o", "rays_d")},
                 flags.FLAGS.num_sections)
  for name, flat in flats.items():
    path = os.path.join(flags.FLAGS.out_dir, f"{name}.tflite")
    with io_utils.atomic_path(path) as tmp:
      with open(tmp, "wb") as f:
        f.write(flat)
    print(f"{path}: {len(flat) / 1024:.0f} KiB, max |TFLite - TF| = {diffs[name]:.2e}")


def run():
  """The console script: the flags, then `main`."""
  define_flags()
  app.run(main)
