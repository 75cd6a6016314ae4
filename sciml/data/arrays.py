"""Whole splits of sciml files as float64 numpy arrays, for estimators (DMD, SINDy, ...).

Gradient-trained models stream float32 samples through :class:`~sciml.data.TrajectoryDataset`;
estimators fitted in closed form want the whole training split at once, in float64. The
readers here open the same files and let the datasets' own split logic choose the samples
(the file's ``splits`` group, else :func:`~sciml.data.split_indices` with the same
``fractions`` and ``split_seed``; or a time split), so both kinds of model see the same
train/val/test data.

>>> import numpy as np, os, tempfile
>>> from sciml.data import Provenance, write_trajectories
>>> path = os.path.join(tempfile.mkdtemp(), "line.h5")
>>> x = np.arange(10 * 4 * 1, dtype=np.float64).reshape(10, 4, 1)
>>> _ = write_trajectories(path, x, np.arange(4) * 0.5, Provenance("user"), dt=0.5)
>>> train = load_trajectories(path, "train")
>>> train.x.shape, train.x.dtype, train.dt, train.indices.tolist()
((8, 4, 1), dtype('float64'), 0.5, [0, 2, 3, 4, 5, 6, 7, 9])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.data.datasets import read_trajectories as _read_split
from sciml.data.schema import open_h5

__all__ = ["Trajectories", "load_trajectories", "read_arrays", "uniform_step"]


@dataclass(frozen=True)
class Trajectories:
    """A set of trajectories in memory.

    Attributes
    ----------
    x : ndarray ``[N, T, D]``
        States (float64 unless read with another ``dtype``).
    t : ndarray ``[T]`` (shared times) or ``[N, T]`` (per-trajectory times), float64
    dt : float or None
        The constant time step when every trajectory is sampled uniformly with the same
        step, else None (irregular sampling).
    content_sha256 : str or None
        The file's content hash (None for in-memory data).
    path : Path or None
        The file read (None for in-memory data).
    split : str or None
        ``"train"``, ``"val"``, ``"test"`` or None (all samples).
    indices : ndarray ``[N]``, int64
        The file's sample index of each trajectory.
    attrs : dict
        The file's attributes (``system``, ``params``, ``generator``, ...).
    segment : tuple of int
        ``(lo, hi)``: the file's step range held (``(0, T)`` unless split in time).
    """

    x: np.ndarray
    t: np.ndarray
    dt: float | None
    content_sha256: str | None = None
    path: Path | None = None
    split: str | None = None
    indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    attrs: dict[str, Any] = field(default_factory=dict)
    segment: tuple[int, int] = (0, 0)

    @property
    def n_trajectories(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_times(self) -> int:
        return int(self.x.shape[1])

    @property
    def dim(self) -> int:
        return int(self.x.shape[2])

    @classmethod
    def from_array(cls, x: Any, dt: float | None = None, t: Any = None) -> Trajectories:
        """Wrap in-memory states ``x [N, T, D]`` or one trajectory ``[T, D]``.

        Parameters
        ----------
        x : array-like ``[N, T, D]`` or ``[T, D]``
        dt : float, optional
            The time step; with neither ``dt`` nor ``t`` the step is 1 (one unit per sample).
        t : array-like ``[T]`` or ``[N, T]``, optional
            The sample times (``dt`` is then derived from them when they are uniform).

        >>> Trajectories.from_array(np.zeros((5, 2)), dt=0.1).x.shape
        (1, 5, 2)
        """
        arr = np.asarray(x)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise DataError(f"trajectories have dtype {arr.dtype}; pass real float states [N, T, D] or [T, D]")
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ShapeError(
                f"trajectories have shape {tuple(arr.shape)}; expected [N, T, D] (N trajectories) or [T, D] (one)"
            )
        arr = np.ascontiguousarray(arr, dtype=np.float64 if np.issubdtype(arr.dtype, np.integer) else arr.dtype)
        _check_finite(arr, "trajectories")
        if dt is not None and not (isinstance(dt, (int, float, np.number)) and np.isfinite(dt) and dt > 0):
            raise ConfigError(f"dt={dt!r} must be a positive number (the time between samples)")
        if t is None:
            step = 1.0 if dt is None else float(dt)
            times = np.arange(arr.shape[1], dtype=np.float64) * step
            return cls(arr, times, step, indices=np.arange(arr.shape[0], dtype=np.int64), segment=(0, arr.shape[1]))
        times = np.asarray(t, dtype=np.float64)
        if times.shape not in ((arr.shape[1],), arr.shape[:2]):
            raise ShapeError(
                f"times have shape {times.shape} for trajectories {tuple(arr.shape)}; pass t [T] or [N, T]"
            )
        step = uniform_step(times)
        if dt is not None and (step is None or abs(step - float(dt)) > 1e-9 * float(dt)):
            raise DataError(f"dt={dt} does not match the sample times (step {step}); pass consistent dt and t")
        return cls(arr, times, step, indices=np.arange(arr.shape[0], dtype=np.int64), segment=(0, arr.shape[1]))


def uniform_step(t: np.ndarray, rtol: float = 1e-9) -> float | None:
    """The constant step of times ``t [T]`` or ``[N, T]`` (the same for every row), else None.

    >>> uniform_step(np.arange(5) * 0.1)
    0.1
    >>> uniform_step(np.array([0.0, 0.1, 0.3])) is None
    True
    """
    t = np.atleast_2d(np.asarray(t, dtype=np.float64))
    if t.shape[1] < 2:
        return None
    steps = np.diff(t, axis=1)
    step = float((t[0, -1] - t[0, 0]) / (t.shape[1] - 1))
    # times k * dt carry a rounding error of a few eps * |t| each
    tol = rtol * step + 4 * np.finfo(np.float64).eps * np.abs(t[:, 1:])
    if not step > 0 or not np.all(np.abs(steps - step) <= tol):
        return None
    return step


def load_trajectories(
    path: str | os.PathLike[str],
    split: str | None = "train",
    *,
    split_by: str = "sample",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    split_seed: int = 0,
    time_fractions: Sequence[float] = (0.6, 0.2, 0.2),
    dtype: Any = np.float64,
) -> Trajectories:
    """Read one split of a ``trajectories`` file into memory as float64 :class:`Trajectories`.

    The samples (and, split in time, the step segment) are chosen by
    :func:`sciml.data.datasets.read_trajectories`, i.e. by :class:`~sciml.data.TrajectoryDataset`'s
    own split logic, so an estimator and a gradient-trained model given the same split
    settings see the same data.

    Parameters
    ----------
    path : path-like
        A sciml ``trajectories`` file (``x [N, T, D]``, ``t [T]`` or ``[N, T]``).
    split : {"train", "val", "test"} or None
        None reads every sample and every step.
    split_by : {"sample", "time"}
        ``"sample"``: whole trajectories per split (the file's ``splits`` group when present,
        else :func:`~sciml.data.split_indices` of ``fractions``, ``split_seed``); ``"time"``:
        every trajectory, the split's segment of steps (:func:`~sciml.data.time_split_bounds`
        of ``time_fractions``).
    fractions, split_seed, time_fractions :
        As for :class:`~sciml.data.TrajectoryDataset`.
    dtype : numpy float dtype
        Of the returned ``x`` (float64 by default; ``t`` is always float64).

    Returns
    -------
    Trajectories
        ``x [n, L, D]`` of the split's ``n`` samples in split order (``L`` steps: all of
        them, or the time segment), their times ``t [L]`` or ``[n, L]``, ``dt`` (the file's
        ``dt`` attribute, or the step of uniform times; None when the times are irregular),
        ``content_sha256``, ``indices`` and ``segment``.
    """
    p = Path(path)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ConfigError(f"dtype={dtype} is not a float dtype; use np.float64 (or np.float32)")
    with open_h5(p) as f:
        kind = str(f.attrs["kind"])
        attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
    if kind != "trajectories":
        raise DataError(
            f"{p} holds '{kind}' data but load_trajectories reads 'trajectories'; pass a trajectories file "
            "(sciml data info shows a file's kind)"
        )
    raw = _read_split(
        p, split, split_by=split_by, fractions=fractions, split_seed=split_seed, time_fractions=time_fractions
    )
    samples = np.asarray(raw["index"], dtype=np.int64)
    if len(samples) == 0:
        raise DataError(f"split '{split}' of {p} is empty; use more samples or other split fractions")
    x = np.asarray(raw["x"])
    if x.ndim != 3:
        raise DataError(f"{p}: 'x' must be [N, T, D], got samples of shape {x.shape[1:]}; regenerate the file")
    x = np.ascontiguousarray(x, dtype=dtype)
    t = np.asarray(raw["t"], dtype=np.float64)
    _check_finite(x, f"{p}: 'x'", samples)
    step = uniform_step(t)
    dt_attr = attrs.get("dt")
    if step is not None and dt_attr is not None and abs(float(dt_attr) - step) <= 1e-9 * step:
        step = float(dt_attr)  # the exact value the generator used
    return Trajectories(
        x=x,
        t=t,
        dt=step,
        content_sha256=None if attrs.get("content_sha256") is None else str(attrs["content_sha256"]),
        path=p,
        split=split,
        indices=samples,
        attrs=attrs,
        segment=tuple(int(v) for v in raw.get("segment", (0, x.shape[1]))),
    )


def read_arrays(path: str | os.PathLike[str], split: str | None = "train", **kwargs: Any) -> Trajectories:
    """Read a split of any file kind an estimator can fit (today: ``trajectories``).

    Dispatches on the file's ``kind`` attribute; ``kwargs`` go to the reader
    (:func:`load_trajectories`).
    """
    with open_h5(path) as f:
        kind = str(f.attrs["kind"])
    if kind == "trajectories":
        return load_trajectories(path, split, **kwargs)
    raise DataError(
        f"{path} holds '{kind}' data, which no estimator reads yet (float64 readers: trajectories); "
        "fit a gradient-trained model on it instead"
    )


def _check_finite(x: np.ndarray, what: str, samples: np.ndarray | None = None) -> None:
    finite = np.isfinite(x).reshape(x.shape[0], -1).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        sample = row if samples is None else int(samples[row])
        raise DataError(
            f"{what} holds non-finite values (NaN/inf) in trajectory {sample}; clean the data or drop that trajectory"
        )
