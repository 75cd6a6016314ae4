"""``sciml bench chaos``: a small sweep, resume of a killed sweep, Dask = process pool, bad input."""

import csv
import json

import numpy as np
import pytest

from sciml.bench import chaos as bench
from sciml.bench import make_executor, run_benchmark
from sciml.cli import main as cli_main
from sciml.core.errors import ConfigError, UnknownNameError

SYSTEMS = ["Lorenz", "Rossler", "Thomas", "Halvorsen", "SprottB"]
MODELS = ["persistence", "climatology", "ar", "nvar"]
EPS = np.finfo(np.float64).eps


def _cells(out):
    return [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]


def test_a_small_sweep_writes_cells_leaderboard_and_plots(tmp_path):
    payload = bench.run("quick", tmp_path, "serial", systems=",".join(SYSTEMS), models=",".join(MODELS))
    cells = _cells(tmp_path)
    assert sorted((c["system"], c["model"]) for c in cells) == sorted((s, m) for s in SYSTEMS for m in MODELS)
    assert payload["failed"] == [] and payload["complete"] is True
    assert json.loads((tmp_path / "chaos.json").read_text())["cells"] == cells
    board = {r["model"]: r for r in payload["rows"]}
    for m in MODELS:  # the leaderboard's medians and quartiles are those of the cells
        vpt = [c["vpt_smape"] for c in cells if c["model"] == m]
        assert board[m]["vpt_smape_median"] == pytest.approx(np.median(vpt), rel=4 * EPS, abs=4 * EPS)
        assert board[m]["vpt_smape_q1"] == pytest.approx(np.quantile(vpt, 0.25), rel=4 * EPS, abs=4 * EPS)
    # NVAR forecasts well past persistence on these flows
    assert board["nvar"]["vpt_smape_median"] > 5 * board["persistence"]["vpt_smape_median"]
    with open(tmp_path / "leaderboard.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["model"] for r in rows] == [r["model"] for r in payload["rows"]]
    text = (tmp_path / "leaderboard.md").read_text()
    assert text.startswith("| model | cells | VPT sMAPE (LT)") and all(f"| {m} |" in text for m in MODELS)
    for png in ("chaos_vpt", "chaos_vpt_lyapunov", "chaos_forecast", "chaos_attractor"):
        assert (tmp_path / f"{png}.png").stat().st_size > 1000


def test_a_killed_sweep_resumes_without_recomputing_finished_cells(tmp_path, monkeypatch):
    calls = []
    real = bench.run_cell

    def counting(system, model, seed, *args, **kwargs):
        calls.append((system, model))
        if len(calls) == 3 and kill[0]:
            raise KeyboardInterrupt  # the sweep is killed while its third cell runs
        return real(system, model, seed, *args, **kwargs)

    kill = [True]
    monkeypatch.setattr(bench, "run_cell", counting)
    opts = dict(systems="Lorenz,Rossler", models="persistence,nvar", plots=False)
    with pytest.raises(KeyboardInterrupt):
        bench.run("quick", tmp_path, "serial", **opts)
    first = _cells(tmp_path)
    assert [(c["system"], c["model"]) for c in first] == [("Lorenz", "persistence"), ("Lorenz", "nvar")]
    calls.clear()
    kill[0] = False
    payload = bench.run("quick", tmp_path, "serial", resume=True, **opts)
    assert calls == [("Rossler", "persistence"), ("Rossler", "nvar")]  # only the missing cells ran
    assert payload["cells"][:2] == first and len(payload["cells"]) == 4


def test_a_dask_cluster_gives_the_rows_of_the_process_pool(tmp_path):
    opts = dict(systems="Lorenz,Thomas", models="persistence,ar", plots=False)  # 4 cells, 2 per worker
    rows = {}
    for spec, options in (("process:2", {}), ("dask:2", {"processes": False})):
        with make_executor(spec, **options) as executor:
            rows[spec] = bench.run("quick", tmp_path / spec.replace(":", "_"), executor, **opts)["cells"]
    process, dask = rows["process:2"], rows["dask:2"]
    assert [(r["system"], r["model"]) for r in process] == [(r["system"], r["model"]) for r in dask]
    skip = {"fit_cpu_seconds", "forecast_cpu_seconds"}
    for p, d in zip(process, dask):
        assert set(p) == set(d)
        for key, value in p.items():
            if key in skip:
                continue
            if isinstance(value, float):  # the same float64 arithmetic in another process: equal to rounding
                assert d[key] == pytest.approx(value, rel=64 * EPS, abs=64 * EPS), key
            else:
                assert d[key] == value, key


def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys):
    with pytest.raises(UnknownNameError, match="did you mean 'Lorenz'"):
        bench.run("quick", tmp_path, "serial", systems="Lorentz")
    with pytest.raises(UnknownNameError, match="did you mean 'nvar'"):
        bench.run("quick", tmp_path, "serial", models="nvra")
    bench.run("quick", tmp_path, "serial", systems="Lorenz", models="persistence", plots=False)
    with pytest.raises(ConfigError, match='was written with other settings .setting: "rich" there') as info:
        bench.run("quick", tmp_path, "serial", systems="Lorenz", models="persistence", setting="limited", resume=True)
    assert "\n" not in str(info.value)
    kept = _cells(tmp_path)
    code = cli_main(["bench", "chaos", "--systems", "Lorenz", "--models", "persistence", "--setting", "limited",
                     "--out", str(tmp_path), "--executor", "serial"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "other settings" in err and len(err.strip().splitlines()) == 1
    assert _cells(tmp_path) == kept  # finished cells kept
    with pytest.raises(ConfigError, match="executor spec 'proces:2'"):
        run_benchmark("chaos", ["--executor", "proces:2", "--out", str(tmp_path)])


def test_a_cell_over_its_time_limit_is_recorded_and_the_sweep_goes_on(tmp_path):
    # 1 ms is far below one cell's cost (integrating the system alone takes tenths of a second)
    payload = bench.run("quick", tmp_path, "serial", systems="Lorenz", models="persistence,ar", time_limit=0.001,
                        plots=False)  # fmt: skip
    assert payload["cells"] == [] and payload["complete"] is False
    assert [(f["system"], f["model"]) for f in payload["failed"]] == [("Lorenz", "persistence"), ("Lorenz", "ar")]
    assert all(f["error"].startswith("CellTimeoutError: time limit of 0.001 s") for f in payload["failed"])
    assert {r["model"]: r["failed"] for r in payload["rows"]} == {"persistence": 1, "ar": 1}
