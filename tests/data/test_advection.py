"""The advection_diffusion1d generator: exact against sums of sines, determinism, errors."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError
from sciml.core.registry import GENERATORS
from sciml.data.generators import generate
from sciml.data.generators._common import sample_generator
from sciml.data.generators.advection import advection_diffusion1d
from sciml.data.schema import validate
from sciml.numerics.pde import solve_advection_diffusion

SMALL = {"n": 5, "resolution": 64, "n_times": 6, "batch_size": 2}


def advected_sines(x, t, waves, beta, nu, length):
    """Exact solution for ``u0 = sum_i A_i sin(2 pi m_i x / L + phi_i)``; ``[len(t), len(x)]``."""
    t = np.asarray(t, dtype=np.float64)[:, None]
    u = np.zeros((t.shape[0], x.shape[0]))
    for amplitude, mode, phase in waves:
        k = 2 * math.pi * mode / length
        u += amplitude * np.exp(-nu * k**2 * t) * np.sin(k * (x[None, :] - beta * t) + phase)
    return u


@pytest.mark.parametrize(("beta", "nu"), [(50.0, 0.0), (50.0, 0.01), (-3.7, 0.2), (0.0, 0.05)])
def test_solver_matches_exact_sines(beta, nu):
    length, s = 2.0, 128
    x = np.arange(s) * length / s
    waves = [(1.0, 3, 0.4), (0.5, 17, 2.0), (0.25, 40, -1.0)]
    t = np.linspace(0, 1.0, 7)
    exact = advected_sines(x, t, waves, beta, nu, length)
    u = solve_advection_diffusion(torch.from_numpy(exact[:1]), t, beta=beta, nu=nu, length=length)[0].numpy()
    # the phase beta k t reaches 6e3 rad: rounding of t and k sets the floor
    assert np.abs(u - exact).max() <= 1e-10


def test_generator_sines_match_the_exact_solution(tmp_path):
    """Rebuild every sample's waves from the documented recipe and compare the file with
    the closed-form solution (float32 storage)."""
    beta, nu, length, max_mode, n_waves = 51.25, 0.003, 1.0, 8, 3
    path = tmp_path / "sines.h5"
    advection_diffusion1d(
        path, seed=7, beta=beta, nu=nu, initial_condition="sines", max_mode=max_mode, n_waves=n_waves, **SMALL
    )
    with h5py.File(path, "r") as f:
        u, a, t, x = f["u"][()], f["a"][()], f["t"][()], f["coords/x"][()]
    for i in range(SMALL["n"]):
        generator = sample_generator(7, i)
        amplitude = torch.rand(n_waves, 1, generator=generator, dtype=torch.float64)
        mode = torch.randint(1, max_mode + 1, (n_waves, 1), generator=generator)
        phase = 2 * math.pi * torch.rand(n_waves, 1, generator=generator, dtype=torch.float64)
        waves = list(zip(amplitude[:, 0].tolist(), mode[:, 0].tolist(), phase[:, 0].tolist()))
        exact = advected_sines(x, t, waves, beta, nu, length)
        assert np.abs(u[i, :, 0] - exact).max() <= 1e-6
        np.testing.assert_array_equal(u[i, 0], a[i])


def test_generator_pure_advection_is_a_roll_of_the_initial_condition(tmp_path):
    # beta * dt_out = 51.25 * 0.2 = 10.25 periods: shifts of 16 cells on 64 points
    path = tmp_path / "roll.h5"
    advection_diffusion1d(path, beta=51.25, nu=0.0, **SMALL)
    with h5py.File(path, "r") as f:
        u, a = f["u"][()], f["a"][()]
    for j in range(SMALL["n_times"]):
        np.testing.assert_allclose(u[:, j, 0], np.roll(a[:, 0], 16 * j, axis=-1), rtol=0, atol=2e-6)


def test_generator_writes_provenance_and_is_deterministic(tmp_path):
    first = advection_diffusion1d(tmp_path / "a.h5", seed=1, **SMALL)
    again = advection_diffusion1d(tmp_path / "b.h5", seed=1, **{**SMALL, "batch_size": 5})
    other = advection_diffusion1d(tmp_path / "c.h5", seed=2, **SMALL)
    assert first == again != other
    assert validate(tmp_path / "a.h5").content_sha256 == first
    with h5py.File(tmp_path / "a.h5", "r") as f:
        params, solver = json.loads(f.attrs["params"]), json.loads(f.attrs["solver"])
        assert f.attrs["generator"] == "advection_diffusion1d"
        assert f["u"].shape == (5, 6, 1, 64) and f["a"].shape == (5, 1, 64)
    assert params["beta"] == 1.0 and params["initial_condition"] == "grf" and "sigma" in params
    assert "exact" in solver["method"]


def test_generator_is_registered(tmp_path):
    assert "advection_diffusion1d" in GENERATORS
    digest = generate("advection_diffusion1d", tmp_path / "g.h5", n=2, resolution=16, progress=True)
    assert validate(tmp_path / "g.h5").content_sha256 == digest


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"nu": -0.1}, "nu"),
        ({"beta": float("nan")}, "beta"),
        ({"resolution": 15}, "resolution"),
        ({"n": 0}, "n"),
        ({"n_times": 0}, "n_times"),
        ({"t_final": -1.0}, "t_final"),
        ({"initial_condition": "square"}, "initial_condition"),
        ({"initial_condition": "sines", "max_mode": 32}, "max_mode"),
        ({"device": "no-such-device"}, "device"),
    ],
)
def test_generator_rejects_bad_configuration(tmp_path, override, name):
    with pytest.raises(ConfigError, match=rf"advection_diffusion1d: {name}\b.*(must|use)"):
        advection_diffusion1d(tmp_path / "bad.h5", **{**SMALL, **override})
    assert list(tmp_path.iterdir()) == []
