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

The measurements are cells of :func:`sciml.bench.run_cells`: the default executor
``process:1`` spawns a fresh worker per measurement; ``process:N`` or ``dask`` run N at
once (the timings then share the cores); ``--executor serial`` runs in this process
(timings valid, memory not: the peak of the whole run).

Usage::

    sciml bench generators --preset quick     # about 2 minutes
    sciml bench generators --preset full      # about 5 minutes

Writes ``OUT/generators.json`` and ``generators.png``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from sciml.bench._executors import open_executor
from sciml.bench._plots import label_bars
from sciml.bench._results import Results
from sciml.bench._runner import Cell, run_cells
from sciml.bench._tables import format_targets, markdown_table
from sciml.core.errors import ConfigError
from sciml.core.plotting import save_figure

__all__ = ["PRESETS", "run", "measure"]

NAME = "generators"
DEFAULT_EXECUTOR = "process:1"
EXECUTOR_OPTIONS = {"fresh_processes": True}  # a worker per measurement: its peak memory is that measurement's
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
    # the tests' end-to-end run: one cheap generator
    "tiny": {"burgers1d": (2, 2)},
}
TARGET_CASES = {
    "ns64_1000_samples_minutes": ("navier_stokes2d", 64),
    "ks512_1000_samples_minutes": ("kuramoto_sivashinsky1d", 512),
}


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


def _markdown(rows: list[dict]) -> str:
    head = ["generator", "resolution", "n", "batch", "CPU s/sample", "wall s/sample", "1000 samples (min)",
            "peak RSS (MB)", "growth (MB)"]  # fmt: skip
    return markdown_table(
        head,
        [
            [
                r["method"],
                f"{r['resolution']} ppp" if r["method"] == "chaos" else str(r["resolution"]),
                r["n"],
                r["batch_size"],
                f"{r['seconds_per_sample']:.4f}",
                f"{r['wall_seconds_per_sample']:.4f}",
                f"{r['extrapolated_1000_seconds'] / 60:.2f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['peak_rss_growth_mb']:.0f}",
            ]
            for r in rows
        ],
    )


def plot(rows: list[dict], path: Path) -> None:
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
        label_bars(ax, bars, texts, offset=0, va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(range(len(generators)), generators, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("CPU seconds per sample (1 torch thread)")
    ax.axhline(TARGET_MINUTES * 60 / 1000, color="k", ls="--", lw=1, label=f"{TARGET_MINUTES:g} min / 1000 samples")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def _print_row(row: dict) -> None:
    print(
        f"{row['case']:30s} n={row['n']:5d} cpu {row['seconds_per_sample']:9.4f} s/sample "
        f"(wall {row['wall_seconds_per_sample']:.4f}, load {row['load_average_1min'][1]:.1f})  "
        f"1000: {row['extrapolated_1000_seconds'] / 60:7.2f} min  peak {row['peak_rss_mb']:7.0f} MB "
        f"(+{row['peak_rss_growth_mb']:.0f})",
        flush=True,
    )


def add_arguments(parser: argparse.ArgumentParser, root: Path) -> None:
    parser.add_argument(
        "--generators", nargs="+", choices=sorted(RECIPES), help="default: the preset's (all but in tiny)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads per measurement")


def run(
    preset: str,
    out: str | Path,
    executor: str | cf.Executor = DEFAULT_EXECUTOR,
    *,
    generators: list[str] | None = None,
    threads: int = 1,
    resume: bool = False,
    command: str = "sciml bench generators",
    progress: bool = False,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Measure every ``(generator, resolution)`` of the preset; writes ``out/generators.json`` as each finishes."""
    table = PRESETS[preset]
    generators = list(generators or [g for g in RECIPES if g in table])
    missing = [g for g in generators if g not in table]
    if missing:
        raise ConfigError(f"preset {preset!r} has no sizes for {', '.join(missing)}; choose from {', '.join(table)}")
    cases = [(g, res, n) for g in generators for res, n in zip(RESOLUTIONS[g], table[g])]
    cells = [Cell((f"{g}@{res}",), measure, (g, res, n, threads)) for g, res, n in cases]
    start = time.perf_counter()
    with open_executor(executor, **EXECUTOR_OPTIONS) as (pool, spec):
        settings = {
            "preset": preset,
            "generators": generators,
            "executor": spec,
            "memory": "VmHWM of a fresh process per measurement" if spec.startswith("process") else "not isolated",
        }
        results = Results(
            Path(out) / f"{NAME}.json",
            NAME,
            key=("case",),
            settings=settings,
            command=command,
            environment={"torch_threads": threads},
            resume=resume,
        )

        def write(complete: bool = False) -> dict[str, Any]:
            rows = results.rows([c.key for c in cells])
            return results.write(
                order=[c.key for c in cells],
                complete=complete,
                wall_seconds=round(time.perf_counter() - start, 1),
                targets=targets_from(rows),
            )

        failure = lambda cell, message: print(f"{cell.label} FAILED {message}", flush=True)  # noqa: E731
        run_cells(cells, pool, results, time_limit=time_limit, progress=progress, on_row=_print_row,
                  on_failure=failure, write=write)  # fmt: skip
    payload = write(complete=True)
    plot(payload["rows"], Path(out) / f"{NAME}.png")
    print()
    print(_markdown(payload["rows"]))
    print()
    print(format_targets(payload["targets"]))
    if payload["failed"]:
        print("failed:", "; ".join(f"{f['case']}: {f['error']}" for f in payload["failed"]))
    print(f"wall time {payload['wall_seconds']:.0f} s")
    return payload
