"""The sciml HDF5 schema (version 1): write atomically, open, validate.

Three kinds of files:

``fields``
    ``u`` float32 ``[N, T, C, *S]`` (T=1 for steady problems); optional ``a``
    ``[N, Ca, *S]`` input fields; ``coords/x``, ``coords/y``, ... (1-D grids, one per
    spatial axis); ``t`` ``[T]``; optional ``params`` ``[N, P]`` with names in the
    attribute ``param_names``.
``trajectories``
    ``x`` float ``[N, T, D]``; ``t`` ``[T]`` or ``[N, T]``; attributes ``system``,
    ``dt``, ``lyapunov_max``, ``dominant_period`` where known.
``samples``
    ``x`` float32 ``[N, *feature_shape]`` (one feature vector, image, ... per sample) and
    ``y``: int64 ``[N]`` class labels (file attribute ``classes`` = number of classes,
    optional ``class_names``, a JSON list) or float32 ``[N, Dy]`` regression targets.

File attributes: ``sciml_schema``, ``kind``, ``generator``, ``params`` (JSON), ``seed``,
``sciml_version``, ``created_utc``, ``solver`` (JSON) and ``content_sha256`` (SHA-256 of
the data arrays in a fixed order: the same recipe and seed give the same value, whatever
the creation time). Optional ``splits/train|val|test`` index arrays. Per-sample chunks
carry the fletcher32 checksum, so a flipped byte is detected on read.

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
from sciml.errors import DataError
from sciml.io import atomic_path

__all__ = [
    "SCHEMA_VERSION",
    "Provenance",
    "FieldsWriter",
    "TrajectoriesWriter",
    "SamplesWriter",
    "write_fields",
    "write_trajectories",
    "write_samples",
    "open_h5",
    "validate",
    "content_checksum",
    "FileInfo",
]

SCHEMA_VERSION = 1
_KINDS = ("fields", "trajectories", "samples")
_REQUIRED = {"fields": ("u", "t"), "trajectories": ("x", "t"), "samples": ("x", "y")}
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

    def attrs(self, kind: str) -> dict[str, Any]:
        return {
            "sciml_schema": SCHEMA_VERSION,
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


class _Writer:
    """Shared machinery: temporary file, per-sample chunked datasets, running checksum."""

    kind = ""

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
            for key, value in self.provenance.attrs(self.kind).items():
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

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.h5")
    >>> with FieldsWriter(path, 2, (1, 1, 8), np.zeros(1), {"x": np.linspace(0, 1, 8)},
    ...                   Provenance("user")) as w:
    ...     w.write(u=np.ones((2, 1, 1, 8)))
    >>> validate(path).n_samples
    2
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
    ):
        u_shape = tuple(int(s) for s in u_shape)
        if len(u_shape) < 3:
            raise DataError(f"u sample shape must be (T, C, *S), got {u_shape}")
        if len(coords) != len(u_shape) - 2:
            raise DataError(
                f"{len(coords)} coordinate arrays given for {len(u_shape) - 2} spatial axes; pass one per axis"
            )
        super().__init__(path, provenance, overwrite=overwrite)
        try:
            self._create_sample_dataset("u", (n_samples, *u_shape), dtype)
            if a_shape is not None:
                self._create_sample_dataset("a", (n_samples, *tuple(a_shape)), dtype)
            if param_names is not None:
                self._create_sample_dataset("params", (n_samples, len(param_names)), np.float64)
                self.file["params"].attrs["names"] = json.dumps(list(param_names))
            self._static("t", np.asarray(t, dtype=np.float64).reshape(-1))
            for (name, grid), n in zip(coords.items(), u_shape[2:]):
                grid = np.asarray(grid, dtype=np.float64)
                if grid.shape != (n,):
                    raise DataError(f"coords/{name} has shape {grid.shape}, expected ({n},)")
                self._static(f"coords/{name}", grid)
            self.file["coords"].attrs["order"] = json.dumps(list(coords))
        except BaseException as exc:
            self.abort(exc)
            raise

    def write(self, u: np.ndarray, a: np.ndarray | None = None, params: np.ndarray | None = None) -> None:
        """Append a batch: ``u [B, T, C, *S]``, ``a [B, Ca, *S]``, ``params [B, P]``."""
        try:
            self._append("u", u)
            if a is not None:
                self._append("a", a)
            if params is not None:
                self._append("params", params)
        except BaseException as exc:
            self.abort(exc)
            raise


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
) -> str:
    """Write a whole in-memory ``fields`` dataset. Returns ``content_sha256``."""
    u = np.asarray(u)
    w = FieldsWriter(
        path, u.shape[0], u.shape[1:], t, coords, provenance,
        a_shape=None if a is None else np.shape(a)[1:], param_names=param_names,
    )
    w.write(u, a=a, params=params)
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
    if int(version) != SCHEMA_VERSION:
        raise DataError(
            f"{p} uses sciml schema version {int(version)}, this sciml reads version {SCHEMA_VERSION}; "
            "regenerate the file with this version of sciml"
        )
    kind = f.attrs.get("kind")
    if kind not in _KINDS:
        raise DataError(f"{p} has unknown kind {kind!r}; expected one of {', '.join(_KINDS)}")
    for key in _REQUIRED[kind]:
        if key not in f:
            raise DataError(
                f"{p} is missing the dataset '{key}' required for kind '{kind}'; the file is incomplete: regenerate it"
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
        lines = [f"{self.path}: sciml schema {SCHEMA_VERSION}, kind={self.kind}, {self.n_samples} samples"]
        for k, s in self.shapes.items():
            lines.append(f"  {k:<12} {list(s)}")
        shown = ("generator", "seed", "params", "solver", "system", "dt", "lyapunov_max", "dominant_period")
        shown += ("classes", "class_names", "image_shape", "created_utc", "sciml_version")
        for k in shown:
            if k in self.attrs:
                lines.append(f"  @{k:<11} {self.attrs[k]}")
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
    names = {"fields": ["u", "a", "params"], "samples": ["x", "y"]}.get(str(f.attrs["kind"]), ["x"])
    if f.attrs["kind"] == "trajectories" and f["t"].ndim == 2:
        names.append("t")
    return [n for n in names if n in f]


def validate(path: str | os.PathLike[str], *, check_finite: bool = True) -> FileInfo:
    """Read every chunk of ``path`` once: fletcher32 checksums, finiteness, shapes, content hash.

    Returns
    -------
    FileInfo
        Raises :class:`~sciml.errors.DataError` naming the first problem found.
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
        classes = samples_layout(f, p)["classes"] if kind == "samples" else None
        for name in sample_names:
            ds = f[name]
            h = hashlib.sha256()
            step = max(1, int(2**26 // max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:])))))
            for start in range(0, n, step):
                try:
                    block = ds[start : start + step]
                except OSError as exc:
                    raise DataError(
                        f"{p}: checksum mismatch reading '{name}' near sample {start} ({_short(exc)}); "
                        "the file is corrupt: regenerate or re-copy it"
                    ) from None
                if check_finite:
                    _check_finite_file(p, name, block, start)
                if classes is not None and name == "y":
                    _check_labels(p, block, start, classes)
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


def _check_finite_file(p: Path, name: str, block: np.ndarray, start: int) -> None:
    if np.issubdtype(block.dtype, np.floating) and not np.all(np.isfinite(block)):
        flat = np.isfinite(block.reshape(block.shape[0], -1)).all(axis=1)
        i = start + int(np.argmin(flat))
        raise DataError(
            f"{p}: non-finite values (NaN/inf) in '{name}' at sample {i}; "
            "drop that sample or regenerate the data with a smaller time step"
        )


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
