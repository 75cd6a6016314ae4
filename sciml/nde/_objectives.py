"""Objectives that train neural ODEs/SDEs with a solver-heuristic regularizer, and the registered models."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciml.errors import ConfigError, ShapeError
from sciml.nde._node import NeuralODE, neural_ode, node_classifier
from sciml.nde._regularizers import build_regularizer
from sciml.nde._sde import NeuralSDE
from sciml.registry import MODELS, OBJECTIVES
from sciml.training.objectives import AbstractObjective

__all__ = ["NDEClassification", "NDERegression"]

MODELS.register("node_classifier", node_classifier)
MODELS.register("neural_ode", neural_ode)


def _parts(model: nn.Module):
    """(encode, dynamics, decode) of a NeuralODE/NeuralSDE or of a model exposing them."""
    net = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    if isinstance(net, (NeuralODE, NeuralSDE)):
        return (lambda x: x), net, (lambda y: y)
    dynamics = getattr(net, "dynamics", None)
    if not isinstance(dynamics, (NeuralODE, NeuralSDE)) or not hasattr(net, "encode") or not hasattr(net, "decode"):
        raise ConfigError(
            f"the NDE objectives need a NeuralODE/NeuralSDE, or a model with encode(), decode() and a "
            f"`dynamics` NeuralODE/NeuralSDE (e.g. NeuralDEModel); got {type(net).__name__}"
        )
    return net.encode, dynamics, net.decode


class _NDEObjective(AbstractObjective):
    """Shared part: the regularized solve and the logged solver statistics."""

    name = "abstract"

    def __init__(self, regularizer: Any = None, regularizer_kwargs: dict[str, Any] | None = None):
        self.regularizer = build_regularizer(regularizer, **(regularizer_kwargs or {}))
        self.step = 0  # optimizer steps seen, for the regularizer's schedule

    def _solve(self, model: nn.Module, x: torch.Tensor, t: torch.Tensor | None):
        encode, dynamics, decode = _parts(model)
        y0 = encode(x)
        training = dynamics.training and torch.is_grad_enabled()
        if self.regularizer is not None and training:
            out, reg = self.regularizer.solve(dynamics, y0, t, step=self.step)
            self.step += 1
        else:
            out, reg = dynamics(y0, t), y0.new_zeros(())
        stats = dynamics.last_stats
        logs = {"nfe": torch.tensor(float(stats.nfe))}
        if hasattr(stats, "n_rejected"):
            logs["n_rejected"] = torch.tensor(float(stats.n_rejected))
        return out, reg, decode, logs

    def config(self) -> dict[str, Any]:
        reg = self.regularizer.config() if self.regularizer is not None else None
        return {"name": self.name, "regularizer": reg}


@OBJECTIVES.register("node_classification")
class NDEClassification(_NDEObjective):
    """Cross-entropy on ``decode(y(t1))`` plus a solver-heuristic regularizer.

    ``batch["x"]`` ``[batch, features]`` is encoded to ``y0``, integrated over the dynamics'
    ``t_span`` (through the regularizer while training), decoded to logits and compared with
    the integer labels ``batch["y"]`` ``[batch]``. Returns ``loss = task_loss + reg``,
    ``task_loss``, ``reg``, ``nfe`` (the forward solve's function evaluations; the Trainer
    averages it per epoch), ``n_rejected`` (ODE) and ``accuracy``.

    Parameters
    ----------
    regularizer : str, dict, regularizer object or None
        ``"global_error"``, ``"global_stiffness"``, ``"local_error"``, ``"sde_local_error"``,
        ``"steer"``, a config ``{"name": ..., **kwargs}``, or an instance.
    regularizer_kwargs : dict, optional
        Arguments of a regularizer given by name (``weight``, ``schedule``, ``decay``, ...).
    """

    name = "node_classification"

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out, reg, decode, logs = self._solve(model, batch["x"], None)
        logits = decode(out)
        labels = batch["y"].long().reshape(-1)
        if logits.shape[0] != labels.shape[0]:
            raise ShapeError(f"{logits.shape[0]} logits for {labels.shape[0]} labels")
        task = F.cross_entropy(logits, labels)
        accuracy = (logits.detach().argmax(-1) == labels).to(torch.float32).mean()
        return {"loss": task + reg, "task_loss": task.detach(), "reg": reg.detach(), **logs, "accuracy": accuracy}

    def predict(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(batch["x"])


@OBJECTIVES.register("node_regression")
class NDERegression(_NDEObjective):
    """Mean squared error of the trajectory at the observation times, plus a regularizer.

    Two batch layouts:

    * ``x`` ``[batch, dim]`` (the state at the earliest time), ``t`` ``[n_times]`` or
      ``[batch, n_times]`` (per-sample, possibly irregular, times), ``y`` ``[batch, n_times,
      dim]`` (observations at ``t``), optional ``mask`` ``[batch, n_times]`` or ``[batch,
      n_times, dim]`` (1 = observed);
    * ``x`` ``[batch, n_times, dim]`` whole trajectories (a ``TrajectoryDataset`` item)
      with ``t``: the first state is ``y0``, all states are targets.

    Per-sample times are merged into one sorted grid (one solve for the batch) and the
    predictions gathered back. ``encode`` maps ``y0`` to the latent state and ``decode`` maps
    states back (identity for a bare NeuralODE). Returns ``loss``, ``task_loss``, ``reg``,
    ``nfe``, ``n_rejected``.

    Parameters
    ----------
    regularizer, regularizer_kwargs
        As in :class:`NDEClassification`.
    """

    name = "node_regression"

    @staticmethod
    def _layout(batch: dict[str, torch.Tensor]):
        x, t = batch["x"], batch["t"]
        if "y" in batch:
            y0, target = x, batch["y"]
        else:
            if x.ndim != 3:
                raise ShapeError(f"node_regression without y needs x [batch, n_times, dim], got {tuple(x.shape)}")
            y0, target = x[:, 0], x
        if target.ndim != 3 or target.shape[0] != y0.shape[0]:
            raise ShapeError(
                f"targets must be [batch, n_times, dim], got {tuple(target.shape)} for {y0.shape[0]} samples"
            )
        if t.ndim == 2 and bool((t == t[:1]).all()):
            t = t[0]
        if t.shape[-1] != target.shape[1]:
            raise ShapeError(f"{t.shape[-1]} times for {target.shape[1]} observations per sample")
        return y0, t, target

    def _predict(self, model: nn.Module, batch: dict[str, torch.Tensor]):
        y0, t, target = self._layout(batch)
        if t.ndim == 1:
            out, reg, decode, logs = self._solve(model, y0, t)
            pred = decode(out).transpose(0, 1)  # [n_times, batch, dim] -> [batch, n_times, dim]
            return pred, target, reg, logs
        grid, index = torch.unique(t, sorted=True, return_inverse=True)  # index [batch, n_times]
        if bool((t.min(dim=1).values != grid[0]).any()):
            raise ShapeError(
                "with per-sample times, every sample must start at the same (earliest) time, where x is given"
            )
        out, reg, decode, logs = self._solve(model, y0, grid)
        states = decode(out)  # [n_grid, batch, dim]
        batch_index = torch.arange(t.shape[0], device=t.device)[:, None].expand_as(index)
        return states[index, batch_index], target, reg, logs

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        pred, target, reg, logs = self._predict(model, batch)
        squared = (pred - target) ** 2
        mask = batch.get("mask")
        if mask is None:
            task = squared.mean()
        else:
            mask = mask.to(squared.dtype)
            if mask.ndim == 2:
                mask = mask[..., None].expand_as(squared)
            task = (squared * mask).sum() / mask.sum().clamp_min(1.0)
        return {"loss": task + reg, "task_loss": task.detach(), "reg": reg.detach(), **logs}

    def predict(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._predict(model, batch)[0]
