"""Reaction-diffusion in 1-D: the ``reaction_diffusion1d`` generator.

    model="fisher_kpp":  u_t = D u_xx + r u (1 - u)
    model="allen_cahn":  u_t = D u_xx + r (u - u^3)

on ``x in [0, length)`` periodic, with ``D = diffusion`` (the ``eps`` of Allen-Cahn) and
``r = rate``; ``rate = 1`` gives the textbook forms ``u_t = D u_xx + u (1 - u)`` and
``u_t = eps u_xx + u - u^3``, and ``diffusion=1e-4, rate=5, length=2`` the Allen-Cahn
problem of the PINN literature.

Fisher-KPP keeps ``u`` in ``[0, 1]`` and invades the unstable state 0 with fronts of
speed ``2 sqrt(D r)``; Allen-Cahn keeps ``u`` in ``[-1, 1]``, is the gradient flow of
the free energy ``E(u) = int D/2 u_x^2 + r/4 (1 - u^2)^2 dx`` and coarsens into
domains of +-1 separated by interfaces of width ``sqrt(2 D / r)``.

Initial conditions: a Gaussian random field ``g`` (covariance as in ``burgers1d``)
rescaled into the model's range, ``(g - min g) / (max g - min g)`` (Fisher-KPP, values
in [0, 1]) or ``amplitude * g / max|g|`` (Allen-Cahn, values in [-amplitude, amplitude]).

Solver: :func:`sciml.numerics.pde.solve_reaction_diffusion` (Fourier pseudo-spectral;
ETDRK4 with the linear part ``-D k^2 + r`` integrated exactly and the polynomial
``-r u^2`` or ``-r u^3`` as the nonlinear part), steps ``dt = cfl / r``. No dealiasing:
the resolution check (``dx <= sqrt(D / r) / 2``) keeps fronts resolved, so the spectrum
at the grid's Nyquist mode, the only source of aliasing, is already negligible.

Caveat (Fisher-KPP): the state ``u = 0`` is unstable, so rounding noise (1e-16) where
``u`` is zero grows like ``exp(r t)`` and becomes visible (1e-4) after ``r t`` of about
30; the random initial conditions touch 0 at a single point only, but a user-supplied
field that is 0 over an interval should be integrated for ``r t < 30``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.core.errors import ConfigError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import (
    check_parameters,
    grf_initial_conditions,
    resolve_device,
    run_fields,
)
from sciml.data.schema import Provenance
from sciml.numerics.pde import REACTION_DIFFUSION_METHOD, REACTION_DIFFUSION_MODELS, solve_reaction_diffusion

__all__ = ["reaction_diffusion1d", "reaction_diffusion_initial_conditions", "MODELS"]

MODELS = REACTION_DIFFUSION_MODELS
DEFAULT_CFL = 0.02


def _check_model(model: str, where: str) -> None:
    if model not in MODELS:
        raise ConfigError(f"{where}: model={model!r} is unknown; use one of {', '.join(MODELS)}")


def reaction_diffusion_initial_conditions(
    first: int,
    count: int,
    resolution: int,
    *,
    model: str = "fisher_kpp",
    seed: int = 0,
    length: float = 1.0,
    alpha: float = 2.0,
    tau: float = 5.0,
    amplitude: float = 1.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Random fields in the model's range for samples ``first .. first+count-1``.

    A Gaussian random field ``g`` per sample (:func:`grf_initial_conditions`, one CPU
    generator each) mapped to ``(g - min g) / (max g - min g)`` for Fisher-KPP (values
    in [0, 1], both ends reached) or ``amplitude * g / max|g|`` for Allen-Cahn.

    Returns
    -------
    Tensor ``[count, resolution]``, float64 on ``device``
    """
    _check_model(model, "reaction_diffusion_initial_conditions")
    g = grf_initial_conditions(first, count, resolution, seed=seed, length=length, alpha=alpha, tau=tau, sigma=1.0)
    if model == "fisher_kpp":
        low, high = g.amin(-1, keepdim=True), g.amax(-1, keepdim=True)
        u0 = (g - low) / (high - low)
    else:
        u0 = amplitude * g / g.abs().amax(-1, keepdim=True)
    return u0.to(device)


def _min_resolution(length: float, diffusion: float, rate: float) -> int:
    """Even grid with ``dx <= sqrt(D / r) / 2``: a front of width ``sqrt(D / r)`` spans two cells."""
    if diffusion == 0:
        return 16
    return 2 * math.ceil(length / math.sqrt(diffusion / rate))


@GENERATORS.register("reaction_diffusion1d")
def reaction_diffusion1d(
    path,
    *,
    n: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 250,
    progress: bool = False,
    model: str = "fisher_kpp",
    diffusion: float = 1e-3,
    rate: float = 5.0,
    length: float = 1.0,
    resolution: int = 256,
    t_final: float = 1.0,
    n_times: int = 11,
    alpha: float = 2.0,
    tau: float = 5.0,
    amplitude: float = 1.0,
    cfl: float = DEFAULT_CFL,
) -> str:
    """Fisher-KPP or Allen-Cahn 1-D: ``a = u0 [N, 1, S]`` to ``u [N, T, 1, S]``.

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``fields``).
    n : int
        Number of samples N.
    seed : int
        Seed of the initial conditions; sample ``i`` depends only on ``(seed, i)``.
    device : str
        Torch device of the integration.
    batch_size : int
        Samples integrated together.
    progress : bool
        Show a tqdm progress bar over batches.
    model : {"fisher_kpp", "allen_cahn"}
        ``u_t = D u_xx + r u (1 - u)`` or ``u_t = D u_xx + r (u - u^3)``.
    diffusion : float
        ``D`` (``eps`` of Allen-Cahn), ``> 0``. With the defaults (``D = 1e-3``,
        ``r = 5``) fronts are 0.014 wide and Fisher fronts move at 0.14.
    rate : float
        Reaction rate ``r > 0``.
    length : float
        Period of the domain.
    resolution : int
        Grid points S (even); ``dx = length / S <= sqrt(D / r) / 2`` is required.
    t_final, n_times : float, int
        Output times ``t = linspace(0, t_final, n_times)`` (``[0]`` when n_times=1).
    alpha, tau : float
        Smoothness and inverse correlation length of the Gaussian random field.
    amplitude : float
        Allen-Cahn only: initial values in ``[-amplitude, amplitude]``, ``0 < amplitude <= 1``.
    cfl : float
        Largest step ``cfl / rate``; errors scale as ``cfl^4`` (0.02: below 5e-9 for
        the exact spatially constant solutions over ``t = 10 / r``).

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    values = dict(
        n=n,
        batch_size=batch_size,
        model=model,
        diffusion=diffusion,
        rate=rate,
        length=length,
        resolution=resolution,
        t_final=t_final,
        n_times=n_times,
        alpha=alpha,
        tau=tau,
        amplitude=amplitude,
        cfl=cfl,
    )
    physical = diffusion > 0 and math.isfinite(diffusion) and rate > 0 and math.isfinite(rate)
    physical = physical and length > 0 and math.isfinite(length)
    min_s = max(16, _min_resolution(length, diffusion, rate)) if physical else 16
    checks = {
        "n": (n >= 1, "must be >= 1"),
        "batch_size": (batch_size >= 1, "must be >= 1"),
        "model": (model in MODELS, f"is unknown; use one of {', '.join(MODELS)}"),
        "diffusion": (diffusion > 0 and math.isfinite(diffusion), "must be > 0 (D, or eps); try diffusion=1e-3"),
        "rate": (rate > 0 and math.isfinite(rate), "must be > 0; try rate=5.0"),
        "length": (length > 0 and math.isfinite(length), "must be > 0; try length=1.0"),
        "resolution": (
            resolution % 2 == 0 and resolution >= min_s,
            f"is too small or odd to resolve fronts of width sqrt(diffusion/rate)"
            f"={math.sqrt(diffusion / rate) if physical else float('nan'):.3g} on length={length:.4g}: "
            f"need an even resolution >= {min_s}; raise resolution or diffusion",
        ),
        "t_final": (t_final > 0, "must be > 0; try t_final=1.0"),
        "n_times": (n_times >= 1, "must be >= 1; try n_times=11"),
        "alpha": (alpha > 0.5, "must be > 0.5 for a continuous field; try alpha=2"),
        "tau": (tau >= 0, "must be >= 0; try tau=5"),
        "amplitude": (0 < amplitude <= 1, "must be in (0, 1]; try amplitude=1.0"),
        "cfl": (0 < cfl <= 1, "must be in (0, 1]; try cfl=0.02"),
    }
    check_parameters("reaction_diffusion1d", checks, values)
    torch_device = resolve_device("reaction_diffusion1d", device)
    t = np.linspace(0.0, t_final, n_times) if n_times > 1 else np.zeros(1)
    x = np.arange(resolution) * (length / resolution)
    dt_max = cfl / rate
    output_interval = t_final / (n_times - 1) if n_times > 1 else 0.0
    steps_per_output = math.ceil(output_interval / dt_max - 1e-9) if n_times > 1 else 0
    equation = "u_t = D u_xx + r u (1 - u)" if model == "fisher_kpp" else "u_t = D u_xx + r (u - u^3)"
    params = {
        "model": model,
        "equation": equation,
        "diffusion": diffusion,
        "rate": rate,
        "length": length,
        "resolution": resolution,
        "t_final": t_final,
        "n_times": n_times,
        "initial_condition": "gaussian_random_field rescaled to the model's range",
        "alpha": alpha,
        "tau": tau,
        "n": n,
    }
    if model == "allen_cahn":
        params["amplitude"] = amplitude
    solver = {
        "method": REACTION_DIFFUSION_METHOD,
        "dt": output_interval / steps_per_output if steps_per_output else dt_max,
        "steps_per_output": steps_per_output,
        "cfl": cfl,
        "resolution": resolution,
        "dtype": "float64",
    }
    provenance = Provenance("reaction_diffusion1d", params=params, seed=seed, solver=solver)

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
        u0 = reaction_diffusion_initial_conditions(
            start,
            count,
            resolution,
            model=model,
            seed=seed,
            length=length,
            alpha=alpha,
            tau=tau,
            amplitude=amplitude,
            device=torch_device,
        )
        if n_times > 1:
            u = solve_reaction_diffusion(
                u0, t, model=model, diffusion=diffusion, rate=rate, length=length, dt=dt_max, first_index=start
            )
        else:
            u = u0[:, None]
        return {"u": u[:, :, None].cpu().numpy().astype(np.float32), "a": u0[:, None].cpu().numpy().astype(np.float32)}

    key = {"params": params, "seed": seed, "solver": solver, "device": str(torch_device)}
    return run_fields(
        path,
        generator="reaction_diffusion1d",
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
