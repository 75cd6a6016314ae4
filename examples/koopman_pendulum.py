"""Verified Koopman spectra of the nonlinear pendulum: EDMD's spectral pollution and what ResDMD keeps.

Run::

    python examples/koopman_pendulum.py --out runs/koopman_pendulum

The pendulum ``q'' = -sin q`` is sampled every ``dt = 0.5`` by leapfrog (an exactly
area-preserving map) on librating orbits. Its Koopman operator is an isometry with
continuous spectrum on the unit circle (apart from the eigenvalue 1 of the functions of the
energy), so every EDMD eigenvalue inside the disk is spurious. The script fits EDMD and
ResDMD on the same data and dictionary, prints how many EDMD eigenvalues lie off the circle
and how many ResDMD keeps (all within ``epsilon`` of the circle), and writes into ``--out``:

* ``pendulum.h5``: the trajectories (sciml schema; ``sciml koopman fit`` runs on it too);
* ``spectrum.png``: the EDMD eigenvalues coloured by residual, kept ones filled, with the
  pseudospectral contours ``tau(z) = 0.01 ... 0.3`` and the unit circle;
* ``eigenfunctions.png``: the most accurate eigenfunctions on the phase plane;
* ``forecast.png``: a held-out trajectory forecast by EDMD and by ResDMD's kept pairs;
* ``spectral_measure.png``: the spectral measure of ``g = q`` (smoothed, from the
  correlations of the trajectories), a continuous density, with the arguments of the
  eigenvalues ResDMD keeps;
* ``summary.json``: the numbers printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from sciml.core.io import environment, write_json
from sciml.core.plotting import label_axes, new_figure, save_figure
from sciml.data import Provenance, load_trajectories, write_trajectories
from sciml.koopman import EDMD, ResDMD, pendulum_trajectories, spectral_measure
from sciml.koopman.plots import eigenfunctions_figure, spectrum_figure


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/koopman_pendulum")
    parser.add_argument("--n", type=int, default=50, help="trajectories (80 %% train)")
    parser.add_argument("--n-times", type=int, default=500, help="samples per trajectory")
    parser.add_argument("--dictionary", default="legendre:10")
    parser.add_argument("--epsilon", type=float, default=0.1)
    parser.add_argument("--grid", type=int, default=70, help="pseudospectrum grid points per axis")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dt = 0.5

    x = pendulum_trajectories(args.n, args.n_times, dt=dt, seed=0)
    path = out / "pendulum.h5"
    write_trajectories(path, x, np.arange(args.n_times) * dt,
                       Provenance("user", {"system": "pendulum", "integrator": "leapfrog", "substeps": 10}), dt=dt)
    train, test = load_trajectories(path, "train"), load_trajectories(path, "test")

    edmd = EDMD(args.dictionary).fit(train)
    res = ResDMD(args.dictionary, epsilon=args.epsilon).fit(train)
    lam = edmd.eigenvalues_
    off = np.abs(np.abs(lam) - 1)
    spurious = off > args.epsilon
    kept = res.eigenvalues_
    summary = {
        "dictionary": args.dictionary,
        "epsilon": args.epsilon,
        "n_train_pairs": int(train.n_trajectories * (train.n_times - 1)),
        "edmd_eigenvalues": int(lam.size),
        "edmd_off_circle_by_more_than_epsilon": int(spurious.sum()),
        "edmd_max_distance_to_circle": float(off.max()),
        "resdmd_kept": int(kept.size),
        "resdmd_kept_max_distance_to_circle": float(np.abs(np.abs(kept) - 1).max()) if kept.size else None,
        "spurious_rejected": bool(not res.kept_[spurious].any()),
        "environment": environment(),
    }
    print(f"EDMD ({args.dictionary}): {lam.size} eigenvalues, {spurious.sum()} farther than epsilon={args.epsilon} "
          f"from the unit circle (up to {off.max():.3f})")
    print(f"ResDMD: kept {kept.size} with residual <= {args.epsilon}; the farthest from the circle is "
          f"{summary['resdmd_kept_max_distance_to_circle']:.2e}; every spurious one rejected: {summary['spurious_rejected']}")

    fig = spectrum_figure(lam, edmd.residuals_, kept=res.kept_, pseudospectrum=res.pseudospectrum,
                          grid_points=args.grid,
                          title=f"pendulum, {args.dictionary}: kept if residual <= {args.epsilon}")
    save_figure(fig, out / "spectrum.png")
    save_figure(eigenfunctions_figure(res, train.x.reshape(-1, 2)), out / "eigenfunctions.png")

    horizon = min(60, test.n_times - 1)
    truth = test.x[0, : horizon + 1]
    fig, axes = new_figure(2, 1, figsize=(6.4, 4.0), sharex=True)
    steps = np.arange(horizon + 1) * dt
    for est, style, label in [(edmd, "--", "EDMD"), (res, ":", "ResDMD (kept pairs)")]:
        pred = est.forecast(truth[:1], horizon)
        for k in range(2):
            axes[k, 0].plot(steps[1:], pred[:, k], ls=style, lw=1.2, label=label)
    for k, name in enumerate(("q", "p")):
        axes[k, 0].plot(steps, truth[:, k], color="k", lw=1.0, label="truth", zorder=0)
        label_axes(axes[k, 0], "time" if k else "", f"${name}$")
    axes[0, 0].set_title("held-out pendulum trajectory, free-running forecast", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    save_figure(fig, out / "forecast.png")

    # the spectral measure of g = q: the starting states are spread uniformly in energy and in
    # phase along each orbit, an invariant measure, so the correlations are ensemble averages
    lags = min(100, train.n_times)
    theta = np.linspace(-np.pi, np.pi, 721)
    density = spectral_measure(train.x, theta, lags, observable=lambda z: z[:, 0], filter="vandeven:8")
    mass = float(density[:-1].sum() * (theta[1] - theta[0]))
    summary["spectral_measure_mass"] = mass
    summary["mean_q_squared"] = float((train.x[..., 0] ** 2).mean())
    fig, axes = new_figure(1, 1, figsize=(6.4, 3.4))
    ax = axes[0, 0]
    ax.plot(theta, density, color="C0", lw=1.2, label=f"$\\nu_q$, {lags} lags, Vandeven filter (order 8)")
    for k, z in enumerate(kept):
        ax.axvline(np.angle(z), color="C3", lw=0.6, alpha=0.6, label="arg of ResDMD's kept eigenvalues" if k == 0 else None)
    label_axes(ax, "$\\theta$ (eigenvalue $e^{i\\theta}$)", "density",
               f"pendulum: spectral measure of q (mass {mass:.4f} = E[q^2])")
    ax.legend(fontsize=7)
    save_figure(fig, out / "spectral_measure.png")
    print(f"spectral measure of q: mass {mass:.4f} (E[q^2] = {summary['mean_q_squared']:.4f})")
    write_json(out / "summary.json", summary)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
