"""Tasks: how a family plugs into ``sciml train`` and ``sciml eval``.

A task is registered in :data:`~sciml.core.registry.TASKS` and built with the run's
:class:`~sciml.core.config.ExperimentConfig`. From its config (the fixed sections and its
own section, a dataclass it declares as ``section``) it builds the run's data, its model or
estimator, its objective, its metrics and its plots. ``sciml.experiment`` only calls these
methods: it never asks which family or which dataset class it has.

Two kinds of tasks:

* ``fits = "model"``: a ``torch.nn.Module`` trained by the Trainer through an objective
  (:meth:`AbstractTask.build_model`, :meth:`AbstractTask.build_objective`);
* ``fits = "estimator"``: an :class:`~sciml.core.estimator.AbstractEstimator` fitted by its own
  solver (:meth:`AbstractTask.build_estimator`), saved and loaded with its own files.

A minimal task::

    @TASKS.register("toy")
    class ToyTask(AbstractTask):
        section = ToyConfig                      # optional: cfg.section("toy") is a ToyConfig
        def build_data(self, splits): ...       # {"train": Dataset | sampler, "val": ..., "test": ...}
        def build_model(self, data, objective, *, fit): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from sciml.core.errors import ConfigError

__all__ = ["AbstractTask"]


class AbstractTask:
    """Base of tasks; subclasses implement the builders their kind needs.

    Attributes
    ----------
    section : dataclass type or None
        The task's own config section, under the task's registered name.
    default_for : tuple of str
        ``data.kind`` values for which a config without ``task`` picks this task.
    fits : {"model", "estimator"}
    name : str
        Set at build: the registered name.
    """

    section: ClassVar[type | None] = None
    default_for: ClassVar[tuple[str, ...]] = ()
    fits: ClassVar[str] = "model"

    def __init__(self, cfg: Any, name: str = ""):
        self.cfg = cfg
        self.name = name

    @property
    def options(self) -> Any:
        """This task's typed config section (``None`` if it declares none)."""
        return self.cfg.sections.get(self.name) if self.section is not None else None

    # ------------------------------------------------------------------ data
    def build_data(self, splits: Sequence[str | None]) -> dict[str | None, Any]:
        """One dataset (or sampler ``sample(step) -> batch`` with ``steps_per_epoch``) per split."""
        raise NotImplementedError  # AbstractTask: every task builds its data

    def data_checksum(self, data: dict[str | None, Any]) -> str | None:
        """The content checksum stored in checkpoints (``None`` when no file is read)."""
        for value in data.values():
            digest = getattr(value, "content_sha256", None)
            if digest:
                return str(digest)
        return None

    def check_data(self, data: dict[str | None, Any]) -> None:
        """Refuse data this task cannot use, before anything is trained (default: accept)."""

    # ------------------------------------------------------------------ model tasks
    def build_objective(self) -> Any:
        """The objective named in ``cfg.objective``."""
        from sciml.core.registry import OBJECTIVES

        name, kwargs = self.cfg.objective.name, dict(self.cfg.objective.kwargs)
        try:
            return OBJECTIVES.get(name)(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"objective '{name}' rejected its arguments ({exc}); fix objective.kwargs") from None

    def build_model(self, data: dict[str | None, Any], objective: Any, *, fit: bool) -> Any:
        """The model for ``data``; ``fit=True`` also fits what is fitted on the training split
        (normalizers), ``fit=False`` rebuilds the architecture only (a checkpoint's weights follow)."""
        raise NotImplementedError  # AbstractTask: model tasks build their model

    def configure_parallelism(self, model: Any, mode: str) -> None:
        """``train.parallel``: ``data`` needs nothing; other modes are the task's to support."""
        if mode != "data":
            raise ConfigError(f"train.parallel={mode} is not supported by task '{self.name}'; use train.parallel=data")

    # ------------------------------------------------------------------ estimator tasks
    def build_estimator(self) -> Any:
        """The estimator (unfitted) for an estimator task."""
        raise NotImplementedError  # AbstractTask: estimator tasks build their estimator

    # ------------------------------------------------------------------ evaluation and plots
    def eval_metrics(self, data: Any) -> list[str]:
        """Metrics ``evaluate`` computes on ``data`` (default: ``train.metrics``)."""
        return list(self.cfg.train.metrics)

    def plots(self, predictor: Any, data: Any, history: list[dict[str, float]], out: Path) -> list[Path]:
        """Write this task's PNGs into ``out``; ``predictor(batch) -> prediction`` (model tasks: it
        also carries the trained ``model``, its ``objective`` and ``device`` as attributes) or the
        fitted estimator. Default: the loss curve."""
        from sciml.core.plotting import plot_history

        return [plot_history(history, out / "loss.png")] if history else []
