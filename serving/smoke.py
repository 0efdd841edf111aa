"""`python -m serving.smoke`: autoint_tf/serving/smoke.py (console script autoint-smoke)."""
from autoint_tf.serving.smoke import run

if __name__ == "__main__":
  run()
