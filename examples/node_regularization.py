"""Neural ODE classification with and without solver-heuristic regularization.

Run::

    python examples/node_regularization.py --steps 300 --out runs/node_regularization

Trains the same augmented neural ODE (same seed, same data) on two concentric circles in
the plane (inner disk vs outer ring; generated here, no download) once per method:

* ``vanilla``: cross-entropy only;
* ``steer``: random end time t1 ~ U[0.5, 1.5] (Ghosh et al. 2020);
* ``global_error``: + lambda * sum_j EEst_j |h_j| over all steps (Pal et al. 2021);
* ``global_stiffness``: + lambda * sum_j S_j |h_j| (Pal et al. 2021);
* ``local_error`` / ``local_error_biased``: + lambda * EEst * h of one step at a random
  time (Pal et al. 2023), t_reg uniform or among the accepted steps.

Prints a table (test accuracy, test cross-entropy, training time, test NFE, prediction
time) and writes ``node_regularization.json`` and ``nfe_vs_step.png`` (NFE of the
training solve against the training step, one line per method) into ``--out``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

from sciml.core.io import environment, write_json
from sciml.nde import NDEClassification, node_classifier
from sciml.training import Trainer

# (regularizer, its arguments, backend override) per method. The weights differ by orders of
# magnitude because the terms do: the global sum adds EEst over every step (~1e-1), the local
# term is one step's EEst * h at the heuristic's cautious h (~1e-5).
METHODS = {
    "vanilla": (None, {}, None),
    "steer": ("steer", {"half_width": 0.5}, None),
    "global_error": ("global_error", {"weight": 10.0}, "sciml"),
    "global_stiffness": ("global_stiffness", {"weight": 1.0}, "sciml"),
    "local_error": ("local_error", {"weight": 3e4}, None),
    "local_error_biased": ("local_error", {"weight": 3e4, "sampling": "biased"}, None),
}


def circles(n: int, seed: int) -> dict[str, torch.Tensor]:
    """``n`` points: half in the disk r < 0.5 (class 0), half in the ring 1 < r < 1.5 (class 1)."""
    generator = torch.Generator().manual_seed(seed)
    radius = torch.cat(
        [0.5 * torch.rand(n // 2, generator=generator), 1.0 + 0.5 * torch.rand(n - n // 2, generator=generator)]
    )
    angle = 2 * math.pi * torch.rand(n, generator=generator)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=-1)
    return {"x": x, "y": torch.cat([torch.zeros(n // 2), torch.ones(n - n // 2)]).long()}


def run_method(name: str, args: argparse.Namespace, train: dict, test: dict) -> tuple[dict, list[float]]:
    regularizer, kwargs, backend = METHODS[name]
    torch.manual_seed(args.seed)
    model = node_classifier(
        2, 2, augment=1, hidden=args.hidden, backend=backend or args.backend, rtol=args.rtol, atol=args.atol
    )
    objective = NDEClassification(regularizer, kwargs)
    trainer = Trainer(
        model,
        objective,
        optimizer="adam",
        lr=args.lr,
        max_epochs=args.steps,
        steps_per_epoch=1,
        progress=False,
        metrics=(),
        seed=args.seed,
    )
    start = time.perf_counter()
    history = trainer.fit(lambda step: train)  # one full batch per step; one "epoch" per step
    train_seconds = time.perf_counter() - start

    model.eval()
    with torch.no_grad():
        result = objective(model, test)
        timings = []
        for _ in range(args.timing_repeats):
            start = time.perf_counter()
            model(test["x"])
            timings.append(time.perf_counter() - start)
    timings.sort()
    row = {
        "method": name,
        "regularizer": objective.config()["regularizer"],
        "backend": model.dynamics.backend,
        "test_accuracy": float(result["accuracy"]),
        "test_cross_entropy": float(result["task_loss"]),
        "train_seconds": train_seconds,
        "test_nfe": int(result["nfe"]),
        "prediction_seconds": timings[len(timings) // 2],
        "final_train_nfe": history[-1]["train_nfe"],
    }
    return row, [h["train_nfe"] for h in history]


def plot(curves: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, nfe in curves.items():
        ax.plot(range(1, len(nfe) + 1), nfe, label=name, lw=1.4)
    ax.set_xlabel("training step")
    ax.set_ylabel("NFE of the training solve")
    ax.set_title("concentric circles, augmented neural ODE (dopri5)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="Adam steps per method (full batch)")
    parser.add_argument("--out", default="runs/node_regularization", help="output folder")
    parser.add_argument("--n", type=int, default=256, help="training and test points each")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument(
        "--backend",
        default="sciml",
        choices=("sciml", "torchdiffeq", "torchdiffeq_adjoint"),
        help="NeuralODE backend (the global regularizers always use sciml)",
    )
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--timing-repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown methods {unknown}; valid names: {', '.join(METHODS)}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, test = circles(args.n, args.seed), circles(args.n, args.seed + 1000)
    rows, curves = [], {}
    for name in methods:
        row, curves[name] = run_method(name, args, train, test)
        rows.append(row)

    header = "| method | test acc | test CE | train s | test NFE | predict ms |"
    print(header)
    print("|" + "---|" * 6)
    for r in rows:
        print(
            f"| {r['method']} | {r['test_accuracy']:.3f} | {r['test_cross_entropy']:.4f} | {r['train_seconds']:.1f} "
            f"| {r['test_nfe']} | {1e3 * r['prediction_seconds']:.2f} |"
        )
    plot(curves, out / "nfe_vs_step.png")
    summary = {
        "example": "node_regularization",
        "command": "python examples/node_regularization.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "environment": environment(),
        "rows": rows,
        "train_nfe": curves,
    }
    write_json(out / "node_regularization.json", summary)
    print(f"wrote {out / 'node_regularization.json'} and {out / 'nfe_vs_step.png'}")
    return summary


if __name__ == "__main__":
    main()
