"""Autograd derivatives of a field with respect to its input coordinates, any order, batched."""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from sciml.core.errors import ConfigError, ShapeError

__all__ = ["Fields", "gradient", "partial"]

_NAME = re.compile(r"^(?P<field>[A-Za-z]\w*?)_(?P<dims>[A-Za-z]+)$")


def partial(u: torch.Tensor, x: torch.Tensor, *dims: int) -> torch.Tensor:
    """The partial derivative ``d^k u / dx_{dims[0]} ... dx_{dims[k-1]}`` at every point.

    The graph is kept (``create_graph=True``), so the result can be differentiated again
    and trained through. Valid for models that map each point on its own (an MLP, not a
    layer mixing the points of a batch): the derivative of ``sum(u)`` with respect to
    point ``i`` is then the derivative of ``u_i`` alone.

    Parameters
    ----------
    u : Tensor, shape [N, 1] or [N]
        Field values at the points ``x``, computed from ``x`` (which requires grad).
    x : Tensor, shape [N, D]
        The points.
    *dims : int
        Coordinates to differentiate by, in order (``0, 0`` is the second derivative in
        coordinate 0; ``0, 1`` the mixed one). No dims returns ``u``.

    Returns
    -------
    Tensor, the shape of ``u``
    """
    if x.dim() != 2:
        raise ShapeError(f"partial: points x must be [N, D], got shape {tuple(x.shape)}")
    if u.shape[0] != x.shape[0] or u.dim() not in (1, 2) or (u.dim() == 2 and u.shape[1] != 1):
        raise ShapeError(f"partial: u must be [N] or [N, 1] for x of shape {tuple(x.shape)}, got {tuple(u.shape)}")
    out = u
    for d in dims:
        if not 0 <= d < x.shape[1]:
            raise ConfigError(f"partial: coordinate {d} does not exist for points of dimension {x.shape[1]}")
        if not out.requires_grad:  # a derivative of a constant (e.g. of a linear field, twice)
            return torch.zeros_like(u)
        (grad,) = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), create_graph=True, allow_unused=True)
        if grad is None:
            return torch.zeros_like(u)
        out = grad[:, d : d + 1] if u.dim() == 2 else grad[:, d]
    return out


def gradient(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Every first derivative of ``u [N, 1]`` at once: ``[N, D]``, column ``d`` is ``du/dx_d``.

    One backward pass for all coordinates (``partial(u, x, d)`` takes one per call): what
    :class:`Fields` and the Lagrangian objective use when they need several first
    derivatives of the same field. The graph is kept (``create_graph=True``).
    """
    if x.dim() != 2 or u.shape[0] != x.shape[0] or u.dim() != 2 or u.shape[1] != 1:
        raise ShapeError(f"gradient: u must be [N, 1] for points [N, D], got u {tuple(u.shape)}, x {tuple(x.shape)}")
    if not u.requires_grad:
        return torch.zeros_like(x)
    (grad,) = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad


class Fields:
    """Named fields and their derivatives at a set of points, computed once each.

    ``fields["u_xx"]`` is ``partial(u, points, ix, ix)``; ``fields["u_xt"]`` the mixed
    derivative (order of the letters is the order of differentiation); ``fields["x"]`` a
    coordinate; ``fields["beta"]`` a parameter. Names follow ``FIELD_COORDS``.

    Parameters
    ----------
    points : Tensor, shape [N, D]
        Requires grad (set here if it does not).
    coordinates : sequence of str
        Names of the D coordinates, e.g. ``("x", "t")``.
    values : dict of str to Tensor [N, 1]
        The fields computed from ``points`` (``{"u": model(points)}``).
    params : dict, optional
        Constants available by name.
    """

    def __init__(
        self,
        points: torch.Tensor,
        coordinates: Sequence[str],
        values: dict[str, torch.Tensor],
        params: dict[str, float] | None = None,
    ):
        if points.dim() != 2 or points.shape[1] != len(coordinates):
            raise ShapeError(
                f"Fields: points of shape {tuple(points.shape)} for coordinates {tuple(coordinates)}; "
                "pass points [N, len(coordinates)]"
            )
        self.points = points
        self.coordinates = tuple(coordinates)
        self.params = dict(params or {})
        self._cache: dict[str, torch.Tensor] = dict(values)

    def __contains__(self, name: str) -> bool:
        try:
            self[name]
        except KeyError:
            return False
        return True

    def __getitem__(self, name: str) -> torch.Tensor:
        if name in self._cache:
            return self._cache[name]
        if name in self.coordinates:
            i = self.coordinates.index(name)
            return self.points[:, i : i + 1]
        if name in self.params:
            return torch.as_tensor(self.params[name], dtype=self.points.dtype, device=self.points.device)
        match = _NAME.match(name)
        if match is None or match["field"] not in self._cache:
            raise KeyError(name)
        dims = match["dims"]
        if any(c not in self.coordinates for c in dims):
            raise KeyError(name)
        base = match["field"] if len(dims) == 1 else f"{match['field']}_{dims[:-1]}"
        values = self[base]
        if values.dim() == 2 and values.shape[1] == 1:
            # one backward pass gives the derivative by every coordinate: cache them all
            grad = gradient(values, self.points)
            prefix = f"{base}_" if len(dims) == 1 else base
            for i, c in enumerate(self.coordinates):
                self._cache.setdefault(prefix + c, grad[:, i : i + 1])
            return self._cache[name]
        value = partial(values, self.points, self.coordinates.index(dims[-1]))
        self._cache[name] = value
        return value

    def names(self) -> list[str]:
        """The names of everything computed so far (fields, derivatives)."""
        return sorted(self._cache)
