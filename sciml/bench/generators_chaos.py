"""Chaos generator speed: our batched solvers vs dysts ``make_trajectory`` per initial condition.

For each system, the same N initial conditions (the catalogue initial condition, which
lies on the attractor, perturbed by 1 % of the catalogue standard deviation; 1e-3 for the
few flows where 1 % leaves the attractor) are integrated to the same sampling times
(``n_periods`` dominant periods at 100 points per period, dysts' ``make_trajectory``
grid) by

``sciml_batched``  :func:`sciml.numerics.integrate_batch`, all N at once,
                   dopri5 with per-trajectory step control at rtol = atol = TOL; for the
                   six delay equations :func:`~sciml.systems.integrate_delay_batch`
                   (RK4, the step meeting rtol = TOL), see :func:`run_delay_system`;
``dysts_rk45``     ``system.make_trajectory(n, init_cond=ic, method="RK45", rtol=TOL,
                   atol=TOL, postprocess=False)``, one call per initial condition, as
                   users do (scipy's RK45 is the same Dormand-Prince pair);
``dysts_ddeint``   the same call for a delay equation (dysts' own ``ddeint``).

dysts is timed on ``timed`` of the N initial conditions and its time scaled by
``N / timed`` (its calls are independent, so the cost is linear in N); the JSON records
both numbers. Errors of both against a reference (scipy DOP853 at rtol = atol = 1e-12; a
reference IC over ``REFERENCE_TIME_LIMIT_S`` is left out) on the first ``reference``
initial conditions: relative max-norm error over the first Lyapunov time
(``error_1lyap``) and over the whole trajectory (``error_full``, amplified by chaos for
both methods alike). Targets: total speed-up >= 20x, and the median over systems of the
error ratio (ours / dysts, first Lyapunov time) <= 1.1 (no worse: the same
Dormand-Prince pair, equal errors up to the rounding of the step sequence).

Each system is a cell of :func:`sciml.bench.run_cells` (two rows: ours and dysts'); the
JSON is written after every system and ``--resume`` skips the systems already in it. The
default executor is ``serial``: the timings are those of one process on an otherwise idle
core (a process pool runs systems side by side, and their timings share the cores).

Optional Lyapunov check (``--lyapunov``, a benchmark, not a test): the largest Lyapunov
exponent from our trajectories (:func:`sciml.systems.lyapunov_estimate`: Benettin pairs,
32 in one batch, mean and standard error) vs dysts' catalogue value
``maximum_lyapunov_estimated``. Target: within 15 % for >= 90 % of the systems; the
systems outside are listed. ``--lyapunov-method`` also runs dysts' own estimator on our
trajectories (``dysts_naive``) and dysts' estimator with the integration settings the
catalogue was computed with (``catalogue_protocol``: scipy Radau at its default
tolerances), which reproduces the catalogue; each writes
``generators_chaos_lyapunov_<method>.json``. Each system is a cell (``--time-limit``,
default 90 s for these cells); ``--resume`` skips the systems already there and runs the
failed ones again unless ``--keep-failed``; ``--budget-s`` starts no system after that
many seconds. ``--no-speed`` skips the speed comparison (and leaves
``generators_chaos.json`` alone). The stored references of :mod:`sciml.systems` come
from ``benchmarks/lyapunov_references.py`` (longer runs, a convergence check); this check
is the comparison with the catalogue.

Usage::

    sciml bench generators_chaos --preset quick          # 10 systems, about 2 minutes
    sciml bench generators_chaos --preset full --resume  # all 135 systems
    sciml bench generators_chaos --preset full --no-speed --lyapunov --executor process:2 --time-limit 240
    sciml bench generators_chaos --preset full --no-speed --lyapunov --lyapunov-method catalogue_protocol

Writes ``OUT/generators_chaos.json`` and ``generators_chaos.png`` (speed),
``OUT/generators_chaos_lyapunov*.json`` (Lyapunov check).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.integrate import solve_ivp

from sciml.bench._executors import open_executor
from sciml.bench._results import Results
from sciml.bench._runner import Cell, run_cells
from sciml.bench._tables import format_targets
from sciml.core.errors import ConfigError
from sciml.core.io import write_json
from sciml.core.plotting import save_figure
from sciml.numerics import integrate_batch
from sciml.systems import (
    LyapunovSettings,
    batched_delay_rhs,
    batched_rhs,
    initial_conditions,
    integrate_delay_batch,
    is_delay,
    list_systems,
    load_system,
    steps_per_delay_for,
    system_metadata,
)
from sciml.systems import lyapunov_estimate as _library_lyapunov_estimate
from sciml.systems import postprocess as _postprocess

__all__ = ["PRESETS", "run", "speed_cell", "lyapunov_row", "lyapunov_naive", "lyapunov_catalogue_protocol"]

NAME = "generators_chaos"
LYAPUNOV_NAME = "generators_chaos_lyapunov"
DEFAULT_EXECUTOR = "serial"
LYAPUNOV_TOLERANCE = 0.15
LYAPUNOV_GOAL = 0.9
LYAPUNOV_TIME_LIMIT_S = 90.0
LYAPUNOV_METHODS = {
    "benettin": "lyapunov_estimate: Benettin two-trajectory renormalization with our integrator",
    "dysts_naive": "lyapunov_naive: dysts' max_lyapunov_exponent protocol (the catalogue's) on our trajectories",
    "catalogue_protocol": "lyapunov_catalogue_protocol: dysts' max_lyapunov_exponent protocol with the integration "
    "settings the catalogue was computed with (scipy Radau at its default rtol = 1e-3, atol = 1e-6)",
}
LYAPUNOV_PROTOCOLS = {
    "benettin": "Benettin two-trajectory, 32 pairs in one batch (mean and its standard error), starting points "
    "5 periods apart on one trajectory after 10 periods, d0 = 1e-8 max|x|, renormalized every period/10, 5 "
    "periods of alignment not counted, then 40 periods, rtol = 1e-11, atol = 1e-12; delay equations: the same "
    "in the space of histories (RMS distance over the last delay, RK4 at the step meeting rtol = 1e-9), "
    "constant pasts spread by a tenth of a std, 10 + 5 periods not counted; "
    "a system that takes over the time limit is listed as failed (and counts as outside)",
    "dysts_naive": "dysts' naive protocol on our trajectories: 16 ICs settled for 10 periods, second "
    "trajectory scaled by 1 + 1e-10 (U - 1/2), 5000 points at 100 per period, rtol = atol = 1e-12, "
    "cut at 1e-3 relative separation, slope of the log separation, mean over ICs (ordinary flows only)",
    "catalogue_protocol": "dysts' naive protocol with the catalogue's 2023 integration: scipy Radau at its "
    "default rtol = 1e-3, atol = 1e-6, first_step = catalogue dt, 4 ICs settled for 10 periods by our "
    "integrator, otherwise as dysts_naive (ordinary flows only)",
}
LYAPUNOV_ROW_METHODS = {
    "benettin": "sciml_benettin_two_trajectory",
    "dysts_naive": "sciml_trajectories_dysts_naive",
    "catalogue_protocol": "scipy_radau_default_tolerances_dysts_naive",
}
QUICK_SYSTEMS = (
    "Lorenz",
    "Rossler",
    "Thomas",
    "Aizawa",
    "Chua",
    "Halvorsen",
    "SprottB",
    "Duffing",
    "Lorenz96",
    "DoublePendulum",
)
PRESETS = {
    "tiny": {"systems": ("Lorenz", "MackeyGlass"), "n": 8, "n_periods": 2, "timed": 1, "reference": 1},
    "quick": {"systems": QUICK_SYSTEMS, "n": 128, "n_periods": 5, "timed": 4, "reference": 4},
    "full": {"systems": None, "n": 128, "n_periods": 10, "timed": 8, "reference": 4},
}
TOL = 1e-9
REFERENCE_TIME_LIMIT_S = 120
# a few flows have thin basins: a 1 % perturbation of the catalogue IC can leave the
# attractor (SprottJerk, SprottQ); they are run again from 1e-3 (recorded per row)
PERTURBATIONS = (0.01, 1e-3)


def _relative_error(y: np.ndarray, ref: np.ndarray, upto: int) -> float:
    return float(np.abs(y[:upto] - ref[:upto]).max() / np.abs(ref[:upto]).max())


def _reference(system: Any, y0: np.ndarray, tpts: np.ndarray) -> np.ndarray | None:
    """scipy DOP853 at rtol = atol = 1e-12 from ``y0`` at ``tpts``; None past REFERENCE_TIME_LIMIT_S.

    A reference that chatters at a discontinuity of the rhs (StickSlipOscillator's friction)
    can take hours at 1e-12: the clock is read in the right-hand side (no signal, so the
    cell's own time limit keeps working).
    """
    start = time.perf_counter()

    def f(t, y):
        if time.perf_counter() - start > REFERENCE_TIME_LIMIT_S:
            raise TimeoutError(f"reference integration over {REFERENCE_TIME_LIMIT_S} s")
        return np.asarray(system.rhs(y, t), dtype=np.float64)

    try:
        sol = solve_ivp(f, (tpts[0], tpts[-1]), y0, t_eval=tpts, method="DOP853", rtol=1e-12, atol=1e-12)
    except TimeoutError:
        return None
    return sol.y.T


def speed_cell(name: str, n: int, n_periods: float, timed: int, n_reference: int) -> list[dict]:
    """The two rows of one system (ours, dysts'), retried from the smaller perturbation on failure."""
    torch.set_num_threads(1)
    messages = []
    for perturbation in PERTURBATIONS:
        try:
            return run_system(name, n, n_periods, timed, n_reference, perturbation)
        except Exception as exc:  # noqa: BLE001 - tried again from the smaller perturbation, then reported
            messages.append(
                f"perturbation {perturbation:g}: {(str(exc).splitlines() or [type(exc).__name__])[0][:120]}"
            )
    raise RuntimeError("; ".join(messages))


def run_system(
    name: str, n: int, n_periods: float, timed: int, n_reference: int, perturbation: float = 0.01
) -> list[dict]:
    """One ordinary flow: ``timed`` dysts calls (scaled to N), our batch of N, errors on ``n_reference`` ICs."""
    if is_delay(name):
        return run_delay_system(name, n, n_periods, timed, n_reference)
    system = load_system(name)
    meta = system_metadata(name)
    n_points = int(round(n_periods * 100))
    y0 = initial_conditions(system, 0, n, seed=0, perturbation=perturbation)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        dysts_runs = []
        tpts = None
        for i in range(timed):
            tp, traj = system.make_trajectory(
                n_points, init_cond=y0[i], method="RK45", rtol=TOL, atol=TOL, postprocess=False, return_times=True
            )
            tpts = tp
            dysts_runs.append(traj)
        dysts_seconds = (time.perf_counter() - start) * n / timed

        start = time.perf_counter()
        rhs = batched_rhs(system)
        ours, stats = integrate_batch(rhs, torch.from_numpy(y0), tpts, rtol=TOL, atol=TOL)
        ours_seconds = time.perf_counter() - start
        ours = ours.numpy()

        lyap = meta.get("maximum_lyapunov_estimated") or 1.0
        upto = int(np.searchsorted(tpts, 1.0 / lyap, side="right"))
        upto = max(2, min(upto, n_points))
        errors = {"sciml_batched": ([], []), "dysts_rk45": ([], [])}
        skipped = []
        for i in range(min(n_reference, timed)):
            ref = _reference(system, y0[i], tpts)
            if ref is None:
                skipped.append(i)
                continue
            if ref.shape != ours[i].shape or dysts_runs[i] is None or np.shape(dysts_runs[i]) != ref.shape:
                continue
            for method, y in (("sciml_batched", ours[i]), ("dysts_rk45", np.asarray(dysts_runs[i]))):
                errors[method][0].append(_relative_error(y, ref, upto))
                errors[method][1].append(_relative_error(y, ref, n_points))
    common = {
        "case": name,
        "n_trajectories": n,
        "n_points": n_points,
        "rtol": TOL,
        "atol": TOL,
        "perturbation": perturbation,
        "reference_ics_over_time_limit": skipped,
    }
    ours = {
        "rhs_evaluation": rhs.path,
        "rhs_implementation": rhs.implementation,
        "iterations": stats.n_iterations,
        "mean_accepted_steps": float(stats.n_accepted.mean()),
    }
    return _speed_rows(common, errors, ("dysts_rk45", dysts_seconds), ours_seconds, ours, timed, n)


def _speed_rows(
    common: dict,
    errors: dict[str, tuple[list[float], list[float]]],
    peer: tuple[str, float],
    ours_seconds: float,
    ours_extra: dict,
    timed: int,
    n: int,
) -> list[dict]:
    """The two rows of a system (ours, then dysts'): time and median errors over the reference ICs."""
    rows = []
    for method, seconds in (("sciml_batched", ours_seconds), peer):
        e1, ef = errors[method]
        row = {
            **common,
            "method": method,
            "seconds": seconds,
            "error_1lyap": float(np.median(e1)) if e1 else None,
            "error_full": float(np.median(ef)) if ef else None,
        }
        if method == "sciml_batched":
            row.update(ours_extra)
        else:
            row.update(timed_trajectories=timed, seconds_measured=seconds * timed / n)
        rows.append(row)
    return rows


def run_delay_system(name: str, n: int, n_periods: float, timed: int, n_reference: int) -> list[dict]:
    """A delay equation: our batched RK4 vs dysts ``make_trajectory`` (its ``ddeint``), per IC.

    dysts integrates from the constant history ``init_cond[0]`` over ``[0, tlim + tau]``
    (``tlim = n_periods`` periods) and returns the 10-column delay embedding at ``n``
    times from ``tau``; its integrator (scipy ``ode``/VODE at default tolerances, the
    state held at its last output value inside each output interval) takes no tolerance.
    Ours: :func:`integrate_delay_batch` for all N histories at the same times, the step
    from :func:`steps_per_delay_for` at rtol = TOL (its probe integration is timed too).
    Reference: the same RK4 with 16 times more steps per delay (errors 16^4 smaller).
    """
    system = load_system(name)
    meta = system_metadata(name)
    period = float(meta["period"])
    n_points = int(round(n_periods * 100))
    histories = initial_conditions(system, 0, n, seed=0, perturbation=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        dysts_runs = []
        for i in range(timed):
            tp, traj = system.make_trajectory(n_points, init_cond=histories[i], return_times=True)
            dysts_runs.append(np.asarray(traj))
        dysts_seconds = (time.perf_counter() - start) * n / timed
    samples = np.linspace(system.tau, tp[-1], n_points)  # dysts' sampling times

    start = time.perf_counter()
    rhs = batched_delay_rhs(system)
    m = steps_per_delay_for(rhs, float(histories[0, 0]), period, TOL)
    ours, stats = integrate_delay_batch(rhs, histories[:, 0], samples, steps_per_delay=m)
    ours_seconds = time.perf_counter() - start
    ours = ours.numpy()

    reference, _ = integrate_delay_batch(rhs, histories[: min(n_reference, timed), 0], samples, steps_per_delay=16 * m)
    reference = reference.numpy()
    lyap = meta.get("maximum_lyapunov_estimated") or 1.0
    upto = int(np.searchsorted(samples - samples[0], 1.0 / lyap, side="right"))
    upto = max(2, min(upto, n_points))
    errors = {"sciml_batched": ([], []), "dysts_ddeint": ([], [])}
    for i in range(reference.shape[0]):
        for method, y in (("sciml_batched", ours[i]), ("dysts_ddeint", dysts_runs[i])):
            if y.shape != reference[i].shape:
                continue
            errors[method][0].append(_relative_error(y, reference[i], upto))
            errors[method][1].append(_relative_error(y, reference[i], n_points))
    common = {"case": name, "n_trajectories": n, "n_points": n_points, "rtol": TOL, "atol": None}
    ours = {
        "rhs_evaluation": rhs.path,
        "rhs_implementation": "dysts (delay)",
        "iterations": stats.n_steps,
        "mean_accepted_steps": float(stats.n_steps),
        "steps_per_delay": m,
    }
    rows = _speed_rows(common, errors, ("dysts_ddeint", dysts_seconds), ours_seconds, ours, timed, n)
    return rows


# this benchmark's protocol (written before the estimator moved to sciml.systems): 32 members,
# 40 counted periods (L = 20), renormalized every tenth of a period, rtol = 1e-11
BENCHMARK_LYAPUNOV_SETTINGS = LyapunovSettings(
    members=32, length_periods=20.0, settle_periods=10.0, align_periods=5.0, renormalize_periods=0.1, rtol=1e-11
)


def lyapunov_estimate(name: str, time_limit_s: float = LYAPUNOV_TIME_LIMIT_S) -> tuple[float, float]:
    """:func:`sciml.systems.lyapunov_estimate` at :data:`BENCHMARK_LYAPUNOV_SETTINGS`: (mean, standard error).

    Raises TimeoutError when the system takes longer than ``time_limit_s`` CPU seconds.
    """
    result = _library_lyapunov_estimate(name, BENCHMARK_LYAPUNOV_SETTINGS, time_limit_s=time_limit_s)
    if result.get("time_limited") or "estimate" not in result:
        raise TimeoutError(
            f"time limit {time_limit_s:g} s reached after {result.get('length_periods_reached')} periods"
        )
    return result["estimate"], result["standard_error"]


def lyapunov_row(name: str, method: str = "benettin", time_limit_s: float = LYAPUNOV_TIME_LIMIT_S) -> dict:
    """One system of the Lyapunov check (one torch thread), against both catalogue values.

    The cell's time limit (:func:`sciml.bench.run_cells`) stops a system that runs too long;
    Benettin also stops itself at ``time_limit_s`` CPU seconds.
    """
    torch.set_num_threads(1)
    catalogue = system_metadata(name).get("maximum_lyapunov_estimated")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        standard_error = None
        if method == "dysts_naive":
            estimate = lyapunov_naive(name)
        elif method == "catalogue_protocol":
            estimate = lyapunov_catalogue_protocol(name)
        else:
            estimate, standard_error = lyapunov_estimate(name, time_limit_s=time_limit_s)
    rel = abs(estimate - catalogue) / abs(catalogue) if catalogue else None
    row = {
        "case": name,
        "method": LYAPUNOV_ROW_METHODS[method],
        "estimate": estimate,
        "standard_error": standard_error,
        "catalogue": catalogue,
        "relative_difference": rel,
        "within_15pct": rel is not None and rel <= LYAPUNOV_TOLERANCE,
        "seconds": time.perf_counter() - start,
        "time_limit_s": time_limit_s,
    }
    _add_qr_reference(row)
    return row


def _add_qr_reference(row: dict) -> None:
    """Second reference: the first exponent of the catalogue's QR (tangent-space) spectrum.

    dysts' ``maximum_lyapunov_estimated`` is its naive two-trajectory finite-time estimate
    (``lyapunov_exponents_naive_mean.txt``); ``lyapunov_spectrum_estimated`` comes from
    QR iterations of the tangent dynamics. The two differ by more than 15 % for many
    systems, so the row carries both.
    """
    if "catalogue_qr" in row:
        return
    spectrum = system_metadata(row["case"]).get("lyapunov_spectrum_estimated") or []
    qr = float(spectrum[0]) if spectrum else None
    rel = abs(row["estimate"] - qr) / abs(qr) if qr else None
    row["catalogue_qr"] = qr
    row["relative_difference_qr"] = rel
    row["within_15pct_qr"] = rel is not None and rel <= LYAPUNOV_TOLERANCE


def _lyapunov_targets(rows: list[dict], n_failed: int) -> list[dict]:
    judged = [r for r in rows if r["relative_difference"] is not None]
    # a system whose estimate failed counts as outside the tolerance
    total = len(judged) + n_failed
    share = sum(r["within_15pct"] for r in judged) / total if total else float("nan")
    share_qr = sum(bool(r.get("within_15pct_qr")) for r in judged) / total if total else float("nan")
    share_either = (
        sum(r["within_15pct"] or bool(r.get("within_15pct_qr")) for r in judged) / total if total else float("nan")
    )
    return [
        {
            "name": "lyapunov_within_15pct_share",
            "measured": share,
            "goal": f">= {LYAPUNOV_GOAL}",
            "met": bool(share >= LYAPUNOV_GOAL),
            "n_systems": total,
            "reference": "maximum_lyapunov_estimated (the issue's target)",
        },
        {
            "name": "lyapunov_within_15pct_share_vs_qr_spectrum",
            "measured": share_qr,
            "goal": f">= {LYAPUNOV_GOAL} (informational)",
            "met": bool(share_qr >= LYAPUNOV_GOAL),
            "n_systems": total,
            "reference": "lyapunov_spectrum_estimated[0]",
        },
        {
            "name": "lyapunov_within_15pct_of_either_share",
            "measured": share_either,
            "goal": f">= {LYAPUNOV_GOAL} (informational)",
            "met": bool(share_either >= LYAPUNOV_GOAL),
            "n_systems": total,
            "reference": "either catalogue value",
        },
    ]


def lyapunov_naive(
    name: str,
    n_pairs: int = 16,
    traj_length: int = 5000,
    points_per_period: int = 100,
    eps: float = 1e-10,
    eps_max: float = 1e-3,
    burn_in_periods: float = 10.0,
) -> float:
    """dysts' own estimator of the catalogue value, applied to our batched trajectories.

    ``maximum_lyapunov_estimated`` is dysts' ``max_lyapunov_exponent`` (the "naive mean"
    of ``lyapunov_exponents_naive_mean.txt``): for many initial conditions on the
    attractor, a second trajectory from the initial condition scaled by ``1 + eps (U -
    1/2)``; both sampled at 100 points per period for ``traj_length`` points
    (postprocessed coordinates); cut at the last point where the relative separation is
    below ``eps_max``; the slope of a least-squares line through the log separation,
    per unit time; the mean over initial conditions. Here the same protocol runs on
    trajectories of our integrator (all ``2 n_pairs`` in one batch, rtol = atol = 1e-12),
    from ``n_pairs`` initial conditions settled on the attractor for ``burn_in_periods``.
    """

    system = load_system(name)
    period = float(system_metadata(name)["period"])
    rhs = batched_rhs(system)
    base = initial_conditions(system, 0, n_pairs, seed=5, perturbation=0.01)
    settled, _ = integrate_batch(
        rhs, torch.from_numpy(base), [burn_in_periods * period], rtol=1e-10, atol=1e-10, max_steps=200_000
    )
    x = settled[:, 0].numpy()
    rng = np.random.default_rng(0)
    x2 = x * (1 + eps * (rng.random(x.shape) - 0.5))
    dt = period / points_per_period
    t_out = dt * np.arange(1, traj_length + 1)
    out, _ = integrate_batch(
        rhs, torch.from_numpy(np.concatenate([x, x2])), t_out, rtol=1e-12, atol=1e-12, max_steps=2_000_000
    )
    traj = _postprocess(system, out.numpy())
    estimates = [_naive_slope(traj[i], traj[n_pairs + i], dt, eps_max) for i in range(n_pairs)]
    estimates = [e for e in estimates if e is not None]
    if not estimates:
        raise ValueError("no pair gave an estimate")
    return float(np.mean(estimates))


def _naive_slope(a: np.ndarray, b: np.ndarray, dt: float, eps_max: float) -> float | None:
    """dysts' naive estimate from two sampled trajectories ``[T, D]``: the least-squares slope
    of the log separation up to the last sample where the relative separation is below
    ``eps_max``, per unit time (None when there are fewer than 3 usable samples)."""
    from scipy.stats import linregress

    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return None
    separation = np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)
    below = np.where(separation < eps_max)[0]
    if below.size < 3:
        return None
    cut = below[-1]
    log_sep = np.log(np.linalg.norm(a[:cut] - b[:cut], axis=1))
    keep = np.isfinite(log_sep)
    if keep.sum() < 3:
        return None
    return float(linregress(np.arange(cut)[keep], log_sep[keep]).slope / dt)


def lyapunov_catalogue_protocol(
    name: str,
    n_ics: int = 4,
    traj_length: int = 5000,
    points_per_period: int = 100,
    eps: float = 1e-10,
    eps_max: float = 1e-3,
    burn_in_periods: float = 10.0,
    rtol: float = 1e-3,
    atol: float = 1e-6,
) -> float:
    """The catalogue's own estimator, re-run with the integration settings it was computed with.

    dysts' ``maximum_lyapunov_estimated`` values were written in February 2023 (dysts
    commit 5163792, "update lyapunov exponent values") by ``lyapunov_exponent_naive``
    (now ``max_lyapunov_exponent``) on trajectories of the ``make_trajectory`` of that
    time, which called ``solve_ivp(method="Radau", first_step=dt)`` without tolerances,
    i.e. at scipy's defaults rtol = 1e-3, atol = 1e-6. Here: ``n_ics`` initial conditions
    settled on the attractor by our integrator; for each, two scipy Radau trajectories at
    those tolerances (the second from the initial condition scaled by ``1 + eps (U -
    1/2)``), 100 points per period for ``traj_length`` points, postprocessed, and the
    slope of :func:`_naive_slope`; the mean over initial conditions. The integration
    error of a loose tolerance (about 1e-3 relative per step) is far above the 1e-10
    initial separation, so this measures the divergence of two numerical solutions, not
    the Lyapunov exponent: it reproduces the catalogue, not the exponent.
    """

    system = load_system(name)
    meta = system_metadata(name)
    period = float(meta["period"])
    rhs = batched_rhs(system)
    base = initial_conditions(system, 0, n_ics, seed=5, perturbation=0.01)
    settled, _ = integrate_batch(
        rhs, torch.from_numpy(base), [burn_in_periods * period], rtol=1e-10, atol=1e-10, max_steps=200_000
    )
    t = np.linspace(0.0, period * traj_length / points_per_period, traj_length)

    def f(tt, y):
        return np.asarray(system.rhs(y, tt), dtype=np.float64)

    def trajectory(ic: np.ndarray) -> np.ndarray | None:
        sol = solve_ivp(f, (t[0], t[-1]), ic, t_eval=t, method="Radau", first_step=meta["dt"], rtol=rtol, atol=atol)
        if sol.y.shape[1] != t.size:
            return None
        return _postprocess(system, sol.y.T[None])[0]

    estimates = []
    for i, ic in enumerate(settled[:, 0].numpy()):
        a = trajectory(ic)
        b = trajectory(ic * (1 + eps * (np.random.RandomState(i).random_sample(ic.shape) - 0.5)))
        if a is None or b is None:
            continue
        estimate = _naive_slope(a, b, t[1] - t[0], eps_max)
        if estimate is not None:
            estimates.append(estimate)
    if not estimates:
        raise ValueError("no initial condition gave an estimate")
    return float(np.mean(estimates))


def speed_summary(rows: list[dict]) -> tuple[dict[str, Any], list[dict]]:
    """Totals over the systems done and the issue's two targets."""
    ours_rows = {r["case"]: r for r in rows if r["method"] == "sciml_batched"}
    theirs_rows = {r["case"]: r for r in rows if r["method"].startswith("dysts")}
    cases = [c for c in ours_rows if c in theirs_rows]
    total_ours = sum(ours_rows[c]["seconds"] for c in cases)
    total_theirs = sum(theirs_rows[c]["seconds"] for c in cases)
    speedup = total_theirs / total_ours if total_ours else float("nan")
    ratios = [
        ours_rows[c]["error_1lyap"] / theirs_rows[c]["error_1lyap"]
        for c in cases
        if ours_rows[c]["error_1lyap"] is not None and theirs_rows[c]["error_1lyap"]
    ]
    median_ratio = statistics.median(ratios) if ratios else float("nan")
    delay = [c for c in cases if theirs_rows[c]["method"] == "dysts_ddeint"]
    flows = [c for c in cases if c not in delay]
    targets = [
        {
            "name": "chaos_total_speedup_vs_dysts_make_trajectory",
            "measured": speedup,
            "goal": ">= 20",
            "met": bool(speedup >= 20),
            "n_systems": len(cases),
        },
        {
            "name": "chaos_median_error_ratio_ours_over_dysts_1lyap",
            "measured": median_ratio,
            # the same Dormand-Prince pair and controller as scipy's RK45: equal errors up
            # to the rounding of the step sequence count as "no worse"
            "goal": "<= 1.1",
            "met": bool(median_ratio <= 1.1),
            "n_systems": len(ratios),
        },
    ]
    totals = {
        "sciml_batched_seconds": total_ours,
        "dysts_seconds": total_theirs,
        "flows": {
            "n": len(flows),
            "sciml_batched_seconds": sum(ours_rows[c]["seconds"] for c in flows),
            "dysts_rk45_seconds": sum(theirs_rows[c]["seconds"] for c in flows),
        },
        "delay": {
            "n": len(delay),
            "sciml_batched_seconds": sum(ours_rows[c]["seconds"] for c in delay),
            "dysts_ddeint_seconds": sum(theirs_rows[c]["seconds"] for c in delay),
        },
    }
    return {"systems_done": len(cases), "totals": totals}, targets


def lyapunov_results_name(method: str) -> str:
    """``generators_chaos_lyapunov.json`` for our estimator, ``..._<method>.json`` for the others."""
    return f"{LYAPUNOV_NAME}.json" if method == "benettin" else f"{LYAPUNOV_NAME}_{method}.json"


def _fmt(value: float | None) -> str:
    return "   n/a " if value is None else f"{value:.1e}"


def _print_speed(rows: list[dict]) -> None:
    ours, theirs = rows
    print(
        f"{ours['case']:24s} ours {ours['seconds']:7.2f}s  dysts {theirs['seconds']:8.2f}s  "
        f"x{theirs['seconds'] / ours['seconds']:6.1f}  err1L {_fmt(ours['error_1lyap'])} vs "
        f"{_fmt(theirs['error_1lyap'])}  errT {_fmt(ours['error_full'])} vs {_fmt(theirs['error_full'])}"
        f"  [{ours['rhs_evaluation']}]",
        flush=True,
    )


def _print_lyapunov_row(row: dict) -> None:
    rel = row["relative_difference"]
    print(
        f"{row['case']:24s} lyapunov {row['estimate']:9.4f} +- {row.get('standard_error') or 0:.1e} "
        f"catalogue {row['catalogue']:9.4f} "
        f"rel {rel if rel is not None else float('nan'):6.2f} {'ok' if row['within_15pct'] else 'OUTSIDE'}"
        f"  qr {row['catalogue_qr'] or float('nan'):9.4f} rel {row['relative_difference_qr'] or float('nan'):6.2f}"
        f"  ({row['seconds']:.1f}s)",
        flush=True,
    )


def add_arguments(parser: argparse.ArgumentParser, root: Path) -> None:
    parser.add_argument("--systems", nargs="+", help="system names (default: the preset's; full: all 135)")
    parser.add_argument("--lyapunov", action="store_true", help="also run the Lyapunov check")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed comparison (with --lyapunov)")
    parser.add_argument("--lyapunov-method", choices=sorted(LYAPUNOV_METHODS), default="benettin")
    parser.add_argument(
        "--budget-s", type=float, default=None, metavar="SECONDS", help="Lyapunov: start no system after this"
    )
    parser.add_argument(
        "--keep-failed", action="store_true", help="with --resume: do not run the systems that failed again"
    )


def run(
    preset: str,
    out: str | Path,
    executor: str | cf.Executor = DEFAULT_EXECUTOR,
    *,
    systems: list[str] | None = None,
    lyapunov: bool = False,
    no_speed: bool = False,
    lyapunov_method: str = "benettin",
    budget_s: float | None = None,
    keep_failed: bool = False,
    resume: bool = False,
    command: str = "sciml bench generators_chaos",
    progress: bool = False,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """The speed comparison (and, with ``lyapunov``, the Lyapunov check) over the preset's systems.

    Returns the speed payload, or the Lyapunov payload when ``no_speed``.
    """
    if no_speed and not lyapunov:
        raise ConfigError("--no-speed needs --lyapunov (there is nothing else to run)")
    if lyapunov_method not in LYAPUNOV_METHODS:
        raise ConfigError(f"unknown --lyapunov-method {lyapunov_method!r}; choose from {', '.join(LYAPUNOV_METHODS)}")
    cfg = PRESETS[preset]
    catalogue = list_systems()
    names = list(systems or cfg["systems"] or catalogue)
    for name in names:
        load_system(name)  # an unknown name fails here, with close matches, before any work
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    payload: dict[str, Any] | None = None
    with open_executor(executor) as (pool, spec):
        sweep = _Sweep(out, pool, spec, resume, keep_failed, command, progress)
        if not no_speed:
            payload = _run_speed(names, cfg, preset, sweep, time_limit)
        if lyapunov:
            # dysts' naive protocols are written for ordinary flows; our Benettin covers the delay equations too
            lyap_names = [s for s in names if lyapunov_method == "benettin" or not is_delay(s)]
            lyap = _run_lyapunov(lyap_names, lyapunov_method, sweep, time_limit or LYAPUNOV_TIME_LIMIT_S, budget_s)
            if payload is None:
                return lyap
            payload["lyapunov_results"] = lyapunov_results_name(lyapunov_method)
            write_json(out / f"{NAME}.json", payload)
    return payload


@dataclasses.dataclass(frozen=True)
class _Sweep:
    """What the speed and the Lyapunov sweeps of one run share: where they write and run, how they resume."""

    out: Path
    pool: cf.Executor
    spec: str
    resume: bool
    keep_failed: bool
    command: str
    progress: bool

    def results(self, file: str, benchmark: str, settings: dict, match: dict) -> Results:
        return Results(
            self.out / file,
            benchmark,
            key=("case",),
            settings=settings,
            command=self.command,
            environment={"torch_threads": 1},
            resume=self.resume,
            match=match,
            retry_failed=not self.keep_failed,
        )


def _run_speed(names: list[str], cfg: dict, preset: str, sweep: _Sweep, time_limit: float | None) -> dict[str, Any]:
    settings = {
        "preset": preset,
        **{k: v for k, v in cfg.items() if k != "systems"},
        "systems": names,
        "tol": TOL,
        "executor": sweep.spec,
    }
    # the systems are the cells; a resumed run of another system list keeps the rows it shares
    match = {k: v for k, v in settings.items() if k not in ("systems", "executor", "preset")}
    results = sweep.results(f"{NAME}.json", NAME, settings, match)
    cells = [
        Cell((name,), speed_cell, (name, cfg["n"], cfg["n_periods"], cfg["timed"], cfg["reference"])) for name in names
    ]
    start = time.perf_counter()

    def write(complete: bool = False) -> dict[str, Any]:
        rows = results.rows([c.key for c in cells])
        summary, targets = speed_summary(rows)
        return results.write(
            order=[c.key for c in cells],
            complete=complete,
            wall_seconds=round(time.perf_counter() - start, 1),
            targets=targets,
            **summary,
        )

    pending: list[dict] = []

    def on_row(row: dict) -> None:  # a system's two rows arrive one after the other
        pending.append(row)
        if len(pending) == 2:
            _print_speed(pending)
            pending.clear()

    failure = lambda cell, message: print(f"{cell.label:24s} FAILED {message}", flush=True)  # noqa: E731
    run_cells(cells, sweep.pool, results, time_limit=time_limit, progress=sweep.progress, on_row=on_row,
              on_failure=failure, write=write)  # fmt: skip
    payload = write(complete=True)
    _plot(payload["rows"], sweep.out / f"{NAME}.png")
    print(format_targets(payload["targets"]))
    if payload["failed"]:
        print("failed:", "; ".join(f"{f['case']}: {f['error']}" for f in payload["failed"]))
    return payload


def _run_lyapunov(
    names: list[str], method: str, sweep: _Sweep, time_limit: float, budget_s: float | None
) -> dict[str, Any]:
    settings = {
        "method": LYAPUNOV_METHODS[method],
        "method_key": method,
        "protocol": LYAPUNOV_PROTOCOLS[method],
        "time_limit_s": time_limit,
        "tolerance": LYAPUNOV_TOLERANCE,
        "systems": names,
        "executor": sweep.spec,
    }
    results = sweep.results(lyapunov_results_name(method), LYAPUNOV_NAME, settings, {"method_key": method})
    cells = [Cell((name,), lyapunov_row, (name, method, time_limit)) for name in names]

    def write(complete: bool = False, not_started: list | None = None) -> dict[str, Any]:
        order = [c.key for c in cells]
        rows = results.rows(order)
        n_failed = len(results.failures(order))
        return results.write(
            order=order,
            complete=complete,
            outside_15pct=[r["case"] for r in rows if not r["within_15pct"]],
            outside_15pct_of_both_references=[
                r["case"] for r in rows if not (r["within_15pct"] or r["within_15pct_qr"])
            ],
            not_run_time_budget=[k[0] for k in (not_started or [])],
            targets=_lyapunov_targets(rows, n_failed),
        )

    failure = lambda cell, message: print(f"{cell.label:24s} lyapunov FAILED {message}", flush=True)  # noqa: E731
    report = run_cells(cells, sweep.pool, results, time_limit=time_limit, budget_s=budget_s, progress=sweep.progress,
                       on_row=_print_lyapunov_row, on_failure=failure, write=write)  # fmt: skip
    payload = write(complete=not report.not_started, not_started=report.not_started)
    print(format_targets(payload["targets"]))
    print("outside 15%:", ", ".join(payload["outside_15pct"]) or "none")
    print("outside 15% of both references:", ", ".join(payload["outside_15pct_of_both_references"]) or "none")
    if payload["not_run_time_budget"]:
        print("not run (time budget):", ", ".join(payload["not_run_time_budget"]))
    if payload["failed"]:
        print("failed:", "; ".join(f"{f['case']}: {f['error']}" for f in payload["failed"]))
    return payload


def _plot(rows: list[dict], path: Path) -> None:
    """Speed-up per system (bars) and the error of ours against dysts' (first Lyapunov time)."""
    from matplotlib.figure import Figure

    theirs = {r["case"]: r for r in rows if r["method"].startswith("dysts")}
    ours = [r for r in rows if r["method"] == "sciml_batched" and r["case"] in theirs]
    names = [r["case"] for r in ours]
    delay = np.array([theirs[n]["method"] == "dysts_ddeint" for n in names], dtype=bool)
    speed = np.array([theirs[n]["seconds"] / r["seconds"] for n, r in zip(names, ours)])
    many = len(names) > 30
    fig = Figure(figsize=(20 if many else 12, 9 if many else 4.5))
    ax1 = fig.add_subplot(2, 1, 1) if many else fig.add_subplot(1, 2, 1)
    ax2 = fig.add_subplot(2, 3, 5) if many else fig.add_subplot(1, 2, 2)
    x = np.arange(len(names))
    ax1.bar(x[~delay], speed[~delay], label="ODE flows (dysts RK45)")
    if delay.any():
        ax1.bar(x[delay], speed[delay], color="tab:orange", label="delay equations (dysts ddeint)")
    ax1.axhline(20, color="k", ls="--", lw=1, label="target 20x (total)")
    ax1.set_xticks(x, names, rotation=90 if many else 70, fontsize=5 if many else 7)
    ax1.set_xlim(-1, len(names))
    ax1.set_yscale("log")
    ax1.set_ylabel("speed-up over dysts make_trajectory\n(one call per IC)")
    ax1.legend(fontsize=8)
    e_ours = np.array([r["error_1lyap"] or np.nan for r in ours])
    e_theirs = np.array([theirs[n]["error_1lyap"] or np.nan for n in names])
    ax2.loglog(e_theirs[~delay], e_ours[~delay], "o", ms=3, label="ODE flows")
    if delay.any():
        ax2.loglog(e_theirs[delay], e_ours[delay], "s", ms=4, color="tab:orange", label="delay")
    both = np.concatenate([e_ours, e_theirs])
    lo, hi = np.nanmin(both) / 2, np.nanmax(both) * 2
    ax2.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax2.set_xlabel("dysts error (1 Lyapunov time)")
    ax2.set_ylabel("sciml batched error")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
