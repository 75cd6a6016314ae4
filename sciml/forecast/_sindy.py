"""SINDy forecaster: a sparse polynomial ODE identified by pysindy, integrated by RK4 from the context."""

from __future__ import annotations

from typing import Any

import numpy as np

from sciml.core.errors import ConfigError
from sciml.forecast._common import as_train, check_device, check_positive_int, standardizer
from sciml.forecast._protocol import AbstractForecaster, check_context, register_forecaster

__all__ = ["SINDyForecaster"]


def _pysindy():
    try:
        import pysindy
    except ImportError:  # pragma: no cover - a pinned dependency
        raise ConfigError("the 'sindy' forecaster needs pysindy: pip install pysindy==2.1.0") from None
    return pysindy


@register_forecaster("sindy", doc="SINDy (pysindy): sparse polynomial ODE, STLSQ, integrated by RK4")
class SINDyForecaster(AbstractForecaster):
    """Sparse identification of nonlinear dynamics (Brunton, Proctor & Kutz, PNAS 113, 3932, 2016).

    On standardized states, pysindy fits ``dz/dt = Xi Theta(z)`` with ``Theta`` the monomials
    of degree <= ``degree`` (``PolynomialLibrary``), derivatives by second-order finite
    differences and sequentially thresholded least squares (``STLSQ``, ``threshold``,
    ridge ``alpha``). The learned coefficients and monomial powers are stored as arrays, so a
    forecast (and a loaded model) needs no pysindy: the ODE is integrated from the last
    context state by classical RK4 with ``substeps`` steps per sample.

    Parameters
    ----------
    degree : int
        Largest monomial degree (2 covers Lorenz and Rossler, 3 most of the catalogue).
    threshold : float
        STLSQ threshold on the coefficients (standardized states, time units of ``dt``).
    alpha : float
        STLSQ ridge penalty.
    substeps : int
        RK4 steps per sampling step in the forecast.
    device, seed : str, int
        For the common interface (numpy float64 on the CPU; the fit is deterministic).

    Notes
    -----
    ``fit(train, dt)``: ``dt`` is the sampling step in time units (the benchmark passes it);
    without it a sample counts as 0.01 time units (100 per unit, the benchmark's sampling per
    dominant period), which sets the scale ``threshold`` is read in.
    """

    def __init__(
        self,
        degree: int = 2,
        threshold: float = 0.05,
        alpha: float = 0.05,
        substeps: int = 4,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.degree, self.threshold, self.alpha, self.substeps = degree, threshold, alpha, substeps
        self.device, self.seed = device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int("SINDyForecaster", degree=self.degree, substeps=self.substeps)
        check_device("SINDyForecaster", self.device)
        if not (self.threshold >= 0 and self.alpha >= 0):
            raise ConfigError(f"SINDyForecaster threshold={self.threshold} and alpha={self.alpha} must be >= 0")

    def fit(self, train: Any, dt: float | None = None) -> SINDyForecaster:
        ps = _pysindy()
        x = as_train(train, "SINDyForecaster", min_length=3)
        self.mean_, self.std_ = standardizer(x)
        z = (x - self.mean_) / self.std_
        step = 0.01 if dt is None else float(dt)
        if not step > 0:
            raise ConfigError(f"SINDyForecaster dt={dt} must be > 0")
        library = ps.PolynomialLibrary(degree=self.degree)
        model = ps.SINDy(optimizer=ps.STLSQ(threshold=self.threshold, alpha=self.alpha), feature_library=library)
        model.fit(list(z), t=step)
        self.coefficients_ = np.asarray(model.coefficients(), dtype=np.float64)  # [D, n_features]
        self.powers_ = np.asarray(library.powers_, dtype=np.int64)  # [n_features, D]
        self.dt_ = step
        self._record_training_data(train, trajectories=int(x.shape[0]), steps=int(x.shape[1]))
        return self

    def _rhs(self, z: np.ndarray) -> np.ndarray:
        theta = np.prod(z[:, None, :] ** self.powers_[None], axis=-1)  # [B, n_features]
        return theta @ self.coefficients_.T

    def forecast(self, context: Any, horizon: int) -> np.ndarray:
        self.check_fitted()
        ctx, single = check_context(context, horizon, min_context=1, dim=self.mean_.size, owner="SINDyForecaster")
        z = (ctx[:, -1] - self.mean_) / self.std_
        h = self.dt_ / self.substeps
        out = []
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging model ends in inf/NaN, which is its score
            for _ in range(horizon):
                for _ in range(self.substeps):
                    k1 = self._rhs(z)
                    k2 = self._rhs(z + 0.5 * h * k1)
                    k3 = self._rhs(z + 0.5 * h * k2)
                    k4 = self._rhs(z + h * k3)
                    z = z + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
                out.append(z)
        pred = np.stack(out, axis=1) * self.std_ + self.mean_
        return pred[0] if single else pred
