"""The pinn task through the CLI: a packaged preset trains without a data file, eval reproduces it, plots exist."""

from __future__ import annotations

import json

import pytest
import torch

from sciml.cli import main
from sciml.core.registry import MODELS, OBJECTIVES, TASKS


def test_pinn_names_are_registered():
    assert "pinn" in TASKS.names() and {"pinn", "lpinn"} <= set(OBJECTIVES.names())
    assert {"pinn_mlp", "lpinn"} <= set(MODELS.names())


@pytest.mark.slow
def test_convection_lpinn_preset_trains_evaluates_and_plots(tmp_path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = tmp_path / "run"
        code = main(
            [
                "train",
                "convection_lpinn",
                f"train.run_dir={run}",
                "train.epochs=2",
                "pinn.params.beta=5.0",
                "model.kwargs.velocity_scale=5.0",
                "pinn.eval_nx=64",
                "pinn.eval_nt=21",
            ]
        )
        out, err = capsys.readouterr()
        assert code == 0, err
        test = json.loads((run / "test_metrics.json").read_text())
        # 200 steps at beta = 5; predicting zero scores relative L2 1
        assert test["test_relative_l2"] < 0.2, test
        for png in ("solution.png", "characteristics.png", "loss_terms.png"):
            assert (run / png).stat().st_size > 10_000, png
        code = main(["eval", str(run), "--out", str(tmp_path / "eval")])
        out, err = capsys.readouterr()
        assert code == 0, err
        again = json.loads((tmp_path / "eval" / "eval_test_metrics.json").read_text())
        # the same weights on the same grid in this process
        assert again["test_relative_l2"] == pytest.approx(test["test_relative_l2"], rel=1e-5)
    finally:
        torch.set_num_threads(threads)


def test_bad_pinn_config_exits_2_with_one_line(tmp_path, capsys):
    code = main(["train", "convection_pinn", f"train.run_dir={tmp_path / 'r'}", "pinn.problem=wave"])
    err = capsys.readouterr().err
    assert code == 2 and "wave" in err and "convection" in err and len(err.strip().splitlines()) == 1
    code = main(["train", "convection_pinn", f"train.run_dir={tmp_path / 'r2'}", "pinn.params.gamma=1"])
    err = capsys.readouterr().err
    assert code == 2 and "gamma" in err
