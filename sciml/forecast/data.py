"""The benchmark's data: one system's trajectories, split in time into train / validation / test windows.

A system of the dysts catalogue is integrated by our ``chaos`` generator
(:func:`sciml.data.generators.chaos`: dopri5 at rtol = atol = 1e-9, a discarded transient of
``burn_in_periods`` dominant periods) and sampled at ``points_per_period`` points per
dominant period (100 in Gilpin 2023). Each trajectory is cut in time into

``train``  the first ``train_periods`` periods (what ``fit`` sees),
``val``    the next ``val_periods`` periods (for model selection; not used by the runner's fits),
``test``   the last ``test_periods`` periods: the forecast horizon; the context of the
           forecast is the ``context`` states just before it (the end of ``val``, and of
           ``train`` when the context is longer than ``val``). With ``test_lyapunov_times``
           the window is lengthened to hold at least that many Lyapunov times (at most
           ``max_test_periods`` periods): a valid prediction time cannot exceed the window,
           and one period holds from 0.03 to 10 Lyapunov times across the catalogue (median 0.65).

Optional observation noise: Gaussian, ``noise`` times the clean trajectory's standard
deviation per dimension, added to everything the model sees (train, val and the test
context); the test window's truth stays clean. The *data-limited* setting
(:data:`SETTINGS` ``"limited"``) trains on fewer periods.

>>> data = chaos_data("Lorenz", train_periods=2, val_periods=1, test_periods=1, points_per_period=20)
>>> data.train.shape, data.test.shape, data.context.shape
((1, 40, 3), (1, 20, 3), (1, 20, 3))
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, ShapeError
from sciml.data import load_trajectories
from sciml.data.generators.chaos import chaos
from sciml.systems import dominant_period, lyapunov_time, system_metadata
from sciml.systems._catalogue import check_name

__all__ = ["ChaosData", "chaos_data", "SETTINGS"]

SETTINGS: dict[str, dict[str, Any]] = {
    # Gilpin 2023: 100 points per period, train on 10 periods, forecast 2
    "rich": {"points_per_period": 100, "train_periods": 10.0, "val_periods": 2.0, "test_periods": 2.0},
    # ours: the same sampling and horizon, a fifth of the training data
    "limited": {"points_per_period": 100, "train_periods": 2.0, "val_periods": 2.0, "test_periods": 2.0},
}


@dataclasses.dataclass(frozen=True)
class ChaosData:
    """One system's split (arrays float64).

    Attributes
    ----------
    system : str
    train : ndarray ``[N, T_train, D]``
        The training windows (noisy when ``noise > 0``).
    val : ndarray ``[N, T_val, D]``
    context : ndarray ``[N, C, D]``
        The ``C`` states before the test window (noisy when ``noise > 0``).
    test : ndarray ``[N, T_test, D]``
        The clean truth after the context: forecast step ``k`` is ``test[:, k - 1]``.
    dt : float
        Sampling step, ``dominant_period / points_per_period``.
    lyapunov_time : float
        ``1 / lambda_max`` of our reference (:func:`sciml.systems.lyapunov_time`; inf when not positive).
    lyapunov_max : float
    scale : ndarray ``[D]``
        Standard deviation of the training data per dimension (the normalized-error VPT's ``sigma``).
    settings : dict
        What made it (points_per_period, periods, noise, seed, n_trajectories, context).
    """

    system: str
    train: np.ndarray
    val: np.ndarray
    context: np.ndarray
    test: np.ndarray
    dt: float
    lyapunov_time: float
    lyapunov_max: float
    scale: np.ndarray
    settings: dict[str, Any]

    @property
    def dim(self) -> int:
        return int(self.train.shape[-1])

    def check_horizon(self, horizon: int) -> int:
        """``horizon`` if the test window holds it, else a one-line error naming the window."""
        n = self.test.shape[1]
        if not (isinstance(horizon, (int, np.integer)) and 1 <= horizon <= n):
            raise ShapeError(
                f"horizon {horizon} is longer than the test window of {self.system} ({n} steps = "
                f"{self.settings['test_periods']:g} periods); pass horizon <= {n} or raise test_periods"
            )
        return int(horizon)


@functools.lru_cache(maxsize=4)
def _integrate(system: str, n: int, seed: int, total: int, points_per_period: int, burn_in: float) -> np.ndarray:
    """``[n, total, D]`` states of the ``chaos`` generator (cached: read-only, callers copy)."""
    with tempfile.TemporaryDirectory(prefix="sciml-chaos-") as tmp:
        path = Path(tmp) / f"{system}.h5"
        chaos(path, n=n, seed=seed, system=system, n_periods=total / points_per_period,
              points_per_period=points_per_period, burn_in_periods=burn_in)  # fmt: skip
        x = load_trajectories(path, split=None).x[:, :total]
    x.setflags(write=False)
    return x


def chaos_data(
    system: str,
    *,
    points_per_period: int = 100,
    train_periods: float = 10.0,
    val_periods: float = 2.0,
    test_periods: float = 2.0,
    context: int | None = None,
    noise: float = 0.0,
    n_trajectories: int = 1,
    seed: int = 0,
    burn_in_periods: float = 10.0,
    test_lyapunov_times: float = 0.0,
    max_test_periods: float = 100.0,
) -> ChaosData:
    """Integrate ``system`` with the ``chaos`` generator and split it in time (see the module docstring).

    Parameters
    ----------
    system : str
        A name of :func:`sciml.systems.list_systems`; an unknown one is a one-line error with close matches.
    points_per_period : int
        Samples per dominant period.
    train_periods, val_periods, test_periods : float
        Window lengths in dominant periods.
    context : int, optional
        States before the test window given to the forecaster (default: one period,
        ``points_per_period``); at most the train and val windows together.
    noise : float
        Observation noise, in units of the clean trajectory's std per dimension (0.05 is 5 %).
    n_trajectories : int
        Independent trajectories (initial conditions perturbed by the generator's ``seed``).
    seed : int
        Seed of the initial conditions and of the noise.
    burn_in_periods : float
        Discarded transient before the first sample.
    test_lyapunov_times : float
        Lengthen the test window to at least this many Lyapunov times (0: ``test_periods`` only).
    max_test_periods : float
        The longest test window ``test_lyapunov_times`` may ask for, in periods.

    Repeated calls with the same arguments (the benchmark's cells of one system) reuse the
    integration of the last few (an in-process cache; every call returns fresh arrays).
    """
    check_name(system)
    for name, value in (("train_periods", train_periods), ("test_periods", test_periods)):
        if not value > 0:
            raise ConfigError(f"{name}={value} must be > 0 periods; try {name}=2")
    if val_periods < 0 or noise < 0 or test_lyapunov_times < 0:
        raise ConfigError(
            f"val_periods={val_periods}, noise={noise} and test_lyapunov_times={test_lyapunov_times} must be >= 0"
        )
    lt = lyapunov_time(system)
    if test_lyapunov_times > 0 and np.isfinite(lt):
        if not max_test_periods >= test_periods:
            raise ConfigError(f"max_test_periods={max_test_periods} must be >= test_periods={test_periods}")
        test_periods = max(test_periods, min(max_test_periods, test_lyapunov_times * lt / dominant_period(system)))
    if int(points_per_period) != points_per_period or points_per_period < 2:
        raise ConfigError(f"points_per_period={points_per_period} must be an integer >= 2; try 100")
    n_train = int(round(train_periods * points_per_period))
    n_val = int(round(val_periods * points_per_period))
    n_test = int(round(test_periods * points_per_period))
    context = int(points_per_period) if context is None else int(context)
    if not 1 <= context <= n_train + n_val:
        raise ConfigError(
            f"context={context} states must be between 1 and the train + val windows ({n_train + n_val} states)"
        )
    total = n_train + n_val + n_test
    x = _integrate(system, int(n_trajectories), int(seed), total, int(points_per_period), float(burn_in_periods)).copy()
    clean_std = x.reshape(-1, x.shape[-1]).std(axis=0)
    seen = x.copy()
    if noise > 0:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x4E015E]))
        seen = seen + noise * clean_std * rng.standard_normal(seen.shape)
    train = seen[:, :n_train]
    scale = train.reshape(-1, train.shape[-1]).std(axis=0)
    lam = 0.0 if not np.isfinite(lt) else 1.0 / lt
    return ChaosData(
        system=system,
        train=np.ascontiguousarray(train),
        val=np.ascontiguousarray(seen[:, n_train : n_train + n_val]),
        context=np.ascontiguousarray(seen[:, n_train + n_val - context : n_train + n_val]),
        test=np.ascontiguousarray(x[:, n_train + n_val :]),
        dt=dominant_period(system) / points_per_period,
        lyapunov_time=float(lt),
        lyapunov_max=float(lam),
        scale=np.where(scale > 0, scale, 1.0),
        settings={
            "points_per_period": int(points_per_period),
            "train_periods": float(train_periods),
            "val_periods": float(val_periods),
            "test_periods": float(test_periods),
            "test_lyapunov_times": float(test_lyapunov_times),
            "context": context,
            "noise": float(noise),
            "n_trajectories": int(n_trajectories),
            "seed": int(seed),
            "burn_in_periods": float(burn_in_periods),
            "dimension": int(x.shape[-1]),
            "delay": bool(system_metadata(system).get("delay", False)),
        },
    )
