"""Networks for PINNs: an MLP over space-time points with optional periodic embedding, and the
two-branch Lagrangian PINN (state along characteristics, characteristic curves)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.registry import MODELS

__all__ = ["LagrangianPINN", "PINNNet", "PeriodicEmbedding"]

_ACTIVATIONS = {"tanh": nn.Tanh, "sin": None, "gelu": nn.GELU, "silu": nn.SiLU}


class _Sine(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ConfigError(f"activation {name!r} is unknown; use one of {', '.join(_ACTIVATIONS)}")
    return _Sine() if name == "sin" else _ACTIVATIONS[name]()


class PeriodicEmbedding(nn.Module):
    """Replace periodic coordinates by ``cos(k w x), sin(k w x)``, ``k = 1..harmonics``.

    A network of the embedded coordinates is periodic in them exactly: the periodic
    boundary condition is then hard-enforced, for ``u`` and every derivative.

    Parameters
    ----------
    in_features : int
        Coordinates of a point (space, then time).
    periods : dict of int to float
        Coordinate index -> period (``{0: 2 pi}``).
    harmonics : int
        Fourier modes per periodic coordinate.
    """

    def __init__(self, in_features: int, periods: dict[int, float] | None = None, harmonics: int = 1):
        super().__init__()
        self.in_features = int(in_features)
        self.periods = {int(k): float(v) for k, v in (periods or {}).items()}
        for k, v in self.periods.items():
            if not 0 <= k < in_features or v <= 0:
                raise ConfigError(
                    f"periodic coordinate {k} with period {v}: need 0 <= index < {in_features}, period > 0"
                )
        if harmonics < 1:
            raise ConfigError(f"harmonics={harmonics}: need >= 1")
        self.harmonics = int(harmonics)
        self.register_buffer("k", torch.arange(1, harmonics + 1, dtype=torch.float32), persistent=False)

    @property
    def out_features(self) -> int:
        return self.in_features + len(self.periods) * (2 * self.harmonics - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.periods:
            return x
        parts = []
        for i in range(self.in_features):
            column = x[:, i : i + 1]
            if i in self.periods:
                phase = column * (2 * math.pi / self.periods[i]) * self.k.to(x.dtype)
                parts += [torch.cos(phase), torch.sin(phase)]
            else:
                parts.append(column)
        return torch.cat(parts, dim=1)


def _mlp(in_features: int, out_features: int, width: int, depth: int, activation: str) -> nn.Sequential:
    if width < 1 or depth < 1:
        raise ConfigError(f"width={width}, depth={depth}: both must be >= 1")
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        linear = nn.Linear(size, width)
        nn.init.xavier_normal_(linear.weight)
        nn.init.zeros_(linear.bias)
        layers += [linear, _activation(activation)]
        size = width
    head = nn.Linear(size, out_features)
    nn.init.xavier_normal_(head.weight)
    nn.init.zeros_(head.bias)
    layers.append(head)
    return nn.Sequential(*layers)


def _periods(periodic: Sequence[float | None] | dict[int, float] | None) -> dict[int, float]:
    if periodic is None:
        return {}
    if isinstance(periodic, dict):
        return {int(k): float(v) for k, v in periodic.items()}
    return {i: float(p) for i, p in enumerate(periodic) if p}


@MODELS.register("pinn_mlp")
class PINNNet(nn.Module):
    """A fully connected network ``u(points)``: points ``[N, D]`` (space, then time) to ``[N, out]``.

    Parameters
    ----------
    in_features : int
        D, the coordinates of a point (2 for ``(x, t)``).
    out_features : int
        Fields predicted (1 for a scalar PDE).
    width, depth : int
        Hidden units per layer and hidden layers; ``width=50, depth=4`` is the size of
        the PINN of Krishnapriyan et al.
    activation : {"tanh", "sin", "gelu", "silu"}
        Smooth activations only: residuals need second derivatives.
    periodic : list or dict, optional
        Periods of periodic coordinates (``[2 pi, None]`` for periodic x and free t):
        hard-enforced by :class:`PeriodicEmbedding`.
    harmonics : int
        Fourier modes of the embedding.
    """

    def __init__(
        self,
        in_features: int = 2,
        out_features: int = 1,
        width: int = 50,
        depth: int = 4,
        activation: str = "tanh",
        periodic: Sequence[float | None] | dict[int, float] | None = None,
        harmonics: int = 1,
    ):
        super().__init__()
        self.embedding = PeriodicEmbedding(in_features, _periods(periodic), harmonics)
        self.net = _mlp(self.embedding.out_features, out_features, width, depth, activation)
        self.in_features = in_features

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        if points.dim() != 2 or points.shape[1] != self.in_features:
            raise ShapeError(f"pinn_mlp: points must be [N, {self.in_features}], got {tuple(points.shape)}")
        return self.net(self.embedding(points))


@MODELS.register("lpinn")
class LagrangianPINN(nn.Module):
    """Lagrangian PINN (Mojgani, Balajewicz & Hassanzadeh, CMAME 2023): two branches over ``(x0, t)``.

    The *characteristic branch* gives the position ``x(x0, t)`` at time ``t`` of the
    particle that started at ``x0``; the *state branch* gives ``u(x0, t)`` carried along it.
    Both see the label ``x0`` through the periodic embedding (a periodic problem) and ``t``
    as is. The position is ``x0 + velocity_scale * t * N_x(x0, t)`` when ``hard_start`` (the
    initial condition ``x(x0, 0) = x0`` holds exactly), else ``x0 + velocity_scale * N_x``
    with an initial-condition loss. ``velocity_scale`` is the size of the characteristic
    speed (``beta`` for convection, ``max |u0|`` for Burgers), so the network's output is of
    order one, as for any nondimensionalized problem.

    ``forward(points [N, 2]) -> [N, 2]``: column 0 the state ``u``, column 1 the position.

    Parameters
    ----------
    width, depth : int
        Per branch.
    activation : str
    period : float, optional
        Period of ``x0`` (``2 pi``), None for a non-periodic interval.
    harmonics : int
    velocity_scale : float
    hard_start : bool
    """

    def __init__(
        self,
        width: int = 32,
        depth: int = 3,
        activation: str = "tanh",
        period: float | None = 2 * math.pi,
        harmonics: int = 1,
        velocity_scale: float = 1.0,
        hard_start: bool = False,
        in_features: int = 2,
        out_features: int = 2,
    ):
        super().__init__()
        if in_features != 2 or out_features != 2:
            raise ConfigError("lpinn solves 1-D problems: points (x0, t) to (u, x); in_features=2, out_features=2")
        periods = {0: float(period)} if period else {}
        self.state_embedding = PeriodicEmbedding(2, periods, harmonics)
        self.position_embedding = PeriodicEmbedding(2, periods, harmonics)
        self.state = _mlp(self.state_embedding.out_features, 1, width, depth, activation)
        self.position = _mlp(self.position_embedding.out_features, 1, width, depth, activation)
        self.velocity_scale = float(velocity_scale)
        self.hard_start = bool(hard_start)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        if points.dim() != 2 or points.shape[1] != 2:
            raise ShapeError(f"lpinn: points must be [N, 2] (x0, t), got {tuple(points.shape)}")
        x0, t = points[:, :1], points[:, 1:2]
        u = self.state(self.state_embedding(points))
        move = self.velocity_scale * self.position(self.position_embedding(points))
        x = x0 + (t * move if self.hard_start else move)
        return torch.cat([u, x], dim=1)
