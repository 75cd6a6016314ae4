"""Exact dynamic mode decomposition (DMD), the ``dmd`` estimator.

DMD fits the best linear map ``x_{k+1} ~ A x_k`` to snapshot pairs of uniformly sampled
trajectories (Schmid 2010) and returns its eigenvalues and modes; exact DMD (Tu et al.
2014) takes the modes from the ``Y`` snapshots, so that each is an eigenvector of the
least-squares map ``Y X^+``. For data of a linear system ``dx/dt = A_c x`` the DMD
eigenvalues are those of ``expm(A_c dt)``; for nonlinear data they approximate Koopman
eigenvalues on the span of the states. See ``docs/koopman.md``.

References
----------
P. J. Schmid, "Dynamic mode decomposition of numerical and experimental data",
J. Fluid Mech. 656 (2010) 5-28.
J. H. Tu, C. W. Rowley, D. M. Luchtenburg, S. L. Brunton, J. N. Kutz, "On dynamic mode
decomposition: theory and applications", J. Comput. Dyn. 1 (2014) 391-421.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.core.estimator import AbstractEstimator, as_float64_array, register_estimator
from sciml.data.arrays import Trajectories
from sciml.koopman._core import check_rank, exact_modes, projected_operator, snapshot_pairs, sorted_eig, truncated_svd

__all__ = ["DMD", "as_trajectories", "relative_l2_per_trajectory"]


def as_trajectories(data: Any, dt: float | None = None, *, owner: str = "DMD") -> Trajectories:
    """Uniformly sampled float64 :class:`~sciml.data.Trajectories` from what ``fit``/``evaluate`` accept.

    Parameters
    ----------
    data : Trajectories, or array-like ``[N, T, D]`` or ``[T, D]``
    dt : float, optional
        The time step of array data (default 1: one unit per sample). With
        ``Trajectories`` it must be omitted or equal ``data.dt``.

    Returns
    -------
    Trajectories with ``x [N, T, D]`` float64, ``T >= 2``, ``dt`` not None.
    """
    if isinstance(data, (str, os.PathLike)):
        raise ConfigError(
            f"{owner} takes data, not a path ({data}); read a split with sciml.data.load_trajectories(path, 'train')"
        )
    if isinstance(data, Trajectories):
        x = as_float64_array(data.x, "trajectories", (3,), what="[N, T, D]")
        if dt is not None and (data.dt is None or abs(float(dt) - data.dt) > 1e-9 * data.dt):
            raise ConfigError(f"{owner}: dt={dt} differs from the data's dt={data.dt}; pass dt only with array data")
        traj = data if x is data.x else dataclasses.replace(data, x=x)
    else:
        x = as_float64_array(data, "trajectories", (2, 3), what="[N, T, D] or [T, D]")
        traj = Trajectories.from_array(x, dt=dt)
    if traj.n_trajectories < 1 or traj.dim < 1:
        raise ShapeError(f"{owner}: trajectories of shape {traj.x.shape} are empty; pass [N, T, D] with N, D >= 1")
    if traj.n_times < 2:
        raise ShapeError(
            f"{owner} needs at least 2 snapshots per trajectory, got T={traj.n_times} (shape {traj.x.shape}); "
            "pass longer trajectories"
        )
    if traj.dt is None:
        where = f" in {traj.path}" if traj.path is not None else ""
        raise DataError(
            f"{owner} needs uniformly sampled trajectories (one constant dt); the times{where} are irregular: "
            "resample them onto a uniform grid"
        )
    return traj


def relative_l2_per_trajectory(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``||pred_i - target_i||_F / ||target_i||_F`` for each trajectory ``i`` of ``[N, L, D]`` arrays -> ``[N]``.

    >>> relative_l2_per_trajectory(np.full((2, 3, 1), 1.1), np.ones((2, 3, 1))).round(12).tolist()
    [0.1, 0.1]
    """
    num = np.linalg.norm((pred - target).reshape(pred.shape[0], -1), axis=1)
    den = np.linalg.norm(target.reshape(target.shape[0], -1), axis=1)
    return num / np.maximum(den, np.finfo(np.float64).tiny)


@register_estimator("dmd")
class DMD(AbstractEstimator):
    """Exact dynamic mode decomposition (Schmid 2010; Tu et al. 2014), fitted in float64.

    From the snapshot pairs ``X, Y [D, M]`` of all trajectories (``M = N (T - 1)``):
    the thin SVD ``X = U S V^T`` truncated to rank ``r``, the reduced operator
    ``A_tilde = U^T Y V S^{-1} [r, r]``, its eigenpairs ``A_tilde W = W Lambda`` and the
    exact modes ``Phi = Y V S^{-1} W Lambda^{-1} [D, r]``.

    Parameters
    ----------
    rank : None, int or float in (0, 1)
        Truncation of the SVD: None keeps the numerical rank of ``X`` (singular values above
        ``s_0 max(D, M) eps``); an int keeps that many (a ConfigError if the data have
        fewer); a fraction keeps the fewest leading singular values holding that fraction
        of ``sum s_i^2``.

    Attributes
    ----------
    eigenvalues_ : ndarray ``[r]``, complex128
        Discrete-time eigenvalues (one step of ``dt_``), by decreasing modulus.
    modes_ : ndarray ``[D, r]``, complex128
        Exact DMD modes, column ``j`` for ``eigenvalues_[j]``.
    operator_ : ndarray ``[r, r]``, float64
        ``A_tilde``, the linear map in the POD coordinates ``z = basis_^T x``;
        :meth:`full_operator` gives the ``[D, D]`` map ``basis_ A_tilde basis_^T``.
    basis_ : ndarray ``[D, r]``, float64
        The leading left singular vectors ``U`` of ``X`` (POD modes).
    singular_values_ : ndarray ``[min(D, M)]``, float64
        All singular values of ``X`` (the first ``rank_`` are kept).
    rank_ : int
    dt_ : float
        The time step of the training data.
    n_features_ : int
        D.

    Examples
    --------
    A damped rotation by 0.3 rad per step of ``dt = 0.5``:

    >>> c, s = 0.99 * np.cos(0.3), 0.99 * np.sin(0.3)
    >>> x = [[1.0, 0.0]]
    >>> for _ in range(20):
    ...     x.append([c * x[-1][0] - s * x[-1][1], s * x[-1][0] + c * x[-1][1]])
    >>> dmd = DMD().fit(np.array(x), dt=0.5)
    >>> dmd.rank_, np.round(dmd.eigenvalues_, 6).tolist()
    (2, [(0.945783+0.292565j), (0.945783-0.292565j)])
    >>> np.round(dmd.continuous_eigenvalues(), 6).tolist()
    [(-0.020101+0.6j), (-0.020101-0.6j)]
    >>> dmd.forecast(np.array([1.0, 0.0]), 3).shape
    (3, 2)
    """

    def __init__(self, rank: int | float | None = None):
        self.rank = rank
        self._check_params()

    def _check_params(self) -> None:
        check_rank(self.rank, type(self).__name__)

    # ------------------------------------------------------------------ fitting
    def fit(self, data: Any, dt: float | None = None) -> DMD:
        """Fit on every snapshot pair of ``data``.

        Parameters
        ----------
        data : Trajectories, or array-like ``[N, T, D]`` or ``[T, D]``
            Uniformly sampled trajectories (T >= 2), e.g.
            ``sciml.data.load_trajectories(path, "train")``.
        dt : float, optional
            The time step of array data (default 1).

        Returns
        -------
        self

        Cost: the SVD of the ``[D, M]`` snapshot matrix, ``O(D M min(D, M))`` time and
        ``O(D M)`` memory, then ``O(r^3)`` for the eigenpairs.
        """
        traj = as_trajectories(data, dt, owner=type(self).__name__)
        self._reset()
        X, Y = snapshot_pairs(traj.x)
        svd = truncated_svd(X, self.rank, type(self).__name__)
        a_tilde, B = projected_operator(svd, Y)
        lam, w = sorted_eig(a_tilde)
        self.eigenvalues_ = lam
        self.modes_ = exact_modes(B, w, lam, svd.U)
        self.operator_ = np.ascontiguousarray(a_tilde, dtype=np.float64)
        self.basis_ = np.ascontiguousarray(svd.U, dtype=np.float64)
        self.singular_values_ = svd.singular_values.astype(np.float64)
        self.rank_ = svd.rank
        self.dt_ = float(traj.dt)
        self.n_features_ = traj.dim
        self._record_training_data(
            traj,
            n_trajectories=traj.n_trajectories,
            n_times=traj.n_times,
            n_pairs=int(X.shape[1]),
            numerical_rank=svd.numerical_rank,
        )
        return self

    # ------------------------------------------------------------------ learned quantities
    def continuous_eigenvalues(self) -> np.ndarray:
        """``log(eigenvalues_) / dt_`` ``[r]`` (principal branch): the eigenvalues of the generator.

        For data of ``dx/dt = A x`` these are the eigenvalues of ``A`` when
        ``|Im lambda| dt < pi`` (no aliasing). A zero discrete eigenvalue gives ``-inf``.
        """
        self.check_fitted()
        with np.errstate(divide="ignore"):
            return np.log(self.eigenvalues_) / self.dt_

    def full_operator(self) -> np.ndarray:
        """The one-step map ``basis_ operator_ basis_^T`` ``[D, D]`` (``Y X^+`` on ``range(basis_)``)."""
        self.check_fitted()
        return self.basis_ @ self.operator_ @ self.basis_.T

    def _states(self, x: Any, name: str) -> tuple[np.ndarray, bool]:
        self.check_fitted()
        arr = as_float64_array(x, name, (1, 2), what=f"[B, {self.n_features_}] or [{self.n_features_}]")
        if arr.shape[-1] != self.n_features_:
            raise ShapeError(
                f"{name} has {arr.shape[-1]} features but {type(self).__name__} was fitted on D={self.n_features_}; "
                f"pass states [B, {self.n_features_}]"
            )
        return np.atleast_2d(arr), arr.ndim == 1

    # ------------------------------------------------------------------ prediction
    def predict(self, x: Any) -> np.ndarray:
        """One step ahead: ``x_{k+1} = basis_ operator_ basis_^T x_k``.

        Parameters
        ----------
        x : array-like ``[B, D]`` or ``[D]``

        Returns
        -------
        ndarray of the same shape, float64
        """
        states, single = self._states(x, "x")
        out = ((states @ self.basis_) @ self.operator_.T) @ self.basis_.T
        return out[0] if single else out

    def forecast(self, x0: Any, horizon: int) -> np.ndarray:
        """Free-running prediction of ``horizon`` steps from ``x0`` (``x0`` itself not included).

        Iterates ``z_{k+1} = operator_ z_k`` in the POD coordinates ``z = basis_^T x`` (real
        arithmetic, ``O(horizon B r^2 + horizon B D r)``).

        Parameters
        ----------
        x0 : array-like ``[B, D]`` or ``[D]``
        horizon : int >= 1

        Returns
        -------
        ndarray ``[B, horizon, D]`` (``[horizon, D]`` for ``x0 [D]``), float64
        """
        states, single = self._states(x0, "x0")
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ConfigError(f"horizon={horizon!r} must be an int >= 1 (the number of steps to forecast)")
        z = states @ self.basis_
        out = np.empty((states.shape[0], int(horizon), self.n_features_))
        a_t = self.operator_.T
        for k in range(int(horizon)):
            z = z @ a_t
            out[:, k] = z @ self.basis_.T
        return out[0] if single else out

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, data: Any, dt: float | None = None) -> dict[str, float]:
        """Relative L2 errors on ``data``, computed per trajectory and averaged, against persistence.

        Parameters
        ----------
        data : Trajectories, or array-like ``[N, T, D]`` or ``[T, D]``
            Sampled with the training ``dt_`` (a DataError otherwise).
        dt : float, optional
            The time step of array data (default ``dt_``).

        Returns
        -------
        dict of str to float
            ``one_step_rel_l2``: :meth:`predict` of ``x_0 .. x_{T-2}`` against ``x_1 .. x_{T-1}``;
            ``forecast_rel_l2``: :meth:`forecast` from ``x_0`` over ``T - 1`` steps against
            ``x_1 .. x_{T-1}``; ``persistence_one_step_rel_l2`` and
            ``persistence_forecast_rel_l2``: the same errors of the baseline
            ``x_{k+1} = x_k`` (``x_k = x_0`` free-running).
        """
        self.check_fitted()
        traj = as_trajectories(data, self.dt_ if dt is None and not isinstance(data, Trajectories) else dt)
        if abs(traj.dt - self.dt_) > 1e-9 * self.dt_:
            raise DataError(
                f"the data are sampled at dt={traj.dt} but {type(self).__name__} was fitted at dt={self.dt_}; "
                "evaluate on data with the training time step"
            )
        x = traj.x
        n, t, d = x.shape
        if d != self.n_features_:
            raise ShapeError(
                f"the data have D={d} features but {type(self).__name__} was fitted on D={self.n_features_}; "
                "evaluate on data of the training system"
            )
        target = x[:, 1:]
        one_step = self.predict(x[:, :-1].reshape(-1, d)).reshape(n, t - 1, d)
        free = self.forecast(x[:, 0], t - 1)
        return {
            "one_step_rel_l2": float(relative_l2_per_trajectory(one_step, target).mean()),
            "forecast_rel_l2": float(relative_l2_per_trajectory(free, target).mean()),
            "persistence_one_step_rel_l2": float(relative_l2_per_trajectory(x[:, :-1], target).mean()),
            "persistence_forecast_rel_l2": float(
                relative_l2_per_trajectory(np.broadcast_to(x[:, :1], target.shape), target).mean()
            ),
        }
