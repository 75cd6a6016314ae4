"""The six delay equations of the catalogue: batched right-hand sides and their integration.

MackeyGlass, IkedaDelay, SprottDelay, VossDelay, ScrollDelay and PiecewiseCircuit are
scalar ``x' = f(x(t), x(t - tau))``. :func:`integrate_delay_batch` integrates them with
:func:`sciml.numerics.dde.dde_rk4` (classical RK4 with a fixed step that divides the delay
and a cubic Hermite history, order 4), from a constant history as dysts does, and returns
dysts' 10-column delay embedding.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sciml.core.errors import DataError
from sciml.numerics.dde import dde_rk4
from sciml.systems._catalogue import _catalogue, load_system
from sciml.systems._rhs import _PROBE_SAMPLES, _agrees

__all__ = ["BatchedDelayRHS", "batched_delay_rhs", "steps_per_delay_for", "integrate_delay_batch"]


@dataclass(frozen=True)
class BatchedDelayRHS:
    """A dysts delay equation on a batch: ``f(t, x [B, 1], x(t - tau) [B, 1]) -> [B, 1]``.

    Attributes
    ----------
    name : str
    tau : float
        The delay (dysts' ``tau`` attribute, the one its integrator uses).
    embedding_dimension : int
        Columns of the stored delay embedding ``x(t - k tau / (E - 1))``, ``k = 0 .. E-1``
        (the catalogue's ``embedding_dimension``, 10 for all six).
    path, reason : str
        As in :class:`BatchedRHS`.
    """

    name: str
    tau: float
    embedding_dimension: int
    path: str
    reason: str
    _fn: Callable[[float, np.ndarray, np.ndarray], np.ndarray]

    def __call__(self, t: float, y: np.ndarray, y_delayed: np.ndarray) -> np.ndarray:
        return self._fn(t, y, y_delayed)


def batched_delay_rhs(system, *, force_loop: bool = False) -> BatchedDelayRHS:
    """Evaluate a dysts delay equation on batches, vectorized when that is exact.

    dysts' ``delayed_rhs`` calls ``_rhs(x(t), x(t - tau), t, *param_list)`` with the
    parameters in catalogue order (so SprottDelay, which inherits IkedaDelay's signature,
    runs with ``tau`` and ``x0`` swapped: ``x' = sin(x(t - 5.1) - 5.1)``, a translate of
    Sprott's ``x' = sin(x(t - 5.1))``); the same call is made here on ``[B]`` arrays and
    accepted if it equals the per-sample call to 1e-12 on a probe batch. ``system`` is a
    ``dysts.base.DynSysDelay`` or its name.
    """
    if isinstance(system, str):
        system = load_system(system)
    params = list(system.param_list)
    name = type(system).__name__
    tau = float(system.tau)
    embedding = int(_catalogue()[name].get("embedding_dimension") or 10)

    def loop(t: float, y: np.ndarray, yd: np.ndarray) -> np.ndarray:
        out = np.empty_like(y)
        for b in range(y.shape[0]):
            out[b, 0] = float(system._rhs(float(y[b, 0]), float(yd[b, 0]), t, *params))
        return out

    def vectorized(t: float, y: np.ndarray, yd: np.ndarray) -> np.ndarray:
        # the plain Python body: with numba installed dysts jit-compiles it for scalars only
        out = np.asarray(getattr(system._rhs, "py_func", system._rhs)(y[:, 0], yd[:, 0], t, *params), dtype=np.float64)
        if out.shape != (y.shape[0],):  # a constant rate: broadcast (rare, so not on the fast path)
            out = np.broadcast_to(out, (y.shape[0],))
        return out[:, None]

    if force_loop:
        return BatchedDelayRHS(name, tau, embedding, "per-sample", "forced", loop)
    rng = np.random.default_rng(12345)
    ic0 = float(np.asarray(system.ic, dtype=np.float64).reshape(-1)[0])
    scale = max(abs(ic0), 1.0)
    y = ic0 + 0.1 * scale * rng.standard_normal((_PROBE_SAMPLES, 1))
    yd = ic0 + 0.1 * scale * rng.standard_normal((_PROBE_SAMPLES, 1))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = loop(0.37, y, yd)
        reason = _agrees(lambda t, z: vectorized(0.37, z[:, :1], z[:, 1:]), reference, np.zeros(1), np.hstack([y, yd]))
    if reason:
        return BatchedDelayRHS(name, tau, embedding, "per-sample", reason, loop)
    return BatchedDelayRHS(name, tau, embedding, "vectorized", "", vectorized)


_STEPS_PER_DELAY_CACHE: dict[tuple, int] = {}


def steps_per_delay_for(rhs: BatchedDelayRHS, history_value: float, period: float, rtol: float) -> int:
    """The number of RK4 steps per delay that meets ``rtol`` on a probe integration.

    From ``m = tau / (period / 50)`` upward, doubling ``m`` until the step-doubling
    estimate of the error of :func:`sciml.numerics.dde.dde_rk4` (order 4: ``|y_m - y_2m|
    * 16 / 15``), on the catalogue history integrated over ``tau + period``, is at most
    ``rtol * max|y|``. Deterministic for a system, its parameters and ``rtol``.
    """
    key = (rhs.name, rhs.tau, float(history_value), float(period), float(rtol))
    if key in _STEPS_PER_DELAY_CACHE:
        return _STEPS_PER_DELAY_CACHE[key]
    horizon = rhs.tau + period
    t = np.linspace(0.0, horizon, 201)
    history = np.full((1, 1), float(history_value))
    m = max(1, int(np.ceil(rhs.tau / (period / 50))))
    coarse, _ = dde_rk4(rhs, history, rhs.tau, t, steps_per_delay=m)
    while True:
        if m > 2**22:
            raise DataError(f"steps_per_delay_for: no RK4 step meets rtol={rtol:g} for {rhs.name}; loosen rtol")
        fine, _ = dde_rk4(rhs, history, rhs.tau, t, steps_per_delay=2 * m)
        error = float(np.abs(coarse - fine).max()) * 16 / 15
        if np.isfinite(error) and error <= rtol * max(float(np.abs(fine).max()), 1e-300):
            _STEPS_PER_DELAY_CACHE[key] = m
            return m
        m, coarse = 2 * m, fine


def integrate_delay_batch(
    rhs: BatchedDelayRHS,
    history: torch.Tensor | np.ndarray,
    t_samples: torch.Tensor | np.ndarray,
    *,
    steps_per_delay: int,
    embedding_dimension: int | None = None,
) -> tuple[torch.Tensor, Any]:
    """Delay-embedded trajectories of a dysts delay equation, from constant histories.

    ``x(t) = history`` for ``t <= 0`` (dysts' convention: a constant past), then
    :func:`sciml.numerics.dde.dde_rk4` (classical RK4, ``h = tau / steps_per_delay``,
    cubic Hermite history, order 4). Row ``t`` of the result holds
    ``x(t - k tau / (E - 1))``, ``k = 0 .. E-1``, as dysts' ``make_trajectory`` does
    (times before 0 take the history value).

    Parameters
    ----------
    rhs : BatchedDelayRHS
    history : Tensor or ndarray ``[B]`` or ``[B, 1]``
        The constant past of each trajectory.
    t_samples : Tensor or ndarray ``[T]``
        Increasing sampling times.
    steps_per_delay : int
        See :func:`steps_per_delay_for`.
    embedding_dimension : int, optional
        ``E``; default the catalogue's.

    Returns
    -------
    x : Tensor ``[B, T, E]`` float64
    stats : sciml.numerics.dde.DDEStats
    """
    hist = np.asarray(history.detach().cpu() if isinstance(history, torch.Tensor) else history, dtype=np.float64)
    hist = hist.reshape(-1, 1)
    t_s = np.asarray(t_samples.detach().cpu() if isinstance(t_samples, torch.Tensor) else t_samples, dtype=np.float64)
    embedding = int(embedding_dimension or rhs.embedding_dimension)
    shifts = np.linspace(0.0, rhs.tau, embedding) if embedding > 1 else np.zeros(1)
    times = t_s.reshape(-1)[:, None] - shifts[None, :]  # [T, E]
    positive = np.unique(times[times > 0])
    if positive.size:
        ys, stats = dde_rk4(rhs, hist, rhs.tau, positive, steps_per_delay=steps_per_delay)
    else:
        ys, stats = np.empty((hist.shape[0], 0, 1)), None
    index = np.searchsorted(positive, times)  # position of each time among the integrated ones
    out = np.where(
        (times > 0)[None, :, :],
        ys[:, np.minimum(index, max(positive.size - 1, 0)), 0] if positive.size else 0.0,
        hist[:, :, None],
    )
    return torch.from_numpy(np.ascontiguousarray(out)), stats
