"""Forecast a chaotic system with a few registered forecasters and see how long each stays valid.

    python examples/chaos_forecast.py --out runs/chaos_forecast [--system Lorenz] [--models persistence,nvar,esn]

Integrates the system with the ``chaos`` generator (100 points per dominant period), trains
each forecaster on 10 periods, forecasts 6 periods from the period before them, and writes
``OUT/chaos_forecast.json`` (valid prediction time in Lyapunov times, sMAPE, D_stsp, D_H per
model) and ``OUT/chaos_forecast.png`` (forecast vs truth and the free-running attractor).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sciml.core.io import write_json
from sciml.core.plotting import _plt, _save
from sciml.core.registry import FORECASTERS
from sciml.forecast import chaos_data
from sciml.forecast import metrics as M


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/chaos_forecast"))
    parser.add_argument("--system", default="Lorenz")
    parser.add_argument("--models", default="persistence,ar,nvar,esn")
    parser.add_argument("--points-per-period", type=int, default=100)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    data = chaos_data(args.system, points_per_period=args.points_per_period, train_periods=10, val_periods=1,
                      test_periods=6)  # fmt: skip
    truth = data.test[0]
    lead = np.arange(1, len(truth) + 1) * data.dt / data.lyapunov_time
    summary, forecasts = {}, {}
    for name in args.models.split(","):
        model = FORECASTERS.get(name)(seed=0).fit(data.train)
        pred = model.forecast(data.context[0], len(truth))
        forecasts[name] = pred
        summary[name] = {
            "vpt_smape": M.valid_prediction_time(truth, pred, dt=data.dt, lyapunov_time=data.lyapunov_time),
            "vpt_normalized": M.valid_prediction_time(
                truth, pred, dt=data.dt, lyapunov_time=data.lyapunov_time, form="normalized", scale=data.scale
            ),
            "smape": M.smape(truth, pred),
            "d_stsp": M.state_space_divergence(truth, pred),
            "d_h": M.power_spectrum_distance(truth, pred),
        }
        print(f"{name:12s} VPT {summary[name]['vpt_smape']:.2f} Lyapunov times, sMAPE {summary[name]['smape']:.1f}")
    write_json(args.out / "chaos_forecast.json", {"system": args.system, "models": summary})

    plt = _plt()
    fig, axes = plt.subplots(len(forecasts), 2, figsize=(9, 1.9 * len(forecasts)), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1]})  # fmt: skip
    for row, (name, pred) in zip(axes, forecasts.items()):
        row[0].plot(lead, truth[:, 0], "k-", lw=1, label="truth")
        row[0].plot(lead, np.clip(pred[:, 0], -1e3, 1e3), "C1--", lw=1, label=name)
        row[0].set_ylim(truth[:, 0].min() * 1.5 - 1, truth[:, 0].max() * 1.5 + 1)
        row[0].axvline(summary[name]["vpt_smape"], color="C3", lw=0.8)
        row[0].legend(fontsize=7, loc="upper left")
        row[1].plot(truth[:, 0], truth[:, 1], "k-", lw=0.4)
        row[1].plot(pred[:, 0], pred[:, 1], "C1-", lw=0.4)
        pad = 0.3 * np.ptp(truth[:, :2], axis=0)
        row[1].set_xlim(truth[:, 0].min() - pad[0], truth[:, 0].max() + pad[0])
        row[1].set_ylim(truth[:, 1].min() - pad[1], truth[:, 1].max() + pad[1])
        row[1].set_xticks([])
        row[1].set_yticks([])
    axes[-1, 0].set_xlabel("lead time (Lyapunov times); red line: valid prediction time")
    axes[0, 0].set_title(f"{args.system}: first coordinate", fontsize=9)
    axes[0, 1].set_title("attractor (x0, x1)", fontsize=9)
    fig.tight_layout()
    _save(fig, args.out / "chaos_forecast.png")


if __name__ == "__main__":
    main()
