"""Catalogue flows integrated by the batched integrator: agreement with dysts' own
integration and independence of a trajectory from its batch mates."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from sciml.numerics import integrate_batch
from sciml.systems import batched_rhs, initial_conditions, load_system, system_metadata

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

EPS = np.finfo(np.float64).eps


@pytest.mark.parametrize("name", ["Lorenz", "Rossler", "Thomas", "Duffing", "Lorenz96"])
def test_matches_dysts_over_one_lyapunov_time(name):
    """Our dopri5 vs dysts ``make_trajectory`` (scipy RK45 at 1e-12), same IC and samples."""
    system = load_system(name)
    meta = system_metadata(name)
    lyapunov_time = 1.0 / meta["maximum_lyapunov_estimated"]
    n = int(np.ceil(lyapunov_time / meta["period"] * 100)) + 1  # 100 points per period
    ic = np.asarray(system.ic, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, reference = system.make_trajectory(
            n, init_cond=ic, return_times=True, method="RK45", rtol=1e-12, atol=1e-12, postprocess=False
        )
    assert t[-1] >= lyapunov_time * 0.99
    ys, stats = integrate_batch(batched_rhs(system), torch.tensor(ic[None]), t, rtol=1e-12, atol=1e-12)
    ours = ys[0].numpy()
    relative = np.abs(ours - reference).max() / np.abs(reference).max()
    # two integrations at 1e-12 whose errors grow by e over the Lyapunov time: measured 1e-8 and less
    assert relative <= 1e-4, relative
    assert stats.n_accepted[0] > 0


def test_batch_equals_single_trajectories():
    """Per-trajectory step control: a trajectory does not depend on its batch mates."""
    system = load_system("Lorenz")
    rhs = batched_rhs(system)
    y0 = torch.tensor(initial_conditions(system, 0, 3, seed=1))
    t = np.linspace(0.0, 2.0, 21)
    together, stats = integrate_batch(rhs, y0, t, rtol=1e-8, atol=1e-8)
    for i in range(3):
        alone, alone_stats = integrate_batch(rhs, y0[i : i + 1], t, rtol=1e-8, atol=1e-8)
        assert stats.n_accepted[i] == alone_stats.n_accepted[0]
        # the same steps; the batched stage products may round differently with the batch
        # width (BLAS blocking), a few ulps per step, amplified by the flow's growth over 2
        # time units (e^(0.9 * 2) ~ 6): 1e6 eps of the state scale is far below any real difference
        scale = np.abs(alone[0].numpy()).max()
        np.testing.assert_allclose(together[i].numpy(), alone[0].numpy(), rtol=0, atol=1e6 * EPS * scale)
