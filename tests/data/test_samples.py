"""The ``samples`` kind: writers, validation, SampleDataset, and every bad file named in one line."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest
import torch

from sciml.cli import main
from sciml.core.errors import DataError
from sciml.data import Provenance, SampleDataset, SamplesWriter, TrajectoryDataset, open_h5, validate, write_samples


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 6)).astype(np.float32), rng.integers(0, 4, n).astype(np.int64)


def _write(path, **kw):
    x, y = _data()
    return write_samples(path, x, y, Provenance("test", {"a": 1}, seed=3), classes=4, **kw)


def test_classification_round_trip(tmp_path):
    path = tmp_path / "s.h5"
    digest = _write(path, class_names=["a", "b", "c", "d"], image_shape=[2, 3])
    x, y = _data()
    with open_h5(path) as f:
        np.testing.assert_array_equal(f["x"][()], x)
        np.testing.assert_array_equal(f["y"][()], y)
        assert f["y"].dtype == np.int64 and f["x"].dtype == np.float32
        assert f["x"].chunks == (1, 6) and f["y"].chunks == (1,) and f["x"].fletcher32 and f["y"].fletcher32
        assert f.attrs["kind"] == "samples" and f.attrs["classes"] == 4
    info = validate(path)
    assert info.kind == "samples" and info.n_samples == 20 and info.content_sha256 == digest
    assert '["a", "b", "c", "d"]' in info.summary() and "@classes     4" in info.summary()
    assert _write(tmp_path / "again.h5", class_names=["a", "b", "c", "d"], image_shape=[2, 3]) == digest
    # streaming in uneven batches gives the same content
    with SamplesWriter(tmp_path / "stream.h5", 20, (6,), Provenance("test"), classes=4) as w:
        for i in range(0, 20, 7):
            w.write(x[i : i + 7], y[i : i + 7])
    assert validate(tmp_path / "stream.h5").content_sha256 == digest

    splits = {s: SampleDataset(path, s) for s in ("train", "val", "test")}
    assert sorted(np.concatenate([d.samples for d in splits.values()]).tolist()) == list(range(20))
    train = splits["train"]
    assert train.task == "classification" and train.classes == 4 and train.class_names == ["a", "b", "c", "d"]
    assert train.feature_shape == (6,) and train.in_features == 6 and train.target_dim is None
    item = train[2]
    i = int(item["index"])
    assert item["y"].dtype == torch.int64 and item["y"].shape == () and int(item["y"]) == y[i]
    torch.testing.assert_close(item["x"], torch.from_numpy(x[i]))
    batch = next(iter(torch.utils.data.DataLoader(train, batch_size=5)))
    assert batch["x"].shape == (5, 6) and batch["y"].shape == (5,)


def test_regression_targets_and_images(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.random((10, 2, 3)), rng.random((10, 2))
    path = tmp_path / "r.h5"
    write_samples(path, x, y, Provenance("test"))
    ds = SampleDataset(path, None)
    assert ds.task == "regression" and ds.target_dim == 2 and ds.classes is None and ds.feature_shape == (2, 3)
    item = ds[4]
    assert item["x"].shape == (2, 3) and item["y"].dtype == torch.float32 and item["y"].shape == (2,)
    np.testing.assert_allclose(item["y"].numpy(), y[4], rtol=1e-6)
    assert SampleDataset(path, None, flatten=True)[4]["x"].shape == (6,)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda x, y: (x, y.astype(np.float32), {"classes": 4}),
            "classes=4 was given but the labels have dtype float32",
        ),
        (lambda x, y: (x, y.astype(np.float64), {}), r"regression targets must be \[N, Dy\], got shape \(20,\)"),
        (lambda x, y: (x, y[:, None], {}), r"class labels must be \[N\], got shape \(20, 1\)"),
        (lambda x, y: (x, np.where(np.arange(20) == 3, -1, y), {"classes": 4}), "label -1 at sample 3 is outside 0..3"),
        (
            lambda x, y: (np.where(np.arange(20)[:, None] == 7, np.nan, x), y, {"classes": 4}),
            r"non-finite values \(NaN/inf\) in 'x' at sample 7",
        ),
        (
            lambda x, y: (x, np.where(np.arange(20)[:, None] == 2, np.inf, np.ones((20, 2))), {}),
            r"non-finite .* in 'y' at sample 2",
        ),
        (lambda x, y: (x[:, 0], y, {"classes": 4}), r"x must be \[N, \*feature_shape\]"),
    ],
)
def test_bad_arrays_are_refused_at_write_time_and_leave_no_file(tmp_path, make, message):
    x, y = _data()
    x, y, kw = make(x, y)
    with pytest.raises(DataError, match=message) as info:
        write_samples(tmp_path / "bad.h5", x, y, Provenance("test"), **kw)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_streaming_writer_refuses_float_labels(tmp_path):
    x, y = _data()
    with pytest.raises(DataError, match="class labels must be integers, got dtype float64"):
        with SamplesWriter(tmp_path / "w.h5", 20, (6,), Provenance("test"), classes=4) as w:
            w.write(x, y.astype(np.float64))
    assert list(tmp_path.iterdir()) == []


def _flip_a_byte_of_x(path):
    with h5py.File(path, "r") as f:
        offset = f["x"].id.get_chunk_info(3).byte_offset
    with open(path, "r+b") as fh:
        fh.seek(offset + 2)
        b = fh.read(1)
        fh.seek(offset + 2)
        fh.write(bytes([b[0] ^ 0xFF]))


def _float_labels(path):
    with h5py.File(path, "r+") as f:
        y = f["y"][()]
        del f["y"]
        f["y"] = y.astype(np.float32)


def _label_out_of_range(path):
    with h5py.File(path, "r+") as f:
        f["y"][5] = 9


def _no_classes(path):
    with h5py.File(path, "r+") as f:
        del f.attrs["classes"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (_flip_a_byte_of_x, r"checksum mismatch reading 'x' near sample 3 .*regenerate or re-copy it"),
        (
            _float_labels,
            r"float targets 'y' must be \[N, Dy\], got shape \(20,\); class labels must be stored as int64",
        ),
        (_label_out_of_range, r"label 9 at sample 5 is outside 0..3 \(attribute classes=4\)"),
        (_no_classes, "integer labels 'y' need the file attribute 'classes'"),
    ],
)
def test_damaged_files_give_one_line_errors(tmp_path, capsys, damage, message):
    path = tmp_path / "d.h5"
    _write(path)
    damage(path)
    assert main(["data", "info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err


def test_dataset_of_the_wrong_kind_names_the_right_one(tmp_path):
    path = tmp_path / "s.h5"
    _write(path)
    with pytest.raises(
        DataError, match=r"holds 'samples' data but TrajectoryDataset reads 'trajectories'; use SampleDataset"
    ):
        TrajectoryDataset(path)
