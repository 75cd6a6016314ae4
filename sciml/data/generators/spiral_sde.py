"""Sample paths of the stochastic spiral: the ``spiral_sde`` generator.

The ground truth of the neural-SDE task of the regularization benchmark (Pal et al., ICML
2021, "Opening the Blackbox", spiral SDE), an Ito SDE with diagonal noise::

    dy = p(y) A dt + g(y) dW,    A = [[-damping, rotation], [-rotation, -damping]],

with the row-vector state ``y = (y_1, y_2)``, ``p(y) = y**3`` (``drift="cubic"``, the
benchmark) or ``y`` (``"linear"``), and ``g(y) = sigma * y`` (``noise="multiplicative"``,
the benchmark) or ``sigma`` (``"additive"``). With the linear drift and additive noise it
is an Ornstein-Uhlenbeck process with closed-form moments: mean ``y0 expm(A t)`` and
covariance ``sigma**2 (1 - exp(-2 damping t)) / (2 damping) I`` (``A`` is a damped
rotation, ``expm(A^T s) expm(A s) = exp(-2 damping s) I``), which the tests compare with.

Paths are solved with ``torchsde.sdeint`` at the fixed step ``dt`` (Milstein, strong
order 1, or Euler-Maruyama, strong order 0.5). The Brownian motion of path ``i`` is a
sequence of ``N(0, dt)`` increments on the step grid drawn from its own random stream
seeded by ``(seed, i)``, and the drift is written componentwise, so a path does not
depend on the batch it is solved in, on ``batch_size`` or on the device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from sciml.core.errors import DataError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, resolve_device, run_batches, sample_generator
from sciml.data.schema import Provenance, TrajectoriesWriter

__all__ = ["spiral_sde", "SpiralSDE", "GridBrownian"]

DRIFTS = ("cubic", "linear")
NOISES = ("multiplicative", "additive")
METHODS = ("milstein", "euler")


class SpiralSDE(nn.Module):
    """torchsde's SDE object of the stochastic spiral (Ito, diagonal noise).

    Parameters
    ----------
    drift : {"cubic", "linear"}
    noise : {"multiplicative", "additive"}
    damping, rotation, sigma : float
        ``A = [[-damping, rotation], [-rotation, -damping]]``; noise intensity ``sigma``.
    """

    noise_type, sde_type = "diagonal", "ito"

    def __init__(
        self,
        drift: str = "cubic",
        noise: str = "multiplicative",
        damping: float = 0.1,
        rotation: float = 2.0,
        sigma: float = 0.2,
    ):
        super().__init__()
        self.drift, self.noise = drift, noise
        self.damping, self.rotation, self.sigma = float(damping), float(rotation), float(sigma)

    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = y**3 if self.drift == "cubic" else y
        # (p A) componentwise: batch-independent arithmetic (a matmul's blocking may vary with the batch)
        return torch.stack(
            [-self.damping * p[:, 0] - self.rotation * p[:, 1], self.rotation * p[:, 0] - self.damping * p[:, 1]], -1
        )

    def g(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.noise == "multiplicative":
            return self.sigma * y
        return 0.0 * y + self.sigma  # in the graph of y: torchsde's Milstein differentiates g


class GridBrownian:
    """A Brownian motion given by its increments on the grid ``t0 + k dt``, in torchsde's interface.

    ``bm(ta, tb)`` returns ``W(tb) - W(ta)`` ``[batch, dim]`` for grid times ``ta, tb`` (a
    fixed-step ``torchsde.sdeint`` with the same ``dt`` queries only those); other times
    are refused, as is the Levy area (methods that need it: ``srk``). torchsde accepts any
    object with this interface (it reads ``shape`` and ``levy_area_approximation``).

    Parameters
    ----------
    increments : Tensor ``[n_steps, batch, dim]``
        ``W(t0 + (k+1) dt) - W(t0 + k dt)``, ``N(0, dt)`` entries.
    t0, dt : float
    """

    levy_area_approximation = "none"

    def __init__(self, increments: torch.Tensor, t0: float, dt: float):
        zero = torch.zeros_like(increments[:1])
        self.w = torch.cat([zero, increments.cumsum(0)])  # [n_steps + 1, batch, dim]
        self.t0, self.dt = float(t0), float(dt)

    @property
    def shape(self) -> torch.Size:
        return self.w.shape[1:]

    @property
    def dtype(self) -> torch.dtype:
        return self.w.dtype

    @property
    def device(self) -> torch.device:
        return self.w.device

    def size(self) -> torch.Size:
        return self.shape

    def _index(self, t: torch.Tensor | float) -> int:
        k = (float(t) - self.t0) / self.dt
        i = round(k)
        if abs(k - i) > 1e-6 or not 0 <= i < self.w.shape[0]:
            raise DataError(
                f"GridBrownian queried at t={float(t):.9g}, off its grid t0 + k*{self.dt:g} (k = 0..{self.w.shape[0] - 1}); "
                "solve with a fixed step equal to the grid's dt"
            )
        return i

    def __call__(self, ta, tb=None, return_U: bool = False, return_A: bool = False) -> torch.Tensor:
        if return_U or return_A:
            raise DataError("GridBrownian has no space-time Levy area; use method 'milstein' or 'euler'")
        if tb is None:
            return self.w[self._index(ta)]
        return self.w[self._index(tb)] - self.w[self._index(ta)]

    def __repr__(self) -> str:
        return f"GridBrownian(t0={self.t0:g}, dt={self.dt:g}, n_steps={self.w.shape[0] - 1}, shape={tuple(self.shape)})"


def _check_config(**v) -> None:
    steps = v["t_final"] / v["dt"] if v["dt"] > 0 else float("nan")
    n_steps = int(round(steps)) if math.isfinite(steps) else 0
    checks = {
        "n": (v["n"] >= 2, "must be >= 2 (moments need several paths); try n=1024"),
        "batch_size": (v["batch_size"] >= 1, "must be >= 1"),
        "drift": (v["drift"] in DRIFTS, f"is unknown; use one of {', '.join(DRIFTS)}"),
        "noise": (v["noise"] in NOISES, f"is unknown; use one of {', '.join(NOISES)}"),
        "method": (v["method"] in METHODS, f"is unknown; use one of {', '.join(METHODS)}"),
        "t_final": (v["t_final"] > 0, "must be > 0; try t_final=2.0"),
        "dt": (
            v["dt"] > 0 and abs(steps - n_steps) < 1e-9 * max(1.0, steps),
            "must be > 0 and divide t_final into whole steps; try dt=0.002",
        ),
        "n_times": (
            v["n_times"] >= 2 and n_steps % (v["n_times"] - 1) == 0,
            f"must be >= 2 with n_times - 1 dividing the {n_steps} steps, so outputs fall on steps; try n_times=21",
        ),
        "y0": (len(v["y0"]) == 2 and all(math.isfinite(float(c)) for c in v["y0"]), "must be two finite numbers"),
        "damping": (math.isfinite(v["damping"]), "must be a finite number; try damping=0.1"),
        "rotation": (math.isfinite(v["rotation"]), "must be a finite number; try rotation=2.0"),
        "sigma": (v["sigma"] >= 0, "must be >= 0; try sigma=0.2"),
    }
    check_parameters("spiral_sde", checks, v)


@GENERATORS.register("spiral_sde")
def spiral_sde(
    path,
    *,
    n: int = 1024,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 1024,
    progress: bool = False,
    t_final: float = 2.0,
    n_times: int = 21,
    dt: float = 2e-3,
    method: str = "milstein",
    y0: Sequence[float] = (1.2, 0.0),
    drift: str = "cubic",
    noise: str = "multiplicative",
    damping: float = 0.1,
    rotation: float = 2.0,
    sigma: float = 0.2,
) -> str:
    """Sample paths of the stochastic spiral from one initial state: ``x [N, n_times, 2]`` at shared ``t``.

    The defaults are the benchmark's ground truth: ``dy = (y**3) A dt + 0.2 y dW`` from
    ``y0 = (1.2, 0)``, Milstein at ``dt = 2e-3``, observed at ``linspace(0, 2, 21)``.

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``trajectories``, ``x`` float64, ``t [n_times]``).
    n : int
        Number of paths N (>= 2); the Monte Carlo error of a moment falls as ``1/sqrt(N)``.
    seed : int
        Seed; path ``i`` depends only on ``(seed, i)``.
    device : str
        Torch device of the solve.
    batch_size : int
        Paths solved together (the increments of a batch take ``8 * 2 * n_steps`` bytes per path).
    progress : bool
        Show a tqdm progress bar over batches.
    t_final, n_times : float, int
        Output times ``linspace(0, t_final, n_times)``; ``n_times - 1`` must divide the
        number of steps.
    dt : float
        Solver step; must divide ``t_final``. 2e-3 keeps the weak error of the moments
        (order ``dt``) below the Monte Carlo error of 10^4 paths.
    method : {"milstein", "euler"}
        torchsde's Ito Milstein (strong order 1.0) or Euler-Maruyama (0.5).
    y0 : (float, float)
        Initial state of every path.
    drift : {"cubic", "linear"}
        ``(y**3) A`` or ``y A``.
    noise : {"multiplicative", "additive"}
        ``sigma * y`` or ``sigma`` (diagonal).
    damping, rotation, sigma : float
        ``A = [[-damping, rotation], [-rotation, -damping]]`` and the noise intensity.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    y0 = tuple(float(c) for c in y0) if isinstance(y0, (list, tuple)) else y0
    _check_config(
        n=n,
        batch_size=batch_size,
        drift=drift,
        noise=noise,
        method=method,
        t_final=t_final,
        dt=dt,
        n_times=n_times,
        y0=y0,
        damping=damping,
        rotation=rotation,
        sigma=sigma,
    )
    import torchsde

    torch_device = resolve_device("spiral_sde", device)
    n_steps = int(round(t_final / dt))
    times = np.linspace(0.0, t_final, n_times)
    ts = torch.tensor(times, dtype=torch.float64, device=torch_device)
    system = SpiralSDE(drift, noise, damping, rotation, sigma)
    params = {
        "n": n,
        "t_final": t_final,
        "n_times": n_times,
        "y0": list(y0),
        "drift": drift,
        "noise": noise,
        "damping": damping,
        "rotation": rotation,
        "sigma": sigma,
    }
    solver = {
        "method": f"torchsde {method} (Ito, diagonal noise), fixed step",
        "dt": dt,
        "n_steps": n_steps,
        "brownian": "per-path N(0, dt) increments on the step grid, stream (seed, i)",
        "torchsde_version": torchsde.__version__ if hasattr(torchsde, "__version__") else None,
        "dtype": "float64",
    }
    provenance = Provenance("spiral_sde", params=params, seed=seed, solver=solver)
    scale = math.sqrt(dt)

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
        increments = (
            torch.stack(
                [
                    torch.randn(n_steps, 2, generator=sample_generator(seed, i), dtype=torch.float64)
                    for i in range(start, start + count)
                ],
                dim=1,
            ).to(torch_device)
            * scale
        )  # [n_steps, count, 2]
        bm = GridBrownian(increments, 0.0, dt)
        y_start = torch.tensor([y0], dtype=torch.float64, device=torch_device).expand(count, 2).contiguous()
        with torch.no_grad():
            ys = torchsde.sdeint(system, y_start, ts, bm=bm, method=method, dt=dt)  # [n_times, count, 2]
        x = ys.transpose(0, 1).cpu().numpy()
        if not np.all(np.isfinite(x)):
            bad = start + int(np.flatnonzero(~np.isfinite(x).all(axis=(1, 2)))[0])
            raise DataError(f"spiral_sde: path {bad} blew up (non-finite); lower dt, sigma or |y0|")
        return {"x": x}

    with TrajectoriesWriter(
        path, n, (n_times, 2), times, provenance, system=f"spiral_sde ({drift}, {noise})", dt=float(times[1] - times[0])
    ) as writer:
        return run_batches(
            writer,
            path,
            generator="spiral_sde",
            n=n,
            batch_size=batch_size,
            key={"params": params, "seed": seed, "solver": solver, "device": str(torch_device)},
            compute=compute,
            progress=progress,
        )
