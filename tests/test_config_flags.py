"""Tests of autoint_tf.config_flags: flags generated from a config dataclass."""

import dataclasses

from absl import flags

from autoint_tf import config_flags
from autoint_tf import training


@dataclasses.dataclass(frozen=True)
class _Config(training.LoopConfig):
  steps: int = 7
  cf_width: int = 3                 # hidden units
  cf_sections: tuple = (4, 8)       # sections of the
                                    # report
  cf_name: str = "a"


def test_flags_from_a_config_with_loop_fields_tuples_and_presets():
  values = flags.FlagValues()
  config_flags.define(_Config, flag_values=values)
  assert values["cf_width"].help == "hidden units"
  assert values["cf_sections"].help == "sections of the report"
  assert values["cf_name"].help == "cf name."  # no comment: the name
  assert "cosine (down to final_lr_fraction)" in values["lr_schedule"].help
  values(["prog", "--cf_width=5", "--cf_sections=2,3", "--lr_schedule=cosine"])
  config = config_flags.config(_Config, flag_values=values)
  assert config == _Config(cf_width=5, cf_sections=(2, 3), lr_schedule="cosine")
  assert values["steps"].default == 7 and values["strategy"].default == "default"
  # With a preset, only the flags given on the command line override it.
  preset = _Config(cf_name="preset", steps=11)
  assert config_flags.config(_Config, base=preset, flag_values=values) == dataclasses.replace(
      preset, cf_width=5, cf_sections=(2, 3), lr_schedule="cosine")
