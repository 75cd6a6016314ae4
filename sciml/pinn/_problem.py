"""PDE problems for PINNs: a domain, a residual, initial and boundary conditions, an exact solution.

A problem is data plus a few callables: ``residual(fields) -> [N, 1]`` on interior points
(or a sympy expression in the coordinates, ``u`` and its derivatives, and the parameters),
conditions that say what holds at ``t = t0`` and on the spatial boundary, and where known
the exact solution, against which evaluation measures the relative L2 error on a grid.
Built-in problems are registered in :data:`PROBLEMS` with their parameters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from sciml.core.errors import ConfigError
from sciml.core.registry import Registry
from sciml.pinn._derivatives import Fields

__all__ = ["PROBLEMS", "Condition", "PDEProblem", "sympy_residual"]

PROBLEMS: Registry[Callable[..., PDEProblem]] = Registry("PINN problem", plural="pinn_problems", plugins=False)

_CONDITION_KINDS = ("initial", "dirichlet", "neumann", "periodic")
_DERIVATIVE = re.compile(r"\b([A-Za-z]\w*?)_([A-Za-z]+)\b")


@dataclass(frozen=True)
class Condition:
    """A condition on part of the boundary of the space-time domain.

    Attributes
    ----------
    kind : {"initial", "dirichlet", "neumann", "periodic"}
        ``initial``: ``u(x, t0) = value(x)``; ``dirichlet``: ``u = value`` on the spatial
        boundary; ``neumann``: ``du/dn = value`` there (outward normal); ``periodic``:
        ``u`` (and ``du/dx``) equal at both ends of the spatial interval.
    value : callable ``points [N, D] -> [N, 1]``, optional
        Prescribed values (not for ``periodic``).
    hard : bool
        Enforced by the model (periodic input embedding, output transform) rather than a
        loss term; the objective then skips it.
    side : str, optional
        For ``dirichlet`` and ``neumann``: the end it holds on, ``"x_lower"`` or
        ``"x_upper"`` (the coordinate's name, then the end); None for both ends. A side
        the problem's domain does not have is refused when the problem is built.
    """

    kind: str
    value: Callable[[torch.Tensor], torch.Tensor] | None = None
    hard: bool = False
    side: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _CONDITION_KINDS:
            raise ConfigError(f"condition kind {self.kind!r} is unknown; use one of {', '.join(_CONDITION_KINDS)}")
        if self.kind != "periodic" and self.value is None:
            raise ConfigError(f"a {self.kind} condition needs a value callable(points) -> [N, 1]")
        if self.side is not None and self.kind not in ("dirichlet", "neumann"):
            raise ConfigError(
                f"a {self.kind} condition has no side (side={self.side!r}); only dirichlet and neumann do"
            )

    def holds_on(self, end: str) -> bool:
        """Whether the condition holds on ``end`` (``"lower"`` or ``"upper"``) of the first coordinate."""
        return self.side is None or self.side.endswith("_" + end)


@dataclass
class PDEProblem:
    """A time-dependent PDE on an interval (or box) in space: what a PINN solves.

    Attributes
    ----------
    name : str
    space : sequence of (lower, upper)
        Spatial bounds per coordinate (one pair for 1-D).
    time : (t0, t1)
    residual : callable ``Fields -> [N, 1]`` or str
        The PDE written as ``residual = 0`` (``lambda f: f["u_t"] + beta * f["u_x"]``) or a
        sympy expression (``"u_t + beta*u_x"``) in the coordinates, ``u`` with derivatives
        (``u_x``, ``u_xx``, ``u_xt``, ...) and the parameters.
    conditions : list of Condition
    params : dict
        Named constants (``beta``, ``nu``), available to the residual.
    exact : callable ``points [N, D] -> [N, 1]``, optional
        The exact solution, for evaluation.
    coordinates : tuple of str
        Names of the spatial coordinates then time (single letters).
    characteristic_speed : callable ``Fields -> [N, 1]`` or str, optional
        ``F`` of the characteristics ``dx/dt = F`` (Lagrangian PINNs): ``beta`` for
        convection, ``u`` for Burgers.
    lagrangian_residual : callable ``Fields -> [N, 1]`` or str, optional
        What remains along the characteristics, ``du/dt - (rest)``: ``u_t - nu*u_xx`` for
        convection-diffusion and Burgers (``u_t`` there is the derivative along the
        characteristic, ``u_xx`` the Eulerian one, by the chain rule).
    """

    name: str
    space: Sequence[tuple[float, float]]
    time: tuple[float, float]
    residual: Callable[[Fields], torch.Tensor] | str
    conditions: list[Condition] = field(default_factory=list)
    params: dict[str, float] = field(default_factory=dict)
    exact: Callable[[torch.Tensor], torch.Tensor] | None = None
    coordinates: tuple[str, ...] = ("x", "t")
    characteristic_speed: Callable[[Fields], torch.Tensor] | str | None = None
    lagrangian_residual: Callable[[Fields], torch.Tensor] | str | None = None

    def __post_init__(self) -> None:
        self.space = [tuple(map(float, b)) for b in self.space]
        self.time = (float(self.time[0]), float(self.time[1]))
        for lo, hi in [*self.space, self.time]:
            if not hi > lo:
                raise ConfigError(f"problem {self.name!r}: bounds ({lo}, {hi}) are empty; give lower < upper")
        if len(self.coordinates) != len(self.space) + 1:
            raise ConfigError(
                f"problem {self.name!r}: {len(self.coordinates)} coordinate names for "
                f"{len(self.space)} spatial dimensions and time"
            )
        sides = [f"{self.coordinates[0]}_lower", f"{self.coordinates[0]}_upper"]
        for c in self.conditions:
            if c.side is not None and c.side not in sides:
                raise ConfigError(
                    f"problem {self.name!r}: a {c.kind} condition on side {c.side!r}, which the domain does not "
                    f"have; its boundary is {', '.join(sides)}"
                )
        self._residual = _callable(self.residual, self)
        self._speed = None if self.characteristic_speed is None else _callable(self.characteristic_speed, self)
        self._lagrangian = None if self.lagrangian_residual is None else _callable(self.lagrangian_residual, self)

    # --------------------------------------------------------------- geometry
    @property
    def dim(self) -> int:
        """Number of input coordinates (space and time)."""
        return len(self.space) + 1

    @property
    def lower(self) -> torch.Tensor:
        return torch.tensor([lo for lo, _ in self.space] + [self.time[0]], dtype=torch.float64)

    @property
    def upper(self) -> torch.Tensor:
        return torch.tensor([hi for _, hi in self.space] + [self.time[1]], dtype=torch.float64)

    @property
    def length(self) -> float:
        """Length of the (first) spatial interval."""
        return self.space[0][1] - self.space[0][0]

    def condition(self, kind: str) -> Condition | None:
        """The first condition of ``kind``, or None."""
        return next((c for c in self.conditions if c.kind == kind), None)

    @property
    def periodic(self) -> bool:
        return self.condition("periodic") is not None

    # --------------------------------------------------------------- physics
    def fields(self, points: torch.Tensor, u: torch.Tensor, **extra: torch.Tensor) -> Fields:
        return Fields(points, self.coordinates, {"u": u, **extra}, self.params)

    def residual_at(self, fields: Fields) -> torch.Tensor:
        """The PDE residual ``[N, 1]`` at the fields' points."""
        return _column(self._residual(fields), fields)

    def speed_at(self, fields: Fields) -> torch.Tensor:
        if self._speed is None:
            raise ConfigError(
                f"problem {self.name!r} has no characteristic_speed, so a Lagrangian PINN cannot solve it; "
                "use a problem with characteristics (convection, convection_diffusion, burgers)"
            )
        return _column(self._speed(fields), fields)

    def lagrangian_residual_at(self, fields: Fields) -> torch.Tensor:
        if self._lagrangian is None:
            return fields["u_t"]
        return _column(self._lagrangian(fields), fields)

    def exact_on(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The exact solution on the grid ``t [T] x x [X]`` as ``[T, X]`` (1-D problems)."""
        if self.exact is None:
            raise ConfigError(f"problem {self.name!r} has no exact solution; give one or evaluate on data")
        tt, xx = torch.meshgrid(t, x, indexing="ij")
        points = torch.stack([xx.reshape(-1), tt.reshape(-1)], dim=1)
        return self.exact(points).reshape(len(t), len(x))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "space": [list(b) for b in self.space],
            "time": list(self.time),
            "params": dict(self.params),
            "conditions": [{"kind": c.kind, "hard": c.hard} for c in self.conditions],
            "residual": self.residual if isinstance(self.residual, str) else getattr(self.residual, "__doc__", None),
        }


def _column(value: torch.Tensor | float, fields: Fields) -> torch.Tensor:
    value = torch.as_tensor(value, dtype=fields.points.dtype, device=fields.points.device)
    return value.reshape(-1, 1).expand(fields.points.shape[0], 1) if value.numel() == 1 else value.reshape(-1, 1)


def _callable(spec: Callable[[Fields], torch.Tensor] | str, problem: PDEProblem) -> Callable[[Fields], torch.Tensor]:
    if callable(spec):
        return spec
    if isinstance(spec, str):
        return sympy_residual(spec, problem.coordinates, problem.params)
    raise ConfigError(f"a residual must be a callable(fields) or a sympy expression string, got {type(spec).__name__}")


_TORCH_FUNCTIONS = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "Abs": torch.abs,
    "pi": math.pi,
    "E": math.e,
}


def sympy_residual(
    expression: str, coordinates: Sequence[str], params: dict[str, float]
) -> Callable[[Fields], torch.Tensor]:
    """A residual ``Fields -> [N, 1]`` from a sympy expression string.

    Symbols are the coordinates, the fields with their derivatives (``u``, ``u_x``,
    ``u_xx``, ``u_xt``: letters after ``_`` are coordinates, in the order of
    differentiation) and the parameters; functions are those of sympy that torch has
    (sin, cos, exp, log, sqrt, tanh, ...). The expression is parsed once.

    >>> import torch
    >>> from sciml.pinn import Fields
    >>> r = sympy_residual("u_t + beta*u_x", ("x", "t"), {"beta": 2.0})
    >>> p = torch.tensor([[0.3, 0.1]], requires_grad=True)
    >>> u = torch.sin(p[:, :1] - 2.0 * p[:, 1:])
    >>> float(r(Fields(p, ("x", "t"), {"u": u}, {"beta": 2.0})).detach().abs()) < 1e-6
    True
    """
    import sympy

    try:
        expr = sympy.sympify(expression, locals={name: sympy.Symbol(name) for name in [*coordinates, *params]})
    except (sympy.SympifyError, SyntaxError, TypeError) as exc:
        raise ConfigError(
            f"residual {expression!r} is not a sympy expression ({exc}); write e.g. 'u_t + beta*u_x'"
        ) from None
    names = sorted(str(s) for s in expr.free_symbols)
    for name in names:
        match = _DERIVATIVE.fullmatch(name)
        known = name in coordinates or name in params or name == "u"
        if not known and not (match and match[1] == "u" and all(c in coordinates for c in match[2])):
            raise ConfigError(
                f"residual {expression!r}: symbol {name!r} is neither a coordinate ({', '.join(coordinates)}), "
                f"a parameter ({', '.join(params) or 'none'}), u nor a derivative like u_{coordinates[0]}"
            )
    function = sympy.lambdify([sympy.Symbol(n) for n in names], expr, modules=[_TORCH_FUNCTIONS, "math"])

    def residual(fields: Fields) -> torch.Tensor:
        return function(*(fields[n] for n in names))

    residual.__doc__ = expression
    return residual


# ------------------------------------------------------------------ built-in problems


def _sine_initial(points: torch.Tensor) -> torch.Tensor:
    return torch.sin(points[:, :1])


@PROBLEMS.register("convection")
def convection(beta: float = 30.0, t1: float = 1.0) -> PDEProblem:
    """``u_t + beta u_x = 0`` on ``[0, 2 pi)`` periodic, ``u0 = sin x``; exact ``sin(x - beta t)``.

    The failure mode of PINNs (Krishnapriyan et al., NeurIPS 2021): from ``beta`` about 20
    a vanilla PINN's error is of order one.
    """

    def exact(points: torch.Tensor) -> torch.Tensor:
        return torch.sin(points[:, :1] - beta * points[:, 1:2])

    return PDEProblem(
        name="convection",
        space=[(0.0, 2 * math.pi)],
        time=(0.0, t1),
        residual=lambda f: f["u_t"] + beta * f["u_x"],
        conditions=[Condition("initial", _sine_initial), Condition("periodic")],
        params={"beta": float(beta)},
        exact=exact,
        characteristic_speed=lambda f: torch.full_like(f["u"], beta),
    )


@PROBLEMS.register("convection_diffusion")
def convection_diffusion(beta: float = 30.0, nu: float = 0.1, t1: float = 1.0) -> PDEProblem:
    """``u_t + beta u_x = nu u_xx`` on ``[0, 2 pi)`` periodic, ``u0 = sin x``; exact ``exp(-nu t) sin(x - beta t)``."""

    def exact(points: torch.Tensor) -> torch.Tensor:
        return torch.exp(-nu * points[:, 1:2]) * torch.sin(points[:, :1] - beta * points[:, 1:2])

    return PDEProblem(
        name="convection_diffusion",
        space=[(0.0, 2 * math.pi)],
        time=(0.0, t1),
        residual=lambda f: f["u_t"] + beta * f["u_x"] - nu * f["u_xx"],
        conditions=[Condition("initial", _sine_initial), Condition("periodic")],
        params={"beta": float(beta), "nu": float(nu)},
        exact=exact,
        characteristic_speed=lambda f: torch.full_like(f["u"], beta),
        lagrangian_residual=lambda f: f["u_t"] - nu * f["u_xx"],
    )


@PROBLEMS.register("heat")
def heat(nu: float = 0.1, t1: float = 1.0) -> PDEProblem:
    """``u_t = nu u_xx`` on ``[0, 1]`` with ``u = 0`` at both ends, ``u0 = sin(pi x)``; exact ``exp(-nu pi^2 t) sin(pi x)``."""

    def exact(points: torch.Tensor) -> torch.Tensor:
        return torch.exp(-nu * math.pi**2 * points[:, 1:2]) * torch.sin(math.pi * points[:, :1])

    return PDEProblem(
        name="heat",
        space=[(0.0, 1.0)],
        time=(0.0, t1),
        residual=lambda f: f["u_t"] - nu * f["u_xx"],
        conditions=[
            Condition("initial", lambda p: torch.sin(math.pi * p[:, :1])),
            Condition("dirichlet", lambda p: torch.zeros_like(p[:, :1])),
        ],
        params={"nu": float(nu)},
        exact=exact,
    )


@PROBLEMS.register("burgers")
def burgers(nu: float = 0.01 / math.pi, t1: float = 1.0, periodic: bool = False) -> PDEProblem:
    """``u_t + u u_x = nu u_xx`` on ``[-1, 1]``, ``u(+-1, t) = 0``, ``u0 = -sin(pi x)``; exact by Cole-Hopf.

    The PINN benchmark of Raissi, Perdikaris & Karniadakis (2019) at ``nu = 0.01 / pi``: a
    shock forms at ``x = 0`` by ``t = 1 / pi`` and steepens to ``|u_x| = 152`` at
    ``t = 0.51``. The exact solution is :func:`sciml.numerics.pde.burgers_cole_hopf`. The
    characteristics run at ``F = u`` into the shock (the Lagrangian PINN's moving grid).
    ``u0`` is odd and 2-periodic, so the solution is that of the periodic problem on
    ``[-1, 1)`` too: ``periodic=True`` states the boundary as periodicity (what a Lagrangian
    PINN, with its periodic embedding of the labels, needs) instead of ``u = 0`` at the ends.
    """
    from sciml.numerics.pde import burgers_cole_hopf

    def exact(points: torch.Tensor) -> torch.Tensor:
        u = burgers_cole_hopf(points[:, :1].detach().double(), points[:, 1:2].detach().double(), nu)
        return u.to(points.dtype)

    conditions = [Condition("initial", lambda p: -torch.sin(math.pi * p[:, :1]))]
    conditions.append(
        Condition("periodic") if periodic else Condition("dirichlet", lambda p: torch.zeros_like(p[:, :1]))
    )
    return PDEProblem(
        name="burgers",
        space=[(-1.0, 1.0)],
        time=(0.0, t1),
        residual=lambda f: f["u_t"] + f["u"] * f["u_x"] - nu * f["u_xx"],
        conditions=conditions,
        params={"nu": float(nu)},
        exact=exact,
        characteristic_speed=lambda f: f["u"],
        lagrangian_residual=lambda f: f["u_t"] - nu * f["u_xx"],
    )


def _fourier_evaluate(coefficients: torch.Tensor, x: torch.Tensor, lower: float, length: float) -> torch.Tensor:
    """The real trigonometric interpolant with rfft ``coefficients [P, S/2+1]`` (of ``S`` samples) at ``x [P]``."""
    modes = coefficients.shape[1]
    s = 2 * (modes - 1)
    k = torch.arange(modes, dtype=x.dtype, device=x.device)
    weight = torch.full_like(k, 2.0)
    weight[0] = 1.0
    weight[-1] = 1.0  # the Nyquist mode stands once
    phase = torch.exp(1j * (2 * math.pi / length) * (x - lower)[:, None] * k)
    return (weight * (coefficients * phase).real).sum(1) / s


@PROBLEMS.register("reaction_diffusion")
def reaction_diffusion(nu: float = 1.0, rho: float = 5.0, t1: float = 1.0) -> PDEProblem:
    """``u_t = nu u_xx + rho u (1 - u)`` on ``[0, 2 pi)`` periodic, ``u0 = exp(-(x - pi)^2 / (2 (pi/4)^2))``.

    The reaction-diffusion problem of Krishnapriyan et al. (NeurIPS 2021). The reference
    solution is our spectral Fisher-KPP solver (:func:`sciml.numerics.pde.solve_reaction_diffusion`,
    ETDRK4 on 256 points, ``dt = 0.002 / rho``, relative error below 1e-9 for these smooth
    states) at the points' times, evaluated between grid points by its trigonometric
    interpolant. There is no transport: the characteristics stand still (``F = 0``), and a
    Lagrangian PINN's state residual is the whole PDE.
    """
    from sciml.numerics.pde import solve_reaction_diffusion

    length = 2 * math.pi

    def initial(points: torch.Tensor) -> torch.Tensor:
        return torch.exp(-((points[:, :1] - math.pi) ** 2) / (2 * (math.pi / 4) ** 2))

    def exact(points: torch.Tensor) -> torch.Tensor:
        p = points.detach().double().cpu()
        times, inverse = torch.unique(p[:, 1], return_inverse=True)
        grid = torch.arange(256, dtype=torch.float64) * (length / 256)
        u0 = initial(grid[:, None]).reshape(1, -1)
        later = times > 0
        states = u0.expand(len(times), -1).clone()
        if bool(later.any()):
            states[later] = solve_reaction_diffusion(
                u0, times[later], model="fisher_kpp", diffusion=nu, rate=rho, length=length, dt=0.002 / rho
            )[0]
        u = _fourier_evaluate(torch.fft.rfft(states)[inverse], p[:, 0], 0.0, length)
        return u.reshape(-1, 1).to(device=points.device, dtype=points.dtype)

    return PDEProblem(
        name="reaction_diffusion",
        space=[(0.0, length)],
        time=(0.0, t1),
        residual=lambda f: f["u_t"] - nu * f["u_xx"] - rho * f["u"] * (1 - f["u"]),
        conditions=[Condition("initial", initial), Condition("periodic")],
        params={"nu": float(nu), "rho": float(rho)},
        exact=exact,
        characteristic_speed=lambda f: torch.zeros_like(f["u"]),
        lagrangian_residual=lambda f: f["u_t"] - nu * f["u_xx"] - rho * f["u"] * (1 - f["u"]),
    )
