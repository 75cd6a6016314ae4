"""Linear systems ``dx/dt = A x`` with their exact solution: the ``linear_ode`` generator.

The one family of dynamics whose every Koopman quantity is known in closed form: the
discrete-time map over a step ``dt`` is ``expm(A dt)``, its eigenvalues are
``exp(lambda_j dt)`` for the eigenvalues ``lambda_j`` of ``A``, and trajectories are
``x(t) = expm(A t) x0``. Estimators (DMD, EDMD, ...) are checked against these.

``A`` is a user matrix (``matrix=[[...], ...]``) or drawn from ``matrix_seed``:
``A = Q B Q^T`` with ``Q`` a random orthogonal matrix (so the eigenvectors are orthonormal,
condition number 1) and ``B`` block diagonal:

``oscillatory``  ``dim // 2`` blocks ``[[s, w], [-w, s]]`` (eigenvalues ``s +- i w``) with
                 decay rates ``-s`` uniform in ``[decay_min, decay_max]`` and frequencies
                 ``w`` uniform in ``[freq_min, freq_max]``, plus one real eigenvalue
                 ``-U(decay_min, decay_max)`` when ``dim`` is odd;
``stable``       ``dim`` real eigenvalues ``-U(decay_min, decay_max)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.linalg import expm

from sciml.core.errors import ConfigError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, resolve_device, run_batches, sample_generator
from sciml.data.schema import Provenance, TrajectoriesWriter

__all__ = ["linear_ode", "random_linear_matrix", "SPECTRA"]

SPECTRA = ("oscillatory", "stable")


def random_linear_matrix(
    dim: int,
    spectrum: str = "oscillatory",
    seed: int = 0,
    *,
    decay_min: float = 0.05,
    decay_max: float = 0.5,
    freq_min: float = 0.5,
    freq_max: float = 2.0,
) -> np.ndarray:
    """A random real matrix ``A [dim, dim]`` with a prescribed stable spectrum (see the module docstring).

    >>> A = random_linear_matrix(3, "oscillatory", seed=1)
    >>> lam = np.linalg.eigvals(A)
    >>> bool(np.all(lam.real < 0)), int(np.sum(np.abs(lam.imag) > 0))
    (True, 2)
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x4C494E]))
    block = np.zeros((dim, dim))
    if spectrum == "oscillatory":
        for j in range(dim // 2):
            s = -rng.uniform(decay_min, decay_max)
            w = rng.uniform(freq_min, freq_max)
            block[2 * j : 2 * j + 2, 2 * j : 2 * j + 2] = [[s, w], [-w, s]]
        if dim % 2:
            block[-1, -1] = -rng.uniform(decay_min, decay_max)
    else:
        block[np.diag_indices(dim)] = -rng.uniform(decay_min, decay_max, size=dim)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)  # the Haar-distributed orthogonal factor
    return q @ block @ q.T


def _matrix_problem(matrix) -> str | None:
    try:
        a = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        return "must be a square nested list of numbers, e.g. [[0, 1], [-1, -0.1]]"
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        return f"has shape {a.shape}; must be a square nested list, e.g. [[0, 1], [-1, -0.1]]"
    if not np.all(np.isfinite(a)):
        return "holds non-finite entries; give finite numbers"
    return None


@GENERATORS.register("linear_ode")
def linear_ode(
    path,
    *,
    n: int = 64,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 256,
    progress: bool = False,
    matrix: list | None = None,
    dim: int | None = None,
    spectrum: str = "oscillatory",
    matrix_seed: int = 0,
    decay_min: float = 0.05,
    decay_max: float = 0.5,
    freq_min: float = 0.5,
    freq_max: float = 2.0,
    n_times: int = 101,
    dt: float = 0.1,
    x0_scale: float = 1.0,
) -> str:
    """Exact trajectories ``x(t_k) = expm(A t_k) x0`` of a linear ODE ``dx/dt = A x``.

    Writes ``x [N, n_times, D]`` (float64) at the shared times ``t_k = k dt`` and the
    attributes ``dt``, ``lyapunov_max`` (the largest real part of the eigenvalues of ``A``,
    exact for a linear system) and ``dominant_period`` (``2 pi / |w|`` of the
    slowest-decaying oscillatory eigenvalue, when there is one). The matrix is stored in
    ``params["matrix"]`` (nested list, exact float64 values).

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``trajectories``).
    n : int
        Number of trajectories N.
    seed : int
        Seed of the initial states; trajectory ``i`` depends only on ``(seed, i)``.
    device : str
        Checked like every generator's; the solution runs in numpy/scipy on the CPU.
    batch_size : int
        Trajectories written together (the result does not depend on it).
    progress : bool
        Show a tqdm progress bar over batches.
    matrix : nested list ``[D][D]``, optional
        The user's ``A``; when omitted, a random matrix from ``matrix_seed`` (module docstring).
    dim : int, optional
        D of the random matrix (default 3); with ``matrix``, it must equal ``len(matrix)`` if given.
    spectrum : {"oscillatory", "stable"}
        Kind of random matrix.
    matrix_seed : int
        Seed of the random matrix (separate from ``seed``: other initial states, same system).
    decay_min, decay_max, freq_min, freq_max : float
        Ranges of the random eigenvalues' decay rates ``-Re`` and frequencies ``|Im|``.
    n_times : int
        Samples per trajectory, ``t = 0`` included (>= 2).
    dt : float
        Time step between samples.
    x0_scale : float
        Initial states are ``x0_scale`` times standard normal vectors.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    problem = None if matrix is None else _matrix_problem(matrix)
    user_dim = None if matrix is None or problem else int(np.asarray(matrix).shape[0])
    size = (dim if dim is not None else 3) if matrix is None else (user_dim or 0)
    check_parameters(
        "linear_ode",
        {
            "n": (n >= 1, "must be >= 1"),
            "batch_size": (batch_size >= 1, "must be >= 1"),
            "matrix": (problem is None, problem or ""),
            "dim": (
                (dim is None or (isinstance(dim, int) and dim >= 1)) and (user_dim is None or dim in (None, user_dim)),
                "must be >= 1 and, with matrix=, equal its size (or be omitted)",
            ),
            "spectrum": (spectrum in SPECTRA, f"is unknown; use one of {', '.join(SPECTRA)}"),
            "decay_min": (0 < decay_min <= decay_max, "must be > 0 and <= decay_max; try decay_min=0.05"),
            "freq_min": (0 < freq_min <= freq_max, "must be > 0 and <= freq_max; try freq_min=0.5"),
            "n_times": (n_times >= 2, "must be >= 2 (a trajectory needs two samples)"),
            "dt": (math.isfinite(dt) and dt > 0, "must be a positive number; try dt=0.1"),
            "x0_scale": (math.isfinite(x0_scale) and x0_scale > 0, "must be a positive number; try x0_scale=1.0"),
        },
        {
            "n": n,
            "batch_size": batch_size,
            "matrix": matrix,
            "dim": dim,
            "spectrum": spectrum,
            "decay_min": decay_min,
            "freq_min": freq_min,
            "n_times": n_times,
            "dt": dt,
            "x0_scale": x0_scale,
        },
    )
    resolve_device("linear_ode", device)
    if matrix is None:
        a = random_linear_matrix(
            size, spectrum, matrix_seed, decay_min=decay_min, decay_max=decay_max, freq_min=freq_min, freq_max=freq_max
        )
    else:
        a = np.asarray(matrix, dtype=np.float64)
    times = np.arange(n_times, dtype=np.float64) * dt
    with np.errstate(over="ignore", invalid="ignore"):
        propagators = np.stack([expm(a * tk) for tk in times])  # [T, D, D]; expm(0) is the identity exactly
    finite = np.isfinite(propagators).reshape(n_times, -1).all(axis=1)
    if not finite.all():
        raise ConfigError(
            f"linear_ode: expm(A t) overflows float64 at t={times[np.argmin(finite)]:g}; the matrix grows too fast "
            "for n_times * dt: shorten the time span or give a stable matrix"
        )
    lam = np.linalg.eigvals(a)
    oscillatory = lam[np.abs(lam.imag) > 1e-12 * max(1.0, float(np.abs(lam).max()))]
    dominant = oscillatory[np.argmax(oscillatory.real)] if len(oscillatory) else None
    params = {
        "matrix": a.tolist(),
        "dim": size,
        "source": "user" if matrix is not None else f"random {spectrum}",
        "n": n,
        "n_times": n_times,
        "dt": dt,
        "x0_scale": x0_scale,
    }
    if matrix is None:
        params.update(
            spectrum=spectrum,
            matrix_seed=matrix_seed,
            decay_min=decay_min,
            decay_max=decay_max,
            freq_min=freq_min,
            freq_max=freq_max,
        )
    solver = {
        "method": "exact: x(t_k) = expm(A t_k) x0, scipy.linalg.expm (Pade scaling and squaring) per output time",
        "dtype": "float64",
    }
    provenance = Provenance("linear_ode", params=params, seed=seed, solver=solver)

    def compute(start: int, count: int) -> dict[str, np.ndarray]:
        batch = np.empty((count, n_times, size))
        for j, i in enumerate(range(start, start + count)):
            x0 = x0_scale * torch.randn(size, generator=sample_generator(seed, i), dtype=torch.float64).numpy()
            batch[j] = propagators @ x0  # the same arithmetic for sample i in any batch
        return {"x": batch}

    with TrajectoriesWriter(
        path,
        n,
        (n_times, size),
        times,
        provenance,
        system="linear_ode",
        dt=float(dt),
        lyapunov_max=float(lam.real.max()),
        dominant_period=None if dominant is None else float(2 * math.pi / abs(dominant.imag)),
    ) as writer:
        return run_batches(
            writer,
            path,
            generator="linear_ode",
            n=n,
            batch_size=batch_size,
            key={"params": params, "seed": seed, "solver": solver},
            compute=compute,
            progress=progress,
        )
