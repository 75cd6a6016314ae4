"""Batched Jacobians of the catalogue's flows: dysts' hand-written ones, or central differences.

60 of the 129 flows define an analytic Jacobian in dysts (``_jac``). :func:`batched_jacobian`
evaluates it on a whole batch by passing ``[B]`` arrays (as :func:`~sciml.systems.batched_rhs`
does for the rhs) and accepts that only where it equals dysts' ``jac`` called per sample on
a probe batch; otherwise the per-sample loop runs. The other flows get central finite
differences of the batched rhs (``kind = "finite differences"``), with the step
``eps^(1/3) max(|y_j|, 1)`` that balances the truncation error ``O(h^2)`` against the
rounding error ``O(eps / h)``: about 1e-10 relative for smooth right-hand sides.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sciml.systems._catalogue import load_system
from sciml.systems._rhs import _PROBE_SAMPLES, BatchedRHS, batched_rhs

__all__ = ["BatchedJacobian", "batched_jacobian", "FD_STEP"]

FD_STEP = float(np.finfo(np.float64).eps ** (1.0 / 3.0))
"""Relative step of the central differences, ``eps^(1/3)`` (about 6.1e-6)."""


@dataclass(frozen=True)
class BatchedJacobian:
    """The Jacobian ``df/dy`` of a flow on a batch: ``J(t [B], y [B, D]) -> [B, D, D]`` (numpy float64).

    ``J[b, i, j] = d f_i / d y_j`` at ``(t[b], y[b])``.

    Attributes
    ----------
    name : str
    dimension : int
    kind : {"analytic", "finite differences"}
        dysts' hand-written Jacobian, or central differences of the batched rhs.
    path : {"vectorized", "per-sample"}
        For ``analytic``: one call on whole-batch arrays, or dysts' ``jac`` in a loop.
        Finite differences are always vectorized (``2 D`` batched rhs calls).
    reason : str
        Why the per-sample loop was chosen ("" when vectorized).
    rhs : BatchedRHS
        The right-hand side (used by :meth:`jvp` for finite differences).
    """

    name: str
    dimension: int
    kind: str
    path: str
    reason: str
    rhs: BatchedRHS
    _fn: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def __call__(self, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._fn(t, y)

    def jvp(self, t: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The products ``J(t, y) v`` per row, ``[B, D]``.

        Analytic: ``einsum`` with the Jacobian. Finite differences: one directional
        central difference ``(f(y + d v) - f(y - d v)) / (2 d)`` (2 rhs calls instead of
        ``2 D``), ``d = eps^(1/3) max(rms(y), 1) / rms(v)``.
        """
        if self.kind == "analytic":
            return np.einsum("bij,bj->bi", self._fn(t, y), v)
        size = np.sqrt(np.mean(np.square(v), axis=1))
        d = FD_STEP * np.maximum(np.sqrt(np.mean(np.square(y), axis=1)), 1.0) / np.where(size > 0, size, 1.0)
        dcol = d[:, None]
        return (self.rhs(t, y + dcol * v) - self.rhs(t, y - dcol * v)) / (2 * dcol)


def _finite_differences(rhs: BatchedRHS) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def jac(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        batch, dim = y.shape
        out = np.empty((batch, dim, dim))
        step = FD_STEP * np.maximum(np.abs(y), 1.0)  # [B, D]
        for j in range(dim):
            plus, minus = y.copy(), y.copy()
            plus[:, j] += step[:, j]
            minus[:, j] -= step[:, j]
            # the step actually taken (y + h - y is h rounded)
            taken = plus[:, j] - minus[:, j]
            out[:, :, j] = (rhs(t, plus) - rhs(t, minus)) / taken[:, None]
        return out

    return jac


def _fill(rows, batch: int, dim: int) -> np.ndarray:
    """dysts' nested rows (entries: ``[B]`` arrays or scalars) as one ``[B, D, D]`` array."""
    out = np.empty((batch, dim, dim))
    if len(rows) != dim:
        raise ValueError(f"jac returned {len(rows)} rows, expected {dim}")
    for i, row in enumerate(rows):
        if len(row) != dim:
            raise ValueError(f"jac row {i} has {len(row)} entries, expected {dim}")
        for j, entry in enumerate(row):
            out[:, i, j] = entry  # numpy broadcasts a scalar entry over the batch
    return out


def batched_jacobian(system, *, force_loop: bool = False, finite_differences: bool = False) -> BatchedJacobian:
    """The Jacobian of a flow on batches: dysts' analytic one where it has one, else central differences.

    The analytic candidate is dysts' ``_jac`` called on ``[B]`` arrays (entries that are
    scalars, such as constant partial derivatives, are broadcast); it is accepted only if
    it equals dysts' ``jac`` called per sample to 1e-12 relative on a probe batch of
    perturbed catalogue states, else the per-sample loop is used.

    Parameters
    ----------
    system : dysts.base.DynSys or str
        A flow (not a delay equation) or its name.
    force_loop : bool
        Analytic Jacobians only: use the per-sample loop regardless (for testing).
    finite_differences : bool
        Use central differences even where dysts has an analytic Jacobian (for testing).

    Returns
    -------
    BatchedJacobian

    >>> jac = batched_jacobian("Lorenz")
    >>> jac.kind, jac(np.zeros(1), np.array([[1.0, 2.0, 3.0]]))[0, 0].tolist()
    ('analytic', [-10.0, 10.0, 0.0])
    """
    if isinstance(system, str):
        system = load_system(system)
    rhs = batched_rhs(system)
    name, dim = rhs.name, rhs.dimension
    if finite_differences or not system.has_jacobian():
        reason = "forced" if finite_differences and system.has_jacobian() else ""
        return BatchedJacobian(name, dim, "finite differences", "vectorized", reason, rhs, _finite_differences(rhs))
    params = list(system.param_list)

    def loop(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.empty((y.shape[0], dim, dim))
        for b in range(y.shape[0]):
            out[b] = np.asarray(system.jac(y[b], float(t[b])), dtype=np.float64).reshape(dim, dim)
        return out

    def vectorized(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        # the plain Python body: with numba installed dysts jit-compiles it for scalars only
        return _fill(getattr(system._jac, "py_func", system._jac)(*y.T, t, *params), y.shape[0], dim)

    if force_loop:
        return BatchedJacobian(name, dim, "analytic", "per-sample", "forced", rhs, loop)
    rng = np.random.default_rng(12345)
    ic = np.asarray(system.ic, dtype=np.float64).reshape(-1)
    scale = np.maximum(np.abs(ic), 1e-3)
    probe = ic[None, :] + 1e-2 * scale[None, :] * rng.standard_normal((_PROBE_SAMPLES, dim))
    t_probe = rng.uniform(0.0, 1.0, _PROBE_SAMPLES)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = loop(t_probe, probe)
        try:
            candidate = vectorized(t_probe, probe)
            reason = ""
            if not np.allclose(candidate, reference, rtol=1e-12, atol=1e-12 * float(np.abs(reference).max() + 1e-300)):
                reason = "vectorized result differs from the per-sample loop"
        except Exception as exc:  # noqa: BLE001 - any failure of the candidate means: do not use it
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
    if reason:
        return BatchedJacobian(name, dim, "analytic", "per-sample", reason, rhs, loop)
    return BatchedJacobian(name, dim, "analytic", "vectorized", "", rhs, vectorized)
