"""ResDMD on the nonlinear pendulum (measure preserving, continuous spectrum) and its residuals recomputed.

The data are leapfrog trajectories (:func:`sciml.koopman.pendulum_trajectories`): each sample
step is an exactly area-preserving map, so its Koopman operator ``K`` is an isometry on
``L^2(mu)`` of the invariant measure the trajectories sample, and its spectrum lies on the
unit circle. On the data, for any candidate ``(lambda, g)``, the reverse triangle inequality
gives ``res(lambda, g) >= | |lambda| - rho_g |`` with ``rho_g = ||Psi_Y g||_W / ||Psi_X g||_W``
(exactly, with no limit taken); ``rho_g`` is 1 up to the ends of the trajectories
(``|rho_g - 1| <= 2e-3`` is asserted). So a pair with residual ``<= epsilon`` has
``| |lambda| - 1 | <= epsilon + 2e-3``, and EDMD's eigenvalues off the circle (spectral
pollution, here inside the disk) have residuals above epsilon.
"""

from __future__ import annotations

import numpy as np
import pytest

from sciml.core.errors import DataError
from sciml.koopman import EDMD, ResDMD, pendulum_trajectories
from sciml.koopman._lifted import lift_data

EPS = np.finfo(np.float64).eps
EPSILON = 0.1
SPEC = "legendre:10"


@pytest.fixture(scope="module")
def pendulum():
    x = pendulum_trajectories(40, 500, dt=0.5, seed=0)
    edmd = EDMD(SPEC).fit(x, dt=0.5)
    res = ResDMD(SPEC, epsilon=EPSILON).fit(x, dt=0.5)
    return x, edmd, res


def _lifted(est, x):
    pairs = lift_data(x, 0.5, 1, "test")
    d = est.fitted_dictionary()
    return d.transform(pairs.x_windows), d.transform(pairs.y_windows)


def test_every_kept_eigenvalue_lies_within_epsilon_of_the_unit_circle(pendulum):
    x, edmd, res = pendulum
    psi_x, psi_y = _lifted(edmd, x)
    g = edmd.eigenfunction_coefficients_
    rho = np.linalg.norm(psi_y @ g, axis=0) / np.linalg.norm(psi_x @ g, axis=0)
    assert np.abs(rho - 1).max() <= 2e-3  # the data are (almost) an isometry: measured 1.1e-3
    lam = edmd.eigenvalues_
    off = np.abs(np.abs(lam) - 1)
    # the inequality res >= ||lambda| - rho_g| holds for every pair (up to round-off)
    assert (off <= edmd.residuals_ + np.abs(rho - 1) + 1e-12).all()
    # ResDMD's candidates are EDMD's pairs; it keeps those below epsilon
    np.testing.assert_array_equal(res.candidate_eigenvalues_, edmd.eigenvalues_)
    np.testing.assert_array_equal(res.kept_, edmd.residuals_ <= EPSILON)
    kept = res.eigenvalues_
    assert kept.size >= 8 and (np.abs(kept.imag) > 1e-3).sum() >= 4  # not only the trivial eigenvalue 1
    assert np.abs(np.abs(kept) - 1).max() <= EPSILON  # measured 4e-3
    # plain EDMD returns spurious eigenvalues off the circle; ResDMD rejects every one of them
    spurious = off > EPSILON
    assert spurious.sum() >= 3
    assert (edmd.residuals_[spurious] > EPSILON).all() and not res.kept_[spurious].any()
    # the eigenvalue 1 (constants, functions of the energy) is kept with residual ~ quadrature error
    assert np.abs(kept - 1).min() <= 1e-6


def test_residuals_equal_a_direct_recomputation_from_G_A_L(pendulum):
    """``res^2 = g^*(L - lambda A^* - conj(lambda) A + |lambda|^2 G) g / g^*Gg`` with the Gram matrices formed
    explicitly. Forming them rounds each entry by about ``eps ||Psi||^2``; relative to ``g^*Gg`` that is at most
    ``eps cond(Psi_X)^2`` times the size of the terms that cancel (``s_j`` below); the tolerance is 8 times that."""
    x, edmd, res = pendulum
    psi_x, psi_y = _lifted(edmd, x)
    m = psi_x.shape[0]
    w = np.full(m, 1.0 / m)
    G = psi_x.T @ (w[:, None] * psi_x)
    A = psi_x.T @ (w[:, None] * psi_y)
    L = psi_y.T @ (w[:, None] * psi_y)
    for lam, g, ours in [(edmd.eigenvalues_, edmd.eigenfunction_coefficients_, edmd.residuals_),
                         (res.eigenvalues_, res.eigenfunction_coefficients_, res.residuals_)]:
        gg, ga, gl = (np.einsum("kj,kl,lj->j", g.conj(), mat, g) for mat in (G, A, L))
        gg, gl = gg.real, gl.real
        num = gl - lam * np.conj(ga) - np.conj(lam) * ga + np.abs(lam) ** 2 * gg
        assert np.abs(num.imag).max() <= 1e-12 * gl.max()  # a real quadratic form
        direct_sq = num.real / gg
        scale = (gl + 2 * np.abs(lam) * np.abs(ga) + np.abs(lam) ** 2 * gg) / gg
        tol = 8 * EPS * np.linalg.cond(psi_x) ** 2 * scale
        assert (np.abs(direct_sq - ours**2) <= tol).all(), np.max(np.abs(direct_sq - ours**2) / tol)
        assert tol.max() < 1e-3 * EPSILON**2  # the check separates kept from rejected pairs by far
    # the same residuals as norms of the data (no Gram matrices at all)
    g = edmd.eigenfunction_coefficients_
    direct = np.linalg.norm(psi_y @ g - (psi_x @ g) * edmd.eigenvalues_, axis=0) / np.linalg.norm(psi_x @ g, axis=0)
    np.testing.assert_allclose(direct, edmd.residuals_, rtol=1e-9, atol=1e-12)


def test_pseudospectrum_is_below_every_residual_and_large_far_from_the_circle(pendulum):
    """``tau(z)`` minimizes the residual over the span, so ``tau(lambda_j) <= res_j``; for ``|z| = 3`` the isometry
    gives ``tau(z) >= 3 - max rho >= 1.9``."""
    _, edmd, res = pendulum
    tau = res.pseudospectrum(edmd.eigenvalues_)
    assert (tau <= edmd.residuals_ * (1 + 1e-9) + 1e-12).all()
    far = res.pseudospectrum(3 * np.exp(1j * np.linspace(0, 2 * np.pi, 7)))
    assert far.min() >= 1.9
    grid = res.pseudospectrum(np.zeros((2, 3)))
    assert grid.shape == (2, 3)


def test_resdmd_forecasts_with_the_kept_pairs_only(pendulum):
    x, _, res = pendulum
    assert res.modes_.shape == (2, res.eigenvalues_.size)
    pred = res.forecast(x[:3, :1], 4)
    assert pred.shape == (3, 4, 2) and pred.dtype == np.float64
    # z_{k+1} = lambda z_k in eigenfunction coordinates: the first step equals predict
    np.testing.assert_allclose(res.predict(x[:3, 0]), pred[:, 0], rtol=0, atol=64 * EPS * np.abs(x).max())
    # without the constant in the dictionary nothing is exact: a tiny epsilon keeps nothing, and says so
    empty = ResDMD(lambda s: s, epsilon=1e-12).fit(x[:4, :50], dt=0.5)
    assert empty.eigenvalues_.size == 0 and empty.candidate_eigenvalues_.size == 2
    with pytest.raises(DataError, match=r"ResDMD kept no eigenpair \(the smallest residual is .* > epsilon=1e-12\)"):
        empty.forecast(x[0, :1], 2)
