"""Datasets over sciml HDF5 files that yield dict batches.

Reads are lazy: each worker opens the file on first access and reads one sample at a
time, so files larger than memory work. Every item is a dict of tensors:

``FieldDataset``  ``x [Cx, *S]``, ``y [Cy, *S]``, ``index`` (and ``grid [d, *S]`` when asked;
    with ``observations=True`` also ``obs [To, C, *S]``, ``obs_mask [To, C or 1, *S]`` bool,
    ``obs_t [To]``)
``TrajectoryDataset``  ``x [context, D]``, ``y [horizon, D]``, ``t [context + horizon]``
``SampleDataset``  ``x [*feature_shape]``, ``y`` (int64 label, or float32 ``[Dy]`` target), ``index``
``ScatteredDataset``  ``x [P, 1 + d]`` (points: time, then coordinates), ``y [P, C]`` (values),
    ``mask [P]`` bool (True = a real point), ``index``

Key names: ``mask`` flags the entries of ``y`` (and of ``x``) that exist; a mask or times of
another key carry its name as prefix (``obs_mask``, ``obs_t`` belong to ``obs``).

Splits: by sample (the file's ``splits`` group, else :func:`split_indices`), and for
trajectories also in time (:func:`time_split_bounds`: a training prefix of every trajectory,
then its continuation for validation and test).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from sciml.core.errors import ConfigError, DataError
from sciml.data.schema import open_h5, samples_layout, scattered_layout

__all__ = [
    "FieldDataset",
    "TrajectoryDataset",
    "SampleDataset",
    "ScatteredDataset",
    "split_indices",
    "time_split_bounds",
    "read_trajectories",
]

_SPLITS = ("train", "val", "test")
_DATASET_FOR_KIND = {
    "fields": "FieldDataset",
    "trajectories": "TrajectoryDataset",
    "samples": "SampleDataset",
    "scattered": "ScatteredDataset",
}


def split_indices(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic random split of ``range(n)`` into train/val/test index arrays.

    >>> {k: len(v) for k, v in split_indices(10).items()}
    {'train': 8, 'val': 1, 'test': 1}
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"split fractions must be three non-negative numbers summing to 1, got {list(fractions)}")
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    return {
        "train": np.sort(perm[:n_train]),
        "val": np.sort(perm[n_train : n_train + n_val]),
        "test": np.sort(perm[n_train + n_val :]),
    }


def _check_fractions(name: str, fractions: Sequence[float]) -> tuple[float, float, float]:
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or any(not np.isfinite(f) or f < 0 for f in values) or abs(sum(values) - 1) > 1e-9:
        raise ConfigError(
            f"{name} must be three non-negative numbers (train, val, test) summing to 1, got {fractions!r}; "
            "e.g. (0.6, 0.2, 0.2)"
        )
    return values  # type: ignore[return-value]


def time_split_bounds(n_times: int, fractions: Sequence[float] = (0.6, 0.2, 0.2)) -> dict[str, tuple[int, int]]:
    """Split the time steps ``0 .. n_times-1`` into a training prefix and its continuation.

    Returns ``{"train": (0, a), "val": (a, b), "test": (b, n_times)}`` (half-open step
    ranges) with ``a = round(fractions[0] * n_times)`` and ``b = a + round(fractions[1] * n_times)``;
    the test segment takes the rest, so the three concatenate to the whole trajectory.

    >>> time_split_bounds(100)
    {'train': (0, 60), 'val': (60, 80), 'test': (80, 100)}
    """
    f = _check_fractions("time_fractions", fractions)
    n = int(n_times)
    a = min(n, int(round(f[0] * n)))
    b = min(n, a + int(round(f[1] * n)))
    return {"train": (0, a), "val": (a, b), "test": (b, n)}


class _LazyH5:
    """A read-only h5py handle on ``self.path`` opened on first use in each process.

    h5py handles must not cross ``fork()`` (DataLoader workers), so the handle is reopened
    when the process id changes and dropped when pickled.
    """

    path: Path
    _file: h5py.File | None = None
    _pid: int | None = None

    @property
    def file(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def _read(self, name: str, index: Any) -> np.ndarray:
        try:
            return self.file[name][index]
        except OSError as exc:
            raise DataError(
                f"{self.path}: checksum mismatch reading '{name}' (sample {index if np.isscalar(index) else index[0]}); "
                "the file is corrupt: regenerate or re-copy it"
            ) from exc

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_file"] = None
        return state

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _AbstractFieldItems(_LazyH5, Dataset):
    """The items of operator learning over any store of fields ``u [N, T, C, *S]``.

    Subclasses set ``path``, ``samples``, ``n_times``, ``channels``, ``spatial_shape``,
    ``times`` and ``coords``, implement ``read_u(sample, times) -> [t, C, *S]`` (``times`` a
    slice) and may implement ``read_input(sample) -> [Ca, *S]`` (an input field ``a``).
    """

    input_field_channels = 0

    def read_input(self, sample: int) -> np.ndarray | None:
        return None

    def _configure_items(
        self, mode: str, target_time: int, input_time: int, history: int, horizon: int, stride: int, return_grid: bool
    ) -> None:
        if mode not in ("map", "window"):
            raise ConfigError(f"unknown {type(self).__name__} mode '{mode}'; use 'map' or 'window'")
        self.mode, self.target_time, self.input_time = mode, target_time, input_time
        self.history, self.horizon, self.stride = int(history), int(horizon), int(stride)
        self.return_grid = return_grid
        if mode == "window":
            span = self.history + self.horizon
            if self.history < 1 or self.horizon < 1 or self.stride < 1:
                raise ConfigError("history, horizon and stride must be >= 1")
            if span > self.n_times:
                raise ConfigError(
                    f"history+horizon={span} exceeds the {self.n_times} time steps in {self.path}; shorten the windows"
                )
            self.starts = np.arange(0, self.n_times - span + 1, self.stride)
        else:
            for name, idx in (("target_time", target_time), ("input_time", input_time)):
                if not -self.n_times <= idx < self.n_times:
                    raise ConfigError(f"{name}={idx} is outside the {self.n_times} time steps of {self.path}")
            self.starts = np.zeros(1, dtype=np.int64)

    @property
    def in_channels(self) -> int:
        if self.mode == "window":
            return self.history * self.channels
        return self.input_field_channels or self.channels

    @property
    def out_channels(self) -> int:
        return self.horizon * self.channels if self.mode == "window" else self.channels

    @property
    def spatial_dims(self) -> int:
        return len(self.spatial_shape)

    def __len__(self) -> int:
        return len(self.samples) * len(self.starts)

    def grid(self) -> torch.Tensor:
        """Coordinates ``[d, *S]`` (float32)."""
        mesh = np.meshgrid(*self.coords, indexing="ij")
        return torch.from_numpy(np.stack(mesh).astype(np.float32))

    def _snapshot(self, sample: int, time: int) -> np.ndarray:
        time = time % self.n_times
        return self.read_u(sample, slice(time, time + 1))[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        sample = int(self.samples[i // len(self.starts)])
        if self.mode == "map":
            x = self.read_input(sample)
            if x is None:
                x = self._snapshot(sample, self.input_time)
            y = self._snapshot(sample, self.target_time)
            item = {"x": torch.from_numpy(np.asarray(x, np.float32)), "y": torch.from_numpy(np.asarray(y, np.float32))}
        else:
            s = int(self.starts[i % len(self.starts)])
            block = np.asarray(self.read_u(sample, slice(s, s + self.history + self.horizon)), np.float32)
            x = block[: self.history].reshape(self.history * self.channels, *self.spatial_shape)
            y = block[self.history :].reshape(self.horizon * self.channels, *self.spatial_shape)
            item = {
                "x": torch.from_numpy(np.ascontiguousarray(x)),
                "y": torch.from_numpy(np.ascontiguousarray(y)),
                "t": torch.from_numpy(np.asarray(self.times[s : s + self.history + self.horizon], np.float32)),
            }
        item["index"] = torch.tensor(sample)
        if self.return_grid:
            item["grid"] = self.grid()
        return item


class _AbstractH5Dataset(_LazyH5, Dataset):
    """Lazy per-process file handle and split handling shared by the datasets.

    Subclasses define ``kind`` and ``_inspect(file) -> number of samples``.
    """

    kind = ""

    def __init__(self, path: str | os.PathLike[str], split: str | None, fractions: Sequence[float], split_seed: int):
        self.path = Path(path)
        if split is not None and split not in _SPLITS:
            raise ConfigError(f"unknown split '{split}'; use one of {', '.join(_SPLITS)} or None for all samples")
        with open_h5(self.path) as f:
            kind = str(f.attrs["kind"])
            if kind != self.kind:
                raise DataError(
                    f"{self.path} holds '{kind}' data but {type(self).__name__} reads '{self.kind}'; "
                    f"use {_DATASET_FOR_KIND.get(kind, 'another dataset')} (data.kind: {kind})"
                )
            self.attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
            self.content_sha256 = self.attrs.get("content_sha256")
            n_total = self._inspect(f)
            if split is None:
                self.samples = np.arange(n_total)
            elif "splits" in f and split in f["splits"]:
                self.samples = np.asarray(f["splits"][split][()], dtype=np.int64)
            else:
                self.samples = split_indices(n_total, fractions, split_seed)[split]
        if len(self.samples) == 0:
            raise DataError(f"split '{split}' of {self.path} is empty; use more samples or other split fractions")
        self.split = split


class FieldDataset(_AbstractH5Dataset, _AbstractFieldItems):
    """Operator-learning samples from a ``fields`` file.

    Parameters
    ----------
    path : path-like
        A sciml ``fields`` file.
    split : {"train", "val", "test"} or None
        Uses the file's ``splits`` group when present, else a deterministic random split.
    mode : {"map", "window"}
        ``"map"``: ``x`` is the input field ``a [Ca, *S]`` (or ``u`` at time ``input_time``
        when the file has no ``a``), ``y`` is ``u`` at ``target_time`` ``[C, *S]``.
        ``"window"``: for autoregressive learning, every window of ``history`` consecutive
        times as ``x [history*C, *S]`` and the next ``horizon`` times as
        ``y [horizon*C, *S]`` (times folded into channels, as in the FNO Navier-Stokes setup).
    target_time, input_time : int
        Time indices for ``"map"`` mode (negative counts from the end).
    history, horizon, stride : int
        Window sizes for ``"window"`` mode; ``stride`` between window starts.
    return_grid : bool
        Add ``grid [d, *S]`` (coordinates) to each item.
    observations : bool
        Add the sample's observations (the file's ``obs`` group, schema version 2) to each
        item: ``obs [To, C, *S]`` float32 (0 where unobserved), ``obs_mask [To, Cm, *S]``
        bool (True = observed; ``Cm`` is C or 1, broadcast over the channels) and
        ``obs_t [To]`` float32. They are the whole sample's observations, also in
        ``"window"`` mode (not cut to the window).
    fractions, split_seed :
        Split used when the file has no ``splits`` group.

    Attributes
    ----------
    has_observations : bool
        Whether the file has an ``obs`` group.
    obs_noise_std : numpy array ``[C]`` or None
        The group attribute ``noise_std``: absolute noise standard deviation per channel.
    """

    kind = "fields"

    def __init__(
        self,
        path: str | os.PathLike[str],
        split: str | None = "train",
        *,
        mode: str = "map",
        target_time: int = -1,
        input_time: int = 0,
        history: int = 1,
        horizon: int = 1,
        stride: int = 1,
        return_grid: bool = False,
        observations: bool = False,
        fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
    ):
        super().__init__(path, split, fractions, split_seed)
        self._configure_items(mode, target_time, input_time, history, horizon, stride, return_grid)
        self.observations = bool(observations)
        if self.observations and not self.has_observations:
            raise DataError(
                f"{self.path} has no observation group 'obs'; add observations (sciml.data.observe_fields, "
                "FieldsWriter(obs_shape=...)) or drop observations=True"
            )

    def _inspect(self, f: h5py.File) -> int:
        u = f["u"]
        self.n_times, self.channels = int(u.shape[1]), int(u.shape[2])
        self.spatial_shape = tuple(int(s) for s in u.shape[3:])
        self.has_input_field = "a" in f
        self.input_field_channels = int(f["a"].shape[1]) if self.has_input_field else 0
        self.times = f["t"][()]
        self.has_observations = "obs" in f
        self.obs_noise_std = (
            np.asarray(f["obs"].attrs["noise_std"], dtype=np.float64).reshape(-1) if self.has_observations else None
        )
        order = json.loads(f["coords"].attrs.get("order", "[]")) if "coords" in f else []
        self.coords = (
            [f["coords"][k][()] for k in order]
            if order
            else [np.linspace(0, 1, s, endpoint=False) for s in self.spatial_shape]
        )
        return int(u.shape[0])

    def read_u(self, sample: int, times: slice) -> np.ndarray:
        """``u [t, C, *S]`` of file sample ``sample`` (not a split position)."""
        return self._read("u", (sample, times))

    def read_input(self, sample: int) -> np.ndarray | None:
        return self._read("a", sample) if self.has_input_field else None

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = super().__getitem__(i)
        if self.observations:
            sample = int(item["index"])
            item["obs"] = torch.from_numpy(np.asarray(self._read("obs/values", sample), np.float32))
            item["obs_mask"] = torch.from_numpy(np.asarray(self._read("obs/mask", sample), np.bool_))
            item["obs_t"] = torch.from_numpy(np.asarray(self._read("obs/t", sample), np.float32))
        return item


class TrajectoryDataset(_AbstractH5Dataset):
    """Windows of trajectories from a ``trajectories`` file, split by sample or in time.

    Parameters
    ----------
    path : path-like
    split : {"train", "val", "test"} or None
        None: every trajectory, every time step.
    context, horizon : int or None
        With both None, each item is a whole trajectory (or, split in time, the split's
        segment of it): ``x [L, D]``, ``t [L]``. Otherwise every window of ``context``
        states (``x [context, D]``) followed by ``horizon`` states (``y [horizon, D]``),
        with their times ``t [context + horizon]``.
    stride : int
        Step between window starts (from the first step a window may start at).
    fractions, split_seed :
        Split by sample (``split_by="sample"``) used when the file has no ``splits`` group.
    split_by : {"sample", "time"}
        ``"sample"``: each split holds whole trajectories. ``"time"``: every trajectory is
        in every split; the splits are consecutive segments of its time steps
        (:func:`time_split_bounds` of ``time_fractions``): train on a prefix, validate and
        test on its continuation (forecasting).
    time_fractions : three floats summing to 1
        Fractions of the time steps for train, val, test when ``split_by="time"``.
    context_from_previous : bool
        Split in time, windows of val/test may take their context from the end of the
        previous segment: only the ``horizon`` targets must lie inside the split. With
        False (the default), whole windows lie inside the split, so its first ``context``
        steps are never targets. Ignored for whole trajectories and ``split_by="sample"``.

    Attributes
    ----------
    segment : tuple of int
        ``(lo, hi)``: the half-open step range of this split (``(0, T)`` unless split in time).
    starts : numpy array
        Window start steps (the same for every trajectory); windows cover ``s .. s + context + horizon - 1``.
    """

    kind = "trajectories"

    def __init__(
        self,
        path: str | os.PathLike[str],
        split: str | None = "train",
        *,
        context: int | None = None,
        horizon: int | None = None,
        stride: int = 1,
        fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        split_by: str = "sample",
        time_fractions: Sequence[float] = (0.6, 0.2, 0.2),
        context_from_previous: bool = False,
    ):
        if split_by not in ("sample", "time"):
            raise ConfigError(
                f"unknown split_by '{split_by}'; use 'sample' (whole trajectories per split) or 'time' "
                "(a training prefix of every trajectory, its continuation for val and test)"
            )
        if split is not None and split not in _SPLITS:
            raise ConfigError(f"unknown split '{split}'; use one of {', '.join(_SPLITS)} or None for all samples")
        if split_by == "time":
            _check_fractions("time_fractions", time_fractions)
        if int(stride) < 1:
            raise ConfigError(f"stride must be >= 1, got {stride}")
        super().__init__(path, split if split_by == "sample" else None, fractions, split_seed)
        self.split, self.split_by = split, split_by
        self.context, self.horizon, self.stride = context, horizon, int(stride)
        self.context_from_previous = bool(context_from_previous)
        if (context is None) != (horizon is None):
            raise ConfigError("give both context and horizon, or neither for whole trajectories")
        lo, hi = 0, self.n_times
        if split_by == "time":
            self.time_bounds = time_split_bounds(self.n_times, time_fractions)
            if split is not None:
                lo, hi = self.time_bounds[split]
            if hi <= lo:
                raise ConfigError(
                    f"the '{split}' time segment is empty: time_fractions={list(time_fractions)} of {self.n_times} steps; "
                    "give it a larger fraction"
                )
        self.segment = (lo, hi)
        if context is None:
            self.starts = np.array([lo], dtype=np.int64)
            self._span = hi - lo
        else:
            span = int(context) + int(horizon)
            if context < 1 or horizon < 1:
                raise ConfigError(f"context and horizon must be >= 1, got context={context}, horizon={horizon}")
            first = max(0, lo - int(context)) if split_by == "time" and self.context_from_previous else lo
            if first + span > hi:
                if split_by == "sample":
                    raise ConfigError(
                        f"context={context}, horizon={horizon} do not fit the {self.n_times} time steps of {self.path}"
                    )
                raise ConfigError(
                    f"context={context}, horizon={horizon} do not fit the '{split}' time segment (steps {lo}..{hi - 1}) "
                    f"of {self.path}; shorten the windows, change time_fractions or pass context_from_previous=True"
                )
            self.starts = np.arange(first, hi - span + 1, self.stride)
            self._span = span

    def _inspect(self, f: h5py.File) -> int:
        x = f["x"]
        self.n_times, self.dim = int(x.shape[1]), int(x.shape[2])
        self.shared_times = f["t"].ndim == 1
        self.times = f["t"][()] if self.shared_times else None
        return int(x.shape[0])

    def __len__(self) -> int:
        return len(self.samples) * len(self.starts)

    def segments(self, batch_size: int = 64):
        """Yield this split's trajectories without windows: float64 ``[B, hi - lo, D]`` arrays.

        Each trajectory once (windows overlap), without borrowed context: what normalizers
        are fitted on (:func:`~sciml.data.transforms.fit_trajectory_normalizer`).
        """
        lo, hi = self.segment
        for start in range(0, len(self.samples), int(batch_size)):
            rows = [self._read("x", (int(n), slice(lo, hi))) for n in self.samples[start : start + int(batch_size)]]
            yield np.stack(rows).astype(np.float64)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        sample = int(self.samples[i // len(self.starts)])
        s = int(self.starts[i % len(self.starts)])
        span = self._span
        x = np.asarray(self._read("x", (sample, slice(s, s + span))), np.float32)
        t = self.times[s : s + span] if self.shared_times else self._read("t", (sample, slice(s, s + span)))
        item = {"t": torch.from_numpy(np.asarray(t, np.float32)), "index": torch.tensor(sample)}
        if self.context is None:
            item["x"] = torch.from_numpy(x)
        else:
            item["x"] = torch.from_numpy(np.ascontiguousarray(x[: self.context]))
            item["y"] = torch.from_numpy(np.ascontiguousarray(x[self.context :]))
        return item


def read_trajectories(
    path: str | os.PathLike[str],
    split: str | None = None,
    *,
    split_by: str = "sample",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    split_seed: int = 0,
    time_fractions: Sequence[float] = (0.6, 0.2, 0.2),
) -> dict[str, Any]:
    """Read a split of a ``trajectories`` file into memory, as stored (no windows, no float32 cast).

    The same split logic as :class:`TrajectoryDataset` (by sample, or in time); the raw
    reader under :func:`sciml.data.load_trajectories`.

    Returns
    -------
    dict
        ``x`` ``[n, L, D]`` (file dtype), ``t`` ``[L]`` (shared times) or ``[n, L]``,
        ``index`` int64 ``[n]`` (file sample numbers, split order) and ``segment``
        ``(lo, hi)``, the step range (``L = hi - lo``).
    """
    ds = TrajectoryDataset(
        path, split, fractions=fractions, split_seed=split_seed, split_by=split_by, time_fractions=time_fractions
    )
    try:
        lo, hi = ds.segment
        x = np.stack([ds._read("x", (int(n), slice(lo, hi))) for n in ds.samples])
        t = ds.times[lo:hi] if ds.shared_times else np.stack([ds._read("t", (int(n), slice(lo, hi))) for n in ds.samples])
        return {"x": x, "t": np.asarray(t), "index": np.asarray(ds.samples, np.int64), "segment": (lo, hi)}
    finally:
        ds.close()


class SampleDataset(_AbstractH5Dataset):
    """Independent samples (feature vectors, images) with a class label or a target vector.

    Reads a ``samples`` file: each item is ``{"x": [*feature_shape] float32, "y": label,
    "index"}`` where ``y`` is an int64 scalar (classification; the DataLoader stacks labels
    to ``[batch]``) or a float32 ``[Dy]`` vector (regression).

    Parameters
    ----------
    path : path-like
        A sciml ``samples`` file.
    split : {"train", "val", "test"} or None
        Uses the file's ``splits`` group when present, else a deterministic random split.
    flatten : bool
        Give ``x`` as a flat vector ``[prod(feature_shape)]`` (images into MLP models).
    fractions, split_seed :
        Split used when the file has no ``splits`` group.

    Attributes
    ----------
    feature_shape : tuple of int
        Shape of one ``x`` as stored.
    in_features : int
        ``prod(feature_shape)``: the length of a flat ``x``.
    classes : int or None
        Number of classes (None for regression).
    class_names : list of str or None
    target_dim : int or None
        ``Dy`` of regression targets (None for classification).
    """

    kind = "samples"

    def __init__(
        self,
        path: str | os.PathLike[str],
        split: str | None = "train",
        *,
        flatten: bool = False,
        fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
    ):
        super().__init__(path, split, fractions, split_seed)
        self.flatten = bool(flatten)

    def _inspect(self, f: h5py.File) -> int:
        layout = samples_layout(f, self.path)
        self.feature_shape = layout["feature_shape"]
        self.in_features = int(np.prod(self.feature_shape))
        self.classes, self.target_dim = layout["classes"], layout["target_dim"]
        self.class_names = layout["class_names"]
        return int(f["x"].shape[0])

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return "classification" if self.classes is not None else "regression"

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        sample = int(self.samples[i])
        x = np.asarray(self._read("x", sample), np.float32)
        if self.flatten:
            x = x.reshape(-1)
        y = self._read("y", sample)
        if self.classes is not None:
            label = int(y)
            if not 0 <= label < self.classes:
                raise DataError(
                    f"{self.path}: label {label} at sample {sample} is outside 0..{self.classes - 1}; "
                    "fix the labels or the 'classes' attribute (sciml data info checks every label)"
                )
            target = torch.tensor(label, dtype=torch.int64)
        else:
            target = torch.from_numpy(np.asarray(y, np.float32))
        return {"x": torch.from_numpy(np.ascontiguousarray(x)), "y": target, "index": torch.tensor(sample)}


class ScatteredDataset(_AbstractH5Dataset):
    """Scattered observations: values at arbitrary space-time points, one set per sample.

    Reads a ``scattered`` file (schema version 2). Each item is ``{"x": points [P, 1 + d]
    float32 (time in column 0, then the coordinates), "y": values [P, C] float32,
    "mask": [P] bool (True = a real point; all True unless the file is ragged), "index"}``.

    Parameters
    ----------
    path : path-like
        A sciml ``scattered`` file (e.g. written by :func:`sciml.data.observe`).
    split : {"train", "val", "test"} or None
        Uses the file's ``splits`` group when present (``observe`` copies the source
        file's), else a deterministic random split: the same samples as the other
        datasets over a file of as many samples.
    fractions, split_seed :
        Split used when the file has no ``splits`` group.

    Attributes
    ----------
    n_points, dim, channels : int
        P, d and C.
    in_features : int
        ``1 + d``: the columns of ``x``.
    coords_names : list of str
        Names of the d coordinates (columns 1 .. d of ``x``).
    bounds : numpy array ``[1 + d, 2]``
        Low and high of time and each coordinate.
    noise_std : numpy array ``[C]``
        Absolute standard deviation of the noise in ``y`` per channel.
    source : dict
        What the values were sampled from (file, ``content_sha256``, generator).
    ragged : bool
        Whether the file has a ``mask``.
    """

    kind = "scattered"

    def __init__(
        self,
        path: str | os.PathLike[str],
        split: str | None = "train",
        *,
        fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
    ):
        super().__init__(path, split, fractions, split_seed)

    def _inspect(self, f: h5py.File) -> int:
        layout = scattered_layout(f, self.path)
        self.n_points, self.dim, self.channels = layout["n_points"], layout["dim"], layout["channels"]
        self.in_features = 1 + self.dim
        self.coords_names, self.bounds = layout["coords_names"], layout["bounds"]
        self.noise_std, self.source, self.ragged = layout["noise_std"], layout["source"], layout["ragged"]
        return int(f["points"].shape[0])

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        sample = int(self.samples[i])
        points = np.asarray(self._read("points", sample), np.float32)
        values = np.asarray(self._read("values", sample), np.float32)
        mask = np.asarray(self._read("mask", sample), np.bool_) if self.ragged else np.ones(self.n_points, np.bool_)
        return {
            "x": torch.from_numpy(points),
            "y": torch.from_numpy(values),
            "mask": torch.from_numpy(mask),
            "index": torch.tensor(sample),
        }
