"""The linear-algebra core shared by the Koopman estimators: snapshot pairs, truncated SVD, eigenpairs.

DMD applies these to the states; EDMD, kernel EDMD and ResDMD apply them to lifted
features (a dictionary of observables), HAVOK to delay embeddings. Snapshots are columns
(the convention of Schmid 2010 and Tu et al. 2014): ``X = [x_0 ... x_{M-1}]`` and
``Y = [x_1 ... x_M]``, both ``[D, M]``, where ``M`` counts the pairs over all trajectories.

Everything is float64 (complex128 for eigenpairs) and avoids normal equations: the
pseudo-inverse of ``X`` is applied through its SVD (``V S^{-1} U^T``), never as
``(X^T X)^{-1}``, so the conditioning is that of ``X``, not its square.

References
----------
P. J. Schmid, "Dynamic mode decomposition of numerical and experimental data",
J. Fluid Mech. 656 (2010) 5-28.
J. H. Tu, C. W. Rowley, D. M. Luchtenburg, S. L. Brunton, J. N. Kutz, "On dynamic mode
decomposition: theory and applications", J. Comput. Dyn. 1 (2014) 391-421.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from sciml.core.errors import ConfigError, DataError

__all__ = [
    "snapshot_pairs",
    "check_rank",
    "choose_rank",
    "TruncatedSVD",
    "truncated_svd",
    "gram_eig",
    "tall_r",
    "projected_operator",
    "sorted_eig",
    "exact_modes",
    "residual_factor",
    "pair_residuals",
    "pseudospectrum",
]


def snapshot_pairs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The snapshot matrices of every consecutive pair of every trajectory.

    Parameters
    ----------
    x : ndarray ``[N, T, D]``
        N trajectories of T states of dimension D (T >= 2).

    Returns
    -------
    X, Y : ndarray ``[D, M]`` each, ``M = N (T - 1)``
        Column ``m`` of ``Y`` is the successor of column ``m`` of ``X``; pairs never
        cross from one trajectory into the next.

    >>> x = np.arange(12.0).reshape(2, 3, 2)
    >>> X, Y = snapshot_pairs(x)
    >>> X.tolist(), Y.tolist()
    ([[0.0, 2.0, 6.0, 8.0], [1.0, 3.0, 7.0, 9.0]], [[2.0, 4.0, 8.0, 10.0], [3.0, 5.0, 9.0, 11.0]])
    """
    n, t, d = x.shape
    return x[:, :-1].reshape(n * (t - 1), d).T, x[:, 1:].reshape(n * (t - 1), d).T


def check_rank(rank: object, owner: str = "DMD") -> None:
    """Raise a one-line ConfigError unless ``rank`` is None, an int >= 1 or a float in (0, 1).

    >>> check_rank(0.99); check_rank(3); check_rank(None)
    >>> check_rank(1.5)
    Traceback (most recent call last):
    ...
    sciml.core.errors.ConfigError: DMD rank=1.5 is invalid; use None (full numerical rank), an int >= 1 or an energy fraction in (0, 1)
    """
    if rank is None:
        return
    if isinstance(rank, numbers.Integral) and not isinstance(rank, bool) and rank >= 1:
        return
    if isinstance(rank, numbers.Real) and not isinstance(rank, (bool, numbers.Integral)) and 0 < rank < 1:
        return
    raise ConfigError(
        f"{owner} rank={rank!r} is invalid; use None (full numerical rank), an int >= 1 or an energy fraction in (0, 1)"
    )


def choose_rank(singular_values: np.ndarray, rank: int | float | None, shape: tuple[int, int], owner: str = "DMD") -> tuple[int, int]:
    """The truncation rank for singular values ``s [k]`` (descending) of a ``shape = (D, M)`` matrix.

    Parameters
    ----------
    singular_values : ndarray ``[k]``, ``k = min(D, M)``
    rank : None, int or float in (0, 1)
        None: the numerical rank (singular values above ``s_0 max(D, M) eps``, the
        threshold of :func:`numpy.linalg.matrix_rank`); an int: exactly that many (at most
        the numerical rank); a fraction: the fewest leading values whose squares hold at
        least that fraction of the energy ``sum s_i^2``.
    shape : (D, M)

    Returns
    -------
    (r, numerical_rank) : tuple of int

    >>> choose_rank(np.array([3.0, 1.0, 1e-20]), None, (3, 10))
    (2, 2)
    >>> choose_rank(np.array([3.0, 1.0, 0.1]), 0.85, (3, 10))
    (1, 3)
    """
    s = np.asarray(singular_values, dtype=np.float64)
    if s.size == 0 or not s[0] > 0:
        raise DataError(f"{owner}: the snapshot matrix is zero; fit on trajectories that move")
    tol = s[0] * max(shape) * np.finfo(np.float64).eps
    numerical = int(np.count_nonzero(s > tol))
    if rank is None:
        return numerical, numerical
    if isinstance(rank, numbers.Integral):
        if rank > numerical:
            raise ConfigError(
                f"{owner} rank={rank} exceeds the numerical rank {numerical} of the snapshot matrix "
                f"(D={shape[0]} states, M={shape[1]} snapshot pairs); use rank<={numerical} or rank=None"
            )
        return int(rank), numerical
    energy = np.cumsum(s[:numerical] ** 2) / np.sum(s[:numerical] ** 2)
    r = int(np.searchsorted(energy, float(rank) * (1 - 4 * np.finfo(np.float64).eps))) + 1
    return min(r, numerical), numerical


@dataclass(frozen=True)
class TruncatedSVD:
    """The leading ``r`` singular triplets of a ``[D, M]`` matrix.

    Attributes
    ----------
    U : ndarray ``[D, r]``
        Left singular vectors (orthonormal columns; the POD basis).
    s : ndarray ``[r]``
        Singular values, descending.
    Vh : ndarray ``[r, M]``
        Right singular vectors (rows).
    singular_values : ndarray ``[min(D, M)]``
        All singular values (for energy and rank diagnostics).
    numerical_rank : int
    """

    U: np.ndarray
    s: np.ndarray
    Vh: np.ndarray
    singular_values: np.ndarray
    numerical_rank: int

    @property
    def rank(self) -> int:
        return int(self.s.shape[0])


def truncated_svd(X: np.ndarray, rank: int | float | None, owner: str = "DMD") -> TruncatedSVD:
    """Thin SVD of ``X [D, M]`` truncated by :func:`choose_rank`. Cost ``O(D M min(D, M))``.

    A wide ``X`` (``D < M``, the usual snapshot matrix) is decomposed through its transpose:
    the same factors, and LAPACK's tall path is about twice as fast on one thread (measured
    0.65 s against 1.4 s for ``[40, 1e5]``).
    """
    if X.shape[0] < X.shape[1]:
        Vt, s, Ut = np.linalg.svd(X.T, full_matrices=False)
        U, Vh = Ut.T, Vt.T
    else:
        U, s, Vh = np.linalg.svd(X, full_matrices=False)
    r, numerical = choose_rank(s, rank, X.shape, owner)
    return TruncatedSVD(U[:, :r], s[:r], Vh[:r], s, numerical)


def gram_eig(gram: np.ndarray, rank: int | float | None, owner: str = "KernelEDMD") -> TruncatedSVD:
    """The leading eigenpairs of a symmetric positive semi-definite ``[M, M]`` Gram matrix, as a :class:`TruncatedSVD`.

    For such a matrix the eigendecomposition is the SVD (``U = Vh^T``, ``s`` the eigenvalues,
    round-off negatives clipped to 0), and LAPACK's symmetric solver (``syevr``) costs about a
    third of the general SVD (measured 1.2 s against 3.5 s for ``M = 2000`` on one thread).
    The rank is chosen by :func:`choose_rank` from all eigenvalues.
    """
    import scipy.linalg

    lam, vec = scipy.linalg.eigh(gram, driver="evr", check_finite=False)
    lam, vec = np.maximum(lam[::-1], 0.0), vec[:, ::-1]
    r, numerical = choose_rank(lam, rank, gram.shape, owner)
    u = np.ascontiguousarray(vec[:, :r])
    return TruncatedSVD(u, lam[:r].copy(), u.T.copy(), lam, numerical)


def projected_operator(svd: TruncatedSVD, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares linear map from ``X`` to ``Y`` in the POD coordinates of ``X``.

    Parameters
    ----------
    svd : TruncatedSVD
        Of ``X [D, M]``: ``X ~ U S Vh``.
    Y : ndarray ``[D, M]``

    Returns
    -------
    A_tilde : ndarray ``[r, r]``
        ``U^T Y V S^{-1}``: ``z_{k+1} = A_tilde z_k`` for ``z = U^T x``; ``U A_tilde U^T`` is
        ``Y X^+`` (the minimum-norm least-squares map) restricted to ``range(U)``.
    B : ndarray ``[D, r]``
        ``Y V S^{-1}`` (reused by the exact modes). The division by ``s`` is the only
        "inverse": no Gram matrix is formed.
    """
    B = (Y @ svd.Vh.conj().T) / svd.s[None, :]
    return svd.U.conj().T @ B, B


def sorted_eig(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues ``[r]`` (complex128) and right eigenvectors ``[r, r]`` (columns, unit norm) of ``a``.

    Sorted by decreasing modulus (the slowest-decaying, dominant dynamics first); equal
    moduli (a conjugate pair of a real matrix) put the positive imaginary part first.

    >>> lam, _ = sorted_eig(np.array([[0.5, 0.0], [0.0, -0.9]]))
    >>> lam.tolist()
    [(-0.9+0j), (0.5+0j)]
    """
    lam, w = np.linalg.eig(a)
    lam, w = lam.astype(np.complex128), w.astype(np.complex128)
    order = np.lexsort((-lam.imag, -np.abs(lam)))
    return lam[order], w[:, order]


def exact_modes(B: np.ndarray, w: np.ndarray, lam: np.ndarray, U: np.ndarray) -> np.ndarray:
    """Exact DMD modes ``phi_j = (1/lambda_j) Y V S^{-1} w_j`` (Tu et al. 2014, Algorithm 2).

    For ``lambda_j = 0`` (within ``1e-12`` of the largest modulus) the exact mode is
    undefined; the projected mode ``U w_j`` is used instead, as Tu et al. suggest.

    Parameters
    ----------
    B : ndarray ``[D, r]`` (``Y V S^{-1}``); w : ndarray ``[r, r]`` (eigenvectors of ``A_tilde``)
    lam : ndarray ``[r]`` (eigenvalues); U : ndarray ``[D, r]`` (POD basis)

    Returns
    -------
    ndarray ``[D, r]``, complex128
    """
    scale = float(np.abs(lam).max()) if lam.size else 0.0
    tiny = np.abs(lam) <= 1e-12 * scale
    safe = np.where(tiny, 1.0, lam)
    modes = (B @ w) / safe[None, :]
    if tiny.any():
        modes[:, tiny] = U @ w[:, tiny]
    return modes.astype(np.complex128)


def residual_factor(q_x: np.ndarray, p_y: np.ndarray) -> np.ndarray:
    """The triangular factor that holds every ResDMD residual and the pseudospectrum (Colbrook and Townsend).

    In whitened coordinates ``h`` of a candidate function ``g`` (``Psi_X g = Q_X h`` with
    orthonormal ``Q_X``), the weighted residual of ``(lambda, g)`` is
    ``||(P_Y - lambda Q_X) h|| / ||Q_X h||`` with ``P_Y h = sqrt(W) Psi_Y g``. One thin QR
    ``[Q_X, P_Y] = Q R`` reduces every such norm to one of ``R [2r, 2r]``: the Gram matrices
    ``G, A, L`` are never formed (their cancellation would square the conditioning) and
    nothing is inverted.

    Parameters
    ----------
    q_x : ndarray ``[M, r]``
        Orthonormal columns: the whitened dictionary on the ``X`` snapshots.
    p_y : ndarray ``[M, r]``
        The same functions on the ``Y`` snapshots (weighted by ``sqrt(W)``).

    Returns
    -------
    ndarray ``[min(M, 2r), 2r]``, float64 or complex128
        ``R``; its first ``r`` columns act on ``X``, the rest on ``Y``.

    Cost ``O(M r^2)``. ``Q_X`` is orthonormal, so ``R = [[I, C], [0, R_2]]`` with
    ``C = Q_X^* P_Y`` and ``R_2`` the factor of ``E = P_Y - Q_X C``: the projection is done
    twice (classical Gram-Schmidt with reorthogonalization, "twice is enough", as stable as
    Householder here) and ``R_2`` comes from a tall-skinny QR (TSQR) of ``E`` on blocks of
    rows that fit in cache. About 6x faster than one Householder QR of ``[Q_X, P_Y]`` for
    ``M = 1e5``, ``r = 10`` on one thread.
    """
    c = q_x.conj().T @ p_y
    e = p_y - q_x @ c
    c2 = q_x.conj().T @ e
    e -= q_x @ c2
    c += c2
    r = q_x.shape[1]
    r2 = tall_r(e)
    out = np.zeros((r + r2.shape[0], 2 * r), dtype=np.result_type(q_x, p_y))
    out[:r, :r] = np.eye(r)
    out[:r, r:] = c
    out[r:, r:] = r2
    return out


_TSQR_ROWS = 4096


def tall_r(*blocks: np.ndarray) -> np.ndarray:
    """The triangular factor ``R [min(M, n), n]`` of ``A = [blocks...] [M, n]`` (``A^* A = R^* R``) by TSQR.

    The blocks (``[M, n_i]`` each) are joined block of rows by block of rows (4096 rows, which
    fit in cache), each block is factored by Householder QR and the stacked factors once more:
    as stable as one Householder QR of ``A``, several times faster for tall ``A`` on one thread,
    and ``A`` is never formed whole.
    """
    m = blocks[0].shape[0]
    n = sum(b.shape[1] for b in blocks)
    if m <= 2 * _TSQR_ROWS or m <= 4 * n:
        return np.linalg.qr(np.hstack(blocks), mode="r")
    step = max(_TSQR_ROWS, 2 * n)
    parts = [np.linalg.qr(np.hstack([b[i : i + step] for b in blocks]), mode="r") for i in range(0, m, step)]
    return np.linalg.qr(np.vstack(parts), mode="r")


def pair_residuals(factor: np.ndarray, lam: np.ndarray, h: np.ndarray) -> np.ndarray:
    """ResDMD residuals ``res(lambda_j, g_j) = ||(P_Y - lambda_j Q_X) h_j|| / ||Q_X h_j||`` -> ``[k]`` float64.

    Parameters
    ----------
    factor : ndarray ``[., 2r]`` (from :func:`residual_factor`)
    lam : ndarray ``[k]``
    h : ndarray ``[r, k]``
        The whitened coordinates of each candidate eigenfunction (columns).

    The residual is the square root of
    ``g^* (L - lambda A^* - conj(lambda) A + |lambda|^2 G) g / (g^* G g)`` with
    ``G = Psi_X^* W Psi_X``, ``A = Psi_X^* W Psi_Y``, ``L = Psi_Y^* W Psi_Y``.

    >>> q = np.eye(3)[:, :1]; p = 0.5 * q            # psi(F(x)) = 0.5 psi(x) on the data
    >>> pair_residuals(residual_factor(q, p), np.array([0.5, 0.4]), np.ones((1, 2))).round(12).tolist()
    [0.0, 0.1]
    """
    r = factor.shape[1] // 2
    r_x, r_y = factor[:, :r], factor[:, r:]
    num = np.linalg.norm(r_y @ h - (r_x @ h) * lam[None, :], axis=0)
    den = np.linalg.norm(r_x @ h, axis=0)
    return (num / np.maximum(den, np.finfo(np.float64).tiny)).astype(np.float64)


def pseudospectrum(factor: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``tau(z) = min_g ||(Psi_Y - z Psi_X) g||_W / ||Psi_X g||_W`` on points ``z`` (any shape) -> float64, same shape.

    The smallest singular value of the whitened ``(P_Y - z Q_X)``, read from the
    :func:`residual_factor` ``R``; ``{z : tau(z) <= eps}`` is the approximate
    eps-pseudospectrum. Cost ``O(r^3)`` per point.
    """
    z = np.asarray(z, dtype=np.complex128)
    r = factor.shape[1] // 2
    r_x, r_y = factor[:, :r], factor[:, r:]
    out = np.empty(z.shape, dtype=np.float64)
    for idx, zi in np.ndenumerate(z):
        out[idx] = np.linalg.svd(r_y - zi * r_x, compute_uv=False)[-1]
    return out
