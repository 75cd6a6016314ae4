"""The neural-DE tasks: ``dynamics`` on trajectories files, ``samples`` on samples files.

``dynamics``: a neural ODE/SDE (or any registered model with a state dimension ``dim``)
on :class:`~sciml.data.TrajectoryDataset` windows; ``samples``: a classifier or regressor
of independent samples (:class:`~sciml.data.SampleDataset`), sizes ``in_features``,
``n_classes`` / ``out_features`` from the data. A size the config sets that disagrees with
the data is a one-line :class:`~sciml.core.errors.ShapeError`.
"""

from __future__ import annotations

import inspect
from typing import Any

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
