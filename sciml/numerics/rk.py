"""Explicit Runge-Kutta integration that records what the solver did at every step.

:func:`odeint` integrates ``dy/dt = func(t, y)`` like ``torchdiffeq.odeint`` and also returns
a :class:`SolverStats` with, for every accepted step, its start time, its size, the scaled
local error estimate (EEst) and Shampine's stiffness estimate, plus the counts of function
evaluations and of accepted and rejected steps. EEst and the stiffness estimate stay in the
autograd graph: they are the quantities penalized by solver-heuristic regularizers
(Pal et al., "Opening the Blackbox: Accelerating Neural Differential Equations by
Regularizing Internal Solver Heuristics", ICML 2021).

Gradients are those of the discrete computation (discretize-then-optimize): autograd runs
through every stage. The step-size decisions are made on detached values, so the step
sequence is a constant of the computation; it is not differentiated.

>>> import torch
>>> from sciml.numerics import odeint
>>> t = torch.linspace(0.0, 1.0, 3, dtype=torch.float64)
>>> ys, stats = odeint(lambda t, y: -y, torch.ones(2, dtype=torch.float64), t, rtol=1e-8)
>>> ys.shape
torch.Size([3, 2])
>>> bool(torch.allclose(ys[:, 0], torch.exp(-t), rtol=1e-7))
True
>>> stats.n_accepted == len(stats.h), stats.n_rejected
(True, 0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sciml.core.errors import SciMLError, ShapeError
from sciml.numerics.control import RK_PI, StepSizeController
from sciml.numerics.counting import CountingField
from sciml.numerics.tableaus import ButcherTableau, get_tableau

__all__ = [
    "SolverError",
    "SolverStats",
    "odeint",
    "rk_step",
    "initial_step_size",
    "scaled_error_norm",
    "stiffness_estimate",
]

VectorField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# Hairer's DOPRI5 stretches a step by up to 1 % to reach the end instead of leaving a sliver.
_STRETCH_LAST_STEP = 1.01
_ADVICE = "regularize the dynamics, loosen rtol/atol"


class SolverError(SciMLError, RuntimeError):
    """The integration could not reach the final time (step size too small, too many steps).

    The message is one line naming the method, the time reached, the step size and advice.
    """


@dataclass(frozen=True)
class SolverStats:
    """What the solver did, step by step.

    The per-step tensors have one entry per accepted step, in integration order; they are
    ``None`` when ``record=False`` or when the method cannot provide them.

    Attributes
    ----------
    method : str
        Name of the tableau.
    t : Tensor, shape [n_accepted]
        Start time of each accepted step (dtype of ``t``, device of ``y0``).
    h : Tensor, shape [n_accepted]
        Signed size of each accepted step (negative when integrating backward in time).
    error_estimate : Tensor or None, shape [n_accepted]
        EEst: RMS over all entries of the state of the embedded error estimate divided by
        ``atol + rtol * max(|y_n|, |y_{n+1}|)``; a step is accepted when it is <= 1. Kept in
        the autograd graph. ``None`` for methods without error weights (rk4, euler).
    stiffness_estimate : Tensor or None, shape [n_accepted]
        ``|h| * rho / R`` where ``rho = |f(s_i) - f(s_j)| / |s_i - s_j|`` (Euclidean norms)
        is Shampine's estimate of the dominant Jacobian eigenvalue magnitude from two stages
        with equal abscissa, and ``R`` is the method's real stability boundary (3.307 for
        dopri5, 3.507 for tsit5, 2.785 for rk4). Values near or above 1 mean the step size
        is limited by stability, not accuracy: the problem is stiff for this method. Kept in
        the autograd graph. ``None`` for tableaus without such a stage pair (bs3, euler).
    nfe : int
        Number of evaluations of ``func``.
    n_accepted, n_rejected : int
        Numbers of accepted and rejected steps.
    y : Tensor or None, shape [n_accepted, *state]
        The state at the start of each accepted step, ``y(t[j])``, still in the autograd
        graph (the solver computed these states anyway: recording costs a copy, no
        evaluation). The biased local regularizer starts its step from one of them instead
        of solving again to ``t[j]``. ``None`` when ``record=False`` and for the
        torchdiffeq backends.
    """

    method: str
    t: torch.Tensor | None
    h: torch.Tensor | None
    error_estimate: torch.Tensor | None
    stiffness_estimate: torch.Tensor | None
    nfe: int
    n_accepted: int
    n_rejected: int
    y: torch.Tensor | None = None

    def summary(self) -> dict[str, float]:
        """Scalars for logging: counts, and mean/max of the recorded per-step quantities."""
        values: dict[str, float] = {
            "nfe": float(self.nfe),
            "n_accepted": float(self.n_accepted),
            "n_rejected": float(self.n_rejected),
        }
        for name in ("h", "error_estimate", "stiffness_estimate"):
            series = getattr(self, name)
            if series is not None and series.numel() > 0:
                series = series.detach().abs() if name == "h" else series.detach()
                values[f"mean_{name}"] = float(series.mean())
                values[f"max_{name}"] = float(series.max())
        return values


def _weighted_sum(weights: tuple[float, ...], stages: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Return ``sum_i weights[i] * stages[i]`` skipping zero weights."""
    total = None
    for weight, stage in zip(weights, stages):
        if weight != 0.0:
            term = weight * stage
            total = term if total is None else total + term
    return total if total is not None else torch.zeros_like(stages[0])


def rk_step(
    func: VectorField,
    t: torch.Tensor | float,
    y: torch.Tensor,
    h: torch.Tensor | float,
    tableau: ButcherTableau,
    f0: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, ...]]:
    """Take one differentiable explicit Runge-Kutta step.

    Parameters
    ----------
    func : callable ``(t, y) -> dy/dt``
        Vector field; ``t`` is a 0-dim tensor, ``y`` and the result have ``y``'s shape.
    t : Tensor (0-dim) or float
        Time at the start of the step. A float becomes a tensor of ``y``'s dtype and device.
    y : Tensor, shape [*state]
        State at ``t``.
    h : Tensor (0-dim) or float
        Signed step size. A tensor that requires grad is differentiated through.
    tableau : ButcherTableau
        The method.
    f0 : Tensor, shape [*state], optional
        ``func(t, y)`` when already known (FSAL); saves one evaluation.

    Returns
    -------
    y_next : Tensor, shape [*state]
        The propagated (higher-order) solution at ``t + h``.
    local_error : Tensor or None, shape [*state]
        ``h * sum_i b_error_i k_i``, the difference between the propagated and the embedded
        solution; ``None`` if the tableau has no error weights. Unscaled: see
        :func:`scaled_error_norm`.
    stages : tuple of Tensor, each of shape [*state]
        The stage derivatives ``k_1 ... k_s``; for FSAL tableaus the last one is
        ``func(t + h, y_next)``.
    """
    if not torch.is_tensor(t):
        t = torch.tensor(t, dtype=y.dtype, device=y.device)
    stages = [func(t, y) if f0 is None else f0]
    y_next = None
    for i in range(1, tableau.stages):
        stage_state = y + h * _weighted_sum(tableau.a[i][:i], tuple(stages))
        if tableau.fsal and i == tableau.stages - 1:
            y_next = stage_state  # the last stage is evaluated at the new solution itself
        stages.append(func(t + tableau.c[i] * h, stage_state))
    stages = tuple(stages)
    if y_next is None:
        y_next = y + h * _weighted_sum(tableau.b, stages)
    local_error = None
    if tableau.b_error is not None:
        local_error = h * _weighted_sum(tableau.b_error, stages)
    return y_next, local_error, stages


def scaled_error_norm(
    local_error: torch.Tensor,
    y: torch.Tensor,
    y_next: torch.Tensor,
    rtol: float,
    atol: float,
) -> torch.Tensor:
    """Return EEst, the RMS of the local error relative to the mixed tolerance.

    ``EEst = sqrt(mean((local_error / (atol + rtol * max(|y|, |y_next|)))**2))`` over all
    entries of the state (batch included), as in Hairer, Norsett & Wanner, *Solving ODEs I*,
    II.4 eq. (4.11). A step is acceptable when EEst <= 1. Differentiable; its gradient at
    EEst = 0 is 0.

    Parameters
    ----------
    local_error, y, y_next : Tensor, shape [*state]
        The error estimate of :func:`rk_step` and the states at both ends of the step.
    rtol, atol : float
        Relative and absolute tolerances.

    Returns
    -------
    Tensor, shape []
    """
    scale = atol + rtol * torch.maximum(y.abs(), y_next.abs())
    return torch.linalg.vector_norm(local_error / scale) / math.sqrt(local_error.numel())


def stiffness_estimate(
    stages: tuple[torch.Tensor, ...], h: torch.Tensor | float, tableau: ButcherTableau
) -> torch.Tensor | None:
    """Return Shampine's stiffness estimate of one step, relative to the stability boundary.

    For two stages ``i, j`` with equal abscissa, ``rho = |k_i - k_j| / |s_i - s_j|`` (with
    ``s_i - s_j = h sum_l (a_il - a_jl) k_l``) estimates the magnitude of the dominant
    eigenvalue of the Jacobian (L. F. Shampine, "Stiffness and nonstiff differential equation
    solvers II", Appl. Numer. Math. 1977; Hairer & Wanner, *Solving ODEs II*, IV.2). The
    result is ``|h| * rho / tableau.real_stability_boundary``: about 1 or more when the step
    size is limited by stability. Differentiable; 0 when ``s_i == s_j``.

    Parameters
    ----------
    stages : tuple of Tensor, each of shape [*state]
        The stages returned by :func:`rk_step`.
    h : Tensor (0-dim) or float
        The signed step size of that step.
    tableau : ButcherTableau
        The method that produced the stages.

    Returns
    -------
    Tensor of shape [] or None
        ``None`` if the tableau has no pair of stages with equal abscissa.
    """
    if tableau.stiffness_stages is None:
        return None
    i, j = tableau.stiffness_stages
    row_difference = tuple(a_i - a_j for a_i, a_j in zip(tableau.a[i], tableau.a[j]))
    state_difference = h * _weighted_sum(row_difference, stages)
    state_norm = torch.linalg.vector_norm(state_difference)
    derivative_norm = torch.linalg.vector_norm(stages[i] - stages[j])
    safe_state_norm = torch.where(state_norm > 0, state_norm, torch.ones_like(state_norm))
    rho = torch.where(state_norm > 0, derivative_norm / safe_state_norm, torch.zeros_like(state_norm))
    step = h.abs() if torch.is_tensor(h) else abs(h)
    return step * rho / tableau.real_stability_boundary


def _rms(x: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x)) / math.sqrt(x.numel())


@torch.no_grad()
def initial_step_size(
    func: VectorField,
    t0: torch.Tensor | float,
    y0: torch.Tensor,
    order: int,
    rtol: float,
    atol: float,
    *,
    f0: torch.Tensor | None = None,
    direction: float = 1.0,
) -> float:
    """Choose a first step size with Hairer's heuristic.

    Hairer, Norsett & Wanner, *Solving ODEs I* (1993), II.4, "Starting step size": with the
    RMS norm scaled by ``atol + rtol * |y0|``, ``d0 = |y0|``, ``d1 = |f0|``,
    ``h0 = 0.01 d0 / d1`` (1e-6 if either is below 1e-5), one explicit Euler probe gives
    ``d2 = |f(t0 + h0, y0 + h0 f0) - f0| / h0``, and the step is
    ``min(100 h0, (0.01 / max(d1, d2)) ** (1 / (order + 1)))``. Runs without gradients;
    evaluates ``func`` once (twice if ``f0`` is not given).

    Parameters
    ----------
    func : callable ``(t, y) -> dy/dt``
    t0 : Tensor (0-dim) or float
    y0 : Tensor, shape [*state]
    order : int
        Order ``q`` of the local error estimate ~ h^(q+1); for an embedded pair the order
        of the embedded solution (``tableau.error_order``, 4 for dopri5 as in DOPRI5).
    rtol, atol : float
    f0 : Tensor, shape [*state], optional
        ``func(t0, y0)`` if already known.
    direction : float
        +1 to integrate forward in time, -1 backward.

    Returns
    -------
    float
        A positive step size; multiply by ``direction``.
    """
    if not torch.is_tensor(t0):
        t0 = torch.tensor(t0, dtype=y0.dtype, device=y0.device)
    if f0 is None:
        f0 = func(t0, y0)
    scale = atol + rtol * y0.abs()
    d0 = _rms(y0 / scale)
    d1 = _rms(f0 / scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    y1 = y0 + direction * h0 * f0
    f1 = func(t0 + direction * h0, y1)
    d2 = _rms((f1 - f0) / scale) / h0
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
    return min(100.0 * h0, h1)


def _resolve_tableau(method: str | ButcherTableau) -> ButcherTableau:
    if isinstance(method, ButcherTableau):
        return method
    return get_tableau(method)


def _hermite_cubic(
    theta: float,
    h: float,
    y0: torch.Tensor,
    y1: torch.Tensor,
    f0: torch.Tensor,
    f1: torch.Tensor,
) -> torch.Tensor:
    """Cubic Hermite interpolant of (y0, f0) and (y1, f1) at ``t0 + theta * h`` (order 3)."""
    theta2, theta3 = theta * theta, theta * theta * theta
    return (
        (2 * theta3 - 3 * theta2 + 1) * y0
        + (3 * theta2 - 2 * theta3) * y1
        + h * ((theta3 - 2 * theta2 + theta) * f0 + (theta3 - theta2) * f1)
    )


def odeint(
    func: VectorField,
    y0: torch.Tensor,
    t: torch.Tensor,
    *,
    method: str | ButcherTableau = "dopri5",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    h0: float | None = None,
    step_size: float | None = None,
    max_steps: int = 10_000,
    min_step: float = 0.0,
    record: bool = True,
    controller: StepSizeController = RK_PI,
) -> tuple[torch.Tensor, SolverStats]:
    """Integrate ``dy/dt = func(t, y)`` and return the solution at the times ``t``.

    Adaptive mode (the default for ``dopri5``, ``tsit5``, ``bs3``) controls the step size
    with a PI controller on EEst (``h_next = 0.9 h EEst_n^(-0.7/k) EEst_{n-1}^(0.4/k)``,
    ``k = error_order + 1``, factor clipped to [0.2, 10]; Hairer & Wanner II, IV.2) starting
    from :func:`initial_step_size`, and evaluates the solution between steps with the
    tableau's dense output (Hermite cubic when it has none). The last step is shortened (or
    stretched by up to 1 %) to end exactly at ``t[-1]``. Fixed-step mode (``step_size``
    given; required for ``rk4`` and ``euler``, allowed for every method) takes equal steps
    of the largest size <= ``step_size`` that divides ``t[-1] - t[0]``, and also records
    EEst when the tableau has error weights.

    One step size is used for the whole state: a batch ``[batch, dim]`` is integrated as
    one system, and EEst is the RMS over all its entries. Gradients flow to ``y0`` and to
    parameters used by ``func`` through plain autograd (discretize-then-optimize: memory
    grows with the number of steps; there is no adjoint here). The times ``t`` and the step
    sizes are constants of the computation.

    Parameters
    ----------
    func : callable ``(t, y) -> dy/dt``
        Vector field; receives a 0-dim tensor ``t`` (dtype of ``t``, device of ``y0``) and a
        state of ``y0``'s shape, returns a tensor of the same shape.
    y0 : Tensor, shape [*state]
        Initial state at ``t[0]``, floating point, any shape and device.
    t : Tensor, shape [n_times]
        Output times, strictly increasing or strictly decreasing; ``t[0]`` is the start.
    method : str or ButcherTableau
        A name in :data:`~sciml.numerics.TABLEAUS` or a tableau. ``dopri5`` at the default
        tolerances is a good start; ``bs3`` for loose tolerances (rtol ~ 1e-3).
    rtol, atol : float
        Relative and absolute tolerances of the local error (adaptive mode).
    h0 : float, optional
        First step size (positive) in adaptive mode; by default Hairer's heuristic.
    step_size : float, optional
        Selects fixed-step mode with steps of at most this size.
    max_steps : int
        Maximum number of attempted steps (accepted plus rejected).
    min_step : float
        Smallest allowed adaptive step size. Whatever its value, a step that no longer
        advances the time (below 4 machine epsilons of ``|t|``) also stops the solver.
    record : bool
        Record the per-step tensors of :class:`SolverStats` (counts are always kept).
    controller : StepSizeController
        The step-size rule (adaptive mode); default :data:`~sciml.numerics.control.RK_PI`.

    Returns
    -------
    ys : Tensor, shape [n_times, *state]
        The solution at the times ``t``; ``ys[0]`` is ``y0``.
    stats : SolverStats
        Per-step statistics and evaluation counts.

    Raises
    ------
    SolverError
        When the step size falls below ``min_step`` or the time resolution, or when more
        than ``max_steps`` steps are needed, or when ``func`` is not finite at ``t[0]``.
    ValueError, ShapeError, UnknownNameError
        On invalid arguments, a ``func`` whose output shape differs from the state's, or an
        unknown method name.
    """
    tableau = _resolve_tableau(method)
    _check_arguments(y0, t, tableau, rtol, atol, h0, step_size, max_steps, min_step)
    adaptive = step_size is None
    field = CountingField(func)
    times = [float(value) for value in t.detach().cpu().tolist()]
    time_dtype = t.dtype if t.is_floating_point() else y0.dtype

    def as_time(value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=time_dtype, device=y0.device)

    if len(times) == 1:
        empty = torch.zeros(0, dtype=time_dtype, device=y0.device)
        stats = SolverStats(tableau.name, empty, empty, None, None, 0, 0, 0)
        return y0.unsqueeze(0), stats

    t_start, t_end = times[0], times[-1]
    direction = 1.0 if t_end > t_start else -1.0
    f_start = field(as_time(t_start), y0)
    if f_start.shape != y0.shape:
        raise ShapeError(f"func returned shape {tuple(f_start.shape)} for a state of shape {tuple(y0.shape)}")
    if not bool(torch.isfinite(f_start).all()):
        raise SolverError(f"{tableau.name}: func is not finite at t={t_start:.17g}; {_ADVICE}")

    order_exponent = (tableau.error_order or tableau.order) + 1
    if adaptive:
        if h0 is None:
            h = initial_step_size(
                field,
                as_time(t_start),
                y0.detach(),
                tableau.error_order,
                rtol,
                atol,
                f0=f_start.detach(),
                direction=direction,
            )
        else:
            h = float(h0)
        n_fixed_steps = 0
        fixed_h = 0.0
    else:
        span = abs(t_end - t_start)
        n_fixed_steps = max(1, math.ceil(span / step_size * (1.0 - 1e-12)))
        if n_fixed_steps > max_steps:
            raise SolverError(
                f"{tableau.name}: step_size={step_size:.3g} needs {n_fixed_steps} steps to "
                f"reach t={t_end:.17g} from t={t_start:.17g} but max_steps={max_steps}; "
                "raise step_size or max_steps"
            )
        fixed_h = span / n_fixed_steps
        h = fixed_h

    outputs = [y0]
    next_output = 1
    step_starts: list[float] = []
    step_sizes: list[float] = []
    error_estimates: list[torch.Tensor] = []
    stiffness_estimates: list[torch.Tensor] = []
    step_states: list[torch.Tensor] = []
    t_n, y_n, f_n = t_start, y0, f_start
    previous_error = 1.0
    previous_rejected = False
    n_accepted = n_rejected = 0

    while direction * (t_end - t_n) > 0:
        if adaptive:
            smallest = max(min_step, 4.0 * math.ulp(abs(t_n)))
            if h < smallest or not math.isfinite(h):
                raise SolverError(
                    f"{tableau.name}: step size {h:.3g} fell below the minimum {smallest:.3g} "
                    f"at t={t_n:.17g} before reaching t={t_end:.17g}; {_ADVICE}, "
                    "or lower min_step"
                )
            if n_accepted + n_rejected >= max_steps:
                raise SolverError(
                    f"{tableau.name}: max_steps={max_steps} steps taken, reached t={t_n:.17g} "
                    f"with step size {h:.3g} before t={t_end:.17g}; {_ADVICE}, or raise max_steps"
                )
            last = direction * (t_n + direction * _STRETCH_LAST_STEP * h - t_end) >= 0
            step = abs(t_end - t_n) if last else h
        else:
            last = n_accepted == n_fixed_steps - 1
            step = fixed_h
        signed_step = direction * step
        y_next, local_error, stages = rk_step(field, as_time(t_n), y_n, signed_step, tableau, f_n)
        error_estimate = None
        if local_error is not None and (adaptive or record):
            error_estimate = scaled_error_norm(local_error, y_n, y_next, rtol, atol)

        if adaptive:
            error_value = float(error_estimate.detach())
            if not (error_value <= 1.0):  # also rejects NaN
                n_rejected += 1
                h = step * controller.reject_factor(error_value, order_exponent)
                previous_rejected = True
                continue
            factor = controller.accept_factor(error_value, order_exponent, previous_error, previous_rejected)
            previous_error = controller.remember(error_value)
            previous_rejected = False
            h = step * factor

        n_accepted += 1
        if last:
            t_next = t_end
        elif adaptive:
            t_next = t_n + signed_step
        else:
            t_next = t_start + direction * n_accepted * fixed_h
        if record:
            step_starts.append(t_n)
            step_sizes.append(signed_step)
            step_states.append(y_n)
            if error_estimate is not None:
                error_estimates.append(error_estimate)
            stiffness = stiffness_estimate(stages, signed_step, tableau)
            if stiffness is not None:
                stiffness_estimates.append(stiffness)

        f_next = stages[-1] if tableau.fsal else None
        while next_output < len(times) and direction * (times[next_output] - t_next) <= 0:
            theta = (times[next_output] - t_n) / signed_step
            if times[next_output] == t_next:
                outputs.append(y_next)
            elif tableau.interpolation is not None:
                weights = tuple(sum(w * theta ** (p + 1) for p, w in enumerate(row)) for row in tableau.interpolation)
                outputs.append(y_n + signed_step * _weighted_sum(weights, stages))
            else:
                if f_next is None:
                    f_next = field(as_time(t_next), y_next)
                outputs.append(_hermite_cubic(theta, signed_step, y_n, y_next, stages[0], f_next))
            next_output += 1
        t_n, y_n, f_n = t_next, y_next, f_next

    stats = SolverStats(
        method=tableau.name,
        t=torch.tensor(step_starts, dtype=time_dtype, device=y0.device) if record else None,
        h=torch.tensor(step_sizes, dtype=time_dtype, device=y0.device) if record else None,
        error_estimate=torch.stack(error_estimates) if error_estimates else None,
        stiffness_estimate=torch.stack(stiffness_estimates) if stiffness_estimates else None,
        nfe=field.count,
        n_accepted=n_accepted,
        n_rejected=n_rejected,
        y=torch.stack(step_states) if record else None,
    )
    return torch.stack(outputs), stats


def _check_arguments(
    y0: torch.Tensor,
    t: torch.Tensor,
    tableau: ButcherTableau,
    rtol: float,
    atol: float,
    h0: float | None,
    step_size: float | None,
    max_steps: int,
    min_step: float,
) -> None:
    if not torch.is_tensor(y0) or not y0.is_floating_point():
        raise ValueError(f"y0 must be a floating-point tensor, got {type(y0).__name__}")
    if y0.numel() == 0:
        raise ShapeError("y0 is empty; the state needs at least one entry")
    if not torch.is_tensor(t) or t.ndim != 1 or t.numel() == 0:
        raise ShapeError("t must be a non-empty 1-D tensor of output times")
    times = t.detach()
    if not bool(torch.isfinite(times).all()):
        raise ValueError("t holds non-finite times")
    if times.numel() > 1:
        steps = times[1:] - times[:-1]
        if not (bool((steps > 0).all()) or bool((steps < 0).all())):
            raise ValueError("t must be strictly increasing or strictly decreasing")
    if step_size is None:
        if not tableau.is_adaptive:
            raise ValueError(f"method '{tableau.name}' has no error estimator: pass step_size= for fixed steps")
        if not (rtol >= 0 and atol >= 0 and rtol + atol > 0):
            raise ValueError(f"rtol and atol must be >= 0, not both 0 (got {rtol}, {atol})")
        if h0 is not None and not h0 > 0:
            raise ValueError(f"h0 must be positive, got {h0}")
    elif not step_size > 0 or not math.isfinite(step_size):
        raise ValueError(f"step_size must be positive and finite, got {step_size}")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps}")
    if not min_step >= 0:
        raise ValueError(f"min_step must be >= 0, got {min_step}")
