"""absl flags generated from the config dataclasses, so each job states its options once.

One flag per field, with the dataclass default and, as help, the comment that documents the
field in its class (every config field carries one). Tuple fields become comma-separated lists.
"""

import dataclasses
import inspect
import re

from absl import flags

from autoint_tf import training

_DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float,
           str: flags.DEFINE_string}


def field_comments(config_cls):
  """{field: its comment} from the source of `config_cls` and its dataclass bases (a comment
  continued on the next lines, aligned under it, is joined)."""
  comments = {}
  for cls in reversed(config_cls.__mro__):
    if not dataclasses.is_dataclass(cls):
      continue
    last = None
    for line in inspect.getsource(cls).splitlines():
      field = re.match(r"\s+(\w+): [^=]+=.*?#\s*(.*)$", line)
      if field:
        last = field.group(1)
        comments[last] = field.group(2).strip()
      elif last and re.match(r"\s+#\s*(.*)$", line):
        comments[last] += " " + line.strip().lstrip("#").strip()
      else:
        last = None
  return comments


LOOP_ENUMS = {"strategy": training.STRATEGIES, "lr_schedule": training.LR_SCHEDULES}


def define(config_cls, enums=None, flag_values=flags.FLAGS):
  """Defines one flag per field of `config_cls`, with the dataclass default and the field's
  comment as help; `enums` maps a field to its allowed values."""
  enums = {**LOOP_ENUMS, **(enums or {})}
  helps = field_comments(config_cls)
  defaults = config_cls()
  for field in dataclasses.fields(config_cls):
    helps.setdefault(field.name, field.name.replace("_", " ") + ".")
    default = getattr(defaults, field.name)
    if field.name in enums:
      flags.DEFINE_enum(field.name, default, list(enums[field.name]), helps[field.name],
                        flag_values=flag_values)
    elif isinstance(default, tuple):
      flags.DEFINE_list(field.name, [str(v) for v in default], helps[field.name],
                        flag_values=flag_values)
    else:
      _DEFINE[type(default)](field.name, default, helps[field.name], flag_values=flag_values)


def _value(config_cls, name, flag_values):
  value = getattr(flag_values, name)
  default = getattr(config_cls(), name)
  if isinstance(default, tuple):
    kind = type(default[0]) if default else str
    return tuple(kind(v) for v in value)
  return value


def config(config_cls, base=None, flag_values=flags.FLAGS, **overrides):
  """The config the command line asked for. Without `base`: every flag over the dataclass
  defaults; with a `base` config (a preset): only the flags given on the command line."""
  names = [f.name for f in dataclasses.fields(config_cls) if f.name in flag_values]
  if base is None:
    values = {n: _value(config_cls, n, flag_values) for n in names}
    return config_cls(**{**values, **overrides})
  values = {n: _value(config_cls, n, flag_values) for n in names if flag_values[n].present}
  return dataclasses.replace(base, **{**values, **overrides})
