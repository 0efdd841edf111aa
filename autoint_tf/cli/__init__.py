"""The command-line jobs (`python -m train.*` in a checkout, `autoint-*` console scripts).

Each job takes its whole config as one absl flag, `--config`, made by
`ml_collections.config_flags`: `--config=PRESET` picks a preset where the job has them, and
`--config.loop.steps=100` (any dotted field path) overrides one field. `--workdir` names the
run's directory. docs/flags.md lists every field with its default and help.
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from autoint_tf import configs


def define_config(default, parse_fn=None, workdir=None):
  """Defines --config (the dataclass `default`, or a preset named by `parse_fn`) and, given a
  default for it, --workdir."""
  if workdir is not None:
    flags.DEFINE_string("workdir", workdir, "The run's directory (checkpoints, config.json, "
                        "metrics, figures); rerunning on it resumes.")
  return config_flags.DEFINE_config_dataclass(
      "config", default, "The job's config: --config=PRESET (where there are presets), then "
      "--config.FIELD.PATH=VALUE overrides (docs/flags.md).", parse_fn=parse_fn)


def config_value(holder):
  """The parsed config, every field checked (a bad value stops with its flag named)."""
  try:
    return configs.validated(holder.value)
  except (ValueError, TypeError) as e:
    raise app.UsageError(str(e)) from None
