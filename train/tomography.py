"""`python -m train.tomography`: autoint_tf/cli/tomography.py (console script autoint-tomography)."""
from autoint_tf.cli.tomography import run

if __name__ == "__main__":
  run()
