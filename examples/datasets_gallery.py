"""A gallery of every registered generator: a few samples of each, plotted.

    python examples/datasets_gallery.py --out runs/gallery

Generates a handful of samples per generator (small settings, seconds each) into
``OUT/NAME.h5`` and draws ``OUT/NAME.png``: space-time diagrams for 1-D evolution
equations, input/solution fields for Darcy and vorticity snapshots for Navier-Stokes,
attractor projections for the chaotic systems.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import h5py
import numpy as np

from sciml.data.generators import generate
from sciml.io import write_json
from sciml.plotting import _plt, _save

# small, quick settings per generator (name -> parameters); the full recipes are in datasets/
GALLERY = {
    "burgers1d": {"n": 3, "resolution": 256, "n_times": 51, "nu": 0.01},
    "advection_diffusion1d": {"n": 3, "resolution": 256, "n_times": 51, "beta": 10.0, "length": 2 * np.pi, "initial_condition": "sines"},
    "reaction_diffusion1d": {"n": 3, "resolution": 256, "n_times": 51, "model": "fisher_kpp"},
    "kuramoto_sivashinsky1d": {"n": 3, "n_times": 101, "burn_in": 50.0},
    "kdv1d": {"n": 3, "n_times": 51},
    "darcy2d": {"n": 3, "resolution": 64},
    "navier_stokes2d": {"n": 2, "resolution": 64, "t_final": 10.0, "n_times": 4},
    "chaos": {"n": 3, "system": "Lorenz", "n_periods": 20, "points_per_period": 100},
}


def plot_file(name: str, path: Path, out: Path) -> Path:
    plt = _plt()
    with h5py.File(path, "r") as f:
        if f.attrs["kind"] == "trajectories":
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
