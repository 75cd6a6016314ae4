"""The forecaster protocol: ``fit(train)`` then ``forecast(context, horizon)``.

Every model of the chaotic-forecasting benchmark is an :class:`AbstractForecaster`, an
:class:`~sciml.core.estimator.AbstractEstimator` (parameters from the signature, learned
state in attributes ending in ``_``, ``save`` / ``load_estimator``) with one more method:

``fit(train, dt=None) -> self``
    ``train``: :class:`~sciml.data.Trajectories` or an array ``[N, T, D]`` / ``[T, D]``
    of uniformly sampled states (float64). Gradient-trained forecasters run the
    :class:`~sciml.training.Trainer` inside ``fit``.
``forecast(context, horizon) -> ndarray``
    ``context``: ``[C, D]`` or ``[B, C, D]``, the ``C`` most recent states (the last row is
    the present); returns the next ``horizon`` states, ``[horizon, D]`` or
    ``[B, horizon, D]``, float64. ``C`` must be at least :attr:`min_context`. A forecast that
    diverges returns its inf/NaN values (no exception): the benchmark scores it as such.

Forecasters register in :data:`sciml.core.registry.FORECASTERS` with
:func:`register_forecaster` (and, being estimators, in ``ESTIMATORS`` too, so they save,
load and run through ``sciml train`` like any estimator).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sciml.core.errors import SciMLError, ShapeError
from sciml.core.estimator import AbstractEstimator, as_float64_array, check_context, register_estimator
from sciml.core.registry import FORECASTERS

__all__ = ["AbstractForecaster", "register_forecaster", "check_context"]


class AbstractForecaster(AbstractEstimator):
    """Base class of the benchmark's forecasters (see the module docstring for the protocol).

    Attributes
    ----------
    min_context : int
        The fewest context states :meth:`forecast` accepts (1 for Markovian models, the
        number of lags for autoregressive ones); an instance may override it after ``fit``.
    compute_dtype : str
        The float type the forecast is computed in (``"float64"``; ``"float32"`` for the torch
        networks): what rounding a caller may expect (the conformance suite's tolerances).
    """

    min_context: ClassVar[int] = 1
    compute_dtype: ClassVar[str] = "float64"

    def fit(self, train: Any, dt: float | None = None) -> AbstractForecaster:  # pragma: no cover - protocol
        """Learn from training trajectories; returns ``self``."""
        raise NotImplementedError  # AbstractForecaster: subclasses implement it

    def forecast(self, context: Any, horizon: int) -> np.ndarray:  # pragma: no cover - protocol
        """The next ``horizon`` states after ``context`` (``[C, D]`` or ``[B, C, D]``)."""
        raise NotImplementedError  # AbstractForecaster: subclasses implement it

    def predict(self, context: Any, horizon: int = 1) -> np.ndarray:
        """Alias of :meth:`forecast` (the estimator protocol's name)."""
        return self.forecast(context, horizon)

    def evaluate(self, data: Any, max_windows: int = 1024) -> dict[str, float]:
        """One-step forecast errors on trajectories, beside persistence's (what ``sciml eval`` prints).

        Parameters
        ----------
        data : Trajectories, or array-like ``[N, T, D]`` / ``[T, D]``
        max_windows : int
            At most this many (trajectory, time) windows, evenly spaced, are forecast.

        Returns
        -------
        dict of str to float
            ``one_step_rmse`` and ``one_step_nrmse`` (RMSE over the data's std per
            dimension, averaged) of :meth:`forecast` with ``horizon=1`` from every window of
            :attr:`min_context` states, and ``persistence_one_step_rmse`` (holding the
            last state) on the same windows.
        """
        self.check_fitted()
        x = as_float64_array(getattr(data, "x", data), "data", (2, 3), what="[N, T, D] or [T, D]")
        x = x[None] if x.ndim == 2 else x
        c = int(self.min_context)
        n, t, d = x.shape
        if t <= c:
            raise ShapeError(
                f"{type(self).__name__}.evaluate needs trajectories longer than its context of {c} states, got {t}"
            )
        starts = [(i, j) for i in range(n) for j in range(t - c)]
        pick = np.unique(np.linspace(0, len(starts) - 1, min(max_windows, len(starts))).round().astype(int))
        context = np.stack([x[i, j : j + c] for i, j in (starts[k] for k in pick)])
        truth = np.stack([x[i, j + c] for i, j in (starts[k] for k in pick)])
        pred = self.forecast(context, 1)[:, 0]
        scale = np.where(x.reshape(-1, d).std(axis=0) > 0, x.reshape(-1, d).std(axis=0), 1.0)
        return {
            "one_step_rmse": float(np.sqrt(np.mean((pred - truth) ** 2))),
            "one_step_nrmse": float(np.mean(np.sqrt(np.mean((pred - truth) ** 2, axis=0)) / scale)),
            "persistence_one_step_rmse": float(np.sqrt(np.mean((context[:, -1] - truth) ** 2))),
        }


def register_forecaster(name: str, *, doc: str | None = None):
    """Class decorator: register an :class:`AbstractForecaster` in ``FORECASTERS`` and ``ESTIMATORS``."""

    def add(cls: type[AbstractForecaster]) -> type[AbstractForecaster]:
        if not (isinstance(cls, type) and issubclass(cls, AbstractForecaster)):
            raise SciMLError(f"register_forecaster('{name}') decorates AbstractForecaster subclasses only")
        register_estimator(name, doc=doc)(cls)
        FORECASTERS.register(name, cls, doc=doc)
        return cls

    return add
