"""Shared fixtures: small data files written by the tests themselves (no downloads)."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.data import Provenance, write_fields, write_trajectories


def heat_map_data(n: int = 64, s: int = 32, nu: float = 0.02, t_final: float = 1.0, seed: int = 0):
    """Exact solution operator of the periodic heat equation u_t = nu u_xx on [0, 1).

    Returns ``a [n, 1, s]`` (initial conditions: random sine series) and
    ``u [n, 2, 1, s]`` (the field at t=0 and at ``t_final``), and the grid.
    """
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, s, endpoint=False)
    k = np.arange(1, 5)
    coef = rng.normal(size=(n, k.size)) / k
    phase = rng.uniform(0, 2 * np.pi, size=(n, k.size))
    basis = np.sin(2 * np.pi * k[None, :, None] * x[None, None, :] + phase[:, :, None])
    decay = np.exp(-nu * (2 * np.pi * k) ** 2 * t_final)
    a = (coef[:, :, None] * basis).sum(axis=1)
    u_t = (coef[:, :, None] * decay[None, :, None] * basis).sum(axis=1)
    u = np.stack([a, u_t], axis=1)[:, :, None, :]
    return a[:, None, :].astype(np.float32), u.astype(np.float32), x


@pytest.fixture
def heat_file(tmp_path):
    a, u, x = heat_map_data()
    path = tmp_path / "heat.h5"
    write_fields(path, u, np.array([0.0, 1.0]), {"x": x}, Provenance("test:heat", {"nu": 0.02}, seed=0), a=a)
    return path


@pytest.fixture
def trajectory_file(tmp_path):
    # harmonic oscillator: x = (cos(w t + p), -w sin(w t + p))
    t = np.linspace(0, 10, 101)
    w = 1.5
    phases = np.linspace(0, np.pi, 6)
    x = np.stack([np.stack([np.cos(w * t + p), -w * np.sin(w * t + p)], axis=-1) for p in phases])
    path = tmp_path / "osc.h5"
    write_trajectories(path, x, t, Provenance("test:oscillator", {"omega": w}), system="oscillator", dt=0.1)
    return path


def pytest_configure(config):
    # One intra-op thread: on a 2-core machine, OpenMP threads spin against any other busy
    # process (a subprocess of a test, a DDP rank) and steps slow down a hundredfold.
    import torch

    torch.set_num_threads(1)
