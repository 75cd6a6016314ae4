"""The rollout objective: exact rollouts of a known linear propagator, teacher forcing vs unrolled, pushforward gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.registry import OBJECTIVES
from sciml.data import FieldDataset, Provenance, write_fields
from sciml.operators import Rollout, plot_rollout_error, rollout, rollout_error_curve

NU, DT, S = 0.01, 0.1, 32


class HeatPropagator(nn.Module):
    """Exact one-step solution operator of u_t = nu u_xx on [0, 1) (spectral), applied to the newest snapshot.

    ``[B, h*C, S] -> [B, C, S]``; ``scale`` (a parameter) multiplies the output so gradients exist.
    """

    def __init__(self, channels: int = 1, dtype=torch.float64):
        super().__init__()
        self.channels = channels
        k = 2 * math.pi * torch.fft.rfftfreq(S, d=1.0 / S, dtype=dtype)
        self.register_buffer("factor", torch.exp(-NU * k**2 * DT))
        self.scale = nn.Parameter(torch.ones((), dtype=dtype))
        self.calls: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(torch.is_grad_enabled())
        last = x[:, -self.channels :]
        return self.scale * torch.fft.irfft(torch.fft.rfft(last) * self.factor, n=S)


def heat_trajectories(n: int, n_times: int, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """Exact solutions ``[n, n_times, channels, S]`` (float64) from random band-limited data."""
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(S, dtype=torch.float64) / S
    k = torch.arange(1, 6, dtype=torch.float64)
    coef = torch.randn(n, channels, len(k), 2, generator=g, dtype=torch.float64)
    t = torch.arange(n_times, dtype=torch.float64) * DT
    decay = torch.exp(-NU * (2 * math.pi * k) ** 2 * t[:, None])  # [T, K]
    cos, sin = torch.cos(2 * math.pi * k[:, None] * x), torch.sin(2 * math.pi * k[:, None] * x)  # [K, S]
    a = coef[..., 0][:, None] * decay[None, :, None]  # [n, T, C, K]
    b = coef[..., 1][:, None] * decay[None, :, None]
    return a @ cos + b @ sin


def window_batch(u: torch.Tensor, history: int, horizon: int) -> dict[str, torch.Tensor]:
    n, _, c, s = u.shape
    return {
        "x": u[:, :history].reshape(n, history * c, s),
        "y": u[:, history : history + horizon].reshape(n, horizon * c, s),
        "t": (torch.arange(history + horizon, dtype=torch.float64) * DT).expand(n, -1),
    }


@pytest.mark.parametrize(("history", "channels"), [(1, 1), (3, 1), (2, 2)])
def test_rollout_of_exact_propagator_matches_exact_solution(history, channels):
    u = heat_trajectories(4, history + 10, channels)
    batch = window_batch(u, history, 10)
    model = HeatPropagator(channels)
    pred = rollout(model, batch["x"], 10, channels=channels)
    assert pred.shape == batch["y"].shape
    assert (pred - batch["y"]).abs().max() < 1e-6
    # the objective's predict infers C from the batch's times and rolls out all k steps
    torch.testing.assert_close(Rollout().predict(model, batch), pred)
    assert Rollout()(model, batch)["loss"] < 1e-6


def test_rollout_objective_is_registered():
    assert OBJECTIVES.get("rollout") is Rollout
    assert Rollout(mode="teacher_forcing", backprop_steps=2).config()["backprop_steps"] == 2


def test_teacher_forcing_and_unrolled_losses_coincide_for_one_step():
    u = heat_trajectories(3, 4)
    batch = window_batch(u, 2, 1)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(2, 8, 3, padding=1, padding_mode="circular"), nn.Tanh(), nn.Conv1d(8, 1, 1)
    ).double()
    tf = Rollout(mode="teacher_forcing")(model, batch)["loss"]
    unrolled = Rollout(mode="unrolled")(model, batch)["loss"]
    pushforward = Rollout(mode="unrolled", backprop_steps=1)(model, batch)["loss"]
    assert tf.item() > 1e-3
    torch.testing.assert_close(tf, unrolled, rtol=0, atol=0)
    torch.testing.assert_close(tf, pushforward, rtol=0, atol=0)


def test_teacher_forcing_uses_true_shifted_windows():
    """With an exact propagator teacher forcing is exact at every step; with a wrong scale its
    error does not accumulate (each step starts from the truth), unlike the rollout's."""
    u = heat_trajectories(2, 7)
    batch = window_batch(u, 1, 6)
    model = HeatPropagator()
    assert Rollout(mode="teacher_forcing")(model, batch)["loss"] < 1e-7
    with torch.no_grad():
        model.scale.fill_(1.1)
    tf = Rollout(mode="teacher_forcing")(model, batch)["loss"]
    unrolled = Rollout(mode="unrolled")(model, batch)["loss"]
    assert tf.item() == pytest.approx(0.1, rel=1e-6)
    # unrolled: step j is off by 1.1**j - 1
    assert unrolled.item() == pytest.approx(np.mean([1.1**j - 1 for j in range(1, 7)]), rel=1e-6)


@pytest.mark.parametrize("backprop_steps", [1, 2, 5])
def test_pushforward_differentiates_only_the_last_calls(backprop_steps):
    """The loss's gradient with backprop_steps=b equals that of the last b steps' loss started
    from the detached prediction b steps earlier."""
    k = 5
    u = heat_trajectories(3, k + 1)
    batch = window_batch(u, 1, k)
    model = HeatPropagator()
    with torch.no_grad():
        model.scale.fill_(1.05)
    model.calls.clear()
    out = Rollout(mode="unrolled", backprop_steps=backprop_steps)(model, batch)
    out["loss"].backward()
    grad = model.scale.grad.clone()
    # the first call runs without gradient to learn the snapshots per call; it is redone when b = k
    differentiated = [grad for grad in model.calls if grad]
    assert len(differentiated) == backprop_steps and model.calls[-backprop_steps:] == differentiated

    # reference: no-grad prefix, then an ordinary rollout of b steps
    model.scale.grad = None
    with torch.no_grad():
        start = batch["x"] if backprop_steps == k else rollout(model, batch["x"], k - backprop_steps)[:, -1:]
    pred = rollout(model, start, backprop_steps)
    target = batch["y"][:, k - backprop_steps :]
    errors = [
        ((pred[:, j] - target[:, j]).norm(dim=-1) / target[:, j].norm(dim=-1)).mean() for j in range(backprop_steps)
    ]
    torch.stack(errors).mean().backward()
    torch.testing.assert_close(grad, model.scale.grad)
    assert grad.abs() > 0
    # the logged rollout error covers all k steps
    assert not out["rollout_relative_l2"].requires_grad


def test_gradient_reaches_every_step_without_pushforward():
    u = heat_trajectories(2, 5)
    batch = window_batch(u, 1, 4)
    model = HeatPropagator()
    model.calls.clear()
    Rollout(mode="unrolled")(model, batch)["loss"].backward()
    assert model.calls == [True] * 4


def test_block_model_outputs_several_snapshots_per_call():
    """A model that predicts m=2 snapshots per call: two exact propagators stacked."""

    class TwoSteps(nn.Module):
        def __init__(self):
            super().__init__()
            self.step = HeatPropagator()

        def forward(self, x):
            first = self.step(x)
            return torch.cat([first, self.step(first)], dim=1)

    u = heat_trajectories(2, 8)
    batch = window_batch(u, 1, 7)
    pred = Rollout().predict(TwoSteps(), batch)
    assert pred.shape == batch["y"].shape and (pred - batch["y"]).abs().max() < 1e-6
    assert Rollout(mode="teacher_forcing")(TwoSteps(), batch)["loss"] < 1e-6


def test_rollout_error_curve_and_plot(tmp_path):
    u = heat_trajectories(6, 12).float().numpy()[:, :, :, :]
    path = tmp_path / "heat.h5"
    grid = np.arange(S) / S
    write_fields(path, u, np.arange(12) * DT, {"x": grid}, Provenance("test:heat", {"nu": NU}, seed=0))
    data = FieldDataset(path, None, mode="window", history=1, horizon=8, stride=4)
    exact = HeatPropagator(dtype=torch.float32)
    curve = rollout_error_curve(exact, data, 8)
    assert curve.shape == (8,) and curve.max() < 1e-5
    with torch.no_grad():
        exact.scale.fill_(1.02)
    curve = rollout_error_curve(exact, data)
    torch.testing.assert_close(
        curve, torch.tensor([1.02**j - 1 for j in range(1, 9)], dtype=torch.float64), rtol=1e-4, atol=1e-6
    )
    png = plot_rollout_error({"scaled propagator": curve}, tmp_path / "rollout.png", dt=DT)
    assert png.stat().st_size > 0
    with pytest.raises(ConfigError, match="steps=9 exceeds the 8 target snapshots"):
        rollout_error_curve(exact, data, 9)


def test_bad_inputs_raise_one_line_errors():
    u = heat_trajectories(2, 3)
    batch = window_batch(u, 1, 2)
    with pytest.raises(ConfigError, match="unknown rollout mode 'tf'"):
        Rollout(mode="tf")
    with pytest.raises(ConfigError, match="backprop_steps must be >= 1"):
        Rollout(backprop_steps=0)
    wrong = nn.Conv1d(2, 3, 1).double()  # 3 output channels: no whole number of 2-channel snapshots
    with pytest.raises(ShapeError, match="set out_channels=2"):
        rollout(wrong, torch.cat([batch["x"], batch["x"]], dim=1), 2, channels=2)
    del batch["t"]
    with pytest.raises(ConfigError, match="pass channels=C"):
        Rollout()(HeatPropagator(), batch)
    assert Rollout(channels=1)(HeatPropagator(), batch)["loss"] < 1e-6
