"""A gallery of every registered generator: a few samples of each, plotted.

    python examples/datasets_gallery.py --out runs/gallery

Generates a handful of samples per generator (small settings, seconds each) into
``OUT/NAME.h5`` and draws ``OUT/NAME.png``: space-time diagrams for 1-D evolution
equations, input/solution fields for Darcy and vorticity snapshots for Navier-Stokes,
attractor projections for the chaotic systems, phase portraits and time series for planar
trajectories (oscillators, SDE paths), an image grid for the digits.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import h5py
import numpy as np

from sciml.core.io import write_json
from sciml.core.plotting import _plt, _save
from sciml.data.generators import generate

# small, quick settings per generator (name -> parameters); the full recipes are in datasets/
GALLERY = {
    "burgers1d": {"n": 3, "resolution": 256, "n_times": 51, "nu": 0.01},
    "advection_diffusion1d": {"n": 3, "resolution": 256, "n_times": 51, "beta": 10.0, "length": 2 * np.pi, "initial_condition": "sines"},
    "reaction_diffusion1d": {"n": 3, "resolution": 256, "n_times": 51, "model": "fisher_kpp"},
    "kuramoto_sivashinsky1d": {"n": 3, "n_times": 101, "burn_in": 50.0},
    "kdv1d": {"n": 3, "n_times": 51},
    "linear_ode": {"n": 4, "n_times": 101, "dim": 2},
    "darcy2d": {"n": 3, "resolution": 64},
    "navier_stokes2d": {"n": 2, "resolution": 64, "t_final": 10.0, "n_times": 4},
    "chaos": {"n": 3, "system": "Lorenz", "n_periods": 20, "points_per_period": 100},
    "digits": {"n": 40},
    "oscillators": {"n": 4, "n_times": 26},
    "spiral_sde": {"n": 64, "dt": 0.005},
}


def _plot_planar(f, name: str, plt):
    """Phase portrait and components against time of 2-D trajectories (shared or per-sample times)."""
    x, t = f["x"][()], f["t"][()]
    times = t if t.ndim == 2 else np.broadcast_to(t, x.shape[:2])
    irregular = t.ndim == 2
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    style = {"lw": 0.8, "marker": "o", "ms": 3} if irregular else {"lw": 0.6, "alpha": 0.5}
    for j, traj in enumerate(x):
        color = f"C{j % 10}"
        axes[0].plot(traj[:, 0], traj[:, 1], color=color, **style)
        axes[1].plot(times[j], traj[:, 0], color=color, **style)
    if not irregular and len(x) > 8:  # many sample paths: their mean and one standard deviation
        mean, std = x.mean(0), x.std(0)
        axes[1].plot(t, mean[:, 0], color="k", lw=2, label="mean")
        axes[1].fill_between(t, mean[:, 0] - std[:, 0], mean[:, 0] + std[:, 0], color="k", alpha=0.15, label="± std")
        axes[1].legend(fontsize=8)
    axes[0].set_xlabel("x0"), axes[0].set_ylabel("x1"), axes[1].set_xlabel("t"), axes[1].set_ylabel("x0")
    what = "irregularly observed trajectories" if irregular else "paths"
    fig.suptitle(f"{name}: {f.attrs.get('system', '')}, {x.shape[0]} {what}", fontsize=9)
    return fig


def _plot_images(f, name: str, plt):
    """A grid of the first samples as images (``image_shape`` attribute, else one row per sample)."""
    x, y = f["x"][()], f["y"][()]
    shape = tuple(f.attrs["image_shape"]) if "image_shape" in f.attrs else (1, int(np.prod(x.shape[1:])))
    count = min(len(x), 40)
    cols = min(count, 10)
    rows = (count + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.25 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        if k < count:
            ax.imshow(x[k].reshape(shape), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(str(y[k]), fontsize=8)
        else:
            ax.axis("off")
    classes = f.attrs.get("classes", "")
    fig.suptitle(f"{name}: {x.shape[0]} samples of {list(x.shape[1:])} features, {classes} classes", fontsize=9)
    return fig


def plot_file(name: str, path: Path, out: Path) -> Path:
    plt = _plt()
    with h5py.File(path, "r") as f:
        if f.attrs["kind"] == "samples":
            fig = _plot_images(f, name, plt)
        elif f.attrs["kind"] == "trajectories" and f["x"].shape[2] == 2:
            fig = _plot_planar(f, name, plt)
        elif f.attrs["kind"] == "trajectories":
            x = f["x"][()]
            fig, axes = plt.subplots(1, 2, figsize=(9, 4))
            for traj in x:
                axes[0].plot(traj[:, 0], traj[:, 1], lw=0.6)
                axes[1].plot(traj[:, 0], traj[:, 2] if traj.shape[1] > 2 else traj[:, 1], lw=0.6)
            axes[0].set_xlabel("x0"), axes[0].set_ylabel("x1"), axes[1].set_xlabel("x0"), axes[1].set_ylabel("x2")
            fig.suptitle(f"{name}: {f.attrs.get('system', '')}, {x.shape[0]} trajectories")
        else:
            u = f["u"][()]
            t = f["t"][()]
            n = u.shape[0]
            if u.ndim == 4:  # [N, T, C, S]: space-time diagrams
                fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.4), squeeze=False)
                for j in range(n):
                    im = axes[0, j].imshow(u[j, :, 0].T, aspect="auto", origin="lower", extent=[t[0], t[-1], 0, 1], cmap="RdBu_r")
                    axes[0, j].set_xlabel("t"), axes[0, j].set_ylabel("x / L")
                    fig.colorbar(im, ax=axes[0, j], fraction=0.046)
            else:  # [N, T, C, X, Y]: the input and the last snapshot
                a = f["a"][()] if "a" in f else u[:, 0]
                fig, axes = plt.subplots(n, 2, figsize=(7, 3.2 * n), squeeze=False)
                for j in range(n):
                    for k, (img, title) in enumerate([(a[j, 0], "input a"), (u[j, -1, 0], f"u at t={t[-1]:g}")]):
                        im = axes[j, k].imshow(img.T, origin="lower", cmap="viridis" if k == 0 else "RdBu_r")
                        axes[j, k].set_title(title, fontsize=9), axes[j, k].set_xticks([]), axes[j, k].set_yticks([])
                        fig.colorbar(im, ax=axes[j, k], fraction=0.046)
            fig.suptitle(f"{name}: {json.loads(f.attrs['params'])}", fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/gallery")
    parser.add_argument("--generators", default=",".join(GALLERY), help="comma-separated subset")
    args = parser.parse_args(argv)
    out = Path(args.out)
    summary = {}
    for name in args.generators.split(","):
        path = out / f"{name}.h5"
        start = time.perf_counter()
        digest = generate(name, path, seed=0, **GALLERY[name])
        seconds = time.perf_counter() - start
        plot_file(name, path, out / f"{name}.png")
        summary[name] = {"seconds": round(seconds, 3), "content_sha256": digest}
        print(f"{name:<24} {seconds:6.2f} s -> {out / (name + '.png')}")
    write_json(out / "gallery.json", summary)
    return summary


if __name__ == "__main__":
    main()
