"""`python -m serving.tflite`: autoint_tf/serving/tflite.py (console script autoint-tflite)."""
from autoint_tf.serving.tflite import run

if __name__ == "__main__":
  run()
