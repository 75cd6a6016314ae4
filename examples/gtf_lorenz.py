"""GTF-shPLRNN against the same shPLRNN trained by BPTT on Lorenz-63 with 5 % observation noise.

    python examples/gtf_lorenz.py --out runs/gtf_lorenz [--preset tiny|quick|full] [--seeds N] [--steps N]

Trains ``plrnn_gtf`` (alpha from the bound), ``plrnn_agtf`` (adaptive, annealed) and
``plrnn_bptt`` (alpha = 0) on noisy Lorenz-63 trajectories (100 samples per dominant period,
Gaussian noise of 5 % of each coordinate's standard deviation), then scores each seed on a
clean test trajectory:

* short-horizon RMSE at 1, 10 and 50 steps from 100 test contexts (persistence beside it);
* long free runs (``--long`` steps from a test state): the attractor geometry by a binned
  state-space divergence (KL of the 3-D occupancy histograms, 30 bins per axis, the range
  of the truth +- 10 % of its std, Laplace smoothing), and the power spectra by the
  Hellinger distance of the per-coordinate spectra (standardized, Gaussian-smoothed with
  sigma = 20 frequency bins, normalized), averaged over coordinates. Both follow the GTF
  paper's D_stsp and D_H; they are local to this example (the benchmark's official
  metrics are sciml.forecast.metrics). A second clean trajectory gives their floor.

It also measures the gradient norm of the loss against the sequence length T with the
first seed's GTF model: alpha = 0 (BPTT) against alpha = 1 - 1/sigma_max. Writes
``gtf_lorenz.json``, ``gtf_lorenz_attractors.png`` and ``gtf_lorenz_gradients.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from sciml.core.io import write_json
from sciml.core.plotting import label_axes, new_figure, save_figure
from sciml.forecast import GTF, PLRNNAGTF, PLRNNBPTT, PLRNNGTF, ShallowPLRNN, jacobian_product_sigma
from sciml.forecast._gtf import alpha_from_sigma, forced_states
from sciml.numerics import integrate_batch
from sciml.systems import batched_rhs, dominant_period

PRESETS = {
    # the suite's smoke run: seconds
    "tiny": dict(seeds=1, steps=150, sequence_length=30, hidden=20, n_train=2, train_length=1500, long=3000),
    # minutes on one CPU thread: what docs/gtf.md quotes
    "quick": dict(seeds=3, steps=1500, sequence_length=50, hidden=50, n_train=4, train_length=4000, long=20000),
    # the paper's sequence length, five seeds (about an hour on one CPU thread)
    "full": dict(seeds=5, steps=5000, sequence_length=200, hidden=50, n_train=4, train_length=10000, long=50000),
}
MODELS = {"plrnn_gtf": PLRNNGTF, "plrnn_agtf": PLRNNAGTF, "plrnn_bptt": PLRNNBPTT}
NOISE = 0.05
HORIZONS = (1, 10, 50)


def lorenz(n: int, length: int, seed: int, dt: float) -> np.ndarray:
    """``n`` Lorenz-63 trajectories ``[n, length, 3]`` after a burn-in of 1000 samples."""
    rng = np.random.default_rng(seed)
    y0 = np.array([[-9.79, -15.04, 20.53]]) + 2.0 * rng.normal(size=(n, 3))
    t = np.arange(1, 1000 + length + 1) * dt
    ys, _ = integrate_batch(batched_rhs("Lorenz"), y0, t, rtol=1e-9, atol=1e-9)
    return ys.numpy()[:, 1000:]


def local_state_space_divergence(truth: np.ndarray, generated: np.ndarray, bins: int = 30) -> float:
    """KL(truth || generated) of 3-D occupancy histograms (the GTF paper's binned D_stsp), local to this example."""
    std = truth.std(axis=0)
    lo, hi = truth.min(axis=0) - 0.1 * std, truth.max(axis=0) + 0.1 * std
    edges = [np.linspace(lo[i], hi[i], bins + 1) for i in range(truth.shape[1])]
    if not np.isfinite(generated).all():
        return float("nan")
    p = np.histogramdd(truth, bins=edges)[0].ravel()
    q = np.histogramdd(generated, bins=edges)[0].ravel()
    if q.sum() == 0:
        return float("nan")  # the free run left the truth's box: no overlap to score
    smooth = 1e-5
    p = (p + smooth) / (p.sum() + smooth * p.size)
    q = (q + smooth) / (q.sum() + smooth * q.size)
    return float(np.sum(p * np.log(p / q)))


def local_power_spectrum_distance(truth: np.ndarray, generated: np.ndarray, sigma: float = 20.0) -> float:
    """Mean over coordinates of the Hellinger distance of smoothed, normalized power spectra (the paper's D_H)."""
    if not np.isfinite(generated).all() or np.any(generated.std(axis=0) == 0):
        return float("nan")

    def spectrum(x: np.ndarray) -> np.ndarray:
        z = (x - x.mean(axis=0)) / x.std(axis=0)
        ps = np.abs(np.fft.rfft(z, axis=0)) ** 2
        ps = np.clip(gaussian_filter1d(ps, sigma, axis=0, mode="reflect"), 0, None)
        return ps / ps.sum(axis=0)

    p, q = spectrum(truth), spectrum(generated)
    return float(np.mean(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2, axis=0)) / np.sqrt(2)))


def short_horizon_rmse(forecaster, test: np.ndarray, starts: np.ndarray) -> dict[str, float]:
    horizon = max(HORIZONS)
    context = np.stack([test[s - forecaster.min_context : s] for s in starts])
    truth = np.stack([test[s : s + horizon] for s in starts])
    err = np.sqrt(((forecaster.forecast(context, horizon) - truth) ** 2).mean(axis=(0, 2)))
    return {f"rmse_h{h}": float(err[h - 1]) for h in HORIZONS}


def gradient_norms(fitted, test: np.ndarray, lengths: list[int]) -> dict[str, list[float]]:
    """Gradient norms of the loss over ``T`` steps of the fitted model (float64): BPTT vs the two alpha bounds."""
    net = ShallowPLRNN(3, fitted.latent_, int(fitted.hidden), dtype=torch.float64)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.as_tensor(getattr(fitted, f"{name}_")))
    xs = torch.as_tensor((test - fitted.mean_) / fitted.scale_)
    rows: dict[str, list[float]] = {
        "T": [],
        "bptt": [],
        "gtf_max": [],
        "gtf_geomean": [],
        "alpha_max": [],
        "alpha_geomean": [],
    }
    for t in lengths:
        starts = np.random.default_rng(1).integers(0, len(xs) - t - 1, size=16)
        x = torch.stack([xs[s : s + t + 1] for s in starts])
        states = forced_states(net, x)[:, 1:]
        a_max = alpha_from_sigma(float(jacobian_product_sigma(net, states, "batch_maximum").max()))
        a_geo = alpha_from_sigma(float(jacobian_product_sigma(net, states, "product_upper_bound").max()))
        rows["T"].append(t)
        rows["alpha_max"].append(a_max)
        rows["alpha_geomean"].append(a_geo)
        for key, alpha in (("bptt", 0.0), ("gtf_max", a_max), ("gtf_geomean", a_geo)):
            net.zero_grad()
            GTF(alpha)(net, {"x": x})["loss"].backward()
            rows[key].append(float(torch.sqrt(sum((p.grad**2).sum() for p in net.parameters()))))
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/gtf_lorenz")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    for key in ("seeds", "steps", "sequence_length", "hidden", "long"):
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=None, help=f"override the preset's {key}")
    args = parser.parse_args(argv)
    cfg = dict(PRESETS[args.preset])
    for key in ("seeds", "steps", "sequence_length", "hidden", "long"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # models this small run fastest on one thread

    dt = dominant_period("Lorenz") / 100
    clean_train = lorenz(cfg["n_train"], cfg["train_length"], seed=0, dt=dt)
    noise = np.random.default_rng(1).normal(size=clean_train.shape) * NOISE * clean_train.reshape(-1, 3).std(axis=0)
    train = clean_train + noise
    test, floor = lorenz(2, max(cfg["long"], 2000), seed=2, dt=dt)
    starts = np.linspace(20, len(test) - max(HORIZONS) - 1, 100).astype(int)
    persistence = np.sqrt(
        np.mean([[np.mean((test[s - 1] - test[s + h - 1]) ** 2) for h in HORIZONS] for s in starts], axis=0)
    )
    rows, free_runs, fitted_gtf = [], {}, None
    for name, cls in MODELS.items():
        for seed in range(cfg["seeds"]):
            t0 = time.perf_counter()
            est = cls(steps=cfg["steps"], sequence_length=cfg["sequence_length"], hidden=cfg["hidden"], seed=seed).fit(
                train
            )
            seconds = time.perf_counter() - t0
            free = est.forecast(test[:1], cfg["long"])
            row = {
                "model": name,
                "seed": seed,
                "alpha_final": est.alpha_,
                "train_loss": est.final_loss_,
                "fit_seconds": seconds,
                "d_stsp_local": local_state_space_divergence(test[: cfg["long"]], free),
                "d_h_local": local_power_spectrum_distance(test[: cfg["long"]], free),
                **short_horizon_rmse(est, test, starts),
            }
            rows.append(row)
            print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
            if seed == 0:
                free_runs[name] = free
                if name == "plrnn_gtf":
                    fitted_gtf = est
    reference = {
        "d_stsp_local": local_state_space_divergence(test[: cfg["long"]], floor[: cfg["long"]]),
        "d_h_local": local_power_spectrum_distance(test[: cfg["long"]], floor[: cfg["long"]]),
    }
    summary = {}
    for name in MODELS:
        mine = [r for r in rows if r["model"] == name]
        summary[name] = {
            key: float(np.nanmedian([r[key] for r in mine])) if any(np.isfinite(r[key]) for r in mine) else float("nan")
            for key in ("d_stsp_local", "d_h_local", *(f"rmse_h{h}" for h in HORIZONS))
        }
        summary[name]["diverged_free_runs"] = int(sum(not np.isfinite(r["d_stsp_local"]) for r in mine))
    lengths = [25, 50, 100, 200, 500] if args.preset == "tiny" else [25, 50, 100, 200, 500, 1000]
    grads = gradient_norms(fitted_gtf, test, lengths)

    # attractors: x-z projection of each seed-0 free run against the truth
    fig, axes = new_figure(1, len(MODELS) + 1, figsize=(4.0 * (len(MODELS) + 1), 3.8))
    panels = [("truth", test[: cfg["long"]])] + list(free_runs.items())
    truth = test[: cfg["long"]]
    span = truth.max(axis=0) - truth.min(axis=0)
    for ax, (name, x) in zip(np.ravel(axes), panels):
        finite = x[np.isfinite(x).all(axis=1)]
        if name != "truth":
            ax.plot(truth[:, 0], truth[:, 2], lw=0.2, color="0.8")
        ax.plot(finite[:, 0], finite[:, 2], lw=0.3, color="k" if name == "truth" else "C0")
        # the truth's box on every panel: a collapsed or escaping free run shows as such
        ax.set_xlim(truth[:, 0].min() - 0.1 * span[0], truth[:, 0].max() + 0.1 * span[0])
        ax.set_ylim(truth[:, 2].min() - 0.1 * span[2], truth[:, 2].max() + 0.1 * span[2])
        first = next((r for r in rows if r["model"] == name and r["seed"] == 0), None)
        title = (
            "truth" if first is None else f"{name}: D_stsp {first['d_stsp_local']:.2f}, D_H {first['d_h_local']:.2f}"
        )
        label_axes(ax, "x", "z", title)
    save_figure(fig, out / "gtf_lorenz_attractors.png")
    fig, axes = new_figure()
    ax = axes[0, 0]
    ax.semilogy(grads["T"], grads["bptt"], "o-", label="BPTT (alpha = 0)")
    ax.semilogy(grads["T"], grads["gtf_max"], "s-", label="GTF, alpha = 1 - 1/max ||J||")
    ax.semilogy(grads["T"], grads["gtf_geomean"], "^-", label="GTF, alpha = 1 - 1/geomean ||J||")
    ax.set_xscale("log")
    ax.legend(fontsize=8)
    label_axes(ax, "sequence length T", "gradient norm", "loss gradient, the plrnn_gtf model (seed 0)")
    save_figure(fig, out / "gtf_lorenz_gradients.png")

    result = {
        "preset": args.preset,
        "config": cfg,
        "noise": NOISE,
        "dt": dt,
        "persistence": {f"rmse_h{h}": float(v) for h, v in zip(HORIZONS, persistence)},
        "reference_truth_vs_truth": reference,
        "summary_median_over_seeds": summary,
        "rows": rows,
        "gradient_norms": grads,
    }
    write_json(out / "gtf_lorenz.json", result)
    for name, s in summary.items():
        print(name, ", ".join(f"{k}={v:.4g}" for k, v in s.items()))
    print("reference (truth vs truth)", reference, "persistence", result["persistence"])
    return result


if __name__ == "__main__":
    main()
