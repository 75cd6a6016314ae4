"""Metrics of chaotic forecasts: the dysts set, valid prediction time, and long-term statistics.

Three groups (definitions with formulas in ``docs/chaos_benchmark.md``):

* **Pointwise scores of one forecast against the truth** (:func:`forecast_metrics`), the
  set of dysts' ``compute_metrics`` (Gilpin, NeurIPS 2021 / "Model scale versus domain
  knowledge", 2023) on the same ``[T, D]`` arrays and with the same conventions (the
  ``eps = 1e-10`` guards, percentages, sMAPE on dysts' scaled 0..100 range, correlations
  averaged over dimensions), so that our numbers and dysts' agree to rounding: ``mse``,
  ``mae``, ``rmse``, ``nrmse``, ``smape``, ``mape``, ``wape``, ``r2_score``, ``spearman``,
  ``pearson``, ``kendall``, ``coefficient_of_variation``, ``mutual_information``,
  ``kl_divergence``, ``hellinger_distance``.
* **Valid prediction time** (:func:`valid_prediction_time`): how many Lyapunov times the
  forecast stays within a threshold of the truth, in two forms (sMAPE, normalized error).
* **Long-term statistics of free-running forecasts** (Hess et al., "Generalized Teacher
  Forcing for Learning Chaotic Dynamics", ICML 2023): :func:`state_space_divergence`
  (``D_stsp``, the binned KL divergence of attractor occupancy),
  :func:`power_spectrum_distance` (``D_H``, the Hellinger distance of smoothed power
  spectra) and :func:`correlation_dimension` / :func:`correlation_dimension_error`
  (Grassberger-Procaccia).

All take float arrays ``[T, D]`` (a 1-D array is one dimension) and return Python floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, ShapeError

__all__ = [
    "POINTWISE_METRICS",
    "forecast_metrics",
    "mse",
    "mae",
    "rmse",
    "nrmse",
    "smape",
    "mape",
    "wape",
    "r2_score",
    "spearman",
    "pearson",
    "kendall",
    "coefficient_of_variation",
    "mutual_information",
    "kl_divergence",
    "hellinger_distance",
    "smape_curve",
    "cumulative_smape_curve",
    "normalized_error_curve",
    "valid_steps",
    "valid_prediction_time",
    "state_space_divergence",
    "power_spectrum_distance",
    "correlation_dimension",
    "correlation_dimension_error",
]

EPS = 1e-10  # dysts' guard against division by zero, kept so that the numbers agree


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=np.float64)
    b = np.asarray(y_pred, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if b.ndim == 1:
        b = b[:, None]
    if a.ndim != 2 or a.shape != b.shape:
        raise ShapeError(
            f"metrics compare arrays [T, D] of one shape, got y_true {np.shape(y_true)} and y_pred {np.shape(y_pred)}"
        )
    return a, b


# ----------------------------------------------------------------------------- pointwise (dysts' set)
def mse(y_true: Any, y_pred: Any) -> float:
    """Mean squared error over all times and dimensions."""
    a, b = _pair(y_true, y_pred)
    return float(np.mean((a - b) ** 2))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error over all times and dimensions."""
    a, b = _pair(y_true, y_pred)
    return float(np.mean(np.abs(a - b)))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error."""
    return float(np.sqrt(mse(y_true, y_pred)))


def nrmse(y_true: Any, y_pred: Any, scale: Any = None) -> float:
    """``sqrt(mean_{t,d} (y - y_hat)^2 / (sigma_d^2 + eps))``; ``sigma_d``: ``scale`` or the truth's std per dimension."""
    a, b = _pair(y_true, y_pred)
    sigma = np.std(a, axis=0) if scale is None else np.asarray(scale, dtype=np.float64)
    return float(np.sqrt(np.mean((a - b) ** 2 / (sigma**2 + EPS))))


def smape(y_true: Any, y_pred: Any) -> float:
    """Symmetric mean absolute percentage error, dysts' scaled form: ``100 mean |y - y_hat| / (|y| + |y_hat| + eps)``.

    In [0, 100]; the "200" form of the literature (used by :func:`smape_curve`) is twice it.
    """
    a, b = _pair(y_true, y_pred)
    return float(100.0 * np.mean(np.abs(a - b) / (np.abs(a) + np.abs(b) + EPS)))


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error ``100 mean |(y - y_hat) / (y + eps)|``."""
    a, b = _pair(y_true, y_pred)
    return float(100.0 * np.mean(np.abs((a - b) / (a + EPS))))


def wape(y_true: Any, y_pred: Any) -> float:
    """Weighted absolute percentage error ``100 sum |y - y_hat| / (sum |y| + eps)``."""
    a, b = _pair(y_true, y_pred)
    return float(100.0 * np.sum(np.abs(a - b)) / (np.sum(np.abs(a)) + EPS))


def r2_score(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination ``1 - sum (y - y_hat)^2 / sum (y - mean(y))^2`` (one mean over all entries)."""
    a, b = _pair(y_true, y_pred)
    return float(1.0 - np.sum((a - b) ** 2) / np.sum((a - np.mean(a)) ** 2))


def _per_dimension(fn, a: np.ndarray, b: np.ndarray) -> float:
    """Mean over dimensions of a correlation; a constant series has none (NaN, as scipy says with a warning)."""
    values = [
        fn(a[:, d], b[:, d])[0] if np.ptp(a[:, d]) > 0 and np.ptp(b[:, d]) > 0 else np.nan for d in range(a.shape[1])
    ]
    return float(np.mean(values))


def spearman(y_true: Any, y_pred: Any) -> float:
    """Spearman rank correlation per dimension, averaged."""
    from scipy.stats import spearmanr

    return _per_dimension(spearmanr, *_pair(y_true, y_pred))


def pearson(y_true: Any, y_pred: Any) -> float:
    """Pearson correlation per dimension, averaged.

    dysts 0.96 computes Spearman's for a one-dimensional series under this name; ours is
    Pearson's in every dimension (the two agree for ``D >= 2``).
    """
    from scipy.stats import pearsonr

    return _per_dimension(pearsonr, *_pair(y_true, y_pred))


def kendall(y_true: Any, y_pred: Any) -> float:
    """Kendall's tau per dimension, averaged."""
    from scipy.stats import kendalltau

    return _per_dimension(kendalltau, *_pair(y_true, y_pred))


def coefficient_of_variation(y_true: Any, y_pred: Any) -> float:
    """``100 std(y - y_hat) / (mean(y) + eps)`` over all entries (dysts' definition)."""
    a, b = _pair(y_true, y_pred)
    return float(100.0 * np.std(a - b) / (np.mean(a) + EPS))


def mutual_information(y_true: Any, y_pred: Any, *, random_state: Any = None) -> float:
    """Mutual information (nats) of truth and forecast per dimension, averaged.

    The Kraskov k-nearest-neighbour estimate of scikit-learn's ``mutual_info_regression``
    (3 neighbours), which adds a 1e-10 relative jitter drawn from ``random_state`` (a seed
    or a ``RandomState``; ``None``: numpy's global state, as dysts calls it).
    """
    from sklearn.feature_selection import mutual_info_regression
    from sklearn.utils import check_random_state

    a, b = _pair(y_true, y_pred)
    rng = check_random_state(random_state)
    return float(
        np.mean([mutual_info_regression(a[:, d : d + 1], b[:, d], random_state=rng)[0] for d in range(a.shape[1])])
    )


def _log_gmm_density(x: np.ndarray, centres: np.ndarray, variance: float) -> np.ndarray:
    """``log p(x)`` of the equal-weight mixture of ``N(centre, variance I)``, for each row of ``x``."""
    d = centres.shape[1]
    sq = (x**2).sum(1)[:, None] - 2.0 * x @ centres.T + (centres**2).sum(1)[None, :]
    sq = np.maximum(sq, 0.0) / (-2.0 * variance)
    top = sq.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(sq - top).sum(axis=1))
    return lse - np.log(len(centres)) - 0.5 * d * np.log(2.0 * np.pi * variance)


def kl_divergence(
    y_true: Any, y_pred: Any, *, n_samples: int = 1000, variance: float = 1.0, random_state: Any = None
) -> float:
    """Monte-Carlo KL divergence ``KL(p_true || p_pred)`` of Gaussian mixtures on the two orbits.

    dysts' ``estimate_kl_divergence`` (after Hess et al. 2023): each orbit point is the
    centre of an isotropic Gaussian of ``variance`` (dysts' ``sigma_scale = 1``, used as a
    variance), ``n_samples`` points are drawn from the truth's mixture (a centre chosen
    uniformly, then ``centre + sqrt(variance) z``) and ``mean log p_true / p_pred`` is
    returned. ``random_state``: a seed or ``RandomState`` (``None``: numpy's global state).
    The densities are evaluated in log space (dysts divides the densities, which underflow
    to 0/0 far from the orbits).
    """
    a, b = _pair(y_true, y_pred)
    rng = (
        np.random.mtrand._rand
        if random_state is None
        else (random_state if isinstance(random_state, np.random.RandomState) else np.random.RandomState(random_state))
    )
    idx = rng.choice(len(a), size=n_samples, p=np.full(len(a), 1.0 / len(a)))
    samples = a[idx] + np.sqrt(variance) * rng.standard_normal((n_samples, a.shape[1]))
    return float(np.mean(_log_gmm_density(samples, a, variance) - _log_gmm_density(samples, b, variance)))


def hellinger_distance(y_true: Any, y_pred: Any, *, n_bins: int = 100) -> float:
    """dysts' ``average_hellinger_distance``: Hellinger distance of the first ``n_bins`` FFT power bins per dimension.

    Per dimension: ``P = |fft(x)|^2`` of the raw series, its first ``n_bins`` entries
    normalized to sum 1, ``H = sqrt(1 - sum sqrt(P_true P_pred))``; averaged over
    dimensions. (:func:`power_spectrum_distance` is the smoothed ``D_H`` of Hess et al.)
    """
    a, b = _pair(y_true, y_pred)
    out = []
    for d in range(a.shape[1]):
        p = (np.abs(np.fft.fft(a[:, d])) ** 2)[:n_bins]
        q = (np.abs(np.fft.fft(b[:, d])) ** 2)[:n_bins]
        out.append(_hellinger(p / p.sum(), q / q.sum()))
    return float(np.mean(out))


def _hellinger(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(p * q))))))


POINTWISE_METRICS = {
    "mse": mse,
    "mae": mae,
    "rmse": rmse,
    "nrmse": nrmse,
    "r2_score": r2_score,
    "smape": smape,
    "mape": mape,
    "wape": wape,
    "spearman": spearman,
    "pearson": pearson,
    "kendall": kendall,
    "coefficient_of_variation": coefficient_of_variation,
    "mutual_information": mutual_information,
    "kl_divergence": kl_divergence,
    "hellinger_distance": hellinger_distance,
}
_RANDOM = ("mutual_information", "kl_divergence")


def forecast_metrics(
    y_true: Any, y_pred: Any, include: Sequence[str] | None = None, *, random_state: int | None = 0
) -> dict[str, float]:
    """The dysts metric set of one forecast ``[T, D]`` (or the mean over a batch ``[B, T, D]``).

    Parameters
    ----------
    y_true, y_pred : array ``[T, D]`` or ``[B, T, D]``
    include : sequence of str, optional
        Names from :data:`POINTWISE_METRICS` (default: all).
    random_state : int or None
        Seed of the two sampled estimates (mutual information, KL divergence), so that a
        row is reproducible; ``None`` draws from numpy's global state as dysts does.

    Returns
    -------
    dict name -> float (a batch: the mean over its members, as dysts' ``batch_axis``)
    """
    names = list(POINTWISE_METRICS) if include is None else list(include)
    bad = [n for n in names if n not in POINTWISE_METRICS]
    if bad:
        raise ConfigError(f"unknown forecast metric {bad[0]!r}; valid metrics: {', '.join(POINTWISE_METRICS)}")
    a = np.asarray(y_true, dtype=np.float64)
    b = np.asarray(y_pred, dtype=np.float64)
    if a.ndim == 3:
        if b.shape != a.shape:
            raise ShapeError(f"metrics compare arrays of one shape, got {a.shape} and {b.shape}")
        rows = [forecast_metrics(a[i], b[i], names, random_state=random_state) for i in range(len(a))]
        return {n: float(np.mean([r[n] for r in rows])) for n in names}
    out = {}
    for n in names:
        if n in _RANDOM:
            out[n] = POINTWISE_METRICS[n](a, b, random_state=random_state)
        else:
            out[n] = POINTWISE_METRICS[n](a, b)
    return out


# ----------------------------------------------------------------------------- valid prediction time
def smape_curve(y_true: Any, y_pred: Any) -> np.ndarray:
    """``e_k = (200 / D) sum_d |y_kd - y_hat_kd| / (|y_kd| + |y_hat_kd|)`` per forecast step (range 0..200).

    ``y_true``, ``y_pred``: ``[H, D]``; returns ``[H]`` (a pair of zeros counts as exact).
    """
    a, b = _pair(y_true, y_pred)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged forecast (inf, NaN) is over any threshold
        den = np.abs(a) + np.abs(b)
        ratio = np.divide(np.abs(a - b), den, out=np.zeros_like(den), where=den > 0)
        ratio = np.where(np.isfinite(b), ratio, 1.0)
    return 200.0 * ratio.mean(axis=1)


def cumulative_smape_curve(y_true: Any, y_pred: Any) -> np.ndarray:
    """``E_k = (1 / k) sum_{j <= k} e_j``: the sMAPE (0..200) of the first ``k`` forecast steps, per ``k``.

    dysts' ``horizoned_metric`` of sMAPE on the 0..200 scale: the score of the forecast up to
    each lead time. Unlike the per-step :func:`smape_curve` it does not jump to ~200 / D when a
    coordinate crosses zero, where any small error is a large relative one.
    """
    e = smape_curve(y_true, y_pred)
    return np.cumsum(e) / np.arange(1, e.size + 1)


def normalized_error_curve(y_true: Any, y_pred: Any, scale: Any) -> np.ndarray:
    """``e_k = sqrt((1 / D) sum_d (y_kd - y_hat_kd)^2 / sigma_d^2)`` per step; ``scale``: ``sigma [D]``
    (the attractor's standard deviation per dimension, from the training data)."""
    a, b = _pair(y_true, y_pred)
    sigma = np.broadcast_to(np.asarray(scale, dtype=np.float64), (a.shape[1],))
    if np.any(sigma <= 0):
        raise ConfigError("normalized_error_curve needs a positive scale per dimension; pass the training data's std")
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged forecast gives inf / NaN: over any threshold
        return np.sqrt(np.mean(((a - b) / sigma) ** 2, axis=1))


def valid_steps(errors: Any, threshold: float) -> int:
    """The number of leading forecast steps whose error is at most ``threshold``.

    ``errors [H]``: the error of step ``k = 1 .. H``. Returns ``k* - 1`` for the first
    ``k*`` with ``errors[k* - 1] > threshold`` (NaN counts as over), ``H`` when none is.

    >>> valid_steps([1.0, 2.0, 5.0, 1.0], 3.0)
    2
    """
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    over = ~(e <= threshold)
    return int(np.argmax(over)) if over.any() else int(e.size)


def valid_prediction_time(
    y_true: Any,
    y_pred: Any,
    *,
    dt: float,
    lyapunov_time: float,
    form: str = "smape",
    threshold: float | None = None,
    scale: Any = None,
) -> float:
    """Valid prediction time in Lyapunov times: ``valid_steps(e, threshold) * dt / lyapunov_time``.

    Parameters
    ----------
    y_true, y_pred : array ``[H, D]``
        Truth and forecast at lead times ``dt, 2 dt, ..., H dt`` after the context.
    dt : float
        Sampling step (time units).
    lyapunov_time : float
        ``1 / lambda_max`` (:func:`sciml.systems.lyapunov_time`).
    form : {"smape", "normalized"}
        ``"smape"``: ``e`` is :func:`cumulative_smape_curve` (the sMAPE of the forecast up
        to each lead time, 0..200 scale), default threshold 30 (Gilpin 2023). ``"normalized"``: ``e`` is :func:`normalized_error_curve` with
        ``scale``, default threshold 0.5 (Vlachas et al. 2020; Pathak et al. 2018 use 0.4).
    threshold : float, optional
    scale : array ``[D]``
        ``"normalized"`` only: the attractor's standard deviation per dimension.

    Returns
    -------
    float
        Lyapunov times (a forecast valid over the whole horizon gets ``H dt / lyapunov_time``).
    """
    if form == "smape":
        errors = cumulative_smape_curve(y_true, y_pred)
        threshold = 30.0 if threshold is None else threshold
    elif form == "normalized":
        if scale is None:
            raise ConfigError("valid_prediction_time(form='normalized') needs scale=sigma per dimension")
        errors = normalized_error_curve(y_true, y_pred, scale)
        threshold = 0.5 if threshold is None else threshold
    else:
        raise ConfigError(f"valid_prediction_time form={form!r} is unknown; use 'smape' or 'normalized'")
    if not (dt > 0 and lyapunov_time > 0):
        raise ConfigError(f"valid_prediction_time needs dt > 0 and lyapunov_time > 0, got {dt}, {lyapunov_time}")
    return valid_steps(errors, threshold) * dt / lyapunov_time


# ----------------------------------------------------------------------------- long-term statistics
def _orbit(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or len(a) < 2:
        raise ShapeError(f"{name} must be an orbit [T, D] with T >= 2, got shape {np.shape(x)}")
    return a


def state_space_divergence(y_true: Any, y_pred: Any, *, n_bins: int = 30, alpha: float = 1e-5) -> float:
    """``D_stsp``: KL divergence of the binned occupancy of the true orbit from the forecast's (Hess et al. 2023).

    The box ``[min - 0.1 sigma, max + 0.1 sigma]`` of the true orbit per dimension is cut into
    ``n_bins`` equal bins per dimension (``K = n_bins^D`` cells); each orbit's counts are
    Laplace-smoothed, ``p_k = (c_k + alpha) / (N + alpha K)`` (points outside the box are
    dropped from ``c`` and ``N``), and ``D_stsp = sum_k p_true,k log(p_true,k / p_pred,k)``.
    The cells neither orbit visits are summed in closed form, so high dimensions cost only
    the occupied cells.

    Returns 0 for identical orbits; grows as the forecast's occupancy departs from the truth's,
    and saturates once most forecast points leave the box (they are dropped, as in the paper's code).
    """
    a, b = _orbit(y_true, "y_true"), _orbit(y_pred, "y_pred")
    if a.shape[1] != b.shape[1]:
        raise ShapeError(f"state_space_divergence: orbits of dimension {a.shape[1]} and {b.shape[1]}")
    sigma = a.std(axis=0)
    lo, hi = a.min(axis=0) - 0.1 * sigma, a.max(axis=0) + 0.1 * sigma
    width = np.where(hi > lo, hi - lo, 1.0)

    def counts(x: np.ndarray) -> tuple[dict[tuple, int], int]:
        cells = np.floor(n_bins * (x - lo) / width).astype(np.int64)
        inside = np.all((cells >= 0) & (cells < n_bins), axis=1)
        keys, c = np.unique(cells[inside], axis=0, return_counts=True)
        return {tuple(k): int(n) for k, n in zip(keys.tolist(), c)}, int(inside.sum())

    cp, n_p = counts(a)
    cq, n_q = counts(b)
    log_k = a.shape[1] * np.log(n_bins)
    k_total = float(np.exp(log_k))
    den_p, den_q = n_p + alpha * k_total, n_q + alpha * k_total
    total = 0.0
    for cell in set(cp) | set(cq):
        p = (cp.get(cell, 0) + alpha) / den_p
        q = (cq.get(cell, 0) + alpha) / den_q
        total += p * np.log(p / q)
    empty = k_total - len(set(cp) | set(cq))
    p0, q0 = alpha / den_p, alpha / den_q
    total += empty * p0 * np.log(p0 / q0)
    return float(max(total, 0.0))


def _smoothed_spectrum(x: np.ndarray, mean: float, std: float, smoothing: float, n_freq: int | None) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    z = (x - mean) / (std if std > 0 else 1.0)
    power = np.abs(np.fft.rfft(z)) ** 2
    power = power[1:]  # the mean (frequency 0) is not dynamics
    if n_freq is not None:
        power = power[:n_freq]
    if smoothing > 0:
        power = gaussian_filter1d(power, smoothing)
    total = power.sum()
    return power / total if total > 0 else np.full_like(power, 1.0 / max(power.size, 1))


def power_spectrum_distance(y_true: Any, y_pred: Any, *, smoothing: float = 2.0, n_freq: int | None = None) -> float:
    """``D_H``: Hellinger distance of smoothed power spectra, averaged over dimensions (Hess et al. 2023).

    Per dimension both series are standardized by the truth's mean and std, ``P = |rfft|^2``
    without the zero frequency (first ``n_freq`` frequencies when given), smoothed by a
    Gaussian kernel of ``smoothing`` frequency bins, normalized to sum 1;
    ``H = sqrt(1 - sum_f sqrt(P_true P_pred))`` in [0, 1]. Both series need the same length.
    """
    a, b = _orbit(y_true, "y_true"), _orbit(y_pred, "y_pred")
    if a.shape != b.shape:
        raise ShapeError(f"power_spectrum_distance compares series of one shape, got {a.shape} and {b.shape}")
    out = []
    for d in range(a.shape[1]):
        m, s = float(a[:, d].mean()), float(a[:, d].std())
        out.append(_hellinger(_smoothed_spectrum(a[:, d], m, s, smoothing, n_freq),
                              _smoothed_spectrum(b[:, d], m, s, smoothing, n_freq)))  # fmt: skip
    return float(np.mean(out))


def correlation_dimension(x: Any, *, max_points: int = 1000, c_range: tuple[float, float] = (1e-3, 5e-2)) -> float:
    """Grassberger-Procaccia correlation dimension of an orbit ``[T, D]``.

    ``C(r)``: the fraction of pairs of (at most ``max_points``, evenly strided) orbit points
    closer than ``r``; the dimension is the least-squares slope of ``log C`` against
    ``log r`` over the radii where ``C`` lies in ``c_range`` (16 radii, log-spaced between
    the pair-distance quantiles ``c_range``).
    """
    from scipy.spatial.distance import pdist

    a = _orbit(x, "x")
    stride = max(1, len(a) // max_points)
    dist = pdist(a[::stride][:max_points])
    dist = dist[dist > 0]
    if dist.size < 10:
        return float("nan")
    radii = np.geomspace(np.quantile(dist, c_range[0]), np.quantile(dist, c_range[1]), 16)
    dist.sort()
    c = np.searchsorted(dist, radii, side="left") / dist.size
    ok = c > 0
    if ok.sum() < 2:
        return float("nan")
    slope = np.polyfit(np.log(radii[ok]), np.log(c[ok]), 1)[0]
    return float(slope)


def correlation_dimension_error(y_true: Any, y_pred: Any, **kwargs: Any) -> float:
    """``|D2(y_pred) - D2(y_true)|``, the correlation dimensions of :func:`correlation_dimension`."""
    return float(abs(correlation_dimension(y_pred, **kwargs) - correlation_dimension(y_true, **kwargs)))
