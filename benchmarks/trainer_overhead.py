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
over several repetitions, rotating which goes first. Reported: seconds per epoch (median
over all timed epochs, with quartiles) and the ratio to the bare loop, the median over
repetitions of the ratio of the two methods' medians within the same repetition (paired,
so a slow phase of the machine cancels).

On CPU the run uses one torch thread by default (``--threads`` to change it): the
trainers' own overhead is single-threaded Python, and on a machine shared with other
jobs the OpenMP barriers of a multi-threaded run are the dominant noise.

Usage::

    python benchmarks/trainer_overhead.py --preset quick
    python benchmarks/trainer_overhead.py --preset full --device cuda

Writes ``benchmarks/results/trainer_overhead.json`` and ``trainer_overhead.png``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import math
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from _timing import EpochClock
from torch.utils.data import DataLoader, Dataset

from sciml.core.io import atomic_path, environment, write_json
from sciml.core.metrics import relative_l2
from sciml.training import Trainer

RESULTS = Path(__file__).resolve().parent / "results"
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


class InMemoryFields(Dataset):
    """Dict items ``{"x": a[i] [1, s], "y": u[i] [1, s]}`` from tensors in memory."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def relative_l2_loss(pred: torch.Tensor, y: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of per-sample relative L2 errors (sciml's ``Supervised`` loss)."""
    return relative_l2(pred, y).mean()


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
    from neuralop.training import Trainer as NeuralopTrainer

    clock = EpochClock(device)
    loader = DataLoader(dataset, batch_size=cfg["batch_size"], shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    # neuralop's Trainer requires a scheduler; a constant one matches the other two
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
    trainer = NeuralopTrainer(
        model=model, n_epochs=cfg["epochs"], device=device, verbose=False, eval_interval=cfg["epochs"] + 1
    )
    train_one_epoch = trainer.train_one_epoch
    losses: list[float] = []

    def timed_epoch(*args, **kwargs):
        out = train_one_epoch(*args, **kwargs)
        losses.append(out[0])  # mean over batches of the batch loss
        clock.stamp()
        return out

    trainer.train_one_epoch = timed_epoch
    clock.stamp()
    with warnings.catch_warnings():
        # neuralop's Trainer calls model(**batch): FNO warns that it ignores the "y" keyword
        warnings.filterwarnings("ignore", message=r"FNO\.forward\(\) received unexpected keyword")
        trainer.train(loader, {}, optimizer, scheduler, training_loss=relative_l2_loss)
    return clock.durations(), losses[-1]


RUNNERS: dict[str, Callable[..., tuple[list[float], float]]] = {
    "bare_loop": run_bare_loop,
    "sciml_trainer": run_sciml_trainer,
    "neuralop_trainer": run_neuralop_trainer,
}


# ----------------------------------------------------------------------------- main
def measure(cfg: dict[str, int], device: torch.device) -> dict[str, dict]:
    from neuralop.models import FNO

    x, y = smooth_operator_data(cfg["n_samples"], cfg["resolution"], seed=SEED)
    dataset = InMemoryFields(x, y)
    torch.manual_seed(SEED)
    base = FNO(
        n_modes=(cfg["n_modes"],), in_channels=1, out_channels=1, hidden_channels=cfg["hidden_channels"], n_layers=4
    )
    params = sum(p.numel() for p in base.parameters())
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    per_repeat: dict[str, list[float]] = {m: [] for m in METHODS}
    final_loss: dict[str, list[float]] = {m: [] for m in METHODS}
    for r in range(cfg["repeats"]):
        order = METHODS[r % len(METHODS) :] + METHODS[: r % len(METHODS)]
        for method in order:
            # same shuffle for the two DataLoader users; sciml's Trainer orders batches by its own seed
            torch.manual_seed(SEED + 1 + r)
            durations, loss = RUNNERS[method](copy.deepcopy(base), dataset, cfg, device)
            times[method] += durations
            per_repeat[method].append(statistics.median(durations))
            final_loss[method].append(loss)
            print(
                f"  repeat {r + 1}/{cfg['repeats']} {method:17s} {statistics.median(durations):.4f} s/epoch "
                f"(final train loss {loss:.4f})",
                flush=True,
            )
    results = {}
    for m in METHODS:
        q = statistics.quantiles(times[m], n=4) if len(times[m]) > 1 else [times[m][0]] * 3
        ratios = [a / b for a, b in zip(per_repeat[m], per_repeat["bare_loop"])]
        results[m] = {
            "seconds_per_epoch": statistics.median(times[m]),
            "q1": q[0],
            "q3": q[2],
            "ratio": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "epochs_timed": len(times[m]),
            "per_repeat": per_repeat[m],
            "final_train_loss": statistics.mean(final_loss[m]),
            "params": params,
        }
    return results


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
    for bar, r in zip(bars, rows):
        ax.annotate(
            f"{r['ratio_vs_bare']:.3f}x",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 12),
            textcoords="offset points",
            ha="center",
        )
    ax.set_ylabel("seconds per epoch (median, IQR)")
    ax.set_ylim(0, max(med) * 1.25)
    ax.set_title(title, fontsize=9)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, fixed for the whole run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory of the JSON and PNG")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was requested but no CUDA GPU is visible; use --device cpu")
    threads = args.threads
    torch.set_num_threads(threads)
    # an explicit index: sciml's Trainer rejects a bare "cuda" (torch.cuda.set_device needs one)
    device = torch.device("cuda", torch.cuda.current_device()) if args.device == "cuda" else torch.device("cpu")
    cfg = PRESETS[args.preset]
    case = f"fno1d_n{cfg['n_samples']}_s{cfg['resolution']}_b{cfg['batch_size']}"
    print(
        f"{NAME}: {case}, {cfg['epochs']} epochs x {cfg['repeats']} repeats, device={device}, threads={threads}",
        flush=True,
    )

    results = measure(cfg, device)
    rows = []
    for m in METHODS:
        r = results[m]
        rows.append(
            {
                "case": case,
                "method": m,
                "seconds_per_epoch": round(r["seconds_per_epoch"], 5),
                "seconds_per_epoch_q1": round(r["q1"], 5),
                "seconds_per_epoch_q3": round(r["q3"], 5),
                "ratio_vs_bare": round(r["ratio"], 4),
                "ratio_vs_bare_range": [round(r["ratio_min"], 4), round(r["ratio_max"], 4)],
                "per_repeat_seconds_per_epoch": [round(v, 5) for v in r["per_repeat"]],
                "epochs_timed": r["epochs_timed"],
                "final_train_loss": round(r["final_train_loss"], 5),
                "params": r["params"],
            }
        )
    ours = rows[1]["ratio_vs_bare"]
    targets = [{"name": "trainer_overhead_vs_bare_loop", "measured": ours, "goal": f"<= {GOAL}", "met": ours <= GOAL}]
    command = " ".join(["python", "benchmarks/trainer_overhead.py", *(argv if argv is not None else sys.argv[1:])])
    payload = {
        "benchmark": NAME,
        "command": command,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": {**environment(), "torch_threads": threads},
        "settings": {"preset": args.preset, "lr": LR, "optimizer": "adam", "loss": "relative_l2", **cfg},
        "rows": rows,
        "targets": targets,
    }

    print()
    print(
        "| method | seconds / epoch (median) | quartiles | ratio vs bare (median of repeats) | range over repeats "
        "| final train loss |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        lo, hi = r["ratio_vs_bare_range"]
        print(
            f"| {r['method']} | {r['seconds_per_epoch']:.4f} | {r['seconds_per_epoch_q1']:.4f}-"
            f"{r['seconds_per_epoch_q3']:.4f} | {r['ratio_vs_bare']:.3f} | {lo:.3f}-{hi:.3f} "
            f"| {r['final_train_loss']:.4f} |"
        )
    print()
    for t in targets:
        print(f"target {t['name']}: measured {t['measured']:.3f}, goal {t['goal']}, met {t['met']}")

    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{NAME}.json", payload)
    plot(
        rows,
        args.out / f"{NAME}.png",
        f"{case}, {cfg['epochs']} epochs x {cfg['repeats']}, {device}, threads={threads}",
    )
    print(f"wrote {args.out / (NAME + '.json')} and {NAME}.png")
    return payload


if __name__ == "__main__":
    main()
