"""Chaotic flows of the dysts database: the ``chaos`` generator and its batched solver.

The equations and metadata (parameters, initial condition, dominant period, largest
Lyapunov exponent) come from the ``dysts`` package (Gilpin, "Chaos as an interpretable
benchmark for forecasting and data-driven modelling", NeurIPS 2021); the integration is
ours: :func:`integrate_batch`, an explicit Dormand-Prince 5(4) method in float64
with **per-trajectory** step-size control (every initial condition of the batch keeps its
own time, step size and error estimate, as if it were integrated alone) and Hairer's
order-4 dense output at the sampling times. It takes and returns torch tensors; its
arithmetic runs in numpy on the CPU, because the dysts right-hand sides are numpy code
and the batch of small states ``[B, D]`` gains nothing from an accelerator (numpy's
per-operation cost is about a third of torch's at these sizes, which is what makes the
batched solver 20x and more faster than one scipy call per initial condition).

dysts right-hand sides are written for one state (numpy scalars). :func:`batched_rhs`
evaluates them on a whole batch at once by passing ``[D, B]`` arrays, which most of them
broadcast elementwise; the result is compared with a per-sample loop on a probe batch,
and where it differs or fails the per-sample loop is used instead. Which path a system
takes is recorded in the file's ``solver`` provenance (``rhs_evaluation``).

Delay systems (MackeyGlass, IkedaDelay, SprottDelay, VossDelay, ScrollDelay,
PiecewiseCircuit) are delay differential equations; they are listed by
:func:`list_systems` only with ``include_delay=True`` and the generator refuses them with
a one-line error.
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

from sciml.data.generators._common import check_parameters, resolve_device
from sciml.data.schema import Provenance, TrajectoriesWriter
from sciml.errors import ConfigError, DataError, UnknownNameError
from sciml.numerics.tableaus import DOPRI5
from sciml.registry import GENERATORS

__all__ = [
    "chaos",
    "list_systems",
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


def list_systems(include_delay: bool = False) -> list[str]:
    """Names of the continuous-time systems of the dysts catalogue, sorted.

    Parameters
    ----------
    include_delay : bool
        Also list the six delay differential equations, which :func:`chaos` does not
        integrate.

    >>> len(list_systems()), len(list_systems(include_delay=True))
    (129, 135)
    """
    cat = _catalogue()
    return sorted(k for k, v in cat.items() if include_delay or not v.get("delay", False))


def _check_name(name: str) -> None:
    valid = list_systems(include_delay=True)
    if name not in valid:
        close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
        if not close:
            close = [v for v in valid if v.lower() == str(name).lower()]
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UnknownNameError(
            f"unknown chaotic system {name!r}; {hint}list them with sciml.data.generators.chaos.list_systems() "
            f"({len(valid) - 6} flows)"
        )
    if _catalogue()[name].get("delay", False):
        raise ConfigError(
            f"system {name!r} is a delay differential equation, which the chaos generator does not integrate; "
            "choose an ordinary flow from list_systems()"
        )


def load_system(name: str):
    """A ``dysts.flows`` instance of ``name`` with its catalogue parameters; unknown -> one-line error."""
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
        How the batch is evaluated: one call on ``[D, B]`` arrays, or a Python loop.
    reason : str
        Why the per-sample loop was chosen ("" when vectorized).
    """

    name: str
    dimension: int
    path: str
    reason: str
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


def batched_rhs(system, *, force_loop: bool = False) -> BatchedRHS:
    """Evaluate a dysts system on batches, vectorized when that is exact.

    The vectorized candidate passes the state as ``D`` arrays of shape ``[B]`` (and the
    per-sample times as ``t [B]``); scalar components of the result (constant rates such
    as a phase variable's ``omega``) are broadcast. It is accepted only if, on a probe
    batch of perturbed catalogue states at distinct times, it agrees with the
    per-sample loop to 1e-12 relative; otherwise the loop is used.

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
        return BatchedRHS(name, dim, "per-sample", "forced", loop)
    rng = np.random.default_rng(12345)
    scale = np.maximum(np.abs(ic), 1e-3)
    probe = ic[None, :] + 1e-2 * scale[None, :] * rng.standard_normal((_PROBE_SAMPLES, dim))
    t_probe = rng.uniform(0.0, 1.0, _PROBE_SAMPLES)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = loop(t_probe, probe)
        try:
            candidate = vectorized(t_probe, probe)
        except Exception as exc:  # noqa: BLE001 - any failure of the candidate means: use the loop
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
            return BatchedRHS(name, dim, "per-sample", reason, loop)
    if candidate.shape != reference.shape or not np.allclose(
        candidate, reference, rtol=1e-12, atol=1e-12 * float(np.abs(reference).max() + 1e-300)
    ):
        return BatchedRHS(name, dim, "per-sample", "vectorized result differs from the per-sample loop", loop)
    return BatchedRHS(name, dim, "vectorized", "", vectorized)


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
                    weights = (theta * (interp[:, 0] + theta * (interp[:, 1] + theta * (interp[:, 2] + theta * interp[:, 3]))))
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
) -> str:
    """Trajectories of one dysts chaotic flow from many initial conditions on its attractor.

    Writes ``x [N, T, D]`` sampled every ``dominant_period / points_per_period`` for
    ``n_periods`` periods (``T = round(n_periods * points_per_period)``), ``t [T]`` from 0,
    after a discarded transient of ``burn_in_periods`` periods.

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
        Limit on batched solver steps per batch.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    _check_config(
        n=n, batch_size=batch_size, n_periods=n_periods, points_per_period=points_per_period,
        burn_in_periods=burn_in_periods, perturbation=perturbation, rtol=rtol, atol=atol,
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
    rhs = batched_rhs(sys_obj)
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

    solver = {
        "method": "dopri5 (Dormand-Prince 5(4)), per-trajectory step control, Hairer order-4 dense output",
        "rtol": rtol,
        "atol": atol,
        "dtype": "float64",
        "rhs_evaluation": rhs.path,
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
    dim = int(np.asarray(sys_obj.ic).size)
    with TrajectoriesWriter(
        path, n, (n_times, dim), t_rel, provenance, system=system, dt=dt,
        lyapunov_max=None if lyap is None else float(lyap), dominant_period=period,
    ) as writer:
        for start in batches:
            count = min(batch_size, n - start)
            y0 = torch.as_tensor(
                initial_conditions(sys_obj, start, count, seed=seed, perturbation=perturbation),
                dtype=torch.float64, device=torch_device,
            )
            ys, _ = integrate_batch(
                rhs, y0, t_abs, rtol=rtol, atol=atol, max_steps=max_steps, first_sample=start
            )
            x = ys.cpu().numpy()
            if postprocess:
                x = _postprocess(sys_obj, x)
            writer.write(x)
        return writer.close()
