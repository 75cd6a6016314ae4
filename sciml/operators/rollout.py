"""Autoregressive rollout: the ``rollout`` objective and rollout error against time.

Time-dependent data come as windows (:class:`~sciml.data.FieldDataset` with
``mode="window"``): ``x [B, h*C, *S]`` holds ``h`` consecutive snapshots of ``C``
channels folded into channels, ``y [B, k*C, *S]`` the next ``k`` snapshots, and
``t [B, h + k]`` their times. A one-step model maps a window of ``h`` snapshots to the
next ``m`` snapshots (``m = 1`` usually; ``[B, h*C, *S] -> [B, m*C, *S]``); a rollout
appends its prediction to the window, drops the oldest snapshots and calls it again.

Training schemes (Brandstetter, Worrall, Welling: "Message passing neural PDE solvers",
ICLR 2022, for the pushforward trick):

``teacher_forcing``
    Every call sees the true window (shifted by ``m`` snapshots per call): ``k / m``
    independent one-step losses, computed in one batched forward. Cheap and stable, but
    the model never sees its own errors, so long rollouts drift.
``unrolled``
    Predictions are fed back for ``k`` steps and the loss is taken over the whole
    rollout; with ``backprop_steps=b`` (the pushforward trick) the first calls run
    without gradient and only the last ``b`` calls are differentiated, and only their
    steps enter the loss: the model learns to correct the distribution of its own inputs
    at the memory of ``b`` steps.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.metrics import relative_l2
from sciml.core.objectives import AbstractObjective
from sciml.core.registry import OBJECTIVES

__all__ = ["Rollout", "rollout", "rollout_error_curve", "snapshot_channels"]

MODES = ("teacher_forcing", "unrolled")


def snapshot_channels(batch: dict[str, torch.Tensor], channels: int | None = None) -> int:
    """Channels ``C`` of one snapshot of a window batch.

    ``channels`` when given; otherwise ``(x.shape[1] + y.shape[1]) / t.shape[-1]`` from
    the batch's times ``t [B, h + k]`` (what window-mode datasets yield).
    """
    if channels is not None:
        return int(channels)
    x, y = batch["x"], batch["y"]
    if "t" not in batch:
        raise ConfigError(
            "the rollout objective needs the batch's times 't' (window-mode FieldDataset) to infer the "
            "channels per snapshot; pass channels=C to the objective"
        )
    n_times = int(batch["t"].shape[-1])
    total = int(x.shape[1] + y.shape[1])
    if total % n_times:
        raise ShapeError(
            f"x has {x.shape[1]} and y {y.shape[1]} channels, not a multiple of the {n_times} times in 't'; "
            "use FieldDataset(mode='window') batches or pass channels=C"
        )
    return total // n_times


def _block_size(out: torch.Tensor, channels: int, window: torch.Tensor) -> int:
    if out.shape[2:] != window.shape[2:] or out.shape[1] % channels:
        raise ShapeError(
            f"the model maps a window of shape {tuple(window.shape)} to {tuple(out.shape)}; a rollout model must "
            f"output whole snapshots of {channels} channels at the window's resolution: set out_channels={channels}"
        )
    return out.shape[1] // channels


def rollout(
    model: nn.Module, x: torch.Tensor, steps: int, *, channels: int = 1, backprop_steps: int | None = None
) -> torch.Tensor:
    """Autoregressive rollout of ``steps`` snapshots from the window ``x``.

    Parameters
    ----------
    model : nn.Module
        ``[B, h*C, *S] -> [B, m*C, *S]`` (``m >= 1`` snapshots per call).
    x : Tensor ``[B, h*C, *S]``
        The last ``h`` known snapshots, oldest first.
    steps : int
        Snapshots to predict, ``k``.
    channels : int
        ``C``, channels per snapshot.
    backprop_steps : int, optional
        Differentiate only the last ``backprop_steps`` model calls (the earlier ones run
        under ``torch.no_grad``); ``None`` differentiates all.

    Returns
    -------
    Tensor ``[B, k*C, *S]``
        The predicted snapshots, folded into channels like ``FieldDataset``'s ``y``.
    """
    if steps < 1:
        raise ConfigError(f"rollout steps must be >= 1, got {steps}")
    if x.shape[1] % channels:
        raise ShapeError(f"x has {x.shape[1]} channels, not a multiple of channels={channels}; fix channels")
    return _rollout(model, x, steps, channels, backprop_steps)[0]


def _rollout(
    model: nn.Module, x: torch.Tensor, steps: int, channels: int, backprop_steps: int | None
) -> tuple[torch.Tensor, int, int]:
    """:func:`rollout`, also returning the snapshots per call ``m`` and the first differentiated snapshot."""
    grad_enabled = torch.is_grad_enabled()
    window = x
    # with the pushforward trick the first call usually runs without gradient; redone if not
    with torch.set_grad_enabled(grad_enabled and backprop_steps is None):
        out = model(window)
    block = _block_size(out, channels, window)
    total_calls = math.ceil(steps / block)
    first_trained_call = 0 if backprop_steps is None else max(0, total_calls - backprop_steps)
    if grad_enabled and backprop_steps is not None and first_trained_call == 0:
        out = model(window)
    predictions = [out]
    window = torch.cat([window, out], dim=1)[:, -x.shape[1] :]
    for call in range(1, total_calls):
        with torch.set_grad_enabled(grad_enabled and call >= first_trained_call):
            out = model(window)
        predictions.append(out)
        window = torch.cat([window, out], dim=1)[:, -x.shape[1] :]
    return torch.cat(predictions, dim=1)[:, : steps * channels], block, first_trained_call * block


@OBJECTIVES.register("rollout")
class Rollout(AbstractObjective):
    """Autoregressive training on window batches; evaluation on the ``k``-step rollout.

    Parameters
    ----------
    mode : {"unrolled", "teacher_forcing"}
        See the module docstring. ``unrolled`` (the default) trains on the model's own
        rollout; with ``k = 1`` both modes give the same loss.
    backprop_steps : int, optional
        Pushforward trick for ``unrolled``: differentiate only the last
        ``backprop_steps`` model calls and take the loss on their snapshots. ``None``
        backpropagates through the whole rollout (memory grows with ``k``). 1 is the
        usual choice for long horizons.
    steps : int, optional
        Train on the first ``steps`` snapshots of ``y`` only (default: all ``k``).
        Evaluation (:meth:`predict`) always rolls out all ``k``.
    channels : int, optional
        Channels per snapshot ``C``; inferred from the batch's times ``t`` when absent.
    loss : {"relative_l2", "mse"}
        Per-snapshot loss, averaged over the trained snapshots and the batch.

    Notes
    -----
    The objective returns ``loss`` (optimized) and ``rollout_relative_l2`` (relative L2
    of all trained snapshots, whatever their gradient). :meth:`predict` returns the
    ``k``-step rollout ``[B, k*C, *S]``, so the Trainer's metrics measure rollout error.
    Under DDP, ``unrolled`` with more than one differentiated call runs the wrapped
    model several times before one backward: use ``backprop_steps=1`` or
    ``teacher_forcing`` there.
    """

    def __init__(
        self,
        mode: str = "unrolled",
        backprop_steps: int | None = None,
        steps: int | None = None,
        channels: int | None = None,
        loss: str = "relative_l2",
    ):
        if mode not in MODES:
            raise ConfigError(f"unknown rollout mode '{mode}'; use one of {', '.join(MODES)}")
        if loss not in ("relative_l2", "mse"):
            raise ConfigError(f"unknown rollout loss '{loss}'; use 'relative_l2' or 'mse'")
        if backprop_steps is not None and int(backprop_steps) < 1:
            raise ConfigError(f"backprop_steps must be >= 1 or None, got {backprop_steps}")
        if steps is not None and int(steps) < 1:
            raise ConfigError(f"rollout steps must be >= 1 or None, got {steps}")
        self.mode, self.loss = mode, loss
        self.backprop_steps = None if backprop_steps is None else int(backprop_steps)
        self.steps = None if steps is None else int(steps)
        self.channels = None if channels is None else int(channels)

    def model_out_channels(self, dataset) -> int:
        """Channels one model call predicts: ``channels`` if given, else one snapshot of the dataset."""
        return int(self.channels or dataset.channels)

    def _per_snapshot(self, pred: torch.Tensor, target: torch.Tensor, channels: int) -> torch.Tensor:
        """Loss per snapshot ``[n]`` (batch mean) of ``[B, n*C, *S]`` tensors."""
        b, n = pred.shape[0], pred.shape[1] // channels
        p = pred.reshape(b, n, channels, *pred.shape[2:]).transpose(0, 1).flatten(2)
        t = target.reshape(b, n, channels, *target.shape[2:]).transpose(0, 1).flatten(2)
        if self.loss == "mse":
            return ((p - t) ** 2).mean(dim=2).mean(dim=1)
        return torch.stack([relative_l2(p[j], t[j]).mean() for j in range(n)])

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, y = batch["x"], batch["y"]
        channels = snapshot_channels(batch, self.channels)
        k = y.shape[1] // channels
        steps = k if self.steps is None else min(self.steps, k)
        target = y[:, : steps * channels]
        if self.mode == "teacher_forcing":
            pred = self._teacher_forcing(model, x, y, channels, steps)
            per_step = self._per_snapshot(pred, target, channels)
            return {"loss": per_step.mean(), "rollout_relative_l2": per_step.detach().mean()}
        pred, _, first_trained = _rollout(model, x, steps, channels, self.backprop_steps)
        per_step = self._per_snapshot(pred, target, channels)
        # only the snapshots of differentiated calls carry gradient: the pushforward loss
        loss = per_step[first_trained:].mean()
        return {"loss": loss, "rollout_relative_l2": per_step.detach().mean()}

    def _teacher_forcing(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, channels: int, steps: int
    ) -> torch.Tensor:
        h = x.shape[1] // channels
        sequence = torch.cat([x, y], dim=1)
        first = model(x)
        block = _block_size(first, channels, x)
        starts = list(range(block, steps, block))
        if not starts:
            return first[:, : steps * channels]
        # the shifted true windows, batched into one forward
        windows = torch.cat([sequence[:, s * channels : (s + h) * channels] for s in starts], dim=0)
        rest = model(windows).split(x.shape[0], dim=0)
        return torch.cat([first, *rest], dim=1)[:, : steps * channels]

    @torch.no_grad()
    def predict(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The ``k``-step autoregressive rollout ``[B, k*C, *S]`` from ``batch["x"]``."""
        channels = snapshot_channels(batch, self.channels)
        return rollout(model, batch["x"], batch["y"].shape[1] // channels, channels=channels)

    def config(self) -> dict[str, Any]:
        return {
            "name": "rollout",
            "mode": self.mode,
            "backprop_steps": self.backprop_steps,
            "steps": self.steps,
            "channels": self.channels,
            "loss": self.loss,
        }


@torch.no_grad()
def rollout_error_curve(
    model: nn.Module,
    dataset: Dataset | Any,
    steps: int | None = None,
    *,
    channels: int | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Relative L2 error of the autoregressive rollout at each step, averaged over samples.

    Parameters
    ----------
    model : nn.Module
        One-step model ``[B, h*C, *S] -> [B, m*C, *S]``.
    dataset : FieldDataset (window mode) or iterable of window batches
        Each item's ``y`` holds at least ``steps`` snapshots.
    steps : int, optional
        Rollout length; default the dataset's horizon ``k``.
    channels : int, optional
        ``C``; default ``dataset.channels`` or inferred from the batch's times.

    Returns
    -------
    Tensor ``[steps]`` (float64, CPU)
        Entry ``j`` is the mean over samples of ``||u_pred(t_j) - u(t_j)|| / ||u(t_j)||``
        for the ``j+1``-th predicted snapshot.
    """
    if channels is None:
        channels = getattr(dataset, "channels", None)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False) if isinstance(dataset, Dataset) else dataset
    model.eval()
    total: torch.Tensor | None = None
    count = 0
    for batch in loader:
        batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
        c = snapshot_channels(batch, channels)
        k = batch["y"].shape[1] // c
        n = k if steps is None else int(steps)
        if n > k:
            raise ConfigError(
                f"rollout_error_curve: steps={n} exceeds the {k} target snapshots; build the dataset with horizon>={n}"
            )
        pred = rollout(model, batch["x"], n, channels=c)
        b = pred.shape[0]
        p = pred.reshape(b, n, -1)
        t = batch["y"][:, : n * c].reshape(b, n, -1)
        errors = ((p - t).norm(dim=2) / (t.norm(dim=2) + 1e-12)).sum(dim=0).double().cpu()
        total = errors if total is None else total + errors
        count += b
    if total is None:
        raise ConfigError("rollout_error_curve: the dataset yielded no batches")
    return total / count
