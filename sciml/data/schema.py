"""The sciml HDF5 schema (version 2; version 1 files still read): write atomically, open, validate.

Four kinds of files:

``fields``
    ``u`` float32 ``[N, T, C, *S]`` (T=1 for steady problems); optional ``a``
    ``[N, Ca, *S]`` input fields; ``coords/x``, ``coords/y``, ... (1-D grids, one per
    spatial axis); ``t`` ``[T]``; optional ``params`` ``[N, P]`` with names in its
    attribute ``names`` (JSON). Optional (version 2) observation group ``obs/``:
    ``obs/values`` float32 ``[N, To, C, *S]`` (unobserved entries hold 0), ``obs/mask``
    bool ``[N, To, C, *S]`` or ``[N, To, 1, *S]`` (one flag shared by the channels),
    ``obs/t`` float64 ``[N, To]`` (strictly increasing, inside ``t[0] .. t[-1]``); group
    attributes ``noise_std`` float64 ``[C]`` and ``source`` (the dataset holding the clean
    field: ``"u"``).
``trajectories``
    ``x`` float ``[N, T, D]``; ``t`` ``[T]`` or ``[N, T]``; attributes ``system``,
    ``dt``, ``lyapunov_max``, ``dominant_period`` where known.
``samples``
    ``x`` float32 ``[N, *feature_shape]`` (one feature vector, image, ... per sample) and
    ``y``: int64 ``[N]`` class labels (file attribute ``classes`` = number of classes,
    optional ``class_names``, a JSON list) or float32 ``[N, Dy]`` regression targets.
``scattered`` (version 2)
    Values at arbitrary space-time points: ``points`` float64 ``[N, P, 1 + d]`` (time in
    column 0, then the d coordinates), ``values`` float32 ``[N, P, C]``, optional ``mask``
    bool ``[N, P]`` (ragged point counts: padded points hold 0 and are masked out);
    attributes ``coords_names`` (JSON list of the d coordinate names), ``bounds`` float64
    ``[1 + d, 2]`` (low, high of time and each coordinate), ``noise_std`` float64 ``[C]``
    and ``source`` (JSON: the clean file or generator the values were sampled from, with
    its ``content_sha256``).

File attributes: ``sciml_schema``, ``kind``, ``generator``, ``params`` (JSON), ``seed``,
``sciml_version``, ``created_utc``, ``solver`` (JSON) and ``content_sha256`` (SHA-256 of
the data arrays in a fixed order: the same recipe and seed give the same value, whatever
the creation time). Optional ``splits/train|val|test`` index arrays. Per-sample chunks
carry the fletcher32 checksum, so a flipped byte is detected on read.

Version policy: a writer stamps the lowest version that describes its file: 2 for a
``scattered`` file or a ``fields`` file with an ``obs/`` group, 1 otherwise (so files of the
version-1 layout, and their ``content_sha256``, are unchanged). Readers accept versions 1
and 2 (:data:`READABLE_SCHEMA_VERSIONS`).

Writers stream samples in batches into a temporary file and rename it at the end, so a
killed generator leaves no half-written file under the final name.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciml._version import __version__
from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.core.io import atomic_path

__all__ = [
    "SCHEMA_VERSION",
    "READABLE_SCHEMA_VERSIONS",
    "Provenance",
    "FieldsWriter",
    "TrajectoriesWriter",
    "SamplesWriter",
    "ScatteredWriter",
    "write_fields",
    "write_trajectories",
    "write_samples",
    "write_scattered",
    "open_h5",
    "validate",
    "content_checksum",
    "FileInfo",
]

SCHEMA_VERSION = 2
"""The newest schema version; writers stamp the lowest version that describes a file (see the module docstring)."""
READABLE_SCHEMA_VERSIONS = (1, 2)
_KINDS = ("fields", "trajectories", "samples", "scattered")
_REQUIRED = {
    "fields": ("u", "t"),
    "trajectories": ("x", "t"),
    "samples": ("x", "y"),
    "scattered": ("points", "values"),
}
_MIN_VERSION = {"scattered": 2}
_OBS = ("obs/values", "obs/mask", "obs/t")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass
class Provenance:
    """Where a file came from: stored as file attributes.

    Parameters
    ----------
    generator : str
        Registered generator name (or ``"import:<format>"``, ``"user"``).
    params : dict
        Physical and sampling parameters, JSON-serializable.
    seed : int
        Seed of the random initial conditions / coefficients.
    solver : dict
        Numerical method and settings: method, dt or tolerances, resolution.
    """

    generator: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    solver: dict[str, Any] = field(default_factory=dict)

    def attrs(self, kind: str, schema_version: int | None = None) -> dict[str, Any]:
        """File attributes; ``schema_version`` defaults to the lowest version that has ``kind``."""
        return {
            "sciml_schema": int(schema_version if schema_version is not None else _MIN_VERSION.get(kind, 1)),
            "kind": kind,
            "generator": self.generator,
            "params": json.dumps(self.params, sort_keys=True, default=_jsonable),
            "seed": int(self.seed),
            "sciml_version": __version__,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "solver": json.dumps(self.solver, sort_keys=True, default=_jsonable),
        }


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _combine(digests: Mapping[str, str]) -> str:
    """Content hash of a file: SHA-256 over the sorted per-dataset SHA-256 digests."""
    text = ";".join(f"{k}:{digests[k]}" for k in sorted(digests))
    return hashlib.sha256(text.encode()).hexdigest()


def _check_finite(name: str, arr: np.ndarray, start: int) -> None:
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)).ravel()
        raise DataError(
            f"non-finite values (NaN/inf) in '{name}' at sample {start + int(bad[0])}; "
            "the solver diverged: reduce the time step or raise the resolution/viscosity"
        )


def _noise_std_array(noise_std: Any, channels: int) -> np.ndarray:
    """``noise_std`` as float64 ``[C]`` (a scalar is shared by the channels)."""
    arr = np.asarray(noise_std, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        arr = np.full(channels, float(arr[0]))
    if arr.shape != (channels,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigError(
            f"noise_std must be one non-negative number or one per channel ({channels}), got {np.asarray(noise_std).tolist()}; "
            "pass the absolute standard deviation of the noise (0 when noise-free)"
        )
    return arr


def _as_mask(name: str, mask: Any, start: int) -> np.ndarray:
    """A boolean mask (True = observed); 0/1 numbers are accepted, anything else refused."""
    m = np.asarray(mask)
    if m.dtype == np.bool_:
        return m
    if np.issubdtype(m.dtype, np.number) and np.all((m == 0) | (m == 1)):
        return m.astype(np.bool_)
    raise DataError(
        f"'{name}' must be boolean (True = observed), got dtype {m.dtype} with values other than 0/1 "
        f"in the batch from sample {start}; pass mask.astype(bool)"
    )


class _Writer:
    """Shared machinery: temporary file, per-sample chunked datasets, running checksum."""

    kind = ""
    schema_version = 1  # the lowest version describing the file; raised by writers of version-2 content

    def __init__(self, path: str | os.PathLike[str], provenance: Provenance, *, overwrite: bool = True):
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise DataError(f"{self.path} exists; pass overwrite=True (CLI: --force) or choose another path")
        self.provenance = provenance
        self._ctx = atomic_path(self.path, suffix=".h5")
        self._tmp = self._ctx.__enter__()
        try:
            self.file = h5py.File(self._tmp, "w")
        except OSError as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise DataError(f"cannot create {self.path} ({exc}); choose a writable output path") from None
        self._hashes: dict[str, Any] = {}
        self._n_written: dict[str, int] = {}
        self._closed = False

    def _create_sample_dataset(self, name: str, shape: tuple[int, ...], dtype: Any) -> None:
        self.file.create_dataset(
            name, shape=shape, dtype=dtype, chunks=(1, *shape[1:]), fletcher32=True
        )
        self._n_written[name] = 0
        self._hashes[name] = hashlib.sha256()

    def _static(self, name: str, arr: np.ndarray) -> None:
        arr = np.ascontiguousarray(arr)
        self.file.create_dataset(name, data=arr, fletcher32=True)
        self._hashes[name] = hashlib.sha256(arr.tobytes())

    def _append(self, name: str, batch: np.ndarray) -> None:
        ds = self.file[name]
        batch = np.ascontiguousarray(np.asarray(batch, dtype=ds.dtype))
        start = self._n_written[name]
        if batch.shape[1:] != ds.shape[1:]:
            raise DataError(
                f"batch for '{name}' has sample shape {batch.shape[1:]}, file expects {ds.shape[1:]}; "
                "fix the generator's output shape"
            )
        if start + batch.shape[0] > ds.shape[0]:
            raise DataError(f"more samples written to '{name}' than declared ({ds.shape[0]})")
        _check_finite(name, batch, start)
        ds[start : start + batch.shape[0]] = batch
        self._n_written[name] = start + batch.shape[0]
        self._hashes[name].update(batch.tobytes())

    def close(self, splits: Mapping[str, Sequence[int]] | None = None, extra_attrs: Mapping[str, Any] | None = None) -> str:
        """Finish the file and move it to its final name. Returns ``content_sha256``."""
        try:
            for name, n in self._n_written.items():
                if n != self.file[name].shape[0]:
                    raise DataError(
                        f"only {n} of {self.file[name].shape[0]} samples written to '{name}'; "
                        "the generator stopped early"
                    )
            if splits:
                grp = self.file.create_group("splits")
                for key, idx in splits.items():
                    grp.create_dataset(key, data=np.asarray(idx, dtype=np.int64))
            digest = _combine({k: h.hexdigest() for k, h in self._hashes.items()})
            for key, value in self.provenance.attrs(self.kind, self.schema_version).items():
                self.file.attrs[key] = value
            for key, value in (extra_attrs or {}).items():
                self.file.attrs[key] = value
            self.file.attrs["content_sha256"] = digest
            self.file.close()
            self._ctx.__exit__(None, None, None)
            self._closed = True
            return digest
        except BaseException as exc:
            self.abort(exc)
            raise

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop the temporary file; the final path is left untouched."""
        if self._closed:
            return
        self._closed = True
        try:
            self.file.close()
        except Exception:  # noqa: BLE001 - the file may already be closed or broken
            pass
        err = exc if exc is not None else RuntimeError("aborted")
        try:
            self._ctx.__exit__(type(err), err, err.__traceback__)
        except BaseException:  # noqa: BLE001 - atomic_path re-raises the error we pass in
            pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            self.abort(exc)
        elif not self._closed:
            self.close()
        return False


class FieldsWriter(_Writer):
    """Stream a ``fields`` file batch by batch.

    Parameters
    ----------
    path : path-like
        Final file name; written under a temporary name until :meth:`close`.
    n_samples : int
        N, the number of samples that will be written.
    u_shape : tuple
        Shape of one sample of ``u``: ``(T, C, *S)``.
    t : array ``[T]``
        Output times.
    coords : dict of name -> array
        One 1-D grid per spatial axis, in axis order (``x``, ``y``, ``z``).
    provenance : Provenance
    a_shape : tuple, optional
        Shape of one sample of ``a``: ``(Ca, *S)``.
    param_names : list of str, optional
        Names of per-sample scalar parameters ``params [N, P]``.
    obs_shape : tuple, optional
        ``(To, C, *S)``: adds the observation group ``obs/`` (schema version 2) with
        ``obs/values [N, To, C, *S]``, ``obs/mask [N, To, Cm, *S]`` and ``obs/t [N, To]``;
        ``C`` and ``*S`` must be those of ``u``. Each :meth:`write` then takes ``obs``,
        ``obs_mask`` and ``obs_t`` with the batch of ``u``.
    obs_mask_channels : int, optional
        ``Cm``: ``C`` (the default: one flag per channel) or 1 (one flag shared by the
        channels, broadcast over the channel axis).
    noise_std : float or sequence of C floats
        Absolute standard deviation of the additive noise in the observations (0 when
        noise-free); the group attribute ``noise_std`` float64 ``[C]``.
    obs_source : str
        Group attribute ``source``: the dataset holding the clean field (``"u"``).
    obs_attrs : dict, optional
        More attributes of the ``obs`` group (e.g. how the observations were sampled).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.h5")
    >>> with FieldsWriter(path, 2, (1, 1, 8), np.zeros(1), {"x": np.linspace(0, 1, 8)},
    ...                   Provenance("user")) as w:
    ...     w.write(u=np.ones((2, 1, 1, 8)))
    >>> validate(path).n_samples
    2

    With observations (two of the three times, every other grid point, noise-free):

    >>> t = np.array([0.0, 0.5, 1.0])
    >>> u = np.random.default_rng(0).normal(size=(2, 3, 1, 8))
    >>> mask = np.zeros((2, 2, 1, 8), bool)
    >>> mask[..., ::2] = True
    >>> with FieldsWriter(path, 2, u.shape[1:], t, {"x": np.linspace(0, 1, 8)}, Provenance("user"),
    ...                   obs_shape=(2, 1, 8), obs_mask_channels=1) as w:
    ...     w.write(u, obs=u[:, 1:] * mask, obs_mask=mask, obs_t=np.tile([0.5, 1.0], (2, 1)))
    >>> info = validate(path)
    >>> info.attrs["sciml_schema"], info.shapes["obs/mask"]
    (2, (2, 2, 1, 8))
    """

    kind = "fields"

    def __init__(
        self,
        path: str | os.PathLike[str],
        n_samples: int,
        u_shape: Sequence[int],
        t: np.ndarray,
        coords: Mapping[str, np.ndarray],
        provenance: Provenance,
        *,
        a_shape: Sequence[int] | None = None,
        param_names: Sequence[str] | None = None,
        dtype: Any = np.float32,
        overwrite: bool = True,
        obs_shape: Sequence[int] | None = None,
        obs_mask_channels: int | None = None,
        noise_std: float | Sequence[float] = 0.0,
        obs_source: str = "u",
        obs_attrs: Mapping[str, Any] | None = None,
    ):
        u_shape = tuple(int(s) for s in u_shape)
        if len(u_shape) < 3:
            raise DataError(f"u sample shape must be (T, C, *S), got {u_shape}")
        if len(coords) != len(u_shape) - 2:
            raise DataError(
                f"{len(coords)} coordinate arrays given for {len(u_shape) - 2} spatial axes; pass one per axis"
            )
        times = np.asarray(t, dtype=np.float64).reshape(-1)
        self._obs: dict[str, Any] | None = None
        if obs_shape is not None:
            obs_shape = tuple(int(s) for s in obs_shape)
            if len(obs_shape) != len(u_shape) or obs_shape[1:] != u_shape[1:] or obs_shape[0] < 1:
                raise ShapeError(
                    f"obs_shape {obs_shape} does not match the field u of sample shape {u_shape}; observations of u "
                    f"need (To, C, *S) = (To, {', '.join(str(s) for s in u_shape[1:])}) with To >= 1: fix obs_shape"
                )
            channels = obs_shape[1]
            mask_channels = channels if obs_mask_channels is None else int(obs_mask_channels)
            if mask_channels not in (1, channels):
                raise ShapeError(
                    f"obs_mask_channels={mask_channels} does not match the {channels} channels of u; use {channels} "
                    "(one flag per channel) or 1 (one flag shared by the channels)"
                )
            if times.size == 0 or not np.all(np.isfinite(times)):
                raise DataError(f"t must be finite and non-empty to hold observations, got {times.tolist()}")
            self._obs = {
                "shape": obs_shape,
                "mask_shape": (obs_shape[0], mask_channels, *obs_shape[2:]),
                "noise_std": _noise_std_array(noise_std, channels),
                "t_range": (float(times.min()), float(times.max())),
            }
            self.schema_version = 2
        elif obs_mask_channels is not None:
            raise ConfigError("obs_mask_channels was given without obs_shape; pass obs_shape=(To, C, *S) to add observations")
        super().__init__(path, provenance, overwrite=overwrite)
        try:
            self._create_sample_dataset("u", (n_samples, *u_shape), dtype)
            if a_shape is not None:
                self._create_sample_dataset("a", (n_samples, *tuple(a_shape)), dtype)
            if param_names is not None:
                self._create_sample_dataset("params", (n_samples, len(param_names)), np.float64)
                self.file["params"].attrs["names"] = json.dumps(list(param_names))
            self._static("t", times)
            if self._obs is not None:
                self._create_sample_dataset("obs/values", (n_samples, *self._obs["shape"]), dtype)
                self._create_sample_dataset("obs/mask", (n_samples, *self._obs["mask_shape"]), np.bool_)
                self._create_sample_dataset("obs/t", (n_samples, self._obs["shape"][0]), np.float64)
                group = self.file["obs"]
                group.attrs["noise_std"] = self._obs["noise_std"]
                group.attrs["source"] = str(obs_source)
                for key, value in (obs_attrs or {}).items():
                    group.attrs[key] = value
            for (name, grid), n in zip(coords.items(), u_shape[2:]):
                grid = np.asarray(grid, dtype=np.float64)
                if grid.shape != (n,):
                    raise DataError(f"coords/{name} has shape {grid.shape}, expected ({n},)")
                self._static(f"coords/{name}", grid)
            self.file["coords"].attrs["order"] = json.dumps(list(coords))
        except BaseException as exc:
            self.abort(exc)
            raise

    def write(
        self,
        u: np.ndarray,
        a: np.ndarray | None = None,
        params: np.ndarray | None = None,
        *,
        obs: np.ndarray | None = None,
        obs_mask: np.ndarray | None = None,
        obs_t: np.ndarray | None = None,
    ) -> None:
        """Append a batch: ``u [B, T, C, *S]``, ``a [B, Ca, *S]``, ``params [B, P]``.

        With an observation group (``obs_shape``), also ``obs [B, To, C, *S]`` (finite where
        observed; entries outside the mask are stored as 0), ``obs_mask [B, To, Cm, *S]``
        (bool, True = observed) and ``obs_t [B, To]`` (strictly increasing per sample,
        inside ``t[0] .. t[-1]``). A refused batch removes the temporary file.
        """
        try:
            given = [v is not None for v in (obs, obs_mask, obs_t)]
            if any(given) and self._obs is None:
                raise ConfigError(
                    "observations were passed to a writer without an observation group; "
                    "create the FieldsWriter with obs_shape=(To, C, *S)"
                )
            if self._obs is not None and not all(given):
                raise ConfigError("this writer has an observation group: pass obs, obs_mask and obs_t with every batch")
            checked = self._check_obs(obs, obs_mask, obs_t) if self._obs is not None else None
            self._append("u", u)
            if a is not None:
                self._append("a", a)
            if params is not None:
                self._append("params", params)
            if checked is not None:
                for name, arr in zip(_OBS, checked):
                    self._append(name, arr)
        except BaseException as exc:
            self.abort(exc)
            raise

    def _check_obs(self, obs: Any, obs_mask: Any, obs_t: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        start = self._n_written["obs/values"]
        shape, mask_shape = self._obs["shape"], self._obs["mask_shape"]
        values = np.asarray(obs)
        if values.shape[1:] != shape:
            raise ShapeError(
                f"observations 'obs' have shape {values.shape} (batch from sample {start}), the writer expects "
                f"[B, To, C, *S] = [B, {', '.join(str(s) for s in shape)}]; pass observations of the field u"
            )
        n = values.shape[0]
        mask = _as_mask("obs_mask", obs_mask, start)
        if mask.shape != (n, *mask_shape):
            raise ShapeError(
                f"observation mask 'obs_mask' has shape {mask.shape} but the observations 'obs' {values.shape} need "
                f"{(n, *mask_shape)}; pass one flag per observed entry of the field (channel axis {mask_shape[1]}"
                + (", or obs_mask_channels=1 for one flag shared by the channels)" if mask_shape[1] > 1 else ")")
            )
        times = np.asarray(obs_t, dtype=np.float64)
        if times.shape != (n, shape[0]):
            raise ShapeError(
                f"observation times 'obs_t' have shape {times.shape}, expected {(n, shape[0])} (one time per "
                "observation step and sample); pass obs_t [B, To]"
            )
        lo, hi = self._obs["t_range"]
        outside = ~((times >= lo) & (times <= hi))  # NaN counts as outside
        if outside.any():
            i, j = (int(k) for k in np.argwhere(outside)[0])
            raise DataError(
                f"observation time obs_t={float(times[i, j])!r} of sample {start + i} is outside the file's time range "
                f"[{lo!r}, {hi!r}] (the dataset 't'); observation times must lie inside t[0] .. t[-1]: fix obs_t or extend t"
            )
        if shape[0] > 1 and np.any(np.diff(times, axis=1) <= 0):
            i = int(np.argwhere(np.diff(times, axis=1) <= 0)[0, 0])
            raise DataError(
                f"observation times 'obs_t' of sample {start + i} are not strictly increasing ({times[i].tolist()}); "
                "sort each sample's observation steps by time and merge repeated times"
            )
        observed = np.broadcast_to(mask, values.shape)
        bad = observed & ~np.isfinite(values)
        if bad.any():
            i = int(np.argwhere(bad)[0, 0])
            raise DataError(
                f"non-finite observed value (NaN/inf) in 'obs' at sample {start + i}; observed values must be finite: "
                "set obs_mask False where nothing was observed (unobserved entries are stored as 0)"
            )
        return np.where(observed, values, 0), mask, times


class TrajectoriesWriter(_Writer):
    """Stream a ``trajectories`` file batch by batch.

    Parameters
    ----------
    path : path-like
    n_samples : int
        N, the number of trajectories.
    x_shape : tuple
        ``(T, D)`` of one trajectory.
    t : array ``[T]`` (shared times) or ``None`` when per-trajectory times ``[N, T]``
        are written with :meth:`write`.
    provenance : Provenance
    system, dt, lyapunov_max, dominant_period : optional metadata attributes.
    """

    kind = "trajectories"

    def __init__(
        self,
        path: str | os.PathLike[str],
        n_samples: int,
        x_shape: Sequence[int],
        t: np.ndarray | None,
        provenance: Provenance,
        *,
        system: str | None = None,
        dt: float | None = None,
        lyapunov_max: float | None = None,
        dominant_period: float | None = None,
        dtype: Any = np.float64,
        overwrite: bool = True,
    ):
        x_shape = tuple(int(s) for s in x_shape)
        if len(x_shape) != 2:
            raise DataError(f"trajectory sample shape must be (T, D), got {x_shape}")
        super().__init__(path, provenance, overwrite=overwrite)
        try:
            self._create_sample_dataset("x", (n_samples, *x_shape), dtype)
            if t is None:
                self._create_sample_dataset("t", (n_samples, x_shape[0]), np.float64)
            else:
                self._static("t", np.asarray(t, dtype=np.float64).reshape(-1))
            self._meta = {
                "system": system,
                "dt": dt,
                "lyapunov_max": lyapunov_max,
                "dominant_period": dominant_period,
            }
        except BaseException as exc:
            self.abort(exc)
            raise

    def write(self, x: np.ndarray, t: np.ndarray | None = None) -> None:
        """Append a batch: ``x [B, T, D]`` and, for per-trajectory times, ``t [B, T]``."""
        try:
            self._append("x", x)
            if t is not None:
                self._append("t", t)
        except BaseException as exc:
            self.abort(exc)
            raise

    def close(self, splits=None, extra_attrs=None) -> str:
        meta = {k: v for k, v in self._meta.items() if v is not None}
        meta.update(extra_attrs or {})
        return super().close(splits=splits, extra_attrs=meta)


def write_fields(
    path: str | os.PathLike[str],
    u: np.ndarray,
    t: np.ndarray,
    coords: Mapping[str, np.ndarray],
    provenance: Provenance,
    *,
    a: np.ndarray | None = None,
    params: np.ndarray | None = None,
    param_names: Sequence[str] | None = None,
    splits: Mapping[str, Sequence[int]] | None = None,
    obs: np.ndarray | None = None,
    obs_mask: np.ndarray | None = None,
    obs_t: np.ndarray | None = None,
    noise_std: float | Sequence[float] = 0.0,
    obs_attrs: Mapping[str, Any] | None = None,
) -> str:
    """Write a whole in-memory ``fields`` dataset. Returns ``content_sha256``.

    ``obs [N, To, C, *S]``, ``obs_mask [N, To, C or 1, *S]`` and ``obs_t [N, To]`` add the
    observation group (schema version 2; see :class:`FieldsWriter`).
    """
    u = np.asarray(u)
    obs_kwargs: dict[str, Any] = {}
    if obs is not None:
        if obs_mask is None or obs_t is None:
            raise ConfigError("pass obs, obs_mask and obs_t together (values, where observed, when observed)")
        obs, obs_mask = np.asarray(obs), np.asarray(obs_mask)
        if obs.ndim != u.ndim or obs_mask.ndim != u.ndim:
            raise ShapeError(
                f"observations 'obs' {obs.shape} and 'obs_mask' {obs_mask.shape} must be [N, To, C, *S] like u {u.shape}; "
                "add the missing axes"
            )
        obs_kwargs = {
            "obs_shape": obs.shape[1:],
            "obs_mask_channels": obs_mask.shape[2],
            "noise_std": noise_std,
            "obs_attrs": obs_attrs,
        }
    w = FieldsWriter(
        path, u.shape[0], u.shape[1:], t, coords, provenance,
        a_shape=None if a is None else np.shape(a)[1:], param_names=param_names, **obs_kwargs,
    )
    w.write(u, a=a, params=params, obs=obs, obs_mask=obs_mask, obs_t=obs_t)
    return w.close(splits=splits)


def write_trajectories(
    path: str | os.PathLike[str],
    x: np.ndarray,
    t: np.ndarray,
    provenance: Provenance,
    *,
    splits: Mapping[str, Sequence[int]] | None = None,
    **meta: Any,
) -> str:
    """Write a whole in-memory ``trajectories`` dataset. Returns ``content_sha256``."""
    x = np.asarray(x)
    t = np.asarray(t)
    per_sample_t = t.ndim == 2
    w = TrajectoriesWriter(path, x.shape[0], x.shape[1:], None if per_sample_t else t, provenance, **meta)
    w.write(x, t=t if per_sample_t else None)
    return w.close(splits=splits)


class SamplesWriter(_Writer):
    """Stream a ``samples`` file (feature vectors or images with labels or targets) batch by batch.

    Parameters
    ----------
    path : path-like
        Final file name; written under a temporary name until :meth:`close`.
    n_samples : int
        N, the number of samples.
    x_shape : tuple
        ``feature_shape`` of one sample of ``x``: ``(F,)`` for feature vectors, ``(H, W)``
        for images, ...
    provenance : Provenance
    classes : int, optional
        Classification: ``y`` holds int64 labels ``[N]`` in ``0 .. classes-1``.
    class_names : sequence of str, optional
        One name per class (classification only).
    target_dim : int, optional
        Regression: ``y`` holds float32 targets ``[N, target_dim]``. Give exactly one of
        ``classes`` and ``target_dim``.
    extra_attrs : dict, optional
        More file attributes (e.g. ``image_shape`` of flattened images).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.h5")
    >>> with SamplesWriter(path, 3, (4,), Provenance("user"), classes=2) as w:
    ...     w.write(np.zeros((3, 4)), np.array([0, 1, 1]))
    >>> info = validate(path)
    >>> info.kind, info.shapes["y"], info.attrs["classes"]
    ('samples', (3,), 2)
    """

    kind = "samples"

    def __init__(
        self,
        path: str | os.PathLike[str],
        n_samples: int,
        x_shape: Sequence[int],
        provenance: Provenance,
        *,
        classes: int | None = None,
        class_names: Sequence[str] | None = None,
        target_dim: int | None = None,
        extra_attrs: Mapping[str, Any] | None = None,
        dtype: Any = np.float32,
        overwrite: bool = True,
    ):
        x_shape = tuple(int(s) for s in x_shape)
        if not x_shape or min(x_shape) < 1:
            raise DataError(f"samples need a non-empty feature shape of positive sizes, got {x_shape}")
        if (classes is None) == (target_dim is None):
            raise DataError(
                "give exactly one of classes= (integer labels, classification) and target_dim= (float targets, regression)"
            )
        if classes is not None and int(classes) < 1:
            raise DataError(f"classes must be >= 1, got {classes}")
        if target_dim is not None and int(target_dim) < 1:
            raise DataError(f"target_dim must be >= 1, got {target_dim}")
        if class_names is not None and (classes is None or len(class_names) != int(classes)):
            raise DataError(f"class_names needs one name per class ({classes}), got {len(class_names)}")
        super().__init__(path, provenance, overwrite=overwrite)
        try:
            self.classes = None if classes is None else int(classes)
            self._create_sample_dataset("x", (n_samples, *x_shape), dtype)
            if self.classes is not None:
                self._create_sample_dataset("y", (n_samples,), np.int64)
            else:
                self._create_sample_dataset("y", (n_samples, int(target_dim)), np.float32)
            self._attrs: dict[str, Any] = dict(extra_attrs or {})
            if self.classes is not None:
                self._attrs["classes"] = self.classes
                if class_names is not None:
                    self._attrs["class_names"] = json.dumps([str(c) for c in class_names])
        except BaseException as exc:
            self.abort(exc)
            raise

    def write(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append a batch: ``x [B, *feature_shape]`` and ``y [B]`` (labels) or ``[B, Dy]`` (targets)."""
        try:
            y = np.asarray(y)
            start = self._n_written["y"]
            if self.classes is not None:
                if not np.issubdtype(y.dtype, np.integer):
                    raise DataError(
                        f"class labels must be integers, got dtype {y.dtype} in 'y' (batch from sample {start}); "
                        "cast them with y.astype(np.int64), or write float targets [N, Dy] with target_dim="
                    )
                bad = np.flatnonzero((y < 0) | (y >= self.classes)) if y.size else []
                if len(bad):
                    raise DataError(
                        f"label {int(y.reshape(-1)[bad[0]])} at sample {start + int(bad[0])} is outside 0..{self.classes - 1}; "
                        f"fix the labels or raise classes"
                    )
            elif not np.issubdtype(y.dtype, np.floating):
                raise DataError(
                    f"regression targets must be floats, got dtype {y.dtype} in 'y'; "
                    "for integer class labels create the writer with classes="
                )
            self._append("x", x)
            self._append("y", y)
        except BaseException as exc:
            self.abort(exc)
            raise

    def close(self, splits=None, extra_attrs=None) -> str:
        return super().close(splits=splits, extra_attrs={**self._attrs, **(extra_attrs or {})})


def write_samples(
    path: str | os.PathLike[str],
    x: np.ndarray,
    y: np.ndarray,
    provenance: Provenance,
    *,
    classes: int | None = None,
    class_names: Sequence[str] | None = None,
    splits: Mapping[str, Sequence[int]] | None = None,
    **extra_attrs: Any,
) -> str:
    """Write a whole in-memory ``samples`` dataset. Returns ``content_sha256``.

    Integer ``y [N]`` are class labels (``classes`` defaults to ``max(y) + 1``); float
    ``y [N, Dy]`` are regression targets.
    """
    x, y = np.asarray(x), np.asarray(y)
    if np.issubdtype(y.dtype, np.integer):
        if y.ndim != 1:
            raise DataError(
                f"class labels must be [N], got shape {y.shape}; flatten them or write float targets [N, Dy]"
            )
        n_classes = int(classes) if classes is not None else int(y.max(initial=-1)) + 1
        kwargs: dict[str, Any] = {"classes": n_classes, "class_names": class_names}
    else:
        if classes is not None:
            raise DataError(
                f"classes={classes} was given but the labels have dtype {y.dtype}; pass integer labels (y.astype(np.int64))"
            )
        if y.ndim != 2:
            raise DataError(
                f"regression targets must be [N, Dy], got shape {y.shape}; reshape them (y[:, None] for one target) "
                "or pass integer class labels"
            )
        kwargs = {"target_dim": y.shape[1]}
    if x.ndim < 2:
        raise DataError(f"x must be [N, *feature_shape], got shape {x.shape}; use x[:, None] for one feature")
    if x.shape[0] != y.shape[0]:
        raise DataError(f"x has {x.shape[0]} samples but y has {y.shape[0]}; pass one label/target per sample")
    w = SamplesWriter(path, x.shape[0], x.shape[1:], provenance, extra_attrs=extra_attrs, **kwargs)
    w.write(x, y)
    return w.close(splits=splits)


class ScatteredWriter(_Writer):
    """Stream a ``scattered`` file (values at arbitrary space-time points) batch by batch.

    Parameters
    ----------
    path : path-like
        Final file name; written under a temporary name until :meth:`close`.
    n_samples : int
        N, the number of samples (one set of points per sample, e.g. one PDE solution).
    n_points : int
        P, the number of points per sample (the largest count when ``ragged``).
    channels : int
        C, the number of values per point.
    provenance : Provenance
    coords_names : sequence of str
        Names of the d spatial coordinates, in column order: ``points [N, P, 1 + d]`` holds
        the time in column 0 and these coordinates in columns 1 .. d (``["x"]``,
        ``["x", "y"]``; ``[]`` for points in time only).
    bounds : array ``[1 + d, 2]``
        ``(low, high)`` of the time and of each coordinate; every (observed) point must lie
        inside (the file attribute ``bounds``).
    noise_std : float or sequence of C floats
        Absolute standard deviation of the additive noise in ``values`` (0 when noise-free).
    source : dict, optional
        What the values were sampled from (file name, its ``content_sha256``, generator),
        stored as the JSON attribute ``source``.
    ragged : bool
        Adds ``mask [N, P]`` (bool, True = a real point): samples with fewer points pad
        with masked-out entries, stored as 0.
    dtype : numpy dtype
        Of ``values`` (float32); ``points`` are float64.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "obs.h5")
    >>> pts = np.array([[[0.0, 0.25], [0.5, 0.75]]])            # [N=1, P=2, 1 + d=2]: (t, x)
    >>> with ScatteredWriter(path, 1, 2, 1, Provenance("user"), coords_names=["x"],
    ...                      bounds=[[0, 1], [0, 1]], noise_std=0.01) as w:
    ...     w.write(pts, np.array([[[1.0], [2.0]]]))
    >>> info = validate(path)
    >>> info.kind, info.attrs["sciml_schema"], info.shapes["points"]
    ('scattered', 2, (1, 2, 2))
    """

    kind = "scattered"
    schema_version = 2

    def __init__(
        self,
        path: str | os.PathLike[str],
        n_samples: int,
        n_points: int,
        channels: int,
        provenance: Provenance,
        *,
        coords_names: Sequence[str],
        bounds: Any,
        noise_std: float | Sequence[float] = 0.0,
        source: Mapping[str, Any] | None = None,
        ragged: bool = False,
        dtype: Any = np.float32,
        overwrite: bool = True,
    ):
        names = [str(c) for c in coords_names]
        if int(n_points) < 1 or int(channels) < 1:
            raise ConfigError(f"a scattered file needs n_points >= 1 and channels >= 1, got {n_points} and {channels}")
        if len(set(names)) != len(names) or "t" in names:
            raise ConfigError(
                f"coords_names {names} must be distinct spatial coordinate names without 't' (time is column 0 of points)"
            )
        d = len(names)
        box = np.asarray(bounds, dtype=np.float64)
        if box.shape != (1 + d, 2) or not np.all(np.isfinite(box)) or np.any(box[:, 0] > box[:, 1]):
            raise ConfigError(
                f"bounds must be [1 + d, 2] = [{1 + d}, 2] finite (low, high) pairs with low <= high for the time and "
                f"the coordinates {names}, got {np.asarray(bounds).tolist()}; e.g. [[t0, t1], [x0, x1]]"
            )
        noise = _noise_std_array(noise_std, int(channels))
        super().__init__(path, provenance, overwrite=overwrite)
        try:
            self.n_points, self.channels, self.dim, self.ragged = int(n_points), int(channels), d, bool(ragged)
            self.coords_names, self.bounds = names, box
            self._create_sample_dataset("points", (n_samples, self.n_points, 1 + d), np.float64)
            self._create_sample_dataset("values", (n_samples, self.n_points, self.channels), dtype)
            if self.ragged:
                self._create_sample_dataset("mask", (n_samples, self.n_points), np.bool_)
            self._attrs = {
                "coords_names": json.dumps(names),
                "bounds": box,
                "noise_std": noise,
                "source": json.dumps(dict(source or {}), sort_keys=True, default=_jsonable),
            }
        except BaseException as exc:
            self.abort(exc)
            raise

    def write(self, points: np.ndarray, values: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Append a batch: ``points [B, P, 1 + d]``, ``values [B, P, C]`` and, for a ragged
        file, ``mask [B, P]`` (True = a real point; padded entries are stored as 0).

        Points must be finite and inside ``bounds``, values finite (where masked in). A
        refused batch removes the temporary file.
        """
        try:
            start = self._n_written["points"]
            pts = np.asarray(points, dtype=np.float64)
            vals = np.asarray(values)
            if pts.ndim != 3 or pts.shape[2] != 1 + self.dim:
                raise ShapeError(
                    f"scattered 'points' have shape {pts.shape} (batch from sample {start}) but the file's points are "
                    f"[B, P, 1 + d] = [B, {self.n_points}, {1 + self.dim}] (time, then {', '.join(self.coords_names) or 'no coordinates'}); "
                    "put the time in column 0 and one column per coordinate in coords_names"
                )
            n = pts.shape[0]
            if pts.shape[1] != self.n_points:
                raise ShapeError(
                    f"scattered 'points' have {pts.shape[1]} points per sample, the file holds {self.n_points}; "
                    "pad shorter samples and pass mask (create the writer with ragged=True)"
                )
            if vals.shape != (n, self.n_points, self.channels):
                raise ShapeError(
                    f"scattered 'values' have shape {vals.shape}, expected {(n, self.n_points, self.channels)} "
                    "(one value per point and channel); pass values [B, P, C]"
                )
            if mask is None:
                if self.ragged:
                    raise ConfigError("this scattered writer is ragged: pass mask [B, P] with every batch")
                keep = np.ones((n, self.n_points), np.bool_)
            else:
                if not self.ragged:
                    raise ConfigError("a mask was passed to a scattered writer created without ragged=True; pass ragged=True")
                keep = _as_mask("mask", mask, start)
                if keep.shape != (n, self.n_points):
                    raise ShapeError(
                        f"scattered 'mask' has shape {keep.shape}, expected {(n, self.n_points)}; pass one flag per point"
                    )
            bad = keep & ~np.isfinite(pts).all(axis=2)
            if bad.any():
                i = int(np.argwhere(bad)[0, 0])
                raise DataError(f"non-finite coordinates (NaN/inf) in 'points' at sample {start + i}; fix or mask out that point")
            bad = keep & ~np.isfinite(vals).all(axis=2)
            if bad.any():
                i = int(np.argwhere(bad)[0, 0])
                raise DataError(
                    f"non-finite values (NaN/inf) in 'values' at sample {start + i}; drop or mask out that point (ragged=True)"
                )
            outside = keep[..., None] & ((pts < self.bounds[:, 0]) | (pts > self.bounds[:, 1]))
            if outside.any():
                i, j, k = (int(v) for v in np.argwhere(outside)[0])
                column = (["t"] + self.coords_names)[k]
                raise DataError(
                    f"point {j} of sample {start + i} has {column}={float(pts[i, j, k])!r} outside the bounds "
                    f"[{float(self.bounds[k, 0])!r}, {float(self.bounds[k, 1])!r}]; fix the point or widen bounds"
                )
            self._append("points", np.where(keep[..., None], pts, 0.0))
            self._append("values", np.where(keep[..., None], vals, 0))
            if self.ragged:
                self._append("mask", keep)
        except BaseException as exc:
            self.abort(exc)
            raise

    def close(self, splits=None, extra_attrs=None) -> str:
        return super().close(splits=splits, extra_attrs={**self._attrs, **(extra_attrs or {})})


def write_scattered(
    path: str | os.PathLike[str],
    points: np.ndarray,
    values: np.ndarray,
    provenance: Provenance,
    *,
    coords_names: Sequence[str],
    bounds: Any,
    mask: np.ndarray | None = None,
    noise_std: float | Sequence[float] = 0.0,
    source: Mapping[str, Any] | None = None,
    splits: Mapping[str, Sequence[int]] | None = None,
) -> str:
    """Write a whole in-memory ``scattered`` dataset: ``points [N, P, 1 + d]``, ``values [N, P, C]``,
    optional ``mask [N, P]``. Returns ``content_sha256``.
    """
    points, values = np.asarray(points), np.asarray(values)
    if points.ndim != 3 or values.ndim != 3:
        raise ShapeError(
            f"scattered points {points.shape} and values {values.shape} must be [N, P, 1 + d] and [N, P, C]; add the missing axes"
        )
    w = ScatteredWriter(
        path, points.shape[0], points.shape[1], values.shape[2], provenance,
        coords_names=coords_names, bounds=bounds, noise_std=noise_std, source=source, ragged=mask is not None,
    )
    w.write(points, values, mask)
    return w.close(splits=splits)


# ----------------------------------------------------------------------------- reading


def open_h5(path: str | os.PathLike[str]) -> h5py.File:
    """Open a sciml file read-only, with one-line errors for the usual failures.

    Checks: the file exists, is HDF5, is not truncated, has a known schema version and
    kind, and holds the required datasets. Data checksums are verified on read (every
    chunk carries fletcher32); :func:`validate` reads everything once.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file not found: {p}; check the path or create it with 'sciml data generate'")
    if p.is_dir():
        raise DataError(f"{p} is a directory, not a data file; pass the .h5 file inside it")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if head != _HDF5_SIGNATURE:
        raise DataError(f"{p} is not an HDF5 file (no HDF5 signature); pass a file written by sciml or h5py")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        msg = str(exc).lower()
        if "truncat" in msg or "eof" in msg or "addr overflow" in msg:
            raise DataError(f"{p} is truncated (an interrupted copy or write?); regenerate or re-copy it") from None
        raise DataError(f"{p} cannot be opened as HDF5 ({exc}); the file is corrupt: regenerate it") from None
    try:
        _check_header(f, p)
    except BaseException:
        f.close()
        raise
    return f


def _check_header(f: h5py.File, p: Path) -> None:
    version = f.attrs.get("sciml_schema")
    if version is None:
        raise DataError(
            f"{p} has no 'sciml_schema' attribute; it is not a sciml file: import it with "
            "sciml.data.importers (PDEBench, The Well) or write it with sciml.data.write_fields"
        )
    if int(version) not in READABLE_SCHEMA_VERSIONS:
        readable = " and ".join(str(v) for v in READABLE_SCHEMA_VERSIONS)
        raise DataError(
            f"{p} uses sciml schema version {int(version)}, this sciml reads versions {readable}; "
            "regenerate the file with this version of sciml"
        )
    version = int(version)
    kind = f.attrs.get("kind")
    if kind not in _KINDS:
        raise DataError(f"{p} has unknown kind {kind!r}; expected one of {', '.join(_KINDS)}")
    if version < _MIN_VERSION.get(kind, 1):
        raise DataError(
            f"{p} has kind '{kind}' but declares sciml schema version {version}; kind '{kind}' needs version "
            f"{_MIN_VERSION[kind]}: set the attribute sciml_schema={_MIN_VERSION[kind]}"
        )
    for key in _REQUIRED[kind]:
        if key not in f:
            raise DataError(
                f"{p} is missing the dataset '{key}' required for kind '{kind}'; the file is incomplete: regenerate it"
            )
    if "obs" in f:
        if kind != "fields":
            raise DataError(f"{p} has an observation group 'obs' but kind '{kind}'; only 'fields' files hold 'obs'")
        if version < 2:
            raise DataError(
                f"{p} holds the observation group 'obs' (schema version 2) but declares version {version}; "
                "set the attribute sciml_schema=2"
            )
        for key in _OBS:
            if key not in f:
                raise DataError(
                    f"{p} has an observation group without '{key}'; write obs/values, obs/mask and obs/t together "
                    "(FieldsWriter(obs_shape=...)) or delete the group"
                )
    if kind == "samples":
        samples_layout(f, p)


def samples_layout(f: h5py.File, p: Path | str) -> dict[str, Any]:
    """Shapes and dtypes of a ``samples`` file (no data read); one-line DataError when wrong.

    Returns ``{"feature_shape", "classes", "target_dim", "class_names"}`` (``classes`` None
    for regression, ``target_dim`` None for classification).
    """
    x, y = f["x"], f["y"]
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{p}: 'x' must be float [N, *feature_shape], got {x.dtype} of shape {x.shape}")
    if y.shape[:1] != x.shape[:1]:
        raise DataError(
            f"{p}: 'y' has {y.shape[0] if y.ndim else 0} samples but 'x' has {x.shape[0]}; regenerate the file"
        )
    if np.issubdtype(y.dtype, np.integer):
        if y.ndim != 1:
            raise DataError(
                f"{p}: integer labels 'y' must be [N], got shape {y.shape}; store one class label per sample"
            )
        classes = f.attrs.get("classes")
        if classes is None or int(classes) < 1:
            raise DataError(
                f"{p}: integer labels 'y' need the file attribute 'classes' (number of classes >= 1); add it, e.g. "
                "f.attrs['classes'] = 10"
            )
        names = f.attrs.get("class_names")
        names = json.loads(names) if names is not None else None
        return {"feature_shape": tuple(x.shape[1:]), "classes": int(classes), "target_dim": None, "class_names": names}
    if np.issubdtype(y.dtype, np.floating):
        if y.ndim != 2:
            raise DataError(
                f"{p}: float targets 'y' must be [N, Dy], got shape {y.shape}; class labels must be stored as int64"
            )
        return {
            "feature_shape": tuple(x.shape[1:]),
            "classes": None,
            "target_dim": int(y.shape[1]),
            "class_names": None,
        }
    raise DataError(f"{p}: 'y' has dtype {y.dtype}; store int64 class labels [N] or float32 regression targets [N, Dy]")


@dataclass
class FileInfo:
    """Summary of a validated file, printed by ``sciml data info``."""

    path: str
    kind: str
    n_samples: int
    shapes: dict[str, tuple[int, ...]]
    attrs: dict[str, Any]
    content_sha256: str | None
    splits: dict[str, int]

    def summary(self) -> str:
        version = self.attrs.get("sciml_schema", SCHEMA_VERSION)
        lines = [f"{self.path}: sciml schema {version}, kind={self.kind}, {self.n_samples} samples"]
        for k, s in self.shapes.items():
            lines.append(f"  {k:<12} {list(s)}")
        shown = ("generator", "seed", "params", "solver", "system", "dt", "lyapunov_max", "dominant_period")
        shown += ("classes", "class_names", "image_shape", "coords_names", "bounds", "noise_std", "source")
        shown += ("created_utc", "sciml_version")
        for k in shown:
            if k in self.attrs:
                value = self.attrs[k]
                lines.append(f"  @{k:<11} {value.tolist() if isinstance(value, np.ndarray) else value}")
        if self.splits:
            lines.append("  splits       " + ", ".join(f"{k}={v}" for k, v in self.splits.items()))
        lines.append(f"  content_sha256 {self.content_sha256} (verified)")
        return "\n".join(lines)


def content_checksum(path: str | os.PathLike[str]) -> str | None:
    """The ``content_sha256`` attribute of a file (cheap: no data read)."""
    with open_h5(path) as f:
        value = f.attrs.get("content_sha256")
        return None if value is None else str(value)


def _sample_datasets(f: h5py.File) -> list[str]:
    names = {
        "fields": ["u", "a", "params", *_OBS],
        "samples": ["x", "y"],
        "scattered": ["points", "values", "mask"],
    }.get(str(f.attrs["kind"]), ["x"])
    if f.attrs["kind"] == "trajectories" and f["t"].ndim == 2:
        names.append("t")
    return [n for n in names if n in f]


def validate(
    path: str | os.PathLike[str], *, check_finite: bool = True, splits: Mapping[str, Sequence[int]] | None = None
) -> FileInfo:
    """Read every chunk of ``path`` once: fletcher32 checksums, finiteness, shapes, content hash.

    ``splits`` (``{name: sample indices}``, the splits a run reads) restricts the finiteness
    check to those samples and names the split of a bad sample in the message.

    Returns
    -------
    FileInfo
        Raises :class:`~sciml.core.errors.DataError` naming the first problem found.
    """
    p = Path(path)
    with open_h5(p) as f:
        kind = str(f.attrs["kind"])
        sample_names = _sample_datasets(f)
        n = f[sample_names[0]].shape[0]
        digests: dict[str, str] = {}
        for name in sample_names:
            ds = f[name]
            if ds.shape[0] != n:
                raise DataError(f"{p}: '{name}' has {ds.shape[0]} samples but '{sample_names[0]}' has {n}; regenerate the file")
        if kind == "fields":
            u = f["u"]
            if u.ndim < 4:
                raise DataError(f"{p}: 'u' must be [N, T, C, *S], got shape {u.shape}")
            if f["t"].shape[0] != u.shape[1]:
                raise DataError(f"{p}: 't' has {f['t'].shape[0]} times but 'u' has {u.shape[1]}")
        elif kind == "trajectories":
            if f["x"].ndim != 3:
                raise DataError(f"{p}: 'x' must be [N, T, D], got shape {f['x'].shape}")
        hooks: dict[str, Any] = {}
        if kind == "fields" and "obs" in f:
            hooks = _obs_layout(f, p)
        elif kind == "scattered":
            hooks = _scattered_layout(f, p)
        classes = samples_layout(f, p)["classes"] if kind == "samples" else None
        owner = None
        if splits is not None:
            owner = np.full(n, "", dtype=object)
            for split_name, indices in splits.items():
                owner[np.asarray(indices, dtype=np.int64)] = split_name

        def label(i: int) -> str:
            return f" (split '{owner[i]}')" if owner is not None and 0 <= i < n and owner[i] else ""

        for name in sample_names:
            ds = f[name]
            h = hashlib.sha256()
            step = max(1, int(2**26 // max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:])))))
            for start in range(0, n, step):
                block = _read_block(p, ds, name, start, step, label)
                if check_finite:
                    if owner is None:
                        _check_finite_file(p, name, block, start)
                    else:
                        rows = np.flatnonzero(owner[start : start + len(block)] != "")
                        _check_finite_file(p, name, block[rows], start, label, rows + start)
                if classes is not None and name == "y":
                    _check_labels(p, block, start, classes)
                if name in hooks:
                    hooks[name](block, start)
                h.update(np.ascontiguousarray(block).tobytes())
            digests[name] = h.hexdigest()
        static = ["t"] if "t" in f and "t" not in sample_names else []
        if "coords" in f:
            static += [f"coords/{k}" for k in f["coords"]]
        for name in static:
            try:
                digests[name] = hashlib.sha256(np.ascontiguousarray(f[name][()]).tobytes()).hexdigest()
            except OSError as exc:
                raise DataError(f"{p}: checksum mismatch reading '{name}' ({_short(exc)}); regenerate the file") from None
        stored = f.attrs.get("content_sha256")
        if stored is not None and _combine(digests) != str(stored):
            raise DataError(
                f"{p}: content checksum mismatch (data changed after writing); regenerate or re-copy the file"
            )
        shapes = {}
        f.visititems(lambda k, v: shapes.__setitem__(k, tuple(v.shape)) if isinstance(v, h5py.Dataset) else None)
        attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
        splits = {k: int(f["splits"][k].shape[0]) for k in f["splits"]} if "splits" in f else {}
        return FileInfo(str(p), kind, n, shapes, attrs, attrs.get("content_sha256"), splits)


_FINITE_FIX = {
    "obs/values": "observed values must be finite: set obs/mask False there and store 0",
    "obs/t": "observation times must be finite: fix obs/t",
    "points": "fix or mask out that point (mask [N, P])",
    "values": "fix or mask out that point (mask [N, P])",
}


def _check_finite_file(
    p: Path, name: str, block: np.ndarray, start: int, label: Any = None, index: np.ndarray | None = None
) -> None:
    if np.issubdtype(block.dtype, np.floating) and not np.all(np.isfinite(block)):
        flat = np.isfinite(block.reshape(block.shape[0], -1)).all(axis=1)
        row = int(np.argmin(flat))
        i = int(index[row]) if index is not None else start + row
        fix = _FINITE_FIX.get(name, "drop that sample or regenerate the data with a smaller time step")
        where = label(i) if label is not None else ""
        raise DataError(f"{p}: non-finite values (NaN/inf) in '{name}' at sample {i}{where}; {fix}")


def _read_block(p: Path, ds: h5py.Dataset, name: str, start: int, step: int, label: Any = None) -> np.ndarray:
    try:
        return ds[start : start + step]
    except OSError as exc:
        bad = start
        for i in range(start, min(start + step, ds.shape[0])):  # pinpoint the damaged sample
            try:
                ds[i]
            except OSError:
                bad = i
                break
        where = label(bad) if label is not None else ""
        raise DataError(
            f"{p}: checksum mismatch reading '{name}' near sample {bad}{where} ({_short(exc)}); "
            "the file is corrupt: regenerate or re-copy it"
        ) from None


def _attr_noise_std(p: Path, where: str, attrs: Any, channels: int) -> None:
    noise = attrs.get("noise_std")
    arr = None if noise is None else np.asarray(noise, dtype=np.float64).reshape(-1)
    if arr is None or arr.shape != (channels,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise DataError(
            f"{p}: {where} attribute 'noise_std' must be float64 [{channels}] non-negative (one per channel), got "
            f"{None if noise is None else np.asarray(noise).tolist()}; set it to the noise standard deviation (0 when noise-free)"
        )


def _obs_layout(f: h5py.File, p: Path) -> dict[str, Any]:
    """Shape checks of the observation group; returns per-block checks for validate."""
    u, values, mask, times = f["u"], f["obs/values"], f["obs/mask"], f["obs/t"]
    n, channels, spatial = u.shape[0], u.shape[2], tuple(u.shape[3:])
    if values.ndim != u.ndim or values.shape[0] != n or tuple(values.shape[2:]) != (channels, *spatial):
        raise DataError(
            f"{p}: 'obs/values' has shape {values.shape} but observations of u {u.shape} must be "
            f"[N, To, C, *S] = [{n}, To, {', '.join(str(s) for s in (channels, *spatial))}]; rewrite the observations"
        )
    n_obs = values.shape[1]
    if mask.dtype != np.bool_:
        raise DataError(f"{p}: 'obs/mask' has dtype {mask.dtype}; store a boolean mask (True = observed)")
    if mask.ndim != values.ndim or mask.shape[:2] != values.shape[:2] or mask.shape[2] not in (1, channels) or (
        tuple(mask.shape[3:]) != spatial
    ):
        raise DataError(
            f"{p}: 'obs/mask' has shape {mask.shape} but must match the observations {values.shape} "
            f"([N, To, C, *S], or [N, To, 1, *S] for one flag shared by the channels); rewrite the mask"
        )
    if times.shape != (n, n_obs):
        raise DataError(
            f"{p}: 'obs/t' has shape {times.shape}, expected [N, To] = {[n, n_obs]}; store one time per observation step"
        )
    _attr_noise_std(p, "the group 'obs'", f["obs"].attrs, channels)
    if "source" not in f["obs"].attrs:
        raise DataError(f"{p}: the group 'obs' lacks the attribute 'source'; set it to the clean field's dataset ('u')")
    grid_t = f["t"][()]
    lo, hi = float(np.min(grid_t)), float(np.max(grid_t))

    def check_values(block: np.ndarray, start: int) -> None:
        flags = np.broadcast_to(_read_block(p, mask, "obs/mask", start, len(block)), block.shape)
        stray = ~flags & (block != 0)
        if stray.any():
            i = start + int(np.argwhere(stray)[0, 0])
            raise DataError(
                f"{p}: 'obs/values' holds nonzero values at unobserved entries of sample {i}; "
                "store 0 where obs/mask is False"
            )

    def check_times(block: np.ndarray, start: int) -> None:
        outside = ~((block >= lo) & (block <= hi))
        if outside.any():
            i, j = (int(k) for k in np.argwhere(outside)[0])
            raise DataError(
                f"{p}: observation time obs/t={float(block[i, j])!r} of sample {start + i} is outside the file's time range "
                f"[{lo!r}, {hi!r}] ('t'); fix obs/t or extend t"
            )
        if block.shape[1] > 1 and np.any(np.diff(block, axis=1) <= 0):
            i = start + int(np.argwhere(np.diff(block, axis=1) <= 0)[0, 0])
            raise DataError(f"{p}: observation times 'obs/t' of sample {i} are not strictly increasing; sort them by time")

    return {"obs/values": check_values, "obs/t": check_times}


def scattered_layout(f: h5py.File, p: Path | str) -> dict[str, Any]:
    """Shapes and attributes of a ``scattered`` file (no data read); one-line DataError when wrong.

    Returns ``{"n_points", "dim", "channels", "coords_names", "bounds", "noise_std", "source", "ragged"}``.
    """
    points, values = f["points"], f["values"]
    if points.ndim != 3 or not np.issubdtype(points.dtype, np.floating) or points.shape[2] < 1:
        raise DataError(f"{p}: 'points' must be float [N, P, 1 + d] (time, then coordinates), got {points.dtype} {points.shape}")
    n, n_points, dim = points.shape[0], points.shape[1], points.shape[2] - 1
    if values.ndim != 3 or values.shape[:2] != (n, n_points) or not np.issubdtype(values.dtype, np.floating):
        raise DataError(
            f"{p}: 'values' must be float [N, P, C] with [N, P] = {[n, n_points]} like 'points', got {values.dtype} {values.shape}"
        )
    if "mask" in f and (f["mask"].shape != (n, n_points) or f["mask"].dtype != np.bool_):
        raise DataError(f"{p}: 'mask' must be bool [N, P] = {[n, n_points]}, got {f['mask'].dtype} {f['mask'].shape}")
    try:
        names = json.loads(f.attrs["coords_names"])
    except (KeyError, TypeError, ValueError):
        names = None
    if not isinstance(names, list) or len(names) != dim:
        raise DataError(
            f"{p}: attribute 'coords_names' must be a JSON list of the {dim} coordinate names of points[..., 1:] "
            f"(e.g. '[\"x\"]'), got {f.attrs.get('coords_names')!r}"
        )
    bounds = np.asarray(f.attrs.get("bounds", np.zeros(0)), dtype=np.float64)
    if bounds.shape != (1 + dim, 2) or np.any(bounds[:, 0] > bounds[:, 1]):
        raise DataError(
            f"{p}: attribute 'bounds' must be float64 [1 + d, 2] = [{1 + dim}, 2] (low, high of t and each coordinate), "
            f"got {bounds.tolist()}; set it to the domain the points lie in"
        )
    _attr_noise_std(p, "the file", f.attrs, int(values.shape[2]))
    try:
        source = json.loads(f.attrs.get("source", "{}"))
    except (TypeError, ValueError):
        raise DataError(f"{p}: attribute 'source' must be JSON (what the values were sampled from); rewrite it") from None
    return {
        "n_points": int(n_points),
        "dim": int(dim),
        "channels": int(values.shape[2]),
        "coords_names": [str(c) for c in names],
        "bounds": bounds,
        "noise_std": np.asarray(f.attrs["noise_std"], dtype=np.float64).reshape(-1),
        "source": source,
        "ragged": "mask" in f,
    }


def _scattered_layout(f: h5py.File, p: Path) -> dict[str, Any]:
    layout = scattered_layout(f, p)
    bounds, names = layout["bounds"], ["t", *layout["coords_names"]]

    def check_points(block: np.ndarray, start: int) -> None:
        keep = (
            _read_block(p, f["mask"], "mask", start, len(block))
            if layout["ragged"]
            else np.ones(block.shape[:2], np.bool_)
        )
        outside = keep[..., None] & ((block < bounds[:, 0]) | (block > bounds[:, 1]))
        if outside.any():
            i, j, k = (int(v) for v in np.argwhere(outside)[0])
            raise DataError(
                f"{p}: point {j} of sample {start + i} has {names[k]}={float(block[i, j, k])!r} outside the bounds "
                f"[{float(bounds[k, 0])!r}, {float(bounds[k, 1])!r}]; fix the point or the attribute 'bounds'"
            )

    return {"points": check_points}


def _check_labels(p: Path, block: np.ndarray, start: int, classes: int) -> None:
    bad = np.flatnonzero((block < 0) | (block >= classes))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{p}: label {int(block[i])} at sample {start + i} is outside 0..{classes - 1} (attribute classes={classes}); "
            "fix the labels or the 'classes' attribute"
        )


def _short(exc: BaseException) -> str:
    return str(exc).split("(")[0].strip() or type(exc).__name__
