"""Objectives: ``objective(model, batch) -> dict of losses``.

The Trainer optimizes the key ``loss`` and logs the others. Objectives, not model
subclasses, know the task; a plain ``nn.Module`` trains without wrapping.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sciml.core.errors import ConfigError
from sciml.core.metrics import relative_l2
from sciml.core.registry import OBJECTIVES

__all__ = ["AbstractObjective", "Supervised"]


class AbstractObjective:
    """Base of objectives.

    Subclasses implement ``__call__(model, batch) -> dict`` with a scalar ``loss`` (and
    optionally other scalars to log, and ``pred``: the prediction evaluation compares with
    ``batch["y"]``, which spares a second forward pass) and may override :meth:`predict`,
    :meth:`begin_step` (the global step, for schedules: closure optimizers call the
    objective several times per step, so counting calls is wrong) and
    :meth:`state_dict` / :meth:`load_state_dict`.
    ``needs_grad_in_eval`` is True for objectives that differentiate the model's output
    with respect to its input (PINN residuals) even during validation.
    """

    needs_grad_in_eval = False

    def begin_step(self, step: int) -> None:
        """Called by the Trainer once per optimizer step (before any closure call) with the 0-based global step."""

    def state_dict(self) -> dict[str, Any]:
        """State that a resumed run needs (schedules, running statistics); saved in checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError  # AbstractObjective: subclasses implement it

    def predict(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(batch["x"])

    def config(self) -> dict[str, Any]:
        return {}


@OBJECTIVES.register("supervised")
class Supervised(AbstractObjective):
    """Supervised regression of ``batch["y"]`` from ``batch["x"]``.

    Parameters
    ----------
    loss : {"relative_l2", "mse"}
        ``relative_l2`` (the mean over samples of per-sample relative L2 error) is the
        default for operator learning: it weighs samples of different amplitude equally.
    """

    def __init__(self, loss: str = "relative_l2"):
        if loss not in ("relative_l2", "mse"):
            raise ConfigError(f"unknown supervised loss '{loss}'; use 'relative_l2' or 'mse'")
        self.loss = loss

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        pred = model(batch["x"])
        target = batch["y"]
        if self.loss == "mse":
            return {"loss": torch.nn.functional.mse_loss(pred, target), "pred": pred.detach()}
        return {"loss": relative_l2(pred, target).mean(), "pred": pred.detach()}

    def config(self) -> dict[str, Any]:
        return {"name": "supervised", "loss": self.loss}
