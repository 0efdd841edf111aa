"""`python -m serving.client`: autoint_tf/serving/client.py (console script autoint-client)."""
from autoint_tf.serving.client import run

if __name__ == "__main__":
  run()
