"""Pieces every generator shares: per-sample random streams, device checks, parameter checks."""

from __future__ import annotations

import numpy as np
import torch

from sciml.errors import ConfigError
from sciml.numerics.spectral import gaussian_random_field

__all__ = ["check_parameters", "grf_initial_conditions", "resolve_device", "sample_generator"]


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
