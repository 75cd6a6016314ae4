"""HAVOK (``havok``): a linear model of delay coordinates forced by the last one (Brunton et al. 2017).

The delay vectors ``h_k = [x_k, x_{k-1}, ..., x_{k-d+1}]`` (``[d D]``) of every trajectory
form the Hankel matrix ``H [d D, M]``; its truncated SVD ``H = U S V^T`` (rank ``r``) gives
the eigen-time-delay coordinates ``v_k = S^{-1} U^T h_k`` (``[r]``). HAVOK fits the
discrete-time linear model ``v_{k+1}[:r-1] = A v_k[:r-1] + B v_k[r-1]`` by least squares on
consecutive pairs within each trajectory: the first ``r - 1`` coordinates evolve linearly,
forced by the last one, ``v_r``, whose bursts mark the intermittent (chaotic) switching.
``forcing_`` holds that signal for the training data; :meth:`forcing` computes it for new
data, :meth:`simulate` runs the forced model with a given forcing, and :meth:`forecast`
(the forecast protocol, where the future forcing is unknown) closes the loop with the fitted
regression of ``v_r`` itself (the last row of the full ``[r, r]`` least-squares map).

The continuous-time model of the paper, ``dv/dt = generator_ v`` (``[r, r]``, its unforced
block ``generator_[:r-1, :r-1]`` with eigenvalues ``generator_eigenvalues_``), is fitted
beside it by least squares on the time derivative of every delay coordinate, taken by
second-order finite differences along each trajectory (central inside, one-sided second
order at both ends; the scheme of PyDMD's ``HAVOK``, whose eigenvalues it reproduces).

Reference
---------
S. L. Brunton, B. W. Brunton, J. L. Proctor, E. Kaiser, J. N. Kutz, "Chaos as an
intermittently forced linear system", Nat. Commun. 8 (2017) 19.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.estimator import as_float64_array, register_estimator
from sciml.koopman._core import check_rank, projected_operator, snapshot_pairs, sorted_eig, truncated_svd
from sciml.koopman._lifted import AbstractKoopman, _as_trajectories, check_context, lift_data
from sciml.koopman.dictionaries import TimeDelay

__all__ = ["HAVOK"]


@register_estimator("havok", doc="HAVOK (Brunton et al. 2017): delay coordinates, linear model forced by the last one")
class HAVOK(AbstractKoopman):
    """Hankel alternative view of Koopman (Brunton et al. 2017), discrete time, float64.

    Parameters
    ----------
    delays : int >= 2
        ``d``, the states per delay vector (``min_context``).
    rank : None, int >= 2 or float in (0, 1)
        ``r``, the delay coordinates kept (the last is the forcing); None: the numerical rank
        of the Hankel matrix. Brunton et al. use about 15 for the Lorenz system.

    Attributes
    ----------
    eigenvalues_ : ndarray ``[r-1]``, complex128
        Eigenvalues of the unforced map ``A``.
    modes_ : ndarray ``[D, r-1]``, complex128
        The present state of each eigenvector of ``A`` (``x = embedding_[:, :r-1] W``).
    forcing_ : ndarray ``[N, T - d + 1]``
        ``v_r`` along each training trajectory (from its ``d``-th state on).
    operator_ : ndarray ``[r-1, r-1]`` (``A``); forcing_gain_ : ndarray ``[r-1]`` (``B``);
    closure_ : ndarray ``[r]`` (the fitted regression of ``v_r``, used by :meth:`forecast`)
    generator_ : ndarray ``[r, r]``
        The continuous-time least-squares model ``dv/dt = generator_ v`` (module docstring).
    generator_eigenvalues_ : ndarray ``[r-1]``, complex128
        Eigenvalues of its unforced block (``log(eigenvalues_) / dt`` to first order in ``dt``).
    basis_ : ndarray ``[d D, r]`` (``U``); singular_values_; embedding_ : ndarray ``[D, r]``
        (``(U S)[:D]``: the present state of ``v``); rank_, dt_, n_features_
    """

    def __init__(self, delays: int = 10, rank: int | float | None = None):
        self.delays = delays
        self.rank = rank
        self._check_params()

    def _check_params(self) -> None:
        if isinstance(self.delays, bool) or not isinstance(self.delays, numbers.Integral) or self.delays < 2:
            raise ConfigError(f"HAVOK delays={self.delays!r} is invalid; use an int >= 2")
        check_rank(self.rank, "HAVOK")
        if isinstance(self.rank, numbers.Integral) and self.rank < 2:
            raise ConfigError(f"HAVOK rank={self.rank} is invalid; it needs at least 2 coordinates (the last is the forcing)")

    @property
    def window(self) -> int:
        return int(self.delays)

    def _embed(self, x: np.ndarray) -> np.ndarray:
        """Trajectories ``[N, T, D]`` -> delay vectors ``[N, T - d + 1, d D]``."""
        n, t, d = x.shape
        win = np.lib.stride_tricks.sliding_window_view(x, self.window, axis=1).transpose(0, 1, 3, 2)
        return TimeDelay(self.window, "").transform(win.reshape(-1, self.window, d)).reshape(n, t - self.window + 1, -1)

    def fit(self, data: Any, dt: float | None = None) -> HAVOK:
        """Fit on trajectories ``[N, T, D]`` / ``[T, D]`` (or :class:`~sciml.data.Trajectories`).

        Cost: the SVD of the ``[d D, M]`` Hankel matrix, ``O(d D M min(d D, M))``.
        """
        lifted = lift_data(data, dt, self.window, "HAVOK")  # checks shapes, NaN and T > d
        traj = lifted.source
        self._reset()
        h = self._embed(traj.x)  # [N, T', dD]
        n, tp, k = h.shape
        svd = truncated_svd(h.reshape(-1, k).T, self.rank, "HAVOK")
        r = svd.rank
        if r < 2:
            raise ConfigError(
                f"HAVOK: the Hankel matrix has rank {r}; it needs at least 2 delay coordinates: use more delays or richer data"
            )
        v = (svd.Vh.T).reshape(n, tp, r)
        vx, vy = snapshot_pairs(v)
        if vx.shape[1] < r:
            raise ConfigError(f"HAVOK: {vx.shape[1]} pairs of delay coordinates for rank {r}; use longer trajectories")
        reg = truncated_svd(vx, None, "HAVOK")
        _, b = projected_operator(reg, vy)
        full = b @ reg.U.T  # [r, r]: vy ~ full vx
        a = full[: r - 1, : r - 1]
        lam, w = sorted_eig(a)
        # the continuous-time model: second-order differences along each trajectory
        vdot = np.gradient(v, float(traj.dt), axis=1, edge_order=2 if tp >= 3 else 1)
        generator = np.linalg.lstsq(v.reshape(-1, r), vdot.reshape(-1, r), rcond=None)[0].T
        embedding = (svd.U * svd.s[None, :])[: traj.dim]
        self.eigenvalues_ = lam
        self.modes_ = (embedding[:, : r - 1] @ w).astype(np.complex128)
        self.forcing_ = np.ascontiguousarray(v[..., r - 1])
        self.operator_ = np.ascontiguousarray(a)
        self.forcing_gain_ = np.ascontiguousarray(full[: r - 1, r - 1])
        self.closure_ = np.ascontiguousarray(full[r - 1])
        self.generator_ = np.ascontiguousarray(generator)
        self.generator_eigenvalues_ = sorted_eig(generator[: r - 1, : r - 1])[0]
        self.basis_ = np.ascontiguousarray(svd.U)
        self.singular_values_ = svd.singular_values.astype(np.float64)
        self.embedding_ = np.ascontiguousarray(embedding)
        self.rank_ = int(r)
        self.dt_ = float(traj.dt)
        self.n_features_ = int(traj.dim)
        self._record_training_data(traj, n_trajectories=n, n_pairs=int(vx.shape[1]), numerical_rank=svd.numerical_rank)
        return self

    def _lift(self, windows: np.ndarray) -> np.ndarray:
        s = self.singular_values_[: self.rank_]
        return (TimeDelay(self.window, "").transform(windows) @ self.basis_) / s[None, :]

    def _advance(self, z: np.ndarray) -> np.ndarray:
        r = self.rank_
        out = np.empty_like(z)
        out[:, : r - 1] = z[:, : r - 1] @ self.operator_.T + z[:, r - 1 :] * self.forcing_gain_[None, :]
        out[:, r - 1] = z @ self.closure_
        return out

    def _readout(self, z: np.ndarray) -> np.ndarray:
        return z @ self.embedding_.T

    def forcing(self, x: Any) -> np.ndarray:
        """The forcing signal ``v_r`` of trajectories ``[N, T, D]`` -> ``[N, T - d + 1]`` (``[T, D]`` -> ``[T - d + 1]``)."""
        self.check_fitted()
        traj = _as_trajectories(x, self.dt_, "HAVOK")
        if traj.dim != self.n_features_:
            raise ShapeError(f"HAVOK was fitted on {self.n_features_}-dimensional states, the data have {traj.dim}")
        if traj.n_times < self.window:
            raise ShapeError(f"HAVOK: a delay of {self.window} states needs at least {self.window} states, got {traj.n_times}")
        h = self._embed(traj.x)
        out = (h @ self.basis_[:, -1]) / self.singular_values_[self.rank_ - 1]
        return out[0] if np.asarray(x).ndim == 2 else out

    def simulate(self, context: Any, forcing: Any) -> np.ndarray:
        """The forced model from ``context`` driven by given future forcing values.

        Parameters
        ----------
        context : array-like ``[C, D]`` or ``[B, C, D]`` (``C >= delays``)
        forcing : array-like ``[H]`` or ``[B, H]``
            ``v_r`` at the next ``H`` steps (e.g. :meth:`forcing` of the true continuation).

        Returns
        -------
        ndarray ``[H, D]`` or ``[B, H, D]``
        """
        self.check_fitted()
        f = as_float64_array(forcing, "forcing", (1, 2), what="[H] or [B, H]")
        ctx, single = check_context(context, max(f.shape[-1], 1), min_context=self.window, dim=self.n_features_,
                                    owner="HAVOK")
        f = np.broadcast_to(np.atleast_2d(f), (ctx.shape[0], f.shape[-1]))
        z = self._lift(ctx[:, -self.window :])
        r = self.rank_
        out = np.empty((ctx.shape[0], f.shape[1], self.n_features_))
        for k in range(f.shape[1]):
            nxt = np.empty_like(z)
            nxt[:, : r - 1] = z[:, : r - 1] @ self.operator_.T + z[:, r - 1 :] * self.forcing_gain_[None, :]
            nxt[:, r - 1] = f[:, k]
            z = nxt
            out[:, k] = self._readout(z)
        return out[0] if single else out

    def eigenfunctions(self, x: Any) -> np.ndarray:
        """Eigenfunctions of the unforced map on contexts ``[B, C, D]`` (``C >= delays``) -> ``[B, r-1]`` complex."""
        windows, single = self._states(x, "x")
        _, xi = sorted_eig(self.operator_.T)
        out = self._lift(windows)[:, : self.rank_ - 1] @ xi
        return out[0] if single else out
