"""Regularizers that read the solver's internal heuristics, and STEER.

Every regularizer follows one protocol:

* ``solve(dynamics, y0, t=None, *, step=0) -> (output, term)`` runs the forward solve of
  ``dynamics`` (a :class:`~sciml.nde.NeuralODE` or :class:`~sciml.nde.NeuralSDE`) arranged
  for the regularizer (an extra output time for the local ones, a random end time for
  STEER) and returns what ``dynamics(y0, t)`` would return plus the weighted,
  differentiable scalar ``term`` to add to the loss;
* ``__call__(dynamics, y0, *, step=0) -> term`` computes the term after a solve (the global
  ones read ``dynamics.last_stats``; the local ones integrate to ``t_reg`` themselves);
* ``weight_at(step)``: ``weight`` (``schedule="constant"``) or ``weight * decay**step``
  (``"exponential"``, the annealing of Pal et al.);
* ``config()``: a JSON-able description, stored in checkpoints by the objectives.
"""

from __future__ import annotations

from typing import Any

import torch

from sciml.core.errors import ConfigError, UnknownNameError
from sciml.core.registry import Registry
from sciml.nde._node import NeuralODE
from sciml.nde._sde import NeuralSDE, milstein_error_estimate
from sciml.numerics.counting import CountingField
from sciml.numerics.rk import initial_step_size, rk_step, scaled_error_norm

__all__ = [
    "AbstractRegularizer",
    "GlobalErrorRegularizer",
    "GlobalStiffnessRegularizer",
    "LocalErrorRegularizer",
    "SDEGlobalErrorRegularizer",
    "SDELocalErrorRegularizer",
    "STEER",
    "REGULARIZERS",
    "build_regularizer",
]

SCHEDULES = ("constant", "exponential")
SAMPLINGS = ("unbiased", "biased")

REGULARIZERS: Registry[type] = Registry("regularizer", plugins=False)
"""Regularizers by name: ``global_error``, ``global_stiffness``, ``local_error``, ``sde_global_error``,
``sde_local_error``, ``steer``. This module fills it completely, so a lookup imports no other family."""


def _uniform(generator: torch.Generator | None) -> float:
    return float(torch.rand((), generator=generator, dtype=torch.float64))


def _span(dynamics, t: torch.Tensor | None) -> tuple[float, float]:
    if t is not None:
        return float(t[0]), float(t[-1])
    return dynamics.t_span


def _insert_time(times: torch.Tensor, t_new: float) -> tuple[torch.Tensor, int, bool]:
    """Insert ``t_new`` into monotone ``times``; returns (merged, its index, whether it was added)."""
    direction = 1.0 if float(times[-1]) >= float(times[0]) else -1.0
    values = (direction * times.detach()).tolist()
    key = direction * float(torch.tensor(t_new, dtype=times.dtype))  # compare at the times' precision
    # a time within a few ulps of an existing one is that time: inserting it would break strict monotonicity
    tol = 4 * torch.finfo(times.dtype).eps * max(1.0, abs(key))
    for i, value in enumerate(values):
        if abs(value - key) <= tol:
            return times, i, False
        if value > key:
            index = i
            break
    else:
        index = len(values)
    new = torch.tensor([t_new], dtype=times.dtype, device=times.device)
    return torch.cat([times[:index], new, times[index:]]), index, True


def _without(ys: torch.Tensor, index: int) -> torch.Tensor:
    return torch.cat([ys[:index], ys[index + 1 :]])


class AbstractRegularizer:
    """Base of the weighted, scheduled regularizers (abstract: implement :meth:`penalty`).

    Parameters
    ----------
    weight : float
        ``lambda_0 >= 0``, the weight at step 0.
    schedule : {"constant", "exponential"}
        ``exponential``: ``lambda(step) = weight * decay**step``, the annealing used by Pal et
        al. (2021, 2023) so that the regularization shapes early training and lets the task
        loss finish it.
    decay : float
        In (0, 1]; e.g. 0.999 over a few thousand steps.
    """

    name = "abstract"

    def __init__(self, weight: float = 1.0, *, schedule: str = "constant", decay: float = 1.0):
        if schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {schedule!r}; valid names: {', '.join(SCHEDULES)}")
        if not weight >= 0:
            raise ConfigError(f"regularizer weight must be >= 0, got {weight}")
        if not 0 < decay <= 1:
            raise ConfigError(f"decay must be in (0, 1], got {decay}")
        self.weight, self.schedule, self.decay = float(weight), schedule, float(decay)
        self.last_nfe = 0

    def weight_at(self, step: int) -> float:
        """The weight at optimizer step ``step``."""
        if self.schedule == "exponential":
            return self.weight * self.decay ** int(step)
        return self.weight

    def penalty(self, dynamics, y0: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        """The unweighted term (a 0-dim tensor), after a solve of ``dynamics`` from ``y0``."""
        raise NotImplementedError  # AbstractRegularizer: subclasses implement it

    def __call__(self, dynamics, y0: torch.Tensor | None = None, *, step: int = 0, **kwargs) -> torch.Tensor:
        """``weight_at(step) * penalty(dynamics, y0, **kwargs)``; a zero tensor when the weight is 0."""
        weight = self.weight_at(step)
        if weight == 0.0:
            self.last_nfe = 0
            return _zero_like(dynamics, y0)
        return weight * self.penalty(dynamics, y0, **kwargs)

    def solve(self, dynamics, y0: torch.Tensor, t: torch.Tensor | None = None, *, step: int = 0):
        """Solve ``dynamics(y0, t)`` and return ``(output, weighted term)``."""
        output = dynamics(y0, t)
        return output, self(dynamics, y0, step=step)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "weight": self.weight, "schedule": self.schedule, "decay": self.decay}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _zero_like(dynamics, y0: torch.Tensor | None) -> torch.Tensor:
    if y0 is not None:
        return y0.new_zeros(())
    parameter = next(iter(dynamics.parameters()), None)
    return parameter.new_zeros(()) if parameter is not None else torch.zeros(())


def _error_times_step(errors: torch.Tensor, h: torch.Tensor, aggregate: str, squared: bool) -> torch.Tensor:
    """``sum_j EEst_j |h_j|`` (or the mean; ``EEst_j**2`` when ``squared``) over the recorded steps."""
    if errors.numel() == 0:
        return errors.new_zeros(())
    values = (errors * errors if squared else errors) * h.abs().to(errors.dtype)
    return values.sum() if aggregate == "sum" else values.mean()


def _sciml_stats(dynamics, field: str, regularizer: str):
    if not isinstance(dynamics, NeuralODE) or dynamics.backend != "sciml":
        raise ConfigError(
            f"{regularizer} reads the per-step {field} of the instrumented solver: it needs a NeuralODE with "
            "backend='sciml'; LocalErrorRegularizer works with every backend"
        )
    stats = dynamics.last_stats
    if stats is None:
        raise ConfigError(f"{regularizer}: solve the NeuralODE first (it reads last_stats)")
    values = getattr(stats, field)
    if values is None:
        raise ConfigError(
            f"{regularizer}: method {dynamics.method!r} records no {field}; use dopri5 or tsit5"
            + (" (bs3 has no stage pair for Shampine's stiffness estimate)" if field == "stiffness_estimate" else "")
        )
    return stats, values


class GlobalErrorRegularizer(AbstractRegularizer):
    r"""Penalize the local error estimates of all accepted steps (Pal et al., ICML 2021).

    ``R_E = sum_j EEst_j |h_j|`` (``aggregate="sum"``) or the mean over steps, with
    ``EEst_j`` the scaled RMS error estimate of step ``j`` and ``h_j`` its size;
    ``squared=True`` uses ``EEst_j^2 |h_j|`` (the variant Pal et al. use for latent ODEs).
    Small EEst lets the controller take larger steps: fewer function evaluations. Needs
    ``NeuralODE(backend="sciml")`` with an embedded pair; the gradient runs through every
    step (discretize-then-optimize).

    Parameters
    ----------
    weight, schedule, decay
        See :class:`AbstractRegularizer`.
    aggregate : {"sum", "mean"}
    squared : bool
    """

    name = "global_error"

    def __init__(
        self,
        weight: float = 1.0,
        *,
        schedule: str = "constant",
        decay: float = 1.0,
        aggregate: str = "sum",
        squared: bool = False,
    ):
        super().__init__(weight, schedule=schedule, decay=decay)
        if aggregate not in ("sum", "mean"):
            raise ConfigError(f"unknown aggregate {aggregate!r}; valid names: mean, sum")
        self.aggregate, self.squared = aggregate, bool(squared)

    def penalty(self, dynamics, y0: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        stats, errors = _sciml_stats(dynamics, "error_estimate", type(self).__name__)
        self.last_nfe = 0
        return _error_times_step(errors, stats.h, self.aggregate, self.squared)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "aggregate": self.aggregate, "squared": self.squared}


class GlobalStiffnessRegularizer(AbstractRegularizer):
    r"""Penalize Shampine's stiffness estimate over all accepted steps (Pal et al., ICML 2021).

    With ``rho_j = |f(s_i) - f(s_k)| / |s_i - s_k|`` (two stages at the same abscissa) the
    estimate of the dominant Jacobian eigenvalue magnitude at step ``j`` and ``R`` the
    method's real stability boundary (3.31 for dopri5), ``S_j = rho_j / R`` and

    * ``aggregate="sum"``: ``R_S = sum_j S_j |h_j|``, about the time integral of the scaled
      stiffness (the sum of the recorded ``stiffness_estimate``);
    * ``aggregate="max"``: ``max_j S_j``.

    Needs ``NeuralODE(backend="sciml")`` with ``dopri5`` or ``tsit5``.
    """

    name = "global_stiffness"

    def __init__(self, weight: float = 1.0, *, schedule: str = "constant", decay: float = 1.0, aggregate: str = "sum"):
        super().__init__(weight, schedule=schedule, decay=decay)
        if aggregate not in ("sum", "max"):
            raise ConfigError(f"unknown aggregate {aggregate!r}; valid names: max, sum")
        self.aggregate = aggregate

    def penalty(self, dynamics, y0: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        stats, stiffness = _sciml_stats(dynamics, "stiffness_estimate", type(self).__name__)
        self.last_nfe = 0
        if stiffness.numel() == 0:
            return stiffness.new_zeros(())
        if self.aggregate == "sum":  # the recorded estimate is already |h_j| rho_j / R
            return stiffness.sum()
        return (stiffness / stats.h.abs().to(stiffness.dtype)).max()

    def config(self) -> dict[str, Any]:
        return {**super().config(), "aggregate": self.aggregate}


class SDEGlobalErrorRegularizer(GlobalErrorRegularizer):
    r"""Penalize the error estimates of all accepted steps of an SDE solve (Pal et al., ICML 2021).

    The SDE version of :class:`GlobalErrorRegularizer`: ``R_E = sum_j EEst_j |h_j|``
    (``aggregate="sum"``) or the mean over steps, ``EEst_j**2 |h_j|`` with ``squared=True``.
    ``EEst_j`` is the scaled RMS of the Milstein minus Euler-Maruyama difference
    ``0.5 g g' (dW_j**2 - h_j)`` on the step's own Brownian increment, recorded by
    :func:`~sciml.numerics.sdeint`. It is the estimate that controls the step size of the
    adaptive ``milstein_em`` method, so a small sum means large adaptive steps. Because
    ``dW_j**2 - h_j`` changes sign from step to step, the term pushes ``g g'`` itself
    towards 0, that is, towards noise that depends less on the state. With
    ``NeuralSDE(drift_error=True)`` EEst also holds the drift's Euler/trapezoid difference
    ``0.5 h (f(t_{j+1}, y_{j+1}) - f(t_j, y_j))``, and the term smooths the drift as well,
    like the ODE version.

    Needs ``NeuralSDE(backend="sciml")`` (any of its methods: ``euler`` and ``milstein``
    record EEst with fixed steps, where the term is a smooth function of the parameters for
    a fixed Brownian path; ``milstein_em`` with adaptive steps). The gradient runs through
    every step (discretize-then-optimize).

    Parameters
    ----------
    weight, schedule, decay
        See :class:`AbstractRegularizer`.
    aggregate : {"sum", "mean"}
    squared : bool
    """

    name = "sde_global_error"

    def penalty(self, dynamics, y0: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        if not isinstance(dynamics, NeuralSDE) or dynamics.backend != "sciml":
            backend = getattr(dynamics, "backend", None)
            raise ConfigError(
                f"SDEGlobalErrorRegularizer reads the per-step error estimates of the instrumented SDE solver: it needs "
                f"a NeuralSDE with backend='sciml' (got {type(dynamics).__name__} with backend {backend!r}); "
                "torchsde records no steps, use SDELocalErrorRegularizer with it"
            )
        stats = dynamics.last_stats
        if stats is None or stats.error_estimate is None or stats.h is None:
            raise ConfigError("SDEGlobalErrorRegularizer: solve the NeuralSDE first (it reads last_stats)")
        self.last_nfe = 0
        return _error_times_step(stats.error_estimate, stats.h, self.aggregate, self.squared)


class LocalErrorRegularizer(AbstractRegularizer):
    r"""Penalize the error estimate of one step at a random time (Pal et al., ICML 2023).

    Draw ``t_reg`` uniformly in ``[t0, t1]`` (``sampling="unbiased"``) or among the start
    times of the solver's accepted steps (``"biased"``), take the solution ``y(t_reg)``,
    choose ``h`` with the solver's initial-step heuristic (Hairer's, as
    :func:`~sciml.numerics.initial_step_size`) and take ONE differentiable step of the
    solver's embedded pair from there: the term is ``EEst(t_reg, y(t_reg), h) * |h|``.
    Works with every backend, adjoints included, since it needs the solution at one time
    only, not the solver's internals.

    Cost: ``unbiased`` adds ``t_reg`` as an output time of the forward solve (free: dense
    output) plus one step (``stages + 1`` evaluations). ``biased`` with the ``sciml``
    backend starts from the state the solver recorded at the drawn step
    (``last_stats.y[j]``, in the autograd graph), so it also costs one step only. With the
    torchdiffeq backends, which record no states, it needs a second solve from ``t0`` to
    ``t_reg`` (the step times are known only after the first solve).

    Parameters
    ----------
    weight, schedule, decay
        See :class:`AbstractRegularizer`.
    sampling : {"unbiased", "biased"}
    step_size : float, optional
        A fixed ``h`` instead of the heuristic (the heuristic's ``h`` is a constant of the
        computation, not differentiated; a fixed one makes the term a smooth function of the
        parameters, e.g. for gradient checks).
    rtol, atol : float, optional
        Tolerances of EEst and of the heuristic; by default the NeuralODE's.
    generator : torch.Generator, optional
        Source of ``t_reg`` (CPU); torch's global RNG by default.
    """

    name = "local_error"

    def __init__(
        self,
        weight: float = 1.0,
        *,
        schedule: str = "constant",
        decay: float = 1.0,
        sampling: str = "unbiased",
        step_size: float | None = None,
        rtol: float | None = None,
        atol: float | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__(weight, schedule=schedule, decay=decay)
        if sampling not in SAMPLINGS:
            raise ConfigError(f"unknown sampling {sampling!r}; valid names: {', '.join(SAMPLINGS)}")
        if step_size is not None and not step_size > 0:
            raise ConfigError(f"step_size must be positive, got {step_size}")
        self.sampling, self.step_size = sampling, step_size
        self.rtol, self.atol = rtol, atol
        self.generator = generator
        self.last_t_reg: float | None = None

    def _check(self, dynamics) -> None:
        if not isinstance(dynamics, NeuralODE):
            raise ConfigError(
                f"LocalErrorRegularizer needs a NeuralODE, got {type(dynamics).__name__}; for a NeuralSDE use SDELocalErrorRegularizer"
            )
        if not dynamics.tableau.is_adaptive:
            raise ConfigError(
                f"LocalErrorRegularizer needs an embedded pair; method {dynamics.method!r} has none (use dopri5, tsit5 or bs3)"
            )

    def _sample_biased(self, dynamics) -> tuple[float, torch.Tensor | None]:
        """A uniformly drawn accepted step of the last solve: its start time, and its start state if recorded."""
        stats = dynamics.last_stats
        if stats is None or stats.t is None or stats.t.numel() == 0:
            raise ConfigError("biased sampling draws t_reg among the accepted steps of the last solve: solve first")
        index = int(torch.randint(stats.t.numel(), (), generator=self.generator))
        states = getattr(stats, "y", None)
        return float(stats.t[index]), (states[index] if states is not None else None)

    def step_penalty(self, dynamics, t_reg: float, y_reg: torch.Tensor) -> torch.Tensor:
        """``EEst * |h|`` of one step of the NeuralODE's embedded pair from ``y_reg`` at ``t_reg``."""
        self._check(dynamics)
        tableau = dynamics.tableau
        rtol = dynamics.rtol if self.rtol is None else self.rtol
        atol = dynamics.atol if self.atol is None else self.atol
        field = CountingField(dynamics.func)
        t = torch.tensor(t_reg, dtype=y_reg.dtype, device=y_reg.device)
        f0 = field(t, y_reg)
        t0, t1 = (
            dynamics.t_span
            if dynamics.last_times is None
            else (float(dynamics.last_times[0]), float(dynamics.last_times[-1]))
        )
        direction = 1.0 if t1 >= t0 else -1.0
        if self.step_size is None:
            h = initial_step_size(
                field, t, y_reg.detach(), tableau.error_order, rtol, atol, f0=f0.detach(), direction=direction
            )
        else:
            h = self.step_size
        y_next, local_error, _ = rk_step(field, t, y_reg, direction * h, tableau, f0=f0)
        self.last_nfe = field.count
        return scaled_error_norm(local_error, y_reg, y_next, rtol, atol) * h

    def penalty(
        self, dynamics, y0: torch.Tensor | None = None, *, t_reg: float | None = None, y_reg: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The unweighted term; integrates from ``y0`` to ``t_reg`` unless ``y_reg`` is given.

        ``t_reg`` defaults to a draw of the configured sampling over the span of the last
        solve (``t_span`` before any). A biased draw after a ``sciml`` solve comes with the
        recorded state at ``t_reg``, so nothing is integrated again.
        """
        self._check(dynamics)
        solve_nfe = 0
        times = dynamics.last_times
        t0, t1 = dynamics.t_span if times is None else (float(times[0]), float(times[-1]))
        if t_reg is None:
            if self.sampling == "unbiased":
                t_reg = t0 + (t1 - t0) * _uniform(self.generator)
            else:
                t_reg, recorded = self._sample_biased(dynamics)
                if y_reg is None:
                    y_reg = recorded
        self.last_t_reg = float(t_reg)
        if y_reg is None:
            if y0 is None:
                raise ConfigError("LocalErrorRegularizer needs y0 (or y_reg) to reach t_reg")
            if t_reg == t0:
                y_reg = y0
            else:
                stats, last_times = dynamics.last_stats, dynamics.last_times
                y_reg = dynamics.solve(y0, torch.tensor([t0, t_reg], dtype=y0.dtype, device=y0.device))[-1]
                solve_nfe = dynamics.last_stats.nfe
                dynamics.last_stats, dynamics.last_times = stats, last_times
        term = self.step_penalty(dynamics, float(t_reg), y_reg)
        self.last_nfe += solve_nfe
        return term

    def solve(self, dynamics, y0: torch.Tensor, t: torch.Tensor | None = None, *, step: int = 0):
        weight = self.weight_at(step)
        if weight == 0.0 or self.sampling == "biased":
            return super().solve(dynamics, y0, t, step=step)
        self._check(dynamics)
        t0, t1 = _span(dynamics, t)
        t_reg = t0 + (t1 - t0) * _uniform(self.generator)
        times = t if t is not None else torch.tensor((t0, t1), dtype=y0.dtype, device=y0.device)
        merged, index, added = _insert_time(torch.as_tensor(times, device=y0.device), t_reg)
        ys = dynamics.solve(y0, merged)
        dynamics.last_times = torch.as_tensor(times).detach()
        y_reg = ys[index]
        if added:
            ys = _without(ys, index)
        output = ys[-1] if t is None else ys
        self.last_t_reg = t_reg
        return output, weight * self.step_penalty(dynamics, t_reg, y_reg)

    def config(self) -> dict[str, Any]:
        extra = {"sampling": self.sampling, "step_size": self.step_size, "rtol": self.rtol, "atol": self.atol}
        return {**super().config(), **extra}


class SDELocalErrorRegularizer(AbstractRegularizer):
    r"""The local error regularizer for neural SDEs (Ito, diagonal noise).

    At ``t_reg`` (uniform in ``[t0, t1]``, or a random step time ``t0 + k dt`` with
    ``sampling="biased"``), draw ``dW ~ N(0, h)`` and take one Euler-Maruyama and one
    Milstein step on that increment (:func:`~sciml.nde.milstein_error_estimate`): their
    difference ``0.5 g g' (dW^2 - h)`` is an embedded error estimate of the stochastic step.
    The term is ``EEst * h`` with ``EEst`` its RMS scaled by ``atol + rtol * max(|y|,
    |y_next|)``, as for ODEs (Pal et al., ICML 2023, regularize SDEs through the error
    estimate of the adaptive stochastic step). ``t_reg`` is an extra output time of the
    forward solve: no second solve.

    Parameters
    ----------
    weight, schedule, decay
        See :class:`AbstractRegularizer`.
    sampling : {"unbiased", "biased"}
    step_size : float, optional
        ``h``; the NeuralSDE's ``dt`` by default.
    rtol, atol : float
        Scale of EEst.
    generator : torch.Generator, optional
        Source of ``t_reg`` and ``dW`` (CPU).
    """

    name = "sde_local_error"

    def __init__(
        self,
        weight: float = 1.0,
        *,
        schedule: str = "constant",
        decay: float = 1.0,
        sampling: str = "unbiased",
        step_size: float | None = None,
        rtol: float = 1e-2,
        atol: float = 1e-2,
        generator: torch.Generator | None = None,
    ):
        super().__init__(weight, schedule=schedule, decay=decay)
        if sampling not in SAMPLINGS:
            raise ConfigError(f"unknown sampling {sampling!r}; valid names: {', '.join(SAMPLINGS)}")
        self.sampling, self.step_size = sampling, step_size
        self.rtol, self.atol = float(rtol), float(atol)
        self.generator = generator
        self.last_t_reg: float | None = None

    def _check(self, dynamics) -> None:
        if not isinstance(dynamics, NeuralSDE):
            raise ConfigError(f"SDELocalErrorRegularizer needs a NeuralSDE, got {type(dynamics).__name__}")
        if dynamics.sde_type != "ito" or dynamics.noise_type != "diagonal":
            raise ConfigError(
                "SDELocalErrorRegularizer compares Euler-Maruyama with Milstein for Ito SDEs with diagonal noise; "
                f"got sde_type={dynamics.sde_type!r}, noise_type={dynamics.noise_type!r}"
            )

    def _sample(self, dynamics, t0: float, t1: float) -> float:
        if self.sampling == "unbiased":
            return t0 + (t1 - t0) * _uniform(self.generator)
        n_steps = max(1, int((t1 - t0) / dynamics.dt + 1e-9))
        return t0 + dynamics.dt * int(torch.randint(n_steps, (), generator=self.generator))

    def step_penalty(self, dynamics, t_reg: float, y_reg: torch.Tensor, dW: torch.Tensor | None = None) -> torch.Tensor:
        """``EEst * h`` of the Euler-Maruyama/Milstein pair from ``y_reg`` at ``t_reg``."""
        self._check(dynamics)
        h = dynamics.dt if self.step_size is None else self.step_size
        if dW is None:
            dW = (h**0.5 * torch.randn(y_reg.shape, generator=self.generator, dtype=torch.float64)).to(y_reg)
        y_next, local_error = milstein_error_estimate(dynamics.drift, dynamics.diffusion, t_reg, y_reg, h, dW)
        self.last_nfe = 2
        return scaled_error_norm(local_error, y_reg, y_next, self.rtol, self.atol) * h

    def penalty(
        self,
        dynamics,
        y0: torch.Tensor | None = None,
        *,
        t_reg: float | None = None,
        y_reg: torch.Tensor | None = None,
        dW: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The unweighted term; integrates from ``y0`` to ``t_reg`` unless ``y_reg`` is given."""
        self._check(dynamics)
        solve_nfe = 0
        times = dynamics.last_times
        t0, t1 = dynamics.t_span if times is None else (float(times[0]), float(times[-1]))
        if t_reg is None:
            t_reg = self._sample(dynamics, t0, t1)
        self.last_t_reg = float(t_reg)
        if y_reg is None:
            if y0 is None:
                raise ConfigError("SDELocalErrorRegularizer needs y0 (or y_reg) to reach t_reg")
            if t_reg == t0:
                y_reg = y0
            else:
                stats = dynamics.last_stats
                y_reg = dynamics.solve(y0, torch.tensor([t0, t_reg], dtype=y0.dtype, device=y0.device))[-1]
                solve_nfe = dynamics.last_stats.nfe
                dynamics.last_stats, dynamics.last_times = stats, times
        term = self.step_penalty(dynamics, float(t_reg), y_reg, dW)
        self.last_nfe += solve_nfe
        return term

    def solve(self, dynamics, y0: torch.Tensor, t: torch.Tensor | None = None, *, step: int = 0):
        weight = self.weight_at(step)
        if weight == 0.0:
            return super().solve(dynamics, y0, t, step=step)
        self._check(dynamics)
        t0, t1 = _span(dynamics, t)
        t_reg = self._sample(dynamics, t0, t1)
        times = t if t is not None else torch.tensor((t0, t1), dtype=y0.dtype, device=y0.device)
        merged, index, added = _insert_time(torch.as_tensor(times, dtype=y0.dtype, device=y0.device), t_reg)
        ys = dynamics.solve(y0, merged)
        dynamics.last_times = torch.as_tensor(times).detach()
        y_reg = ys[index]
        if added:
            ys = _without(ys, index)
        self.last_t_reg = t_reg
        output = ys[-1] if t is None else ys
        return output, weight * self.step_penalty(dynamics, t_reg, y_reg)

    def config(self) -> dict[str, Any]:
        extra = {"sampling": self.sampling, "step_size": self.step_size, "rtol": self.rtol, "atol": self.atol}
        return {**super().config(), **extra}


class STEER:
    """Random end time during training (Ghosh, Behl, Dupont, Torr & Namboodiri, NeurIPS 2020).

    While ``dynamics.training`` and gradients are enabled, the end time ``t1`` is drawn from
    ``U[t1 - b, t1 + b]`` at every solve and the state there stands in for ``y(t1)``;
    evaluation integrates to ``t1``. With output times ``t``, the last one is perturbed
    (``b`` must stay below the last gap). The term is always 0: STEER regularizes through
    the sampling alone.

    Parameters
    ----------
    half_width : float
        ``b``, in (0, t1 - t0), e.g. ``0.5`` for ``t_span = (0, 1)``.
    generator : torch.Generator, optional
    """

    name = "steer"

    def __init__(self, half_width: float = 0.5, *, generator: torch.Generator | None = None):
        if not half_width > 0:
            raise ConfigError(f"STEER half_width must be positive, got {half_width}")
        self.half_width = float(half_width)
        self.generator = generator
        self.last_nfe = 0
        self.last_t_end: float | None = None

    def weight_at(self, step: int) -> float:
        return 0.0

    def end_time(self, t0: float, t1: float, previous: float | None = None) -> float:
        """Draw the end time; ``previous`` is the output time before ``t1`` (``t0`` if none)."""
        gap = abs(t1 - (t0 if previous is None else previous))
        if not self.half_width < gap:
            raise ConfigError(
                f"STEER half_width={self.half_width} must be smaller than the last interval {gap:g} of the output times"
            )
        return t1 + self.half_width * (2.0 * _uniform(self.generator) - 1.0)

    def solve(self, dynamics, y0: torch.Tensor, t: torch.Tensor | None = None, *, step: int = 0):
        zero = y0.new_zeros(())
        if not (dynamics.training and torch.is_grad_enabled()):
            return dynamics(y0, t), zero
        if t is None:
            t0, t1 = dynamics.t_span
            self.last_t_end = self.end_time(t0, t1)
            times = torch.tensor((t0, self.last_t_end), dtype=y0.dtype, device=y0.device)
            return dynamics.solve(y0, times)[-1], zero
        previous = float(t[-2]) if len(t) > 1 else float(t[0])
        self.last_t_end = self.end_time(float(t[0]), float(t[-1]), previous)
        times = torch.cat([t[:-1], torch.tensor([self.last_t_end], dtype=t.dtype, device=t.device)])
        return dynamics.solve(y0, times), zero

    def __call__(self, dynamics, y0: torch.Tensor | None = None, *, step: int = 0, **kwargs) -> torch.Tensor:
        return _zero_like(dynamics, y0)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "half_width": self.half_width}

    def __repr__(self) -> str:
        return f"STEER(half_width={self.half_width})"


for _cls in (
    GlobalErrorRegularizer,
    GlobalStiffnessRegularizer,
    LocalErrorRegularizer,
    SDEGlobalErrorRegularizer,
    SDELocalErrorRegularizer,
    STEER,
):
    REGULARIZERS.register(_cls.name, _cls)


def _lookup(name: str) -> type:
    try:
        return REGULARIZERS.get(name)
    except UnknownNameError as exc:
        raise UnknownNameError(f"{exc}, none") from None


def build_regularizer(spec: str | dict[str, Any] | Any | None, **kwargs: Any):
    """Build a regularizer from a name (+ kwargs), a config dict ``{"name": ..., ...}``, or pass one through.

    ``None`` and ``"none"`` give ``None`` (no regularization).

    Raises
    ------
    sciml.core.errors.UnknownNameError
        For an unknown name; the message lists the valid ones.
    """
    if spec is None or spec == "none":
        return None
    if isinstance(spec, dict):
        # the config shape {name, kwargs: {...}} (or the flat {name, weight: ...})
        spec = dict(spec)
        name = spec.pop("name", None)
        return _lookup(name)(**spec.pop("kwargs", {}), **spec, **kwargs)
    if isinstance(spec, str):
        return _lookup(spec)(**kwargs)
    if not callable(getattr(spec, "solve", None)):
        raise ConfigError(f"a regularizer needs a solve(dynamics, y0, t, step=) method, got {type(spec).__name__}")
    return spec
