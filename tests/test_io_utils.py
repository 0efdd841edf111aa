"""Tests of autoint_tf.io_utils: atomic writes and Markdown sections."""

import json
import os

import pytest

from autoint_tf import io_utils


def test_atomic_path_leaves_the_old_file_and_no_temporary_on_failure(tmp_path):
  path = tmp_path / "out.json"
  io_utils.write_json(path, {"a": 1})
  with pytest.raises(RuntimeError):
    with io_utils.atomic_path(path) as tmp:
      with open(tmp, "w") as f:
        f.write("half")
      raise RuntimeError("crash")
  assert json.loads(path.read_text()) == {"a": 1}
  assert os.listdir(tmp_path) == ["out.json"]


def test_replace_section_appends_once_then_replaces(tmp_path):
  path = str(tmp_path / "doc.md")
  io_utils.replace_section(path, "t", "Table", "one\n")
  io_utils.replace_section(path, "t", "Table", "two\n")
  text = open(path).read()
  assert text.count("## Table") == 1 and "two" in text and "one" not in text
