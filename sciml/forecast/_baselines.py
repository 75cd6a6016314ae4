"""The trivial baselines: persistence (the last state) and climatology (the training mean)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sciml.forecast._common import as_train, check_device
from sciml.forecast._protocol import AbstractForecaster, check_context, register_forecaster

__all__ = ["Persistence", "Climatology"]


@register_forecaster("persistence", doc="the last context state, held for the whole horizon")
class Persistence(AbstractForecaster):
    """Forecasts that nothing changes: every step equals the last context state.

    Parameters
    ----------
    device : str
        Accepted for the common interface; the forecast is a numpy copy.
    seed : int
        Unused (the forecast is deterministic); kept for the common interface.
    """

    def __init__(self, device: str = "cpu", seed: int = 0):
        self.device = device
        self.seed = seed
        check_device("Persistence", device)

    def fit(self, train: Any, dt: float | None = None) -> Persistence:
        x = as_train(train, "Persistence", min_length=1)
        self.dim_ = int(x.shape[-1])
        self._record_training_data(train, trajectories=int(x.shape[0]), steps=int(x.shape[1]))
        return self

    def forecast(self, context: Any, horizon: int) -> np.ndarray:
        self.check_fitted()
        ctx, single = check_context(context, horizon, min_context=1, dim=self.dim_, owner="Persistence")
        out = np.repeat(ctx[:, -1:], horizon, axis=1)
        return out[0] if single else out


@register_forecaster("climatology", doc="the training mean, for every step")
class Climatology(AbstractForecaster):
    """Forecasts the long-time average: every step is the training data's mean state.

    Parameters
    ----------
    device : str
        Accepted for the common interface.
    seed : int
        Unused; kept for the common interface.
    """

    def __init__(self, device: str = "cpu", seed: int = 0):
        self.device = device
        self.seed = seed
        check_device("Climatology", device)

    def fit(self, train: Any, dt: float | None = None) -> Climatology:
        x = as_train(train, "Climatology", min_length=1)
        self.mean_ = x.reshape(-1, x.shape[-1]).mean(axis=0)
        self._record_training_data(train, trajectories=int(x.shape[0]), steps=int(x.shape[1]))
        return self

    def forecast(self, context: Any, horizon: int) -> np.ndarray:
        self.check_fitted()
        ctx, single = check_context(context, horizon, min_context=1, dim=self.mean_.size, owner="Climatology")
        out = np.broadcast_to(self.mean_, (ctx.shape[0], horizon, self.mean_.size)).copy()
        return out[0] if single else out
