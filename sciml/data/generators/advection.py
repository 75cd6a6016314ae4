"""Linear advection-diffusion in 1-D: the ``advection_diffusion1d`` generator.

    u_t + beta u_x = nu u_xx,    x in [0, length) periodic,    t in [0, t_final]

Each Fourier mode evolves independently, ``u_hat_k(t) = u_hat_k(0) exp((-i beta k -
nu k^2) t)``, so the solution of the trigonometric interpolant of the initial samples
is computed exactly (to rounding) at any time, for any ``beta`` (hyperbolic, ``nu =
0``, included) and with no time step.

Initial conditions: Gaussian random fields as in ``burgers1d``, or sums of sines
``sum_i A_i sin(2 pi m_i x / length + phi_i)`` with ``A_i ~ U(0, 1)``, ``m_i`` uniform
in ``1..max_mode``, ``phi_i ~ U(0, 2 pi)`` (the PDEBench advection recipe).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from sciml.core.errors import ConfigError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, grf_initial_conditions, resolve_device, sample_generator
from sciml.data.schema import FieldsWriter, Provenance
from sciml.numerics.spectral import wavenumbers

__all__ = ["advection_diffusion1d", "solve_advection_diffusion", "sine_initial_conditions"]

_INITIAL_CONDITIONS = ("grf", "sines")


def solve_advection_diffusion(
    u0: torch.Tensor,
    beta: float,
    nu: float,
    t_out: Sequence[float] | torch.Tensor,
    length: float = 1.0,
) -> torch.Tensor:
    """Exact Fourier solution of periodic ``u_t + beta u_x = nu u_xx``.

    Parameters
    ----------
    u0 : Tensor ``[B, S]``
        Initial values at ``x_j = j * length / S``; float64 recommended.
    beta : float
        Advection speed (any sign and size).
    nu : float
        Diffusivity, ``>= 0``.
    t_out : sequence of float or Tensor ``[T]``
        Output times.
    length : float
        Period of the domain.

    Returns
    -------
    Tensor ``[B, T, S]``
        The trigonometric interpolant of ``u0`` advected and diffused to each time,
        sampled on the grid of ``u0``.

    Examples
    --------
    With ``nu = 0`` a shift by whole grid cells is a roll:

    >>> u0 = torch.randn(2, 16, dtype=torch.float64)
    >>> u = solve_advection_diffusion(u0, beta=0.25, nu=0.0, t_out=[1.0])
    >>> bool(torch.allclose(u[:, 0], torch.roll(u0, 4, dims=-1), atol=1e-12))
    True
    """
    if u0.ndim != 2:
        raise ConfigError(f"solve_advection_diffusion: u0 must have shape [B, S], got {tuple(u0.shape)}")
    if not nu >= 0:
        raise ConfigError(f"solve_advection_diffusion: nu={nu} must be >= 0")
    s = u0.shape[-1]
    t = torch.as_tensor(t_out, dtype=torch.float64, device=u0.device).reshape(-1, 1)
    k = wavenumbers(s, length, real=True, dtype=torch.float64, device=u0.device)
    # phase beta k t reaches 1e4 and more for beta ~ 50: keep it in float64
    propagator = torch.exp((-1j * beta * k - nu * k**2) * t)
    u_hat = torch.fft.rfft(u0.to(torch.float64))[:, None, :] * propagator
    u = torch.fft.irfft(u_hat, n=s).to(u0.dtype)
    u[:, t[:, 0] == 0] = u0[:, None]  # exact copies, not FFT round trips
    return u


def sine_initial_conditions(
    first: int,
    count: int,
    resolution: int,
    *,
    seed: int = 0,
    length: float = 1.0,
    n_waves: int = 2,
    max_mode: int = 8,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Sums of sines for samples ``first .. first+count-1``, one CPU generator per sample.

    ``u0(x) = sum_i A_i sin(2 pi m_i x / length + phi_i)`` over ``n_waves`` terms with
    ``A_i ~ U(0, 1)``, integer ``m_i`` uniform in ``1..max_mode``, ``phi_i ~ U(0, 2 pi)``.

    Returns
    -------
    Tensor ``[count, resolution]``, float64 on ``device``
    """
    x = torch.arange(resolution, dtype=torch.float64) * (length / resolution)
    fields = []
    for index in range(first, first + count):
        generator = sample_generator(seed, index)
        amplitude = torch.rand(n_waves, 1, generator=generator, dtype=torch.float64)
        mode = torch.randint(1, max_mode + 1, (n_waves, 1), generator=generator).to(torch.float64)
        phase = 2 * math.pi * torch.rand(n_waves, 1, generator=generator, dtype=torch.float64)
        fields.append((amplitude * torch.sin(2 * math.pi * mode * x / length + phase)).sum(0))
    return torch.stack(fields).to(device)


def _check_config(**values) -> None:
    checks = {
        "n": (values["n"] >= 1, "must be >= 1"),
        "batch_size": (values["batch_size"] >= 1, "must be >= 1"),
        "nu": (values["nu"] >= 0, "must be >= 0 (the diffusivity); try nu=0.01"),
        "beta": (math.isfinite(values["beta"]), "must be a finite number; try beta=1.0"),
        "resolution": (
            values["resolution"] >= 16 and values["resolution"] % 2 == 0,
            "must be even and >= 16; try resolution=256",
        ),
        "n_times": (values["n_times"] >= 1, "must be >= 1; try n_times=11"),
        "t_final": (values["t_final"] > 0, "must be > 0; try t_final=1.0"),
        "length": (values["length"] > 0, "must be > 0; try length=1.0"),
        "initial_condition": (
            values["initial_condition"] in _INITIAL_CONDITIONS,
            f"is unknown; use one of {', '.join(_INITIAL_CONDITIONS)}",
        ),
        "n_waves": (values["n_waves"] >= 1, "must be >= 1; try n_waves=2"),
        "max_mode": (
            values["initial_condition"] != "sines" or 1 <= values["max_mode"] < values["resolution"] // 2,
            f"must be in 1..{values['resolution'] // 2 - 1} (below the grid's Nyquist mode)",
        ),
        "alpha": (values["alpha"] > 0.5, "must be > 0.5 for a continuous field; try alpha=2"),
        "tau": (values["tau"] >= 0, "must be >= 0; try tau=5"),
        "sigma": (values["sigma"] >= 0, "must be >= 0; try sigma=25"),
    }
    check_parameters("advection_diffusion1d", checks, values)


@GENERATORS.register("advection_diffusion1d")
def advection_diffusion1d(
    path,
    *,
    n: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 1000,
    progress: bool = False,
    resolution: int = 256,
    beta: float = 1.0,
    nu: float = 0.01,
    t_final: float = 1.0,
    n_times: int = 11,
    length: float = 1.0,
    initial_condition: str = "grf",
    n_waves: int = 2,
    max_mode: int = 8,
    alpha: float = 2.0,
    tau: float = 5.0,
    sigma: float = 25.0,
) -> str:
    """Advection-diffusion 1-D, solved exactly: ``a = u0 [N, 1, S]`` to ``u [N, T, 1, S]``.

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``fields``).
    n : int
        Number of samples N.
    seed : int
        Seed of the initial conditions; sample ``i`` depends only on ``(seed, i)``.
    device : str
        Torch device of the computation.
    batch_size : int
        Samples computed together.
    progress : bool
        Show a tqdm progress bar over batches.
    resolution : int
        Grid points S (even, >= 16).
    beta : float
        Advection speed; any value (50 and more is fine: the solution is exact).
    nu : float
        Diffusivity, ``>= 0`` (0 gives pure advection).
    t_final, n_times : float, int
        Output times ``t = linspace(0, t_final, n_times)`` (``[0]`` when n_times=1).
    length : float
        Period of the domain ``[0, length)``.
    initial_condition : {"grf", "sines"}
        Gaussian random field (``alpha``, ``tau``, ``sigma`` as in ``burgers1d``) or a
        sum of ``n_waves`` sines with modes up to ``max_mode``.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    _check_config(
        n=n,
        batch_size=batch_size,
        nu=nu,
        beta=beta,
        resolution=resolution,
        n_times=n_times,
        t_final=t_final,
        length=length,
        initial_condition=initial_condition,
        n_waves=n_waves,
        max_mode=max_mode,
        alpha=alpha,
        tau=tau,
        sigma=sigma,
    )
    torch_device = resolve_device("advection_diffusion1d", device)
    t = np.linspace(0.0, t_final, n_times) if n_times > 1 else np.zeros(1)
    x = np.arange(resolution) * (length / resolution)
    params = {
        "beta": beta,
        "nu": nu,
        "resolution": resolution,
        "t_final": t_final,
        "n_times": n_times,
        "length": length,
        "initial_condition": initial_condition,
        "n": n,
    }
    if initial_condition == "grf":
        params.update(alpha=alpha, tau=tau, sigma=sigma)
    else:
        params.update(n_waves=n_waves, max_mode=max_mode)
    solver = {
        "method": "exact Fourier propagator exp((-i beta k - nu k^2) t)",
        "dt": None,
        "resolution": resolution,
        "dtype": "float64",
    }
    provenance = Provenance("advection_diffusion1d", params=params, seed=seed, solver=solver)
    starts = range(0, n, batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="advection_diffusion1d", unit="batch")
    with FieldsWriter(path, n, (len(t), 1, resolution), t, {"x": x}, provenance, a_shape=(1, resolution)) as writer:
        for start in starts:
            count = min(batch_size, n - start)
            if initial_condition == "grf":
                u0 = grf_initial_conditions(
                    start,
                    count,
                    resolution,
                    seed=seed,
                    length=length,
                    alpha=alpha,
                    tau=tau,
                    sigma=sigma,
                    device=torch_device,
                )
            else:
                u0 = sine_initial_conditions(
                    start,
                    count,
                    resolution,
                    seed=seed,
                    length=length,
                    n_waves=n_waves,
                    max_mode=max_mode,
                    device=torch_device,
                )
            u = solve_advection_diffusion(u0, beta, nu, t, length)
            writer.write(u[:, :, None].cpu().numpy(), a=u0[:, None].cpu().numpy())
        return writer.close()
