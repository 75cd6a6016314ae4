"""Maps with a known Koopman structure, for tests, examples and benchmarks of the Koopman learners.

:func:`pendulum_trajectories` samples the nonlinear pendulum ``q'' = -sin q`` with the
Stormer-Verlet (leapfrog) scheme. Leapfrog is symplectic, so each step is an exactly
area-preserving map: its Koopman operator on ``L^2`` of any invariant measure is an isometry
whose spectrum lies on the unit circle and is continuous apart from the eigenvalue 1 (the
rotation frequency changes with the energy). That is the measure-preserving test case of
ResDMD (Colbrook and Townsend 2024): eigenvalues off the unit circle are spectral pollution.

:func:`quadratic_map` is ``x+ = a x, y+ = b y + c x^2``: the polynomials of weighted degree
``i + 2 j <= p`` in ``x^i y^j`` form an invariant subspace, on which the Koopman eigenvalues
are exactly ``a^i b^j`` (Brunton et al. 2016's slow-manifold example in discrete time).

:func:`lotka_volterra_trajectories` samples the classic predator-prey system
``x' = alpha x - beta x y``, ``y' = delta x y - gamma y`` (dopri5 of :mod:`sciml.numerics`);
every orbit is closed (``V = delta x - gamma ln x + beta y - alpha ln y`` is conserved,
:func:`lotka_volterra_invariant`), with a period that grows with the amplitude from
``2 pi / sqrt(alpha gamma)`` at the equilibrium (:func:`orbit_period` measures it).
"""

from __future__ import annotations

import numpy as np

from sciml.core.errors import ConfigError

__all__ = [
    "pendulum_trajectories",
    "quadratic_map",
    "quadratic_map_eigenvalues",
    "LOTKA_VOLTERRA",
    "lotka_volterra_rhs",
    "lotka_volterra_trajectories",
    "lotka_volterra_invariant",
    "orbit_period",
]

# one environment of the LEADS Lotka-Volterra benchmark (Yin et al. 2021: alpha = gamma = 0.5,
# beta, delta in {0.5, 0.75, 1}), which Aluvihare et al. compare the StNN against
LOTKA_VOLTERRA = {"alpha": 0.5, "beta": 0.5, "gamma": 0.5, "delta": 0.5}


def pendulum_trajectories(
    n: int,
    n_times: int,
    dt: float = 0.5,
    substeps: int = 10,
    energy: tuple[float, float] = (-0.95, 0.8),
    seed: int = 0,
) -> np.ndarray:
    """Trajectories ``[n, n_times, 2]`` of ``(q, p)`` for the pendulum ``H = p^2 / 2 - cos q``.

    Parameters
    ----------
    n, n_times : int
    dt : float
        Time between samples; each sample step is ``substeps`` leapfrog steps of ``dt / substeps``.
    substeps : int
    energy : (float, float)
        Energies drawn uniformly in this range; below 1 (the separatrix) every orbit librates,
        so ``q`` stays in ``(-pi, pi)``.
    seed : int
        Energies and the initial phase (a random number of steps before the first sample).

    Returns
    -------
    ndarray ``[n, n_times, 2]``, float64

    >>> x = pendulum_trajectories(3, 50)
    >>> h = x[..., 1] ** 2 / 2 - np.cos(x[..., 0])
    >>> bool(np.abs(h - h[:, :1]).max() < 1e-3)   # leapfrog keeps the energy to O(h^2)
    True
    """
    lo, hi = energy
    if not -1 < lo <= hi < 1:
        raise ConfigError(f"pendulum energy range {energy} must lie in (-1, 1) (librations below the separatrix)")
    rng = np.random.default_rng(seed)
    e = rng.uniform(lo, hi, n)
    q = np.zeros(n)
    p = np.sqrt(2 * (e + 1))
    h = float(dt) / int(substeps)

    def step(q, p, k):
        for _ in range(k):
            p = p - 0.5 * h * np.sin(q)
            q = q + h * p
            p = p - 0.5 * h * np.sin(q)
        return q, p

    # a random phase: each orbit starts after a random number (< one period of ~20) of samples
    skip = rng.integers(0, int(round(20 / dt)) + 1, n)
    for k in range(int(skip.max()) + 1):
        move = skip > k
        q2, p2 = step(q, p, int(substeps))
        q, p = np.where(move, q2, q), np.where(move, p2, p)
    out = np.empty((n, int(n_times), 2))
    for k in range(int(n_times)):
        out[:, k, 0], out[:, k, 1] = q, p
        q, p = step(q, p, int(substeps))
    return out


def quadratic_map(x: np.ndarray, a: float = 0.9, b: float = 0.5, c: float = 1.0) -> np.ndarray:
    """One step of ``(x, y) -> (a x, b y + c x^2)`` on states ``[M, 2]``."""
    x = np.asarray(x, dtype=np.float64)
    return np.stack([a * x[:, 0], b * x[:, 1] + c * x[:, 0] ** 2], axis=1)


def quadratic_map_eigenvalues(degree: int, a: float = 0.9, b: float = 0.5) -> np.ndarray:
    """The exact Koopman eigenvalues ``a^i b^j`` (``i + 2 j <= degree``) of :func:`quadratic_map`, descending.

    >>> quadratic_map_eigenvalues(2).round(12).tolist()
    [1.0, 0.9, 0.81, 0.5]
    """
    vals = [a**i * b**j for j in range(degree // 2 + 1) for i in range(degree - 2 * j + 1)]
    return np.sort(np.array(vals))[::-1]


def _lv_params(params: dict | None) -> tuple[float, float, float, float]:
    p = {**LOTKA_VOLTERRA, **(params or {})}
    unknown = set(p) - set(LOTKA_VOLTERRA)
    if unknown:
        raise ConfigError(f"Lotka-Volterra parameters {sorted(unknown)} are unknown; use alpha, beta, gamma, delta")
    vals = tuple(float(p[k]) for k in ("alpha", "beta", "gamma", "delta"))
    if not all(v > 0 for v in vals):
        raise ConfigError(f"Lotka-Volterra parameters {p} must all be > 0")
    return vals  # type: ignore[return-value]


def lotka_volterra_rhs(params: dict | None = None):
    """``rhs(t [B], z [B, 2]) -> [B, 2]`` of ``x' = alpha x - beta x y``, ``y' = delta x y - gamma y`` (numpy)."""
    alpha, beta, gamma, delta = _lv_params(params)

    def rhs(t: np.ndarray, z: np.ndarray) -> np.ndarray:
        x, y = z[:, 0], z[:, 1]
        return np.stack([alpha * x - beta * x * y, delta * x * y - gamma * y], axis=1)

    return rhs


def lotka_volterra_invariant(z: np.ndarray, params: dict | None = None) -> np.ndarray:
    """The conserved ``V = delta x - gamma ln x + beta y - alpha ln y`` of states ``[..., 2]`` -> ``[...]``."""
    alpha, beta, gamma, delta = _lv_params(params)
    z = np.asarray(z, dtype=np.float64)
    x, y = z[..., 0], z[..., 1]
    return delta * x - gamma * np.log(x) + beta * y - alpha * np.log(y)


def lotka_volterra_trajectories(
    n: int,
    n_times: int,
    dt: float,
    params: dict | None = None,
    initial: tuple[float, float] = (1.5, 3.0),
    seed: int = 0,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> np.ndarray:
    """Trajectories ``[n, n_times, 2]`` of ``(prey, predator)``, sampled every ``dt`` from ``t = 0``.

    Parameters
    ----------
    n, n_times : int
    dt : float
        Sampling step (the linear period is ``2 pi / sqrt(alpha gamma)``, 12.6 for the defaults).
    params : dict, optional
        ``alpha, beta, gamma, delta`` (default :data:`LOTKA_VOLTERRA`).
    initial : (float, float)
        Both initial populations are drawn uniformly in this range (seeded by ``seed``).
    rtol, atol : float
        Tolerances of :func:`sciml.numerics.integrate_batch` (dopri5, per trajectory).

    >>> z = lotka_volterra_trajectories(2, 200, 0.25)
    >>> v = lotka_volterra_invariant(z)
    >>> bool(np.abs(v - v[:, :1]).max() < 1e-8)   # the first integral, to the solver's tolerance
    True
    """
    from sciml.numerics.batched import integrate_batch

    _lv_params(params)
    if int(n) < 1 or int(n_times) < 1 or not dt > 0:
        raise ConfigError(f"lotka_volterra_trajectories n={n}, n_times={n_times} must be >= 1 and dt={dt} > 0")
    lo, hi = initial
    if not 0 < lo <= hi:
        raise ConfigError(f"Lotka-Volterra initial range {initial} must be positive populations, low <= high")
    rng = np.random.default_rng(seed)
    z0 = rng.uniform(lo, hi, (int(n), 2))
    t = np.arange(int(n_times)) * float(dt)
    if n_times == 1:
        return z0[:, None, :].copy()
    ys, _ = integrate_batch(lotka_volterra_rhs(params), z0, t[1:], rtol=rtol, atol=atol)
    out = np.concatenate([z0[:, None, :], np.asarray(ys)], axis=1)
    return np.ascontiguousarray(out)


def orbit_period(signal: np.ndarray, dt: float, level: float | None = None) -> float:
    """Mean period of a periodic scalar ``signal [T]``: the spacing of its upward crossings of ``level``.

    ``level`` defaults to the signal's mid-range; crossing times are interpolated linearly
    between samples. Needs at least two crossings (a one-line ConfigError otherwise).
    """
    s = np.asarray(signal, dtype=np.float64)
    level = 0.5 * (s.max() + s.min()) if level is None else float(level)
    d = s - level
    k = np.nonzero((d[:-1] < 0) & (d[1:] >= 0))[0]
    if k.size < 2:
        raise ConfigError(
            f"orbit_period: the signal crosses its level {level:.4g} upward {k.size} times; pass a longer signal"
        )
    times = (k + d[k] / (d[k] - d[k + 1])) * float(dt)
    return float((times[-1] - times[0]) / (k.size - 1))
