"""Trainer overhead: sciml's Trainer vs a bare torch loop vs neuraloperator's Trainer.

The three train the same neuraloperator FNO (one seeded model, deep-copied, so the same
initial weights), on the same in-memory data (a synthetic smooth 1D operator, generated
here), with the same batch size, Adam learning rate, relative-L2 loss and epochs:

``bare_loop``         a hand-written loop: DataLoader of dict items, zero_grad / forward /
                      loss / backward / step;
``sciml_trainer``     ``sciml.training.Trainer(...).fit(dataset)``;
``neuralop_trainer``  ``neuralop.training.Trainer(...).train(loader, {}, ...)`` with no
                      evaluation, no checkpoints, not verbose, a constant-LR scheduler.

Each method is timed per epoch (wall time between consecutive epoch ends, so the
per-epoch work of each trainer, such as building its loader or logging, is included);
the first epoch of every fit is a warm-up and is dropped. The methods are interleaved
over several repetitions (one cell each), rotating which goes first. Reported: seconds
per epoch (median over all timed epochs, with quartiles) and the ratio to the bare loop,
the median over repetitions of the ratio of the two methods' medians within the same
repetition (paired, so a slow phase of the machine cancels), with its min and max.

On CPU the run uses one torch thread by default (``--threads`` to change it): the
trainers' own overhead is single-threaded Python, and on a machine shared with other
jobs the OpenMP barriers of a multi-threaded run are the dominant noise. Run the
repetitions serially (the default executor) for clean timings.

Usage::

    sciml bench trainer_overhead --preset quick
    sciml bench trainer_overhead --preset full --device cuda

Writes ``OUT/trainer_overhead.json`` (the repetitions under ``repeats``, the summary under
``rows``) and ``trainer_overhead.png``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import copy
import math
import statistics
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from sciml.bench._executors import open_executor
from sciml.bench._plots import label_bars
from sciml.bench._results import Results
from sciml.bench._runner import Cell, run_cells
from sciml.bench._tables import format_spread, format_targets, markdown_table
from sciml.bench._training import (
    EpochClock,
    InMemoryFields,
    add_device_arguments,
    neuralop_fit,
    relative_l2_loss,
    torch_device,
)
from sciml.core.plotting import save_figure
from sciml.training import Trainer

__all__ = ["PRESETS", "run", "smooth_operator_data"]

NAME = "trainer_overhead"
METHODS = ("bare_loop", "sciml_trainer", "neuralop_trainer")
GOAL = 1.05

PRESETS: dict[str, dict[str, int]] = {
    # about 40 seconds on one CPU thread
    "quick": {
        "n_samples": 256,
        "resolution": 128,
        "hidden_channels": 32,
        "n_modes": 16,
        "batch_size": 32,
        "epochs": 4,
        "repeats": 5,
    },
    # about 4 minutes on one CPU thread
    "full": {
        "n_samples": 1024,
        "resolution": 128,
        "hidden_channels": 32,
        "n_modes": 16,
        "batch_size": 32,
        "epochs": 6,
        "repeats": 8,
    },
    # a few seconds: the tests' end-to-end run
    "tiny": {
        "n_samples": 32,
        "resolution": 32,
        "hidden_channels": 8,
        "n_modes": 4,
        "batch_size": 16,
        "epochs": 2,
        "repeats": 3,
    },
}
LR = 1e-3
SEED = 0


# ----------------------------------------------------------------------------- data
def smooth_operator_data(n: int, s: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth nonlinear operator on periodic 1D fields.

    ``a`` is a random Fourier series with amplitudes decaying as ``1/k^2``;
    ``u = H(a) + 0.25 H(a^2)`` with ``H`` the heat semigroup ``exp(nu t d_xx)``
    (``nu t = 0.002``), applied spectrally.

    Returns
    -------
    a, u : Tensor
        ``[n, 1, s]`` float32 each.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(s, dtype=torch.float64) / s
    k = torch.arange(1, 9, dtype=torch.float64)
    coef = torch.randn(n, k.numel(), generator=g, dtype=torch.float64) / k**2
    phase = 2 * math.pi * torch.rand(n, k.numel(), generator=g, dtype=torch.float64)
    a = (coef[:, :, None] * torch.sin(2 * math.pi * k[None, :, None] * x + phase[:, :, None])).sum(1)
    wavenumber = 2 * math.pi * torch.fft.rfftfreq(s, d=1.0 / s, dtype=torch.float64)
    heat = torch.exp(-0.002 * wavenumber**2)

    def h(f: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft(torch.fft.rfft(f) * heat, n=s)

    u = h(a) + 0.25 * h(a * a)
    return a[:, None].float(), u[:, None].float()


# ----------------------------------------------------------------------------- the three loops
def run_bare_loop(model, dataset, cfg, device) -> tuple[list[float], float]:
    clock = EpochClock(device)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loader = DataLoader(dataset, batch_size=cfg["batch_size"], shuffle=True)
    clock.stamp()
    for _ in range(cfg["epochs"]):
        model.train()
        total = torch.zeros((), device=device)
        for batch in loader:
            x, y = batch["x"].to(device), batch["y"].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = relative_l2_loss(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        last_loss = float(total) / len(loader)
        clock.stamp()
    return clock.durations(), last_loss


def run_sciml_trainer(model, dataset, cfg, device) -> tuple[list[float], float]:
    clock = EpochClock(device)
    trainer = Trainer(
        model,
        max_epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        optimizer="adam",
        lr=LR,
        device=str(device),
        progress=False,
        callbacks=[clock],
    )
    clock.stamp()
    history = trainer.fit(dataset)
    return clock.durations(), history[-1]["train_loss"]


def run_neuralop_trainer(model, dataset, cfg, device) -> tuple[list[float], float]:
    loader = DataLoader(dataset, batch_size=cfg["batch_size"], shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    # neuralop's Trainer requires a scheduler; a constant one matches the other two
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
    durations, losses = neuralop_fit(model, loader, optimizer, scheduler, cfg["epochs"], device)
    return durations, losses[-1]


RUNNERS = {"bare_loop": run_bare_loop, "sciml_trainer": run_sciml_trainer, "neuralop_trainer": run_neuralop_trainer}


# ----------------------------------------------------------------------------- one repetition (a cell)
def measure_repeat(repeat: int, cfg: dict[str, int], device_name: str, threads: int) -> dict[str, Any]:
    """One repetition: the three methods in the order rotated by ``repeat``, each from the same initial FNO."""
    from neuralop.models import FNO

    torch.set_num_threads(threads)
    device = torch_device(device_name)
    x, y = smooth_operator_data(cfg["n_samples"], cfg["resolution"], seed=SEED)
    dataset = InMemoryFields(x, y)
    torch.manual_seed(SEED)
    base = FNO(
        n_modes=(cfg["n_modes"],), in_channels=1, out_channels=1, hidden_channels=cfg["hidden_channels"], n_layers=4
    )
    order = METHODS[repeat % len(METHODS) :] + METHODS[: repeat % len(METHODS)]
    methods = {}
    for method in order:
        # same shuffle for the two DataLoader users; sciml's Trainer orders batches by its own seed
        torch.manual_seed(SEED + 1 + repeat)
        durations, loss = RUNNERS[method](copy.deepcopy(base), dataset, cfg, device)
        methods[method] = {"epoch_seconds": durations, "final_train_loss": loss}
        print(
            f"  repeat {repeat + 1}/{cfg['repeats']} {method:17s} {statistics.median(durations):.4f} s/epoch "
            f"(final train loss {loss:.4f})",
            flush=True,
        )
    return {"order": list(order), "params": sum(p.numel() for p in base.parameters()), "methods": methods}


def summarize(repeats: list[dict[str, Any]], case: str) -> list[dict[str, Any]]:
    """One row per method over the repetitions (in repetition order)."""
    times = {m: [d for r in repeats for d in r["methods"][m]["epoch_seconds"]] for m in METHODS}
    per_repeat = {m: [statistics.median(r["methods"][m]["epoch_seconds"]) for r in repeats] for m in METHODS}
    rows = []
    for m in METHODS:
        q = statistics.quantiles(times[m], n=4) if len(times[m]) > 1 else [times[m][0]] * 3
        ratios = [a / b for a, b in zip(per_repeat[m], per_repeat["bare_loop"])]
        rows.append(
            {
                "case": case,
                "method": m,
                "seconds_per_epoch": round(statistics.median(times[m]), 5),
                "seconds_per_epoch_q1": round(q[0], 5),
                "seconds_per_epoch_q3": round(q[2], 5),
                "ratio_vs_bare": round(statistics.median(ratios), 4),
                "ratio_vs_bare_range": [round(min(ratios), 4), round(max(ratios), 4)],
                "per_repeat_seconds_per_epoch": [round(v, 5) for v in per_repeat[m]],
                "epochs_timed": len(times[m]),
                "final_train_loss": round(statistics.mean(r["methods"][m]["final_train_loss"] for r in repeats), 5),
                "params": repeats[0]["params"],
            }
        )
    return rows


def targets_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ours = next(r for r in rows if r["method"] == "sciml_trainer")["ratio_vs_bare"]
    return [{"name": "trainer_overhead_vs_bare_loop", "measured": ours, "goal": f"<= {GOAL}", "met": ours <= GOAL}]


def markdown(rows: list[dict[str, Any]], repeats: list[dict[str, Any]]) -> str:
    """Seconds per epoch and the paired ratio to the bare loop, min / median / max over repetitions."""
    per_repeat = {m: [statistics.median(r["methods"][m]["epoch_seconds"]) for r in repeats] for m in METHODS}
    head = [
        "method",
        "s / epoch (median)",
        "quartiles",
        "ratio vs bare (min / median / max of repeats)",
        "final train loss",
    ]
    lines = []
    for r in rows:
        ratios = [a / b for a, b in zip(per_repeat[r["method"]], per_repeat["bare_loop"])]
        lines.append(
            [
                r["method"],
                f"{r['seconds_per_epoch']:.4f}",
                f"{r['seconds_per_epoch_q1']:.4f}-{r['seconds_per_epoch_q3']:.4f}",
                format_spread(ratios, ".3f"),
                f"{r['final_train_loss']:.4f}",
            ]
        )
    return markdown_table(head, lines)


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    names = [r["method"] for r in rows]
    med = [r["seconds_per_epoch"] for r in rows]
    err = [
        [r["seconds_per_epoch"] - r["seconds_per_epoch_q1"] for r in rows],
        [r["seconds_per_epoch_q3"] - r["seconds_per_epoch"] for r in rows],
    ]
    bars = ax.bar(names, med, yerr=err, capsize=4, color=["0.6", "tab:blue", "tab:orange"])
    label_bars(ax, bars, [f"{r['ratio_vs_bare']:.3f}x" for r in rows], offset=12)
    ax.set_ylabel("seconds per epoch (median, IQR)")
    ax.set_ylim(0, max(med) * 1.25)
    ax.set_title(title, fontsize=9)
    save_figure(fig, path)


# ----------------------------------------------------------------------------- entry
def add_arguments(parser: argparse.ArgumentParser, root: Path) -> None:
    add_device_arguments(parser)


def run(
    preset: str,
    out: str | Path,
    executor: str | cf.Executor = "serial",
    *,
    device: str = "cpu",
    threads: int = 1,
    resume: bool = False,
    command: str = "sciml bench trainer_overhead",
    progress: bool = False,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Run the benchmark; writes ``out/trainer_overhead.json`` (after every repetition) and the PNG."""
    torch_device(device)  # no GPU: a one-line error before any work
    torch.set_num_threads(threads)
    cfg = PRESETS[preset]
    out = Path(out)
    case = f"fno1d_n{cfg['n_samples']}_s{cfg['resolution']}_b{cfg['batch_size']}"
    print(
        f"{NAME}: {case}, {cfg['epochs']} epochs x {cfg['repeats']} repeats, device={torch_device(device)}, "
        f"threads={threads}",
        flush=True,
    )
    settings = {"preset": preset, "lr": LR, "optimizer": "adam", "loss": "relative_l2", **cfg, "device": device}
    cells = [Cell((r,), measure_repeat, (r, cfg, device, threads)) for r in range(cfg["repeats"])]
    with open_executor(executor) as (pool, spec):
        results = Results(
            out / f"{NAME}.json",
            NAME,
            key=("repeat",),
            settings=settings,
            command=command,
            environment={"torch_threads": threads, "executor": spec},
            resume=resume,
            rows_field="repeats",
        )

        def write(complete: bool = False) -> dict[str, Any]:
            repeats = results.rows([c.key for c in cells])
            rows = summarize(repeats, case) if len(repeats) == len(cells) else []
            targets = targets_of(rows) if rows else []
            return results.write(order=[c.key for c in cells], complete=complete, rows=rows, targets=targets)

        run_cells(cells, pool, results, time_limit=time_limit, progress=progress, write=write)
    payload = write(complete=not results.failures())
    if not payload["rows"]:  # a repetition failed: the summary needs them all
        print("failed:", "; ".join(f"repeat {f['repeat']}: {f['error']}" for f in payload["failed"]), flush=True)
        return payload
    print()
    print(markdown(payload["rows"], payload["repeats"]))
    print()
    print(format_targets(payload["targets"]))
    plot(
        payload["rows"],
        out / f"{NAME}.png",
        f"{case}, {cfg['epochs']} epochs x {cfg['repeats']}, {torch_device(device)}, threads={threads}",
    )
    print(f"wrote {results.path} and {NAME}.png")
    return payload
