"""sciml.bench's runner, results file and executors: resume by key, failures, time limits, Dask = process pool."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from sciml.bench import (
    Cell,
    CellTimeoutError,
    Results,
    SerialExecutor,
    format_spread,
    make_executor,
    markdown_table,
    parse_executor_spec,
    run_cells,
    spread,
)
from sciml.core.errors import ConfigError


def _results(tmp_path, resume=False, settings=None, key=("i",), **options):
    return Results(tmp_path / "sweep.json", "sweep", key=key, settings=settings or {"n": 6}, resume=resume, **options)


def _symmetric(i: int) -> np.ndarray:
    a = np.random.default_rng(i).standard_normal((24, 24))
    return a + a.T


def _sweep_cells() -> list[Cell]:
    """A cheap deterministic sweep: eigenvalues (numpy, float) and binomials (int) per cell."""
    cells = [Cell(("eig", i), np.linalg.eigvalsh, (_symmetric(i),)) for i in range(4)]
    return cells + [Cell(("comb", n), math.comb, (40, n)) for n in (3, 17)]


def test_a_dask_cluster_gives_the_rows_of_the_process_pool(tmp_path):
    rows = {}
    for spec, options in (("process:2", {}), ("dask:2", {"processes": False})):
        results = Results(tmp_path / f"{spec[:4]}.json", "sweep", key=("kind", "i"), settings={})
        with make_executor(spec, **options) as executor:
            report = run_cells(_sweep_cells(), executor, results)
        assert report.failed == [] and len(report.finished) == 6
        # what the file holds, in the order of the cells whatever the order they finished in
        rows[spec] = json.loads(results.path.read_text())["rows"]
    process, dask = rows["process:2"], rows["dask:2"]
    assert [(r["kind"], r["i"]) for r in process] == [(r["kind"], r["i"]) for r in dask]
    assert [(r["kind"], r["i"]) for r in process] == [
        ("eig", 0),
        ("eig", 1),
        ("eig", 2),
        ("eig", 3),
        ("comb", 3),
        ("comb", 17),
    ]
    for p, d in zip(process, dask):
        if p["kind"] == "comb":
            assert p["value"] == d["value"] == math.comb(40, p["i"])
        else:
            np.testing.assert_allclose(d["value"], p["value"], rtol=4 * np.finfo(float).eps, atol=0)
            np.testing.assert_allclose(p["value"], np.linalg.eigvalsh(_symmetric(p["i"])), rtol=1e-12)


def test_an_interrupted_sweep_resumes_without_recomputing_finished_cells(tmp_path):
    calls, interrupt = [], [True]

    def square(i):
        calls.append(i)
        if i == 3 and interrupt and interrupt.pop():  # the first run is interrupted in its fourth cell
            raise KeyboardInterrupt
        return {"square": i * i}

    cells = [Cell((i,), square, (i,)) for i in range(6)]
    with pytest.raises(KeyboardInterrupt):
        run_cells(cells, SerialExecutor(), _results(tmp_path))
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert [r["i"] for r in saved["rows"]] == [0, 1, 2] and saved["complete"] is False
    report = run_cells(cells, SerialExecutor(), _results(tmp_path, resume=True))
    assert calls == [0, 1, 2, 3, 3, 4, 5]  # 0-2 were not computed again
    assert report.skipped == [(0,), (1,), (2,)] and report.finished == [(3,), (4,), (5,)]
    rows = json.loads((tmp_path / "sweep.json").read_text())["rows"]
    assert [(r["i"], r["square"]) for r in rows] == [(i, i * i) for i in range(6)]
    # without --resume the same file is a fresh start
    calls.clear()
    run_cells(cells, SerialExecutor(), _results(tmp_path))
    assert calls == list(range(6))


def test_a_failing_cell_is_recorded_with_its_message_and_the_sweep_goes_on(tmp_path):
    def reciprocal(i):
        if i == 2:
            raise ValueError(f"no reciprocal of cell {i}\nsecond line")
        return 1 / (i + 1)

    results = _results(tmp_path)
    report = run_cells([Cell((i,), reciprocal, (i,)) for i in range(4)], SerialExecutor(), results)
    assert report.failed == [(2,)] and report.finished == [(0,), (1,), (3,)]
    saved = json.loads(results.path.read_text())
    assert saved["failed"] == [{"i": 2, "error": "ValueError: no reciprocal of cell 2"}]
    assert [r["value"] for r in saved["rows"]] == [1.0, 0.5, 0.25]
    # a resumed run retries the failed cell (and only it)
    seen = []
    run_cells([Cell((i,), seen.append, (i,)) for i in range(4)], SerialExecutor(), _results(tmp_path, resume=True))
    assert seen == [2]


@pytest.mark.parametrize("spec", ["serial", "process:1"])
def test_a_cell_over_its_time_limit_fails_and_the_next_runs(tmp_path, spec):
    cells = [Cell((0,), time.sleep, (60,)), Cell((1,), math.factorial, (5,))]
    results = _results(tmp_path)
    with make_executor(spec) as executor:
        report = run_cells(cells, executor, results, time_limit=0.5)
    assert report.failed == [(0,)] and report.finished == [(1,)]
    assert results.failures() == [{"i": 0, "error": "CellTimeoutError: time limit of 0.5 s reached"}]
    assert results.rows() == [{"i": 1, "value": 120}]


def test_a_cell_in_a_thread_past_its_limit_is_abandoned(tmp_path, monkeypatch):
    """A thread cannot be interrupted by an alarm: the runner gives up on the cell (its limit
    plus a grace period after submission) and the sweep goes on."""
    import concurrent.futures as cf
    import threading

    import sciml.bench._runner as runner

    monkeypatch.setattr(runner, "_GRACE_S", 0.05)
    release = threading.Event()
    cells = [Cell((0,), release.wait, (30,)), Cell((1,), math.factorial, (5,))]
    results = _results(tmp_path)
    pool = cf.ThreadPoolExecutor(max_workers=2)
    try:
        report = run_cells(cells, pool, results, time_limit=0.2)
    finally:
        release.set()
        pool.shutdown()
    assert report.failed == [(0,)] and report.finished == [(1,)]
    assert results.failures() == [
        {"i": 0, "error": "CellTimeoutError: time limit of 0.2 s reached (abandoned by the runner)"}
    ]


def _swallows_the_alarm() -> str:
    try:
        time.sleep(5)
    except CellTimeoutError:  # as a finalizer or a weakref callback would: the cell runs on
        pass
    return "finished late"


def test_a_cell_that_swallows_its_alarm_still_fails_past_its_limit(tmp_path):
    results = _results(tmp_path)
    report = run_cells([Cell((0,), _swallows_the_alarm)], SerialExecutor(), results, time_limit=0.05)
    assert report.failed == [(0,)] and results.rows() == []
    assert results.failures() == [{"i": 0, "error": "CellTimeoutError: time limit of 0.05 s reached"}]


def test_a_cell_may_measure_several_rows(tmp_path):
    def two_methods(system):
        return [{"method": "ours", "n": len(system)}, {"method": "theirs", "n": 2 * len(system)}]

    results = _results(tmp_path, key=("case",))
    run_cells([Cell((s,), two_methods, (s,)) for s in ("Lorenz", "Thomas")], SerialExecutor(), results)
    again = _results(tmp_path, resume=True, key=("case",))
    assert again.done(("Lorenz",)) and again.done(("Thomas",))
    assert [(r["case"], r["method"], r["n"]) for r in again.rows()] == [
        ("Lorenz", "ours", 6),
        ("Lorenz", "theirs", 12),
        ("Thomas", "ours", 6),
        ("Thomas", "theirs", 12),
    ]


def test_keep_other_settings_refuses_to_replace_a_sweep_of_other_settings(tmp_path):
    results = _results(tmp_path, settings={"preset": "quick", "n": 6})
    run_cells([Cell((0,), abs, (-1,))], SerialExecutor(), results)
    before = (tmp_path / "sweep.json").read_bytes()
    with pytest.raises(ConfigError, match=r"was written with other settings \(preset: \"quick\" there, \"full\" now\)"):
        _results(tmp_path, settings={"preset": "full", "n": 6}, keep_other_settings=True)
    # the same settings (or no protection) may start afresh over it
    assert _results(tmp_path, settings={"preset": "quick", "n": 6}, keep_other_settings=True).rows() == []
    assert _results(tmp_path, settings={"preset": "full", "n": 6}).rows() == []
    assert (tmp_path / "sweep.json").read_bytes() == before  # constructing writes nothing


def test_resume_refuses_a_file_written_with_other_settings(tmp_path):
    results = _results(tmp_path, settings={"preset": "quick", "n": 6})
    run_cells([Cell((0,), abs, (-1,))], SerialExecutor(), results)
    with pytest.raises(ConfigError) as info:
        _results(tmp_path, resume=True, settings={"preset": "full", "n": 6})
    text = str(info.value)
    assert '(preset: "quick" there, "full" now)' in text and "drop --resume" in text and "\n" not in text
    # another benchmark's file is refused too; an absent file is a fresh start
    with pytest.raises(ConfigError, match="holds benchmark 'sweep', not 'other'"):
        Results(tmp_path / "sweep.json", "other", key=("i",), settings={}, resume=True)
    assert Results(tmp_path / "absent.json", "sweep", key=("i",), settings={}, resume=True).rows() == []


@pytest.mark.parametrize("spec", ["threads", "process:x", "serial:2", "dask:", "proces:4"])
def test_an_unknown_executor_spec_is_one_line_naming_the_option_and_the_forms(spec):
    with pytest.raises(ConfigError) as info:
        parse_executor_spec(spec)
    text = str(info.value)
    assert f"'{spec}'" in text and "(--executor)" in text and "process:N" in text and "dask:ADDRESS" in text
    assert "\n" not in text


def test_executor_specs_parse_to_their_kind_and_argument():
    assert parse_executor_spec("serial") == ("serial", None)
    assert parse_executor_spec("process") == ("process", None)
    assert parse_executor_spec("process:3") == ("process", 3)
    assert parse_executor_spec("dask:2") == ("dask", 2)
    assert parse_executor_spec("dask:tcp://10.0.0.5:8786") == ("dask", "tcp://10.0.0.5:8786")
    with pytest.raises(ConfigError, match="needs N >= 1 workers"):
        parse_executor_spec("process:0")


def test_tables_show_min_median_and_max_of_the_repeats():
    values = [0.912, 1.031, 0.987, 1.104, 0.95]
    ordered = sorted(values)
    assert spread(values) == {"min": ordered[0], "median": ordered[2], "max": ordered[-1], "n": 5}
    assert spread([2.0, 4.0]) == {"min": 2.0, "median": 3.0, "max": 4.0, "n": 2}
    assert format_spread(values, ".3f") == "0.912 / 0.987 / 1.104"
    table = markdown_table(["method", "ratio"], [["sciml", format_spread(values, ".2f")], ["bare", "1.00"]])
    assert table.splitlines() == [
        "| method | ratio |",
        "|---|---|",
        "| sciml | 0.91 / 0.99 / 1.10 |",
        "| bare | 1.00 |",
    ]
    with pytest.raises(ValueError, match="no values"):
        spread([])


def test_no_cell_starts_once_the_budget_is_spent(tmp_path):
    seen = []
    cells = [Cell((i,), seen.append, (i,)) for i in range(3)]
    report = run_cells(cells, SerialExecutor(), _results(tmp_path), budget_s=0)
    assert seen == [] and report.not_started == [(0,), (1,), (2,)] and report.finished == []
    report = run_cells(cells, SerialExecutor(), _results(tmp_path), budget_s=3600)
    assert seen == [0, 1, 2] and report.not_started == []
