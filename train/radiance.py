"""`python -m train.radiance`: autoint_tf/cli/radiance.py (console script autoint-radiance)."""
from autoint_tf.cli.radiance import run

if __name__ == "__main__":
  run()
