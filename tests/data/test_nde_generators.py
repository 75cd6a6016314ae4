"""The generators of the NDE regularization experiments: digits, oscillators, spiral_sde, each against something exact."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from sciml.core.errors import ConfigError, DataError
from sciml.data import SampleDataset, TrajectoryDataset, validate
from sciml.data.generators import generate
from sciml.data.generators.oscillators import oscillator_rhs
from sciml.data.generators.spiral_sde import GridBrownian


# ----------------------------------------------------------------------------- digits
def test_digits_equal_scikit_learn_exactly(tmp_path):
    from sklearn.datasets import load_digits

    reference = load_digits()
    path = tmp_path / "digits.h5"
    generate("digits", path)
    with h5py.File(path, "r") as f:
        x, y = f["x"][()], f["y"][()]
        assert f.attrs["classes"] == 10 and list(f.attrs["image_shape"]) == [8, 8]
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, reference.data / 16.0)  # k/16 is exact in float32
    np.testing.assert_array_equal(y, reference.target)
    np.testing.assert_array_equal(x[5].reshape(8, 8), reference.images[5] / 16.0)
    assert np.bincount(y, minlength=10).tolist() == np.bincount(reference.target).tolist()
    assert validate(path).n_samples == 1797
    # a seeded subset: rows of the original with their labels, reproducible, other seeds differ
    d1 = generate("digits", tmp_path / "a.h5", n=300, seed=1)
    assert (
        generate("digits", tmp_path / "b.h5", n=300, seed=1)
        == d1
        != generate("digits", tmp_path / "c.h5", n=300, seed=2)
    )
    with h5py.File(tmp_path / "a.h5", "r") as f:
        xs, ys = f["x"][()], f["y"][()]
    rows = {
        (row.tobytes(), int(label)) for row, label in zip((reference.data / 16.0).astype(np.float32), reference.target)
    }
    assert all((row.tobytes(), int(label)) in rows for row, label in zip(xs, ys))
    assert len(np.unique(xs, axis=0)) > 290  # drawn without replacement (a few images repeat in the set)
    assert SampleDataset(tmp_path / "a.h5", "test").classes == 10
    with pytest.raises(ConfigError, match=r"digits: n=2000 must be in 1..1797"):
        generate("digits", tmp_path / "d.h5", n=2000)


# ----------------------------------------------------------------------------- oscillators
@pytest.mark.parametrize("system", ["duffing", "cubic_spiral"])
def test_oscillators_match_a_tight_independent_integration(tmp_path, system):
    path = tmp_path / "o.h5"
    generate("oscillators", path, n=6, system=system, noise=0.0, n_times=51, seed=3)  # every grid time: regular
    with h5py.File(path, "r") as f:
        x, t = f["x"][()], f["t"][()]
    assert t.shape == (51,) and np.allclose(t, np.arange(51) * 0.1, rtol=0, atol=1e-15)
    radius = np.linalg.norm(x[:, 0], axis=1)
    assert np.all((radius >= 0.5) & (radius <= 1.5))
    rhs = oscillator_rhs(system, damping=0.2)
    for trajectory in x:
        ref = solve_ivp(
            lambda s, y: rhs(np.array([s]), y[None])[0],
            (0.0, 5.0),
            trajectory[0],
            t_eval=t,
            method="DOP853",
            rtol=1e-12,
            atol=1e-14,
        )
        np.testing.assert_allclose(trajectory, ref.y.T, rtol=0, atol=1e-8)  # measured 1e-10 (duffing), 3e-10 (spiral)


def test_oscillators_irregular_times_and_noise(tmp_path):
    noisy, clean = tmp_path / "noisy.h5", tmp_path / "clean.h5"
    digest = generate("oscillators", noisy, n=120, seed=5, noise=0.05, batch_size=64)
    generate("oscillators", clean, n=120, seed=5, noise=0.0, batch_size=64)
    with h5py.File(noisy, "r") as f, h5py.File(clean, "r") as g:
        x, t, x_clean, t_clean = f["x"][()], f["t"][()], g["x"][()], g["t"][()]
    assert t.shape == (120, 12) and np.array_equal(t, t_clean)  # same seed: same states and times
    assert np.all(t[:, 0] == 0) and np.all(np.diff(t, axis=1) > 0) and t.max() <= 5.0 + 1e-12
    np.testing.assert_allclose(t / 0.1, np.round(t / 0.1), atol=1e-9)  # on the grid
    assert len({tuple(row) for row in t}) > 110  # irregular: (almost) every trajectory has its own times
    unit = (x - x_clean) / 0.05
    m = unit.size
    assert abs(unit.mean()) < 4 / math.sqrt(m) and abs(unit.std() - 1) < 4 / math.sqrt(2 * m)
    # reproducible; the batch only changes rounding of the batched solver
    assert generate("oscillators", tmp_path / "again.h5", n=120, seed=5, noise=0.05, batch_size=64) == digest
    generate("oscillators", tmp_path / "b7.h5", n=120, seed=5, noise=0.05, batch_size=7)
    with h5py.File(tmp_path / "b7.h5", "r") as f:
        np.testing.assert_allclose(f["x"][()], x, rtol=0, atol=1e-12)
    item = TrajectoryDataset(noisy, "train")[0]
    assert item["x"].shape == (12, 2) and item["t"].shape == (12,)


def test_oscillator_parameter_errors(tmp_path):
    for kwargs, message in [
        ({"system": "pendulum"}, "system='pendulum' is unknown; use one of duffing, cubic_spiral"),
        ({"n_times": 60}, r"n_times=60 must be in 2..51"),
        ({"grid": 0.3}, "grid=0.3 must be > 0 and divide t_final"),
        ({"noise": -1.0}, "noise=-1.0 must be >= 0"),
    ]:
        with pytest.raises(ConfigError, match=message):
            generate("oscillators", tmp_path / "x.h5", n=2, **kwargs)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- spiral_sde
def _ou_moments(y0, damping, rotation, sigma, t, dt):
    """Analytic mean/variance of the OU spiral, and of its Euler-Maruyama discretization at ``dt``."""
    a = np.array([[-damping, rotation], [-rotation, -damping]])
    mean = np.stack([np.asarray(y0) @ expm(a * s) for s in t])
    var = np.repeat((sigma**2 * (1 - np.exp(-2 * damping * t)) / (2 * damping))[:, None], 2, axis=1)
    step = np.eye(2) + a * dt  # row vectors: y_{k+1} = y_k (I + A dt) + sigma dW
    m, cov = np.asarray(y0, dtype=float), np.zeros((2, 2))
    per_output = int(round((t[1] - t[0]) / dt))
    d_mean, d_var = [m], [np.diag(cov)]
    for _ in range(len(t) - 1):
        for _ in range(per_output):
            m, cov = m @ step, step.T @ cov @ step + sigma**2 * dt * np.eye(2)
        d_mean.append(m)
        d_var.append(np.diag(cov))
    return mean, var, np.array(d_mean), np.array(d_var)


def test_spiral_sde_ornstein_uhlenbeck_moments_match_the_analytic_ones(tmp_path):
    n, dt = 4000, 1e-3
    path = tmp_path / "ou.h5"
    generate("spiral_sde", path, n=n, batch_size=1000, drift="linear", noise="additive", t_final=1.0, n_times=11, dt=dt)
    with h5py.File(path, "r") as f:
        x, t = f["x"][()], f["t"][()]
    mean, var, d_mean, d_var = _ou_moments((1.2, 0.0), 0.1, 2.0, 0.2, t, dt)
    emp_mean, emp_var = x.mean(0), x.var(0, ddof=1)
    # standard errors of the estimators (Gaussian marginals: var(s^2) = 2 sigma^4 / (n - 1)),
    # plus the scheme's own weak error O(dt), computed exactly from its moment recursion
    se_mean, se_var = np.sqrt(var / n), var * np.sqrt(2 / (n - 1))
    assert np.all(np.abs(emp_mean - mean) <= 4 * se_mean + np.abs(d_mean - mean) + 1e-12)
    assert np.all(np.abs(emp_var - var) <= 4 * se_var + np.abs(d_var - var) + 1e-12)
    assert np.all(np.abs(d_mean - mean)[1:] < se_mean[1:])  # the bias (0.6 SE at t = 1) does not dominate the band
    assert abs(np.corrcoef(x[:, -1, 0], x[:, -1, 1])[0, 1]) < 4 / math.sqrt(n)  # independent components


def test_spiral_sde_linear_drift_with_multiplicative_noise_keeps_the_mean(tmp_path):
    # Ito: E[y] solves the drift's linear ODE whatever the noise
    n = 2000
    generate("spiral_sde", tmp_path / "g.h5", n=n, drift="linear", t_final=1.0, n_times=6, dt=1e-3)
    with h5py.File(tmp_path / "g.h5", "r") as f:
        x, t = f["x"][()], f["t"][()]
    mean = np.stack([np.array([1.2, 0.0]) @ expm(np.array([[-0.1, 2.0], [-2.0, -0.1]]) * s) for s in t])
    se = np.sqrt(x.var(0, ddof=1) / n) + 1e-12
    assert np.all(np.abs(x.mean(0) - mean) <= 4 * se + 2e-3)  # 2e-3: weak error of dt = 1e-3 over t = 1


def test_spiral_sde_paths_do_not_depend_on_the_batch(tmp_path):
    kwargs = {"n": 30, "seed": 4, "dt": 0.01, "n_times": 11}
    digest = generate("spiral_sde", tmp_path / "a.h5", batch_size=30, **kwargs)
    assert generate("spiral_sde", tmp_path / "b.h5", batch_size=4, **kwargs) == digest
    assert generate("spiral_sde", tmp_path / "c.h5", batch_size=30, **{**kwargs, "seed": 5}) != digest
    with h5py.File(tmp_path / "a.h5", "r") as f:
        x = f["x"][()]
        assert f["t"].shape == (11,) and np.all(x[:, 0] == [1.2, 0.0])
    assert np.all(np.isfinite(x)) and x[:, -1].std(0).min() > 0.01  # the paths spread


def test_spiral_sde_checks(tmp_path):
    for kwargs, message in [
        ({"dt": 0.003}, "dt=0.003 must be > 0 and divide t_final"),
        ({"n_times": 7}, "n_times=7 must be >= 2 with n_times - 1 dividing the 1000 steps"),
        ({"method": "srk"}, "method='srk' is unknown; use one of milstein, euler"),
        ({"n": 1}, "n=1 must be >= 2"),
    ]:
        with pytest.raises(ConfigError, match=message):
            generate("spiral_sde", tmp_path / "x.h5", **kwargs)
    assert list(tmp_path.iterdir()) == []
    bm = GridBrownian(torch.ones(4, 3, 2), 0.0, 0.5)
    assert bm.shape == (3, 2) and float(bm(0.5, 2.0)[0, 0]) == 3.0
    with pytest.raises(DataError, match="off its grid"):
        bm(0.25, 1.0)
