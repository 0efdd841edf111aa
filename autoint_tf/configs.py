"""Configs as nested dataclasses: one declaration per knob, with its help beside it.

Every component owns a dataclass of its knobs (renderers.ModelConfig, renderers.SamplerConfig,
scenes.SceneConfig, training.LoopConfig, ...); an application's config nests them. Each field
is declared once with `knob(default, help)`; the help is the field's metadata, read by the
command line's `--helpfull`-free reference (`reference`, docs/flags.md) and nowhere parsed
from source. Each dataclass checks its own values in `__post_init__`.

Command lines use `ml_collections.config_flags.DEFINE_config_dataclass` (absl's companion, as
flax and big_vision do): `--config=PRESET` picks a whole config, `--config.model.width=256`
overrides one field. Those overrides are set on the dataclass after it is built, so the
dataclasses are not frozen and `validated(config)` rebuilds the tree to run every check again.
"""

import copy
import dataclasses
import typing


def knob(default, help_text):
  """A dataclass field with its default and its help (one sentence or two)."""
  if dataclasses.is_dataclass(default):
    return dataclasses.field(default_factory=lambda: copy.deepcopy(default),
                             metadata={"help": help_text})
  return dataclasses.field(default=default, metadata={"help": help_text})


def validated(config):
  """`config` rebuilt from its fields, innermost first, so that every `__post_init__` check
  runs on the values it holds now (after command-line overrides)."""
  values = {}
  for f in dataclasses.fields(config):
    value = getattr(config, f.name)
    if dataclasses.is_dataclass(value):
      value = validated(value)
    elif isinstance(value, list):
      value = tuple(value)
    values[f.name] = value
  return type(config)(**values)


def replace(config, changes):
  """A copy of `config` with `changes` {dotted path: value} ("loop.steps": 5), checked."""
  config = copy.deepcopy(config)
  for path, value in changes.items():
    *parents, name = path.split(".")
    holder = config
    for parent in parents:
      holder = getattr(holder, parent)
    if name not in {f.name for f in dataclasses.fields(holder)}:
      raise ValueError(f"{path}: {type(holder).__name__} has no field {name!r}.")
    setattr(holder, name, value)
  return validated(config)


def to_dict(config):
  """The JSON-able dict of a (nested) config."""
  return dataclasses.asdict(config)


def from_dict(cls, values, where="config"):
  """The `cls` config of a dict written by `to_dict` (lists become tuples).

  Raises:
    ValueError: a key that is not a field of its dataclass (names the key and the fields).
  """
  names = {f.name: f for f in dataclasses.fields(cls)}
  hints = typing.get_type_hints(cls)
  kwargs = {}
  for key, value in values.items():
    if key not in names:
      raise ValueError(f"{where}.{key} is not a field of {cls.__name__} (its fields: "
                       f"{', '.join(names)}); was the run written by another version?")
    kind = hints.get(key)
    if dataclasses.is_dataclass(kind) and isinstance(value, dict):
      value = from_dict(kind, value, f"{where}.{key}")
    elif isinstance(value, list):
      value = tuple(value)
    kwargs[key] = value
  return cls(**kwargs)


def flat(config, prefix=""):
  """{"model.width": 128, ...}: every leaf of a nested config by its dotted path."""
  out = {}
  for f in dataclasses.fields(config):
    value = getattr(config, f.name)
    if dataclasses.is_dataclass(value):
      out.update(flat(value, f"{prefix}{f.name}."))
    else:
      out[prefix + f.name] = value
  return out


def reference(config, prefix="config."):
  """Markdown rows `| --config.path | default | help |` of every knob of `config`."""
  rows = []
  for f in dataclasses.fields(config):
    value = getattr(config, f.name)
    if dataclasses.is_dataclass(value):
      rows.append(f"| **`{prefix}{f.name}`** | | {f.metadata.get('help', '')} |")
      rows.extend(reference(value, f"{prefix}{f.name}."))
    else:
      shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
      rows.append(f"| `--{prefix}{f.name}` | `{shown}` | {f.metadata.get('help', '')} |")
  return rows


def check_choice(name, value, choices, what=""):
  """Raises a ValueError naming --name and its choices unless value is one of them."""
  if value not in choices:
    raise ValueError(f"--{name}={value}: choose one of {', '.join(map(str, choices))}"
                     f"{' (' + what + ')' if what else ''}.")


def check_range(name, value, low=None, high=None, what="a number"):
  """Raises a ValueError naming --name unless low <= value <= high (either bound optional)."""
  if (low is not None and value < low) or (high is not None and value > high):
    bounds = (f"in [{low}, {high}]" if low is not None and high is not None else
              f"at least {low}" if low is not None else f"at most {high}")
    raise ValueError(f"--{name}={value}: give {what} {bounds}.")
