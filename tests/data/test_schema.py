"""The HDF5 schema: round trip, content checksums, and every corruption detected with a clear message."""

from __future__ import annotations

import hashlib
import json

import h5py
import numpy as np
import pytest

from sciml.core.errors import DataError
from sciml.data import (
    READABLE_SCHEMA_VERSIONS,
    SCHEMA_VERSION,
    FieldDataset,
    FieldsWriter,
    Provenance,
    TrajectoryDataset,
    content_checksum,
    open_h5,
    validate,
    write_fields,
)
from tests.conftest import heat_map_data


def _write(path, seed=0, **kw):
    a, u, x = heat_map_data(n=8, s=16, seed=seed)
    return write_fields(path, u, np.array([0.0, 1.0]), {"x": x}, Provenance("test", {"nu": 0.02}, seed=seed), a=a, **kw)


def test_round_trip_and_attributes(tmp_path):
    path = tmp_path / "f.h5"
    digest = _write(path, splits={"train": [0, 1, 2], "test": [3]})
    a, u, x = heat_map_data(n=8, s=16)
    with open_h5(path) as f:
        np.testing.assert_array_equal(f["u"][()], u)
        np.testing.assert_array_equal(f["a"][()], a)
        np.testing.assert_allclose(f["coords/x"][()], x)
        assert f["u"].chunks == (1, 2, 1, 16)
        assert f["u"].fletcher32
        assert f.attrs["generator"] == "test" and f.attrs["sciml_schema"] == 1
        assert list(f["splits/train"][()]) == [0, 1, 2]
    info = validate(path)
    assert info.n_samples == 8 and info.content_sha256 == digest == content_checksum(path)
    assert info.splits == {"train": 3, "test": 1}


def test_content_checksum_reproducible_and_sensitive(tmp_path):
    d1 = _write(tmp_path / "a.h5", seed=0)
    d2 = _write(tmp_path / "b.h5", seed=0)
    d3 = _write(tmp_path / "c.h5", seed=1)
    assert d1 == d2 != d3


def test_streaming_writer_equals_one_shot(tmp_path):
    a, u, x = heat_map_data(n=8, s=16)
    one = write_fields(tmp_path / "one.h5", u, np.array([0.0, 1.0]), {"x": x}, Provenance("test"), a=a)
    with FieldsWriter(tmp_path / "two.h5", 8, u.shape[1:], np.array([0.0, 1.0]), {"x": x}, Provenance("test"), a_shape=a.shape[1:]) as w:
        for i in range(0, 8, 3):
            w.write(u[i : i + 3], a=a[i : i + 3])
    assert validate(tmp_path / "two.h5").content_sha256 == one


def test_nan_in_written_batch_leaves_no_file(tmp_path):
    a, u, x = heat_map_data(n=4, s=16)
    u[2, 1, 0, 3] = np.nan
    path = tmp_path / "nan.h5"
    with pytest.raises(DataError, match="non-finite values .* sample 2"):
        write_fields(path, u, np.array([0.0, 1.0]), {"x": x}, Provenance("test"), a=a)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_writer_leaves_no_file(tmp_path):
    a, u, x = heat_map_data(n=4, s=16)
    path = tmp_path / "partial.h5"
    with pytest.raises(KeyboardInterrupt):
        with FieldsWriter(path, 4, u.shape[1:], np.array([0.0, 1.0]), {"x": x}, Provenance("test")) as w:
            w.write(u[:2])
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_missing_samples_detected_at_close(tmp_path):
    a, u, x = heat_map_data(n=4, s=16)
    w = FieldsWriter(tmp_path / "short.h5", 4, u.shape[1:], np.array([0.0, 1.0]), {"x": x}, Provenance("test"))
    w.write(u[:3])
    with pytest.raises(DataError, match="only 3 of 4 samples"):
        w.close()
    assert not (tmp_path / "short.h5").exists()


def _corrupt_one_byte_of_u(path):
    with h5py.File(path, "r") as f:
        offset = f["u"].id.get_chunk_info(3).byte_offset
    with open(path, "r+b") as fh:
        fh.seek(offset + 5)
        b = fh.read(1)
        fh.seek(offset + 5)
        fh.write(bytes([b[0] ^ 0xFF]))


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "data file not found"),
        ("not_hdf5", "not an HDF5 file"),
        ("truncated", "truncated"),
        ("flipped_byte", "checksum mismatch"),
        ("schema_version", "schema version 99, this sciml reads versions 1 and 2"),
        ("missing_key", "missing the dataset 'u'"),
        ("nan", r"non-finite values \(NaN/inf\) in 'u' at sample 1"),
    ],
)
def test_damaged_files_are_reported(tmp_path, damage, message):
    path = tmp_path / "d.h5"
    _write(path)
    if damage == "missing":
        path = tmp_path / "nope.h5"
    elif damage == "not_hdf5":
        path.write_text("x,y\n1,2\n")
    elif damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped_byte":
        _corrupt_one_byte_of_u(path)
    elif damage == "schema_version":
        with h5py.File(path, "r+") as f:
            f.attrs["sciml_schema"] = 99
    elif damage == "missing_key":
        with h5py.File(path, "r+") as f:
            del f["u"]
    elif damage == "nan":
        with h5py.File(path, "r+") as f:
            f["u"][1, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match=message) as info:
        validate(path)
    assert "\n" not in str(info.value)


def test_modified_data_fails_content_checksum(tmp_path):
    path = tmp_path / "m.h5"
    _write(path)
    with h5py.File(path, "r+") as f:  # a valid rewrite: fletcher32 is recomputed, content hash is not
        f["u"][0, 0, 0, 0] = 123.0
    with pytest.raises(DataError, match="content checksum mismatch"):
        validate(path)


def _write_v1_by_hand(path, u, a, t, x):
    """A version-1 fields file written with h5py alone, laid out as the version-1 writer did."""
    arrays = {"u": u, "a": a, "t": t, "coords/x": x}
    with h5py.File(path, "w") as f:
        for name, arr in arrays.items():
            chunks = (1, *arr.shape[1:]) if name in ("u", "a") else None
            f.create_dataset(name, data=arr, chunks=chunks, fletcher32=True)
        f["coords"].attrs["order"] = json.dumps(["x"])
        digests = {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest() for k, v in arrays.items()}
        text = ";".join(f"{k}:{digests[k]}" for k in sorted(digests))
        attrs = {
            "sciml_schema": 1, "kind": "fields", "generator": "test", "params": "{}", "seed": 0,
            "sciml_version": "0.0.1", "created_utc": "2024-01-01T00:00:00Z", "solver": "{}",
            "content_sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
        for k, v in attrs.items():
            f.attrs[k] = v
    return attrs["content_sha256"]


def test_version_1_files_still_read_and_keep_their_content_hash(tmp_path):
    assert SCHEMA_VERSION == 2 and READABLE_SCHEMA_VERSIONS == (1, 2)
    a, u, x = heat_map_data(n=10, s=16)
    t = np.array([0.0, 1.0])
    digest = _write_v1_by_hand(tmp_path / "v1.h5", u, a, t, x)
    info = validate(tmp_path / "v1.h5")
    assert info.content_sha256 == digest and info.attrs["sciml_schema"] == 1
    assert info.summary().startswith(f"{tmp_path / 'v1.h5'}: sciml schema 1, kind=fields")
    ds = FieldDataset(tmp_path / "v1.h5", None)
    assert np.array_equal(ds[3]["x"].numpy(), a[3]) and np.array_equal(ds[3]["y"].numpy(), u[3, -1])
    # today's writer stamps version 1 on a file without version-2 content, with the same content hash
    assert write_fields(tmp_path / "now.h5", u, t, {"x": x}, Provenance("test"), a=a) == digest
    with h5py.File(tmp_path / "now.h5") as f:
        assert f.attrs["sciml_schema"] == 1


def test_version_1_trajectories_split_in_time(trajectory_file):
    with h5py.File(trajectory_file) as f:
        assert f.attrs["sciml_schema"] == 1
    ds = TrajectoryDataset(trajectory_file, "test", split_by="time", time_fractions=(0.5, 0.25, 0.25))
    # 101 steps: train round(50.5) = 50 (round half to even), val round(25.25) = 25, test the last 26
    assert ds.segment == (75, 101) and ds[0]["x"].shape == (26, 2)

