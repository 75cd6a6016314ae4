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

Optional Lyapunov check (``--lyapunov``): the largest Lyapunov exponent from pairs of our
trajectories (Benettin renormalization every tenth of a period) vs the catalogue value.

Usage::

    python benchmarks/generators_chaos.py --preset quick
    python benchmarks/generators_chaos.py --preset full --lyapunov

Writes ``benchmarks/results/generators_chaos.json`` and ``generators_chaos.png``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import statistics
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
QUICK_SYSTEMS = (
    "Lorenz", "Rossler", "Thomas", "Aizawa", "Chua", "Halvorsen", "SprottB", "Duffing", "Lorenz96", "DoublePendulum",
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


def lyapunov_estimate(name: str, n_pairs: int = 8, n_periods: float = 40.0) -> float:
    """Benettin's two-trajectory estimate of the largest Lyapunov exponent with our solver."""
    system = load_system(name)
    meta = system_metadata(name)
    period = float(meta["period"])
    rhs = batched_rhs(system)
    base = initial_conditions(system, 0, n_pairs, seed=3, perturbation=0.01)
    # settle on the attractor first
    settled, _ = integrate_batch(rhs, torch.from_numpy(base), [5 * period], rtol=1e-10, atol=1e-10)
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
        out, _ = integrate_batch(rhs, torch.from_numpy(pair), [t + interval], t0=t, rtol=1e-11, atol=1e-12)
        pair = out[:, 0].numpy()
        t += interval
        sep = pair[n_pairs:] - pair[:n_pairs]
        dist = np.linalg.norm(sep, axis=1)
        total += np.log(dist / d0)
        pair[n_pairs:] = pair[:n_pairs] + sep * (d0 / dist)[:, None]
    return float(np.median(total / (n_steps * interval)))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--lyapunov", action="store_true", help="also run the Lyapunov check")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = PRESETS[args.preset]
    systems = cfg["systems"] or list_systems()
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
    lyap_rows = []
    if args.lyapunov:
        for name in systems:
            catalogue = system_metadata(name).get("maximum_lyapunov_estimated")
            try:
                estimate = lyapunov_estimate(name)
            except Exception as exc:  # noqa: BLE001
                failed.append(f"{name} (lyapunov): {str(exc).splitlines()[0][:120]}")
                continue
            rel = abs(estimate - catalogue) / abs(catalogue) if catalogue else None
            lyap_rows.append({"case": name, "estimate": estimate, "catalogue": catalogue, "relative_difference": rel})
            print(f"{name:24s} lyapunov {estimate:.4f} catalogue {catalogue:.4f} rel {rel:.2f}", flush=True)
        within = [r for r in lyap_rows if r["relative_difference"] is not None and r["relative_difference"] <= 0.15]
        share = len(within) / max(len(lyap_rows), 1)
        targets.append({"name": "lyapunov_within_15pct_share", "measured": share, "goal": ">= 0.9", "met": share >= 0.9})
    payload = {
        "benchmark": NAME,
        "command": f"python benchmarks/generators_chaos.py --preset {args.preset}" + (" --lyapunov" if args.lyapunov else ""),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": {**environment(), "torch_threads": 1},
        "settings": {**{k: v for k, v in cfg.items() if k != "systems"}, "systems": list(systems), "tol": TOL},
        "rows": rows,
        "lyapunov": lyap_rows,
        "failed": failed,
        "totals": {"sciml_batched_seconds": total_ours, "dysts_rk45_seconds": total_theirs},
        "targets": targets,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{NAME}.json", payload)
    _plot(rows, args.out / f"{NAME}.png")
    for t in targets:
        print(f"target {t['name']}: {t['measured']:.3g} (goal {t['goal']}) {'met' if t['met'] else 'NOT met'}")
    return payload


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
