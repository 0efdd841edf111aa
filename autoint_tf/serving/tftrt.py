r"""TF-TRT conversion of an exported SavedModel, where TensorFlow was built with TensorRT.

  python -m serving.tftrt --saved_model=exports/autoint/1 --out=exports/autoint_trt/1

TensorFlow wheels have not included TensorRT since 2.18 (this project pins 2.21): there the
command stops with a message saying so and what to use instead, exit status 2.
"""

import sys

from absl import app
from absl import flags


UNAVAILABLE = (
    "TF-TRT is not available: TensorFlow {version} is built without TensorRT (TensorFlow "
    "dropped TF-TRT from its wheels after 2.17). Use instead: the SavedModel itself with TF "
    "Serving (serving/export.py; XLA on GPU), or TFLite (serving/tflite.py). For TensorRT proper, "
    "convert in a TensorFlow <= 2.17 GPU container (e.g. nvcr.io/nvidia/tensorflow) with "
    "trt_convert.TrtGraphConverterV2.")


def tensorrt_available():
  """(available, reason)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    from tensorflow.python.compiler.tensorrt import trt_convert  # pylint: disable=g-import-not-at-top
    from tensorflow.python.compiler.tensorrt import utils  # pylint: disable=g-import-not-at-top,unused-import
    enabled = trt_convert._pywrap_py_utils.is_tensorrt_enabled()  # pylint: disable=protected-access
  except (ImportError, AttributeError):
    enabled = False
  return enabled, UNAVAILABLE.format(version=tf.__version__)


def convert(saved_model, out, precision="FP32"):
  available, reason = tensorrt_available()
  if not available:
    raise RuntimeError(reason)
  from tensorflow.python.compiler.tensorrt import trt_convert  # pylint: disable=g-import-not-at-top
  converter = trt_convert.TrtGraphConverterV2(input_saved_model_dir=saved_model,
                                              precision_mode=precision)
  converter.convert()
  converter.save(out)
  return out


def define_flags():
  """The command's flags (defined only when run as a program, so modules import cleanly)."""
  flags.DEFINE_string("saved_model", "", "Exported SavedModel version directory.")
  flags.DEFINE_string("out", "", "Output directory of the converted SavedModel.")
  flags.DEFINE_enum("precision", "FP32", ["FP32", "FP16"], "TensorRT precision (keep FP32: "
                    "Phi(b) - Phi(a) cancels badly in low precision).")


def main(argv):
  del argv
  available, reason = tensorrt_available()
  if not available:
    print(reason, file=sys.stderr)
    sys.exit(2)
  if not flags.FLAGS.saved_model or not flags.FLAGS.out:
    raise app.UsageError("--saved_model and --out are required.")
  print(f"Wrote {convert(flags.FLAGS.saved_model, flags.FLAGS.out, flags.FLAGS.precision)}")


def run():
  """The console script: the flags, then `main`."""
  define_flags()
  app.run(main)
