"""The batch contract: batches are dicts of tensors.

Keys every part understands: ``x`` (input), ``y`` (target), ``t`` (times), ``grid``
(coordinates), ``mask`` (observed entries), ``index`` (sample id); tasks add their own.
The first axis of every tensor is the batch axis, except ``t`` and ``grid`` shared by the batch.
"""

from __future__ import annotations

from typing import Any

import torch

from sciml.core.errors import ShapeError

__all__ = ["STANDARD_KEYS", "move_batch", "batch_size_of", "check_batch"]

STANDARD_KEYS = ("x", "y", "t", "grid", "mask", "index")


def move_batch(batch: dict[str, Any], device: torch.device | str) -> dict[str, Any]:
    """Move every tensor of a dict batch to ``device`` (non-blocking)."""
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


def batch_size_of(batch: dict[str, Any]) -> int:
    """The number of samples in a batch: the first axis of ``x`` (or of ``y``; 1 for a collocation batch without either)."""
    for key in ("x", "y"):
        value = batch.get(key)
        if torch.is_tensor(value) and value.ndim:
            return int(value.shape[0])
    return 1


def check_batch(batch: Any, *, required: tuple[str, ...] = ("x",), where: str = "batch") -> dict[str, Any]:
    """Check that ``batch`` is a dict holding ``required`` keys whose tensors share the batch axis."""
    if not isinstance(batch, dict):
        raise ShapeError(f"{where} must be a dict of tensors (keys x, y, ...), got {type(batch).__name__}")
    missing = [k for k in required if k not in batch]
    if missing:
        raise ShapeError(f"{where} lacks the key(s) {', '.join(missing)}; it has {', '.join(sorted(batch))}")
    n = batch_size_of(batch)
    for key in ("x", "y", "mask", "index"):
        value = batch.get(key)
        if torch.is_tensor(value) and value.ndim and int(value.shape[0]) != n:
            raise ShapeError(f"{where}['{key}'] has {int(value.shape[0])} samples but the batch has {n}")
    return batch
