"""Steady Darcy flow ``-div(a grad u) = f`` on the unit square with ``u = 0`` on the boundary."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.numerics.pde._solution import Members, PDESolution, check_states, finish

__all__ = ["solve_darcy", "darcy_matrix", "DARCY_METHOD", "FACE_AVERAGES"]

FACE_AVERAGES = ("arithmetic", "harmonic")
DARCY_METHOD = "five-point finite differences, second order; SuperLU direct solve per sample"


def _face_mean(left: np.ndarray, right: np.ndarray, face_average: str) -> np.ndarray:
    if face_average == "arithmetic":
        return 0.5 * (left + right)
    if face_average == "harmonic":
        return 2.0 * left * right / (left + right)
    raise ConfigError(f"darcy: face_average={face_average!r} is not one of {', '.join(FACE_AVERAGES)}")


def darcy_matrix(a: np.ndarray, face_average: str = "arithmetic") -> sp.csc_matrix:
    """Five-point finite-difference matrix of ``-div(a grad .)`` with zero Dirichlet data.

    Parameters
    ----------
    a : array ``[S, S]``
        Coefficient at the nodes ``(x_i, y_j) = (i, j) / (S - 1)``, ``x`` along axis 0;
        all entries ``> 0``.
    face_average : {"arithmetic", "harmonic"}
        Mean of the two nodal values used on each cell face. Both are second order
        for smooth ``a``; harmonic keeps the flux continuous across jumps.

    Returns
    -------
    scipy.sparse.csc_matrix ``[(S-2)^2, (S-2)^2]``
        Acting on the interior unknowns ordered ``p = (i - 1) (S - 2) + (j - 1)``;
        symmetric positive definite, scaled by ``1 / h^2`` with ``h = 1 / (S - 1)``.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 3:
        raise ShapeError(f"darcy_matrix: a must be a square [S, S] array with S >= 3, got shape {a.shape}")
    if not np.all(a > 0):
        raise DataError("darcy_matrix: the coefficient a must be > 0 everywhere (and finite)")
    s = a.shape[0]
    m = s - 2
    h = 1.0 / (s - 1)
    ax = _face_mean(a[:-1, :], a[1:, :], face_average)  # face (i + 1/2, j), [S-1, S]
    ay = _face_mean(a[:, :-1], a[:, 1:], face_average)  # face (i, j + 1/2), [S, S-1]
    main = (ax[:-1, 1:-1] + ax[1:, 1:-1] + ay[1:-1, :-1] + ay[1:-1, 1:]).ravel()
    along_y = np.zeros((m, m))
    along_y[:, :-1] = -ay[1:-1, 1:-1]  # couples (i, j) and (i, j + 1); none across rows of i
    along_y = along_y.ravel()[:-1]
    along_x = -ax[1:-1, 1:-1].ravel()  # couples (i, j) and (i + 1, j)
    matrix = sp.diags([main, along_y, along_y, along_x, along_x], [0, 1, -1, m, -m], shape=(m * m, m * m))
    return (matrix / h**2).tocsc()


def _solve_one(a: np.ndarray, rhs: np.ndarray, face_average: str) -> np.ndarray:
    s = a.shape[0]
    matrix = darcy_matrix(a, face_average)
    # minimum-degree ordering of A^T + A suits the symmetric five-point pattern
    interior = spla.splu(matrix, permc_spec="MMD_AT_PLUS_A").solve(rhs[1:-1, 1:-1].ravel())
    u = np.zeros((s, s))
    u[1:-1, 1:-1] = interior.reshape(s - 2, s - 2)
    return u


def solve_darcy(
    a: torch.Tensor,
    f: float | torch.Tensor = 1.0,
    *,
    face_average: str = "arithmetic",
    on_failure: str = "raise",
    first_index: int = 0,
) -> torch.Tensor | PDESolution:
    """Solve ``-div(a grad u) = f`` on the unit square, ``u = 0`` on the boundary, for a batch of coefficients.

    The standard five-point finite-difference scheme on the ``S x S`` node grid
    ``x_i = i / (S - 1)`` that includes the boundary nodes, the coefficient on each cell
    face the arithmetic (the FNO benchmark's MATLAB solver) or harmonic mean of its two
    nodes; second order in ``h = 1 / (S - 1)`` for smooth ``a`` and ``u`` (a fitted
    order of 2.00 on a manufactured solution). The matrix is symmetric positive
    definite (an M-matrix) and is factorized per member by SuperLU on the CPU.

    Parameters
    ----------
    a : Tensor ``[B, S, S]``
        Coefficient at the nodes, boundary included, ``x`` along axis 1; ``S >= 3``.
    f : float or Tensor ``[S, S]`` or ``[B, S, S]``
        Right-hand side (only interior nodes are used).
    face_average : {"arithmetic", "harmonic"}
        See :func:`darcy_matrix`.
    on_failure : {"raise", "report"}
        A member fails when its coefficient is not finite and ``> 0`` everywhere or its
        solution is not finite. ``"raise"``: a one-line :class:`DataError` naming the
        first one. ``"report"``: the others are solved, and a :class:`PDESolution`
        (``u [B, S, S]``, ``t`` empty) names it.
    first_index : int
        Number of member 0 in messages (a generator passes its batch's first sample).

    Returns
    -------
    Tensor ``[B, S, S]``, float64 on the device of ``a``, or PDESolution
        Nodal solution, zero on the boundary nodes.
    """
    name = "solve_darcy"
    check_states(name, "a", a, shape="[B, S, S]", spatial_dims=2, min_points=3, even=False, square=True)
    if face_average not in FACE_AVERAGES:
        raise ConfigError(f"{name}: face_average={face_average!r} is not one of {', '.join(FACE_AVERAGES)}")
    batch, s = a.shape[0], a.shape[-1]
    if isinstance(f, torch.Tensor):
        if tuple(f.shape) not in ((s, s), (batch, s, s)):
            raise ShapeError(
                f"{name}: f has shape {tuple(f.shape)}, expected ({s}, {s}) or ({batch}, {s}, {s}); "
                "pass the right-hand side on the grid of a"
            )
        rhs = np.broadcast_to(f.detach().to("cpu", torch.float64).numpy(), (batch, s, s))
    else:
        if not math.isfinite(float(f)):
            raise ConfigError(f"{name}: f={f!r} must be finite; try f=1.0")
        rhs = np.broadcast_to(np.float64(f), (batch, s, s))
    members = Members(name, batch, torch.device("cpu"), on_failure, first_index)
    coefficients = a.detach().to("cpu", torch.float64).numpy()
    u = np.full((batch, s, s), np.nan)
    for b in range(batch):
        if not np.all(coefficients[b] > 0) or not np.all(np.isfinite(coefficients[b])):
            members.drop(
                _only(members, b),
                lambda position, sample: (
                    f"{name}: sample {sample} has a coefficient a that is not finite and > 0 everywhere; "
                    "fix that coefficient field or leave the member out"
                ),
            )
            continue
        solution = _solve_one(coefficients[b], rhs[b], face_average)
        if not np.all(np.isfinite(solution)):
            members.drop(
                _only(members, b),
                lambda position, sample: (
                    f"{name}: sample {sample} gave a non-finite solution; check the coefficient's range "
                    "(a_plus, a_minus, sigma of darcy2d)"
                ),
            )
            continue
        u[b] = solution
    result = torch.from_numpy(u).to(a.device)
    return finish(members, result, torch.zeros(0, dtype=torch.float64), DARCY_METHOD)


def _only(members: Members, member: int) -> torch.Tensor:
    """The mask over the running members that selects ``member`` alone."""
    return members.index == member
