"""`python -m serving.export`: autoint_tf/serving/export.py (console script autoint-export)."""
from autoint_tf.serving.export import run

if __name__ == "__main__":
  run()
