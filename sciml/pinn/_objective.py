"""PINN objectives: residual, initial and boundary losses with loss balancing, causal weighting,
residual-based adaptive sampling and parameter curricula; the Lagrangian PINN's objective."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.objectives import AbstractObjective
from sciml.core.registry import OBJECTIVES
from sciml.pinn._derivatives import Fields, gradient, partial
from sciml.pinn._problem import PROBLEMS, PDEProblem

__all__ = ["AbstractPINNObjective", "LagrangianPINNLoss", "PINNLoss", "periodic_interpolate"]

_BALANCING = ("fixed", "grad_norm")
_ADAPTIVE = ("none", "rad", "rar")


def _dtype_of(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    p = next(model.parameters())
    return p.dtype, p.device


def _points(batch: dict[str, Any], key: str, model: nn.Module) -> torch.Tensor:
    dtype, device = _dtype_of(model)
    return batch[key].to(device=device, dtype=dtype).detach().requires_grad_(True)


def _mean_square(r: torch.Tensor) -> torch.Tensor:
    return (r**2).mean()


def periodic_interpolate(
    positions: torch.Tensor, values: torch.Tensor, grid: torch.Tensor, lower: float, length: float
) -> torch.Tensor:
    """Linear interpolation of values at moving periodic positions onto a fixed grid.

    Parameters
    ----------
    positions, values : Tensor [R, P]
        Per row (one time), where the particles are and what they carry.
    grid : Tensor [X]
        Fixed points in ``[lower, lower + length)``.
    lower, length : float
        The periodic interval.

    Returns
    -------
    Tensor [R, X]
    """
    wrapped = torch.remainder(positions - lower, length) + lower
    order = torch.argsort(wrapped, dim=1)
    p = torch.gather(wrapped, 1, order)
    v = torch.gather(values, 1, order)
    # one ghost particle on each side closes the period
    p = torch.cat([p[:, -1:] - length, p, p[:, :1] + length], dim=1)
    v = torch.cat([v[:, -1:], v, v[:, :1]], dim=1)
    query = grid.to(p.dtype).expand(p.shape[0], -1).contiguous()
    right = torch.searchsorted(p.contiguous(), query).clamp(1, p.shape[1] - 1)
    left = right - 1
    p0, p1 = torch.gather(p, 1, left), torch.gather(p, 1, right)
    v0, v1 = torch.gather(v, 1, left), torch.gather(v, 1, right)
    weight = ((query - p0) / (p1 - p0).clamp_min(torch.finfo(p.dtype).tiny)).clamp(0, 1)
    return v0 + weight * (v1 - v0)


class AbstractPINNObjective(AbstractObjective, ABC):
    """What both PINN objectives share: the problem (and its curriculum), term weights,
    gradient-norm balancing, causal weighting of the residual in time, adaptive sampling."""

    needs_grad_in_eval = True
    terms: tuple[str, ...] = ()

    def __init__(
        self,
        problem: str | PDEProblem = "convection",
        problem_params: dict[str, float] | None = None,
        weights: dict[str, float] | None = None,
        balancing: str = "fixed",
        balancing_every: int = 100,
        balancing_alpha: float = 0.9,
        causal: bool = False,
        causal_epsilon: float | list[float] = 1.0,
        causal_bins: int = 32,
        causal_tol: float = 0.99,
        adaptive: str = "none",
        adaptive_every: int = 100,
        adaptive_points: int = 100,
        rad_k: float = 1.0,
        rad_c: float = 1.0,
        curriculum: dict[str, Any] | None = None,
        hard: list[str] | tuple[str, ...] = (),
        seed: int = 0,
    ):
        if balancing not in _BALANCING:
            raise ConfigError(f"balancing={balancing!r} is unknown; use one of {', '.join(_BALANCING)}")
        if adaptive not in _ADAPTIVE:
            raise ConfigError(f"adaptive={adaptive!r} is unknown; use one of {', '.join(_ADAPTIVE)}")
        if balancing_every < 1 or adaptive_every < 1 or causal_bins < 1:
            raise ConfigError("balancing_every, adaptive_every and causal_bins must be >= 1")
        if not 0 < balancing_alpha <= 1:
            raise ConfigError(f"balancing_alpha={balancing_alpha}: need 0 < alpha <= 1")
        self.problem_name = problem if isinstance(problem, str) else problem.name
        self.problem_params = dict(problem_params or {})
        self._fixed_problem = None if isinstance(problem, str) else problem
        self.base_weights = {t: 1.0 for t in self.terms}
        for key, value in (weights or {}).items():
            if key not in self.base_weights:
                raise ConfigError(f"weights: {key!r} is not a term of this objective; terms: {', '.join(self.terms)}")
            self.base_weights[key] = float(value)
        self.weights = dict(self.base_weights)
        self.balancing, self.balancing_every, self.balancing_alpha = (
            balancing,
            int(balancing_every),
            float(balancing_alpha),
        )
        self.causal, self.causal_bins, self.causal_tol = bool(causal), int(causal_bins), float(causal_tol)
        self.causal_epsilon = self._check_causal_schedule(causal_epsilon, self.causal_tol)
        self.causal_level = 0  # the index into the epsilon schedule
        self._causal_min: torch.Tensor | None = None  # the smallest weight of the last training step
        self.adaptive, self.adaptive_every, self.adaptive_points = adaptive, int(adaptive_every), int(adaptive_points)
        self.rad_k, self.rad_c, self.seed = float(rad_k), float(rad_c), int(seed)
        self.curriculum = self._check_curriculum(curriculum)
        self.hard = tuple(hard)
        self.step = 0
        self._selected: torch.Tensor | None = None  # RAD points of the current step (closure calls reuse them)
        self.extra_points: torch.Tensor | None = None  # RAR points kept across steps
        self._refined_at: int | None = None
        self._current_params: dict[str, float] | None = None
        self.problem = self._build_problem(self._params_at(0))

    @staticmethod
    def _check_causal_schedule(epsilon: Any, tol: float) -> float | tuple[float, ...]:
        values = epsilon if isinstance(epsilon, (list, tuple)) else [epsilon]
        try:
            values = [float(v) for v in values]
        except (TypeError, ValueError):
            raise ConfigError(f"causal_epsilon={epsilon!r}: give a positive number or an increasing list of them") from None
        if not values or any(not v > 0 for v in values) or any(b <= a for a, b in zip(values, values[1:])):
            raise ConfigError(f"causal_epsilon={epsilon!r}: give a positive number or an increasing list of them")
        if not 0 < tol < 1:
            raise ConfigError(f"causal_tol={tol}: need 0 < tol < 1 (Wang et al. use 0.99)")
        return values[0] if not isinstance(epsilon, (list, tuple)) else tuple(values)

    @property
    def causal_schedule(self) -> tuple[float, ...]:
        """The epsilons the causal weighting steps through (one for a fixed epsilon)."""
        eps = self.causal_epsilon
        return eps if isinstance(eps, tuple) else (eps,)

    # ------------------------------------------------------------------ problem and curriculum
    def _check_curriculum(self, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        if not spec:
            return None
        try:
            param, values, steps = spec["param"], [float(v) for v in spec["values"]], [int(s) for s in spec["steps"]]
        except (KeyError, TypeError, ValueError):
            raise ConfigError(
                "curriculum needs {param: NAME, values: [v0, v1, ...], steps: [0, s1, ...]} (the step each value starts)"
            ) from None
        if len(values) != len(steps) or not steps or steps[0] != 0 or any(b <= a for a, b in zip(steps, steps[1:])):
            raise ConfigError("curriculum: values and steps must have the same length, steps increasing from 0")
        return {"param": str(param), "values": values, "steps": steps}

    def _params_at(self, step: int) -> dict[str, float]:
        params = dict(self.problem_params)
        if self.curriculum:
            i = int(np.searchsorted(self.curriculum["steps"], step, side="right")) - 1
            params[self.curriculum["param"]] = self.curriculum["values"][i]
        return params

    def _build_problem(self, params: dict[str, float]) -> PDEProblem:
        self._current_params = params
        if self._fixed_problem is not None:
            problem = self._fixed_problem
        else:
            try:
                problem = PROBLEMS.get(self.problem_name)(**params)
            except TypeError as exc:
                raise ConfigError(f"problem {self.problem_name!r} rejected its parameters {params} ({exc})") from None
        if self.hard:
            # conditions the model enforces (periodic embedding, output transforms) leave the loss
            problem.conditions = [
                dataclasses.replace(c, hard=c.hard or c.kind in self.hard) for c in problem.conditions
            ]
        return problem

    def begin_step(self, step: int) -> None:
        self.step = int(step)
        self._selected = None
        # Wang, Sankaran & Perdikaris (2022), Algorithm 1: move to the next epsilon once every
        # time bin carries weight (the last step's smallest weight above causal_tol)
        if self._causal_min is not None and self.causal_level < len(self.causal_schedule) - 1:
            if float(self._causal_min) > self.causal_tol:
                self.causal_level += 1
        self._causal_min = None
        params = self._params_at(self.step)
        if params != self._current_params:
            self.problem = self._build_problem(params)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "weights": dict(self.weights),
            "step": self.step,
            "extra_points": None if self.extra_points is None else self.extra_points.detach().cpu(),
            "causal_level": self.causal_level,
            "causal_min": None if self._causal_min is None else float(self._causal_min),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weights = {k: float(v) for k, v in state.get("weights", self.weights).items()}
        self.begin_step(int(state.get("step", 0)))
        # after begin_step: the saved step has begun already, its schedule check is not repeated
        self.causal_level = int(state.get("causal_level", 0))
        saved_min = state.get("causal_min")
        self._causal_min = None if saved_min is None else torch.tensor(float(saved_min))
        extra = state.get("extra_points")
        self.extra_points = None if extra is None else torch.as_tensor(extra)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "problem": self.problem_name, "problem_params": self.problem_params}

    # ------------------------------------------------------------------ pieces
    @abstractmethod
    def residual_terms(self, model: nn.Module, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """Residuals ``[N, 1]`` at interior points, by name."""

    def _residual_loss(self, r: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not self.causal:
            return _mean_square(r), {}
        # Wang, Sankaran & Perdikaris (2022): bin losses in time, weight bin i by
        # exp(-eps * sum of the earlier bins' losses), the weights held constant
        t0, t1 = self.problem.time
        bins = ((t.detach().reshape(-1) - t0) / (t1 - t0) * self.causal_bins).long().clamp(0, self.causal_bins - 1)
        sums = torch.zeros(self.causal_bins, dtype=r.dtype, device=r.device).index_add(0, bins, r.reshape(-1) ** 2)
        counts = torch.bincount(bins, minlength=self.causal_bins).to(r.dtype).clamp_min(1)
        losses = sums / counts
        earlier = torch.cumsum(losses.detach(), 0) - losses.detach()
        epsilon = self.causal_schedule[self.causal_level]
        w = torch.exp(-epsilon * earlier)
        smallest = w.min().detach()
        if torch.is_grad_enabled():  # a training step's weights decide the schedule at the next step
            self._causal_min = smallest if self._causal_min is None else torch.minimum(self._causal_min, smallest)
        return (w * losses).mean(), {"causal_min_weight": smallest, "causal_epsilon": w.new_tensor(epsilon)}

    def _interior(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        points = batch["interior"]
        if self.adaptive == "rad" and "pool" in batch:
            if self._selected is None:
                self._selected = self._rad_select(model, batch["pool"], points.shape[0])
            points = self._selected
        if self.adaptive == "rar":
            if "pool" in batch and self.step % self.adaptive_every == 0 and self._refined_at != self.step:
                self._rar_refine(model, batch["pool"])
                self._refined_at = self.step  # once per step, however often a closure calls
            if self.extra_points is not None:
                points = torch.cat([points, self.extra_points.to(points)])
        dtype, device = _dtype_of(model)
        return points.to(device=device, dtype=dtype).detach().requires_grad_(True)

    def _pool_residual(self, model: nn.Module, pool: torch.Tensor) -> torch.Tensor:
        dtype, device = _dtype_of(model)
        with torch.enable_grad():
            candidates = pool.to(device=device, dtype=dtype).detach().requires_grad_(True)
            total = sum(r.detach() ** 2 for r in self.residual_terms(model, candidates).values())
        return total.reshape(-1).sqrt()

    def _rad_select(self, model: nn.Module, pool: torch.Tensor, n: int) -> torch.Tensor:
        # residual-based adaptive distribution (Wu et al., CMAME 2023): p ~ |r|^k / mean |r|^k + c
        r = self._pool_residual(model, pool) ** self.rad_k
        density = (r / r.mean().clamp_min(torch.finfo(r.dtype).tiny) + self.rad_c).double().cpu()
        g = torch.Generator().manual_seed(int(np.random.SeedSequence([self.seed, self.step, 7]).generate_state(1)[0]))
        index = torch.multinomial(density, n, replacement=True, generator=g)
        return pool[index]

    def _rar_refine(self, model: nn.Module, pool: torch.Tensor) -> None:
        # residual-based adaptive refinement (Lu et al., SIAM Review 2021): keep the worst points
        r = self._pool_residual(model, pool)
        worst = torch.topk(r, min(self.adaptive_points, r.numel())).indices.cpu()
        added = pool[worst].detach().cpu()
        self.extra_points = added if self.extra_points is None else torch.cat([self.extra_points, added])

    def _combine(self, model: nn.Module, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.balancing == "grad_norm" and torch.is_grad_enabled() and self.step % self.balancing_every == 0:
            self._balance(model, losses)
        return sum(self.weights[k] * v for k, v in losses.items())

    def _balance(self, model: nn.Module, losses: dict[str, torch.Tensor]) -> None:
        # learning-rate annealing (Wang, Teng & Perdikaris, SISC 2021): lambda_k <- (1 - a) lambda_k
        # + a max|grad L_r| / mean|grad L_k|, the residual term's weight fixed
        params = [p for p in model.parameters() if p.requires_grad]
        reference = self.terms[0]

        def grads(loss: torch.Tensor) -> torch.Tensor:
            g = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
            return torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1) for x, p in zip(g, params)])

        top = grads(losses[reference]).abs().max()
        for key, loss in losses.items():
            if key == reference or not loss.requires_grad:
                continue
            mean = grads(loss).abs().mean().clamp_min(torch.finfo(top.dtype).tiny)
            estimate = float(top / mean)
            self.weights[key] = (1 - self.balancing_alpha) * self.weights[key] + self.balancing_alpha * estimate

    # ------------------------------------------------------------------ evaluation on a grid
    def _grid_points(self, x_grid: torch.Tensor, t_grid: torch.Tensor, model: nn.Module) -> torch.Tensor:
        dtype, device = _dtype_of(model)
        tt, xx = torch.meshgrid(
            t_grid.to(device=device, dtype=dtype), x_grid.to(device=device, dtype=dtype), indexing="ij"
        )
        return torch.stack([xx.reshape(-1), tt.reshape(-1)], dim=1)

    def _eval_grids(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        x_grid, t_grid = batch["x_grid"], batch["t_grid"]
        if x_grid.dim() == 2:  # a DataLoader batch of one grid
            if x_grid.shape[0] != 1:
                raise ShapeError("PINN evaluation takes one grid per batch; use eval_batch_size=1")
            x_grid, t_grid = x_grid[0], t_grid[0]
        return x_grid, t_grid

    @abstractmethod
    def grid_prediction(self, model: nn.Module, x_grid: torch.Tensor, t_grid: torch.Tensor) -> torch.Tensor:
        """The solution ``u`` on the Eulerian grid ``[T, X]``."""

    def predict(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        x_grid, t_grid = self._eval_grids(batch)
        return self.grid_prediction(model, x_grid, t_grid).unsqueeze(0)

    def _evaluate(self, model: nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x_grid, t_grid = self._eval_grids(batch)
        points = self._grid_points(x_grid, t_grid, model).requires_grad_(True)
        residuals = self.residual_terms(model, points)
        loss = sum(_mean_square(r) for r in residuals.values())
        with torch.no_grad():
            pred = self.grid_prediction(model, x_grid, t_grid).unsqueeze(0)
        return {"loss": loss.detach(), **{k: _mean_square(r).detach() for k, r in residuals.items()}, "pred": pred}


@OBJECTIVES.register("pinn")
class PINNLoss(AbstractPINNObjective):
    """Physics-informed loss (Raissi, Perdikaris & Karniadakis 2019) of a network ``u(x, t)``.

    ``loss = w_r L_residual + w_i L_initial + w_b L_boundary (+ w_d L_data)``: mean squares of the PDE
    residual at interior points (causally weighted in time when ``causal``), of the
    initial condition, and of the boundary conditions (Dirichlet, Neumann, periodic;
    conditions marked ``hard`` are left to the model). The weights are fixed or balanced by
    gradient norms (``balancing="grad_norm"``). Interior points come from the sampler, or
    are re-drawn from its ``pool`` by residual (``adaptive="rad"``) or refined by adding the
    worst pool points every ``adaptive_every`` steps (``adaptive="rar"``). A ``curriculum``
    changes a problem parameter over the steps (Krishnapriyan et al. 2021: small ``beta``
    first).

    Parameters
    ----------
    problem : str or PDEProblem
        A name in :data:`PROBLEMS` (``convection``, ``convection_diffusion``, ``heat``) or a problem.
    problem_params : dict
        Its parameters (``{"beta": 30}``).
    weights : dict
        Initial weights of ``residual``, ``initial``, ``boundary`` (default 1 each).
    balancing : {"fixed", "grad_norm"}
    balancing_every, balancing_alpha : int, float
        Update interval (steps) and moving-average factor of ``grad_norm``.
    causal : bool
    causal_epsilon : float or list of float
        Causality parameter, or an increasing schedule of them (Wang et al.: ``[1e-2, 1e-1, 1,
        10, 100]``), moved along once the smallest bin weight exceeds ``causal_tol``.
    causal_bins, causal_tol : int, float
        Time bins, and the weight every bin must reach before the next epsilon (0.99).
    adaptive : {"none", "rad", "rar"}
    adaptive_every, adaptive_points : int
        RAR: refinement interval and points added each time.
    rad_k, rad_c : float
        RAD density exponent and offset.
    curriculum : dict, optional
        ``{param: beta, values: [1, 10, 30], steps: [0, 500, 1000]}``.
    hard : list of str
        Condition kinds the model enforces (``["periodic"]`` with a periodic embedding).
    seed : int
        Seed of the RAD draws (with the step).
    data : str, optional
        An HDF5 file of our schema (``scattered`` observations or ``fields``) whose sample
        ``data_sample``, channel ``data_channel`` adds the term ``data``: the mean square of
        the network minus the measurements at their points (every point, or ``data_points``
        drawn from a ``fields`` file). See :func:`sciml.pinn.load_measurements`.
    """

    terms = ("residual", "initial", "boundary", "data")
    name = "pinn"

    def __init__(
        self,
        *args: Any,
        data: str | None = None,
        data_sample: int = 0,
        data_channel: int = 0,
        data_points: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.data_path = None if data is None else str(data)
        self._needs: frozenset[str] | None = None  # the fields the residual reads (learnt on the first call)
        self.measurements: tuple[torch.Tensor, torch.Tensor] | None = None
        if data is not None:
            from sciml.pinn._measurements import load_measurements

            self.measurements = load_measurements(
                data,
                sample=data_sample,
                channel=data_channel,
                coordinates=self.problem.coordinates,
                max_points=data_points,
                seed=self.seed,
            )

    def _fields(self, model: nn.Module, points: torch.Tensor) -> Fields:
        # A model with a jet (PINNNet with tanh or sin) gives u and its derivatives in one forward
        # pass; which derivatives the residual reads is learnt on the first call (by autograd),
        # and anything else it asks for later is still computed by autograd from these.
        problem, needs = self.problem, self._needs
        if needs is None or not getattr(model, "has_jet", False):
            fields = problem.fields(points, model(points))
            return fields
        c = problem.coordinates
        u, first, second = model.jet(points, 0 if f"u_{c[0]}{c[0]}" in needs else None)
        if u.shape[1] != 1:
            return problem.fields(points, model(points))
        values = {f"u_{name}": first[i] for i, name in enumerate(c)}
        if second is not None:
            values[f"u_{c[0]}{c[0]}"] = second
        return problem.fields(points, u, **values)

    def residual_terms(self, model: nn.Module, points: torch.Tensor) -> dict[str, torch.Tensor]:
        fields = self._fields(model, points)
        residual = self.problem.residual_at(fields)
        if self._needs is None:
            self._needs = frozenset(fields.names())
        return {"residual": residual}

    def _edge_values(
        self, model: nn.Module, batch: dict[str, Any]
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """``(points, u, du/dx)`` at the initial points and the two ends, from one forward pass.

        The model maps each point on its own, so one pass over the concatenated points gives
        what a pass per set gives, with a third of the per-call overhead. ``du/dx`` is computed
        only when a periodic or Neumann condition needs it.
        """
        p = self.problem
        initial = p.condition("initial")
        keys = ["initial"] if initial is not None and not initial.hard else []
        edge_kinds = {c.kind for c in p.conditions if not c.hard and c.kind != "initial"}
        if "boundary_lower" in batch and edge_kinds:
            keys += ["boundary_lower", "boundary_upper"]
        if not keys:
            return {}
        dtype, device = _dtype_of(model)
        sets = [batch[k].to(device=device, dtype=dtype) for k in keys]
        points = torch.cat(sets).detach().requires_grad_(True)
        u = model(points)
        du = gradient(u, points)[:, :1] if edge_kinds & {"periodic", "neumann"} else None
        out, start = {}, 0
        for key, part in zip(keys, sets):
            rows = slice(start, start + part.shape[0])
            out[key] = (points[rows], u[rows], None if du is None else du[rows])
            start += part.shape[0]
        return out

    def _boundary_loss(self, edges: dict[str, tuple]) -> torch.Tensor | None:
        p = self.problem
        if "boundary_lower" not in edges:
            return None
        (low, u_low, du_low), (high, u_high, du_high) = edges["boundary_lower"], edges["boundary_upper"]
        parts = []
        for c in p.conditions:
            if c.hard or c.kind == "initial":
                continue
            if c.kind == "periodic":
                parts.append(_mean_square(u_low - u_high))
                parts.append(_mean_square(du_low - du_high))
            elif c.kind == "dirichlet":
                if c.holds_on("lower"):
                    parts.append(_mean_square(u_low - c.value(low)))
                if c.holds_on("upper"):
                    parts.append(_mean_square(u_high - c.value(high)))
            elif c.kind == "neumann":  # outward normal: -d/dx at the lower end, +d/dx at the upper
                if c.holds_on("lower"):
                    parts.append(_mean_square(-du_low - c.value(low)))
                if c.holds_on("upper"):
                    parts.append(_mean_square(du_high - c.value(high)))
        return sum(parts) if parts else None

    def __call__(self, model: nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        if "x_grid" in batch:
            return self._evaluate(model, batch)
        points = self._interior(model, batch)
        residual = self.residual_terms(model, points)["residual"]
        residual_loss, extra = self._residual_loss(residual, points[:, -1])
        losses = {"residual": residual_loss}
        edges = self._edge_values(model, batch)
        if "initial" in edges:
            start, u_start, _ = edges["initial"]
            losses["initial"] = _mean_square(u_start - self.problem.condition("initial").value(start))
        boundary = self._boundary_loss(edges)
        if boundary is not None:
            losses["boundary"] = boundary
        if self.measurements is not None:
            dtype, device = _dtype_of(model)
            where, values = (m.to(device=device, dtype=dtype) for m in self.measurements)
            losses["data"] = _mean_square(model(where) - values)
        loss = self._combine(model, losses)
        return {"loss": loss, **{k: v.detach() for k, v in losses.items()}, **extra}

    def grid_prediction(self, model: nn.Module, x_grid: torch.Tensor, t_grid: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            points = self._grid_points(x_grid, t_grid, model)
            return model(points).reshape(len(t_grid), len(x_grid))


@OBJECTIVES.register("lpinn")
class LagrangianPINNLoss(AbstractPINNObjective):
    """The Lagrangian PINN's loss (Mojgani, Balajewicz & Hassanzadeh, CMAME 2023).

    For a model ``(x0, t) -> (u, x)`` (:class:`~sciml.pinn.LagrangianPINN`): the
    characteristic residual ``dx/dt - F`` (``F`` the problem's characteristic speed, e.g.
    ``beta`` or ``u``), the state residual along the characteristics (``du/dt - nu u_xx``,
    Eulerian derivatives by the chain rule ``u_x = u_x0 / x_x0``), and the initial
    conditions ``u(x0, t0) = u0(x0)``, ``x(x0, t0) = x0``. Periodicity is the model's (its
    periodic embedding of ``x0``). Evaluation interpolates ``u`` from the moving particles
    onto the fixed grid (linear, periodic).

    Parameters are those of :class:`PINNLoss`, and ``min_stretch`` (default 0.05): the
    stretch ``x_x0`` of the particle map is clamped below at it in the chain rule. Where
    characteristics converge (a Burgers shock) or cross (an untrained network) ``x_x0``
    nears or passes 0 and ``u_x = u_x0 / x_x0`` would blow up the state residual (measured
    on Burgers: a loss of 2e11 with no clamp, 2e6 at 1e-3, 0.14 at 0.05); the clamp caps the
    Eulerian derivatives there and leaves convection (``x_x0 = 1``) untouched. The terms are
    ``residual_state``, ``residual_characteristic``, ``initial_state``, ``initial_position``.
    """

    terms = ("residual_state", "residual_characteristic", "initial_state", "initial_position")
    name = "lpinn"

    def __init__(self, *args: Any, min_stretch: float = 0.05, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not min_stretch > 0:
            raise ConfigError(f"min_stretch={min_stretch}: need > 0 (the smallest x_x0 of the chain rule)")
        self.min_stretch = float(min_stretch)
        if not self.problem.periodic or len(self.problem.space) != 1:
            raise ConfigError(
                f"lpinn solves periodic 1-D problems; {self.problem.name!r} is not (use objective 'pinn' for it)"
            )

    def _lagrangian_fields(self, model: nn.Module, points: torch.Tensor) -> tuple[Fields, torch.Tensor]:
        if getattr(model, "has_jet", False):
            return self._jet_fields(model, points)
        out = model(points)
        if out.dim() != 2 or out.shape[1] != 2:
            raise ShapeError(f"lpinn needs a model with outputs (u, x), [N, 2]; got {tuple(out.shape)}")
        u, x = out[:, :1], out[:, 1:2]
        x_grad, u_grad = gradient(x, points), gradient(u, points)  # one backward pass each
        x_t, u_t = x_grad[:, 1:2], u_grad[:, 1:2]
        x_x0 = x_grad[:, :1].clamp_min(self.min_stretch)
        # the chain rule along the particle map x0 -> x(x0, t); x_x0 > 0 while characteristics do not cross
        u_x = u_grad[:, :1] / x_x0
        values = {"u": u, "x": x, "u_t": u_t, "u_x": u_x}
        if self.problem.lagrangian_residual is not None:
            values["u_xx"] = partial(u_x, points, 0) / x_x0
        return self.problem.fields(points, **values), x_t

    def _jet_fields(self, model: nn.Module, points: torch.Tensor) -> tuple[Fields, torch.Tensor]:
        # the same chain rule in closed form from the branches' jets (LagrangianPINN.jet):
        # u_x = u_x0 / J, u_xx = (1/J) d/dx0 (u_x0 / J) = (u_x0x0 - u_x J_x0) / J^2 with J = x_x0
        # clamped below at min_stretch (where it is clamped, J_x0 is 0, as autograd of the clamp gives)
        jet = model.jet(points)
        stretch = jet["x_x0"]
        free = stretch >= self.min_stretch
        stretch = stretch.clamp_min(self.min_stretch)
        u_x = jet["u_x0"] / stretch
        values = {"u": jet["u"], "x": jet["x"], "u_t": jet["u_t"], "u_x": u_x}
        if self.problem.lagrangian_residual is not None:
            values["u_xx"] = (jet["u_x0x0"] - u_x * jet["x_x0x0"] * free) / stretch**2
        return self.problem.fields(points, **values), jet["x_t"]

    def residual_terms(self, model: nn.Module, points: torch.Tensor) -> dict[str, torch.Tensor]:
        fields, x_t = self._lagrangian_fields(model, points)
        p = self.problem
        return {
            "residual_state": p.lagrangian_residual_at(fields),
            "residual_characteristic": x_t - p.speed_at(fields),
        }

    def __call__(self, model: nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        if "x_grid" in batch:
            return self._evaluate(model, batch)
        points = self._interior(model, batch)
        residuals = self.residual_terms(model, points)
        state_loss, extra = self._residual_loss(residuals["residual_state"], points[:, -1])
        characteristic_loss, _ = self._residual_loss(residuals["residual_characteristic"], points[:, -1])
        start = _points(batch, "initial", model)
        out = model(start)
        losses = {
            "residual_state": state_loss,
            "residual_characteristic": characteristic_loss,
            "initial_state": _mean_square(out[:, :1] - self.problem.condition("initial").value(start)),
            "initial_position": _mean_square(out[:, 1:2] - start[:, :1]),
        }
        loss = self._combine(model, losses)
        return {"loss": loss, **{k: v.detach() for k, v in losses.items()}, **extra}

    def trajectories(
        self, model: nn.Module, x0: torch.Tensor, t_grid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions and states ``[T, P]`` of the particles labelled ``x0 [P]`` at times ``t_grid [T]``."""
        with torch.no_grad():
            out = model(self._grid_points(x0, t_grid, model))
        return out[:, 1].reshape(len(t_grid), len(x0)), out[:, 0].reshape(len(t_grid), len(x0))

    def grid_prediction(self, model: nn.Module, x_grid: torch.Tensor, t_grid: torch.Tensor) -> torch.Tensor:
        positions, values = self.trajectories(model, x_grid, t_grid)
        lower = self.problem.space[0][0]
        return periodic_interpolate(positions, values, x_grid.to(positions), lower, self.problem.length)
