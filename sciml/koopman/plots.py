"""Figures of the Koopman learners: spectra with residuals and pseudospectra, eigenfunctions, HAVOK forcing.

Each ``*_figure`` returns an unsaved :class:`matplotlib.figure.Figure` (no pyplot state);
save it with :func:`sciml.core.plotting.save_figure`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sciml.core.plotting import label_axes, new_figure

__all__ = ["spectrum_figure", "eigenfunctions_figure", "forcing_figure"]


def spectrum_figure(
    eigenvalues: np.ndarray,
    residuals: np.ndarray | None = None,
    *,
    kept: np.ndarray | None = None,
    pseudospectrum: Any = None,
    levels: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3),
    grid_points: int = 60,
    title: str = "",
) -> Any:
    """Eigenvalues in the complex plane, coloured by residual, with the unit circle and pseudospectral contours.

    Parameters
    ----------
    eigenvalues : ndarray ``[r]`` complex
    residuals : ndarray ``[r]``, optional
        Colour (log scale); without them every point is one colour.
    kept : ndarray ``[r]`` bool, optional
        ResDMD's selection: kept pairs filled, rejected ones hollow.
    pseudospectrum : callable ``z -> tau(z)``, optional
        Contours of ``tau`` at ``levels`` on a ``grid_points^2`` grid over the plotted region.
    """
    from matplotlib.colors import LogNorm

    lam = np.asarray(eigenvalues, dtype=np.complex128)
    fig, axes = new_figure(figsize=(5.6, 4.8))
    ax = axes[0, 0]
    theta = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), color="0.45", lw=1.0, label="unit circle")
    extent = max(1.15, float(np.abs(lam).max(initial=0.0)) * 1.08)
    if pseudospectrum is not None:
        re = np.linspace(-extent, extent, grid_points)
        z = re[None, :] + 1j * re[::-1, None]
        tau = np.asarray(pseudospectrum(z))
        cs = ax.contour(re, re[::-1], tau, levels=sorted(levels), cmap="Greys_r", linewidths=0.8)
        ax.clabel(cs, fontsize=6, fmt="%g")
    if residuals is not None and lam.size:
        res = np.maximum(np.asarray(residuals, dtype=np.float64), 1e-16)
        top = max(res.max(), 1e-12)
        norm = LogNorm(vmin=max(res.min(), 1e-4 * top), vmax=max(top, 10 * max(res.min(), 1e-4 * top)), clip=True)
        mask = np.ones(lam.size, bool) if kept is None else np.asarray(kept, bool)
        sc = ax.scatter(lam.real[mask], lam.imag[mask], c=res[mask], norm=norm, cmap="viridis_r", s=30, zorder=3,
                        edgecolors="k", linewidths=0.3, label="kept" if kept is not None else "eigenvalues")
        if kept is not None and (~mask).any():
            ax.scatter(lam.real[~mask], lam.imag[~mask], c=res[~mask], norm=norm, cmap="viridis_r", s=24, zorder=3,
                       marker="x", label="rejected (residual > epsilon)")
        fig.colorbar(sc, ax=ax, label="residual", extend="min")
    elif lam.size:
        ax.scatter(lam.real, lam.imag, s=24, color="C3", zorder=3, label="eigenvalues")
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    label_axes(ax, "Re $\\lambda$", "Im $\\lambda$", title or "discrete-time eigenvalues")
    ax.legend(loc="lower left", fontsize=7)
    return fig


def eigenfunctions_figure(estimator: Any, states: np.ndarray, *, count: int = 4, grid_points: int = 80) -> Any:
    """The real part of eigenfunctions ``phi_j`` (rotated to their largest real part) on a 2-D state space.

    The ``count`` most accurate (smallest residual; largest modulus without residuals),
    one per conjugate pair, skipping constants.

    Parameters
    ----------
    estimator : a fitted estimator with ``eigenfunctions(x [B, 2])`` and ``eigenvalues_``
    states : ndarray ``[M, 2]``
        The training states: the plot covers their box and blanks the points farther than
        three grid steps from every state (where the data say nothing).
    """
    from scipy.spatial import cKDTree

    states = np.asarray(states, dtype=np.float64)
    bounds = np.stack([states.min(axis=0), states.max(axis=0)], axis=1)
    lam = np.asarray(estimator.eigenvalues_)
    residuals = getattr(estimator, "residuals_", None)
    a = np.linspace(bounds[0, 0], bounds[0, 1], grid_points)
    b = np.linspace(bounds[1, 0], bounds[1, 1], grid_points)
    xa, xb = np.meshgrid(a, b)
    points = np.stack([xa.ravel(), xb.ravel()], axis=1)
    phi = np.asarray(estimator.eigenfunctions(points))
    step = np.hypot(a[1] - a[0], b[1] - b[0])
    far = cKDTree(states[:: max(1, len(states) // 20000)]).query(points)[0] > 3 * step
    phi[far] = np.nan
    # the most accurate first (smallest residual, else largest modulus); one per eigenvalue and conjugate pair;
    # no constants
    rank = np.argsort(residuals) if residuals is not None else np.argsort(-np.abs(lam))
    order = []
    for j in rank:
        mag = np.abs(phi[~far, j])
        if lam[j].imag < -1e-12 or np.ptp(mag) <= 1e-2 * max(mag.max(), 1e-300):
            continue
        if any(abs(lam[j] - lam[i]) < 1e-3 for i in order):
            continue
        order.append(int(j))
        if len(order) == count:
            break
    n = len(order)
    fig, axes = new_figure(1, max(n, 1), figsize=(3.0 * max(n, 1), 2.9))
    for k, j in enumerate(order):
        ax = axes[0, k]
        f = phi[:, j].reshape(xa.shape)
        # the phase that makes the real part largest, so a complex eigenfunction shows its structure
        f = f * np.exp(-1j * np.angle(np.nansum(f**2)) / 2)
        lim = float(np.nanmax(np.abs(f.real))) or 1.0
        im = ax.pcolormesh(xa, xb, f.real, shading="auto", cmap="RdBu_r", vmin=-lim, vmax=lim)
        fig.colorbar(im, ax=ax, fraction=0.046)
        res = "" if residuals is None else f", res {residuals[j]:.1e}"
        label_axes(ax, "$x_0$", "$x_1$", f"Re $\\varphi$: $\\lambda$ = {lam[j].real:.3f}{lam[j].imag:+.3f}i{res}")
    return fig


def forcing_figure(times: np.ndarray, forcing: np.ndarray, signal: np.ndarray | None = None, *,
                   threshold: float | None = None) -> Any:
    """HAVOK's forcing ``v_r`` against time (bursts above ``threshold`` shaded), over the first state component."""
    rows = 2 if signal is not None else 1
    fig, axes = new_figure(rows, 1, figsize=(7.0, 1.9 * rows + 0.5), sharex=True)
    if signal is not None:
        axes[0, 0].plot(times, signal, color="k", lw=0.8)
        label_axes(axes[0, 0], "", "$x_0$", "HAVOK: the state and its intermittent forcing")
    ax = axes[-1, 0]
    ax.plot(times, forcing, color="C3", lw=0.8)
    if threshold is not None:
        active = np.abs(forcing) > threshold
        ax.fill_between(times, forcing.min(), forcing.max(), where=active, color="C3", alpha=0.15, lw=0,
                        label=f"|forcing| > {threshold:.3g}")
        ax.legend(loc="upper right", fontsize=7)
    label_axes(ax, "time", "forcing $v_r$", None if signal is not None else "HAVOK forcing")
    return fig
