"""Linear advection-diffusion in 1-D: the ``advection_diffusion1d`` generator.

    u_t + beta u_x = nu u_xx,    x in [0, length) periodic,    t in [0, t_final]

Each Fourier mode evolves independently, ``u_hat_k(t) = u_hat_k(0) exp((-i beta k -
nu k^2) t)``, so the solution of the trigonometric interpolant of the initial samples
is computed exactly (to rounding) at any time, for any ``beta`` (hyperbolic, ``nu =
0``, included) and with no time step
(:func:`sciml.numerics.pde.solve_advection_diffusion`).

Initial conditions: Gaussian random fields as in ``burgers1d``, or sums of sines
``sum_i A_i sin(2 pi m_i x / length + phi_i)`` with ``A_i ~ U(0, 1)``, ``m_i`` uniform
in ``1..max_mode``, ``phi_i ~ U(0, 2 pi)`` (the PDEBench advection recipe).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.core.registry import GENERATORS
from sciml.data.generators._common import (
    check_parameters,
    grf_initial_conditions,
    resolve_device,
    run_fields,
    sample_generator,
)
from sciml.data.schema import Provenance
from sciml.numerics.pde import ADVECTION_METHOD, solve_advection_diffusion

__all__ = ["advection_diffusion1d", "sine_initial_conditions"]

_INITIAL_CONDITIONS = ("grf", "sines")


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
        "method": ADVECTION_METHOD,
        "dt": None,
        "resolution": resolution,
        "dtype": "float64",
    }
    provenance = Provenance("advection_diffusion1d", params=params, seed=seed, solver=solver)

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
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
        if n_times > 1:
            u = solve_advection_diffusion(u0, t, beta=beta, nu=nu, length=length, first_index=start)
        else:
            u = u0[:, None]
        return {"u": u[:, :, None].cpu().numpy().astype(np.float32), "a": u0[:, None].cpu().numpy().astype(np.float32)}

    key = {"params": params, "seed": seed, "solver": solver, "device": str(torch_device)}
    return run_fields(
        path,
        generator="advection_diffusion1d",
        n=n,
        u_shape=(len(t), 1, resolution),
        t=t,
        coords={"x": x},
        provenance=provenance,
        a_shape=(1, resolution),
        batch_size=batch_size,
        key=key,
        compute=compute,
        progress=progress,
    )
