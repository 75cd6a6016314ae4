"""Run the cells of a sweep on any executor; each finished cell is written at once, finished ones are skipped.

A *cell* is one call ``fn(*args, **kwargs)`` with a key (``("darcy", "fno")``, ``("Lorenz",)``):
it returns a row (a dict), several rows (a list of dicts: one system measured by two
methods) or a value (stored as ``{"value": ...}``); the key's fields are added to each row.

>>> import tempfile, pathlib
>>> from sciml.bench import Cell, Results, SerialExecutor, run_cells
>>> out = pathlib.Path(tempfile.mkdtemp()) / "squares.json"
>>> res = Results(out, "squares", key=("n",), settings={})
>>> cells = [Cell((n,), pow, (n, 2)) for n in range(4)] + [Cell((9,), int, ("nine",))]
>>> report = run_cells(cells, SerialExecutor(), res)
>>> [r["value"] for r in res.rows()], report.failed
([0, 1, 4, 9], [(9,)])
>>> res.failures()[0]["error"]
"ValueError: invalid literal for int() with base 10: 'nine'"
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sciml.bench._executors import SerialExecutor, executor_workers
from sciml.bench._results import Results

__all__ = ["Cell", "CellTimeoutError", "RunReport", "run_cells"]

# a cell the executor cannot stop itself (a thread of a Dask worker) is abandoned this long after its limit
_GRACE_S = 5.0


class CellTimeoutError(TimeoutError):
    """A cell ran past its time limit."""


@dataclasses.dataclass(frozen=True)
class Cell:
    """One call of a sweep: ``fn(*args, **kwargs)``, named by ``key`` (values of the results' key fields).

    ``fn`` must be importable by name (a module-level function) for process and Dask executors.
    """

    key: tuple[Any, ...]
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        return "/".join(str(k) for k in self.key)


@dataclasses.dataclass
class RunReport:
    """What :func:`run_cells` did: keys run (finished, failed), skipped (finished before), not started."""

    finished: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    failed: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    skipped: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    not_started: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)


def call_cell(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], time_limit: float | None) -> Any:
    """``fn(*args, **kwargs)``, stopped by SIGALRM after ``time_limit`` seconds (in a process's main thread).

    Off the main thread (a Dask worker's threads) no signal can interrupt it; the runner then
    abandons the cell once its limit has passed.
    """
    if not time_limit or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return fn(*args, **kwargs)

    message = f"time limit of {time_limit:g} s reached"
    fired = []

    def stop(signum, frame):  # noqa: ANN001, ARG001 - signal handler signature
        fired.append(True)
        raise CellTimeoutError(message)

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, float(time_limit))
    try:
        value = fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if fired:
        # the alarm went off where Python swallows exceptions (a finalizer, a weakref callback)
        # and the cell ran on: it still ran past its limit
        raise CellTimeoutError(message)
    return value


def _rows_of(cell: Cell, fields: Sequence[str], value: Any) -> list[dict[str, Any]]:
    named = dict(zip(fields, cell.key))
    if isinstance(value, Mapping):
        return [{**named, **value}]
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return [{**named, **v} for v in value]
    return [{**named, "value": value}]


def _message(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_cells(
    cells: Sequence[Cell],
    executor: cf.Executor,
    results: Results,
    *,
    time_limit: float | None = None,
    window: int | None = None,
    budget_s: float | None = None,
    progress: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    on_failure: Callable[[Cell, str], None] | None = None,
    write: Callable[[], Any] | None = None,
) -> RunReport:
    """Run ``cells`` on ``executor``; record each row or failure in ``results`` and write it at once.

    Parameters
    ----------
    cells : sequence of Cell
        In the order of the rows; cells whose key ``results`` already holds (a resumed run)
        are skipped, and so are failures of that run that ``results`` keeps.
    executor : concurrent.futures.Executor
        :func:`~sciml.bench.make_executor` gives serial, process-pool and Dask ones.
    results : Results
        Where rows and failures go.
    time_limit : float, optional
        Seconds per cell. A cell over it is recorded as failed (``CellTimeoutError``) and the
        sweep goes on: stopped by a signal in serial runs and process pools; on executors
        whose cells run in threads (Dask), abandoned a few seconds after its limit.
    window : int, optional
        Cells in flight at once (default: the executor's workers), so that each result is
        written as it comes and no cell starts after ``budget_s``.
    budget_s : float, optional
        Start no cell after this many seconds; the cells left are ``RunReport.not_started``.
    progress : bool
        A tqdm bar over the cells.
    on_row, on_failure : callable, optional
        Called with each new row (to print it) and with each failed cell and its message.
    write : callable, optional
        Writes the results file (the benchmark's payload: summaries, targets); default
        ``results.write(order=...)``. Called after every finished or failed cell.
    """
    order = [c.key for c in cells]
    writer = write or (lambda: results.write(order=order))
    report = RunReport()
    todo = []
    for cell in cells:
        if results.done(cell.key) or results.failed_before(cell.key):
            report.skipped.append(cell.key)
        else:
            todo.append(cell)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(cells), initial=len(report.skipped), desc=results.benchmark, unit="cell")
    width = max(1, window or executor_workers(executor))
    # serial runs and process pools run each cell in a main thread, where its own alarm stops
    # it (however long the worker took to start); cells in threads (Dask) are abandoned instead
    abandon = bool(time_limit) and not isinstance(executor, (SerialExecutor, cf.ProcessPoolExecutor))
    start = time.perf_counter()
    pending: dict[cf.Future, tuple[Cell, float]] = {}
    queue = list(todo)

    def finish(cell: Cell, future: cf.Future | None, error: str | None = None) -> None:
        if error is None and future is not None:
            try:
                rows = _rows_of(cell, results.key_fields, future.result())
            except Exception as exc:  # noqa: BLE001 - a failing cell is recorded, the sweep goes on
                error = _message(exc)
            else:
                results.add_cell(cell.key, rows)
                report.finished.append(cell.key)
                for row in rows:
                    if on_row is not None:
                        on_row(row)
        if error is not None:
            results.add_failure(cell.key, error)
            report.failed.append(cell.key)
            if on_failure is not None:
                on_failure(cell, error)
        writer()
        if bar is not None:
            bar.update(1)

    try:
        while queue or pending:
            while queue and len(pending) < width and (budget_s is None or time.perf_counter() - start < budget_s):
                cell = queue.pop(0)
                future = executor.submit(call_cell, cell.fn, cell.args, dict(cell.kwargs), time_limit)
                pending[future] = (cell, time.perf_counter())
            if not pending:
                break
            timeout = None
            if abandon:
                oldest = min(submitted for _, submitted in pending.values())
                timeout = max(0.0, oldest + time_limit + _GRACE_S - time.perf_counter())
            done, _ = cf.wait(pending, timeout=timeout, return_when=cf.FIRST_COMPLETED)
            for future in done:
                cell, _ = pending.pop(future)
                finish(cell, future)
            if abandon and not done:
                now = time.perf_counter()
                for future, (cell, submitted) in list(pending.items()):
                    if now - submitted >= time_limit + _GRACE_S:
                        future.cancel()
                        del pending[future]
                        message = f"CellTimeoutError: time limit of {time_limit:g} s reached (abandoned by the runner)"
                        finish(cell, None, message)
    except BaseException:
        for future in pending:
            future.cancel()
        raise
    finally:
        if bar is not None:
            bar.close()
    report.not_started = [c.key for c in queue]
    return report
