"""Optimizer phases and step budgets from a config file, through ``sciml train``."""

from __future__ import annotations

import json

import pytest

from sciml.cli import main


def _config(tmp_path, heat_file, phases: str, extra: str = "") -> tuple:
    run = tmp_path / "run"
    config = tmp_path / "phases.yaml"
    config.write_text(
        f"data: {{path: {heat_file}, kind: fields}}\n"
        "model: {name: fno, kwargs: {n_modes: [4], hidden_channels: 8, n_layers: 2}}\n"
        f"train: {{run_dir: {run}, batch_size: 16, eval_every: 3, phases: {phases}{extra}}}\n"
    )
    return config, run


def test_adam_then_lbfgs_from_a_config(tmp_path, capsys, heat_file):
    phases = ("[{optimizer: {name: adam, kwargs: {lr: 0.01}}, steps: 24}, "
              "{optimizer: {name: lbfgs, kwargs: {max_iter: 10}}, steps: 3}]")
    config, run = _config(tmp_path, heat_file, phases)
    code = main(["train", str(config)])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads((run / "metrics.json").read_text())["history"]
    assert [(r["step"], r["phase"]) for r in rows] == [(3 * k, 0) for k in range(1, 9)] + [(27, 1)]
    assert rows[0]["lr"] == pytest.approx(0.01) and rows[-1]["lr"] == 1.0  # lbfgs's default lr is 1
    assert rows[-1]["val_loss"] < 0.5 * rows[0]["val_loss"]  # L-BFGS kept improving on Adam
    assert json.loads((run / "config.json").read_text())["train"]["phases"][1]["optimizer"]["name"] == "lbfgs"


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        ("[{optimizer: {name: adam}, steps: 2}, {optimizer: {name: lbgfs}, steps: 2}]",
         "train.phases[1].optimizer.name: unknown optimizer 'lbgfs' (did you mean 'lbfgs'?)"),
        ("[{optimizer: {name: adam}, steps: 0}]", "train.phases[0].steps must be a positive number of optimizer steps, got 0"),
        ("[{optimizer: {name: adam}, stepz: 3}]", "unknown config field 'train.phases[0].stepz'"),
    ],
)
def test_bad_phases_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, heat_file, phases, message):
    config, run = _config(tmp_path, heat_file, phases)
    code = main(["train", str(config)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err
    assert not run.exists()
