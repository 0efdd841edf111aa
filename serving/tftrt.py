"""`python -m serving.tftrt`: autoint_tf/serving/tftrt.py (console script autoint-tftrt)."""
from autoint_tf.serving.tftrt import run

if __name__ == "__main__":
  run()
