"""Batched Jacobians: dysts' analytic ones (vectorized, against the loop and against central
differences) and the finite-difference fallback, flagged."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.systems import batched_jacobian, batched_rhs, list_systems, load_system
from sciml.systems._jacobian import FD_STEP

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

EPS = np.finfo(np.float64).eps
FLOWS = list_systems(include_delay=False)


def _probe(system, rng, batch=8):
    ic = np.asarray(system.ic, dtype=np.float64)
    y = ic[None, :] * (1 + 0.01 * rng.standard_normal((batch, ic.size))) + 0.01 * rng.standard_normal((batch, ic.size))
    return rng.uniform(0, 1, batch), y


def test_kinds_are_flagged():
    kinds = {name: batched_jacobian(name).kind for name in FLOWS}
    analytic = sorted(n for n, k in kinds.items() if k == "analytic")
    assert len(analytic) == 60 and "Lorenz" in analytic and "Rossler" in analytic
    assert sum(k == "finite differences" for k in kinds.values()) == 69
    assert all(load_system(n).has_jacobian() == (kinds[n] == "analytic") for n in FLOWS)


def test_analytic_jacobians_vectorized_equal_the_loop():
    rng = np.random.default_rng(2)
    for name in FLOWS:
        jac = batched_jacobian(name)
        if jac.kind != "analytic":
            continue
        assert jac.path == "vectorized", (name, jac.reason)
        t, y = _probe(load_system(name), rng)
        loop = batched_jacobian(name, force_loop=True)
        # the same expressions evaluated on [B] arrays instead of scalars: a few ulps
        scale = np.abs(loop(t, y)).max()
        np.testing.assert_allclose(jac(t, y), loop(t, y), rtol=0, atol=16 * EPS * scale, err_msg=name)


def test_analytic_jacobians_match_central_differences():
    """Every hand-written Jacobian against central differences of the batched rhs.

    Central differences with step h = eps^(1/3) max(|y_j|, 1) err by C eps^(2/3) (truncation
    h^2 f'''/6 plus rounding eps |f| / h), C set by the rhs' derivatives; measured C <= 120
    over the 60 systems (absolute, at the catalogue states). The bound 2000 eps^(2/3) of
    max(|J|, 1) (about 7e-8) keeps a margin and still fails any wrong entry, which is off
    by O(1) of a coefficient."""
    rng = np.random.default_rng(1)
    tolerance = 2000 * EPS ** (2 / 3)
    checked, failures = 0, []
    for name in FLOWS:
        jac = batched_jacobian(name)
        if jac.kind != "analytic":
            continue
        t, y = _probe(load_system(name), rng)
        with np.errstate(all="ignore"):
            analytic = jac(t, y)
            numeric = batched_jacobian(name, finite_differences=True)(t, y)
        error = np.abs(analytic - numeric).max() / max(np.abs(analytic).max(), 1.0)
        checked += 1
        if not error <= tolerance:
            failures.append(f"{name}: {error:.2e}")
    assert checked == 60
    assert not failures, failures


def test_finite_differences_of_a_quadratic_are_exact_to_rounding():
    """Lorenz is quadratic: its central differences have no truncation error, only rounding
    eps |f| / h; 64 eps / FD_STEP of the rhs scale."""
    rng = np.random.default_rng(5)
    t, y = _probe(load_system("Lorenz"), rng)
    exact = batched_jacobian("Lorenz")(t, y)
    numeric = batched_jacobian("Lorenz", finite_differences=True)(t, y)
    scale = np.abs(batched_rhs("Lorenz")(t, y)).max()
    np.testing.assert_allclose(numeric, exact, rtol=0, atol=64 * EPS / FD_STEP * scale)


@pytest.mark.parametrize("name", ["Lorenz", "Thomas", "Aizawa", "Lorenz96"])
def test_jvp_is_the_jacobian_times_v(name):
    rng = np.random.default_rng(7)
    jac = batched_jacobian(name)
    t, y = _probe(load_system(name), rng)
    v = rng.standard_normal(y.shape)
    expected = np.einsum("bij,bj->bi", jac(t, y), v)
    # analytic: the same products; finite differences: eps^(2/3)-accurate like the columns
    tolerance = 16 * EPS if jac.kind == "analytic" else 2000 * EPS ** (2 / 3)
    scale = max(np.abs(expected).max(), 1.0)
    np.testing.assert_allclose(jac.jvp(t, y, v), expected, rtol=0, atol=tolerance * scale)
