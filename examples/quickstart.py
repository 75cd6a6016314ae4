"""Quickstart: generate 1D viscous Burgers data, train a neuraloperator FNO with the sciml Trainer.

Run by ``make demo``::

    python examples/quickstart.py --out runs/quickstart

Steps (each is one public call):

1. ``sciml.data.generators.generate("burgers1d", ...)``: pseudo-spectral solver, random
   smooth periodic initial conditions u0, solution at t=1, into one HDF5 file;
2. an :class:`~sciml.core.config.ExperimentConfig` naming the data file, the registered
   ``fno`` model and the training settings;
3. ``sciml.experiment.train_experiment``: normalizers fitted on the training split,
   Trainer fit with checkpoints, test metrics, plots.

Writes ``runs/quickstart/`` with ``burgers.h5``, ``best.pt``, ``metrics.json``,
``quickstart_metrics.json``, ``predictions.png`` and ``loss.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from sciml.core.config import ExperimentConfig
from sciml.core.io import environment, write_json
from sciml.data.generators import generate
from sciml.experiment import train_experiment


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/quickstart", help="run directory")
    parser.add_argument("--n", type=int, default=1000, help="number of samples (80/10/10 split)")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--nu", type=float, default=0.01, help="viscosity: 0.01 forms steep fronts by t=1")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "burgers.h5"
    start = time.perf_counter()
    generate("burgers1d", data, n=args.n, resolution=args.resolution, nu=args.nu, t_final=1.0, n_times=2, seed=args.seed, device=args.device)
    t_data = time.perf_counter() - start
    print(f"[1/3] generated {args.n} Burgers samples at resolution {args.resolution} in {t_data:.1f} s -> {data}")

    cfg = ExperimentConfig.from_dict(
        {
            "data": {"path": str(data), "options": {"mode": "map"}},
            "model": {"name": "fno", "kwargs": {"n_modes": [16], "hidden_channels": 32, "n_layers": 4}},
            "optimizer": {"name": "adamw", "kwargs": {"lr": 3e-3, "weight_decay": 1e-4}},
            "scheduler": {"name": "cosine"},
            "train": {
                "epochs": args.epochs, "batch_size": 32, "eval_batch_size": 100, "device": args.device,
                "seed": args.seed, "run_dir": str(out), "checkpoint_every": 10, "progress": None,
            },
        }
    )
    print(f"[2/3] training {cfg.model.name} {cfg.model.kwargs} for {args.epochs} epochs on {args.device}")
    start = time.perf_counter()
    result = train_experiment(cfg, overwrite=True)  # the demo replaces its former run (the data file stays)
    t_train = time.perf_counter() - start
    test = result["test"]
    summary = {
        "test_relative_l2": test["test_relative_l2"],
        "test_nrmse": test["test_nrmse"],
        "seconds_data": t_data,
        "seconds_train": t_train,
        "epochs": len(result["history"]),
        "n_samples": args.n,
        "resolution": args.resolution,
        "nu": args.nu,
        "environment": environment(),
    }
    write_json(out / "quickstart_metrics.json", summary)
    print(f"[3/3] test relative L2 error: {test['test_relative_l2']:.4f}  (trained in {t_train:.1f} s)")
    print(f"      plots: {out / 'predictions.png'}, {out / 'loss.png'}; metrics: {out / 'quickstart_metrics.json'}")
    print(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in summary.items() if k != "environment"}))
    return summary


if __name__ == "__main__":
    main()
