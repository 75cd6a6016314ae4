"""Chaotic systems of the dysts database: the ``chaos`` generator and its batched solvers.

The equations and metadata (parameters, initial condition, dominant period, largest
Lyapunov exponent) come from the ``dysts`` package (Gilpin, "Chaos as an interpretable
benchmark for forecasting and data-driven modelling", NeurIPS 2021); the integration is
ours. The 129 ordinary flows: :func:`integrate_batch`, an explicit Dormand-Prince 5(4)
method in float64 with **per-trajectory** step-size control (every initial condition of
the batch keeps its own time, step size and error estimate, as if it were integrated
alone) and Hairer's order-4 dense output at the sampling times. It takes and returns
torch tensors; its arithmetic runs in numpy on the CPU, because the dysts right-hand
sides are numpy code and the batch of small states ``[B, D]`` gains nothing from an
accelerator (numpy's per-operation cost is about a third of torch's at these sizes,
which is what makes the batched solver 20x and more faster than one scipy call per
initial condition).

dysts right-hand sides are written for one state (numpy scalars). :func:`batched_rhs`
evaluates them on a whole batch at once by passing ``[D, B]`` arrays, which most of them
broadcast elementwise; the five that do not (matrix products over the state, branches
on scalars: BeerRNN, BelousovZhabotinsky, BickleyJet, InteriorSquirmer, MacArthur) have
batched transcriptions of their equations here. Either is compared with dysts' rhs
called per sample on a probe batch, and where it differs or fails the per-sample loop
is used instead. Which path a system takes is recorded in the file's ``solver``
provenance (``rhs_evaluation``, ``rhs_implementation``).

The six delay equations (MackeyGlass, IkedaDelay, SprottDelay, VossDelay, ScrollDelay,
PiecewiseCircuit: scalar ``x' = f(x(t), x(t - tau))``) are integrated by
:func:`integrate_delay_batch`: :func:`sciml.numerics.dde.dde_rk4`, classical RK4 with a
fixed step that divides the delay and a cubic Hermite history (order 4), from a constant
history as dysts does, stored as dysts' 10-column delay embedding.
"""

from __future__ import annotations

import difflib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from sciml.core.errors import ConfigError, DataError, UnknownNameError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, resolve_device
from sciml.data.schema import Provenance, TrajectoriesWriter
from sciml.numerics.tableaus import DOPRI5

__all__ = [
    "chaos",
    "list_systems",
    "is_delay",
    "batched_delay_rhs",
    "BatchedDelayRHS",
    "integrate_delay_batch",
    "steps_per_delay_for",
    "load_system",
    "system_metadata",
    "batched_rhs",
    "BatchedRHS",
    "integrate_batch",
    "IntegrationStats",
    "initial_conditions",
]

# step-size controller of scipy's RK45 / Hairer's DOPRI5 (I controller)
_SAFETY = 0.9
_FACTOR_MIN = 0.2
_FACTOR_MAX = 10.0
_PROBE_SAMPLES = 4


def _dysts():
    try:
        with warnings.catch_warnings():
            # dysts warns at import when numba is missing; we do not need numba
            warnings.simplefilter("ignore")
            import dysts.flows as flows
            from dysts.base import DATAPATH_CONTINUOUS
    except ImportError:  # pragma: no cover - dysts is a pinned dependency
        raise ConfigError("the chaos generator needs the 'dysts' package: pip install dysts==0.96") from None
    return flows, DATAPATH_CONTINUOUS


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, Any]]:
    _, path = _dysts()
    with open(path) as fh:
        return json.load(fh)


def list_systems(include_delay: bool = True) -> list[str]:
    """Names of the continuous-time systems of the dysts catalogue, sorted.

    Parameters
    ----------
    include_delay : bool
        Also list the six delay differential equations (integrated by
        :func:`integrate_delay_batch`); ``False`` lists the 129 ordinary flows.

    >>> len(list_systems()), len(list_systems(include_delay=False))
    (135, 129)
    """
    cat = _catalogue()
    return sorted(k for k, v in cat.items() if include_delay or not v.get("delay", False))


def is_delay(name: str) -> bool:
    """Whether ``name`` is one of the catalogue's delay differential equations.

    >>> is_delay("MackeyGlass"), is_delay("Lorenz")
    (True, False)
    """
    _check_name(name)
    return bool(_catalogue()[name].get("delay", False))


def _check_name(name: str) -> None:
    valid = list_systems()
    if name not in valid:
        close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
        if not close:
            close = [v for v in valid if v.lower() == str(name).lower()]
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UnknownNameError(
            f"unknown chaotic system {name!r}; {hint}list them with sciml.data.generators.chaos.list_systems() "
            f"({len(valid)} systems)"
        )


def load_system(name: str):
    """A ``dysts.flows`` instance of ``name`` with its catalogue parameters; unknown -> one-line error.

    A delay system is a ``dysts.base.DynSysDelay`` (no ``rhs``; see :func:`batched_delay_rhs`).
    """
    _check_name(name)
    flows, _ = _dysts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(flows, name)()


def system_metadata(name: str) -> dict[str, Any]:
    """Catalogue entry of ``name``: parameters, initial_conditions, dt, period,
    maximum_lyapunov_estimated, embedding_dimension, ... (a copy of dysts' JSON)."""
    _check_name(name)
    return json.loads(json.dumps(_catalogue()[name]))


# ----------------------------------------------------------------------------- rhs


@dataclass(frozen=True)
class BatchedRHS:
    """A dysts right-hand side on a batch: ``f(t [B], y [B, D]) -> [B, D]`` (numpy float64).

    Attributes
    ----------
    name : str
    dimension : int
    path : {"vectorized", "per-sample"}
        How the batch is evaluated: one call on whole-batch arrays, or a Python loop.
    reason : str
        Why the per-sample loop was chosen ("" when vectorized).
    implementation : {"dysts", "sciml", "dysts per sample"}
        Whose code runs on the batch: dysts' own rhs on ``[D, B]`` arrays, a batched
        transcription of the same equations in this module (for the few dysts right-hand
        sides that use matrix products or scalar branches), or dysts' rhs in a loop.
    """

    name: str
    dimension: int
    path: str
    reason: str
    implementation: str
    _fn: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def __call__(self, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._fn(t, y)


def _uses_default_rhs(system) -> bool:
    flows, _ = _dysts()
    from dysts.base import DynSys

    return type(system).rhs is DynSys.rhs


def _stack(out: Any, batch: int, dim: int) -> np.ndarray:
    if isinstance(out, np.ndarray) and out.shape == (dim, batch):
        return out.T
    if isinstance(out, (tuple, list)) and len(out) == dim:
        try:
            arr = np.array(out, dtype=np.float64)
        except ValueError:  # ragged: some components are scalars
            arr = None
        if arr is not None and arr.shape == (dim, batch):
            return arr.T
    parts = [np.broadcast_to(np.asarray(c, dtype=np.float64), (batch,)) for c in out]
    if len(parts) != dim:
        raise ValueError(f"rhs returned {len(parts)} components, expected {dim}")
    return np.stack(parts, axis=1)


# Batched transcriptions of the dysts right-hand sides that do not broadcast over a batch
# (matrix products over the state, Python branches on scalars, parameter vectors that
# clash with the batch axis). Each takes the system and returns ``f(t [B], y [B, D])``;
# :func:`batched_rhs` accepts one only after it equals dysts' rhs on a probe batch.


def _beer_rnn(system) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    # dx/dt = (-x + W sigmoid(x + theta)) / tau  (Beer 1995, continuous-time RNN)
    w = np.asarray(system.w, dtype=np.float64)
    theta = np.asarray(system.theta, dtype=np.float64)
    tau = np.asarray(system.tau, dtype=np.float64)

    def f(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (-y + (1.0 / (1.0 + np.exp(-(y + theta)))) @ w.T) / tau

    return f


def _belousov_zhabotinsky(system) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    p = {name: float(getattr(system, name)) for name in system.params}

    def f(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        x, z, v = y.T
        ybar = (1 / p["y0"]) * p["yb1"] * z * v / (p["yb2"] * x + p["yb3"] + p["kf"])
        x = np.where(x > 0, x, 0.0)  # dysts: x = max(0, x), after ybar
        rf = (p["ci"] - p["z0"] * z) * np.sqrt(x)
        xdot = p["c1"] * x * ybar + p["c2"] * ybar + p["c3"] * x**2 + p["c4"] * rf + p["c5"] * x * z - p["kf"] * x
        zdot = (p["c6"] / p["z0"]) * rf + p["c7"] * x * z + p["c8"] * z * v + p["c9"] * z - p["kf"] * z
        vdot = p["c10"] * x * ybar + p["c11"] * ybar + p["c12"] * x**2 + p["c13"] * z * v - p["kf"] * v
        return np.stack([xdot, zdot, vdot], axis=1) * p["t0"]

    return f


def _bickley_jet(system) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    # state (y, x, z): a meandering jet with three travelling waves k_j, speeds sigma_j
    ell, u, omega = float(system.ell), float(system.u), float(system.omega)
    eps, k, sigma = (np.asarray(getattr(system, n), dtype=np.float64) for n in ("eps", "k", "sigma"))

    def f(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        yy, x, z = y.T
        sechy = 1 / np.cosh(yy / ell)
        un = k * (x[:, None] - z[:, None] * sigma)
        dx = u * sechy**2 * (-1 - 2 * (np.cos(un) @ eps) * np.tanh(yy / ell))
        dy = ell * u * sechy**2 * (np.sin(un) @ (eps * k))
        return np.stack([dy, dx, np.full_like(dy, omega)], axis=1)

    return f


def _interior_squirmer(system) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    # Blake's squirmer inside a sphere, in polar coordinates (r, th) plus a clock tt
    # driving the tanh switch between the a (sine) and g (cosine) modes
    a = np.asarray(system.a, dtype=np.float64)
    g = np.asarray(system.g, dtype=np.float64)
    tau = float(system.tau)
    nvals = np.arange(1, a.shape[0] + 1)

    def f(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        r, th, tt = (c[:, None] for c in y.T)
        phase = 0.5 + 0.5 * np.tanh(tau * 20 * np.sin(2 * np.pi * tt / tau))
        ap, gp = a * phase, g * (1 - phase)
        sinvals, cosvals = np.sin(th * nvals), np.cos(th * nvals)
        rnvals = r**nvals
        vrn = gp * cosvals + ap * sinvals
        vrn *= (nvals * rnvals * (r**2 - 1)) / r
        vth = 2 * r + (r**2 - 1) * nvals / r
        vth = vth * (ap * cosvals - gp * sinvals)
        vth *= rnvals
        dr = vrn.sum(axis=1)
        dth = vth.sum(axis=1) / r[:, 0]
        return np.stack([dr, dth, np.ones_like(dr)], axis=1)

    return f


def _macarthur(system) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    # MacArthur consumer-resource model: 5 species nn, 5 resources rr, Liebig's law
    # (each species grows at its most limiting resource's Monod rate)
    k = np.asarray(system.k, dtype=np.float64)
    c = np.asarray(system.c, dtype=np.float64)
    s_supply = np.asarray(system.s, dtype=np.float64)
    r, d, m = system.r, system.d, system.m
    n_species = c.shape[1]

    def f(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        nn, rr = y[:, :n_species], y[:, n_species:]
        # growth[b, j, i] = r rr_j / (k_ji + rr_j); mu_i = min over resources j
        mu = np.min(r * (rr[:, :, None] / (k[None, :, :] + rr[:, :, None])), axis=1)
        nndot = nn * (mu - m)
        rrdot = d * (s_supply - rr) - (mu * nn) @ c.T
        return np.concatenate([nndot, rrdot], axis=1)

    return f


_BATCHED_TRANSCRIPTIONS: dict[str, Callable[[Any], Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "BeerRNN": _beer_rnn,
    "BelousovZhabotinsky": _belousov_zhabotinsky,
    "BickleyJet": _bickley_jet,
    "InteriorSquirmer": _interior_squirmer,
    "MacArthur": _macarthur,
}


def _agrees(candidate: Callable, reference: np.ndarray, t: np.ndarray, y: np.ndarray) -> str:
    """An empty string when ``candidate(t, y)`` equals ``reference`` to 1e-12 relative, else why not."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = candidate(t, y)
        except Exception as exc:  # noqa: BLE001 - any failure of the candidate means: do not use it
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
    if out.shape != reference.shape or not np.allclose(
        out, reference, rtol=1e-12, atol=1e-12 * float(np.abs(reference).max() + 1e-300)
    ):
        return "vectorized result differs from the per-sample loop"
    return ""


def batched_rhs(system, *, force_loop: bool = False) -> BatchedRHS:
    """Evaluate a dysts system on batches, vectorized when that is exact.

    Candidates, in order: dysts' own rhs called on ``D`` arrays of shape ``[B]`` (and the
    per-sample times ``t [B]``; scalar components of the result, such as a phase
    variable's constant rate, are broadcast); then, for the few systems whose dysts rhs
    does not broadcast (matrix products over the state, branches on scalars), a batched
    transcription of the same equations in this module. A candidate is accepted only if,
    on a probe batch of perturbed catalogue states at distinct times, it agrees with
    dysts' rhs called per sample to 1e-12 relative; otherwise the per-sample loop is used.

    Parameters
    ----------
    system : dysts.base.DynSys
    force_loop : bool
        Use the per-sample loop regardless (for testing).

    Returns
    -------
    BatchedRHS
    """
    ic = np.asarray(system.ic, dtype=np.float64).reshape(-1)
    dim = ic.size
    params = list(system.param_list)
    default = _uses_default_rhs(system)

    def loop(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.empty_like(y)
        for b in range(y.shape[0]):
            out[b] = np.asarray(system.rhs(y[b], float(t[b])), dtype=np.float64).reshape(dim)
        return out

    if default:

        def vectorized(t: np.ndarray, y: np.ndarray) -> np.ndarray:
            return _stack(system._rhs(*y.T, t, *params), y.shape[0], dim)
    else:

        def vectorized(t: np.ndarray, y: np.ndarray) -> np.ndarray:
            return _stack(system.rhs(y.T, t), y.shape[0], dim)

    name = type(system).__name__
    if force_loop:
        return BatchedRHS(name, dim, "per-sample", "forced", "dysts per sample", loop)
    rng = np.random.default_rng(12345)
    scale = np.maximum(np.abs(ic), 1e-3)
    probe = ic[None, :] + 1e-2 * scale[None, :] * rng.standard_normal((_PROBE_SAMPLES, dim))
    t_probe = rng.uniform(0.0, 1.0, _PROBE_SAMPLES)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = loop(t_probe, probe)
    reason = _agrees(vectorized, reference, t_probe, probe)
    if not reason:
        return BatchedRHS(name, dim, "vectorized", "", "dysts", vectorized)
    if name in _BATCHED_TRANSCRIPTIONS:
        transcription = _BATCHED_TRANSCRIPTIONS[name](system)
        why_not = _agrees(transcription, reference, t_probe, probe)
        if not why_not:
            return BatchedRHS(name, dim, "vectorized", "", "sciml", transcription)
        reason = f"{reason}; the sciml transcription: {why_not}"
    return BatchedRHS(name, dim, "per-sample", reason, "dysts per sample", loop)


# ----------------------------------------------------------------------------- delay rhs


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
    accepted if it equals the per-sample call to 1e-12 on a probe batch.
    """
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
        out = np.asarray(system._rhs(y[:, 0], yd[:, 0], t, *params), dtype=np.float64)
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


# ----------------------------------------------------------------------------- solver


@dataclass(frozen=True)
class IntegrationStats:
    """What :func:`integrate_batch` did.

    Attributes
    ----------
    n_iterations : int
        Batched steps taken (each evaluates the rhs 6 times on the active samples).
    n_accepted, n_rejected : ndarray ``[B]``
        Accepted and rejected steps per trajectory.
    nfe : int
        Batched rhs evaluations.
    """

    n_iterations: int
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    nfe: int


def _initial_step(rhs, t0, y0, f0, rtol, atol, order):
    """Hairer's starting step (Solving ODEs I, II.4), per trajectory, as in scipy."""
    scale = atol + rtol * np.abs(y0)
    d0 = np.sqrt(np.mean(np.square(y0 / scale), axis=1))
    d1 = np.sqrt(np.mean(np.square(f0 / scale), axis=1))
    h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / np.maximum(d1, 1e-300))
    f1 = np.asarray(rhs(t0 + h0, y0 + h0[:, None] * f0), dtype=np.float64)
    d2 = np.sqrt(np.mean(np.square((f1 - f0) / scale), axis=1)) / h0
    big = np.maximum(d1, d2)
    h1 = np.where(big <= 1e-15, np.maximum(1e-6, h0 * 1e-3), (0.01 / np.maximum(big, 1e-300)) ** (1.0 / (order + 1)))
    return np.minimum(100 * h0, h1)


def integrate_batch(
    rhs: Callable[[np.ndarray, np.ndarray], np.ndarray],
    y0: torch.Tensor,
    t_out: torch.Tensor | np.ndarray,
    *,
    t0: float = 0.0,
    rtol: float = 1e-9,
    atol: float = 1e-9,
    first_step: float | None = None,
    max_steps: int = 1_000_000,
    first_sample: int = 0,
    progress: bool = False,
) -> tuple[torch.Tensor, IntegrationStats]:
    """Integrate ``dy/dt = rhs(t, y)`` for a batch of initial conditions, each with its own steps.

    Dormand-Prince 5(4) (the method of scipy's ``RK45``, order 5, embedded order 4), FSAL,
    with the error norm and I controller of scipy's ``RK45`` applied per trajectory, and
    Hairer's order-4 dense output at ``t_out``. A trajectory that reaches the last output
    time stops; the others go on.

    Parameters
    ----------
    rhs : callable
        ``rhs(t [B], y [B, D]) -> [B, D]`` on float64 numpy arrays (see :func:`batched_rhs`).
    y0 : Tensor ``[B, D]``
        Initial states at ``t0``. The computation runs in float64 numpy on the CPU; the
        result has the dtype and device of ``y0``.
    t_out : Tensor or array ``[T]``
        Increasing output times, ``>= t0``.
    t0 : float
        Initial time.
    rtol, atol : float
        Tolerances of the scaled RMS error norm ``|err / (atol + rtol max(|y_n|, |y_n+1|))|``.
    first_step : float, optional
        Initial step size; default Hairer's estimate per trajectory.
    max_steps : int
        Limit on batched steps; exceeding it raises a one-line :class:`DataError`.
    first_sample : int
        Index of the first trajectory, used in error messages.
    progress : bool
        Show a tqdm bar over simulated time.

    Returns
    -------
    ys : Tensor ``[B, T, D]``
    stats : IntegrationStats
    """
    device, dtype = y0.device, y0.dtype
    t_out_np = np.asarray(t_out.detach().cpu() if isinstance(t_out, torch.Tensor) else t_out, dtype=np.float64)
    t_out_np = t_out_np.reshape(-1)
    if t_out_np.size == 0 or np.any(np.diff(t_out_np) <= 0) or t_out_np[0] < t0:
        raise ConfigError("integrate_batch: t_out must be non-empty, increasing and >= t0")
    y = np.array(y0.detach().cpu().numpy(), dtype=np.float64)
    batch, dim = y.shape
    n_out = t_out_np.size
    t_end = float(t_out_np[-1])
    tab = DOPRI5
    a = [np.asarray(row[:i], dtype=np.float64)[None, :] for i, row in enumerate(tab.a)]
    b_and_e = np.asarray([tab.b, tab.b_error], dtype=np.float64)  # [2, 7]
    c = np.asarray(tab.c, dtype=np.float64)[:, None]
    interp = np.asarray(tab.interpolation, dtype=np.float64)  # [7, 4]
    exponent = -1.0 / (tab.error_order + 1)

    nfe = 0
    # the stages of the current step, flattened so that each stage combination is one matmul
    k = np.empty((7, batch * dim))
    k_view = k.reshape(7, batch, dim)

    def f(i: int, t: np.ndarray, y: np.ndarray) -> None:
        nonlocal nfe
        nfe += 1
        k_view[i] = rhs(t, y)

    ys = np.empty((batch, n_out, dim))
    t = np.full(batch, float(t0))
    with np.errstate(all="ignore"):
        f(0, t, y)
        if first_step is None:
            h = _initial_step(rhs, t, y, k_view[0].copy(), rtol, atol, tab.error_order)
            nfe += 1
        else:
            h = np.full(batch, float(first_step))
    nxt = np.zeros(batch, dtype=np.int64)
    if t_out_np[0] == t0:
        ys[:, 0] = y
        nxt += 1
    n_acc = np.zeros(batch, dtype=np.int64)
    n_rej = np.zeros(batch, dtype=np.int64)
    rejected_last = np.zeros(batch, dtype=bool)
    active = nxt < n_out
    rows = np.arange(batch)
    tiny = 10 * np.finfo(np.float64).eps
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=100, desc="chaos time (%)", leave=False)
    iterations = 0
    err_state = np.seterr(all="ignore")
    try:
        while active.any():
            if iterations >= max_steps:
                i = int(np.flatnonzero(active)[0])
                raise DataError(
                    f"chaos integration of trajectory {first_sample + i} did not reach t={t_end:.4g} in "
                    f"{max_steps} steps (at t={t[i]:.4g}); the system may be stiff: loosen rtol/atol or raise max_steps"
                )
            iterations += 1
            # finished trajectories take zero-length steps: the batch keeps its shape, no gathers
            hh = np.where(active, np.minimum(h, t_end - t), 0.0)
            hcol = hh[:, None]
            t_stage = t + c * hh  # [7, B]
            for i in range(1, 7):
                f(i, t_stage[i], y + hcol * (a[i] @ k[:i]).reshape(batch, dim))
            combined = (b_and_e @ k).reshape(2, batch, dim)
            y_new = y + hcol * combined[0]
            scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
            en = np.sqrt(np.mean(np.square(hcol * combined[1] / scale), axis=1))
            en = np.where(np.isnan(en), np.inf, en)  # NaN states are rejected
            accept = (en <= 1.0) & active
            reject = active & ~accept
            # step-size update of scipy's RK45: after a success grow by at most _FACTOR_MAX
            # (not at all right after a rejection), after a failure shrink by at most _FACTOR_MIN
            factor = _SAFETY * np.maximum(en, 1e-300) ** exponent
            factor = np.where(
                accept,
                np.minimum(factor, np.where(rejected_last, 1.0, _FACTOR_MAX)),
                np.clip(factor, _FACTOR_MIN, 1.0),
            )
            h = np.where(active, hh * factor, h)
            if reject.any():
                underflow = reject & (h < tiny * np.maximum(np.abs(t), 1.0))
                if underflow.any():
                    j = int(np.flatnonzero(underflow)[0])
                    raise DataError(
                        f"chaos integration of trajectory {first_sample + j} failed: step size underflow "
                        f"at t={t[j]:.4g} (the solution blows up or is non-finite); "
                        "reduce the initial-condition perturbation or loosen rtol/atol"
                    )
            n_acc += accept
            n_rej += reject
            rejected_last = np.where(active, reject, rejected_last)
            t_new = np.where(accept, np.where(hh >= t_end - t, t_end, t + hh), t)
            # dense output at every output time inside the accepted steps
            count = np.where(accept, np.searchsorted(t_out_np, t_new, side="right") - nxt, 0)
            m = int(count.max())
            if m:
                safe_h = np.where(hh > 0, hh, 1.0)
                for j in range(m):
                    sel = count > j
                    pos = np.minimum(nxt + j, n_out - 1)
                    t_target = t_out_np[pos]
                    theta = np.clip((t_target - t) / safe_h, 0.0, 1.0)[:, None]
                    weights = theta * (
                        interp[:, 0] + theta * (interp[:, 1] + theta * (interp[:, 2] + theta * interp[:, 3]))
                    )
                    y_int = y + hcol * np.einsum("bs,sbd->bd", weights, k_view)
                    y_int = np.where((t_target == t_new)[:, None], y_new, y_int)
                    ys[rows[sel], pos[sel]] = y_int[sel]
                nxt = nxt + count
            y = np.where(accept[:, None], y_new, y)
            k_view[0] = np.where(accept[:, None], k_view[6], k_view[0])
            t = t_new
            active = nxt < n_out
            if bar is not None:
                bar.n = int(100 * (t.min() - t0) / max(t_end - t0, 1e-300))
                bar.refresh()
    finally:
        np.seterr(**err_state)
        if bar is not None:
            bar.close()
    stats = IntegrationStats(iterations, n_acc, n_rej, nfe)
    return torch.from_numpy(ys).to(device=device, dtype=dtype), stats


# ----------------------------------------------------------------------------- delay solver


_STEPS_PER_DELAY_CACHE: dict[tuple, int] = {}


def steps_per_delay_for(rhs: BatchedDelayRHS, history_value: float, period: float, rtol: float) -> int:
    """The number of RK4 steps per delay that meets ``rtol`` on a probe integration.

    From ``m = tau / (period / 50)`` upward, doubling ``m`` until the step-doubling
    estimate of the error of :func:`sciml.numerics.dde.dde_rk4` (order 4: ``|y_m - y_2m|
    * 16 / 15``), on the catalogue history integrated over ``tau + period``, is at most
    ``rtol * max|y|``. Deterministic for a system, its parameters and ``rtol``.
    """
    from sciml.numerics.dde import dde_rk4

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
            raise DataError(f"chaos: no RK4 step meets rtol={rtol:g} for {rhs.name}; loosen rtol")
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
    from sciml.numerics.dde import dde_rk4

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


# ----------------------------------------------------------------------------- generator


def _sample_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0xC4A05]))


def initial_conditions(system, first: int, count: int, *, seed: int = 0, perturbation: float = 0.01) -> np.ndarray:
    """Perturbed catalogue initial conditions for samples ``first .. first+count-1``.

    ``ic + perturbation * s * z`` with ``z ~ N(0, 1)`` per component, ``s`` the
    catalogue standard deviation of the component (or ``max(|ic|, 1)`` when unknown);
    sample ``i`` depends only on ``(seed, i)``.

    Returns
    -------
    ndarray ``[count, D]`` float64
    """
    ic = np.asarray(system.ic, dtype=np.float64).reshape(-1)
    std = np.asarray(getattr(system, "std", np.ones_like(ic)), dtype=np.float64).reshape(-1)
    if std.shape != ic.shape or not np.all(np.isfinite(std)) or np.any(std <= 0):
        std = np.maximum(np.abs(ic), 1.0)
    unbounded = set(getattr(system, "unbounded_indices", []) or [])
    scale = np.array([max(abs(ic[j]), 1.0) if j in unbounded else std[j] for j in range(ic.size)])
    z = np.stack([_sample_rng(seed, i).standard_normal(ic.size) for i in range(first, first + count)])
    return ic[None, :] + perturbation * scale[None, :] * z


def _postprocess(system, x: np.ndarray) -> np.ndarray:
    """dysts' coordinate maps for unbounded variables (phases -> cos), on ``x [B, T, D]``."""
    post = getattr(system, "_postprocessing", None)
    if post is None:
        return x
    parts = post(*np.moveaxis(x, -1, 0))
    return np.stack([np.broadcast_to(np.asarray(p, dtype=np.float64), x.shape[:-1]) for p in parts], axis=-1)


def _check_config(**v: Any) -> None:
    checks = {
        "n": (v["n"] >= 1, "must be >= 1"),
        "batch_size": (v["batch_size"] >= 1, "must be >= 1"),
        "n_periods": (v["n_periods"] > 0, "must be > 0; try n_periods=10"),
        "points_per_period": (v["points_per_period"] >= 2, "must be >= 2; try points_per_period=100"),
        "burn_in_periods": (v["burn_in_periods"] >= 0, "must be >= 0; try burn_in_periods=10"),
        "perturbation": (v["perturbation"] >= 0, "must be >= 0; try perturbation=0.01"),
        "rtol": (0 < v["rtol"] < 1, "must be in (0, 1); try rtol=1e-9"),
        "atol": (v["atol"] > 0, "must be > 0; try atol=1e-9"),
        "steps_per_delay": (
            v["steps_per_delay"] is None or (int(v["steps_per_delay"]) == v["steps_per_delay"] >= 1),
            "must be an integer >= 1 or None (chosen from rtol); try steps_per_delay=1024",
        ),
    }
    check_parameters("chaos", checks, v)


@GENERATORS.register("chaos")
def chaos(
    path,
    *,
    n: int = 64,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 64,
    progress: bool = False,
    system: str = "Lorenz",
    n_periods: float = 10.0,
    points_per_period: int = 100,
    burn_in_periods: float = 10.0,
    perturbation: float = 0.01,
    rtol: float = 1e-9,
    atol: float = 1e-9,
    postprocess: bool = True,
    max_steps: int = 1_000_000,
    steps_per_delay: int | None = None,
) -> str:
    """Trajectories of one dysts chaotic system from many initial conditions on its attractor.

    Writes ``x [N, T, D]`` sampled every ``dominant_period / points_per_period`` for
    ``n_periods`` periods (``T = round(n_periods * points_per_period)``), ``t [T]`` from 0,
    after a discarded transient of ``burn_in_periods`` periods.

    The 129 ordinary flows are integrated by :func:`integrate_batch` (dopri5, per-trajectory
    step control at ``rtol``/``atol``). The six delay equations are integrated by
    :func:`integrate_delay_batch` (RK4 with a fixed step that divides the delay, cubic
    Hermite history) from constant histories (dysts' convention), and stored as dysts
    stores them: ``D = 10`` columns ``x(t - k tau / 9)``, ``k = 0 .. 9``.

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``trajectories``).
    n : int
        Number of trajectories N.
    seed : int
        Seed of the initial-condition perturbations; trajectory ``i`` depends only on ``(seed, i)``.
    device : str
        Torch device of the solver's arithmetic (the dysts rhs always runs on the CPU).
    batch_size : int
        Trajectories integrated together. Larger is faster (the per-step Python cost is
        shared); 64 to 512 is a good range on a CPU.
    progress : bool
        Show a tqdm progress bar over batches.
    system : str
        A name from :func:`list_systems` (dysts class name, e.g. "Lorenz", "Rossler").
    n_periods, points_per_period : float, int
        Length and sampling of the stored trajectories, in dominant periods; 100 points
        per period is the dysts forecasting benchmark's setting.
    burn_in_periods : float
        Transient integrated from the perturbed initial condition and discarded.
    perturbation : float
        Relative size of the Gaussian perturbation of the catalogue initial condition, in
        units of the catalogue standard deviation of each component.
    rtol, atol : float
        Tolerances of the per-trajectory error control.
    postprocess : bool
        Apply dysts' maps of unbounded variables (phases stored as their cosine), as
        ``make_trajectory`` does by default; ``False`` stores the raw state.
    max_steps : int
        Limit on batched solver steps per batch (ordinary flows).
    steps_per_delay : int, optional
        Delay equations only: RK4 steps per delay ``tau``. Default: the smallest power of
        two times ``tau / (period / 50)`` whose step-doubling error estimate over ``tau``
        plus one period is at most ``rtol`` (:func:`steps_per_delay_for`).

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    _check_config(
        n=n,
        batch_size=batch_size,
        n_periods=n_periods,
        points_per_period=points_per_period,
        burn_in_periods=burn_in_periods,
        perturbation=perturbation,
        rtol=rtol,
        atol=atol,
        steps_per_delay=steps_per_delay,
    )
    sys_obj = load_system(system)
    meta = system_metadata(system)
    torch_device = resolve_device("chaos", device)
    period = float(meta["period"])
    dt = period / points_per_period
    n_times = int(round(n_periods * points_per_period))
    if n_times < 1:
        raise ConfigError(f"chaos: n_periods*points_per_period={n_periods * points_per_period} gives no sample")
    t_burn = burn_in_periods * period
    t_rel = np.arange(n_times) * dt
    t_abs = t_burn + t_rel
    delay = is_delay(system)
    lyap = meta.get("maximum_lyapunov_estimated")
    params = {
        "system": system,
        "parameters": meta["parameters"],
        "catalogue_initial_condition": meta.get("initial_conditions"),
        "n_periods": n_periods,
        "points_per_period": points_per_period,
        "burn_in_periods": burn_in_periods,
        "perturbation": perturbation,
        "postprocess": postprocess and hasattr(sys_obj, "_postprocessing"),
        "n": n,
    }
    from importlib.metadata import version

    if delay:
        drhs = batched_delay_rhs(sys_obj)
        step_rule = "given"
        if steps_per_delay is None:
            ic0 = float(np.asarray(sys_obj.ic, dtype=np.float64).reshape(-1)[0])
            steps_per_delay = steps_per_delay_for(drhs, ic0, period, rtol)
            step_rule = f"step-doubling error estimate <= rtol = {rtol:g} over tau + one period"
        dim = drhs.embedding_dimension
        solver = {
            "method": "rk4 (classical Runge-Kutta, order 4), fixed step h = tau / steps_per_delay, delayed values "
            "and samples from cubic Hermite interpolation of the mesh; constant history x = x0 for t <= 0",
            "delay": drhs.tau,
            "steps_per_delay": int(steps_per_delay),
            "h": drhs.tau / steps_per_delay,
            "step_rule": step_rule,
            "embedding": f"x(t - k tau / {dim - 1}), k = 0 .. {dim - 1} (dysts make_trajectory)",
            "dtype": "float64",
            "rhs_evaluation": drhs.path,
            "rhs_fallback_reason": drhs.reason,
            "dysts_version": version("dysts"),
            "sample_dt": dt,
        }
    else:
        rhs = batched_rhs(sys_obj)
        dim = int(np.asarray(sys_obj.ic).size)
        solver = {
            "method": "dopri5 (Dormand-Prince 5(4)), per-trajectory step control, Hairer order-4 dense output",
            "rtol": rtol,
            "atol": atol,
            "dtype": "float64",
            "rhs_evaluation": rhs.path,
            "rhs_implementation": rhs.implementation,
            "rhs_fallback_reason": rhs.reason,
            "dysts_version": version("dysts"),
            "sample_dt": dt,
        }
    provenance = Provenance("chaos", params=params, seed=seed, solver=solver)
    starts = range(0, n, batch_size)
    batches = starts
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(starts, desc=f"chaos {system}", unit="batch")
    with TrajectoriesWriter(
        path,
        n,
        (n_times, dim),
        t_rel,
        provenance,
        system=system,
        dt=dt,
        lyapunov_max=None if lyap is None else float(lyap),
        dominant_period=period,
    ) as writer:
        for start in batches:
            count = min(batch_size, n - start)
            y0 = initial_conditions(sys_obj, start, count, seed=seed, perturbation=perturbation)
            if delay:
                # the state of a delay equation is its past: a constant history per sample
                ys, _ = integrate_delay_batch(drhs, y0[:, 0], t_abs, steps_per_delay=steps_per_delay)
                x = ys.numpy()
            else:
                ys, _ = integrate_batch(
                    rhs,
                    torch.as_tensor(y0, dtype=torch.float64, device=torch_device),
                    t_abs,
                    rtol=rtol,
                    atol=atol,
                    max_steps=max_steps,
                    first_sample=start,
                )
                x = ys.cpu().numpy()
                if postprocess:
                    x = _postprocess(sys_obj, x)
            writer.write(x)
        return writer.close()
