"""The Trainer against exact answers: least squares, samplers, closures, divergence, exact resume."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from sciml.core import AbstractObjective, relative_l2
from sciml.core.errors import ConfigError, TrainingDivergedError
from sciml.data import FieldDataset
from sciml.training import EarlyStopping, Trainer, load_checkpoint, seed_everything


class MSE(AbstractObjective):
    def __call__(self, model, batch):
        pred = model(batch["x"])
        return {"loss": ((pred - batch["y"]) ** 2).mean(), "abs_error": (pred - batch["y"]).abs().mean()}


def _linear_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    w_true = torch.tensor([[1.5, -2.0, 0.5]], dtype=torch.float64)
    y = x @ w_true.T + 0.3 + 0.01 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    return x, y


def test_lbfgs_closure_reaches_least_squares_solution():
    x, y = _linear_data()
    model = nn.Linear(3, 1).double()
    trainer = Trainer(model, MSE(), optimizer="lbfgs", lr=1.0, optimizer_kwargs={"max_iter": 100, "line_search_fn": "strong_wolfe", "tolerance_grad": 1e-14, "tolerance_change": 1e-16}, max_epochs=3)
    history = trainer.fit([{"x": x, "y": y}])
    design = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
    exact = torch.linalg.lstsq(design, y).solution.ravel()
    fitted = torch.cat([model.weight.ravel(), model.bias])
    assert torch.allclose(fitted, exact, atol=1e-8)
    assert "train_abs_error" in history[-1] and history[-1]["train_loss"] < 1.2e-4


def test_callable_sampler_draws_fresh_batches_each_step():
    # y = sin(x) on fresh uniform samples every step (the PINN pattern): no fixed dataset
    def sample(step):
        g = torch.Generator().manual_seed(step)
        x = torch.rand(128, 1, generator=g) * 2 - 1
        return {"x": x, "y": 3 * x - 1}

    seed_everything(0)
    model = nn.Linear(1, 1)
    trainer = Trainer(model, MSE(), optimizer="adam", lr=0.05, max_epochs=20, steps_per_epoch=20)
    trainer.fit(sample)
    assert trainer.global_step == 400
    assert abs(model.weight.item() - 3) < 1e-3 and abs(model.bias.item() + 1) < 1e-3
    with pytest.raises(ConfigError, match="steps_per_epoch"):
        Trainer(nn.Linear(1, 1), MSE()).fit(sample)


def test_evaluate_matches_manual_metrics(heat_file):
    seed_everything(0)
    ds = FieldDataset(heat_file, "test")
    model = nn.Conv1d(1, 1, 3, padding=1)
    trainer = Trainer(model, batch_size=4, eval_batch_size=3)
    metrics = trainer.evaluate(ds, metrics=["relative_l2", "mse"])
    x = torch.stack([ds[i]["x"] for i in range(len(ds))])
    y = torch.stack([ds[i]["y"] for i in range(len(ds))])
    with torch.no_grad():
        pred = model(x)
    assert metrics["relative_l2"] == pytest.approx(relative_l2(pred, y).mean().item(), rel=1e-6)
    assert metrics["mse"] == pytest.approx(((pred - y) ** 2).mean().item(), rel=1e-5)


def test_divergence_stops_with_clear_message_and_keeps_last_checkpoint(tmp_path):
    x, y = _linear_data()
    seed_everything(0)
    model = nn.Linear(3, 1).double()
    batches = [{"x": x[i : i + 32], "y": y[i : i + 32]} for i in range(0, 256, 32)]

    class Explode(AbstractObjective):
        def __call__(self, model, batch):
            loss = ((model(batch["x"]) - batch["y"]) ** 2).mean()
            return {"loss": loss * float("nan") if trainer.epoch >= 2 else loss}

    trainer = Trainer(model, Explode(), optimizer="sgd", lr=0.01, max_epochs=5, run_dir=tmp_path)
    with pytest.raises(TrainingDivergedError, match=r"loss became nan at epoch 3, step 17: lower the learning rate.*the good checkpoint is .*best\.pt: resume from it \(sciml train CONFIG --resume best\)") as info:
        trainer.fit(batches)
    assert "\n" not in str(info.value)
    blob = load_checkpoint(tmp_path / "last.pt")
    assert blob["meta"]["epoch"] == 2  # two finished epochs: the rows 1 and 2 of metrics.csv; epoch 3 diverged
    assert all(torch.isfinite(v).all() for v in blob["model"].values())
    assert load_checkpoint(tmp_path / "best.pt")["meta"]["epoch"] == 2


def test_early_stopping_and_self_describing_checkpoint(tmp_path, heat_file):
    seed_everything(0)
    ds = FieldDataset(heat_file, "train")
    model = nn.Conv1d(1, 1, 3, padding=1)
    trainer = Trainer(
        model, optimizer="sgd", lr=0.0, max_epochs=50, batch_size=16, run_dir=tmp_path,
        callbacks=[EarlyStopping(patience=2)], config={"model": {"name": "conv"}}, data_sha256=ds.content_sha256, seed=7,
    )
    history = trainer.fit(ds, FieldDataset(heat_file, "val"))
    assert len(history) == 3  # lr=0: val_loss never improves after epoch 1; patience 2
    assert history[0]["val_loss"] == history[2]["val_loss"]
    meta = load_checkpoint(tmp_path / "last.pt")["meta"]
    assert meta["config"] == {"model": {"name": "conv"}}
    assert meta["seed"] == 7 and meta["data_sha256"] == ds.content_sha256
    assert meta["environment"]["torch"] == torch.__version__ and meta["environment"]["sciml"] == "0.1.0"
    rows = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0].startswith("epoch,step,train_loss")


_RESUME_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from torch import nn
    from sciml.data import FieldDataset
    from sciml.training import Callback, Trainer, seed_everything

    data, run_dir, kill_after, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

    class KillAfter(Callback):
        def on_epoch_start(self, trainer, epoch):
            if kill_after and epoch == kill_after:  # after epoch `kill_after`'s checkpoint
                os.kill(os.getpid(), signal.SIGKILL)  # a hard kill: nothing after this runs

    torch.set_num_threads(1)
    seed_everything(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(32, 64), nn.GELU(), nn.Dropout(0.2), nn.Linear(64, 32), nn.Unflatten(1, (1, 32)))
    trainer = Trainer(model, max_epochs=6, batch_size=8, optimizer="adamw", lr=3e-3, scheduler="cosine",
                      run_dir=run_dir, seed=3, callbacks=[KillAfter()] if kill_after else [])
    trainer.fit(FieldDataset(data, "train"), FieldDataset(data, "val"), resume=True)
    torch.save({k: v for k, v in model.state_dict().items()}, out)
    """
)


def test_resume_after_kill_is_bitwise_exact(tmp_path, heat_file):
    script = tmp_path / "train.py"
    script.write_text(_RESUME_SCRIPT)

    def run(run_dir, kill_after, out):
        return subprocess.run(
            [sys.executable, str(script), str(heat_file), str(run_dir), str(kill_after), str(out)],
            capture_output=True, text=True, timeout=120, env={"OMP_NUM_THREADS": "1", "PATH": ""},
        )

    full = run(tmp_path / "full", 0, tmp_path / "full.pt")
    assert full.returncode == 0, full.stderr
    killed = run(tmp_path / "resumed", 3, tmp_path / "never.pt")
    assert killed.returncode == -9  # SIGKILL
    assert not (tmp_path / "never.pt").exists()
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["meta"]["epoch"] == 3
    resumed = run(tmp_path / "resumed", 0, tmp_path / "resumed.pt")
    assert resumed.returncode == 0, resumed.stderr
    a, b = torch.load(tmp_path / "full.pt"), torch.load(tmp_path / "resumed.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    ha = json.loads((tmp_path / "full" / "metrics.json").read_text())["history"]
    hb = json.loads((tmp_path / "resumed" / "metrics.json").read_text())["history"]
    assert [r["train_loss"] for r in ha] == [r["train_loss"] for r in hb]
    assert not np.allclose(ha[0]["train_loss"], ha[-1]["train_loss"])  # it did train
