"""The navier_stokes2d generator and its solver: Taylor-Green decay, enstrophy budget,
blow-up and configuration errors, determinism."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import scipy.integrate
import torch

import sciml.data.generators.navier_stokes  # noqa: F401  (registers navier_stokes2d)
from sciml.core.errors import ConfigError, DataError
from sciml.core.registry import GENERATORS
from sciml.data.generators import generate
from sciml.data.generators.navier_stokes import initial_vorticity, minimum_resolution, navier_stokes2d, ns_forcing
from sciml.data.schema import validate
from sciml.numerics.pde import solve_navier_stokes
from sciml.numerics.spectral import spectral_gradient_2d

SMALL = {"n": 3, "resolution": 64, "t_final": 0.2, "n_times": 2, "batch_size": 2}


@pytest.mark.parametrize(("m", "nu"), [(1, 1e-2), (3, 1e-3), (2, 1e-5)])
def test_taylor_green_vortex_decays_exactly(m, nu):
    """``w = 2 k cos(k x) cos(k y)`` is a steady solution of the Euler part (psi is
    proportional to w), so it only decays as ``exp(-2 nu k^2 t)``, ``k = 2 pi m``."""
    s = 32
    grid = torch.arange(s, dtype=torch.float64) / s
    k = 2 * math.pi * m
    w0 = (2 * k * torch.cos(k * grid[:, None]) * torch.cos(k * grid[None, :]))[None]
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    w = solve_navier_stokes(w0, t, nu=nu, max_dt=2e-3)
    exact = w0[:, None] * torch.exp(-2 * nu * k**2 * t)[None, :, None, None]
    error = (w - exact).norm(dim=(-2, -1)) / exact.norm(dim=(-2, -1))
    assert float(error.max()) <= 1e-6, error  # measured <= 1.7e-7 (CN error at dt = 2e-3)


@pytest.mark.parametrize(("forcing", "drag", "amplitude"), [("fno", 0.0, None), ("kolmogorov", 0.1, 1.0)])
def test_enstrophy_budget_from_saved_fields(tmp_path, forcing, drag, amplitude):
    """d/dt <w^2>/2 = -nu <|grad w|^2> + <f w> - drag <w^2>, integrated over the window
    by Simpson's rule from the float32 fields of the file; advection conserves the
    enstrophy of the dealiased system exactly, so only time-integration errors remain."""
    nu, s = 1e-3, 64
    navier_stokes2d(
        tmp_path / "ns.h5",
        n=2,
        seed=4,
        resolution=s,
        nu=nu,
        t_final=1.0,
        n_times=40,
        forcing=forcing,
        drag=drag,
        forcing_amplitude=amplitude,
    )
    with h5py.File(tmp_path / "ns.h5") as f:
        w = torch.from_numpy(f["u"][:, :, 0].astype(np.float64))
        t = f["t"][:]
    f_field = ns_forcing(forcing, s, amplitude)
    w_x, w_y = spectral_gradient_2d(w, 1.0)
    enstrophy = 0.5 * w.square().mean(dim=(-2, -1))
    dissipation = nu * (w_x.square() + w_y.square()).mean(dim=(-2, -1))
    production = (f_field * w).mean(dim=(-2, -1))
    damping = drag * w.square().mean(dim=(-2, -1))
    change = (enstrophy[:, -1] - enstrophy[:, 0]).numpy()
    terms = [scipy.integrate.simpson(q.numpy(), x=t, axis=-1) for q in (production, dissipation, damping)]
    budget = terms[0] - terms[1] - terms[2]
    scale = sum(np.abs(term) for term in terms)
    relative = np.abs(change - budget) / scale
    assert (relative <= 1e-3).all(), (relative, change, terms)  # measured <= 1.3e-5


def test_blow_up_and_courant_violations_name_the_sample_and_setting(tmp_path):
    w0 = initial_vorticity(0, 3, 32)
    w0[2, 5, 5] = float("nan")
    with pytest.raises(DataError, match=r"sample 2 has non-finite values in its initial state w0 at t0=0"):
        solve_navier_stokes(w0, [0.0, 0.1], nu=1e-3)
    w0[2] = 1e3 * w0[0]  # 1000 times the velocity: the adaptive step shrinks, the fixed one breaks the limit
    with pytest.raises(DataError, match=r"sample 2 reached Courant number .*dt=0.01: lower dt"):
        solve_navier_stokes(w0, [0.0, 0.1], nu=1e-3, dt=0.01)
    with pytest.raises(DataError, match=r"sample 2 needs more than max_steps=20 steps .*raise max_steps"):
        solve_navier_stokes(w0, [0.1], nu=1e-3, max_steps=20)
    with pytest.raises(DataError, match=r"sample \d+ reached Courant number .*dt=0.5"):
        navier_stokes2d(tmp_path / "bad.h5", dt=0.5, forcing="kolmogorov", forcing_amplitude=50.0, **SMALL)
    assert not (tmp_path / "bad.h5").exists()
    assert not list(tmp_path.glob(".bad.h5*"))  # no temporary file, no cache of finished batches


def test_file_layout_and_initial_condition(tmp_path):
    digest = navier_stokes2d(tmp_path / "ns.h5", seed=0, **SMALL)
    assert validate(tmp_path / "ns.h5").content_sha256 == digest
    with h5py.File(tmp_path / "ns.h5") as f:
        a, u, t, x = f["a"][:], f["u"][:], f["t"][:], f["coords/x"][:]
    assert a.shape == (3, 1, 64, 64) and u.shape == (3, 3, 1, 64, 64)
    assert np.allclose(t, [0.0, 0.1, 0.2]) and np.allclose(x, np.arange(64) / 64)
    assert np.array_equal(u[:, 0, 0], a[:, 0])
    assert 0 < float(np.abs(u[:, -1] - u[:, 0]).max()) < float(np.abs(a).max())


def test_generator_is_deterministic_and_independent_of_batch_size(tmp_path):
    first = navier_stokes2d(tmp_path / "a.h5", seed=1, **SMALL)
    again = navier_stokes2d(tmp_path / "b.h5", seed=1, **{**SMALL, "batch_size": 1})
    other = navier_stokes2d(tmp_path / "c.h5", seed=2, **SMALL)
    assert first == again != other
    assert GENERATORS.get("navier_stokes2d") is navier_stokes2d
    assert generate("navier_stokes2d", tmp_path / "g.h5", seed=1, **SMALL) == first


def test_minimum_resolution_follows_viscosity(tmp_path):
    assert [minimum_resolution(nu) for nu in (1e-3, 1e-4, 1e-5)] == [64, 200, 634]
    with pytest.raises(ConfigError, match=r"too coarse for nu=0.0001 .*try internal_resolution=256"):
        navier_stokes2d(tmp_path / "coarse.h5", **{**SMALL, "nu": 1e-4, "internal_resolution": 128})


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"nu": -1.0}, "nu"),
        ({"resolution": 63}, "resolution"),
        ({"forcing": "random"}, "forcing"),
        ({"cfl": 2.0}, "cfl"),
        ({"dt": 0.0}, "dt"),
        ({"internal_resolution": 96}, "internal_resolution"),
        ({"device": "nonexistent"}, "device"),
    ],
)
def test_bad_configurations_name_the_parameter(tmp_path, override, name):
    with pytest.raises(ConfigError, match=name):
        navier_stokes2d(tmp_path / "bad.h5", **{**SMALL, **override})
    assert not (tmp_path / "bad.h5").exists()
