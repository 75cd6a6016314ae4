"""PINN figures: solution, exact and error in the (x, t) plane; characteristic curves; losses per term."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml.core.plotting import diverging_error_image, field_image, history_figure, label_axes, new_figure, save_figure

__all__ = ["pinn_figures"]


def pinn_figures(task: Any, predictor: Any, data: Any, history: list[dict[str, float]], out: Path) -> list[Path]:
    """The PNGs of a PINN run: ``solution.png``, ``characteristics.png`` (Lagrangian PINNs), ``loss_terms.png``."""
    written = []
    item = data[0]
    batch = {k: v.unsqueeze(0) for k, v in item.items()}
    pred = predictor(batch)[0].numpy()
    exact = item["y"].numpy()
    x, t = item["x_grid"].numpy(), item["t_grid"].numpy()
    fig, axes = new_figure(1, 3, figsize=(14.0, 3.8))
    limit = float(np.abs(exact).max()) or 1.0
    for ax, values, title in ((axes[0, 0], pred, "prediction"), (axes[0, 1], exact, "exact")):
        field_image(ax, values.T, (x, t), cmap="RdBu_r", vmin=-limit, vmax=limit, colorbar_label="u")
        label_axes(ax, "x", "t", title)
    diverging_error_image(axes[0, 2], (pred - exact).T, (x, t), colorbar_label="prediction - exact")
    rel = float(np.linalg.norm(pred - exact) / max(np.linalg.norm(exact), 1e-300))
    label_axes(axes[0, 2], "x", "t", f"error (relative L2 {rel:.3g})")
    fig.suptitle(f"{task.cfg.objective.name} on {task.options.problem} {dict(task.options.params)}")
    written.append(save_figure(fig, out / "solution.png"))

    objective, model = getattr(predictor, "objective", None), getattr(predictor, "model", None)
    if hasattr(objective, "trajectories") and model is not None:
        labels = torch.from_numpy(x[:: max(len(x) // 24, 1)]).to(torch.float32)
        times = torch.from_numpy(t).to(torch.float32)
        model.eval()
        positions, _ = objective.trajectories(model, labels.to(predictor.device), times.to(predictor.device))
        positions = positions.cpu().numpy()
        fig, axes = new_figure(1, 1, figsize=(5.8, 4.0))
        ax = axes[0, 0]
        lower, length = objective.problem.space[0][0], objective.problem.length
        speed = objective.problem.params.get("beta")
        for j in range(positions.shape[1]):
            ax.plot(positions[:, j], t, color="C0", lw=1.0, label="learned x(x0, t)" if j == 0 else None)
            if speed is not None:
                ax.plot(
                    labels[j].item() + speed * t,
                    t,
                    color="C3",
                    lw=0.8,
                    ls="--",
                    label="exact x0 + beta t" if j == 0 else None,
                )
        ax.set_xlim(lower, lower + length * (1 + (speed or 0) * (t[-1] - t[0]) / length))
        label_axes(ax, "x (unwrapped)", "t", "characteristic curves")
        ax.legend(fontsize=8, loc="upper left")
        written.append(save_figure(fig, out / "characteristics.png"))

    if history:
        keys = [k for k in history[0] if k.startswith("train_") and k != "train_loss" and "weight" not in k]
        keys += [k for k in history[0] if k in ("train_loss", "val_loss", "val_relative_l2")]
        # a term held at zero by the model (a hard initial position) has no place on a log axis
        keys = [k for k in keys if any(float(row.get(k, 0.0)) > 0 for row in history)]
        figure = history_figure(history, keys, title="loss terms and validation error", log=True)
        written.append(save_figure(figure, out / "loss_terms.png"))
    return written
