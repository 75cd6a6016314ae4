"""The results file of a benchmark: header, keyed rows, failures and targets, rewritten atomically as cells finish.

Every benchmark writes one JSON file (``benchmarks/results/NAME.json`` from the repository)::

    {"benchmark": "operators", "command": "sciml bench operators --preset quick",
     "created_utc": "2026-12-01T10:00:00Z", "environment": {"sciml": "0.1.0", "torch": ..., "cpu_count": 2},
     "settings": {...}, "complete": true, "rows": [{"case": "darcy", "method": "fno", ...}],
     "failed": [], "targets": [{"name": ..., "measured": 0.66, "goal": "<= 0.75", "met": true}]}

Rows are keyed by a tuple of their fields (``("case", "method")``). With ``resume=True`` a
file of an earlier run is read back: its rows count as finished and their cells are not
run again; a file written with other ``settings`` is refused with a one-line error.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "demo.json"
>>> res = Results(path, "demo", key=("case",), settings={"n": 3}, command="demo")
>>> res.add({"case": "a", "value": 1.0})
>>> res.write(targets=[])["rows"]
[{'case': 'a', 'value': 1.0}]
>>> again = Results(path, "demo", key=("case",), settings={"n": 3}, resume=True)
>>> again.done(("a",)), again.done(("b",))
(True, False)
>>> Results(path, "demo", key=("case",), settings={"n": 4}, resume=True)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sciml.core.errors.ConfigError: cannot resume from .../demo.json: it was written with other settings (n: 3 there, 4 now); drop --resume to start afresh, or choose another --out
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sciml.core.errors import ConfigError
from sciml.core.io import environment as _environment
from sciml.core.io import write_json

__all__ = ["Results", "write_results", "utc_now"]

Key = tuple[Any, ...]


def utc_now() -> str:
    """The current UTC time as ``2026-12-01T10:00:00Z``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(obj: Any) -> Any:
    """``obj`` as JSON reads it back (tuples become lists, numpy scalars numbers), for comparisons."""
    return json.loads(json.dumps(obj, default=str))


def write_results(
    path: str | os.PathLike[str],
    benchmark: str,
    *,
    command: str,
    settings: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    targets: Sequence[Mapping[str, Any]] = (),
    environment: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Write a complete results payload at once (atomically); returns it.

    ``environment`` is added to :func:`sciml.core.io.environment` (``torch_threads``,
    ``executor``); ``extra`` fields follow ``targets``.
    """
    payload = {
        **_header(benchmark, command, {**_environment(), **(environment or {})}, settings),
        "rows": list(rows),
        "targets": list(targets),
        **extra,
    }
    write_json(path, payload)
    return payload


def _header(benchmark: str, command: str, environment: Mapping[str, Any], settings: Mapping[str, Any]) -> dict:
    return {
        "benchmark": benchmark,
        "command": command,
        "created_utc": utc_now(),
        "environment": dict(environment),
        "settings": dict(settings),
    }


class Results:
    """A benchmark's results file, kept up to date cell by cell.

    Parameters
    ----------
    path : path
        The JSON file (``OUT/NAME.json``).
    benchmark : str
        The payload's ``benchmark``.
    key : sequence of str
        The fields of a row that name it (``("case", "method")``).
    settings : mapping
        What the run measures (preset, sizes, device): written as ``settings``, and compared
        with the file's on resume.
    command : str
        The command line that reproduces the run.
    environment : mapping, optional
        Added to :func:`sciml.core.io.environment` (``torch_threads``, ``executor``);
        ``{}`` records only that.
    resume : bool
        Read ``path`` back when it exists: its rows are finished cells (:meth:`done`),
        its failures are run again unless ``retry_failed=False``.
    match : mapping, optional
        What must equal the file's settings to resume (default: all of ``settings``); ``{}``
        when the key alone says what a row measured.
    rows_field : str
        The payload field of the keyed rows: ``"rows"``, or another name (``"runs"``) when
        the benchmark's ``rows`` summarize them.
    keep : callable, optional
        ``keep(row) -> bool``: a row read back on resume counts only if it holds (it
        measured what this run would).
    keep_other_settings : bool
        Without ``resume`` too, refuse (one-line ConfigError, nothing written) to replace a
        results file of this benchmark written with other ``match`` settings: a sweep's
        finished cells are not lost to a run of another configuration.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        benchmark: str,
        *,
        key: Sequence[str],
        settings: Mapping[str, Any],
        command: str = "",
        environment: Mapping[str, Any] | None = None,
        resume: bool = False,
        match: Mapping[str, Any] | None = None,
        rows_field: str = "rows",
        retry_failed: bool = True,
        keep: Callable[[dict[str, Any]], bool] | None = None,
        keep_other_settings: bool = False,
    ):
        self.path = Path(path)
        self.benchmark, self.command = benchmark, command
        self.key_fields = tuple(key)
        self.settings = dict(settings)
        self.rows_field = rows_field
        self._environment = {**_environment(), **(environment or {})}
        self._rows: dict[Key, list[dict[str, Any]]] = {}  # a cell may measure several rows
        self._failed: dict[Key, dict[str, Any]] = {}
        self.resumed: list[Key] = []
        self.extra: dict[str, Any] = {}
        match = self.settings if match is None else dict(match)
        if resume and self.path.exists():
            self._read_back(match, retry_failed, keep)
        elif keep_other_settings and self.path.exists():
            try:
                previous = self._previous()
            except ConfigError:
                previous = None  # unreadable, or another benchmark's: nothing of this sweep to keep
            if previous is not None:
                self._check_settings(
                    previous, match, f"{self.path} was written", "choose another --out or delete it to start afresh"
                )

    # ------------------------------------------------------------------ keys
    def key_of(self, row: Mapping[str, Any]) -> Key:
        """The key of a row: its values of the key fields."""
        try:
            return tuple(_plain(row[f]) for f in self.key_fields)
        except KeyError as exc:
            raise ConfigError(f"row {dict(row)} lacks the key field {exc} of {self.benchmark}") from None

    def _key(self, key: Key | Mapping[str, Any]) -> Key:
        return self.key_of(key) if isinstance(key, Mapping) else tuple(_plain(list(key)))

    def done(self, key: Key | Mapping[str, Any]) -> bool:
        """Whether the cell ``key`` has a row (finished here or in the run resumed)."""
        return self._key(key) in self._rows

    def failed_before(self, key: Key | Mapping[str, Any]) -> bool:
        """Whether ``key`` failed in the run resumed and is not to be retried."""
        return self._key(key) in self._failed

    def get(self, key: Key | Mapping[str, Any]) -> dict[str, Any] | None:
        """The (first) row of cell ``key``, None when it has none."""
        rows = self._rows.get(self._key(key))
        return rows[0] if rows else None

    # ------------------------------------------------------------------ content
    def add(self, row: Mapping[str, Any]) -> None:
        """Record a finished cell's row (replacing an earlier one of the same key)."""
        self.add_cell(self.key_of(row), [row])

    def add_cell(self, key: Key | Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> None:
        """Record the rows a finished cell measured (each holds the key's fields)."""
        key = self._key(key)
        rows = [dict(r) for r in rows]
        wrong = [r for r in rows if self.key_of(r) != key]
        if wrong:
            raise ConfigError(f"a row of cell {key} has the key {self.key_of(wrong[0])}; a cell's rows share its key")
        self._failed.pop(key, None)
        self._rows[key] = rows

    def add_failure(self, key: Key | Mapping[str, Any], message: str) -> None:
        """Record that cell ``key`` failed, with its one-line message; the sweep goes on."""
        key = self._key(key)
        self._failed[key] = {**dict(zip(self.key_fields, key)), "error": " ".join(str(message).split())}

    def rows(self, order: Iterable[Key | Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The rows, in ``order`` of keys (those of other keys left out), else in the order added."""
        keys = list(self._rows) if order is None else [self._key(k) for k in order]
        return [row for k in keys for row in self._rows.get(k, [])]

    def failures(self, order: Iterable[Key | Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
        if order is None:
            return list(self._failed.values())
        keys = [self._key(k) for k in order]
        return [self._failed[k] for k in keys if k in self._failed]

    # ------------------------------------------------------------------ file
    def payload(
        self,
        *,
        order: Iterable[Key | Mapping[str, Any]] | None = None,
        complete: bool = False,
        targets: Sequence[Mapping[str, Any]] = (),
        **fields: Any,
    ) -> dict[str, Any]:
        order = None if order is None else list(order)
        payload = {
            **_header(self.benchmark, self.command, self._environment, self.settings),
            "complete": bool(complete),
        }
        payload[self.rows_field] = self.rows(order)
        payload.update({k: v for k, v in fields.items() if k != "failed"})
        payload["failed"] = self.failures(order)
        payload["targets"] = list(targets)
        payload.update(self.extra)
        return payload

    def write(self, **kwargs: Any) -> dict[str, Any]:
        """Rewrite the file atomically (see :meth:`payload` for the arguments); returns the payload."""
        payload = self.payload(**kwargs)
        write_json(self.path, payload)
        return payload

    def _previous(self) -> dict[str, Any]:
        """The results file at ``path``, read back: a ConfigError unless it is this benchmark's."""
        try:
            previous = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot resume from {self.path}: it is not a readable results file ({exc}); "
                "drop --resume or choose another --out"
            ) from None
        if not isinstance(previous, dict) or previous.get("benchmark") != self.benchmark:
            theirs = previous.get("benchmark") if isinstance(previous, dict) else None
            raise ConfigError(
                f"cannot resume from {self.path}: it holds benchmark {theirs!r}, not {self.benchmark!r}; "
                "drop --resume or choose another --out"
            )
        return previous

    def _check_settings(self, previous: Mapping[str, Any], match: Mapping[str, Any], lead: str, fix: str) -> None:
        saved = previous.get("settings") or {}
        ours = _plain(dict(match))
        differ = [k for k in ours if _plain(saved.get(k)) != ours[k]]
        if differ:
            what = ", ".join(
                f"{k}: {json.dumps(_plain(saved.get(k)))} there, {json.dumps(ours[k])} now" for k in differ[:3]
            )
            raise ConfigError(f"{lead} with other settings ({what}); {fix}")

    def _read_back(self, match: Mapping[str, Any], retry_failed: bool, keep: Any) -> None:
        previous = self._previous()
        self._check_settings(
            previous,
            match,
            f"cannot resume from {self.path}: it was written",
            "drop --resume to start afresh, or choose another --out",
        )
        for row in previous.get(self.rows_field) or []:
            if isinstance(row, dict) and all(f in row for f in self.key_fields) and (keep is None or keep(row)):
                key = self.key_of(row)
                if key not in self._rows:
                    self.resumed.append(key)
                self._rows.setdefault(key, []).append(row)
        if not retry_failed:
            for failure in previous.get("failed") or []:
                if isinstance(failure, dict) and all(f in failure for f in self.key_fields):
                    self._failed[self.key_of(failure)] = failure
