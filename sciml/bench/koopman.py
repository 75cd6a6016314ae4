"""Koopman learners against PyDMD on the same data and dictionary: eigenvalues and fit time.

Cases (data generated here, no download):

``edmd_henon_M{m}``
    ``m + 1`` states of one trajectory of the Henon map (``a = 1.4, b = 0.3``, after 1000
    transient steps): ``m`` snapshot pairs on the strange attractor. The dictionary is every
    monomial of total degree <= 3 (10 functions): ``sciml_edmd`` is EDMD on ``monomial:3``,
    ``sciml_kedmd`` kernel EDMD with ``polynomial:3`` (``(1 + x.y)^3``, the same span),
    ``pydmd_edmd`` PyDMD's (kernel) ``EDMD`` with ``kernel_metric="poly"``, degree 3,
    ``gamma = 1``, ``coef0 = 1`` (the same kernel) and ``svd_rank = 10``.
``hankel_sines_M{m}``
    one scalar signal, the sum of five sines (frequencies 0.5, 0.9, 1.3, 2.1, 3.7, ``dt = 0.2``),
    ``m`` samples; 40 delays (8 time units), rank 10: ``sciml_hankel_dmd`` (``HankelDMD(delays=40, rank=10)``)
    and ``pydmd_hankel_dmd`` (``HankelDMD(svd_rank=10, d=40)``). The exact eigenvalues
    are ``exp(+-i w dt)``.

Each cell fits ``repeats`` times and records the median fit time and the eigenvalues; the
rows compare each method's eigenvalues with PyDMD's (best one-to-one matching) and with the
exact ones where known. PyDMD's EDMD forms ``[M, M]`` kernel matrices and runs a general
eigendecomposition of the Gram matrix (``O(M^3)``): the presets keep its ``M`` to a few
thousand; ours are also timed at 1e4 and 1e5 pairs. HAVOK is not compared: PyDMD's is the
continuous-time model (finite-difference derivatives of the delay coordinates), ours the
discrete-time one, so their eigenvalues differ by construction.

Usage::

    sciml bench koopman --preset quick

Writes ``OUT/koopman.json`` and ``koopman.png`` (``koopman_PRESET.json`` / ``.png`` for presets
other than quick, as the operators benchmark does). Needs PyDMD (``pip install 'sciml[peers]'``).
"""

from __future__ import annotations

import concurrent.futures as cf
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
from sciml.core.plotting import save_figure

__all__ = ["PRESETS", "run", "henon_trajectory", "sines"]

NAME = "koopman"
FREQUENCIES = (0.5, 0.9, 1.3, 2.1, 3.7)
DT = 0.2
DELAYS, HANKEL_RANK = 40, 10
EIG_GOAL = 1e-8

PRESETS: dict[str, dict[str, Any]] = {
    # a few minutes on one CPU thread
    "quick": {"edmd_sizes": [500, 2000], "edmd_ours_only": [10_000, 100_000], "hankel_sizes": [10_000, 100_000],
              "repeats": 3},
    "full": {"edmd_sizes": [1000, 4000], "edmd_ours_only": [10_000, 100_000], "hankel_sizes": [10_000, 100_000],
             "repeats": 5},
    # seconds: the tests' run
    "tiny": {"edmd_sizes": [200], "edmd_ours_only": [], "hankel_sizes": [2000], "repeats": 1},
}


def henon_trajectory(n_states: int, a: float = 1.4, b: float = 0.3) -> np.ndarray:
    """``n_states`` consecutive states ``[n_states, 2]`` of the Henon map on its attractor."""
    x, y = 0.1, 0.1
    for _ in range(1000):
        x, y = 1 - a * x * x + y, b * x
    out = np.empty((n_states, 2))
    for k in range(n_states):
        out[k] = x, y
        x, y = 1 - a * x * x + y, b * x
    return out


def sines(n: int) -> np.ndarray:
    """The scalar signal ``sum_j sin(w_j t + j)`` at ``t = k dt`` -> ``[n]``."""
    t = np.arange(n) * DT
    return sum(np.sin(w * t + j) for j, w in enumerate(FREQUENCIES))


def _pydmd():
    try:
        import pydmd
    except ImportError:
        raise ConfigError("the koopman benchmark compares with PyDMD, which is not installed; pip install 'sciml[peers]'") from None
    return pydmd


def _timed(fit, repeats: int) -> tuple[float, Any]:
    import warnings

    times, result = [], None
    for _ in range(repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # PyDMD's condition-number notes on Hankel data
            start = time.perf_counter()
            result = fit()
            times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(case: str, method: str, size: int, repeats: int) -> dict[str, Any]:
    """One cell: fit ``method`` on the case's data ``repeats`` times; median seconds and eigenvalues."""
    from sciml.koopman import EDMD, HankelDMD, KernelEDMD

    if case.startswith("edmd"):
        states = henon_trajectory(size + 1)
        if method == "sciml_edmd":
            seconds, est = _timed(lambda: EDMD("monomial:3").fit(states), repeats)
            lam = est.eigenvalues_
        elif method == "sciml_kedmd":
            seconds, est = _timed(lambda: KernelEDMD("polynomial:3").fit(states), repeats)
            lam = est.eigenvalues_
        else:
            pydmd = _pydmd()
            seconds, est = _timed(
                lambda: pydmd.EDMD(svd_rank=10, kernel_metric="poly",
                                   kernel_params={"degree": 3, "gamma": 1.0, "coef0": 1.0}).fit(states.T),
                repeats,
            )
            lam = np.asarray(est.eigs)
    else:
        signal = sines(size)
        if method == "sciml_hankel_dmd":
            seconds, est = _timed(lambda: HankelDMD(delays=DELAYS, rank=HANKEL_RANK).fit(signal[:, None], dt=DT), repeats)
            lam = est.eigenvalues_
        else:
            pydmd = _pydmd()
            seconds, est = _timed(lambda: pydmd.HankelDMD(svd_rank=HANKEL_RANK, d=DELAYS).fit(signal[None]),
                                  repeats)
            lam = np.asarray(est.eigs)
    lam = np.asarray(lam, dtype=np.complex128)
    return {"snapshot_pairs": size if case.startswith("edmd") else size - DELAYS, "fit_seconds": round(seconds, 6),
            "eigenvalues": [[float(z.real), float(z.imag)] for z in lam], "repeats": repeats}


def _match(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    if a.shape != b.shape:
        return float("inf")
    cost = np.abs(a[:, None] - b[None])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].max())


def _cells(cfg: dict[str, Any]) -> list[Cell]:
    cells = []
    for m in cfg["edmd_sizes"]:
        for method in ("sciml_edmd", "sciml_kedmd", "pydmd_edmd"):
            cells.append(Cell((f"edmd_henon_M{m}", method), measure, (f"edmd_henon_M{m}", method, m, cfg["repeats"])))
    for m in cfg["edmd_ours_only"]:
        cells.append(Cell((f"edmd_henon_M{m}", "sciml_edmd"), measure, (f"edmd_henon_M{m}", "sciml_edmd", m, cfg["repeats"])))
    for m in cfg["hankel_sizes"]:
        for method in ("sciml_hankel_dmd", "pydmd_hankel_dmd"):
            cells.append(Cell((f"hankel_sines_M{m}", method), measure, (f"hankel_sines_M{m}", method, m, cfg["repeats"])))
    return cells


def summarize(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows with the eigenvalue differences and time ratios filled in; the targets."""
    by = {(r["case"], r["method"]): r for r in rows}
    out, targets = [], []
    exact = np.exp(1j * np.array([s * w for w in FREQUENCIES for s in (1, -1)]) * DT)
    for r in rows:
        r = dict(r)
        lam = np.array([complex(*p) for p in r["eigenvalues"]])
        peer_name = "pydmd_edmd" if r["case"].startswith("edmd") else "pydmd_hankel_dmd"
        peer = by.get((r["case"], peer_name))
        if peer is not None and r["method"] != peer_name:
            plam = np.array([complex(*p) for p in peer["eigenvalues"]])
            r["eig_max_diff_vs_pydmd"] = _match(lam, plam)
            r["fit_time_ratio_vs_pydmd"] = round(r["fit_seconds"] / peer["fit_seconds"], 4)
            targets.append({"name": f"{r['method']}_eigenvalues_vs_pydmd_{r['case']}", "measured": r["eig_max_diff_vs_pydmd"],
                            "goal": f"<= {EIG_GOAL:g}", "met": r["eig_max_diff_vs_pydmd"] <= EIG_GOAL})
            if r["method"] in ("sciml_edmd", "sciml_hankel_dmd"):
                targets.append({"name": f"{r['method']}_fit_time_ratio_vs_pydmd_{r['case']}",
                                "measured": r["fit_time_ratio_vs_pydmd"], "goal": "<= 1.0",
                                "met": r["fit_time_ratio_vs_pydmd"] <= 1.0})
        if r["case"].startswith("hankel"):
            r["eig_max_diff_vs_exact"] = _match(lam, exact)
        out.append(r)
    return out, targets


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ["case", "method", "pairs", "fit s (median)", "ratio vs PyDMD", "max eig diff vs PyDMD", "vs exact"]
    lines = []
    for r in rows:
        lines.append([
            r["case"], r["method"], str(r["snapshot_pairs"]), f"{r['fit_seconds']:.4g}",
            f"{r['fit_time_ratio_vs_pydmd']:.3g}" if "fit_time_ratio_vs_pydmd" in r else "",
            f"{r['eig_max_diff_vs_pydmd']:.1e}" if "eig_max_diff_vs_pydmd" in r else "",
            f"{r['eig_max_diff_vs_exact']:.1e}" if "eig_max_diff_vs_exact" in r else "",
        ])
    return markdown_table(head, lines)


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    from sciml.core.plotting import label_axes, new_figure

    fig, axes = new_figure(1, 2, figsize=(10.5, 4.0))
    for family, ax in zip(("edmd", "hankel"), axes[0]):
        methods = sorted({r["method"] for r in rows if r["case"].startswith(family)})
        for k, method in enumerate(methods):
            pts = sorted((r["snapshot_pairs"], r["fit_seconds"]) for r in rows
                         if r["case"].startswith(family) and r["method"] == method)
            if pts:
                ax.loglog(*zip(*pts), marker="o", ls="-" if method.startswith("sciml") else "--", color=f"C{k}",
                          label=method)
        label_axes(ax, "snapshot pairs", "fit seconds (median)",
                   "EDMD, monomials <= 3 / polynomial kernel, Henon" if family == "edmd"
                   else "Hankel-DMD, 40 delays, rank 10, five sines")
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def run(preset: str, out: str | Path, executor: str | cf.Executor = "serial", *, resume: bool = False,
        command: str = "sciml bench koopman", progress: bool = False, time_limit: float | None = None) -> dict[str, Any]:
    """Run the benchmark; writes ``out/koopman.json`` (after every cell) and ``koopman.png``."""
    _pydmd()  # missing peer: a one-line error before any work
    cfg = PRESETS[preset]
    out = Path(out)
    name = NAME if preset == "quick" else f"{NAME}_{preset}"
    cells = _cells(cfg)
    settings = {"preset": preset, **cfg, "delays": DELAYS, "hankel_rank": HANKEL_RANK}
    with open_executor(executor) as (pool, spec):
        results = Results(out / f"{name}.json", NAME, key=("case", "method"), settings=settings, command=command,
                          environment={"executor": spec, "pydmd": _pydmd().__version__ if hasattr(_pydmd(), "__version__") else None},
                          resume=resume)

        def write(complete: bool = False) -> dict[str, Any]:
            rows, targets = summarize(results.rows([c.key for c in cells]))
            return results.write(order=[c.key for c in cells], complete=complete, rows=rows, targets=targets)

        run_cells(cells, pool, results, time_limit=time_limit, progress=progress, write=write)
    payload = write(complete=not results.failures())
    print(markdown(payload["rows"]))
    print()
    print(format_targets(payload["targets"]))
    plot(payload["rows"], out / f"{name}.png", f"sciml.koopman vs PyDMD, preset {preset}, one CPU process")
    print(f"wrote {results.path} and {name}.png")
    return payload
