"""N-BEATS: deep stacks of fully connected blocks with backcast and forecast outputs (Oreshkin et al., ICLR 2020)."""

from __future__ import annotations

import torch
from torch import nn

from sciml.forecast._common import check_positive_int
from sciml.forecast._neural import _TorchForecaster
from sciml.forecast._protocol import register_forecaster

__all__ = ["NBEATS"]


class _Block(nn.Module):
    def __init__(self, n_in: int, n_out: int, width: int, layers: int):
        super().__init__()
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Linear(n_in if i == 0 else width, width), nn.ReLU()]
        self.fc = nn.Sequential(*mods)
        self.backcast = nn.Linear(width, n_in)
        self.forecast = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(x)
        return self.backcast(h), self.forecast(h)


class _NBEATSNet(nn.Module):
    """Generic N-BEATS on the flattened window, relative to the window's last state."""

    def __init__(self, dim: int, window: int, chunk: int, blocks: int, width: int, layers: int):
        super().__init__()
        self.dim, self.window, self.chunk = dim, window, chunk
        self.blocks = nn.ModuleList([_Block(window * dim, chunk * dim, width, layers) for _ in range(blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1:]
        res = (x - last).flatten(1)
        out = torch.zeros(x.shape[0], self.chunk * self.dim, dtype=x.dtype, device=x.device)
        for block in self.blocks:
            back, fore = block(res)
            res = res - back
            out = out + fore
        return last + out.view(-1, self.chunk, self.dim)


@register_forecaster("nbeats", doc="N-BEATS (generic blocks), window -> chunk, trained with the Trainer")
class NBEATS(_TorchForecaster):
    """N-BEATS, generic architecture (Oreshkin, Carpov, Chapados & Bengio, ICLR 2020).

    ``blocks`` residual blocks, each ``layers`` fully connected ReLU layers of ``width``
    with linear backcast and forecast heads; a block reads what the previous blocks left
    unexplained (the residual of their backcasts) and the forecasts add up. The input is the
    flattened window of ``window`` standardized states (all dimensions together, as darts
    does for a multivariate series) taken relative to its last state, the output the next
    ``chunk`` states; longer horizons are rolled out chunk by chunk. Trained with
    :class:`sciml.training.Trainer` (mean squared error of the chunk, Adam).

    Parameters
    ----------
    window : int
        Input length (the fewest context states of a forecast).
    chunk : int
        Output length per call.
    blocks, width, layers : int
        Architecture (the paper's generic model: 30 blocks of 4 layers of 512; ours is small
        by default, for CPU budgets).
    steps, batch_size, lr :
        Training budget and optimizer.
    device : str
    seed : int
    """

    def __init__(
        self,
        window: int = 50,
        chunk: int = 10,
        blocks: int = 3,
        width: int = 128,
        layers: int = 3,
        steps: int = 500,
        batch_size: int = 64,
        lr: float = 1e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.window, self.chunk, self.blocks, self.width, self.layers = window, chunk, blocks, width, layers
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int("NBEATS", blocks=self.blocks, width=self.width, layers=self.layers)
        self._check_common()

    def _module(self, dim: int) -> nn.Module:
        return _NBEATSNet(dim, self.window, self.chunk, self.blocks, self.width, self.layers)
