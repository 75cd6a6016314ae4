"""Networks for PINNs: an MLP over space-time points with optional periodic embedding, and the
two-branch Lagrangian PINN (state along characteristics, characteristic curves)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.registry import MODELS

__all__ = ["LagrangianPINN", "PINNNet", "PeriodicEmbedding", "mlp_jet"]

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


def _embedding_jet(
    embedding: PeriodicEmbedding, points: torch.Tensor, dim: int | None
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    """The embedded features ``[N, F]``, their derivatives by each coordinate, their second by ``dim``.

    Derivatives that do not depend on the point are ``[1, F]`` (they broadcast); a second
    derivative that is zero (no periodic coordinate ``dim``) is None.
    """
    n, d = points.shape
    if not embedding.periods:
        eye = torch.eye(d, dtype=points.dtype, device=points.device)
        return points, [eye[i : i + 1] for i in range(d)], None
    values, firsts, seconds = [], [[] for _ in range(d)], []
    for i in range(d):
        column = points[:, i : i + 1]
        if i in embedding.periods:
            w = (2 * math.pi / embedding.periods[i]) * embedding.k.to(points.dtype)
            phase = column * w
            c, s = torch.cos(phase), torch.sin(phase)
            values += [c, s]
            for j in range(d):
                firsts[j] += [-s * w, c * w] if j == i else [torch.zeros_like(c)] * 2
            seconds += [-c * w**2, -s * w**2] if i == dim else [torch.zeros_like(c)] * 2
        else:
            values.append(column)
            for j in range(d):
                firsts[j].append(torch.ones_like(column) if j == i else torch.zeros_like(column))
            seconds.append(torch.zeros_like(column))
    second = torch.cat(seconds, 1) if dim is not None and dim in embedding.periods else None
    return torch.cat(values, 1), [torch.cat(f, 1) for f in firsts], second


def mlp_jet(
    embedding: PeriodicEmbedding, net: nn.Sequential, points: torch.Tensor, dim: int | None = 0
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    """Values, every first derivative and the second derivative by ``dim`` of ``net(embedding(points))``.

    Forward Taylor propagation through the layers (``z = W a + b``: ``z' = W a'``; ``a = tanh z``:
    ``a' = (1 - a^2) z'``, ``a'' = (1 - a^2) z'' - 2 a (1 - a^2) z'^2``; the same for ``sin``). It
    gives what nested reverse-mode autograd gives (``partial(u, points, dim, dim)``, to round-off)
    with fewer operations: the loss's backward pass then runs through one first-order graph
    instead of a double-backward one. The results stay differentiable (by the weights and, for
    higher derivatives, by ``points``).

    Returns
    -------
    u : Tensor [N, O]
    first : list of D Tensors [N, O]
        ``first[d]`` is ``du/dx_d``.
    second : Tensor [N, O] or None
        ``d^2 u / dx_dim^2`` (None when ``dim`` is None).
    """
    value, first, second = _embedding_jet(embedding, points, dim)
    for layer in net:
        if isinstance(layer, nn.Linear):
            value = nn.functional.linear(value, layer.weight, layer.bias)
            first = [nn.functional.linear(f, layer.weight) for f in first]
            second = None if second is None else nn.functional.linear(second, layer.weight)
            continue
        if isinstance(layer, nn.Tanh):
            a = torch.tanh(value)
            slope = 1 - a * a
            curvature = -2 * a * slope
        elif isinstance(layer, _Sine):
            a, slope = torch.sin(value), torch.cos(value)
            curvature = -a
        else:
            raise ConfigError(f"mlp_jet propagates tanh and sin layers only, not {type(layer).__name__}")
        if dim is not None:
            bend = curvature * first[dim] ** 2
            second = bend if second is None else slope * second + bend
        first = [slope * f for f in first]
        value = a
    n = value.shape[0]
    first = [f.expand(n, -1) for f in first]
    if dim is not None and second is None:  # no activation: a linear map
        second = torch.zeros_like(value)
    return value, first, second


def _jet_ready(net: nn.Sequential) -> bool:
    return all(isinstance(layer, (nn.Linear, nn.Tanh, _Sine)) for layer in net)


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

    @property
    def has_jet(self) -> bool:
        """Whether :meth:`jet` can propagate derivatives through the activation (tanh, sin)."""
        return _jet_ready(self.net)

    def jet(
        self, points: torch.Tensor, dim: int | None = 0
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
        """``u [N, out]``, every first derivative (D of ``[N, out]``), the second by ``dim`` (see :func:`mlp_jet`)."""
        if points.dim() != 2 or points.shape[1] != self.in_features:
            raise ShapeError(f"pinn_mlp: points must be [N, {self.in_features}], got {tuple(points.shape)}")
        return mlp_jet(self.embedding, self.net, points, dim)


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

    @property
    def has_jet(self) -> bool:
        """Whether :meth:`jet` can propagate derivatives through the activation (tanh, sin)."""
        return _jet_ready(self.state) and _jet_ready(self.position)

    def jet(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """``u``, ``x`` and their derivatives by the label and time, ``[N, 1]`` each, by :func:`mlp_jet`.

        Keys ``u, u_x0, u_t, u_x0x0, x, x_x0, x_t, x_x0x0``: what the Lagrangian objective needs,
        in one forward pass per branch (no nested autograd).
        """
        if points.dim() != 2 or points.shape[1] != 2:
            raise ShapeError(f"lpinn: points must be [N, 2] (x0, t), got {tuple(points.shape)}")
        u, du, ddu = mlp_jet(self.state_embedding, self.state, points, 0)
        n, dn, ddn = mlp_jet(self.position_embedding, self.position, points, 0)
        s, t = self.velocity_scale, points[:, 1:2]
        if self.hard_start:  # x = x0 + s t N
            x, x_x0, x_t, x_x0x0 = points[:, :1] + s * t * n, 1 + s * t * dn[0], s * n + s * t * dn[1], s * t * ddn
        else:  # x = x0 + s N
            x, x_x0, x_t, x_x0x0 = points[:, :1] + s * n, 1 + s * dn[0], s * dn[1], s * ddn
        return {"u": u, "u_x0": du[0], "u_t": du[1], "u_x0x0": ddu, "x": x, "x_x0": x_x0, "x_t": x_t, "x_x0x0": x_x0x0}
