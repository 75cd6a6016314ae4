"""FieldDataset / TrajectoryDataset items and splits; normalizers fitted on the training split only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError, DataError
from sciml.data import (
    ChannelNormalizer,
    FieldDataset,
    Normalized,
    Provenance,
    TrajectoryDataset,
    TrajectoryNormalizer,
    fit_normalizers,
    fit_trajectory_normalizer,
    split_indices,
    time_split_bounds,
    write_fields,
    write_trajectories,
)
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


# ---------------------------------------------------------------- trajectories split in time


def _osc():
    t = np.linspace(0, 10, 101)
    phases = np.linspace(0, np.pi, 6)
    return t, np.stack([np.stack([np.cos(1.5 * t + p), -1.5 * np.sin(1.5 * t + p)], axis=-1) for p in phases])


def test_time_split_prefix_and_continuation_concatenate_to_the_trajectory(trajectory_file):
    t, x = _osc()
    # 101 steps: round(0.6 * 101) = 61 for train, round(0.2 * 101) = 20 for val, the remaining 20 for test
    assert time_split_bounds(101) == {"train": (0, 61), "val": (61, 81), "test": (81, 101)}
    parts = {s: TrajectoryDataset(trajectory_file, s, split_by="time") for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in parts] == [6, 6, 6]  # every trajectory is in every split
    assert [parts[s][0]["x"].shape[0] for s in parts] == [61, 20, 20]
    for i in range(6):
        whole = torch.cat([parts[s][i]["x"] for s in parts])
        times = torch.cat([parts[s][i]["t"] for s in parts])
        assert torch.equal(whole, torch.from_numpy(x[i].astype(np.float32)))
        assert torch.equal(times, torch.from_numpy(t.astype(np.float32)))
    # segments(): the split's steps of every trajectory at once, float64 as stored (what normalizers fit on)
    raw = {s: np.concatenate(list(parts[s].segments(batch_size=4))) for s in parts}
    assert raw["train"].dtype == np.float64 and np.array_equal(np.concatenate([raw[s] for s in raw], axis=1), x)
    assert parts["val"].segment == (61, 81) and parts["test"].samples.tolist() == list(range(6))
    # the raw reader (under sciml.data.load_trajectories): the same segments, float64 as stored
    from sciml.data.datasets import read_trajectories

    read = {s: read_trajectories(trajectory_file, s, split_by="time") for s in parts}
    assert all(np.array_equal(read[s]["x"], raw[s]) for s in parts)
    assert np.array_equal(np.concatenate([read[s]["t"] for s in read]), t)
    assert read["val"]["segment"] == (61, 81) and read["test"]["index"].tolist() == list(range(6))
    # split by sample (the default) keeps whole trajectories apart
    by_sample = TrajectoryDataset(trajectory_file, "train")
    assert len(by_sample) == 5 and by_sample.segment == (0, 101) and by_sample[0]["x"].shape == (101, 2)


@pytest.mark.parametrize("borrow", [False, True])
def test_time_split_windows_never_cross_a_boundary(trajectory_file, borrow):
    t, x = _osc()
    bounds = time_split_bounds(101)
    context, horizon, stride = 5, 3, 2
    for split, (lo, hi) in bounds.items():
        ds = TrajectoryDataset(
            trajectory_file, split, context=context, horizon=horizon, stride=stride, split_by="time",
            context_from_previous=borrow,
        )
        first = max(0, lo - context) if borrow else lo
        expected = len(range(first, hi - context - horizon + 1, stride))
        assert len(ds) == 6 * expected  # train: 27 windows per trajectory; val/test: 7 (9 when borrowing context)
        targets = set()
        for i in range(len(ds)):
            item = ds[i]
            n = int(item["index"])
            steps = np.searchsorted(t.astype(np.float32), item["t"].numpy())  # the steps this window covers
            assert np.array_equal(t[steps].astype(np.float32), item["t"].numpy())
            x_steps, y_steps = steps[:context], steps[context:]
            assert lo <= y_steps.min() and y_steps.max() < hi  # targets always inside the split
            assert x_steps.min() >= (max(0, lo - context) if borrow else lo) and x_steps.max() < hi
            assert np.array_equal(item["x"].numpy(), x[n, x_steps].astype(np.float32))
            assert np.array_equal(item["y"].numpy(), x[n, y_steps].astype(np.float32))
            targets.update(y_steps.tolist())
        # with borrowed context the first step of val/test is a target; without, the first target is lo + context
        assert min(targets) == (max(lo, context) if borrow else lo + context)
    assert [len(TrajectoryDataset(trajectory_file, s, context=5, horizon=3, stride=2, split_by="time",
                                  context_from_previous=True)) // 6 for s in ("train", "val", "test")] == [27, 9, 9]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"time_fractions": (0.6, 0.2, 0.1)}, r"time_fractions must be three non-negative numbers \(train, val, test\) summing to 1"),
        ({"time_fractions": (0.6, 0.4)}, "time_fractions must be three"),
        ({"time_fractions": (1.2, -0.1, -0.1)}, "time_fractions must be three non-negative"),
        ({"split_by": "trajectory"}, "unknown split_by 'trajectory'; use 'sample'"),
        ({"time_fractions": (0.9, 0.05, 0.05), "context": 5, "horizon": 3}, r"do not fit the 'val' time segment \(steps 91..95\)"),
        ({"time_fractions": (1.0, 0.0, 0.0)}, "the 'val' time segment is empty"),
    ],
)
def test_bad_time_splits_are_refused(trajectory_file, kwargs, message):
    kwargs = {"split_by": "time", **kwargs}
    with pytest.raises(ConfigError, match=message) as info:
        TrajectoryDataset(trajectory_file, "val", **kwargs)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- trajectory normalizer


def test_trajectory_normalizer_fitted_on_the_training_prefix(tmp_path):
    rng = np.random.default_rng(0)
    steps = np.arange(200)
    # three components of very different scales, with a drift: a prefix has other statistics than the whole
    x = rng.normal(size=(7, 200, 3)) * np.array([1.0, 50.0, 1e-3]) + np.array([0.0, 1e3, -2.0]) + 0.01 * steps[None, :, None]
    path = tmp_path / "traj.h5"
    write_trajectories(path, x, steps * 0.1, Provenance("test"))
    train = TrajectoryDataset(path, "train", split_by="time", context=4, horizon=2)
    lo, hi = train.segment
    prefix = x[:, lo:hi].reshape(-1, 3)
    # float64 statistics, eps = 0: the normalized training data have mean 0 and std 1 to round-off
    norm = TrajectoryNormalizer(3, eps=0.0).double()
    for batch in train.segments(batch_size=3):  # streamed, 3 trajectories at a time
        norm.update(torch.from_numpy(batch))
    norm.finish()
    z = norm.encode(torch.from_numpy(x[:, lo:hi])).reshape(-1, 3)
    tol = 16 * np.finfo(np.float64).eps  # 16 eps: a few roundings per value and in the statistics (measured <= 2 eps)
    assert torch.all(z.mean(dim=0).abs() < tol), z.mean(dim=0)
    assert torch.all((z.std(dim=0, unbiased=False) - 1).abs() < tol), z.std(dim=0, unbiased=False)
    np.testing.assert_allclose(norm.mean.numpy(), prefix.mean(axis=0), rtol=64 * np.finfo(np.float64).eps)
    # fitted on the prefix only: the whole trajectory has a different mean (the drift)
    assert abs(float(norm.mean[0]) - x[..., 0].mean()) > 0.2
    # the helper over the dataset (float32 buffers by default) gives the same statistics
    fitted = fit_trajectory_normalizer(train)
    np.testing.assert_allclose(fitted.mean.numpy(), prefix.mean(axis=0), rtol=4 * np.finfo(np.float32).eps)
    np.testing.assert_allclose(fitted.std.numpy(), prefix.std(axis=0), rtol=4 * np.finfo(np.float32).eps)
    # state_dict round trip
    again = TrajectoryNormalizer(3)
    again.load_state_dict(fitted.state_dict())
    assert set(fitted.state_dict()) == {"mean", "std"}
    window = torch.stack([train[i]["x"] for i in range(8)])  # [8, 4, 3] float32
    assert torch.equal(again.encode(window), fitted.encode(window))
    with pytest.raises(DataError, match=r"expects \[..., 3\] \(components last\)"):
        fitted.update(torch.zeros(2, 3, 4))


def test_normalized_trajectory_model_works_in_physical_units(tmp_path):
    t, x = _osc()
    path = tmp_path / "osc.h5"
    write_trajectories(path, x * np.array([100.0, 0.01]) + 5.0, t, Provenance("test"))
    train = TrajectoryDataset(path, "train", split_by="time", context=5, horizon=3)
    norm = fit_trajectory_normalizer(train)

    class Persistence(torch.nn.Module):  # forecast: the last context state, repeated
        def forward(self, z):
            return z[:, -1:].expand(-1, 3, -1)

    model = Normalized(Persistence(), norm, norm)
    batch = torch.stack([train[i]["x"] for i in range(10)])
    out = model(batch)  # physical units in and out; the inner model saw normalized states
    expected = batch[:, -1:].expand(-1, 3, -1)
    # float32: the encode/decode round trip loses a few ulps of |x| + |mean|/std scaled values
    assert torch.allclose(out, expected, rtol=8 * torch.finfo(torch.float32).eps, atol=0), (out - expected).abs().max()
    assert not torch.allclose(norm.encode(batch), batch)  # the inner model does see other units
    assert set(model.state_dict()) == {"input_normalizer.mean", "input_normalizer.std", "output_normalizer.mean", "output_normalizer.std"}

