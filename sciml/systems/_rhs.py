"""dysts right-hand sides evaluated on a whole batch of states.

dysts right-hand sides are written for one state (numpy scalars). :func:`batched_rhs`
evaluates them on a batch at once by passing ``[D, B]`` arrays, which most of them
broadcast elementwise; the five that do not (matrix products over the state, branches on
scalars: BeerRNN, BelousovZhabotinsky, BickleyJet, InteriorSquirmer, MacArthur) have
batched transcriptions of their equations here. Either is compared with dysts' rhs called
per sample on a probe batch, and where it differs or fails the per-sample loop is used
instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sciml.systems._catalogue import load_system

__all__ = ["BatchedRHS", "batched_rhs"]

_PROBE_SAMPLES = 4


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
    system : dysts.base.DynSys or str
        A system (:func:`~sciml.systems.load_system`) or its name.
    force_loop : bool
        Use the per-sample loop regardless (for testing).

    Returns
    -------
    BatchedRHS
    """
    if isinstance(system, str):
        system = load_system(system)
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
            # the plain Python body: with numba installed dysts jit-compiles it for scalars only
            return _stack(getattr(system._rhs, "py_func", system._rhs)(*y.T, t, *params), y.shape[0], dim)
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
