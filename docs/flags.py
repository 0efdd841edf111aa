r"""Writes docs/flags.md, the reference of every job's --config fields, from the configs.

  python -m docs.flags           # rewrite docs/flags.md
  python -m docs.flags --check   # exit 1 if docs/flags.md is not what the configs give
"""

import os
import sys

from autoint_tf import configs
from autoint_tf import ct
from autoint_tf import radiance
from autoint_tf import toy

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flags.md")
JOBS = (("train.radiance", "autoint-radiance", radiance.Config(),
         "Volume rendering. `--config=PRESET` first picks one of: " +
         ", ".join(f"`{name}`" for name in radiance.PRESETS) + " (default `tiny`; the "
         "defaults below are `tiny`'s)."),
        ("train.tomography", "autoint-tomography", ct.Config(), "Sparse-view CT."),
        ("train.integrate", "autoint-integrate", toy.Config(), "1D and 2D integrals."))


def text():
  parts = ["# Flag reference\n",
           "Generated from the config dataclasses by `python -m docs.flags` (each field is "
           "declared once, with its help, in the component that uses it). Every job takes "
           "`--workdir=DIR` and one `--config`: override any field by its dotted path, e.g. "
           "`--config.model.width=256`; tuples as `--config.scene.box=auto` or "
           "`--config.eval.report_sections=(8,16)`.\n"]
  for module, script, config, what in JOBS:
    parts += [f"## `python -m {module}` (`{script}`)\n", what + "\n",
              "| flag | default | what |", "|---|---|---|", *configs.reference(config), ""]
  return "\n".join(parts)


def main(argv):
  if "--check" in argv:
    with open(PATH) as f:
      if f.read() != text():
        print(f"{PATH} is stale: run python -m docs.flags")
        return 1
    return 0
  with open(PATH, "w") as f:
    f.write(text())
  print(f"Wrote {PATH}")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
