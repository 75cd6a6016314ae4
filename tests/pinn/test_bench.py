"""The PINN benchmarks in their tiny presets: rows, targets, resume by row; DeepXDE's PINN equals ours
from the same weights and points (when deepxde is installed), and its absence is a stated skip."""

from __future__ import annotations

import json

import pytest
import torch

from sciml.bench import pinn_convection, pinn_deepxde
from sciml.cli import main


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_pinn_convection_tiny_writes_rows_and_targets_and_resumes_them(tmp_path, capsys, one_thread):
    out = tmp_path / "results"
    argv = ["bench", "pinn_convection", "--preset", "tiny", "--methods", "vanilla,lpinn", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    payload = json.loads((out / "pinn_convection.json").read_text())
    keys = [(r["case"], r["method"]) for r in payload["rows"]]
    assert keys == [("beta1", "vanilla"), ("beta1", "lpinn"), ("burgers", "vanilla"), ("burgers", "lpinn")]
    assert payload["complete"] and not payload["missing"]
    for r in payload["rows"]:
        assert 0 < r["relative_l2"] < 10 and r["train_seconds"] > 0
    names = [t["name"] for t in payload["targets"]]
    assert any(n.startswith("lpinn_max_relative_l2_at_beta_up_to_50") for n in names)
    assert (out / "pinn_convection_error.png").stat().st_size > 5_000
    # resumed: every row is kept as it was, nothing is trained again
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    again = json.loads((out / "pinn_convection.json").read_text())
    assert again["rows"] == payload["rows"]
    assert "relative L2" not in capsys.readouterr().out.split("| beta |")[0]  # no run printed a row


def test_curriculum_walks_the_smaller_betas_over_half_the_adam_steps():
    spec = pinn_convection.curriculum_for(30.0, 1000)
    assert spec == {"param": "beta", "values": [1.0, 10.0, 20.0, 30.0], "steps": [0, 167, 333, 500]}
    assert pinn_convection.curriculum_for(1.0, 1000) is None


def test_targets_restate_the_issue_with_the_measured_values():
    rows = [
        {"case": "beta30", "method": "vanilla", "beta": 30.0, "relative_l2": 0.9, "train_seconds": 10},
        {"case": "beta30", "method": "causal", "beta": 30.0, "relative_l2": 0.5, "train_seconds": 10},
        {"case": "beta30", "method": "lpinn", "beta": 30.0, "relative_l2": 0.02, "train_seconds": 700},
    ]
    by = {t["name"].split(" (")[0]: t for t in pinn_convection.targets(rows)}
    assert by["vanilla_min_relative_l2_at_beta_30_and_up"]["met"]
    assert by["lpinn_max_relative_l2_at_beta_up_to_50"]["measured"] == 0.02
    assert not by["lpinn_max_relative_l2_at_beta_up_to_50"]["met"]
    assert by["lpinn_over_best_of_curriculum_causal_at_beta_30_and_up"]["measured"] == pytest.approx(0.04)
    assert not by["max_train_seconds_per_run"]["met"]


def test_pinn_deepxde_without_deepxde_writes_the_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pinn_deepxde, "deepxde_missing", lambda: "deepxde is not installed (test)")
    assert main(["bench", "pinn_deepxde", "--preset", "tiny", "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "pinn_deepxde.json").read_text())
    assert payload["skipped"] == "deepxde is not installed (test)" and payload["rows"] == []


@pytest.mark.slow
def test_deepxde_trains_the_same_pinn_as_ours_from_the_same_weights_and_points(one_thread):
    if pinn_deepxde.deepxde_missing() is not None:
        pytest.skip(pinn_deepxde.deepxde_missing())
    ours, theirs = pinn_deepxde.run_pair("burgers", 0, "tiny")
    assert theirs["points"] == {"residual": 112, "boundary": 32, "initial": 16}
    # the same loss from the same start: 20 float32 Adam steps apart only by summation order
    assert ours["relative_l2"] == pytest.approx(theirs["relative_l2"], rel=1e-3)
