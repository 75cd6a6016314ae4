"""Spectral measures of measure-preserving systems from correlations (Colbrook & Townsend 2024).

For a measure-preserving map ``F`` the Koopman operator ``K g = g o F`` is an isometry of
``L^2(mu)``, and an observable ``g`` has a spectral measure ``nu_g`` on the unit circle
(``theta`` in ``[-pi, pi)``) whose Fourier coefficients are the correlations

    c_n = <K^n g, g> = integral g(F^n x) conj(g(x)) dmu(x) = integral e^{i n theta} dnu_g(theta)

(``c_{-n} = conj(c_n)``; ``c_0 = ||g||^2``, the total mass). A continuous spectrum (a
density) means the dynamics are mixing on ``g``; atoms at ``theta_j`` are Koopman
eigenvalues ``e^{i theta_j}``. :func:`autocorrelations` estimates ``c_n`` from trajectories
whose starting states are samples (or quadrature nodes, with ``weights``) of ``mu``: every
state of a trajectory is again distributed by ``mu``, so the lag-``n`` products are averaged
over every start time of every trajectory. :func:`spectral_measure` returns the smoothed
density

    nu_g^N(theta) = (1 / 2 pi) sum_{|n| < N} phi(n / N) c_n e^{-i n theta},

the convolution of ``nu_g`` with a kernel of width ``~ 1/N`` built from the filter ``phi``
(``phi(0) = 1``, ``phi(1) = 0``). For a smooth density the error at a point is
``O(N^{-m})`` for a filter of order ``m`` (``1 - phi(x) = O(x^m)``): ``fejer`` (``1 - |x|``,
order 1), ``cosine`` (``(1 + cos pi x) / 2``, order 2) and ``vandeven:m`` (Vandeven's filter,
``1 - I_x(m, m)`` with ``I`` the regularized incomplete beta function, order ``m``); an atom
of mass ``a`` appears as a peak of height ``a N / (2 pi)``-ish whose integral tends to ``a``.
The correlations are the data-driven part; with ``n_lags`` lags from trajectories of
``T >= n_lags`` states the cost is ``O(N_traj T log T)`` (FFT).

Reference
---------
M. J. Colbrook, A. Townsend, "Rigorous data-driven computation of spectral properties of
Koopman operators for dynamical systems", Comm. Pure Appl. Math. 77 (2024) 221-283.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, DataError, ShapeError

__all__ = ["autocorrelations", "spectral_filter", "spectral_measure"]


def spectral_filter(spec: str) -> Callable[[np.ndarray], np.ndarray]:
    """The filter ``phi`` on ``[0, 1]`` named by ``spec``: ``fejer``, ``cosine`` or ``vandeven:m`` (``m >= 1``).

    >>> [round(float(spectral_filter(s)(np.array(0.5))), 6) for s in ("fejer", "cosine", "vandeven:4")]
    [0.5, 0.5, 0.5]
    """
    kind, _, number = str(spec).strip().lower().partition(":")
    if kind == "fejer" and not number:
        return lambda x: 1.0 - np.abs(x)
    if kind == "cosine" and not number:
        return lambda x: 0.5 * (1.0 + np.cos(np.pi * np.abs(x)))
    if kind == "vandeven":
        try:
            m = int(number)
        except ValueError:
            m = 0
        if m >= 1:
            from scipy.special import betainc

            return lambda x: 1.0 - betainc(m, m, np.clip(np.abs(x), 0.0, 1.0))
    raise ConfigError(f"unknown spectral filter {spec!r}; valid: fejer, cosine, vandeven:m (m >= 1, e.g. vandeven:8)")


def _observed(trajectories: Any, observable: Callable[[np.ndarray], Any] | None) -> np.ndarray:
    x = np.asarray(trajectories)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ShapeError(f"trajectories must be [N, T, D] or [T, D], got shape {x.shape}")
    if observable is None:
        if x.shape[-1] != 1:
            raise ShapeError(
                f"trajectories have {x.shape[-1]} dimensions; pass observable=callable [M, D] -> [M] (the function g)"
            )
        g = x[..., 0]
    else:
        n, t, d = x.shape
        g = np.asarray(observable(x.reshape(n * t, d)))
        if g.shape != (n * t,):
            raise ShapeError(f"observable must map states [M, D] to values [M], it returned shape {g.shape} for M={n * t}")
        g = g.reshape(n, t)
    g = g.astype(np.complex128)
    if not np.isfinite(g).all():
        raise DataError("the observable has NaN or inf values on the trajectories; clean the data or change g")
    return g


def autocorrelations(trajectories: Any, n_lags: int, observable: Callable[[np.ndarray], Any] | None = None,
                     weights: Any = None) -> np.ndarray:
    """Correlations ``c_n = <K^n g, g>``, ``n = 0 .. n_lags - 1``, from trajectories (module docstring).

    Parameters
    ----------
    trajectories : array-like ``[N, T, D]`` or ``[T, D]``
        Consecutive states ``x, F(x), F^2(x), ...`` from starting states distributed by the
        invariant measure (or quadrature nodes of it).
    n_lags : int
        ``N``, at most ``T``.
    observable : callable ``[M, D] -> [M]`` (real or complex), optional
        ``g``; default the state itself when ``D = 1``.
    weights : array-like ``[N]``, optional
        Quadrature weights of the starting states (default equal); normalized to sum 1.

    Returns
    -------
    ndarray ``[n_lags]``, complex128: ``c_n`` averaged over every start time ``k < T - n``.
    """
    g = _observed(trajectories, observable)
    n_traj, t = g.shape
    if isinstance(n_lags, bool) or not isinstance(n_lags, numbers.Integral) or not 1 <= n_lags <= t:
        raise ConfigError(f"n_lags={n_lags!r} must be an int in [1, T={t}] (the trajectory length); use fewer lags")
    w = np.full(n_traj, 1.0 / n_traj) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (n_traj,) or not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
        raise ConfigError(f"weights must be {n_traj} finite non-negative numbers (one per trajectory) with a positive sum")
    w = w / w.sum()
    size = 1 << int(np.ceil(np.log2(2 * t)))
    spec = np.fft.fft(g, size, axis=1)
    # sum_k g[k + n] conj(g[k]) for every n >= 0, per trajectory
    lagged = np.fft.ifft(spec * np.conj(spec), axis=1)[:, :n_lags]
    counts = t - np.arange(n_lags)
    return (w @ lagged) / counts


def spectral_measure(trajectories: Any, theta: Any, n_lags: int, observable: Callable[[np.ndarray], Any] | None = None,
                     weights: Any = None, filter: str = "vandeven:8") -> np.ndarray:
    """The smoothed spectral density ``nu_g^N(theta)`` of ``g`` (module docstring), real, on angles ``theta``.

    ``integral nu_g^N dtheta`` over ``[-pi, pi)`` equals ``c_0 = ||g||^2`` exactly; the density
    converges to ``nu_g``'s as ``N = n_lags`` grows (for a density; atoms become peaks of
    width ``~ 2 pi / N``). See :func:`autocorrelations` for the other arguments.

    Returns
    -------
    ndarray, the shape of ``theta``, float64.
    """
    phi = spectral_filter(filter)
    c = autocorrelations(trajectories, n_lags, observable, weights)
    th = np.asarray(theta, dtype=np.float64)
    n = np.arange(1, n_lags)
    coeff = phi(n / n_lags) * c[1:]
    series = np.exp(-1j * np.multiply.outer(th, n)) @ coeff if n.size else np.zeros(th.shape, complex)
    return (c[0].real + 2.0 * series.real) / (2.0 * np.pi)
