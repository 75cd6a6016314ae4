"""Echo-state network: a fixed random leaky-tanh reservoir with a ridge-fitted linear readout."""

from __future__ import annotations

from typing import Any

import numpy as np

from sciml.core.errors import ConfigError
from sciml.forecast._common import as_train, check_device, check_positive_int, ridge, standardizer
from sciml.forecast._protocol import AbstractForecaster, check_context, register_forecaster

__all__ = ["EchoStateNetwork"]


@register_forecaster("esn", doc="echo-state reservoir computer, leaky tanh reservoir, ridge readout")
class EchoStateNetwork(AbstractForecaster):
    """Echo-state reservoir computer (Jaeger 2001; Pathak et al., PRL 120, 024102, 2018).

    With standardized states ``u``: ``r_{t+1} = (1 - a) r_t + a tanh(W r_t + W_in u_t + b)``,
    ``W`` a sparse random matrix scaled to spectral radius ``rho``; the readout predicts the
    increment ``u_{t+1} - u_t = W_out^T [1, r_{t+1}, u_t]``, fitted by ridge regression on
    the teacher-forced training run after ``warmup`` steps. A forecast resets ``r = 0``,
    runs the reservoir over the context (so ``min_context = warmup``) and then feeds its own
    predictions back.

    Parameters
    ----------
    units : int
        Reservoir size; 300 to 1000 is usual for three-dimensional flows.
    spectral_radius : float
        ``rho``; below 1 for the echo-state property.
    leak : float
        ``a`` in (0, 1]; small values suit finely sampled flows.
    input_scaling : float
        ``W_in`` entries uniform in ``[-input_scaling, input_scaling]``.
    density : float
        Fraction of non-zero entries of ``W``.
    alpha : float
        Ridge penalty of the readout.
    warmup : int
        Steps discarded before fitting, and the fewest context states of a forecast.
    device : str
        For the common interface (numpy float64 on the CPU).
    seed : int
        Seeds ``W``, ``W_in`` and ``b``.
    """

    def __init__(
        self,
        units: int = 400,
        spectral_radius: float = 0.9,
        leak: float = 0.5,
        input_scaling: float = 0.5,
        density: float = 0.05,
        alpha: float = 1e-6,
        warmup: int = 50,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.units, self.spectral_radius, self.leak = units, spectral_radius, leak
        self.input_scaling, self.density, self.alpha, self.warmup = input_scaling, density, alpha, warmup
        self.device, self.seed = device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int("EchoStateNetwork", units=self.units, warmup=self.warmup)
        check_device("EchoStateNetwork", self.device)
        for name, ok in (
            ("spectral_radius", self.spectral_radius > 0),
            ("leak", 0 < self.leak <= 1),
            ("input_scaling", self.input_scaling > 0),
            ("density", 0 < self.density <= 1),
            ("alpha", self.alpha >= 0),
        ):
            if not ok:
                raise ConfigError(f"EchoStateNetwork {name}={getattr(self, name)!r} is out of range; see the docstring")

    @property
    def min_context(self) -> int:  # type: ignore[override]
        return self.warmup

    def _run(self, u: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Reservoir states after each input: ``u [B, T, D]``, ``r [B, N]`` -> ``[B, T, N]``."""
        out = np.empty(u.shape[:2] + (self.units,))
        for t in range(u.shape[1]):
            r = (1 - self.leak) * r + self.leak * np.tanh(r @ self.w_.T + u[:, t] @ self.w_in_.T + self.b_)
            out[:, t] = r
        return out

    def _readout(self, r: np.ndarray, u: np.ndarray) -> np.ndarray:
        return np.concatenate([np.ones(r.shape[:-1] + (1,)), r, u], axis=-1) @ self.w_out_

    def fit(self, train: Any, dt: float | None = None) -> EchoStateNetwork:
        x = as_train(train, "EchoStateNetwork", min_length=self.warmup + 2)
        self.mean_, self.std_ = standardizer(x)
        u = (x - self.mean_) / self.std_
        rng = np.random.default_rng(self.seed)
        n, d = self.units, x.shape[-1]
        w = rng.uniform(-1, 1, (n, n)) * (rng.uniform(size=(n, n)) < self.density)
        radius = float(np.max(np.abs(np.linalg.eigvals(w))))
        self.w_ = w * (self.spectral_radius / radius if radius > 0 else 1.0)
        self.w_in_ = rng.uniform(-self.input_scaling, self.input_scaling, (n, d))
        self.b_ = rng.uniform(-0.1, 0.1, n)
        states = self._run(u[:, :-1], np.zeros((u.shape[0], n)))  # r_{t+1} after reading u_t
        keep = slice(self.warmup - 1, None)
        feats = np.concatenate([np.ones(states.shape[:-1] + (1,)), states, u[:, :-1]], axis=-1)[:, keep]
        target = (u[:, 1:] - u[:, :-1])[:, keep]
        self.w_out_ = ridge(feats.reshape(-1, feats.shape[-1]), target.reshape(-1, d), self.alpha)
        self._record_training_data(train, trajectories=int(x.shape[0]), steps=int(x.shape[1]))
        return self

    def forecast(self, context: Any, horizon: int) -> np.ndarray:
        self.check_fitted()
        ctx, single = check_context(
            context, horizon, min_context=self.warmup, dim=self.mean_.size, owner="EchoStateNetwork"
        )
        u = (ctx - self.mean_) / self.std_
        r = self._run(u, np.zeros((u.shape[0], self.units)))[:, -1]
        last = u[:, -1]
        out = []
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging forecast ends in inf/NaN, which is its score
            for _ in range(horizon):
                nxt = last + self._readout(r, last)
                out.append(nxt)
                r = self._run(nxt[:, None], r)[:, -1]
                last = nxt
        pred = np.stack(out, axis=1) * self.std_ + self.mean_
        return pred[0] if single else pred
