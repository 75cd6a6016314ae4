"""Catalogue of differential-equation problems with exact solutions, shared by tests and benchmarks.

Every ODE problem has ``rhs(t, y)`` (the vector field, torchdiffeq convention), ``y0`` (the
initial state at ``t = 0``) and ``exact(t)`` (the solution at the times ``t``, shape
``[len(t), *y0.shape]``). The ``rhs`` accepts a batch of states ``[..., dim]``.
Construct problems with the dtype and device of the test; nothing is created on the CPU
behind the test's back.

>>> import torch
>>> problem = HarmonicOscillator(frequency=2.0)
>>> t = torch.tensor([0.0, 0.25], dtype=torch.float64)
>>> problem.exact(t)[1]
tensor([ 0.8776, -0.4794], dtype=torch.float64)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

__all__ = [
    "ColeHopfBurgers",
    "ExponentialDecay",
    "HarmonicOscillator",
    "LinearSystem",
    "QuadraticBlowUp",
    "ode_problems",
]


@dataclass(frozen=True)
class ExponentialDecay:
    """``y' = -rate * y``, ``y(t) = y0 exp(-rate t)``; with a large rate, a stiff problem.

    Parameters
    ----------
    rate : float
        Decay rate; the Jacobian's only eigenvalue is ``-rate``.
    initial : tuple of float
        Initial state, one entry per independent component.
    dtype, device
        Of ``y0`` and of the solution.
    """

    rate: float = 1.0
    initial: tuple[float, ...] = (1.0, -0.5)
    dtype: torch.dtype = torch.float64
    device: torch.device | str = "cpu"

    @property
    def y0(self) -> torch.Tensor:
        """Initial state, shape [dim]."""
        return torch.tensor(self.initial, dtype=self.dtype, device=self.device)

    def rhs(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -self.rate * y

    def exact(self, t: torch.Tensor) -> torch.Tensor:
        """Solution at times ``t`` of shape [n_times]; returns shape [n_times, dim]."""
        t = t.to(dtype=self.dtype, device=self.device)
        return torch.exp(-self.rate * t)[:, None] * self.y0


@dataclass(frozen=True)
class HarmonicOscillator:
    """``x'' = -frequency^2 x`` as ``y = (x, x' / frequency)``, a rotation in the plane.

    The exact solution is ``y(t) = R(frequency t) y0`` with the rotation ``R``; the energy
    ``|y|`` is conserved, so a drift of ``|y|`` measures dissipation of the method.
    """

    frequency: float = 1.0
    initial: tuple[float, float] = (1.0, 0.0)
    dtype: torch.dtype = torch.float64
    device: torch.device | str = "cpu"

    @property
    def y0(self) -> torch.Tensor:
        """Initial state, shape [2]."""
        return torch.tensor(self.initial, dtype=self.dtype, device=self.device)

    def rhs(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.frequency * torch.stack([y[..., 1], -y[..., 0]], dim=-1)

    def exact(self, t: torch.Tensor) -> torch.Tensor:
        """Solution at times ``t`` of shape [n_times]; returns shape [n_times, 2]."""
        angle = self.frequency * t.to(dtype=self.dtype, device=self.device)
        cos, sin = torch.cos(angle), torch.sin(angle)
        x0, v0 = self.initial
        return torch.stack([cos * x0 + sin * v0, -sin * x0 + cos * v0], dim=-1)


def _default_matrix() -> tuple[tuple[float, ...], ...]:
    # eigenvalues -0.5 and -0.3 +- 2i: decay and rotation, not normal (the 0.7 couples them)
    return ((-0.3, 2.0, 0.7), (-2.0, -0.3, 0.0), (0.0, 0.0, -0.5))


@dataclass(frozen=True)
class LinearSystem:
    """``y' = A y``, ``y(t) = expm(A t) y0`` computed with ``torch.linalg.matrix_exp``.

    Parameters
    ----------
    matrix : tuple of tuples of float, shape [dim, dim]
        The matrix ``A``; the default has eigenvalues -0.5 and -0.3 +- 2i.
    initial : tuple of float, shape [dim]
    """

    matrix: tuple[tuple[float, ...], ...] = field(default_factory=_default_matrix)
    initial: tuple[float, ...] = (1.0, 0.5, -1.0)
    dtype: torch.dtype = torch.float64
    device: torch.device | str = "cpu"

    @property
    def y0(self) -> torch.Tensor:
        """Initial state, shape [dim]."""
        return torch.tensor(self.initial, dtype=self.dtype, device=self.device)

    @property
    def a(self) -> torch.Tensor:
        """The matrix ``A``, shape [dim, dim]."""
        return torch.tensor(self.matrix, dtype=self.dtype, device=self.device)

    def rhs(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y @ self.a.T

    def exact(self, t: torch.Tensor) -> torch.Tensor:
        """Solution at times ``t`` of shape [n_times]; returns shape [n_times, dim]."""
        t = t.to(dtype=self.dtype, device=self.device)
        propagators = torch.linalg.matrix_exp(t[:, None, None] * self.a)
        return propagators @ self.y0


@dataclass(frozen=True)
class QuadraticBlowUp:
    """``y' = y^2``, ``y(0) = initial``: ``y(t) = initial / (1 - initial t)``.

    The solution blows up at ``t = 1 / initial``; a solver asked to go past it must fail.
    """

    initial: float = 1.0
    dtype: torch.dtype = torch.float64
    device: torch.device | str = "cpu"

    @property
    def blow_up_time(self) -> float:
        return 1.0 / self.initial

    @property
    def y0(self) -> torch.Tensor:
        """Initial state, shape [1]."""
        return torch.tensor([self.initial], dtype=self.dtype, device=self.device)

    def rhs(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y * y

    def exact(self, t: torch.Tensor) -> torch.Tensor:
        """Solution at times ``t < blow_up_time``; returns shape [n_times, 1]."""
        t = t.to(dtype=self.dtype, device=self.device)
        return (self.initial / (1.0 - self.initial * t))[:, None]


def ode_problems(
    dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"
) -> dict[str, ExponentialDecay | HarmonicOscillator | LinearSystem]:
    """The smooth, non-stiff problems of the catalogue, by name, for parametrized tests."""
    return {
        "exponential_decay": ExponentialDecay(dtype=dtype, device=device),
        "harmonic_oscillator": HarmonicOscillator(frequency=2.0, dtype=dtype, device=device),
        "linear_system": LinearSystem(dtype=dtype, device=device),
    }


def _default_heat_modes() -> tuple[tuple[int, float, float], ...]:
    # phi's minimum is near 1 - 0.98 - 0.015 = 0.005: a steep front at nu = 0.01
    return ((1, 0.98, 0.0), (2, 0.015, 3.0))


@dataclass(frozen=True)
class ColeHopfBurgers:
    """Periodic viscous Burgers ``u_t + u u_x = nu u_xx`` on ``[0, length)``, exact by Cole-Hopf.

    ``u = -2 nu phi_x / phi`` where ``phi(x, t) = offset + sum_j b_j exp(-nu k_j^2 t)
    cos(k_j x + theta_j)``, ``k_j = 2 pi m_j / length``, solves the heat equation and stays
    positive when ``offset > sum |b_j|``. Galilean invariance gives more solutions:
    ``u(x - c t, t)`` solves ``u_t + c u_x + u u_x = nu u_xx``.

    Parameters
    ----------
    nu : float
        Viscosity.
    length : float
        Period.
    offset : float
        Constant term of ``phi``.
    modes : tuple of (int m_j, float b_j, float theta_j)
        Heat modes of ``phi``; the default gives ``max|u0| = 1.26`` and ``max|u_x| = 160``
        at ``nu = 0.01``, a steep front that tests resolution.
    """

    nu: float = 0.01
    length: float = 1.0
    offset: float = 1.0
    modes: tuple[tuple[int, float, float], ...] = field(default_factory=_default_heat_modes)
    dtype: torch.dtype = torch.float64
    device: torch.device | str = "cpu"

    def grid(self, n_points: int) -> torch.Tensor:
        """Uniform periodic grid ``x_j = j * length / n_points``, shape [n_points]."""
        return torch.arange(n_points, dtype=self.dtype, device=self.device) * (self.length / n_points)

    def exact(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Solution at times ``t`` [n_times] and points ``x`` [n_points]; shape [n_times, n_points]."""
        t = torch.as_tensor(t, dtype=self.dtype, device=self.device).reshape(-1, 1)
        x = torch.as_tensor(x, dtype=self.dtype, device=self.device).reshape(1, -1)
        phi = torch.full(torch.broadcast_shapes(t.shape, x.shape), self.offset, dtype=self.dtype, device=self.device)
        phi_x = torch.zeros_like(phi)
        for m, b, theta in self.modes:
            k = 2 * math.pi * m / self.length
            amplitude = b * torch.exp(-self.nu * k**2 * t)
            phi = phi + amplitude * torch.cos(k * x + theta)
            phi_x = phi_x - amplitude * k * torch.sin(k * x + theta)
        return -2 * self.nu * phi_x / phi
