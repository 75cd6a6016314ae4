"""Kernel EDMD (``kedmd``): EDMD with an implicit dictionary given by a kernel (Williams, Rowley, Kevrekidis 2015).

The dictionary is the feature map of a kernel ``k(x, y) = psi(x) . psi(y)`` and is never
formed: with the weighted Gram matrices ``G_hat = W^{1/2} k(X, X) W^{1/2} = Q Sigma^2 Q^T``
and ``A_hat = W^{1/2} k(Y, X) W^{1/2}`` (``[M, M]``), the Koopman matrix in the basis of the
leading ``r`` principal components is ``K_hat = Sigma^+ Q^T A_hat Q Sigma^+`` (``[r, r]``),
and the eigenfunction of a right eigenvector ``v`` of ``K_hat`` is
``phi(x) = k(x, X) W^{1/2} Q Sigma^+ v``. The eigendecomposition of ``G_hat`` is the
truncated SVD of :mod:`sciml.koopman._core` (for a symmetric positive semi-definite matrix
they coincide). Residuals are ResDMD's on the span of the ``r`` functions (the kernel
trick gives ``Psi_Y`` on them as ``A_hat Q Sigma^+``).

Kernels (``kernel`` spec):

``gaussian`` / ``gaussian:H``
    ``exp(-|x - y|^2 / (2 H^2))``; without ``H`` the median distance between training
    states (the median heuristic).
``polynomial:p`` / ``polynomial:p,scale=C``
    ``(1 + x . y / C)^p``, the span of every monomial of total degree ``<= p``.

Cost: ``O(M^2 D)`` for the Gram matrices, ``O(M^3)`` for their SVD, memory ``O(M^2)``: use
it for up to a few thousand snapshot pairs and for high-dimensional states, where a
dictionary of ``K`` functions would have ``K >> M``.

Reference
---------
M. O. Williams, C. W. Rowley, I. G. Kevrekidis, "A kernel-based method for data-driven
Koopman spectral analysis", J. Comput. Dyn. 2 (2015) 247-265.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, DataError
from sciml.core.estimator import register_estimator
from sciml.koopman._core import (
    check_rank,
    gram_eig,
    pair_residuals,
    pseudospectrum,
    residual_factor,
    sorted_eig,
)
from sciml.koopman._lifted import AbstractKoopman, lift_data, pair_weights

__all__ = ["KernelEDMD", "parse_kernel"]

_KERNELS = ("gaussian", "polynomial")
_MAX_GRAM_BYTES = 4 * 2**30


def parse_kernel(spec: str) -> tuple[str, float | None, float]:
    """``(kind, number, scale)`` from a kernel spec, with one-line ConfigErrors.

    >>> parse_kernel("gaussian"), parse_kernel("polynomial:3,scale=2")
    (('gaussian', None, 1.0), ('polynomial', 3.0, 2.0))
    """
    valid = "gaussian, gaussian:H (bandwidth), polynomial:p, polynomial:p,scale=C"
    if not isinstance(spec, str):
        raise ConfigError(f"kernel {spec!r} is not a spec string; valid: {valid}")
    head, _, rest = spec.strip().partition(",")
    kind, colon, number = head.partition(":")
    kind = kind.strip().lower()
    if kind not in _KERNELS:
        close = difflib.get_close_matches(kind, _KERNELS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"unknown kernel '{spec}'{hint}; valid: {valid}")
    value: float | None = None
    if colon:
        try:
            value = float(number)
        except ValueError:
            value = -1.0
        if not value > 0 or (kind == "polynomial" and value != int(value)):
            raise ConfigError(f"kernel '{spec}': {'the degree must be an int >= 1' if kind == 'polynomial' else 'the bandwidth must be positive'}")
    elif kind == "polynomial":
        raise ConfigError(f"kernel '{spec}' needs its degree, e.g. polynomial:3")
    scale = 1.0
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = item.partition("=")
        try:
            scale = float(val)
        except ValueError:
            scale = -1.0
        if key != "scale" or not eq or kind != "polynomial" or not scale > 0:
            raise ConfigError(f"kernel '{spec}': unknown or invalid option '{item}'; polynomial takes scale=C > 0")
    return kind, value, scale


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0.0)


@register_estimator("kedmd", doc="kernel EDMD (Williams et al. 2015): Gaussian or polynomial kernels, with residuals")
class KernelEDMD(AbstractKoopman):
    """Kernel extended DMD (Williams, Rowley, Kevrekidis 2015), fitted in float64.

    Parameters
    ----------
    kernel : str
        ``gaussian``, ``gaussian:H`` or ``polynomial:p`` (see the module docstring).
    rank : None, int or float in (0, 1)
        Principal components of the Gram matrix kept. None keeps its numerical rank, which
        for a Gaussian kernel includes components near round-off: an int (a few dozen) or a
        fraction such as 0.999999 is the better start there.

    Attributes
    ----------
    eigenvalues_ : ndarray ``[r]``, complex128
    modes_ : ndarray ``[D, r]``, complex128
        Koopman modes of the state.
    residuals_ : ndarray ``[r]``
        ResDMD residual of each pair on the span of the ``r`` principal functions.
    eigenfunction_coefficients_ : ndarray ``[M, r]``, complex128
        ``phi_j(x) = k(x, training_inputs_) . eigenfunction_coefficients_[:, j]``.
    training_inputs_ : ndarray ``[M, D]``
    coefficient_map_ : ndarray ``[M, r]``
        ``W^{1/2} Q Sigma^+``: the coordinates ``c(x) = k(x, X) coefficient_map_``.
    operator_ : ndarray ``[r, r]``
        ``K_hat^T`` (``c_{k+1}^T = operator_ c_k^T``).
    readout_ : ndarray ``[D, r]``; residual_factor_; singular_values_ (Gram eigenvalues);
    bandwidth_ : float (Gaussian; 0 for polynomial); rank_, dt_, n_features_
    """

    def __init__(self, kernel: str = "gaussian", rank: int | float | None = None):
        self.kernel = kernel
        self.rank = rank
        self._check_params()

    def _check_params(self) -> None:
        parse_kernel(self.kernel)
        check_rank(self.rank, "KernelEDMD")

    def _k(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        kind, number, scale = parse_kernel(self.kernel)
        if kind == "gaussian":
            return np.exp(-_sq_distances(a, b) / (2 * self.bandwidth_**2))
        return (1.0 + (a @ b.T) / scale) ** int(number)

    def fit(self, data: Any, dt: float | None = None, weights: Any = None) -> KernelEDMD:
        """Fit on every snapshot pair of ``data`` (trajectories or a tuple ``(x, y)``), as :meth:`EDMD.fit`."""
        owner = "KernelEDMD"
        lifted = lift_data(data, dt, 1, owner)
        m, d = lifted.n_pairs, lifted.states.shape[1]
        if 3 * 8 * m * m > _MAX_GRAM_BYTES:
            raise ConfigError(
                f"KernelEDMD forms [M, M] Gram matrices; M={m} snapshot pairs need {3 * 8 * m * m / 2**30:.0f} GiB; "
                "subsample the pairs or use edmd with dictionary rbf:K"
            )
        self._reset()
        x, y = lifted.x_windows[:, 0], lifted.y_windows[:, 0]
        kind, number, _ = parse_kernel(self.kernel)
        if kind == "gaussian":
            if number is None:
                sub = x[:: max(1, m // 1000)]
                dist = np.sqrt(_sq_distances(sub, sub))[np.triu_indices(sub.shape[0], 1)]
                bandwidth = float(np.median(dist)) if dist.size else 1.0
                if not bandwidth > 0:
                    raise DataError("KernelEDMD: the training states are all equal; fit on trajectories that move")
            else:
                bandwidth = float(number)
            self.bandwidth_ = bandwidth
        else:
            self.bandwidth_ = 0.0
        w = pair_weights(weights, m, owner)
        sw = np.sqrt(w)
        gram = self._k(x, x) * np.outer(sw, sw)
        cross = self._k(y, x) * np.outer(sw, sw)  # A_hat[i, j] = k(y_i, x_j)
        if not (np.isfinite(gram).all() and np.isfinite(cross).all()):
            raise DataError(f"KernelEDMD: the kernel {self.kernel} overflows on the data; rescale the states")
        gram = (gram + gram.T) / 2
        svd = gram_eig(gram, self.rank, owner)
        q, s = svd.U, svd.s
        sigma = np.sqrt(s)
        k_hat = (q.T @ cross @ q) / np.outer(sigma, sigma)  # Sigma^+ Q^T A_hat Q Sigma^+
        states_w = lifted.states * sw[:, None]
        readout = (states_w.T @ q) / sigma[None, :]  # x ~ c readout^T, c(data) = Q Sigma
        lam, v = sorted_eig(k_hat)  # right eigenvectors: phi = c v
        v = v / np.linalg.norm(v, axis=0, keepdims=True)
        modes = np.linalg.solve(v, readout.T.astype(np.complex128)).T
        factor = residual_factor(q, (cross @ q) / s[None, :])
        coefficient_map = (sw[:, None] * q) / sigma[None, :]

        self.eigenvalues_ = lam
        self.modes_ = modes.astype(np.complex128)
        self.residuals_ = pair_residuals(factor, lam, v * sigma[:, None])
        self.eigenfunction_coefficients_ = (coefficient_map @ v).astype(np.complex128)
        self.training_inputs_ = np.ascontiguousarray(x)
        self.coefficient_map_ = np.ascontiguousarray(coefficient_map)
        self.operator_ = np.ascontiguousarray(k_hat.T)
        self.readout_ = np.ascontiguousarray(readout)
        self.residual_factor_ = np.ascontiguousarray(factor)
        self.singular_values_ = svd.singular_values.astype(np.float64)
        self.rank_ = int(svd.rank)
        self.dt_ = float(lifted.dt)
        self.n_features_ = int(d)
        self._record_training_data(
            lifted.source if lifted.source is not None else data,
            n_trajectories=lifted.n_trajectories, n_pairs=m, numerical_rank=svd.numerical_rank, kernel=self.kernel,
        )
        return self

    def _lift(self, windows: np.ndarray) -> np.ndarray:
        return self._k(windows[:, -1], self.training_inputs_) @ self.coefficient_map_

    def _advance(self, z: np.ndarray) -> np.ndarray:
        return z @ self.operator_.T

    def _readout(self, z: np.ndarray) -> np.ndarray:
        return z @ self.readout_.T

    def eigenfunctions(self, x: Any) -> np.ndarray:
        """The eigenfunctions at states ``x [B, D]`` -> ``[B, r]`` complex (``phi_j(F(x)) ~ lambda_j phi_j(x)``)."""
        windows, single = self._states(x, "x")
        out = self._k(windows[:, -1], self.training_inputs_) @ self.eigenfunction_coefficients_
        return out[0] if single else out

    def pseudospectrum(self, z: Any) -> np.ndarray:
        """``tau(z)`` on points ``z`` (any shape), as :meth:`EDMD.pseudospectrum`, on the span of the ``r`` functions."""
        self.check_fitted()
        return pseudospectrum(self.residual_factor_, np.asarray(z))
