"""Temporal convolutional network: causal dilated convolutions with residual blocks (Bai, Kolter & Koltun 2018)."""

from __future__ import annotations

import torch
from torch import nn

from sciml.forecast._common import check_positive_int
from sciml.forecast._neural import _TorchForecaster
from sciml.forecast._protocol import register_forecaster

__all__ = ["TCN"]


class _CausalBlock(nn.Module):
    def __init__(self, channels_in: int, channels: int, kernel: int, dilation: int):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv1 = nn.Conv1d(channels_in, channels, kernel, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, kernel, dilation=dilation)
        self.skip = nn.Conv1d(channels_in, channels, 1) if channels_in != channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, L]
        h = torch.relu(self.conv1(nn.functional.pad(x, (self.pad, 0))))
        h = torch.relu(self.conv2(nn.functional.pad(h, (self.pad, 0))))
        return torch.relu(h + self.skip(x))


class _TCNNet(nn.Module):
    def __init__(self, dim: int, chunk: int, channels: int, kernel: int, levels: int):
        super().__init__()
        self.dim, self.chunk = dim, chunk
        self.blocks = nn.Sequential(
            *[_CausalBlock(dim if i == 0 else channels, channels, kernel, 2**i) for i in range(levels)]
        )
        self.head = nn.Linear(channels, chunk * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1:]
        h = self.blocks((x - last).transpose(1, 2))[:, :, -1]
        return last + self.head(h).view(-1, self.chunk, self.dim)


@register_forecaster("tcn", doc="temporal convolutional network (causal dilated convolutions), window -> chunk")
class TCN(_TorchForecaster):
    """Temporal convolutional network (Bai, Kolter & Koltun, arXiv:1803.01271, 2018).

    ``levels`` residual blocks of two causal convolutions (kernel ``kernel``, dilation
    ``2^i`` in block ``i``, ReLU), so the receptive field is ``1 + 2 (kernel - 1)(2^levels - 1)``
    states; the last time step's features give the next ``chunk`` states (relative to the
    window's last state) through a linear head. Trained with :class:`sciml.training.Trainer`
    (MSE, Adam); rolled out chunk by chunk.

    Parameters
    ----------
    window : int
        Input length (the fewest context states of a forecast).
    chunk : int
        Output length per call.
    channels, kernel, levels : int
        Width, kernel size and number of residual blocks.
    steps, batch_size, lr :
        Training budget and optimizer.
    device : str
    seed : int
    """

    def __init__(
        self,
        window: int = 50,
        chunk: int = 10,
        channels: int = 32,
        kernel: int = 3,
        levels: int = 4,
        steps: int = 500,
        batch_size: int = 64,
        lr: float = 1e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.window, self.chunk, self.channels, self.kernel, self.levels = window, chunk, channels, kernel, levels
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int("TCN", channels=self.channels, kernel=self.kernel, levels=self.levels)
        self._check_common()

    def _module(self, dim: int) -> nn.Module:
        return _TCNNet(dim, self.chunk, self.channels, self.kernel, self.levels)
