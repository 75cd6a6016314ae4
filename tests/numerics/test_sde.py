"""The instrumented SDE solver: strong orders, adaptivity, records, the Brownian path, gradients, failures.

Geometric Brownian motion ``dy = mu y dt + sigma y dW`` has the exact solution
``y0 exp((mu - sigma**2 / 2) t + sigma W_t)`` on the same Brownian path, and ``g g' = sigma**2 y``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torchsde

from sciml.core.errors import ShapeError, UnknownNameError
from sciml.numerics import SDE_METHODS, SolverError, milstein_step, sdeint

F64 = torch.float64
EPS = torch.finfo(F64).eps
MU, SIGMA = 0.5, 0.8


def drift(t, y):
    return MU * y


def diffusion(t, y):
    return SIGMA * y


def _brownian(paths: int, entropy: int, t1: float = 1.0) -> torchsde.BrownianInterval:
    return torchsde.BrownianInterval(t0=0.0, t1=t1, size=(paths, 1), dtype=F64, entropy=entropy)


def _exact(y0: torch.Tensor, bm, t: float) -> torch.Tensor:
    return y0 * torch.exp(torch.tensor((MU - SIGMA**2 / 2) * t, dtype=F64) + SIGMA * bm(0.0, t))


def _times(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


@pytest.mark.parametrize("method", ["euler", "milstein", "milstein_em"])
def test_fixed_step_strong_order_on_geometric_brownian_motion(method):
    y0 = torch.ones(2000, 1, dtype=F64)
    bm = _brownian(2000, entropy=7)
    exact = _exact(y0, bm, 1.0)
    step_sizes = [2.0**-k for k in range(3, 8)]
    errors = []
    with torch.no_grad():
        for dt in step_sizes:
            ys, stats = sdeint(drift, diffusion, y0, _times(0.0, 1.0), bm, method=method, adaptive=False, dt=dt)
            errors.append(float((ys[-1] - exact).abs().mean()))
            assert stats.n_steps == round(1 / dt) and stats.n_rejected == 0
            assert stats.nfe_drift == stats.nfe_diffusion == stats.n_steps
    fitted = float(np.polyfit(np.log(step_sizes), np.log(errors), 1)[0])
    # measured: euler 0.49, milstein 0.96
    assert abs(fitted - SDE_METHODS[method].strong_order) < 0.15, (fitted, errors)


def test_adaptive_error_falls_and_nfe_rises_as_rtol_falls():
    y0 = torch.ones(256, 1, dtype=F64)
    bm = _brownian(256, entropy=3)
    exact = _exact(y0, bm, 1.0)
    errors, nfes = [], []
    with torch.no_grad():
        for tolerance in (1e-1, 1e-2, 1e-3):
            ys, stats = sdeint(drift, diffusion, y0, _times(0.0, 0.5, 1.0), bm, rtol=tolerance, atol=tolerance)
            errors.append(float((ys[-1] - exact).abs().mean()))
            nfes.append(stats.nfe)
            assert bool((stats.error_estimate <= 1.0).all())
            assert stats.nfe == 2 * stats.n_accepted  # one drift and one diffusion evaluation per accepted step
    # measured: errors 0.12, 0.018, 0.0021 at NFE 8, 62, 590
    assert errors[1] < 0.3 * errors[0] and errors[2] < 0.3 * errors[1], errors
    assert nfes[0] < nfes[1] < nfes[2], nfes


def test_recorded_first_eest_equals_a_hand_computation():
    y0 = torch.tensor([[1.0], [2.0], [0.5]], dtype=F64)
    bm = _brownian(3, entropy=11)
    rtol, atol, h = 1e-2, 1e-3, 0.05
    _, stats = sdeint(drift, diffusion, y0, _times(0.0, 1.0), bm, rtol=rtol, atol=atol, dt0=h)
    assert float(stats.t[0]) == 0.0
    # by hand: Milstein minus Euler-Maruyama is 0.5 sigma^2 y (dW^2 - h) for GBM
    y, dW = y0.numpy(), bm(0.0, float(stats.h[0])).numpy()
    step = float(stats.h[0])
    correction = 0.5 * SIGMA**2 * y * (dW**2 - step)
    y1 = y + MU * y * step + SIGMA * y * dW + correction
    eest = math.sqrt(np.mean((correction / (atol + rtol * np.maximum(np.abs(y), np.abs(y1)))) ** 2))
    assert float(stats.error_estimate[0].detach()) == pytest.approx(eest, rel=1e-12)
    if stats.n_rejected == 0:
        assert step == h
    # the default first step: expected EEst about 1/2 from g g' at t0
    _, stats = sdeint(drift, diffusion, y0, _times(0.0, 1.0), bm, rtol=rtol, atol=atol)
    d = np.sqrt(np.mean((0.5 * math.sqrt(2) * SIGMA**2 * y / (atol + rtol * np.abs(y))) ** 2))
    assert stats.n_rejected > 0 or float(stats.h[0]) == pytest.approx(0.5 / d, rel=1e-12)


def test_steps_land_on_every_output_time_and_solutions_are_reproducible():
    y0 = torch.ones(8, 1, dtype=F64)
    bm = _brownian(8, entropy=5)
    times = _times(0.0, 0.13, 0.4, 0.77, 1.0)
    with torch.no_grad():
        ys, stats = sdeint(drift, diffusion, y0, times, bm, rtol=1e-3, atol=1e-3)
        again, stats_again = sdeint(drift, diffusion, y0, times, bm, rtol=1e-3, atol=1e-3)
        other, _ = sdeint(drift, diffusion, y0, times, _brownian(8, entropy=6), rtol=1e-3, atol=1e-3)
    starts = stats.t.tolist()
    assert all(float(t) in starts for t in times[:-1])  # the step after each output time starts exactly there
    # the last step ends on t = 1 up to one rounding (4 eps); the sum of the steps adds one rounding
    # per step (tens of steps: 64 eps); a rerun on the same path repeats the arithmetic (4 eps)
    assert float((stats.t[-1] + stats.h[-1]).detach()) == pytest.approx(1.0, abs=4 * EPS)
    assert float(stats.h.sum()) == pytest.approx(1.0, abs=64 * EPS)
    assert torch.allclose(again, ys, rtol=4 * EPS, atol=0) and stats_again.nfe == stats.nfe
    assert float((other[-1] - ys[-1]).abs().max()) > 1e-2


class _RecordingBrownian:
    """A BrownianInterval that logs every query ``(ta, tb, W)``."""

    def __init__(self, bm):
        self.bm, self.queries = bm, []

    def __call__(self, ta, tb):
        increment = self.bm(ta, tb)
        self.queries.append((ta, tb, increment))
        return increment


def test_rejected_steps_do_not_change_the_brownian_path():
    bm = _RecordingBrownian(_brownian(4, entropy=21))
    y0 = torch.ones(4, 1, dtype=F64)
    # a first step 50x too large is rejected and retried on sub-intervals of the same path
    _, stats = sdeint(drift, diffusion, y0, _times(0.0, 1.0), bm, rtol=1e-3, atol=1e-3, dt0=0.5)
    assert stats.n_rejected >= 2 and len(bm.queries) == stats.n_accepted + stats.n_rejected
    accepted = []  # the last query from each accepted step's start is the accepted one
    for start in stats.t.tolist():
        accepted.append([q for q in bm.queries if q[0] == start][-1])
    for (_, tb, _), (ta, _, _) in zip(accepted[:-1], accepted[1:]):
        assert tb == ta  # the accepted steps tile [0, 1]
    total = sum(q[2] for q in accepted)
    assert torch.allclose(total, bm.bm(0.0, 1.0), rtol=0, atol=1e-12)
    # and the path is the one a fresh interval of the same seed gives, whatever the queries were
    assert torch.allclose(total, _brownian(4, entropy=21)(0.0, 1.0), rtol=0, atol=1e-12)


def test_fixed_step_gradcheck_in_float64():
    bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(2, 2), dtype=F64, entropy=1)
    y0 = torch.tensor([[0.4, -0.7], [1.1, 0.3]], dtype=F64)

    def solve(weight, bias, noise):
        f = lambda t, y: torch.tanh(y @ weight.T + bias)  # noqa: E731
        g = lambda t, y: torch.nn.functional.softplus(noise[0] * y + noise[1])  # noqa: E731  (diagonal)
        ys, stats = sdeint(f, g, y0, _times(0.0, 0.5, 1.0), bm, adaptive=False, dt=0.125, rtol=1e-2, atol=1e-2)
        return ys[1:], stats.error_estimate

    generator = torch.Generator().manual_seed(0)
    params = (
        0.5 * torch.randn(2, 2, generator=generator, dtype=F64),
        0.1 * torch.randn(2, generator=generator, dtype=F64),
        torch.tensor([0.6, -0.2], dtype=F64),
    )
    params = tuple(p.requires_grad_(True) for p in params)
    _, errors = solve(*params)
    assert errors.shape == (8,) and float(errors.detach().min()) > 0
    assert torch.autograd.gradcheck(solve, params, eps=1e-6, atol=1e-8, rtol=1e-6)


def test_milstein_step_is_the_analytic_correction():
    y = torch.tensor([[1.0, 2.0], [0.5, -1.5]], dtype=F64)
    dW = torch.tensor([[0.15, -0.05], [0.02, 0.3]], dtype=F64)
    y_next, error = milstein_step(drift, diffusion, 0.0, y, 0.01, dW)
    analytic = 0.5 * SIGMA**2 * y * (dW**2 - 0.01)
    # the same few products in another order (and g g' by autograd): 32 eps relative
    assert torch.allclose(error, analytic, rtol=32 * EPS, atol=0)
    assert torch.allclose(y_next, y + MU * y * 0.01 + SIGMA * y * dW + analytic, rtol=32 * EPS, atol=0)


def test_additive_noise_with_fixed_steps():
    # Ornstein-Uhlenbeck with a [dim, m] noise matrix: Milstein equals Euler-Maruyama, EEst is 0
    matrix = torch.tensor([[0.3, 0.0, 0.1], [0.0, 0.2, 0.4]], dtype=F64)
    bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(5, 3), dtype=F64, entropy=2)
    y0 = torch.ones(5, 2, dtype=F64)
    args = (lambda t, y: -y, lambda t, y: matrix.expand(5, 2, 3), y0, _times(0.0, 1.0), bm)
    euler, stats = sdeint(*args, method="euler", noise_type="additive", adaptive=False, dt=0.1)
    milstein, _ = sdeint(*args, method="milstein", noise_type="additive", adaptive=False, dt=0.1)
    assert torch.equal(euler, milstein) and float(stats.error_estimate.abs().max()) == 0.0
    # the last step: y + f h + G dW
    with pytest.raises(ValueError, match="use adaptive=False"):
        sdeint(*args, noise_type="additive")


def test_blow_up_raises_solver_error_with_the_time_reached():
    # dy = y^2 dt + 0.5 y dW from y0 = 1 explodes near t = 1. The pair measures the noise's
    # error only, relative to |y|: the solver follows the explosion until the state overflows
    # (measured: at t = 3 the state is 3e124), then every retry overflows and h reaches dt_min.
    f, g = (lambda t, y: y * y), (lambda t, y: 0.5 * y)
    y0 = torch.ones(1, 1, dtype=F64)
    bm = _brownian(1, entropy=0, t1=10.0)
    with pytest.raises(SolverError, match="regularize the dynamics, loosen rtol/atol") as raised:
        sdeint(f, g, y0, _times(0.0, 10.0), bm, rtol=1e-3, atol=1e-3)
    message = str(raised.value)
    assert "\n" not in message and "step size" in message and "dt_min" in message
    reached = float(re.search(r"at t=([0-9.e+-]+)", message).group(1))
    assert 0.5 < reached < 10.0
    with pytest.raises(SolverError, match="not finite") as raised:
        sdeint(f, g, y0, _times(0.0, 10.0), bm, adaptive=False, dt=0.01)
    assert "\n" not in str(raised.value)
    with pytest.raises(SolverError, match="or raise max_steps"):
        sdeint(drift, diffusion, y0, _times(0.0, 10.0), bm, rtol=1e-4, atol=1e-4, max_steps=20)


def test_argument_checks_name_the_fix():
    y0 = torch.ones(2, 1, dtype=F64)
    bm = _brownian(2, entropy=0)
    with pytest.raises(UnknownNameError, match="valid names: euler, milstein, milstein_em"):
        sdeint(drift, diffusion, y0, _times(0.0, 1.0), bm, method="srk")
    with pytest.raises(ValueError, match="use 'milstein_em' for adaptive steps"):
        sdeint(drift, diffusion, y0, _times(0.0, 1.0), bm, method="euler")
    with pytest.raises(ValueError, match="need a positive, finite dt"):
        sdeint(drift, diffusion, y0, _times(0.0, 1.0), bm, adaptive=False)
    with pytest.raises(ValueError, match="strictly increasing"):
        sdeint(drift, diffusion, y0, _times(1.0, 0.0), bm)
    with pytest.raises(ShapeError, match="Brownian motion has shape"):
        sdeint(drift, diffusion, torch.ones(3, 1, dtype=F64), _times(0.0, 1.0), bm)


def test_drift_error_adds_the_euler_trapezoid_difference():
    y0 = torch.tensor([[1.0], [2.0], [0.5]], dtype=F64)
    bm = _brownian(3, entropy=11)
    rtol, atol, h = 1e-2, 1e-3, 0.01
    _, stats = sdeint(drift, diffusion, y0, _times(0.0, 1.0), bm, rtol=rtol, atol=atol, dt0=h, drift_error=True)
    assert stats.n_rejected > 0 or float(stats.h[0]) == h
    step = float(stats.h[0])
    y, dW = y0.numpy(), bm(0.0, step).numpy()
    noise = 0.5 * SIGMA**2 * y * (dW**2 - step)
    y1 = y + MU * y * step + SIGMA * y * dW + noise
    drift_part = 0.5 * step * (MU * y1 - MU * y)  # Euler against the trapezoidal rule for the drift
    scale = atol + rtol * np.maximum(np.abs(y), np.abs(y1))
    eest = math.sqrt(np.mean((noise / scale) ** 2) + np.mean((drift_part / scale) ** 2))
    assert float(stats.error_estimate[0].detach()) == pytest.approx(eest, rel=1e-12)
    # the drift at a step's end is the next step's: one extra drift evaluation per rejection, one at the end
    assert stats.nfe_drift == stats.n_accepted + stats.n_rejected + 1 and stats.nfe_diffusion == stats.n_accepted


def test_drift_error_makes_additive_noise_adaptive():
    # Ornstein-Uhlenbeck dy = -3 y dt + 0.3 dW: the pair alone sees no error; the drift's error
    # controls the steps (measured: error 0.015, 0.0039, 0.00084 against a dt = 1e-4 solve)
    bm = _brownian(256, entropy=4)
    y0 = torch.ones(256, 1, dtype=F64)
    args = (lambda t, y: -3.0 * y, lambda t, y: torch.full_like(y, 0.3), y0, _times(0.0, 0.5, 1.0), bm)
    with torch.no_grad():
        reference, _ = sdeint(*args, method="euler", noise_type="additive", adaptive=False, dt=1e-4)
        errors, nfes = [], []
        for tolerance in (1e-2, 1e-3, 1e-4):
            ys, stats = sdeint(*args, noise_type="additive", rtol=tolerance, atol=tolerance, drift_error=True)
            errors.append(float((ys[-1] - reference[-1]).abs().mean()))
            nfes.append(stats.nfe)
    assert errors[1] < 0.5 * errors[0] and errors[2] < 0.5 * errors[1], errors
    assert nfes[0] < nfes[1] < nfes[2]
