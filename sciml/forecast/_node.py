"""Neural ODE forecaster: our NDE family's NeuralODE with an MLP vector field, trained by multiple shooting."""

from __future__ import annotations

import torch
from torch import nn

from sciml.core.errors import ConfigError
from sciml.forecast._common import check_positive_int
from sciml.forecast._neural import _TorchForecaster
from sciml.forecast._protocol import register_forecaster
from sciml.nde import MLPVectorField, NeuralODE

__all__ = ["NeuralODEForecaster"]


class _ShootingNet(nn.Module):
    """From the window's last state, the next ``chunk`` states of ``dz/ds = f(z)`` (``s`` in samples)."""

    def __init__(self, dim: int, chunk: int, hidden: int, depth: int, substeps: int):
        super().__init__()
        self.chunk, self.substeps = chunk, substeps
        self.ode = NeuralODE(MLPVectorField(dim, hidden=hidden, depth=depth), method="rk4", step_size=1.0 / substeps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        times = torch.arange(self.chunk + 1, dtype=x.dtype, device=x.device)
        path = self.ode(x[:, -1], times)  # [chunk + 1, B, D]
        return path[1:].transpose(0, 1)


@register_forecaster("node", doc="neural ODE (sciml.nde, MLP field, RK4), multiple shooting with the Trainer")
class NeuralODEForecaster(_TorchForecaster):
    """Neural ODE (Chen et al., NeurIPS 2018) of the standardized state, from :mod:`sciml.nde`.

    ``dz/ds = f_theta(z)`` with ``f_theta`` an :class:`~sciml.nde.MLPVectorField` (``depth``
    hidden layers of ``hidden`` tanh units) and ``s`` time in samples, integrated by
    :class:`~sciml.nde.NeuralODE` (our solver, classical RK4, ``substeps`` steps per sample).
    Trained with :class:`sciml.training.Trainer` by multiple shooting: from every training
    state the next ``chunk`` states are integrated and compared (MSE, Adam). A forecast
    integrates from the last context state (``min_context = 1``).

    Parameters
    ----------
    chunk : int
        Shooting length in samples (also the rollout's chunk).
    hidden, depth : int
        The vector field's MLP.
    substeps : int
        RK4 steps per sample.
    steps, batch_size, lr :
        Training budget and optimizer.
    device : str
    seed : int
    """

    window = 1

    def __init__(
        self,
        chunk: int = 10,
        hidden: int = 64,
        depth: int = 2,
        substeps: int = 1,
        steps: int = 500,
        batch_size: int = 64,
        lr: float = 3e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.chunk, self.hidden, self.depth, self.substeps = chunk, hidden, depth, substeps
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int("NeuralODEForecaster", hidden=self.hidden, depth=self.depth, substeps=self.substeps)
        if self.chunk > 1000:
            raise ConfigError(f"NeuralODEForecaster chunk={self.chunk} is long for shooting; try 10")
        self._check_common()

    def _module(self, dim: int) -> nn.Module:
        return _ShootingNet(dim, self.chunk, self.hidden, self.depth, self.substeps)
