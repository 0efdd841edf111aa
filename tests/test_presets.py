"""Every radiance preset resolves to the settings it had before configs were nested.

tests/data/radiance_presets_2026-12-02.json holds, for each preset, the flat radiance.Config of
2026-12-02 (commit 01fcd4d) and the renderers.ModelConfig its sentinels resolved to
(radiance.model_config then). Each old field is mapped to the one field that holds it now, and
every field of today's config is compared, so a knob that moved, changed its default or was
added without a counterpart shows up here.
"""

import json
import os

import pytest

from autoint_tf import configs
from autoint_tf import radiance

BEFORE = os.path.join(os.path.dirname(__file__), "data", "radiance_presets_2026-12-02.json")

# Old flat radiance.Config field -> its dotted path now.
CONFIG_FIELDS = {
    "renderer": "renderer", "precision": "precision",
    "scene": "scene.format", "data_path": "scene.data_path", "downscale": "scene.downscale",
    "white_background": "scene.white_background", "pixel_center": "scene.pixel_center",
    "image_size": "scene.image_size", "near": "scene.near", "far": "scene.far",
    "box": "scene.box",
    "section_means": "loss.section_means", "post_jitter": "loss.post_jitter",
    "exact_scales": "loss.exact_scales",
    "num_coarse": "quadrature.num_coarse", "num_fine": "quadrature.num_fine",
    "batch_size": "batch.size", "precrop_steps": "batch.precrop_steps",
    "random_background": "batch.random_background",
    "eval_sections": "eval.sections", "report_sections": "eval.report_sections",
    "turntable_frames": "eval.turntable_frames", "time_quadrature": "eval.time_quadrature",
    **{name: f"loop.{name}" for name in (
        "steps", "learning_rate", "lr_schedule", "lr_decay_steps", "lr_decay_rate",
        "lr_decay_fraction", "final_lr_fraction", "warmup_steps", "amsgrad", "clipnorm",
        "log_every", "eval_every", "checkpoint_every", "budget_minutes", "deterministic",
        "strategy", "seed", "steps_per_execution")},
}
# The old sentinel overrides, resolved into the model config below, and the quantile sampler
# (removed: its default, "render", is the only behaviour left).
RESOLVED_OR_REMOVED = {
    "model", "activation", "num_frequencies", "direction_frequencies", "num_sections",
    "samples_per_section", "width", "depth", "sampler_depth", "sampler_width",
    "sampler_frequencies", "sampler_input", "view_consistent_sigma", "color_orientation",
    "shared_trunk", "sampler_loss", "sampler_uniform"}
# Old renderers.ModelConfig field (as resolved) -> its dotted path now.
MODEL_FIELDS = {
    **{name: f"model.{name}" for name in (
        "depth", "width", "activation", "num_frequencies", "direction_frequencies",
        "view_consistent_sigma", "color_orientation", "shared_trunk", "head_depth",
        "head_width")},
    "num_sections": "sampler.num_sections", "learned_sampling": "sampler.learned",
    "sampler_depth": "sampler.depth", "sampler_width": "sampler.width",
    "sampler_frequencies": "sampler.num_frequencies", "sampler_input": "sampler.input",
    "min_section": "sampler.min_section", "samples_per_section": "loss.samples_per_section",
}


def _before():
  with open(BEFORE) as f:
    return json.load(f)


@pytest.mark.parametrize("name", sorted(_before()))
def test_each_preset_resolves_to_its_settings_before_the_nesting(name):
  before = _before()[name]
  now = configs.flat(radiance.preset(name))
  assert before["config"]["sampler_loss"] == "render"
  assert set(before["config"]) == set(CONFIG_FIELDS) | RESOLVED_OR_REMOVED
  assert set(before["model"]) == set(MODEL_FIELDS)
  expected = {CONFIG_FIELDS[k]: v for k, v in before["config"].items() if k in CONFIG_FIELDS}
  expected.update({MODEL_FIELDS[k]: v for k, v in before["model"].items()})
  # Issue 29: random backgrounds became auto/on/off; the built-in scene (tiny) now carries
  # alpha and trains on them ("auto"), every other preset keeps its recipe ("off").
  assert expected["batch.random_background"] is False
  expected["batch.random_background"] = "auto" if name == "tiny" else "off"
  # Issue 29: every run has a scene box by default; presets without one (empty) now get the
  # scene's default (scenes.scene_box), lego keeps its visual hull ("auto").
  if expected["scene.box"] == []:
    expected["scene.box"] = ["default"]
  # Issue 29: the built-in scene's recipe became 192 wide, 3000 steps, lr x 0.2 / 1920 (with
  # right opacity the 128-wide model underfit: BENCHMARKS.md).
  if name == "tiny":
    expected.update({"model.width": 192, "loop.steps": 3000, "loop.lr_decay_steps": 1920})
  assert set(now) == set(expected), "a field with no counterpart before (or lost)"
  for path, value in expected.items():
    got = list(now[path]) if isinstance(now[path], tuple) else now[path]
    assert got == value, f"{name}: {path} is {got!r}, was {value!r}"


def test_the_presets_are_fresh_copies():
  one = radiance.preset("lego")
  one.model.width = 7
  assert radiance.preset("lego").model.width == 128
