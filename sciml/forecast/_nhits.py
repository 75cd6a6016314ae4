"""N-HiTS: N-BEATS with multi-rate input pooling and interpolated forecasts (Challu et al., AAAI 2023)."""

from __future__ import annotations

import math

import torch
from torch import nn

from sciml.core.errors import ConfigError
from sciml.forecast._common import check_positive_int
from sciml.forecast._neural import _TorchForecaster
from sciml.forecast._protocol import register_forecaster

__all__ = ["NHiTS"]


class _HiTSBlock(nn.Module):
    def __init__(self, dim: int, window: int, chunk: int, pool: int, downsample: int, width: int, layers: int):
        super().__init__()
        self.dim, self.window, self.chunk, self.pool = dim, window, chunk, pool
        self.knots = max(1, math.ceil(chunk / downsample))
        n_in = dim * math.ceil(window / pool)
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Linear(n_in if i == 0 else width, width), nn.ReLU()]
        self.fc = nn.Sequential(*mods)
        self.backcast = nn.Linear(width, window * dim)
        self.forecast = nn.Linear(width, self.knots * dim)

    def forward(self, res: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # res [B, L, D]
        pooled = nn.functional.max_pool1d(res.transpose(1, 2), self.pool, ceil_mode=True)
        h = self.fc(pooled.flatten(1))
        back = self.backcast(h).view(-1, self.window, self.dim)
        knots = self.forecast(h).view(-1, self.dim, self.knots)
        fore = nn.functional.interpolate(knots, size=self.chunk, mode="linear", align_corners=True)
        return back, fore.transpose(1, 2)


class _NHiTSNet(nn.Module):
    def __init__(self, dim, window, chunk, pools, downsamples, width, layers):
        super().__init__()
        self.blocks = nn.ModuleList(
            [_HiTSBlock(dim, window, chunk, p, r, width, layers) for p, r in zip(pools, downsamples)]
        )
        self.chunk = chunk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1:]
        res = x - last
        out = torch.zeros(x.shape[0], self.chunk, x.shape[2], dtype=x.dtype, device=x.device)
        for block in self.blocks:
            back, fore = block(res)
            res = res - back
            out = out + fore
        return last + out


@register_forecaster("nhits", doc="N-HiTS (multi-rate pooling, interpolated forecasts), window -> chunk")
class NHiTS(_TorchForecaster):
    """N-HiTS (Challu, Olivares, Oreshkin, Garza, Mergenthaler & Dubrawski, AAAI 2023).

    N-BEATS's residual stack in which block ``i`` reads its input max-pooled in time by
    ``pools[i]`` and predicts ``ceil(chunk / downsamples[i])`` knots per dimension that are
    linearly interpolated to the ``chunk`` output steps, so the first blocks model the slow
    components and the last ones the fast. The window is taken relative to its last state;
    the backcast is at full resolution (ours; the paper interpolates it too). Trained with
    :class:`sciml.training.Trainer` (MSE, Adam); rolled out chunk by chunk.

    Parameters
    ----------
    window, chunk : int
        Input length (the fewest context states) and output length per call.
    pools, downsamples : list of int
        Per block: the input pooling kernel and the forecast's down-sampling ratio.
    width, layers : int
        Each block's MLP.
    steps, batch_size, lr :
        Training budget and optimizer.
    device : str
    seed : int
    """

    def __init__(
        self,
        window: int = 50,
        chunk: int = 10,
        pools: list[int] | None = None,
        downsamples: list[int] | None = None,
        width: int = 128,
        layers: int = 2,
        steps: int = 500,
        batch_size: int = 64,
        lr: float = 1e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.window, self.chunk, self.pools, self.downsamples = window, chunk, pools, downsamples
        self.width, self.layers = width, layers
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()

    def _rates(self) -> tuple[list[int], list[int]]:
        return list(self.pools or [4, 2, 1]), list(self.downsamples or [4, 2, 1])

    def _check_params(self) -> None:
        check_positive_int("NHiTS", width=self.width, layers=self.layers)
        pools, downs = self._rates()
        if len(pools) != len(downs) or not pools:
            raise ConfigError(f"NHiTS pools={pools} and downsamples={downs} must be non-empty lists of one length")
        check_positive_int("NHiTS", **{f"pools[{i}]": p for i, p in enumerate(pools)})
        check_positive_int("NHiTS", **{f"downsamples[{i}]": r for i, r in enumerate(downs)})
        self._check_common()

    def _module(self, dim: int) -> nn.Module:
        pools, downs = self._rates()
        return _NHiTSNet(dim, self.window, self.chunk, pools, downs, self.width, self.layers)
