"""Largest Lyapunov exponents of the catalogue's systems: estimators and the stored references.

Three estimators share one protocol and one result format:

* :func:`lyapunov_two_trajectory` (the reference method for flows): Benettin's
  two-trajectory renormalization. Each member is paired with a copy displaced by
  ``d0 = 1e-8 max|x|`` in a random direction; both are rows of one
  :func:`sciml.numerics.integrate_batch` call (each row with its own steps; an integration
  continues across renormalizations from the last step size), and every
  ``renormalize_periods`` the copy is pulled back to distance ``d0`` and ``log(d / d0)``
  is added up (Benettin, Galgani, Giorgilli & Strelcyn 1980).
* :func:`lyapunov_tangent`: the variational equation ``v' = J(t, x) v`` integrated along
  with ``x`` (dysts' analytic Jacobian where it has one, a directional central difference
  of the rhs otherwise; the error control watches ``x``), ``v`` normalized every
  ``renormalize_periods`` (Benettin/QR with one vector: the QR step is a normalization).
* :func:`lyapunov_delay`: the two-trajectory method in the function space of histories
  for the six delay equations (their state is the past over one delay).

**Why two-trajectory is the reference**, not the tangent method: it is the more accurate
per CPU second here. Both measure the same finite-time exponents; at ``d0 = 1e-8`` the
nonlinear and integration-error bias of the finite separation is far below the
statistical spread, which dominates and falls only as ``1 / (members * length)``. The
tangent method costs more per step (a Jacobian per stage, a state twice as wide), the
two-trajectory method only doubles the rows of a batch whose per-step cost is mostly
fixed. Measured on one core (64 members, L = 100 periods, 20 settle + 5 align, rtol =
1e-9): Lorenz 0.9051 +- 0.0012 in 18.1 CPU s (two-trajectory) vs 0.9039 +- 0.0013 in 24.9 s
(tangent); Rossler 0.0710 +- 0.0005 in 19.7 s vs 0.0708 +- 0.0005 in 27.8 s (the
literature values are 0.9056 and 0.0714). The tangent method stays as the cross-check
(and is exact for linear flows, see the tests).

**Protocol.** The estimate is the mean over ``members`` trajectories started from
perturbed catalogue initial conditions after ``settle_periods`` of transient, of the log
growth per unit time over ``2 L`` periods after ``align_periods`` more (the perturbation
turns from its random start into the most unstable direction meanwhile, and is not
counted); its standard error is std / sqrt(members). Members that fail to integrate are
dropped and listed. **Convergence check**: the estimates over the first ``L`` and over
all ``2 L`` periods agree when
``|lambda_L - lambda_2L| <= max(3 SE(lambda_L - lambda_2L), 0.05 |lambda_2L|, 1 / T_2L)``,
with the standard error of the difference taken over the members' own differences (the
two estimates share their first half) and ``1 / T_2L`` (one e-fold over the whole run,
``T_2L = 2 L period``) the estimator's resolution for exponents near zero.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, DataError, SciMLError
from sciml.numerics.batched import integrate_batch
from sciml.numerics.dde import dde_rk4
from sciml.systems._catalogue import check_name, initial_conditions, is_delay, load_system, system_metadata
from sciml.systems._delay import batched_delay_rhs, steps_per_delay_for
from sciml.systems._jacobian import batched_jacobian
from sciml.systems._rhs import batched_rhs

__all__ = [
    "LyapunovSettings",
    "lyapunov_estimate",
    "lyapunov_tangent",
    "lyapunov_two_trajectory",
    "lyapunov_delay",
    "lyapunov_flow",
    "convergence_check",
    "reference_entry",
    "build_lyapunov_references",
    "lyapunov_reference",
    "lyapunov_time",
    "REFERENCES_FILE",
]

REFERENCES_FILE = "lyapunov_references.json"
RELATIVE_BAND = 0.05
_TANGENT_ATOL = 1e300
STANDARD_ERRORS = 3.0


@dataclass(frozen=True)
class LyapunovSettings:
    """Settings of one Lyapunov estimate (stored with every reference).

    Attributes
    ----------
    members : int
        Trajectories averaged (their spread gives the standard error).
    length_periods : float
        ``L``: the check compares the estimate over ``L`` and over ``2 L`` dominant periods.
    settle_periods : float
        Transient from the perturbed initial conditions, not counted.
    align_periods : float
        Time for the perturbation to turn into the most unstable direction, not counted.
    renormalize_periods : float
        Interval of the renormalizations, in periods.
    perturbation : float
        Spread of the initial conditions, in catalogue standard deviations.
    rtol, atol : float
        Tolerances of the integration (flows); delay equations take the RK4 step meeting ``rtol``.
    seed : int
        Seed of the initial conditions and of the initial tangent directions.
    """

    members: int = 64
    length_periods: float = 60.0
    settle_periods: float = 20.0
    align_periods: float = 5.0
    renormalize_periods: float = 1.0
    perturbation: float = 0.01
    rtol: float = 1e-9
    atol: float = 1e-12
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "members": self.members >= 2,
            "length_periods": self.length_periods > 0,
            "settle_periods": self.settle_periods >= 0,
            "align_periods": self.align_periods >= 0,
            "renormalize_periods": self.renormalize_periods > 0,
            "perturbation": self.perturbation > 0,
            "rtol": 0 < self.rtol < 1,
            "atol": self.atol > 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                f"LyapunovSettings: invalid {', '.join(bad)} ({', '.join(f'{b}={getattr(self, b)!r}' for b in bad)}); "
                "members >= 2, lengths and tolerances positive"
            )


class _Budget:
    def __init__(self, limit_s: float | None):
        self.started = time.process_time()
        self.limit_s = limit_s

    def spent(self) -> float:
        return time.process_time() - self.started

    def over(self) -> bool:
        return self.limit_s is not None and self.spent() > self.limit_s


def _result(
    name: str,
    method: str,
    settings: LyapunovSettings,
    logs: list[np.ndarray],
    period: float,
    interval: float,
    n_half: int,
    budget: _Budget,
    failed: dict[int, str],
    **extra: Any,
) -> dict[str, Any]:
    """Estimates at L and 2L from the per-interval log growths ``logs`` (one ``[B]`` per counted interval)."""
    out: dict[str, Any] = {"system": name, "method": method, "settings": asdict(settings), "period": period, **extra}
    keep = np.array([b not in failed for b in range(settings.members)])
    done = len(logs)
    out["intervals_counted"] = done
    out["intervals_planned"] = 2 * n_half
    out["failed_members"] = {str(b): message for b, message in sorted(failed.items())}
    out["cpu_seconds"] = budget.spent()
    growth = np.cumsum(np.stack(logs), axis=0)[:, keep] if done else np.zeros((0, int(keep.sum())))
    for label, count in (("L", n_half), ("2L", 2 * n_half)):
        if done >= count and growth.shape[1] >= 2:
            per_member = growth[count - 1] / (count * interval)
            out[f"estimate_{label}"] = float(np.mean(per_member))
            out[f"standard_error_{label}"] = float(np.std(per_member, ddof=1) / math.sqrt(per_member.size))
            out[f"_members_{label}"] = per_member
    if done and growth.shape[1] >= 2:
        per_member = growth[-1] / (done * interval)
        out["estimate"] = float(np.mean(per_member))
        out["standard_error"] = float(np.std(per_member, ddof=1) / math.sqrt(per_member.size))
        out["length_periods_reached"] = done * interval / period
    out["complete"] = done == 2 * n_half and growth.shape[1] >= 2
    out["time_limited"] = budget.over()
    return out


def _settle(
    rhs, x0: np.ndarray, period: float, s: LyapunovSettings, failed: dict[int, str]
) -> tuple[np.ndarray, float]:
    if s.settle_periods <= 0:
        return x0, 0.0
    settled, stats = integrate_batch(
        rhs, x0, [s.settle_periods * period], rtol=s.rtol, atol=s.atol, max_steps=2_000_000, on_failure="report"
    )
    failed.update({f.index: f.message for f in stats.failures})
    end = settled[:, 0].numpy()
    return np.where(np.isfinite(end), end, x0), s.settle_periods * period


def lyapunov_flow(
    rhs: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x0: np.ndarray,
    *,
    period: float,
    settings: LyapunovSettings = LyapunovSettings(),
    method: str = "two-trajectory",
    jvp: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
    time_limit_s: float | None = None,
    name: str = "flow",
) -> dict[str, Any]:
    """The largest Lyapunov exponent of any batched flow ``x' = rhs(t, x)`` (the engine of the estimators).

    Parameters
    ----------
    rhs : callable ``(t [B], x [B, D]) -> [B, D]``
    x0 : ndarray ``[members, D]``
        Initial conditions, one per member (``settings.members`` is ignored here).
    period : float
        The time unit of the settings' lengths (the dominant period for catalogue systems).
    settings : LyapunovSettings
    method : {"two-trajectory", "tangent"}
    jvp : callable ``(t, x, v) -> J v``, optional
        Jacobian-vector products for ``tangent`` (required there).
    time_limit_s : float, optional
        CPU seconds; when reached the result holds what was counted (``complete: False``).
    name : str
        Recorded in the result.

    Returns
    -------
    dict
        ``estimate``, ``standard_error`` (over everything counted), ``estimate_L``,
        ``standard_error_L``, ``estimate_2L``, ``standard_error_2L`` (when reached),
        ``complete``, ``time_limited``, ``failed_members``, ``cpu_seconds``, ``method``,
        ``settings``, ``period``.
    """
    if method not in ("two-trajectory", "tangent"):
        raise ConfigError(f"lyapunov_flow: unknown method {method!r}; valid: two-trajectory, tangent")
    if method == "tangent" and jvp is None:
        raise ConfigError("lyapunov_flow: method 'tangent' needs jvp(t, x, v) (see BatchedJacobian.jvp)")
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.ndim != 2 or x0.shape[0] < 2:
        raise ConfigError(f"lyapunov_flow: x0 must be [members >= 2, D], got shape {x0.shape}")
    budget = _Budget(time_limit_s)
    s = settings
    n, dim = x0.shape
    failed: dict[int, str] = {}
    x, t = _settle(rhs, x0, period, s, failed)
    rng = np.random.default_rng(np.random.SeedSequence([s.seed, 0x7A16E]))
    direction = rng.standard_normal(x.shape)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    interval = s.renormalize_periods * period
    n_align = int(round(s.align_periods / s.renormalize_periods))
    n_half = max(1, int(round(s.length_periods / s.renormalize_periods)))
    extra: dict[str, Any] = {}
    if method == "tangent":

        def field(tt: np.ndarray, z: np.ndarray) -> np.ndarray:
            return np.concatenate([rhs(tt, z[:, :dim]), jvp(tt, z[:, :dim], z[:, dim:])], axis=1)

        state = np.concatenate([x, direction], axis=1)
        # the error control watches the trajectory only: the tangent's huge atol leaves it out (its
        # equation is linear with the trajectory's Jacobian, as smooth as the trajectory itself)
        atol = np.concatenate([np.full(dim, s.atol), np.full(dim, _TANGENT_ATOL)])
    else:
        d0 = 1e-8 * max(float(np.abs(x).max()), 1.0)
        field, atol = rhs, s.atol
        state = np.concatenate([x, x + d0 * direction])
        extra["d0"] = d0
    logs: list[np.ndarray] = []
    h = None
    for step in range(n_align + 2 * n_half):
        if budget.over():
            break
        out, stats = integrate_batch(
            field,
            state,
            [t + interval],
            t0=t,
            rtol=s.rtol,
            atol=atol,
            first_step=h,
            max_steps=500_000,
            on_failure="report",
        )
        h = np.where(np.isfinite(stats.h_next) & (stats.h_next > 0), stats.h_next, interval * 1e-3)
        for f in stats.failures:
            failed.setdefault(f.index % n, f.message)
        new = out[:, 0].numpy()
        bad = np.array(sorted(failed), dtype=np.int64)
        if method == "tangent":
            if bad.size:
                new[bad] = state[bad]  # failed members stay where they were: finite, no longer counted
            growth = np.linalg.norm(new[:, dim:], axis=1)
            growth = np.where(np.isfinite(growth) & (growth > 0), growth, 1.0)
            new[:, dim:] /= growth[:, None]
        else:
            if bad.size:
                new[bad], new[bad + n] = state[bad], state[bad] + d0 * direction[bad]
            sep = new[n:] - new[:n]
            dist = np.linalg.norm(sep, axis=1)
            dist = np.where(np.isfinite(dist) & (dist > 0), dist, d0)
            new[n:] = new[:n] + sep * (d0 / dist)[:, None]
            growth = dist / d0
        state, t = new, t + interval
        if step >= n_align:
            logs.append(np.log(growth))
        if len(failed) > n - 2:
            break
    return _result(name, method, replace(s, members=n), logs, period, interval, n_half, budget, failed, **extra)


def lyapunov_tangent(
    name: str, settings: LyapunovSettings = LyapunovSettings(), *, time_limit_s: float | None = None
) -> dict[str, Any]:
    """The largest Lyapunov exponent of a catalogue flow from the variational equation (the cross-check method).

    See the module docstring for the protocol and :func:`lyapunov_flow` for the result. The
    Jacobian is dysts' analytic one where it has one, else a directional central
    difference of the batched rhs (recorded as ``jacobian``). Members that fail to
    integrate (non-finite, step underflow) are dropped and listed in ``failed_members``.

    Parameters
    ----------
    name : str
        An ordinary flow of :func:`~sciml.systems.list_systems`.
    settings : LyapunovSettings
    time_limit_s : float, optional
        CPU-time limit; when reached the result holds what was counted so far
        (``complete: False``).
    """
    check_name(name)
    if is_delay(name):
        raise ConfigError(f"lyapunov_tangent: {name} is a delay equation; use lyapunov_delay (or lyapunov_estimate)")
    system = load_system(name)
    jac = batched_jacobian(system)
    x0 = initial_conditions(system, 0, settings.members, seed=settings.seed, perturbation=settings.perturbation)
    result = lyapunov_flow(
        jac.rhs,
        x0,
        period=float(system_metadata(name)["period"]),
        settings=settings,
        method="tangent",
        jvp=jac.jvp,
        time_limit_s=time_limit_s,
        name=name,
    )
    return {**result, "jacobian": jac.kind}


def lyapunov_two_trajectory(
    name: str, settings: LyapunovSettings = LyapunovSettings(), *, time_limit_s: float | None = None
) -> dict[str, Any]:
    """Benettin's two-trajectory estimate of the largest Lyapunov exponent of a flow (the reference method).

    Each member is paired with a copy displaced by ``d0 = 1e-8 max|x|`` in a random
    direction; both are integrated as separate rows of the batch (each with its own steps,
    continued across renormalizations) and the copy is pulled back to distance ``d0``
    every ``renormalize_periods``. Same parameters as :func:`lyapunov_tangent`, result as
    :func:`lyapunov_flow` (with ``d0``).
    """
    check_name(name)
    if is_delay(name):
        raise ConfigError(f"lyapunov_two_trajectory: {name} is a delay equation; use lyapunov_delay")
    system = load_system(name)
    x0 = initial_conditions(system, 0, settings.members, seed=settings.seed, perturbation=settings.perturbation)
    return lyapunov_flow(
        batched_rhs(system),
        x0,
        period=float(system_metadata(name)["period"]),
        settings=settings,
        method="two-trajectory",
        time_limit_s=time_limit_s,
        name=name,
    )


def lyapunov_delay(
    name: str, settings: LyapunovSettings = LyapunovSettings(), *, time_limit_s: float | None = None
) -> dict[str, Any]:
    """Benettin's two-trajectory estimate for a delay equation, in its function space of histories.

    The state at ``t`` is the past ``x`` on ``[t - tau, t]``, held by
    :func:`sciml.numerics.dde.dde_rk4` as its mesh values and derivatives over the last
    delay. Each member starts from two constant histories ``c`` and ``c + d0`` (``d0 =
    1e-8 max(|c|, 1)``; the constants spread by ``10 * perturbation`` catalogue standard
    deviations, so that the members reach different parts of the attractor); every
    ``renormalize_periods`` the perturbed past is pulled back towards the reference one so
    that their RMS distance over the delay window is ``d0`` again (values and derivatives
    scaled alike, which keeps the Hermite history consistent). Both members of a pair
    share the step (:func:`~sciml.systems.steps_per_delay_for` at ``rtol``), so the
    separation follows the linearized RK4 map. Same protocol and result as
    :func:`lyapunov_tangent`.
    """
    check_name(name)
    if not is_delay(name):
        raise ConfigError(f"lyapunov_delay: {name} is not a delay equation; use lyapunov_tangent")
    budget = _Budget(time_limit_s)
    s = settings
    system = load_system(name)
    period = float(system_metadata(name)["period"])
    rhs = batched_delay_rhs(system)
    n = s.members
    c = initial_conditions(system, 0, n, seed=s.seed, perturbation=10 * s.perturbation)[:, 0]
    d0 = 1e-8 * max(float(np.abs(c).max()), 1.0)
    m = steps_per_delay_for(rhs, float(system.ic[0]), period, s.rtol)
    h = rhs.tau / m
    every = max(1, int(round(s.renormalize_periods * period / h)))
    interval = every * h
    skip = (s.settle_periods + s.align_periods) * period
    n_half = max(1, int(round(s.length_periods * period / interval)))
    # time enough for 2 n_half counted renormalizations after the skipped ones (they start
    # once the ring buffer holds a whole delay); the callback stops the solver when done
    t_end = skip + rhs.tau + (2 * n_half + 2) * interval
    logs: list[np.ndarray] = []

    class _Stop(Exception):
        pass

    def renormalize(k: int, t: float, ys: np.ndarray, fs: np.ndarray) -> None:
        if k % every or k < m:  # the ring buffer holds a whole delay of solution from step m on
            return
        if budget.over() or len(logs) >= 2 * n_half:
            raise _Stop
        sep_y = ys[:, n:] - ys[:, :n]
        dist = np.sqrt(np.mean(np.square(sep_y), axis=(0, 2)))
        scale = (d0 / dist)[None, :, None]
        ys[:, n:] = ys[:, :n] + sep_y * scale
        fs[:, n:] = fs[:, :n] + (fs[:, n:] - fs[:, :n]) * scale
        if t > skip:
            logs.append(np.log(dist / d0))

    history = np.concatenate([c, c + d0])[:, None]
    failed: dict[int, str] = {}
    try:
        dde_rk4(rhs, history, rhs.tau, [t_end], steps_per_delay=m, step_callback=renormalize)
    except _Stop:
        pass
    except DataError as exc:
        failed = {b: str(exc) for b in range(n)}
    return _result(
        name,
        "two-trajectory (delay, history space)",
        s,
        logs,
        period,
        interval,
        n_half,
        budget,
        failed,
        steps_per_delay=m,
        d0=d0,
    )


def lyapunov_estimate(
    name: str, settings: LyapunovSettings = LyapunovSettings(), *, time_limit_s: float | None = None
) -> dict[str, Any]:
    """The reference estimate: :func:`lyapunov_two_trajectory` for a flow, :func:`lyapunov_delay` for a delay equation.

    >>> r = lyapunov_estimate("Lorenz", LyapunovSettings(members=4, length_periods=5, settle_periods=5))
    >>> 0.6 < r["estimate"] < 1.2, r["method"]
    (True, 'two-trajectory')
    """
    check_name(name)
    if is_delay(name):
        return lyapunov_delay(name, settings, time_limit_s=time_limit_s)
    return lyapunov_two_trajectory(name, settings, time_limit_s=time_limit_s)


def convergence_check(result: dict[str, Any]) -> dict[str, Any]:
    """Whether the estimates over ``L`` and ``2 L`` agree (the band of the module docstring).

    Returns
    -------
    dict
        ``converged`` (bool), ``reason`` ("" when converged), and the numbers: ``estimate_L``,
        ``estimate_2L``, ``difference``, ``standard_error_difference``, ``band``, ``rule``.
    """
    rule = (
        f"|lambda_L - lambda_2L| <= max({STANDARD_ERRORS:g} SE(lambda_L - lambda_2L), "
        f"{RELATIVE_BAND:g} |lambda_2L|, 1 / T_2L)"
    )
    check: dict[str, Any] = {"rule": rule}
    if not result.get("complete") or "estimate_2L" not in result:
        reached = result.get("length_periods_reached")
        where = f"reached {reached:.4g} of {2 * result['settings']['length_periods']:g} periods" if reached else ""
        why = "the integration did not reach 2 L"
        if result.get("failed_members") and len(result["failed_members"]) > result["settings"]["members"] - 2:
            why = "fewer than two members could be integrated: " + next(iter(result["failed_members"].values()))
        elif result.get("time_limited"):
            why = f"time limit ({result['cpu_seconds']:.0f} CPU s) {where}".strip()
        elif where:
            why = f"{why}: {where}"
        return {**check, "converged": False, "reason": why}
    lam_l, lam_2l = result["estimate_L"], result["estimate_2L"]
    diff_members = result["_members_L"] - result["_members_2L"]
    se_diff = float(np.std(diff_members, ddof=1) / math.sqrt(diff_members.size))
    total_time = 2 * result["settings"]["length_periods"] * result["period"]
    band = max(STANDARD_ERRORS * se_diff, RELATIVE_BAND * abs(lam_2l), 1.0 / total_time)
    difference = lam_l - lam_2l
    converged = bool(abs(difference) <= band)
    reason = "" if converged else f"|lambda_L - lambda_2L| = {abs(difference):.3g} exceeds the band {band:.3g}"
    return {
        **check,
        "converged": converged,
        "reason": reason,
        "estimate_L": lam_l,
        "standard_error_L": result["standard_error_L"],
        "estimate_2L": lam_2l,
        "standard_error_2L": result["standard_error_2L"],
        "difference": difference,
        "standard_error_difference": se_diff,
        "band": band,
    }


def reference_entry(
    name: str, settings: LyapunovSettings = LyapunovSettings(), *, time_limit_s: float | None = None
) -> dict[str, Any]:
    """One system's stored reference: our value, its standard error, settings, check, catalogue values.

    Integration failures are recorded (``converged: False`` with the reason), never raised.
    """
    meta = system_metadata(name)
    spectrum = meta.get("lyapunov_spectrum_estimated") or []
    catalogue = {
        "label": "catalogue (dysts chaotic_attractors.json); not ours",
        "maximum_lyapunov_estimated": meta.get("maximum_lyapunov_estimated"),
        "lyapunov_spectrum_estimated_max": float(spectrum[0]) if spectrum else None,
    }
    started = time.process_time()
    try:
        result = lyapunov_estimate(name, settings, time_limit_s=time_limit_s)
    except (SciMLError, ArithmeticError, ValueError, RuntimeError) as exc:
        return {
            "system": name,
            "lyapunov_max": None,
            "standard_error": None,
            "converged": False,
            "reason": f"integration failed: {type(exc).__name__}: {str(exc)[:300]}",
            "settings": asdict(settings),
            "catalogue": catalogue,
            "cpu_seconds": time.process_time() - started,
        }
    check = convergence_check(result)
    entry = {
        "system": name,
        "lyapunov_max": result.get("estimate_2L", result.get("estimate")),
        "standard_error": result.get("standard_error_2L", result.get("standard_error")),
        "converged": check["converged"],
        "reason": check["reason"],
        "method": result["method"],
        "jacobian": result.get("jacobian"),
        "settings": {**asdict(settings), **{k: result[k] for k in ("steps_per_delay", "d0") if k in result}},
        "check": {k: v for k, v in check.items() if k not in ("converged", "reason")},
        "length_periods_reached": result.get("length_periods_reached"),
        "failed_members": result["failed_members"],
        "catalogue": catalogue,
        "cpu_seconds": result["cpu_seconds"],
    }
    return entry


def _environment() -> dict[str, str]:
    from importlib.metadata import version

    return {"sciml": version("sciml"), "numpy": np.__version__, "dysts": version("dysts")}


def build_lyapunov_references(
    path: str | Path,
    names: Iterable[str] | None = None,
    *,
    settings: LyapunovSettings = LyapunovSettings(),
    time_limit_s: float | None = 120.0,
    retry_failed: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Compute (or complete) the reference file: one entry per system, written after every system.

    Systems already in ``path`` with the same settings are skipped (a restart resumes);
    ``retry_failed`` recomputes those whose integration failed. Returns the whole payload.

    Parameters
    ----------
    path : path-like
        The JSON file (``sciml/systems/lyapunov_references.json`` is the packaged one).
    names : iterable of str, optional
        Default: all 135 systems.
    settings : LyapunovSettings
    time_limit_s : float, optional
        CPU-seconds per system; a system over it is stored with what it reached, ``converged: False``.
    retry_failed : bool
    log : callable, optional
        Called with one line per finished system.
    """
    from sciml.core.io import write_json
    from sciml.systems._catalogue import list_systems

    path = Path(path)
    names = list(list_systems() if names is None else names)
    for name in names:
        check_name(name)
    payload: dict[str, Any] = {}
    if path.exists():
        payload = json.loads(path.read_text())
        if payload.get("settings") != asdict(settings):
            raise ConfigError(f"{path} was computed with other settings; move it away or pass the same settings")
    payload.update(
        {
            "description": "largest Lyapunov exponents of the dysts catalogue, computed by sciml.systems.lyapunov_estimate",
            "method": "two-trajectory (Benettin; flows), two-trajectory in history space (delay equations)",
            "settings": asdict(settings),
            "time_limit_cpu_s": time_limit_s,
            "convergence_rule": convergence_check({"complete": False, "settings": asdict(settings)})["rule"],
            "environment": _environment(),
        }
    )
    systems: dict[str, Any] = payload.setdefault("systems", {})
    for name in names:
        done = systems.get(name)
        if done is not None and not (retry_failed and done.get("lyapunov_max") is None):
            continue
        entry = reference_entry(name, settings, time_limit_s=time_limit_s)
        systems[name] = entry
        payload["systems"] = dict(sorted(systems.items()))
        payload["updated_utc"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload["summary"] = _summary(payload["systems"])
        write_json(path, payload)
        if log is not None:
            value = entry["lyapunov_max"]
            text = "failed" if value is None else f"{value:.4f} +- {entry['standard_error']:.1e}"
            log(
                f"{name:24s} {text:22s} converged={entry['converged']} {entry['cpu_seconds']:6.1f} CPU s "
                f"{entry['reason']}"
            )
    return payload


def _summary(systems: dict[str, Any]) -> dict[str, Any]:
    return {
        "n_systems": len(systems),
        "n_converged": sum(1 for e in systems.values() if e["converged"]),
        "not_converged": {n: e["reason"] for n, e in systems.items() if not e["converged"]},
        "cpu_seconds": sum(e.get("cpu_seconds") or 0.0 for e in systems.values()),
    }


@lru_cache(maxsize=1)
def _references() -> dict[str, Any]:
    text = resources.files("sciml.systems").joinpath(REFERENCES_FILE).read_text()
    return json.loads(text)


def lyapunov_reference(name: str) -> dict[str, Any]:
    """Our stored reference for ``name``: ``lyapunov_max``, ``standard_error``, ``converged``, ``reason``,
    ``settings``, ``check`` (estimates at L and 2L), ``catalogue`` values, ``cpu_seconds``.

    A copy; see docs/systems.md for how the references were computed.
    """
    check_name(name)
    systems = _references()["systems"]
    if name not in systems:
        raise DataError(f"no stored Lyapunov reference for {name}; rebuild with benchmarks/lyapunov_references.py")
    return json.loads(json.dumps(systems[name]))


def lyapunov_time(name: str) -> float:
    """The Lyapunov time ``1 / lambda_max`` of ``name`` from our reference (time units).

    ``inf`` when the reference exponent is not positive; a system whose estimate failed
    raises a one-line :class:`~sciml.core.errors.DataError`.
    """
    value = lyapunov_reference(name)["lyapunov_max"]
    if value is None:
        raise DataError(f"the Lyapunov reference of {name} failed; see lyapunov_reference({name!r})['reason']")
    return math.inf if value <= 0 else 1.0 / value
