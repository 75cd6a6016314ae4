"""The ETDRK4 driver of the semilinear solvers ``u_t = L u + N(u)`` (Burgers, KS, KdV,
reaction-diffusion): equal steps between output times, checks at every output, members
that fail leave the batch."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from sciml.core.errors import ShapeError
from sciml.numerics.pde._solution import (
    Members,
    PDESolution,
    blank_output,
    check_states,
    check_step,
    drop_non_finite_states,
    finish,
    output_times,
)
from sciml.numerics.spectral import etdrk4_coefficients, etdrk4_step

__all__ = ["integrate_semilinear", "SEMILINEAR_METHOD"]

SEMILINEAR_METHOD = "pseudo-spectral Fourier, ETDRK4 (Cox-Matthews, Kassam-Trefethen contour coefficients)"


def run_etdrk4(
    members: Members,
    u0: torch.Tensor,
    u_hat: torch.Tensor,
    from_hat: Callable[[torch.Tensor], torch.Tensor],
    linear_symbol: torch.Tensor,
    nonlinear_hat: Callable[[torch.Tensor], torch.Tensor],
    times: torch.Tensor,
    t0: float,
    max_step: float,
    bound: torch.Tensor,
    describe: Callable[[int, float, str], str],
    *,
    progress: bool = False,
    desc: str = "time",
) -> torch.Tensor:
    """ETDRK4 from ``t0`` through ``times`` for the members still in ``members``.

    ``u0 [B, *S]`` are the states of the whole batch at ``t0`` (copied to outputs at
    ``t0``); ``u_hat [b, M]`` the Fourier coefficients of the ``b`` running members (in
    the order of ``members.index``); ``from_hat`` maps coefficients to the output grid
    ``[b, *S]``; ``bound [B]`` the largest admissible ``|u|`` of each member. Each interval
    between output times is cut into equal steps no longer than ``max_step`` (the
    coefficients of each distinct step are computed once). At each output a member with
    non-finite values or values past its bound is failed with ``describe(sample, t,
    reason)`` and dropped. Returns ``[B, T, *S]``, NaN where a member did not arrive.
    """
    out = blank_output(u0.shape[0], len(times), u0.shape[1:], u0)
    cache: dict[float, object] = {}
    previous = t0
    iterator = range(len(times))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=desc, leave=False)
    for j in iterator:
        if members.count == 0:
            break
        rows = members.index
        t_next = float(times[j])
        n_steps = max(0, math.ceil((t_next - previous) / max_step - 1e-9))
        if n_steps == 0:
            out[rows, j] = u0[rows] if j == 0 else out[rows, j - 1]
            continue
        h = (t_next - previous) / n_steps
        key = round(h, 15)
        if key not in cache:
            cache[key] = etdrk4_coefficients(linear_symbol, h)
        for _ in range(n_steps):
            u_hat = etdrk4_step(u_hat, nonlinear_hat, cache[key])
        members.took_steps(n_steps, h)
        u = from_hat(u_hat)
        magnitude = u.abs().flatten(1)
        limit = bound[rows]
        bad = ~(magnitude <= limit[:, None]).all(dim=1)  # also catches NaN
        if bool(bad.any()):
            peak = magnitude.amax(dim=1)
            keep = members.drop(
                bad,
                lambda position, sample, peak=peak, limit=limit, time=t_next: describe(
                    sample, time, _blow_up_reason(float(peak[position]), float(limit[position]))
                ),
            )
            u_hat, u, rows = u_hat[keep], u[keep], members.index
        out[rows, j] = u
        previous = t_next
    return out


def _blow_up_reason(peak: float, limit: float) -> str:
    if not math.isfinite(peak):
        return "non-finite values"
    return f"max|u| = {peak:.3g} past the bound {limit:.3g}"


def run_periodic_etdrk4(
    members: Members,
    u0: torch.Tensor,
    keep: torch.Tensor,
    linear_symbol: torch.Tensor,
    nonlinear_hat: Callable[[torch.Tensor], torch.Tensor],
    times: torch.Tensor,
    start: int,
    dt: float,
    limits: torch.Tensor,
    describe: Callable[[int, float, str], str],
    *,
    method: str,
    progress: bool = False,
    desc: str = "time",
) -> torch.Tensor | PDESolution:
    """:func:`run_etdrk4` on real periodic states ``u0 [B, S]`` held on their own grid (rfft in,
    irfft out), then :func:`finish`: what the 1-D solvers without an internal grid share."""
    s = u0.shape[1]
    out = run_etdrk4(
        members,
        u0,
        torch.fft.rfft(u0[keep]),
        lambda v_hat: torch.fft.irfft(v_hat, n=s),
        linear_symbol,
        nonlinear_hat,
        times,
        start,
        float(dt),
        limits,
        describe,
        progress=progress,
        desc=desc,
    )
    return finish(members, out, times, method)


def integrate_semilinear(
    u0: torch.Tensor,
    t: float | Sequence[float] | torch.Tensor,
    linear_symbol: torch.Tensor,
    nonlinear_hat: Callable[[torch.Tensor], torch.Tensor],
    *,
    t0: float = 0.0,
    dt: float,
    bound: float | torch.Tensor = math.inf,
    on_failure: str = "raise",
    first_index: int = 0,
    progress: bool = False,
) -> torch.Tensor | PDESolution:
    """ETDRK4 integration of ``u_t = L u + N(u)`` on a periodic 1-D grid, from ``t0`` to the output times.

    Exponential time differencing, fourth order (Cox and Matthews 2002), with the
    phi-function coefficients evaluated by contour integrals (Kassam and Trefethen
    2005): the linear part ``L`` (diagonal in Fourier space) is integrated exactly, so
    the step is limited by ``N`` only. The solvers of Burgers, Kuramoto-Sivashinsky,
    KdV and reaction-diffusion are this driver with their symbols.

    Parameters
    ----------
    u0 : Tensor ``[B, S]``, real
        States at time ``t0`` at ``x_j = j * length / S``; the computation runs in their
        dtype (float64 recommended) and on their device.
    t : float, sequence of float or Tensor ``[T]``
        Non-decreasing output times ``>= t0``, the last one ``> t0``. Outputs at ``t0``
        are copies of ``u0``.
    linear_symbol : Tensor ``[S // 2 + 1]``, real or complex
        Fourier symbol of ``L`` in the ordering of :func:`torch.fft.rfft`.
    nonlinear_hat : callable
        ``N_hat = nonlinear_hat(v_hat)`` on coefficients ``[b, S // 2 + 1]``; must treat
        the rows independently (members that fail are removed from the rows it sees).
    t0 : float
        Time of ``u0``. The equation is autonomous: only differences of times matter.
    dt : float
        Largest step; each interval between output times is cut into equal steps no
        longer than ``dt``.
    bound : float or Tensor ``[B]``
        Largest admissible ``|u|`` (per member with a tensor); checked at every output.
    on_failure : {"raise", "report"}
        ``"raise"``: a :class:`DataError` naming the first member that becomes
        non-finite or passes its bound. ``"report"``: that member is dropped, the others
        go on (their results do not change: the step does not depend on the batch), and
        a :class:`PDESolution` names the failed ones.
    first_index : int
        Number of member 0 in messages (a generator passes its batch's first sample).
    progress : bool
        Show a tqdm bar over the output times.

    Returns
    -------
    Tensor ``[B, T, S]`` or PDESolution
        The solution at the output times (with ``on_failure="report"``, inside a
        :class:`PDESolution`).

    References
    ----------
    Cox, S. M. and Matthews, P. C. (2002), "Exponential time differencing for stiff
    systems", J. Comput. Phys. 176(2), 430-455. Kassam, A.-K. and Trefethen, L. N.
    (2005), "Fourth-order time-stepping for stiff PDEs", SIAM J. Sci. Comput. 26(4),
    1214-1233.
    """
    name = "integrate_semilinear"
    check_states(name, "u0", u0, shape="[B, S]", spatial_dims=1, min_points=2, even=False)
    times, start = output_times(name, t, t0)
    check_step(name, "dt", dt, "pass the largest time step", optional=False)
    batch, s = u0.shape
    if tuple(linear_symbol.shape) != (s // 2 + 1,):
        raise ShapeError(
            f"{name}: linear_symbol has shape {tuple(linear_symbol.shape)}, expected ({s // 2 + 1},) for S={s} "
            "points (the rfft ordering); build it from wavenumbers(S, length, real=True)"
        )
    limits = torch.as_tensor(bound, dtype=torch.float64).to(u0.device).expand(batch)
    members = Members(name, batch, u0.device, on_failure, first_index)
    keep = drop_non_finite_states(members, u0, "u0", start)

    def describe(sample: int, time: float, reason: str) -> str:
        return (
            f"{name}: integration blew up for sample {sample} at t={time:.4g} ({reason}; dt={float(dt):.3g}, "
            f"resolution={s}): lower dt or raise the resolution"
        )

    return run_periodic_etdrk4(
        members, u0, keep, linear_symbol.to(u0.device), nonlinear_hat, times, start, float(dt), limits, describe,
        method=SEMILINEAR_METHOD, progress=progress, desc=f"{name} time",
    )  # fmt: skip
