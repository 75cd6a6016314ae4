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
"""

from __future__ import annotations

import numpy as np

from sciml.core.errors import ConfigError

__all__ = ["pendulum_trajectories", "quadratic_map", "quadratic_map_eigenvalues"]


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
