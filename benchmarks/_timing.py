"""Epoch timing shared by the benchmark scripts (imported as ``_timing``: running
``python benchmarks/NAME.py`` puts this folder on the import path)."""

from __future__ import annotations

import time

import torch

from sciml.training import Callback

__all__ = ["EpochClock"]


class EpochClock(Callback):
    """Wall-clock stamps at epoch ends; ``durations()`` drops the warm-up epoch.

    Call :meth:`stamp` at the start of a fit and after every epoch of a hand-written loop,
    or pass the clock to a sciml ``Trainer`` as a callback (it stamps at each epoch end).
    On CUDA each stamp synchronizes first, so queued kernels count in their epoch.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.stamps: list[float] = []

    def stamp(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.stamps.append(time.perf_counter())

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        self.stamp()

    def durations(self) -> list[float]:
        # stamps[0] is the start of the fit, so diffs[0] is the warm-up epoch
        diffs = [b - a for a, b in zip(self.stamps[:-1], self.stamps[1:])]
        return diffs[1:] if len(diffs) > 1 else diffs
