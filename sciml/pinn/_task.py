"""The ``pinn`` task: ``sciml train`` on a registered PDE problem, no data file needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sciml.core.errors import ConfigError
from sciml.core.registry import MODELS, OBJECTIVES, TASKS
from sciml.core.task import AbstractTask
from sciml.pinn._problem import PROBLEMS, PDEProblem
from sciml.pinn._sampling import CollocationSampler

__all__ = ["GridSolution", "PINNConfig", "PINNTask"]


@dataclass
class PINNConfig:
    """The ``pinn`` section.

    Attributes
    ----------
    problem : str
        A registered problem (``sciml list pinn_problems``).
    params : dict
        Its parameters (``{beta: 30}``).
    interior, initial, boundary : int
        Collocation points per step.
    method : {"sobol", "lhs", "uniform"}
    pool : int
        Candidate points per step for ``adaptive: rad|rar`` of the objective.
    steps_per_epoch : int
        Optimizer steps per logging period (an "epoch").
    hard_periodic : bool
        Enforce a periodic condition in the network (periodic input embedding) instead of
        a loss term.
    eval_nx, eval_nt : int
        The test grid in x and t (validation uses every other point of it).
    seed : int
        Seed of the collocation draws.
    """

    problem: str = "convection"
    params: dict[str, float] = field(default_factory=dict)
    interior: int = 2000
    initial: int = 256
    boundary: int = 256
    method: str = "sobol"
    pool: int = 0
    steps_per_epoch: int = 100
    hard_periodic: bool = True
    eval_nx: int = 256
    eval_nt: int = 101
    seed: int = 0


class GridSolution(torch.utils.data.Dataset):
    """One item: the exact solution ``y [T, X]`` on the grid ``x_grid [X]`` x ``t_grid [T]``."""

    def __init__(self, problem: PDEProblem, nx: int, nt: int, dtype: torch.dtype = torch.float32):
        lo, hi = problem.space[0]
        periodic = problem.periodic
        x = torch.linspace(lo, hi, nx + (1 if periodic else 0), dtype=torch.float64)[: nx if periodic else None]
        t = torch.linspace(*problem.time, nt, dtype=torch.float64)
        self.x_grid, self.t_grid = x, t
        self.y = problem.exact_on(x, t)
        self.dtype = dtype

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if i != 0:
            raise IndexError(i)
        return {"x_grid": self.x_grid.to(self.dtype), "t_grid": self.t_grid.to(self.dtype), "y": self.y.to(self.dtype)}


@TASKS.register("pinn")
class PINNTask(AbstractTask):
    """Physics-informed networks (PINN, Lagrangian PINN) on a registered PDE problem."""

    section = PINNConfig

    def _problem(self) -> PDEProblem:
        opt = self.options
        try:
            return PROBLEMS.get(opt.problem)(**dict(opt.params))
        except TypeError as exc:
            raise ConfigError(f"pinn.params {dict(opt.params)} do not fit problem {opt.problem!r} ({exc})") from None

    def build_data(self, splits):
        opt = self.options
        problem = self._problem()
        out: dict[str | None, Any] = {}
        for split in splits:
            if split == "train":
                out[split] = CollocationSampler(
                    problem,
                    interior=opt.interior,
                    initial=opt.initial,
                    boundary=opt.boundary if not (opt.hard_periodic and problem.periodic) else 0,
                    method=opt.method,
                    pool=opt.pool,
                    seed=opt.seed,
                    steps_per_epoch=opt.steps_per_epoch,
                )
            elif split == "val":
                out[split] = GridSolution(problem, max(opt.eval_nx // 2, 8), max(opt.eval_nt // 2, 2))
            else:
                out[split] = GridSolution(problem, opt.eval_nx, opt.eval_nt)
        return out

    def build_objective(self):
        opt = self.options
        name, kwargs = self.cfg.objective.name, dict(self.cfg.objective.kwargs)
        kwargs.setdefault("problem", opt.problem)
        kwargs.setdefault("problem_params", dict(opt.params))
        if opt.hard_periodic:
            kwargs.setdefault("hard", ["periodic"])
        kwargs.setdefault("seed", opt.seed)
        try:
            return OBJECTIVES.get(name)(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"objective '{name}' rejected its arguments ({exc}); fix objective.kwargs") from None

    def build_model(self, data, objective, *, fit):
        problem = self._problem()
        name, kwargs = self.cfg.model.name, dict(self.cfg.model.kwargs)
        if name == "pinn_mlp":
            kwargs.setdefault("in_features", problem.dim)
            if self.options.hard_periodic and problem.periodic:
                kwargs.setdefault("periodic", {0: problem.length})
        elif name == "lpinn":
            kwargs.setdefault("period", problem.length)
        try:
            return MODELS.get(name)(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"model '{name}' rejected its arguments ({exc}); fix model.kwargs") from None

    def eval_metrics(self, data):
        return ["relative_l2"]

    def plots(self, predictor, data, history, out: Path) -> list[Path]:
        from sciml.pinn._plots import pinn_figures

        return pinn_figures(self, predictor, data, history, out)
