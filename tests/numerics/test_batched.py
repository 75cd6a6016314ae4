"""The batched per-trajectory integrator, the one step-size controller, the one counter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.core.errors import SciMLError, ShapeError
from sciml.numerics import (
    DOPRI5_BATCHED_I,
    RK_PI,
    SDE_DAMPED_I,
    CountingField,
    SolverError,
    StepSizeController,
    integrate_batch,
)

EPS = np.finfo(np.float64).eps
RATES = np.array([-1.0, -0.5, 0.3, 1.2])


def _linear(t, y):
    return RATES[: y.shape[0], None] * y


def test_exponentials_to_the_tolerance():
    """y' = a y per row: each row's error stays at the tolerance's scale (its own steps)."""
    t_out = np.linspace(0.0, 2.0, 11)
    y0 = np.ones((4, 2))
    ys, stats = integrate_batch(_linear, torch.from_numpy(y0), t_out, rtol=1e-10, atol=1e-12)
    exact = np.exp(RATES[:, None, None] * t_out[None, :, None]) * np.ones((1, 1, 2))
    relative = np.abs(ys.numpy() - exact) / exact
    # dopri5's global error at rtol 1e-10 over a few time constants: measured 3e-10 max
    assert relative.max() < 1e-8, relative.max()
    # the fastest-growing row needs the most steps: step control is per trajectory
    assert stats.n_accepted[3] > stats.n_accepted[1]
    assert stats.nfe == 6 * stats.n_iterations + 2 and stats.failures == ()
    assert stats.h_next.shape == (4,) and np.all(stats.h_next > 0)


def test_continuing_from_h_next_matches_one_call():
    """first_step = h_next continues an integration where it stopped, to the tolerance."""
    y0 = np.ones((3, 1))
    once, _ = integrate_batch(_linear, y0, [2.0], rtol=1e-10, atol=1e-12)
    half, stats = integrate_batch(_linear, y0, [1.0], rtol=1e-10, atol=1e-12)
    twice, _ = integrate_batch(
        _linear, half[:, 0].numpy(), [2.0], t0=1.0, first_step=stats.h_next, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(twice[:, 0].numpy(), once[:, 0].numpy(), rtol=1e-8)


def test_one_member_blows_up_the_others_are_as_if_alone():
    """on_failure="report": the blow-up of y' = y^2 from y = 1 (at t = 1) is named, the others
    integrated to the end equal their solo integration."""

    def field(t, y):
        out = np.empty_like(y)
        out[0] = y[0] ** 2  # blows up at t = 1
        out[1:] = -y[1:] * np.cos(t[1:, None]) + 0.1 * y[1:] ** 2
        return out

    y0 = np.array([[1.0], [0.5], [0.8], [1.5]])
    t_out = np.linspace(0.0, 3.0, 7)
    ys, stats = integrate_batch(field, y0, t_out, rtol=1e-9, atol=1e-12, first_sample=10, on_failure="report")
    assert [f.index for f in stats.failures] == [0] and stats.failed.tolist() == [0]
    failure = stats.failures[0]
    assert failure.reason in ("non-finite", "step underflow")
    assert "trajectory 10" in failure.message and "\n" not in failure.message
    assert 0.99 < failure.t <= 1.0  # where the solution blows up
    assert np.isnan(ys[0, 3:].numpy()).all() and np.isfinite(ys[0, :2].numpy()).all()
    for row in (1, 2, 3):

        def alone_field(t, y, row=row):
            out = field(np.concatenate([[0.0], t]), np.concatenate([[[1.0]], y]))
            return out[1:]

        alone, alone_stats = integrate_batch(alone_field, y0[row : row + 1], t_out, rtol=1e-9, atol=1e-12)
        # equal to float64 round-off: the batched stage combinations are matrix products whose
        # blocking may differ with the batch width, a few ulps per step; 64 eps of the scale
        np.testing.assert_allclose(ys[row].numpy(), alone[0].numpy(), rtol=64 * EPS, atol=64 * EPS)
        assert stats.n_accepted[row] == alone_stats.n_accepted[0]


def test_blow_up_raises_by_default():
    with pytest.raises(SolverError, match="trajectory 5") as info:
        integrate_batch(lambda t, y: y**2, torch.ones(1, 1, dtype=torch.float64), [2.0], first_sample=5)
    assert "\n" not in str(info.value)


def test_a_state_whose_derivative_overflows_fails_at_once():
    """A finite state whose rhs overflows (Lorenz-like products of 1e300) has no finite step size:
    it is named as non-finite before the first step, not after max_steps rejections."""

    def field(t, y):
        return np.stack([y[:, 1] - y[:, 0], y[:, 0] * y[:, 1]], axis=1)

    y0 = np.array([[1e300, 1e300], [0.5, 0.1]])
    ys, stats = integrate_batch(field, y0, [0.5, 1.0], rtol=1e-9, atol=1e-12, on_failure="report")
    assert stats.failed.tolist() == [0] and stats.failures[0].reason == "non-finite"
    assert stats.failures[0].t == 0.0 and stats.n_accepted[0] == 0 and stats.n_rejected[0] == 0
    assert np.isnan(ys[0].numpy()).all() and np.isfinite(ys[1].numpy()).all()
    # the healthy member ran its own course: the failed one cost no iterations of its own
    alone, alone_stats = integrate_batch(field, y0[1:], [0.5, 1.0], rtol=1e-9, atol=1e-12)
    assert stats.n_iterations == alone_stats.n_iterations
    np.testing.assert_allclose(ys[1].numpy(), alone[0].numpy(), rtol=64 * EPS, atol=64 * EPS)


def test_max_steps_is_per_member():
    """A member still running after max_steps fails with 'max steps'; a short one finishes."""

    def field(t, y):
        out = np.zeros_like(y)
        out[1] = 50.0 * np.cos(50.0 * t[1])  # oscillates fast: many steps
        return out

    ys, stats = integrate_batch(
        field, np.zeros((2, 1)), [10.0], rtol=1e-10, atol=1e-12, max_steps=30, on_failure="report"
    )
    assert [(f.index, f.reason) for f in stats.failures] == [(1, "max steps")]
    assert ys[0, 0, 0].item() == 0.0 and math.isnan(ys[1, 0, 0].item())
    with pytest.raises(SolverError, match="max_steps|30 steps"):
        integrate_batch(field, np.zeros((2, 1)), [10.0], rtol=1e-10, atol=1e-12, max_steps=30)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y0": np.ones(3)}, "y0 must be a batch of states"),
        ({"y0": np.ones((0, 2))}, "y0 must be a batch of states"),
        ({"t_out": [1.0, 0.5]}, "strictly increasing"),
        ({"t_out": [-1.0]}, "t0"),
        ({"t_out": []}, "non-empty"),
        ({"first_step": -0.1}, "first_step must be positive"),
        ({"first_step": np.ones(5)}, "first_step must be a float or an array"),
        ({"rtol": 0.0}, "rtol"),
        ({"atol": np.ones(7)}, "atol must be a float or an array"),
        ({"max_steps": 0}, "max_steps"),
        ({"on_failure": "ignore"}, "on_failure"),
    ],
)
def test_bad_arguments_are_one_line_errors(kwargs, match):
    args = {"y0": np.ones((2, 3)), "t_out": [1.0]}
    args.update(kwargs)
    y0, t_out = args.pop("y0"), args.pop("t_out")
    with pytest.raises((ShapeError, ValueError), match=match) as info:
        integrate_batch(lambda t, y: -y, y0, t_out, **args)
    assert "\n" not in str(info.value)


def test_rhs_of_the_wrong_shape_is_named():
    with pytest.raises(ShapeError, match="rhs returned shape"):
        integrate_batch(lambda t, y: y[:, :1], np.ones((2, 3)), [1.0])
    assert issubclass(ShapeError, SciMLError)


# ----------------------------------------------------------------------------- controller


def test_the_three_settings_are_the_callers_constants():
    assert (RK_PI.safety, RK_PI.factor_min, RK_PI.factor_max, RK_PI.proportional, RK_PI.integral) == (
        0.9,
        0.2,
        10.0,
        0.7,
        0.4,
    )
    assert (SDE_DAMPED_I.factor_max, SDE_DAMPED_I.proportional, SDE_DAMPED_I.rejection) == (2.0, 0.5, 0.5)
    assert (DOPRI5_BATCHED_I.proportional, DOPRI5_BATCHED_I.integral, DOPRI5_BATCHED_I.error_floor) == (
        1.0,
        0.0,
        1e-300,
    )


def test_controller_rule_by_hand():
    k = 5
    error, previous = 0.3, 0.6
    expected = 0.9 * error ** (-0.7 / k) * previous ** (0.4 / k)
    assert RK_PI.accept_factor(error, k, previous) == expected  # the same operations in the same order
    assert RK_PI.accept_factor(1e-20, k) == 10.0  # clipped at factor_max
    assert RK_PI.accept_factor(1e-20, k, rejected_last=True) == 1.0  # no growth right after a rejection
    assert RK_PI.reject_factor(4.0, k) == 0.9 * 4.0 ** (-1.0 / k)
    assert RK_PI.reject_factor(1e30, k) == 0.2 and RK_PI.reject_factor(math.inf, k) == 0.2
    assert RK_PI.remember(1e-9) == 1e-4
    assert SDE_DAMPED_I.accept_factor(0.25, 1) == 0.9 * 0.25**-0.5 and SDE_DAMPED_I.accept_factor(1e-6, 1) == 2.0


def test_array_form_agrees_with_the_float_form():
    errors = np.array([0.0, 1e-12, 0.01, 0.5, 1.0])
    rejected = np.array([False, True, False, True, False])
    arrays = DOPRI5_BATCHED_I.accept_factors(errors, 5, rejected)
    floats = [DOPRI5_BATCHED_I.accept_factor(e, 5, rejected_last=r) for e, r in zip(errors, rejected)]
    # numpy's and libm's pow may differ in the last bit: 4 eps relative
    np.testing.assert_allclose(arrays, floats, rtol=4 * EPS, atol=0)
    bad = np.array([1.5, 100.0, np.inf, np.nan])
    np.testing.assert_allclose(
        DOPRI5_BATCHED_I.reject_factors(bad, 5), [DOPRI5_BATCHED_I.reject_factor(e, 5) for e in bad], rtol=4 * EPS
    )
    with pytest.raises(ValueError, match="integral"):
        RK_PI.accept_factors(errors, 5)


def test_controller_validates_its_settings():
    with pytest.raises(ValueError, match="factor_min"):
        StepSizeController(name="bad", factor_min=2.0)
    with pytest.raises(ValueError, match="safety"):
        StepSizeController(name="bad", safety=1.5)


# ----------------------------------------------------------------------------- counter


def test_counting_field_counts_and_records():
    field = CountingField(lambda t, y: 2 * y)
    assert field(torch.tensor(0.5), 3.0) == 6.0 and field.count == 1 and field.times == []
    recorded = CountingField(lambda t, y: y, record_times=True)
    recorded(torch.tensor(0.25), 1.0)
    recorded.recording = False
    recorded(torch.tensor(0.75), 1.0)
    assert recorded.count == 2 and recorded.times == [0.25]
