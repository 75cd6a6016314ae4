"""kuramoto_sivashinsky1d and kdv1d: ETDRK4 order, exact invariants and solitons, chaos,
determinism, errors."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError, DataError
from sciml.core.registry import GENERATORS
from sciml.data.generators import generate, generator_parameters
from sciml.data.generators import kdv as kdv_module
from sciml.data.generators.kdv import kdv1d, soliton_initial_conditions
from sciml.data.generators.kuramoto_sivashinsky import ks_initial_conditions, kuramoto_sivashinsky1d
from sciml.data.schema import validate
from sciml.numerics.pde import kdv_time_step, soliton, solve_kdv, solve_kuramoto_sivashinsky

KS_SMALL = {"n": 5, "length": 22.0, "resolution": 64, "n_times": 4, "dt_output": 0.5, "burn_in": 5.0, "batch_size": 3}
KDV_SMALL = {"n": 5, "length": 46.0, "resolution": 128, "n_times": 3, "t_final": 0.5, "c_max": 1.0, "batch_size": 3}


def relative_error(approx: torch.Tensor, exact: torch.Tensor) -> float:
    return float((approx - exact).norm() / exact.norm())


def fitted_order(steps: list[float], errors: list[float]) -> float:
    return float(np.polyfit(np.log(steps), np.log(errors), 1)[0])


# ----------------------------------------------------------------- Kuramoto-Sivashinsky


def test_ks_etdrk4_is_fourth_order_in_time():
    """The smooth initial condition of Kassam and Trefethen, t in [0, 2], reference at dt = 1/1024."""
    length, s = 32 * math.pi, 128
    x = torch.arange(s, dtype=torch.float64) * (length / s)
    u0 = (torch.cos(x / 16) * (1 + torch.sin(x / 16)))[None]
    t = [0.0, 2.0]
    reference = solve_kuramoto_sivashinsky(u0, t, length=length, dt=2 / 2048)[0, 1]
    steps = [2 / 8, 2 / 16, 2 / 32, 2 / 64]
    errors = [relative_error(solve_kuramoto_sivashinsky(u0, t, length=length, dt=h)[0, 1], reference) for h in steps]
    order = fitted_order(steps, errors)
    assert abs(order - 4.0) <= 0.3, (order, errors)  # measured 4.00


def test_ks_conserves_the_mean_exactly():
    u0 = ks_initial_conditions(0, 3, 64, length=22.0) + torch.tensor([[0.3], [-1.0], [0.0]], dtype=torch.float64)
    u = solve_kuramoto_sivashinsky(u0, torch.linspace(0, 50, 11), length=22.0)
    drift = (u.mean(-1) - u0.mean(-1, keepdim=True)).abs().max()
    assert float(drift) <= 1e-10, float(drift)


def test_ks_length_22_is_bounded_and_chaotic():
    """Largest Lyapunov exponent by two nearby trajectories renormalized every 5 time units.

    The literature value at L = 22 is 0.043-0.048 (Pathak et al. 2018; Cvitanovic et al.
    2010); we measured 0.048 +- 0.003 over 8 trajectories of 2000 time units.
    """
    length, s, batch, d0, tau, total = 22.0, 64, 6, 1e-7, 5.0, 1000.0
    u = solve_kuramoto_sivashinsky(ks_initial_conditions(0, batch, s, length=length), [100.0], length=length, dt=0.1)[
        :, 0
    ]
    perturbation = torch.randn(batch, s, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    perturbation -= perturbation.mean(-1, keepdim=True)
    v = u + perturbation * (d0 / perturbation.norm(dim=-1, keepdim=True))
    log_growth = torch.zeros(batch, dtype=torch.float64)
    peak = 0.0
    for _ in range(int(total / tau)):
        both = solve_kuramoto_sivashinsky(torch.cat([u, v]), [tau], length=length, dt=0.1)[:, 0]
        u, v = both[:batch], both[batch:]
        peak = max(peak, float(u.abs().max()))
        distance = (v - u).norm(dim=-1)
        log_growth += torch.log(distance / d0)
        v = u + (v - u) * (d0 / distance)[:, None]
    exponent = log_growth / total
    assert peak < 5.0, peak  # the attractor stays below |u| of about 3
    assert bool((exponent > 0.02).all()), exponent
    assert 0.038 <= float(exponent.mean()) <= 0.058, exponent


def test_ks_generator_writes_attractor_samples_with_provenance(tmp_path):
    path = tmp_path / "ks.h5"
    digest = kuramoto_sivashinsky1d(path, seed=2, **KS_SMALL)
    assert validate(path).content_sha256 == digest
    with h5py.File(path, "r") as f:
        a, u, t, x = f["a"][()], f["u"][()], f["t"][()], f["coords/x"][()]
        params, solver = json.loads(f.attrs["params"]), json.loads(f.attrs["solver"])
    assert u.shape == (5, 4, 1, 64) and a.shape == (5, 1, 64)
    np.testing.assert_array_equal(u[:, 0], a)
    np.testing.assert_allclose(t, [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_allclose(x, np.arange(64) * 22.0 / 64)
    assert params["burn_in"] == 5.0 and params["length"] == 22.0
    assert solver["dt"] == 0.05 and solver["burn_in_steps"] == 100 and "ETDRK4" in solver["method"]
    # the stored fields are the solver's continuation of the stored (burned-in) state
    again = solve_kuramoto_sivashinsky(torch.from_numpy(a[:, 0]).double(), t, length=22.0, dt=solver["dt"])
    np.testing.assert_allclose(u[:, :, 0], again.numpy(), rtol=0, atol=1e-5)
    assert np.abs(u.mean(-1)).max() < 1e-6  # mean-zero initial waves keep mean zero


def test_ks_generator_is_deterministic_and_independent_of_batch_size(tmp_path):
    first = kuramoto_sivashinsky1d(tmp_path / "a.h5", seed=1, **KS_SMALL)
    again = kuramoto_sivashinsky1d(tmp_path / "b.h5", seed=1, **{**KS_SMALL, "batch_size": 1})
    other = kuramoto_sivashinsky1d(tmp_path / "c.h5", seed=2, **KS_SMALL)
    assert first == again != other


def test_ks_default_resolution_grows_with_length():
    assert generator_parameters("kuramoto_sivashinsky1d")["length"] == pytest.approx(32 * math.pi)
    from sciml.data.generators.kuramoto_sivashinsky import default_ks_resolution

    assert default_ks_resolution(22) == 256 and default_ks_resolution(32 * math.pi) == 256
    assert default_ks_resolution(200) == 512


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"length": -1.0}, "length"),
        ({"length": 100.0, "resolution": 128}, "resolution"),
        ({"resolution": 65}, "resolution"),
        ({"dt": 0.0}, "dt"),
        ({"burn_in": -1.0}, "burn_in"),
        ({"n_times": 0}, "n_times"),
        ({"dt_output": 0.0}, "dt_output"),
        ({"max_mode": 40}, "max_mode"),
        ({"n": 0}, "n"),
        ({"device": "warp-drive"}, "device"),
    ],
)
def test_ks_generator_rejects_bad_configuration(tmp_path, override, name):
    with pytest.raises(ConfigError, match=rf"kuramoto_sivashinsky1d: {name}\b.*(must|need|use)") as info:
        kuramoto_sivashinsky1d(tmp_path / "bad.h5", **{**KS_SMALL, **override})
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_ks_blow_up_names_the_sample_and_leaves_no_file(tmp_path):
    # a step of 1 with waves of amplitude 20 is unstable: the fields turn NaN
    with pytest.raises(DataError, match=r"sample 0 .*lower dt or raise resolution") as info:
        kuramoto_sivashinsky1d(tmp_path / "blow.h5", **{**KS_SMALL, "burn_in": 0.0, "dt": 1.0, "amplitude": 20.0})
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------- KdV


def test_kdv_etdrk4_is_fourth_order_in_time():
    """Two random solitons, t in [0, 0.5], reference at dt = 1/4096."""
    length = 64.0
    u0, _ = soliton_initial_conditions(0, 2, 256, length=length)
    t = [0.0, 0.5]
    reference = solve_kdv(u0, t, length=length, dt=1 / 4096)[:, 1]
    steps = [1 / 64, 1 / 128, 1 / 256, 1 / 512]
    errors = [relative_error(solve_kdv(u0, t, length=length, dt=h)[:, 1], reference) for h in steps]
    order = fitted_order(steps, errors)
    assert abs(order - 4.0) <= 0.3, (order, errors)  # measured 4.08


def test_kdv_soliton_keeps_shape_and_speed_over_a_period():
    """u = (c/2) sech^2(sqrt(c)/2 (x - c t - x0)) after half and one full transit of the domain."""
    length, s, c, x0 = 64.0, 256, 1.0, 20.0
    x = torch.arange(s, dtype=torch.float64) * (length / s)
    u0 = soliton(x, 0.0, c, x0, length)[None]
    times = [0.0, length / (2 * c), length / c]
    u = solve_kdv(u0, times, length=length, dt=kdv_time_step(c, length, s))[0]
    errors = [relative_error(u[i], soliton(x, t, c, x0, length)) for i, t in enumerate(times)]
    assert max(errors) <= 1e-6, errors  # measured 1.4e-7; the issue asks <= 1e-3
    # mass and momentum, int u and int u^2, are invariants of KdV
    assert float((u.sum(-1) - u[0].sum()).abs().max() / u[0].sum()) <= 1e-12
    assert float((u.square().sum(-1) - u[0].square().sum()).abs().max() / u[0].square().sum()) <= 1e-7


def test_kdv_generator_stores_soliton_parameters_and_is_deterministic(tmp_path):
    digest = kdv1d(tmp_path / "kdv.h5", seed=4, **KDV_SMALL)
    assert validate(tmp_path / "kdv.h5").content_sha256 == digest
    with h5py.File(tmp_path / "kdv.h5", "r") as f:
        a, u, p, t = f["a"][()], f["u"][()], f["params"][()], f["t"][()]
        names = json.loads(f["params"].attrs["names"])
        params, solver = json.loads(f.attrs["params"]), json.loads(f.attrs["solver"])
    assert names == ["c_1", "c_2", "x0_1", "x0_2"] and p.shape == (5, 4)
    assert u.shape == (5, 3, 1, 128) and params["equation"] == "u_t + 6 u u_x + u_xxx = 0"
    assert 0.5 <= p[:, :2].min() and p[:, :2].max() <= 1.0
    np.testing.assert_array_equal(u[:, 0], a)
    x = torch.arange(128, dtype=torch.float64) * (46.0 / 128)
    rebuilt = sum(soliton(x, 0.0, float(p[1, i]), float(p[1, 2 + i]), 46.0) for i in range(2))
    np.testing.assert_allclose(a[1, 0], rebuilt.numpy(), rtol=0, atol=1e-6)
    assert solver["dt"] <= kdv_time_step(1.0, 46.0, 128) and solver["steps_per_output"] >= 1
    np.testing.assert_allclose(t, [0.0, 0.25, 0.5])
    # batch size does not change the data; the seed does
    assert kdv1d(tmp_path / "b.h5", seed=4, **{**KDV_SMALL, "batch_size": 1}) == digest
    assert kdv1d(tmp_path / "c.h5", seed=5, **KDV_SMALL) != digest


def test_kdv_generator_is_registered_and_runs_through_generate(tmp_path):
    assert {"kdv1d", "kuramoto_sivashinsky1d"} <= set(GENERATORS)
    digest = generate("kdv1d", tmp_path / "g.h5", progress=True, **{**KDV_SMALL, "n": 2})
    assert validate(tmp_path / "g.h5").content_sha256 == digest
    with pytest.raises(ConfigError, match="did you mean 'n_solitons'"):
        generate("kdv1d", tmp_path / "h.h5", n_soliton=3)


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"length": 20.0}, "length"),
        ({"c_max": 4.0}, "resolution"),
        ({"resolution": 127}, "resolution"),
        ({"c_min": -1.0}, "c_min"),
        ({"c_min": 2.0}, "c_min"),
        ({"cfl": 0.0}, "cfl"),
        ({"n_solitons": 0}, "n_solitons"),
        ({"t_final": -1.0}, "t_final"),
    ],
)
def test_kdv_generator_rejects_bad_configuration(tmp_path, override, name):
    with pytest.raises(ConfigError, match=rf"kdv1d: {name}\b.*(must|need)") as info:
        kdv1d(tmp_path / "bad.h5", **{**KDV_SMALL, **override})
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_kdv_blow_up_names_the_sample_and_the_fix(tmp_path, monkeypatch):
    """A bound below the solitons' height makes the first output a blow-up."""
    monkeypatch.setattr(kdv_module, "_BLOW_UP_FACTOR", 0.1)
    with pytest.raises(DataError, match=r"KdV integration blew up for sample 0 .*past the bound .*lower dt") as info:
        kdv1d(tmp_path / "blow.h5", **KDV_SMALL)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_kdv_nan_names_the_sample_and_leaves_no_file(tmp_path, monkeypatch):
    original = kdv_module.soliton_initial_conditions

    def poisoned(first, count, *args, **kwargs):
        u0, p = original(first, count, *args, **kwargs)
        if first <= 4 < first + count:
            u0[4 - first, 7] = float("nan")
        return u0, p

    monkeypatch.setattr(kdv_module, "soliton_initial_conditions", poisoned)
    with pytest.raises(DataError, match=r"sample 4 has non-finite values in its initial state") as info:
        kdv1d(tmp_path / "nan.h5", **KDV_SMALL)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []
