"""StNN against HAVOK, SINDy and the dense network of the same depth on Lotka-Volterra and Lorenz-63.

The comparison of Aluvihare, Lingsch, Li & Perera (arXiv:2503.23697): a Hankel-structured
neural network (``stnn``, :mod:`sciml.koopman.stnn`) on time-delay windows, against the
conventional network of the same depth and width on the same windows (``delay_mlp``),
HAVOK (:class:`sciml.koopman.HAVOK`, discrete time, the forcing closed by its fitted
regression), SINDy (the ``sindy`` forecaster, quadratic library) and persistence (the
trivial baseline). Data, generated here:

``lotka_volterra``
    ``x' = alpha x - beta x y``, ``y' = delta x y - gamma y`` with ``alpha = beta = gamma =
    delta = 0.5`` (:data:`sciml.koopman.systems.LOTKA_VOLTERRA`), initial populations
    uniform in ``[1.5, 3]``, dopri5 at ``rtol = 1e-10``; 50 samples per linear period
    ``2 pi / sqrt(alpha gamma)``. Not chaotic: horizons are in **periods** (the median
    measured period of the test orbits, :func:`~sciml.koopman.systems.orbit_period`).
``lorenz``
    Lorenz-63 (``sigma = 10, rho = 28, beta = 8/3``) from our ``chaos`` generator
    (:func:`sciml.forecast.chaos_data`, 50 samples per dominant period); horizons in
    **Lyapunov times** of our stored reference (``sciml/systems/lyapunov_references.json``).

Every system has ``n_trajectories`` trajectories: each model trains on their first part,
then forecasts each from the ``context`` states before its held-out test window. Per
(system, model) row: ``nrmse_1`` / ``nrmse_5`` (RMSE over the first 1 / 5 horizon units
and all windows, divided by the test data's std per dimension, averaged over dimensions),
``relative_l2_1`` / ``relative_l2_5`` (``|pred - truth| / |truth|`` over the same steps),
the error curve against lead time, ``params`` (numbers the forecast uses), ``fit_seconds``,
``inference_seconds`` (one step for every window, median / min / max over ``repeats``),
``rollout_seconds`` (the whole horizon) and, for the networks, ``forward_seconds`` (one call
on 1024 windows; for the StNN both by the FFT and by the gathered dense Hankel matrix).
Everything is timed in the same process, one torch thread.

``layer_scaling`` (in the payload) times one ``[64, n] -> [64, n]`` product of a Hankel layer
by the FFT, of the same layer gathered into its dense matrix, and of ``nn.Linear(n, n)``, for
``n`` in the preset's ``layer_sizes``.

Targets (the paper's claims that this run can check; the errors are reported only):
``stnn_params_ratio_vs_delay_mlp_SYSTEM < 1``,
``stnn_inference_time_ratio_vs_delay_mlp_SYSTEM <= 1`` (one-step inference, median) and
``hankel_fft_time_ratio_vs_dense_layer_nN < 1`` at the largest ``n`` timed.

Usage::

    sciml bench koopman_stnn --preset quick

Writes ``OUT/koopman_stnn.json`` (``koopman_stnn_PRESET.json`` for other presets),
``koopman_stnn_forecast.png`` (prediction vs truth per model) and ``koopman_stnn_error.png``
(error vs horizon); see docs/koopman.md, section StNN.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import functools
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from sciml.bench._executors import open_executor
from sciml.bench._results import Results
from sciml.bench._runner import Cell, run_cells
from sciml.bench._tables import format_targets, markdown_table
from sciml.core.errors import ConfigError

__all__ = ["PRESETS", "SYSTEMS", "MODELS", "run", "run_cell", "system_data"]

NAME = "koopman_stnn"
SYSTEMS = ("lotka_volterra", "lorenz")
MODELS = ("stnn", "delay_mlp", "havok", "sindy", "persistence")
HORIZONS = (1, 5)
LV_POINTS_PER_PERIOD = 50
LV_INITIAL = (1.5, 3.0)

# the networks share every setting: depth, width, window, chunk, budget, optimizer
_NET = {"window": 8, "chunk": 5, "width": 64, "depth": 3, "activation": "tanh", "batch_size": 256, "lr": 3e-3}
PRESETS: dict[str, dict[str, Any]] = {
    # a few minutes on one CPU thread
    "quick": {
        "n_trajectories": 8,
        "train_periods": {"lotka_volterra": 12.0, "lorenz": 40.0},
        "steps": 3000,
        "repeats": 7,
        "layer_sizes": [64, 256, 1024, 4096],
        "models": list(MODELS),
    },
    "default": {
        "n_trajectories": 16,
        "train_periods": {"lotka_volterra": 24.0, "lorenz": 80.0},
        "steps": 8000,
        "repeats": 15,
        "layer_sizes": [64, 256, 1024, 2048, 4096],
        "models": list(MODELS),
    },
    # seconds: the tests' run
    "tiny": {
        "n_trajectories": 2,
        "train_periods": {"lotka_volterra": 3.0, "lorenz": 6.0},
        "steps": 20,
        "repeats": 2,
        "layer_sizes": [64, 256],
        "models": list(MODELS),
    },
}
MODEL_PARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "lotka_volterra": {
        "stnn": dict(_NET),
        "delay_mlp": dict(_NET),
        "havok": {"delays": 48, "rank": 16},
        "sindy": {"degree": 2, "threshold": 0.05},
    },
    "lorenz": {
        "stnn": dict(_NET),
        "delay_mlp": dict(_NET),
        "havok": {"delays": 48, "rank": 30},
        "sindy": {"degree": 2, "threshold": 0.05},
    },
}


# ----------------------------------------------------------------------------- data
@functools.lru_cache(maxsize=4)
def _data(system: str, n_trajectories: int, train_periods: float) -> dict[str, Any]:
    if system == "lorenz":
        from sciml.forecast import chaos_data

        d = chaos_data("Lorenz", points_per_period=50, train_periods=train_periods, val_periods=1.0,
                       test_periods=4.0, n_trajectories=n_trajectories, seed=0)  # fmt: skip
        return {"train": d.train, "context": d.context, "test": d.test, "dt": d.dt,
                "unit_seconds": d.lyapunov_time, "unit": "Lyapunov time", "lyapunov_time": d.lyapunov_time}  # fmt: skip
    if system == "lotka_volterra":
        from sciml.koopman.systems import LOTKA_VOLTERRA, lotka_volterra_trajectories, orbit_period

        linear_period = 2 * math.pi / math.sqrt(LOTKA_VOLTERRA["alpha"] * LOTKA_VOLTERRA["gamma"])
        dt = linear_period / LV_POINTS_PER_PERIOD
        n_train = int(round(train_periods * LV_POINTS_PER_PERIOD))
        n_context, n_test = LV_POINTS_PER_PERIOD, 7 * LV_POINTS_PER_PERIOD  # 7 linear periods hold 5 of the orbits'
        z = lotka_volterra_trajectories(n_trajectories, n_train + n_context + n_test, dt, initial=LV_INITIAL, seed=0)
        test = z[:, n_train + n_context :]
        period = statistics.median(orbit_period(t[:, 0], dt) for t in test)
        return {"train": z[:, :n_train], "context": z[:, n_train : n_train + n_context], "test": test, "dt": dt,
                "unit_seconds": period, "unit": "period", "linear_period": linear_period}  # fmt: skip
    raise ConfigError(f"unknown system {system!r} of the koopman_stnn benchmark; choose from {', '.join(SYSTEMS)}")


def system_data(system: str, n_trajectories: int, train_periods: float) -> dict[str, Any]:
    """One system's arrays: ``train [N, T, D]``, ``context [N, C, D]``, ``test [N, H, D]``, ``dt``, the horizon unit."""
    return _data(system, int(n_trajectories), float(train_periods))


# ----------------------------------------------------------------------------- models
def _build(model: str, params: dict[str, Any], steps: int, device: str, seed: int):
    from sciml.core.registry import FORECASTERS
    from sciml.koopman import HAVOK

    if model == "havok":
        return HAVOK(**params)
    cls = FORECASTERS.get(model)
    kwargs = dict(params)
    names = cls.param_names()
    if "steps" in names:
        kwargs["steps"] = int(steps)
    if "device" in names:
        kwargs["device"] = device
    if "seed" in names:
        kwargs["seed"] = seed
    return cls(**kwargs)


def _n_params(model: str, est: Any) -> dict[str, int]:
    """The numbers a forecast uses (the networks' weights; HAVOK's projection, maps and readout; SINDy's nonzero terms)."""
    if model in ("stnn", "delay_mlp"):
        return {"params": int(est.n_parameters)}
    if model == "havok":
        arrays = (est.basis_, est.singular_values_[: est.rank_], est.operator_, est.forcing_gain_, est.closure_,
                  est.embedding_)  # fmt: skip
        return {"params": int(sum(np.asarray(a).size for a in arrays))}
    if model == "sindy":
        c = np.asarray(est.coefficients_)
        return {"params": int(np.count_nonzero(c)), "library_terms": int(c.size)}
    return {"params": 0}


def _timed(fn, repeats: int) -> tuple[dict[str, float], Any]:
    fn()  # warm-up (first-call allocations, lazy network build)
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times)}, out


def _forward_seconds(est: Any, repeats: int, device: str) -> dict[str, Any]:
    import torch

    net = est.network()
    x = torch.randn(1024, est.window, int(est.dim_), generator=torch.Generator().manual_seed(0)).to(device)
    out: dict[str, Any] = {}

    def call():
        with torch.no_grad():
            y = net(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return y

    if est.structure == "hankel":
        inner = net.net
        for mode in ("fft", "dense"):
            inner.set_mode(mode)
            out[f"forward_seconds_{mode}"], _ = _timed(call, repeats)
        inner.set_mode("fft")
    else:
        out["forward_seconds"], _ = _timed(call, repeats)
    return out


# ----------------------------------------------------------------------------- one cell
def _curve(pred: np.ndarray, truth: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Normalized error at each lead step, RMS over windows and dimensions: ``[H]``."""
    with np.errstate(all="ignore"):
        return np.sqrt(np.mean(((pred - truth) / scale) ** 2, axis=(0, 2)))


def _errors(pred: np.ndarray, truth: np.ndarray, scale: np.ndarray, n: int) -> dict[str, float | None]:
    with np.errstate(all="ignore"):
        p, t = pred[:, :n], truth[:, :n]
        nrmse = float(np.mean(np.sqrt(np.mean((p - t) ** 2, axis=(0, 1))) / scale))
        rel = float(np.linalg.norm(p - t) / np.linalg.norm(t))
    return {"nrmse": nrmse if math.isfinite(nrmse) else None, "relative_l2": rel if math.isfinite(rel) else None}


def _decimate(values: np.ndarray, n: int) -> list[int]:
    return sorted(set(np.linspace(0, len(values) - 1, min(n, len(values))).round().astype(int).tolist()))


def run_cell(system: str, model: str, cfg: dict[str, Any], params: dict[str, Any], device: str = "cpu") -> dict:
    """Fit ``model`` on ``system``'s training windows, forecast every test window, score and time it (one row)."""
    import torch

    torch.set_num_threads(1)
    data = system_data(system, cfg["n_trajectories"], cfg["train_periods"][system])
    train, context, test, dt = data["train"], data["context"], data["test"], data["dt"]
    per_unit = data["unit_seconds"] / dt  # samples per horizon unit
    steps = [int(round(h * per_unit)) for h in HORIZONS]
    if steps[-1] > test.shape[1]:
        raise ConfigError(
            f"{system}: {HORIZONS[-1]} {data['unit']}s are {steps[-1]} steps, the test window holds {test.shape[1]}"
        )
    horizon = steps[-1]
    truth = test[:, :horizon]
    est = _build(model, params, cfg["steps"], device, seed=0)
    start, cpu = time.perf_counter(), time.process_time()
    est.fit(train, dt=dt)
    fit_seconds, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    repeats = int(cfg["repeats"])
    inference, _ = _timed(lambda: est.forecast(context, 1), repeats)
    rollout, pred = _timed(lambda: est.forecast(context, horizon), max(1, repeats // 2))
    pred = np.asarray(pred, dtype=np.float64)
    scale = test.reshape(-1, test.shape[-1]).std(axis=0)
    row: dict[str, Any] = {
        "unit": data["unit"],
        "unit_time": round(float(data["unit_seconds"]), 6),
        "dt": float(dt),
        "windows": int(test.shape[0]),
        "train_states": int(train.shape[0] * train.shape[1]),
        **_n_params(model, est),
        "finite": bool(np.all(np.isfinite(pred))),
        "fit_seconds": round(fit_seconds, 4),
        "fit_cpu_seconds": round(fit_cpu, 4),
        "inference_seconds": {k: (round(v, 7) if isinstance(v, float) else v) for k, v in inference.items()},
        "rollout_seconds": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in rollout.items()},
        "model_params": params,
    }
    for h, n in zip(HORIZONS, steps):
        for key, value in _errors(pred, truth, scale, n).items():
            row[f"{key}_{h}"] = None if value is None else round(value, 6)
        row[f"steps_{h}"] = n
    if model in ("stnn", "delay_mlp"):
        row.update({k: {kk: (round(vv, 7) if isinstance(vv, float) else vv) for kk, vv in v.items()}
                    for k, v in _forward_seconds(est, repeats, device).items()})  # fmt: skip
        row["train_loss"] = est.train_loss_
    curve = _curve(pred, truth, scale)
    keep = _decimate(curve, 60)
    row["error_curve"] = {"lead": [round((k + 1) / per_unit, 4) for k in keep],
                          "nrmse": [None if not math.isfinite(curve[k]) else round(float(curve[k]), 5) for k in keep]}  # fmt: skip
    keep = _decimate(curve, 150)
    clip = lambda v: None if not math.isfinite(v) else round(float(np.clip(v, -1e6, 1e6)), 5)  # noqa: E731
    row["example"] = {"lead": [round((k + 1) / per_unit, 4) for k in keep],
                      "truth": [round(float(truth[0, k, 0]), 5) for k in keep],
                      "forecast": [clip(pred[0, k, 0]) for k in keep]}  # fmt: skip
    return row


def layer_scaling(sizes: list[int], repeats: int, device: str = "cpu", batch: int = 64) -> list[dict[str, Any]]:
    """Seconds of one ``[batch, n] -> [batch, n]`` product: Hankel by the FFT, Hankel gathered dense, ``nn.Linear``.

    float32, one torch thread, median / min / max over ``repeats`` after a warm-up; the
    parameters of each layer beside it. Shows where the FFT's ``O(n log n)`` overtakes the
    ``O(n^2)`` dense product on this machine.
    """
    import torch
    from torch import nn

    from sciml.koopman.stnn import HankelLinear

    torch.set_num_threads(1)
    rows = []
    for n in sizes:
        x = torch.randn(batch, n, generator=torch.Generator().manual_seed(n)).to(device)
        hankel = HankelLinear(n, n).to(device)
        dense = nn.Linear(n, n).to(device)
        row: dict[str, Any] = {"n": int(n), "batch": int(batch), "hankel_params": sum(p.numel() for p in hankel.parameters()),
                               "dense_params": sum(p.numel() for p in dense.parameters())}  # fmt: skip
        for label, layer, mode in (("hankel_fft", hankel, "fft"), ("hankel_gathered", hankel, "dense"),
                                   ("dense", dense, None)):  # fmt: skip
            if mode is not None:
                layer.mode = mode

            def call(layer=layer, x=x):
                with torch.no_grad():
                    y = layer(x)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                return y

            t, _ = _timed(call, repeats)
            row[f"{label}_seconds"] = {k: (round(v, 8) if isinstance(v, float) else v) for k, v in t.items()}
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- summary
def targets(rows: list[dict[str, Any]], scaling: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The checkable claims: the StNN has fewer parameters and a faster one-step inference than the dense network;
    at the largest layer size timed, the FFT product of a Hankel layer is faster than a dense layer's."""
    by = {(r["system"], r["model"]): r for r in rows}
    out = []
    for system in SYSTEMS:
        st, mlp = by.get((system, "stnn")), by.get((system, "delay_mlp"))
        if st is None or mlp is None:
            continue
        ratio = st["params"] / mlp["params"]
        out.append({"name": f"stnn_params_ratio_vs_delay_mlp_{system}", "measured": round(ratio, 5), "goal": "< 1",
                    "met": bool(ratio < 1)})  # fmt: skip
        t = st["inference_seconds"]["median"] / mlp["inference_seconds"]["median"]
        out.append({"name": f"stnn_inference_time_ratio_vs_delay_mlp_{system}", "measured": round(t, 4),
                    "goal": "<= 1", "met": bool(t <= 1)})  # fmt: skip
    if scaling:
        big = max(scaling, key=lambda r: r["n"])
        t = big["hankel_fft_seconds"]["median"] / big["dense_seconds"]["median"]
        out.append({"name": f"hankel_fft_time_ratio_vs_dense_layer_n{big['n']}", "measured": round(t, 4),
                    "goal": "< 1", "met": bool(t < 1)})  # fmt: skip
    return out


def _fmt(v: Any, spec: str = ".3g") -> str:
    return "diverged" if v is None else format(v, spec)


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ["system", "model", "params", "NRMSE 1 unit", "NRMSE 5 units", "rel. L2 1", "rel. L2 5", "fit s",
            "inference ms (median [min, max])", "rollout ms (median)"]  # fmt: skip
    lines = []
    for r in rows:
        inf = r["inference_seconds"]
        lines.append([
            r["system"], r["model"], str(r["params"]), _fmt(r["nrmse_1"]), _fmt(r["nrmse_5"]), _fmt(r["relative_l2_1"]),
            _fmt(r["relative_l2_5"]), f"{r['fit_seconds']:.3g}",
            f"{1e3 * inf['median']:.3g} [{1e3 * inf['min']:.3g}, {1e3 * inf['max']:.3g}]",
            f"{1e3 * r['rollout_seconds']['median']:.3g}",
        ])  # fmt: skip
    units = sorted({f"{r['system']}: 1 unit = 1 {r['unit']} ({r['unit_time']:.4g} time units)" for r in rows})
    return markdown_table(head, lines) + "\n\n" + "; ".join(units) + "\n"


def scaling_markdown(rows: list[dict[str, Any]]) -> str:
    head = ["n (in = out)", "Hankel params", "dense params", "Hankel FFT ms", "Hankel gathered ms", "nn.Linear ms"]
    lines = [[str(r["n"]), str(r["hankel_params"]), str(r["dense_params"]),
              *(f"{1e3 * r[k + '_seconds']['median']:.3g}" for k in ("hankel_fft", "hankel_gathered", "dense"))]
             for r in rows]  # fmt: skip
    return markdown_table(head, lines) + f"\n\none [{rows[0]['batch'] if rows else 64}, n] product, median\n"


def plot(rows: list[dict[str, Any]], out: Path, name: str, title: str) -> list[Path]:
    from sciml.core.plotting import new_figure, save_figure

    systems = [s for s in SYSTEMS if any(r["system"] == s for r in rows)]
    paths = []
    models = [m for m in MODELS if any(r["model"] == m for r in rows)]
    fig, axes = new_figure(len(models), len(systems), figsize=(5.2 * len(systems), 1.25 * len(models) + 0.8))
    for j, system in enumerate(systems):
        for i, model in enumerate(models):
            ax = axes[i][j]
            r = next((r for r in rows if r["system"] == system and r["model"] == model), None)
            if r is None:
                ax.axis("off")
                continue
            ex = r["example"]
            truth = np.asarray(ex["truth"])
            fc = np.asarray([np.nan if v is None else v for v in ex["forecast"]])
            ax.plot(ex["lead"], truth, "k-", lw=1, label="truth")
            ax.plot(ex["lead"], fc, "C1--", lw=1, label=model)
            pad = 0.4 * np.ptp(truth)
            ax.set_ylim(truth.min() - pad, truth.max() + pad)
            ax.set_ylabel(model, fontsize=8)
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(f"{system}: first coordinate, window 0", fontsize=9)
            if i == len(models) - 1:
                ax.set_xlabel(f"lead time ({r['unit']}s)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    paths.append(save_figure(fig, out / f"{name}_forecast.png"))

    fig, axes = new_figure(1, len(systems), figsize=(5.2 * len(systems), 3.8))
    for j, system in enumerate(systems):
        ax = axes[0][j]
        for k, model in enumerate(models):
            r = next((r for r in rows if r["system"] == system and r["model"] == model), None)
            if r is None:
                continue
            e = np.asarray([np.nan if v is None else v for v in r["error_curve"]["nrmse"]], dtype=float)
            ax.semilogy(r["error_curve"]["lead"], e, color=f"C{k}", label=f"{model} ({r['params']} params)")
        unit = next(r["unit"] for r in rows if r["system"] == system)
        ax.set_xlabel(f"lead time ({unit}s)")
        ax.set_ylabel("normalized error (RMS over windows)")
        ax.set_title(system, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    paths.append(save_figure(fig, out / f"{name}_error.png"))
    return paths


# ----------------------------------------------------------------------------- entry
def add_arguments(parser: argparse.ArgumentParser, root: Path) -> None:
    parser.add_argument("--systems", default=None, help=f"comma-separated, from {', '.join(SYSTEMS)} (default: both)")
    parser.add_argument("--models", default=None, help=f"comma-separated, from {', '.join(MODELS)} (default: all)")
    parser.add_argument("--device", default="cpu", help="device of the networks (cpu, cuda)")
    parser.add_argument("--no-plots", dest="plots", action="store_false", help="skip the figures")


def _names(text: str | None, valid: tuple[str, ...], default: list[str], what: str) -> list[str]:
    names = default if text is None else [v.strip() for v in text.split(",") if v.strip()]
    bad = [n for n in names if n not in valid]
    if bad or not names:
        raise ConfigError(f"--{what} {text!r}: unknown or empty {bad}; choose from {', '.join(valid)}")
    return list(dict.fromkeys(names))


def run(
    preset: str,
    out: str | Path,
    executor: str | cf.Executor = "serial",
    *,
    systems: str | None = None,
    models: str | None = None,
    device: str = "cpu",
    plots: bool = True,
    resume: bool = False,
    command: str = "sciml bench koopman_stnn",
    progress: bool = False,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Run every (system, model) cell; writes ``out/koopman_stnn.json`` (after every cell) and the two PNGs."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}' (--preset); choose from {', '.join(PRESETS)}")
    cfg = PRESETS[preset]
    chosen_systems = _names(systems, SYSTEMS, list(SYSTEMS), "systems")
    chosen_models = _names(models, MODELS, cfg["models"], "models")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = NAME if preset == "quick" else f"{NAME}_{preset}"
    cells = [Cell((s, m), run_cell, (s, m, cfg, MODEL_PARAMS[s].get(m, {}), device))
             for s in chosen_systems for m in chosen_models]  # fmt: skip
    order = [c.key for c in cells]
    settings = {"preset": preset, **cfg, "systems": chosen_systems, "models": chosen_models, "device": device,
                "model_params": MODEL_PARAMS, "horizons": list(HORIZONS), "lv_initial": list(LV_INITIAL),
                "lv_points_per_period": LV_POINTS_PER_PERIOD}  # fmt: skip
    print(f"{NAME}: preset {preset}, {len(chosen_systems)} systems x {len(chosen_models)} models, executor {executor}",
          flush=True)  # fmt: skip
    with open_executor(executor) as (pool, spec):
        results = Results(out / f"{name}.json", NAME, key=("system", "model"), settings=json.loads(json.dumps(settings)),
                          command=command, environment={"torch_threads": 1, "executor": spec}, resume=resume)  # fmt: skip

        scaling: list[dict[str, Any]] = []  # filled after the cells

        def write(complete: bool = False) -> dict[str, Any]:
            rows = results.rows(order)
            return results.write(order=order, complete=complete, rows=rows, targets=targets(rows, scaling),
                                 layer_scaling=scaling)  # fmt: skip

        def show(r: dict[str, Any]) -> None:
            print(f"  {r['system']:15s} {r['model']:11s} params {r['params']:6d}  NRMSE@1 {_fmt(r['nrmse_1'])}  "
                  f"NRMSE@5 {_fmt(r['nrmse_5'])}  fit {r['fit_seconds']:.1f} s", flush=True)  # fmt: skip

        failure = lambda cell, message: print(f"  {cell.label} FAILED {message}", flush=True)  # noqa: E731
        report = run_cells(cells, pool, results, time_limit=time_limit, progress=progress, on_row=show,
                           on_failure=failure, write=write)  # fmt: skip
    scaling.extend(layer_scaling(cfg["layer_sizes"], int(cfg["repeats"]), device))
    payload = write(complete=not results.failures(order) and not report.not_started)
    print()
    print(markdown(payload["rows"]))
    print(scaling_markdown(scaling))
    print(format_targets(payload["targets"]))
    pngs = plot(payload["rows"], out, name, f"StNN vs dense, HAVOK, SINDy; preset {preset}, one CPU thread") \
        if plots and payload["rows"] else []  # fmt: skip
    print(f"wrote {results.path}{''.join(', ' + p.name for p in pngs)}")
    return payload
