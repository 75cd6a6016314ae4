"""The darcy2d generator and its solver: convergence order, data sanity, determinism, errors."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import scipy.linalg
import torch

import sciml.data.generators.darcy  # noqa: F401  (registers darcy2d)
from sciml.core.errors import ConfigError
from sciml.core.registry import GENERATORS
from sciml.data.generators import generate
from sciml.data.generators.darcy import darcy2d, darcy_coefficients
from sciml.data.schema import validate
from sciml.numerics.pde import darcy_matrix, solve_darcy

SMALL = {"n": 4, "resolution": 17, "batch_size": 3}
PI = math.pi


def manufactured(s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``a = 1 + sin(2 pi x) cos(pi y) / 2``, ``u = sin(pi x) sin(2 pi y)`` and
    ``f = -div(a grad u) = -(a_x u_x + a_y u_y) + 5 pi^2 a u`` on the node grid."""
    grid = np.linspace(0.0, 1.0, s)
    x, y = np.meshgrid(grid, grid, indexing="ij")
    a = 1 + 0.5 * np.sin(2 * PI * x) * np.cos(PI * y)
    u = np.sin(PI * x) * np.sin(2 * PI * y)
    a_x = PI * np.cos(2 * PI * x) * np.cos(PI * y)
    a_y = -0.5 * PI * np.sin(2 * PI * x) * np.sin(PI * y)
    u_x = PI * np.cos(PI * x) * np.sin(2 * PI * y)
    u_y = 2 * PI * np.sin(PI * x) * np.cos(2 * PI * y)
    f = -(a_x * u_x + a_y * u_y) + 5 * PI**2 * a * u
    return a, u, f


@pytest.mark.parametrize("face_average", ["arithmetic", "harmonic"])
def test_solver_is_second_order_on_a_manufactured_solution(face_average):
    sizes = [17, 33, 65, 129]
    errors = []
    for s in sizes:
        a, u, f = manufactured(s)
        solution = solve_darcy(torch.from_numpy(a)[None], torch.from_numpy(f), face_average=face_average)[0]
        errors.append(float(np.abs(solution.numpy() - u).max()))
    order = float(np.polyfit(np.log([1 / (s - 1) for s in sizes]), np.log(errors), 1)[0])
    assert abs(order - 2.0) <= 0.2, (order, errors)  # measured 2.00 for both averages
    assert errors[-1] < 3e-4, errors


def test_matrix_is_symmetric_positive_definite_m_matrix():
    a = darcy_coefficients(0, 1, 12)[0].numpy()
    matrix = darcy_matrix(a).toarray()
    assert np.array_equal(matrix, matrix.T)
    assert float(scipy.linalg.eigvalsh(matrix).min()) > 0
    off_diagonal = matrix - np.diag(np.diag(matrix))
    assert (off_diagonal <= 0).all()  # M-matrix: the discrete maximum principle holds


def test_thresholded_data_have_two_values_and_positive_pressure(tmp_path):
    digest = darcy2d(tmp_path / "d.h5", seed=3, **SMALL)
    info = validate(tmp_path / "d.h5")
    assert info.content_sha256 == digest
    with h5py.File(tmp_path / "d.h5") as f:
        a, u, t = f["a"][:], f["u"][:], f["t"][:]
        x, y = f["coords/x"][:], f["coords/y"][:]
    assert a.shape == (4, 1, 17, 17) and u.shape == (4, 1, 1, 17, 17)
    assert t.tolist() == [0.0] and x[0] == 0.0 and x[-1] == 1.0 and np.array_equal(x, y)
    assert set(np.unique(a).tolist()) == {3.0, 12.0}
    for i in range(4):  # both phases present in every sample
        assert 3.0 in a[i] and 12.0 in a[i]
    field = u[:, 0, 0]
    assert (field[:, 1:-1, 1:-1] > 0).all()  # f = 1 > 0 and the maximum principle
    assert not field[:, 0].any() and not field[:, -1].any() and not field[:, :, 0].any() and not field[:, :, -1].any()
    # the stored solution solves the stored coefficient's system
    again = solve_darcy(torch.from_numpy(a[1:2, 0].astype(np.float64)))[0].numpy()
    assert np.allclose(again, field[1], rtol=1e-6, atol=1e-9)


def test_lognormal_coefficients_are_exp_of_the_field():
    threshold = darcy_coefficients(0, 2, 20, seed=5).numpy()
    lognormal = darcy_coefficients(0, 2, 20, seed=5, coefficient="lognormal").numpy()
    g = np.log(lognormal)
    assert np.array_equal(threshold, np.where(g >= 0, 12.0, 3.0))
    assert 0.05 < float(g.std()) < 3  # the FNO amplitude sigma = tau^(alpha-1) = 3


def test_generator_is_deterministic_and_independent_of_batch_size(tmp_path):
    first = darcy2d(tmp_path / "a.h5", seed=1, **SMALL)
    again = darcy2d(tmp_path / "b.h5", seed=1, **{**SMALL, "batch_size": 1})
    other = darcy2d(tmp_path / "c.h5", seed=2, **SMALL)
    assert first == again != other
    assert GENERATORS.get("darcy2d") is darcy2d
    assert generate("darcy2d", tmp_path / "g.h5", seed=1, **SMALL) == first


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"resolution": 4}, "resolution"),
        ({"coefficient": "gaussian"}, "coefficient"),
        ({"face_average": "geometric"}, "face_average"),
        ({"a_minus": 0.0}, "a_minus"),
        ({"alpha": 1.0}, "alpha"),
        ({"device": "nonexistent"}, "device"),
    ],
)
def test_bad_configurations_name_the_parameter(tmp_path, override, name):
    with pytest.raises(ConfigError, match=name):
        darcy2d(tmp_path / "bad.h5", **{**SMALL, **override})
    assert not (tmp_path / "bad.h5").exists()
