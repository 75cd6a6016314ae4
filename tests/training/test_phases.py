"""Trainer for PINN-style and sequence objectives: phases, step budgets, objective state, closures, averaging.

Exact resume is asserted bitwise only between runs on this machine (the same kernels): a
killed and resumed run against the uninterrupted one, or two Trainers in one process.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from sciml.core import AbstractObjective, Supervised, relative_l2
from sciml.core.errors import ConfigError, TrainingDivergedError
from sciml.training import Callback, EarlyStopping, Trainer, load_checkpoint

EPS32 = torch.finfo(torch.float32).eps


class DictData(torch.utils.data.Dataset):
    """``{"x", "y"}`` items of y = sin(x w) + noise, deterministic."""

    def __init__(self, n: int = 24, d: int = 3, seed: int = 0, dtype=torch.float64):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, d, generator=g, dtype=dtype)
        self.y = torch.sin(self.x @ torch.tensor([[1.0], [-0.5], [0.25]], dtype=dtype)[:d])

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i]}


class MSE(AbstractObjective):
    def __call__(self, model, batch):
        return {"loss": ((model(batch["x"]) - batch["y"]) ** 2).mean()}


class Interrupt(Exception):
    pass


class StopAfterPeriod(Callback):
    """Raise after the period's callbacks before it (the checkpoint) ran: an in-process kill."""

    def __init__(self, period: int):
        self.period = period

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch + 1 == self.period:
            raise Interrupt


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1)).double()


# ---------------------------------------------------------------- Adam -> L-BFGS, killed at the boundary

_PHASES_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    import torch
    from torch import nn
    from sciml.core import AbstractObjective
    from sciml.training import Callback, Trainer, seed_everything

    run_dir, kill_at, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    class Data(torch.utils.data.Dataset):
        def __init__(self):
            g = torch.Generator().manual_seed(0)
            self.x = torch.randn(20, 3, generator=g, dtype=torch.float64)
            self.y = torch.sin(self.x @ torch.tensor([[1.0], [-0.5], [0.25]], dtype=torch.float64))
        def __len__(self):
            return 20
        def __getitem__(self, i):
            return {"x": self.x[i], "y": self.y[i]}

    class NoisyMSE(AbstractObjective):
        # draws from the global RNG every call: a resume must restore it exactly
        def __call__(self, model, batch):
            jitter = 1e-3 * torch.randn(batch["x"].shape, dtype=batch["x"].dtype)
            return {"loss": ((model(batch["x"] + jitter) - batch["y"]) ** 2).mean()}

    class KillAt(Callback):
        def on_batch_end(self, trainer, step, losses):
            if step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # a hard kill: nothing after this runs

    torch.set_num_threads(1)
    seed_everything(5)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    phases = [
        {"optimizer": "adam", "lr": 1e-2, "steps": 7, "scheduler": "cosine"},
        {"optimizer": "lbfgs", "lr": 1.0, "steps": 6, "kwargs": {"max_iter": 5}},
    ]
    trainer = Trainer(model, NoisyMSE(), phases=phases, eval_every=3, batch_size=6, run_dir=run_dir, seed=5,
                      metrics=(), callbacks=[KillAt()] if kill_at else [])
    trainer.fit(Data(), resume=True)
    torch.save(dict(model.state_dict()), out)
    """
)


@pytest.mark.parametrize("kill_at", [8, 11], ids=["first-lbfgs-step", "mid-lbfgs"])
def test_adam_then_lbfgs_killed_after_the_boundary_resumes_bitwise(tmp_path, kill_at):
    script = tmp_path / "train.py"
    script.write_text(_PHASES_SCRIPT)

    def run(run_dir, kill, out):
        return subprocess.run(
            [sys.executable, str(script), str(run_dir), str(kill), str(out)],
            capture_output=True, text=True, timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": ""},
        )

    full = run(tmp_path / "full", 0, tmp_path / "full.pt")
    assert full.returncode == 0, full.stderr
    killed = run(tmp_path / "resumed", kill_at, tmp_path / "never.pt")
    assert killed.returncode == -9, killed.stderr  # SIGKILL
    meta = load_checkpoint(tmp_path / "resumed" / "last.pt")["meta"]
    # periods end at steps 3, 6, 7 (the phase boundary), 9, 12, 13
    expected = {8: (7, 0, "Adam"), 11: (9, 1, "LBFGS")}[kill_at]
    assert (meta["global_step"], meta["phase"], meta["optimizer_class"]) == expected
    resumed = run(tmp_path / "resumed", 0, tmp_path / "resumed.pt")
    assert resumed.returncode == 0, resumed.stderr
    a, b = torch.load(tmp_path / "full.pt"), torch.load(tmp_path / "resumed.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    ha = json.loads((tmp_path / "full" / "metrics.json").read_text())["history"]
    hb = json.loads((tmp_path / "resumed" / "metrics.json").read_text())["history"]
    assert [r["step"] for r in ha] == [3, 6, 7, 9, 12, 13]
    assert [r["phase"] for r in ha] == [0, 0, 0, 1, 1, 1]
    assert [r["train_loss"] for r in ha] == [r["train_loss"] for r in hb]
    assert ha[-1]["train_loss"] < 0.5 * ha[2]["train_loss"]  # L-BFGS improved on Adam's result


def test_adam_checkpoint_into_an_lbfgs_trainer_is_refused_by_name(tmp_path):
    data = DictData()
    Trainer(_mlp(), MSE(), optimizer="adam", max_epochs=1, batch_size=8, run_dir=tmp_path, metrics=()).fit(data)
    trainer = Trainer(_mlp(), MSE(), optimizer="lbfgs", max_epochs=2, batch_size=8, run_dir=tmp_path, metrics=())
    with pytest.raises(ConfigError, match=r"state of a Adam optimizer in phase 0.*uses LBFGS"):
        trainer.fit(data, resume=True)


# ---------------------------------------------------------------- step budgets


def test_step_budget_validates_checkpoints_and_schedules_every_k_steps(tmp_path):
    data = DictData(n=24)  # 3 batches of 8 per epoch
    trainer = Trainer(
        _mlp(), MSE(), optimizer="sgd", lr=0.1, scheduler="step", scheduler_kwargs={"step_size": 1, "gamma": 0.5},
        max_steps=10, eval_every=4, batch_size=8, run_dir=tmp_path, metrics=(),
    )
    history = trainer.fit(data, DictData(n=10, seed=1))
    assert [r["step"] for r in history] == [4, 8, 10]
    assert [r["epoch"] for r in history] == [2, 3, 4]  # the epoch each period ended in (3 batches per epoch)
    assert [r["lr"] for r in history] == pytest.approx([0.1, 0.05, 0.025])  # one scheduler step per period
    assert all("val_loss" in r for r in history)
    meta = load_checkpoint(tmp_path / "last.pt")["meta"]
    assert (meta["global_step"], meta["epoch"], meta["batch_in_epoch"]) == (10, 3, 1)


def test_mid_epoch_resume_of_a_step_budget_is_exact():
    data = DictData(n=20)  # 3 batches per epoch (8, 8, 4): periods end mid-epoch
    kwargs = dict(optimizer="adam", lr=1e-2, scheduler="cosine", max_steps=11, eval_every=4, batch_size=8, metrics=())
    full_model = _mlp()
    full = Trainer(full_model, MSE(), **kwargs).fit(data)

    import tempfile

    with tempfile.TemporaryDirectory() as run_dir:
        model = _mlp()
        with pytest.raises(Interrupt):
            Trainer(model, MSE(), run_dir=run_dir, callbacks=[StopAfterPeriod(1)], **kwargs).fit(data)
        assert load_checkpoint(f"{run_dir}/last.pt")["meta"]["batch_in_epoch"] == 1  # step 4 = batch 1 of epoch 2
        model = _mlp(seed=99)  # other weights: the checkpoint must restore them
        resumed = Trainer(model, MSE(), run_dir=run_dir, **kwargs).fit(data, resume=True)
    assert [r["train_loss"] for r in resumed] == [r["train_loss"] for r in full]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), full_model.state_dict().values()))


def test_cosine_default_counts_the_periods_of_each_phase():
    trainer = Trainer(
        _mlp(), MSE(), batch_size=8, eval_every=2, metrics=(),
        phases=[{"optimizer": "adam", "steps": 7, "scheduler": "cosine"}, {"optimizer": "sgd", "steps": 4, "lr": 0.1, "scheduler": "cosine"}],
    )
    trainer.fit(DictData(n=24))
    assert trainer.phase == 1 and trainer.scheduler.T_max == 3  # phase 1's periods end at steps 8, 10, 11
    assert [r["step"] for r in trainer.history] == [2, 4, 6, 7, 8, 10, 11]


# ---------------------------------------------------------------- objective state and the step


class SpyRegularizerObjective(AbstractObjective):
    """Records the step every call sees, as a schedule would read it."""

    def __init__(self):
        self.step, self.calls = 0, []

    def begin_step(self, step):
        self.step = step

    def __call__(self, model, batch):
        self.calls.append(self.step)
        weight = 0.5**self.step
        pred = model(batch["x"])
        return {"loss": ((pred - batch["y"]) ** 2).mean() + weight * pred.pow(2).mean()}

    def state_dict(self):
        return {"step": self.step, "calls": list(self.calls)}

    def load_state_dict(self, state):
        self.step, self.calls = state["step"], list(state["calls"])


def test_closure_calls_see_one_step_per_optimizer_step():
    objective = SpyRegularizerObjective()
    Trainer(_mlp(), objective, optimizer="lbfgs", optimizer_kwargs={"max_iter": 4}, max_steps=5, batch_size=24,
            metrics=()).fit(DictData())
    assert len(objective.calls) > 10  # several closure calls per step
    assert sorted(set(objective.calls)) == [0, 1, 2, 3, 4]
    assert objective.calls == sorted(objective.calls)


class Field(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))

    def forward(self, t, y):
        return self.net(y)


def test_nde_regularizer_schedule_is_the_same_after_resume(tmp_path):
    from sciml.nde import NDERegression, NeuralODE

    t = torch.linspace(0, 1, 5)
    y0 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [1.0, 1.0]])
    a = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    target = torch.stack([torch.linalg.matrix_exp(a * s) @ y0.T for s in t], 1).permute(2, 1, 0)  # [4, 5, 2]
    batches = [{"x": y0, "t": t, "y": target}]

    def run(run_dir, interrupt_at=None, resume=False):
        torch.manual_seed(0)
        model = NeuralODE(Field(), rtol=1e-4, atol=1e-6)
        objective = NDERegression("global_error", {"weight": 0.1, "schedule": "exponential", "decay": 0.5})
        seen = []
        solve = objective.regularizer.solve

        def spy(dynamics, y0, t=None, *, step=0):
            seen.append(step)
            return solve(dynamics, y0, t, step=step)

        objective.regularizer.solve = spy
        callbacks = [StopAfterPeriod(interrupt_at)] if interrupt_at else []
        trainer = Trainer(model, objective, optimizer="lbfgs", optimizer_kwargs={"max_iter": 3}, max_steps=6,
                          eval_every=1, run_dir=run_dir, callbacks=callbacks, metrics=())
        try:
            history = trainer.fit(batches, resume=resume)
        except Interrupt:
            return seen, None
        return seen, history

    full_seen, full_history = run(tmp_path / "full")
    first_seen, _ = run(tmp_path / "resumed", interrupt_at=3)
    second_seen, resumed_history = run(tmp_path / "resumed", resume=True)
    assert sorted(set(full_seen)) == list(range(6))  # one schedule step per optimizer step, not per closure call
    assert len(full_seen) > 6
    assert sorted(set(second_seen)) == [3, 4, 5]  # continued at step 3, not restarted at 0
    assert [r["train_reg"] for r in resumed_history] == [r["train_reg"] for r in full_history]
    assert full_history[-1]["train_reg"] < full_history[0]["train_reg"]  # the weight decayed


# ---------------------------------------------------------------- closure path


class RecordingSGD(torch.optim.SGD):
    """A closure optimizer declared by its flag; records the gradient norm the closure left."""

    needs_closure = True

    def __init__(self, params, lr=0.01):
        super().__init__(params, lr=lr)
        self.norms = []

    def step(self, closure):
        loss = closure()
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))
        super().step()
        return loss


def test_closure_path_clips_the_gradient():
    recorder: list[RecordingSGD] = []

    def make(params):
        recorder.append(RecordingSGD(params, lr=0.01))
        return recorder[0]

    data = DictData()
    unclipped = Trainer(_mlp(), MSE(), optimizer=make, max_steps=3, batch_size=24, metrics=())
    unclipped.fit(data)
    raw = recorder.pop().norms
    assert min(raw) > 0.2  # the clip below binds
    Trainer(_mlp(), MSE(), optimizer=make, max_steps=3, batch_size=24, grad_clip=0.1, metrics=()).fit(data)
    clipped = recorder.pop().norms
    # clip_grad_norm_ scales by max_norm / (norm + 1e-6): the clipped norm is 0.1 to within 1e-6 / norm
    assert all(n == pytest.approx(0.1, rel=2e-6 / min(raw)) and n <= 0.1 for n in clipped)


class NaNOnSecondCall(MSE):
    def __init__(self):
        self.calls = 0

    def __call__(self, model, batch):
        out = super().__call__(model, batch)
        self.calls += 1
        if self.calls == 2:
            out["loss"] = out["loss"] * float("nan")
        return out


def test_closure_path_checks_finiteness_at_every_call():
    objective = NaNOnSecondCall()
    trainer = Trainer(_mlp(), objective, optimizer="lbfgs", optimizer_kwargs={"max_iter": 5}, max_steps=3,
                      batch_size=24, metrics=())
    with pytest.raises(TrainingDivergedError, match=r"loss became nan at epoch 1, step 1: lower"):
        trainer.fit(DictData())
    assert objective.calls == 2  # stopped inside the first step's line search


# ---------------------------------------------------------------- averaging, samplers, callbacks


class FieldItems(torch.utils.data.Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(3)
        self.y = torch.randn(5, 1, 16, generator=g) * torch.tensor([1.0, 3.0, 0.2, 5.0, 1.0])[:, None, None]
        self.x = self.y + 0.3 * torch.randn(5, 1, 16, generator=g)

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i]}


def test_evaluate_averages_loss_and_metric_per_sample_alike():
    data = FieldItems()  # batches of 2, 2, 1 with unequal per-sample errors
    trainer = Trainer(nn.Identity(), Supervised("relative_l2"), batch_size=2, metrics=("relative_l2",))
    result = trainer.evaluate(data)  # a model without parameters evaluates (the optimizer is built by fit)
    per_sample = relative_l2(data.x, data.y).double()
    assert result["relative_l2"] == pytest.approx(float(per_sample.mean()), rel=8 * EPS32)
    assert result["loss"] == pytest.approx(result["relative_l2"], rel=8 * EPS32)
    batch_mean = float(torch.stack([per_sample[:2].mean(), per_sample[2:4].mean(), per_sample[4]]).mean())
    assert abs(batch_mean - result["loss"]) > 1e3 * EPS32 * result["loss"]  # the old batch average would fail
    with pytest.raises(ConfigError, match="no trainable parameters"):
        trainer.fit(data)


def test_validation_and_evaluate_on_a_sampler():
    def sampler(i):
        g = torch.Generator().manual_seed(1000 + i)
        x = torch.randn(8, 3, generator=g, dtype=torch.float64)
        return {"x": x, "y": torch.sin(x[:, :1])}

    model = _mlp()
    trainer = Trainer(model, MSE(), max_steps=4, eval_steps=3, batch_size=8, metrics=())
    history = trainer.fit(DictData(), sampler)
    with torch.no_grad():
        expected = sum(float(((model(sampler(i)["x"]) - sampler(i)["y"]) ** 2).mean()) for i in range(3)) / 3
    assert history[-1]["val_loss"] == pytest.approx(expected, rel=16 * torch.finfo(torch.float64).eps)
    assert trainer.evaluate(sampler)["loss"] == pytest.approx(expected, rel=16 * torch.finfo(torch.float64).eps)
    assert trainer.evaluate(sampler, steps=1)["loss"] != pytest.approx(expected)


def test_two_early_stopping_callbacks_resume_their_own_state(tmp_path):
    data = DictData()
    first = [EarlyStopping(patience=50, monitor="train_loss"), EarlyStopping(patience=40, monitor="val_loss", min_delta=1e9)]
    Trainer(_mlp(), MSE(), optimizer="adam", lr=1e-2, max_epochs=4, batch_size=8, run_dir=tmp_path, callbacks=first,
            metrics=()).fit(data, DictData(n=8, seed=1))
    assert first[0].bad_epochs == 0 and first[1].bad_epochs == 3  # min_delta never met after the first epoch
    second = [EarlyStopping(patience=50, monitor="train_loss"), EarlyStopping(patience=40, monitor="val_loss", min_delta=1e9)]
    trainer = Trainer(_mlp(), MSE(), max_epochs=4, batch_size=8, run_dir=tmp_path, callbacks=second, metrics=())
    trainer.load(tmp_path / "last.pt")
    assert (second[0].best, second[0].bad_epochs) == (first[0].best, 0)
    assert (second[1].best, second[1].bad_epochs) == (first[1].best, 3)
    assert second[0].best != second[1].best and math.isfinite(second[1].best)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        ([{"optimizer": "adamm", "steps": 3}], r"phases\[0\]\.optimizer: unknown optimizer 'adamm'.*adam"),
        ([{"optimizer": "adam", "steps": 0}], r"phases\[0\]\.steps must be a positive integer, got 0"),
        ([{"optimizer": "adam", "steps": 2}, {"optimizer": "lbfgs", "steps": 2.5}], r"phases\[1\]\.steps must be a positive"),
        ([{"optimizer": "adam", "steps": 2, "step": 3}], r"phases\[0\] has unknown key\(s\) step"),
        ([{"optimizer": "adam"}], r"phases\[0\] needs 'optimizer' and 'steps'"),
        ([], r"non-empty list"),
    ],
)
def test_bad_phases_are_refused_before_training(phases, message):
    with pytest.raises(ConfigError, match=message):
        Trainer(_mlp(), MSE(), phases=phases)


def test_max_steps_that_contradict_the_phases_are_refused():
    with pytest.raises(ConfigError, match="differs from the phases' total of 5"):
        Trainer(_mlp(), MSE(), phases=[{"optimizer": "adam", "steps": 5}], max_steps=4)


def test_a_non_finite_validation_loss_stops_the_run_naming_it(tmp_path):
    class NaNOnEval(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 1).double()

        def forward(self, x):
            y = self.lin(x)
            return y if self.training else y * float("nan")

    trainer = Trainer(NaNOnEval(), MSE(), max_epochs=3, batch_size=8, run_dir=tmp_path, metrics=())
    with pytest.raises(TrainingDivergedError, match=r"val_loss became nan at epoch 1, step 3: the model's output on "
                                                     r"the validation data is not finite"):
        trainer.fit(DictData(), DictData(n=8, seed=1))
    assert not (tmp_path / "best.pt").exists() and not (tmp_path / "last.pt").exists()  # nothing from a NaN epoch
