"""Our vanilla PINN against DeepXDE's on viscous Burgers (nu = 0.01/pi) and the heat equation.

The same problem, network, points, optimizer and iterations on both sides:

* network: a tanh MLP ``2 -> 46 -> 46 -> 46 -> 1`` (Glorot normal, zero biases); DeepXDE's
  ``FNN`` starts from *our* initial weights (copied layer by layer), so the two runs differ
  only in how the libraries compute and train, not in the draw of the initialization;
* points: one fixed set drawn once by our Sobol sampler (interior, initial, the two ends
  at the same times), given to DeepXDE as ``anchors`` (``num_domain = num_boundary =
  num_initial = 0``); both take the PDE residual over all of them, as DeepXDE does, the
  boundary and initial conditions on their subsets;
* loss: the sum of the mean squares of the residual, the initial and the boundary terms,
  weights 1 (ours weights its two ends 1/2 each, so that its boundary term is DeepXDE's
  mean over both ends);
* optimizer: Adam, ``lr = 1e-3``, the same iterations, float32, one torch thread.

Scored by the relative L2 error on 256 x 100 points of the (x, t) plane against the exact
solution (Cole-Hopf for Burgers: :func:`sciml.numerics.pde.burgers_cole_hopf`), and by the
training wall time per iteration (DeepXDE's ``model.train(iterations=N, display_every=N)``;
our ``Trainer.fit``), repeated over seeds: min / median / max of the ratios ours / DeepXDE
(one seed's pair of runs back to back, so a change of load on a shared machine falls on
both). Targets: error ratio <= 1.1, time-per-iteration ratio <= 1.0.

DeepXDE is an optional peer (``pip install -e '.[peers]'``, backend ``DDE_BACKEND=pytorch``,
set here before it is imported); without it the benchmark writes its JSON with the reason
and no rows.

Usage::

    sciml bench pinn_deepxde --preset quick
    sciml bench pinn_deepxde --preset full
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml.bench._executors import open_executor
from sciml.bench._results import Results
from sciml.bench._runner import Cell, run_cells
from sciml.bench._tables import format_spread, format_targets, markdown_table
from sciml.core.plotting import save_figure
from sciml.pinn import PROBLEMS, CollocationSampler, PINNLoss, PINNNet
from sciml.training import Trainer

__all__ = ["PRESETS", "run", "run_pair", "deepxde_missing"]

NAME = "pinn_deepxde"
CASES = ("burgers", "heat")
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"iterations": {"burgers": 300, "heat": 300}, "seeds": 2,
              "points": {"burgers": [1000, 80, 80], "heat": [500, 50, 50]}},
    "tiny": {"iterations": {"burgers": 20, "heat": 20}, "seeds": 1, "reordered": False,
             "points": {"burgers": [64, 16, 16], "heat": [64, 16, 16]}},
    "full": {"iterations": {"burgers": 3000, "heat": 2000}, "seeds": 3,
             "points": {"burgers": [2540, 160, 80], "heat": [1000, 100, 100]}},
}  # fmt: skip
SIZES = {"width": 46, "depth": 3, "lr": 1e-3, "nx": 256, "nt": 100}
NU = {"burgers": 0.01 / math.pi, "heat": 0.1}


def deepxde_missing() -> str | None:
    """Why DeepXDE cannot run here (None when it can)."""
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    try:
        import deepxde
    except ImportError as exc:
        return f"deepxde is not installed ({exc}); pip install -e '.[peers]'"
    if deepxde.backend.backend_name != "pytorch":
        return f"deepxde runs on backend {deepxde.backend.backend_name!r}; set DDE_BACKEND=pytorch"
    return None


def _problem(case: str):
    return PROBLEMS.get(case)(nu=NU[case])


def _points(case: str, preset: str, seed: int) -> dict[str, torch.Tensor]:
    interior, initial, boundary = PRESETS[preset]["points"][case]
    problem = _problem(case)
    batch = CollocationSampler(problem, interior=interior, initial=initial, boundary=boundary, seed=seed)(0)
    # the residual over every point, as DeepXDE takes it over all its training points
    batch["interior"] = torch.cat([batch["interior"], batch["initial"], batch["boundary_lower"],
                                   batch["boundary_upper"]])  # fmt: skip
    return {k: v.to(torch.float32) for k, v in batch.items()}


def _grid(case: str) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    problem = _problem(case)
    lo, hi = problem.space[0]
    x = torch.linspace(lo, hi, SIZES["nx"], dtype=torch.float64)
    t = torch.linspace(*problem.time, SIZES["nt"], dtype=torch.float64)
    return x, t, problem.exact_on(x, t).numpy()


def _relative_l2(pred: np.ndarray, exact: np.ndarray) -> float:
    return float(np.linalg.norm(pred - exact) / np.linalg.norm(exact))


def _ours(case: str, preset: str, seed: int, model: PINNNet, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    iterations = PRESETS[preset]["iterations"][case]
    objective = PINNLoss(_problem(case), weights={"boundary": 0.5}, seed=seed)
    trainer = Trainer(model, objective, optimizer="adam", lr=SIZES["lr"], weight_decay=0.0, max_steps=iterations,
                      steps_per_epoch=iterations, progress=False, seed=seed)  # fmt: skip
    start, cpu = time.perf_counter(), time.process_time()
    trainer.fit(lambda step: batch)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    x, t, exact = _grid(case)
    pred = objective.grid_prediction(model, x.float(), t.float()).double().numpy()
    return {"relative_l2": _relative_l2(pred, exact), "seconds": seconds, "seconds_per_iteration": seconds / iterations,
            "cpu_seconds_per_iteration": cpu / iterations}  # fmt: skip


def _reordered(batch: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """The same points with the interior set in another order: the same loss, other float32 round-off."""
    order = torch.randperm(batch["interior"].shape[0], generator=torch.Generator().manual_seed(1000 + seed))
    return {**batch, "interior": batch["interior"][order]}


def _deepxde(case: str, preset: str, seed: int, ours: PINNNet, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    import deepxde as dde

    dde.config.set_default_float("float32")
    dde.config.set_random_seed(seed)
    iterations = PRESETS[preset]["iterations"][case]
    nu = NU[case]
    problem = _problem(case)
    lo, hi = problem.space[0]
    geometry = dde.geometry.GeometryXTime(dde.geometry.Interval(lo, hi), dde.geometry.TimeDomain(*problem.time))

    def pde(x, y):
        y_t = dde.grad.jacobian(y, x, i=0, j=1)
        y_xx = dde.grad.hessian(y, x, i=0, j=0)
        if case == "burgers":
            return y_t + y * dde.grad.jacobian(y, x, i=0, j=0) - nu * y_xx
        return y_t - nu * y_xx

    if case == "burgers":
        start_value = lambda x: -np.sin(np.pi * x[:, 0:1])  # noqa: E731
    else:
        start_value = lambda x: np.sin(np.pi * x[:, 0:1])  # noqa: E731
    conditions = [
        dde.icbc.DirichletBC(geometry, lambda x: 0.0, lambda _, on_boundary: on_boundary),
        dde.icbc.IC(geometry, start_value, lambda _, on_initial: on_initial),
    ]
    anchors = batch["interior"].numpy().astype(np.float32)
    data = dde.data.TimePDE(geometry, pde, conditions, num_domain=0, num_boundary=0, num_initial=0, anchors=anchors,
                            num_test=256)  # fmt: skip
    net = dde.nn.FNN([2] + [SIZES["width"]] * SIZES["depth"] + [1], "tanh", "Glorot normal")
    linears = [m for m in ours.net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():  # DeepXDE starts from our initial weights
        for theirs, mine in zip(net.linears, linears, strict=True):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    model = dde.Model(data, net)
    model.compile("adam", lr=SIZES["lr"])
    start, cpu = time.perf_counter(), time.process_time()
    model.train(iterations=iterations, display_every=iterations, verbose=0)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    x, t, exact = _grid(case)
    tt, xx = np.meshgrid(t.numpy(), x.numpy(), indexing="ij")
    pred = model.predict(np.stack([xx.ravel(), tt.ravel()], 1).astype(np.float32)).reshape(exact.shape)
    counts = {"residual": len(anchors), "boundary": int(data.num_bcs[0]), "initial": int(data.num_bcs[1])}
    return {"relative_l2": _relative_l2(pred.astype(np.float64), exact), "seconds": seconds,
            "seconds_per_iteration": seconds / iterations, "cpu_seconds_per_iteration": cpu / iterations,
            "points": counts}  # fmt: skip


def run_pair(case: str, seed: int, preset: str, reordered: bool | None = None) -> list[dict[str, Any]]:
    """One seed: DeepXDE's PINN then ours from the same initial weights and points; a row each.

    With ``reordered`` (the preset's ``reordered``, default on) a third row, ``sciml_reordered``:
    our PINN again on the same points in another order. The loss is the same function; only
    the float32 round-off of its sums differs, so the two sciml rows measure how far round-off
    alone moves the trained error, the yardstick for the sciml / DeepXDE error ratio.
    """
    torch.set_num_threads(1)
    batch = _points(case, preset, seed)
    torch.manual_seed(seed)
    initial = PINNNet(2, 1, width=SIZES["width"], depth=SIZES["depth"])
    state = {k: v.clone() for k, v in initial.state_dict().items()}
    theirs = _deepxde(case, preset, seed, initial, batch)
    iterations = PRESETS[preset]["iterations"][case]
    rows = [{"library": "deepxde", **theirs, "iterations": iterations}]
    runs = [("sciml", batch)]
    if PRESETS[preset].get("reordered", True) if reordered is None else reordered:
        runs.append(("sciml_reordered", _reordered(batch, seed)))
    for library, points in runs:
        model = PINNNet(2, 1, width=SIZES["width"], depth=SIZES["depth"])
        model.load_state_dict(state)
        rows.insert(len(rows) - 1, {"library": library, **_ours(case, preset, seed, model, points),
                                    "iterations": iterations})  # fmt: skip
    return rows


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per case: the errors and times of both libraries and the ratios ours / DeepXDE over seeds."""
    rows = []
    for case in CASES:
        pairs: dict[int, dict[str, dict[str, Any]]] = {}
        for r in runs:
            if r["case"] == case:
                pairs.setdefault(r["seed"], {})[r["library"]] = r
        pairs = {s: p for s, p in pairs.items() if {"sciml", "deepxde"} <= set(p)}
        if not pairs:
            continue
        seeds = sorted(pairs)

        def get(lib: str, key: str, pairs=pairs, seeds=seeds) -> list[float]:
            return [pairs[s][lib][key] for s in seeds]

        error_ratio = [a / b for a, b in zip(get("sciml", "relative_l2"), get("deepxde", "relative_l2"))]
        speed = "seconds_per_iteration"
        time_ratio = [a / b for a, b in zip(get("sciml", speed), get("deepxde", speed))]
        row = {
            "case": case, "seeds": seeds, "iterations": pairs[seeds[0]]["sciml"]["iterations"],
            "sciml_relative_l2": get("sciml", "relative_l2"), "deepxde_relative_l2": get("deepxde", "relative_l2"),
            "sciml_ms_per_iteration": [1e3 * v for v in get("sciml", "seconds_per_iteration")],
            "deepxde_ms_per_iteration": [1e3 * v for v in get("deepxde", "seconds_per_iteration")],
            "error_ratio": error_ratio, "time_ratio": time_ratio,
            "error_ratio_median": statistics.median(error_ratio), "time_ratio_median": statistics.median(time_ratio),
        }  # fmt: skip
        cpu = "cpu_seconds_per_iteration"
        if all(cpu in pairs[s][lib] for s in seeds for lib in ("sciml", "deepxde")):
            row["cpu_time_ratio"] = [a / b for a, b in zip(get("sciml", cpu), get("deepxde", cpu))]
            row["cpu_time_ratio_median"] = statistics.median(row["cpu_time_ratio"])
        if all("sciml_reordered" in pairs[s] for s in seeds):
            # round-off alone: our error with the points in another order, over our error
            row["sciml_reordered_relative_l2"] = get("sciml_reordered", "relative_l2")
            row["roundoff_ratio"] = [a / b for a, b in zip(row["sciml_reordered_relative_l2"], row["sciml_relative_l2"])]
        rows.append(row)
    return rows


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        e, t = r["error_ratio_median"], r["time_ratio_median"]
        out.append({"name": f"{r['case']}_error_ratio_sciml_over_deepxde (median over {len(r['seeds'])} seeds)",
                    "measured": round(e, 4), "goal": "<= 1.1", "met": bool(e <= 1.1)})  # fmt: skip
        out.append({"name": f"{r['case']}_time_per_iteration_ratio_sciml_over_deepxde (median)",
                    "measured": round(t, 4), "goal": "<= 1.0", "met": bool(t <= 1.0)})  # fmt: skip
        if "cpu_time_ratio_median" in r:
            c = r["cpu_time_ratio_median"]
            out.append({"name": f"{r['case']}_cpu_time_per_iteration_ratio_sciml_over_deepxde (median)",
                        "measured": round(c, 4), "goal": "reported", "met": True})  # fmt: skip
        if "roundoff_ratio" in r:
            spread = max(abs(math.log(v)) for v in r["roundoff_ratio"])
            out.append({"name": f"{r['case']}_roundoff_error_ratio_sciml_reordered_over_sciml (max of |log|, as a ratio)",
                        "measured": round(math.exp(spread), 4), "goal": "reported", "met": True})  # fmt: skip
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ["case", "iterations", "sciml rel. L2", "DeepXDE rel. L2", "error ratio", "sciml ms/it", "DeepXDE ms/it",
            "time ratio"]  # fmt: skip
    head += ["CPU-time ratio", "round-off ratio"]
    lines = [[r["case"], r["iterations"], format_spread(r["sciml_relative_l2"], ".3g"),
              format_spread(r["deepxde_relative_l2"], ".3g"), format_spread(r["error_ratio"], ".3f"),
              format_spread(r["sciml_ms_per_iteration"], ".1f"), format_spread(r["deepxde_ms_per_iteration"], ".1f"),
              format_spread(r["time_ratio"], ".3f"),
              format_spread(r["cpu_time_ratio"], ".3f") if "cpu_time_ratio" in r else "-",
              format_spread(r["roundoff_ratio"], ".3f") if "roundoff_ratio" in r else "-"] for r in rows]  # fmt: skip
    return markdown_table(head, lines) + (
        "\n\n(min / median / max over seeds; time ratios of wall-clock and of process CPU time; round-off ratio: "
        "our error with the same points in another order over our error)"
    )


def plot(rows: list[dict[str, Any]], out: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6))
    for i, r in enumerate(rows):
        for ax, key in zip(axes, ("error_ratio", "time_ratio")):
            ax.plot([i] * len(r[key]), r[key], "o", color="C0")
    for ax, label, goal in zip(axes, ("relative L2: sciml / DeepXDE", "time per iteration: sciml / DeepXDE"),
                               (1.1, 1.0)):  # fmt: skip
        ax.axhline(goal, color="C3", ls="--", lw=0.8, label=f"target {goal}")
        ax.set_xticks(range(len(rows)), [r["case"] for r in rows])
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out / f"{NAME}.png")


def run(
    preset: str,
    out: str | Path,
    executor: str | cf.Executor = "serial",
    *,
    resume: bool = False,
    command: str = "sciml bench pinn_deepxde",
    progress: bool = False,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Every (case, seed) pair of runs; writes ``out/pinn_deepxde.json`` as each finishes, then the PNG."""
    cfg = PRESETS[preset]
    out = Path(out)
    settings = {"preset": preset, **cfg, **SIZES, "nu": NU}
    missing = deepxde_missing()
    with open_executor(executor) as (pool, spec):
        results = Results(out / f"{NAME}.json", NAME, key=("case", "seed"), settings=settings, command=command,
                          environment={"torch_threads": 1, "executor": spec}, resume=resume,
                          rows_field="runs")  # fmt: skip
        if missing is not None:
            print(f"{NAME}: skipped: {missing}")
            return results.write(complete=False, rows=[], skipped=missing)
        import deepxde

        results.extra["deepxde_version"] = deepxde.__version__
        cells = [Cell((case, seed), run_pair, (case, seed, preset)) for case in CASES for seed in range(cfg["seeds"])]
        order = [c.key for c in cells]

        def write(complete: bool = False) -> dict[str, Any]:
            rows = summarize(results.rows(order))
            return results.write(order=order, complete=complete, rows=rows, targets=targets(rows))

        def show(r: dict[str, Any]) -> None:
            print(f"  {r['case']:8s} seed {r['seed']} {r['library']:15s} relative L2 {r['relative_l2']:.3e}, "
                  f"{1e3 * r['seconds_per_iteration']:.1f} ms / iteration", flush=True)  # fmt: skip

        print(f"{NAME}: preset {preset}, {len(cells)} pairs, deepxde {deepxde.__version__}", flush=True)
        run_cells(cells, pool, results, time_limit=time_limit, progress=progress, on_row=show, write=write)
    payload = write(complete=not results.failures())
    print()
    print(markdown(payload["rows"]))
    print()
    print(format_targets(payload["targets"]))
    if payload["rows"]:
        plot(payload["rows"], out, f"{preset} preset, CPU 1 thread, DeepXDE {results.extra['deepxde_version']}")
    return payload
