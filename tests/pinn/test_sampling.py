"""Collocation points: reproducible per step, disjoint over DDP ranks, the properties each method promises."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.core.errors import ConfigError
from sciml.pinn import PROBLEMS, CollocationSampler, _sampling, sample_box


def _sampler(**kwargs):
    return CollocationSampler(PROBLEMS.get("heat")(), interior=64, initial=16, boundary=8, pool=32, **kwargs)


def test_points_depend_only_on_the_step_and_lie_where_they_should():
    a, b = _sampler(seed=1), _sampler(seed=1)
    first, again, other = a(5), b(5), a(6)
    for key in first:
        assert torch.equal(first[key], again[key]), key
    assert not torch.equal(first["interior"], other["interior"])
    inner = first["interior"]
    assert inner.shape == (64, 2) and bool(((inner >= 0) & (inner <= 1)).all())
    assert bool((first["initial"][:, 1] == 0).all())
    assert bool((first["boundary_lower"][:, 0] == 0).all()) and bool((first["boundary_upper"][:, 0] == 1).all())
    assert torch.equal(first["boundary_lower"][:, 1], first["boundary_upper"][:, 1])  # paired times
    assert first["pool"].shape == (32, 2)


def test_ranks_draw_disjoint_points_whose_union_is_the_single_process_draw(monkeypatch):
    single = _sampler()
    monkeypatch.setattr(_sampling, "_distributed", lambda: (0, 1))
    alone = CollocationSampler(single.problem, interior=128, initial=16, boundary=0)(3)["interior"]
    parts = []
    for rank in range(2):
        monkeypatch.setattr(_sampling, "_distributed", lambda r=rank: (r, 2))
        parts.append(CollocationSampler(single.problem, interior=64, initial=8, boundary=0)(3)["interior"])
    assert not set(map(tuple, parts[0].tolist())) & set(map(tuple, parts[1].tolist()))
    assert sorted(map(tuple, torch.cat(parts).tolist())) == sorted(map(tuple, alone.tolist()))


def test_latin_hypercube_puts_one_point_in_every_stratum():
    n = 50
    points = sample_box(
        torch.zeros(2, dtype=torch.float64),
        torch.ones(2, dtype=torch.float64),
        n,
        "lhs",
        torch.Generator().manual_seed(0),
    )
    for d in range(2):
        assert sorted((points[:, d] * n).floor().long().tolist()) == list(range(n))


def test_sobol_covers_the_box_more_evenly_than_uniform_draws():
    # star discrepancy proxy: the largest deviation of the empirical measure of the boxes [0, a) x [0, b)
    def discrepancy(points):
        grid = torch.linspace(0.05, 1, 20, dtype=torch.float64)
        worst = 0.0
        for a in grid:
            for b in grid:
                inside = ((points[:, 0] < a) & (points[:, 1] < b)).double().mean()
                worst = max(worst, abs(float(inside) - float(a * b)))
        return worst

    lo, hi = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    sobol = [discrepancy(sample_box(lo, hi, 256, "sobol", torch.Generator().manual_seed(s))) for s in range(4)]
    uniform = [discrepancy(sample_box(lo, hi, 256, "uniform", torch.Generator().manual_seed(s))) for s in range(4)]
    # uniform draws: ~ 1/sqrt(n) = 0.06; scrambled Sobol: ~ log(n)^2 / n, several times smaller
    assert max(sobol) < 0.5 * min(uniform), (sobol, uniform)


def test_bad_settings_are_one_line_errors():
    problem = PROBLEMS.get("convection")()
    with pytest.raises(ConfigError, match="method 'grid' is unknown"):
        CollocationSampler(problem, method="grid")
    with pytest.raises(ConfigError, match="interior=0"):
        CollocationSampler(problem, interior=0)
    assert math.isclose(problem.length, 2 * math.pi)
