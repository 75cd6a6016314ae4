"""Chaotic forecasting benchmark: systems x forecasters x seeds on the dysts catalogue (``sciml bench chaos``).

Each cell (system, model, seed) integrates the system with our ``chaos`` generator
(:func:`sciml.forecast.chaos_data`: ``points_per_period`` samples per dominant period;
train / validation / test windows in time; optional observation noise), fits the
registered forecaster (:data:`sciml.core.registry.FORECASTERS`) on the training window,
forecasts the whole test window from the ``context`` states before it, and scores it:

* the dysts metric set on the test window (:func:`sciml.forecast.metrics.forecast_metrics`),
* valid prediction time in Lyapunov times of our reference exponent, in both forms
  (``vpt_smape``: the sMAPE of the forecast up to each lead time <= 30 on the 0..200 scale;
  ``vpt_normalized``: the per-step normalized error <= 0.5 with the training std),
* long-term statistics of the free-running forecast (Hess et al. 2023): ``d_stsp`` (binned
  KL of occupancy against the clean trajectory over all windows), ``d_h`` (smoothed power
  spectra against the test window) and ``correlation_dimension_error``.

Every cell is a :class:`~sciml.bench.Cell` of :func:`~sciml.bench.run_cells` on any
executor (``--executor process:2`` by default, ``dask:ADDRESS`` for a cluster): it is written
to ``OUT/chaos.json`` (under ``cells``) and ``OUT/cells.jsonl`` as it finishes; a restart
with ``--resume`` skips finished cells; ``--time-limit`` bounds each cell; a failed cell is
recorded with its message and the sweep goes on. A results folder written with other
settings is refused with a one-line error. Then ``OUT/leaderboard.md`` and
``OUT/leaderboard.csv`` (median and quartiles per model) and the plots
``chaos_vpt.png``, ``chaos_vpt_lyapunov.png``, ``chaos_forecast.png``, ``chaos_attractor.png``.

Usage::

    sciml bench chaos --preset quick
    sciml bench chaos --preset default --systems all --models esn,nvar,nbeats --seeds 1 --executor process:2

See ``docs/chaos_benchmark.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from sciml.bench._executors import open_executor
from sciml.bench._results import Results
from sciml.bench._runner import Cell, run_cells
from sciml.bench._tables import format_targets, markdown_table
from sciml.core.errors import ConfigError
from sciml.core.io import atomic_path
from sciml.core.registry import FORECASTERS

__all__ = ["PRESETS", "PEER_PAIRS", "run", "run_cell", "leaderboard", "parse_names", "peer_ratios", "targets"]

NAME = "chaos"
DEFAULT_PRESET = "quick"
DEFAULT_EXECUTOR = "process:2"
FIRST_SLICE = ("persistence", "climatology", "ar", "nvar", "esn", "lstm", "nbeats")
KOOPMAN_MODELS = ("koopman_edmd", "koopman_kedmd", "koopman_resdmd", "koopman_hankel_dmd", "koopman_havok",
                  "deep_koopman", "stnn", "delay_mlp")
ALL_MODELS = (*FIRST_SLICE, "nhits", "tcn", "transformer", "sindy", "node", *KOOPMAN_MODELS, "plrnn_gtf", "plrnn_agtf",
              "plrnn_bptt")
QUICK_SYSTEMS = ("Lorenz", "Rossler", "Thomas", "Halvorsen", "SprottB")
GTF_MODELS = ("plrnn_gtf", "plrnn_agtf", "plrnn_bptt", "lstm", "esn")
# ours -> the peer configured like it (sciml.forecast._peers; darts and reservoirpy, pip install 'sciml[peers]')
PEER_PAIRS = {
    "nbeats": "darts_nbeats",
    "nhits": "darts_nhits",
    "tcn": "darts_tcn",
    "transformer": "darts_transformer",
    "esn": "rpy_esn",
}
PEER_TARGETS = ("nbeats", "esn")  # the issue's: our N-BEATS and ESN within 10 % of the peers' median sMAPE
PEER_RATIO_GOAL = 1.1
PEER_STEPS = 200  # every network of the peers preset: the quick preset's N-BEATS budget

# Data and training budgets. "default" is the budget of the full sweep on a 2-core machine;
# "large" the bigger-machine one. Model parameters not named keep the forecaster's defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "systems": list(QUICK_SYSTEMS),
        "models": list(FIRST_SLICE),
        "seeds": 1,
        "data": {"points_per_period": 50, "train_periods": 10.0, "val_periods": 1.0, "test_periods": 6.0},
        "model_params": {"lstm": {"steps": 200}, "nbeats": {"steps": 200}, "esn": {"units": 300}},
        "time_limit": 300.0,
    },
    "default": {
        "systems": "all",
        "models": list(ALL_MODELS),
        "seeds": 1,
        "data": {"points_per_period": 100, "train_periods": 10.0, "val_periods": 2.0, "test_periods": 10.0,
                 "test_lyapunov_times": 15.0, "max_test_periods": 100.0},
        "model_params": {
            "lstm": {"steps": 400},
            "nbeats": {"steps": 500},
            "nhits": {"steps": 500},
            "tcn": {"steps": 300},
            "transformer": {"steps": 300},
            "node": {"steps": 300},
        },
        "time_limit": 600.0,
    },
    "large": {
        "systems": "all",
        "models": list(ALL_MODELS),
        "seeds": 3,
        "data": {"points_per_period": 100, "train_periods": 20.0, "val_periods": 2.0, "test_periods": 10.0,
                 "test_lyapunov_times": 15.0, "max_test_periods": 100.0},
        "model_params": {
            "lstm": {"steps": 3000, "hidden": 128},
            "nbeats": {"steps": 3000, "width": 256, "blocks": 4},
            "esn": {"units": 1000},
            "nhits": {"steps": 3000},
            "tcn": {"steps": 3000, "channels": 64},
            "transformer": {"steps": 3000, "width": 64},
            "node": {"steps": 3000, "hidden": 128},
        },
        "time_limit": 3600.0,
    },
    # what `make demo` runs after the quickstart: seconds per cell, under a minute in all
    "demo": {
        "systems": ["Lorenz", "Rossler", "Thomas"],
        "models": ["persistence", "ar", "nvar", "esn"],
        "seeds": 1,
        "data": {"points_per_period": 50, "train_periods": 10.0, "val_periods": 1.0, "test_periods": 6.0},
        "model_params": {"esn": {"units": 300}},
        "time_limit": 120.0,
    },
    # the GTF paper's comparison (Hess et al. 2023) in the benchmark: Lorenz-63 with 5 % observation
    # noise, the GTF / aGTF shallow PLRNNs against the same PLRNN trained by BPTT, the LSTM and the
    # reservoir computer, 5 seeds; long test windows (40 periods, about 36 Lyapunov times) so the
    # free runs' attractor statistics (d_stsp, d_h) are measured. 25 000 steps for the PLRNNs (at
    # 3000 their free runs settle on a periodic orbit; at 15 000 seed 0 reached d_stsp 2.7, d_h 0.14):
    # about 80 minutes of one CPU thread.
    "gtf": {
        "systems": ["Lorenz"],
        "models": list(GTF_MODELS),
        "seeds": 5,
        "noise": 0.05,
        "data": {"points_per_period": 50, "train_periods": 80.0, "val_periods": 2.0, "test_periods": 40.0},
        "model_params": {"plrnn_gtf": {"steps": 25000}, "plrnn_agtf": {"steps": 25000}, "plrnn_bptt": {"steps": 25000},
                         "lstm": {"steps": 1000}},
        "time_limit": 1800.0,
    },
}
# ours and the peers on the quick preset's systems, data and seed; every network PEER_STEPS Adam steps, both ESNs 300 units
PRESETS["peers"] = {
    "systems": list(QUICK_SYSTEMS),
    "models": [m for pair in PEER_PAIRS.items() for m in pair],
    "seeds": 1,
    "data": dict(PRESETS["quick"]["data"]),
    "model_params": {
        **{m: {"steps": PEER_STEPS} for ours, peer in PEER_PAIRS.items() if ours != "esn" for m in (ours, peer)},
        "esn": {"units": 300},
        "rpy_esn": {"units": 300},
    },
    "time_limit": 600.0,
}
SETTINGS_NAMES = ("rich", "limited")
LIMITED_TRAIN_PERIODS = 2.0  # the data-limited setting: a fifth of the rich setting's training window


# ----------------------------------------------------------------------------- one cell
def _data_settings(preset: str, setting: str, noise: float) -> dict[str, Any]:
    data = dict(PRESETS[preset]["data"])
    if setting == "limited":
        data["train_periods"] = LIMITED_TRAIN_PERIODS
    data["noise"] = float(noise)
    return data


def _fit_forecast(system: str, model: str, seed: int, data_settings: dict, params: dict, device: str):
    from sciml.forecast import chaos_data

    data = chaos_data(system, seed=seed, **data_settings)
    cls = FORECASTERS.get(model)
    names = cls.param_names()
    kwargs = {k: v for k, v in params.items() if k in names}
    if "device" in names:
        kwargs["device"] = device
    if "seed" in names:
        kwargs["seed"] = seed
    forecaster = cls(**kwargs)
    start = time.process_time()
    forecaster.fit(data.train, dt=data.dt)
    fit_cpu = time.process_time() - start
    horizon = data.test.shape[1]
    start = time.process_time()
    pred = np.asarray(forecaster.forecast(data.context, horizon))
    return data, forecaster, pred, fit_cpu, time.process_time() - start


def run_cell(system: str, model: str, seed: int, data_settings: dict, params: dict, device: str = "cpu") -> dict:
    """Fit ``model`` on ``system``'s training window, forecast its test window and score it (one row)."""
    import torch

    from sciml.forecast import metrics as M

    torch.set_num_threads(1)
    data, _, pred, fit_cpu, forecast_cpu = _fit_forecast(system, model, seed, data_settings, params, device)
    truth = data.test[0]
    guess = pred[0]
    finite = bool(np.all(np.isfinite(guess)))
    row: dict[str, Any] = {
        "dimension": data.dim,
        "lyapunov_max": data.lyapunov_max,
        "lyapunov_times_in_test": data.test.shape[1] * data.dt * data.lyapunov_max,
        "fit_cpu_seconds": round(fit_cpu, 3),
        "forecast_cpu_seconds": round(forecast_cpu, 3),
        "finite": finite,
    }
    if not finite:  # a forecast that blew up is valid until its first non-finite step and scores nothing else
        guess = np.where(np.isfinite(guess), guess, 1e300)
    lam_dt = data.dt * data.lyapunov_max  # Lyapunov times per step (0 for a non-positive exponent)
    with np.errstate(all="ignore"):
        row["vpt_smape"] = M.valid_steps(M.cumulative_smape_curve(truth, guess), 30.0) * lam_dt
        row["vpt_normalized"] = M.valid_steps(M.normalized_error_curve(truth, guess, data.scale), 0.5) * lam_dt
        if finite:
            row.update({k: _num(v) for k, v in M.forecast_metrics(truth, guess, random_state=seed).items()})
            clean = np.concatenate([data.train[0], data.val[0], truth]) if data.settings["noise"] == 0 else truth
            row["d_stsp"] = _num(M.state_space_divergence(clean, guess, n_bins=30))
            row["d_h"] = _num(M.power_spectrum_distance(truth, guess))
            row["correlation_dimension_error"] = _num(M.correlation_dimension_error(truth, guess))
    return row


def _num(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


# ----------------------------------------------------------------------------- names
def parse_names(text: str | list[str] | None, default: list[str] | str, what: str) -> list[str]:
    """``all`` / ``A,B`` / a list -> names, checked: an unknown one is a one-line error with close matches."""
    from sciml.systems import list_systems
    from sciml.systems._catalogue import check_name

    value = default if text is None else text
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if what == "system":
        if value == ["all"]:
            return list_systems()
        for v in value:
            check_name(v)
    else:
        if value == ["all"]:
            return FORECASTERS.names()
        for v in value:
            FORECASTERS.get(v)
    if not value:
        raise ConfigError(f"--{what}s is empty; pass 'all' or comma-separated names")
    return list(dict.fromkeys(value))


def check_peer_libraries(models: list[str]) -> None:
    """A one-line ConfigError, before any work, if a peer forecaster's library (``peer_library``) is missing."""
    import importlib.util

    for model in models:
        library = getattr(FORECASTERS.get(model), "peer_library", None)
        if library is None:
            continue
        try:
            found = importlib.util.find_spec(library) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken install
            found = False
        if not found:
            raise ConfigError(
                f"--models names {model}, which needs the peer library {library}, not installed; "
                "pip install 'sciml[peers]' or leave the peers out of --models"
            )


# ----------------------------------------------------------------------------- summaries
LEADERBOARD_METRICS = (
    "vpt_smape",
    "vpt_normalized",
    "smape",
    "nrmse",
    "d_stsp",
    "d_h",
    "correlation_dimension_error",
    "fit_cpu_seconds",
)


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, med, q3 = np.quantile(np.asarray(values, dtype=np.float64), [0.25, 0.5, 0.75])
    return float(q1), float(med), float(q3)


def leaderboard(cells: list[dict[str, Any]], failed: list[dict[str, Any]], models: list[str]) -> list[dict[str, Any]]:
    """One row per model: cells, failures, and median / q1 / q3 of each of :data:`LEADERBOARD_METRICS`.

    Sorted by median ``vpt_smape`` (best first). A metric a cell could not score (a
    forecast that blew up) is left out of that metric's quartiles; ``finite`` counts them.
    """
    rows = []
    for model in models:
        mine = [c for c in cells if c["model"] == model]
        row: dict[str, Any] = {
            "model": model,
            "cells": len(mine),
            "failed": sum(1 for f in failed if f.get("model") == model),
            "finite": sum(1 for c in mine if c.get("finite")),
        }
        for metric in LEADERBOARD_METRICS:
            vals = [c[metric] for c in mine if isinstance(c.get(metric), (int, float)) and c[metric] is not None]
            q1, med, q3 = _quartiles(vals) if vals else (None, None, None)
            row[f"{metric}_median"], row[f"{metric}_q1"], row[f"{metric}_q3"] = med, q1, q3
        rows.append(row)
    rows.sort(key=lambda r: -(r["vpt_smape_median"] if r["vpt_smape_median"] is not None else -1.0))
    return rows


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3g}"


def leaderboard_markdown(rows: list[dict[str, Any]]) -> str:
    header = [
        "model",
        "cells",
        "VPT sMAPE (LT)",
        "VPT norm. (LT)",
        "sMAPE",
        "D_stsp",
        "D_H",
        "corr. dim. err.",
        "fit CPU s",
    ]
    body = []
    for r in rows:
        cell = lambda m, r=r: f"{_fmt(r[m + '_median'])} [{_fmt(r[m + '_q1'])}, {_fmt(r[m + '_q3'])}]"  # noqa: E731
        body.append(
            [
                r["model"],
                f"{r['cells']}"
                + (f" ({r['cells'] - r['finite']} diverged)" if r["cells"] > r["finite"] else "")
                + (f" ({r['failed']} failed)" if r["failed"] else ""),
                cell("vpt_smape"),
                cell("vpt_normalized"),
                cell("smape"),
                cell("d_stsp"),
                cell("d_h"),
                cell("correlation_dimension_error"),
                _fmt(r["fit_cpu_seconds_median"]),
            ]
        )
    return markdown_table(header, body) + "\n\nmedian [first quartile, third quartile] over (system, seed) cells\n"


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _write_leaderboard(out: Path, rows: list[dict[str, Any]]) -> None:
    _write_text(out / "leaderboard.md", leaderboard_markdown(rows))
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _write_text(out / "leaderboard.csv", buf.getvalue())


def _write_jsonl(path: Path, cells: list[dict[str, Any]]) -> None:
    _write_text(path, "".join(json.dumps(c, sort_keys=True) + "\n" for c in cells))


def peer_ratios(rows: list[dict[str, Any]], metric: str = "smape") -> list[dict[str, Any]]:
    """Ours against its peer, per pair of :data:`PEER_PAIRS` whose two leaderboard rows hold ``metric``'s median.

    ``ratio = median(ours) / median(peer)`` of ``metric`` (lower is better, so a ratio
    ``<= PEER_RATIO_GOAL`` means ours is within 10 % of the peer or better); a pair missing a
    row or a median (every forecast diverged), or whose peer median is 0, is left out. The
    medians are over the finite forecasts (the leaderboard's; its ``finite`` counts them).
    """
    by_model = {r["model"]: r for r in rows}
    out = []
    for ours, peer in PEER_PAIRS.items():
        a, b = (by_model.get(m, {}).get(f"{metric}_median") for m in (ours, peer))
        if a is None or b is None or not b > 0:
            continue
        out.append({"ours": ours, "peer": peer, "metric": metric, "ours_median": a, "peer_median": b, "ratio": a / b})
    return out


def targets(rows: list[dict[str, Any]], preset: str) -> list[dict[str, Any]]:
    """The issue's targets this run measures (the others are listed as not measured in the docs).

    The best median VPT; with both rows of a pair of :data:`PEER_TARGETS` present, ours
    against the peer's median sMAPE (ratio ours / peer ``<= 1.1``). The ``gtf`` preset has its
    own (:func:`gtf_targets`); the ``peers`` preset only the peer ratios.
    """
    if preset == "gtf":
        return gtf_targets(rows)
    best = max((r["vpt_smape_median"] for r in rows if r["vpt_smape_median"] is not None), default=None)
    out = []
    if best is not None and preset != "peers":
        out.append({
            "name": f"best_median_vpt_smape_lyapunov_times ({preset} preset)",
            "measured": round(best, 3),
            "goal": ">= 5 at the default budget",
            "met": bool(best >= 5),
        })
    for pair in peer_ratios(rows):
        if pair["ours"] in PEER_TARGETS:
            out.append(
                {
                    "name": f"our {pair['ours']} median sMAPE within 10% of {pair['peer']} (ratio ours / peer, "
                    f"{preset} preset; lower is better)",
                    "measured": round(pair["ratio"], 3),
                    "goal": f"<= {PEER_RATIO_GOAL}",
                    "met": bool(pair["ratio"] <= PEER_RATIO_GOAL),
                    "ours_median_smape": round(pair["ours_median"], 3),
                    "peer_median_smape": round(pair["peer_median"], 3),
                }
            )
    return out


def gtf_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GTF-shPLRNN's median d_stsp and d_h below each control's (BPTT PLRNN, LSTM, ESN), one target each.

    ``measured`` is the ratio of the GTF model's median to the control's (below 1 is better);
    a model with no scored cell makes its targets unmeasured (``met`` False, ``measured`` None).
    """
    by = {r["model"]: r for r in rows}
    out = []
    for gtf in ("plrnn_gtf", "plrnn_agtf"):
        for control in ("plrnn_bptt", "lstm", "esn"):
            for metric in ("d_stsp", "d_h"):
                a = by.get(gtf, {}).get(f"{metric}_median")
                b = by.get(control, {}).get(f"{metric}_median")
                ratio = None if a is None or b is None or not b > 0 else round(a / b, 4)
                out.append({"name": f"{gtf}_median_{metric}_over_{control}'s (Lorenz, 5 % noise)", "measured": ratio,
                            "goal": "< 1", "met": bool(ratio is not None and ratio < 1)})
    return out


# ----------------------------------------------------------------------------- plots
def plot(cells: list[dict[str, Any]], rows: list[dict[str, Any]], out: Path, example: dict[str, Any]) -> list[Path]:
    """The four figures (VPT distribution, VPT vs lambda_max, example forecast, free-running attractor)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sciml.core.plotting import save_figure

    models = [r["model"] for r in rows]
    paths = []
    fig, ax = plt.subplots(figsize=(1.2 * len(models) + 2, 3.4))
    data = [[c["vpt_smape"] for c in cells if c["model"] == m and c.get("vpt_smape") is not None] for m in models]
    ax.boxplot([d if d else [np.nan] for d in data], tick_labels=models)
    ax.set_ylabel("valid prediction time (Lyapunov times)")
    ax.set_title("VPT (sMAPE <= 30) per model over systems and seeds", fontsize=9)
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    paths.append(save_figure(fig, out / "chaos_vpt.png"))

    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for m in models:
        pts = [(c["lyapunov_max"], c["vpt_smape"]) for c in cells if c["model"] == m and c.get("vpt_smape") is not None]
        if pts:
            ax.scatter(*zip(*pts), s=14, label=m, alpha=0.8)
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_xlabel("largest Lyapunov exponent (our reference)")
    ax.set_ylabel("VPT (Lyapunov times)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(save_figure(fig, out / "chaos_vpt_lyapunov.png"))

    if example:
        t = example["t"]
        truth = example["truth"]
        fig, axes = plt.subplots(len(example["forecasts"]), 1, figsize=(6.4, 1.3 * len(example["forecasts"]) + 0.6),
                                 sharex=True, squeeze=False)  # fmt: skip
        for ax, (m, pred) in zip(axes[:, 0], example["forecasts"].items()):
            ax.plot(t, truth[:, 0], "k-", lw=1, label="truth")
            ax.plot(t, pred[:, 0], "C1--", lw=1, label=m)
            ax.set_ylabel(m, fontsize=8)
            ax.set_ylim(truth[:, 0].min() - 0.5 * np.ptp(truth[:, 0]), truth[:, 0].max() + 0.5 * np.ptp(truth[:, 0]))
        axes[-1, 0].set_xlabel("lead time (Lyapunov times)")
        axes[0, 0].set_title(f"{example['system']}: first coordinate, forecast vs truth", fontsize=9)
        fig.tight_layout()
        paths.append(save_figure(fig, out / "chaos_forecast.png"))

        n = len(example["forecasts"]) + 1
        cols = min(n, 4)
        fig, axes = plt.subplots(-(-n // cols), cols, figsize=(2.6 * cols, 2.5 * -(-n // cols)), squeeze=False)
        items = [("truth", truth), *example["forecasts"].items()]
        for ax, (m, series) in zip(axes.flat, items):
            color = "k" if m == "truth" else "C0"
            ax.plot(series[:, 0], series[:, 1 % series.shape[1]], lw=0.5, color=color)
            ax.plot(series[-1, 0], series[-1, 1 % series.shape[1]], "o", ms=3, color=color)  # a fixed point shows
            ax.set_xlim(truth[:, 0].min() - 0.3 * np.ptp(truth[:, 0]), truth[:, 0].max() + 0.3 * np.ptp(truth[:, 0]))
            ax.set_ylim(truth[:, 1].min() - 0.3 * np.ptp(truth[:, 1]), truth[:, 1].max() + 0.3 * np.ptp(truth[:, 1]))
            ax.set_title(m, fontsize=8)
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[len(items) :]:
            ax.axis("off")
        fig.suptitle(f"{example['system']}: free-running forecasts over the test window", fontsize=9)
        fig.tight_layout()
        paths.append(save_figure(fig, out / "chaos_attractor.png"))
    return paths


def _example(system: str, models: list[str], data_settings: dict, model_params: dict, device: str) -> dict:
    """Forecasts of every model on one system (seed 0), refitted here for the figures."""
    forecasts, truth, t = {}, None, None
    for m in models:
        try:
            data, _, pred, _, _ = _fit_forecast(system, m, 0, data_settings, model_params.get(m, {}), device)
        except Exception:  # noqa: BLE001 - a model that fails here failed in its cell too, where it is recorded
            continue
        truth = data.test[0]
        t = np.arange(1, truth.shape[0] + 1) * data.dt * data.lyapunov_max
        forecasts[m] = np.clip(pred[0], -1e6, 1e6)
    return {} if truth is None else {"system": system, "truth": truth, "t": t, "forecasts": forecasts}


# ----------------------------------------------------------------------------- entry
def add_arguments(parser: argparse.ArgumentParser, root: Path) -> None:
    parser.add_argument("--systems", default=None, help="'all' or comma-separated dysts names (default: the preset's)")
    parser.add_argument("--models", default=None, help="'all' or comma-separated forecaster names (sciml list)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per (system, model) (default: the preset's)")
    parser.add_argument("--setting", choices=SETTINGS_NAMES, default="rich", help="rich data, or data-limited")
    parser.add_argument("--noise", type=float, default=None,
                        help="observation noise, a fraction of the std (default: the preset's, 0 but for gtf's 0.05)")
    parser.add_argument("--device", default="cpu", help="device of the forecasters (cpu, cuda)")
    parser.add_argument("--no-plots", dest="plots", action="store_false", help="skip the figures")


def run(
    preset: str,
    out: str | Path,
    executor: str | cf.Executor = DEFAULT_EXECUTOR,
    *,
    systems: str | list[str] | None = None,
    models: str | list[str] | None = None,
    seeds: int | None = None,
    setting: str = "rich",
    noise: float | None = None,
    device: str = "cpu",
    plots: bool = True,
    resume: bool = False,
    command: str = "sciml bench chaos",
    progress: bool = False,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Run every (system, model, seed) cell; writes ``out/chaos.json`` and ``out/cells.jsonl`` as each finishes."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}' (--preset); choose from {', '.join(PRESETS)}")
    cfg = PRESETS[preset]
    systems = parse_names(systems, cfg["systems"], "system")
    models = parse_names(models, cfg["models"], "model")
    check_peer_libraries(models)
    n_seeds = cfg["seeds"] if seeds is None else int(seeds)
    if n_seeds < 1:
        raise ConfigError(f"--seeds {n_seeds} must be >= 1")
    if setting not in SETTINGS_NAMES:
        raise ConfigError(f"--setting {setting!r} is unknown; choose from {', '.join(SETTINGS_NAMES)}")
    noise = float(cfg.get("noise", 0.0)) if noise is None else noise
    if not noise >= 0:
        raise ConfigError(f"--noise {noise} must be >= 0 (a fraction of the std, 0.05 is 5 %)")
    data_settings = _data_settings(preset, setting, noise)
    model_params = cfg["model_params"]
    limit = cfg["time_limit"] if time_limit is None else time_limit
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    match = {"preset": preset, "setting": setting, "data": data_settings, "model_params": model_params,
             "device": device}  # fmt: skip
    settings = {**match, "systems": systems, "models": models, "seeds": n_seeds, "time_limit_s": limit}
    path = out / f"{NAME}.json"
    cells = [
        Cell((s, m, seed), run_cell, (s, m, seed, data_settings, model_params.get(m, {}), device))
        for s in systems
        for seed in range(n_seeds)
        for m in models
    ]
    order = [c.key for c in cells]
    print(f"{NAME}: preset {preset} ({setting}), {len(systems)} systems x {len(models)} models x {n_seeds} seeds "
          f"= {len(cells)} cells, executor {executor}", flush=True)  # fmt: skip
    start = time.perf_counter()
    with open_executor(executor) as (pool, spec):
        results = Results(
            path,
            NAME,
            key=("system", "model", "seed"),
            settings=settings,
            command=command,
            environment={"torch_threads": 1, "executor": spec},
            resume=resume,
            match=match,
            rows_field="cells",
            keep_other_settings=True,
        )

        def write(complete: bool = False) -> dict[str, Any]:
            done = results.rows(order)
            rows = leaderboard(done, results.failures(order), models)
            payload = results.write(
                order=order,
                complete=complete,
                wall_seconds=round(time.perf_counter() - start, 1),
                rows=rows,
                targets=targets(rows, preset),
            )
            _write_jsonl(out / "cells.jsonl", done)
            return payload

        def show(r: dict[str, Any]) -> None:
            print(f"  {r['system']:24s} {r['model']:12s} seed {r['seed']}: VPT {r['vpt_smape']:.2f} LT, "
                  f"fit {r['fit_cpu_seconds']:.1f} CPU s", flush=True)  # fmt: skip

        failure = lambda cell, message: print(f"  {cell.label} FAILED {message}", flush=True)  # noqa: E731
        report = run_cells(cells, pool, results, time_limit=limit, progress=progress, on_row=show,
                           on_failure=failure, write=write)  # fmt: skip
    payload = write(complete=not results.failures(order) and not report.not_started)
    rows = payload["rows"]
    _write_leaderboard(out, rows)
    print()
    print(leaderboard_markdown(rows))
    print(format_targets(payload["targets"]))
    pngs: list[Path] = []
    if plots and payload["cells"]:
        example = _example(systems[0], models, data_settings, model_params, device)
        pngs = plot(payload["cells"], rows, out, example)
    print(f"wrote {path}, cells.jsonl, leaderboard.md/.csv{', ' if pngs else ''}{', '.join(p.name for p in pngs)} "
          f"({payload['wall_seconds']:.0f} s; {len(report.skipped)} cells resumed, {len(report.failed)} failed)")  # fmt: skip
    return payload
