"""Readers of PDEBench and The Well layouts, on small files written here in those layouts."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from sciml.core.errors import DataError
from sciml.data.datasets import FieldDataset
from sciml.data.importers import ImportedFieldDataset, convert_to_sciml, detect_format, open_dataset
from sciml.data.schema import validate

N, T, X, Y = 5, 6, 8, 4


def _pdebench1d(path, t_extra=1):
    rng = np.random.default_rng(0)
    tensor = rng.standard_normal((N, T, X)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["tensor"] = tensor
        f["x-coordinate"] = np.linspace(0, 1, X, endpoint=False)
        f["t-coordinate"] = np.linspace(0, 2, T + t_extra)  # PDEBench 1D stores T+1 times
    return tensor


def _pdebench2d(path, channels=2):
    rng = np.random.default_rng(1)
    data = rng.standard_normal((N, T, X, Y, channels)).astype(np.float32)
    with h5py.File(path, "w") as f:
        for i in range(N):
            g = f.create_group(f"{i:04d}")
            g["data"] = data[i]
            g["grid/x"] = np.linspace(0, 1, X)
            g["grid/y"] = np.linspace(0, 2, Y)
            g["grid/t"] = np.linspace(0, 5, T)
    return data


def _the_well(path):
    rng = np.random.default_rng(2)
    density = rng.standard_normal((N, T, X, Y)).astype(np.float32)
    velocity = rng.standard_normal((N, T, X, Y, 2)).astype(np.float32)
    stress = rng.standard_normal((N, T, X, Y, 2, 2)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.attrs["n_spatial_dims"] = 2
        f.attrs["dataset_name"] = "toy_shear_flow"
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        dims["time"] = np.linspace(0, 1, T)
        dims["x"] = np.linspace(0, 1, X)
        dims["y"] = np.linspace(-1, 1, Y)
        bc = f.create_group("boundary_conditions/x_periodic")
        bc.attrs["bc_type"] = "PERIODIC"
        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["density"]
        t0["density"] = density
        t1 = f.create_group("t1_fields")
        t1.attrs["field_names"] = ["velocity"]
        t1["velocity"] = velocity
        t2 = f.create_group("t2_fields")
        t2.attrs["field_names"] = ["stress"]
        t2["stress"] = stress
    # channels: density, velocity_x, velocity_y, stress_xx, stress_xy, stress_yx, stress_yy
    u = np.concatenate(
        [density[:, :, None], np.moveaxis(velocity, -1, 2), np.moveaxis(stress.reshape(N, T, X, Y, 4), -1, 2)], axis=2
    )
    return u  # [N, T, 7, X, Y]


@pytest.fixture
def files(tmp_path):
    p1, p2, pw = tmp_path / "adv.hdf5", tmp_path / "ns2d.h5", tmp_path / "well.hdf5"
    u1 = _pdebench1d(p1)[:, :, None]  # [N, T, 1, X]
    u2 = np.moveaxis(_pdebench2d(p2), -1, 2)  # [N, T, C, X, Y]
    uw = _the_well(pw)
    return {"pdebench1d": (p1, u1), "pdebench2d": (p2, u2), "the_well": (pw, uw)}


@pytest.mark.parametrize("fmt", ["pdebench1d", "pdebench2d", "the_well"])
def test_map_mode_items_exact(files, fmt):
    path, u = files[fmt]
    assert detect_format(path) == fmt
    ds = open_dataset(path, split=None)
    assert len(ds) == N and ds.channels == u.shape[2] and ds.spatial_shape == u.shape[3:]
    for i in range(N):
        item = ds[i]
        assert set(item) == {"x", "y", "index"}
        np.testing.assert_array_equal(item["x"].numpy(), u[i, 0])
        np.testing.assert_array_equal(item["y"].numpy(), u[i, -1])
        assert int(item["index"]) == i


@pytest.mark.parametrize("fmt", ["pdebench1d", "pdebench2d", "the_well"])
def test_window_mode_items_exact(files, fmt):
    path, u = files[fmt]
    ds = ImportedFieldDataset(path, split=None, mode="window", history=2, horizon=3, stride=1)
    assert len(ds) == N * (T - 5 + 1)
    c = u.shape[2]
    for i in range(len(ds)):
        sample, start = divmod(i, T - 4)
        item = ds[i]
        np.testing.assert_array_equal(item["x"].numpy(), u[sample, start : start + 2].reshape(2 * c, *u.shape[3:]))
        np.testing.assert_array_equal(item["y"].numpy(), u[sample, start + 2 : start + 5].reshape(3 * c, *u.shape[3:]))
        np.testing.assert_array_equal(item["t"].numpy(), ds.times[start : start + 5].astype(np.float32))
    assert ds.in_channels == 2 * c and ds.out_channels == 3 * c


@pytest.mark.parametrize("fmt", ["pdebench1d", "pdebench2d", "the_well"])
def test_converted_file_matches_source(files, fmt, tmp_path):
    path, u = files[fmt]
    dst = tmp_path / f"{fmt}_sciml.h5"
    sha = convert_to_sciml(path, dst)
    info = validate(dst)
    assert info.content_sha256 == sha and info.kind == "fields"
    assert info.attrs["generator"] == f"import:{fmt}"
    with h5py.File(dst) as f:
        np.testing.assert_array_equal(f["u"][()], u)
        assert len(f["t"]) == T
    assert convert_to_sciml(path, tmp_path / "again.h5") == sha
    for kwargs in ({"mode": "map"}, {"mode": "window", "history": 2, "horizon": 1}):
        for split in ("train", "test"):
            ours = ImportedFieldDataset(path, split=split, return_grid=True, **kwargs)
            theirs = FieldDataset(dst, split=split, return_grid=True, **kwargs)
            assert len(ours) == len(theirs)
            for i in range(len(ours)):
                a, b = ours[i], theirs[i]
                assert set(a) == set(b)
                for key in a:
                    assert torch.equal(a[key], b[key]), (fmt, key)


def test_the_well_metadata(files):
    ds = open_dataset(files["the_well"][0], split=None)
    assert ds.channel_names == [
        "density", "velocity_x", "velocity_y", "stress_xx", "stress_xy", "stress_yx", "stress_yy"
    ]
    assert ds.meta["dataset_name"] == "toy_shear_flow"
    assert ds.meta["boundary_conditions"]["x_periodic"]["bc_type"] == "PERIODIC"


def test_missing_keys_give_one_line_errors(tmp_path):
    p = tmp_path / "bad1d.h5"
    with h5py.File(p, "w") as f:
        f["tensor"] = np.zeros((2, 3, 4))
        f["x-coordinate"] = np.zeros(4)
    with pytest.raises(DataError, match="'t-coordinate'") as info:
        open_dataset(p)
    assert "\n" not in str(info.value)

    p = tmp_path / "bad2d.h5"
    with h5py.File(p, "w") as f:
        f["0000/data"] = np.zeros((3, 4, 4, 1))
        f["0000/grid/x"] = np.zeros(4)
        f["0000/grid/y"] = np.zeros(4)
    with pytest.raises(DataError, match="'0000/grid/t'"):
        open_dataset(p)

    p = tmp_path / "badwell.h5"
    _the_well(p)
    with h5py.File(p, "a") as f:
        del f["dimensions/time"]
    with pytest.raises(DataError, match="'dimensions/time'"):
        open_dataset(p)
    _the_well(p)
    with h5py.File(p, "a") as f:
        del f["t2_fields"]
    with pytest.raises(DataError, match="'t2_fields'"):
        open_dataset(p, format="the_well")

    p = tmp_path / "empty.h5"
    with h5py.File(p, "w") as f:
        f["something"] = np.zeros(3)
    with pytest.raises(DataError, match="format="):
        open_dataset(p)
