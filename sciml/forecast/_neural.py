"""What the gradient-trained forecasters share: windows of standardized states, the Trainer, weights as one array.

A subclass builds an ``nn.Module`` mapping a window ``[B, L, D]`` of standardized states to
the next ``chunk`` of them ``[B, chunk, D]`` (:meth:`_TorchForecaster._module`); ``fit``
cuts every training trajectory into ``(window, next chunk)`` pairs and trains the module
with :class:`sciml.training.Trainer` (objective ``Supervised("mse")``, Adam, a step budget,
in memory and quiet); ``forecast`` rolls the module out chunk by chunk from the context.
The weights are saved as one array ``weights_`` (float64, exact for the float32 weights, as every
estimator's learned arrays; with the dimension ``dim_``), so
:func:`~sciml.core.estimator.load_estimator` rebuilds the module and forecasts the same.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from sciml.core.errors import ConfigError
from sciml.core.objectives import Supervised
from sciml.forecast._common import as_train, check_device, check_positive_int, standardizer
from sciml.forecast._protocol import AbstractForecaster, check_context
from sciml.training import Trainer, seed_everything

__all__ = ["_TorchForecaster"]


class _Windows(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


class _TorchForecaster(AbstractForecaster, abc.ABC):
    """Base of the window-to-chunk neural forecasters (abstract: subclasses give ``_module``).

    Subclasses set ``window``, ``chunk``, ``steps``, ``batch_size``, ``lr``, ``device``, ``seed``.
    """

    compute_dtype = "float32"
    window: int
    chunk: int
    steps: int
    batch_size: int
    lr: float
    device: str
    seed: int

    @abc.abstractmethod
    def _module(self, dim: int) -> nn.Module:
        """The network mapping a window ``[B, window, dim]`` to the next ``[B, chunk, dim]``."""

    def _objective(self) -> Any:
        """The Trainer's objective over ``{"x": window, "y": next chunk}`` batches (default: their MSE)."""
        return Supervised("mse")
    def _trainer_options(self) -> dict[str, Any]:
        """Extra keywords of the :class:`~sciml.training.Trainer` (a learning-rate schedule, say); none by default."""
        return {}

    def _targets(self, z: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """The target of each window (default: the next ``chunk`` states)."""
        idx = starts[:, None] + self.window + np.arange(self.chunk)[None]
        return z[idx]

    @property
    def min_context(self) -> int:  # type: ignore[override]
        return self.window

    def _check_common(self) -> None:
        name = type(self).__name__
        check_positive_int(name, window=self.window, chunk=self.chunk, steps=self.steps, batch_size=self.batch_size)
        check_device(name, self.device)
        if not self.lr > 0:
            raise ConfigError(f"{name} lr={self.lr!r} must be > 0; try 1e-3")

    def _net(self) -> nn.Module:
        net = getattr(self, "_net_cache", None)
        if net is None:
            net = self._module(int(self.dim_)).to(self.device)
            vector = torch.as_tensor(np.asarray(self.weights_), dtype=torch.float32, device=self.device)
            torch.nn.utils.vector_to_parameters(vector, net.parameters())
            net.eval()
            self._net_cache = net
        return net

    def _reset(self) -> None:
        super()._reset()
        self._net_cache = None

    def fit(self, train: Any, dt: float | None = None) -> _TorchForecaster:
        name = type(self).__name__
        x = as_train(train, name, min_length=self.window + self.chunk)
        self.mean_, self.std_ = standardizer(x)
        z = ((x - self.mean_) / self.std_).astype(np.float32)
        d = z.shape[-1]
        wins, targets = [], []
        for traj in z:
            starts = np.arange(traj.shape[0] - self.window - self.chunk + 1)
            wins.append(traj[starts[:, None] + np.arange(self.window)[None]])
            targets.append(self._targets(traj, starts))
        data = _Windows(torch.as_tensor(np.concatenate(wins)), torch.as_tensor(np.concatenate(targets)))
        seed_everything(self.seed)
        net = self._module(d)
        trainer = Trainer(
            net,
            self._objective(),
            optimizer="adam",
            lr=self.lr,
            max_steps=self.steps,
            batch_size=min(self.batch_size, len(data)),
            device=self.device,
            seed=self.seed,
            progress=False,
            metrics=(),
            **self._trainer_options(),
        )
        history = trainer.fit(data)
        self.dim_ = int(d)
        self.weights_ = torch.nn.utils.parameters_to_vector(net.parameters()).detach().cpu().numpy().astype(np.float64)
        self.train_loss_ = float(history[-1]["train_loss"]) if history else None
        self._net_cache = None
        self._record_training_data(train, trajectories=int(x.shape[0]), steps=int(x.shape[1]))
        return self

    def _rollout(self, net: nn.Module, window: torch.Tensor, horizon: int) -> torch.Tensor:
        """Default rollout: the next chunk from the last ``window`` states, appended, repeated."""
        out = []
        n = 0
        while n < horizon:
            nxt = net(window[:, -self.window :])
            out.append(nxt)
            window = torch.cat([window, nxt], dim=1)
            n += nxt.shape[1]
        return torch.cat(out, dim=1)[:, :horizon]

    def forecast(self, context: Any, horizon: int) -> np.ndarray:
        self.check_fitted()
        ctx, single = check_context(
            context, horizon, min_context=self.window, dim=int(self.dim_), owner=type(self).__name__
        )
        z = torch.as_tensor(((ctx - self.mean_) / self.std_).astype(np.float32), device=self.device)
        with torch.no_grad():
            pred = self._rollout(self._net(), z, horizon).cpu().numpy().astype(np.float64)
        pred = pred * self.std_ + self.mean_
        return pred[0] if single else pred
