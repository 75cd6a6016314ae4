"""NeuralSDE on torchsde and on the sciml solver; the Euler-Maruyama/Milstein error and its regularizers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sciml.core.errors import ConfigError, UnknownNameError
from sciml.nde import (
    MLPVectorField,
    NeuralODE,
    NeuralSDE,
    SDEGlobalErrorRegularizer,
    SDELocalErrorRegularizer,
    build_regularizer,
    milstein_error_estimate,
)

F64 = torch.float64
MU, SIGMA = 0.3, 0.8


class Scaled(nn.Module):
    """``(t, y) -> coefficient * y``: the drift and diffusion of geometric Brownian motion."""

    def __init__(self, coefficient: float):
        super().__init__()
        self.coefficient = nn.Parameter(torch.tensor(coefficient, dtype=F64))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.coefficient * y


def test_milstein_minus_euler_maruyama_is_the_analytic_correction():
    # GBM dy = mu y dt + sigma y dW: g g' = sigma^2 y, so the embedded error is 0.5 sigma^2 y (dW^2 - dt)
    y = torch.tensor([[1.0, 2.0], [0.5, -1.5]], dtype=F64)
    dt = 0.01
    dW = torch.tensor([[0.15, -0.05], [0.02, 0.3]], dtype=F64)
    y_next, error = milstein_error_estimate(Scaled(MU), Scaled(SIGMA), 0.0, y, dt, dW)
    analytic = 0.5 * SIGMA**2 * y * (dW**2 - dt)
    # each side is a handful (< 8) of float64 roundings of O(1) factors: 16 eps relative
    tol = 16 * torch.finfo(F64).eps
    assert torch.allclose(error, analytic, rtol=tol, atol=0)
    euler_maruyama = y + MU * y * dt + SIGMA * y * dW
    assert torch.allclose(y_next, euler_maruyama + analytic, rtol=tol, atol=0)
    # additive noise: g' = 0, the pair agrees
    _, zero = milstein_error_estimate(Scaled(MU), lambda t, y: torch.full_like(y, SIGMA), 0.0, y, dt, dW)
    assert torch.equal(zero, torch.zeros_like(y))


@pytest.mark.parametrize("method,order", [("euler", 0.5), ("milstein", 1.0)])
def test_strong_order_on_geometric_brownian_motion(method, order):
    # exact solution on the same Brownian path: y0 exp((mu - sigma^2 / 2) T + sigma W_T)
    import torchsde

    torch.manual_seed(0)
    sde = NeuralSDE(Scaled(MU), Scaled(SIGMA), method=method, dt=0.1)
    y0 = torch.ones(2000, 1, dtype=F64)
    bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(2000, 1), dtype=F64, entropy=7)
    exact = y0 * torch.exp(torch.tensor((MU - SIGMA**2 / 2) * 1.0, dtype=F64) + SIGMA * bm(0.0, 1.0))
    steps, errors = [0.1, 0.05, 0.025, 0.0125], []
    with torch.no_grad():
        for dt in steps:
            sde.dt = dt
            errors.append(float((sde(y0, bm=bm) - exact).abs().mean()))
    fitted = float(np.polyfit(np.log(steps), np.log(errors), 1)[0])
    assert abs(fitted - order) < 0.2, (fitted, errors)
    assert sde.last_stats.n_steps == 80 and sde.last_stats.nfe_drift >= 80


def test_sde_regularizer_term_is_eest_times_h():
    sde = NeuralSDE(Scaled(MU), Scaled(SIGMA), dt=0.05)
    regularizer = SDELocalErrorRegularizer(weight=1.0, rtol=1e-2, atol=1e-3)
    y = torch.tensor([[1.0, 2.0]], dtype=F64)
    dW = torch.tensor([[0.2, -0.1]], dtype=F64)
    term = float(regularizer.penalty(sde, t_reg=0.3, y_reg=y, dW=dW).detach())
    error = 0.5 * SIGMA**2 * y * (dW**2 - 0.05)
    y_next = y + MU * y * 0.05 + SIGMA * y * dW + error
    scale = 1e-3 + 1e-2 * torch.maximum(y.abs(), y_next.abs())
    assert term == pytest.approx(float((error / scale).pow(2).mean().sqrt()) * 0.05, rel=1e-12)


def test_sde_regularizer_gradcheck():
    generator = torch.Generator().manual_seed(0)
    params = [
        0.5 * torch.randn(3, 2, generator=generator, dtype=F64),
        0.5 * torch.randn(2, 3, generator=generator, dtype=F64),
    ]
    params = [p.requires_grad_(True) for p in params]
    dW = 0.2 * torch.randn(2, 2, generator=generator, dtype=F64)

    def term(y, w_drift, w_diffusion):
        drift = lambda t, x: torch.tanh(x @ w_drift.T) @ w_drift  # noqa: E731
        # diagonal noise: g_i depends on y_i only
        diffusion = lambda t, x: torch.nn.functional.softplus(x * w_diffusion[:, 0] + w_diffusion[:, 1])  # noqa: E731
        sde = NeuralSDE(drift, diffusion, dt=0.05)
        return SDELocalErrorRegularizer(weight=1.0).penalty(sde, t_reg=0.2, y_reg=y, dW=dW)

    y = torch.tensor([[0.4, -0.7], [1.1, 0.3]], dtype=F64, requires_grad=True)
    assert float(term(y, *params).detach()) > 0
    assert torch.autograd.gradcheck(term, (y, *params), eps=1e-6, atol=1e-8, rtol=1e-5)


@pytest.mark.parametrize("backend", ["torchsde", "torchsde_adjoint"])
def test_sde_regularizer_trains_through_both_backends(backend):
    torch.manual_seed(0)
    sde = NeuralSDE(MLPVectorField(2, 8), MLPVectorField(2, 8, final_activation="softplus"), backend=backend, dt=0.1)
    regularizer = SDELocalErrorRegularizer(weight=10.0, generator=torch.Generator().manual_seed(1))
    y0 = torch.randn(16, 2)
    output, term = regularizer.solve(sde, y0)
    assert output.shape == (16, 2) and 0.0 < regularizer.last_t_reg < 1.0
    (output.pow(2).mean() + term).backward()
    grads = [p.grad for p in sde.diffusion.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    assert sde.last_stats.n_steps == 10


def test_sde_names_and_checks():
    field = MLPVectorField(2, 4)
    with pytest.raises(UnknownNameError, match="valid names: euler, milstein, srk"):
        NeuralSDE(field, field, method="heun")
    with pytest.raises(UnknownNameError, match="valid names: sciml, torchsde, torchsde_adjoint"):
        NeuralSDE(field, field, backend="diffrax")
    with pytest.raises(UnknownNameError, match="valid names: euler, milstein, milstein_em"):
        NeuralSDE(field, field, backend="sciml", method="srk")
    with pytest.raises(ConfigError, match="Ito SDEs with diagonal or additive noise"):
        NeuralSDE(field, field, backend="sciml", sde_type="stratonovich", method="milstein")
    with pytest.raises(ConfigError, match="fixed dt"):
        NeuralSDE(field, field, backend="sciml", noise_type="additive", method="milstein_em")
    with pytest.raises(ConfigError, match="Ito SDEs with diagonal noise"):
        SDELocalErrorRegularizer().solve(
            NeuralSDE(field, field, sde_type="stratonovich", method="midpoint"), torch.zeros(1, 2)
        )
    with pytest.raises(ConfigError, match="needs a NeuralSDE"):
        SDELocalErrorRegularizer().solve(NeuralODE(field), torch.zeros(1, 2))


# ----------------------------------------------------------------- backend "sciml"
class SmallDrift(nn.Module):
    def __init__(self, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(0.5 * torch.randn(2, 2, generator=generator, dtype=F64))
        self.bias = nn.Parameter(0.1 * torch.randn(2, generator=generator, dtype=F64))

    def forward(self, t, y):
        return torch.tanh(y @ self.weight.T + self.bias)


class SmallDiffusion(nn.Module):
    """Diagonal noise ``softplus(a * y + b)``: ``g_i`` depends on ``y_i`` only."""

    def __init__(self, a=(0.6, -0.4), b=(0.1, -0.3)):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=F64))
        self.b = nn.Parameter(torch.tensor(b, dtype=F64))

    def forward(self, t, y):
        return torch.nn.functional.softplus(self.a * y + self.b)


def _bm(batch: int, entropy: int = 3, t1: float = 1.0):
    import torchsde

    return torchsde.BrownianInterval(t0=0.0, t1=t1, size=(batch, 2), dtype=F64, entropy=entropy)


@pytest.mark.parametrize("method", ["euler", "milstein"])
def test_sciml_fixed_steps_agree_with_torchsde_on_the_same_path(method):
    drift, diffusion = SmallDrift(), SmallDiffusion()
    y0 = torch.tensor([[0.4, -0.7], [1.1, 0.3], [-0.2, 0.9]], dtype=F64)
    times = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    bm = _bm(3)
    ours = NeuralSDE(drift, diffusion, backend="sciml", method=method, dt=1 / 16)
    theirs = NeuralSDE(drift, diffusion, backend="torchsde", method=method, dt=1 / 16)
    with torch.no_grad():
        ys, reference = ours(y0, times, bm=bm), theirs(y0, times, bm=bm)
    # the same scheme on the same increments, evaluated in another order: each of the 16 steps
    # rounds ~10 operations, so the paths agree to 32 n_steps eps |y| (a wrong scheme is off by ~dt)
    tol = 32 * 16 * torch.finfo(F64).eps * float(reference.abs().max())
    assert float((ys - reference).abs().max()) <= tol
    assert float((ys[-1] - y0).abs().max()) > 0.1  # a non-trivial solve
    stats = ours.last_stats
    assert stats.n_steps == 16 and stats.nfe == 32 and stats.n_rejected == 0
    assert stats.error_estimate.shape == (16,) and torch.allclose(stats.h, torch.full((16,), 1 / 16, dtype=F64))


def test_sciml_adaptive_solve_reports_steps_and_nfe():
    drift, diffusion = SmallDrift(), SmallDiffusion()
    y0 = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    nfe = {}
    for tolerance in (1e-1, 1e-2):
        sde = NeuralSDE(drift, diffusion, backend="sciml", method="milstein_em", rtol=tolerance, atol=tolerance)
        output = sde(y0, bm=_bm(64))
        stats = sde.last_stats
        assert output.shape == (64, 2) and stats.error_estimate.requires_grad
        assert stats.n_steps == len(stats.t) == len(stats.h) == len(stats.error_estimate)
        assert stats.nfe == stats.nfe_drift + stats.nfe_diffusion == 2 * stats.n_steps
        assert bool((stats.error_estimate <= 1.0).all()) and float(stats.h.sum()) == pytest.approx(1.0, abs=1e-14)
        nfe[tolerance] = stats.nfe
    # measured: 4 and 22
    assert nfe[1e-2] > 3 * nfe[1e-1]


# ----------------------------------------------------------------- the global SDE regularizer
def test_sde_global_regularizer_is_the_recorded_sum():
    sde = NeuralSDE(SmallDrift(), SmallDiffusion(), backend="sciml", method="milstein_em", rtol=1e-2, atol=1e-2)
    y0 = torch.randn(16, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    sde(y0, bm=_bm(16))
    stats = sde.last_stats
    expected = float((stats.error_estimate * stats.h).sum().detach())
    assert float(SDEGlobalErrorRegularizer(weight=1.0)(sde).detach()) == pytest.approx(expected, rel=1e-14)
    mean_squared = float((stats.error_estimate**2 * stats.h).mean().detach())
    squared = build_regularizer({"name": "sde_global_error", "weight": 2.0, "aggregate": "mean", "squared": True})
    assert float(squared(sde).detach()) == pytest.approx(2.0 * mean_squared, rel=1e-14)
    assert 0.0 < expected < 1.0 and squared.config()["name"] == "sde_global_error"
    with pytest.raises(ConfigError, match="backend='sciml'"):
        torchsde_model = NeuralSDE(SmallDrift(), SmallDiffusion())
        torchsde_model(y0)
        SDEGlobalErrorRegularizer()(torchsde_model)


def test_sde_global_regularizer_matches_finite_differences():
    # fixed steps on a fixed Brownian path: the term is a smooth function of the parameters
    drift, diffusion = SmallDrift(), SmallDiffusion()
    sde = NeuralSDE(drift, diffusion, backend="sciml", method="milstein", dt=0.125, rtol=1e-2, atol=1e-2)
    y0 = torch.tensor([[0.4, -0.7], [1.1, 0.3]], dtype=F64)
    bm = _bm(2)
    regularizer = SDEGlobalErrorRegularizer(weight=1.0)
    parameters = list(sde.parameters())

    def term() -> torch.Tensor:
        sde(y0, torch.tensor([0.0, 0.5, 1.0], dtype=F64), bm=bm)
        return regularizer(sde)

    term().backward()
    direction = [
        torch.randn(p.shape, generator=torch.Generator().manual_seed(i), dtype=F64) for i, p in enumerate(parameters)
    ]
    analytic = sum(float((p.grad * d).sum()) for p, d in zip(parameters, direction))
    eps, values = 1e-6, []
    with torch.no_grad():
        for sign in (1.0, -1.0):
            for p, d in zip(parameters, direction):
                p.add_(sign * eps * d)
            values.append(float(term()))
            for p, d in zip(parameters, direction):
                p.sub_(sign * eps * d)
    numeric = (values[0] - values[1]) / (2 * eps)
    assert abs(analytic) > 1e-3
    assert analytic == pytest.approx(numeric, rel=1e-6)


def _train_and_measure_adaptive_nfe(weight: float) -> tuple[int, float]:
    """40 Adam steps on fixed-step Milstein (fitting a mean and a variance), then adaptive NFE at rtol 1e-3."""
    torch.manual_seed(0)
    drift, diffusion = SmallDrift(), SmallDiffusion(a=(1.0, -0.8), b=(-0.5, -0.5))
    train = NeuralSDE(drift, diffusion, backend="sciml", method="milstein", dt=0.1, rtol=1e-3, atol=1e-3)
    test = NeuralSDE(drift, diffusion, backend="sciml", method="milstein_em", rtol=1e-3, atol=1e-3)
    regularizer = SDEGlobalErrorRegularizer(weight=weight)
    optimizer = torch.optim.Adam(train.parameters(), lr=0.05)
    y0 = torch.full((64, 2), 0.5, dtype=F64)
    for step in range(40):
        output, term = regularizer.solve(train, y0, step=step)
        task = ((output.mean(0) - 0.3) ** 2).sum() + ((output.var(0) - 0.2) ** 2).sum()
        optimizer.zero_grad()
        (task + term).backward()
        optimizer.step()
    with torch.no_grad():
        test(y0, bm=_bm(64, entropy=99))
    return test.last_stats.nfe, float(task.detach())


def test_training_with_the_global_sde_regularizer_lowers_the_adaptive_nfe():
    vanilla_nfe, vanilla_loss = _train_and_measure_adaptive_nfe(0.0)
    regularized_nfe, regularized_loss = _train_and_measure_adaptive_nfe(1.0)
    # measured: NFE 116 -> 4 (the diffusion becomes nearly state-independent), task loss 0.039 -> 0.062
    assert regularized_nfe < 0.5 * vanilla_nfe, (vanilla_nfe, regularized_nfe)
    assert regularized_loss < 0.2
