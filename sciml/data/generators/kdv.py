"""Korteweg-de Vries equation in 1-D: the ``kdv1d`` generator.

    u_t + 6 u u_x + u_xxx = 0,    x in [0, length) periodic

(the convention of Drazin and Johnson, with solitons ``u = (c/2) sech^2(sqrt(c)/2 (x - c t - x0))``
moving right at speed ``c``, amplitude ``c/2``).

Initial conditions: sums of ``n_solitons`` solitons with speeds ``c ~ U(c_min, c_max)``
and centres ``x0 ~ U(0, length)``, each placed at its nearest periodic image; the
solitons overtake and pass through one another with a phase shift.

Solver: :func:`sciml.numerics.pde.solve_kdv` (Fourier pseudo-spectral, the nonlinear term
``-3 (u^2)_x`` dealiased by the 2/3 rule, ETDRK4 with the contour-integral coefficients
of Kassam and Trefethen (2005)). The dispersive term is integrated exactly (symbol
``i k^3``), so the step is limited by the nonlinear term only:
``dt = cfl / (3 c_max k_max)`` (:func:`sciml.numerics.pde.kdv_time_step`) with ``3 c_max``
the largest nonlinear speed ``6 max|u|`` of one soliton and ``k_max`` the largest
dealiased wavenumber.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, resolve_device, run_fields, sample_generator
from sciml.data.schema import Provenance
from sciml.numerics.pde import KDV_METHOD, kdv_time_step, soliton, solve_kdv

__all__ = ["kdv1d", "soliton_initial_conditions"]

# solitons never grow; a maximum past this multiple of the largest possible max|u0|
# means an unstable step
_BLOW_UP_FACTOR = 4.0
DEFAULT_CFL = 0.25
# a soliton's Fourier amplitude decays like exp(-pi k / sqrt(c)); this much decay at
# the edge of the dealiased band keeps truncation errors near 1e-8
_SPECTRAL_DECAY = 18.0
# the tail of a soliton at half a period, exp(-sqrt(c) length / 2), is below 1e-7 of
# its height past this many half-widths
_PERIODIC_TAIL = 16.0


def soliton_initial_conditions(
    first: int,
    count: int,
    resolution: int,
    *,
    seed: int = 0,
    length: float = 64.0,
    n_solitons: int = 2,
    c_min: float = 0.5,
    c_max: float = 2.0,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums of solitons for samples ``first .. first+count-1``, one CPU generator each.

    Returns
    -------
    (Tensor ``[count, resolution]``, Tensor ``[count, 2 * n_solitons]``)
        Initial fields (float64 on ``device``) and the parameters
        ``(c_1, ..., c_n, x0_1, ..., x0_n)`` of each sample.
    """
    x = torch.arange(resolution, dtype=torch.float64) * (length / resolution)
    fields, parameters = [], []
    for index in range(first, first + count):
        generator = sample_generator(seed, index)
        c = c_min + (c_max - c_min) * torch.rand(n_solitons, generator=generator, dtype=torch.float64)
        x0 = length * torch.rand(n_solitons, generator=generator, dtype=torch.float64)
        u0 = sum(soliton(x, 0.0, float(ci), float(xi), length) for ci, xi in zip(c, x0))
        fields.append(u0)
        parameters.append(torch.cat([c, x0]))
    return torch.stack(fields).to(device), torch.stack(parameters)


@GENERATORS.register("kdv1d")
def kdv1d(
    path,
    *,
    n: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 250,
    progress: bool = False,
    length: float = 64.0,
    resolution: int = 256,
    t_final: float = 10.0,
    n_times: int = 51,
    n_solitons: int = 2,
    c_min: float = 0.5,
    c_max: float = 2.0,
    cfl: float = DEFAULT_CFL,
) -> str:
    """KdV 1-D from random soliton sums: ``a = u0 [N, 1, S]`` to ``u [N, T, 1, S]``.

    The speeds and centres of each sample's solitons are stored in ``params [N, 2 n_solitons]``
    (names ``c_1..c_n, x0_1..x0_n``).

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
    length : float
        Period of the domain; must hold a soliton of speed ``c_min`` without its tail
        wrapping: ``sqrt(c_min) length / 2 >= 16``.
    resolution : int
        Grid points S (even); must resolve the narrowest soliton:
        ``resolution >= 2.74 sqrt(c_max) length`` (256 for the defaults).
    t_final, n_times : float, int
        Output times ``t = linspace(0, t_final, n_times)`` (``[0]`` when n_times=1).
    n_solitons : int
        Solitons per sample.
    c_min, c_max : float
        Range of the soliton speeds (amplitudes ``c / 2``), ``0 < c_min <= c_max``.
    cfl : float
        Step ``dt = cfl / (3 c_max k_max)``; errors scale as ``cfl^4``, 0.5 keeps the
        soliton's relative error after a full period near 1e-8.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    values = dict(
        n=n,
        batch_size=batch_size,
        length=length,
        resolution=resolution,
        t_final=t_final,
        n_times=n_times,
        n_solitons=n_solitons,
        c_min=c_min,
        c_max=c_max,
        cfl=cfl,
    )
    speeds_ok = 0 < c_min <= c_max and math.isfinite(c_max)
    length_ok = math.isfinite(length) and length > 0
    min_length = 2 * _PERIODIC_TAIL / math.sqrt(c_min) if speeds_ok else 0.0
    min_resolution = (
        2 * math.ceil(3 * _SPECTRAL_DECAY * math.sqrt(c_max) * length / (4 * math.pi**2))
        if speeds_ok and length_ok
        else 16
    )
    checks = {
        "n": (n >= 1, "must be >= 1"),
        "batch_size": (batch_size >= 1, "must be >= 1"),
        "c_min": (0 < c_min <= c_max, "must be > 0 and <= c_max; try c_min=0.5"),
        "c_max": (math.isfinite(c_max), "must be finite; try c_max=2.0"),
        "length": (
            length_ok and length >= min_length,
            f"is too short for solitons of speed c_min={c_min}: need length >= {min_length:.4g} "
            "(32 / sqrt(c_min)) so tails do not wrap; raise length or c_min",
        ),
        "resolution": (
            resolution % 2 == 0 and resolution >= max(16, min_resolution),
            f"is too small or odd for c_max={c_max}, length={length:.4g}: need an even "
            f"resolution >= {max(16, min_resolution)}; raise resolution or lower c_max",
        ),
        "t_final": (t_final > 0, "must be > 0; try t_final=10.0"),
        "n_times": (n_times >= 1, "must be >= 1; try n_times=51"),
        "n_solitons": (n_solitons >= 1, "must be >= 1; try n_solitons=2"),
        "cfl": (0 < cfl <= 2, "must be in (0, 2]; try cfl=0.5"),
    }
    check_parameters("kdv1d", checks, values)
    torch_device = resolve_device("kdv1d", device)
    dt_max = kdv_time_step(c_max, length, resolution, cfl)
    t = np.linspace(0.0, t_final, n_times) if n_times > 1 else np.zeros(1)
    x = np.arange(resolution) * (length / resolution)
    # two solitons of height c_max / 2 overlap to at most the sum of the heights
    bound = _BLOW_UP_FACTOR * n_solitons * c_max / 2
    params = {
        "equation": "u_t + 6 u u_x + u_xxx = 0",
        "length": length,
        "resolution": resolution,
        "t_final": t_final,
        "n_times": n_times,
        "initial_condition": "soliton sum",
        "n_solitons": n_solitons,
        "c_min": c_min,
        "c_max": c_max,
        "n": n,
    }
    output_interval = t_final / (n_times - 1) if n_times > 1 else 0.0
    steps_per_output = math.ceil(output_interval / dt_max - 1e-9) if n_times > 1 else 0
    solver = {
        "method": KDV_METHOD,
        "dt": output_interval / steps_per_output if steps_per_output else dt_max,
        "steps_per_output": steps_per_output,
        "cfl": cfl,
        "resolution": resolution,
        "dtype": "float64",
    }
    provenance = Provenance("kdv1d", params=params, seed=seed, solver=solver)
    names = [f"c_{i + 1}" for i in range(n_solitons)] + [f"x0_{i + 1}" for i in range(n_solitons)]

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
        u0, sample_params = soliton_initial_conditions(
            start,
            count,
            resolution,
            seed=seed,
            length=length,
            n_solitons=n_solitons,
            c_min=c_min,
            c_max=c_max,
            device=torch_device,
        )
        if n_times > 1:
            u = solve_kdv(u0, t, length=length, dt=dt_max, bound=bound, first_index=start)
        else:
            u = u0[:, None]
        return {
            "u": u[:, :, None].cpu().numpy().astype(np.float32),
            "a": u0[:, None].cpu().numpy().astype(np.float32),
            "params": sample_params.numpy(),
        }

    key = {"params": params, "seed": seed, "solver": solver, "device": str(torch_device)}
    return run_fields(
        path,
        generator="kdv1d",
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
        param_names=names,
    )
