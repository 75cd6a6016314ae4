"""Kuramoto-Sivashinsky equation in 1-D: the ``kuramoto_sivashinsky1d`` generator.

    u_t + u u_x + u_xx + u_xxxx = 0,    x in [0, length) periodic

Long domains (``length`` from about 22 up to 200 and beyond) are spatio-temporally
chaotic; the default ``length = 32 pi`` is the case of Kassam and Trefethen (2005).
The spatial mean of ``u`` is conserved exactly (the mode ``k = 0`` has no linear and
no nonlinear part); the initial conditions have mean zero.

Initial conditions: low-mode random waves
``u0 = amplitude / sqrt(max_mode) * sum_{m=1}^{max_mode} a_m cos(2 pi m x / length + phi_m)``
with ``a_m ~ N(0, 1)`` and ``phi_m ~ U(0, 2 pi)``, integrated for ``burn_in`` time
units that are discarded, so the stored samples lie on the attractor.

Solver: :func:`sciml.numerics.pde.solve_kuramoto_sivashinsky` (Fourier pseudo-spectral
with 2/3-rule dealiasing, ETDRK4 with the contour-integral coefficients of Kassam and
Trefethen (2005); the stiff linear part ``k^2 - k^4`` is integrated exactly).

References
----------
Kassam, A.-K. and Trefethen, L. N. (2005), "Fourth-order time-stepping for stiff
PDEs", SIAM J. Sci. Comput. 26(4), 1214-1233.

Cvitanovic, P., Davidchack, R. L. and Siminos, E. (2010), "On the state space geometry
of the Kuramoto-Sivashinsky flow in a periodic domain", SIAM J. Appl. Dyn. Syst. 9(1)
(``length = 22``, largest Lyapunov exponent about 0.043-0.048).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, resolve_device, run_fields, sample_generator
from sciml.data.schema import Provenance
from sciml.numerics.pde import KS_METHOD, solve_kuramoto_sivashinsky

__all__ = ["kuramoto_sivashinsky1d", "ks_initial_conditions", "default_ks_resolution"]


def default_ks_resolution(length: float) -> int:
    """Default grid: 256 points, or the next power of two with ``dx <= 0.4`` on long domains."""
    return max(256, 2 ** math.ceil(math.log2(length / 0.4)))


def _min_ks_resolution(length: float) -> int:
    # with 2/3 dealiasing the band reaches k_max = 2 pi (S / 3) / length; the attractor's
    # Fourier amplitudes have fallen to 6e-5 of their peak at k = 4 and 2e-6 at k = 5
    # (measured at length 22, 32 pi, 200): below k_max = 4, that is S < 1.9 length, the
    # truncation error passes 1e-4. The default dx <= 0.4 gives k_max >= 5.2.
    return 2 * math.ceil(length)


def ks_initial_conditions(
    first: int,
    count: int,
    resolution: int,
    *,
    seed: int = 0,
    length: float = 32 * math.pi,
    max_mode: int = 8,
    amplitude: float = 1.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Low-mode random waves for samples ``first .. first+count-1``, one CPU generator each.

    ``u0 = amplitude / sqrt(max_mode) * sum_{m=1}^{max_mode} a_m cos(2 pi m x / length + phi_m)``,
    ``a_m ~ N(0, 1)``, ``phi_m ~ U(0, 2 pi)``: smooth, mean zero.

    Returns
    -------
    Tensor ``[count, resolution]``, float64 on ``device``
    """
    x = torch.arange(resolution, dtype=torch.float64) * (length / resolution)
    m = torch.arange(1, max_mode + 1, dtype=torch.float64)[:, None]
    fields = []
    for index in range(first, first + count):
        generator = sample_generator(seed, index)
        a = torch.randn(max_mode, 1, generator=generator, dtype=torch.float64)
        phase = 2 * math.pi * torch.rand(max_mode, 1, generator=generator, dtype=torch.float64)
        fields.append((a * torch.cos(2 * math.pi * m * x / length + phase)).sum(0) * (amplitude / math.sqrt(max_mode)))
    return torch.stack(fields).to(device)


@GENERATORS.register("kuramoto_sivashinsky1d")
def kuramoto_sivashinsky1d(
    path,
    *,
    n: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 250,
    progress: bool = False,
    length: float = 32 * math.pi,
    resolution: int | None = None,
    n_times: int = 101,
    dt_output: float = 1.0,
    burn_in: float = 200.0,
    dt: float = 0.05,
    max_mode: int = 8,
    amplitude: float = 1.0,
) -> str:
    """Chaotic Kuramoto-Sivashinsky 1-D on its attractor: ``u [N, T, 1, S]``, ``a = u[:, 0]``.

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``fields``).
    n : int
        Number of samples N (independent trajectories).
    seed : int
        Seed of the initial conditions; sample ``i`` depends only on ``(seed, i)``.
    device : str
        Torch device of the integration ("cpu", "cuda", ...).
    batch_size : int
        Trajectories integrated together; memory grows linearly with it.
    progress : bool
        Show a tqdm progress bar over batches.
    length : float
        Period L of the domain. ``22`` is the smallest chaotic case studied in detail
        (largest Lyapunov exponent about 0.043); ``32 pi`` (default) and up to 200 give
        extensive chaos with more unstable modes.
    resolution : int, optional
        Grid points S (even, ``>= 2 * length``); default 256, or 512 and more on
        domains longer than 102.
    n_times, dt_output : int, float
        Stored times ``t = dt_output * (0, 1, ..., n_times - 1)``, counted from the end
        of the burn-in.
    burn_in : float
        Time integrated and discarded before ``t = 0``, so samples lie on the
        attractor; 200 is several hundred e-folding times of the fastest growing mode.
    dt : float
        Largest ETDRK4 step. Relative error after one time unit on the attractor:
        6e-7 at 0.05 (default), 5e-6 at 0.1, 8e-5 at 0.25 (the step of Kassam and
        Trefethen); chaos amplifies any error by ``exp(0.05 t)`` or so, so pick ``dt``
        for the statistics you need, not for long-time pointwise accuracy.
    max_mode, amplitude : int, float
        Initial waves: modes ``1..max_mode``, root-mean-square amplitude about
        ``amplitude / sqrt(2)``.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    s = default_ks_resolution(length) if resolution is None and length > 0 else resolution
    values = dict(
        n=n,
        batch_size=batch_size,
        length=length,
        resolution=s,
        n_times=n_times,
        dt_output=dt_output,
        burn_in=burn_in,
        dt=dt,
        max_mode=max_mode,
        amplitude=amplitude,
    )
    finite = all(math.isfinite(float(v)) for v in values.values() if v is not None)
    min_s = _min_ks_resolution(length) if finite and length > 0 else 16
    checks = {
        "n": (n >= 1, "must be >= 1"),
        "batch_size": (batch_size >= 1, "must be >= 1"),
        "length": (finite and length > 0, "must be a finite number > 0; try length=100.53 (32 pi)"),
        "resolution": (
            s is not None and s >= max(16, min_s) and s % 2 == 0,
            f"is too small or odd for length={length:.4g}: need an even resolution >= {max(16, min_s)} "
            f"(dx <= 0.5); try resolution={default_ks_resolution(length) if length > 0 and finite else 256}",
        ),
        "n_times": (n_times >= 1, "must be >= 1; try n_times=101"),
        "dt_output": (dt_output > 0, "must be > 0; try dt_output=1.0"),
        "burn_in": (burn_in >= 0, "must be >= 0; try burn_in=200"),
        "dt": (0 < dt <= 1.0, "must be in (0, 1]; try dt=0.05"),
        "max_mode": (
            1 <= max_mode < (s or 16) // 3,
            f"must be in 1..{(s or 16) // 3 - 1} (inside the dealiased band); try max_mode=8",
        ),
        "amplitude": (amplitude > 0, "must be > 0; try amplitude=1.0"),
    }
    check_parameters("kuramoto_sivashinsky1d", checks, values)
    torch_device = resolve_device("kuramoto_sivashinsky1d", device)
    t = dt_output * np.arange(n_times, dtype=np.float64)
    x = np.arange(s) * (length / s)
    params = {
        "length": length,
        "resolution": s,
        "n_times": n_times,
        "dt_output": dt_output,
        "burn_in": burn_in,
        "initial_condition": "low-mode random waves",
        "max_mode": max_mode,
        "amplitude": amplitude,
        "n": n,
    }
    solver = {
        "method": KS_METHOD,
        "dt": dt,
        "steps_per_output": math.ceil(dt_output / dt - 1e-9),
        "burn_in_steps": math.ceil(burn_in / dt - 1e-9),
        "resolution": s,
        "dtype": "float64",
    }
    provenance = Provenance("kuramoto_sivashinsky1d", params=params, seed=seed, solver=solver)

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
        u0 = ks_initial_conditions(
            start, count, s, seed=seed, length=length, max_mode=max_mode, amplitude=amplitude, device=torch_device
        )
        if burn_in > 0:
            u0 = solve_kuramoto_sivashinsky(u0, [burn_in], length=length, dt=dt, first_index=start)[:, 0]
        if n_times > 1:
            u = solve_kuramoto_sivashinsky(u0, t, length=length, dt=dt, first_index=start)
        else:
            u = u0[:, None]
        u = u[:, :, None].cpu().numpy().astype(np.float32)
        return {"u": u, "a": u[:, 0]}

    key = {"params": params, "seed": seed, "solver": solver, "device": str(torch_device)}
    return run_fields(
        path,
        generator="kuramoto_sivashinsky1d",
        n=n,
        u_shape=(n_times, 1, s),
        t=t,
        coords={"x": x},
        provenance=provenance,
        a_shape=(1, s),
        batch_size=batch_size,
        key=key,
        compute=compute,
        progress=progress,
    )
