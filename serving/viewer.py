"""`python -m serving.viewer`: autoint_tf/serving/viewer.py (console script autoint-viewer)."""
from autoint_tf.serving.viewer import run

if __name__ == "__main__":
  run()
