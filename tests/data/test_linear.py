"""The ``linear_ode`` generator against closed-form solutions, and the float64 reader ``load_trajectories``.

Tolerances. The generator evaluates ``expm(A t_k) x0`` with scipy's scaling-and-squaring
Pade algorithm. Its forward error grows with ``||A t||``: measured on the rotation
``A = [[0, 1], [-1, 0]]`` it reaches 629 eps at ``t = 8.5`` (37 eps at ``t = 10``), so the
bound checked here is ``EXPM_FACTOR * eps * (1 + ||A||_2 t_k)`` relative to ``|x0|`` with
``EXPM_FACTOR = 200`` (the rotation's worst case is 66 eps per unit of ``1 + ||A|| t``;
random orthogonally diagonalizable matrices stay below 5). The references (``cos``/``sin``,
or the eigendecomposition ``V exp(Lambda t) V^{-1}`` with orthonormal ``V``) are accurate
to a few eps.
"""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.data import (
    Provenance,
    Trajectories,
    TrajectoryDataset,
    load_trajectories,
    read_arrays,
    uniform_step,
    validate,
    write_fields,
    write_trajectories,
)
from sciml.data.generators import generate
from sciml.data.generators._common import sample_generator

EPS = np.finfo(np.float64).eps
EXPM_FACTOR = 200


def _read(path):
    with h5py.File(path, "r") as f:
        return f["x"][()], f["t"][()], dict(f.attrs), json.loads(f.attrs["params"])


def _relative_error_per_time(x, exact):
    """``max_i |x_i(t_k) - exact_i(t_k)| / max|x_i(0)|`` for each time ``k`` -> ``[T]``."""
    scale = np.abs(x[:, 0]).max(axis=1)[:, None]
    return (np.abs(x - exact).max(axis=2) / scale).max(axis=0)


@pytest.mark.parametrize(("dim", "spectrum"), [(4, "oscillatory"), (5, "oscillatory"), (3, "stable")])
def test_trajectories_equal_the_eigendecomposition_solution(tmp_path, dim, spectrum):
    path = tmp_path / "lin.h5"
    generate("linear_ode", path, n=6, n_times=201, dt=0.05, dim=dim, spectrum=spectrum, matrix_seed=2, seed=4)
    x, t, attrs, params = _read(path)
    assert x.dtype == np.float64 and x.shape == (6, 201, dim)
    np.testing.assert_array_equal(t, np.arange(201) * 0.05)
    a = np.array(params["matrix"])
    lam, v = np.linalg.eig(a)
    assert np.linalg.cond(v) < 1 + 1e-12  # A = Q B Q^T: orthonormal eigenvectors
    exact = np.einsum("dj,tj,jk,nk->ntd", v, np.exp(lam[None] * t[:, None]), np.linalg.inv(v), x[:, 0]).real
    err = _relative_error_per_time(x, exact)
    bound = EXPM_FACTOR * EPS * (1 + np.linalg.norm(a, 2) * t)
    assert np.all(err <= bound), f"max error {err.max() / EPS:.0f} eps"
    # the attributes a linear system knows exactly
    assert attrs["dt"] == 0.05 and attrs["system"] == "linear_ode"
    assert attrs["lyapunov_max"] == pytest.approx(lam.real.max(), rel=1e-12)
    lo, hi = params["decay_min"], params["decay_max"]
    assert np.all((-lam.real >= lo) & (-lam.real <= hi))
    if spectrum == "oscillatory":
        osc = lam[np.abs(lam.imag) > 1e-9]
        assert len(osc) == 2 * (dim // 2)
        assert np.all((np.abs(osc.imag) >= params["freq_min"]) & (np.abs(osc.imag) <= params["freq_max"]))
        slowest = osc[np.argmax(osc.real)]
        assert attrs["dominant_period"] == pytest.approx(2 * math.pi / abs(slowest.imag), rel=1e-12)
    else:
        np.testing.assert_array_equal(lam.imag, 0.0)
        assert "dominant_period" not in attrs
    assert validate(path).n_samples == 6


def test_user_matrix_rotation_equals_cos_sin(tmp_path):
    path = tmp_path / "rot.h5"
    generate("linear_ode", path, n=4, n_times=101, dt=0.1, matrix=[[0, 1], [-1, 0]], x0_scale=2.0)
    x, t, attrs, params = _read(path)
    assert params["matrix"] == [[0.0, 1.0], [-1.0, 0.0]] and params["source"] == "user"
    c, s = np.cos(t)[None], np.sin(t)[None]
    x0 = x[:, 0]
    exact = np.stack([c * x0[:, :1] + s * x0[:, 1:], -s * x0[:, :1] + c * x0[:, 1:]], axis=-1)
    err = _relative_error_per_time(x, exact)
    assert np.all(err <= EXPM_FACTOR * EPS * (1 + 1.0 * t)), f"max error {err.max() / EPS:.0f} eps"
    # a rotation keeps |x| (to the same round-off), and the period attribute is 2 pi
    norms = np.linalg.norm(x, axis=2)
    np.testing.assert_allclose(norms, np.broadcast_to(norms[:, :1], norms.shape), rtol=1e-12)
    assert attrs["dominant_period"] == pytest.approx(2 * math.pi, rel=1e-12)
    assert attrs["lyapunov_max"] == 0.0


def test_initial_states_come_from_per_sample_streams(tmp_path):
    generate("linear_ode", tmp_path / "a.h5", n=5, seed=7, dim=3, n_times=4, batch_size=2, x0_scale=0.5)
    x, _, _, _ = _read(tmp_path / "a.h5")
    for i in range(5):
        expected = 0.5 * torch.randn(3, generator=sample_generator(7, i), dtype=torch.float64).numpy()
        np.testing.assert_array_equal(x[i, 0], expected)  # expm(0) is the identity exactly
    # the same samples whatever the batch size or the number of samples; seed and matrix_seed matter
    sha = generate("linear_ode", tmp_path / "b.h5", n=5, seed=7, dim=3, n_times=4, batch_size=5, x0_scale=0.5)
    assert sha == validate(tmp_path / "a.h5").content_sha256
    generate("linear_ode", tmp_path / "c.h5", n=2, seed=7, dim=3, n_times=4, x0_scale=0.5)
    np.testing.assert_array_equal(_read(tmp_path / "c.h5")[0], x[:2])
    other_seed = generate("linear_ode", tmp_path / "d.h5", n=5, seed=8, dim=3, n_times=4, x0_scale=0.5)
    other_matrix = generate("linear_ode", tmp_path / "e.h5", n=5, seed=7, dim=3, n_times=4, x0_scale=0.5, matrix_seed=1)
    assert len({sha, other_seed, other_matrix}) == 3
    assert _read(tmp_path / "d.h5")[3]["matrix"] == _read(tmp_path / "a.h5")[3]["matrix"]
    assert _read(tmp_path / "e.h5")[3]["matrix"] != _read(tmp_path / "a.h5")[3]["matrix"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"matrix": [[1.0, 2.0]]}, r"linear_ode: matrix=\[\[1.0, 2.0\]\] has shape \(1, 2\); must be a square"),
        ({"matrix": [[float("nan")]]}, "holds non-finite entries"),
        ({"matrix": [["a"]]}, "must be a square nested list of numbers"),
        ({"matrix": [[0.0, 1.0], [-1.0, 0.0]], "dim": 3}, "dim=3 must be >= 1 and, with matrix=, equal its size"),
        ({"dim": 0}, "dim=0 must be >= 1"),
        ({"spectrum": "chaotic"}, "spectrum='chaotic' is unknown; use one of oscillatory, stable"),
        ({"n_times": 1}, "n_times=1 must be >= 2"),
        ({"dt": 0.0}, "dt=0.0 must be a positive number"),
        ({"decay_min": 1.0, "decay_max": 0.5}, "decay_min=1.0 must be > 0 and <= decay_max"),
        ({"x0_scale": -1.0}, "x0_scale=-1.0 must be a positive number"),
    ],
)
def test_bad_parameters_give_one_line_errors(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        generate("linear_ode", tmp_path / "bad.h5", n=2, **kwargs)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "bad.h5").exists()
    with pytest.raises(ConfigError, match=r"has no parameter 'matirx' \(did you mean 'matrix'\?\)"):
        generate("linear_ode", tmp_path / "bad.h5", matirx=[[0.0]])


def test_an_unstable_user_matrix_that_overflows_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"expm\(A t\) overflows float64 at t=0.9; the matrix grows too fast") as info:
        generate("linear_ode", tmp_path / "big.h5", n=2, matrix=[[800.0]], n_times=20, dt=0.1)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "big.h5").exists()


# ----------------------------------------------------------------------------- load_trajectories


@pytest.fixture
def linear_file(tmp_path):
    path = tmp_path / "lin.h5"
    generate("linear_ode", path, n=20, n_times=30, dt=0.1, dim=3, seed=1)
    return path


@pytest.mark.parametrize("split", ["train", "val", "test", None])
def test_float64_reader_sees_the_samples_of_the_trajectory_dataset(linear_file, split):
    arrays = load_trajectories(linear_file, split, fractions=(0.6, 0.2, 0.2), split_seed=5)
    ds = TrajectoryDataset(linear_file, split, fractions=(0.6, 0.2, 0.2), split_seed=5)
    x_file, t_file, attrs, _ = _read(linear_file)
    assert arrays.indices.tolist() == [int(ds[i]["index"]) for i in range(len(ds))]
    assert arrays.x.dtype == np.float64 and arrays.t.dtype == np.float64
    np.testing.assert_array_equal(arrays.x, x_file[arrays.indices])  # float64 as stored, no float32 detour
    np.testing.assert_array_equal(arrays.x.astype(np.float32), np.stack([ds[i]["x"].numpy() for i in range(len(ds))]))
    np.testing.assert_array_equal(arrays.t, t_file)
    assert arrays.dt == 0.1 and arrays.content_sha256 == attrs["content_sha256"] and arrays.split == split
    assert arrays.path == linear_file and arrays.segment == (0, 30)
    assert read_arrays(linear_file, split, fractions=(0.6, 0.2, 0.2), split_seed=5).indices.tolist() == arrays.indices.tolist()


def test_float64_reader_splits_in_time_like_the_dataset(linear_file):
    parts = [load_trajectories(linear_file, s, split_by="time", time_fractions=(0.5, 0.3, 0.2)) for s in ("train", "val", "test")]
    assert [p.segment for p in parts] == [(0, 15), (15, 24), (24, 30)]
    x_file = _read(linear_file)[0]
    np.testing.assert_array_equal(np.concatenate([p.x for p in parts], axis=1), x_file)
    assert all(p.dt == 0.1 for p in parts)
    np.testing.assert_allclose(parts[1].t, np.arange(15, 24) * 0.1, rtol=0, atol=4 * EPS * 3)
    ds = TrajectoryDataset(linear_file, "val", split_by="time", time_fractions=(0.5, 0.3, 0.2))
    np.testing.assert_array_equal(parts[1].x.astype(np.float32)[0], ds[0]["x"].numpy())


def test_float64_reader_refuses_other_kinds_and_bad_arguments(tmp_path, linear_file):
    fields = tmp_path / "f.h5"
    write_fields(fields, np.zeros((2, 1, 1, 4)), np.zeros(1), {"x": np.arange(4.0)}, Provenance("test"))
    for reader in (load_trajectories, read_arrays):
        with pytest.raises(DataError, match="holds 'fields' data") as info:
            reader(fields, "train")
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="unknown split 'dev'"):
        load_trajectories(linear_file, "dev")
    with pytest.raises(ConfigError, match="dtype=int64 is not a float dtype"):
        load_trajectories(linear_file, dtype=np.int64)
    with pytest.raises(DataError, match="data file not found"):
        load_trajectories(tmp_path / "missing.h5")
    assert load_trajectories(linear_file, dtype=np.float32).x.dtype == np.float32


def test_irregular_times_give_no_dt(tmp_path):
    t = np.array([[0.0, 0.1, 0.3], [0.0, 0.2, 0.4]])
    path = tmp_path / "irr.h5"
    write_trajectories(path, np.ones((2, 3, 1)), t, Provenance("test"))
    arrays = load_trajectories(path, None)
    assert arrays.dt is None and arrays.t.shape == (2, 3)
    assert uniform_step(np.arange(50) * 0.1) == pytest.approx(0.1, rel=1e-12)
    assert uniform_step(np.array([[0.0, 0.1], [1.0, 1.2]])) is None  # rows with different steps


def test_in_memory_trajectories_check_their_input():
    one = Trajectories.from_array(np.zeros((7, 2)), dt=0.5)
    assert one.x.shape == (1, 7, 2) and one.dt == 0.5 and one.content_sha256 is None
    np.testing.assert_array_equal(one.t, np.arange(7) * 0.5)
    assert Trajectories.from_array(np.zeros((2, 3, 1)), t=np.arange(3) * 0.25).dt == 0.25
    bad = np.zeros((2, 3, 1))
    bad[1, 2, 0] = np.nan
    cases = [
        (bad, {}, DataError, "non-finite values \\(NaN/inf\\) in trajectory 1"),
        (np.zeros(4), {}, ShapeError, "expected \\[N, T, D\\]"),
        (np.zeros((3, 2)), {"dt": -1.0}, ConfigError, "dt=-1.0 must be a positive number"),
        (np.zeros((3, 2)), {"t": np.arange(4.0)}, ShapeError, "times have shape \\(4,\\)"),
        (np.zeros((3, 2)), {"t": np.arange(3.0), "dt": 0.5}, DataError, "dt=0.5 does not match the sample times"),
        (np.array([["a"]]), {}, DataError, "dtype <U1"),
    ]
    for x, kwargs, error, message in cases:
        with pytest.raises(error, match=message) as info:
            Trajectories.from_array(x, **kwargs)
        assert "\n" not in str(info.value)
