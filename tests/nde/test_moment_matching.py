"""The registered neural SDE and latent ODE models and the sde_moment_matching objective."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.registry import MODELS, OBJECTIVES
from sciml.nde import DiagonalDiffusion, NeuralDEModel, NeuralSDE, SDEMomentMatching, latent_ode, neural_sde


class _Constant(nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))

    def forward(self, t, y):
        return self.value * torch.ones_like(y)


def _batch(n=6, times=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, times, 2, generator=g)
    return {"x": x, "t": torch.linspace(0, 1, times).expand(n, -1)}


def test_registered_models():
    assert MODELS.get("neural_sde") is neural_sde and MODELS.get("latent_ode") is latent_ode
    assert OBJECTIVES.get("sde_moment_matching") is SDEMomentMatching
    sde = MODELS.build("neural_sde", 3, hidden=8, method="milstein", dt=0.1)
    assert isinstance(sde, NeuralSDE) and sde.method == "milstein" and sde.dt == 0.1
    assert isinstance(MODELS.build("latent_ode", 2, latent_dim=4, hidden=8), NeuralDEModel)
    with pytest.raises(ConfigError, match="noise_type must be 'diagonal'"):
        neural_sde(2, noise_type="general")


def test_diagonal_diffusion_is_positive_and_channelwise():
    g = DiagonalDiffusion(3, 8)
    y = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    g = g.double()
    out = g(torch.tensor(0.0), y)
    assert out.shape == (4, 3) and bool((out > 0).all())
    jac = torch.autograd.functional.jacobian(lambda v: g(torch.tensor(0.0), v[None])[0], y[0].detach())
    assert torch.count_nonzero(jac - torch.diag(torch.diagonal(jac))) == 0  # g_i depends on y_i only


def test_loss_is_the_moment_mse_with_a_fixed_evaluation_seed():
    torch.manual_seed(0)
    model = NeuralSDE(_Constant(0.3), _Constant(0.5), dt=0.05)
    objective = SDEMomentMatching(paths=64, eval_seed=7)
    batch = _batch()
    model.eval()
    state = torch.random.get_rng_state()
    with torch.no_grad():
        out = objective(model, batch)
    assert torch.equal(torch.random.get_rng_state(), state)  # evaluation leaves the training RNG stream alone
    x, t = batch["x"], batch["t"][0]
    y0 = x[torch.arange(64) % 6, 0]  # the observed initial states, repeated cyclically
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(7)
        ys = model(y0, t)
    expected = ((ys.mean(1) - x.mean(0)) ** 2).mean() + ((ys.var(1) - x.var(0)) ** 2).mean()
    torch.testing.assert_close(out["loss"], expected)
    assert out["nfe"] > 0 and float(out["reg"]) == 0.0
    normalized = SDEMomentMatching(paths=64, eval_seed=7, normalize=True)
    with torch.no_grad():
        scaled = normalized(model, batch)["task_loss"]
    v = x.var(0).mean()
    mean_term = ((ys.mean(1) - x.mean(0)) ** 2).mean()
    torch.testing.assert_close(scaled, mean_term / v + (expected - mean_term) / v**2)
    with torch.no_grad():
        assert objective.predict(model, batch).shape == (6, 5, 2)


def test_training_step_adds_the_sde_local_error_term():
    torch.manual_seed(0)
    model = neural_sde(2, hidden=8, dt=0.05)
    objective = OBJECTIVES.build(
        "sde_moment_matching", paths=32, regularizer="sde_local_error", regularizer_kwargs={"weight": 10.0}
    )
    out = objective(model, _batch())
    assert out["reg"] > 0 and out["loss"].requires_grad and out["nfe"] > 0
    out["loss"].backward()
    assert all(p.grad is not None for p in model.drift.parameters())
    assert objective.config()["paths"] == 32 and objective.config()["regularizer"]["name"] == "sde_local_error"


def test_bad_batches_are_named():
    objective = SDEMomentMatching(paths=8)
    model = neural_sde(2, hidden=4, dt=0.1)
    with pytest.raises(ShapeError, match="at least 2 observed paths"):
        objective(model, _batch(n=1))
    irregular = _batch()
    irregular["t"] = irregular["t"] + torch.arange(6)[:, None] * 0.01
    with pytest.raises(ShapeError, match="times shared by the paths"):
        objective(model, irregular)
    with pytest.raises(ShapeError, match=r"observed paths x \[batch, n_times, dim\]"):
        objective(model, {"x": torch.zeros(4, 2), "t": torch.zeros(4)})
    with pytest.raises(ConfigError, match="paths >= 2"):
        SDEMomentMatching(paths=1)
