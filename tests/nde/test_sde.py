"""NeuralSDE on torchsde, and the Euler-Maruyama/Milstein embedded error and its regularizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sciml.errors import ConfigError, UnknownNameError
from sciml.nde import MLPVectorField, NeuralODE, NeuralSDE, SDELocalErrorRegularizer, milstein_error_estimate

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
    assert torch.allclose(error, analytic, rtol=1e-14, atol=0)
    euler_maruyama = y + MU * y * dt + SIGMA * y * dW
    assert torch.allclose(y_next, euler_maruyama + analytic, rtol=1e-14, atol=0)
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
    with pytest.raises(UnknownNameError, match="valid names: torchsde, torchsde_adjoint"):
        NeuralSDE(field, field, backend="diffrax")
    with pytest.raises(ConfigError, match="Ito SDEs with diagonal noise"):
        SDELocalErrorRegularizer().solve(
            NeuralSDE(field, field, sde_type="stratonovich", method="midpoint"), torch.zeros(1, 2)
        )
    with pytest.raises(ConfigError, match="needs a NeuralSDE"):
        SDELocalErrorRegularizer().solve(NeuralODE(field), torch.zeros(1, 2))
