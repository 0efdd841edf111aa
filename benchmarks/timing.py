"""The one timing helper of the benchmarks: cases measured side by side in one process,
interleaved round by round (every case sees the same machine state), reported as medians."""

import time

import numpy as np


def interleaved(cases, repeats, warmup=2):
  """Median seconds per call of each case {name: fn}, over `repeats` interleaved rounds.

  A case may measure itself (e.g. to leave set-up out): if it returns a dict with "seconds"
  (as radiance.render_views does), that is its time for the round; otherwise the call is
  timed with perf_counter.
  """
  for fn in cases.values():
    for _ in range(warmup):  # trace and warm up
      fn()
  times = {k: [] for k in cases}
  for _ in range(repeats):
    for k, fn in cases.items():
      start = time.perf_counter()
      out = fn()
      elapsed = time.perf_counter() - start
      times[k].append(float(out["seconds"]) if isinstance(out, dict) and "seconds" in out
                      else elapsed)
  return {k: float(np.median(v)) for k, v in times.items()}


def for_budget(call, seconds, min_calls=5):
  """Seconds of each call of `call` repeated for a time budget (after one warm-up call)."""
  call()
  times, start = [], time.perf_counter()
  while len(times) < min_calls or time.perf_counter() - start < seconds:
    t = time.perf_counter()
    call()
    times.append(time.perf_counter() - t)
  return np.array(times)


def seconds_per_step(run, long, short):
  """Seconds of one step from two runs, `run(steps)` -> seconds: the difference between a run of
  `long` steps and one of `short`, over their difference in steps (set-up, tracing and anything
  else both runs do once cancel)."""
  return (run(long) - run(short)) / (long - short)
