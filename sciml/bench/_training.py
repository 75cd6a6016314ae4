"""What the training benchmarks share: the epoch clock, in-memory field data, the loss, scalar standardization,
and neuraloperator's Trainer driven like sciml's (timed per epoch)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sciml.core.errors import ConfigError
from sciml.core.metrics import relative_l2
from sciml.training import Callback

__all__ = [
    "EpochClock",
    "InMemoryFields",
    "Standardized",
    "add_device_arguments",
    "neuralop_fit",
    "relative_l2_loss",
    "torch_device",
]


def add_device_arguments(parser: Any) -> None:
    """``--device cpu|cuda`` and ``--threads N`` (torch CPU threads, fixed for the whole run)."""
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, fixed for the whole run")


def torch_device(name: str) -> torch.device:
    """``cpu``, or ``cuda`` with an explicit index (sciml's Trainer rejects a bare "cuda"); a one-line error without a GPU."""
    if name != "cuda":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("--device cuda was requested but no CUDA GPU is visible; use --device cpu")
    return torch.device("cuda", torch.cuda.current_device())


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


class InMemoryFields(Dataset):
    """Dict items ``{"x": x[i], "y": y[i]}`` (and ``"t"``, shared, for rollout windows) from tensors in memory."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor | None = None):
        self.x, self.y, self.t = x, y, t
        self.channels = 1

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = {"x": self.x[i], "y": self.y[i]}
        if self.t is not None:
            item["t"] = self.t
        return item


def relative_l2_loss(pred: torch.Tensor, y: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of per-sample relative L2 errors (sciml's ``Supervised`` loss); extra keywords ignored."""
    return relative_l2(pred, y).mean()


class Standardized(nn.Module):
    """``model((x - x_mean) / x_std) * y_std + y_mean`` with scalar statistics; extra keywords are ignored.

    Ignoring keywords lets neuraloperator's Trainer call ``model(**batch)`` (it passes ``y``).
    :class:`sciml.data.transforms.Normalized` with scalar-filled ``ChannelNormalizer(eps=0)``
    gives bitwise the same predictions, but its decode saves one more tensor for backward
    (``std + eps``, 4 bytes a channel), which the operators benchmark's activation memory
    counts: 4.9258 MB per sample became 4.9259 for NS MG-TFNO in the quick preset. This
    wrapper keeps the benchmark's numbers.
    """

    def __init__(self, model: nn.Module, x_mean: float, x_std: float, y_mean: float, y_std: float):
        super().__init__()
        self.model = model
        for name, value in (("x_mean", x_mean), ("x_std", x_std), ("y_mean", y_mean), ("y_std", y_std)):
            self.register_buffer(name, torch.tensor(float(value)))

    def forward(self, x: torch.Tensor, **_: Any) -> torch.Tensor:
        return self.model((x - self.x_mean) / self.x_std) * self.y_std + self.y_mean


def neuralop_fit(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    epochs: int,
    device: torch.device,
    before_epoch: Callable[[int], None] | None = None,
) -> tuple[list[float], list[float]]:
    """Train with ``neuralop.training.Trainer`` (no evaluation, not verbose) on ``relative_l2_loss``.

    Returns the seconds of every epoch after the first (:class:`EpochClock`) and every epoch's
    mean batch loss. ``before_epoch(epoch)`` runs before each epoch (a sampler's ``set_epoch``).
    """
    from neuralop.training import Trainer as NeuralopTrainer

    clock = EpochClock(device)
    trainer = NeuralopTrainer(model=model, n_epochs=epochs, device=device, verbose=False, eval_interval=epochs + 1)
    train_one_epoch = trainer.train_one_epoch
    losses: list[float] = []

    def timed_epoch(epoch, *args, **kwargs):
        if before_epoch is not None:
            before_epoch(epoch)
        out = train_one_epoch(epoch, *args, **kwargs)
        losses.append(out[0])  # mean over batches of the batch loss
        clock.stamp()
        return out

    trainer.train_one_epoch = timed_epoch
    clock.stamp()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*expects losses to sum across the batch.*")
        # neuralop's Trainer calls model(**batch): FNO warns that it ignores the "y" keyword
        warnings.filterwarnings("ignore", message=r".*received unexpected keyword.*")
        trainer.train(loader, {}, optimizer, scheduler, training_loss=relative_l2_loss)
    return clock.durations(), losses
