"""Noisy observations sampled from a clean ``fields`` file (for PINNs, observers, data assimilation).

Two layouts of the same measurements (schema version 2):

:func:`observe`
    A ``scattered`` file: ``n_points`` random space-time points per sample, ``points
    [N, P, 1 + d]`` (time, then the coordinates) and ``values [N, P, C]``.
:func:`observe_fields`
    A copy of the ``fields`` file with an observation group ``obs/``: a random subset of the
    grid points at chosen output times, ``obs/values [N, To, C, *S]`` with a mask.

Both draw every sample's points and noise from its own random stream, seeded by
``(seed, i)`` (``numpy.random.default_rng([seed, i])``): sample ``i`` gets the same
observations whatever the batch size, and a noise-free and a noisy file of the same seed
observe the same points. Points lie on the grid (no interpolation): noise-free values equal
the field exactly there.

Noise is additive Gaussian, independent per point and channel, with standard deviation
``noise * std_c`` when ``relative`` (``std_c``: the population standard deviation of channel
c of ``u`` over the whole file: all samples, times and grid points) or ``noise`` itself
otherwise; the absolute value per channel is recorded as ``noise_std [C]``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciml.core.errors import ConfigError
from sciml.data.schema import FieldsWriter, Provenance, ScatteredWriter, open_h5, validate

__all__ = ["observe", "observe_fields", "field_std"]

_MANAGED_ATTRS = {
    "sciml_schema",
    "kind",
    "generator",
    "params",
    "seed",
    "solver",
    "sciml_version",
    "created_utc",
    "content_sha256",
}


def field_std(u: h5py.Dataset | np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Population standard deviation per channel of ``u [N, T, C, *S]``, streamed in float64.

    Returns float64 ``[C]`` (Chan et al. pairwise update over sample batches).
    """
    count, mean, m2 = 0, None, None
    for start in range(0, u.shape[0], batch_size):
        block = np.asarray(u[start : start + batch_size], dtype=np.float64)
        cols = np.moveaxis(block, 2, 0).reshape(block.shape[2], -1)
        n = cols.shape[1]
        mean_b = cols.mean(axis=1)
        m2_b = ((cols - mean_b[:, None]) ** 2).sum(axis=1)
        if count == 0:
            mean, m2 = mean_b, m2_b
        else:
            delta = mean_b - mean
            total = count + n
            m2 = m2 + m2_b + delta**2 * count * n / total
            mean = mean + delta * n / total
        count += n
    return np.sqrt(m2 / count)


def _noise_sigma(u: h5py.Dataset, noise: Any, relative: bool) -> np.ndarray:
    channels = u.shape[2]
    level = np.asarray(noise, dtype=np.float64).reshape(-1)
    if level.size == 1:
        level = np.full(channels, float(level[0]))
    if level.shape != (channels,) or not np.all(np.isfinite(level)) or np.any(level < 0):
        raise ConfigError(
            f"noise must be one non-negative number or one per channel ({channels}), got {np.asarray(noise).tolist()}; "
            "e.g. noise=0.05 (5 % of the field's standard deviation with relative=True)"
        )
    return level * field_std(u) if relative else level


def _time_indices(n_times: int, time_indices: Sequence[int] | None) -> np.ndarray:
    if time_indices is None:
        return np.arange(n_times)
    idx = np.asarray(time_indices, dtype=np.int64).reshape(-1)
    if idx.size == 0 or np.any(idx < -n_times) or np.any(idx >= n_times):
        raise ConfigError(
            f"time_indices {np.asarray(time_indices).tolist()} must be non-empty indices of the {n_times} output times; "
            "pass indices into the file's t (negative counts from the end)"
        )
    idx = np.unique(idx % n_times)
    return idx


def _coords(f: h5py.File, spatial: tuple[int, ...]) -> dict[str, np.ndarray]:
    order = json.loads(f["coords"].attrs.get("order", "[]")) if "coords" in f else []
    if len(order) == len(spatial):
        return {name: f["coords"][name][()] for name in order}
    return {name: np.linspace(0, 1, s, endpoint=False) for name, s in zip("xyz", spatial)}


def _source(fields_path: Path, f: h5py.File, digest: str | None) -> dict[str, Any]:
    def parse(key: str) -> Any:
        try:
            return json.loads(f.attrs.get(key, "{}"))
        except (TypeError, ValueError):
            return str(f.attrs.get(key))

    seed = f.attrs.get("seed")
    return {
        "file": fields_path.name,
        "kind": "fields",
        "field": "u",
        "content_sha256": digest,
        "generator": str(f.attrs.get("generator", "")),
        "params": parse("params"),
        "seed": None if seed is None else int(seed),
    }


def _splits(f: h5py.File) -> dict[str, np.ndarray] | None:
    return {k: f["splits"][k][()] for k in f["splits"]} if "splits" in f else None


def observe(
    fields_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    n_points: int,
    noise: float | Sequence[float] = 0.0,
    relative: bool = True,
    seed: int = 0,
    time_indices: Sequence[int] | None = None,
    batch_size: int = 32,
    overwrite: bool = True,
) -> str:
    """Sample scattered noisy observations of a ``fields`` file into a ``scattered`` file.

    For each sample ``i`` of ``u [N, T, C, *S]``, ``n_points`` distinct grid points
    ``(t_k, x_j[, y_l])`` are drawn uniformly without replacement from the chosen output
    times and the spatial grid (stream ``default_rng([seed, i])``, points first, then the
    noise), sorted by time then position. ``values`` are ``u`` there plus Gaussian noise.

    Parameters
    ----------
    fields_path : path-like
        The clean ``fields`` file (validated first: its ``content_sha256`` is recorded).
    out_path : path-like
        The ``scattered`` file to write (atomically; nothing is left on failure).
    n_points : int
        P, points per sample; at most ``len(time_indices) * prod(S)``.
    noise : float or sequence of C floats
        Noise level: relative to the per-channel standard deviation of ``u`` when
        ``relative``, else the absolute standard deviation. 0 gives exact values.
    relative : bool
    seed : int
    time_indices : sequence of int, optional
        Output times to observe (indices into ``t``; default all).
    batch_size : int
        Samples read at a time.

    Returns
    -------
    str
        The ``content_sha256`` of the written file. Its attributes: ``coords_names`` (the
        source's coordinate names), ``bounds`` (``[t.min, t.max]`` and each grid's
        ``[min, max]``), ``noise_std [C]`` (absolute), ``source`` (file name,
        ``content_sha256``, generator, params, seed of the clean file); its ``splits``
        are the source's, so sample ``i`` of both files is the same solution.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sciml.data import Provenance, ScatteredDataset, write_fields
    >>> d = tempfile.mkdtemp()
    >>> u = np.random.default_rng(0).normal(size=(4, 3, 1, 16)).astype(np.float32)
    >>> _ = write_fields(os.path.join(d, "f.h5"), u, [0.0, 0.5, 1.0], {"x": np.linspace(0, 1, 16)}, Provenance("user"))
    >>> _ = observe(os.path.join(d, "f.h5"), os.path.join(d, "obs.h5"), n_points=10, noise=0.1, seed=1)
    >>> item = ScatteredDataset(os.path.join(d, "obs.h5"), None)[0]
    >>> tuple(item["x"].shape), tuple(item["y"].shape), bool(item["mask"].all())
    ((10, 2), (10, 1), True)
    """
    src = Path(fields_path)
    info = validate(src)
    if info.kind != "fields":
        raise ConfigError(f"observe samples a 'fields' file but {src} holds '{info.kind}'; pass a fields file")
    with open_h5(src) as f:
        u = f["u"]
        n, n_times, channels, spatial = u.shape[0], u.shape[1], u.shape[2], tuple(u.shape[3:])
        times = f["t"][()]
        steps = _time_indices(n_times, time_indices)
        grid_shape = (len(steps), *spatial)
        total = int(np.prod(grid_shape))
        if not 1 <= int(n_points) <= total:
            raise ConfigError(
                f"n_points={n_points} must be between 1 and the {total} grid points of the observed times "
                f"({len(steps)} times x {int(np.prod(spatial))} points); lower n_points or observe more times"
            )
        n_points = int(n_points)
        sigma = _noise_sigma(u, noise, relative)
        coords = _coords(f, spatial)
        grids = list(coords.values())
        bounds = [[float(times.min()), float(times.max())]] + [[float(g.min()), float(g.max())] for g in grids]
        params = {
            "n_points": n_points,
            "noise": np.asarray(noise, dtype=np.float64).tolist(),
            "relative": bool(relative),
            "time_indices": steps.tolist(),
            "interpolation": "none (grid points)",
        }
        with ScatteredWriter(
            out_path,
            n,
            n_points,
            channels,
            Provenance("observe", params, seed=int(seed), solver={"sampling": "uniform without replacement"}),
            coords_names=list(coords),
            bounds=bounds,
            noise_std=sigma,
            source=_source(src, f, info.content_sha256),
            overwrite=overwrite,
        ) as w:
            for start in range(0, n, int(batch_size)):
                block = u[start : start + int(batch_size)]
                pts = np.empty((len(block), n_points, 1 + len(spatial)))
                vals = np.empty((len(block), n_points, channels))
                for b, field in enumerate(block):
                    rng = np.random.default_rng([int(seed), start + b])
                    flat = np.sort(rng.choice(total, size=n_points, replace=False))
                    where = np.unravel_index(flat, grid_shape)
                    step = steps[where[0]]
                    clean = field[(step, slice(None), *where[1:])]  # [P, C]
                    vals[b] = clean.astype(np.float64) + sigma * rng.standard_normal((n_points, channels))
                    pts[b] = np.column_stack([times[step], *(g[k] for g, k in zip(grids, where[1:]))])
                w.write(pts, vals)
            w.close(splits=_splits(f))
    return validate(out_path).content_sha256


def observe_fields(
    fields_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    fraction: float = 1.0,
    noise: float | Sequence[float] = 0.0,
    relative: bool = True,
    seed: int = 0,
    time_indices: Sequence[int] | None = None,
    shared_mask: bool = True,
    batch_size: int = 32,
    overwrite: bool = True,
) -> str:
    """Copy a ``fields`` file and add an observation group ``obs/`` sampled from its ``u``.

    The copy keeps ``u``, ``a``, ``params``, ``t``, ``coords``, ``splits`` and the provenance
    attributes of the source. For each sample ``i`` (stream ``default_rng([seed, i])``: the
    mask first, then the noise), every grid point at every observed time is observed with
    probability ``fraction``; ``obs/values [N, To, C, *S]`` is ``u`` there plus Gaussian
    noise (0 elsewhere), ``obs/t [N, To]`` the observed output times.

    Parameters
    ----------
    fields_path, out_path : path-like
        Source ``fields`` file and the copy to write (atomically).
    fraction : float
        Probability in (0, 1] that a grid point is observed at an observed time.
    noise, relative, seed, time_indices, batch_size :
        As in :func:`observe` (``time_indices``: the To observed output times).
    shared_mask : bool
        One flag per point shared by the channels (``obs/mask [N, To, 1, *S]``), else one
        per channel (``[N, To, C, *S]``, drawn independently).

    Returns
    -------
    str
        The ``content_sha256`` of the copy (``u`` unchanged, so its per-dataset hash is the
        source's; the file hash changes because it covers ``obs/*``). The group attributes
        record ``noise_std [C]``, ``source = "u"``, ``sampling`` (JSON of these arguments) and
        ``source_content_sha256`` (the source file's hash).
    """
    if not 0 < float(fraction) <= 1:
        raise ConfigError(f"fraction={fraction} must be in (0, 1]: the probability that a grid point is observed")
    src = Path(fields_path)
    info = validate(src)
    if info.kind != "fields":
        raise ConfigError(f"observe_fields copies a 'fields' file but {src} holds '{info.kind}'; pass a fields file")
    with open_h5(src) as f:
        if "obs" in f:
            raise ConfigError(f"{src} already has an observation group 'obs'; observe the clean file it came from")
        u = f["u"]
        n, n_times, channels, spatial = u.shape[0], u.shape[1], u.shape[2], tuple(u.shape[3:])
        times = f["t"][()]
        steps = _time_indices(n_times, time_indices)
        sigma = _noise_sigma(u, noise, relative)
        mask_channels = 1 if shared_mask else channels
        sampling = {
            "fraction": float(fraction),
            "noise": np.asarray(noise, dtype=np.float64).tolist(),
            "relative": bool(relative),
            "seed": int(seed),
            "time_indices": steps.tolist(),
            "shared_mask": bool(shared_mask),
        }
        prov = Provenance(
            str(f.attrs.get("generator", "user")),
            json.loads(f.attrs.get("params", "{}")),
            seed=int(f.attrs.get("seed", 0)),
            solver=json.loads(f.attrs.get("solver", "{}")),
        )
        extra = {k: v for k, v in f.attrs.items() if k not in _MANAGED_ATTRS}
        has_a, has_params = "a" in f, "params" in f
        names = json.loads(f["params"].attrs["names"]) if has_params else None
        w = FieldsWriter(
            out_path,
            n,
            u.shape[1:],
            times,
            _coords(f, spatial),
            prov,
            a_shape=f["a"].shape[1:] if has_a else None,
            param_names=names,
            dtype=u.dtype,
            overwrite=overwrite,
            obs_shape=(len(steps), channels, *spatial),
            obs_mask_channels=mask_channels,
            noise_std=sigma,
            obs_attrs={"sampling": json.dumps(sampling, sort_keys=True), "source_content_sha256": str(info.content_sha256)},
        )
        with w:
            for start in range(0, n, int(batch_size)):
                stop = min(n, start + int(batch_size))
                block = u[start:stop]
                obs = np.zeros((len(block), len(steps), channels, *spatial))
                mask = np.zeros((len(block), len(steps), mask_channels, *spatial), np.bool_)
                for b, field in enumerate(block):
                    rng = np.random.default_rng([int(seed), start + b])
                    mask[b] = rng.random(mask.shape[1:]) < float(fraction)
                    scale = sigma.reshape(channels, *([1] * len(spatial)))  # broadcasts over [To, C, *S]
                    noisy = field[steps].astype(np.float64) + scale * rng.standard_normal(obs.shape[1:])
                    obs[b] = np.where(mask[b], noisy, 0.0)
                w.write(
                    block,
                    a=f["a"][start:stop] if has_a else None,
                    params=f["params"][start:stop] if has_params else None,
                    obs=obs,
                    obs_mask=mask,
                    obs_t=np.tile(times[steps], (len(block), 1)),
                )
            w.close(splits=_splits(f), extra_attrs=extra)
    return validate(out_path).content_sha256
