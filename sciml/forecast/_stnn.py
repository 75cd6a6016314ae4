"""StNN (Hankel-structured layers) and the dense network of the same depth on the delay window.

Both forecasters read a window of ``window`` standardized states ``[B, window, D]``, flatten
it (time-major, ``window D`` features) relative to its last state, and predict the next
``chunk`` states relative to it; the network is :class:`sciml.koopman.stnn.StNN`, with
Hankel-structured layers (``stnn``) or ``nn.Linear`` layers (``delay_mlp``, the paper's
"conventional neural network"). Trained with :class:`sciml.training.Trainer` (MSE, Adam);
rolled out chunk by chunk (:class:`~sciml.forecast._neural._TorchForecaster`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from sciml.core.errors import ConfigError
from sciml.forecast._common import as_train, check_positive_int, standardizer
from sciml.forecast._neural import _TorchForecaster
from sciml.forecast._protocol import register_forecaster
from sciml.koopman.stnn import ACTIVATIONS, StNN

__all__ = ["StNNForecaster", "DelayMLPForecaster"]


class _DelayNet(nn.Module):
    """``[B, window, D] -> [B, chunk, D]``: the flattened window relative to its last state through an :class:`StNN`."""

    def __init__(self, dim: int, window: int, chunk: int, width: int, depth: int, activation: str, structure: str,
                 mode: str = "fft", input_scale: float = 1.0, step_scale: float = 1.0):  # fmt: skip
        super().__init__()
        self.dim, self.chunk = dim, chunk
        self.input_scale, self.step_scale = float(input_scale), float(step_scale)
        self.net = StNN(window * dim, chunk * dim, width, depth, activation, structure=structure, mode=mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1:]
        h = self.net((x - last).flatten(1) / self.input_scale)
        return last + self.step_scale * h.view(-1, self.chunk, self.dim)


class _DelayForecaster(_TorchForecaster):
    """What ``stnn`` and ``delay_mlp`` share (abstract: the subclass names the structure)."""

    structure: str
    width: int
    depth: int
    activation: str

    def _check_params(self) -> None:
        name = type(self).__name__
        check_positive_int(name, width=self.width, depth=self.depth)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"{name} activation={self.activation!r} is unknown; choose from {', '.join(ACTIVATIONS)}")
        self._check_common()

    def _module(self, dim: int) -> nn.Module:
        return _DelayNet(
            dim,
            self.window,
            self.chunk,
            self.width,
            self.depth,
            self.activation,
            self.structure,
            input_scale=float(getattr(self, "input_scale_", 1.0)),
            step_scale=float(getattr(self, "step_scale_", 1.0)),
        )

    def _trainer_options(self) -> dict[str, Any]:
        # cosine decay of the learning rate to 0 over the budget, one step per optimizer step:
        # a constant rate leaves the one-step error at Adam's noise floor, which rollouts amplify
        every = max(int(self.steps) // 50, 1)
        return {"scheduler": "cosine", "scheduler_kwargs": {"T_max": -(-int(self.steps) // every)}, "eval_every": every}

    def fit(self, train: Any, dt: float | None = None) -> _DelayForecaster:
        x = as_train(train, type(self).__name__, min_length=1)
        need = self.window + self.chunk
        if x.shape[1] < need:
            raise ConfigError(
                f"{type(self).__name__} window={self.window} + chunk={self.chunk} needs trajectories of at least "
                f"{need} states, got {x.shape[1]}; lower window or pass longer trajectories"
            )
        mean, std = standardizer(x)
        z = (x - mean) / std
        # the network sees the window relative to its last state, divided by its rms, and predicts the
        # next states relative to the last one in units of the rms one-step change (both of the data)
        win = np.lib.stride_tricks.sliding_window_view(z, self.window, axis=1)  # [N, T', D, window]
        self.input_scale_ = float(np.sqrt(np.mean((win - win[..., -1:]) ** 2))) or 1.0
        self.step_scale_ = float(np.sqrt(np.mean(np.diff(z, axis=1) ** 2))) or 1.0
        return super().fit(train, dt)

    def network(self) -> nn.Module:
        """The fitted network ``[B, window, D] -> [B, chunk, D]`` on standardized states (in eval mode)."""
        self.check_fitted()
        return self._net()

    @property
    def n_parameters(self) -> int:
        """Trainable parameters of the network (known after ``fit``)."""
        self.check_fitted()
        return int(self.weights_.size)


_PARAMS_DOC = """
    Parameters
    ----------
    window : int
        Delays: states in the input window (the fewest context states of a forecast).
    chunk : int
        States predicted per call; longer horizons are rolled out.
    width, depth : int
        Hidden features per layer and hidden layers (``depth + 1`` weight matrices).
    activation : str
        ``tanh`` (default), ``relu``, ``gelu``, ``silu`` or ``identity``.
    steps, batch_size, lr :
        Training budget (optimizer steps) and Adam's learning rate.
    device : str
    seed : int
"""


@register_forecaster("stnn", doc="StNN: Hankel-structured layers (O(n) weights, FFT products) on the delay window")
class StNNForecaster(_DelayForecaster):
    __doc__ = (
        """Hankel-structured neural network on the delay window (Aluvihare, Lingsch, Li & Perera, arXiv:2503.23697).

    Every weight matrix is a Hankel matrix (:class:`sciml.koopman.stnn.HankelLinear`: ``n + m - 1``
    weights for ``n`` inputs and ``m`` outputs, applied by the FFT), so the network holds
    ``O(width)`` parameters per layer instead of ``O(width^2)``; ``delay_mlp`` is the dense
    network of the same depth and width.
"""
        + _PARAMS_DOC
    )

    structure = "hankel"

    def __init__(
        self,
        window: int = 8,
        chunk: int = 5,
        width: int = 64,
        depth: int = 3,
        activation: str = "tanh",
        steps: int = 1000,
        batch_size: int = 256,
        lr: float = 3e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.window, self.chunk, self.width, self.depth, self.activation = window, chunk, width, depth, activation
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()


@register_forecaster("delay_mlp", doc="dense MLP on the delay window (the StNN's conventional-network counterpart)")
class DelayMLPForecaster(_DelayForecaster):
    __doc__ = (
        """A fully connected network on the flattened delay window: the StNN's layers, dense.

    The "conventional neural network" of Aluvihare et al. (arXiv:2503.23697): ``nn.Linear``
    layers of the same depth and width as ``stnn``, the same input, target and training.
"""
        + _PARAMS_DOC
    )

    structure = "dense"

    def __init__(
        self,
        window: int = 8,
        chunk: int = 5,
        width: int = 64,
        depth: int = 3,
        activation: str = "tanh",
        steps: int = 1000,
        batch_size: int = 256,
        lr: float = 3e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.window, self.chunk, self.width, self.depth, self.activation = window, chunk, width, depth, activation
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()
