"""Adaptive Ito SDE integration that records what the solver did at every step.

:func:`sdeint` integrates ``dy = f(t, y) dt + g(t, y) dW`` (Ito, diagonal or additive noise)
on a given Brownian path and returns, like :func:`~sciml.numerics.odeint` for ODEs, an
:class:`SDEStats` with, for every accepted step, its start time, its size and its scaled
local error estimate (EEst), plus the counts of drift and diffusion evaluations and of
accepted and rejected steps. EEst stays in the autograd graph: it is what the global SDE
error regularizer penalizes (Pal, Ma, Shah & Rackauckas, "Opening the Blackbox", ICML 2021).

The step-size control uses an embedded pair on the same Brownian increment: the Milstein step
(strong order 1) and the Euler-Maruyama step (strong order 0.5). Their difference,
``0.5 g g' (dW**2 - h)``, estimates the local error of the lower-order step, as an embedded
Runge-Kutta pair does for ODEs. A rejected step is retried on a shorter sub-interval of the
SAME Brownian path, queried from a ``torchsde.BrownianInterval``. That interval samples the
Brownian bridge consistently for arbitrary queries, so rejections do not bias the path. This
is the rejection sampling with memory of Rackauckas & Nie (2017).

Gradients are those of the discrete computation (discretize-then-optimize): autograd runs
through every step, including the Milstein correction. The step sizes are decided on detached
values and are constants of the computation.

>>> import torch, torchsde
>>> from sciml.numerics import sdeint
>>> y0 = torch.ones(4, 1, dtype=torch.float64)
>>> bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(4, 1), dtype=torch.float64, entropy=0)
>>> times = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
>>> ys, stats = sdeint(lambda t, y: 0.1 * y, lambda t, y: 0.3 * y, y0, times, bm, rtol=1e-3, atol=1e-3)
>>> ys.shape
torch.Size([3, 4, 1])
>>> stats.n_accepted == len(stats.h) == len(stats.error_estimate), bool((stats.error_estimate <= 1).all())
(True, True)
>>> stats.nfe == stats.nfe_drift + stats.nfe_diffusion == 2 * stats.n_accepted
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sciml.core.errors import ShapeError, UnknownNameError
from sciml.core.registry import Registry
from sciml.numerics.control import SDE_DAMPED_I
from sciml.numerics.counting import CountingField
from sciml.numerics.rk import SolverError, scaled_error_norm

__all__ = ["SDEMethod", "SDE_METHODS", "SDEStats", "milstein_step", "sdeint"]

Coefficient = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class SDEMethod:
    """A method of :func:`sdeint`, declared as data (the torchsde habit).

    Attributes
    ----------
    name : str
    strong_order : float
        Strong order for diagonal, state-dependent noise. With additive noise the Milstein
        correction vanishes and every method has strong order 1.0.
    milstein : bool
        Whether the propagated solution includes the Milstein correction.
    adaptive : bool
        Whether the method may control its step size (it carries the embedded pair).
    sde_type : str
        Only ``"ito"``.
    noise_types : tuple of str
    """

    name: str
    strong_order: float
    milstein: bool
    adaptive: bool
    sde_type: str = "ito"
    noise_types: tuple[str, ...] = ("diagonal", "additive")


SDE_METHODS: Registry[SDEMethod] = Registry("SDE method", plural="sde_methods", plugins=False)
for _method in (
    SDEMethod("euler", strong_order=0.5, milstein=False, adaptive=False),
    SDEMethod("milstein", strong_order=1.0, milstein=True, adaptive=False),
    SDEMethod("milstein_em", strong_order=1.0, milstein=True, adaptive=True),
):
    _kind = "adaptive" if _method.adaptive else "fixed-step"
    SDE_METHODS.register(_method.name, _method, doc=f"{_kind} Ito solver of strong order {_method.strong_order}")
"""Methods of :func:`sdeint` by name.

``euler`` is Euler-Maruyama and ``milstein`` is Milstein, both with fixed steps.
``milstein_em`` is the embedded pair: it advances with Milstein and estimates the error with
the Euler-Maruyama difference, adaptively or with fixed steps. Every method records the
pair's EEst when ``record=True``.
"""

# Step-size controller: SDE_DAMPED_I (see sciml.numerics.control), called with order exponent 1.
# The local error estimate 0.5 g g' (dW^2 - h) scales like h (its mean square is
# 0.5 (g g')^2 h^2), so the textbook I controller is h * 0.9 * EEst^(-1); the estimate carries
# the chi-square noise of dW^2 / h, so its exponent is damped to 1/2 and growth clipped at 2.
# A rejection costs no evaluations: f, g and g g' at the step's start do not depend on h,
# only the Brownian query is repeated.
_ORDER_EXPONENT = 1
_STRETCH_TO_OUTPUT = 1.01  # stretch a step by up to 1 % to land on an output time instead of leaving a sliver
# Fixed steps stretch by up to 0.1 %: enough to absorb output times rounded to float32 (a sliver
# step of 1e-9 would cost two evaluations), small enough to leave the step size alone.
_STRETCH_FIXED_STEP = 1.001
_ADVICE = "regularize the dynamics, loosen rtol/atol"


@dataclass(frozen=True)
class SDEStats:
    """What the SDE solver did in one solve.

    The per-step tensors have one entry per accepted step, in integration order. They are
    ``None`` for solvers that do not record steps (torchsde) or with ``record=False``.

    Attributes
    ----------
    method : str
    nfe : int
        Evaluations of drift plus diffusion. The vector-Jacobian product that gives ``g g'``
        is a backward pass through the diffusion and is not counted as an evaluation.
    nfe_drift, nfe_diffusion : int
    n_steps : int
        Number of accepted steps (for torchsde's fixed steps, ``ceil((t1 - t0) / dt)``).
    n_rejected : int
        Number of rejected step attempts (0 for fixed steps).
    t : Tensor or None, shape [n_steps]
        Start time of each accepted step (dtype of the output times).
    h : Tensor or None, shape [n_steps]
        Size of each accepted step (positive: the solver integrates forward in time).
    error_estimate : Tensor or None, shape [n_steps]
        EEst of each accepted step: the RMS over all entries of the state of
        ``(y_milstein - y_euler_maruyama) / (atol + rtol * max(|y_n|, |y_{n+1}|))``, combined
        with the drift's Euler/trapezoid difference when ``drift_error=True``. Kept in the
        autograd graph. A step is accepted when it is <= 1 (adaptive mode).
    """

    method: str
    nfe: int
    nfe_drift: int
    nfe_diffusion: int
    n_steps: int
    n_rejected: int = 0
    t: torch.Tensor | None = None
    h: torch.Tensor | None = None
    error_estimate: torch.Tensor | None = None

    @property
    def n_accepted(self) -> int:
        """Number of accepted steps (``n_steps``)."""
        return self.n_steps

    def summary(self) -> dict[str, float]:
        """Scalars for logging: counts, and mean/max of the recorded per-step quantities."""
        values = {"nfe": float(self.nfe), "n_steps": float(self.n_steps), "n_rejected": float(self.n_rejected)}
        for name in ("h", "error_estimate"):
            series = getattr(self, name)
            if series is not None and series.numel() > 0:
                values[f"mean_{name}"] = float(series.detach().mean())
                values[f"max_{name}"] = float(series.detach().max())
        return values


def _noise_shape(y: torch.Tensor, g: torch.Tensor, noise_type: str) -> tuple[int, ...]:
    if noise_type == "additive" and g.ndim == y.ndim + 1 and g.shape[:-1] == y.shape:
        return (*y.shape[:-1], g.shape[-1])
    if g.shape != y.shape:
        expected = "the state's shape" + (" or [*state, m]" if noise_type == "additive" else "")
        raise ShapeError(f"{noise_type}-noise diffusion must return {expected} {tuple(y.shape)}, got {tuple(g.shape)}")
    return tuple(y.shape)


def _coefficients(
    drift: Coefficient,
    diffusion: Coefficient,
    t: torch.Tensor,
    y: torch.Tensor,
    noise_type: str,
    derivative: bool,
    f: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Return ``(y_in, f, g, g g')`` at ``(t, y)``; ``g g'`` is ``None`` when not needed or zero.

    ``f``, when given, is the drift at ``(t, y)`` already evaluated (at the end of the
    previous step, for the drift error estimate) and is not evaluated again.

    ``g g'`` is the vector-Jacobian product ``sum_j g_j dg_j/dy_i``. For diagonal noise
    (``g_i`` depends on ``y_i`` only) it equals ``g_i dg_i/dy_i`` exactly, at the cost of one
    backward pass through ``g`` and no extra evaluation. This is the derivative torchsde's
    Milstein uses. A finite difference would need a second evaluation of ``g`` and lose half
    the digits in float32. With ``create_graph`` the product stays differentiable for
    training; under ``torch.no_grad`` it does not build a graph.
    """
    grad_enabled = torch.is_grad_enabled()
    if not derivative or noise_type == "additive":
        return y, (drift(t, y) if f is None else f), diffusion(t, y), None
    with torch.enable_grad():
        y_in = y if y.requires_grad else y.detach().requires_grad_(True)
        g = diffusion(t, y_in)
        _noise_shape(y, g, noise_type)
        g_dg = None
        if g.requires_grad:
            (g_dg,) = torch.autograd.grad(g, y_in, grad_outputs=g, create_graph=grad_enabled, allow_unused=True)
    if not grad_enabled:
        g = g.detach()
        y_in = y
    if f is None:
        f = drift(t, y_in)
    return y_in, f, g, g_dg


def _noise_term(g: torch.Tensor, dW: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if g.shape == y.shape:
        return g * dW
    return (g @ dW.unsqueeze(-1)).squeeze(-1)  # additive noise [*state, m] @ [*batch, m]


def _propose(
    y: torch.Tensor,
    f: torch.Tensor,
    g: torch.Tensor,
    g_dg: torch.Tensor | None,
    h: float,
    dW: torch.Tensor,
    milstein: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return ``(propagated state, Milstein minus Euler-Maruyama or None)`` for one step."""
    euler_maruyama = y + f * h + _noise_term(g, dW, y)
    if g_dg is None:
        return euler_maruyama, None
    correction = 0.5 * g_dg * (dW * dW - h)
    return (euler_maruyama + correction if milstein else euler_maruyama), correction


def milstein_step(
    drift: Coefficient,
    diffusion: Coefficient,
    t: torch.Tensor | float,
    y: torch.Tensor,
    h: float,
    dW: torch.Tensor,
    *,
    noise_type: str = "diagonal",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Milstein step and its difference to Euler-Maruyama on the same increment (Ito).

    Milstein (strong order 1.0 for diagonal noise; Kloeden & Platen 1992, 10.3) adds
    ``0.5 g g' (dW**2 - h)`` to the Euler-Maruyama step ``y + f h + g dW`` (strong order 0.5).
    That difference is the local error estimate of :func:`sdeint`.

    Parameters
    ----------
    drift, diffusion : callable ``(t, y) -> Tensor``
        ``f`` of the state's shape; ``g`` of the state's shape (diagonal noise, ``g_i``
        depending on ``y_i`` only), or for additive noise also ``[*state, m]``.
    t : Tensor (0-dim) or float
    y : Tensor, shape [*state]
    h : float
        Step size (> 0).
    dW : Tensor, shape [*state] (or [*batch, m] for matrix-valued additive noise)
        Brownian increment over the step, ``N(0, h)`` per entry.
    noise_type : {"diagonal", "additive"}

    Returns
    -------
    y_next : Tensor, shape [*state]
        The Milstein step.
    local_error : Tensor, shape [*state]
        Milstein minus Euler-Maruyama, ``0.5 g g' (dW**2 - h)``; zeros for additive noise.
    """
    if noise_type not in ("diagonal", "additive"):
        raise UnknownNameError(f"unknown noise_type {noise_type!r}; valid names: additive, diagonal")
    if not torch.is_tensor(t):
        t = torch.tensor(t, dtype=y.dtype, device=y.device)
    y_in, f, g, g_dg = _coefficients(drift, diffusion, t, y, noise_type, derivative=True)
    noise_shape = _noise_shape(y, g, noise_type)
    if tuple(dW.shape) != noise_shape:
        raise ShapeError(f"dW has shape {tuple(dW.shape)} but the noise has shape {noise_shape}")
    y_next, correction = _propose(y_in, f, g, g_dg, h, dW, milstein=True)
    return y_next, (correction if correction is not None else torch.zeros_like(y_next))


def _brownian_interval(y0: torch.Tensor, t0: float, t1: float, noise_shape: tuple[int, ...]):
    import torchsde

    entropy = int(torch.randint(0, 2**31 - 1, ()).item())
    return torchsde.BrownianInterval(t0=t0, t1=t1, size=noise_shape, dtype=y0.dtype, device=y0.device, entropy=entropy)


def _initial_step(y0: torch.Tensor, g_dg: torch.Tensor | None, rtol: float, atol: float, span: float) -> float:
    """First adaptive step: the ``h`` at which the expected EEst is about 1/2.

    With ``E|dW**2 - h| ~ sqrt(2) h`` (the standard deviation of ``h`` times a chi-square
    variable with one degree of freedom), EEst is about ``h * d`` with
    ``d = RMS(0.5 sqrt(2) g g' / (atol + rtol |y0|))``. Costs no evaluation: ``g g'`` at
    ``t0`` is needed for the first step anyway. Without state-dependent noise it is the span.
    """
    if g_dg is None:
        return span
    scale = atol + rtol * y0.detach().abs()
    d = float(torch.linalg.vector_norm(0.5 * math.sqrt(2.0) * g_dg.detach() / scale)) / math.sqrt(y0.numel())
    if not math.isfinite(d) or d <= 0.0:
        return span
    return min(span, 0.5 / d)


def sdeint(
    drift: Coefficient,
    diffusion: Coefficient,
    y0: torch.Tensor,
    times: torch.Tensor,
    bm=None,
    *,
    method: str = "milstein_em",
    noise_type: str = "diagonal",
    adaptive: bool = True,
    dt: float | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    dt0: float | None = None,
    dt_min: float = 1e-5,
    max_steps: int = 10_000,
    record: bool = True,
    drift_error: bool = False,
) -> tuple[torch.Tensor, SDEStats]:
    """Integrate the Ito SDE ``dy = drift(t, y) dt + diffusion(t, y) dW`` on the path ``bm``.

    Adaptive mode (``adaptive=True``, method ``milstein_em``) advances with Milstein and takes
    the difference to Euler-Maruyama on the same increment as the local error:
    ``EEst = RMS(0.5 g g' (dW**2 - h) / (atol + rtol * max(|y_n|, |y_{n+1}|)))``. A step is
    accepted when ``EEst <= 1`` and its state is finite. A rejected step is retried with
    ``h * max(0.2, 0.9 EEst**(-1/2))`` on the same Brownian path. The next step after an
    accepted one is ``h * clip(0.9 EEst**(-1/2), 0.2, 2)``, never above ``h`` right after a
    rejection. Steps never overshoot an output time: each one lands exactly on it, and a
    step is stretched by up to 1 % to reach it rather than leave a sliver.

    Fixed-step mode (``adaptive=False``, every method) takes steps of ``dt`` from ``t0``.
    A step is shortened where it would pass an output time (or stretched by up to 0.1 % to
    reach one), so the solution lands on it, and the steps go on from there. On times that
    lie on the ``dt`` lattice the steps are those of ``torchsde.sdeint`` with the same
    ``dt``. EEst is recorded when ``record=True``.

    The cost per accepted step is one drift and one diffusion evaluation, plus one backward
    pass through the diffusion for ``g g'``. A rejection costs no evaluation (``f``, ``g``
    and ``g g'`` at the step's start do not depend on ``h``), only a Brownian query.
    ``euler`` with ``record=False`` skips ``g g'``.

    The pair estimates the error of the stochastic term only; the drift's error is not
    measured. The step sizes are then limited by the noise's state dependence and by the
    output times: a nearly additive noise lets the solver take one step per output interval
    whatever the drift. With additive noise the pair agrees exactly (EEst = 0), so adaptive
    mode refuses it. ``drift_error=True`` adds the drift's error: the difference between
    the Euler and the trapezoidal drift increments, ``0.5 h (f(t_{n+1}, y_{n+1}) - f(t_n,
    y_n))``, the embedded Euler/Heun estimate of ODE solvers. EEst then is
    ``sqrt(EEst_noise**2 + EEst_drift**2)``. The drift at the step's end is the next step's
    drift, so this costs one drift evaluation per rejected step and one at the end.

    Parameters
    ----------
    drift : callable ``(t, y) -> Tensor``, shape [*state]
    diffusion : callable ``(t, y) -> Tensor``
        Diagonal noise: the state's shape, and ``g_i`` must depend on ``y_i`` only (the
        Milstein correction uses ``sum_j g_j dg_j/dy_i``, which equals ``g_i dg_i/dy_i``
        only then). Additive noise: independent of ``y``, the state's shape or ``[*state, m]``
        with ``m`` Brownian channels.
    y0 : Tensor, shape [*state]
        Initial state at ``times[0]``, usually ``[batch, dim]``; floating point.
    times : Tensor, shape [n_times]
        Strictly increasing output times.
    bm : torchsde.BrownianInterval, optional
        The Brownian path on ``[times[0], times[-1]]``, of the state's shape (or
        ``[*batch, m]``), called as ``bm(ta, tb)`` for the increment. By default a new one is
        seeded from torch's global RNG. Pass the same one to reproduce a solve.
    method : {"milstein_em", "milstein", "euler"}
        See :data:`SDE_METHODS`.
    noise_type : {"diagonal", "additive"}
    adaptive : bool
        Adaptive step sizes (``milstein_em`` only) or fixed steps of ``dt``.
    dt : float, optional
        The fixed step size (required when ``adaptive=False``).
    rtol, atol : float
        Tolerances of EEst. SDE solves usually run at loose ones (1e-2 to 1e-4).
    dt0 : float, optional
        First adaptive step. By default it is chosen from ``g g'`` at ``t0`` so that the
        expected EEst is about 1/2 (no extra evaluation).
    dt_min : float
        Smallest adaptive step size. Below it, a :class:`~sciml.numerics.SolverError` is raised.
    max_steps : int
        Most step attempts (accepted plus rejected) in adaptive mode, or most steps in fixed
        mode.
    record : bool
        Record the per-step tensors of :class:`SDEStats` (the counts are always kept).
    drift_error : bool
        Add the drift's Euler/trapezoid difference to the error estimate (see above). It
        also makes adaptive steps possible for additive noise.

    Returns
    -------
    ys : Tensor, shape [n_times, *state]
        The solution at ``times``; ``ys[0]`` is ``y0``.
    stats : SDEStats

    Raises
    ------
    SolverError
        When the step size falls below ``dt_min`` or the time resolution, when more than
        ``max_steps`` steps are needed, or when the state stops being finite in fixed-step
        mode. The message is one line naming the time reached, the step size and advice.
    ValueError, ShapeError, UnknownNameError
        On invalid arguments, shapes that do not fit, or an unknown method or noise type.
    """
    solver = _check_arguments(
        y0, times, method, noise_type, adaptive, dt, rtol, atol, dt0, dt_min, max_steps, drift_error
    )
    out = [float(value) for value in times.detach().cpu().tolist()]
    time_dtype = times.dtype
    f_counter, g_counter = CountingField(drift), CountingField(diffusion)
    derivative = solver.milstein or adaptive or record

    def as_time(value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=time_dtype, device=y0.device)

    def stats(starts, sizes, errors, n_accepted, n_rejected) -> SDEStats:
        as_tensor = lambda values: torch.tensor(values, dtype=time_dtype, device=y0.device)  # noqa: E731
        return SDEStats(
            method=solver.name,
            nfe=f_counter.count + g_counter.count,
            nfe_drift=f_counter.count,
            nfe_diffusion=g_counter.count,
            n_steps=n_accepted,
            n_rejected=n_rejected,
            t=as_tensor(starts) if record else None,
            h=as_tensor(sizes) if record else None,
            error_estimate=(torch.stack(errors) if errors else y0.new_zeros(0)) if record else None,
        )

    if len(out) == 1:
        return y0.unsqueeze(0), stats([], [], [], 0, 0)

    t_start, t_end = out[0], out[-1]
    outputs = [y0]
    starts: list[float] = []
    sizes: list[float] = []
    errors: list[torch.Tensor] = []
    n_accepted = n_rejected = 0
    t_n, y_n = t_start, y0
    next_output = 1
    h = dt0
    previous_rejected = False
    f_next = None  # the drift at the end of the last accepted step, when the drift error needed it

    while next_output < len(out):
        y_in, f, g, g_dg = _coefficients(f_counter, g_counter, as_time(t_n), y_n, noise_type, derivative, f_next)
        f_next = None
        noise_shape = _noise_shape(y_n, g, noise_type)
        if bm is None:
            bm = _brownian_interval(y0, t_start, t_end, noise_shape)
        if h is None:
            h = _initial_step(y_n, g_dg, rtol, atol, t_end - t_start)
        while True:  # attempts from (t_n, y_n); only the Brownian query repeats
            target = out[next_output]
            if adaptive:
                smallest = max(dt_min, 4.0 * math.ulp(abs(t_n)))
                if not (h >= smallest):
                    raise SolverError(
                        f"{solver.name}: step size {h:.3g} fell below dt_min={smallest:.3g} at t={t_n:.17g} "
                        f"before reaching t={t_end:.17g}; {_ADVICE}, or lower dt_min"
                    )
                if n_accepted + n_rejected >= max_steps:
                    raise SolverError(
                        f"{solver.name}: max_steps={max_steps} steps taken, reached t={t_n:.17g} with step size "
                        f"{h:.3g} before t={t_end:.17g}; {_ADVICE}, or raise max_steps"
                    )
                lands = t_n + _STRETCH_TO_OUTPUT * h >= target
            else:
                if n_accepted >= max_steps:
                    raise SolverError(
                        f"{solver.name}: max_steps={max_steps} steps of dt={dt:.3g} taken, reached t={t_n:.17g} "
                        f"before t={t_end:.17g}; raise dt or max_steps"
                    )
                lands = t_n + _STRETCH_FIXED_STEP * dt >= target
                h = dt
            t_next = target if lands else t_n + h
            step = t_next - t_n
            dW = bm(t_n, t_next)
            if tuple(dW.shape) != noise_shape:
                raise ShapeError(f"the Brownian motion has shape {tuple(dW.shape)} but the noise needs {noise_shape}")
            y_next, correction = _propose(y_in, f, g, g_dg, step, dW, solver.milstein)
            error = None
            if drift_error and (adaptive or record):
                f_next = f_counter(as_time(t_next), y_next)
                parts = [0.5 * step * (f_next - f)] + ([correction] if correction is not None else [])
                # sqrt(EEst_drift^2 + EEst_noise^2): the RMS over both parts times sqrt(number of parts)
                error = math.sqrt(len(parts)) * scaled_error_norm(torch.stack(parts), y_n, y_next, rtol, atol)
            elif correction is not None and (adaptive or record):
                error = scaled_error_norm(correction, y_n, y_next, rtol, atol)
            elif record and noise_type == "additive":
                error = y_next.new_zeros(())  # the pair agrees exactly
            if not adaptive:
                if not bool(torch.isfinite(y_next).all()):
                    raise SolverError(
                        f"{solver.name}: the state is not finite at t={t_next:.17g} (step size {step:.3g}) "
                        f"before reaching t={t_end:.17g}; {_ADVICE}, or lower dt"
                    )
                break
            error_value = float(error.detach())
            finite = bool(torch.isfinite(y_next).all())
            if finite and error_value <= 1.0:  # a NaN EEst rejects too
                h = step * SDE_DAMPED_I.accept_factor(error_value, _ORDER_EXPONENT, rejected_last=previous_rejected)
                previous_rejected = False
                break
            n_rejected += 1
            h = step * SDE_DAMPED_I.reject_factor(error_value if finite else math.inf, _ORDER_EXPONENT)
            previous_rejected = True

        n_accepted += 1
        if record:
            starts.append(t_n)
            sizes.append(step)
            if error is not None:
                errors.append(error)
        if lands:
            outputs.append(y_next)
            next_output += 1
        t_n, y_n = t_next, y_next

    return torch.stack(outputs), stats(starts, sizes, errors, n_accepted, n_rejected)


def _check_arguments(
    y0: torch.Tensor,
    times: torch.Tensor,
    method: str,
    noise_type: str,
    adaptive: bool,
    dt: float | None,
    rtol: float,
    atol: float,
    dt0: float | None,
    dt_min: float,
    max_steps: int,
    drift_error: bool,
) -> SDEMethod:
    solver = SDE_METHODS.get(method)
    if noise_type not in solver.noise_types:
        raise UnknownNameError(
            f"sdeint does not solve {noise_type!r} noise; valid names: {', '.join(sorted(solver.noise_types))}"
        )
    if not torch.is_tensor(y0) or not y0.is_floating_point() or y0.numel() == 0:
        raise ValueError("y0 must be a non-empty floating-point tensor")
    if not torch.is_tensor(times) or times.ndim != 1 or times.numel() == 0 or not times.is_floating_point():
        raise ShapeError("times must be a non-empty 1-D floating-point tensor of output times")
    values = times.detach()
    if not bool(torch.isfinite(values).all()):
        raise ValueError("times holds non-finite values")
    if values.numel() > 1 and not bool((values[1:] > values[:-1]).all()):
        raise ValueError("times must be strictly increasing (the SDE is integrated forward in time)")
    if adaptive:
        if not solver.adaptive:
            raise ValueError(
                f"method {method!r} has fixed steps: pass adaptive=False and dt=, or use 'milstein_em' for adaptive steps"
            )
        if noise_type == "additive" and not drift_error:
            raise ValueError(
                "with additive noise Milstein equals Euler-Maruyama, so the pair estimates no error: "
                "use adaptive=False, or drift_error=True"
            )
        if dt is not None:
            raise ValueError("dt is the fixed step (adaptive=False); the first adaptive step is dt0")
        if not (rtol >= 0 and atol >= 0 and rtol + atol > 0):
            raise ValueError(f"rtol and atol must be >= 0, not both 0 (got {rtol}, {atol})")
        if dt0 is not None and not (dt0 > 0 and math.isfinite(dt0)):
            raise ValueError(f"dt0 must be positive and finite, got {dt0}")
        if not dt_min >= 0:
            raise ValueError(f"dt_min must be >= 0, got {dt_min}")
    elif dt is None or not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"fixed steps (adaptive=False) need a positive, finite dt, got {dt}")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps}")
    return solver
