"""The package as a user installs it: `pip install .` into a fresh venv, used from outside the
checkout (README's library example), with no generic top-level names in site-packages.

The venv borrows this environment's already-installed dependencies through a .pth line (so the
test does not download TensorFlow again); autoint_tf itself comes only from the wheel pip builds
from the checkout, which the test asserts.
"""

import os
import re
import subprocess
import sys
import sysconfig

from conftest import REPO


def _readme_example():
  with open(os.path.join(REPO, "README.md")) as f:
    text = f.read()
  section = text.split("## The library in ten lines", 1)[1]
  return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_pip_install_gives_a_working_package_outside_the_checkout(tmp_path):
  venv = tmp_path / "venv"
  subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
  python = str(venv / "bin" / "python")
  site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        check=True, capture_output=True, text=True).stdout.strip()
  with open(os.path.join(site, "borrowed_dependencies.pth"), "w") as f:
    f.write(sysconfig.get_paths()["purelib"] + "\n")
  env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
  install = subprocess.run([python, "-m", "pip", "install", "--no-build-isolation", "--quiet",
                            REPO], capture_output=True, text=True, env=env, cwd=tmp_path)
  assert install.returncode == 0, install.stdout + install.stderr
  files = subprocess.run([python, "-m", "pip", "show", "-f", "autoint-tf"], check=True,
                         capture_output=True, text=True, env=env, cwd=tmp_path).stdout
  listed = [line.strip() for line in files.split("Files:", 1)[1].splitlines() if line.strip()]
  tops = {line.split("/", 1)[0] for line in listed}
  assert "autoint_tf" in tops and not tops & {"train", "serving", "benchmarks", "tests"}, tops
  assert any(line.startswith("../../../bin/autoint-radiance") for line in listed), listed[:5]
  script = tmp_path / "example.py"
  script.write_text("import autoint_tf\nprint('FROM', autoint_tf.__file__)\n" + _readme_example())
  out = subprocess.run([python, str(script)], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-3000:]
  where = re.search(r"FROM (\S+)", out.stdout).group(1)
  assert where.startswith(site) and not where.startswith(REPO), where
  got, want = (float(v) for v in out.stdout.strip().splitlines()[-1].split())
  assert abs(got - want) < 0.02, out.stdout  # the fitted integral near its closed form
