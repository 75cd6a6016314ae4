"""NeuralODE: every backend against the matrix exponential, solver statistics, clear failures.

Also home of the small vector fields the other nde tests import.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from sciml.core.errors import ConfigError, UnknownNameError
from sciml.nde import MLPVectorField, NeuralODE
from sciml.numerics import SolverError
from tests.problems import LinearSystem, QuadraticBlowUp

F64 = torch.float64
BACKENDS = ("sciml", "torchdiffeq", "torchdiffeq_adjoint")
# (backend, method) pairs that exist: tsit5 is sciml-only
CASES = [(b, m) for b in BACKENDS for m in ("dopri5", "tsit5", "bs3") if not (m == "tsit5" and b != "sciml")]


class LinearField(nn.Module):
    """``f(t, y) = y A^T`` with a fixed (or trainable) matrix ``A``."""

    def __init__(self, matrix: torch.Tensor, trainable: bool = False):
        super().__init__()
        self.a = nn.Parameter(matrix.clone(), requires_grad=trainable)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y @ self.a.T


class TinyField(nn.Module):
    """``f(t, y) = W2 tanh(W1 y + b1) + b2`` in float64, seeded: small enough for gradcheck."""

    def __init__(self, dim: int = 2, hidden: int = 3, seed: int = 0, scale: float = 1.0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.w1 = nn.Parameter(scale * torch.randn(hidden, dim, generator=generator, dtype=F64))
        self.b1 = nn.Parameter(0.3 * torch.randn(hidden, generator=generator, dtype=F64))
        self.w2 = nn.Parameter(scale * torch.randn(dim, hidden, generator=generator, dtype=F64))
        self.b2 = nn.Parameter(0.3 * torch.randn(dim, generator=generator, dtype=F64))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(y @ self.w1.T + self.b1) @ self.w2.T + self.b2


def _batch_y0(problem: LinearSystem) -> torch.Tensor:
    return torch.stack([problem.y0, -0.5 * problem.y0, problem.y0.flip(0)])  # [3, 3]


@pytest.mark.parametrize("backend,method", CASES)
def test_linear_field_matches_matrix_exponential(backend, method):
    problem = LinearSystem()
    rtol = 1e-7
    ode = NeuralODE(LinearField(problem.a), backend=backend, method=method, rtol=rtol, atol=1e-10, t_span=(0.0, 2.0))
    y0 = _batch_y0(problem)
    t = torch.linspace(0.0, 2.0, 5, dtype=F64)
    exact = torch.einsum("tij,bj->tbi", torch.linalg.matrix_exp(t[:, None, None] * problem.a), y0)
    trajectory = ode(y0, t)
    assert trajectory.shape == (5, 3, 3)
    # global error of a tolerance-controlled solve: a small multiple of rtol * |y| (measured: <= 0.7 rtol).
    # torchdiffeq steps past the output times and interpolates back; its bosh3 interpolant is poor
    # (measured 160 rtol between steps), so that pair gets a looser bound.
    factor = 500 if (backend != "sciml" and method == "bs3") else 30
    assert float((trajectory - exact).abs().max()) < factor * rtol * float(exact.abs().max())
    assert float((trajectory[-1] - exact[-1]).abs().max()) < 30 * rtol * float(exact.abs().max())
    final = ode(y0)
    assert torch.allclose(final, trajectory[-1], rtol=0, atol=1e-12)  # same steps, same output at t1
    stats = ode.last_stats
    assert stats.nfe > 0 and stats.n_accepted >= 1 and stats.n_accepted == stats.h.numel()
    # the accepted steps tile [0, 2] (torchdiffeq may step past t1 and interpolate back)
    covered = float(stats.h.sum())
    assert 2.0 - 1e-12 <= covered < 2.0 + float(stats.h[-1]) + 1e-12
    assert torch.all(stats.t[1:] > stats.t[:-1])


@pytest.mark.parametrize("method,evals_per_attempt", [("dopri5", 6), ("bs3", 3)])
def test_torchdiffeq_step_counts_are_consistent(method, evals_per_attempt):
    # A fast rotation with loose tolerances: torchdiffeq rejects some steps.
    problem = LinearSystem()
    ode = NeuralODE(
        LinearField(6.0 * problem.a), backend="torchdiffeq", method=method, rtol=1e-5, atol=1e-8, t_span=(0.0, 2.0)
    )
    ode(_batch_y0(problem))
    stats = ode.last_stats
    # two evaluations before the first step (f(t0) and the initial-step probe), then one per new stage
    assert stats.nfe == 2 + evals_per_attempt * (stats.n_accepted + stats.n_rejected)
    assert stats.n_rejected > 0
    assert torch.allclose(stats.t[1:], stats.t[:-1] + stats.h[:-1], rtol=0, atol=1e-12)
    assert stats.error_estimate is None and stats.stiffness_estimate is None


def test_sciml_backend_records_differentiable_estimates():
    ode = NeuralODE(TinyField(), rtol=1e-5, atol=1e-7)
    y1 = ode(torch.tensor([[0.5, -0.2]], dtype=F64))
    stats = ode.last_stats
    assert stats.error_estimate.shape == stats.h.shape == stats.stiffness_estimate.shape
    assert stats.error_estimate.requires_grad and y1.requires_grad
    assert float(stats.error_estimate.detach().max()) <= 1.0  # every recorded step was accepted


def test_adjoint_counts_backward_evaluations_and_matches_direct_gradient():
    torch.manual_seed(0)
    y0 = torch.tensor([[0.3, -0.4], [1.0, 0.2]], dtype=F64)
    grads, backward_nfe = {}, {}
    for backend in BACKENDS:
        ode = NeuralODE(TinyField(), backend=backend, rtol=1e-10, atol=1e-12)
        ode(y0).pow(2).sum().backward()
        grads[backend] = torch.cat([p.grad.flatten() for p in ode.parameters()])
        backward_nfe[backend] = ode.nfe_backward
    assert backward_nfe["torchdiffeq_adjoint"] > 0 and backward_nfe["torchdiffeq"] == backward_nfe["sciml"] == 0
    for backend in ("torchdiffeq", "torchdiffeq_adjoint"):
        assert torch.allclose(grads[backend], grads["sciml"], rtol=1e-6, atol=1e-9), backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_blow_up_raises_solver_error_with_time_and_advice(backend):
    problem = QuadraticBlowUp()  # y' = y^2 explodes at t = 1
    func = LinearField(torch.eye(1, dtype=F64))

    class Square(nn.Module):
        def forward(self, t, y):
            return func(t, y) * y

    ode = NeuralODE(Square(), backend=backend, rtol=1e-6, atol=1e-8, t_span=(0.0, 2.0), max_steps=200)
    with pytest.raises(SolverError) as info:
        ode(problem.y0[None])
    message = str(info.value)
    assert "\n" not in message and "loosen rtol/atol" in message
    reached = float(re.search(r"t=([0-9.e+-]+)", message).group(1))
    assert 0.9 < reached <= 1.0 + 1e-6  # it got close to the singularity, not past it


def test_unknown_names_list_the_valid_ones():
    field = MLPVectorField(2, 4)
    with pytest.raises(UnknownNameError, match="valid names: sciml, torchdiffeq, torchdiffeq_adjoint"):
        NeuralODE(field, backend="diffrax")
    with pytest.raises(UnknownNameError, match="valid names: bs3, dopri5, euler, rk4$"):
        NeuralODE(field, backend="torchdiffeq", method="tsit5")
    with pytest.raises(UnknownNameError, match="bs3, dopri5, euler, rk4, tsit5"):
        NeuralODE(field, method="dopri8")
    with pytest.raises(ConfigError, match="step_size"):
        NeuralODE(field, method="rk4")
    with pytest.raises(ConfigError, match="nn.Module"):
        NeuralODE(lambda t, y: -y, backend="torchdiffeq_adjoint")


@pytest.mark.parametrize("backend", ["sciml", "torchdiffeq"])
def test_fixed_step_rk4_counts(backend):
    problem = LinearSystem()
    ode = NeuralODE(LinearField(problem.a), backend=backend, method="rk4", step_size=0.1, t_span=(0.0, 1.0))
    y1 = ode(problem.y0[None])
    exact = problem.exact(torch.tensor([1.0], dtype=F64))
    assert float((y1 - exact).abs().max()) < 5e-5  # rk4 at h = 0.1, |lambda| = 2: measured 1.6e-5
    assert ode.last_stats.n_accepted == 10 and ode.last_stats.n_rejected == 0
    assert ode.last_stats.nfe in (40, 41)  # 4 stages per step (+ the final FSAL-free evaluation in sciml)


def test_mlp_vector_field_time_dependence():
    torch.manual_seed(0)
    field = MLPVectorField(3, hidden=8, depth=2, time_dependent=True)
    y = torch.randn(4, 3)
    with torch.no_grad():
        a, b = field(torch.tensor(0.0), y), field(torch.tensor(1.0), y)
    assert a.shape == (4, 3) and float((a - b).abs().max()) > 1e-4
    autonomous = MLPVectorField(3, hidden=8)
    assert torch.equal(autonomous(torch.tensor(0.0), y), autonomous(torch.tensor(1.0), y))


def test_copies_and_pickles_drop_the_last_solve_records():
    import copy
    import io

    ode = NeuralODE(TinyField(), rtol=1e-5, atol=1e-7)
    y0 = torch.tensor([[0.5, -0.2]], dtype=F64)
    reference = ode(y0)
    assert ode.last_stats.error_estimate.requires_grad  # the records are inside the graph
    clone = copy.deepcopy(ode)
    assert clone.last_stats is None and ode.last_stats is not None
    buffer = io.BytesIO()
    torch.save(ode, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert loaded.last_stats is None
    for other in (clone, loaded):
        assert torch.allclose(other(y0), reference, rtol=0, atol=0)
