"""Steady Darcy flow in 2-D: the ``darcy2d`` generator and its finite-difference solver.

    -div(a(x, y) grad u) = f    on (0, 1)^2,    u = 0 on the boundary

Random coefficient fields ``a`` come from a Gaussian random field (GRF) ``g`` with
covariance ``sigma^2 (-Laplacian + tau^2)^(-alpha)`` under homogeneous Neumann boundary
conditions (cosine eigenfunctions), as in the Darcy benchmark of the Fourier neural
operator (Li et al. 2021, ``alpha=2, tau=3``):

- ``coefficient="threshold"``: ``a = a_plus`` (12) where ``g >= 0`` and ``a_minus``
  (3) elsewhere, the FNO benchmark's piecewise-constant field;
- ``coefficient="lognormal"``: ``a = exp(g)``.

Solver: :func:`sciml.numerics.pde.solve_darcy`, the standard second-order five-point
finite-difference scheme on the ``S x S`` node grid ``x_i = i / (S - 1)`` that includes
the boundary nodes (as the FNO files of 85 x 85 and 421 x 421 points), the coefficient on
each cell face the arithmetic (the FNO benchmark's MATLAB solver) or harmonic mean of
its two nodes, factorized per sample by SuperLU on the CPU.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.core.errors import ConfigError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, resolve_device, run_fields, sample_generator
from sciml.data.schema import Provenance
from sciml.numerics.pde import DARCY_METHOD, FACE_AVERAGES, solve_darcy

__all__ = ["darcy2d", "darcy_coefficients", "cosine_gaussian_random_field"]

_COEFFICIENTS = ("threshold", "lognormal")
_FACE_AVERAGES = FACE_AVERAGES


def cosine_gaussian_random_field(
    noise: torch.Tensor, alpha: float = 2.0, tau: float = 3.0, sigma: float | None = None
) -> torch.Tensor:
    """GRF with covariance ``sigma^2 (-Laplacian + tau^2)^(-alpha)``, Neumann boundary.

    ``g(x, y) = sum_k sigma (pi^2 |k|^2 + tau^2)^(-alpha/2) xi_k phi_k(x, y)`` over
    ``k = (k1, k2) in {0..S-1}^2``, ``(0, 0)`` excluded (zero mean), with the
    orthonormal cosine basis ``phi_k = c_k1 cos(pi k1 x) c_k2 cos(pi k2 y)``
    (``c_0 = 1``, else ``sqrt(2)``), evaluated at the nodes ``i / (S - 1)``. This is
    the field of the FNO Darcy script (``GRF.m``: ``sigma = tau^(alpha - 1)``, an
    inverse DCT), evaluated at the nodes instead of interpolated to them.

    Parameters
    ----------
    noise : Tensor ``[B, S, S]``
        Standard normal coefficients ``xi_k``; dtype and device of the result.
    alpha, tau : float
        Smoothness and inverse correlation length.
    sigma : float, optional
        Amplitude; default ``tau^(alpha - 1)`` (FNO).

    Returns
    -------
    Tensor ``[B, S, S]``
    """
    s = noise.shape[-1]
    if sigma is None:
        sigma = tau ** (alpha - 1)
    k = torch.arange(s, dtype=noise.dtype, device=noise.device)
    x = torch.arange(s, dtype=noise.dtype, device=noise.device) / (s - 1)
    basis = torch.cos(math.pi * x[:, None] * k[None, :])  # [S nodes, S modes]
    basis[:, 1:] *= math.sqrt(2.0)
    scale = sigma * (math.pi**2 * (k[:, None] ** 2 + k[None, :] ** 2) + tau**2) ** (-alpha / 2)
    scale[0, 0] = 0.0
    return basis @ (scale * noise) @ basis.T


def darcy_coefficients(
    first: int,
    count: int,
    resolution: int,
    *,
    seed: int = 0,
    coefficient: str = "threshold",
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    a_plus: float = 12.0,
    a_minus: float = 3.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Coefficient fields of samples ``first .. first+count-1``, ``[count, S, S]`` float64.

    Each sample draws its noise from its own CPU generator seeded by ``(seed, index)``
    (so sample ``i`` does not depend on batching or device); the field is formed on
    ``device``. See :func:`cosine_gaussian_random_field` for the GRF.
    """
    noise = torch.stack(
        [
            torch.randn(resolution, resolution, generator=sample_generator(seed, i), dtype=torch.float64)
            for i in range(first, first + count)
        ]
    ).to(device)
    g = cosine_gaussian_random_field(noise, alpha, tau, sigma)
    if coefficient == "threshold":
        return torch.where(g >= 0, torch.full_like(g, a_plus), torch.full_like(g, a_minus))
    if coefficient == "lognormal":
        return torch.exp(g)
    raise ConfigError(f"darcy2d: coefficient={coefficient!r} is not one of {', '.join(_COEFFICIENTS)}")


def _check_config(values: dict) -> None:
    checks = {
        "n": (values["n"] >= 1, "must be >= 1"),
        "batch_size": (values["batch_size"] >= 1, "must be >= 1"),
        "resolution": (values["resolution"] >= 5, "must be >= 5 (boundary nodes included); try resolution=64"),
        "coefficient": (values["coefficient"] in _COEFFICIENTS, f"must be one of {', '.join(_COEFFICIENTS)}"),
        "face_average": (values["face_average"] in _FACE_AVERAGES, f"must be one of {', '.join(_FACE_AVERAGES)}"),
        "alpha": (values["alpha"] > 1, "must be > 1 for a continuous field in 2-D; try alpha=2"),
        "tau": (values["tau"] >= 0, "must be >= 0; try tau=3"),
        "sigma": (values["sigma"] is None or values["sigma"] >= 0, "must be >= 0 or None (tau^(alpha-1))"),
        "a_plus": (values["a_plus"] > 0, "must be > 0; try a_plus=12"),
        "a_minus": (values["a_minus"] > 0, "must be > 0; try a_minus=3"),
        "forcing": (math.isfinite(values["forcing"]), "must be a finite number; try forcing=1.0"),
    }
    check_parameters("darcy2d", checks, values)


@GENERATORS.register("darcy2d")
def darcy2d(
    path,
    *,
    n: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 100,
    progress: bool = False,
    resolution: int = 64,
    coefficient: str = "threshold",
    forcing: float = 1.0,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    a_plus: float = 12.0,
    a_minus: float = 3.0,
    face_average: str = "arithmetic",
) -> str:
    """Darcy flow 2-D: coefficient ``a [N, 1, S, S]`` to pressure ``u [N, 1, 1, S, S]``.

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``fields``, ``t = [0]``, coords ``x``, ``y`` on
        ``[0, 1]`` including the boundary).
    n : int
        Number of samples N.
    seed : int
        Seed of the coefficient fields; sample ``i`` depends only on ``(seed, i)``.
    device : str
        Torch device on which the coefficient fields are formed; the sparse direct
        solve always runs on the CPU (SciPy).
    batch_size : int
        Samples drawn and written together.
    progress : bool
        Show a tqdm progress bar over batches.
    resolution : int
        Nodes S per side, boundary included: 85, 141, 211 and 421 are the FNO
        benchmark's grids; 64 and 128 the project's recipes.
    coefficient : {"threshold", "lognormal"}
        ``a_plus``/``a_minus`` where the GRF is ``>= 0``/``< 0`` (FNO), or ``exp(GRF)``.
    forcing : float
        Constant right-hand side f (FNO: 1).
    alpha, tau, sigma : float
        GRF covariance ``sigma^2 (-Laplacian + tau^2)^(-alpha)`` with Neumann
        boundary; ``sigma=None`` means ``tau^(alpha - 1)`` (FNO: alpha=2, tau=3).
    a_plus, a_minus : float
        Values of the thresholded field (FNO paper: 12 and 3).
    face_average : {"arithmetic", "harmonic"}
        Face coefficient of the five-point scheme; arithmetic as the FNO solver.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    _check_config(locals())
    torch_device = resolve_device("darcy2d", device)
    grid = np.linspace(0.0, 1.0, resolution)
    params = {
        "resolution": resolution,
        "coefficient": coefficient,
        "forcing": forcing,
        "alpha": alpha,
        "tau": tau,
        "sigma": tau ** (alpha - 1) if sigma is None else sigma,
        "a_plus": a_plus,
        "a_minus": a_minus,
        "n": n,
        "boundary": "u = 0 (Dirichlet) on the unit square",
        "grf_basis": "cosine (Neumann), modes 0..S-1 per axis",
    }
    solver = {
        "method": DARCY_METHOD,
        "face_average": face_average,
        "resolution": resolution,
        "h": 1.0 / (resolution - 1),
        "dtype": "float64",
    }
    provenance = Provenance("darcy2d", params=params, seed=seed, solver=solver)
    sampling = {
        "seed": seed,
        "coefficient": coefficient,
        "alpha": alpha,
        "tau": tau,
        "sigma": sigma,
        "a_plus": a_plus,
        "a_minus": a_minus,
        "device": torch_device,
    }
    shape = (resolution, resolution)

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
        a = darcy_coefficients(start, count, resolution, **sampling)
        u = solve_darcy(a, forcing, face_average=face_average, first_index=start)
        return {
            "u": u[:, None, None].cpu().numpy().astype(np.float32),
            "a": a[:, None].cpu().numpy().astype(np.float32),
        }

    key = {"params": params, "seed": seed, "solver": solver, "device": str(torch_device)}
    return run_fields(
        path,
        generator="darcy2d",
        n=n,
        u_shape=(1, 1, *shape),
        t=np.zeros(1),
        coords={"x": grid, "y": grid},
        provenance=provenance,
        a_shape=(1, *shape),
        batch_size=batch_size,
        key=key,
        compute=compute,
        progress=progress,
    )
