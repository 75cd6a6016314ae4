"""The burgers1d generator and its solver: exactness, order, determinism, errors."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.core.registry import GENERATORS
from sciml.data.generators import generate, generator_parameters
from sciml.data.generators._common import grf_initial_conditions
from sciml.data.generators.burgers import burgers1d
from sciml.data.schema import validate
from sciml.numerics.pde import _burgers as burgers_solver_module
from sciml.numerics.pde import solve_burgers
from tests.problems import ColeHopfBurgers

SMALL = {"n": 6, "resolution": 64, "n_times": 5, "batch_size": 4}


def relative_errors(approx: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """Relative L2 error over the last axis."""
    return (approx - exact).norm(dim=-1) / exact.norm(dim=-1)


def test_solver_matches_cole_hopf_with_generator_defaults():
    """A steep front (max|u_x| = 160 at nu = 0.01) on the generator's default grid and step."""
    problem = ColeHopfBurgers()
    x = problem.grid(256)
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    exact = problem.exact(t, x)
    u = solve_burgers(exact[:1], t, nu=problem.nu, length=problem.length)[0]
    assert torch.equal(u[0], exact[0])
    errors = relative_errors(u[1:], exact[1:])
    assert float(errors.max()) <= 3e-8, errors  # measured 1.1e-8


def test_solver_is_fourth_order_in_time():
    problem = ColeHopfBurgers(nu=0.1, modes=((1, 0.5, 0.0), (2, 0.2, 1.0)))
    x = problem.grid(64)
    t = torch.tensor([0.0, 0.5], dtype=torch.float64)
    exact = problem.exact(t, x)
    steps = [0.5 / 16, 0.5 / 32, 0.5 / 64, 0.5 / 128]
    errors = [float(relative_errors(solve_burgers(exact[:1], t, nu=problem.nu, dt=h)[0, 1], exact[1])) for h in steps]
    order = float(np.polyfit(np.log(steps), np.log(errors), 1)[0])
    assert abs(order - 4.0) <= 0.2, (order, errors)


def test_solver_batches_and_respects_maximum_principle():
    u0 = grf_initial_conditions(0, 5, 64)
    t = [0.0, 0.25, 1.0]
    together = solve_burgers(u0, t, nu=0.02)
    alone = solve_burgers(u0[2:3], t, nu=0.02, dt=float((1 / 128) / u0.abs().max()))  # the batch's CFL step
    assert torch.allclose(together[2], alone[0], rtol=0, atol=1e-12)
    # Burgers' maximum principle: max|u| never grows
    peak = together.abs().amax(dim=-1)
    assert bool((peak[:, 1:] <= peak[:, :1] * (1 + 1e-9)).all())


def test_solver_reports_blow_up_with_sample_and_fix():
    u0 = grf_initial_conditions(0, 3, 64)
    with pytest.raises(DataError, match=r"sample \d+ .*lower dt or cfl, or raise internal_resolution or nu") as info:
        solve_burgers(u0, [0.0, 1.0], nu=0.01, dt=1.0)
    assert "\n" not in str(info.value)


def test_solver_rejects_bad_arguments():
    u0 = torch.zeros(2, 16, dtype=torch.float64)
    with pytest.raises(ConfigError, match="nu"):
        solve_burgers(u0, [1.0], nu=0.0)
    with pytest.raises(ConfigError, match="multiple"):
        solve_burgers(u0, [1.0], nu=0.1, internal_resolution=24)
    with pytest.raises(ShapeError, match="even"):
        solve_burgers(torch.zeros(2, 15, dtype=torch.float64), [1.0], nu=0.1)
    with pytest.raises(ConfigError, match="non-decreasing"):
        solve_burgers(u0, [1.0, 0.5], nu=0.1)


def test_initial_conditions_do_not_depend_on_batching():
    whole = grf_initial_conditions(0, 6, 32, seed=4)
    assert torch.equal(grf_initial_conditions(3, 2, 32, seed=4), whole[3:5])
    assert not torch.equal(grf_initial_conditions(0, 6, 32, seed=5), whole)


def test_generator_writes_the_schema_with_provenance(tmp_path):
    path = tmp_path / "burgers.h5"
    digest = burgers1d(path, seed=3, nu=0.02, **SMALL)
    info = validate(path)
    assert info.content_sha256 == digest
    with h5py.File(path, "r") as f:
        a, u, t, x = f["a"][()], f["u"][()], f["t"][()], f["coords/x"][()]
        params, solver = json.loads(f.attrs["params"]), json.loads(f.attrs["solver"])
        assert f.attrs["generator"] == "burgers1d" and int(f.attrs["seed"]) == 3
    assert a.shape == (6, 1, 64) and u.shape == (6, 5, 1, 64)
    np.testing.assert_array_equal(u[:, 0], a)
    np.testing.assert_allclose(t, np.linspace(0, 1, 5))
    np.testing.assert_allclose(x, np.arange(64) / 64)
    assert params["nu"] == 0.02 and params["resolution"] == 64
    assert solver["internal_resolution"] == 128 and solver["dt"] > 0 and "ETDRK4" in solver["method"]
    # the stored data are the solver's output for the stored initial conditions
    expected = solve_burgers(torch.from_numpy(a[:, 0]).double(), t, nu=0.02, dt=solver["dt"])
    np.testing.assert_allclose(u[:, :, 0], expected.numpy(), rtol=0, atol=1e-6)


def test_generator_is_deterministic_and_independent_of_batch_size(tmp_path):
    first = burgers1d(tmp_path / "a.h5", seed=1, **SMALL)
    again = burgers1d(tmp_path / "b.h5", seed=1, **{**SMALL, "batch_size": 1})
    other = burgers1d(tmp_path / "c.h5", seed=2, **SMALL)
    assert first == again
    assert first != other


def test_generator_is_registered_and_runs_through_generate(tmp_path):
    assert "burgers1d" in GENERATORS
    params = generator_parameters("burgers1d")
    assert params["nu"] == 0.01 and params["resolution"] == 256 and params["n_times"] == 11
    digest = generate("burgers1d", tmp_path / "g.h5", progress=True, n=2, resolution=32, n_times=2)
    assert validate(tmp_path / "g.h5").content_sha256 == digest


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"nu": 0.0}, "nu"),
        ({"nu": -1.0}, "nu"),
        ({"resolution": 8}, "resolution"),
        ({"resolution": 65}, "resolution"),
        ({"n": 0}, "n"),
        ({"n_times": 0}, "n_times"),
        ({"t_final": 0.0}, "t_final"),
        ({"batch_size": 0}, "batch_size"),
        ({"internal_resolution": 96}, "internal_resolution"),
        ({"cfl": 5.0}, "cfl"),
        ({"device": "warp-drive"}, "device"),
    ],
)
def test_generator_rejects_bad_configuration(tmp_path, override, name):
    path = tmp_path / "bad.h5"
    with pytest.raises(ConfigError, match=rf"burgers1d: {name}\b.*(must|use)") as info:
        burgers1d(path, **{**SMALL, **override})
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_generator_blow_up_leaves_no_file(tmp_path, monkeypatch):
    # a bound below max|u0| makes the first output step count as a blow-up
    monkeypatch.setattr(burgers_solver_module, "_BLOW_UP_FACTOR", 0.5)
    path = tmp_path / "blow.h5"
    with pytest.raises(DataError, match=r"sample \d+ .*lower dt or cfl"):
        burgers1d(path, **SMALL)
    assert list(tmp_path.iterdir()) == []
