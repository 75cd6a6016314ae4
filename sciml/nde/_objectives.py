"""Objectives that train neural ODEs/SDEs with a solver-heuristic regularizer, and the registered models."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.objectives import AbstractObjective
from sciml.core.registry import MODELS, OBJECTIVES
from sciml.nde._node import NeuralODE, neural_ode, node_classifier
from sciml.nde._regularizers import build_regularizer
from sciml.nde._sde import NeuralSDE

__all__ = ["NDEClassification", "NDERegression", "SDEMomentMatching"]

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
        self.step = 0  # the optimizer step of the regularizer's schedule
        self._driven = False  # True once a Trainer reports the steps

    def begin_step(self, step: int) -> None:
        """The Trainer's global step: the schedule follows optimizer steps, not closure calls, and survives resume."""
        self.step, self._driven = int(step), True

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state.get("step", 0))

    def _solve(self, model: nn.Module, x: torch.Tensor, t: torch.Tensor | None):
        encode, dynamics, decode = _parts(model)
        y0 = encode(x)
        training = dynamics.training and torch.is_grad_enabled()
        if self.regularizer is not None and training:
            out, reg = self.regularizer.solve(dynamics, y0, t, step=self.step)
            if not self._driven:  # called outside a Trainer: count the training solves
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


@OBJECTIVES.register("sde_moment_matching")
class SDEMomentMatching(_NDEObjective):
    """Fit a neural SDE's marginal mean and variance to those of observed sample paths.

    The batch holds observed paths ``x`` ``[batch, n_times, dim]`` at the shared times
    ``t`` ``[n_times]`` (a ``TrajectoryDataset`` of whole trajectories; its stacked
    ``[batch, n_times]`` times must have equal rows). The targets are the mean and the
    (unbiased) variance over the batch at each time, ``[n_times, dim]``. The model
    simulates ``paths`` paths from the observed initial states ``x[:, 0]`` (repeated
    cyclically to ``paths`` rows), through the regularizer while training, and its moments
    are taken the same way. The loss is

        MSE(mean) + MSE(var)   (means over times and components),

    the benchmark's form (``normalize=False``, the default). With ``normalize=True`` the
    two terms are divided by ``v`` and ``v**2``, ``v`` the target variance averaged over
    times and components: the loss becomes invariant to the data's units. (A per-time
    normalization would divide by the zero variance of paths that share their start.)
    Returns ``loss = task_loss + reg``, ``task_loss``, ``reg`` and ``nfe`` (and
    ``n_rejected`` for solvers that report it).

    Evaluation draws its Brownian motion from ``eval_seed`` (inside a forked RNG), so test
    metrics are reproducible by ``sciml eval`` and evaluating does not move the training
    RNG stream. :meth:`predict` returns one simulated path per observed path,
    ``[batch, n_times, dim]``, started from its initial state.

    Parameters
    ----------
    regularizer, regularizer_kwargs
        As in :class:`NDEClassification`; ``"sde_local_error"`` is the SDE one.
    paths : int
        Simulated paths per step; the Monte Carlo error of the model's variance is about
        ``var * sqrt(2 / paths)``. 256 is the benchmark's setting.
    normalize : bool
        Divide the terms by the target variance scale (see above).
    eval_seed : int or None
        Seed of the Brownian motion outside training; None draws from torch's global RNG.
    """

    name = "sde_moment_matching"

    def __init__(
        self,
        regularizer: Any = None,
        regularizer_kwargs: dict[str, Any] | None = None,
        *,
        paths: int = 256,
        normalize: bool = False,
        eval_seed: int | None = 0,
    ):
        super().__init__(regularizer, regularizer_kwargs)
        if int(paths) < 2:
            raise ConfigError(f"sde_moment_matching needs paths >= 2 to estimate a variance, got {paths}")
        self.paths, self.normalize = int(paths), bool(normalize)
        self.eval_seed = None if eval_seed is None else int(eval_seed)

    @staticmethod
    def _layout(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x, t = batch["x"], batch["t"]
        if x.ndim != 3:
            raise ShapeError(f"sde_moment_matching needs observed paths x [batch, n_times, dim], got {tuple(x.shape)}")
        if x.shape[0] < 2:
            raise ShapeError(
                "sde_moment_matching needs at least 2 observed paths per batch to estimate a variance; "
                "raise the batch size or choose one that leaves no batch of a single path"
            )
        if t.ndim == 2:
            if not bool((t == t[:1]).all()):
                raise ShapeError("sde_moment_matching needs times shared by the paths of a batch, not per-sample times")
            t = t[0]
        if t.shape[-1] != x.shape[1]:
            raise ShapeError(f"{t.shape[-1]} times for {x.shape[1]} observations per path")
        return x, t

    def _simulate(self, model: nn.Module, y0: torch.Tensor, t: torch.Tensor):
        """``_solve`` with a fixed Brownian seed outside training."""
        _, dynamics, _ = _parts(model)
        if self.eval_seed is None or (dynamics.training and torch.is_grad_enabled()):
            return self._solve(model, y0, t)
        devices = [y0.device] if y0.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.eval_seed)
            return self._solve(model, y0, t)

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, t = self._layout(batch)
        y0 = x[torch.arange(self.paths, device=x.device) % x.shape[0], 0]
        out, reg, decode, logs = self._simulate(model, y0, t)
        ys = decode(out)  # [n_times, paths, dim]
        mean_error = ((ys.mean(1) - x.mean(0)) ** 2).mean()
        target_var = x.var(0)
        var_error = ((ys.var(1) - target_var) ** 2).mean()
        if self.normalize:
            scale = target_var.mean().clamp_min(torch.finfo(x.dtype).tiny)
            mean_error, var_error = mean_error / scale, var_error / scale**2
        task = mean_error + var_error
        return {"loss": task + reg, "task_loss": task.detach(), "reg": reg.detach(), **logs}

    def predict(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x, t = self._layout(batch)
        out, _, decode, _ = self._simulate(model, x[:, 0], t)
        return decode(out).transpose(0, 1)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "paths": self.paths, "normalize": self.normalize, "eval_seed": self.eval_seed}
