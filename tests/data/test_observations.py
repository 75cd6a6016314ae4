"""Observations on fields files (schema version 2): the ``obs/`` group, its checks, its dataset keys, observe_fields."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.data import FieldDataset, FieldsWriter, Provenance, observe_fields, validate, write_fields
from tests.conftest import heat_map_data

T = np.linspace(0.0, 1.0, 5)
COORDS = {"x": np.linspace(0, 1, 6, endpoint=False), "y": np.linspace(0, 2, 4, endpoint=False)}


def _obs_data(n=4, seed=0):
    """u [n, 5, 2, 6, 4] on a 2-D grid; To=3 observation steps with a mask shared by the channels."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, 5, 2, 6, 4)).astype(np.float32)
    mask = rng.random((n, 3, 1, 6, 4)) < 0.4
    obs = rng.normal(size=(n, 3, 2, 6, 4)).astype(np.float32)
    obs[~np.broadcast_to(mask, obs.shape)] = np.nan  # unobserved entries may hold anything: stored as 0
    obs_t = np.sort(rng.uniform(0, 1, size=(n, 3)), axis=1)
    return u, obs, mask, obs_t


def _write(path, u, obs, mask, obs_t, batch=2, **kw):
    with FieldsWriter(
        path, len(u), u.shape[1:], T, COORDS, Provenance("test", seed=0),
        obs_shape=obs.shape[1:], obs_mask_channels=mask.shape[2], noise_std=[0.1, 0.2], **kw,
    ) as w:
        for i in range(0, len(u), batch):
            s = slice(i, i + batch)
            w.write(u[s], obs=obs[s], obs_mask=mask[s], obs_t=obs_t[s])
    return validate(path).content_sha256


def test_observation_group_round_trip_is_exact(tmp_path):
    u, obs, mask, obs_t = _obs_data()
    digest = _write(tmp_path / "o.h5", u, obs, mask, obs_t)
    stored = np.where(np.broadcast_to(mask, obs.shape), obs, 0)
    with h5py.File(tmp_path / "o.h5") as f:
        assert f.attrs["sciml_schema"] == 2
        assert np.array_equal(f["u"][()], u)
        assert np.array_equal(f["obs/values"][()], stored)
        assert f["obs/mask"].dtype == np.bool_ and np.array_equal(f["obs/mask"][()], mask)
        assert np.array_equal(f["obs/t"][()], obs_t)
        assert f["obs/values"].chunks == (1, 3, 2, 6, 4) and f["obs/mask"].fletcher32
        assert np.array_equal(f["obs"].attrs["noise_std"], [0.1, 0.2]) and f["obs"].attrs["source"] == "u"
    # one-shot writer, same content hash; the dataset yields the same arrays
    assert write_fields(
        tmp_path / "one.h5", u, T, COORDS, Provenance("test"), obs=obs, obs_mask=mask, obs_t=obs_t, noise_std=[0.1, 0.2]
    ) == digest
    ds = FieldDataset(tmp_path / "o.h5", None, observations=True)
    assert ds.has_observations and np.array_equal(ds.obs_noise_std, [0.1, 0.2])
    for i in range(len(ds)):
        item = ds[i]
        n = int(item["index"])
        assert np.array_equal(item["obs"].numpy(), stored[n])
        assert item["obs_mask"].dtype.is_floating_point is False and np.array_equal(item["obs_mask"].numpy(), mask[n])
        assert np.array_equal(item["obs_t"].numpy(), obs_t[n].astype(np.float32))
    assert "obs" not in FieldDataset(tmp_path / "o.h5", None)[0]


def test_content_hash_covers_observations_and_damage_is_detected(tmp_path):
    u, obs, mask, obs_t = _obs_data()
    d1 = _write(tmp_path / "a.h5", u, obs, mask, obs_t)
    i = tuple(np.argwhere(np.broadcast_to(mask, obs.shape))[0])
    obs2 = obs.copy()
    obs2[i] += 1.0
    assert _write(tmp_path / "b.h5", u, obs2, mask, obs_t) != d1
    # a valid rewrite of one observed value (fletcher32 recomputed): the content hash catches it
    with h5py.File(tmp_path / "a.h5", "r+") as f:
        f["obs/values"][i] = obs[i] + 1.0
    with pytest.raises(DataError, match="content checksum mismatch"):
        validate(tmp_path / "a.h5")
    # one flipped byte on disk: fletcher32 catches it
    path = tmp_path / "c.h5"
    _write(path, u, obs, mask, obs_t)
    with h5py.File(path) as f:
        offset = f["obs/values"].id.get_chunk_info(2).byte_offset
    with open(path, "r+b") as fh:
        fh.seek(offset + 7)
        b = fh.read(1)
        fh.seek(offset + 7)
        fh.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(DataError, match="checksum mismatch reading 'obs/values' near sample 2"):
        validate(path)


def _refusal(kind, u, obs, mask, obs_t):
    if kind == "mask_spatial_shape":
        return dict(obs_mask=mask[..., :3]), ShapeError, r"observation mask 'obs_mask' has shape \(\d, 3, 1, 6, 3\) but the observations .* need \(\d, 3, 1, 6, 4\)"
    if kind == "mask_channels":
        return dict(obs_mask=np.repeat(mask, 3, axis=2)), ShapeError, "obs_mask_channels=3 does not match the 2 channels"
    if kind == "time_after_range":
        t = obs_t.copy()
        t[2, 2] = 1.5
        return dict(obs_t=t), DataError, r"obs_t=1.5 of sample 2 is outside the file's time range \[0.0, 1.0\]"
    if kind == "time_before_range":
        t = obs_t.copy()
        t[1, 0] = -0.25
        return dict(obs_t=t), DataError, r"obs_t=-0.25 of sample 1 is outside the file's time range"
    if kind == "time_not_increasing":
        t = obs_t.copy()
        t[3] = t[3, ::-1]
        return dict(obs_t=t), DataError, "'obs_t' of sample 3 are not strictly increasing"
    if kind == "nan_observed":
        o = obs.copy()
        o[(1, *np.argwhere(np.broadcast_to(mask[1], o.shape[1:]))[0])] = np.nan
        return dict(obs=o), DataError, r"non-finite observed value \(NaN/inf\) in 'obs' at sample 1"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["mask_spatial_shape", "mask_channels", "time_after_range", "time_before_range", "time_not_increasing", "nan_observed"]
)
def test_bad_observations_are_refused_and_nothing_is_written(tmp_path, kind):
    u, obs, mask, obs_t = _obs_data()
    change, error, message = _refusal(kind, u, obs, mask, obs_t)
    args = {"obs": obs, "obs_mask": mask, "obs_t": obs_t, **change}
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(error, match=message) as info:
        write_fields(out / "bad.h5", u, T, COORDS, Provenance("test"), **args)
    assert "\n" not in str(info.value)
    assert not (out / "bad.h5").exists() and list(out.iterdir()) == []
    # the streaming writer refuses the same batch after good ones, and removes its temporary file
    with pytest.raises(error, match=message):
        with FieldsWriter(
            out / "stream.h5", len(u), u.shape[1:], T, COORDS, Provenance("test"),
            obs_shape=obs.shape[1:], obs_mask_channels=args["obs_mask"].shape[2],
        ) as w:
            w.write(u[:1], obs=obs[:1], obs_mask=mask[:1], obs_t=obs_t[:1])
            w.write(u[1:], obs=args["obs"][1:], obs_mask=args["obs_mask"][1:], obs_t=args["obs_t"][1:])
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "edit, message",
    [
        ("nonzero_unobserved", "'obs/values' holds nonzero values at unobserved entries of sample 1"),
        ("time_outside", r"observation time obs/t=2.0 of sample 0 is outside the file's time range"),
        ("version_1", "holds the observation group 'obs' .* declares version 1; set the attribute sciml_schema=2"),
        ("mask_missing", "observation group without 'obs/mask'"),
        ("mask_shape", "'obs/mask' has shape"),
        ("noise_std", "attribute 'noise_std' must be float64 \\[2\\]"),
    ],
)
def test_validate_checks_the_observation_group(tmp_path, edit, message):
    u, obs, mask, obs_t = _obs_data()
    path = tmp_path / "o.h5"
    _write(path, u, obs, mask, obs_t)
    with h5py.File(path, "r+") as f:
        if edit == "nonzero_unobserved":
            j = tuple(np.argwhere(~np.broadcast_to(mask[1], obs.shape[1:]))[0])
            f["obs/values"][(1, *j)] = 0.5
        elif edit == "time_outside":
            f["obs/t"][0, 2] = 2.0
        elif edit == "version_1":
            f.attrs["sciml_schema"] = 1
        elif edit == "mask_missing":
            del f["obs/mask"]
        elif edit == "mask_shape":
            del f["obs/mask"]
            f.create_dataset("obs/mask", data=np.ones((4, 3, 1, 6, 3), bool))
        elif edit == "noise_std":
            f["obs"].attrs["noise_std"] = [0.1, 0.2, 0.3]
    with pytest.raises(DataError, match=message) as info:
        validate(path)
    assert "\n" not in str(info.value)


def test_observations_option_needs_an_observation_group(heat_file):
    with pytest.raises(DataError, match="has no observation group 'obs'; add observations"):
        FieldDataset(heat_file, observations=True)
    with pytest.raises(ConfigError, match="without an observation group"):
        with FieldsWriter(heat_file.parent / "x.h5", 1, (2, 1, 32), [0.0, 1.0], {"x": np.arange(32.0)}, Provenance("t")) as w:
            w.write(np.zeros((1, 2, 1, 32)), obs=np.zeros((1, 2, 1, 32)), obs_mask=np.ones((1, 2, 1, 32), bool), obs_t=[[0.0, 1.0]])
    assert not (heat_file.parent / "x.h5").exists()


def test_observe_fields_noise_free_is_exact_and_noise_has_the_requested_level(tmp_path):
    a, u, x = heat_map_data(n=64, s=32)
    t = np.array([0.0, 1.0])
    src = tmp_path / "heat.h5"
    write_fields(src, u, t, {"x": x}, Provenance("test:heat", {"nu": 0.02}, seed=0), a=a, splits={"train": np.arange(50)})
    clean = observe_fields(src, tmp_path / "clean.h5", fraction=0.3, noise=0.0, seed=5, time_indices=[1])
    noisy = observe_fields(src, tmp_path / "noisy.h5", fraction=0.3, noise=0.1, seed=5, time_indices=[1])
    assert clean != noisy
    with h5py.File(src) as fs, h5py.File(tmp_path / "clean.h5") as fc, h5py.File(tmp_path / "noisy.h5") as fn:
        assert np.array_equal(fc["u"][()], fs["u"][()]) and np.array_equal(fc["a"][()], fs["a"][()])
        assert np.array_equal(fc["splits/train"][()], np.arange(50)) and fc.attrs["generator"] == "test:heat"
        mask = fc["obs/mask"][()]
        assert mask.shape == (64, 1, 1, 32) and np.array_equal(fn["obs/mask"][()], mask)  # same streams
        assert np.array_equal(fc["obs/t"][()], np.ones((64, 1)))
        target = u[:, 1:]
        # noise-free: exactly the field where observed, 0 elsewhere
        assert np.array_equal(fc["obs/values"][()], np.where(mask, target, 0))
        # the mask density: Bernoulli(0.3) over n = 64 * 32 flags, within 4 standard errors
        n_flags = mask.size
        assert abs(mask.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n_flags)
        # noise: sigma = 0.1 * population std of u over the whole file (float64)
        sigma = 0.1 * np.std(u.astype(np.float64))
        np.testing.assert_allclose(fn["obs"].attrs["noise_std"], [sigma], rtol=1e-12)  # streamed vs direct std
        res = (fn["obs/values"][()].astype(np.float64) - target)[mask]
        k = res.size
        # sample std of k Gaussian draws: standard error sigma / sqrt(2 (k - 1)); the mean: sigma / sqrt(k)
        assert abs(res.std(ddof=1) - sigma) < 4 * sigma / np.sqrt(2 * (k - 1))
        assert abs(res.mean()) < 4 * sigma / np.sqrt(k)
        assert fn["obs"].attrs["source_content_sha256"] == validate(src).content_sha256
    ds = FieldDataset(tmp_path / "noisy.h5", "train", observations=True)
    assert len(ds) == 50 and tuple(ds[0]["obs_mask"].shape) == (1, 1, 32)
