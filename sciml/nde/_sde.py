"""Neural stochastic differential equations on torchsde or on our instrumented SDE solver.

Also the embedded Euler-Maruyama/Milstein error of one step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError, UnknownNameError
from sciml.numerics.sde import SDE_METHODS as SCIML_SDE_METHODS
from sciml.numerics.sde import SDEStats, milstein_step, sdeint

__all__ = ["NeuralSDE", "SDEStats", "milstein_error_estimate"]

SDE_BACKENDS = ("torchsde", "torchsde_adjoint", "sciml")
NOISE_TYPES = ("diagonal", "additive", "scalar", "general")
# torchsde's methods by SDE type (torchsde 0.2.6, torchsde/_core/methods/__init__.py).
TORCHSDE_METHODS = {
    "ito": ("euler", "milstein", "srk"),
    "stratonovich": ("midpoint", "euler_heun", "heun", "milstein", "reversible_heun", "log_ode"),
}


class _TorchsdeSystem(nn.Module):
    """torchsde's SDE object (``f``, ``g``, ``noise_type``, ``sde_type``) with evaluation counts."""

    def __init__(self, drift: nn.Module, diffusion: nn.Module, noise_type: str, sde_type: str):
        super().__init__()
        self.drift, self.diffusion = drift, diffusion
        self.noise_type, self.sde_type = noise_type, sde_type
        self.nfe_drift = self.nfe_diffusion = 0

    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.nfe_drift += 1
        return self.drift(t, y)

    def g(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.nfe_diffusion += 1
        return self.diffusion(t, y)


class NeuralSDE(nn.Module):
    """A neural stochastic differential equation ``dy = f(t, y) dt + g(t, y) dW``.

    Parameters
    ----------
    drift : nn.Module
        ``f(t, y) -> [batch, dim]``.
    diffusion : nn.Module
        ``g(t, y)``: ``[batch, dim]`` for ``diagonal`` noise (``g_i`` should depend on
        ``y_i`` only for Milstein and for :func:`milstein_error_estimate`), ``[batch, dim,
        m]`` for ``general``, ``additive`` and ``scalar`` (m = 1) noise. With the ``sciml``
        backend additive noise may also be ``[batch, dim]``.
    noise_type : {"diagonal", "additive", "scalar", "general"}
        The ``sciml`` backend solves ``diagonal`` and ``additive`` noise.
    sde_type : {"ito", "stratonovich"}
        The ``sciml`` backend solves Ito SDEs.
    backend : {"torchsde", "torchsde_adjoint", "sciml"}
        ``torchsde``: ``torchsde.sdeint``, backpropagated through the steps.
        ``torchsde_adjoint``: ``torchsde.sdeint_adjoint`` (Li et al. 2020), constant memory;
        drift and diffusion must be ``nn.Module`` s (their parameters get the gradient).
        ``sciml``: our instrumented solver :func:`~sciml.numerics.sdeint`, backpropagated
        through the steps. It is the only backend that records the step times, step sizes
        and error estimates that :class:`~sciml.nde.SDEGlobalErrorRegularizer` penalizes,
        and its ``milstein_em`` method adapts the step size.
    method : str
        torchsde, Ito: ``euler`` (Euler-Maruyama, strong order 0.5), ``milstein`` (strong
        order 1.0 for diagonal noise), ``srk`` (Rößler's stochastic Runge-Kutta, strong
        order 1.5). torchsde, Stratonovich: ``midpoint``, ``euler_heun``, ``heun``,
        ``milstein``, ``reversible_heun``, ``log_ode``. sciml: ``euler`` and ``milstein``
        with fixed steps ``dt``, and ``milstein_em``, Milstein with adaptive steps
        controlled by its difference to Euler-Maruyama (``rtol``, ``atol``).
    dt : float
        Fixed step size. torchsde interpolates linearly between steps. The ``sciml``
        fixed-step methods shorten a step to land on each output time. ``milstein_em``
        does not use it: its first step comes from the noise at ``t0``.
    t_span : (float, float)
        Interval used when :meth:`forward` gets no times.
    rtol, atol : float
        Tolerances of ``milstein_em`` (``sciml``), and the scale of the recorded EEst of
        every ``sciml`` method. SDEs are usually solved at loose tolerances (1e-2).
    dt_min : float
        Smallest adaptive step of ``milstein_em``. Below it a
        :class:`~sciml.numerics.SolverError` is raised.
    max_steps : int
        Most step attempts of one ``sciml`` solve.
    drift_error : bool
        ``sciml`` only: add the drift's Euler/trapezoid difference to the error estimate, so
        that ``milstein_em`` also controls the drift's error and EEst measures it (see
        :func:`~sciml.numerics.sdeint`). Off by default: EEst is then the
        Milstein/Euler-Maruyama difference alone, which sees the noise only.

    Notes
    -----
    The Brownian motion is a ``torchsde.BrownianInterval`` seeded from torch's global RNG,
    so ``torch.manual_seed`` makes a solve reproducible; pass ``bm=`` to share one path.
    After each solve, :attr:`last_stats` is an :class:`SDEStats`. With the ``sciml``
    backend it also holds the per-step ``t``, ``h`` and ``error_estimate`` (still in the
    autograd graph) and ``n_rejected``.

    Examples
    --------
    >>> import torch
    >>> from sciml.nde import MLPVectorField, NeuralSDE
    >>> _ = torch.manual_seed(0)
    >>> sde = NeuralSDE(MLPVectorField(2, 8), MLPVectorField(2, 8, final_activation="softplus"), dt=0.1)
    >>> sde(torch.zeros(5, 2)).shape
    torch.Size([5, 2])
    >>> sde.last_stats.n_steps
    10
    >>> adaptive = NeuralSDE(sde.drift, sde.diffusion, backend="sciml", method="milstein_em", rtol=1e-2, atol=1e-2)
    >>> adaptive(torch.zeros(5, 2)).shape
    torch.Size([5, 2])
    >>> stats = adaptive.last_stats
    >>> stats.nfe == 2 * stats.n_steps == 2 * len(stats.error_estimate)
    True
    """

    def __init__(
        self,
        drift: nn.Module,
        diffusion: nn.Module,
        *,
        noise_type: str = "diagonal",
        sde_type: str = "ito",
        backend: str = "torchsde",
        method: str = "euler",
        dt: float = 0.05,
        t_span: tuple[float, float] = (0.0, 1.0),
        rtol: float = 1e-2,
        atol: float = 1e-2,
        dt_min: float = 1e-5,
        max_steps: int = 10_000,
        drift_error: bool = False,
    ):
        super().__init__()
        for kind, value, valid in (
            ("NeuralSDE backend", backend, SDE_BACKENDS),
            ("noise_type", noise_type, NOISE_TYPES),
            ("sde_type", sde_type, tuple(TORCHSDE_METHODS)),
        ):
            if value not in valid:
                raise UnknownNameError(f"unknown {kind} {value!r}; valid names: {', '.join(sorted(valid))}")
        if backend == "sciml":
            if sde_type != "ito" or noise_type not in ("diagonal", "additive"):
                raise ConfigError(
                    "backend 'sciml' solves Ito SDEs with diagonal or additive noise; got "
                    f"sde_type={sde_type!r}, noise_type={noise_type!r} (use backend='torchsde')"
                )
            if method not in SCIML_SDE_METHODS:
                raise UnknownNameError(
                    f"method {method!r} is not available with backend 'sciml'; valid names: "
                    f"{', '.join(sorted(SCIML_SDE_METHODS))}"
                )
            if method == "milstein_em" and noise_type == "additive" and not drift_error:
                raise ConfigError(
                    "milstein_em cannot adapt its steps to additive noise (Milstein equals Euler-Maruyama there): "
                    "use method='euler' or 'milstein' with a fixed dt, or drift_error=True"
                )
        elif method not in TORCHSDE_METHODS[sde_type]:
            raise UnknownNameError(
                f"method {method!r} does not solve {sde_type} SDEs; valid names: {', '.join(sorted(TORCHSDE_METHODS[sde_type]))}"
            )
        if not dt > 0:
            raise ConfigError(f"dt must be positive, got {dt}")
        if not (rtol >= 0 and atol >= 0 and rtol + atol > 0):
            raise ConfigError(f"rtol and atol must be >= 0, not both 0, got {rtol}, {atol}")
        if len(t_span) != 2 or not float(t_span[1]) > float(t_span[0]):
            raise ConfigError(f"t_span must be (t0, t1) with t1 > t0 (SDEs are integrated forward), got {t_span}")
        if backend == "torchsde_adjoint" and not (isinstance(drift, nn.Module) and isinstance(diffusion, nn.Module)):
            raise ConfigError("backend 'torchsde_adjoint' needs drift and diffusion to be nn.Modules")
        import torchsde  # noqa: F401  (a missing dependency fails here, at construction; sciml uses its Brownian paths)

        self.drift, self.diffusion = drift, diffusion
        self.noise_type, self.sde_type = noise_type, sde_type
        self.backend, self.method = backend, method
        self.dt = float(dt)
        self.t_span = (float(t_span[0]), float(t_span[1]))
        self.rtol, self.atol = float(rtol), float(atol)
        self.dt_min, self.max_steps = float(dt_min), int(max_steps)
        self.drift_error = bool(drift_error)
        self.last_stats: SDEStats | None = None
        self.last_times: torch.Tensor | None = None

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__)
        state.update(last_stats=None, last_times=None)  # per-solve records, not part of the model
        return state

    def extra_repr(self) -> str:
        text = f"backend={self.backend!r}, method={self.method!r}, noise_type={self.noise_type!r}, sde_type={self.sde_type!r}"
        if self.backend == "sciml" and self.method == "milstein_em":
            return f"{text}, rtol={self.rtol:g}, atol={self.atol:g}"
        return f"{text}, dt={self.dt:g}"

    @property
    def adaptive(self) -> bool:
        """Whether solves choose their step sizes (``backend="sciml"``, ``method="milstein_em"``)."""
        return self.backend == "sciml" and self.method == "milstein_em"

    def brownian_motion(self, y0: torch.Tensor, t0: float, t1: float, noise_channels: int | None = None):
        """A ``torchsde.BrownianInterval`` on ``[t0, t1]`` of size ``[batch, m]``, seeded from torch's RNG."""
        import torchsde

        m = noise_channels
        if m is None:
            m = 1 if self.noise_type == "scalar" else y0.shape[-1]
        entropy = int(torch.randint(0, 2**31 - 1, ()).item())
        levy = "space-time" if self.method in ("srk", "log_ode") else "none"
        return torchsde.BrownianInterval(
            t0=t0,
            t1=t1,
            size=(y0.shape[0], m),
            dtype=y0.dtype,
            device=y0.device,
            entropy=entropy,
            levy_area_approximation=levy,
        )

    def solve(self, y0: torch.Tensor, times: torch.Tensor, bm=None) -> torch.Tensor:
        """Integrate from ``y0`` at ``times[0]``; returns the states at ``times``, ``[n_times, batch, dim]``.

        Raises
        ------
        sciml.numerics.SolverError
            With the ``sciml`` backend, when the adaptive step falls below ``dt_min``, the
            step limit is reached or the state stops being finite.
        """
        import torchsde

        if y0.ndim != 2:
            raise ShapeError(f"NeuralSDE needs y0 of shape [batch, dim], got {tuple(y0.shape)}")
        times = torch.as_tensor(times, dtype=y0.dtype, device=y0.device)
        self.last_times = times.detach()
        if bm is None:
            bm = self.brownian_motion(y0, float(times[0]), float(times[-1]))
        if self.backend == "sciml":
            adaptive = self.adaptive
            ys, self.last_stats = sdeint(
                self.drift,
                self.diffusion,
                y0,
                times,
                bm,
                method=self.method,
                noise_type=self.noise_type,
                adaptive=adaptive,
                dt=None if adaptive else self.dt,
                rtol=self.rtol,
                atol=self.atol,
                dt_min=self.dt_min,
                max_steps=self.max_steps,
                drift_error=self.drift_error,
            )
            return ys
        system = _TorchsdeSystem(self.drift, self.diffusion, self.noise_type, self.sde_type)
        if self.backend == "torchsde_adjoint":
            ys = torchsde.sdeint_adjoint(system, y0, times, bm=bm, method=self.method, dt=self.dt)
        else:
            ys = torchsde.sdeint(system, y0, times, bm=bm, method=self.method, dt=self.dt)
        span = float(times[-1] - times[0])
        self.last_stats = SDEStats(
            method=self.method,
            nfe=system.nfe_drift + system.nfe_diffusion,
            nfe_drift=system.nfe_drift,
            nfe_diffusion=system.nfe_diffusion,
            n_steps=math.ceil(span / self.dt - 1e-9) if span > 0 else 0,
        )
        return ys

    def forward(self, y0: torch.Tensor, t: torch.Tensor | None = None, bm=None) -> torch.Tensor:
        """Solve from ``y0 [batch, dim]``; the state at ``t_span[1]``, or ``[n_times, batch, dim]`` at ``t``."""
        if t is None:
            return self.solve(y0, torch.tensor(self.t_span, dtype=y0.dtype, device=y0.device), bm)[-1]
        return self.solve(y0, t, bm)


def milstein_error_estimate(
    drift: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    diffusion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    t: torch.Tensor | float,
    y: torch.Tensor,
    dt: float,
    dW: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Milstein step and its difference to Euler-Maruyama on the same increment (Ito, diagonal noise).

    Euler-Maruyama ``y + f dt + g dW`` (strong order 0.5) and Milstein, which adds
    ``0.5 g g' (dW^2 - dt)`` (strong order 1.0; Kloeden & Platen 1992, 10.3), form an
    embedded pair: their difference ``0.5 g g' (dW^2 - dt)`` estimates the local error of
    the lower-order step, as an embedded Runge-Kutta pair does for ODEs. ``g'`` is
    ``dg_i/dy_i``, obtained as the vector-Jacobian product ``sum_j g_j dg_j/dy_i`` (exact when
    ``g_i`` depends on ``y_i`` only, as torchsde's Milstein also assumes). Differentiable
    (``create_graph=True``) with respect to ``y`` and the parameters of ``f`` and ``g``.

    Parameters
    ----------
    drift, diffusion : callable ``(t, y) -> [batch, dim]``
    t : Tensor (0-dim) or float
    y : Tensor, shape [batch, dim]
    dt : float
        Step size (> 0).
    dW : Tensor, shape [batch, dim]
        The Brownian increment over the step, ``N(0, dt)`` per entry.

    Returns
    -------
    y_next : Tensor, shape [batch, dim]
        The Milstein step.
    local_error : Tensor, shape [batch, dim]
        Milstein minus Euler-Maruyama, ``0.5 g g' (dW^2 - dt)``.
    """
    if dW.shape != y.shape:
        raise ShapeError(f"dW has shape {tuple(dW.shape)} but the state has shape {tuple(y.shape)}")
    return milstein_step(drift, diffusion, t, y, dt, dW, noise_type="diagonal")
