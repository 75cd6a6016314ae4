"""What the lifted Koopman estimators share: input checks, lifting, the forecast protocol and evaluation.

``sciml.forecast`` wraps these estimators as forecasters; koopman is the lower layer, so the
context checks of the forecast protocol (``context [C, D]`` or ``[B, C, D]`` ->
``[horizon, D]`` or ``[B, horizon, D]``, float64, at least ``min_context`` states) are
restated here rather than imported.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.core.estimator import AbstractEstimator, as_float64_array, check_context
from sciml.data.arrays import Trajectories

__all__ = [
    "LiftedData",
    "AbstractKoopman",
    "check_context",
    "lift_data",
    "pair_weights",
]


@dataclasses.dataclass
class LiftedData:
    """Training data as snapshot pairs of windows.

    Attributes
    ----------
    x_windows, y_windows : ndarray ``[M, w, D]``
        Window ``m`` of ``y`` is window ``m`` of ``x`` one step later.
    states : ndarray ``[M, D]``
        The present state of each ``x`` window (its last row).
    dt : float
    source : Trajectories or None
    n_trajectories : int
    """

    x_windows: np.ndarray
    y_windows: np.ndarray
    states: np.ndarray
    dt: float
    source: Any
    n_trajectories: int

    @property
    def n_pairs(self) -> int:
        return int(self.states.shape[0])

    def lift_pairs(self, transform: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(transform(x_windows), transform(y_windows))``, each window of a trajectory lifted once.

        Consecutive pairs share all but one window, so trajectories are lifted window by
        window and then paired (half the work of lifting ``x`` and ``y`` apart).
        """
        if self.source is None:
            return transform(self.x_windows), transform(self.y_windows)
        x = self.source.x
        n, t, d = x.shape
        w = self.x_windows.shape[1]
        win = np.lib.stride_tricks.sliding_window_view(x, w, axis=1).transpose(0, 1, 3, 2)  # [N, T-w+1, w, D]
        psi = np.asarray(transform(np.ascontiguousarray(win).reshape(-1, w, d)))
        psi = psi.reshape(n, t - w + 1, psi.shape[-1])
        k = psi.shape[-1]
        return np.ascontiguousarray(psi[:, :-1]).reshape(-1, k), np.ascontiguousarray(psi[:, 1:]).reshape(-1, k)


def _as_trajectories(data: Any, dt: float | None, owner: str) -> Trajectories:
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
    if traj.dt is None:
        raise DataError(
            f"{owner} needs uniformly sampled trajectories (one constant dt); the times are irregular: "
            "resample them onto a uniform grid"
        )
    return traj


def lift_data(data: Any, dt: float | None, window: int, owner: str) -> LiftedData:
    """Windows of snapshot pairs from trajectories ``[N, T, D]`` / ``[T, D]`` or explicit pairs ``(x, y)``.

    Parameters
    ----------
    data : Trajectories, array-like ``[N, T, D]`` / ``[T, D]``, or a tuple ``(x [M, D], y [M, D])``
        Trajectories give every consecutive pair of windows within each trajectory (never
        across two); a tuple gives pairs ``y[m] = F(x[m])`` directly (e.g. a grid of initial
        conditions and their images), only for pointwise dictionaries (``window == 1``).
    dt : float or None
    window : int
    """
    if isinstance(data, (str, os.PathLike)):
        raise ConfigError(
            f"{owner} takes data, not a path ({data}); read a split with sciml.data.load_trajectories(path, 'train')"
        )
    if isinstance(data, tuple):
        if len(data) != 2:
            raise ShapeError(f"{owner}: snapshot pairs are a tuple (x, y) of two arrays [M, D], got {len(data)} items")
        x = as_float64_array(data[0], "snapshot pairs x", (2,), what="[M, D]")
        y = as_float64_array(data[1], "snapshot pairs y", (2,), what="[M, D]")
        if x.shape[0] != y.shape[0]:
            raise ShapeError(
                f"{owner}: snapshot pairs have different lengths (x has {x.shape[0]} snapshots, y has {y.shape[0]}); "
                "pass y[m] = F(x[m]) for every m"
            )
        if x.shape[1] != y.shape[1]:
            raise ShapeError(f"{owner}: snapshot pairs x and y have D={x.shape[1]} and D={y.shape[1]} features")
        if window > 1:
            raise ConfigError(
                f"{owner}: a delay embedding of {window} states needs trajectories, not snapshot pairs; "
                "pass trajectories [N, T, D]"
            )
        if x.shape[0] < 1:
            raise ShapeError(f"{owner}: no snapshot pairs; pass x, y [M, D] with M >= 1")
        step = 1.0 if dt is None else float(dt)
        return LiftedData(x[:, None], y[:, None], x, step, None, 0)
    traj = _as_trajectories(data, dt, owner)
    n, t, d = traj.x.shape
    if t < window + 1:
        what = f"a delay of {window} states" if window > 1 else "a snapshot pair"
        raise ShapeError(
            f"{owner}: {what} needs trajectories of at least {window + 1} states, got T={t}; "
            f"use fewer delays (at most {max(t - 1, 0)}) or longer trajectories"
        )
    win = np.lib.stride_tricks.sliding_window_view(traj.x, window, axis=1).transpose(0, 1, 3, 2)  # [N, T-w+1, w, D]
    xw = np.ascontiguousarray(win[:, :-1]).reshape(-1, window, d)
    yw = np.ascontiguousarray(win[:, 1:]).reshape(-1, window, d)
    return LiftedData(xw, yw, xw[:, -1].copy(), float(traj.dt), traj, n)


def pair_weights(weights: Any, n_pairs: int, owner: str) -> np.ndarray:
    """Quadrature weights ``[M]`` normalized to sum 1 (uniform ``1/M`` when None)."""
    if weights is None:
        return np.full(n_pairs, 1.0 / n_pairs)
    w = as_float64_array(weights, "weights", (1, 2), what="[M] or [N, T - window]").reshape(-1)
    if w.shape[0] != n_pairs:
        raise ShapeError(f"{owner}: {w.shape[0]} weights for {n_pairs} snapshot pairs; pass one weight per pair")
    if (w < 0).any() or not w.sum() > 0:
        raise DataError(f"{owner}: quadrature weights must be >= 0 with a positive sum; got min {w.min()}")
    return w / w.sum()


def relative_l2_per_trajectory(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    num = np.linalg.norm((pred - target).reshape(pred.shape[0], -1), axis=1)
    den = np.linalg.norm(target.reshape(target.shape[0], -1), axis=1)
    return num / np.maximum(den, np.finfo(np.float64).tiny)


class AbstractKoopman(AbstractEstimator):
    """Base of the lifted Koopman estimators: the forecast protocol and evaluation on top of
    ``_lift`` (windows -> coordinates), ``_advance`` (one step of the linear model) and
    ``_readout`` (coordinates -> states). Subclasses set ``n_features_`` and ``dt_`` in ``fit``."""

    @property
    def window(self) -> int:
        """States per lifted vector (1 unless the observables are a delay embedding)."""
        return 1

    @property
    def min_context(self) -> int:
        """The fewest context states :meth:`forecast` accepts (the forecast protocol)."""
        return self.window

    def _lift(self, windows: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # AbstractKoopman: subclasses implement it

    def _advance(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # AbstractKoopman: subclasses implement it

    def _readout(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # AbstractKoopman: subclasses implement it

    def _states(self, x: Any, name: str) -> tuple[np.ndarray, bool]:
        """Pointwise input ``[B, D]`` / ``[D]`` -> windows ``[B, 1, D]``; for window > 1 a context."""
        self.check_fitted()
        d = self.n_features_
        if self.window > 1:
            ctx, single = check_context(x, 1, min_context=self.window, dim=d, owner=type(self).__name__)
            return ctx[:, -self.window :], single
        arr = as_float64_array(x, name, (1, 2), what=f"[B, {d}] or [{d}]")
        if arr.shape[-1] != d:
            raise ShapeError(
                f"{name} has {arr.shape[-1]} features but {type(self).__name__} was fitted on D={d}; pass states [B, {d}]"
            )
        return np.atleast_2d(arr)[:, None], arr.ndim == 1

    def predict(self, x: Any) -> np.ndarray:
        """One step ahead.

        Parameters
        ----------
        x : array-like ``[B, D]`` or ``[D]`` (states); for a delay embedding of ``w`` states a
            context ``[B, C, D]`` or ``[C, D]`` with ``C >= w``

        Returns
        -------
        ndarray ``[B, D]`` (``[D]`` for one input), float64
        """
        windows, single = self._states(x, "x")
        out = self._readout(self._advance(self._lift(windows)))
        return out[0] if single else out

    def forecast(self, context: Any, horizon: int) -> np.ndarray:
        """The next ``horizon`` states after ``context``, iterating the linear model in lifted coordinates.

        Parameters
        ----------
        context : array-like ``[C, D]`` or ``[B, C, D]``
            The ``C >= min_context`` most recent states; the last row is the present.
        horizon : int >= 1

        Returns
        -------
        ndarray ``[horizon, D]`` or ``[B, horizon, D]``, float64
        """
        self.check_fitted()
        ctx, single = check_context(context, horizon, min_context=self.min_context, dim=self.n_features_,
                                    owner=type(self).__name__)
        z = self._lift(ctx[:, -self.window :])
        out = np.empty((ctx.shape[0], int(horizon), self.n_features_))
        for k in range(int(horizon)):
            z = self._advance(z)
            out[:, k] = self._readout(z)
        return out[0] if single else out

    def evaluate(self, data: Any, dt: float | None = None) -> dict[str, float]:
        """Relative L2 errors per trajectory, averaged, against persistence.

        ``one_step_rel_l2``: every one-step prediction; ``forecast_rel_l2``: the free-running
        forecast from the first ``window`` states over the rest of each trajectory;
        ``persistence_*``: the same errors of ``x_{k+1} = x_k``.
        """
        self.check_fitted()
        owner = type(self).__name__
        traj = _as_trajectories(data, self.dt_ if dt is None and not isinstance(data, Trajectories) else dt, owner)
        if abs(traj.dt - self.dt_) > 1e-9 * self.dt_:
            raise DataError(
                f"the data are sampled at dt={traj.dt} but {owner} was fitted at dt={self.dt_}; "
                "evaluate on data with the training time step"
            )
        x = traj.x
        n, t, d = x.shape
        w = self.window
        if d != self.n_features_:
            raise ShapeError(
                f"the data have D={d} features but {owner} was fitted on D={self.n_features_}; "
                "evaluate on data of the training system"
            )
        if t < w + 1:
            raise ShapeError(f"{owner} evaluates trajectories of at least {w + 1} states, got T={t}")
        lifted = lift_data(traj, None, w, owner)
        target = x[:, w:]
        one_step = self._readout(self._advance(self._lift(lifted.x_windows))).reshape(n, t - w, d)
        free = self.forecast(x[:, :w], t - w)
        present = x[:, w - 1 : -1]
        return {
            "one_step_rel_l2": float(relative_l2_per_trajectory(one_step, target).mean()),
            "forecast_rel_l2": float(relative_l2_per_trajectory(free, target).mean()),
            "persistence_one_step_rel_l2": float(relative_l2_per_trajectory(present, target).mean()),
            "persistence_forecast_rel_l2": float(
                relative_l2_per_trajectory(np.broadcast_to(x[:, w - 1 : w], target.shape), target).mean()
            ),
        }

