"""The plots of the dynamics and samples tasks draw the model's own predictions, and the CLI writes them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sciml.cli import main
from sciml.core.config import config_from_dict
from sciml.core.registry import OBJECTIVES
from sciml.data import Provenance, SampleDataset, TrajectoriesWriter, TrajectoryDataset, write_samples
from sciml.experiment import build_task

HISTORY = [
    {
        "epoch": 1,
        "step": 4,
        "train_loss": 1.0,
        "val_loss": 1.2,
        "train_nfe": 20.0,
        "val_nfe": 26.0,
        "train_accuracy": 0.4,
        "val_accuracy": 0.5,
    },
    {
        "epoch": 2,
        "step": 8,
        "train_loss": 0.5,
        "val_loss": 0.7,
        "train_nfe": 32.0,
        "val_nfe": 38.0,
        "train_accuracy": 0.7,
        "val_accuracy": 0.8,
    },
]


def _task(data_path, kind, model, objective="node_regression", **objective_kwargs):
    cfg = config_from_dict(
        {
            "data": {"path": str(data_path), "kind": kind},
            "model": model,
            "objective": {"name": objective, "kwargs": objective_kwargs},
            "train": {"eval_batch_size": 7, "metrics": []},
        }
    )
    return build_task(cfg)


def _predictor(task, data):
    torch.manual_seed(0)
    objective = OBJECTIVES.get(task.cfg.objective.name)(**task.cfg.objective.kwargs)
    model = task.build_model({"train": data}, objective, fit=True).eval()

    def predictor(batch):
        with torch.no_grad():
            return objective.predict(model, batch)

    return predictor


@pytest.fixture
def named_trajectories(tmp_path):
    """Damped oscillations (position, velocity) with units and component names in the file."""
    t = np.linspace(0.0, 4.0, 21)
    phases = np.linspace(0.0, 2.0, 10)
    x = np.stack(
        [np.stack([np.exp(-0.2 * t) * np.cos(2 * t + p), -np.exp(-0.2 * t) * np.sin(2 * t + p)], -1) for p in phases]
    )
    path = tmp_path / "named.h5"
    w = TrajectoriesWriter(path, len(x), x.shape[1:], t, Provenance("test:damped"), system="damped")
    w.write(x)
    w.close(extra_attrs={"time_units": "s", "component_names": json.dumps(["position", "velocity"])})
    return path


def test_dynamics_figures_draw_the_models_prediction_with_the_files_names(named_trajectories):
    task = _task(named_trajectories, "trajectories", {"name": "neural_ode", "kwargs": {"hidden": 8, "rtol": 1e-4}})
    data = TrajectoryDataset(named_trajectories, "test", fractions=(0.5, 0.2, 0.3))
    predictor = _predictor(task, data)
    figures = task.figures(predictor, data, HISTORY)
    assert list(figures) == ["loss", "nfe", "accuracy", "trajectories", "phase"]
    n = min(3, len(data.samples))
    batch = torch.utils.data.default_collate([data[k] for k in range(n)])
    expected = predictor(batch).numpy()
    axes = np.array(figures["trajectories"].axes).reshape(2, n)  # rows: components, columns: trajectories
    for j in range(n):
        assert axes[0, j].get_title() == f"test trajectory {int(data.samples[j])}"
        for d, name in enumerate(["position", "velocity"]):
            truth, pred = axes[d, j].get_lines()
            np.testing.assert_allclose(pred.get_ydata(), expected[j, :, d])
            np.testing.assert_allclose(pred.get_xdata(), data.times, rtol=1e-6)
            np.testing.assert_allclose(truth.get_ydata(), batch["x"][j, :, d].numpy())
            assert axes[d, j].get_ylabel() == name
    assert axes[1, 0].get_xlabel() == "t [s]"
    phase = figures["phase"].axes[0]
    assert (phase.get_xlabel(), phase.get_ylabel()) == ("position", "velocity")
    np.testing.assert_allclose(phase.get_lines()[1].get_xydata(), expected[0])  # trajectory 0's prediction
    nfe = figures["nfe"].axes[0]
    assert [line.get_label() for line in nfe.get_lines()] == ["train_nfe", "val_nfe"]
    np.testing.assert_array_equal(nfe.get_lines()[1].get_ydata(), [26.0, 38.0])
    assert nfe.get_ylabel() == "function evaluations per solve" and nfe.get_xlabel() == "epoch"


def test_moment_matching_figures_show_mean_and_std_of_model_and_data(trajectory_file):
    task = _task(
        trajectory_file,
        "trajectories",
        {"name": "neural_sde", "kwargs": {"hidden": 8, "dt": 0.25}},
        objective="sde_moment_matching",
        paths=16,
    )
    data = TrajectoryDataset(trajectory_file, None)  # all 6 paths, 101 times
    predictor = _predictor(task, data)
    figures = task.figures(predictor, data, [])
    assert list(figures) == ["moments"]
    x = torch.stack([data[i]["x"] for i in range(len(data))])
    rows = torch.arange(256) % len(data)  # the initial states, repeated to 256 simulated paths
    simulated = predictor({"x": x[rows], "t": torch.stack([data[i]["t"] for i in range(len(data))])[rows]}).numpy()
    for d, ax in enumerate(figures["moments"].axes):
        data_mean, model_mean = ax.get_lines()
        np.testing.assert_allclose(data_mean.get_ydata(), x[..., d].mean(0).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model_mean.get_ydata(), simulated[..., d].mean(0), rtol=1e-5, atol=1e-6)
        assert simulated[..., d].std(0).max() > 0  # the model's band has a width
        assert ax.get_xlabel() == "t" and ax.get_ylabel()
    assert "model (256 paths)" in model_mean.get_label()


def test_classification_confusion_matrix_counts_the_models_predictions(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=60)
    x = (rng.normal(size=(60, 4)) + labels[:, None]).astype(np.float32)
    path = tmp_path / "samples.h5"
    write_samples(path, x, labels, Provenance("test:blobs"), classes=3, class_names=["low", "mid", "high"])
    task = _task(
        path,
        "samples",
        {"name": "node_classifier", "kwargs": {"hidden": 8, "rtol": 1e-3}},
        objective="node_classification",
    )
    data = SampleDataset(path, "test")
    predictor = _predictor(task, data)
    figures = task.figures(predictor, data, HISTORY)
    assert list(figures) == ["loss", "nfe", "accuracy", "confusion"]
    expected = np.zeros((3, 3), dtype=int)
    for i in range(len(data)):
        item = data[i]
        expected[int(item["y"]), int(predictor({"x": item["x"][None]}).argmax())] += 1
    ax = figures["confusion"].axes[0]
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), expected)
    assert expected.sum() == len(data) == 6
    assert [t.get_text() for t in ax.get_yticklabels()] == ["low", "mid", "high"]
    assert "test split" in ax.get_title()
    accuracy = figures["accuracy"].axes[0]
    np.testing.assert_array_equal(accuracy.get_lines()[1].get_ydata(), [0.5, 0.8])
    assert accuracy.get_ylim() == (0.0, 1.02) and accuracy.get_ylabel() == "accuracy"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


PNGS = {"loss.png", "nfe.png", "trajectories.png", "phase.png"}


def test_train_and_eval_write_the_trajectory_plots(tmp_path, capsys, trajectory_file):
    run = tmp_path / "run"
    _run(
        capsys,
        "train",
        "node_oscillators",
        f"data.path={trajectory_file}",
        f"train.run_dir={run}",
        "train.progress=false",
        "train.epochs=1",
        "train.batch_size=2",
        "data.fractions=[0.5,0.17,0.33]",
        "model.kwargs.hidden=8",
        "model.kwargs.rtol=1e-3",
        "model.kwargs.atol=1e-4",
    )
    assert PNGS <= {p.name for p in run.iterdir()}
    for name in PNGS:
        (run / name).unlink()
    _run(capsys, "eval", run)
    assert all((run / name).read_bytes()[:4] == b"\x89PNG" for name in PNGS)
