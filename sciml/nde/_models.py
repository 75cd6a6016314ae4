"""Registered NDE models built from the data's state dimension: a latent neural ODE and a neural SDE."""

from __future__ import annotations

import torch
from torch import nn

from sciml.core.errors import ConfigError
from sciml.core.registry import MODELS
from sciml.nde._node import MLPVectorField, NeuralDEModel, NeuralODE
from sciml.nde._sde import NeuralSDE

__all__ = ["DiagonalDiffusion", "latent_ode", "neural_sde"]


class DiagonalDiffusion(nn.Module):
    """A positive diagonal diffusion ``g_i(t, y) = softplus(net(y_i))``, one scalar network shared by the channels.

    ``g_i`` depends on ``y_i`` only, as diagonal noise must for torchsde's Milstein and for
    the Euler-Maruyama/Milstein error estimate of
    :class:`~sciml.nde.SDELocalErrorRegularizer`; softplus keeps it positive. Sharing the
    network across channels suits systems whose components are alike (the spiral SDE's
    ``0.2 y``) and keeps the diffusion to ``3 hidden + 1`` parameters.

    Parameters
    ----------
    dim : int
        State dimension; input and output have shape ``[batch, dim]``.
    hidden : int
        Width of the scalar network's hidden layer; 16 is plenty for smooth diffusions.
    activation : {"tanh", "softplus", "relu", "silu"}
    """

    def __init__(self, dim: int, hidden: int = 16, activation: str = "tanh"):
        super().__init__()
        activations = {"tanh": nn.Tanh, "softplus": nn.Softplus, "relu": nn.ReLU, "silu": nn.SiLU}
        if activation not in activations:
            raise ConfigError(f"unknown activation {activation!r}; valid names: {', '.join(sorted(activations))}")
        if dim < 1 or hidden < 1:
            raise ConfigError(f"DiagonalDiffusion needs dim, hidden >= 1, got {dim}, {hidden}")
        self.dim = int(dim)
        self.net = nn.Sequential(nn.Linear(1, hidden), activations[activation](), nn.Linear(hidden, 1), nn.Softplus())

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y[..., None])[..., 0]


def neural_sde(
    dim: int,
    *,
    hidden: int = 32,
    depth: int = 2,
    activation: str = "tanh",
    time_dependent: bool = False,
    diffusion_hidden: int = 16,
    **sde_kwargs,
) -> NeuralSDE:
    """A :class:`NeuralSDE` with an :class:`MLPVectorField` drift and a :class:`DiagonalDiffusion`.

    Parameters
    ----------
    dim : int
        State dimension (``sciml train`` takes it from the trajectories).
    hidden, depth, activation, time_dependent
        The drift network (see :class:`MLPVectorField`); 32 hidden units and depth 2 fit
        the spiral SDE.
    diffusion_hidden : int
        Hidden width of the diffusion's scalar network.
    **sde_kwargs
        Passed to :class:`NeuralSDE`: ``backend``, ``method``, ``dt``, ``t_span``,
        ``sde_type``. The diffusion is diagonal, so ``noise_type`` must stay ``"diagonal"``.

    Examples
    --------
    >>> import torch
    >>> sde = neural_sde(2, hidden=8, dt=0.1)
    >>> sde(torch.zeros(4, 2), torch.linspace(0, 1, 3)).shape
    torch.Size([3, 4, 2])
    """
    noise_type = sde_kwargs.setdefault("noise_type", "diagonal")
    if noise_type != "diagonal":
        raise ConfigError(f"neural_sde builds a diagonal diffusion; noise_type must be 'diagonal', got {noise_type!r}")
    drift = MLPVectorField(dim, hidden, depth, activation, time_dependent)
    return NeuralSDE(drift, DiagonalDiffusion(dim, diffusion_hidden, activation), **sde_kwargs)


def latent_ode(
    dim: int,
    *,
    latent_dim: int = 8,
    hidden: int = 64,
    depth: int = 2,
    activation: str = "tanh",
    time_dependent: bool = False,
    **ode_kwargs,
) -> NeuralDEModel:
    """A latent neural ODE: linear encoder ``dim -> latent_dim``, MLP field, linear decoder back.

    The objectives encode the first observed state, integrate in the latent space and decode
    every output time (``node_regression``). The extra dimensions make the dynamics easier
    to fit than a field on the ``dim`` observed components alone (augmented neural ODEs,
    Dupont et al., NeurIPS 2019); the oscillator task of the regularization benchmark uses
    ``latent_dim=8``.

    Parameters
    ----------
    dim : int
        Observed state dimension (``sciml train`` takes it from the trajectories).
    latent_dim : int
        Dimension of the latent state (>= 1).
    hidden, depth, activation, time_dependent
        The vector field (see :class:`MLPVectorField`).
    **ode_kwargs
        Passed to :class:`NeuralODE` (``backend``, ``method``, ``rtol``, ``atol``, ...).

    Examples
    --------
    >>> import torch
    >>> model = latent_ode(2, latent_dim=4, hidden=8)
    >>> model.decode(model.dynamics(model.encode(torch.zeros(3, 2)), torch.linspace(0, 1, 5))).shape
    torch.Size([5, 3, 2])
    """
    if latent_dim < 1:
        raise ConfigError(f"latent_dim must be >= 1, got {latent_dim}")
    field = MLPVectorField(latent_dim, hidden, depth, activation, time_dependent)
    return NeuralDEModel(nn.Linear(dim, latent_dim), NeuralODE(field, **ode_kwargs), nn.Linear(latent_dim, dim))


MODELS.register("latent_ode", latent_ode)
MODELS.register("neural_sde", neural_sde)
