"""Figures that people would rather look at than read: predictions vs truth, loss curves.

Matplotlib runs with the non-interactive Agg backend; every function writes a PNG
atomically and returns its path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sciml.core.io import atomic_path

__all__ = ["plot_fields", "plot_history"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike[str]) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)
    return Path(path)


def plot_fields(
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    path: str | os.PathLike[str],
    *,
    coords: Sequence[np.ndarray] | None = None,
    n_samples: int = 4,
    title: str = "",
) -> Path:
    """Input, truth, prediction and error for a few samples (first channel).

    Parameters
    ----------
    x : array ``[B, Cx, *S]``
    y, pred : arrays ``[B, Cy, *S]``
    coords : one 1-D grid per spatial axis, optional
    """
    plt = _plt()
    n = min(n_samples, y.shape[0])
    spatial = y.ndim - 2
    if spatial == 1:
        grid = coords[0] if coords else np.arange(y.shape[-1])
        fig, axes = plt.subplots(2, n, figsize=(3.6 * n, 5.2), squeeze=False)
        for j in range(n):
            ax = axes[0, j]
            ax.plot(grid, x[j, 0], color="0.6", lw=1, label="input")
            ax.plot(grid, y[j, 0], color="k", lw=1.6, label="truth")
            ax.plot(grid, pred[j, 0], "--", color="tab:red", lw=1.4, label="prediction")
            rel = np.linalg.norm(pred[j] - y[j]) / max(np.linalg.norm(y[j]), 1e-12)
            ax.set_title(f"sample {j}: rel. L2 {rel:.2e}", fontsize=9)
            axes[1, j].plot(grid, pred[j, 0] - y[j, 0], color="tab:blue", lw=1)
            axes[1, j].set_title("prediction - truth", fontsize=9)
        axes[0, 0].legend(fontsize=8)
    elif spatial == 2:
        fig, axes = plt.subplots(n, 4, figsize=(12, 2.9 * n), squeeze=False)
        for j in range(n):
            vmin, vmax = float(y[j, 0].min()), float(y[j, 0].max())
            for k, (img, name, kw) in enumerate(
                [
                    (x[j, 0], "input", {}),
                    (y[j, 0], "truth", {"vmin": vmin, "vmax": vmax}),
                    (pred[j, 0], "prediction", {"vmin": vmin, "vmax": vmax}),
                    (pred[j, 0] - y[j, 0], "error", {"cmap": "RdBu_r"}),
                ]
            ):
                im = axes[j, k].imshow(img.T, origin="lower", **kw)
                axes[j, k].set_title(f"{name} (sample {j})", fontsize=9)
                axes[j, k].set_xticks([])
                axes[j, k].set_yticks([])
                fig.colorbar(im, ax=axes[j, k], fraction=0.046)
    else:
        raise ValueError(f"plot_fields draws 1-D and 2-D fields, got {spatial}-D")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_history(history: Sequence[dict[str, float]], path: str | os.PathLike[str], keys: Sequence[str] | None = None) -> Path:
    """Loss curves (log scale) against epoch from a Trainer history."""
    plt = _plt()
    keys = keys or [k for k in history[0] if k.endswith("loss") or k.endswith("relative_l2")]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    epochs = [row["epoch"] for row in history]
    for key in keys:
        values = [row.get(key, np.nan) for row in history]
        ax.semilogy(epochs, values, marker="o", ms=3, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("value")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
