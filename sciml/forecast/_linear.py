"""Ridge-regression forecasters on delayed states: linear autoregression and NVAR.

Both standardize the states with the training mean and std, build features of the last
``k`` states (every ``skip``-th), and fit the next standardized increment
``z_{t+1} - z_t = W^T phi(z_t, z_{t-s}, ...)`` by ridge regression over every training
time with a full history; the forecast iterates the map from the context.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError
from sciml.forecast._common import as_train, check_device, check_positive_int, lagged, ridge, standardizer
from sciml.forecast._protocol import AbstractForecaster, check_context, register_forecaster

__all__ = ["LinearAR", "NVAR"]


class _DelayRidge(AbstractForecaster, abc.ABC):
    """Shared fit / forecast of the delayed-feature ridge models (not registered)."""

    lags: int
    skip: int
    alpha: float

    @abc.abstractmethod
    def _features(self, lin: np.ndarray) -> np.ndarray:
        """The regression features of the standardized lagged states (what each model adds)."""

    @property
    def min_context(self) -> int:  # type: ignore[override]
        return (self.lags - 1) * self.skip + 1

    def _check(self) -> None:
        check_positive_int(type(self).__name__, lags=self.lags, skip=self.skip)
        if not self.alpha >= 0:
            raise ConfigError(f"{type(self).__name__} alpha={self.alpha!r} must be >= 0; try 1e-6")
        check_device(type(self).__name__, self.device)

    def fit(self, train: Any, dt: float | None = None) -> _DelayRidge:
        x = as_train(train, type(self).__name__, min_length=self.min_context + 1)
        self.mean_, self.std_ = standardizer(x)
        z = (x - self.mean_) / self.std_
        lin = lagged(z, self.lags, self.skip)[:, :-1]  # rows t = span .. T-2
        span = (self.lags - 1) * self.skip
        target = z[:, span + 1 :] - z[:, span:-1]
        feats = self._features(lin.reshape(-1, lin.shape[-1]))
        self.weights_ = ridge(feats, target.reshape(-1, z.shape[-1]), self.alpha)
        self._record_training_data(train, trajectories=int(x.shape[0]), steps=int(x.shape[1]))
        return self

    def forecast(self, context: Any, horizon: int) -> np.ndarray:
        self.check_fitted()
        ctx, single = check_context(
            context, horizon, min_context=self.min_context, dim=self.mean_.size, owner=type(self).__name__
        )
        span = (self.lags - 1) * self.skip
        hist = list(np.moveaxis((ctx[:, -(span + 1) :] - self.mean_) / self.std_, 1, 0))
        out = []
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging forecast ends in inf/NaN, which is its score
            for _ in range(horizon):
                lin = np.concatenate([hist[-1 - i * self.skip] for i in range(self.lags)], axis=-1)
                nxt = hist[-1] + self._features(lin) @ self.weights_
                hist.append(nxt)
                out.append(nxt)
        pred = np.stack(out, axis=1) * self.std_ + self.mean_
        return pred[0] if single else pred


@register_forecaster("ar", doc="linear autoregression on delayed states, ridge-fitted increments")
class LinearAR(_DelayRidge):
    """Linear autoregression: the next increment is affine in the last ``lags`` standardized states.

    Parameters
    ----------
    lags : int
        Delayed states in the features (``min_context = (lags - 1) skip + 1``); 4 is a good start.
    skip : int
        Stride of the delays, in samples.
    alpha : float
        Ridge penalty (the features are standardized states, so 1e-6 is mild).
    device, seed : str, int
        For the common interface (the fit is closed-form float64 numpy on the CPU, no randomness).
    """

    def __init__(self, lags: int = 4, skip: int = 1, alpha: float = 1e-6, device: str = "cpu", seed: int = 0):
        self.lags, self.skip, self.alpha, self.device, self.seed = lags, skip, alpha, device, seed
        self._check()

    def _check_params(self) -> None:
        self._check()

    def _features(self, lin: np.ndarray) -> np.ndarray:
        return np.concatenate([np.ones(lin.shape[:-1] + (1,)), lin], axis=-1)


@register_forecaster("nvar", doc="next-generation reservoir computing (Gauthier et al. 2021): quadratic NVAR")
class NVAR(_DelayRidge):
    """Next-generation reservoir computer (Gauthier, Bollt, Griffith & Barbosa, Nat. Commun. 12, 5564, 2021).

    Features: a constant, the ``k = lags`` delayed states ``O_lin`` (``k D`` numbers) and every
    unique quadratic monomial of ``O_lin`` (``k D (k D + 1) / 2``); the next increment is a
    ridge-fitted linear map of them (the paper's Lorenz setting: ``k = 2``, ``s = 1``,
    ridge 2.5e-6).

    Parameters
    ----------
    lags : int
        ``k``, delayed states in the linear part.
    skip : int
        ``s``, their stride in samples.
    alpha : float
        Ridge penalty.
    device, seed : str, int
        For the common interface (closed-form float64 numpy, no randomness).
    """

    def __init__(self, lags: int = 2, skip: int = 1, alpha: float = 2.5e-6, device: str = "cpu", seed: int = 0):
        self.lags, self.skip, self.alpha, self.device, self.seed = lags, skip, alpha, device, seed
        self._check()

    def _check_params(self) -> None:
        self._check()

    def _features(self, lin: np.ndarray) -> np.ndarray:
        i, j = np.triu_indices(lin.shape[-1])
        quad = lin[..., i] * lin[..., j]
        return np.concatenate([np.ones(lin.shape[:-1] + (1,)), lin, quad], axis=-1)
