"""Executors of benchmark sweeps, named by a spec: ``serial``, ``process[:N]``, ``dask[:N|:ADDRESS]``.

Every executor is a :class:`concurrent.futures.Executor`, so the runner
(:func:`~sciml.bench.run_cells`) treats them alike; anything else that is one (a
``ThreadPoolExecutor``, an MPI pool) may be passed to a benchmark's ``run`` directly.

>>> from sciml.bench import make_executor
>>> with make_executor("serial") as ex:
...     ex.submit(pow, 2, 10).result()
1024
>>> make_executor("proces")
Traceback (most recent call last):
...
sciml.core.errors.ConfigError: unknown executor spec 'proces' (--executor); valid forms: serial, process, process:N, dask, dask:N, dask:ADDRESS (e.g. dask:tcp://10.0.0.5:8786)
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
from collections.abc import Iterator
from typing import Any

from sciml.core.errors import ConfigError

__all__ = [
    "SerialExecutor",
    "make_executor",
    "parse_executor_spec",
    "executor_workers",
    "open_executor",
    "EXECUTOR_FORMS",
]

EXECUTOR_FORMS = "serial, process, process:N, dask, dask:N, dask:ADDRESS (e.g. dask:tcp://10.0.0.5:8786)"


class SerialExecutor(cf.Executor):
    """A ``concurrent.futures.Executor`` that runs each call at submission, in this process.

    Timings are cleanest here (nothing else of the sweep runs meanwhile), and a cell may use
    signals (the per-cell time limit) because it runs in the main thread.
    """

    _max_workers = 1

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN201 - the Executor signature
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


class _DaskExecutor(cf.Executor):
    """A Dask client's executor that also closes the client (and the LocalCluster it started) on shutdown."""

    def __init__(self, client: Any, cluster: Any = None):
        self.client, self.cluster = client, cluster
        # pure=False: two cells with equal arguments (repeats) are two tasks, not one cached result
        self._executor = client.get_executor(pure=False)
        self._max_workers = max(1, sum(int(n) for n in client.nthreads().values()))

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN201 - the Executor signature
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait and not cancel_futures)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _count(text: str, spec: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise _unknown(spec) from None
    if n < 1:
        raise ConfigError(f"executor spec '{spec}' (--executor) needs N >= 1 workers; for example process:2")
    return n


def _unknown(spec: str) -> ConfigError:
    return ConfigError(f"unknown executor spec '{spec}' (--executor); valid forms: {EXECUTOR_FORMS}")


def parse_executor_spec(spec: str) -> tuple[str, int | str | None]:
    """``(kind, argument)`` of a spec: ``("serial", None)``, ``("process", 4)``, ``("dask", "tcp://...")``.

    Raises a one-line ConfigError naming ``--executor`` and the valid forms for anything else.
    """
    text = str(spec).strip()
    kind, colon, arg = text.partition(":")
    if colon and not arg:
        raise _unknown(text)
    if kind == "serial" and not arg:
        return kind, None
    if kind in ("process", "dask") and (not arg or arg.isdigit()):
        return kind, _count(arg, text) if arg else None
    if kind == "dask":
        return kind, arg
    raise _unknown(text)


def make_executor(spec: str, *, fresh_processes: bool = False, **cluster_kwargs: Any) -> cf.Executor:
    """The executor a spec names (use it as a context manager: leaving it shuts workers down).

    Parameters
    ----------
    spec : str
        ``serial`` (in this process, at submission); ``process`` / ``process:N`` (a pool of N
        spawned processes, default ``os.cpu_count()``); ``dask`` / ``dask:N`` (a Dask
        ``LocalCluster`` of N single-threaded worker processes, default ``os.cpu_count()``);
        ``dask:ADDRESS`` (the executor of ``distributed.Client(ADDRESS)``, a running scheduler
        such as ``tcp://10.0.0.5:8786``; its workers must have sciml installed).
    fresh_processes : bool
        Process pools only: each worker process serves one cell and is replaced, so per-process
        measurements (peak memory) see that cell alone.
    **cluster_kwargs
        Passed to ``distributed.LocalCluster`` (``processes=False`` runs the workers as threads
        of this process).
    """
    kind, arg = parse_executor_spec(spec)
    if kind == "serial":
        return SerialExecutor()
    if kind == "process":
        extra = {"max_tasks_per_child": 1} if fresh_processes else {}
        workers = arg or os.cpu_count() or 1
        return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), **extra)
    import distributed

    if arg is None or isinstance(arg, int):
        options = {
            "n_workers": arg or os.cpu_count() or 1,
            "threads_per_worker": 1,
            "dashboard_address": None,
            **cluster_kwargs,
        }
        cluster = distributed.LocalCluster(**options)
        return _DaskExecutor(distributed.Client(cluster), cluster)
    try:
        client = distributed.Client(arg, timeout=30)
    except OSError as exc:
        raise ConfigError(
            f"--executor {spec}: no Dask scheduler answers at {arg} ({exc}); start one (dask scheduler) "
            "or use --executor dask for a local cluster"
        ) from None
    return _DaskExecutor(client)


def executor_workers(executor: cf.Executor) -> int:
    """How many cells ``executor`` runs at once (1 when it does not say)."""
    return max(1, int(getattr(executor, "_max_workers", 1) or 1))


@contextlib.contextmanager
def open_executor(executor: str | cf.Executor, **options: Any) -> Iterator[tuple[cf.Executor, str]]:
    """``(executor, description)`` for a spec (made here, shut down on exit) or an executor (the caller's)."""
    if isinstance(executor, cf.Executor):
        yield executor, type(executor).__name__
        return
    with make_executor(executor, **options) as made:
        yield made, str(executor)
