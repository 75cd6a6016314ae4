"""Hankel-structured neural network (StNN) of time-delay measurements (Aluvihare, Lingsch, Li & Perera 2025).

A Hankel matrix ``H [m, n]`` is constant along its anti-diagonals, ``H[i, j] = h[i + j]``: it
is defined by ``n + m - 1`` numbers ``h``. The time-delay (Hankel) matrix of a measured
series has this structure, and the StNN gives its weight matrices the same structure, so a
layer from ``n`` to ``m`` features holds ``n + m - 1`` weights (plus ``m`` biases) instead of
``n m``, and applies in ``O((n + m) log(n + m))`` operations by the FFT instead of ``O(n m)``.

The fast product. ``y_i = sum_j h[i + j] x_j`` is a correlation: with ``x`` reversed,
``xr_k = x[n - 1 - k]``, the linear convolution ``c = h * xr`` holds ``y_i = c[i + n - 1]``.
Only the entries ``n - 1 .. n + m - 2`` of ``c`` are needed, and for those a *circular*
convolution of length ``N >= n + m - 1`` does not wrap around, so
``y = irfft(rfft(h, N) rfft(xr, N), N)[n - 1 : n + m - 1]``: the Hankel matrix embedded in an
``N x N`` circulant, which the DFT diagonalizes. Two real FFTs of length ``N`` and one
inverse per product (the FFT of ``h`` once per call), against ``n m`` multiply-adds dense.
For small layers the dense product is faster in practice (a BLAS call against three FFT
calls); the asymptotic saving shows from a few hundred features (``docs/koopman.md``, StNN).

:class:`HankelLinear` is that layer; :class:`StNN` a stack of them with activations between,
mapping a flattened delay window to the next states, and with ``structure="dense"`` the
conventional network of the same depth and width (``nn.Linear`` layers) that the paper
compares with. Both are plain ``torch.nn.Module`` on any device; the forecasters
``stnn`` and ``delay_mlp`` (:mod:`sciml.forecast`) train them with the Trainer.

Reference
---------
H. Aluvihare, L. Lingsch, X. Li, S. M. Perera, "A Low-complexity Structured Neural Network
to Realize States of Dynamical Systems", arXiv:2503.23697 (2025).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sciml.core.errors import ConfigError

__all__ = ["HankelLinear", "StNN", "hankel_matvec", "ACTIVATIONS"]

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "identity": nn.Identity}


def _fft_size(n: int) -> int:
    """The smallest ``2^a 3^b 5^c >= n`` (sizes pocketfft and cuFFT do fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def hankel_matvec(h: torch.Tensor, x: torch.Tensor, out_features: int) -> torch.Tensor:
    """``H x`` for the Hankel matrix ``H[i, j] = h[i + j]`` (``[out_features, n]``), by the FFT.

    Parameters
    ----------
    h : Tensor ``[n + out_features - 1]``
        The anti-diagonals: ``h[:out_features]`` is the first column, ``h[out_features - 1:]`` the last row.
    x : Tensor ``[..., n]``
    out_features : int

    Returns
    -------
    Tensor ``[..., out_features]``, the dtype of ``x`` (real).

    Cost ``O(N log N)`` with ``N >= n + out_features - 1`` (rounded up to a 5-smooth size).
    Differentiable in ``h`` and ``x`` (the FFT's adjoint is an FFT).
    """
    n = x.shape[-1]
    if h.shape[-1] != n + out_features - 1:
        raise ConfigError(
            f"hankel_matvec: h has {h.shape[-1]} entries, a [{out_features}, {n}] Hankel matrix needs {n + out_features - 1}"
        )
    size = _fft_size(n + out_features - 1)
    spectrum = torch.fft.rfft(h, size) * torch.fft.rfft(torch.flip(x, dims=(-1,)), size)
    return torch.fft.irfft(spectrum, size)[..., n - 1 : n - 1 + out_features]


class HankelLinear(nn.Module):
    """Affine layer ``y = H x + b`` with a Hankel weight ``H[i, j] = h[i + j]`` (``n + m - 1`` parameters).

    Parameters
    ----------
    in_features, out_features : int
        ``n`` and ``m``.
    bias : bool
    mode : {"fft", "dense"}
        How the product is computed: ``"fft"`` (:func:`hankel_matvec`, ``O((n+m) log(n+m))``) or
        ``"dense"`` (the ``[m, n]`` matrix gathered from ``h``, then a matmul, ``O(n m)``; the
        same function, faster for small layers). The parameters are the same either way.

    Attributes
    ----------
    h : Parameter ``[n + m - 1]``
        Initialized uniform in ``+-1/sqrt(n)`` (as ``nn.Linear``: every row has ``n`` entries of
        that spread, so the output variance matches a dense layer's).
    bias : Parameter ``[m]`` or None
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, mode: str = "fft"):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"HankelLinear {name}={value!r} must be an integer >= 1")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.mode = mode
        self._check_mode()
        bound = 1.0 / math.sqrt(in_features)
        self.h = nn.Parameter(torch.empty(in_features + out_features - 1).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound)) if bias else None

    def _check_mode(self) -> None:
        if self.mode not in ("fft", "dense"):
            raise ConfigError(f"HankelLinear mode={self.mode!r} is unknown; use 'fft' or 'dense'")

    def matrix(self) -> torch.Tensor:
        """The dense Hankel weight ``[out_features, in_features]`` (for tests and the ``dense`` mode)."""
        # built per call (not stored): an index buffer would hold n m numbers, what the structure saves
        rows = torch.arange(self.out_features, device=self.h.device)
        return self.h[rows[:, None] + torch.arange(self.in_features, device=self.h.device)[None, :]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ConfigError(f"HankelLinear expects {self.in_features} input features, got {x.shape[-1]}")
        self._check_mode()
        if self.mode == "fft":
            y = hankel_matvec(self.h, x, self.out_features)
        else:
            y = x @ self.matrix().T
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, mode={self.mode}"


class StNN(nn.Module):
    """A stack of ``depth`` hidden layers of ``width`` and an output layer, Hankel-structured or dense.

    ``x [..., n_in] -> a(L_1 x) -> ... -> a(L_depth .) -> L_out . -> [..., n_out]`` with the
    activation ``a`` between layers and none after the last; every ``L`` is a
    :class:`HankelLinear` (``structure="hankel"``, the StNN) or an ``nn.Linear``
    (``structure="dense"``, the conventional network of the same depth and width).

    Parameters
    ----------
    n_in, n_out : int
        Input features (a flattened delay window: delays x state dimension) and outputs.
    width : int
        Hidden features per layer.
    depth : int >= 1
        Hidden layers (the network has ``depth + 1`` weight matrices).
    activation : str
        One of :data:`ACTIVATIONS`.
    structure : {"hankel", "dense"}
    mode : {"fft", "dense"}
        How the Hankel layers multiply (:class:`HankelLinear`); ignored for ``structure="dense"``.

    Notes
    -----
    Parameters: Hankel ``sum_l (n_l + m_l - 1 + m_l)``, dense ``sum_l (n_l m_l + m_l)``; with
    ``n_in = 48``, ``width = 64``, ``depth = 3`` and ``n_out = 3``: 626 against 11 651.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        width: int = 64,
        depth: int = 3,
        activation: str = "tanh",
        structure: str = "hankel",
        mode: str = "fft",
    ):
        super().__init__()
        for name, value in (("n_in", n_in), ("n_out", n_out), ("width", width), ("depth", depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"StNN {name}={value!r} must be an integer >= 1")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"StNN activation={activation!r} is unknown; choose from {', '.join(ACTIVATIONS)}")
        if structure not in ("hankel", "dense"):
            raise ConfigError(f"StNN structure={structure!r} is unknown; use 'hankel' or 'dense'")
        self.structure = structure
        sizes = [n_in] + [width] * depth + [n_out]
        layers: list[nn.Module] = []
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(HankelLinear(a, b, mode=mode) if structure == "hankel" else nn.Linear(a, b))
            if k < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        self.layers = nn.Sequential(*layers)

    def set_mode(self, mode: str) -> StNN:
        """Switch every Hankel layer's product to ``"fft"`` or ``"dense"`` (same function); returns self."""
        for m in self.modules():
            if isinstance(m, HankelLinear):
                m.mode = mode
                m._check_mode()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
