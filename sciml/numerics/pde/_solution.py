"""What every solver of :mod:`sciml.numerics.pde` shares: the result type, the input checks and
the bookkeeping of the members that still run."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from sciml.core.errors import ConfigError, DataError, ShapeError

__all__ = ["ON_FAILURE", "PDESolution", "PDEStats"]

ON_FAILURE = ("raise", "report")


@dataclass(frozen=True)
class PDEStats:
    """Step statistics of one solver call, one entry per member of the batch.

    Attributes
    ----------
    method : str
        The method, e.g. ``"ETDRK4 (Cox-Matthews), Fourier pseudo-spectral, 2/3 dealiasing"``.
    steps : Tensor ``[B]``, int64
        Time steps each member took (until its failure, for a failed one); 0 for the
        exact and the steady solvers.
    dt_min, dt_max : Tensor ``[B]``, float64
        Smallest and largest step each member took; NaN where it took none.
    """

    method: str
    steps: torch.Tensor
    dt_min: torch.Tensor
    dt_max: torch.Tensor


@dataclass(frozen=True)
class PDESolution:
    """What a solver returns with ``on_failure="report"``: every member's solution, and which failed.

    A member that fails (non-finite values, values past the solver's bound, a step the
    solver refuses) is dropped from the batch at that point and the others go on: their
    results are those of a run without it (see each solver for how the step is chosen).

    Attributes
    ----------
    u : Tensor ``[B, T, *S]`` (``[B, *S]`` for the steady Darcy problem)
        Solution at the output times ``t``. A failed member holds NaN from the first
        output it did not reach.
    t : Tensor ``[T]``, float64
        Output times (empty for the steady Darcy problem).
    failed : Tensor ``[B]``, bool
        True for the members that failed.
    messages : dict of int to str
        For each failed member (its index in the batch), a one-line reason naming the time
        and the setting to change.
    stats : PDEStats
        Steps taken per member.
    """

    u: torch.Tensor
    t: torch.Tensor
    failed: torch.Tensor
    messages: dict[int, str]
    stats: PDEStats

    @property
    def ok(self) -> torch.Tensor:
        """``~failed``: the members whose solution is complete, ``[B]`` bool."""
        return ~self.failed

    def raise_if_failed(self) -> None:
        """Raise the :class:`DataError` of the first failed member (what ``on_failure="raise"`` does)."""
        if self.messages:
            raise DataError(self.messages[min(self.messages)])


def check_on_failure(name: str, on_failure: str) -> None:
    if on_failure not in ON_FAILURE:
        raise ConfigError(
            f"{name}: on_failure={on_failure!r} is not one of {', '.join(ON_FAILURE)}; use 'report' to get a "
            "PDESolution with the failed members named, 'raise' for one error"
        )


def check_states(
    name: str,
    argument: str,
    u0: object,
    *,
    shape: str,
    spatial_dims: int,
    min_points: int,
    even: bool = True,
    square: bool = False,
) -> torch.Tensor:
    """``u0`` if it is a real floating tensor ``[B, *S]`` the solver can take; else a one-line error."""
    if not isinstance(u0, torch.Tensor):
        raise ConfigError(
            f"{name}: {argument} must be a torch.Tensor {shape}, got {type(u0).__name__}; "
            f"pass torch.as_tensor({argument}, dtype=torch.float64)"
        )
    if u0.is_complex() or not u0.is_floating_point():
        raise ConfigError(
            f"{name}: {argument} has dtype {u0.dtype}; pass real values, {argument}.to(torch.float64) (recommended)"
        )
    if u0.ndim != spatial_dims + 1:
        fix = f"for one state pass {argument}[None]" if u0.ndim == spatial_dims else f"pass states of shape {shape}"
        raise ShapeError(
            f"{name}: {argument} must have shape {shape} (a batch of states), got {tuple(u0.shape)}; {fix}"
        )
    if u0.shape[0] < 1:
        raise ShapeError(f"{name}: {argument} has shape {tuple(u0.shape)}, an empty batch; pass at least one state")
    points = u0.shape[1:]
    if square and len(set(points)) != 1:
        raise ShapeError(f"{name}: {argument} must have shape {shape} (a square grid), got {tuple(u0.shape)}")
    for s in points:
        if s < min_points or (even and s % 2):
            need = f"an even number of points >= {min_points}" if even else f">= {min_points} points"
            raise ShapeError(
                f"{name}: {argument} has shape {tuple(u0.shape)}: the grid needs {need} per axis; "
                "resample the states to such a grid"
            )
    return u0


def check_step(name: str, argument: str, value: float | None, fix: str, *, optional: bool = True) -> None:
    """A step (or any length of time) must be a finite number > 0 (or None where optional)."""
    if value is None and optional:
        return
    try:
        ok = value is not None and math.isfinite(float(value)) and float(value) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"{name}: {argument}={value!r} must be a finite number > 0; {fix}")


def output_times(name: str, t: float | Sequence[float] | torch.Tensor, t0: float) -> tuple[torch.Tensor, float]:
    """Output times as float64 ``[T]`` on the CPU, and ``t0`` as a float, after the checks of every solver."""
    try:
        start = float(t0)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: t0={t0!r} must be a number (the time of the states)") from None
    if not math.isfinite(start):
        raise ConfigError(f"{name}: t0={t0!r} must be finite (the time of the states)")
    if isinstance(t, torch.Tensor):
        times = t.detach().to("cpu", torch.float64).reshape(-1)
    else:
        try:
            times = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
        except (TypeError, ValueError, RuntimeError):
            raise ConfigError(f"{name}: t={t!r} must be a number or a sequence of output times") from None
    if len(times) == 0:
        raise ConfigError(f"{name}: t is empty; pass the output times, e.g. t=[t0 + 1.0]")
    if not bool(torch.isfinite(times).all()):
        raise ConfigError(f"{name}: the output times t must be finite, got {_show(times)}")
    if bool((times.diff() < 0).any()):
        raise ConfigError(f"{name}: the output times t must be non-decreasing, got {_show(times)}; sort them")
    if float(times[0]) < start:
        raise ConfigError(
            f"{name}: the output times t start at {float(times[0])!r}, before t0={start!r}; "
            "pass times >= t0 (the time of the states u0)"
        )
    if not float(times[-1]) > start:
        raise ConfigError(
            f"{name}: the time span t[-1] - t0 = {float(times[-1]) - start!r} is not positive; "
            f"pass output times that end after t0={start!r}"
        )
    return times, start


def _show(times: torch.Tensor) -> str:
    values = times.tolist()
    return str(values) if len(values) <= 6 else f"[{values[0]}, {values[1]}, ..., {values[-1]}] ({len(values)} times)"


class Members:
    """The active set of a batch: which members still run, and why the others stopped.

    ``index`` holds the batch indices of the running members in their order in the
    solver's working arrays; :meth:`drop` removes members from it, so the working arrays
    are indexed with the returned mask and the others' arithmetic does not change.
    """

    def __init__(self, name: str, batch: int, device: torch.device, on_failure: str, first_index: int):
        check_on_failure(name, on_failure)
        self.name = name
        self.on_failure = on_failure
        self.first_index = int(first_index)
        self.index = torch.arange(batch, device=device)
        self.failed = torch.zeros(batch, dtype=torch.bool)
        self.messages: dict[int, str] = {}
        self.steps = torch.zeros(batch, dtype=torch.int64)
        self.dt_min = torch.full((batch,), math.inf, dtype=torch.float64)
        self.dt_max = torch.full((batch,), -math.inf, dtype=torch.float64)

    @property
    def count(self) -> int:
        return len(self.index)

    def sample(self, position: int) -> int:
        """Number of the member at ``position`` of the working arrays as messages show it."""
        return self.first_index + int(self.index[position])

    def drop(self, bad: torch.Tensor, describe: Callable[[int, int], str]) -> torch.Tensor:
        """Fail the members where ``bad`` (``[n_active]`` bool) holds; returns the mask of those kept.

        ``describe(position, sample)`` gives the one-line reason of the member at that
        position of the working arrays. With ``on_failure="raise"`` the first one raises.
        """
        bad = bad.to("cpu")
        for position in torch.nonzero(bad).flatten().tolist():
            message = describe(position, self.sample(position))
            if self.on_failure == "raise":
                raise DataError(message)
            member = int(self.index[position])
            self.failed[member] = True
            self.messages[member] = message
        keep = ~bad
        self.index = self.index[keep.to(self.index.device)]
        return keep.to(self.index.device)

    def took_steps(self, n_steps: int | torch.Tensor, h: float | torch.Tensor) -> None:
        """Record ``n_steps`` steps of size ``h`` (numbers, or tensors over the active members)."""
        members = self.index.to("cpu")
        n = torch.as_tensor(n_steps, dtype=torch.int64).to("cpu").expand(len(members))
        size = torch.as_tensor(h, dtype=torch.float64).to("cpu").expand(len(members))
        took = n > 0
        if not bool(took.any()):
            return
        members, n, size = members[took], n[took], size[took]
        self.steps[members] += n
        self.dt_min[members] = torch.minimum(self.dt_min[members], size)
        self.dt_max[members] = torch.maximum(self.dt_max[members], size)

    def result(self, u: torch.Tensor, t: torch.Tensor, method: str) -> PDESolution:
        took = self.steps > 0
        nan = torch.full_like(self.dt_min, math.nan)
        stats = PDEStats(
            method=method,
            steps=self.steps.clone(),
            dt_min=torch.where(took, self.dt_min, nan),
            dt_max=torch.where(took, self.dt_max, nan),
        )
        return PDESolution(u=u, t=t, failed=self.failed.clone(), messages=dict(self.messages), stats=stats)


def finish(members: Members, u: torch.Tensor, t: torch.Tensor, method: str) -> torch.Tensor | PDESolution:
    """The solver's return value: ``u`` with ``on_failure="raise"`` (nothing failed), else a PDESolution."""
    if members.on_failure == "raise":
        return u
    return members.result(u, t, method)


def drop_non_finite_states(members: Members, u0: torch.Tensor, argument: str, t0: float) -> torch.Tensor:
    """Fail the members whose initial state holds NaN or inf; returns the mask of those kept."""
    bad = ~torch.isfinite(u0.flatten(1)).all(dim=1)
    if not bool(bad.any()):
        return torch.ones(len(bad), dtype=torch.bool, device=u0.device)
    return members.drop(
        bad,
        lambda position, sample: (
            f"{members.name}: sample {sample} has non-finite values in its initial state {argument} at t0={t0:.6g}; "
            "replace that state or leave the member out"
        ),
    )


def blank_output(batch: int, n_times: int, shape: Sequence[int], like: torch.Tensor) -> torch.Tensor:
    """``[B, T, *S]`` of NaN in the dtype and on the device of ``like``."""
    return torch.full((batch, n_times, *shape), math.nan, dtype=like.dtype, device=like.device)
