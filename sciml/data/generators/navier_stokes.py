"""Incompressible Navier-Stokes in 2-D vorticity form: the ``navier_stokes2d`` generator.

    w_t + u . grad w = nu Laplacian w - drag w + f,    u = (psi_y, -psi_x),    -Laplacian psi = w

on the periodic unit torus ``[0, 1)^2`` (``x`` along array axis -2, ``y`` along -1).

Forcings: ``"fno"``, the FNO benchmark's ``f = 0.1 (sin(2 pi (x + y)) + cos(2 pi (x + y)))``
(Li et al. 2021), and ``"kolmogorov"``, ``f = amplitude sin(2 pi n y)``, usually with a
linear drag. Initial vorticity: a periodic Gaussian random field with covariance
``7^(3/2) (-Laplacian + 49)^(-2.5)`` (the FNO benchmark's).

Solver: Fourier pseudo-spectral on an internal grid, the advection term computed in
physical space with the 2/3 rule applied to its inputs and its output (so the
truncated system conserves enstrophy exactly), Crank-Nicolson for the linear terms and
Heun's method (explicit trapezoidal rule) for advection: the second-order IMEX
Runge-Kutta pair CN/Heun. The FNO benchmark's solver is the first-order
forward-Euler/CN variant with a fixed step of 1e-4; this one takes per-sample
adaptive steps ``dt = cfl dx / max(|u| + |v|)`` (independent of the other samples of
a batch) capped at ``max_dt``, or a fixed ``dt`` with a Courant-number check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from sciml.core.errors import ConfigError, DataError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, resolve_device, run_batches, sample_generator
from sciml.data.schema import FieldsWriter, Provenance
from sciml.numerics.spectral import dealias_mask, gaussian_random_field, wavenumbers

__all__ = [
    "navier_stokes2d",
    "solve_navier_stokes",
    "initial_vorticity",
    "ns_forcing",
    "minimum_resolution",
]

DEFAULT_CFL = 0.5
DEFAULT_MAX_DT = 0.01
# Heun's method is stable for pure advection only with damping; beyond this Courant
# number a fixed step is refused
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


def _interpolate_hat(w: torch.Tensor, n_fine: int) -> torch.Tensor:
    """rfft2 coefficients on an ``n_fine`` grid of the trigonometric interpolant of
    ``w [B, S, S]`` (Nyquist modes dropped), normalized for ``irfft2(s=(n_fine, n_fine))``."""
    s = w.shape[-1]
    w_hat = torch.fft.rfft2(w) * (n_fine / s) ** 2
    half = s // 2
    fine = torch.zeros(*w.shape[:-2], n_fine, n_fine // 2 + 1, dtype=w_hat.dtype, device=w.device)
    fine[..., :half, :half] = w_hat[..., :half, :half]
    fine[..., n_fine - half + 1 :, :half] = w_hat[..., half + 1 :, :half]
    return fine


def _scale(z: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Complex ``z`` times real ``r`` (broadcast to ``z``'s shape)."""
    return torch.view_as_complex(torch.view_as_real(z) * r[..., None])


def solve_navier_stokes(
    w0: torch.Tensor,
    nu: float,
    t_out: Sequence[float] | torch.Tensor,
    *,
    forcing: torch.Tensor | None = None,
    drag: float = 0.0,
    internal_resolution: int | None = None,
    cfl: float = DEFAULT_CFL,
    max_dt: float = DEFAULT_MAX_DT,
    dt: float | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Integrate 2-D periodic Navier-Stokes (vorticity form) on the unit torus.

    Second order in time (CN/Heun IMEX), spectral in space with 2/3 dealiasing.

    Parameters
    ----------
    w0 : Tensor ``[B, S, S]``
        Initial vorticity at ``(i, j) / S``, ``x`` along axis -2; ``S`` even. Its
        Nyquist modes are dropped. Runs in the dtype (float64 recommended) and on the
        device of ``w0``.
    nu : float
        Viscosity, ``> 0``.
    t_out : sequence of float or Tensor ``[T]``
        Non-decreasing output times, ``>= 0``.
    forcing : Tensor ``[S, S]``, optional
        Time-independent vorticity forcing ``f`` on the grid of ``w0``.
    drag : float
        Linear drag coefficient (``- drag w``), ``>= 0``.
    internal_resolution : int, optional
        Points per axis of the solver grid, a multiple of ``S``; default ``S``.
        Outputs are its point values subsampled to ``S``.
    cfl : float
        Adaptive step ``dt = cfl dx / max(|u| + |v|)`` per sample and step (``dx`` of
        the internal grid), capped at ``max_dt``; each interval between output times
        is cut into equal steps no longer than that.
    max_dt : float
        Largest adaptive step.
    dt : float, optional
        Fixed step instead (same for all samples); a Courant number above 1 raises.
    progress : bool
        Show a tqdm bar over the output times.

    Returns
    -------
    Tensor ``[B, T, S, S]``
        Vorticity at the output times; entries at ``t = 0`` equal ``w0`` (Nyquist
        modes dropped).

    Raises
    ------
    DataError
        When a sample's vorticity becomes non-finite or a fixed ``dt`` exceeds the
        Courant limit, naming the sample and the setting to change.
    """
    return _solve(
        w0,
        nu,
        t_out,
        forcing=forcing,
        drag=drag,
        internal_resolution=internal_resolution,
        cfl=cfl,
        max_dt=max_dt,
        dt=dt,
        progress=progress,
        first_sample=0,
    )


def _solve(
    w0: torch.Tensor,
    nu: float,
    t_out: Sequence[float] | torch.Tensor,
    *,
    forcing: torch.Tensor | None,
    drag: float,
    internal_resolution: int | None,
    cfl: float,
    max_dt: float,
    dt: float | None,
    progress: bool,
    first_sample: int,
    name: str = "solve_navier_stokes",
) -> torch.Tensor:
    if w0.ndim != 3 or w0.shape[-1] != w0.shape[-2]:
        raise ConfigError(f"{name}: w0 must have shape [B, S, S], got {tuple(w0.shape)}")
    batch, s = w0.shape[0], w0.shape[-1]
    if s % 2 or s < 8:
        raise ConfigError(f"{name}: the grid size S={s} must be even and >= 8")
    if not nu > 0:
        raise ConfigError(f"{name}: nu={nu} must be > 0")
    if not drag >= 0:
        raise ConfigError(f"{name}: drag={drag} must be >= 0")
    n_fine = s if internal_resolution is None else int(internal_resolution)
    if n_fine < s or n_fine % s:
        raise ConfigError(f"{name}: internal_resolution={n_fine} must be a multiple of the resolution {s}")
    if not 0 < cfl <= _MAX_COURANT:
        raise ConfigError(f"{name}: cfl={cfl} must be in (0, {_MAX_COURANT}]; try cfl={DEFAULT_CFL}")
    if dt is not None and not dt > 0:
        raise ConfigError(f"{name}: dt={dt} must be > 0 (or None for the adaptive CFL step)")
    if not max_dt > 0:
        raise ConfigError(f"{name}: max_dt={max_dt} must be > 0; try max_dt={DEFAULT_MAX_DT}")
    t_out = torch.as_tensor(t_out, dtype=torch.float64).reshape(-1)
    if len(t_out) and (t_out[0] < 0 or bool((t_out.diff() < 0).any())):
        raise ConfigError(f"{name}: output times must be >= 0 and non-decreasing")

    device, dtype = w0.device, w0.dtype
    kx = wavenumbers(n_fine, 1.0, dtype=dtype, device=device)[:, None]
    ky = wavenumbers(n_fine, 1.0, real=True, dtype=dtype, device=device)[None, :]
    k_squared = kx**2 + ky**2
    inverse_k_squared = 1.0 / torch.where(k_squared == 0, torch.ones_like(k_squared), k_squared)
    inverse_k_squared[0, 0] = 0.0
    keep = dealias_mask(n_fine, device=device)[:, None] & dealias_mask(n_fine, real=True, device=device)[None, :]
    # derivative symbols restricted to the 2/3 band: the product of band-limited
    # factors aliases only onto modes that the output mask removes
    ikx = (1j * kx * keep).to(torch.complex128 if dtype == torch.float64 else torch.complex64)
    iky = (1j * ky * keep).to(ikx.dtype)
    linear = -nu * k_squared - drag  # [N, N/2+1]
    minus_keep = -keep.to(dtype)
    dx = 1.0 / n_fine
    forcing_hat = None if forcing is None else _interpolate_hat(forcing.to(device, dtype)[None], n_fine)[0]

    # symbols of (u, v, w_x, w_y) from w: u = psi_y, v = -psi_x, psi = w / |k|^2
    symbols = torch.stack([iky * inverse_k_squared, -ikx * inverse_k_squared, ikx, iky])[:, None]

    def advection(w_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``-u . grad w`` in Fourier space and the per-sample max(|u| + |v|)."""
        u, v, w_x, w_y = torch.fft.irfft2(symbols * w_hat, s=(n_fine, n_fine)).unbind(0)
        product = torch.fft.rfft2(u * w_x + v * w_y)
        speed = (u.abs() + v.abs()).amax(dim=(-2, -1))
        return _scale(product, minus_keep), speed

    def step(w_hat: torch.Tensor, n0: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        # complex tensors times real factors through real views: complex-by-complex
        # products and divisions cost several times more on the CPU
        half = 0.5 * h * linear
        inverse = 1.0 / (1 - half)
        explicit = _scale(w_hat, 1 + half)
        if forcing_hat is not None:
            explicit = explicit + _scale(forcing_hat.expand_as(w_hat), h.expand_as(half))
        predictor = _scale(explicit + _scale(n0, h.expand_as(half)), inverse)
        n1, _ = advection(predictor)
        return _scale(explicit + _scale(n0 + n1, 0.5 * h.expand_as(half)), inverse)

    def fail(bad: torch.Tensor, t: float, what: str, fix: str) -> None:
        i = first_sample + int(torch.nonzero(bad)[0])
        raise DataError(f"{name}: sample {i} {what} at t={t:.4g} (nu={nu}, {fix})")

    stride = n_fine // s
    w_hat = _interpolate_hat(w0, n_fine)
    out = torch.empty(batch, len(t_out), s, s, dtype=dtype, device=device)
    current = 0.0
    iterator = range(len(t_out))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=f"{name} time", leave=False)
    for j in iterator:
        interval = float(t_out[j]) - current
        if interval > 0 and dt is not None:
            n_steps = math.ceil(interval / dt - 1e-9)
            h = torch.full((batch, 1, 1), interval / n_steps, dtype=dtype, device=device)
            for _ in range(n_steps):
                n0, speed = advection(w_hat)
                courant = speed * (interval / n_steps) / dx
                bad = ~(courant <= _MAX_COURANT)  # also catches NaN
                if bool(bad.any()):
                    fail(
                        bad,
                        current,
                        f"reached Courant number {float(courant[bad][0]):.3g} > {_MAX_COURANT}",
                        f"dt={dt}: lower dt or set dt=None for the adaptive CFL step",
                    )
                w_hat = step(w_hat, n0, h)
        elif interval > 0:
            remaining = torch.full((batch,), interval, dtype=torch.float64, device=device)
            tolerance = 1e-12 * max(1.0, float(t_out[j]))
            while True:
                active = remaining > tolerance
                if not bool(active.any()):
                    break
                n0, speed = advection(w_hat)
                bad = ~torch.isfinite(speed)
                if bool(bad.any()):
                    fail(
                        bad,
                        current,
                        "blew up (non-finite velocity)",
                        f"cfl={cfl}, max_dt={max_dt}: lower cfl or max_dt, or raise internal_resolution or nu",
                    )
                largest = torch.clamp(cfl * dx / speed.to(torch.float64).clamp_min(1e-300), max=max_dt)
                n_left = torch.ceil(remaining / largest - 1e-9).clamp_min(1)
                h = torch.where(active, remaining / n_left, torch.zeros_like(remaining))
                w_hat = step(w_hat, n0, h.to(dtype)[:, None, None])
                remaining = torch.where(active, remaining - h, remaining)
                remaining = torch.where(remaining <= tolerance, torch.zeros_like(remaining), remaining)
        w = torch.fft.irfft2(w_hat, s=(n_fine, n_fine))[:, ::stride, ::stride]
        bad = ~torch.isfinite(w).all(dim=-1).all(dim=-1)
        if bool(bad.any()):
            setting = f"dt={dt}: lower dt" if dt is not None else f"cfl={cfl}: lower cfl or max_dt"
            fail(
                bad, float(t_out[j]), "blew up (non-finite vorticity)", f"{setting}, or raise internal_resolution or nu"
            )
        out[:, j] = w
        current = float(t_out[j])
    return out


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
        "method": "pseudo-spectral Fourier, 2/3 dealiasing, Crank-Nicolson (linear) / Heun (advection)",
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
        vorticity = _solve(
            w0,
            nu,
            t,
            forcing=f,
            drag=drag,
            internal_resolution=internal,
            cfl=cfl,
            max_dt=max_dt,
            dt=dt,
            progress=False,
            first_sample=start,
            name="navier_stokes2d",
        )
        return {
            "u": vorticity[:, :, None].cpu().numpy().astype(np.float32),
            "a": w0[:, None].cpu().numpy().astype(np.float32),
        }

    key = {"params": params, "seed": seed, "solver": solver, "device": str(torch_device)}
    with FieldsWriter(path, n, (len(t), 1, *shape), t, {"x": grid, "y": grid}, provenance, a_shape=(1, *shape)) as w:
        # finished batches survive a killed run (hours at a 256 grid): a rerun resumes from them
        return run_batches(
            w,
            path,
            generator="navier_stokes2d",
            n=n,
            batch_size=batch_size,
            key=key,
            compute=compute,
            progress=progress,
        )
