"""Spectral measures from correlations against measures known in closed form.

* The twist map ``(theta, I) -> (theta + I, I)`` preserves ``dtheta x p(I) dI`` for any density
  ``p``; for ``g = e^{i theta}``, ``K^n g = e^{i n I} g``, so ``c_n = integral p(I) e^{i n I} dI`` and
  the spectral measure of ``g`` is absolutely continuous with density ``p`` itself. With ``p``
  the von Mises density and the ``I`` nodes a uniform grid weighted by ``p`` (the trapezoid rule,
  spectrally accurate for periodic analytic ``p``) the only error left is the filter's, which
  must fall at the filter's order.
* A rotation by ``alpha`` has pure point spectrum: ``g = e^{i theta} + 0.5 e^{2 i theta}`` has
  atoms of mass 1 at ``alpha`` and 0.25 at ``2 alpha``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import i0

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.koopman.spectral import autocorrelations, spectral_filter, spectral_measure

KAPPA, MU = 2.0, 1.0
EPS = np.finfo(np.float64).eps


def von_mises(theta):
    return np.exp(KAPPA * np.cos(theta - MU)) / (2 * np.pi * i0(KAPPA))


def twist_data(n_nodes=256, steps=64, seed=0):
    rng = np.random.default_rng(seed)
    action = -np.pi + 2 * np.pi * np.arange(n_nodes) / n_nodes
    weights = von_mises(action) * (2 * np.pi / n_nodes)
    angle0 = rng.uniform(-np.pi, np.pi, n_nodes)
    angle = angle0[:, None] + np.arange(steps)[None, :] * action[:, None]
    states = np.stack([angle, np.broadcast_to(action[:, None], angle.shape)], axis=-1)  # [N, T, 2]
    return states, weights


def angle_observable(x):
    return np.exp(1j * x[:, 0])


def test_correlations_of_the_twist_map_are_the_fourier_coefficients_of_p():
    states, w = twist_data()
    c = autocorrelations(states, 20, angle_observable, w)
    from scipy.special import iv

    exact = iv(np.arange(20), KAPPA) / i0(KAPPA) * np.exp(1j * MU * np.arange(20))
    # the trapezoid rule on 256 nodes is exact to round-off for these coefficients; the lag sums
    # add ~T products of unit size: 64 * 256 eps is a generous bound
    assert np.abs(c - exact).max() <= 64 * 256 * EPS


@pytest.mark.parametrize("order", [2, 4, 6])
def test_density_error_falls_at_the_filter_order(order):
    states, w = twist_data(256, 128)
    theta = np.linspace(-np.pi, np.pi, 181)
    errors = [np.abs(spectral_measure(states, theta, n, angle_observable, w, f"vandeven:{order}") - von_mises(theta)).max()
              for n in (32, 64, 128)]
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    # 1 - phi(n/N) ~ C (n/N)^m: the error falls m times per doubling of N, approached from
    # below (measured rates 1.96/1.98, 3.81/3.91, 5.57/5.79); a filter of another order misses this
    assert np.all(np.diff(errors) < 0) and abs(rates[-1] - order) <= 0.3, (errors, rates)


def test_total_mass_is_the_norm_and_fejer_is_positive():
    states, w = twist_data()
    theta = np.linspace(-np.pi, np.pi, 4001)[:-1]
    for spec in ("fejer", "cosine", "vandeven:8"):
        dens = spectral_measure(states, theta, 24, angle_observable, w, spec)
        mass = dens.sum() * (theta[1] - theta[0])  # the periodic rectangle rule is exact for a trig polynomial
        assert abs(mass - 1.0) <= 1e3 * EPS
    # the Fejer kernel is positive, so the smoothed measure of a positive measure is positive
    assert spectral_measure(states, theta, 24, angle_observable, w, "fejer").min() > 0


def test_rotation_atoms_carry_their_masses():
    alpha = 2 * np.pi * (np.sqrt(2) - 1)  # irrational rotation number
    steps = 2000
    angle = (0.3 + alpha * np.arange(steps)) % (2 * np.pi)

    def g(x):
        return np.exp(1j * x[:, 0]) + 0.5 * np.exp(2j * x[:, 0])

    theta = np.linspace(-np.pi, np.pi, 20001)[:-1]
    dens = spectral_measure(angle[:, None], theta, 400, g, filter="vandeven:8")
    h = theta[1] - theta[0]
    atom1, atom2 = np.angle(np.exp(1j * alpha)), np.angle(np.exp(2j * alpha))

    def mass_near(a, width=0.2):
        near = np.abs(np.angle(np.exp(1j * (theta - a)))) < width
        return dens[near].sum() * h

    # ergodic averages along one orbit: c_n exact to round-off, the kernel's mass outside
    # +-0.2 is below 1e-3 at N = 400 (measured 1.0000 and 0.2500)
    assert mass_near(atom1) == pytest.approx(1.0, abs=2e-3)
    assert mass_near(atom2) == pytest.approx(0.25, abs=2e-3)
    # the total mass is c_0, the orbit average of |g|^2: 1.25 up to the O(1/T) average of the
    # cross term (measured 4.8e-4 at T = 2000)
    assert dens.sum() * h == pytest.approx(1.25, abs=1e-3)


def test_bad_input():
    states, w = twist_data(16, 8)
    with pytest.raises(ConfigError, match="unknown spectral filter"):
        spectral_filter("hann")
    with pytest.raises(ConfigError, match="n_lags"):
        autocorrelations(states, 9, angle_observable, w)
    with pytest.raises(ConfigError, match="weights"):
        autocorrelations(states, 4, angle_observable, w[:3])
    with pytest.raises(ShapeError, match="observable"):
        autocorrelations(states, 4)
    with pytest.raises(ShapeError, match="returned shape"):
        autocorrelations(states, 4, lambda x: x)
    bad = states.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        autocorrelations(bad, 4, angle_observable, w)
