"""Figures that people would rather look at than read: predictions vs truth, training curves.

Two layers. The ``*_figure`` functions build a :class:`matplotlib.figure.Figure` and
return it unsaved, so the drawn data stay readable (``fig.axes[0].lines[0].get_ydata()``,
an image's ``norm.vmin``); they use no pyplot state, so nothing is left open. Tasks
collect them in a dict and write them with :func:`save_figures`; :func:`save_figure` renders
one with the Agg renderer to a PNG, atomically. ``plot_fields`` and ``plot_history`` build
and save in one call.

Shared conventions: truth solid black, prediction dashed red; every axis labelled;
error panels use a diverging colormap centred on zero (limits ``±max|error|``).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sciml.core.io import atomic_path

__all__ = [
    "confusion_counts",
    "confusion_figure",
    "diverging_error_image",
    "fields_figure",
    "field_image",
    "history_axis",
    "history_figure",
    "label_axes",
    "moments_figure",
    "new_figure",
    "parity_figure",
    "phase_portrait_figure",
    "plot_fields",
    "plot_history",
    "save_figure",
    "save_figures",
    "trajectories_figure",
]

TRUTH = {"color": "k", "lw": 1.6}
PREDICTION = {"color": "tab:red", "lw": 1.4, "ls": "--"}
ERROR_CMAP = "RdBu_r"


def _plt():
    """pyplot on the Agg backend (for callers that draw with pyplot; the figures here do not)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = (5.5, 3.8), **subplot_kw: Any):
    """A pyplot-free Figure (constrained layout) and its ``[nrows, ncols]`` array of Axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, axes


def save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Render ``fig`` to the PNG ``path`` atomically (Agg renderer, 110 dpi); close it if pyplot holds it."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)  # a no-op for the pyplot-free figures of this module
    return Path(path)


_save = save_figure  # the name callers outside this module import


def save_figures(figures: Mapping[str, Any], out: str | os.PathLike[str]) -> list[Path]:
    """Write each ``{name: Figure}`` to ``out/name.png``; returns the paths in order."""
    return [save_figure(fig, Path(out) / f"{name}.png") for name, fig in figures.items()]


def label_axes(ax: Any, xlabel: str, ylabel: str, title: str | None = None) -> Any:
    """Set both axis labels (and the title) of ``ax``; returns ``ax``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


def _uniform(grid: np.ndarray) -> bool:
    step = np.diff(grid)
    return grid.size < 2 or bool(np.allclose(step, step[0], rtol=1e-6, atol=0))


def field_image(
    ax: Any,
    values: np.ndarray,
    coords: Sequence[np.ndarray] | None = None,
    *,
    colorbar_label: str = "",
    **kwargs: Any,
) -> Any:
    """A 2-D field ``values [Sx, Sy]`` on its grid (x horizontal), with a colorbar; returns the image.

    ``coords`` are the two 1-D grids (default: the indices). Uniform grids are drawn with
    ``imshow`` (one pixel per value), others with ``pcolormesh``. ``kwargs`` go to the
    drawing call (``cmap``, ``vmin``, ``vmax``).
    """
    values = np.asarray(values)
    gx, gy = (np.asarray(c, dtype=float) for c in coords) if coords is not None else map(np.arange, values.shape)
    if _uniform(gx) and _uniform(gy):
        dx = gx[1] - gx[0] if gx.size > 1 else 1.0
        dy = gy[1] - gy[0] if gy.size > 1 else 1.0
        extent = (gx[0] - dx / 2, gx[-1] + dx / 2, gy[0] - dy / 2, gy[-1] + dy / 2)
        width, height = abs(extent[1] - extent[0]), abs(extent[3] - extent[2])
        aspect = "equal" if 0.25 <= width / max(height, 1e-300) <= 4 else "auto"
        image = ax.imshow(values.T, origin="lower", extent=extent, aspect=aspect, interpolation="nearest", **kwargs)
    else:
        image = ax.pcolormesh(gx, gy, values.T, shading="nearest", **kwargs)
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    if colorbar_label:
        bar.set_label(colorbar_label)
    return image


def diverging_error_image(
    ax: Any, error: np.ndarray, coords: Sequence[np.ndarray] | None = None, *, colorbar_label: str = "error"
) -> Any:
    """``error [Sx, Sy]`` with a diverging colormap centred on zero: limits ``±max|error|``.

    White is zero error; red and blue are over- and under-prediction of equal size.
    Returns the image: ``image.norm.vmax == -image.norm.vmin == max|error|`` (1 when the
    error is zero everywhere).
    """
    limit = float(np.nanmax(np.abs(error))) if np.size(error) else 0.0
    limit = limit if math.isfinite(limit) and limit > 0 else 1.0  # an exact prediction: any symmetric range
    return field_image(ax, error, coords, cmap=ERROR_CMAP, vmin=-limit, vmax=limit, colorbar_label=colorbar_label)


# ---------------------------------------------------------------------- training curves
def history_axis(history: Sequence[Mapping[str, float]]) -> tuple[str, np.ndarray]:
    """The x axis of a history: ``("epoch", epochs)`` when every row ends an epoch, else ``("step", steps)``.

    Rows of a Trainer history carry ``epoch`` and ``step``. When a row ends every epoch
    (``step == epoch * steps_per_epoch`` for one steps-per-epoch), epochs label the axis;
    rows per ``eval_every`` period (several per epoch, or one every few epochs) or a run
    stopped by ``max_steps`` mid-epoch use the optimizer step.
    """
    epochs = np.array([float(row.get("epoch", i + 1)) for i, row in enumerate(history)])
    if not all("step" in row for row in history):
        return "epoch", epochs
    steps = np.array([float(row["step"]) for row in history])
    per_epoch = steps[0] / epochs[0] if epochs[0] > 0 else math.nan
    if np.all(np.diff(epochs) == 1) and np.allclose(steps, epochs * per_epoch):
        return "epoch", epochs
    return "step", steps


def history_figure(
    history: Sequence[Mapping[str, float]],
    keys: Sequence[str] | None = None,
    *,
    ylabel: str | None = None,
    title: str = "",
    log: bool | None = None,
    ylim: tuple[float, float] | None = None,
) -> Any:
    """Curves of history ``keys`` (default: the losses and relative L2 errors) over training.

    The x axis is the epoch or the optimizer step (:func:`history_axis`); the y axis is
    logarithmic when ``log`` is True, or when None and every plotted value is positive.
    Phase changes (``phase`` in the rows) are dotted vertical lines.
    """
    if not history:
        raise ValueError("history_figure needs at least one history row")
    present = list(dict.fromkeys(k for row in history for k in row))
    keys = list(keys) if keys is not None else [k for k in present if k.endswith("loss") or k.endswith("relative_l2")]
    xname, xs = history_axis(history)
    curves = {k: np.array([float(row.get(k, np.nan)) for row in history]) for k in keys}
    finite = np.concatenate([v[np.isfinite(v)] for v in curves.values()]) if curves else np.array([])
    if log is None:
        log = finite.size > 0 and bool((finite > 0).all())
    fig, axes = new_figure(figsize=(5.8, 3.8))
    ax = axes[0, 0]
    marker = {"marker": "o", "ms": 3} if len(history) <= 60 else {}
    for key, values in curves.items():
        ax.plot(xs, values, label=key, **marker)
    if log:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ylim is not None:
        ax.set_ylim(*ylim)
    phases = [row.get("phase") for row in history]
    for i in range(1, len(phases)):
        if phases[i] != phases[i - 1]:
            ax.axvline((xs[i - 1] + xs[i]) / 2, color="0.5", ls=":", lw=1)
    if ylabel is None:
        ylabel = "loss" if keys and all("loss" in k for k in keys) else "value"
    label_axes(ax, "optimizer step" if xname == "step" else "epoch", ylabel + (" (log scale)" if log else ""), title)
    ax.grid(True, which="both", alpha=0.3)
    if keys:
        ax.legend(fontsize=8)
    return fig


def plot_history(
    history: Sequence[dict[str, float]], path: str | os.PathLike[str], keys: Sequence[str] | None = None
) -> Path:
    """:func:`history_figure` of a Trainer history, saved to ``path``."""
    return save_figure(history_figure(history, keys), path)


# ---------------------------------------------------------------------- fields
def fields_figure(
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    *,
    coords: Sequence[np.ndarray] | None = None,
    coord_names: Sequence[str] | None = None,
    n_samples: int = 4,
    title: str = "",
) -> Any:
    """Input, truth, prediction and error for a few samples (first channel).

    1-D fields: curves (top row) and the error ``prediction - truth`` (bottom row, y
    range centred on zero); 2-D fields: one row of images per sample, truth and
    prediction on the truth's colour range, the error centred on zero.

    Parameters
    ----------
    x : array ``[B, Cx, *S]``
    y, pred : arrays ``[B, Cy, *S]``
    coords : one 1-D grid per spatial axis, optional (default: the indices)
    coord_names : one name per spatial axis, optional (default ``x``, ``y``)
    """
    n = min(n_samples, y.shape[0])
    spatial = y.ndim - 2
    names = list(coord_names) if coord_names else ["x", "y", "z"][:spatial]
    grids = [np.asarray(c) for c in coords] if coords else [np.arange(s) for s in y.shape[2:]]
    if spatial == 1:
        grid = grids[0]
        fig, axes = new_figure(2, n, figsize=(3.6 * n, 5.4), sharex=True)
        for j in range(n):
            ax = axes[0, j]
            ax.plot(grid, x[j, 0], color="0.6", lw=1, label="input")
            ax.plot(grid, y[j, 0], label="truth", **TRUTH)
            ax.plot(grid, pred[j, 0], label="prediction", **PREDICTION)
            rel = np.linalg.norm(pred[j] - y[j]) / max(np.linalg.norm(y[j]), 1e-12)
            label_axes(ax, "", "u (channel 0)", f"sample {j}: rel. L2 {rel:.2e}")
            err = pred[j, 0] - y[j, 0]
            limit = float(np.abs(err).max()) or 1.0
            axes[1, j].plot(grid, err, color="tab:blue", lw=1)
            axes[1, j].axhline(0.0, color="0.5", lw=0.8)
            axes[1, j].set_ylim(-1.1 * limit, 1.1 * limit)
            label_axes(axes[1, j], names[0], "prediction - truth", "error")
        axes[0, 0].legend(fontsize=8)
    elif spatial == 2:
        fig, axes = new_figure(n, 4, figsize=(14, 3.1 * n))
        for j in range(n):
            vmin, vmax = float(y[j, 0].min()), float(y[j, 0].max())
            panels = [
                (x[j, 0], "input", {}),
                (y[j, 0], "truth", {"vmin": vmin, "vmax": vmax}),
                (pred[j, 0], "prediction", {"vmin": vmin, "vmax": vmax}),
            ]
            for k, (img, name, kw) in enumerate(panels):
                field_image(axes[j, k], img, grids, **kw)
                label_axes(axes[j, k], names[0], names[1], f"{name} (sample {j})")
            err = pred[j, 0] - y[j, 0]
            diverging_error_image(axes[j, 3], err, grids, colorbar_label="prediction - truth")
            label_axes(axes[j, 3], names[0], names[1], f"error (sample {j}, max |e| {np.abs(err).max():.2e})")
    else:
        raise ValueError(f"fields_figure draws 1-D and 2-D fields, got {spatial}-D")
    if title:
        fig.suptitle(title)
    return fig


def plot_fields(
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    path: str | os.PathLike[str],
    *,
    coords: Sequence[np.ndarray] | None = None,
    coord_names: Sequence[str] | None = None,
    n_samples: int = 4,
    title: str = "",
) -> Path:
    """:func:`fields_figure`, saved to ``path``."""
    fig = fields_figure(x, y, pred, coords=coords, coord_names=coord_names, n_samples=n_samples, title=title)
    return save_figure(fig, path)


# ---------------------------------------------------------------------- trajectories
def _component_names(names: Sequence[str] | None, dim: int) -> list[str]:
    return list(names) if names is not None and len(names) == dim else [f"$x_{{{d}}}$" for d in range(dim)]


def trajectories_figure(
    times: np.ndarray,
    truth: np.ndarray,
    pred: np.ndarray,
    *,
    pred_times: np.ndarray | None = None,
    component_names: Sequence[str] | None = None,
    time_label: str = "t",
    labels: Sequence[str] | None = None,
    n_components: int = 3,
    title: str = "",
) -> Any:
    """Prediction (dashed) against truth (solid) over time: one column per trajectory, one row per component.

    Parameters
    ----------
    times : array ``[B, T]``
        The times of ``truth``.
    truth : array ``[B, T, D]``
    pred : array ``[B, P, D]``
        At ``pred_times [B, P]`` (default: the last ``P`` of ``times``).
    component_names : ``D`` names, optional
    labels : one title per trajectory, optional
    """
    times, truth, pred = np.asarray(times), np.asarray(truth), np.asarray(pred)
    n, dim = truth.shape[0], truth.shape[-1]
    pred_times = np.asarray(pred_times) if pred_times is not None else times[:, times.shape[1] - pred.shape[1] :]
    names = _component_names(component_names, dim)
    rows = min(dim, n_components)
    fig, axes = new_figure(rows, n, figsize=(3.4 * n + 0.6, 1.9 * rows + 0.9), sharex="col")
    for j in range(n):
        for d in range(rows):
            ax = axes[d, j]
            ax.plot(times[j], truth[j, :, d], label="truth", **TRUTH)
            ax.plot(pred_times[j], pred[j, :, d], label="prediction", **PREDICTION)
            ax.grid(True, alpha=0.3)
            label_axes(ax, time_label if d == rows - 1 else "", names[d])
        axes[0, j].set_title(labels[j] if labels else f"trajectory {j}", fontsize=9)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def phase_portrait_figure(
    truth: np.ndarray,
    pred: np.ndarray,
    *,
    component_names: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    title: str = "",
) -> Any:
    """Truth (solid) and prediction (dashed) in state space for 2-D or 3-D states; a dot marks each start.

    ``truth [B, T, D]``, ``pred [B, P, D]``, ``D`` 2 or 3; one colour per trajectory.
    """
    truth, pred = np.asarray(truth), np.asarray(pred)
    dim = truth.shape[-1]
    if dim not in (2, 3):
        raise ValueError(f"phase portraits show 2-D or 3-D states, got {dim}-D")
    names = _component_names(component_names, dim)
    fig, axes = new_figure(figsize=(5.2, 4.6), **({"subplot_kw": {"projection": "3d"}} if dim == 3 else {}))
    ax = axes[0, 0]
    for j in range(truth.shape[0]):
        colour = f"C{j % 10}"
        name = labels[j] if labels else f"trajectory {j}"
        ax.plot(*truth[j].T, color=colour, lw=1.5, label=f"{name}: truth")
        ax.plot(*pred[j].T, color=colour, lw=1.3, ls="--", label=f"{name}: prediction")
        ax.scatter(*truth[j, :1].T, color=colour, s=18, zorder=3)
    label_axes(ax, names[0], names[1], title or "phase portrait (dot: start)")
    if dim == 3:
        ax.set_zlabel(names[2])
    else:
        ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def moments_figure(
    times: np.ndarray,
    data_paths: np.ndarray,
    model_paths: np.ndarray,
    *,
    component_names: Sequence[str] | None = None,
    time_label: str = "t",
    title: str = "",
) -> Any:
    """Mean ± one standard deviation over paths, of the data (solid, grey band) and the model (dashed, red band).

    ``times [T]``, ``data_paths [N, T, D]``, ``model_paths [M, T, D]``; standard deviations
    are the unbiased ones (``ddof=1``), as the moment-matching loss uses. One panel per component.
    """
    times, data_paths, model_paths = np.asarray(times), np.asarray(data_paths), np.asarray(model_paths)
    dim = data_paths.shape[-1]
    names = _component_names(component_names, dim)
    fig, axes = new_figure(1, dim, figsize=(4.4 * dim, 3.6))
    for d in range(dim):
        ax = axes[0, d]
        for paths, style, fill, who in (
            (data_paths, TRUTH, "0.6", f"data ({data_paths.shape[0]} paths)"),
            (model_paths, PREDICTION, "tab:red", f"model ({model_paths.shape[0]} paths)"),
        ):
            mean, std = paths[..., d].mean(0), paths[..., d].std(0, ddof=1)
            ax.plot(times, mean, label=f"{who}: mean", **style)
            ax.fill_between(times, mean - std, mean + std, color=fill, alpha=0.25, lw=0, label=f"{who}: ± std")
        ax.grid(True, alpha=0.3)
        label_axes(ax, time_label, names[d])
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize=8)
    fig.suptitle(title or "marginal mean ± standard deviation over paths")
    return fig


# ---------------------------------------------------------------------- samples
def confusion_counts(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``counts[i, j]``: samples of true class ``i`` predicted as class ``j``, int64 ``[n_classes, n_classes]``."""
    labels, predicted = np.asarray(labels, dtype=np.int64).ravel(), np.asarray(predicted, dtype=np.int64).ravel()
    flat = np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def confusion_figure(counts: np.ndarray, *, class_names: Sequence[str] | None = None, title: str = "") -> Any:
    """The confusion matrix ``counts [C, C]`` (rows: true class, columns: predicted), each cell's count written in it."""
    counts = np.asarray(counts)
    c = counts.shape[0]
    names = list(class_names) if class_names is not None and len(class_names) == c else [str(i) for i in range(c)]
    size = min(3.0 + 0.36 * c, 12)
    fig, axes = new_figure(figsize=(size + 1.0, size))
    ax = axes[0, 0]
    image = ax.imshow(counts, cmap="Blues", vmin=0, interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label("samples")
    from matplotlib.ticker import MaxNLocator

    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    if c <= 30:
        threshold = counts.max() / 2 if counts.size else 0
        for i in range(c):
            for j in range(c):
                ax.text(
                    j,
                    i,
                    str(int(counts[i, j])),
                    ha="center",
                    va="center",
                    fontsize=7 if c > 12 else 8,
                    color="white" if counts[i, j] > threshold else "black",
                )
    long_names = max(map(len, names)) > 2
    ax.set_xticks(range(c), names, rotation=45 if long_names else 0, ha="right" if long_names else "center")
    ax.set_yticks(range(c), names)
    total = int(counts.sum())
    accuracy = float(np.trace(counts)) / total if total else math.nan
    label_axes(
        ax, "predicted class", "true class", title or f"confusion matrix ({total} samples, accuracy {accuracy:.3f})"
    )
    return fig


def parity_figure(
    truth: np.ndarray, pred: np.ndarray, *, names: Sequence[str] | None = None, max_targets: int = 4
) -> Any:
    """Predicted against true value, one panel per target (first ``max_targets``), with the line y = x.

    ``truth``, ``pred``: ``[N, Dy]``.
    """
    truth, pred = np.asarray(truth).reshape(len(truth), -1), np.asarray(pred).reshape(len(pred), -1)
    k = min(truth.shape[1], max_targets)
    labels = list(names) if names is not None and len(names) >= k else [f"target {i}" for i in range(k)]
    fig, axes = new_figure(1, k, figsize=(3.6 * k, 3.6))
    for i in range(k):
        ax = axes[0, i]
        lo, hi = float(min(truth[:, i].min(), pred[:, i].min())), float(max(truth[:, i].max(), pred[:, i].max()))
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=1)
        ax.scatter(truth[:, i], pred[:, i], s=8, alpha=0.6, color="tab:red")
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(True, alpha=0.3)
        label_axes(ax, f"true {labels[i]}", f"predicted {labels[i]}")
    return fig
