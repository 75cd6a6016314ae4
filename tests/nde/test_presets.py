"""The three experiments of the NDE regularization benchmark through the real CLI: data, train, test, resume, eval.

Each test generates a small file with ``sciml data generate``, trains the packaged preset with
dotted overrides (fewer samples and epochs) and checks numbers an untrained or broken run
would miss. The full presets' numbers are in docs/nde.md.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from sciml.cli import main


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _train(capsys, preset, data, run, *overrides):
    out = _run(capsys, "train", preset, f"data.path={data}", f"train.run_dir={run}", "train.progress=false", *overrides)
    return json.loads(out[: out.rindex("}") + 1])


def _history(run):
    return json.loads((run / "metrics.json").read_text())["history"]


def test_node_digits_preset(tmp_path, capsys):
    data, run = tmp_path / "digits.h5", tmp_path / "run"
    _run(capsys, "data", "generate", "digits", "--n", 1000, "--out", data)
    test = _train(capsys, "node_digits", data, run, "train.epochs=3", "train.batch_size=16")
    saved = json.loads((run / "config.json").read_text())["model"]["kwargs"]
    assert saved["in_features"] == 64 and saved["n_classes"] == 10  # sizes from the file
    # 100 test images after 3 epochs of batches of 16 on 800 (measured 0.87, test NFE 44; chance is 0.1)
    assert test["test_accuracy"] > 0.8
    assert test["test_nfe"] >= 14 and all(row["train_nfe"] >= 14 for row in _history(run))
    assert {"last.pt", "best.pt", "metrics.csv", "test_metrics.json"} <= {p.name for p in run.iterdir()}
    # resume from last.pt: one more epoch continues the history
    _train(capsys, "node_digits", data, run, "train.epochs=4", "train.batch_size=16", "--resume")
    assert [row["epoch"] for row in _history(run)] == [1, 2, 3, 4]
    again = json.loads(_run(capsys, "eval", run))
    assert 0.8 < again["test_accuracy"] <= 1.0 and again["test_nfe"] > 0


def test_node_oscillators_preset(tmp_path, capsys):
    data, run = tmp_path / "oscillators.h5", tmp_path / "run"
    # a shorter window than the preset's (t in [0, 2], 8 observations each) fits in a few epochs
    _run(capsys, "data", "generate", "oscillators", "--n", 160, "--out", data, "t_final=2.0", "n_times=8")
    with h5py.File(data, "r") as f:
        assert f["t"].ndim == 2  # irregular, per-trajectory times
        variance = float(f["x"][()].var())
    test = _train(capsys, "node_oscillators", data, run, "train.epochs=8", "train.batch_size=16")
    history = _history(run)
    # 16 held-out noisy trajectories: measured MSE 0.093 for a data variance of 0.50
    assert test["test_task_loss"] < 0.35 * variance
    assert history[-1]["train_task_loss"] < 0.5 * history[0]["train_task_loss"]
    assert test["test_nfe"] > 0 and history[-1]["train_nfe"] > 0 and history[-1]["train_reg"] > 0
    assert json.loads((run / "config.json").read_text())["model"]["kwargs"]["dim"] == 2


def test_nsde_spiral_preset(tmp_path, capsys):
    data, run = tmp_path / "spiral.h5", tmp_path / "run"
    _run(capsys, "data", "generate", "spiral_sde", "--n", 640, "--out", data, "dt=0.004")
    test = _train(capsys, "nsde_spiral", data, run, "train.epochs=8")
    history = _history(run)
    losses = [row["train_task_loss"] for row in history]
    # 16 Adam steps on the moments of 256-path batches (measured 1.15 -> 0.16)
    assert losses[-1] < losses[0] / 3
    assert history[-1]["train_reg"] > 0 and all(row["train_nfe"] > 0 for row in history)
    assert test["test_nfe"] > 0 and np.isfinite(test["test_loss"])
    # the test moments are reproduced from the checkpoint alone (evaluation draws a fixed Brownian seed)
    assert json.loads(_run(capsys, "eval", run))["test_loss"] == pytest.approx(test["test_loss"], rel=1e-6)


def test_model_sizes_that_disagree_with_the_data_are_one_line_errors(tmp_path, capsys):
    data = tmp_path / "digits.h5"
    _run(capsys, "data", "generate", "digits", "--n", 50, "--out", data)
    base = ["train", "node_digits", f"data.path={data}", f"train.run_dir={tmp_path / 'run'}"]
    for override, message in [
        (
            "model.kwargs.n_classes=7",
            "model 'node_classifier' has n_classes=7 but the data has 10 classes; set model.kwargs.n_classes=10",
        ),
        ("model.kwargs.in_features=10", "has in_features=10 but the samples have 64 features"),
        ("train.metrics=[relative_l2]", r"compare predictions with same-shaped targets, but .* holds class labels"),
    ]:
        code = main([*base, override])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and __import__("re").search(message, err), err
    assert not (tmp_path / "run" / "last.pt").exists()
