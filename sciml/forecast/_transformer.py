"""Transformer encoder forecaster: self-attention over a window of states (Vaswani et al. 2017)."""

from __future__ import annotations

import torch
from torch import nn

from sciml.core.errors import ConfigError
from sciml.forecast._common import check_positive_int
from sciml.forecast._neural import _TorchForecaster
from sciml.forecast._protocol import register_forecaster

__all__ = ["TransformerForecaster"]


class _TransformerNet(nn.Module):
    def __init__(self, dim: int, window: int, chunk: int, width: int, heads: int, layers: int):
        super().__init__()
        self.dim, self.chunk = dim, chunk
        self.embed = nn.Linear(dim, width)
        self.position = nn.Parameter(torch.zeros(1, window, width))
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(width, chunk * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1:]
        h = self.encoder(self.embed(x - last) + self.position)[:, -1]
        return last + self.head(h).view(-1, self.chunk, self.dim)


@register_forecaster("transformer", doc="Transformer encoder over a window of states, window -> chunk")
class TransformerForecaster(_TorchForecaster):
    """Transformer encoder (Vaswani et al., NeurIPS 2017) as a window-to-chunk forecaster.

    The window's states (relative to its last state) are embedded linearly with a learned
    position embedding, passed through ``layers`` encoder layers (``heads`` heads, no
    dropout), and the last position's features give the next ``chunk`` states through a
    linear head. Trained with :class:`sciml.training.Trainer` (MSE, Adam); rolled out chunk
    by chunk.

    Parameters
    ----------
    window : int
        Input length (the fewest context states of a forecast).
    chunk : int
        Output length per call.
    width, heads, layers : int
        Model width (divisible by ``heads``), attention heads, encoder layers.
    steps, batch_size, lr :
        Training budget and optimizer.
    device : str
    seed : int
    """

    def __init__(
        self,
        window: int = 50,
        chunk: int = 10,
        width: int = 32,
        heads: int = 4,
        layers: int = 2,
        steps: int = 500,
        batch_size: int = 64,
        lr: float = 1e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.window, self.chunk, self.width, self.heads, self.layers = window, chunk, width, heads, layers
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int("TransformerForecaster", width=self.width, heads=self.heads, layers=self.layers)
        if self.width % self.heads:
            raise ConfigError(f"TransformerForecaster width={self.width} must be divisible by heads={self.heads}")
        self._check_common()

    def _module(self, dim: int) -> nn.Module:
        return _TransformerNet(dim, self.window, self.chunk, self.width, self.heads, self.layers)
