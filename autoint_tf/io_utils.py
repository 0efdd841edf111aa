"""Small file helpers shared by the jobs: atomic writes, JSON configs, figures."""

import contextlib
import dataclasses
import json
import os
import re
import tempfile


def process_alive(pid):
  """Whether process `pid` runs (on this host)."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True  # another user's
  return True


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path beside `path` (`.NAME.PID.XXXX.tmp.EXT`); renames it onto `path`
  only on success. A killed writer's temporary is removed by `remove_stale_temporaries`."""
  path = os.fspath(path)
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  base, ext = os.path.splitext(os.path.basename(path))
  fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=f".tmp{ext}",
                             dir=directory)
  os.close(fd)
  umask = os.umask(0)
  os.umask(umask)
  try:
    yield tmp
    os.chmod(tmp, 0o666 & ~umask)  # a new file's usual mode (mkstemp's is 0600)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def remove_stale_temporaries(directory):
  """Removes the `atomic_path` temporaries in `directory` whose writing process is gone."""
  for name in os.listdir(directory) if os.path.isdir(directory) else ():
    match = re.fullmatch(r"\..+\.(\d+)\.[^.]+\.tmp(\.[^.]*)?", name)
    if match and not process_alive(int(match.group(1))):
      with contextlib.suppress(OSError):
        os.remove(os.path.join(directory, name))


def load_numpy(path, what):
  """np.load of a .npy/.npz (no pickles); an unreadable file is a ValueError naming it."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  try:
    return np.load(path, allow_pickle=False)
  except Exception as e:  # pylint: disable=broad-except  (zip, pickle, EOF, header errors)
    raise ValueError(f"{path!r} is not a readable {what} ({type(e).__name__}: {e}).") from None


def write_json(path, obj):
  """Writes `obj` (a dict or dataclass) as indented JSON, atomically."""
  if dataclasses.is_dataclass(obj):
    obj = dataclasses.asdict(obj)
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      json.dump(obj, f, indent=2, sort_keys=True, default=str)
      f.write("\n")


def write_text(path, text):
  """Writes `text` atomically."""
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(text)


def save_figure(fig, path):
  """Saves a matplotlib figure atomically and closes it."""
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  with atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=110, bbox_inches="tight", format=os.path.splitext(path)[1][1:])
  plt.close(fig)


def replace_section(path, name, title, text):
  """Puts `text` between <!-- name:begin --> and <!-- name:end --> markers of a Markdown file
  (appending a `title` section with the markers the first time), atomically."""
  begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
  doc = open(path).read() if os.path.exists(path) else ""
  block = f"{begin}\n{text}{end}"
  if begin in doc:
    doc = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, doc, flags=re.S)
  else:
    doc += f"\n## {title}\n\n{block}\n"
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(doc)
