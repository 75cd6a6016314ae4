"""Evaluation of trained operators: zero-shot super-resolution and figures.

* :func:`super_resolution_error`: the metrics of one model on data at its training
  resolution and at finer ones (FNO-family models and the LSM take any resolution).
* :func:`plot_prediction_fields`: input / truth / prediction / error for a few samples
  (1D curves or 2D images), through :func:`sciml.core.plotting.plot_fields`.
* :func:`plot_rollout_error`: relative L2 error against rollout step, one curve per model
  (values from :func:`~sciml.operators.rollout_error_curve`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sciml.core.errors import ConfigError
from sciml.core.metrics import compute_metrics

__all__ = ["evaluate_operator", "plot_prediction_fields", "plot_rollout_error", "super_resolution_error"]


def _batches(data: Dataset | Any, batch_size: int):
    return DataLoader(data, batch_size=batch_size, shuffle=False) if isinstance(data, Dataset) else data


def _predictor(model: nn.Module, objective: Any) -> Callable[[dict[str, torch.Tensor]], torch.Tensor]:
    predict = getattr(objective, "predict", None)
    return (lambda batch: predict(model, batch)) if predict is not None else (lambda batch: model(batch["x"]))


@torch.no_grad()
def evaluate_operator(
    model: nn.Module,
    data: Dataset | Any,
    *,
    metrics: Sequence[str] = ("relative_l2", "nrmse"),
    objective: Any = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Metrics of ``model`` on ``data`` (a Dataset or iterable of dict batches), averaged over samples.

    ``objective`` (optional) supplies ``predict(model, batch)`` (the rollout for
    :class:`~sciml.operators.Rollout`); by default the prediction is ``model(batch["x"])``.
    """
    model.eval()
    predict = _predictor(model, objective)
    totals: dict[str, float] = {}
    count = 0
    for batch in _batches(data, batch_size):
        batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
        pred = predict(batch)
        for key, value in compute_metrics(pred, batch["y"], metrics).items():
            totals[key] = totals.get(key, 0.0) + float(value.double().sum())
        count += batch["y"].shape[0]
    if count == 0:
        raise ConfigError("evaluate_operator: the data yielded no batches")
    return {k: v / count for k, v in totals.items()}


def super_resolution_error(
    model: nn.Module,
    datasets: Mapping[int | str, Dataset | Any],
    *,
    train_resolution: int | str | None = None,
    metrics: Sequence[str] = ("relative_l2", "nrmse"),
    objective: Any = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Zero-shot super-resolution: one model's errors on the same task at several resolutions.

    Parameters
    ----------
    model : nn.Module
        Trained at ``train_resolution``; discretization-agnostic (fno, tfno, lsm).
    datasets : mapping resolution -> data
        E.g. ``{64: test_64, 128: test_128}``: the same problem sampled at each resolution
        (generate both files with the same generator parameters).
    train_resolution : key of ``datasets``, optional
        Default: the first key.

    Returns
    -------
    dict
        ``{"resolutions": {res: {metric: value}}, "ratio": {res: relative_l2(res) / relative_l2(train)}}``:
        a ratio near 1 means the model transfers to the finer grid without retraining.
    """
    if not datasets:
        raise ConfigError("super_resolution_error needs at least one dataset, e.g. {64: test_64, 128: test_128}")
    keys = list(datasets)
    base = keys[0] if train_resolution is None else train_resolution
    if base not in datasets:
        raise ConfigError(f"train_resolution={base!r} is not one of the dataset keys {keys}")
    metrics = tuple(metrics) if "relative_l2" in metrics else ("relative_l2", *metrics)
    per = {
        key: evaluate_operator(model, data, metrics=metrics, objective=objective, batch_size=batch_size, device=device)
        for key, data in datasets.items()
    }
    ref = per[base]["relative_l2"]
    return {"resolutions": per, "ratio": {key: per[key]["relative_l2"] / max(ref, 1e-30) for key in per}}


@torch.no_grad()
def plot_prediction_fields(
    model: nn.Module,
    data: Dataset | Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    *,
    n_samples: int = 4,
    objective: Any = None,
    coords: Sequence[np.ndarray] | None = None,
    title: str = "",
    device: str | torch.device = "cpu",
) -> Path:
    """PNG of input / truth / prediction / error (first channel) for the first ``n_samples`` samples.

    ``data`` is a Dataset (its first items) or one dict batch. 1D fields are drawn as
    curves, 2D fields as images (one row per sample).
    """
    from sciml.core.plotting import plot_fields

    if isinstance(data, Dataset):
        coords = coords if coords is not None else getattr(data, "coords", None)
        batch = next(iter(DataLoader(data, batch_size=n_samples, shuffle=False)))
    else:
        batch = dict(data)
    batch = {k: (v[:n_samples].to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
    model.eval()
    pred = _predictor(model, objective)(batch)
    return plot_fields(
        batch["x"].cpu().numpy(),
        batch["y"].cpu().numpy(),
        pred.cpu().numpy(),
        path,
        coords=coords,
        n_samples=n_samples,
        title=title,
    )


def plot_rollout_error(
    curves: Mapping[str, Sequence[float] | torch.Tensor | np.ndarray] | Sequence[float] | torch.Tensor | np.ndarray,
    path: str | os.PathLike[str],
    *,
    dt: float | None = None,
    title: str = "",
) -> Path:
    """PNG of relative L2 error against rollout step (log scale), one line per model.

    Parameters
    ----------
    curves : mapping label -> ``[steps]`` values, or one ``[steps]`` curve
        E.g. ``{"fno": rollout_error_curve(fno_model, test)}``.
    dt : float, optional
        Time between snapshots: the x axis shows time instead of steps.
    """
    from sciml.core.plotting import _plt, _save

    if not isinstance(curves, Mapping):
        curves = {"model": curves}
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, values in curves.items():
        v = np.asarray(values.detach().cpu() if torch.is_tensor(values) else values, dtype=float)
        steps = np.arange(1, len(v) + 1)
        ax.semilogy(steps * dt if dt else steps, v, marker="o", ms=3, label=str(label))
    ax.set_xlabel("time" if dt else "rollout step")
    ax.set_ylabel("relative L2 error")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)
