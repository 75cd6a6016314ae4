"""Pieces every generator shares: per-sample random streams, device checks, parameter checks,
and the cache of finished batches that lets an interrupted generation resume."""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml.core.errors import ConfigError, DataError
from sciml.core.io import atomic_path
from sciml.data.schema import FieldsWriter
from sciml.numerics.spectral import gaussian_random_field

logger = logging.getLogger(__name__)

__all__ = [
    "BatchCache",
    "check_parameters",
    "grf_initial_conditions",
    "resolve_device",
    "run_batches",
    "run_fields",
    "sample_generator",
]


def check_parameters(generator_name: str, checks: dict[str, tuple[bool, str]], values: dict) -> None:
    """Raise a one-line ConfigError for the first failed check: ``{name: (ok, how to fix)}``."""
    for key, (ok, fix) in checks.items():
        if not ok:
            raise ConfigError(f"{generator_name}: {key}={values[key]!r} {fix}")


def sample_generator(seed: int, index: int) -> torch.Generator:
    """A CPU generator for sample ``index`` of a data set, independent of the others.

    Seeds are mixed by :class:`numpy.random.SeedSequence`, so nearby ``(seed, index)``
    pairs give unrelated streams.
    """
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state >> np.uint64(1)))


def resolve_device(generator_name: str, device: str | torch.device) -> torch.device:
    """``torch.device(device)`` after checking that it exists here; else a one-line ConfigError."""
    try:
        torch_device = torch.device(device)
        torch.empty(0, device=torch_device)
    except (RuntimeError, AssertionError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{generator_name}: device={device!r} is not usable here ({reason}); use device='cpu'"
        ) from None
    return torch_device


def grf_initial_conditions(
    first: int,
    count: int,
    resolution: int,
    *,
    seed: int = 0,
    length: float = 1.0,
    alpha: float = 2.0,
    tau: float = 5.0,
    sigma: float = 25.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Gaussian random field initial conditions for samples ``first .. first+count-1``.

    Each sample draws its noise from its own CPU generator seeded by ``(seed, index)``,
    so sample ``i`` is the same whatever the batch size or device.

    Parameters
    ----------
    first, count : int
        Index of the first sample and number of samples.
    resolution : int
        Grid points S on ``[0, length)``.
    seed : int
        Data set seed.
    length, alpha, tau, sigma : float
        Period and covariance ``sigma^2 (-Laplacian + tau^2)^(-alpha)``; see
        :func:`sciml.numerics.spectral.gaussian_random_field`.
    device : torch.device or str
        Where the result lives (sampling always runs on the CPU).

    Returns
    -------
    Tensor ``[count, resolution]``, float64 on ``device``
    """
    fields = [
        gaussian_random_field(1, resolution, length, alpha, tau, sigma, sample_generator(seed, i), "cpu")
        for i in range(first, first + count)
    ]
    return torch.cat(fields).to(device)


class BatchCache:
    """Finished batches of a long generation, kept beside the output until the file is complete.

    A generator that takes hours (Navier-Stokes at a 256 grid, 1200 samples) must not lose
    them to a killed process. Each finished batch is saved (atomically) as
    ``.NAME.batches/START.npz`` next to the output ``NAME``; a rerun of the same call
    loads those batches instead of recomputing them and writes the same bytes, so the file's
    ``content_sha256`` does not depend on interruptions. The directory records the call
    (generator, parameters, seed, batch size) in ``key.json``; a rerun with other settings
    is refused with a one-line error naming the directory, and a finished file removes it.

    Parameters
    ----------
    path : path-like
        The output file.
    key : dict
        Everything that determines the batches' content (JSON-serializable).
    """

    def __init__(self, path: str | os.PathLike[str], key: dict[str, Any]):
        out = Path(path)
        self.directory = out.parent / f".{out.name}.batches"
        self.key = json.loads(json.dumps(key, sort_keys=True, default=str))
        key_file = self.directory / "key.json"
        if key_file.exists():
            try:
                old = json.loads(key_file.read_text())
            except (OSError, ValueError):
                old = None
            if old != self.key:
                raise DataError(
                    f"{self.directory} holds finished batches of a different call "
                    f"({_key_difference(old, self.key)}); rerun with the same settings to resume, or delete "
                    "that directory to start over"
                )
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            with atomic_path(key_file) as tmp:
                tmp.write_text(json.dumps(self.key, sort_keys=True, indent=1))
        self.resumed = 0

    def _file(self, start: int) -> Path:
        return self.directory / f"{start:09d}.npz"

    def load(self, start: int) -> dict[str, np.ndarray] | None:
        """The arrays of the batch that starts at sample ``start``, or None if not finished."""
        f = self._file(start)
        if not f.exists():
            return None
        try:
            with np.load(f) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            f.unlink(missing_ok=True)  # a damaged batch is recomputed
            return None
        if not self.resumed:
            logger.info("resuming from the finished batches in %s", self.directory)
        self.resumed += 1
        return arrays

    def save(self, start: int, **arrays: np.ndarray) -> None:
        with atomic_path(self._file(start), suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

    def clear(self) -> None:
        """Remove the cache (after the output file is complete)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def _key_difference(old: Any, new: dict[str, Any]) -> str:
    if not isinstance(old, dict):
        return "its key.json is unreadable"
    keys = sorted(set(old) | set(new))
    diff = [f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(diff[:3]) or "different settings"


def run_batches(
    writer: Any,
    path: str | os.PathLike[str],
    *,
    generator: str,
    n: int,
    batch_size: int,
    key: Mapping[str, Any],
    compute: Callable[[int, int], Mapping[str, np.ndarray]],
    progress: bool = False,
    close_kwargs: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
) -> str:
    """The one loop of every generator: batches, resume after a kill, progress, the checksum.

    Samples ``start .. start+count-1`` come from ``compute(start, count)`` (which draws
    sample ``i`` from its own random stream, so the content does not depend on the batch
    size); each finished batch is kept in a :class:`BatchCache` beside ``path`` before it
    is streamed into ``writer``, so a rerun after a kill (SIGKILL included) loads the
    finished batches and writes the uninterrupted file's content. A one-line
    :class:`ConfigError` or :class:`DataError` (a blow-up, a bad setting) clears the cache:
    the rerun needs other settings.

    Parameters
    ----------
    writer : FieldsWriter, TrajectoriesWriter or SamplesWriter
        Open writer of ``n`` samples; receives ``writer.write(**arrays)`` per batch.
    path : path-like
        The output file (the cache lives in ``.NAME.batches`` next to it).
    generator : str
        Registered name, shown by the progress bar and recorded in the cache key.
    n, batch_size : int
        Samples in the file and per batch.
    key : mapping
        Everything besides ``generator``, ``n`` and ``batch_size`` that determines the
        content (parameters, seed, solver settings, device), JSON-serializable; a cache of
        another key is refused with a one-line error.
    compute : callable ``(start, count) -> {name: array [count, ...]}``
        The keyword arguments of ``writer.write`` for one batch, as numpy arrays.
    progress : bool
        Show a tqdm bar over batches.
    close_kwargs : mapping or callable, optional
        Keyword arguments of ``writer.close`` (``splits``, ``extra_attrs``), or a callable
        returning them after the last batch.

    Returns
    -------
    str
        The file's ``content_sha256``.
    """
    cache = BatchCache(path, {"generator": generator, "n": n, "batch_size": batch_size, **dict(key)})
    starts: Any = range(0, n, batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=generator, unit="batch")
    try:
        for start in starts:
            arrays = cache.load(start)
            if arrays is None:
                arrays = {name: np.asarray(value) for name, value in compute(start, min(batch_size, n - start)).items()}
                cache.save(start, **arrays)
            writer.write(**arrays)
        extra = close_kwargs() if callable(close_kwargs) else (close_kwargs or {})
        digest = writer.close(**extra)
    except (ConfigError, DataError):
        cache.clear()
        raise
    cache.clear()
    return digest


def run_fields(
    path: str | os.PathLike[str],
    *,
    generator: str,
    n: int,
    u_shape: tuple[int, ...],
    t: np.ndarray,
    coords: Mapping[str, np.ndarray],
    provenance: Any,
    a_shape: tuple[int, ...],
    batch_size: int,
    key: Mapping[str, Any],
    compute: Callable[[int, int], Mapping[str, np.ndarray]],
    progress: bool = False,
    param_names: list[str] | None = None,
) -> str:
    """A ``fields`` file of ``n`` samples ``u [T, C, *S]`` (inputs ``a``) by :func:`run_batches`:
    what the PDE generators share (the writer's arguments, then the one loop)."""
    with FieldsWriter(path, n, u_shape, t, coords, provenance, a_shape=a_shape, param_names=param_names) as writer:
        return run_batches(
            writer, path, generator=generator, n=n, batch_size=batch_size, key=key, compute=compute, progress=progress
        )
