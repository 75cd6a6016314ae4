"""Chaos generator speed: our batched dopri5 vs dysts ``make_trajectory`` per initial condition.

For each system, the same N initial conditions (the catalogue initial condition, which
lies on the attractor, perturbed by 1 % of the catalogue standard deviation) are
integrated to the same sampling times (``n_periods`` dominant periods at 100 points per
period, dysts' ``make_trajectory`` grid) by

``sciml_batched``  :func:`sciml.data.generators.chaos.integrate_batch`, all N at once,
                   dopri5 with per-trajectory step control at rtol = atol = TOL;
``dysts_rk45``     ``system.make_trajectory(n, init_cond=ic, method="RK45", rtol=TOL,
                   atol=TOL, postprocess=False)``, one call per initial condition, as
                   users do (scipy's RK45 is the same Dormand-Prince pair).

dysts is timed on ``timed`` of the N initial conditions and its time scaled by
``N / timed`` (its calls are independent, so the cost is linear in N); the JSON records
both numbers. Errors of both against a reference (scipy DOP853 at rtol = atol = 1e-12)
on the first ``reference`` initial conditions: relative max-norm error over the first
Lyapunov time (``error_1lyap``) and over the whole trajectory (``error_full``, amplified
by chaos for both methods alike). Targets: total speed-up >= 20x, and the median over
systems of the error ratio (ours / dysts, first Lyapunov time) <= 1.1 (no worse: the
same Dormand-Prince pair, equal errors up to the rounding of the step sequence).

Optional Lyapunov check (``--lyapunov``, a benchmark, not a test): the largest Lyapunov
exponent from pairs of our trajectories (Benettin renormalization every tenth of a
period, median over 8 pairs, 40 periods after 5 periods of settling) vs dysts' catalogue
value ``maximum_lyapunov_estimated``. Target: within 15 % for >= 90 % of the systems;
the systems outside are listed. The systems run on any ``concurrent.futures.Executor``
(``--executor process`` with ``--workers``, or ``serial``); each finished system is
written to ``generators_chaos_lyapunov.json`` at once, and ``--resume`` skips the
systems already there. ``--no-speed`` skips the speed comparison (and leaves
``generators_chaos.json`` alone).

Usage::

    python benchmarks/generators_chaos.py --preset quick
    python benchmarks/generators_chaos.py --preset full --lyapunov
    python benchmarks/generators_chaos.py --preset full --no-speed --lyapunov --executor process --workers 2

Writes ``benchmarks/results/generators_chaos.json`` and ``generators_chaos.png`` (speed),
``benchmarks/results/generators_chaos_lyapunov.json`` (Lyapunov check).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as _dt
import json
import signal
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.integrate import solve_ivp

from sciml.data.generators.chaos import (
    batched_rhs,
    initial_conditions,
    integrate_batch,
    list_systems,
    load_system,
    system_metadata,
)
from sciml.io import environment, write_json

RESULTS = Path(__file__).resolve().parent / "results"
NAME = "generators_chaos"
LYAPUNOV_NAME = "generators_chaos_lyapunov"
LYAPUNOV_TOLERANCE = 0.15
LYAPUNOV_GOAL = 0.9
LYAPUNOV_TIME_LIMIT_S = 90.0
LYAPUNOV_METHODS = {
    "benettin": "lyapunov_estimate: Benettin two-trajectory renormalization with our integrator",
    "dysts_naive": "lyapunov_naive: dysts' max_lyapunov_exponent protocol (the catalogue's) on our trajectories",
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
    "quick": {"systems": QUICK_SYSTEMS, "n": 128, "n_periods": 5, "timed": 4, "reference": 4},
    "full": {"systems": None, "n": 128, "n_periods": 10, "timed": 8, "reference": 4},
}
TOL = 1e-9


def _relative_error(y: np.ndarray, ref: np.ndarray, upto: int) -> float:
    return float(np.abs(y[:upto] - ref[:upto]).max() / np.abs(ref[:upto]).max())


def run_system(name: str, n: int, n_periods: float, timed: int, n_reference: int) -> list[dict]:
    system = load_system(name)
    meta = system_metadata(name)
    n_points = int(round(n_periods * 100))
    y0 = initial_conditions(system, 0, n, seed=0, perturbation=0.01)
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

        def f(t, y):
            return np.asarray(system.rhs(y, t), dtype=np.float64)

        lyap = meta.get("maximum_lyapunov_estimated") or 1.0
        upto = int(np.searchsorted(tpts, 1.0 / lyap, side="right"))
        upto = max(2, min(upto, n_points))
        errors = {"sciml_batched": ([], []), "dysts_rk45": ([], [])}
        for i in range(min(n_reference, timed)):
            sol = solve_ivp(f, (tpts[0], tpts[-1]), y0[i], t_eval=tpts, method="DOP853", rtol=1e-12, atol=1e-12)
            ref = sol.y.T
            if ref.shape != ours[i].shape or dysts_runs[i] is None or np.shape(dysts_runs[i]) != ref.shape:
                continue
            for method, y in (("sciml_batched", ours[i]), ("dysts_rk45", np.asarray(dysts_runs[i]))):
                errors[method][0].append(_relative_error(y, ref, upto))
                errors[method][1].append(_relative_error(y, ref, n_points))
    common = {"case": name, "n_trajectories": n, "n_points": n_points, "rtol": TOL, "atol": TOL}
    rows = []
    for method, seconds in (("sciml_batched", ours_seconds), ("dysts_rk45", dysts_seconds)):
        e1, ef = errors[method]
        row = {
            **common,
            "method": method,
            "seconds": seconds,
            "error_1lyap": float(np.median(e1)) if e1 else None,
            "error_full": float(np.median(ef)) if ef else None,
        }
        if method == "sciml_batched":
            row.update(
                rhs_evaluation=rhs.path,
                iterations=stats.n_iterations,
                mean_accepted_steps=float(stats.n_accepted.mean()),
            )
        else:
            row.update(timed_trajectories=timed, seconds_measured=dysts_seconds * timed / n)
        rows.append(row)
    return rows


def lyapunov_estimate(name: str, n_pairs: int = 8, n_periods: float = 40.0, time_limit_s: float = 90.0) -> float:
    """Benettin's two-trajectory estimate of the largest Lyapunov exponent with our solver.

    Raises TimeoutError when the system takes longer than ``time_limit_s`` (stiff systems).
    """
    started = time.perf_counter()
    system = load_system(name)
    meta = system_metadata(name)
    period = float(meta["period"])
    rhs = batched_rhs(system)
    base = initial_conditions(system, 0, n_pairs, seed=3, perturbation=0.01)
    # settle on the attractor first
    settled, _ = integrate_batch(rhs, torch.from_numpy(base), [5 * period], rtol=1e-10, atol=1e-10, max_steps=200_000)
    x = settled[:, 0].numpy()
    rng = np.random.default_rng(0)
    d0 = 1e-8 * max(float(np.abs(x).max()), 1.0)
    direction = rng.standard_normal(x.shape)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    pair = np.concatenate([x, x + d0 * direction])
    interval = period / 10
    total = np.zeros(n_pairs)
    t = 0.0
    n_steps = int(n_periods * 10)
    for _ in range(n_steps):
        if time.perf_counter() - started > time_limit_s:
            raise TimeoutError(f"time limit {time_limit_s:g} s reached at t = {t:.3g} of {n_steps * interval:.3g}")
        out, _ = integrate_batch(
            rhs, torch.from_numpy(pair), [t + interval], t0=t, rtol=1e-11, atol=1e-12, max_steps=200_000
        )
        pair = out[:, 0].numpy()
        t += interval
        sep = pair[n_pairs:] - pair[:n_pairs]
        dist = np.linalg.norm(sep, axis=1)
        total += np.log(dist / d0)
        pair[n_pairs:] = pair[:n_pairs] + sep * (d0 / dist)[:, None]
    return float(np.median(total / (n_steps * interval)))


class SerialExecutor(cf.Executor):
    """A ``concurrent.futures.Executor`` that runs each call at submission, in this process."""

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN201 - the Executor signature
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


def make_executor(kind: str, workers: int) -> cf.Executor:
    if kind == "serial":
        return SerialExecutor()
    return cf.ProcessPoolExecutor(max_workers=workers)


def _alarm(signum, frame):  # noqa: ANN001, ARG001 - signal handler signature
    raise TimeoutError(f"time limit {LYAPUNOV_TIME_LIMIT_S:g} s reached")


def lyapunov_row(name: str, method: str = "benettin") -> dict:
    """One system of the Lyapunov check (runs in a worker's main thread: one torch thread).

    A system taking over ``LYAPUNOV_TIME_LIMIT_S`` is stopped by SIGALRM (TimeoutError).
    """
    torch.set_num_threads(1)
    catalogue = system_metadata(name).get("maximum_lyapunov_estimated")
    start = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(LYAPUNOV_TIME_LIMIT_S))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "dysts_naive":
                estimate = lyapunov_naive(name)
            else:
                estimate = lyapunov_estimate(name, time_limit_s=LYAPUNOV_TIME_LIMIT_S)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    rel = abs(estimate - catalogue) / abs(catalogue) if catalogue else None
    return {
        "case": name,
        "method": "sciml_benettin_two_trajectory" if method == "benettin" else "sciml_trajectories_dysts_naive",
        "estimate": estimate,
        "catalogue": catalogue,
        "relative_difference": rel,
        "within_15pct": rel is not None and rel <= LYAPUNOV_TOLERANCE,
        "seconds": time.perf_counter() - start,
    }


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


def run_lyapunov(
    systems: list[str],
    executor: cf.Executor,
    out: Path,
    command: str,
    resume: bool = False,
    window: int = 2,
    budget_s: float = float("inf"),
    method: str = "benettin",
) -> dict:
    """The Lyapunov check over ``systems`` on ``executor``; the JSON is rewritten as each finishes."""
    path = out / f"{LYAPUNOV_NAME}.json"
    rows: list[dict] = []
    failed: list[str] = []
    skipped: list[str] = []
    if resume and path.exists():
        previous = json.loads(path.read_text())
        if previous.get("settings", {}).get("method_key", "benettin") != method:
            raise SystemExit(f"--resume: {path} holds another --lyapunov-method; move it away first")
        rows = [r for r in previous.get("rows", []) if r["case"] in systems]
        failed = [f for f in previous.get("failed", []) if f.split(":")[0] in systems]
    done = {r["case"] for r in rows} | {f.split(":")[0] for f in failed}
    todo = [name for name in systems if name not in done]

    def save() -> dict:
        for row in rows:
            _add_qr_reference(row)
        ordered = sorted(rows, key=lambda r: systems.index(r["case"]))
        outside = [r["case"] for r in ordered if not r["within_15pct"]]
        outside_both = [r["case"] for r in ordered if not (r["within_15pct"] or r["within_15pct_qr"])]
        payload = {
            "benchmark": LYAPUNOV_NAME,
            "command": command,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "environment": {**environment(), "torch_threads": 1},
            "settings": {
                "method": LYAPUNOV_METHODS[method],
                "method_key": method,
                "benettin": "Benettin two-trajectory, 8 pairs (median), d0 = 1e-8 max|x|, renormalized every "
                "period/10, 40 periods after 5 periods of settling, rtol = 1e-11, atol = 1e-12; "
                "a system that takes over 90 s is listed as failed (and counts as outside)",
                "tolerance": LYAPUNOV_TOLERANCE,
                "systems": list(systems),
            },
            "rows": ordered,
            "outside_15pct": outside,
            "outside_15pct_of_both_references": outside_both,
            "failed": failed,
            "not_run_time_budget": skipped,
            "targets": _lyapunov_targets(ordered, len(failed)),
        }
        write_json(path, payload)
        return payload

    def record(name: str, future: cf.Future) -> None:
        try:
            row = future.result()
        except Exception as exc:  # noqa: BLE001 - a system that fails is listed, the sweep goes on
            failed.append(f"{name}: {(str(exc).splitlines() or [type(exc).__name__])[0][:120]}")
            print(f"{name:24s} lyapunov FAILED {failed[-1]}", flush=True)
            save()
            return
        rows.append(row)
        _add_qr_reference(row)
        rel = row["relative_difference"]
        print(
            f"{name:24s} lyapunov {row['estimate']:9.4f} catalogue {row['catalogue']:9.4f} "
            f"rel {rel if rel is not None else float('nan'):6.2f} {'ok' if row['within_15pct'] else 'OUTSIDE'}"
            f"  qr {row['catalogue_qr'] or float('nan'):9.4f} rel {row['relative_difference_qr'] or float('nan'):6.2f}"
            f"  ({row['seconds']:.1f}s)",
            flush=True,
        )
        save()

    # at most `window` systems in flight, so each result is saved as it finishes and no new
    # system starts once the time budget is spent (the skipped ones are listed)
    start = time.perf_counter()
    pending: dict[cf.Future, str] = {}
    queue = list(todo)
    while queue or pending:
        while queue and len(pending) < window and time.perf_counter() - start < budget_s:
            name = queue.pop(0)
            pending[executor.submit(lyapunov_row, name, method)] = name
        if not pending:
            break
        done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for future in done:
            record(pending.pop(future), future)
    skipped[:] = queue
    return save()


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
    from scipy.stats import linregress

    from sciml.data.generators.chaos import _postprocess

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
    estimates = []
    for i in range(n_pairs):
        a, b = traj[i], traj[n_pairs + i]
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            continue
        separation = np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)
        below = np.where(separation < eps_max)[0]
        if below.size < 3:
            continue
        cut = below[-1]
        log_sep = np.log(np.linalg.norm(a[:cut] - b[:cut], axis=1))
        if not np.all(np.isfinite(log_sep)):
            keep = np.isfinite(log_sep)
            log_sep = log_sep[keep]
            index = np.arange(cut)[keep]
        else:
            index = np.arange(cut)
        if index.size < 3:
            continue
        estimates.append(linregress(index, log_sep).slope / dt)
    if not estimates:
        raise ValueError("no pair gave an estimate")
    return float(np.mean(estimates))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--lyapunov", action="store_true", help="also run the Lyapunov check")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed comparison (with --lyapunov)")
    parser.add_argument("--systems", nargs="+", help="system names (default: the preset's)")
    parser.add_argument("--executor", choices=("process", "serial"), default="process", help="Lyapunov sweep executor")
    parser.add_argument("--workers", type=int, default=2, help="process-pool workers for the Lyapunov sweep")
    parser.add_argument("--lyapunov-method", choices=sorted(LYAPUNOV_METHODS), default="benettin")
    parser.add_argument("--budget-s", type=float, default=float("inf"), help="Lyapunov: start no system after this")
    parser.add_argument("--resume", action="store_true", help="Lyapunov: skip the systems already in the results file")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = PRESETS[args.preset]
    systems = list(args.systems or cfg["systems"] or list_systems())
    command = "python " + " ".join(["benchmarks/generators_chaos.py", *(argv if argv is not None else sys.argv[1:])])
    args.out.mkdir(parents=True, exist_ok=True)
    lyapunov_payload = None
    if args.no_speed:
        if not args.lyapunov:
            parser.error("--no-speed needs --lyapunov")
        with make_executor(args.executor, args.workers) as executor:
            lyapunov_payload = run_lyapunov(
                systems,
                executor,
                args.out,
                command,
                args.resume,
                window=max(args.workers, 1),
                budget_s=args.budget_s,
                method=args.lyapunov_method,
            )
        _print_lyapunov(lyapunov_payload)
        return lyapunov_payload
    rows, failed = [], []
    for name in systems:
        try:
            new = run_system(name, cfg["n"], cfg["n_periods"], cfg["timed"], cfg["reference"])
        except Exception as exc:  # noqa: BLE001 - a system that fails is listed, the sweep goes on
            failed.append(f"{name}: {str(exc).splitlines()[0][:120]}")
            print(f"{name:24s} FAILED {failed[-1]}", flush=True)
            continue
        rows += new
        ours, theirs = new
        print(
            f"{name:24s} ours {ours['seconds']:7.2f}s  dysts {theirs['seconds']:8.2f}s  "
            f"x{theirs['seconds'] / ours['seconds']:6.1f}  err1L {ours['error_1lyap']:.1e} vs {theirs['error_1lyap']:.1e}"
            f"  errT {ours['error_full']:.1e} vs {theirs['error_full']:.1e}  [{ours['rhs_evaluation']}]",
            flush=True,
        )
    ours_rows = [r for r in rows if r["method"] == "sciml_batched"]
    theirs_rows = [r for r in rows if r["method"] == "dysts_rk45"]
    total_ours = sum(r["seconds"] for r in ours_rows)
    total_theirs = sum(r["seconds"] for r in theirs_rows)
    speedup = total_theirs / total_ours if total_ours else float("nan")
    ratios = [
        a["error_1lyap"] / b["error_1lyap"]
        for a, b in zip(ours_rows, theirs_rows)
        if a["error_1lyap"] is not None and b["error_1lyap"]
    ]
    median_ratio = statistics.median(ratios) if ratios else float("nan")
    targets = [
        {"name": "chaos_total_speedup_vs_dysts_rk45", "measured": speedup, "goal": ">= 20", "met": speedup >= 20},
        {
            "name": "chaos_median_error_ratio_ours_over_dysts_1lyap",
            "measured": median_ratio,
            # the same Dormand-Prince pair and controller as scipy's RK45: equal errors up
            # to the rounding of the step sequence count as "no worse"
            "goal": "<= 1.1",
            "met": median_ratio <= 1.1,
        },
    ]
    if args.lyapunov:
        with make_executor(args.executor, args.workers) as executor:
            lyapunov_payload = run_lyapunov(
                systems,
                executor,
                args.out,
                command,
                args.resume,
                window=max(args.workers, 1),
                budget_s=args.budget_s,
                method=args.lyapunov_method,
            )
    payload = {
        "benchmark": NAME,
        "command": command,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": {**environment(), "torch_threads": 1},
        "settings": {**{k: v for k, v in cfg.items() if k != "systems"}, "systems": list(systems), "tol": TOL},
        "rows": rows,
        "lyapunov_results": f"{LYAPUNOV_NAME}.json" if lyapunov_payload else None,
        "failed": failed,
        "totals": {"sciml_batched_seconds": total_ours, "dysts_rk45_seconds": total_theirs},
        "targets": targets,
    }
    write_json(args.out / f"{NAME}.json", payload)
    _plot(rows, args.out / f"{NAME}.png")
    for t in targets:
        print(f"target {t['name']}: {t['measured']:.3g} (goal {t['goal']}) {'met' if t['met'] else 'NOT met'}")
    if lyapunov_payload:
        _print_lyapunov(lyapunov_payload)
    return payload


def _print_lyapunov(payload: dict) -> None:
    for t in payload["targets"]:
        print(f"target {t['name']}: {t['measured']:.3g} (goal {t['goal']}) {'met' if t['met'] else 'NOT met'}")
    print("outside 15%:", ", ".join(payload["outside_15pct"]) or "none")
    print("outside 15% of both references:", ", ".join(payload["outside_15pct_of_both_references"]) or "none")
    if payload["not_run_time_budget"]:
        print("not run (time budget):", ", ".join(payload["not_run_time_budget"]))
    if payload["failed"]:
        print("failed:", "; ".join(payload["failed"]))


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours = [r for r in rows if r["method"] == "sciml_batched"]
    theirs = {r["case"]: r for r in rows if r["method"] == "dysts_rk45"}
    names = [r["case"] for r in ours]
    speed = [theirs[n]["seconds"] / r["seconds"] for n, r in zip(names, ours)]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    ax1.bar(range(len(names)), speed)
    ax1.axhline(20, color="k", ls="--", lw=1, label="target 20x")
    ax1.set_xticks(range(len(names)), names, rotation=70, fontsize=7)
    ax1.set_ylabel("speed-up over dysts RK45 (one call per IC)")
    ax1.legend()
    e_ours = [r["error_1lyap"] or np.nan for r in ours]
    e_theirs = [theirs[n]["error_1lyap"] or np.nan for n in names]
    ax2.loglog(e_theirs, e_ours, "o")
    lo = np.nanmin(e_ours + e_theirs) / 2
    hi = np.nanmax(e_ours + e_theirs) * 2
    ax2.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax2.set_xlabel("dysts RK45 error (1 Lyapunov time)")
    ax2.set_ylabel("sciml batched error")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
