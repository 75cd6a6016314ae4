"""Regularizers: values against independent computations, gradients three ways, sampling, errors.

Gradients are checked (1) by ``torch.autograd.gradcheck`` in float64, (2) adjoint against
direct backpropagation, (3) against central finite differences. gradcheck and the global
regularizers use fixed steps: with adaptive steps, the step sizes are chosen from detached
error estimates (discretize-then-optimize treats them as constants), so a finite difference
would also see the controller move the steps and measure a different derivative.
"""

from __future__ import annotations

import math
from fractions import Fraction as F

import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError, UnknownNameError
from sciml.nde import (
    STEER,
    GlobalErrorRegularizer,
    GlobalStiffnessRegularizer,
    LocalErrorRegularizer,
    NeuralODE,
    build_regularizer,
)
from sciml.numerics import DOPRI5
from tests.nde.test_node import LinearField, TinyField
from tests.problems import LinearSystem

F64 = torch.float64
BACKENDS = ("sciml", "torchdiffeq", "torchdiffeq_adjoint")


def _tiny_params(seed: int = 0) -> tuple[torch.Tensor, ...]:
    return tuple(p.detach().clone().requires_grad_(True) for p in TinyField(seed=seed).parameters())


def _tiny(params):
    w1, b1, w2, b2 = params
    return lambda t, y: torch.tanh(y @ w1.T + b1) @ w2.T + b2


def _y0(requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor([[0.5, -0.3], [-0.2, 0.8]], dtype=F64, requires_grad=requires_grad)


def _grad_vector(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in module.parameters()])


# ----------------------------------------------------------------- values
def test_recorded_eest_equals_independent_computation_from_the_tableau():
    problem = LinearSystem()
    rtol, atol = 1e-5, 1e-8
    ode = NeuralODE(LinearField(problem.a), rtol=rtol, atol=atol)
    ode(problem.y0[None])
    stats = ode.last_stats
    h = float(stats.h[0])
    # Dormand & Prince (1980): 5th-order weights b and embedded 4th-order weights b_hat
    b = [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0]
    b_hat = [F(5179, 57600), 0, F(7571, 16695), F(393, 640), F(-92097, 339200), F(187, 2100), F(1, 40)]
    # the difference in exact arithmetic: y1 - y1_hat in floats would cancel ~9 digits
    error_weights = np.array([float(high - low) for high, low in zip(b, b_hat)])
    b = np.array([float(value) for value in b])
    a_matrix, y0 = problem.a.numpy(), problem.y0.numpy()
    stages = []
    for i in range(7):
        state = y0 + h * sum(DOPRI5.a[i][j] * stages[j] for j in range(i))
        stages.append(a_matrix @ state)
    stages = np.array(stages)
    y1, local_error = y0 + h * b @ stages, h * error_weights @ stages
    scale = atol + rtol * np.maximum(np.abs(y0), np.abs(y1))
    eest = math.sqrt(np.mean((local_error / scale) ** 2))
    assert float(stats.error_estimate[0]) == pytest.approx(eest, rel=1e-10)
    assert 1e-5 < eest <= 1.0  # Hairer's first step is cautious (measured EEst 1.1e-4), but not degenerate
    # the global regularizer is built from exactly these numbers
    expected = float((stats.error_estimate * stats.h.abs()).sum())
    assert float(GlobalErrorRegularizer(weight=1.0)(ode)) == pytest.approx(expected, rel=1e-14)
    mean_squared = float((stats.error_estimate**2 * stats.h.abs()).mean())
    squared = GlobalErrorRegularizer(weight=1.0, aggregate="mean", squared=True)
    assert float(squared(ode)) == pytest.approx(mean_squared, rel=1e-14)


def test_stiffness_regularizer_sees_the_eigenvalue():
    # y' = -lambda y: Shampine's estimate recovers rho = lambda exactly on a linear problem
    rate = 7.0
    ode = NeuralODE(LinearField(-rate * torch.eye(2, dtype=F64)), rtol=1e-6, atol=1e-9)
    ode(torch.tensor([[1.0, -2.0]], dtype=F64))
    boundary = DOPRI5.real_stability_boundary
    assert float(GlobalStiffnessRegularizer(aggregate="max")(ode)) == pytest.approx(rate / boundary, rel=1e-8)
    # the sum integrates rho / R over [0, 1]
    assert float(GlobalStiffnessRegularizer()(ode)) == pytest.approx(rate / boundary * 1.0, rel=1e-8)


def test_exponential_schedule_scales_the_term():
    ode = NeuralODE(TinyField(), rtol=1e-5, atol=1e-7)
    with torch.no_grad():
        ode(_y0())
    constant = GlobalErrorRegularizer(weight=2.0)
    annealed = GlobalErrorRegularizer(weight=2.0, schedule="exponential", decay=0.9)
    assert annealed.weight_at(10) == pytest.approx(2.0 * 0.9**10)
    assert float(annealed(ode, step=10)) == pytest.approx(0.9**10 * float(constant(ode, step=10)), rel=1e-12)
    assert float(GlobalErrorRegularizer(weight=0.0)(ode)) == 0.0


def test_unbiased_local_solve_leaves_the_output_unchanged():
    # t_reg is an extra output time: dense output, the steps and y(t1) stay the same
    for backend in BACKENDS:
        ode = NeuralODE(TinyField(), backend=backend, rtol=1e-6, atol=1e-8)
        plain = ode(_y0())
        nfe = ode.last_stats.nfe
        regularizer = LocalErrorRegularizer(weight=1.0, generator=torch.Generator().manual_seed(0))
        output, term = regularizer.solve(ode, _y0())
        assert torch.equal(output, plain), backend
        assert ode.last_stats.nfe == nfe
        assert 0.0 < regularizer.last_t_reg < 1.0 and float(term.detach()) > 0.0
        assert regularizer.last_nfe == 7 + 1  # dopri5 step (f0 + 6 stages) + the heuristic's probe


def test_biased_sampling_draws_accepted_step_times():
    ode = NeuralODE(TinyField(), backend="torchdiffeq", rtol=1e-6, atol=1e-8)
    regularizer = LocalErrorRegularizer(weight=1.0, sampling="biased", generator=torch.Generator().manual_seed(1))
    output, term = regularizer.solve(ode, _y0())
    stats = ode.last_stats
    assert torch.equal(output, ode(_y0()))
    # t_reg is one of the accepted times, converted float64 -> Python float: equal within 2 eps |t|
    assert any(
        abs(regularizer.last_t_reg - float(t)) <= 2 * torch.finfo(F64).eps * max(abs(float(t)), 1.0) for t in stats.t
    )
    # the second solve (to t_reg) is paid for by the regularizer, not reported as the model's NFE
    assert ode.last_stats.nfe == stats.nfe and regularizer.last_nfe > 8
    assert float(term.detach()) > 0


@pytest.mark.parametrize("adaptive", [False, True], ids=["fixed_steps", "adaptive"])
def test_biased_sampling_on_sciml_starts_from_the_recorded_state(adaptive):
    # the recorded start state of step j replaces the second solve from t0 to t_j
    if adaptive:
        ode, tolerance = NeuralODE(TinyField(), rtol=1e-10, atol=1e-12), 1e-6
    else:  # a second solve to t_j = j h retraces the same steps: equal to round-off
        ode, tolerance = NeuralODE(TinyField(), step_size=0.125, rtol=1e-3, atol=1e-4), 1e-12
    regularizer = LocalErrorRegularizer(
        weight=1.0, sampling="biased", rtol=1e-4, atol=1e-6, generator=torch.Generator().manual_seed(3)
    )
    plain = ode(_y0())
    model_nfe = ode.last_stats.nfe
    output, term = regularizer.solve(ode, _y0())
    stats = ode.last_stats
    assert torch.equal(output, plain) and stats.nfe == model_nfe
    assert stats.y.shape == (stats.n_accepted, 2, 2) and torch.equal(stats.y[0], _y0())
    # the overhead is one regularizing step: f0, the heuristic's probe and 6 more dopri5 stages
    assert regularizer.last_nfe == DOPRI5.stages + 1 == 8
    index = stats.t.tolist().index(regularizer.last_t_reg)
    assert float(term.detach()) == float(regularizer.step_penalty(ode, regularizer.last_t_reg, stats.y[index]).detach())
    assert term.requires_grad
    for j in range(1, stats.n_accepted):  # against the old path: a second solve to t_j
        t_j = float(stats.t[j])
        recorded = float(regularizer.step_penalty(ode, t_j, stats.y[j]).detach())
        second_solve = float(regularizer.penalty(ode, _y0(), t_reg=t_j).detach())
        assert regularizer.last_nfe > 8 + 6 * j  # the second solve costs at least 6 evaluations per step
        assert recorded == pytest.approx(second_solve, rel=tolerance), j


def test_steer_draws_end_times_in_training_only():
    ode = NeuralODE(TinyField(), rtol=1e-6, atol=1e-8, t_span=(0.0, 1.0))
    steer = STEER(half_width=0.3, generator=torch.Generator().manual_seed(0))
    ends = []
    for _ in range(20):
        output, term = steer.solve(ode, _y0())
        ends.append(steer.last_t_end)
        assert float(term.detach()) == 0.0
    assert min(ends) >= 0.7 and max(ends) <= 1.3 and max(ends) - min(ends) > 0.2
    assert torch.allclose(output, ode.solve(_y0(), torch.tensor([0.0, ends[-1]], dtype=F64))[-1], atol=1e-12)
    ode.eval()
    output, _ = steer.solve(ode, _y0())
    assert torch.equal(output, ode(_y0()))
    with pytest.raises(ConfigError, match="smaller than the last interval"):
        STEER(half_width=1.5).solve(ode.train(), _y0())


def test_regularizer_errors_are_clear():
    ode = NeuralODE(TinyField(), backend="torchdiffeq")
    ode(_y0())
    with pytest.raises(ConfigError, match="backend='sciml'"):
        GlobalErrorRegularizer()(ode)
    bs3 = NeuralODE(TinyField(), method="bs3")
    bs3(_y0())
    with pytest.raises(ConfigError, match="bs3 has no stage pair"):
        GlobalStiffnessRegularizer()(bs3)
    with pytest.raises(
        UnknownNameError,
        match="valid names: global_error, global_stiffness, local_error, sde_global_error, sde_local_error, steer, none",
    ):
        build_regularizer("local")
    with pytest.raises(ConfigError, match="schedule"):
        LocalErrorRegularizer(schedule="cosine")
    built = build_regularizer({"name": "local_error", "weight": 3.0, "sampling": "biased"})
    assert isinstance(built, LocalErrorRegularizer) and built.weight == 3.0 and built.sampling == "biased"
    assert build_regularizer("none") is None


# ----------------------------------------------------------------- gradients: gradcheck
def _fixed_step_ode(params):
    return NeuralODE(_tiny(params), step_size=0.25, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    "regularizer",
    [
        GlobalErrorRegularizer(weight=1.0),
        GlobalErrorRegularizer(weight=1.0, aggregate="mean", squared=True),
        GlobalStiffnessRegularizer(weight=1.0),
        GlobalStiffnessRegularizer(weight=1.0, aggregate="max"),
    ],
    ids=["error_sum", "error_mean_squared", "stiffness_sum", "stiffness_max"],
)
def test_global_regularizers_gradcheck(regularizer):
    def term(y0, *params):
        ode = _fixed_step_ode(params)
        return regularizer.solve(ode, y0)[1]

    inputs = (_y0(requires_grad=True), *_tiny_params())
    assert float(term(*inputs).detach()) > 0
    assert torch.autograd.gradcheck(term, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_local_regularizer_gradcheck():
    def term(y0, *params):
        ode = _fixed_step_ode(params)
        return LocalErrorRegularizer(weight=1.0, step_size=0.1)(ode, y0, t_reg=0.37)

    def solve_and_term(y0, *params):  # the training path: t_reg drawn by a seeded generator
        ode = _fixed_step_ode(params)
        regularizer = LocalErrorRegularizer(weight=1.0, step_size=0.1, generator=torch.Generator().manual_seed(5))
        output, value = regularizer.solve(ode, y0)
        return output.sum() + 100.0 * value

    def solve_and_biased_term(y0, *params):  # the term starts from a recorded state of the solve
        ode = _fixed_step_ode(params)
        regularizer = LocalErrorRegularizer(
            weight=1.0, sampling="biased", step_size=0.1, generator=torch.Generator().manual_seed(3)
        )
        output, value = regularizer.solve(ode, y0)
        assert regularizer.last_t_reg > 0.0 and regularizer.last_nfe == 7  # f0 + 6 stages with a fixed h
        return output.sum() + 100.0 * value

    inputs = (_y0(requires_grad=True), *_tiny_params())
    assert float(term(*inputs).detach()) > 0
    assert torch.autograd.gradcheck(term, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)
    assert torch.autograd.gradcheck(solve_and_term, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)
    assert torch.autograd.gradcheck(solve_and_biased_term, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


# ----------------------------------------------------------------- gradients: adjoint vs direct
def test_local_regularizer_adjoint_matches_direct_backprop():
    y0 = _y0()
    grads, values = {}, {}
    for backend in BACKENDS:
        ode = NeuralODE(TinyField(), backend=backend, rtol=1e-10, atol=1e-12)
        # the regularizer's own tolerances: at the solve's 1e-10 its step would measure roundoff
        regularizer = LocalErrorRegularizer(
            weight=1.0, rtol=1e-4, atol=1e-6, generator=torch.Generator().manual_seed(2)
        )
        output, term = regularizer.solve(ode, y0)
        (output.pow(2).sum() + 1e3 * term).backward()
        grads[backend], values[backend] = _grad_vector(ode), float(term.detach())
    assert values["torchdiffeq_adjoint"] == pytest.approx(values["sciml"], rel=1e-6)
    for backend in ("torchdiffeq", "torchdiffeq_adjoint"):
        assert torch.allclose(grads[backend], grads["sciml"], rtol=1e-5, atol=1e-8), backend
    assert float(grads["sciml"].abs().max()) > 1e-3


# ----------------------------------------------------------------- gradients: finite differences
@pytest.mark.parametrize("backend", ["sciml", "torchdiffeq_adjoint"])
def test_local_regularizer_matches_finite_differences(backend):
    # adaptive solve to t_reg at tight tolerance; fixed h for the regularizing step
    regularizer = LocalErrorRegularizer(weight=1.0, step_size=0.1)
    field = TinyField()
    ode = NeuralODE(field, backend=backend, rtol=1e-11, atol=1e-13)
    y0 = _y0()
    regularizer(ode, y0, t_reg=0.6).backward()
    direction = [
        torch.randn(p.shape, generator=torch.Generator().manual_seed(i), dtype=F64)
        for i, p in enumerate(field.parameters())
    ]
    analytic = sum(float((p.grad * d).sum()) for p, d in zip(field.parameters(), direction))
    eps = 1e-5
    values = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            for p, d in zip(field.parameters(), direction):
                p.add_(sign * eps * d)
            values.append(float(regularizer(ode, y0, t_reg=0.6)))
            for p, d in zip(field.parameters(), direction):
                p.sub_(sign * eps * d)
    numeric = (values[0] - values[1]) / (2 * eps)
    assert abs(analytic) > 1e-4
    assert analytic == pytest.approx(numeric, rel=1e-5)


def test_inserting_a_time_that_rounds_onto_an_existing_float32_time_keeps_times_strictly_increasing():
    from sciml.nde._regularizers import _insert_time

    times = torch.linspace(0, 2, 21, dtype=torch.float32)
    for k in range(41):
        merged, index, added = _insert_time(times, 0.05 * k)
        assert bool((merged[1:] > merged[:-1]).all()), k
        assert abs(float(merged[index]) - 0.05 * k) < 1e-6
        assert added == (k % 2 == 1)
