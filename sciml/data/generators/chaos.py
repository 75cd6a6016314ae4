"""The ``chaos`` generator: trajectories of one system of the dysts catalogue.

Thin: the systems (batched right-hand sides, initial conditions, coordinate maps, the
delay equations' solver) are :mod:`sciml.systems`; the 129 ordinary flows are integrated
by :func:`sciml.numerics.integrate_batch` (Dormand-Prince 5(4) in float64 with
per-trajectory step control and Hairer's order-4 dense output); the six delay equations
by :func:`sciml.systems.integrate_delay_batch` (RK4 with a fixed step that divides the
delay, cubic Hermite history), stored as dysts' 10-column delay embedding. Which rhs path
a system takes is recorded in the file's ``solver`` provenance (``rhs_evaluation``,
``rhs_implementation``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sciml.core.errors import ConfigError, DataError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, resolve_device, run_batches
from sciml.data.schema import Provenance, TrajectoriesWriter
from sciml.numerics.batched import integrate_batch
from sciml.numerics.rk import SolverError
from sciml.systems import (
    batched_delay_rhs,
    batched_rhs,
    initial_conditions,
    integrate_delay_batch,
    is_delay,
    load_system,
    steps_per_delay_for,
    system_metadata,
)
from sciml.systems import (
    postprocess as apply_postprocessing,
)

__all__ = ["chaos"]


def _check_config(**v: Any) -> None:
    checks = {
        "n": (v["n"] >= 1, "must be >= 1"),
        "batch_size": (v["batch_size"] >= 1, "must be >= 1"),
        "n_periods": (v["n_periods"] > 0, "must be > 0; try n_periods=10"),
        "points_per_period": (v["points_per_period"] >= 2, "must be >= 2; try points_per_period=100"),
        "burn_in_periods": (v["burn_in_periods"] >= 0, "must be >= 0; try burn_in_periods=10"),
        "perturbation": (v["perturbation"] >= 0, "must be >= 0; try perturbation=0.01"),
        "rtol": (0 < v["rtol"] < 1, "must be in (0, 1); try rtol=1e-9"),
        "atol": (v["atol"] > 0, "must be > 0; try atol=1e-9"),
        "steps_per_delay": (
            v["steps_per_delay"] is None or (int(v["steps_per_delay"]) == v["steps_per_delay"] >= 1),
            "must be an integer >= 1 or None (chosen from rtol); try steps_per_delay=1024",
        ),
    }
    check_parameters("chaos", checks, v)


@GENERATORS.register("chaos")
def chaos(
    path,
    *,
    n: int = 64,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 64,
    progress: bool = False,
    system: str = "Lorenz",
    n_periods: float = 10.0,
    points_per_period: int = 100,
    burn_in_periods: float = 10.0,
    perturbation: float = 0.01,
    rtol: float = 1e-9,
    atol: float = 1e-9,
    postprocess: bool = True,
    max_steps: int = 1_000_000,
    steps_per_delay: int | None = None,
) -> str:
    """Trajectories of one dysts chaotic system from many initial conditions on its attractor.

    Writes ``x [N, T, D]`` sampled every ``dominant_period / points_per_period`` for
    ``n_periods`` periods (``T = round(n_periods * points_per_period)``), ``t [T]`` from 0,
    after a discarded transient of ``burn_in_periods`` periods.

    The 129 ordinary flows are integrated by :func:`sciml.numerics.integrate_batch` (dopri5,
    per-trajectory step control at ``rtol``/``atol``). The six delay equations are integrated by
    :func:`sciml.systems.integrate_delay_batch` (RK4 with a fixed step that divides the delay, cubic
    Hermite history) from constant histories (dysts' convention), and stored as dysts
    stores them: ``D = 10`` columns ``x(t - k tau / 9)``, ``k = 0 .. 9``.

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``trajectories``).
    n : int
        Number of trajectories N.
    seed : int
        Seed of the initial-condition perturbations; trajectory ``i`` depends only on ``(seed, i)``.
    device : str
        Device of the returned tensors (the integration runs in float64 numpy on the CPU).
    batch_size : int
        Trajectories integrated together. Larger is faster (the per-step Python cost is
        shared); 64 to 512 is a good range on a CPU.
    progress : bool
        Show a tqdm progress bar over batches.
    system : str
        A name from :func:`sciml.systems.list_systems` (dysts class name, e.g. "Lorenz", "Rossler").
    n_periods, points_per_period : float, int
        Length and sampling of the stored trajectories, in dominant periods; 100 points
        per period is the dysts forecasting benchmark's setting.
    burn_in_periods : float
        Transient integrated from the perturbed initial condition and discarded.
    perturbation : float
        Relative size of the Gaussian perturbation of the catalogue initial condition, in
        units of the catalogue standard deviation of each component.
    rtol, atol : float
        Tolerances of the per-trajectory error control.
    postprocess : bool
        Apply dysts' maps of unbounded variables (phases stored as their cosine), as
        ``make_trajectory`` does by default; ``False`` stores the raw state.
    max_steps : int
        Limit on batched solver steps per batch (ordinary flows).
    steps_per_delay : int, optional
        Delay equations only: RK4 steps per delay ``tau``. Default: the smallest power of
        two times ``tau / (period / 50)`` whose step-doubling error estimate over ``tau``
        plus one period is at most ``rtol`` (:func:`sciml.systems.steps_per_delay_for`).

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    _check_config(
        n=n,
        batch_size=batch_size,
        n_periods=n_periods,
        points_per_period=points_per_period,
        burn_in_periods=burn_in_periods,
        perturbation=perturbation,
        rtol=rtol,
        atol=atol,
        steps_per_delay=steps_per_delay,
    )
    sys_obj = load_system(system)
    meta = system_metadata(system)
    torch_device = resolve_device("chaos", device)
    period = float(meta["period"])
    dt = period / points_per_period
    n_times = int(round(n_periods * points_per_period))
    if n_times < 1:
        raise ConfigError(f"chaos: n_periods*points_per_period={n_periods * points_per_period} gives no sample")
    t_burn = burn_in_periods * period
    t_rel = np.arange(n_times) * dt
    t_abs = t_burn + t_rel
    delay = is_delay(system)
    lyap = meta.get("maximum_lyapunov_estimated")
    params = {
        "system": system,
        "parameters": meta["parameters"],
        "catalogue_initial_condition": meta.get("initial_conditions"),
        "n_periods": n_periods,
        "points_per_period": points_per_period,
        "burn_in_periods": burn_in_periods,
        "perturbation": perturbation,
        "postprocess": postprocess and hasattr(sys_obj, "_postprocessing"),
        "n": n,
    }
    from importlib.metadata import version

    if delay:
        drhs = batched_delay_rhs(sys_obj)
        step_rule = "given"
        if steps_per_delay is None:
            ic0 = float(np.asarray(sys_obj.ic, dtype=np.float64).reshape(-1)[0])
            steps_per_delay = steps_per_delay_for(drhs, ic0, period, rtol)
            step_rule = f"step-doubling error estimate <= rtol = {rtol:g} over tau + one period"
        dim = drhs.embedding_dimension
        solver = {
            "method": "rk4 (classical Runge-Kutta, order 4), fixed step h = tau / steps_per_delay, delayed values "
            "and samples from cubic Hermite interpolation of the mesh; constant history x = x0 for t <= 0",
            "delay": drhs.tau,
            "steps_per_delay": int(steps_per_delay),
            "h": drhs.tau / steps_per_delay,
            "step_rule": step_rule,
            "embedding": f"x(t - k tau / {dim - 1}), k = 0 .. {dim - 1} (dysts make_trajectory)",
            "dtype": "float64",
            "rhs_evaluation": drhs.path,
            "rhs_fallback_reason": drhs.reason,
            "dysts_version": version("dysts"),
            "sample_dt": dt,
        }
    else:
        rhs = batched_rhs(sys_obj)
        dim = int(np.asarray(sys_obj.ic).size)
        solver = {
            "method": "dopri5 (Dormand-Prince 5(4)), per-trajectory step control, Hairer order-4 dense output",
            "rtol": rtol,
            "atol": atol,
            "dtype": "float64",
            "rhs_evaluation": rhs.path,
            "rhs_implementation": rhs.implementation,
            "rhs_fallback_reason": rhs.reason,
            "dysts_version": version("dysts"),
            "sample_dt": dt,
        }
    provenance = Provenance("chaos", params=params, seed=seed, solver=solver)

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
        y0 = initial_conditions(sys_obj, start, count, seed=seed, perturbation=perturbation)
        if delay:
            # the state of a delay equation is its past: a constant history per sample
            ys, _ = integrate_delay_batch(drhs, y0[:, 0], t_abs, steps_per_delay=steps_per_delay)
            return {"x": ys.numpy()}
        try:
            ys, _ = integrate_batch(
                rhs,
                torch.as_tensor(y0, dtype=torch.float64, device=torch_device),
                t_abs,
                rtol=rtol,
                atol=atol,
                max_steps=max_steps,
                first_sample=start,
            )
        except SolverError as exc:  # a blow-up is a property of the data settings: the driver clears its cache
            raise DataError(f"chaos {system}: {exc}") from None
        x = ys.cpu().numpy()
        return {"x": apply_postprocessing(sys_obj, x) if postprocess else x}

    with TrajectoriesWriter(
        path,
        n,
        (n_times, dim),
        t_rel,
        provenance,
        system=system,
        dt=dt,
        lyapunov_max=None if lyap is None else float(lyap),
        dominant_period=period,
    ) as writer:
        return run_batches(
            writer,
            path,
            generator="chaos",
            n=n,
            batch_size=batch_size,
            key={"params": params, "seed": seed, "solver": solver, "device": str(torch_device)},
            compute=compute,
            progress=progress,
        )
