"""The neural-DE tasks: ``dynamics`` on trajectories files, ``samples`` on samples files.

``dynamics``: a neural ODE/SDE (or any registered model with a state dimension ``dim``)
on :class:`~sciml.data.TrajectoryDataset` windows; ``samples``: a classifier or regressor
of independent samples (:class:`~sciml.data.SampleDataset`), sizes ``in_features``,
``n_classes`` / ``out_features`` from the data. A size the config sets that disagrees with
the data is a one-line :class:`~sciml.core.errors.ShapeError`.

Plots (``sciml train`` at the end, ``sciml eval``): ``loss.png`` and, when the history logs
them, ``nfe.png`` (function evaluations per solve) and ``accuracy.png``; ``dynamics`` adds
``trajectories.png`` (prediction against truth over time for a few test trajectories) and
``phase.png`` (2-D and 3-D states), or ``moments.png`` (mean ± std over paths) under the
``sde_moment_matching`` objective; ``samples`` adds ``confusion.png`` (classification) or
``parity.png`` (regression). Labels come from the file when it has them: the attribute
``time_units`` for the time axis, ``component_names`` (a JSON list, one name per state
component) for the components, ``class_names`` for the classes.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.registry import MODELS, TASKS, build_model
from sciml.core.task import AbstractTask
from sciml.data.configured import open_splits
from sciml.data.datasets import SampleDataset, TrajectoryDataset

__all__ = ["DynamicsTask", "SamplesTask"]


def _build_with_sizes(cfg: Any, sizes: dict[str, tuple[int, str]]) -> Any:
    """Fill the model's size arguments from the data; ``sizes`` maps a keyword to (value, "the data has ...")."""
    kwargs = dict(cfg.model.kwargs)
    for key, (value, what) in sizes.items():
        given = kwargs.get(key)
        if given not in (None, "auto") and int(given) != value:
            raise ShapeError(
                f"model '{cfg.model.name}' has {key}={given} but {what}; "
                f"set model.kwargs.{key}={value} or remove it to infer it from the data"
            )
        kwargs[key] = value
    cfg.model.kwargs = kwargs
    return build_model(cfg.model.name, kwargs)


def _parameters(name: str) -> Any:
    return inspect.signature(MODELS.get(name)).parameters


# ---------------------------------------------------------------------- plots
_N_TRAJECTORIES = 3  # trajectories drawn against their prediction
_MOMENT_PATHS = 512  # observed paths whose moments are drawn
_MODEL_PATHS = 256  # the fewest simulated paths (the objective's default)


def _history_figures(history: list[dict[str, float]]) -> dict[str, Any]:
    """``loss`` and, when logged, ``nfe`` (train_nfe, val_nfe) and ``accuracy`` curves."""
    from sciml.core.plotting import history_figure

    if not history:
        return {}
    logged = {k for row in history for k in row}
    figures = {"loss": history_figure(history)}
    nfe = [k for k in ("train_nfe", "val_nfe") if k in logged]
    if nfe:
        figures["nfe"] = history_figure(
            history, nfe, ylabel="function evaluations per solve", title="solver cost (NFE)", log=False
        )
    accuracy = [k for k in ("train_accuracy", "val_accuracy") if k in logged]
    if accuracy:
        figures["accuracy"] = history_figure(history, accuracy, ylabel="accuracy", log=False, ylim=(0.0, 1.02))
    return figures


def _names_attr(value: Any) -> list[str] | None:
    """A file attribute holding names: a JSON list or an array of strings."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    try:
        return [v.decode() if isinstance(v, bytes) else str(v) for v in value]
    except TypeError:
        return None


def _time_label(attrs: dict[str, Any]) -> str:
    units = attrs.get("time_units")
    units = units.decode() if isinstance(units, bytes) else units
    return f"t [{units}]" if units else "t"


def _collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return torch.utils.data.default_collate(items)


@torch.no_grad()
def _trajectory_plot_data(predictor: Any, data: TrajectoryDataset, n: int) -> dict[str, Any]:
    """Truth and prediction of the first window of ``n`` test trajectories.

    Returns ``times [B, L]`` and ``truth [B, L, D]`` (context and targets), the prediction
    ``pred [B, P, D]`` at ``pred_times [B, P]`` (the last ``P`` times) and ``labels``.
    """
    per_trajectory = len(data.starts)
    count = min(n, len(data.samples))
    batch = _collate([data[k * per_trajectory] for k in range(count)])
    pred = predictor(batch).detach().cpu().numpy()
    x = batch["x"].numpy()
    if "y" in batch:
        y = batch["y"].numpy()
        truth = np.concatenate([x if x.ndim == 3 else x[:, None], y], axis=1)
    else:
        truth = x
    times = batch["t"].numpy()
    times = times[:, times.shape[1] - truth.shape[1] :]
    if pred.ndim != 3 or pred.shape[0] != count or pred.shape[-1] != truth.shape[-1] or pred.shape[1] > times.shape[1]:
        raise ShapeError(
            f"the trajectory plots need predictions [batch, times, {truth.shape[-1]}] at the last times of the "
            f"window, but the objective's predict gave {tuple(pred.shape)}"
        )
    return {
        "times": times,
        "truth": truth,
        "pred": pred,
        "pred_times": times[:, times.shape[1] - pred.shape[1] :],
        "labels": [f"test trajectory {int(i)}" for i in batch["index"]],
    }


@torch.no_grad()
def _moment_plot_data(predictor: Any, data: TrajectoryDataset) -> dict[str, Any]:
    """Up to 512 observed paths of ``data``, and at least 256 simulated ones from their initial states (one solve).

    The initial states are repeated cyclically, as the objective does, so that a small
    test split still gives the model's moments a small Monte Carlo error.
    """
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=min(len(data), _MOMENT_PATHS), shuffle=False)))
    if batch["x"].ndim != 3:
        raise ShapeError(f"the moment plot needs whole paths x [batch, times, dim], got {tuple(batch['x'].shape)}")
    n = batch["x"].shape[0]
    rows = torch.arange(max(n, _MODEL_PATHS)) % n
    simulated = predictor({"x": batch["x"][rows], "t": batch["t"][rows]})
    t = batch["t"]
    return {"times": (t[0] if t.ndim == 2 else t).numpy(), "data": batch["x"].numpy(), "model": simulated.numpy()}


@TASKS.register("dynamics")
class DynamicsTask(AbstractTask):
    """Dynamics models (neural ODEs, neural SDEs) on trajectory windows; the state dimension ``dim`` comes from the data."""

    default_for = ("trajectories",)

    def build_data(self, splits):
        return open_splits(TrajectoryDataset, self.cfg.data, splits)

    def build_model(self, data, objective, *, fit):
        if not fit:  # sizes were saved in the kwargs when the run was trained
            return build_model(self.cfg.model.name, self.cfg.model.kwargs)
        train = data["train"]
        sizes = {}
        if "dim" in _parameters(self.cfg.model.name):
            sizes["dim"] = (train.dim, f"the trajectories have {train.dim} components")
        return _build_with_sizes(self.cfg, sizes)

    def figures(self, predictor: Any, data: TrajectoryDataset, history: list[dict[str, float]]) -> dict[str, Any]:
        """``{name: Figure}`` of :meth:`plots`, unsaved: training curves, then predictions on ``data``."""
        from sciml.core.plotting import moments_figure, phase_portrait_figure, trajectories_figure

        figures = _history_figures(history)
        names = _names_attr(data.attrs.get("component_names"))
        system = data.attrs.get("system")
        split = f"{data.split} split" if data.split else "all trajectories"
        if self.cfg.objective.name == "sde_moment_matching":
            moments = _moment_plot_data(predictor, data)
            figures["moments"] = moments_figure(
                moments["times"],
                moments["data"],
                moments["model"],
                component_names=names,
                time_label=_time_label(data.attrs),
                title=f"{system or 'paths'}: mean ± std over paths ({split}), model vs data",
            )
            return figures
        curves = _trajectory_plot_data(predictor, data, _N_TRAJECTORIES)
        figures["trajectories"] = trajectories_figure(
            curves["times"],
            curves["truth"],
            curves["pred"],
            pred_times=curves["pred_times"],
            component_names=names,
            time_label=_time_label(data.attrs),
            labels=curves["labels"],
            title=f"{system or 'trajectories'}: prediction (dashed) vs truth (solid), {split}",
        )
        if data.dim in (2, 3):
            figures["phase"] = phase_portrait_figure(
                curves["truth"],
                curves["pred"],
                component_names=names,
                labels=curves["labels"],
            )
        return figures

    def plots(self, predictor, data, history, out: Path):
        from sciml.core.plotting import save_figures

        return save_figures(self.figures(predictor, data, history), out)


@TASKS.register("samples")
class SamplesTask(AbstractTask):
    """Classification or regression of independent samples (the dtype of ``y`` decides which)."""

    default_for = ("samples",)

    def build_data(self, splits):
        return open_splits(SampleDataset, self.cfg.data, splits)

    def check_data(self, data):
        """Class labels have no prediction-shaped target: refuse shape-comparing metrics before training."""
        train = next(iter(data.values()))
        if train.classes is not None and self.cfg.train.metrics:
            raise ConfigError(
                f"train.metrics {list(self.cfg.train.metrics)} compare predictions with same-shaped targets, but "
                f"{train.path} holds class labels; set train.metrics=[] (the objective logs accuracy)"
            )

    def build_model(self, data, objective, *, fit):
        if not fit:
            return build_model(self.cfg.model.name, self.cfg.model.kwargs)
        cfg, train = self.cfg, data["train"]
        name = cfg.model.name
        params = _parameters(name)
        sizes: dict[str, tuple[int, str]] = {}
        if "in_features" in params:
            if len(train.feature_shape) > 1 and not train.flatten:
                raise ShapeError(
                    f"model '{name}' takes flat feature vectors (in_features) but the samples of {train.path} have "
                    f"shape {list(train.feature_shape)}; set data.options.flatten=true"
                )
            sizes["in_features"] = (train.in_features, f"the samples have {train.in_features} features")
        if "n_classes" in params:
            if train.classes is None:
                raise ShapeError(
                    f"model '{name}' is a classifier (n_classes) but {train.path} holds regression targets "
                    f"[N, {train.target_dim}]; use a regression model or a file with class labels"
                )
            sizes["n_classes"] = (train.classes, f"the data has {train.classes} classes")
        if "out_features" in params:
            out = train.classes if train.classes is not None else train.target_dim
            what = f"{train.classes} classes" if train.classes is not None else f"{train.target_dim} targets per sample"
            sizes["out_features"] = (out, f"the data has {what}")
        return _build_with_sizes(cfg, sizes)

    def figures(self, predictor: Any, data: SampleDataset, history: list[dict[str, float]]) -> dict[str, Any]:
        """``{name: Figure}`` of :meth:`plots`, unsaved: training curves, then the confusion matrix
        (classification) or predicted against true targets (regression) over all of ``data``."""
        from sciml.core.plotting import confusion_counts, confusion_figure, parity_figure

        figures = _history_figures(history)
        loader = torch.utils.data.DataLoader(data, batch_size=self.cfg.train.eval_batch_size, shuffle=False)
        with torch.no_grad():
            pairs = [(batch["y"], predictor(batch).detach().cpu()) for batch in loader]
        truth = torch.cat([p[0] for p in pairs]).numpy()
        pred = torch.cat([p[1] for p in pairs]).numpy()
        split = f"{data.split} split" if data.split else "all samples"
        if data.classes is not None:
            counts = confusion_counts(truth, pred.argmax(-1), data.classes)
            accuracy = float(np.trace(counts)) / max(int(counts.sum()), 1)
            figures["confusion"] = confusion_figure(
                counts,
                class_names=_names_attr(data.class_names),
                title=f"confusion matrix, {split} ({int(counts.sum())} samples, accuracy {accuracy:.3f})",
            )
        else:
            figures["parity"] = parity_figure(truth, pred)
        return figures

    def plots(self, predictor, data, history, out: Path):
        from sciml.core.plotting import save_figures

        return save_figures(self.figures(predictor, data, history), out)
