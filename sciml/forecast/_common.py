"""What the forecasters share: training data as ``[N, T, D]``, standardization, ridge regression, checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.estimator import as_float64_array

__all__ = ["as_train", "standardizer", "ridge", "lagged", "check_positive_int", "check_device"]


def as_train(train: Any, owner: str, min_length: int = 2) -> np.ndarray:
    """Training trajectories (:class:`~sciml.data.Trajectories` or ``[N, T, D]`` / ``[T, D]``) as float64 ``[N, T, D]``."""
    x = getattr(train, "x", train)
    arr = as_float64_array(x, "train", (2, 3), what="[N, T, D] or [T, D]")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape[1] < min_length:
        raise ShapeError(
            f"{owner} needs training trajectories of at least {min_length} states, got {arr.shape[1]}; "
            "pass longer trajectories or fewer lags"
        )
    return arr


def standardizer(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std of ``train [N, T, D]`` (a constant dimension gets std 1)."""
    flat = train.reshape(-1, train.shape[-1])
    std = flat.std(axis=0)
    return flat.mean(axis=0), np.where(std > 0, std, 1.0)


def ridge(features: np.ndarray, targets: np.ndarray, alpha: float) -> np.ndarray:
    """``argmin_W |F W - Y|^2 + alpha |W|^2`` by least squares on the augmented system (stable for small alpha).

    ``features [M, P]``, ``targets [M, Q]`` -> ``W [P, Q]``.
    """
    p = features.shape[1]
    a = np.vstack([features, np.sqrt(alpha) * np.eye(p)])
    b = np.vstack([targets, np.zeros((p, targets.shape[1]))])
    return np.linalg.lstsq(a, b, rcond=None)[0]


def lagged(z: np.ndarray, lags: int, skip: int = 1) -> np.ndarray:
    """``[x_t, x_{t-s}, ..., x_{t-(k-1)s}]`` for every ``t`` with a full history: ``z [N, T, D]`` -> ``[N, T', k D]``.

    ``T' = T - (k - 1) s``; row ``j`` of the result belongs to time ``t = j + (k - 1) s``.
    """
    span = (lags - 1) * skip
    n_t = z.shape[1] - span
    return np.concatenate([z[:, span - i * skip : span - i * skip + n_t] for i in range(lags)], axis=-1)


def check_positive_int(owner: str, **values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{owner} {name}={value!r} must be an integer >= 1")


def check_device(owner: str, device: Any) -> None:
    if not isinstance(device, str) or not device:
        raise ConfigError(f"{owner} device={device!r} must be a string such as 'cpu' or 'cuda'")
