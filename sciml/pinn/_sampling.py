"""Collocation points drawn each step from the step's seed: uniform, Latin hypercube, Sobol."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sciml.core.errors import ConfigError
from sciml.pinn._problem import PDEProblem

__all__ = ["METHODS", "CollocationSampler", "sample_box"]

METHODS = ("uniform", "lhs", "sobol")


def _generator(seed: int, step: int, stream: int) -> torch.Generator:
    state = np.random.SeedSequence([int(seed), int(step), int(stream)]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state >> np.uint64(1)))


def sample_box(
    lower: torch.Tensor, upper: torch.Tensor, n: int, method: str, generator: torch.Generator
) -> torch.Tensor:
    """``n`` points in the box ``[lower, upper]`` (``[D]`` each) as ``[n, D]`` float64.

    ``uniform``: independent uniform draws; ``lhs``: Latin hypercube (one point per
    1/n-stratum in every coordinate, strata paired by random permutations); ``sobol``:
    a scrambled Sobol sequence (torch's ``SobolEngine``, scrambled with a seed from
    ``generator``), low discrepancy.
    """
    d = lower.numel()
    if method == "uniform":
        unit = torch.rand(n, d, generator=generator, dtype=torch.float64)
    elif method == "lhs":
        strata = torch.stack([torch.randperm(n, generator=generator) for _ in range(d)], dim=1).to(torch.float64)
        unit = (strata + torch.rand(n, d, generator=generator, dtype=torch.float64)) / n
    elif method == "sobol":
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        unit = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed).draw(n, dtype=torch.float64)
    else:
        raise ConfigError(f"collocation method {method!r} is unknown; use one of {', '.join(METHODS)}")
    return lower + (upper - lower) * unit


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class CollocationSampler:
    """``sample(step) -> batch`` of collocation points for the Trainer (no data file).

    Every call draws fresh points from a stream seeded by ``(seed, step)``, so a resumed
    run sees the same points as an uninterrupted one. Under DDP each of the W ranks takes
    every W-th point of the ``W * n`` drawn for the step: the ranks' points are disjoint
    and their union is what one process with ``W * n`` points would use.

    Batch keys (float64 ``[n, D]`` points, space coordinates then time):
    ``interior``, ``initial`` (``t = t0``), ``boundary_lower`` / ``boundary_upper``
    (the two ends of the first spatial interval at the same times), and ``pool``
    (``pool`` points for residual-based refinement, when ``pool > 0``).

    Parameters
    ----------
    problem : PDEProblem
    interior, initial, boundary : int
        Points per step in the interior, at ``t0`` and on each end of the interval.
    method : {"uniform", "lhs", "sobol"}
    pool : int
        Candidates per step for adaptive sampling (RAD / RAR); 0 for none.
    seed : int
    steps_per_epoch : int
        Steps the Trainer counts as one epoch (one logging period).
    """

    def __init__(
        self,
        problem: PDEProblem,
        *,
        interior: int = 2000,
        initial: int = 256,
        boundary: int = 256,
        method: str = "sobol",
        pool: int = 0,
        seed: int = 0,
        steps_per_epoch: int = 100,
    ):
        for name, value in (("interior", interior), ("initial", initial)):
            if int(value) < 1:
                raise ConfigError(f"collocation {name}={value}: need >= 1 point per step")
        if int(boundary) < 0 or int(pool) < 0:
            raise ConfigError("collocation boundary and pool must be >= 0")
        if method not in METHODS:
            raise ConfigError(f"collocation method {method!r} is unknown; use one of {', '.join(METHODS)}")
        self.problem = problem
        self.interior, self.initial, self.boundary, self.pool = int(interior), int(initial), int(boundary), int(pool)
        self.method, self.seed, self.steps_per_epoch = method, int(seed), int(steps_per_epoch)

    def _draw(self, lower: torch.Tensor, upper: torch.Tensor, n: int, step: int, stream: int) -> torch.Tensor:
        rank, world = _distributed()
        points = sample_box(lower, upper, n * world, self.method, _generator(self.seed, step, stream))
        return points[rank::world]

    def __call__(self, step: int) -> dict[str, Any]:
        p = self.problem
        lower, upper = p.lower, p.upper
        batch: dict[str, Any] = {"interior": self._draw(lower, upper, self.interior, step, 0)}
        start_upper = upper.clone()
        start_upper[-1] = lower[-1]
        initial = self._draw(lower, start_upper.clone(), self.initial, step, 1) if len(p.space) else None
        initial[:, -1] = lower[-1]
        batch["initial"] = initial
        if self.boundary:
            edge_lower, edge_upper = lower.clone(), upper.clone()
            edge_upper[0] = lower[0]
            low = self._draw(edge_lower, edge_upper, self.boundary, step, 2)
            high = low.clone()
            high[:, 0] = upper[0]
            batch["boundary_lower"], batch["boundary_upper"] = low, high
        if self.pool:
            batch["pool"] = self._draw(lower, upper, self.pool, step, 3)
        return batch
