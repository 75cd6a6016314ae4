"""The ``scattered`` kind (schema version 2): writer, validation, ScatteredDataset, and the observe() helper."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.data import (
    FieldDataset,
    Provenance,
    ScatteredDataset,
    ScatteredWriter,
    observe,
    split_indices,
    validate,
    write_fields,
    write_scattered,
)

BOUNDS = [[0.0, 1.0], [0.0, 2.0], [-1.0, 1.0]]  # t, x, y


def _scattered(n=10, p=5, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = np.array(BOUNDS).T
    points = lo + (hi - lo) * rng.random((n, p, 3))
    values = rng.normal(size=(n, p, 2)).astype(np.float32)
    mask = np.arange(p)[None, :] < rng.integers(1, p + 1, size=n)[:, None]  # ragged: 1..p points per sample
    return points, values, mask


def _write(path, points, values, mask, **kw):
    return write_scattered(
        path, points, values, Provenance("test", seed=0), coords_names=["x", "y"], bounds=BOUNDS, mask=mask,
        noise_std=0.05, source={"file": "clean.h5", "content_sha256": "abc"}, **kw,
    )


def test_scattered_round_trip_is_exact_and_splits_match_the_other_datasets(tmp_path):
    points, values, mask = _scattered()
    path = tmp_path / "s.h5"
    digest = _write(path, points, values, mask)
    info = validate(path)
    assert info.kind == "scattered" and info.attrs["sciml_schema"] == 2 and info.content_sha256 == digest
    with h5py.File(path) as f:
        assert np.array_equal(f["points"][()], np.where(mask[..., None], points, 0))  # padded points stored as 0
        assert np.array_equal(f["values"][()], np.where(mask[..., None], values, 0))
        assert np.array_equal(f["mask"][()], mask) and f["mask"].dtype == np.bool_
        assert f["points"].chunks == (1, 5, 3) and f["values"].fletcher32
        assert json.loads(f.attrs["coords_names"]) == ["x", "y"] and np.array_equal(f.attrs["bounds"], BOUNDS)
        assert np.array_equal(f.attrs["noise_std"], [0.05, 0.05])
        assert json.loads(f.attrs["source"]) == {"file": "clean.h5", "content_sha256": "abc"}
    # streaming in batches gives the same content hash
    with ScatteredWriter(
        tmp_path / "t.h5", 10, 5, 2, Provenance("test"), coords_names=["x", "y"], bounds=BOUNDS, noise_std=0.05,
        source={"file": "clean.h5", "content_sha256": "abc"}, ragged=True,
    ) as w:
        for i in range(0, 10, 4):
            w.write(points[i : i + 4], values[i : i + 4], mask[i : i + 4])
    assert validate(tmp_path / "t.h5").content_sha256 == digest
    ds = ScatteredDataset(path, None)
    assert (ds.n_points, ds.dim, ds.channels, ds.in_features, ds.ragged) == (5, 2, 2, 3, True)
    assert ds.coords_names == ["x", "y"] and ds.source["content_sha256"] == "abc"
    for i in range(len(ds)):
        item = ds[i]
        n = int(item["index"])
        keep = mask[n]
        assert np.array_equal(item["x"].numpy()[keep], points[n][keep].astype(np.float32))
        assert np.array_equal(item["y"].numpy()[keep], values[n][keep])
        assert np.array_equal(item["mask"].numpy(), keep)
    # the same split logic as the other datasets: split_indices over N samples
    for split in ("train", "val", "test"):
        assert np.array_equal(ScatteredDataset(path, split).samples, split_indices(10)[split])
    # without a mask every point is real
    write_scattered(tmp_path / "u.h5", points, values, Provenance("test"), coords_names=["x", "y"], bounds=BOUNDS)
    item = ScatteredDataset(tmp_path / "u.h5", None)[3]
    assert bool(item["mask"].all()) and np.array_equal(item["y"].numpy(), values[3])


def test_scattered_content_hash_and_damage(tmp_path):
    points, values, mask = _scattered()
    d1 = _write(tmp_path / "a.h5", points, values, mask)
    values2 = values.copy()
    values2[2, 0, 1] += 1e-3  # point 0 is always real
    assert _write(tmp_path / "b.h5", points, values2, mask) != d1
    with h5py.File(tmp_path / "a.h5", "r+") as f:
        f["values"][2, 0, 1] = values2[2, 0, 1]
    with pytest.raises(DataError, match="content checksum mismatch"):
        validate(tmp_path / "a.h5")
    path = tmp_path / "c.h5"
    _write(path, points, values, mask)
    with h5py.File(path) as f:
        offset = f["points"].id.get_chunk_info(4).byte_offset
    with open(path, "r+b") as fh:
        fh.seek(offset + 3)
        b = fh.read(1)
        fh.seek(offset + 3)
        fh.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(DataError, match="checksum mismatch reading 'points' near sample 4"):
        validate(path)


@pytest.mark.parametrize(
    "damage, error, message",
    [
        ("last_dimension", ShapeError, r"scattered 'points' have shape \(10, 5, 2\) .* \[B, 5, 3\] \(time, then x, y\)"),
        ("outside_bounds", DataError, "point 1 of sample 3 has y=1.5 outside the bounds"),
        ("nan_value", DataError, r"non-finite values \(NaN/inf\) in 'values' at sample 2"),
        ("values_shape", ShapeError, "scattered 'values' have shape"),
        ("bounds", ConfigError, r"bounds must be \[1 \+ d, 2\] = \[3, 2\]"),
    ],
)
def test_bad_scattered_input_is_refused_and_nothing_is_written(tmp_path, damage, error, message):
    points, values, mask = _scattered()
    mask[:] = True
    kw = {}
    if damage == "last_dimension":
        points = points[..., :2]
    elif damage == "outside_bounds":
        points[3, 1, 2] = 1.5
    elif damage == "nan_value":
        values[2, 4, 0] = np.nan
    elif damage == "values_shape":
        values = values[:, :4]
    elif damage == "bounds":
        kw = {"bounds": BOUNDS[:2]}
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(error, match=message) as info:
        write_scattered(
            out / "bad.h5", points, values, Provenance("test"), coords_names=["x", "y"], **{"bounds": BOUNDS, **kw}
        )
    assert "\n" not in str(info.value)
    assert list(out.iterdir()) == []


def test_scattered_needs_schema_version_2(tmp_path):
    points, values, mask = _scattered()
    path = tmp_path / "s.h5"
    _write(path, points, values, mask)
    with h5py.File(path, "r+") as f:
        f.attrs["sciml_schema"] = 1
    with pytest.raises(DataError, match="kind 'scattered' needs version 2: set the attribute sciml_schema=2"):
        validate(path)
    with pytest.raises(DataError, match="holds 'scattered' data but FieldDataset reads 'fields'; use ScatteredDataset"):
        _write(path, points, values, mask)
        FieldDataset(path)


def _field_file(path, n=16, seed=0):
    rng = np.random.default_rng(seed)
    u = (rng.normal(size=(n, 6, 2, 32)) * np.array([1.0, 3.0])[None, None, :, None] + 2.0).astype(np.float32)
    t = np.linspace(0.0, 0.5, 6)
    x = np.linspace(0.0, 1.0, 32, endpoint=False)
    digest = write_fields(path, u, t, {"x": x}, Provenance("test:rand", {"k": 1}, seed=seed), splits={"train": np.arange(12)})
    return u, t, x, digest


def _clean_at(u, t, x, points):
    """u at the scattered points (on the grid): index of t and x by exact lookup."""
    ti = np.searchsorted(t, points[..., 0])
    xi = np.searchsorted(x, points[..., 1])
    assert np.array_equal(t[ti], points[..., 0]) and np.array_equal(x[xi], points[..., 1])  # on-grid
    n = np.arange(len(u))[:, None]
    return u[n, ti, :, xi]  # [N, P, C]


def test_observe_noise_free_reproduces_the_field_at_the_points(tmp_path):
    u, t, x, source_digest = _field_file(tmp_path / "f.h5")
    digest = observe(tmp_path / "f.h5", tmp_path / "o.h5", n_points=100, noise=0.0, seed=3)
    with h5py.File(tmp_path / "o.h5") as f:
        points, values = f["points"][()], f["values"][()]
        source = json.loads(f.attrs["source"])
        assert np.array_equal(f["splits/train"][()], np.arange(12))  # the source's splits
        np.testing.assert_array_equal(f.attrs["bounds"], [[0.0, 0.5], [0.0, x[-1]]])
    assert np.array_equal(values, _clean_at(u, t, x, points))  # exact on-grid values
    assert source["content_sha256"] == source_digest and source["generator"] == "test:rand" and source["file"] == "f.h5"
    # distinct points per sample, sorted by time
    assert all(len({tuple(p) for p in points[i]}) == 100 for i in range(len(u)))
    assert np.all(np.diff(points[..., 0], axis=1) >= 0)
    # per-sample streams seeded by (seed, i): the batch size does not matter, the seed does
    assert observe(tmp_path / "f.h5", tmp_path / "o2.h5", n_points=100, noise=0.0, seed=3, batch_size=5) == digest
    assert observe(tmp_path / "f.h5", tmp_path / "o3.h5", n_points=100, noise=0.0, seed=4) != digest
    with pytest.raises(ConfigError, match="n_points=193 must be between 1 and the 192 grid points"):
        observe(tmp_path / "f.h5", tmp_path / "o4.h5", n_points=193)
    assert not (tmp_path / "o4.h5").exists()


@pytest.mark.parametrize("relative, level", [(True, 0.1), (False, 0.05)])
def test_observe_noise_has_the_requested_level(tmp_path, relative, level):
    u, t, x, _ = _field_file(tmp_path / "f.h5")
    observe(tmp_path / "f.h5", tmp_path / "clean.h5", n_points=100, noise=0.0, seed=7)
    observe(tmp_path / "f.h5", tmp_path / "noisy.h5", n_points=100, noise=level, relative=relative, seed=7)
    with h5py.File(tmp_path / "clean.h5") as fc, h5py.File(tmp_path / "noisy.h5") as fn:
        assert np.array_equal(fc["points"][()], fn["points"][()])  # the same points, noise drawn after them
        points, values, noise_std = fn["points"][()], fn["values"][()], fn.attrs["noise_std"]
    # sigma per channel: level * population std of the channel over the whole file, or level itself
    sigma = level * u.astype(np.float64).transpose(2, 0, 1, 3).reshape(2, -1).std(axis=1) if relative else np.full(2, level)
    np.testing.assert_allclose(noise_std, sigma, rtol=1e-12)  # streamed vs direct float64 std
    res = values.astype(np.float64) - _clean_at(u, t, x, points)  # [N, P, C]; float32 rounding ~1e-7, negligible
    k = res.shape[0] * res.shape[1]  # 1600 draws per channel
    for c in range(2):
        r = res[..., c].ravel()
        # 4 standard errors: sd of the sample std ~ sigma / sqrt(2 (k - 1)), of the mean sigma / sqrt(k)
        assert abs(r.std(ddof=1) - sigma[c]) < 4 * sigma[c] / np.sqrt(2 * (k - 1)), (r.std(ddof=1), sigma[c])
        assert abs(r.mean()) < 4 * sigma[c] / np.sqrt(k)
    ds = ScatteredDataset(tmp_path / "noisy.h5", "train")
    assert len(ds) == 12 and np.allclose(ds.noise_std, sigma, rtol=1e-12)
