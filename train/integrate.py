"""`python -m train.integrate`: autoint_tf/cli/integrate.py (console script autoint-integrate)."""
from autoint_tf.cli.integrate import run

if __name__ == "__main__":
  run()
