"""Distributed data parallel helpers (``torchrun``).

Under ``torchrun --nproc_per_node=K`` the environment holds ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`init_distributed` starts the process group with the gloo backend
on CPU and NCCL on CUDA. Rank 0 writes checkpoints and logs.

Two ways to use K ranks:

* **Data parallelism** (the Trainer's default for a ``Dataset``): rank ``r`` takes its
  share of every global batch (:class:`EpochSampler`), DDP averages the gradients.
* **Patch parallelism** (a model that splits the patches of its input over the ranks,
  ``mgtfno(..., distribute_patches=True)``): every rank must hold the *same* batch, so
  train on :class:`ReplicatedBatches` (the Trainer does not shard a sampler's batches);
  ``sciml train CONFIG train.parallel=patches`` does both.
  Each rank runs the model on its share of the patches, the outputs are all-gathered
  (differentiably) and every rank computes the same loss. The all-gather's backward sums
  the ranks' output gradients, so a rank's parameter gradients are ``K`` times its own
  patches' contribution, and DDP's mean all-reduce yields exactly the single-process
  gradient: the Trainer needs no other change. Use it when one sample's patches do not fit
  one device; otherwise data parallelism communicates less.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch
import torch.distributed as dist

from sciml.core.errors import ConfigError

__all__ = [
    "init_distributed",
    "shutdown_distributed",
    "world_size",
    "rank",
    "is_main_process",
    "all_reduce_mean",
    "all_reduce_sum",
    "broadcast_module",
    "EpochSampler",
    "ReplicatedBatches",
]


def init_distributed(device: str) -> bool:
    """Initialize the default process group when launched by torchrun. Returns True if distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if str(device).startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
    return True


def shutdown_distributed() -> None:
    """Destroy the default process group if one was started (end of a torchrun job)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process() -> bool:
    return rank() == 0


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if world_size() > 1:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    if world_size() > 1:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= world_size()
    return t


def broadcast_module(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank (in place); a no-op in one process.

    Used after rank 0 alone reloaded a checkpoint (``best.pt``), so every rank evaluates
    the same weights, as patch parallelism requires.
    """
    if world_size() <= 1:
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src=src)


class EpochSampler(torch.utils.data.Sampler[int]):
    """Seeded per-epoch shuffling, split over ranks.

    The permutation depends only on ``(seed, epoch)``; rank ``r`` of ``W`` takes
    ``perm[r::W]``. With a per-rank batch of ``B / W``, the union of the ranks' k-th
    batches is exactly the k-th batch of one process with batch ``B``: single-process and
    DDP runs see the same global batches, and a resumed run sees the same order.
    """

    def __init__(self, n: int, *, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.rank, self.world = rank, world_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch's permutation; ``start`` skips that many of this rank's indices (resume mid-epoch)."""
        self.epoch, self.start = epoch, int(start)

    def _order(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed * 100_003 + self.epoch)
            perm = torch.randperm(self.n, generator=g).tolist()
        else:
            perm = list(range(self.n))
        if self.world > 1:
            pad = (-len(perm)) % self.world
            perm = perm + perm[:pad]
        return perm[self.rank :: self.world]

    def __iter__(self):
        return iter(self._order()[self.start :])

    def __len__(self) -> int:
        full = (self.n + self.world - 1) // self.world if self.world > 1 else self.n
        return max(0, full - self.start)


class ReplicatedBatches:
    """The same global batches on every rank: the training data of a patch-parallel run.

    A sampler ``batches(step) -> dict batch`` for ``Trainer(..., steps_per_epoch=
    batches.steps_per_epoch).fit(batches)``. Batch ``step`` is the ``step % steps_per_epoch``
    th batch of :class:`EpochSampler`'s permutation of epoch ``step // steps_per_epoch``,
    not split over ranks: exactly the batches a one-process Trainer draws from the same
    ``Dataset`` with the same ``batch_size`` and ``seed``, whatever the number of ranks, and
    a resumed run continues the same sequence.

    Parameters
    ----------
    dataset : Dataset of dict items
    batch_size : int
        The global batch, held whole by every rank.
    seed : int
        The Trainer's ``seed`` (the same permutation as its own loader).
    shuffle : bool
    """

    def __init__(self, dataset: torch.utils.data.Dataset, batch_size: int, *, seed: int = 0, shuffle: bool = True):
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.sampler = EpochSampler(len(dataset), seed=seed, shuffle=shuffle)
        self.steps_per_epoch = math.ceil(len(dataset) / self.batch_size)
        self._epoch: int | None = None
        self._order: list[int] = []

    def __call__(self, step: int) -> dict[str, Any]:
        epoch, index = divmod(int(step), self.steps_per_epoch)
        if epoch != self._epoch:
            self.sampler.set_epoch(epoch)
            self._epoch, self._order = epoch, self.sampler._order()
        items = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return torch.utils.data.default_collate([self.dataset[i] for i in items])
