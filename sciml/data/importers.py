"""Read PDEBench and The Well HDF5 files in place, as datasets of sciml dict items.

:func:`open_dataset` returns an :class:`ImportedFieldDataset`, which yields exactly the items
of :class:`~sciml.data.datasets.FieldDataset` (``x``, ``y``, ``index``, plus ``t`` in window
mode and ``grid`` on request) without copying the file; :func:`convert_to_sciml` writes the
same data as a sciml ``fields`` file, so ``FieldDataset(converted)`` gives identical items.

Layouts read (every sample becomes ``u [T, C, *S]``):

``pdebench1d``
    Datasets ``tensor [N, T, X]`` (one channel), ``x-coordinate [X]``, ``t-coordinate``
    (``[T]``, or ``[T+1]`` as in several PDEBench 1D files, of which the first T are used).
``pdebench2d``
    One group per seed, ``"0000"``, ``"0001"``, ..., each with ``data [T, X, Y, C]`` and
    ``grid/x [X]``, ``grid/y [Y]``, ``grid/t [T]`` (times of the first group are used).
``the_well``
    Groups ``t0_fields`` (scalars ``[n_traj, T, *S]``), ``t1_fields`` (vectors
    ``[n_traj, T, *S, d]``), ``t2_fields`` (tensors ``[n_traj, T, *S, d, d]``);
    ``dimensions/time [T]`` and one ``dimensions/<axis>`` per spatial axis; file attributes
    ``n_spatial_dims`` and ``dataset_name``; ``boundary_conditions`` is recorded when present.
    Channels are the t0 fields, then every component of the t1 fields, then of the t2
    fields, each group in its ``field_names`` attribute's order (else sorted). A field
    whose attribute ``sample_varying`` / ``time_varying`` is false lacks that axis and is
    broadcast.

A file missing a key of its layout gives a one-line :class:`~sciml.core.errors.DataError` naming
the key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciml.core.errors import ConfigError, DataError
from sciml.data.datasets import _AbstractFieldItems, split_indices
from sciml.data.schema import FieldsWriter, Provenance

__all__ = ["FORMATS", "ImportedFieldDataset", "open_dataset", "detect_format", "convert_to_sciml"]

FORMATS = ("pdebench1d", "pdebench2d", "the_well")
_SPLITS = ("train", "val", "test")
_AXES = ("x", "y", "z")


def _open(path: Path) -> h5py.File:
    if not path.exists():
        raise DataError(f"data file not found: {path}; check the path")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path} cannot be opened as HDF5 ({str(exc).splitlines()[0]}); check the file") from None


def _require(f: h5py.File | h5py.Group, key: str, path: Path, fmt: str) -> Any:
    if key not in f:
        where = f.name.strip("/")
        full = f"{where}/{key}" if where else key
        raise DataError(f"{path}: no '{full}' in this file, which the {fmt} layout requires; is it a {fmt} file?")
    return f[key]


def _seed_groups(f: h5py.File) -> list[str]:
    return sorted(k for k in f if k.isdigit() and isinstance(f[k], h5py.Group))


def detect_format(path: str | os.PathLike[str]) -> str:
    """Which of :data:`FORMATS` the file at ``path`` follows (from its keys)."""
    p = Path(path)
    with _open(p) as f:
        if "tensor" in f:
            return "pdebench1d"
        if any(g in f for g in ("t0_fields", "t1_fields", "t2_fields")) or "n_spatial_dims" in f.attrs:
            return "the_well"
        if _seed_groups(f):
            return "pdebench2d"
    raise DataError(
        f"{p}: layout not recognized (no 'tensor', no 't0_fields', no seed groups '0000'...); "
        f"pass format= one of {', '.join(FORMATS)}"
    )


class _Layout:
    """Geometry of a file and a reader ``read(f, sample, times) -> [len(times), C, *S]``."""

    def __init__(self, path: Path, fmt: str, f: h5py.File):
        self.path, self.format = path, fmt
        self.meta: dict[str, Any] = {}
        getattr(self, f"_inspect_{fmt}")(f)

    # --- PDEBench 1D
    def _inspect_pdebench1d(self, f: h5py.File) -> None:
        tensor = _require(f, "tensor", self.path, "pdebench1d")
        x = _require(f, "x-coordinate", self.path, "pdebench1d")[()]
        t = _require(f, "t-coordinate", self.path, "pdebench1d")[()]
        if tensor.ndim != 3:
            raise DataError(f"{self.path}: 'tensor' has shape {tensor.shape}, the pdebench1d layout needs [N, T, X]")
        n, n_t, n_x = tensor.shape
        if len(t) < n_t or len(x) != n_x:
            raise DataError(
                f"{self.path}: 't-coordinate' ({len(t)}) / 'x-coordinate' ({len(x)}) do not fit 'tensor' {tensor.shape}"
            )
        self.n_samples, self.n_times, self.channels = n, n_t, 1
        self.spatial_shape = (n_x,)
        self.times = np.asarray(t[:n_t], dtype=np.float64)
        self.coords = {"x": np.asarray(x, dtype=np.float64)}
        self.channel_names = ["u"]

    def _read_pdebench1d(self, f: h5py.File, sample: int, times: slice | int) -> np.ndarray:
        block = np.asarray(f["tensor"][sample, times])
        return block.reshape(-1, 1, *self.spatial_shape)

    # --- PDEBench 2D
    def _inspect_pdebench2d(self, f: h5py.File) -> None:
        groups = _seed_groups(f)
        if not groups:
            raise DataError(f"{self.path}: no seed group '0000' in this file, which the pdebench2d layout requires")
        first = f[groups[0]]
        data = _require(first, "data", self.path, "pdebench2d")
        grid = _require(first, "grid", self.path, "pdebench2d")
        gx = _require(grid, "x", self.path, "pdebench2d")[()]
        gy = _require(grid, "y", self.path, "pdebench2d")[()]
        gt = _require(grid, "t", self.path, "pdebench2d")[()]
        if data.ndim != 4:
            raise DataError(f"{self.path}: '{groups[0]}/data' has shape {data.shape}, pdebench2d needs [T, X, Y, C]")
        n_t, n_x, n_y, n_c = data.shape
        if len(gx) != n_x or len(gy) != n_y or len(gt) < n_t:
            raise DataError(f"{self.path}: grid/x, grid/y, grid/t of '{groups[0]}' do not fit data {data.shape}")
        for g in groups[1:]:
            other = _require(f[g], "data", self.path, "pdebench2d")
            if other.shape != data.shape:
                raise DataError(f"{self.path}: '{g}/data' has shape {other.shape}, '{groups[0]}/data' {data.shape}")
        self.groups = groups
        self.n_samples, self.n_times, self.channels = len(groups), n_t, n_c
        self.spatial_shape = (n_x, n_y)
        self.times = np.asarray(gt[:n_t], dtype=np.float64)
        self.coords = {"x": np.asarray(gx, dtype=np.float64), "y": np.asarray(gy, dtype=np.float64)}
        self.channel_names = [f"c{i}" for i in range(n_c)]

    def _read_pdebench2d(self, f: h5py.File, sample: int, times: slice | int) -> np.ndarray:
        block = np.asarray(f[self.groups[sample]]["data"][times])
        block = block.reshape(-1, *block.shape[-3:])
        return np.moveaxis(block, -1, 1)

    # --- The Well
    def _inspect_the_well(self, f: h5py.File) -> None:
        fmt = "the_well"
        n_dims = f.attrs.get("n_spatial_dims")
        if n_dims is None:
            raise DataError(f"{self.path}: no file attribute 'n_spatial_dims', which the the_well layout requires")
        n_dims = int(n_dims)
        dims = _require(f, "dimensions", self.path, fmt)
        t = _require(dims, "time", self.path, fmt)[()]
        order = dims.attrs.get("spatial_dims")
        axes = (
            [str(a.decode() if isinstance(a, bytes) else a) for a in order]
            if order is not None
            else list(_AXES[:n_dims])
        )
        if len(axes) != n_dims:
            raise DataError(f"{self.path}: dimensions/spatial_dims lists {axes}, n_spatial_dims is {n_dims}")
        self.coords = {a: np.asarray(_require(dims, a, self.path, fmt)[()], dtype=np.float64) for a in axes}
        self.spatial_shape = tuple(len(v) for v in self.coords.values())
        self.fields: list[tuple[str, int]] = []  # (dataset path, tensor order)
        names = []
        n_traj = None
        for order_, group_name in enumerate(("t0_fields", "t1_fields", "t2_fields")):
            group = _require(f, group_name, self.path, fmt)
            listed = group.attrs.get("field_names")
            keys = (
                [str(k.decode() if isinstance(k, bytes) else k) for k in listed]
                if listed is not None
                else sorted(group)
            )
            for key in keys:
                ds = _require(group, key, self.path, fmt)
                sample_varying = bool(ds.attrs.get("sample_varying", True))
                time_varying = bool(ds.attrs.get("time_varying", True))
                expected = (
                    ((None,) if sample_varying else ())
                    + ((len(t),) if time_varying else ())
                    + self.spatial_shape
                    + (n_dims,) * order_
                )
                if ds.ndim != len(expected) or any(e is not None and e != s for e, s in zip(expected, ds.shape)):
                    raise DataError(f"{self.path}: '{group_name}/{key}' has shape {ds.shape}, expected {expected}")
                if sample_varying:
                    if n_traj is not None and ds.shape[0] != n_traj:
                        raise DataError(
                            f"{self.path}: '{group_name}/{key}' has {ds.shape[0]} trajectories, others {n_traj}"
                        )
                    n_traj = int(ds.shape[0])
                self.fields.append((f"{group_name}/{key}", order_))
                comps = [""] if order_ == 0 else (list(axes) if order_ == 1 else [a + b for a in axes for b in axes])
                names += [f"{key}_{c}" if c else key for c in comps]
        if not self.fields:
            raise DataError(f"{self.path}: t0_fields, t1_fields and t2_fields are all empty; no data to read")
        if n_traj is None:
            n_traj = 1
        self.n_samples, self.n_times, self.channels = n_traj, len(t), len(names)
        self.times = np.asarray(t, dtype=np.float64).reshape(-1)
        self.channel_names = names
        self.meta["dataset_name"] = str(f.attrs.get("dataset_name", ""))
        if "boundary_conditions" in f:
            bcs = {}
            for k, g in f["boundary_conditions"].items():
                bcs[k] = {a: (v.decode() if isinstance(v, bytes) else v) for a, v in g.attrs.items()}
            self.meta["boundary_conditions"] = json.loads(json.dumps(bcs, default=str))

    def _read_the_well(self, f: h5py.File, sample: int, times: slice | int) -> np.ndarray:
        t_index = np.arange(self.n_times)[times]
        t_index = np.atleast_1d(t_index)
        parts = []
        for name, _ in self.fields:
            ds = f[name]
            sample_varying = bool(ds.attrs.get("sample_varying", True))
            time_varying = bool(ds.attrs.get("time_varying", True))
            block = ds[sample] if sample_varying else ds[()]
            if time_varying:
                block = np.asarray(block[t_index[0] : t_index[-1] + 1])
            else:
                block = np.broadcast_to(np.asarray(block), (len(t_index), *np.shape(block)))
            block = block.reshape(len(t_index), *self.spatial_shape, -1)  # components last
            parts.append(np.moveaxis(block, -1, 1))
        return np.concatenate(parts, axis=1)

    def read(self, f: h5py.File, sample: int, times: slice | int) -> np.ndarray:
        """``u`` of one sample at ``times`` (an int or a contiguous slice): ``[t, C, *S]``."""
        try:
            return getattr(self, f"_read_{self.format}")(f, sample, times)
        except OSError as exc:
            raise DataError(
                f"{self.path}: cannot read sample {sample} ({str(exc).splitlines()[0]}); the file is corrupt"
            ) from None


class ImportedFieldDataset(_AbstractFieldItems):
    """A PDEBench or The Well file read in place, with the items of :class:`FieldDataset`.

    Parameters
    ----------
    path : path-like
    format : {"auto", "pdebench1d", "pdebench2d", "the_well"}
    split : {"train", "val", "test"} or None
        Deterministic random split (:func:`~sciml.data.datasets.split_indices`), the same
        that :class:`FieldDataset` uses on a converted file without ``splits``.
    mode : {"map", "window"}
        ``"map"``: ``x = u[input_time] [C, *S]``, ``y = u[target_time] [C, *S]`` (first
        time to last time by default). ``"window"``: ``x [history*C, *S]``,
        ``y [horizon*C, *S]`` and ``t [history+horizon]`` for every window.
    target_time, input_time, history, horizon, stride, return_grid, fractions, split_seed :
        As in :class:`FieldDataset`.

    Attributes
    ----------
    n_times, channels, spatial_shape, times, coords, channel_names, format, meta
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        format: str = "auto",
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
        self.path = Path(path)
        if format == "auto":
            format = detect_format(self.path)
        if format not in FORMATS:
            raise ConfigError(f"unknown import format '{format}'; use one of auto, {', '.join(FORMATS)}")
        if split is not None and split not in _SPLITS:
            raise ConfigError(f"unknown split '{split}'; use one of {', '.join(_SPLITS)} or None for all samples")
        with _open(self.path) as f:
            self.layout = _Layout(self.path, format, f)
        lay = self.layout
        self.format = format
        self.n_times, self.channels, self.spatial_shape = lay.n_times, lay.channels, lay.spatial_shape
        self.times, self.channel_names, self.meta = lay.times, lay.channel_names, lay.meta
        self.coords = list(lay.coords.values())
        self.coord_names = list(lay.coords)
        self.samples = (
            np.arange(lay.n_samples) if split is None else split_indices(lay.n_samples, fractions, split_seed)[split]
        )
        if len(self.samples) == 0:
            raise DataError(f"split '{split}' of {self.path} is empty; use more samples or other split fractions")
        self.split = split
        self._configure_items(mode, target_time, input_time, history, horizon, stride, return_grid)

    def read_u(self, sample: int, times: slice | int = slice(None)) -> np.ndarray:
        """``u [t, C, *S]`` of file sample ``sample`` (not a split position)."""
        return self.layout.read(self.file, int(sample), times)


def open_dataset(path: str | os.PathLike[str], format: str = "auto", split: str | None = "train", **kwargs: Any):
    """Open a PDEBench or The Well file in place; see :class:`ImportedFieldDataset`."""
    return ImportedFieldDataset(path, format, split, **kwargs)


def convert_to_sciml(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], format: str = "auto", *, batch_size: int = 16
) -> str:
    """Write ``src`` (PDEBench or The Well) as a sciml ``fields`` file ``dst``.

    ``u [N, T, C, *S]`` (float32, as the datasets read it), ``t``, ``coords/x``...;
    provenance generator ``"import:<format>"`` with the source path, dataset name, channel
    names and boundary conditions. Returns ``content_sha256``.
    """
    ds = ImportedFieldDataset(src, format, None)
    try:
        lay = ds.layout
        params = {
            "source": str(Path(src).resolve()),
            "source_format": ds.format,
            "channels": ds.channel_names,
            **ds.meta,
        }
        provenance = Provenance(f"import:{ds.format}", params=params, seed=0, solver={"method": "imported"})
        n = lay.n_samples
        u_shape = (lay.n_times, lay.channels, *lay.spatial_shape)
        with FieldsWriter(dst, n, u_shape, lay.times, lay.coords, provenance) as writer:
            for start in range(0, n, batch_size):
                stop = min(n, start + batch_size)
                writer.write(np.stack([ds.read_u(i).astype(np.float32) for i in range(start, stop)]))
            return writer.close()
    finally:
        ds.close()
