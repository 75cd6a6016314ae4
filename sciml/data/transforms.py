"""Normalizers fitted on the training split only, saved with the model.

Normalizers are ``nn.Module`` s with buffers, so they move with ``.to(device)`` and are
part of a checkpoint's ``state_dict``. :class:`Normalized` wraps any model so it takes and
returns physical units while the inner model sees normalized data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from sciml.core.errors import DataError

__all__ = ["ChannelNormalizer", "TrajectoryNormalizer", "Normalized", "fit_normalizers", "fit_trajectory_normalizer"]


class ChannelNormalizer(nn.Module):
    """Per-channel affine normalization ``(x - mean) / (std + eps)``.

    Statistics are over every axis except the channel axis (axis 1 of a batch
    ``[B, C, *S]``), accumulated in float64 by a streaming (Chan et al.) update so any
    number of batches can be folded in.

    Parameters
    ----------
    channels : int
        Number of channels C.
    eps : float
        Added to the standard deviation; guards constant channels.

    Examples
    --------
    >>> norm = ChannelNormalizer(2)
    >>> x = torch.randn(64, 2, 16) * torch.tensor([1.0, 10.0])[None, :, None] + 3
    >>> _ = norm.update(x).finish()
    >>> torch.allclose(norm.decode(norm.encode(x)), x, atol=1e-4)
    True
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))
        self._count = 0
        self._sum: torch.Tensor | None = None
        self._m2: torch.Tensor | None = None

    def _columns(self, x: torch.Tensor) -> torch.Tensor:
        """The batch as float64 ``[C, n]``: one row of values per channel."""
        if x.ndim < 2 or x.shape[1] != self.mean.numel():
            raise DataError(f"normalizer expects [B, {self.mean.numel()}, ...], got {tuple(x.shape)}")
        return x.detach().double().transpose(0, 1).reshape(x.shape[1], -1)

    def update(self, x: torch.Tensor) -> ChannelNormalizer:
        """Fold a batch ``[B, C, *S]`` into the running statistics."""
        xc = self._columns(x)
        n = xc.shape[1]
        mean_b = xc.mean(dim=1)
        m2_b = ((xc - mean_b[:, None]) ** 2).sum(dim=1)
        if self._count == 0:
            self._sum, self._m2 = mean_b * n, m2_b
        else:
            mean_a = self._sum / self._count
            delta = mean_b - mean_a
            total = self._count + n
            self._m2 = self._m2 + m2_b + delta**2 * self._count * n / total
            self._sum = self._sum + mean_b * n
        self._count += n
        return self

    def finish(self) -> ChannelNormalizer:
        if self._count == 0:
            raise DataError("normalizer saw no data; fit it on a non-empty training split")
        mean = self._sum / self._count
        std = (self._m2 / self._count).sqrt()
        self.mean.copy_(mean.to(self.mean))
        self.std.copy_(std.to(self.std))
        return self

    def _shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (1, -1) + (1,) * (x.ndim - 2)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.view(self._shape(x))) / (self.std.view(self._shape(x)) + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self.std.view(self._shape(x)) + self.eps) + self.mean.view(self._shape(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)


class TrajectoryNormalizer(ChannelNormalizer):
    """Per-component normalization of trajectories ``[B, T, D]`` (any ``[..., D]``): ``(x - mean) / (std + eps)``.

    ``mean`` and ``std`` (``[D]``) are over every axis but the last (samples and time
    steps), accumulated in float64 by the same streaming update as
    :class:`ChannelNormalizer`; fit them on the training split (by sample, or the
    training prefix of a split in time: :func:`fit_trajectory_normalizer`).
    ``encode``/``decode`` broadcast over the last axis, so one normalizer serves the
    context ``x [B, context, D]`` and the targets ``y [B, horizon, D]`` inside
    :class:`Normalized`. The statistics are buffers: they travel in ``state_dict``.

    Parameters
    ----------
    dim : int
        Number of components D.
    eps : float
        Added to the standard deviation; guards constant components.

    Examples
    --------
    >>> norm = TrajectoryNormalizer(3)
    >>> x = torch.randn(8, 50, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([0.0, 2.0, -1.0])
    >>> _ = norm.update(x).finish()
    >>> torch.allclose(norm.decode(norm.encode(x)), x, atol=1e-5)
    True
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__(dim, eps)

    def _columns(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[-1] != self.mean.numel():
            raise DataError(
                f"trajectory normalizer expects [..., {self.mean.numel()}] (components last), got {tuple(x.shape)}; "
                "pass trajectories [B, T, D]"
            )
        return x.detach().double().reshape(-1, x.shape[-1]).transpose(0, 1)

    def _shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (1,) * (x.ndim - 1) + (-1,)


class Normalized(nn.Module):
    """Wrap ``model`` so inputs are encoded and outputs decoded: physical units outside.

    Parameters
    ----------
    model : nn.Module
        Maps normalized ``x [B, Cx, *S]`` to normalized ``y [B, Cy, *S]`` (or, with
        :class:`TrajectoryNormalizer`, ``x [B, context, D]`` to ``y [B, horizon, D]``).
    input_normalizer, output_normalizer : ChannelNormalizer, TrajectoryNormalizer or None
    """

    def __init__(self, model: nn.Module, input_normalizer: ChannelNormalizer | None, output_normalizer: ChannelNormalizer | None):
        super().__init__()
        self.model = model
        self.input_normalizer = input_normalizer
        self.output_normalizer = output_normalizer

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if self.input_normalizer is not None:
            x = self.input_normalizer.encode(x)
        y = self.model(x, *args, **kwargs)
        if self.output_normalizer is not None:
            y = self.output_normalizer.decode(y)
        return y


def fit_normalizers(
    batches: Iterable[dict[str, torch.Tensor]], keys: Iterable[str] = ("x", "y")
) -> dict[str, ChannelNormalizer]:
    """Fit one :class:`ChannelNormalizer` per key over an iterable of (training) batches."""
    norms: dict[str, ChannelNormalizer] = {}
    for batch in batches:
        for key in keys:
            value = batch[key]
            if key not in norms:
                norms[key] = ChannelNormalizer(value.shape[1])
            norms[key].update(value)
    if not norms:
        raise DataError("no training batches to fit normalizers on; check the training split")
    return {k: n.finish() for k, n in norms.items()}


def fit_trajectory_normalizer(trajectories: Any, dim: int | None = None, eps: float = 1e-6) -> TrajectoryNormalizer:
    """Fit a :class:`TrajectoryNormalizer` by streaming over trajectories ``[B, T, D]``.

    Parameters
    ----------
    trajectories : TrajectoryDataset or iterable of arrays / tensors ``[B, T, D]``
        A dataset is read through its ``segments()``: each trajectory of its split once,
        only the split's steps (the training prefix when split in time), not the
        overlapping windows its items are.
    dim : int, optional
        D; taken from the first batch when None.
    eps : float
        Added to the standard deviation.
    """
    batches = trajectories.segments() if hasattr(trajectories, "segments") else trajectories
    norm: TrajectoryNormalizer | None = None if dim is None else TrajectoryNormalizer(int(dim), eps)
    for batch in batches:
        x = torch.as_tensor(np.asarray(batch) if not torch.is_tensor(batch) else batch)
        if norm is None:
            norm = TrajectoryNormalizer(int(x.shape[-1]), eps)
        norm.update(x)
    if norm is None:
        raise DataError("no trajectories to fit the normalizer on; check the training split")
    return norm.finish()
