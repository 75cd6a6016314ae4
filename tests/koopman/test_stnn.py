"""The Hankel-structured network (StNN): the FFT product against the dense Hankel matrix, gradients,
a linear delay system learned far below persistence, Lotka-Volterra data, the benchmark's tiny run, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from sciml.bench import run_benchmark
from sciml.core.errors import ConfigError
from sciml.forecast import DelayMLPForecaster, StNNForecaster
from sciml.koopman import HankelLinear, StNN, hankel_matvec
from sciml.koopman.systems import (
    LOTKA_VOLTERRA,
    lotka_volterra_invariant,
    lotka_volterra_rhs,
    lotka_volterra_trajectories,
    orbit_period,
)

SHAPES = [(1, 1), (1, 5), (5, 1), (7, 3), (3, 7), (48, 64), (64, 64), (64, 15), (97, 13)]


# ----------------------------------------------------------------------------- the layer
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_in,n_out", SHAPES)
def test_fft_product_matches_the_dense_hankel_matrix_of_scipy(n_in, n_out, dtype):
    gen = torch.Generator().manual_seed(n_in * 100 + n_out)
    h = torch.randn(n_in + n_out - 1, generator=gen, dtype=torch.float64)
    x = torch.randn(6, n_in, generator=gen, dtype=torch.float64)
    dense = scipy.linalg.hankel(h[:n_out].numpy(), h[n_out - 1 :].numpy())  # first column, last row
    assert dense.shape == (n_out, n_in)
    exact = x.numpy() @ dense.T  # float64 reference
    got = hankel_matvec(h.to(dtype), x.to(dtype), n_out).double().numpy()
    # FFT convolution: the error is normwise, ~ eps log2(N) |h| |x| (a few FFT passes); factor 8 for the
    # three transforms and the rounding of the inputs to dtype
    size = n_in + n_out - 1
    eps = torch.finfo(dtype).eps
    bound = 8 * eps * max(1.0, math.log2(size)) * h.norm().item() * x.norm(dim=1, keepdim=True).numpy()
    assert np.all(np.abs(got - exact) <= bound), float(np.max(np.abs(got - exact) / bound))


@pytest.mark.parametrize("n_in,n_out", [(7, 3), (48, 64), (64, 15)])
def test_layer_weight_is_the_scipy_hankel_matrix_and_both_modes_agree(n_in, n_out):
    torch.manual_seed(0)
    layer = HankelLinear(n_in, n_out).double()
    h = layer.h.detach().numpy()
    np.testing.assert_array_equal(layer.matrix().detach().numpy(), scipy.linalg.hankel(h[:n_out], h[n_out - 1 :]))
    x = torch.randn(5, n_in, dtype=torch.float64)
    fft = layer(x)
    layer.mode = "dense"
    dense = layer(x)
    eps = torch.finfo(torch.float64).eps
    tol = 8 * eps * math.log2(n_in + n_out) * layer.h.norm().item() * x.norm(dim=1).max().item()
    assert torch.allclose(fft, dense, rtol=0, atol=tol + 4 * eps * layer.bias.abs().max().item())


def test_parameters_are_linear_in_the_sizes():
    assert sum(p.numel() for p in HankelLinear(48, 64).parameters()) == 48 + 64 - 1 + 64
    hankel, dense = StNN(48, 3, 64, 3), StNN(48, 3, 64, 3, structure="dense")
    n_hankel = sum(p.numel() for p in hankel.parameters())
    assert n_hankel == (48 + 64 - 1 + 64) + 2 * (64 + 64 - 1 + 64) + (64 + 3 - 1 + 3)  # 626
    assert sum(p.numel() for p in dense.parameters()) == 48 * 64 + 64 + 2 * (64 * 64 + 64) + 64 * 3 + 3  # 11651
    # a Hankel layer of width n holds O(n) numbers, a dense one n^2
    assert sum(p.numel() for p in HankelLinear(1024, 1024).parameters()) == 3 * 1024 - 1


def test_gradients_of_the_fft_product_match_finite_differences():
    gen = torch.Generator().manual_seed(1)
    h = torch.randn(7 + 4 - 1, generator=gen, dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h, x: hankel_matvec(h, x, 4), (h, x), eps=1e-6, atol=1e-8, rtol=1e-6)
    net = StNN(6, 2, width=5, depth=2).double()
    z = torch.randn(4, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    params = tuple(net.parameters())

    def f(z, *p):
        return torch.func.functional_call(net, dict(zip([n for n, _ in net.named_parameters()], p)), (z,))

    assert torch.autograd.gradcheck(f, (z, *[q.detach().clone().requires_grad_(True) for q in params]),
                                    eps=1e-6, atol=1e-8, rtol=1e-6)  # fmt: skip


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_the_layer_runs_on_cuda_as_on_the_cpu():
    torch.manual_seed(0)
    layer = HankelLinear(48, 64).double()
    x = torch.randn(8, 48, dtype=torch.float64)
    cpu = layer(x)
    gpu = layer.to("cuda")(x.to("cuda")).cpu()
    tol = 16 * torch.finfo(torch.float64).eps * math.log2(111) * layer.h.norm().item() * x.norm(dim=1).max().item()
    assert torch.allclose(cpu, gpu, rtol=0, atol=tol)


# ----------------------------------------------------------------------------- learning
def _two_sines(n: int, dt: float = 0.5) -> np.ndarray:
    t = np.arange(n) * dt
    return (np.sin(0.7 * t) + 0.5 * np.sin(1.9 * t + 1.0))[:, None]


def test_stnn_learns_a_linear_delay_system_far_below_persistence():
    # two sines obey an exact linear recurrence of order 4 in delay coordinates; the StNN with the
    # identity activation is a product of Hankel matrices, which holds such a recurrence
    x = _two_sines(1200)
    model = StNNForecaster(window=8, chunk=1, width=32, depth=2, activation="identity", steps=600, lr=1e-2,
                           batch_size=64, seed=0).fit(x[:800])  # fmt: skip
    starts = np.arange(800, 1100, 25)
    contexts = np.stack([x[s - 8 : s] for s in starts])
    truth = np.stack([x[s : s + 50] for s in starts])
    err = np.sqrt(np.mean((model.forecast(contexts, 50) - truth) ** 2))
    persistence = np.sqrt(np.mean((contexts[:, -1:] - truth) ** 2))  # holding the last state, computed here
    # measured: 2.6e-6 against 1.12 (float32 training); a thousandth leaves a 400x margin
    assert err < 1e-3 * persistence, (err, persistence)
    assert model.n_parameters == (8 + 32 - 1 + 32) + (32 + 32 - 1 + 32) + (32 + 1 - 1 + 1)


def test_stnn_has_fewer_parameters_than_the_dense_network_of_the_same_shape():
    x = _two_sines(200)
    st = StNNForecaster(steps=2, seed=0).fit(x)
    mlp = DelayMLPForecaster(steps=2, seed=0).fit(x)
    assert st.get_params().keys() == mlp.get_params().keys()
    assert st.n_parameters < mlp.n_parameters / 10


# ----------------------------------------------------------------------------- Lotka-Volterra
def test_lotka_volterra_keeps_its_first_integral_and_small_orbits_have_the_linear_period():
    z = lotka_volterra_trajectories(3, 400, 0.25, seed=2)
    v = lotka_volterra_invariant(z)
    # rtol 1e-10 per step of dopri5, ~400 steps: the invariant drifts by well under 1e-7
    assert np.abs(v - v[:, :1]).max() < 1e-7
    # the right-hand side against a centred finite difference of the trajectory (O(dt^2) accurate)
    rhs = lotka_volterra_rhs()
    fine = lotka_volterra_trajectories(1, 3, 1e-4, seed=2)[0]
    fd = (fine[2] - fine[0]) / 2e-4
    np.testing.assert_allclose(fd, rhs(np.zeros(1), fine[1:2])[0], rtol=1e-6)
    # near the equilibrium (gamma/delta, alpha/beta) = (1, 1) the period is 2 pi / sqrt(alpha gamma) (= 4 pi),
    # with a correction of order amplitude^2 (1e-4 here; measured 1.7e-5 relative)
    small = lotka_volterra_trajectories(1, 4000, 0.05, initial=(1.01, 1.01))
    linear = 2 * math.pi / math.sqrt(LOTKA_VOLTERRA["alpha"] * LOTKA_VOLTERRA["gamma"])
    assert abs(orbit_period(small[0, :, 0], 0.05) / linear - 1) < 1e-3
    with pytest.raises(ConfigError, match="must all be > 0"):
        lotka_volterra_rhs({"alpha": -1.0})


# ----------------------------------------------------------------------------- benchmark and errors
def test_benchmark_tiny_preset_runs_end_to_end(tmp_path):
    payload = run_benchmark("koopman_stnn", ["--preset", "tiny", "--out", str(tmp_path)])
    assert payload["complete"] and not payload["failed"]
    saved = json.loads((tmp_path / "koopman_stnn_tiny.json").read_text())
    rows = {(r["system"], r["model"]): r for r in saved["rows"]}
    assert set(rows) == {(s, m) for s in ("lotka_volterra", "lorenz")
                         for m in ("stnn", "delay_mlp", "havok", "sindy", "persistence")}  # fmt: skip
    for r in saved["rows"]:
        for field in ("params", "nrmse_1", "nrmse_5", "relative_l2_1", "relative_l2_5", "fit_seconds",
                      "inference_seconds", "rollout_seconds", "error_curve", "example", "unit"):  # fmt: skip
            assert field in r, (r["system"], r["model"], field)
        assert {"median", "min", "max", "n"} <= set(r["inference_seconds"])
        assert r["inference_seconds"]["min"] <= r["inference_seconds"]["median"] <= r["inference_seconds"]["max"]
    assert rows[("lorenz", "stnn")]["unit"] == "Lyapunov time" and rows[("lotka_volterra", "stnn")]["unit"] == "period"
    assert rows[("lorenz", "persistence")]["params"] == 0
    targets = {t["name"]: t for t in saved["targets"]}
    for system in ("lotka_volterra", "lorenz"):
        t = targets[f"stnn_params_ratio_vs_delay_mlp_{system}"]
        ratio = rows[(system, "stnn")]["params"] / rows[(system, "delay_mlp")]["params"]
        assert t["met"] and t["measured"] == pytest.approx(ratio, abs=5e-6)  # stored to 5 decimals
        assert f"stnn_inference_time_ratio_vs_delay_mlp_{system}" in targets
    assert "forward_seconds_fft" in rows[("lorenz", "stnn")] and "forward_seconds" in rows[("lorenz", "delay_mlp")]
    scaling = saved["layer_scaling"]
    assert [r["n"] for r in scaling] == [64, 256]
    assert all(r["hankel_params"] == 3 * r["n"] - 1 and r["dense_params"] == r["n"] ** 2 + r["n"] for r in scaling)
    assert "hankel_fft_time_ratio_vs_dense_layer_n256" in targets
    assert (tmp_path / "koopman_stnn_tiny_forecast.png").stat().st_size > 0
    assert (tmp_path / "koopman_stnn_tiny_error.png").stat().st_size > 0


def test_a_delay_longer_than_the_trajectory_is_a_one_line_config_error():
    with pytest.raises(
        ConfigError, match=r"window=50 \+ chunk=5 needs trajectories of at least 55 states, got 30"
    ) as info:
        StNNForecaster(window=50).fit(_two_sines(30))
    assert "\n" not in str(info.value)
    for bad in ({"activation": "softmax"}, {"width": 0}, {"lr": -1.0}):
        with pytest.raises(ConfigError) as info:
            StNNForecaster(**bad)
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="structure"):
        StNN(4, 2, structure="toeplitz")
    with pytest.raises(ConfigError, match="expects 4 input features"):
        HankelLinear(4, 2)(torch.zeros(1, 5))
    with pytest.raises(ConfigError, match="unknown or empty"):
        run_benchmark("koopman_stnn", ["--preset", "tiny", "--systems", "rossler"])
