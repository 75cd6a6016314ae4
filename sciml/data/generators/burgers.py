"""Viscous Burgers' equation in 1-D: the ``burgers1d`` generator.

    u_t + u u_x = nu u_xx,    x in [0, length) periodic,    t in [0, t_final]

Initial conditions are Gaussian random fields with covariance
``sigma^2 (-Laplacian + tau^2)^(-alpha)``; the defaults ``alpha=2, tau=5, sigma=25``
are those of the Burgers benchmark of the Fourier neural operator (Li et al. 2021).

Solver: :func:`sciml.numerics.pde.solve_burgers` (Fourier pseudo-spectral on an internal
grid finer than the output grid, 2/3 dealiasing, ETDRK4). The step follows a CFL rule,
``dt = cfl * dx / max|u0|`` with the maximum over all samples of the file; Burgers'
maximum principle keeps ``|u|`` below ``max|u0|`` for all times, so the rule set at
``t = 0`` holds throughout.
"""

from __future__ import annotations

import math

import numpy as np

from sciml.core.errors import ConfigError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import (
    check_parameters,
    grf_initial_conditions,
    resolve_device,
    run_fields,
)
from sciml.data.schema import Provenance
from sciml.numerics.pde import solve_burgers

__all__ = ["burgers1d"]

DEFAULT_CFL = 1.0


def _check_config(**values: float) -> None:
    checks = {
        "n": (values["n"] >= 1, "must be >= 1"),
        "batch_size": (values["batch_size"] >= 1, "must be >= 1"),
        "nu": (values["nu"] > 0, "must be > 0 (the viscosity); try nu=0.01"),
        "resolution": (
            values["resolution"] >= 16 and values["resolution"] % 2 == 0,
            "must be even and >= 16; try resolution=256",
        ),
        "n_times": (values["n_times"] >= 1, "must be >= 1; try n_times=11"),
        "t_final": (values["t_final"] > 0, "must be > 0; try t_final=1.0"),
        "length": (values["length"] > 0, "must be > 0; try length=1.0"),
        "cfl": (0 < values["cfl"] <= 2, "must be in (0, 2]; try cfl=1.0"),
        "alpha": (values["alpha"] > 0.5, "must be > 0.5 for a continuous field; try alpha=2"),
        "tau": (values["tau"] >= 0, "must be >= 0; try tau=5"),
        "sigma": (values["sigma"] >= 0, "must be >= 0; try sigma=25"),
    }
    check_parameters("burgers1d", checks, values)


@GENERATORS.register("burgers1d")
def burgers1d(
    path,
    *,
    n: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 250,
    progress: bool = False,
    resolution: int = 256,
    nu: float = 0.01,
    t_final: float = 1.0,
    n_times: int = 11,
    length: float = 1.0,
    alpha: float = 2.0,
    tau: float = 5.0,
    sigma: float = 25.0,
    internal_resolution: int | None = None,
    cfl: float = DEFAULT_CFL,
) -> str:
    """Viscous Burgers 1-D: GRF initial condition ``a = u0 [N, 1, S]`` to ``u [N, T, 1, S]``.

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``fields``).
    n : int
        Number of samples N.
    seed : int
        Seed of the initial conditions; sample ``i`` depends only on ``(seed, i)``.
    device : str
        Torch device of the integration ("cpu", "cuda", ...).
    batch_size : int
        Samples integrated together; memory grows linearly with it.
    progress : bool
        Show a tqdm progress bar over batches.
    resolution : int
        Output points S (even, >= 16); 256 matches the FNO benchmark's common setting.
    nu : float
        Viscosity. 0.01 forms steep fronts (Reynolds number near 100) that a 64-mode
        FNO still resolves at S=256; 0.1 is the smoother FNO-paper setting.
    t_final, n_times : float, int
        Output times ``t = linspace(0, t_final, n_times)`` (``[0]`` when n_times=1).
    length : float
        Period of the domain ``[0, length)``.
    alpha, tau, sigma : float
        GRF covariance ``sigma^2 (-Laplacian + tau^2)^(-alpha)``.
    internal_resolution : int, optional
        Points of the solver's grid, a multiple of ``resolution``; default
        ``2 * resolution``.
    cfl : float
        Largest time step ``cfl * dx / max|u0|``, with ``dx = length /
        internal_resolution`` and ``max|u0|`` over all N samples (so the data do not
        depend on ``batch_size``); each output interval is cut into equal steps no
        longer than that. Errors scale as ``cfl^4``; 1.0 keeps them below 1e-7.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    _check_config(
        n=n,
        batch_size=batch_size,
        nu=nu,
        resolution=resolution,
        n_times=n_times,
        t_final=t_final,
        length=length,
        cfl=cfl,
        alpha=alpha,
        tau=tau,
        sigma=sigma,
    )
    internal = 2 * resolution if internal_resolution is None else int(internal_resolution)
    if internal < resolution or internal % resolution:
        raise ConfigError(
            f"burgers1d: internal_resolution={internal_resolution} must be a multiple of "
            f"resolution={resolution}; try {2 * resolution}"
        )
    torch_device = resolve_device("burgers1d", device)
    sampling = {"seed": seed, "length": length, "alpha": alpha, "tau": tau, "sigma": sigma}
    starts = range(0, n, batch_size)
    # one pass over the initial conditions fixes a step valid for every sample, so the
    # data do not depend on batch_size
    velocity_bound = max(
        float(grf_initial_conditions(s, min(batch_size, n - s), resolution, **sampling).abs().max()) for s in starts
    )
    max_step = cfl * (length / internal) / max(velocity_bound, 1e-12)
    output_interval = t_final / (n_times - 1) if n_times > 1 else 0.0
    steps_per_output = math.ceil(output_interval / max_step - 1e-9) if n_times > 1 else 0
    dt = output_interval / steps_per_output if n_times > 1 else max_step
    t = np.linspace(0.0, t_final, n_times) if n_times > 1 else np.zeros(1)
    x = np.arange(resolution) * (length / resolution)
    params = {
        "nu": nu,
        "resolution": resolution,
        "t_final": t_final,
        "n_times": n_times,
        "length": length,
        "initial_condition": "gaussian_random_field",
        "alpha": alpha,
        "tau": tau,
        "sigma": sigma,
        "n": n,
    }
    solver = {
        "method": "pseudo-spectral Fourier, 2/3 dealiasing, ETDRK4 (Kassam-Trefethen contour)",
        "dt": dt,
        "steps_per_output": steps_per_output,
        "cfl": cfl,
        "internal_resolution": internal,
        "velocity_bound": velocity_bound,
        "dtype": "float64",
    }
    provenance = Provenance("burgers1d", params=params, seed=seed, solver=solver)

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
        u0 = grf_initial_conditions(start, count, resolution, device=torch_device, **sampling)
        if n_times > 1:
            u = solve_burgers(u0, t, nu=nu, length=length, internal_resolution=internal, dt=dt, first_index=start)
        else:
            u = u0[:, None]
        return {"u": u[:, :, None].cpu().numpy().astype(np.float32), "a": u0[:, None].cpu().numpy().astype(np.float32)}

    key = {"params": params, "seed": seed, "solver": solver, "device": str(torch_device)}
    return run_fields(
        path,
        generator="burgers1d",
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
