"""The Kuramoto-Sivashinsky equation ``u_t + u u_x + u_xx + u_xxxx = 0`` on a periodic interval."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from sciml.core.errors import ConfigError
from sciml.numerics.pde._semilinear import SEMILINEAR_METHOD, run_periodic_etdrk4
from sciml.numerics.pde._solution import (
    Members,
    PDESolution,
    check_states,
    check_step,
    drop_non_finite_states,
    output_times,
)
from sciml.numerics.spectral import dealias_mask, wavenumbers

__all__ = ["solve_kuramoto_sivashinsky", "KS_METHOD"]

# |u| on the KS attractor stays below about 4 whatever the length; far past that the
# integration has become unstable
KS_BOUND = 100.0
KS_METHOD = SEMILINEAR_METHOD + ", 2/3 dealiasing"


def solve_kuramoto_sivashinsky(
    u0: torch.Tensor,
    t: float | Sequence[float] | torch.Tensor,
    *,
    t0: float = 0.0,
    length: float = 32 * math.pi,
    dt: float = 0.05,
    bound: float = KS_BOUND,
    on_failure: str = "raise",
    first_index: int = 0,
    progress: bool = False,
) -> torch.Tensor | PDESolution:
    """Solve periodic ``u_t + u u_x + u_xx + u_xxxx = 0`` from a batch of states.

    Pseudo-spectral on the grid of ``u0`` with 2/3-rule dealiasing of ``(u^2)_x``;
    ETDRK4 steps (fourth order; Cox and Matthews 2002) with the contour-integral
    coefficients of Kassam and Trefethen (2005), the stiff linear part ``k^2 - k^4``
    integrated exactly. Verified by a fitted order of 4, exact conservation of the mean
    and the largest Lyapunov exponent at ``length = 22`` (0.048, literature 0.043-0.048).

    Parameters
    ----------
    u0 : Tensor ``[B, S]``
        States at time ``t0`` at ``x_j = j * length / S``; ``S`` even, ``>= 4`` (the
        attractor needs ``S >= 2 length``). The computation runs in the dtype (float64
        recommended) and on the device of ``u0``.
    t : float, sequence of float or Tensor ``[T]``
        Non-decreasing output times ``>= t0``, the last one ``> t0``: an ensemble filter
        steps from ``t0=5.0`` to ``t=6.0``.
    t0 : float
        Time of ``u0`` (the equation is autonomous: only ``t - t0`` matters).
    length : float
        Period of the domain.
    dt : float
        Largest time step; each interval between output times is cut into equal steps
        no longer than ``dt``, the same for every member (so the members are
        independent of each other). On the attractor the relative error after one time
        unit is 6e-7 at 0.05, 5e-6 at 0.1 and 8e-5 at 0.25; on smooth solutions it
        scales as ``dt^4``.
    bound : float
        A member whose ``|u|`` passes this value (or turns non-finite) at an output time
        has blown up; ``|u|`` stays below about 4 on the attractor.
    on_failure : {"raise", "report"}
        ``"raise"``: a one-line :class:`DataError` naming the first member that blew up
        (or had a non-finite state at ``t0``). ``"report"``: that member is dropped, the
        others go on unchanged, and a :class:`PDESolution` names it.
    first_index : int
        Number of member 0 in messages (a generator passes its batch's first sample).
    progress : bool
        Show a tqdm bar over the output times.

    Returns
    -------
    Tensor ``[B, T, S]`` or PDESolution
        The solution at the output times (inside a :class:`PDESolution` with
        ``on_failure="report"``).
    """
    name = "solve_kuramoto_sivashinsky"
    check_states(name, "u0", u0, shape="[B, S]", spatial_dims=1, min_points=4)
    times, start = output_times(name, t, t0)
    if not (math.isfinite(length) and length > 0):
        raise ConfigError(f"{name}: length={length!r} must be > 0 (the period); try length={32 * math.pi:.6g} (32 pi)")
    check_step(name, "dt", dt, "try dt=0.05", optional=False)
    check_step(name, "bound", bound, f"try bound={KS_BOUND}", optional=False)
    batch, s = u0.shape
    members = Members(name, batch, u0.device, on_failure, first_index)
    keep = drop_non_finite_states(members, u0, "u0", start)

    k = wavenumbers(s, length, real=True, dtype=u0.dtype, device=u0.device)
    linear_symbol = k**2 - k**4
    # N(u) = -(u^2 / 2)_x, modes outside the 2/3 band never fed
    nonlinear_symbol = -0.5j * k * dealias_mask(s, real=True, device=u0.device)

    def nonlinear_hat(v_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft(torch.fft.irfft(v_hat, n=s).square_()).mul_(nonlinear_symbol)

    def describe(sample: int, time: float, reason: str) -> str:
        return (
            f"{name}: Kuramoto-Sivashinsky integration blew up for sample {sample} at t={time:.4g} ({reason}; "
            f"dt={dt:.3g}, resolution={s}, length={length:.4g}): lower dt or raise resolution"
        )

    return run_periodic_etdrk4(
        members, u0, keep, linear_symbol, nonlinear_hat, times, start, float(dt), torch.full((batch,), float(bound), dtype=u0.dtype, device=u0.device), describe,
        method=KS_METHOD, progress=progress, desc="kuramoto_sivashinsky time",
    )  # fmt: skip
