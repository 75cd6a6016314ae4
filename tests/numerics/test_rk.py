"""The instrumented Runge-Kutta integrator: orders, accuracy, statistics, gradients, failures."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torchdiffeq

from sciml.core.errors import ShapeError, UnknownNameError
from sciml.numerics import (
    DOPRI5,
    TABLEAUS,
    SolverError,
    get_tableau,
    initial_step_size,
    odeint,
    rk_step,
    scaled_error_norm,
    stiffness_estimate,
)
from tests.problems import (
    ExponentialDecay,
    HarmonicOscillator,
    LinearSystem,
    QuadraticBlowUp,
    ode_problems,
)

F64 = torch.float64
EPS = torch.finfo(F64).eps
ADAPTIVE = ("dopri5", "tsit5", "bs3")


def _fitted_order(step_sizes, errors) -> float:
    """Slope of log(error) against log(step size), least squares."""
    return float(np.polyfit(np.log(step_sizes), np.log(errors), 1)[0])


# Steps per unit time: in the asymptotic regime for the linear system, above round-off.
STEP_COUNTS = {1: [128, 256, 512, 1024], 2: [16, 32, 64, 128], 3: [16, 32, 64, 128]}
STEP_COUNTS |= {4: [16, 32, 64, 128], 5: [16, 32, 64, 128]}


def _methods_and_embedded():
    methods = []
    for tableau in TABLEAUS.values():
        methods.append(pytest.param(tableau, id=tableau.name))
        if tableau.is_adaptive:
            embedded = tableau.embedded()
            methods.append(pytest.param(embedded, id=embedded.name))
    return methods


@pytest.mark.parametrize("tableau", _methods_and_embedded())
def test_fixed_step_convergence_order(tableau):
    problem = LinearSystem()
    t = torch.tensor([0.0, 1.0], dtype=F64)
    exact = problem.exact(t)[-1]
    counts = STEP_COUNTS[tableau.order]
    errors = []
    for n_steps in counts:
        ys, stats = odeint(problem.rhs, problem.y0, t, method=tableau, step_size=1.0 / n_steps)
        assert stats.n_accepted == n_steps and stats.n_rejected == 0
        errors.append(float((ys[-1] - exact).norm()))
    order = _fitted_order(1.0 / np.array(counts), errors)
    print(f"{tableau.name}: fitted order {order:.3f} (nominal {tableau.order})")
    assert abs(order - tableau.order) < 0.2


@pytest.mark.parametrize("name", sorted(TABLEAUS))
def test_dense_output_local_order(name):
    # one step from the exact state; the output inside the step has local error
    # O(h^(dense_output_order + 1)) from the interpolant (the step itself is more accurate)
    tableau = get_tableau(name)
    problem = LinearSystem()
    step_sizes = np.array([0.1, 0.05, 0.025, 0.0125])
    errors = []
    for h in step_sizes:
        t = torch.tensor([0.0, 0.37 * h, h], dtype=F64)
        ys, stats = odeint(problem.rhs, problem.y0, t, method=name, step_size=h)
        assert stats.n_accepted == 1
        errors.append(float((ys[1] - problem.exact(t)[1]).norm()))
    expected = min(tableau.dense_output_order + 1, tableau.order + 1)
    assert abs(_fitted_order(step_sizes, errors) - expected) < 0.2


@pytest.mark.parametrize("problem_name", ["linear_system", "harmonic_oscillator"])
def test_adaptive_dopri5_agrees_with_torchdiffeq_and_exact(problem_name):
    problem = ode_problems()[problem_name]
    t = torch.linspace(0.0, 10.0, 11, dtype=F64)
    exact = problem.exact(t)
    ys, stats = odeint(problem.rhs, problem.y0, t, method="dopri5", rtol=1e-6, atol=1e-8)

    peer_nfe = 0

    def counted_rhs(t, y):
        nonlocal peer_nfe
        peer_nfe += 1
        return problem.rhs(t, y)

    peer = torchdiffeq.odeint(counted_rhs, problem.y0, t, method="dopri5", rtol=1e-6, atol=1e-8)
    ours_error = float((ys - exact).abs().max())
    peer_error = float((peer - exact).abs().max())
    print(
        f"{problem_name}: nfe ours {stats.nfe} vs torchdiffeq {peer_nfe}; "
        f"max error ours {ours_error:.2e} vs torchdiffeq {peer_error:.2e}"
    )
    assert ours_error < 1e-6
    assert peer_error < 5e-6
    assert float((ys - peer).abs().max()) < 5e-6
    assert 0.75 < stats.nfe / peer_nfe < 1.4
    # FSAL accounting: f(t0), one probe of the initial-step heuristic, 6 per attempted step
    assert stats.nfe == 2 + 6 * (stats.n_accepted + stats.n_rejected)


# measured max error / rtol on the oscillator over [0, 5] for rtol in 1e-3..1e-8: dopri5 0.27-0.31,
# tsit5 0.10-0.25, bs3 3.3-3.4 (its error estimate is of order 2, it propagates the order-3 solution)
ERROR_PER_TOLERANCE = {"dopri5": 0.5, "tsit5": 0.5, "bs3": 4.0}


@pytest.mark.parametrize("method", ADAPTIVE)
@pytest.mark.parametrize("rtol", [1e-3, 1e-6])
def test_adaptive_error_is_of_the_order_of_the_tolerance(method, rtol):
    problem = HarmonicOscillator(frequency=2.0)
    t = torch.linspace(0.0, 5.0, 6, dtype=F64)
    ys, stats = odeint(problem.rhs, problem.y0, t, method=method, rtol=rtol, atol=rtol * 1e-2)
    error = float((ys - problem.exact(t)).abs().max())
    assert error < ERROR_PER_TOLERANCE[method] * rtol
    # the tolerance is not met by wasting steps: a 100x tighter one costs clearly more
    tighter, tighter_stats = odeint(problem.rhs, problem.y0, t, method=method, rtol=rtol / 100, atol=rtol * 1e-4)
    assert float((tighter - problem.exact(t)).abs().max()) < error / 10
    assert tighter_stats.n_accepted > 1.5 * stats.n_accepted


@pytest.mark.parametrize("method, rtol", [("dopri5", 1e-6), ("tsit5", 1e-6), ("bs3", 1e-4)])
def test_first_error_estimate_matches_hand_computation(method, rtol):
    tableau = get_tableau(method)
    problem = LinearSystem()
    atol, h = rtol * 1e-2, 0.05
    ys, stats = odeint(
        problem.rhs,
        problem.y0,
        torch.tensor([0.0, 0.5], dtype=F64),
        method=method,
        rtol=rtol,
        atol=atol,
        h0=h,
    )
    assert float(stats.t[0]) == 0.0 and float(stats.h[0]) == h

    a_matrix = np.array(problem.matrix)
    y0 = np.array(problem.initial)
    stages = []
    for i in range(tableau.stages):
        state = y0 + h * sum(tableau.a[i][j] * stages[j] for j in range(i))
        stages.append(a_matrix @ state)
    y1 = y0 + h * sum(b * k for b, k in zip(tableau.b, stages))
    local_error = h * sum(e * k for e, k in zip(tableau.b_error, stages))
    scale = atol + rtol * np.maximum(np.abs(y0), np.abs(y1))
    expected = np.sqrt(np.mean((local_error / scale) ** 2))
    assert 1e-3 < expected < 1.0, "the first step is accepted and its EEst is not trivial"
    # h sum_i b_error_i k_i cancels O(1) terms down to O(h^5): allow their round-off only
    roundoff = 16 * np.finfo(float).eps * h * sum(abs(e) * np.abs(k) for e, k in zip(tableau.b_error, stages))
    allowed = np.sqrt(np.mean((roundoff / scale) ** 2))
    assert allowed < 1e-6 * expected
    assert abs(float(stats.error_estimate[0]) - expected) < allowed


def test_error_estimates_of_accepted_steps_are_at_most_one():
    problem = HarmonicOscillator(frequency=2.0)
    ys, stats = odeint(problem.rhs, problem.y0, torch.linspace(0, 10, 3, dtype=F64), rtol=1e-5)
    assert stats.error_estimate.shape == (stats.n_accepted,)
    assert float(stats.error_estimate.max()) <= 1.0
    # the PI controller aims at EEst around (0.9)^(k/0.3)-ish, neither tiny nor at the edge
    assert 0.05 < float(stats.error_estimate.median()) < 0.9
    assert torch.allclose(stats.t[1:], stats.t[:-1] + stats.h[:-1], rtol=0, atol=1e-12)
    assert abs(float(stats.t[-1] + stats.h[-1]) - 10.0) < 1e-12


def _linear_solve(matrix, y0, **options):
    t = torch.tensor([0.0, 0.7, 1.5], dtype=F64)
    return odeint(lambda t, y: y @ matrix.T, y0, t, **options)


def test_gradcheck_fixed_steps_final_state_and_regularizers():
    problem = LinearSystem()
    matrix = problem.a.requires_grad_()
    y0 = problem.y0.requires_grad_()

    def outputs(matrix, y0):
        ys, stats = _linear_solve(matrix, y0, method="dopri5", step_size=0.25)
        assert stats.error_estimate.requires_grad and stats.stiffness_estimate.requires_grad
        return (
            ys[1:],
            (stats.error_estimate * stats.h).sum(),
            stats.stiffness_estimate.sum(),
        )

    # eps = 1e-5: EEst cancels O(1) stages to a small local error, so the round-off of a
    # finite difference with a smaller eps would exceed the tolerances below
    assert torch.autograd.gradcheck(outputs, (matrix, y0), eps=1e-5, atol=1e-8, rtol=1e-6)


def test_adaptive_gradient_matches_exact_and_finite_differences():
    problem = LinearSystem()
    base = problem.a
    options = dict(method="dopri5", rtol=1e-10, atol=1e-12)
    matrix = base.clone().requires_grad_()
    ys, _ = _linear_solve(matrix, problem.y0, **options)
    (gradient,) = torch.autograd.grad(ys[-1].sum(), matrix)

    exact_matrix = base.clone().requires_grad_()
    exact_final = torch.linalg.matrix_exp(1.5 * exact_matrix) @ problem.y0
    (exact_gradient,) = torch.autograd.grad(exact_final.sum(), exact_matrix)
    assert float((gradient - exact_gradient).abs().max()) < 1e-9

    eps = 1e-5
    finite_difference = torch.zeros_like(base)
    for index in np.ndindex(*base.shape):
        shift = torch.zeros_like(base)
        shift[index] = eps
        plus, _ = _linear_solve(base + shift, problem.y0, **options)
        minus, _ = _linear_solve(base - shift, problem.y0, **options)
        finite_difference[index] = (plus[-1].sum() - minus[-1].sum()) / (2 * eps)
    assert float((gradient - finite_difference).abs().max()) < 1e-8


def test_error_estimate_regularizer_gradient_in_adaptive_mode():
    # the recorded EEst stays in the graph: d sum(EEst h) / d matrix is finite and non-zero
    problem = LinearSystem()
    matrix = problem.a.requires_grad_()
    _, stats = _linear_solve(matrix, problem.y0, method="tsit5", rtol=1e-6, atol=1e-8)
    (gradient,) = torch.autograd.grad((stats.error_estimate * stats.h).sum(), matrix)
    assert torch.isfinite(gradient).all() and float(gradient.abs().max()) > 1e-3


def test_blow_up_raises_solver_error_with_the_time_reached():
    problem = QuadraticBlowUp()
    evaluations = 0

    def counted_rhs(t, y):
        nonlocal evaluations
        evaluations += 1
        return problem.rhs(t, y)

    with pytest.raises(SolverError, match="regularize the dynamics, loosen rtol/atol") as raised:
        odeint(counted_rhs, problem.y0, torch.tensor([0.0, 2.0], dtype=F64))
    # the step-size floor stops it near the singularity (measured 2114 evaluations), long
    # before the default max_steps=10000 (about 60000 evaluations) would
    assert evaluations < 3000
    message = str(raised.value)
    assert "\n" not in message and "step size" in message
    reached = float(re.search(r"at t=([0-9.e+-]+)", message).group(1))
    assert abs(reached - problem.blow_up_time) < 1e-5
    assert isinstance(raised.value, RuntimeError)


def test_max_steps_raises_solver_error_naming_time_and_step():
    problem = QuadraticBlowUp()
    with pytest.raises(SolverError, match="or raise max_steps") as raised:
        odeint(problem.rhs, problem.y0, torch.tensor([0.0, 2.0], dtype=F64), max_steps=30)
    reached = float(re.search(r"reached t=([0-9.e+-]+)", str(raised.value)).group(1))
    assert 0.5 < reached < 1.0
    with pytest.raises(SolverError, match="needs 2000 steps"):
        odeint(
            problem.rhs, problem.y0, torch.tensor([0.0, 2.0], dtype=F64), method="rk4", step_size=1e-3, max_steps=1000
        )


@pytest.mark.parametrize("method", ["dopri5", "tsit5"])
def test_stiffness_estimate_on_stiff_decay(method):
    rate = 1000.0
    tableau = get_tableau(method)
    problem = ExponentialDecay(rate=rate, initial=(1.0, -2.0))
    t = torch.tensor([0.0, 0.1], dtype=F64)
    ys, stats = odeint(problem.rhs, problem.y0, t, method=method)
    expected = rate * stats.h.abs() / tableau.real_stability_boundary
    # for a linear problem Shampine's quotient is exactly |lambda|; allow 10 %
    assert torch.allclose(stats.stiffness_estimate, expected, rtol=0.1, atol=0)
    # after the transient the step size is limited by stability: |h lambda| ~ boundary
    stiff_phase = stats.stiffness_estimate[stats.t > 0.02]
    assert stiff_phase.numel() > 20
    assert abs(float(stiff_phase.median()) - 1.0) < 0.1
    assert float(stats.stiffness_estimate[0]) < 0.2  # the transient is resolved accurately


def test_stiffness_estimate_is_small_on_a_non_stiff_problem():
    problem = HarmonicOscillator(frequency=2.0)
    _, stats = odeint(problem.rhs, problem.y0, torch.tensor([0.0, 3.0], dtype=F64))
    # Jacobian eigenvalues +-2i: rho = 2 exactly for this rotation
    expected = 2.0 * stats.h.abs() / DOPRI5.real_stability_boundary
    assert torch.allclose(stats.stiffness_estimate, expected, rtol=1e-8)
    assert float(stats.stiffness_estimate.max()) < 0.3


def test_rk_step_fsal_stage_and_error_vector():
    problem = LinearSystem()
    h = 0.02
    y_next, local_error, stages = rk_step(problem.rhs, 0.0, problem.y0, h, DOPRI5)
    assert len(stages) == 7
    # the FSAL stage is f(y_next) evaluated on the same numbers: equal to a few ulps of |f| ~ 1, 8 eps
    torch.testing.assert_close(stages[-1], problem.rhs(None, y_next), rtol=0, atol=8 * EPS)
    # y_next - local_error is the embedded solution
    embedded_next, none_error, _ = rk_step(problem.rhs, 0.0, problem.y0, h, DOPRI5.embedded())
    assert none_error is None
    # two sums of the same 7 stages with weights b and b - b_error: a few ulps of |y| ~ 1, 8 eps
    torch.testing.assert_close(y_next - local_error, embedded_next, rtol=0, atol=8 * EPS)
    exact = problem.exact(torch.tensor([0.0, h], dtype=F64))[-1]
    # the order-5 solution is much closer, so the estimate is close to the embedded error
    assert float((y_next - exact).norm()) < 0.05 * float((embedded_next - exact).norm())
    embedded_error = exact - embedded_next
    assert float((local_error - embedded_error).norm()) < 0.05 * float(embedded_error.norm())
    eest = scaled_error_norm(local_error, problem.y0, y_next, rtol=1e-6, atol=1e-8)
    assert eest.shape == () and float(eest) > 0
    assert stiffness_estimate(stages, h, get_tableau("bs3")) is None


def test_differentiable_step_size_in_rk_step():
    problem = ExponentialDecay(rate=1.0, initial=(1.0,))
    h = torch.tensor(0.2, dtype=F64, requires_grad=True)
    y_next, _, _ = rk_step(problem.rhs, 0.0, problem.y0, h, DOPRI5)
    (derivative,) = torch.autograd.grad(y_next.sum(), h)
    # y_next = R(-h) with dopri5's stability polynomial R(z) = sum_{k<=5} z^k/k! + z^6/600
    x = -0.2
    expected = -(1 + x + x**2 / 2 + x**3 / 6 + x**4 / 24 + 6 * x**5 / 600)
    # autograd through the stages vs the polynomial's derivative, values ~1: 8 eps
    assert abs(float(derivative) - expected) < 8 * EPS


def test_initial_step_size_follows_hairer_heuristic():
    problem = ExponentialDecay(rate=1.0, initial=(1.0,))
    rtol, atol = 1e-6, 1e-8
    h = initial_step_size(problem.rhs, 0.0, problem.y0, 4, rtol, atol)
    # d0 = d1 = 1/sc, h0 = 0.01; probe f1 = -0.99, d2 = 0.01/(sc h0) -> h1 = (0.01/d1)^(1/5)
    scale = atol + rtol
    # the same formula up to the order of a few operations on h ~ 0.05: 4 eps
    assert abs(h - (0.01 * scale) ** 0.2) < 4 * EPS
    assert h < 100 * 0.01


@pytest.mark.parametrize("method", ["dopri5", "bs3"])
def test_backward_in_time(method):
    problem = LinearSystem()
    t_forward = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    exact = problem.exact(t_forward)
    ys, stats = odeint(problem.rhs, exact[-1], t_forward.flip(0), method=method, rtol=1e-8)
    assert float((ys - exact.flip(0)).abs().max()) < 1e-7
    assert bool((stats.h < 0).all())
    # the first step starts at t[0] = 1.0 itself: 4 eps allows a rounded copy only
    assert abs(float(stats.t[0]) - 1.0) < 4 * EPS


def test_batched_state_shares_one_step_size():
    problem = LinearSystem()
    batch = torch.stack([problem.y0, -2 * problem.y0, problem.y0.flip(0)]).reshape(3, 1, 3)
    t = torch.linspace(0.0, 2.0, 5, dtype=F64)
    ys, stats = odeint(problem.rhs, batch, t, rtol=1e-8, atol=1e-10)
    assert ys.shape == (5, 3, 1, 3)
    propagators = torch.linalg.matrix_exp(t[:, None, None] * problem.a)
    exact = torch.einsum("tij,bkj->tbki", propagators, batch)
    assert float((ys - exact).abs().max()) < 1e-7
    assert stats.error_estimate.shape == stats.h.shape == (stats.n_accepted,)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("dtype, rtol, tolerance", [(torch.float32, 1e-5, 2e-5), (torch.float64, 1e-8, 1e-7)])
def test_device_and_dtype_are_kept(device, dtype, rtol, tolerance):
    problem = LinearSystem(dtype=dtype, device=device)
    t = torch.linspace(0.0, 2.0, 5, dtype=dtype, device=device)
    y0 = problem.y0.requires_grad_()
    ys, stats = odeint(problem.rhs, y0, t, rtol=rtol, atol=rtol * 1e-2)
    assert ys.device == y0.device and ys.dtype == dtype
    for series in (stats.t, stats.h, stats.error_estimate, stats.stiffness_estimate):
        assert series.device == y0.device and series.dtype == dtype
    assert float((ys.detach() - problem.exact(t)).abs().max()) < tolerance
    (gradient,) = torch.autograd.grad(ys[-1].sum() + (stats.error_estimate * stats.h).sum(), y0)
    assert gradient.device == y0.device and bool(torch.isfinite(gradient).all())
    # fixed steps with Hermite output between the grid points
    fixed, fixed_stats = odeint(problem.rhs, y0, t, method="rk4", step_size=0.03)
    assert fixed.device == y0.device and fixed_stats.h.device == y0.device
    assert float((fixed.detach() - problem.exact(t)).abs().max()) < max(tolerance, 1e-6)


def test_fixed_step_outputs_between_grid_points_and_nfe():
    problem = LinearSystem()
    t = torch.tensor([0.0, 0.3, 1.0], dtype=F64)
    ys, stats = odeint(problem.rhs, problem.y0, t, method="rk4", step_size=0.3)
    assert stats.n_accepted == 4 and torch.allclose(stats.h, torch.full((4,), 0.25, dtype=F64))
    assert stats.error_estimate is None
    # 4 stages per step; the Hermite output at t=0.3 needs f at the end of step 2, which is
    # then reused as the first stage of step 3
    assert stats.nfe == 16
    # rk4 with h = 0.25 on this system: global error about 7e-4 at t=1
    assert float((ys - problem.exact(t)).abs().max()) < 1e-3


def test_record_false_keeps_counts_only():
    problem = LinearSystem()
    t = torch.tensor([0.0, 1.0], dtype=F64)
    ys, stats = odeint(problem.rhs, problem.y0, t, record=False)
    recorded, recorded_stats = odeint(problem.rhs, problem.y0, t)
    assert stats.t is None and stats.error_estimate is None and stats.stiffness_estimate is None
    assert stats.nfe == recorded_stats.nfe > 0
    torch.testing.assert_close(ys, recorded, rtol=0, atol=0)
    summary = recorded_stats.summary()
    assert summary["n_accepted"] == recorded_stats.n_accepted
    assert summary["max_error_estimate"] <= 1.0


def test_invalid_arguments_raise_clear_errors():
    problem = LinearSystem()
    t = torch.tensor([0.0, 1.0], dtype=F64)
    with pytest.raises(UnknownNameError, match="valid names"):
        odeint(problem.rhs, problem.y0, t, method="rk45")
    with pytest.raises(ValueError, match="pass step_size="):
        odeint(problem.rhs, problem.y0, t, method="rk4")
    with pytest.raises(ValueError, match="strictly increasing or strictly decreasing"):
        odeint(problem.rhs, problem.y0, torch.tensor([0.0, 1.0, 0.5], dtype=F64))
    with pytest.raises(ShapeError, match=r"shape \(1, 3\) for a state of shape \(3,\)"):
        odeint(lambda t, y: problem.rhs(t, y)[None], problem.y0, t)
    with pytest.raises(SolverError, match="not finite at t=0"):
        odeint(lambda t, y: y / 0.0, problem.y0, t)
    ys, stats = odeint(problem.rhs, problem.y0, t[:1])
    assert ys.shape == (1, 3) and stats.nfe == 0
