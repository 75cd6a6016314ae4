"""What ``sciml koopman fit`` and ``sciml koopman forecast`` do, callable from Python.

``fit_directory`` fits one method on a trajectories file and writes into ``out``:

``koopman.json`` (atomically)
    ``method``, ``dictionary``, ``params``, ``data`` (path, split, ``content_sha256``,
    counts, ``dt``), ``eigenvalues`` as ``[re, im]`` pairs (for ResDMD every candidate),
    ``residuals`` beside them (null where a method defines none), ``kept`` flags and
    ``epsilon`` for ResDMD, ``continuous_eigenvalues`` (``log(lambda) / dt``),
    ``metrics`` on the file's test split when it has one, and the plots written.
``estimator/``
    The saved estimator (:func:`sciml.core.estimator.load_estimator` reads it).
``spectrum.png``
    Eigenvalues coloured by residual, pseudospectral contours (where defined), the unit circle.
``eigenfunctions.png`` (2-D states, pointwise dictionaries), ``forcing.png`` (HAVOK).

``forecast_directory`` loads that estimator, forecasts every trajectory of a file from its
first ``min_context`` states and writes ``forecast.npz`` (``context``, ``prediction``,
``truth``), ``forecast.json`` (the metrics) and ``forecast.png``.
"""

from __future__ import annotations

import datetime as _dt
import numbers
from pathlib import Path
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.core.estimator import AbstractEstimator, load_estimator
from sciml.core.io import atomic_path, environment, write_json
from sciml.data.arrays import load_trajectories
from sciml.koopman.dictionaries import parse_dictionary
from sciml.koopman.dmd import DMD
from sciml.koopman.edmd import EDMD, HankelDMD, ResDMD
from sciml.koopman.havok import HAVOK
from sciml.koopman.kedmd import KernelEDMD, parse_kernel

__all__ = ["METHODS", "build_method", "fit_directory", "forecast_directory", "parse_rank"]

#: method -> default --dictionary
METHODS: dict[str, str | None] = {
    "edmd": "monomial:2",
    "resdmd": "monomial:2",
    "kedmd": "gaussian",
    "hankel_dmd": "delay:10",
    "havok": "delay:10",
    "dmd": None,
}


def parse_rank(text: str | None) -> int | float | None:
    """``--rank``: None, an int (``"12"``) or an energy fraction (``"0.999"``)."""
    if text is None or str(text).lower() in ("none", "null", ""):
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--rank {text!r} is not a number; use an int >= 1, a fraction in (0, 1) or none") from None
    return int(value) if value == int(value) and value >= 1 else value


def _delays(method: str, dictionary: str) -> int:
    kind, n, _ = parse_dictionary(dictionary)
    if kind != "delay":
        raise ConfigError(f"--method {method} embeds delays: pass --dictionary delay:d (e.g. delay:10), not {dictionary}")
    return n


def build_method(method: str, dictionary: str | None = None, *, epsilon: float | None = None,
                 rank: int | float | None = None, seed: int = 0) -> AbstractEstimator:
    """The estimator of a ``--method`` with its ``--dictionary`` (kernel spec for kedmd, ``delay:d`` for the Hankel methods).

    >>> build_method("resdmd", "rbf:50", epsilon=0.05)
    ResDMD(dictionary='rbf:50', epsilon=0.05, rank=None, seed=0)
    >>> build_method("havok", "delay:12", rank=8)
    HAVOK(delays=12, rank=8)
    """
    if method not in METHODS:
        import difflib

        close = difflib.get_close_matches(str(method), list(METHODS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"unknown method '{method}'{hint}; valid: {', '.join(METHODS)}")
    if epsilon is not None and method != "resdmd":
        raise ConfigError(f"--epsilon is ResDMD's residual threshold; use it with --method resdmd, not {method}")
    spec = dictionary if dictionary is not None else METHODS[method]
    if method == "edmd":
        return EDMD(spec, rank=rank, seed=seed)
    if method == "resdmd":
        return ResDMD(spec, epsilon=0.1 if epsilon is None else float(epsilon), rank=rank, seed=seed)
    if method == "kedmd":
        parse_kernel(spec)
        return KernelEDMD(spec, rank=rank)
    if method == "hankel_dmd":
        return HankelDMD(delays=_delays(method, spec), rank=rank)
    if method == "havok":
        return HAVOK(delays=_delays(method, spec), rank=rank)
    if dictionary is not None:
        raise ConfigError("--method dmd works on the states; drop --dictionary or use --method edmd")
    return DMD(rank=rank)


def _pairs(z: np.ndarray) -> list[list[float]]:
    return [[float(v.real), float(v.imag)] for v in np.asarray(z, dtype=np.complex128)]


def _read(path: str | Path, split: str | None):
    if not Path(path).is_file():
        raise DataError(f"no data file {path}; pass a trajectories file (sciml data generate linear_ode ... --out FILE.h5)")
    return load_trajectories(path, split)


def fit_directory(data: str | Path, method: str, out: str | Path, *, dictionary: str | None = None,
                  epsilon: float | None = None, rank: int | float | None = None, split: str | None = "train",
                  seed: int = 0, plots: bool = True) -> dict[str, Any]:
    """Fit ``method`` on ``split`` of the trajectories file ``data`` and write ``out`` (see the module docstring).

    Returns the ``koopman.json`` record.
    """
    estimator = build_method(method, dictionary, epsilon=epsilon, rank=rank, seed=seed)
    train = _read(data, split)
    estimator.fit(train)
    out = Path(out)
    estimator.save(out / "estimator")
    candidates = getattr(estimator, "candidate_eigenvalues_", estimator.eigenvalues_)
    residuals = getattr(estimator, "candidate_residuals_", getattr(estimator, "residuals_", None))
    kept = getattr(estimator, "kept_", None)
    with np.errstate(divide="ignore", invalid="ignore"):
        continuous = np.log(np.asarray(candidates, dtype=np.complex128)) / train.dt
    record: dict[str, Any] = {
        "method": method,
        "estimator": type(estimator).registered_name,
        "dictionary": getattr(estimator, "dictionary", None) or getattr(estimator, "kernel", None)
        or (f"delay:{estimator.delays}" if hasattr(estimator, "delays") else None),
        "params": estimator.get_params(),
        "data": {
            "path": str(data),
            "split": split,
            "content_sha256": train.content_sha256,
            "n_trajectories": train.n_trajectories,
            "n_times": train.n_times,
            "dim": train.dim,
            "dt": train.dt,
        },
        "eigenvalues": _pairs(candidates),
        "residuals": None if residuals is None else [float(r) for r in residuals],
        "kept": None if kept is None else [bool(k) for k in kept],
        "epsilon": getattr(estimator, "epsilon", None),
        "continuous_eigenvalues": [[float(v.real) if np.isfinite(v.real) else None, float(v.imag)] for v in continuous],
        "rank": int(getattr(estimator, "rank_", len(candidates))),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": environment(),
    }
    if split == "train":
        try:
            test = load_trajectories(data, "test")
        except DataError:
            test = None
        if test is not None and test.n_times > getattr(estimator, "min_context", 1):
            try:
                record["metrics"] = {f"test_{k}": v for k, v in estimator.evaluate(test).items()}
            except DataError as exc:  # a ResDMD that kept nothing cannot forecast: say so in the record
                record["metrics"] = {"error": str(exc)}
    written = write_plots(estimator, train, out) if plots else []
    record["plots"] = [p.name for p in written]
    write_json(out / "koopman.json", record)
    return record


def write_plots(estimator: Any, train: Any, out: Path) -> list[Path]:
    """``spectrum.png`` and, where they apply, ``eigenfunctions.png`` and ``forcing.png``; returns the paths."""
    from sciml.core.plotting import save_figure
    from sciml.koopman.plots import eigenfunctions_figure, forcing_figure, spectrum_figure

    written = []
    candidates = getattr(estimator, "candidate_eigenvalues_", estimator.eigenvalues_)
    residuals = getattr(estimator, "candidate_residuals_", getattr(estimator, "residuals_", None))
    pseudo = getattr(estimator, "pseudospectrum", None)
    grid = 60 if getattr(estimator, "rank_", 0) <= 80 else 30
    name = type(estimator).__name__
    eps = getattr(estimator, "epsilon", None)
    title = f"{name}: eigenvalues" + (f" (kept: residual <= {eps:g})" if eps is not None else "")
    fig = spectrum_figure(candidates, residuals, kept=getattr(estimator, "kept_", None), pseudospectrum=pseudo,
                          grid_points=grid, title=title)
    written.append(save_figure(fig, out / "spectrum.png"))
    if train.dim == 2 and getattr(estimator, "window", 1) == 1 and hasattr(estimator, "eigenfunctions") \
            and np.asarray(estimator.eigenvalues_).size:
        written.append(save_figure(eigenfunctions_figure(estimator, train.x.reshape(-1, 2)), out / "eigenfunctions.png"))
    if isinstance(estimator, HAVOK):
        shown = 3000  # at most this many samples of the first trajectory: the bursts stay visible
        forcing = estimator.forcing_[0, :shown]
        times = (train.t[estimator.window - 1 :] if train.t.ndim == 1 else train.t[0, estimator.window - 1 :])[:shown]
        signal = train.x[0, estimator.window - 1 :, 0][:shown]
        threshold = 2 * float(np.std(estimator.forcing_))
        written.append(save_figure(forcing_figure(times, forcing, signal, threshold=threshold), out / "forcing.png"))
    return written


def forecast_directory(directory: str | Path, data: str | Path, *, split: str | None = "test",
                       horizon: int | None = None, context: int | None = None,
                       out: str | Path | None = None) -> dict[str, Any]:
    """Forecast every trajectory of ``split`` of ``data`` with the estimator saved by :func:`fit_directory`.

    Parameters
    ----------
    directory : path
        A ``sciml koopman fit`` output (``koopman.json`` + ``estimator/``).
    context : int, optional
        States given as context (default ``min_context``).
    horizon : int, optional
        Steps forecast (default: the rest of each trajectory).
    out : path, optional
        Where ``forecast.npz``, ``forecast.json`` and ``forecast.png`` go (default ``directory``).

    Returns
    -------
    dict: the ``forecast.json`` record (metrics per step range, shapes, the data checksum).
    """
    d = Path(directory)
    if not (d / "koopman.json").is_file():
        raise DataError(f"{d} is not a 'sciml koopman fit' directory (koopman.json is missing); fit one with sciml koopman fit")
    estimator = load_estimator(d / "estimator")
    traj = _read(data, split)
    if abs(traj.dt - estimator.dt_) > 1e-9 * estimator.dt_:
        raise DataError(f"{data} is sampled at dt={traj.dt} but the estimator was fitted at dt={estimator.dt_}")
    c = int(getattr(estimator, "min_context", 1) if context is None else context)
    if isinstance(context, bool) or not isinstance(c, numbers.Integral) or c < 1:
        raise ConfigError(f"--context {context!r} must be an int >= 1")
    if traj.n_times <= c:
        raise ShapeError(f"{data}: trajectories of {traj.n_times} states leave nothing to forecast after a context of {c}")
    h = traj.n_times - c if horizon is None else int(horizon)
    if h < 1:
        raise ConfigError(f"--horizon {horizon} must be an int >= 1")
    ctx = traj.x[:, :c]
    # the forecast protocol (contexts [B, C, D]); DMD, which predates it, takes the present states [B, D]
    pred = estimator.forecast(ctx, h) if hasattr(estimator, "min_context") else estimator.forecast(ctx[:, -1], h)
    truth = traj.x[:, c : c + h]
    steps = truth.shape[1]
    err = pred[:, :steps] - truth
    rel = np.linalg.norm(err.reshape(err.shape[0], -1), axis=1) / np.maximum(
        np.linalg.norm(truth.reshape(truth.shape[0], -1), axis=1), np.finfo(np.float64).tiny)
    record = {
        "directory": str(d),
        "data": {"path": str(data), "split": split, "content_sha256": traj.content_sha256,
                 "n_trajectories": traj.n_trajectories, "n_times": traj.n_times},
        "context": c,
        "horizon": h,
        "forecast_rel_l2": float(rel.mean()) if steps else None,
        "forecast_rel_l2_per_trajectory": [float(v) for v in rel] if steps else None,
    }
    target = Path(out) if out is not None else d
    with atomic_path(target / "forecast.npz", suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, context=ctx, prediction=pred, truth=truth)
    from sciml.core.plotting import label_axes, new_figure, save_figure

    dims = min(traj.dim, 3)
    fig, axes = new_figure(dims, 1, figsize=(6.4, 1.7 * dims + 0.7), sharex=True)
    tt = np.arange(traj.n_times)
    for k in range(dims):
        ax = axes[k, 0]
        ax.plot(tt, traj.x[0, :, k], color="k", lw=1.1, label="truth")
        ax.plot(tt[c : c + h][: pred.shape[1]], pred[0, : traj.n_times - c, k], color="C3", ls="--", lw=1.0,
                label="forecast")
        ax.axvline(c - 0.5, color="0.6", lw=0.8)
        label_axes(ax, "step" if k == dims - 1 else "", f"$x_{k}$")
    axes[0, 0].set_title(f"{type(estimator).__name__}: forecast of the first trajectory from {c} context states",
                         fontsize=9)
    axes[0, 0].legend(loc="upper right", fontsize=7)
    save_figure(fig, target / "forecast.png")
    write_json(target / "forecast.json", record)
    return record
