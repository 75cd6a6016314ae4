"""examples/node_regularization.py runs in a tiny configuration and writes its table, JSON and PNG."""

from __future__ import annotations

import json
import runpy
import sys


def test_node_regularization_example_tiny(tmp_path, monkeypatch, capsys):
    out = tmp_path / "nde"
    argv = [
        "node_regularization.py",
        "--steps",
        "25",
        "--n",
        "64",
        "--timing-repeats",
        "1",
        "--out",
        str(out),
        "--methods",
        "vanilla,global_error,local_error",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path("examples/node_regularization.py", run_name="__main__")
    printed = capsys.readouterr().out
    assert "| method | test acc | test CE | train s | test NFE | predict ms |" in printed
    assert (out / "nfe_vs_step.png").stat().st_size > 10_000
    summary = json.loads((out / "node_regularization.json").read_text())
    rows = {row["method"]: row for row in summary["rows"]}
    assert list(rows) == ["vanilla", "global_error", "local_error"]
    for name, row in rows.items():
        assert f"| {name} |" in printed
        assert len(summary["train_nfe"][name]) == 25
        # dopri5 in the sciml backend: f(t0) + the heuristic's probe + 6 per step, no rejections here
        assert all((nfe - 2) % 6 == 0 and nfe >= 14 for nfe in summary["train_nfe"][name])
        assert row["train_seconds"] > 0 and row["prediction_seconds"] > 0
    # measured at 25 steps: vanilla 26 -> 68 NFE and accuracy 1.0; global error stays at 26..38
    assert rows["vanilla"]["test_accuracy"] > 0.9
    assert rows["global_error"]["test_nfe"] < rows["vanilla"]["test_nfe"]
    assert sum(summary["train_nfe"]["global_error"]) < sum(summary["train_nfe"]["vanilla"])
    assert summary["train_nfe"]["vanilla"][-1] > summary["train_nfe"]["vanilla"][0]  # vanilla dynamics stiffen
