"""Neural stochastic differential equations on torchsde, and the embedded Euler-Maruyama/Milstein error."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from sciml.errors import ConfigError, ShapeError, UnknownNameError

__all__ = ["NeuralSDE", "SDEStats", "milstein_error_estimate"]

SDE_BACKENDS = ("torchsde", "torchsde_adjoint")
NOISE_TYPES = ("diagonal", "additive", "scalar", "general")
# torchsde's methods by SDE type (torchsde 0.2.6, torchsde/_core/methods/__init__.py).
SDE_METHODS = {
    "ito": ("euler", "milstein", "srk"),
    "stratonovich": ("midpoint", "euler_heun", "heun", "milstein", "reversible_heun", "log_ode"),
}


@dataclass(frozen=True)
class SDEStats:
    """What the fixed-step SDE solver did in the last forward solve.

    Attributes
    ----------
    method : str
    nfe : int
        Evaluations of drift plus diffusion (torchsde may call them jointly).
    nfe_drift, nfe_diffusion : int
    n_steps : int
        Number of steps of size ``dt`` (``ceil((t1 - t0) / dt)``).
    """

    method: str
    nfe: int
    nfe_drift: int
    nfe_diffusion: int
    n_steps: int

    def summary(self) -> dict[str, float]:
        return {"nfe": float(self.nfe), "n_steps": float(self.n_steps)}


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
    """A neural stochastic differential equation ``dy = f(t, y) dt + g(t, y) dW`` on torchsde.

    Parameters
    ----------
    drift : nn.Module
        ``f(t, y) -> [batch, dim]``.
    diffusion : nn.Module
        ``g(t, y)``: ``[batch, dim]`` for ``diagonal`` noise (``g_i`` should depend on
        ``y_i`` only for Milstein and for :func:`milstein_error_estimate`), ``[batch, dim,
        m]`` for ``general``, ``additive`` and ``scalar`` (m = 1) noise.
    noise_type : {"diagonal", "additive", "scalar", "general"}
    sde_type : {"ito", "stratonovich"}
    backend : {"torchsde", "torchsde_adjoint"}
        ``torchsde``: ``torchsde.sdeint``, backpropagated through the steps.
        ``torchsde_adjoint``: ``torchsde.sdeint_adjoint`` (Li et al. 2020), constant memory;
        drift and diffusion must be ``nn.Module`` s (their parameters get the gradient).
    method : str
        Ito: ``euler`` (Euler-Maruyama, strong order 0.5), ``milstein`` (strong order 1.0 for
        diagonal noise), ``srk`` (Rößler's stochastic Runge-Kutta, strong order 1.5).
        Stratonovich: ``midpoint``, ``euler_heun``, ``heun``, ``milstein``,
        ``reversible_heun``, ``log_ode``.
    dt : float
        Fixed step size; the solution between steps is interpolated linearly.
    t_span : (float, float)
        Interval used when :meth:`forward` gets no times.

    Notes
    -----
    The Brownian motion is a ``torchsde.BrownianInterval`` seeded from torch's global RNG,
    so ``torch.manual_seed`` makes a solve reproducible; pass ``bm=`` to share one path.

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
    ):
        super().__init__()
        for kind, value, valid in (
            ("NeuralSDE backend", backend, SDE_BACKENDS),
            ("noise_type", noise_type, NOISE_TYPES),
            ("sde_type", sde_type, tuple(SDE_METHODS)),
        ):
            if value not in valid:
                raise UnknownNameError(f"unknown {kind} {value!r}; valid names: {', '.join(sorted(valid))}")
        if method not in SDE_METHODS[sde_type]:
            raise UnknownNameError(
                f"method {method!r} does not solve {sde_type} SDEs; valid names: {', '.join(sorted(SDE_METHODS[sde_type]))}"
            )
        if not dt > 0:
            raise ConfigError(f"dt must be positive, got {dt}")
        if len(t_span) != 2 or not float(t_span[1]) > float(t_span[0]):
            raise ConfigError(f"t_span must be (t0, t1) with t1 > t0 (torchsde integrates forward), got {t_span}")
        if backend == "torchsde_adjoint" and not (isinstance(drift, nn.Module) and isinstance(diffusion, nn.Module)):
            raise ConfigError("backend 'torchsde_adjoint' needs drift and diffusion to be nn.Modules")
        import torchsde  # noqa: F401  (a missing dependency fails here, at construction)

        self.drift, self.diffusion = drift, diffusion
        self.noise_type, self.sde_type = noise_type, sde_type
        self.backend, self.method = backend, method
        self.dt = float(dt)
        self.t_span = (float(t_span[0]), float(t_span[1]))
        self.last_stats: SDEStats | None = None
        self.last_times: torch.Tensor | None = None

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__)
        state.update(last_stats=None, last_times=None)  # per-solve records, not part of the model
        return state

    def extra_repr(self) -> str:
        return f"backend={self.backend!r}, method={self.method!r}, noise_type={self.noise_type!r}, sde_type={self.sde_type!r}, dt={self.dt:g}"

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
        """Integrate from ``y0`` at ``times[0]``; returns the states at ``times``, ``[n_times, batch, dim]``."""
        import torchsde

        if y0.ndim != 2:
            raise ShapeError(f"NeuralSDE needs y0 of shape [batch, dim], got {tuple(y0.shape)}")
        times = torch.as_tensor(times, dtype=y0.dtype, device=y0.device)
        self.last_times = times.detach()
        system = _TorchsdeSystem(self.drift, self.diffusion, self.noise_type, self.sde_type)
        if bm is None:
            bm = self.brownian_motion(y0, float(times[0]), float(times[-1]))
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
    if not torch.is_tensor(t):
        t = torch.tensor(t, dtype=y.dtype, device=y.device)
    with torch.enable_grad():
        y_in = y if y.requires_grad else y.detach().requires_grad_(True)
        g = diffusion(t, y_in)
        if g.shape != y.shape:
            raise ShapeError(
                f"diagonal-noise diffusion must return the state's shape {tuple(y.shape)}, got {tuple(g.shape)}"
            )
        g_dg = None
        if g.requires_grad:
            (g_dg,) = torch.autograd.grad(g, y_in, grad_outputs=g, create_graph=True, allow_unused=True)
    if g_dg is None:  # g does not depend on y (additive noise): Milstein equals Euler-Maruyama
        g_dg = torch.zeros_like(y)
    euler_maruyama = y_in + drift(t, y_in) * dt + g * dW
    local_error = 0.5 * g_dg * (dW * dW - dt)
    return euler_maruyama + local_error, local_error
