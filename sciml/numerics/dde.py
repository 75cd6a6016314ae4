"""Batched fixed-step Runge-Kutta integration of delay differential equations.

:func:`dde_rk4` integrates ``dy/dt = f(t, y(t), y(t - tau))`` with one constant delay
``tau`` for a batch of histories at once: the classical 4th-order Runge-Kutta method with
a step ``h = tau / steps_per_delay`` that divides the delay, so that

* every delayed stage time ``t_n + c_i h - tau`` falls at the same fraction ``c_i`` of an
  earlier step ``n - steps_per_delay``: the delayed value at ``c_i = 0, 1`` is a stored
  mesh value and at ``c_i = 1/2`` the cubic Hermite interpolant of that step (from its end
  values and derivatives), ``(y_j + y_{j+1}) / 2 + h (f_j - f_{j+1}) / 8``;
* the breakpoints ``t0 + k tau``, where the derivative of the solution jumps (the history
  and the solution do not join smoothly at ``t0``), are mesh points, so no step straddles
  a jump and the method keeps its order.

Before ``t0`` the delayed value is the history itself (a constant state, or a callable of
``t``). Output at any time is the cubic Hermite interpolant of the step containing it.
Local error of a step O(h^5) (RK4) plus O(h) times the O(h^4) Hermite error of the delayed
values: global order 4 (Bellen and Zennaro, *Numerical Methods for Delay Differential
Equations*, 2003, ch. 3 and 4), fitted in ``tests/data/test_chaos_delay.py`` against the
method-of-steps solution of ``y' = -y(t - 1)``.

The arithmetic is numpy float64 on the CPU: the batches of scalar delay equations of the
dysts catalogue ``[B, D]`` are small, and numpy's per-operation cost is a third of
torch's at these sizes.

>>> import numpy as np
>>> from sciml.numerics.dde import dde_rk4
>>> ys, stats = dde_rk4(lambda t, y, yd: -yd, np.ones((1, 1)), 1.0, [0.5, 1.5], steps_per_delay=8)
>>> np.round(ys[0, :, 0], 12).tolist()  # 1 - t, then 1 - t + (t - 1)^2 / 2: exact for RK4
[0.5, -0.375]
>>> stats.n_steps, stats.nfe
(12, 49)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from sciml.core.errors import ConfigError, DataError

__all__ = ["ORDER", "DDEStats", "dde_rk4", "hermite"]

ORDER = 4

DelayedField = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DDEStats:
    """What :func:`dde_rk4` did.

    Attributes
    ----------
    n_steps : int
        Fixed steps of size ``h`` taken (the same for every member of the batch).
    nfe : int
        Batched right-hand-side evaluations (4 per step, plus one at the end).
    h : float
        The step, ``tau / steps_per_delay``.
    """

    n_steps: int
    nfe: int
    h: float


def hermite(y0: np.ndarray, y1: np.ndarray, f0: np.ndarray, f1: np.ndarray, h: float, theta: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolant on a step of size ``h`` at fractions ``theta`` (0..1).

    Parameters
    ----------
    y0, y1, f0, f1 : ndarray ``[B, D]``
        Values and derivatives at the two ends of the step.
    h : float
    theta : ndarray ``[B]`` or scalar
        Fraction of the step, per batch member.

    Returns
    -------
    ndarray ``[B, D]``
    """
    s = np.asarray(theta, dtype=np.float64)
    s = s[..., None] if s.ndim else s
    h00 = (1 + 2 * s) * (1 - s) ** 2
    h10 = s * (1 - s) ** 2
    h01 = s**2 * (3 - 2 * s)
    h11 = s**2 * (s - 1)
    return h00 * y0 + h10 * h * f0 + h01 * y1 + h11 * h * f1


def dde_rk4(
    rhs: DelayedField,
    history: np.ndarray | torch.Tensor | Callable[[float], np.ndarray],
    tau: float,
    t_out,
    *,
    steps_per_delay: int,
    t0: float = 0.0,
    y0: np.ndarray | torch.Tensor | None = None,
    max_steps: int = 10_000_000,
    step_callback: Callable[[int, float, np.ndarray, np.ndarray], None] | None = None,
) -> tuple[np.ndarray, DDEStats]:
    """Integrate ``dy/dt = rhs(t, y(t), y(t - tau))`` for a batch, classical RK4, order 4.

    Parameters
    ----------
    rhs : callable
        ``rhs(t, y, y_delayed) -> dy/dt`` with ``t`` a float and ``y``, ``y_delayed``
        float64 arrays ``[B, D]``; returns ``[B, D]``.
    history : ndarray or Tensor ``[B, D]``, or callable
        The solution before ``t0``: a constant state per batch member (dysts' convention),
        or ``history(t) -> [B, D]`` for ``t <= t0``.
    tau : float
        The delay, > 0.
    t_out : array-like ``[T]``
        Increasing output times, all ``>= t0``.
    steps_per_delay : int
        ``m >= 1``; the step is ``h = tau / m``. The error falls as ``h^4``.
    t0 : float
        Initial time.
    y0 : ndarray or Tensor ``[B, D]``, optional
        ``y(t0)``; default the history at ``t0`` (a continuous start).
    max_steps : int
        Refuse integrations longer than this many steps (a one-line ConfigError).
    step_callback : callable, optional
        ``step_callback(n, t_n, ys, fs)`` after each step, with the mesh values and
        derivatives of the last delay ``[m + 1, B, D]`` (a ring buffer: slot ``j % (m + 1)``
        holds mesh point ``j``; the derivative of the newest point is not computed yet).
        It may modify them in place: a change of the stored past, applied consistently
        to the values and derivatives, is a change of the state of the delay equation
        (Benettin's renormalization of a perturbed trajectory does this).

    Returns
    -------
    ys : ndarray ``[B, T, D]`` float64
    stats : DDEStats

    Raises
    ------
    DataError
        When the solution becomes non-finite.
    """
    if not tau > 0:
        raise ConfigError(f"dde_rk4: tau={tau!r} must be > 0")
    m = int(steps_per_delay)
    if m < 1 or m != steps_per_delay:
        raise ConfigError(f"dde_rk4: steps_per_delay={steps_per_delay!r} must be an integer >= 1")
    t_out = np.asarray(t_out.detach().cpu() if isinstance(t_out, torch.Tensor) else t_out, dtype=np.float64)
    t_out = t_out.reshape(-1)
    if t_out.size == 0 or np.any(np.diff(t_out) <= 0) or t_out[0] < t0:
        raise ConfigError("dde_rk4: t_out must be non-empty, increasing and >= t0")

    def as_array(x) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        return np.array(x, dtype=np.float64)

    if callable(history):
        history_fn = history
    else:
        constant = as_array(history)
        if constant.ndim != 2:
            raise ConfigError(f"dde_rk4: a constant history must be [B, D], got shape {constant.shape}")

        def history_fn(t: float) -> np.ndarray:
            return constant

    y = as_array(history_fn(t0)) if y0 is None else as_array(y0)
    if y.ndim != 2:
        raise ConfigError(f"dde_rk4: the state must be [B, D], got shape {y.shape}")
    h = tau / m
    n_steps = max(int(np.ceil((t_out[-1] - t0) / h - 1e-9)), 0)
    if n_steps > max_steps:
        raise ConfigError(
            f"dde_rk4: {n_steps} steps of h = {h:.3g} needed to reach t = {t_out[-1]:.4g}, over max_steps = "
            f"{max_steps}; lower steps_per_delay or raise max_steps"
        )
    batch, dim = y.shape
    # ring buffers of the last m + 1 mesh values and derivatives: slot j % (m + 1)
    ys_mesh = np.empty((m + 1, batch, dim))
    fs_mesh = np.empty((m + 1, batch, dim))
    out = np.empty((batch, t_out.size, dim))
    nfe = 0
    nxt = 0  # next output index

    def delayed(n: int, fraction: float) -> np.ndarray:
        """y at t_n + fraction h - tau (fraction 0, 1/2 or 1): a mesh value, the Hermite
        midpoint of step n - m, or the history before t0."""
        j = n - m
        if j < 0 and not (fraction == 1.0 and j + 1 == 0):
            return as_array(history_fn(t0 + (j + fraction) * h))
        a, b = j % (m + 1), (j + 1) % (m + 1)
        if fraction == 0.0:
            return ys_mesh[a]
        if fraction == 1.0:
            return ys_mesh[b]
        return 0.5 * (ys_mesh[a] + ys_mesh[b]) + (h / 8) * (fs_mesh[a] - fs_mesh[b])

    def emit(n: int) -> None:
        """Outputs inside step n - 1 (from t_{n-1} to t_n), now that f_n is known."""
        nonlocal nxt
        t_left = t0 + (n - 1) * h
        t_right = t0 + n * h
        a, b = (n - 1) % (m + 1), n % (m + 1)
        while nxt < t_out.size and (t_out[nxt] <= t_right or n == n_steps):
            theta = min(max((t_out[nxt] - t_left) / h, 0.0), 1.0)
            out[:, nxt] = hermite(ys_mesh[a], ys_mesh[b], fs_mesh[a], fs_mesh[b], h, theta)
            nxt += 1

    with np.errstate(all="ignore"):
        ys_mesh[0] = y
        while nxt < t_out.size and t_out[nxt] == t0:
            out[:, nxt] = y
            nxt += 1
        for n in range(n_steps + 1):
            t = t0 + n * h
            slot = n % (m + 1)
            k1 = np.asarray(rhs(t, ys_mesh[slot], delayed(n, 0.0)), dtype=np.float64)
            fs_mesh[slot] = k1  # f_n: the midpoint of step n - m needs it when m = 1
            nfe += 1
            if n > 0:
                emit(n)
            if n == n_steps:
                break
            lag_mid, lag1 = delayed(n, 0.5), delayed(n, 1.0)
            yn = ys_mesh[slot]
            k2 = np.asarray(rhs(t + h / 2, yn + (h / 2) * k1, lag_mid), dtype=np.float64)
            k3 = np.asarray(rhs(t + h / 2, yn + (h / 2) * k2, lag_mid), dtype=np.float64)
            k4 = np.asarray(rhs(t + h, yn + h * k3, lag1), dtype=np.float64)
            nfe += 3
            y_next = yn + (h / 6) * (k1 + 2 * (k2 + k3) + k4)
            if not np.all(np.isfinite(y_next)):
                bad = int(np.flatnonzero(~np.all(np.isfinite(y_next), axis=1))[0])
                raise DataError(
                    f"dde_rk4: trajectory {bad} became non-finite at t = {t + h:.4g}; "
                    "raise steps_per_delay or check the history"
                )
            ys_mesh[(n + 1) % (m + 1)] = y_next
            if step_callback is not None:
                step_callback(n + 1, t0 + (n + 1) * h, ys_mesh, fs_mesh)
    return out, DDEStats(n_steps, nfe, h)
