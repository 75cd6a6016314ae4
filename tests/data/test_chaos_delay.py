"""Delay differential equations: the batched RK4 solver and the six dysts delay systems."""

from __future__ import annotations

import json
import warnings
from functools import partial

import numpy as np
import pytest
from numpy.polynomial import Polynomial

from sciml.core.errors import ConfigError
from sciml.data.generators.chaos import chaos
from sciml.data.schema import validate
from sciml.numerics.dde import ORDER, dde_rk4, hermite
from sciml.systems import (
    batched_delay_rhs,
    initial_conditions,
    integrate_delay_batch,
    is_delay,
    list_systems,
    load_system,
    steps_per_delay_for,
    system_metadata,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DELAY_SYSTEMS = ["IkedaDelay", "MackeyGlass", "PiecewiseCircuit", "ScrollDelay", "SprottDelay", "VossDelay"]


def _linear_dde_exact(tau: float, n_intervals: int):
    """Method of steps for y' = -y(t - tau), y = 1 on [-tau, 0]: one polynomial per interval.

    Piece k lives on [k tau, (k + 1) tau] in the local variable s = t - k tau:
    y_k(s) = y_{k-1}(tau) - integral_0^s y_{k-1}(u) du, with y_{-1} = 1.
    """
    previous, start, pieces = Polynomial([1.0]), 1.0, []
    for _ in range(n_intervals):
        antiderivative = previous.integ()
        piece = start - (antiderivative - antiderivative(0.0))
        pieces.append(piece)
        previous, start = piece, piece(tau)

    def exact(t: np.ndarray) -> np.ndarray:
        k = np.minimum((t / tau).astype(int), n_intervals - 1)
        return np.array([pieces[i](ti - i * tau) for i, ti in zip(k, t)])

    return exact


def _negative_feedback(t, y, y_delayed):
    return -y_delayed


def test_first_delay_intervals_are_exact():
    """y' = -y(t - tau), y = 1 before 0: y = 1 - t on [0, tau], 1 - t + (t - tau)^2 / 2 on
    [tau, 2 tau], a cubic on [2 tau, 3 tau]. RK4 integrates the delayed term exactly while
    it is a polynomial of degree <= 3 and the Hermite history reproduces cubics, so the
    first three intervals are exact to rounding (from the fourth, a quartic, errors are
    O(h^4))."""
    tau = 0.7
    t = np.linspace(0.0, 2 * tau, 57)
    expected = np.where(t <= tau, 1 - t, 1 - t + (t - tau) ** 2 / 2)
    # exact up to the rounding accumulated over at most 48 steps and the Hermite output
    # (values O(1)): 512 eps, measured a few tens
    exact_to_rounding = 512 * np.finfo(np.float64).eps
    for m in (1, 2, 5, 16):
        ys, stats = dde_rk4(_negative_feedback, np.ones((1, 1)), tau, t, steps_per_delay=m)
        np.testing.assert_allclose(
            ys[0, :, 0], expected, rtol=0, atol=exact_to_rounding, err_msg=f"steps_per_delay={m}"
        )
        assert stats.h == pytest.approx(tau / m) and stats.n_steps == 2 * m
    exact = _linear_dde_exact(tau, 3)
    t3 = np.linspace(0.0, 3 * tau, 81)
    for m in (1, 8):
        ys, _ = dde_rk4(_negative_feedback, np.ones((1, 1)), tau, t3, steps_per_delay=m)
        np.testing.assert_allclose(ys[0, :, 0], exact(t3), rtol=0, atol=exact_to_rounding)


def test_fourth_order_convergence():
    """Max error on [0, 10 tau] against the method-of-steps solution; fitted order 4 +- 0.2."""
    exact = _linear_dde_exact(1.0, 11)
    t = np.linspace(0.0, 10.0, 401)
    steps = np.array([4, 8, 16, 32, 64])
    errors = []
    for m in steps:
        ys, _ = dde_rk4(_negative_feedback, np.ones((1, 1)), 1.0, t, steps_per_delay=int(m))
        errors.append(np.abs(ys[0, :, 0] - exact(t)).max())
    slope = -np.polyfit(np.log(1.0 / steps), np.log(errors), 1)[0]
    assert abs(-slope - ORDER) <= 0.2, (slope, errors)
    assert errors[-1] < 2e-10


def test_callable_history_and_batches():
    """A non-constant history (exp) and a batch of different histories: each member equals
    its own integration and the exact first interval y(t) = 1 - a e^(-tau) (e^t - 1)."""
    tau, scales = 1.3, np.array([0.5, 1.0, 2.0])

    def history(t):
        return scales[:, None] * np.exp(t) * np.ones((3, 1))

    t = np.linspace(0.0, tau, 27)
    ys, _ = dde_rk4(_negative_feedback, history, tau, t, steps_per_delay=256)
    expected = scales[:, None] - scales[:, None] * np.exp(-tau) * (np.exp(t)[None, :] - 1)
    np.testing.assert_allclose(ys[:, :, 0], expected, rtol=0, atol=1e-11)
    t_long = np.linspace(0.0, 5 * tau, 40)
    together, _ = dde_rk4(_negative_feedback, history, tau, t_long, steps_per_delay=16)
    for i in range(3):
        alone, _ = dde_rk4(_negative_feedback, lambda s, i=i: history(s)[i : i + 1], tau, t_long, steps_per_delay=16)
        np.testing.assert_array_equal(together[i], alone[0])


def test_hermite_reproduces_cubics():
    h, theta = 0.3, np.linspace(0.0, 1.0, 7)

    def cubic(x):
        return 2 - x + 3 * x**2 - 0.5 * x**3

    def slope(x):
        return -1 + 6 * x - 1.5 * x**2

    a = np.full((7, 1), 1.1)  # a batch of 7, one fraction each
    values = hermite(cubic(a), cubic(a + h), slope(a), slope(a + h), h, theta)
    # exact for cubics: only the rounding of a few products and sums, 16 eps relative
    np.testing.assert_allclose(values[:, 0], cubic(1.1 + theta * h), rtol=16 * np.finfo(np.float64).eps)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="steps_per_delay"):
        dde_rk4(_negative_feedback, np.ones((1, 1)), 1.0, [1.0], steps_per_delay=0)
    with pytest.raises(ConfigError, match="tau"):
        dde_rk4(_negative_feedback, np.ones((1, 1)), 0.0, [1.0], steps_per_delay=4)
    with pytest.raises(ConfigError, match="t_out"):
        dde_rk4(_negative_feedback, np.ones((1, 1)), 1.0, [-1.0, 1.0], steps_per_delay=4)


def test_catalogue_delay_systems():
    assert sorted(n for n in list_systems() if is_delay(n)) == DELAY_SYSTEMS
    for name in DELAY_SYSTEMS:
        rhs = batched_delay_rhs(load_system(name))
        loop = batched_delay_rhs(load_system(name), force_loop=True)
        assert rhs.path == "vectorized" and rhs.embedding_dimension == 10, name
        rng = np.random.default_rng(0)
        y, yd = rng.standard_normal((5, 1)), rng.standard_normal((5, 1))
        # the same formula on arrays and on scalars (numpy vs Python math): a few ulps, 64 eps
        eps = np.finfo(np.float64).eps
        np.testing.assert_allclose(rhs(0.3, y, yd), loop(0.3, y, yd), rtol=64 * eps, atol=64 * eps, err_msg=name)


def test_mackey_glass_first_delay_interval_exact():
    """Before t = tau the delayed value is the constant history c, so Mackey-Glass is the
    linear relaxation x' = beta c / (1 + c^n) - gamma x with a closed-form solution."""
    system = load_system("MackeyGlass")
    rhs = batched_delay_rhs(system)
    beta, gamma, n = 0.2, 0.1, 10.0
    assert system_metadata("MackeyGlass")["parameters"]["beta"] == beta
    c = np.array([0.5, float(system.ic[0]), 1.2])
    t = np.linspace(0.0, rhs.tau, 33)
    x, stats = integrate_delay_batch(rhs, c, t, steps_per_delay=256, embedding_dimension=1)
    drive = beta * c / (1 + c**n)
    exact = drive[:, None] / gamma + (c - drive / gamma)[:, None] * np.exp(-gamma * t)[None, :]
    np.testing.assert_allclose(x[:, :, 0].numpy(), exact, rtol=1e-10)
    assert stats.h == pytest.approx(rhs.tau / 256)


def test_agrees_with_dysts_delay_integration():
    """Our Mackey-Glass vs dysts' own ``ddeint`` (its fork of Zulko's ddeint) from the same
    constant history over two delays.

    dysts' integrator is first order in its output spacing: inside each output interval its
    ``ddeVar`` returns the state of the last output point, so ``x(t)`` in the rhs is held
    constant (measured on [0, tau], where the exact solution is known: 8e-3 at spacing 0.16,
    1e-3 at 0.01, ours 7e-10). Agreement is therefore at dysts' accuracy, 1e-2 here, and
    dysts' error against the exact solution is checked to be the larger one.
    """
    from dysts.utils import ddeint

    system = load_system("MackeyGlass")
    rhs = batched_delay_rhs(system)
    c = float(system.ic[0])
    t = np.linspace(0.0, 2 * rhs.tau, 1601)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ddeint(partial(system.delayed_rhs, tau=system.tau), lambda s: c, t)[:, 0]
    ours, _ = integrate_delay_batch(rhs, np.array([c]), t, steps_per_delay=512, embedding_dimension=1)
    ours = ours[0, :, 0].numpy()
    assert np.abs(ours - theirs).max() / np.abs(theirs).max() <= 1e-2
    first = t <= rhs.tau
    drive = 0.2 * c / (1 + c**10)
    exact = drive / 0.1 + (c - drive / 0.1) * np.exp(-0.1 * t[first])
    assert np.abs(ours[first] - exact).max() < 1e-9 < np.abs(theirs[first] - exact).max()


def test_embedding_matches_dysts_make_trajectory():
    """Same columns as dysts' ``make_trajectory``: row s holds x(s - k tau / 9), k = 0..9,
    dysts sampling s from tau on. Early rows (before dysts' first-order error grows)."""
    system = load_system("SprottDelay")
    rhs = batched_delay_rhs(system)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, theirs = system.make_trajectory(200, return_times=True)
    samples = np.linspace(system.tau, t[-1], 200)
    ours, _ = integrate_delay_batch(rhs, np.array([system.ic[0]]), samples, steps_per_delay=256)
    ours = ours[0].numpy()
    assert ours.shape == theirs.shape == (200, 10)
    assert np.abs(ours[:20] - theirs[:20]).max() / np.abs(theirs).max() <= 1e-3


def test_step_rule_meets_its_tolerance():
    system = load_system("IkedaDelay")
    rhs = batched_delay_rhs(system)
    period = system_metadata("IkedaDelay")["period"]
    m = steps_per_delay_for(rhs, float(system.ic[0]), period, 1e-8)
    t = np.linspace(0.0, rhs.tau + period, 101)
    history = np.array([[float(system.ic[0])]])
    y_m, _ = dde_rk4(rhs, history, rhs.tau, t, steps_per_delay=m)
    y_fine, _ = dde_rk4(rhs, history, rhs.tau, t, steps_per_delay=8 * m)
    assert np.abs(y_m - y_fine).max() <= 2e-8 * np.abs(y_fine).max()
    coarse, _ = dde_rk4(rhs, history, rhs.tau, t, steps_per_delay=m // 2)
    assert np.abs(coarse - y_fine).max() > 1e-8 * np.abs(y_fine).max()  # m is the smallest that works


@pytest.mark.parametrize("name", ["MackeyGlass", "IkedaDelay"])
def test_generator_writes_delay_systems(tmp_path, name):
    kwargs = dict(n=3, seed=2, batch_size=2, system=name, n_periods=2, points_per_period=20, burn_in_periods=3)
    sha = chaos(tmp_path / "a.h5", **kwargs)
    assert chaos(tmp_path / "b.h5", **kwargs) == sha
    info = validate(tmp_path / "a.h5")
    assert info.shapes["x"] == (3, 40, 10)
    solver = json.loads(info.attrs["solver"])
    assert solver["method"].startswith("rk4") and solver["steps_per_delay"] >= 1
    assert solver["delay"] == pytest.approx(load_system(name).tau)
    import h5py

    with h5py.File(tmp_path / "a.h5") as f:
        x = f["x"][:]
    assert np.all(np.isfinite(x)) and x[0].std() > 0
    assert not np.allclose(x[0], x[1])  # different histories
    # sample 1 equals a lone integration from its own constant history (float64 file)
    meta = system_metadata(name)
    system = load_system(name)
    history = initial_conditions(system, 1, 1, seed=2)[:, 0]
    t = 3 * meta["period"] + np.arange(40) * meta["period"] / 20
    alone, _ = integrate_delay_batch(batched_delay_rhs(system), history, t, steps_per_delay=solver["steps_per_delay"])
    np.testing.assert_allclose(x[1], alone[0].numpy(), rtol=1e-12, atol=1e-12)


def test_step_callback_renormalization_gives_the_characteristic_root():
    """Benettin's method through ``step_callback``: a perturbed past pulled back every few
    steps grows at the rightmost characteristic root of y' = -a y(t - 1), lambda = W(-a)
    (real for a = 0.3: -0.48940222718)."""
    a, m, every = 0.3, 64, 16
    d0, log_growth, counted = 1e-8, [0.0], [0.0]

    def renormalize(n, t, ys, fs):
        if n % every or n < m:
            return
        sep = ys[:, 1:] - ys[:, :1]
        dist = float(np.sqrt(np.mean(np.square(sep))))
        ys[:, 1:] = ys[:, :1] + sep * (d0 / dist)
        fs[:, 1:] = fs[:, :1] + (fs[:, 1:] - fs[:, :1]) * (d0 / dist)
        if t > 10:
            log_growth[0] += np.log(dist / d0)
            counted[0] += every / m

    dde_rk4(
        lambda t, y, yd: -a * yd,
        np.array([[1.0], [1.0 + d0]]),
        1.0,
        [60.0],
        steps_per_delay=m,
        step_callback=renormalize,
    )
    assert log_growth[0] / counted[0] == pytest.approx(-0.48940222718, abs=1e-7)
