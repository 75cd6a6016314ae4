"""Incompressible Navier-Stokes in 2-D vorticity form: the ``navier_stokes2d`` generator.

    w_t + u . grad w = nu Laplacian w - drag w + f,    u = (psi_y, -psi_x),    -Laplacian psi = w

on the periodic unit torus ``[0, 1)^2`` (``x`` along array axis -2, ``y`` along -1).

Forcings: ``"fno"``, the FNO benchmark's ``f = 0.1 (sin(2 pi (x + y)) + cos(2 pi (x + y)))``
(Li et al. 2021), and ``"kolmogorov"``, ``f = amplitude sin(2 pi n y)``, usually with a
linear drag. Initial vorticity: a periodic Gaussian random field with covariance
``7^(3/2) (-Laplacian + 49)^(-2.5)`` (the FNO benchmark's).

Solver: :func:`sciml.numerics.pde.solve_navier_stokes` (Fourier pseudo-spectral on an
internal grid, 2/3 dealiasing, the second-order IMEX Runge-Kutta pair Crank-Nicolson /
Heun). The FNO benchmark's solver is the first-order forward-Euler/CN variant with a
fixed step of 1e-4; this one takes per-sample adaptive steps
``dt = cfl dx / max(|u| + |v|)`` (independent of the other samples of a batch) capped at
``max_dt``, or a fixed ``dt`` with a Courant-number check.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.core.errors import ConfigError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, resolve_device, run_fields, sample_generator
from sciml.data.schema import Provenance
from sciml.numerics.pde import NAVIER_STOKES_METHOD, solve_navier_stokes
from sciml.numerics.spectral import gaussian_random_field

__all__ = ["navier_stokes2d", "initial_vorticity", "ns_forcing", "minimum_resolution"]

DEFAULT_CFL = 0.5
DEFAULT_MAX_DT = 0.01
# the largest Courant number of a fixed step (the solver's limit)
_MAX_COURANT = 1.0
_FORCINGS = ("fno", "kolmogorov", "none")
# internal grid per unit of nu^(-1/2): the 2-D enstrophy-cascade dissipation wavenumber
# grows as nu^(-1/2); 2 puts nu=1e-3 at 64 points (its enstrophy spectrum falls 1e-10
# below its peak at the 2/3 cut-off for the FNO setting), 1e-4 at 200 and 1e-5 at 632
_RESOLUTION_PER_INVERSE_SQRT_NU = 2.0


def minimum_resolution(nu: float) -> int:
    """Smallest internal grid (even) accepted for viscosity ``nu``: ``2 / sqrt(nu)``."""
    return 2 * math.ceil(_RESOLUTION_PER_INVERSE_SQRT_NU / math.sqrt(nu) / 2)


def _remove_nyquist(w: torch.Tensor) -> torch.Tensor:
    """``w [..., S, S]`` without its Nyquist modes (S even), so that Fourier
    interpolation to a finer grid reproduces it exactly at the coarse points."""
    s = w.shape[-1]
    w_hat = torch.fft.rfft2(w)
    w_hat[..., s // 2, :] = 0
    w_hat[..., :, s // 2] = 0
    return torch.fft.irfft2(w_hat, s=(s, s))


def initial_vorticity(
    first: int,
    count: int,
    resolution: int,
    *,
    seed: int = 0,
    alpha: float = 2.5,
    tau: float = 7.0,
    sigma: float | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """GRF initial vorticity of samples ``first .. first+count-1``, ``[count, S, S]`` float64.

    Covariance ``sigma^2 (-Laplacian + tau^2)^(-alpha)`` on the unit torus,
    ``sigma = tau^(alpha - 1)`` by default (FNO: ``7^(3/2) (-Laplacian + 49)^(-2.5)``),
    Nyquist modes removed. Each sample draws its noise from its own CPU generator
    seeded by ``(seed, index)``, so it does not depend on batching or device.
    """
    if sigma is None:
        sigma = tau ** (alpha - 1)
    fields = [
        gaussian_random_field(1, resolution, 1.0, alpha, tau, sigma, sample_generator(seed, i), "cpu", dim=2)
        for i in range(first, first + count)
    ]
    return _remove_nyquist(torch.cat(fields)).to(device)


def ns_forcing(
    kind: str, resolution: int, amplitude: float | None = None, wavenumber: int = 4, dtype=torch.float64
) -> torch.Tensor | None:
    """Vorticity forcing ``[S, S]`` on the grid ``(i, j) / S`` (``None`` for ``"none"``).

    ``"fno"``: ``amplitude (sin(2 pi (x + y)) + cos(2 pi (x + y)))``, amplitude 0.1 by
    default; ``"kolmogorov"``: ``amplitude sin(2 pi wavenumber y)``, amplitude 1.
    """
    grid = torch.arange(resolution, dtype=dtype) / resolution
    x, y = grid[:, None], grid[None, :]
    if kind == "fno":
        amplitude = 0.1 if amplitude is None else amplitude
        return amplitude * (torch.sin(2 * math.pi * (x + y)) + torch.cos(2 * math.pi * (x + y)))
    if kind == "kolmogorov":
        amplitude = 1.0 if amplitude is None else amplitude
        return amplitude * torch.sin(2 * math.pi * wavenumber * y).expand(resolution, resolution).clone()
    if kind == "none":
        return None
    raise ConfigError(f"navier_stokes2d: forcing={kind!r} is not one of {', '.join(_FORCINGS)}")


def _check_config(v: dict) -> None:
    checks = {
        "n": (v["n"] >= 1, "must be >= 1"),
        "batch_size": (v["batch_size"] >= 1, "must be >= 1"),
        "nu": (v["nu"] > 0, "must be > 0 (the viscosity); try nu=1e-3"),
        "resolution": (v["resolution"] >= 8 and v["resolution"] % 2 == 0, "must be even and >= 8; try resolution=64"),
        "n_times": (v["n_times"] >= 1, "must be >= 1; try n_times=20"),
        "t_final": (v["t_final"] > 0, "must be > 0; try t_final=20"),
        "forcing": (v["forcing"] in _FORCINGS, f"must be one of {', '.join(_FORCINGS)}"),
        "forcing_wavenumber": (v["forcing_wavenumber"] >= 1, "must be an integer >= 1; try 4"),
        "drag": (v["drag"] >= 0, "must be >= 0; try drag=0.1 with kolmogorov forcing"),
        "alpha": (v["alpha"] > 1, "must be > 1 for a continuous 2-D field; try alpha=2.5"),
        "tau": (v["tau"] >= 0, "must be >= 0; try tau=7"),
        "sigma": (v["sigma"] is None or v["sigma"] >= 0, "must be >= 0 or None (tau^(alpha-1))"),
        "cfl": (0 < v["cfl"] <= _MAX_COURANT, f"must be in (0, {_MAX_COURANT}]; try cfl={DEFAULT_CFL}"),
        "max_dt": (v["max_dt"] > 0, f"must be > 0; try max_dt={DEFAULT_MAX_DT}"),
        "dt": (v["dt"] is None or v["dt"] > 0, "must be > 0, or None for the adaptive CFL step"),
    }
    check_parameters("navier_stokes2d", checks, v)


@GENERATORS.register("navier_stokes2d")
def navier_stokes2d(
    path,
    *,
    n: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 100,
    progress: bool = False,
    resolution: int = 64,
    nu: float = 1e-3,
    t_final: float = 20.0,
    n_times: int = 20,
    forcing: str = "fno",
    forcing_amplitude: float | None = None,
    forcing_wavenumber: int = 4,
    drag: float = 0.0,
    alpha: float = 2.5,
    tau: float = 7.0,
    sigma: float | None = None,
    internal_resolution: int | None = None,
    cfl: float = DEFAULT_CFL,
    max_dt: float = DEFAULT_MAX_DT,
    dt: float | None = None,
) -> str:
    """Navier-Stokes 2-D: initial vorticity ``a [N, 1, S, S]`` to ``u [N, T, 1, S, S]``.

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``fields``; coords ``x``, ``y`` = ``i / S``).
    n : int
        Number of samples N.
    seed : int
        Seed of the initial vorticity; sample ``i`` depends only on ``(seed, i)``.
    device : str
        Torch device of the integration ("cpu", "cuda", ...).
    batch_size : int
        Samples integrated together; memory grows linearly with it.
    progress : bool
        Show a tqdm progress bar over batches.
    resolution : int
        Output points S per axis (even); 64 as the FNO benchmark files.
    nu : float
        Viscosity, 1e-3 (FNO, t_final=50) down to 1e-5 (FNO, t_final=20).
    t_final, n_times : float, int
        Outputs at ``t = 0`` and ``n_times`` equally spaced times in ``(0, t_final]``,
        so ``T = n_times + 1``; the FNO "10 from 10" task uses 20 snapshots.
    forcing : {"fno", "kolmogorov", "none"}
        Vorticity forcing; see :func:`ns_forcing`.
    forcing_amplitude : float, optional
        Default 0.1 for "fno", 1.0 for "kolmogorov".
    forcing_wavenumber : int
        ``n`` of the Kolmogorov forcing ``sin(2 pi n y)``.
    drag : float
        Linear drag ``- drag w`` (0.1 is usual for Kolmogorov flow).
    alpha, tau, sigma : float
        Initial vorticity GRF covariance ``sigma^2 (-Laplacian + tau^2)^(-alpha)``,
        ``sigma=None`` meaning ``tau^(alpha - 1)`` (FNO: ``7^(3/2)``, alpha=2.5, tau=7).
    internal_resolution : int, optional
        Solver grid, a multiple of ``resolution`` and at least
        :func:`minimum_resolution` ``(nu) = 2 / sqrt(nu)`` rounded up (64 for
        nu=1e-3, 200 for 1e-4, 634 for 1e-5); default: the smallest such multiple.
    cfl, max_dt : float
        Adaptive step ``min(cfl dx / max(|u| + |v|), max_dt)`` per sample.
    dt : float, optional
        Fixed step instead; a Courant number above 1 raises a DataError.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    _check_config(locals())
    needed = minimum_resolution(nu)
    if internal_resolution is None:
        internal = resolution * math.ceil(needed / resolution)
    else:
        internal = int(internal_resolution)
        if internal < resolution or internal % resolution:
            raise ConfigError(
                f"navier_stokes2d: internal_resolution={internal_resolution} must be a multiple of "
                f"resolution={resolution}; try {resolution * math.ceil(needed / resolution)}"
            )
    if internal < needed:
        suggestion = resolution * math.ceil(needed / resolution)
        raise ConfigError(
            f"navier_stokes2d: internal_resolution={internal} is too coarse for nu={nu} (needs >= {needed}); "
            f"try internal_resolution={suggestion} or a larger nu"
        )
    torch_device = resolve_device("navier_stokes2d", device)
    f = ns_forcing(forcing, resolution, forcing_amplitude, forcing_wavenumber)
    t = np.linspace(0.0, t_final, n_times + 1)
    grid = np.arange(resolution) / resolution
    sigma_value = tau ** (alpha - 1) if sigma is None else sigma
    params = {
        "nu": nu,
        "resolution": resolution,
        "t_final": t_final,
        "n_times": n_times,
        "forcing": forcing,
        "forcing_amplitude": (0.1 if forcing == "fno" else 1.0) if forcing_amplitude is None else forcing_amplitude,
        "forcing_wavenumber": forcing_wavenumber,
        "drag": drag,
        "initial_condition": "gaussian_random_field",
        "alpha": alpha,
        "tau": tau,
        "sigma": sigma_value,
        "n": n,
    }
    solver = {
        "method": NAVIER_STOKES_METHOD,
        "internal_resolution": internal,
        "dt": dt if dt is not None else "adaptive",
        "cfl": cfl,
        "max_dt": max_dt,
        "dtype": "float64",
    }
    provenance = Provenance("navier_stokes2d", params=params, seed=seed, solver=solver)
    shape = (resolution, resolution)
    sampling = {"seed": seed, "alpha": alpha, "tau": tau, "sigma": sigma_value, "device": torch_device}

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
        w0 = initial_vorticity(start, count, resolution, **sampling)
        vorticity = solve_navier_stokes(
            w0,
            t,
            nu=nu,
            forcing=f,
            drag=drag,
            internal_resolution=internal,
            cfl=cfl,
            max_dt=max_dt,
            dt=dt,
            first_index=start,
        )
        return {
            "u": vorticity[:, :, None].cpu().numpy().astype(np.float32),
            "a": w0[:, None].cpu().numpy().astype(np.float32),
        }

    key = {"params": params, "seed": seed, "solver": solver, "device": str(torch_device)}
    # finished batches survive a killed run (hours at a 256 grid): a rerun resumes from them
    return run_fields(
        path,
        generator="navier_stokes2d",
        n=n,
        u_shape=(len(t), 1, *shape),
        t=t,
        coords={"x": grid, "y": grid},
        provenance=provenance,
        a_shape=(1, *shape),
        batch_size=batch_size,
        key=key,
        compute=compute,
        progress=progress,
    )
