"""absl flags generated from the config dataclasses, so each job states its options once."""

import dataclasses

from absl import flags

_DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float,
           str: flags.DEFINE_string}


def define(config_cls, helps, enums=None):
  """Defines one flag per field of `config_cls` named in `helps` (field -> help text), with the
  dataclass default; `enums` maps a field to its allowed values."""
  enums = enums or {}
  defaults = config_cls()
  for field in dataclasses.fields(config_cls):
    if field.name not in helps:
      continue
    default = getattr(defaults, field.name)
    if field.name in enums:
      flags.DEFINE_enum(field.name, default, list(enums[field.name]), helps[field.name])
    else:
      _DEFINE[type(default)](field.name, default, helps[field.name])


def config(config_cls, base=None, **overrides):
  """The config the command line asked for. Without `base`: every flag over the dataclass
  defaults; with a `base` config (a preset): only the flags given on the command line."""
  names = [f.name for f in dataclasses.fields(config_cls) if f.name in flags.FLAGS]
  if base is None:
    values = {n: getattr(flags.FLAGS, n) for n in names}
    return config_cls(**{**values, **overrides})
  values = {n: getattr(flags.FLAGS, n) for n in names if flags.FLAGS[n].present}
  return dataclasses.replace(base, **{**values, **overrides})
