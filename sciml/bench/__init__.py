"""Benchmarks in the package: results payload, resume by key, executors, the runner, tables; the installed benchmarks.

``sciml bench NAME [--preset quick|full] [--executor SPEC] [--out DIR] [--resume]`` runs an
installed benchmark (``sciml bench --list``); the scripts in ``benchmarks/`` are thin entry
points of the same code. See ``docs/benchmarks.md``.

The parts serve any sweep:

* :class:`Results` / :func:`write_results`: the results file (benchmark, command, created_utc,
  environment, settings, rows, targets), written atomically, rows keyed by a tuple of their
  fields; a resumed run keeps the finished rows and refuses a file of other settings;
* :func:`make_executor`: ``serial``, ``process[:N]``, ``dask[:N]``, ``dask:ADDRESS``;
* :func:`run_cells`: cells (:class:`Cell`) on any ``concurrent.futures.Executor``, each
  finished cell written at once, finished cells skipped, a time limit per cell, failures
  recorded with their message;
* :func:`markdown_table`, :func:`spread`, :func:`format_spread`: tables with min / median /
  max of repeated measurements;
* :data:`BENCHMARKS`: the registry of installed benchmarks (modules ``sciml.bench.NAME``).
"""

from sciml.bench._cli import default_out, main, run_benchmark
from sciml.bench._executors import EXECUTOR_FORMS, SerialExecutor, make_executor, open_executor, parse_executor_spec
from sciml.bench._registry import BENCHMARKS, describe_benchmarks, load_benchmark
from sciml.bench._results import Results, utc_now, write_results
from sciml.bench._runner import Cell, CellTimeoutError, RunReport, run_cells
from sciml.bench._tables import format_spread, format_targets, markdown_table, spread
from sciml.bench._training import EpochClock

__all__ = [
    "BENCHMARKS",
    "EXECUTOR_FORMS",
    "Cell",
    "CellTimeoutError",
    "EpochClock",
    "Results",
    "RunReport",
    "SerialExecutor",
    "default_out",
    "describe_benchmarks",
    "format_spread",
    "format_targets",
    "load_benchmark",
    "main",
    "make_executor",
    "markdown_table",
    "open_executor",
    "parse_executor_spec",
    "run_benchmark",
    "run_cells",
    "spread",
    "utc_now",
    "write_results",
]
