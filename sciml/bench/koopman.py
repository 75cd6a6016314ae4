"""Koopman learners against PyDMD and kooplearn on the same data and dictionary: eigenvalues and fit time.

Cases (data generated here, no download):

``edmd_henon_M{m}``
    ``m + 1`` states of one trajectory of the Henon map (``a = 1.4, b = 0.3``, after 1000
    transient steps): ``m`` snapshot pairs on the strange attractor. The dictionary is every
    monomial of total degree <= 3 (10 functions): ``sciml_edmd`` is EDMD on ``monomial:3``,
    ``sciml_kedmd`` kernel EDMD with ``polynomial:3`` (``(1 + x.y)^3``, the same span),
    ``pydmd_edmd`` PyDMD's (kernel) ``EDMD`` with ``kernel_metric="poly"``, degree 3,
    ``gamma = 1``, ``coef0 = 1`` (the same kernel) and ``svd_rank = 10``, and ``kooplearn_kedmd``
    kooplearn's ``KernelRidge`` (the principal-component estimator, ``reduced_rank=False``, no
    Tikhonov term, 10 components) with the same kernel. PyDMD's EDMD forms ``[M, M]`` kernel
    matrices and runs a general eigendecomposition (``O(M^3)`` time, ``O(M^2)`` memory: 80 GB
    at ``M = 1e5``), so at 1e4 and 1e5 pairs the peer row is ``pydmd_dmd_lifted``: PyDMD's
    ``DMD(svd_rank=10)`` on the lifted snapshots (the same 10 monomials, the lifting timed
    inside), which is EDMD in PyDMD's own terms.
``kedmd_gauss_henon_M{m}``
    the same Henon data, Gaussian kernel of bandwidth 1 (``gaussian:1``), 20 principal
    components: ``sciml_kedmd`` against kooplearn's ``KernelRidge(kernel="rbf", gamma=0.5,
    n_components=20, reduced_rank=False, alpha=None)``; the leading 10 eigenvalues (by modulus)
    compared to 1e-6.
``hankel_sines_M{m}``
    one scalar signal, the sum of five sines (frequencies 0.5, 0.9, 1.3, 2.1, 3.7, ``dt = 0.2``),
    ``m`` samples; 40 delays (8 time units), rank 10: ``sciml_hankel_dmd`` (``HankelDMD(delays=40, rank=10)``)
    and ``pydmd_hankel_dmd`` (``HankelDMD(svd_rank=10, d=40)``). The exact eigenvalues
    are ``exp(+-i w dt)``.
``havok_lorenz_M{m}``
    the ``x`` coordinate of the Lorenz system (``sigma = 10, rho = 28, beta = 8/3``, classical
    RK4 at ``dt = 0.01`` after 20 time units of transient), ``m`` samples, 100 delays, rank 15
    (the setting of Brunton et al. 2017): ``sciml_havok`` (``HAVOK(delays=100, rank=15)``, its
    continuous-time ``generator_eigenvalues_``) against ``pydmd_havok``
    (``HAVOK(svd_rank=15, delays=100)``, continuous time, second-order differences).

Each cell fits ``repeats`` times and records the median fit time, the spread (min, max) and
the eigenvalues; the rows compare each method's eigenvalues with the peer's (best one-to-one
matching) and with the exact ones where known.

Usage::

    sciml bench koopman --preset quick

Writes ``OUT/koopman.json`` and ``koopman.png`` (``koopman_PRESET.json`` / ``.png`` for presets
other than quick, as the operators benchmark does). Needs PyDMD and kooplearn (``pip install 'sciml[peers]'``).
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

__all__ = ["PRESETS", "run", "henon_trajectory", "lorenz_x", "sines"]

NAME = "koopman"
FREQUENCIES = (0.5, 0.9, 1.3, 2.1, 3.7)
DT = 0.2
DELAYS, HANKEL_RANK = 40, 10
EIG_GOAL = 1e-8
KOOPLEARN_GOAL, KOOPLEARN_LEADING = 1e-6, 10
HAVOK_DELAYS, HAVOK_RANK, LORENZ_DT = 100, 15, 0.01

PRESETS: dict[str, dict[str, Any]] = {
    # a few minutes on one CPU thread
    "quick": {"edmd_sizes": [500, 2000], "edmd_lifted_sizes": [10_000, 100_000], "hankel_sizes": [10_000, 100_000],
              "kedmd_sizes": [500, 2000], "havok_sizes": [10_000, 100_000], "repeats": 5},
    "full": {"edmd_sizes": [1000, 4000], "edmd_lifted_sizes": [10_000, 100_000], "hankel_sizes": [10_000, 100_000],
             "kedmd_sizes": [1000, 4000], "havok_sizes": [10_000, 100_000], "repeats": 7},
    # seconds: the tests' run
    "tiny": {"edmd_sizes": [200], "edmd_lifted_sizes": [], "hankel_sizes": [2000], "kedmd_sizes": [200],
             "havok_sizes": [2000], "repeats": 1},
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


def lorenz_x(n: int) -> np.ndarray:
    """``n`` samples of the Lorenz ``x`` coordinate (classical RK4, ``dt = 0.01``, 20 time units of transient)."""

    def f(u: np.ndarray) -> np.ndarray:
        x, y, z = u
        return np.array([10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z])

    u, h = np.array([-8.0, 8.0, 27.0]), LORENZ_DT
    out = np.empty(n)
    for k in range(-int(20 / h), n):
        if k >= 0:
            out[k] = u[0]
        k1 = f(u)
        k2 = f(u + 0.5 * h * k1)
        k3 = f(u + 0.5 * h * k2)
        u = u + h / 6 * (k1 + 2 * k2 + 2 * k3 + f(u + h * k3))
    return out


def _peer(module: str, label: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"the koopman benchmark compares with {label}, which is not installed; "
                          "pip install 'sciml[peers]'") from None


def _pydmd():
    return _peer("pydmd", "PyDMD")


def _kooplearn():
    return _peer("kooplearn", "kooplearn")


def _kooplearn_eigenvalues(states: np.ndarray, kernel: dict[str, Any], rank: int) -> np.ndarray:
    from kooplearn.kernel import KernelRidge

    model = KernelRidge(n_components=rank, reduced_rank=False, alpha=None, eigen_solver="dense", **kernel).fit(states)
    lam = model.eig()
    return np.asarray(lam[0] if isinstance(lam, tuple) else lam)


def _pydmd_lifted(states: np.ndarray) -> np.ndarray:
    from sciml.koopman import make_dictionary

    psi = make_dictionary("monomial:3").fit(states, 2).transform(states[:, None, :])
    return np.asarray(_pydmd().DMD(svd_rank=10).fit(psi.T).eigs)


def _timed(fit, repeats: int) -> tuple[list[float], Any]:
    import warnings

    times, result = [], None
    for _ in range(repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # PyDMD's condition-number notes on Hankel data
            start = time.perf_counter()
            result = fit()
            times.append(time.perf_counter() - start)
    return times, result


def _fit(case: str, method: str, size: int, repeats: int) -> tuple[list[float], np.ndarray, int]:
    """Fit ``method`` on the case's data ``repeats`` times: the seconds, the eigenvalues, the snapshot pairs."""
    from sciml.koopman import EDMD, HAVOK, HankelDMD, KernelEDMD

    if case.startswith(("edmd", "kedmd")):
        states = henon_trajectory(size + 1)
        gauss = case.startswith("kedmd")
        fits = {
            "sciml_edmd": lambda: EDMD("monomial:3").fit(states).eigenvalues_,
            "sciml_kedmd": lambda: KernelEDMD("gaussian:1" if gauss else "polynomial:3", rank=20 if gauss else None)
            .fit(states).eigenvalues_,
            "pydmd_edmd": lambda: np.asarray(
                _pydmd().EDMD(svd_rank=10, kernel_metric="poly",
                              kernel_params={"degree": 3, "gamma": 1.0, "coef0": 1.0}).fit(states.T).eigs),
            "pydmd_dmd_lifted": lambda: _pydmd_lifted(states),
            "kooplearn_kedmd": lambda: _kooplearn_eigenvalues(
                states, {"kernel": "rbf", "gamma": 0.5} if gauss
                else {"kernel": "poly", "degree": 3, "gamma": 1.0, "coef0": 1.0}, 20 if gauss else 10),
        }
        pairs = size
    elif case.startswith("hankel"):
        signal = sines(size)
        fits = {
            "sciml_hankel_dmd": lambda: HankelDMD(delays=DELAYS, rank=HANKEL_RANK).fit(signal[:, None], dt=DT).eigenvalues_,
            "pydmd_hankel_dmd": lambda: np.asarray(_pydmd().HankelDMD(svd_rank=HANKEL_RANK, d=DELAYS).fit(signal[None]).eigs),
        }
        pairs = size - DELAYS
    else:
        signal = lorenz_x(size)
        fits = {
            "sciml_havok": lambda: HAVOK(delays=HAVOK_DELAYS, rank=HAVOK_RANK).fit(signal[:, None], dt=LORENZ_DT)
            .generator_eigenvalues_,
            "pydmd_havok": lambda: np.asarray(_pydmd().HAVOK(svd_rank=HAVOK_RANK, delays=HAVOK_DELAYS).fit(signal, LORENZ_DT).eigs),
        }
        pairs = size - HAVOK_DELAYS + 1
    times, lam = _timed(fits[method], repeats)
    return times, np.asarray(lam, dtype=np.complex128), pairs


def measure(case: str, method: str, size: int, repeats: int) -> dict[str, Any]:
    """One cell: fit ``method`` on the case's data ``repeats`` times; median seconds, spread and eigenvalues."""
    times, lam, pairs = _fit(case, method, size, repeats)
    return {"snapshot_pairs": pairs, "fit_seconds": round(statistics.median(times), 6),
            "fit_seconds_min": round(min(times), 6), "fit_seconds_max": round(max(times), 6),
            "eigenvalues": [[float(z.real), float(z.imag)] for z in lam], "repeats": repeats}


def _match(a: np.ndarray, b: np.ndarray, leading: int | None = None) -> float:
    """The largest distance of the best one-to-one matching of ``a`` and ``b`` (equal sizes).

    With ``leading = k`` the whole sets are matched and the distance is taken over the ``k``
    eigenvalues of ``a`` largest in modulus: choosing the leading ``k`` of each set apart
    would compare different eigenvalues whenever two moduli near the cut are close.
    """
    from scipy.optimize import linear_sum_assignment

    if a.shape != b.shape:
        return float("inf")
    cost = np.abs(a[:, None] - b[None])
    rows, cols = linear_sum_assignment(cost)
    if leading is not None:
        keep = np.isin(rows, np.argsort(-np.abs(a), kind="stable")[:leading])
        rows, cols = rows[keep], cols[keep]
    return float(cost[rows, cols].max())


# (case prefix, preset key, our methods, peer methods): every method of a case is one cell
_CASES = (
    ("edmd_henon", "edmd_sizes", ("sciml_edmd", "sciml_kedmd"), ("pydmd_edmd", "kooplearn_kedmd")),
    ("edmd_henon", "edmd_lifted_sizes", ("sciml_edmd",), ("pydmd_dmd_lifted",)),
    ("kedmd_gauss_henon", "kedmd_sizes", ("sciml_kedmd",), ("kooplearn_kedmd",)),
    ("hankel_sines", "hankel_sizes", ("sciml_hankel_dmd",), ("pydmd_hankel_dmd",)),
    ("havok_lorenz", "havok_sizes", ("sciml_havok",), ("pydmd_havok",)),
)
# ours -> (peer, eigenvalue goal, compare the leading k only, time ratio target?)
_PEERS = {
    "pydmd_edmd": (EIG_GOAL, None, True), "pydmd_dmd_lifted": (EIG_GOAL, None, True),
    "kooplearn_kedmd": (KOOPLEARN_GOAL, KOOPLEARN_LEADING, False), "pydmd_hankel_dmd": (EIG_GOAL, None, True),
    "pydmd_havok": (EIG_GOAL, None, True),
}


def _cells(cfg: dict[str, Any]) -> list[Cell]:
    cells = []
    for prefix, key, ours, peers in _CASES:
        for m in cfg[key]:
            case = f"{prefix}_M{m}"
            for method in ours + peers:
                cells.append(Cell((case, method), measure, (case, method, m, cfg["repeats"])))
    return list({c.key: c for c in cells}.values())


def summarize(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows with the eigenvalue differences and time ratios filled in; the targets."""
    by: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["case"], {})[r["method"]] = r
    out, targets = [], []
    exact = np.exp(1j * np.array([s * w for w in FREQUENCIES for s in (1, -1)]) * DT)
    for r in rows:
        r = dict(r)
        lam = np.array([complex(*p) for p in r["eigenvalues"]])
        if r["method"].startswith("sciml"):
            for peer_name, peer in by.get(r["case"], {}).items():
                if peer_name not in _PEERS or peer_name.startswith("sciml"):
                    continue
                goal, leading, timed = _PEERS[peer_name]
                if peer_name == "kooplearn_kedmd" and r["method"] != "sciml_kedmd":
                    continue
                if peer_name == "pydmd_edmd" and r["method"] == "sciml_kedmd":
                    timed = False  # kernel EDMD is O(M^3) by design; the time target is the dictionary EDMD's
                plam = np.array([complex(*p) for p in peer["eigenvalues"]])
                diff = _match(lam, plam, leading)
                ratio = round(r["fit_seconds"] / peer["fit_seconds"], 4)
                r[f"eig_max_diff_vs_{peer_name}"] = diff
                r[f"fit_time_ratio_vs_{peer_name}"] = ratio
                what = "eigenvalues" if leading is None else f"leading_{leading}_eigenvalues"
                targets.append({"name": f"{r['method']}_{what}_vs_{peer_name}_{r['case']}", "measured": diff,
                                "goal": f"<= {goal:g}", "met": diff <= goal})
                if timed:
                    targets.append({"name": f"{r['method']}_fit_time_ratio_vs_{peer_name}_{r['case']}",
                                    "measured": ratio, "goal": "<= 1.0", "met": ratio <= 1.0})
        if r["case"].startswith("hankel"):
            r["eig_max_diff_vs_exact"] = _match(lam, exact)
        out.append(r)
    return out, targets


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ["case", "method", "pairs", "fit s: median [min, max]", "vs peer: max eig diff (time ratio)", "vs exact"]
    lines = []
    for r in rows:
        peers = "; ".join(
            f"{k[len('eig_max_diff_vs_'):]}: {r[k]:.1e} (x{r['fit_time_ratio_vs_' + k[len('eig_max_diff_vs_'):]]:.3g})"
            for k in r if k.startswith("eig_max_diff_vs_") and k != "eig_max_diff_vs_exact"
        )
        lines.append([
            r["case"], r["method"], str(r["snapshot_pairs"]),
            f"{r['fit_seconds']:.4g} [{r.get('fit_seconds_min', r['fit_seconds']):.4g}, "
            f"{r.get('fit_seconds_max', r['fit_seconds']):.4g}]",
            peers, f"{r['eig_max_diff_vs_exact']:.1e}" if "eig_max_diff_vs_exact" in r else "",
        ])
    return markdown_table(head, lines)


_PANELS = (
    (("edmd_henon",), "EDMD, monomials <= 3 / polynomial kernel, Henon"),
    (("kedmd_gauss_henon",), "kernel EDMD, Gaussian kernel, 20 components, Henon"),
    (("hankel_sines", "havok_lorenz"), "Hankel-DMD (five sines), HAVOK (Lorenz x)"),
)


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    from sciml.core.plotting import label_axes, new_figure

    fig, axes = new_figure(1, len(_PANELS), figsize=(15.0, 4.2))
    for (prefixes, label), ax in zip(_PANELS, axes[0]):
        def inside(r: dict[str, Any], prefixes: tuple[str, ...] = prefixes) -> bool:
            return r["case"].rsplit("_M", 1)[0] in prefixes

        methods = sorted({r["method"] for r in rows if inside(r)})
        for k, method in enumerate(methods):
            pts = sorted((r["snapshot_pairs"], r["fit_seconds"], r.get("fit_seconds_min", r["fit_seconds"]),
                          r.get("fit_seconds_max", r["fit_seconds"])) for r in rows if inside(r) and r["method"] == method)
            if pts:
                n, med, lo, hi = (np.array(v) for v in zip(*pts))
                ax.errorbar(n, med, yerr=[med - lo, hi - med], marker="o", capsize=3,
                            ls="-" if method.startswith("sciml") else "--", color=f"C{k}", label=method)
        ax.set_xscale("log")
        ax.set_yscale("log")
        label_axes(ax, "snapshot pairs", "fit seconds (median, bars: min-max)", label)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def run(preset: str, out: str | Path, executor: str | cf.Executor = "serial", *, resume: bool = False,
        command: str = "sciml bench koopman", progress: bool = False, time_limit: float | None = None) -> dict[str, Any]:
    """Run the benchmark; writes ``out/koopman.json`` (after every cell) and ``koopman.png``."""
    pydmd, kooplearn = _pydmd(), _kooplearn()  # a missing peer: a one-line error before any work
    cfg = PRESETS[preset]
    out = Path(out)
    name = NAME if preset == "quick" else f"{NAME}_{preset}"
    cells = _cells(cfg)
    settings = {"preset": preset, **cfg, "delays": DELAYS, "hankel_rank": HANKEL_RANK, "havok_delays": HAVOK_DELAYS,
                "havok_rank": HAVOK_RANK}
    with open_executor(executor) as (pool, spec):
        results = Results(out / f"{name}.json", NAME, key=("case", "method"), settings=settings, command=command,
                          environment={"executor": spec, "pydmd": getattr(pydmd, "__version__", None),
                                       "kooplearn": getattr(kooplearn, "__version__", None)},
                          resume=resume)

        def write(complete: bool = False) -> dict[str, Any]:
            rows, targets = summarize(results.rows([c.key for c in cells]))
            return results.write(order=[c.key for c in cells], complete=complete, rows=rows, targets=targets)

        run_cells(cells, pool, results, time_limit=time_limit, progress=progress, write=write)
    payload = write(complete=not results.failures())
    print(markdown(payload["rows"]))
    print()
    print(format_targets(payload["targets"]))
    plot(payload["rows"], out / f"{name}.png", f"sciml.koopman vs PyDMD and kooplearn, preset {preset}, one CPU process")
    print(f"wrote {results.path} and {name}.png")
    return payload
