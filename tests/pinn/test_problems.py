"""Burgers and reaction-diffusion problems, Neumann conditions on a known solution, conditions on sides,
and the bad input of issue 16 (a side the domain lacks, an unknown derivative, divergence naming its term)."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from sciml.core.errors import ConfigError, TrainingDivergedError
from sciml.pinn import (
    PROBLEMS,
    CollocationSampler,
    Condition,
    LagrangianPINNLoss,
    PDEProblem,
    PINNLoss,
    PINNNet,
    load_measurements,
)
from sciml.training import Trainer, load_checkpoint

F64 = torch.float64
EPS = torch.finfo(F64).eps


class _Exact(nn.Module):
    """A 'model' that returns a given function of the points (one dummy parameter sets the dtype)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.dummy = nn.Parameter(torch.zeros((), dtype=F64))

    def forward(self, points):
        return self.fn(points) + 0 * self.dummy


def _fd_residual(problem, x, t, h, residual):
    exact = lambda xx, tt: problem.exact(torch.stack([xx, tt], 1))[:, 0]  # noqa: E731
    u = exact(x, t)
    u_t = (exact(x, t + h) - exact(x, t - h)) / (2 * h)
    u_x = (exact(x + h, t) - exact(x - h, t)) / (2 * h)
    u_xx = (exact(x + h, t) - 2 * u + exact(x - h, t)) / h**2
    return residual(u, u_t, u_x, u_xx)


def test_burgers_and_reaction_diffusion_references_satisfy_their_pdes_by_finite_differences():
    # central differences, h = 1e-3: truncation ~ h^2 (|u_ttt| + nu |u_xxxx|) ~ 1e-5 for these smooth states
    x = torch.linspace(-0.9, 0.9, 31, dtype=F64)
    t = torch.full_like(x, 0.4)
    burgers = PROBLEMS.get("burgers")(nu=0.05)
    r = _fd_residual(burgers, x, t, 1e-3, lambda u, ut, ux, uxx: ut + u * ux - 0.05 * uxx)
    assert float(r.abs().max()) <= 1e-3
    rd = PROBLEMS.get("reaction_diffusion")(nu=1.0, rho=5.0)
    x = torch.linspace(0.3, 6.0, 31, dtype=F64)
    r = _fd_residual(rd, x, t, 1e-3, lambda u, ut, ux, uxx: ut - uxx - 5.0 * u * (1 - u))
    assert float(r.abs().max()) <= 1e-3  # measured 5.2e-6
    wrong = _fd_residual(rd, x, t, 1e-3, lambda u, ut, ux, uxx: ut - uxx - 4.0 * u * (1 - u))
    assert float(wrong.abs().max()) > 0.05  # a wrong rate is seen


def test_burgers_has_dirichlet_or_periodic_form_and_only_the_periodic_one_suits_the_lpinn():
    dirichlet, periodic = PROBLEMS.get("burgers")(), PROBLEMS.get("burgers")(periodic=True)
    assert [c.kind for c in dirichlet.conditions] == ["initial", "dirichlet"]
    assert [c.kind for c in periodic.conditions] == ["initial", "periodic"]
    ends = torch.tensor([[-1.0, 0.5], [1.0, 0.5]], dtype=F64)
    assert float(dirichlet.exact(ends).abs().max()) <= 16 * EPS
    LagrangianPINNLoss(periodic)  # accepted
    with pytest.raises(ConfigError, match="periodic 1-D"):
        LagrangianPINNLoss(dirichlet)
    with pytest.raises(ConfigError, match="min_stretch"):
        LagrangianPINNLoss(periodic, min_stretch=0.0)


def _mixed_problem(side_lower="x_lower", side_upper="x_upper"):
    # u_t = nu u_xx on [0, 1], u(0) = 0, u_x(1) = 0, u0 = sin(pi x / 2): exact exp(-nu pi^2 t / 4) sin(pi x / 2)
    nu = 0.1
    zero = lambda p: torch.zeros_like(p[:, :1])  # noqa: E731
    return PDEProblem(
        name="mixed_heat",
        space=[(0.0, 1.0)],
        time=(0.0, 1.0),
        residual=lambda f: f["u_t"] - nu * f["u_xx"],
        conditions=[
            Condition("initial", lambda p: torch.sin(math.pi * p[:, :1] / 2)),
            Condition("dirichlet", zero, side=side_lower),
            Condition("neumann", zero, side=side_upper),
        ],
        exact=lambda p: torch.exp(-nu * math.pi**2 * p[:, 1:2] / 4) * torch.sin(math.pi * p[:, :1] / 2),
    )


def test_neumann_and_dirichlet_on_their_sides_vanish_on_the_exact_solution_only():
    problem = _mixed_problem()
    objective = PINNLoss(problem)
    batch = CollocationSampler(problem, interior=64, initial=32, boundary=32)(0)
    exact = objective(_Exact(problem.exact), batch)
    for term in ("residual", "initial", "boundary"):
        assert float(exact[term]) <= (64 * EPS) ** 2, (term, float(exact[term]))
    # cos(pi x / 2) has the wrong ends: u(0) = 1 (Dirichlet side) and u_x(1) = -pi/2 (Neumann side)
    wrong_ends = _Exact(lambda p: torch.exp(-0.1 * math.pi**2 * p[:, 1:2] / 4) * torch.cos(math.pi * p[:, :1] / 2))
    assert float(objective(wrong_ends, batch)["boundary"]) > 0.1
    # the same function passes once the conditions sit on the other sides (u_x(0) = 0, u(1) = 0)
    swapped = PINNLoss(_mixed_problem("x_upper", "x_lower"))
    assert float(swapped(wrong_ends, batch)["boundary"]) <= (64 * EPS) ** 2


def test_bad_problem_input_is_one_line():
    with pytest.raises(ConfigError, match="side 'y_lower'.*x_lower, x_upper"):
        _mixed_problem(side_lower="y_lower")
    with pytest.raises(ConfigError, match="no side"):
        Condition("periodic", side="x_lower")
    with pytest.raises(ConfigError, match="bounds"):
        PDEProblem(name="p", space=[(1.0, 0.0)], time=(0.0, 1.0), residual="u_t")
    with pytest.raises(ConfigError, match="symbol 'u_y'"):
        PDEProblem(name="p", space=[(0.0, 1.0)], time=(0.0, 1.0), residual="u_t - u_yy + u_y")
    with pytest.raises(ConfigError, match="interior=0"):
        CollocationSampler(PROBLEMS.get("heat")(), interior=0)


def test_a_non_finite_loss_term_stops_training_naming_it_and_keeps_the_last_good_checkpoint(tmp_path):
    calls = {"n": 0}

    def residual(f):
        calls["n"] += 1
        blow = math.inf if calls["n"] > 12 else 1.0  # the residual breaks at the 13th step
        return (f["u_t"] - 0.1 * f["u_xx"]) * blow

    heat = PROBLEMS.get("heat")()
    problem = PDEProblem(name="breaking", space=heat.space, time=heat.time, residual=residual,
                         conditions=heat.conditions, exact=heat.exact)  # fmt: skip
    torch.manual_seed(0)
    model = PINNNet(2, 1, width=8, depth=1)
    sampler = CollocationSampler(problem, interior=16, initial=8, boundary=8, steps_per_epoch=5)
    trainer = Trainer(model, PINNLoss(problem), optimizer="adam", lr=1e-3, max_steps=30, progress=False,
                      run_dir=tmp_path / "run", checkpoint_every=1, steps_per_epoch=5)  # fmt: skip
    with pytest.raises(TrainingDivergedError, match=r"non-finite term: residual\)") as info:
        trainer.fit(sampler)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    good = re.search(r"the good checkpoint is (\S+): resume", message)
    assert good is not None, message
    state = load_checkpoint(good[1])
    assert state["meta"]["global_step"] in (5, 10)  # a period end before the 13th step
    assert all(bool(torch.isfinite(v).all()) for v in state["model"].values())


def _heat_files(tmp_path):
    import numpy as np

    from sciml.data.schema import Provenance, write_fields, write_scattered

    heat = PROBLEMS.get("heat")()
    rng = np.random.default_rng(0)
    tx = rng.uniform(0, 1, size=(2, 40, 2))  # (t, x) per point, the scattered layout
    values = heat.exact(torch.from_numpy(tx[..., ::-1].reshape(-1, 2).copy())).numpy().reshape(2, 40, 1)
    mask = np.ones((2, 40), dtype=bool)
    mask[0, 3] = False
    values[0, 3] = 99.0  # a masked point must not count
    scattered = tmp_path / "obs.h5"
    write_scattered(scattered, tx, values, Provenance("test"), coords_names=["x"], bounds=[[0, 1], [0, 1]], mask=mask)
    x, t = np.linspace(0, 1, 9), np.linspace(0, 1, 5)
    u = heat.exact_on(torch.from_numpy(x), torch.from_numpy(t)).numpy()[None, :, None, :]
    fields = tmp_path / "fields.h5"
    write_fields(fields, np.concatenate([u, 2 * u]).astype(np.float32), t, {"x": x}, Provenance("test"))
    return heat, scattered, fields


def test_measurements_from_our_hdf5_files_add_a_data_term_that_vanishes_on_the_truth(tmp_path):
    heat, scattered, fields = _heat_files(tmp_path)
    batch = CollocationSampler(heat, interior=32, initial=16, boundary=16)(0)
    truth = _Exact(heat.exact)
    twice = _Exact(lambda p: 2 * heat.exact(p))
    points, values = load_measurements(scattered, sample=0)
    assert points.shape == (39, 2) and values.shape == (39, 1)  # the masked point left out
    # the files hold float32 points and values: rounding of u (|u| <= 1) and of the points (|grad u| <= pi)
    tolerance = (4 * torch.finfo(torch.float32).eps * math.pi) ** 2
    for path in (scattered, fields):
        objective = PINNLoss(heat, data=str(path))
        assert float(objective(truth, batch)["data"]) <= tolerance
        assert float(objective(twice, batch)["data"]) > 0.01
    second = PINNLoss(heat, data=str(fields), data_sample=1, data_points=20)
    assert second.measurements[0].shape == (20, 2)
    assert float(second(twice, batch)["data"]) <= 4 * tolerance  # sample 1 holds 2 u
    assert "data" not in PINNLoss(heat)(truth, batch)


def test_bad_measurement_files_are_one_line_errors(tmp_path):
    heat, scattered, fields = _heat_files(tmp_path)
    with pytest.raises(ConfigError, match="sample 5 does not exist; the file has 2"):
        load_measurements(scattered, sample=5)
    with pytest.raises(ConfigError, match="channel 1 does not exist"):
        load_measurements(fields, channel=1)
    with pytest.raises(ConfigError, match=r"no coords/y"):
        load_measurements(fields, coordinates=("y", "t"))
    with pytest.raises(ConfigError, match="coordinates are"):
        load_measurements(scattered, coordinates=("y", "t"))
