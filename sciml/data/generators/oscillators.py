"""Irregularly observed nonlinear oscillators: the ``oscillators`` generator.

Two planar systems, the irregular time-series task of the neural-ODE regularization
benchmark (``benchmarks/nde_regularization.py``, the role PhysioNet plays in Pal et al.):

``duffing``        the damped Duffing oscillator ``x'' = -x - x**3 - damping x'``, state
                   ``(x, x')``; it hardens with amplitude (higher frequency at larger states);
``cubic_spiral``   ``dy/dt = (y**3) A`` with ``A = [[-0.1, 2], [-2, -0.1]]`` (row vector
                   ``y``), the damped cubic oscillator of torchdiffeq's demo.

Each trajectory starts from a random state on the ring ``radius_min <= |y0| <= radius_max``
and is observed at ``n_times`` times of its own: ``t = 0`` and ``n_times - 1`` distinct
times drawn from the grid ``k * grid`` (``0 < k * grid <= t_final``), sorted, each
observation (the initial one included) with Gaussian noise of standard deviation
``noise``. The exact trajectories come from our batched Dormand-Prince 5(4) solver with
per-trajectory step control (:func:`sciml.numerics.integrate_batch`) in
float64 at rtol 1e-10.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.core.errors import DataError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, resolve_device, run_batches, sample_generator
from sciml.data.schema import Provenance, TrajectoriesWriter
from sciml.numerics.batched import integrate_batch
from sciml.numerics.rk import SolverError

__all__ = ["oscillators", "oscillator_rhs", "SYSTEMS"]

SYSTEMS = ("duffing", "cubic_spiral")
SPIRAL_MATRIX = np.array([[-0.1, 2.0], [-2.0, -0.1]])
"""``A`` of the cubic spiral ``dy/dt = (y**3) A`` (row-vector convention, torchdiffeq's demo)."""


def oscillator_rhs(system: str, damping: float = 0.2):
    """The right-hand side ``f(t [B], y [B, 2]) -> [B, 2]`` (numpy float64) of ``system``.

    Written componentwise (no matrix product), so each trajectory's arithmetic does not
    depend on the batch it is integrated in.

    >>> f = oscillator_rhs("duffing", damping=0.2)
    >>> f(np.zeros(1), np.array([[1.0, 1.0]])).tolist()
    [[1.0, -2.2]]
    """
    if system == "duffing":

        def duffing(t: np.ndarray, y: np.ndarray) -> np.ndarray:
            x, v = y[:, 0], y[:, 1]
            return np.stack([v, -x - x**3 - damping * v], axis=1)

        return duffing
    (a00, a01), (a10, a11) = SPIRAL_MATRIX

    def cubic_spiral(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        c0, c1 = y[:, 0] ** 3, y[:, 1] ** 3
        return np.stack([c0 * a00 + c1 * a10, c0 * a01 + c1 * a11], axis=1)

    return cubic_spiral


def _draw(seed: int, index: int, n_grid: int, n_times: int, radius_min: float, radius_max: float):
    """Initial state ``[2]``, grid indices ``[n_times]`` and unit noise ``[n_times, 2]`` of one sample."""
    g = sample_generator(seed, index)
    radius = radius_min + (radius_max - radius_min) * torch.rand((), generator=g, dtype=torch.float64)
    angle = 2 * math.pi * torch.rand((), generator=g, dtype=torch.float64)
    y0 = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)])
    later = torch.randperm(n_grid - 1, generator=g)[: n_times - 1] + 1
    indices = torch.cat([torch.zeros(1, dtype=torch.long), later.sort().values])
    unit_noise = torch.randn(n_times, 2, generator=g, dtype=torch.float64)
    return y0.numpy(), indices.numpy(), unit_noise.numpy()


@GENERATORS.register("oscillators")
def oscillators(
    path,
    *,
    n: int = 512,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 256,
    progress: bool = False,
    system: str = "duffing",
    n_times: int = 12,
    t_final: float = 5.0,
    grid: float = 0.1,
    noise: float = 0.02,
    radius_min: float = 0.5,
    radius_max: float = 1.5,
    damping: float = 0.2,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> str:
    """Noisy observations of planar oscillators at irregular, per-trajectory times.

    Writes ``x [N, n_times, 2]`` (float64) and per-trajectory times ``t [N, n_times]``
    (shared ``t [n_times]`` when ``n_times`` takes every grid time: regular sampling).

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``trajectories``).
    n : int
        Number of trajectories N.
    seed : int
        Seed; trajectory ``i`` (initial state, times, noise) depends only on ``(seed, i)``.
    device : str
        Checked like every generator's; the solver runs in numpy on the CPU.
    batch_size : int
        Trajectories integrated together (each keeps its own steps).
    progress : bool
        Show a tqdm progress bar over batches.
    system : {"duffing", "cubic_spiral"}
        See the module docstring. The benchmark uses ``duffing``.
    n_times : int
        Observations per trajectory, ``t = 0`` included (2 .. ``t_final / grid + 1``).
        The benchmark's 12 of 51 grid times make every batch irregular.
    t_final, grid : float
        Observation times are multiples of ``grid`` in ``[0, t_final]``; ``t_final``
        must be a whole number of ``grid`` steps.
    noise : float
        Standard deviation of the Gaussian observation noise (0 gives exact states).
    radius_min, radius_max : float
        Ring of the initial states (uniform radius and angle).
    damping : float
        Duffing's damping coefficient (``duffing`` only).
    rtol, atol : float
        Tolerances of the solver.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    steps = t_final / grid if grid > 0 else float("nan")
    n_grid = int(round(steps)) + 1 if math.isfinite(steps) else 0
    check_parameters(
        "oscillators",
        {
            "n": (n >= 1, "must be >= 1"),
            "batch_size": (batch_size >= 1, "must be >= 1"),
            "system": (system in SYSTEMS, f"is unknown; use one of {', '.join(SYSTEMS)}"),
            "t_final": (t_final > 0, "must be > 0; try t_final=5.0"),
            "grid": (
                grid > 0 and abs(steps - round(steps)) < 1e-9 * max(1.0, steps),
                "must be > 0 and divide t_final into whole steps; try grid=0.1",
            ),
            "n_times": (
                2 <= n_times <= n_grid,
                f"must be in 2..{n_grid} (t = 0 and distinct grid times up to t_final)",
            ),
            "noise": (noise >= 0, "must be >= 0; try noise=0.02"),
            "radius_min": (radius_min >= 0, "must be >= 0; try radius_min=0.5"),
            "radius_max": (radius_max >= radius_min, "must be >= radius_min; try radius_max=1.5"),
            "damping": (math.isfinite(damping), "must be a finite number; try damping=0.2"),
            "rtol": (0 < rtol < 1, "must be in (0, 1); try rtol=1e-10"),
            "atol": (atol > 0, "must be > 0; try atol=1e-12"),
        },
        {
            "n": n,
            "batch_size": batch_size,
            "system": system,
            "t_final": t_final,
            "grid": grid,
            "n_times": n_times,
            "noise": noise,
            "radius_min": radius_min,
            "radius_max": radius_max,
            "damping": damping,
            "rtol": rtol,
            "atol": atol,
        },
    )
    resolve_device("oscillators", device)
    times = np.arange(n_grid) * grid
    regular = n_times == n_grid
    rhs = oscillator_rhs(system, damping)
    params = {
        "system": system,
        "n": n,
        "n_times": n_times,
        "t_final": t_final,
        "grid": grid,
        "noise": noise,
        "radius_min": radius_min,
        "radius_max": radius_max,
    }
    if system == "duffing":
        params["damping"] = damping
    else:
        params["matrix"] = SPIRAL_MATRIX.tolist()
    solver = {
        "method": "dopri5 (Dormand-Prince 5(4)), per-trajectory step control, Hairer order-4 dense output",
        "rtol": rtol,
        "atol": atol,
        "dtype": "float64",
    }
    provenance = Provenance("oscillators", params=params, seed=seed, solver=solver)

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
        draws = [_draw(seed, i, n_grid, n_times, radius_min, radius_max) for i in range(start, start + count)]
        y0 = torch.from_numpy(np.stack([d[0] for d in draws]))
        indices = np.stack([d[1] for d in draws])
        unit_noise = np.stack([d[2] for d in draws])
        try:
            exact, _ = integrate_batch(rhs, y0, times, rtol=rtol, atol=atol, first_sample=start)
        except SolverError as exc:  # a blow-up is a property of the data settings: the driver clears its cache
            raise DataError(f"oscillators {system}: {exc}") from None
        observed = np.take_along_axis(exact.numpy(), indices[..., None], axis=1) + noise * unit_noise
        return {"x": observed} if regular else {"x": observed, "t": times[indices]}

    with TrajectoriesWriter(
        path,
        n,
        (n_times, 2),
        times if regular else None,
        provenance,
        system=system,
        dt=None if not regular else float(grid),
    ) as writer:
        return run_batches(
            writer,
            path,
            generator="oscillators",
            n=n,
            batch_size=batch_size,
            key={"params": params, "seed": seed, "solver": solver},
            compute=compute,
            progress=progress,
        )
