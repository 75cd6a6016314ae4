"""Convection u_t + beta u_x = 0 at beta = 30: a Lagrangian PINN against a vanilla PINN of the same size.

    python examples/pinn_convection.py --out runs/pinn_convection [--beta 30] [--steps 500]

Trains both on the same collocation budget (Adam, the same steps and points), evaluates them on the
same grid against the exact solution sin(x - beta t), and writes ``pinn_convection.json`` and
``pinn_convection.png`` (solutions, errors and the LPINN's characteristics).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from sciml.core.io import write_json
from sciml.core.plotting import diverging_error_image, field_image, label_axes, new_figure, save_figure
from sciml.pinn import CollocationSampler, GridSolution, LagrangianPINN, LagrangianPINNLoss, PINNLoss, PINNNet
from sciml.training import Trainer


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/pinn_convection")
    parser.add_argument("--beta", type=float, default=30.0)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--points", type=int, default=256)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # networks this small run fastest on one thread

    runs = {
        "lpinn": (LagrangianPINNLoss, lambda p: LagrangianPINN(32, 3, velocity_scale=args.beta, hard_start=True)),
        "pinn": (PINNLoss, lambda p: PINNNet(2, 1, width=46, depth=3, periodic={0: p.length})),
    }
    results, predictions = {}, {}
    for name, (objective_class, build) in runs.items():
        objective = objective_class("convection", {"beta": args.beta}, hard=["periodic"])
        torch.manual_seed(0)
        model = build(objective.problem)
        sampler = CollocationSampler(
            objective.problem, interior=args.points, initial=128, boundary=0, steps_per_epoch=50
        )
        test = GridSolution(objective.problem, 128, 51)
        trainer = Trainer(
            model,
            objective,
            optimizer="adam",
            lr=3e-3,
            weight_decay=0.0,
            max_steps=args.steps,
            eval_every=max(args.steps // 5, 1),
            progress=False,
        )
        trainer.fit(sampler, test)
        metrics = trainer.evaluate(test, metrics=["relative_l2"])
        results[name] = {
            "relative_l2": metrics["relative_l2"],
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        item = test[0]
        predictions[name] = trainer.predict([{k: v.unsqueeze(0) for k, v in item.items()}])[0].numpy()
        print(f"{name:6s} relative L2 {metrics['relative_l2']:.4f} ({results[name]['parameters']} parameters)")
    exact = test.y.numpy()
    x, t = test.x_grid.numpy(), test.t_grid.numpy()
    fig, axes = new_figure(2, 3, figsize=(14.0, 7.2))
    field_image(axes[0, 0], exact.T, (x, t), cmap="RdBu_r", vmin=-1, vmax=1, colorbar_label="u")
    label_axes(axes[0, 0], "x", "t", f"exact, beta = {args.beta:g}")
    for row, name in enumerate(runs):
        field_image(axes[row, 1], predictions[name].T, (x, t), cmap="RdBu_r", vmin=-1, vmax=1, colorbar_label="u")
        label_axes(axes[row, 1], "x", "t", f"{name}: relative L2 {results[name]['relative_l2']:.3g}")
        diverging_error_image(axes[row, 2], (predictions[name] - exact).T, (x, t))
        label_axes(axes[row, 2], "x", "t", f"{name} - exact")
    axes[1, 0].bar(list(results), [r["relative_l2"] for r in results.values()], color=["C0", "C3"])
    axes[1, 0].set_yscale("log")
    label_axes(axes[1, 0], "model", "test relative L2 (log)", "same size, same budget")
    save_figure(fig, out / "pinn_convection.png")
    summary = {"beta": args.beta, "steps": args.steps, **results}
    write_json(out / "pinn_convection.json", summary)
    return summary


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
