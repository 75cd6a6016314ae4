"""The chaos generator: agreement with dysts' own integration, Jacobians, reproducibility."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError, DataError, UnknownNameError
from sciml.data.generators import chaos as chaos_module
from sciml.data.generators.chaos import (
    batched_rhs,
    chaos,
    integrate_batch,
    list_systems,
    load_system,
    system_metadata,
)
from sciml.data.schema import validate

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_catalogue_lists_all_flows():
    assert len(list_systems()) == 135
    assert len(list_systems(include_delay=False)) == 129
    assert "Lorenz" in list_systems(include_delay=False) and "MackeyGlass" not in list_systems(include_delay=False)


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
    assert relative <= 1e-4, relative
    assert stats.n_accepted[0] > 0


def test_batch_equals_single_trajectories():
    """Per-trajectory step control: a trajectory does not depend on its batch mates."""
    system = load_system("Lorenz")
    rhs = batched_rhs(system)
    y0 = torch.tensor(chaos_module.initial_conditions(system, 0, 3, seed=1))
    t = np.linspace(0.0, 2.0, 21)
    together, _ = integrate_batch(rhs, y0, t, rtol=1e-8, atol=1e-8)
    for i in range(3):
        alone, _ = integrate_batch(rhs, y0[i : i + 1], t, rtol=1e-8, atol=1e-8)
        # equal up to rounding (BLAS blocking differs with the batch size)
        np.testing.assert_allclose(together[i].numpy(), alone[0].numpy(), rtol=1e-10, atol=1e-10)


def test_vectorized_and_loop_paths_agree_for_every_system():
    """Every flow's batched rhs equals dysts' rhs called per sample, and all 129 are
    vectorized: 124 by broadcasting dysts' own rhs, 5 by the sciml transcriptions."""
    rng = np.random.default_rng(0)
    implementations = {}
    for name in list_systems(include_delay=False):
        system = load_system(name)
        fast = batched_rhs(system)
        slow = batched_rhs(system, force_loop=True)
        ic = np.asarray(system.ic, dtype=np.float64)
        y = ic[None, :] * (1 + 0.02 * rng.standard_normal((6, ic.size))) + 0.01 * rng.standard_normal((6, ic.size))
        t = rng.uniform(0, 2, 6)
        with np.errstate(all="ignore"):
            np.testing.assert_allclose(fast(t, y), slow(t, y), rtol=1e-11, atol=1e-11, err_msg=name)
        assert fast.path == "vectorized", (name, fast.reason)
        implementations[name] = fast.implementation
    transcribed = sorted(n for n, impl in implementations.items() if impl == "sciml")
    assert transcribed == ["BeerRNN", "BelousovZhabotinsky", "BickleyJet", "InteriorSquirmer", "MacArthur"]


def test_transcriptions_match_dysts_off_the_probe():
    """The five batched transcriptions against dysts per sample, far from the catalogue
    state (a wider spread than the acceptance probe; BelousovZhabotinsky's max(0, x)
    branch on both sides; the squirmer's clock across several switching periods)."""
    rng = np.random.default_rng(3)
    for name in chaos_module._BATCHED_TRANSCRIPTIONS:
        system = load_system(name)
        ic = np.asarray(system.ic, dtype=np.float64)
        y = ic[None, :] * (1 + 0.5 * rng.standard_normal((64, ic.size))) + 0.1 * rng.standard_normal((64, ic.size))
        if name == "BelousovZhabotinsky":
            y[::2, 0] = -np.abs(y[::2, 0])
        if name == "InteriorSquirmer":
            y[:, 0] = rng.uniform(0.05, 0.95, 64)
            y[:, 2] = rng.uniform(0, 12, 64)
        t = rng.uniform(0, 5, 64)
        fast = chaos_module._BATCHED_TRANSCRIPTIONS[name](system)(t, y)
        slow = batched_rhs(system, force_loop=True)(t, y)
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12 * np.abs(slow).max(), err_msg=name)


def _jacobian_systems():
    names = []
    for name in list_systems(include_delay=False):
        system = load_system(name)
        if system.has_jacobian():
            names.append(name)
    return names


def test_analytic_jacobians_match_finite_differences():
    """dysts' hand-written Jacobians against central differences of the rhs (all systems with one)."""
    rng = np.random.default_rng(1)
    checked, failures = 0, []
    for name in _jacobian_systems():
        system = load_system(name)
        ic = np.asarray(system.ic, dtype=np.float64)
        x = ic * (1 + 0.01 * rng.standard_normal(ic.size)) + 0.01 * rng.standard_normal(ic.size)
        t = 0.37
        with np.errstate(all="ignore"):
            analytic = np.array(system.jac(x, t), dtype=np.float64).reshape(ic.size, ic.size)
            numeric = np.empty_like(analytic)
            for j in range(ic.size):
                step = 1e-6 * max(abs(x[j]), 1.0)
                plus, minus = x.copy(), x.copy()
                plus[j] += step
                minus[j] -= step
                f_plus = np.asarray(system.rhs(plus, t), dtype=np.float64)
                f_minus = np.asarray(system.rhs(minus, t), dtype=np.float64)
                numeric[:, j] = (f_plus - f_minus) / (2 * step)
        scale = max(np.abs(analytic).max(), 1e-8)
        error = np.abs(analytic - numeric).max() / scale
        checked += 1
        if not error <= 1e-5:
            failures.append(f"{name}: {error:.2e}")
    assert checked >= 40
    assert not failures, failures


def test_generator_writes_trajectories_and_is_deterministic(tmp_path):
    kwargs = dict(n=3, seed=7, batch_size=2, system="Lorenz", n_periods=2, points_per_period=20, burn_in_periods=1)
    sha1 = chaos(tmp_path / "a.h5", **kwargs)
    sha2 = chaos(tmp_path / "b.h5", **kwargs)
    assert sha1 == sha2
    assert chaos(tmp_path / "c.h5", **{**kwargs, "seed": 8}) != sha1
    info = validate(tmp_path / "a.h5")
    assert info.kind == "trajectories" and info.n_samples == 3
    assert info.shapes["x"] == (3, 40, 3)
    meta = system_metadata("Lorenz")
    assert info.attrs["system"] == "Lorenz"
    assert info.attrs["dominant_period"] == pytest.approx(meta["period"])
    assert info.attrs["lyapunov_max"] == pytest.approx(meta["maximum_lyapunov_estimated"])
    assert info.attrs["dt"] == pytest.approx(meta["period"] / 20)
    assert '"rhs_evaluation": "vectorized"' in info.attrs["solver"]


def test_postprocessing_applied_to_phase_systems(tmp_path):
    chaos(tmp_path / "d.h5", n=2, system="Duffing", n_periods=1, points_per_period=10, burn_in_periods=0.5)
    import h5py

    with h5py.File(tmp_path / "d.h5") as f:
        phase = f["x"][:, :, 2]
    assert np.all(np.abs(phase) <= 1.0)  # cos of the phase, as dysts stores it


def test_unknown_system_lists_close_matches(tmp_path):
    with pytest.raises(UnknownNameError, match="Lorenz") as info:
        chaos(tmp_path / "x.h5", n=1, system="Lorentz")
    assert "\n" not in str(info.value)


def test_bad_parameters_and_blow_up(tmp_path):
    with pytest.raises(ConfigError, match="points_per_period"):
        chaos(tmp_path / "x.h5", n=1, points_per_period=1)

    def explode(t, y):
        return y**2

    with pytest.raises(DataError, match="trajectory 5"):
        integrate_batch(explode, torch.ones(1, 1, dtype=torch.float64), [2.0], first_sample=5)
