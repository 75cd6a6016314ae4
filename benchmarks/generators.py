"""Generator speed: seconds per sample at two resolutions, peak memory, 1000-sample time.

Every registered generator runs with its recipe's settings (``datasets/*.yaml``) at two
resolutions (1D: 256 and 512, Kuramoto-Sivashinsky: 512 and 1024, Darcy and
Navier-Stokes: 64 and 128, chaos: Lorenz at 100 and 200 points per dominant period), on
``n`` samples with ``batch_size = min(recipe batch size, n)``, on the CPU with one torch
thread. Each measurement runs in a fresh process (by default a spawned
``ProcessPoolExecutor`` worker that serves one task), which

1. imports sciml and records its resident set (``baseline_rss_mb``);
2. generates one sample as a warm-up (one-off costs: coefficient tables, code paths
   compiled on first use), timed as ``warmup_seconds``;
3. generates ``n`` samples into a temporary HDF5 file, timed as ``seconds`` (wall) and
   ``cpu_seconds`` (user + system CPU time of the process);
4. reads its peak resident set ``VmHWM`` from ``/proc/self/status`` (``peak_rss_mb``;
   ``peak_rss_growth_mb`` is the growth over the baseline). tracemalloc does not see
   torch's allocations, hence a process per measurement.

``seconds_per_sample = cpu_seconds / n`` and ``extrapolated_1000_seconds = 1000 x
seconds_per_sample`` (samples are independent; the cost is linear in n once a batch is
full). CPU time, not wall time: with one thread the two agree on an idle core, and CPU
time does not count the time the process waits for a core on a shared machine (the
wall time per sample and the 1-minute load average before/after are recorded too).

Targets: Navier-Stokes 64 x 64 (``datasets/navier_stokes_nu1e-3.yaml``) and
Kuramoto-Sivashinsky at 512 points (``sciml/recipes/kuramoto_sivashinsky.yaml`` with
``resolution=512``) generate 1000 samples in <= 30 minutes each, extrapolated from the
CPU time of one torch thread on one core (so two cores, with two processes each
generating half of the samples, take about half of that).

The sweep takes any ``concurrent.futures.Executor`` (:func:`run_sweep`); ``--executor
serial`` runs in this process (timings valid, memory not: the peak of the whole run).

Usage::

    python benchmarks/generators.py --preset quick     # about 2 minutes
    python benchmarks/generators.py --preset full      # about 5 minutes

Writes ``benchmarks/results/generators.json`` and ``generators.png``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as _dt
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
NAME = "generators"
TARGET_MINUTES = 30.0

# recipe settings (datasets/*.yaml), without n, seed and resolution
RECIPES: dict[str, dict] = {
    "burgers1d": {"nu": 0.01, "t_final": 1.0, "n_times": 11},  # burgers1d.yaml
    "advection_diffusion1d": {  # advection_beta10.yaml
        "beta": 10.0,
        "nu": 0.01,
        "length": 6.283185307179586,
        "t_final": 1.0,
        "n_times": 11,
        "initial_condition": "sines",
    },
    "reaction_diffusion1d": {  # fisher_kpp.yaml
        "model": "fisher_kpp",
        "diffusion": 0.001,
        "rate": 5.0,
        "t_final": 1.0,
        "n_times": 11,
    },
    "kuramoto_sivashinsky1d": {  # kuramoto_sivashinsky.yaml
        "length": 100.53096491487338,
        "n_times": 101,
        "dt_output": 1.0,
        "burn_in": 200.0,
    },
    "kdv1d": {"length": 64.0, "t_final": 10.0, "n_times": 51, "n_solitons": 2},  # kdv.yaml
    "darcy2d": {"coefficient": "threshold"},  # darcy64.yaml, darcy128.yaml
    "navier_stokes2d": {"nu": 0.001, "t_final": 20.0, "n_times": 20, "forcing": "fno"},  # navier_stokes_nu1e-3.yaml
    "chaos": {"system": "Lorenz", "n_periods": 20, "burn_in_periods": 10},  # chaos_lorenz.yaml
}
# the two resolutions of each generator (chaos: points per dominant period)
RESOLUTIONS: dict[str, tuple[int, int]] = {
    "burgers1d": (256, 512),
    "advection_diffusion1d": (256, 512),
    "reaction_diffusion1d": (256, 512),
    "kuramoto_sivashinsky1d": (512, 1024),
    "kdv1d": (256, 512),
    "darcy2d": (64, 128),
    "navier_stokes2d": (64, 128),
    "chaos": (100, 200),
}
# samples per measurement: {generator: (n at the low resolution, n at the high one)}
PRESETS: dict[str, dict[str, tuple[int, int]]] = {
    "quick": {
        "burgers1d": (32, 16),
        "advection_diffusion1d": (256, 256),
        "reaction_diffusion1d": (64, 32),
        "kuramoto_sivashinsky1d": (16, 8),
        "kdv1d": (16, 8),
        "darcy2d": (32, 8),
        "navier_stokes2d": (8, 2),
        "chaos": (16, 16),
    },
    # the recipes' batch sizes at the first resolution (chaos: the Lorenz recipe's 256 samples)
    "full": {
        "burgers1d": (250, 128),
        "advection_diffusion1d": (1000, 1000),
        "reaction_diffusion1d": (250, 250),
        "kuramoto_sivashinsky1d": (250, 64),
        "kdv1d": (250, 64),
        "darcy2d": (200, 64),
        "navier_stokes2d": (100, 16),
        "chaos": (256, 128),
    },
}
TARGET_CASES = {
    "ns64_1000_samples_minutes": ("navier_stokes2d", 64),
    "ks512_1000_samples_minutes": ("kuramoto_sivashinsky1d", 512),
}


class SerialExecutor(cf.Executor):
    """A ``concurrent.futures.Executor`` that runs each call at submission, in this process."""

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN201 - the Executor signature
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


def fresh_process_executor(workers: int = 1) -> cf.Executor:
    """A process pool whose workers are spawned fresh and serve one measurement each."""
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), max_tasks_per_child=1)


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def case_params(generator: str, resolution: int) -> dict:
    params = dict(RECIPES[generator])
    if generator == "chaos":
        params["points_per_period"] = resolution
    else:
        params["resolution"] = resolution
    return params


def measure(generator: str, resolution: int, n: int, threads: int = 1) -> dict:
    """One measurement (meant for a fresh process): warm-up sample, then ``n`` samples."""
    import torch

    from sciml.data.generators import generate, generator_parameters

    torch.set_num_threads(threads)
    baseline = _status_mb("VmRSS")
    params = case_params(generator, resolution)
    batch_size = min(int(generator_parameters(generator)["batch_size"]), n)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate(generator, Path(tmp) / "warmup.h5", n=1, batch_size=1, seed=1, **params)
        warmup = time.perf_counter() - start
        load_before = os.getloadavg()[0]
        cpu_start = _cpu_seconds()
        start = time.perf_counter()
        generate(generator, Path(tmp) / "data.h5", n=n, batch_size=batch_size, seed=0, **params)
        seconds = time.perf_counter() - start
        cpu_seconds = _cpu_seconds() - cpu_start
        load_after = os.getloadavg()[0]
    peak = _status_mb("VmHWM")
    per_sample = cpu_seconds / n
    return {
        "case": f"{generator}@{resolution}",
        "method": generator,
        "resolution": resolution,
        "resolution_kind": "points_per_period" if generator == "chaos" else "grid_points_per_dim",
        "n": n,
        "batch_size": batch_size,
        "torch_threads": threads,
        "params": params,
        "warmup_seconds": warmup,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "wall_seconds_per_sample": seconds / n,
        "seconds_per_sample": per_sample,
        "extrapolated_1000_seconds": 1000 * per_sample,
        "load_average_1min": [load_before, load_after],
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak,
        "peak_rss_growth_mb": peak - baseline,
    }


def run_sweep(cases: list[tuple[str, int, int]], executor: cf.Executor, threads: int = 1) -> tuple[list, list]:
    """Measure ``(generator, resolution, n)`` cases on ``executor``; returns (rows, failures)."""
    futures = {executor.submit(measure, g, r, n, threads): (g, r, n) for g, r, n in cases}
    rows, failed = [], []
    for future in cf.as_completed(futures):
        g, r, n = futures[future]
        try:
            row = future.result()
        except Exception as exc:  # noqa: BLE001 - a failing case is listed, the sweep goes on
            failed.append(f"{g}@{r}: {(str(exc).splitlines() or [type(exc).__name__])[0][:160]}")
            print(f"{g}@{r} FAILED {failed[-1]}", flush=True)
            continue
        rows.append(row)
        print(
            f"{row['case']:30s} n={n:5d} cpu {row['seconds_per_sample']:9.4f} s/sample "
            f"(wall {row['wall_seconds_per_sample']:.4f}, load {row['load_average_1min'][1]:.1f})  "
            f"1000: {row['extrapolated_1000_seconds'] / 60:7.2f} min  peak {row['peak_rss_mb']:7.0f} MB "
            f"(+{row['peak_rss_growth_mb']:.0f})",
            flush=True,
        )
    order = {(g, r): i for i, (g, r, _) in enumerate(cases)}
    rows.sort(key=lambda row: order[(row["method"], row["resolution"])])
    return rows, failed


def targets_from(rows: list[dict]) -> list[dict]:
    targets = []
    for name, (generator, resolution) in TARGET_CASES.items():
        row = next((r for r in rows if r["method"] == generator and r["resolution"] == resolution), None)
        minutes = row["extrapolated_1000_seconds"] / 60 if row else float("nan")
        targets.append(
            {
                "name": name,
                "measured": minutes,
                "goal": f"<= {TARGET_MINUTES:g} (minutes for 1000 samples, CPU time of one torch thread on one core)",
                "met": bool(minutes <= TARGET_MINUTES),
            }
        )
    return targets


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| generator | resolution | n | batch | CPU s/sample | wall s/sample | 1000 samples (min) "
        "| peak RSS (MB) | growth (MB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        res = f"{r['resolution']} ppp" if r["method"] == "chaos" else str(r["resolution"])
        lines.append(
            f"| {r['method']} | {res} | {r['n']} | {r['batch_size']} | {r['seconds_per_sample']:.4f} | "
            f"{r['wall_seconds_per_sample']:.4f} | "
            f"{r['extrapolated_1000_seconds'] / 60:.2f} | {r['peak_rss_mb']:.0f} | {r['peak_rss_growth_mb']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--generators", nargs="+", choices=sorted(RECIPES), help="default: all")
    parser.add_argument("--executor", choices=("process", "serial"), default="process")
    parser.add_argument("--workers", type=int, default=1, help="concurrent measurements (1: clean timings)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per measurement")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from sciml.core.io import environment, write_json

    preset = PRESETS[args.preset]
    generators = args.generators or list(RECIPES)
    cases = [(g, res, n) for g in generators for res, n in zip(RESOLUTIONS[g], preset[g])]
    start = time.perf_counter()
    executor = SerialExecutor() if args.executor == "serial" else fresh_process_executor(args.workers)
    with executor:
        rows, failed = run_sweep(cases, executor, args.threads)
    wall = time.perf_counter() - start
    targets = targets_from(rows)
    payload = {
        "benchmark": NAME,
        "command": "python " + " ".join(["benchmarks/generators.py", *(argv if argv is not None else sys.argv[1:])]),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": {**environment(), "torch_threads": args.threads},
        "settings": {
            "preset": args.preset,
            "executor": args.executor,
            "workers": args.workers,
            "memory": "VmHWM of a fresh process per measurement" if args.executor == "process" else "not isolated",
            "wall_seconds": wall,
        },
        "rows": rows,
        "failed": failed,
        "targets": targets,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{NAME}.json", payload)
    _plot(rows, args.out / f"{NAME}.png")
    print()
    print(markdown_table(rows))
    print()
    for t in targets:
        print(f"target {t['name']}: {t['measured']:.3g} (goal {t['goal']}) {'met' if t['met'] else 'NOT met'}")
    if failed:
        print("failed:", "; ".join(failed))
    print(f"wall time {wall:.0f} s")
    return payload


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    generators = list(dict.fromkeys(r["method"] for r in rows))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.38
    for k, label in enumerate(("low resolution", "high resolution")):
        xs, ys, texts = [], [], []
        for i, g in enumerate(generators):
            mine = [r for r in rows if r["method"] == g]
            if k < len(mine):
                xs.append(i + (k - 0.5) * width)
                ys.append(mine[k]["seconds_per_sample"])
                texts.append(str(mine[k]["resolution"]) + (" ppp" if g == "chaos" else ""))
        bars = ax.bar(xs, ys, width, label=label)
        for bar, text in zip(bars, texts):
            ax.annotate(
                text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7
            )
    ax.set_yscale("log")
    ax.set_xticks(range(len(generators)), generators, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("CPU seconds per sample (1 torch thread)")
    ax.axhline(TARGET_MINUTES * 60 / 1000, color="k", ls="--", lw=1, label=f"{TARGET_MINUTES:g} min / 1000 samples")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
