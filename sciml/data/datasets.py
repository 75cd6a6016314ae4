"""Datasets over sciml HDF5 files that yield dict batches.

Reads are lazy: each worker opens the file on first access and reads one sample at a
time, so files larger than memory work. Every item is a dict of tensors:

``FieldDataset``  ``x [Cx, *S]``, ``y [Cy, *S]``, ``index`` (and ``grid [d, *S]`` when asked)
``TrajectoryDataset``  ``x [context, D]``, ``y [horizon, D]``, ``t [context + horizon]``
``SampleDataset``  ``x [*feature_shape]``, ``y`` (int64 label, or float32 ``[Dy]`` target), ``index``
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

from sciml.data.schema import open_h5, samples_layout
from sciml.errors import ConfigError, DataError

__all__ = ["FieldDataset", "TrajectoryDataset", "SampleDataset", "split_indices"]

_SPLITS = ("train", "val", "test")
_DATASET_FOR_KIND = {"fields": "FieldDataset", "trajectories": "TrajectoryDataset", "samples": "SampleDataset"}


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
    fractions, split_seed :
        Split used when the file has no ``splits`` group.
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
        fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
    ):
        super().__init__(path, split, fractions, split_seed)
        self._configure_items(mode, target_time, input_time, history, horizon, stride, return_grid)

    def _inspect(self, f: h5py.File) -> int:
        u = f["u"]
        self.n_times, self.channels = int(u.shape[1]), int(u.shape[2])
        self.spatial_shape = tuple(int(s) for s in u.shape[3:])
        self.has_input_field = "a" in f
        self.input_field_channels = int(f["a"].shape[1]) if self.has_input_field else 0
        self.times = f["t"][()]
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


class TrajectoryDataset(_AbstractH5Dataset):
    """Windows of trajectories from a ``trajectories`` file.

    Parameters
    ----------
    path : path-like
    split : {"train", "val", "test"} or None
    context, horizon : int or None
        With both None, each item is a whole trajectory: ``x [T, D]``, ``t [T]``.
        Otherwise every window of ``context`` states (``x [context, D]``) followed by
        ``horizon`` states (``y [horizon, D]``), with their times ``t``.
    stride : int
        Step between window starts.
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
    ):
        super().__init__(path, split, fractions, split_seed)
        self.context, self.horizon, self.stride = context, horizon, int(stride)
        if (context is None) != (horizon is None):
            raise ConfigError("give both context and horizon, or neither for whole trajectories")
        if context is None:
            self.starts = np.zeros(1, dtype=np.int64)
        else:
            span = int(context) + int(horizon)
            if context < 1 or horizon < 1 or span > self.n_times:
                raise ConfigError(
                    f"context={context}, horizon={horizon} do not fit the {self.n_times} time steps of {self.path}"
                )
            self.starts = np.arange(0, self.n_times - span + 1, self.stride)

    def _inspect(self, f: h5py.File) -> int:
        x = f["x"]
        self.n_times, self.dim = int(x.shape[1]), int(x.shape[2])
        self.shared_times = f["t"].ndim == 1
        self.times = f["t"][()] if self.shared_times else None
        return int(x.shape[0])

    def __len__(self) -> int:
        return len(self.samples) * len(self.starts)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        sample = int(self.samples[i // len(self.starts)])
        s = int(self.starts[i % len(self.starts)])
        span = self.n_times if self.context is None else self.context + self.horizon
        x = np.asarray(self._read("x", (sample, slice(s, s + span))), np.float32)
        t = self.times[s : s + span] if self.shared_times else self._read("t", (sample, slice(s, s + span)))
        item = {"t": torch.from_numpy(np.asarray(t, np.float32)), "index": torch.tensor(sample)}
        if self.context is None:
            item["x"] = torch.from_numpy(x)
        else:
            item["x"] = torch.from_numpy(np.ascontiguousarray(x[: self.context]))
            item["y"] = torch.from_numpy(np.ascontiguousarray(x[self.context :]))
        return item


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
