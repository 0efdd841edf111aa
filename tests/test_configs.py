"""Tests of autoint_tf.configs and the jobs' --config flag (ml_collections.config_flags)."""

import json
import subprocess
import sys

from absl import flags
import pytest

from conftest import REPO
from autoint_tf import configs
from autoint_tf import radiance
from autoint_tf import renderers
from autoint_tf import training


def test_dotted_overrides_of_a_preset_on_the_command_line():
  values = flags.FlagValues()
  flags.DEFINE_string("workdir", "", "", flag_values=values)
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  argv = ["prog", "--config=lego", "--config.model.width=64", "--config.loop.steps=9",
          "--config.scene.box=auto", "--config.eval.report_sections=(8,16)"]
  holder = config_flags.DEFINE_config_dataclass("config", radiance.preset("tiny"), "",
                                                flag_values=values, parse_fn=radiance.preset,
                                                sys_argv=argv)
  values(argv)
  config = configs.validated(holder.value)
  assert config.model.width == 64 and config.loop.steps == 9
  assert config.scene.box == ("auto",) and config.eval.report_sections == (8, 16)
  assert config.sampler.input == "line"                     # the rest is the preset's
  assert radiance.preset("lego").model.width == 128         # which is not changed


def test_validated_runs_every_check_after_overrides():
  config = radiance.preset("tiny")
  config.sampler.input = "plane"                           # as a command line would set it
  with pytest.raises(ValueError, match=r"--config.sampler.input=plane: choose one of ray, line"):
    configs.validated(config)
  with pytest.raises(ValueError, match=r"--config.loop.lr_schedule=linear: choose one of"):
    configs.replace(radiance.Config(), {"loop.lr_schedule": "linear"})
  with pytest.raises(ValueError, match=r"loop.stepz: LoopConfig has no field 'stepz'"):
    configs.replace(radiance.Config(), {"loop.stepz": 3})


def test_a_config_round_trips_through_its_json():
  config = configs.replace(radiance.preset("lego"), {"model.width": 32, "scene.box": ("auto",)})
  again = configs.from_dict(radiance.Config, json.loads(json.dumps(configs.to_dict(config))))
  assert again == config and isinstance(again.scene.box, tuple)
  with pytest.raises(ValueError, match=r"config.model.widht is not a field of ModelConfig"):
    configs.from_dict(radiance.Config, {"model": {"widht": 3}})


def test_each_knob_has_its_help_and_the_reference_lists_every_one():
  rows = configs.reference(radiance.Config())
  assert len([r for r in rows if r.startswith("| `--config.")]) == len(
      configs.flat(radiance.Config()))
  for cls in (renderers.ModelConfig, renderers.SamplerConfig, renderers.LossConfig,
              training.LoopConfig):
    import dataclasses  # pylint: disable=g-import-not-at-top
    assert all(f.metadata.get("help") for f in dataclasses.fields(cls)), cls


def test_the_flag_reference_in_docs_is_the_generated_one():
  out = subprocess.run([sys.executable, "-m", "docs.flags", "--check"], cwd=REPO,
                       capture_output=True, text=True)
  assert out.returncode == 0, out.stdout + out.stderr


def test_a_bad_override_stops_the_job_naming_the_flag(tmp_path):
  out = subprocess.run([sys.executable, "-m", "train.radiance", f"--workdir={tmp_path}",
                        "--config.sampler.input=plane"], cwd=REPO, capture_output=True,
                       text=True)
  assert out.returncode != 0
  assert "--config.sampler.input=plane: choose one of ray, line" in out.stderr
