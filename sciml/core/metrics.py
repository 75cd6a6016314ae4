"""Error metrics on batches ``[B, C, *S]`` (or ``[B, ...]``), registered by name.

Each metric returns one value per sample ``[B]``; callers average over samples.
"""

from __future__ import annotations

import torch

from sciml.core.errors import ShapeError
from sciml.core.registry import METRICS

__all__ = ["relative_l2", "nrmse", "mse", "rmse", "max_abs_error", "fourier_band_errors", "compute_metrics"]


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ShapeError(
            f"prediction shape {tuple(pred.shape)} does not match target shape {tuple(target.shape)}; "
            "set the model's out_channels / output resolution to the data's"
        )


@METRICS.register("relative_l2")
def relative_l2(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Relative L2 error per sample: ``||pred - target||_2 / ||target||_2`` over all non-batch axes.

    >>> t = torch.ones(2, 1, 4)
    >>> relative_l2(1.1 * t, t)
    tensor([0.1000, 0.1000])
    """
    _check(pred, target)
    diff = (pred - target).flatten(1).norm(dim=1)
    return diff / (target.flatten(1).norm(dim=1) + eps)


@METRICS.register("nrmse")
def nrmse(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Normalized RMSE per sample, averaged over channels: RMSE_c / RMS(target_c) (PDEBench's nRMSE)."""
    _check(pred, target)
    if pred.ndim < 3:
        return relative_l2(pred, target, eps)
    err = ((pred - target) ** 2).flatten(2).mean(dim=2).sqrt()
    scale = (target**2).flatten(2).mean(dim=2).sqrt() + eps
    return (err / scale).mean(dim=1)


@METRICS.register("mse")
def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per sample."""
    _check(pred, target)
    return ((pred - target) ** 2).flatten(1).mean(dim=1)


@METRICS.register("rmse")
def rmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root mean squared error per sample."""
    return mse(pred, target).sqrt()


@METRICS.register("max_abs_error")
def max_abs_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Largest absolute pointwise error per sample."""
    _check(pred, target)
    return (pred - target).abs().flatten(1).max(dim=1).values


def fourier_band_errors(
    pred: torch.Tensor, target: torch.Tensor, n_bands: int = 3, eps: float = 1e-12
) -> dict[str, torch.Tensor]:
    """Error in low / mid / high Fourier bands per sample, relative to the target's norm.

    The radial wavenumber range ``[0, k_max]`` of the spatial axes (all axes after the
    channel axis) is cut into ``n_bands`` equal parts; each band's error is
    ``||F(pred - target)||_band / ||F(target)||`` (normalized by the whole target, so it
    stays finite where the target has no energy, and the squares of the bands add up to
    the squared relative L2 error up to the real-FFT's half-spectrum weighting).

    Returns
    -------
    dict
        ``{"band_low": [B], "band_mid": [B], "band_high": [B]}`` for three bands,
        ``band_0 ... band_{n-1}`` otherwise.
    """
    _check(pred, target)
    if pred.ndim < 3:
        raise ShapeError("fourier_band_errors needs [B, C, *S] fields with at least one spatial axis")
    dims = tuple(range(2, pred.ndim))
    err_hat = torch.fft.rfftn(pred - target, dim=dims)
    tgt_hat = torch.fft.rfftn(target, dim=dims)
    sizes = pred.shape[2:]
    freqs = [torch.fft.fftfreq(n, d=1.0 / n, device=pred.device).abs() for n in sizes[:-1]]
    freqs.append(torch.fft.rfftfreq(sizes[-1], d=1.0 / sizes[-1], device=pred.device))
    k = torch.sqrt(sum(g**2 for g in torch.meshgrid(*freqs, indexing="ij")))
    edges = torch.linspace(0, float(k.max()) + 1e-9, n_bands + 1, device=pred.device)
    names = ["band_low", "band_mid", "band_high"] if n_bands == 3 else [f"band_{i}" for i in range(n_bands)]
    total = (tgt_hat.abs() ** 2).flatten(1).sum(dim=1).sqrt()
    out = {}
    for i, name in enumerate(names):
        mask = (k >= edges[i]) & (k < edges[i + 1])
        e = (err_hat.abs() ** 2 * mask).flatten(1).sum(dim=1).sqrt()
        out[name] = e / (total + eps)
    return out


def compute_metrics(pred: torch.Tensor, target: torch.Tensor, names) -> dict[str, torch.Tensor]:
    """Per-sample values ``[B]`` of each named metric (``"fourier_bands"`` expands to three)."""
    out: dict[str, torch.Tensor] = {}
    for name in names:
        if name == "fourier_bands":
            out.update(fourier_band_errors(pred, target))
        else:
            out[name] = METRICS.get(name)(pred, target)
    return out
