"""FieldDataset / TrajectoryDataset items and splits; normalizers fitted on the training split only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.data import (
    ChannelNormalizer,
    FieldDataset,
    Normalized,
    Provenance,
    TrajectoryDataset,
    fit_normalizers,
    split_indices,
    write_fields,
)
from sciml.errors import ConfigError, DataError
from tests.conftest import heat_map_data


def test_split_is_a_deterministic_partition():
    s = split_indices(100, (0.7, 0.2, 0.1), seed=3)
    allidx = np.concatenate([s["train"], s["val"], s["test"]])
    assert sorted(allidx.tolist()) == list(range(100))
    assert [len(s[k]) for k in ("train", "val", "test")] == [70, 20, 10]
    assert np.array_equal(split_indices(100, (0.7, 0.2, 0.1), seed=3)["test"], s["test"])
    with pytest.raises(ConfigError, match="summing to 1"):
        split_indices(10, (0.5, 0.2, 0.2))


def test_field_dataset_map_mode_reads_exact_values(heat_file):
    a, u, x = heat_map_data()
    ds = FieldDataset(heat_file, "test", return_grid=True)
    item = ds[0]
    n = int(item["index"])
    np.testing.assert_array_equal(item["x"].numpy(), a[n])
    np.testing.assert_array_equal(item["y"].numpy(), u[n, -1])
    np.testing.assert_allclose(item["grid"][0].numpy(), x, rtol=1e-6)
    assert (ds.in_channels, ds.out_channels, ds.spatial_shape) == (1, 1, (32,))
    train, val, test = (set(FieldDataset(heat_file, s).samples.tolist()) for s in ("train", "val", "test"))
    assert not (train & test) and not (train & val) and len(train | val | test) == 64


def test_field_dataset_window_mode(tmp_path):
    rng = np.random.default_rng(0)
    u = rng.normal(size=(3, 7, 2, 8)).astype(np.float32)
    path = tmp_path / "w.h5"
    write_fields(path, u, np.arange(7.0), {"x": np.arange(8.0)}, Provenance("test"))
    ds = FieldDataset(path, None, mode="window", history=3, horizon=2, stride=1)
    assert len(ds) == 3 * 3
    item = ds[4]  # sample 1, window start 1
    np.testing.assert_array_equal(item["x"].numpy(), u[1, 1:4].reshape(6, 8))
    np.testing.assert_array_equal(item["y"].numpy(), u[1, 4:6].reshape(4, 8))
    np.testing.assert_array_equal(item["t"].numpy(), np.arange(1.0, 6.0))
    assert (ds.in_channels, ds.out_channels) == (6, 4)
    with pytest.raises(ConfigError, match="exceeds the 7 time steps"):
        FieldDataset(path, None, mode="window", history=5, horizon=3)


def test_trajectory_dataset_windows(trajectory_file):
    ds = TrajectoryDataset(trajectory_file, None, context=10, horizon=5, stride=20)
    assert len(ds) == 6 * 5
    item = ds[7]  # trajectory 1, start 40
    t = np.linspace(0, 10, 101)
    np.testing.assert_allclose(item["t"].numpy(), t[40:55], rtol=1e-6)
    p = np.linspace(0, np.pi, 6)[1]
    np.testing.assert_allclose(item["y"][:, 0].numpy(), np.cos(1.5 * t[50:55] + p), atol=1e-6)
    whole = TrajectoryDataset(trajectory_file, None)[0]
    assert whole["x"].shape == (101, 2)
    with pytest.raises(DataError, match="use FieldDataset|use TrajectoryDataset"):
        FieldDataset(trajectory_file)


def test_normalizer_streaming_equals_direct_and_uses_train_split_only(heat_file):
    ds = FieldDataset(heat_file, "train")
    loader = torch.utils.data.DataLoader(ds, batch_size=7)
    norms = fit_normalizers(loader)
    y = torch.stack([ds[i]["y"] for i in range(len(ds))]).double()
    assert torch.allclose(norms["y"].mean.double(), y.mean(dim=(0, 2)), atol=1e-6)
    assert torch.allclose(norms["y"].std.double(), y.std(dim=(0, 2), unbiased=False), rtol=1e-5)
    everything = torch.stack([FieldDataset(heat_file, None)[i]["y"] for i in range(64)]).double()
    # the statistics of all samples differ: the fit saw the training split only
    assert abs(float(norms["y"].std) - float(everything.std(dim=(0, 2), unbiased=False))) > 1e-4


def test_normalized_wrapper_is_identity_around_identity():
    norm_in, norm_out = ChannelNormalizer(2), ChannelNormalizer(2)
    x = torch.randn(10, 2, 5) * 3 + 1
    norm_in.update(x).finish()
    norm_out.load_state_dict(norm_in.state_dict())
    wrapped = Normalized(torch.nn.Identity(), norm_in, norm_out)
    assert torch.allclose(wrapped(x), x, atol=1e-5)
    assert set(wrapped.state_dict()) == {"input_normalizer.mean", "input_normalizer.std", "output_normalizer.mean", "output_normalizer.std"}
