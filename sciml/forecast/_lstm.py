"""LSTM forecaster: a recurrent network trained by teacher forcing on every step of a window."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from sciml.forecast._common import check_positive_int
from sciml.forecast._neural import _TorchForecaster
from sciml.forecast._protocol import register_forecaster

__all__ = ["LSTMForecaster"]


class _LSTMNet(nn.Module):
    """``z_{t+1} = z_t + W h_t``, ``h_t`` the LSTM's output after reading ``z_1 .. z_t``."""

    def __init__(self, dim: int, hidden: int, layers: int):
        super().__init__()
        self.lstm = nn.LSTM(dim, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.head(self.lstm(x)[0])

    def run(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        h, state = self.lstm(x, state)
        return x[:, -1:] + self.head(h[:, -1:]), state


@register_forecaster("lstm", doc="LSTM, teacher-forced next-step increments, trained with the Trainer")
class LSTMForecaster(_TorchForecaster):
    """Long short-term memory network (Hochreiter & Schmidhuber 1997) as a next-step forecaster.

    Trained with :class:`sciml.training.Trainer` on windows of ``window`` standardized
    states, the loss the mean squared error of the next state at every position of the
    window (teacher forcing). A forecast reads the whole context, then feeds its own
    predictions back one step at a time, carrying the recurrent state.

    Parameters
    ----------
    hidden : int
        LSTM width.
    layers : int
        Stacked LSTM layers.
    window : int
        Training window length, and the fewest context states of a forecast.
    steps : int
        Optimizer steps (Adam).
    batch_size : int
    lr : float
    device : str
        ``"cpu"`` or ``"cuda"``; training and forecasting run there in float32.
    seed : int
        Seeds the initialization and the batch order.
    """

    chunk = 1

    def __init__(
        self,
        hidden: int = 64,
        layers: int = 1,
        window: int = 50,
        steps: int = 400,
        batch_size: int = 32,
        lr: float = 3e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.hidden, self.layers, self.window, self.steps = hidden, layers, window, steps
        self.batch_size, self.lr, self.device, self.seed = batch_size, lr, device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int("LSTMForecaster", hidden=self.hidden, layers=self.layers)
        self._check_common()

    def _module(self, dim: int) -> nn.Module:
        return _LSTMNet(dim, self.hidden, self.layers)

    def _targets(self, z: np.ndarray, starts: np.ndarray) -> np.ndarray:
        return z[starts[:, None] + 1 + np.arange(self.window)[None]]

    def _rollout(self, net: nn.Module, window: torch.Tensor, horizon: int) -> torch.Tensor:
        nxt, state = net.run(window)
        out = [nxt]
        for _ in range(horizon - 1):
            nxt, state = net.run(nxt, state)
            out.append(nxt)
        return torch.cat(out, dim=1)
