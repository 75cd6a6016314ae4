"""Distributed data parallel helpers (``torchrun``).

Under ``torchrun --nproc_per_node=K`` the environment holds ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`init_distributed` starts the process group with the gloo backend
on CPU and NCCL on CUDA. Rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["init_distributed", "shutdown_distributed", "world_size", "rank", "is_main_process", "all_reduce_mean", "EpochSampler"]


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


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    if world_size() > 1:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= world_size()
    return t


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

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

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
        return iter(self._order())

    def __len__(self) -> int:
        return (self.n + self.world - 1) // self.world if self.world > 1 else self.n
