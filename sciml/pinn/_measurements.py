"""Measurements from our HDF5 files as PINN data: scattered observations or whole fields of one sample."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from sciml.core.errors import ConfigError, DataError
from sciml.data.schema import open_h5

__all__ = ["load_measurements"]


def load_measurements(
    path: str | os.PathLike[str],
    *,
    sample: int = 0,
    channel: int = 0,
    coordinates: Sequence[str] = ("x", "t"),
    max_points: int | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points and values of one sample of a ``scattered`` or ``fields`` file, for a PINN's data loss.

    ``scattered``: the sample's observed points (``points [N, P, 1 + d]``, time first, masked
    points left out) and ``values [N, P, C]``. ``fields``: every grid point of ``u [N, T, C, *S]``
    at every output time (with ``coords/<name>`` and ``t``), or ``max_points`` of them drawn
    without replacement (``default_rng([seed, sample])``).

    Parameters
    ----------
    path : path-like
        A file of our schema (``sciml data generate``, :func:`sciml.data.observations.observe`).
    sample, channel : int
        Which sample and channel.
    coordinates : sequence of str
        The problem's coordinate names, space then time: the file's spatial coordinates
        must be these (by name, when the file names them).
    max_points : int, optional
        Subsample a ``fields`` file to this many points.
    seed : int

    Returns
    -------
    points : Tensor [P, D] float64
        Space coordinates then time, the order of the problem's points.
    values : Tensor [P, 1] float64
    """
    spatial = list(coordinates[:-1])
    with open_h5(path) as f:
        kind = f.attrs["kind"]
        if kind == "scattered":
            n = f["points"].shape[0]
            _check_index(path, sample, n, "sample")
            _check_index(path, channel, f["values"].shape[2], "channel")
            names = _names(f.attrs.get("coords_names"))
            if names is not None and list(names) != spatial:
                raise ConfigError(
                    f"{path}: its coordinates are {names}, the problem's {spatial}; observe the problem's domain"
                )
            pts = np.asarray(f["points"][sample], dtype=np.float64)
            vals = np.asarray(f["values"][sample, :, channel], dtype=np.float64)
            if "mask" in f:
                keep = np.asarray(f["mask"][sample], dtype=bool)
                pts, vals = pts[keep], vals[keep]
            if pts.shape[1] != len(coordinates):
                raise ConfigError(
                    f"{path}: points have {pts.shape[1] - 1} spatial coordinates, the problem {len(spatial)}"
                )
            points = np.concatenate([pts[:, 1:], pts[:, :1]], axis=1)  # (t, x...) -> (x..., t)
        elif kind == "fields":
            u = f["u"]
            _check_index(path, sample, u.shape[0], "sample")
            _check_index(path, channel, u.shape[2], "channel")
            if u.ndim - 3 != len(spatial):
                raise ConfigError(f"{path}: fields of {u.ndim - 3} spatial dimensions, the problem has {len(spatial)}")
            grids = []
            for name in spatial:
                if f"coords/{name}" not in f:
                    have = sorted(f["coords"]) if "coords" in f else []
                    raise ConfigError(
                        f"{path}: no coords/{name} (the file has {have}); it must name the problem's axes"
                    )
                grids.append(np.asarray(f[f"coords/{name}"], dtype=np.float64))
            t = np.asarray(f["t"], dtype=np.float64)
            field = np.asarray(u[sample, :, channel], dtype=np.float64)  # [T, *S]
            mesh = np.meshgrid(t, *grids, indexing="ij")
            points = np.stack([m.reshape(-1) for m in mesh[1:]] + [mesh[0].reshape(-1)], axis=1)
            vals = field.reshape(-1)
            if max_points is not None and max_points < len(vals):
                pick = np.random.default_rng([seed, sample]).choice(len(vals), int(max_points), replace=False)
                points, vals = points[np.sort(pick)], vals[np.sort(pick)]
        else:
            raise ConfigError(f"{path} is a {kind!r} file; PINN measurements come from 'scattered' or 'fields' files")
    if len(vals) == 0:
        raise ConfigError(f"{path}: sample {sample} has no observed points")
    if not np.isfinite(vals).all() or not np.isfinite(points).all():
        raise DataError(f"{path}: sample {sample} has non-finite measurements; clean the file")
    return torch.from_numpy(points), torch.from_numpy(vals).reshape(-1, 1)


def _names(raw) -> list[str] | None:
    if raw is None:
        return None
    import json

    return list(json.loads(raw)) if isinstance(raw, str) else [str(n) for n in raw]


def _check_index(path, index: int, size: int, what: str) -> None:
    if not 0 <= int(index) < size:
        raise ConfigError(f"{path}: {what} {index} does not exist; the file has {size} ({what} 0..{size - 1})")
