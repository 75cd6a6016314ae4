"""Incompressible Navier-Stokes in 2-D vorticity form on the periodic unit torus."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.numerics.pde._solution import (
    Members,
    PDESolution,
    blank_output,
    check_states,
    check_step,
    drop_non_finite_states,
    finish,
    output_times,
)
from sciml.numerics.spectral import dealias_mask, wavenumbers

__all__ = ["solve_navier_stokes", "NAVIER_STOKES_METHOD"]

DEFAULT_CFL = 0.5
DEFAULT_MAX_DT = 0.01
# Heun's method is stable for pure advection only with damping; beyond this Courant
# number a fixed step is refused
MAX_COURANT = 1.0
NAVIER_STOKES_METHOD = "pseudo-spectral Fourier, 2/3 dealiasing, Crank-Nicolson (linear) / Heun (advection)"


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
    t: float | Sequence[float] | torch.Tensor,
    *,
    t0: float = 0.0,
    nu: float = 1e-3,
    forcing: torch.Tensor | None = None,
    drag: float = 0.0,
    internal_resolution: int | None = None,
    cfl: float = DEFAULT_CFL,
    max_dt: float = DEFAULT_MAX_DT,
    dt: float | None = None,
    max_steps: int | None = None,
    on_failure: str = "raise",
    first_index: int = 0,
    progress: bool = False,
) -> torch.Tensor | PDESolution:
    """Integrate 2-D periodic Navier-Stokes in vorticity form from a batch of states.

        w_t + u . grad w = nu Laplacian w - drag w + f,    u = (psi_y, -psi_x),    -Laplacian psi = w

    on the unit torus ``[0, 1)^2`` (``x`` along axis -2, ``y`` along -1). Fourier
    pseudo-spectral on an internal grid, the advection term computed in physical space
    with the 2/3 rule applied to its inputs and its output (so the truncated system
    conserves enstrophy exactly); Crank-Nicolson for the linear terms and Heun's method
    for advection, the second-order IMEX Runge-Kutta pair CN/Heun (the FNO benchmark's
    solver is the first-order forward-Euler/CN variant). Verified by the exact decay of
    Taylor-Green vortices and the enstrophy budget of the generated fields.

    Parameters
    ----------
    w0 : Tensor ``[B, S, S]``
        Vorticity at time ``t0`` at ``(i, j) / S``; ``S`` even, ``>= 8``. Its Nyquist
        modes are dropped. Runs in the dtype (float64 recommended) and on the device
        of ``w0``.
    t : float, sequence of float or Tensor ``[T]``
        Non-decreasing output times ``>= t0``, the last one ``> t0``.
    t0 : float
        Time of ``w0`` (the forcing does not depend on time: only ``t - t0`` matters).
    nu : float
        Viscosity, ``> 0``.
    forcing : Tensor ``[S, S]``, optional
        Time-independent vorticity forcing ``f`` on the grid of ``w0``.
    drag : float
        Linear drag coefficient (``- drag w``), ``>= 0``.
    internal_resolution : int, optional
        Points per axis of the solver grid, a multiple of ``S``; default ``S``.
        Outputs are its point values subsampled to ``S``. The enstrophy cascade needs
        about ``2 / sqrt(nu)`` points (64 for ``nu = 1e-3``).
    cfl : float
        Adaptive step ``dt = cfl dx / max(|u| + |v|)`` of each member at each step (``dx``
        of the internal grid), capped at ``max_dt``; each interval between output times
        is cut into equal steps no longer than that. The step of a member depends on
        its own state only, so a failing member does not change the others' steps.
    max_dt : float
        Cap of the adaptive step.
    dt : float, optional
        Fixed step instead (equal steps no longer than ``dt`` per output interval, the
        same for all members); a member whose Courant number ``dt max(|u| + |v|) / dx``
        passes 1 fails.
    max_steps : int, optional
        A member that needs more adaptive steps than this in one call fails (a state
        of huge amplitude would otherwise take steps without end); default no limit.
    on_failure : {"raise", "report"}
        A member fails when its vorticity is non-finite at ``t0`` or becomes so, when a
        fixed ``dt`` passes its Courant limit, or past ``max_steps``. ``"raise"``: a
        one-line :class:`DataError` naming the first one and the setting to change.
        ``"report"``: it is dropped, the others go on unchanged, and a
        :class:`PDESolution` names it.
    first_index : int
        Number of member 0 in messages (a generator passes its batch's first sample).
    progress : bool
        Show a tqdm bar over the output times.

    Returns
    -------
    Tensor ``[B, T, S, S]`` or PDESolution
        Vorticity at the output times (Nyquist modes dropped).
    """
    name = "solve_navier_stokes"
    check_states(name, "w0", w0, shape="[B, S, S]", spatial_dims=2, min_points=8, square=True)
    times, start = output_times(name, t, t0)
    if not (math.isfinite(nu) and nu > 0):
        raise ConfigError(f"{name}: nu={nu!r} must be > 0 (the viscosity); try nu=1e-3")
    if not (math.isfinite(drag) and drag >= 0):
        raise ConfigError(f"{name}: drag={drag!r} must be >= 0; try drag=0.1 with Kolmogorov forcing")
    batch, s = w0.shape[0], w0.shape[-1]
    n_fine = s if internal_resolution is None else int(internal_resolution)
    if n_fine < s or n_fine % s:
        raise ConfigError(
            f"{name}: internal_resolution={internal_resolution} must be a multiple of the resolution {s}; try {2 * s}"
        )
    if not (math.isfinite(cfl) and 0 < cfl <= MAX_COURANT):
        raise ConfigError(f"{name}: cfl={cfl!r} must be in (0, {MAX_COURANT}]; try cfl={DEFAULT_CFL}")
    check_step(name, "dt", dt, "or dt=None for the adaptive CFL step")
    check_step(name, "max_dt", max_dt, f"try max_dt={DEFAULT_MAX_DT}", optional=False)
    if max_steps is not None and not (isinstance(max_steps, int) and max_steps >= 1):
        raise ConfigError(f"{name}: max_steps={max_steps!r} must be an integer >= 1, or None for no limit")
    if forcing is not None and tuple(forcing.shape) != (s, s):
        raise ShapeError(
            f"{name}: forcing has shape {tuple(forcing.shape)}, expected ({s}, {s}) (the grid of w0); "
            "pass the forcing on the grid of the states"
        )
    members = Members(name, batch, w0.device, on_failure, first_index)
    keep = drop_non_finite_states(members, w0, "w0", start)

    device, dtype = w0.device, w0.dtype
    kx = wavenumbers(n_fine, 1.0, dtype=dtype, device=device)[:, None]
    ky = wavenumbers(n_fine, 1.0, real=True, dtype=dtype, device=device)[None, :]
    k_squared = kx**2 + ky**2
    inverse_k_squared = 1.0 / torch.where(k_squared == 0, torch.ones_like(k_squared), k_squared)
    inverse_k_squared[0, 0] = 0.0
    band = dealias_mask(n_fine, device=device)[:, None] & dealias_mask(n_fine, real=True, device=device)[None, :]
    # derivative symbols restricted to the 2/3 band: the product of band-limited
    # factors aliases only onto modes that the output mask removes
    ikx = (1j * kx * band).to(torch.complex128 if dtype == torch.float64 else torch.complex64)
    iky = (1j * ky * band).to(ikx.dtype)
    linear = -nu * k_squared - drag  # [N, N/2+1]
    minus_band = -band.to(dtype)
    dx = 1.0 / n_fine
    forcing_hat = None if forcing is None else _interpolate_hat(forcing.to(device, dtype)[None], n_fine)[0]

    # symbols of (u, v, w_x, w_y) from w: u = psi_y, v = -psi_x, psi = w / |k|^2
    symbols = torch.stack([iky * inverse_k_squared, -ikx * inverse_k_squared, ikx, iky])[:, None]

    def advection(w_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``-u . grad w`` in Fourier space and the per-member max(|u| + |v|)."""
        u, v, w_x, w_y = torch.fft.irfft2(symbols * w_hat, s=(n_fine, n_fine)).unbind(0)
        product = torch.fft.rfft2(u * w_x + v * w_y)
        speed = (u.abs() + v.abs()).amax(dim=(-2, -1))
        return _scale(product, minus_band), speed

    def step(w_hat: torch.Tensor, n0: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        # complex tensors times real factors through real views: complex-by-complex
        # products and divisions cost several times more on the CPU. A zero step (a
        # member done with its interval) returns w_hat unchanged, bit for bit.
        half = 0.5 * h * linear
        inverse = 1.0 / (1 - half)
        explicit = _scale(w_hat, 1 + half)
        if forcing_hat is not None:
            explicit = explicit + _scale(forcing_hat.expand_as(w_hat), h.expand_as(half))
        predictor = _scale(explicit + _scale(n0, h.expand_as(half)), inverse)
        n1, _ = advection(predictor)
        return _scale(explicit + _scale(n0 + n1, 0.5 * h.expand_as(half)), inverse)

    def message(sample: int, time: float, what: str, fix: str) -> str:
        return f"{name}: sample {sample} {what} at t={time:.4g} (nu={nu}, {fix})"

    adaptive_fix = f"cfl={cfl}, max_dt={max_dt}: lower cfl or max_dt, or raise internal_resolution or nu"
    stride = n_fine // s
    w_hat = _interpolate_hat(w0[keep], n_fine)
    out = blank_output(batch, len(times), (s, s), w0)
    steps_taken = torch.zeros(members.count, dtype=torch.int64, device=device)
    current = start
    iterator = range(len(times))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="navier_stokes time", leave=False)
    for j in iterator:
        if members.count == 0:
            break
        interval = float(times[j]) - current
        if interval > 0 and dt is not None:
            n_steps = math.ceil(interval / dt - 1e-9)
            h = torch.full((members.count, 1, 1), interval / n_steps, dtype=dtype, device=device)
            for _ in range(n_steps):
                n0, speed = advection(w_hat)
                courant = speed * (interval / n_steps) / dx
                bad = ~(courant <= MAX_COURANT)  # also catches NaN
                if bool(bad.any()):
                    keep = members.drop(
                        bad,
                        lambda position, sample, c=courant, t=current: message(
                            sample,
                            t,
                            f"reached Courant number {float(c[position]):.3g} > {MAX_COURANT}",
                            f"dt={dt}: lower dt or set dt=None for the adaptive CFL step",
                        ),
                    )
                    w_hat, n0, h, steps_taken = w_hat[keep], n0[keep], h[keep], steps_taken[keep]
                    if members.count == 0:
                        break
                w_hat = step(w_hat, n0, h)
                members.took_steps(1, interval / n_steps)
        elif interval > 0:
            remaining = torch.full((members.count,), interval, dtype=torch.float64, device=device)
            tolerance = 1e-12 * max(1.0, abs(float(times[j])))
            while True:
                active = remaining > tolerance
                if not bool(active.any()):
                    break
                n0, speed = advection(w_hat)
                bad = ~torch.isfinite(speed)
                if max_steps is not None:
                    bad |= active & (steps_taken >= max_steps)
                if bool(bad.any()):
                    finite = torch.isfinite(speed)
                    keep = members.drop(
                        bad,
                        lambda position, sample, ok=finite, speed=speed, t=current: message(
                            sample,
                            t,
                            "blew up (non-finite velocity)"
                            if not bool(ok[position])
                            else f"needs more than max_steps={max_steps} steps (max|u| + |v| = "
                            f"{float(speed[position]):.3g})",
                            adaptive_fix if not bool(ok[position]) else "raise max_steps or check that state",
                        ),
                    )
                    w_hat, n0, speed = w_hat[keep], n0[keep], speed[keep]
                    remaining, active, steps_taken = remaining[keep], active[keep], steps_taken[keep]
                    if members.count == 0 or not bool(active.any()):
                        break
                largest = torch.clamp(cfl * dx / speed.to(torch.float64).clamp_min(1e-300), max=max_dt)
                n_left = torch.ceil(remaining / largest - 1e-9).clamp_min(1)
                h = torch.where(active, remaining / n_left, torch.zeros_like(remaining))
                w_hat = step(w_hat, n0, h.to(dtype)[:, None, None])
                remaining = torch.where(active, remaining - h, remaining)
                remaining = torch.where(remaining <= tolerance, torch.zeros_like(remaining), remaining)
                steps_taken += active.to(torch.int64)
                members.took_steps(active.to(torch.int64), h)
        if members.count == 0:
            break
        w = torch.fft.irfft2(w_hat, s=(n_fine, n_fine))[:, ::stride, ::stride]
        bad = ~torch.isfinite(w).all(dim=-1).all(dim=-1)
        if bool(bad.any()):
            setting = f"dt={dt}: lower dt" if dt is not None else f"cfl={cfl}: lower cfl or max_dt"
            keep = members.drop(
                bad,
                lambda position, sample, t=float(times[j]), setting=setting: message(
                    sample, t, "blew up (non-finite vorticity)", f"{setting}, or raise internal_resolution or nu"
                ),
            )
            w_hat, w = w_hat[keep], w[keep]
            steps_taken = steps_taken[keep]
        out[members.index, j] = w
        current = float(times[j])
    return finish(members, out, times, NAVIER_STOKES_METHOD)
