"""How every benchmark publishes: a Markdown table, its rows as JSON in benchmarks/results/,
and the table in its section of the dated log docs/benchmarks_log.md (replaced in place on a
rerun). BENCHMARKS.md holds the current results, each row citing the log's command and date."""

import os

from autoint_tf import io_utils

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def table(header, rows):
  """A Markdown table: header, a list of column titles; rows, lists of cell strings."""
  lines = [header, ["---"] * len(header)] + list(rows)
  return "".join("| " + " | ".join(str(c) for c in line) + " |\n" for line in lines)


def publish(name, title, text, payload=None):
  """Writes benchmarks/results/NAME.json (payload) and the log's section NAME."""
  if payload is not None:
    io_utils.write_json(os.path.join(ROOT, "benchmarks", "results", f"{name}.json"), payload)
  io_utils.replace_section(os.path.join(ROOT, "docs", "benchmarks_log.md"), name, title, text)
