"""Latent Spectral Model (Wu, Hu, Luo, Wang, Long: "Solving High-Dimensional PDEs with
Latent Spectral Models", ICML 2023), in 1D, 2D and 3D, registered as ``lsm``.

The model lifts the input with its coordinates appended, runs a U-shaped multiscale
encoder/decoder (max-pool downsampling, linear upsampling, skip connections), and at
every scale passes the skip features through a patchified *neural spectral block*: the
feature map is cut into patches, a few learnable latent tokens attend to each patch,
the tokens are transformed through a sin/cos basis with learned coefficients (plus a
residual), the patch attends back to the tokens, and the patches are put back together.

Unlike the authors' code, any input resolution works: the lifted field is padded at the
end of each axis so that every scale's size is a multiple of the patch size, and the
padding is cropped before the projection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.registry import MODELS
from sciml.operators._common import check_field_input, parameter_count

__all__ = ["LatentSpectralModel", "NeuralSpectralBlock", "lsm", "lsm_padded_shape"]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_MAX_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
_UPSAMPLE_MODE = {1: "linear", 2: "bilinear", 3: "trilinear"}
NORMS = ("batch", "group", "none")


def lsm_padded_shape(spatial_shape: Sequence[int], patch_size: Sequence[int], depth: int) -> tuple[int, ...]:
    """Smallest shape ``>= spatial_shape`` whose every scale is a multiple of the patch.

    Scale ``l = 0..depth`` has size ``S / 2**l``; all of them are multiples of ``p``
    exactly when ``S`` is a multiple of ``p * 2**depth``.

    >>> lsm_padded_shape((50,), (4,), 2)
    (64,)
    >>> lsm_padded_shape((37, 45), (2, 3), 2)
    (40, 48)
    """
    return tuple(-(-int(s) // (int(p) << depth)) * (int(p) << depth) for s, p in zip(spatial_shape, patch_size))


class _DoubleConv(nn.Module):
    """(3-point convolution, normalization, ReLU) twice: the U-Net's stage."""

    def __init__(self, n_dim: int, in_channels: int, out_channels: int, mid_channels: int, norm: str):
        super().__init__()
        conv = _CONV[n_dim]
        layers: list[nn.Module] = []
        for c_in, c_out in ((in_channels, mid_channels), (mid_channels, out_channels)):
            layers.append(conv(c_in, c_out, kernel_size=3, padding=1, bias=norm == "none"))
            if norm == "batch":
                layers.append(_BATCH_NORM[n_dim](c_out))
            elif norm == "group":
                layers.append(nn.GroupNorm(1, c_out))
            layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class _Up(nn.Module):
    """Upsample by 2, concatenate the skip features, double convolution."""

    def __init__(self, n_dim: int, in_channels: int, out_channels: int, norm: str):
        super().__init__()
        self.mode = _UPSAMPLE_MODE[n_dim]
        self.conv = _DoubleConv(n_dim, in_channels, out_channels, in_channels // 2, norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[2:], mode=self.mode, align_corners=True)
        return self.conv(torch.cat([skip, x], dim=1))


class NeuralSpectralBlock(nn.Module):
    """Patchified neural spectral block: latent tokens, sin/cos transition, attention back.

    For each patch of ``prod(patch_size)`` points with features ``x [P, C]`` (``C``
    channels in ``num_heads`` heads of ``d = C / num_heads``):

    1. encoder: ``z = softmax(T K^T / sqrt(d)) V + T`` with the learned latent tokens
       ``T [num_heads, num_token, d]`` as queries and ``K, V`` linear maps of ``x``;
    2. transition, per channel ``c`` and token entry ``z``:
       ``z <- z + sum_k a[c, k] sin(w_k z) + b[c, k] cos(w_k z)``, with the fixed
       frequencies ``w_k = pi k / num_basis`` (``k = 0 .. num_basis - 1``, see
       :meth:`basis`) and learned coefficients ``spectral_weights = [a | b]`` of shape
       ``[C, 2 num_basis]``: a spectral expansion of the token dynamics on ``[-num_basis, num_basis]``;
    3. decoder: ``x <- softmax(Q(x) z^T / sqrt(d)) z + x``.

    Parameters
    ----------
    channels : int
        Feature channels ``C``; a multiple of ``num_heads``.
    n_dim : int
        Spatial dimensions (1 to 3).
    patch_size : sequence of int
        Patch extent per axis; the input's spatial sizes must be multiples of it.
    num_basis : int
        Number of frequencies of the sin/cos basis (12 in the paper).
    num_token : int
        Latent tokens per patch (4 in the paper).
    num_heads : int
        Attention heads (8 in the paper).
    """

    def __init__(
        self,
        channels: int,
        *,
        n_dim: int,
        patch_size: Sequence[int],
        num_basis: int,
        num_token: int,
        num_heads: int,
    ):
        super().__init__()
        if channels % num_heads:
            raise ConfigError(
                f"lsm channels {channels} are not a multiple of num_heads={num_heads}; change width or num_heads"
            )
        self.channels = channels
        self.n_dim = n_dim
        self.patch_size = tuple(int(p) for p in patch_size)
        self.num_basis = num_basis
        self.num_token = num_token
        self.num_heads = num_heads
        head_dim = channels // num_heads
        self.latent_tokens = nn.Parameter(torch.randn(num_heads, num_token, head_dim) / math.sqrt(head_dim))
        self.to_key_value = nn.Linear(channels, 2 * channels)
        self.to_query = nn.Linear(channels, channels)
        # small coefficients: the transition starts close to the identity (its residual)
        self.spectral_weights = nn.Parameter(
            torch.randn(channels, 2 * num_basis) / (2 * num_basis * math.sqrt(channels))
        )
        # derived from num_basis, so not saved in checkpoints; a buffer follows device and dtype moves
        self.register_buffer("frequencies", math.pi * torch.arange(num_basis) / num_basis, persistent=False)

    def basis(self, z: torch.Tensor) -> torch.Tensor:
        """``[..., 2 num_basis]``: ``sin(w_k z)`` for k < num_basis, then ``cos(w_k z)``, of ``z [...]``."""
        phase = z.unsqueeze(-1) * self.frequencies
        return torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1)

    def _patchify(self, x: torch.Tensor, patch_size: tuple[int, ...] | None = None) -> torch.Tensor:
        """``[B, C, *S] -> [B * N, P, C]``: N patches of P points each."""
        patch_size = patch_size or self.patch_size
        b, c, *sizes = x.shape
        counts = [s // p for s, p in zip(sizes, patch_size)]
        split = [b, c] + [v for n, p in zip(counts, patch_size) for v in (n, p)]
        d = self.n_dim
        perm = [0, *(2 + 2 * i for i in range(d)), *(3 + 2 * i for i in range(d)), 1]
        return x.reshape(split).permute(perm).reshape(b * math.prod(counts), math.prod(patch_size), c)

    def _unpatchify(
        self, x: torch.Tensor, shape: torch.Size, patch_size: tuple[int, ...] | None = None
    ) -> torch.Tensor:
        patch_size = patch_size or self.patch_size
        b, c, *sizes = shape
        counts = [s // p for s, p in zip(sizes, patch_size)]
        d = self.n_dim
        x = x.reshape(b, *counts, *patch_size, c)
        perm = [0, 2 * d + 1]
        for i in range(d):
            perm += [1 + i, 1 + d + i]
        return x.permute(perm).reshape(shape)

    def encode(self, patches: torch.Tensor) -> torch.Tensor:
        """Latent tokens ``z [M, C, num_token]`` of ``patches [M, P, C]`` (channel ``c = head * d + j``)."""
        m, p, c = patches.shape
        h, d = self.num_heads, c // self.num_heads
        key, value = self.to_key_value(patches).reshape(m, p, 2, h, d).permute(2, 0, 3, 1, 4)  # [M, H, P, d] each
        tokens = self.latent_tokens.expand(m, h, self.num_token, d)
        z = F.scaled_dot_product_attention(tokens, key, value) + tokens  # [M, H, T, d]
        return z.permute(0, 1, 3, 2).reshape(m, c, self.num_token)

    def transition(self, z: torch.Tensor) -> torch.Tensor:
        """``z + basis(z) @ spectral_weights`` per channel: ``[M, C, T] -> [M, C, T]``."""
        return z + torch.einsum("mctk,ck->mct", self.basis(z), self.spectral_weights)

    def decode(self, patches: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``patches [M, P, C]`` attend to the tokens ``z [M, C, T]``, plus the residual."""
        m, p, c = patches.shape
        h, d = self.num_heads, c // self.num_heads
        z = z.reshape(m, h, d, self.num_token).transpose(2, 3)  # [M, H, T, d]
        query = self.to_query(patches).reshape(m, p, h, d).transpose(1, 2)  # [M, H, P, d]
        return F.scaled_dot_product_attention(query, z, z).transpose(1, 2).reshape(m, p, c) + patches

    def forward(self, x: torch.Tensor, patch_size: Sequence[int] | None = None) -> torch.Tensor:
        """``x [B, C, *S] -> [B, C, *S]``; every ``S_i`` a multiple of the patch (``patch_size``, default
        the block's own)."""
        patch = tuple(int(p) for p in patch_size) if patch_size is not None else self.patch_size
        if any(s % p for s, p in zip(x.shape[2:], patch)):
            raise ShapeError(
                f"neural spectral block got spatial shape {tuple(x.shape[2:])}, not a multiple of the patch "
                f"{patch}; pad the input with lsm_padded_shape"
            )
        patches = self._patchify(x, patch)  # [M, P, C]
        return self._unpatchify(self.decode(patches, self.transition(self.encode(patches))), x.shape, patch)


class LatentSpectralModel(nn.Module):
    """Latent Spectral Model on fields ``x [B, in_channels, *S]`` -> ``[B, out_channels, *S]``.

    Build it with :func:`lsm` (registered as ``"lsm"``); the parameters are documented there.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        n_dim: int,
        width: int,
        num_basis: int,
        num_token: int,
        patch_size: tuple[int, ...] | None,
        depth: int,
        num_heads: int,
        projection_channels: int,
        norm: str,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.n_dim = n_dim
        self.patch_size = patch_size
        self.depth = depth
        conv = _CONV[n_dim]
        # encoder channels per scale; the bottom keeps the channels of the scale above,
        # so that each decoder stage sees [skip, upsampled] of equal widths
        enc = [width << level for level in range(depth)] + [width << max(depth - 1, 0)]
        self.lift = conv(in_channels + n_dim, width, kernel_size=1)
        self.inc = _DoubleConv(n_dim, width, width, width, norm)
        self.downs = nn.ModuleList(
            nn.Sequential(_MAX_POOL[n_dim](2), _DoubleConv(n_dim, enc[level - 1], enc[level], enc[level], norm))
            for level in range(1, depth + 1)
        )
        self.blocks = nn.ModuleList(
            NeuralSpectralBlock(
                c,
                n_dim=n_dim,
                patch_size=patch_size or (1,) * n_dim,  # "auto": the forward pass passes the patch
                num_basis=num_basis,
                num_token=num_token,
                num_heads=num_heads,
            )
            for c in enc
        )
        # decoder stage l takes [skip_l, up(h)] (2 enc[l] channels) to enc[l - 1] (width at the top)
        self.ups = nn.ModuleList(
            _Up(n_dim, 2 * enc[level], enc[level - 1] if level > 0 else width, norm) for level in range(depth)
        )
        self.project = nn.Sequential(
            conv(width, projection_channels, kernel_size=1),
            nn.GELU(),
            conv(projection_channels, out_channels, kernel_size=1),
        )

    def patch_for(self, sizes: Sequence[int]) -> tuple[int, ...]:
        """The patch at input size ``sizes``: the fixed ``patch_size``, or with ``patch_size="auto"``
        ``ceil(S_i / 2**depth)`` per axis, so that the coarsest scale is one patch (global attention
        there) at every resolution, as in the authors' code (``ceil(S / 16)`` with depth 4)."""
        if self.patch_size is not None:
            return self.patch_size
        return tuple(max(1, -(-int(s) // (1 << self.depth))) for s in sizes)

    def grid(self, x: torch.Tensor) -> torch.Tensor:
        """Coordinates ``[B, n_dim, *S]`` of the points of ``x [B, C, *S]``, each axis on ``[0, 1]`` (ends included)."""
        axes = [torch.linspace(0.0, 1.0, s, dtype=x.dtype, device=x.device) for s in x.shape[2:]]
        mesh = torch.stack(torch.meshgrid(*axes, indexing="ij"))
        return mesh.unsqueeze(0).expand(x.shape[0], *mesh.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, in_channels, *S] -> [B, out_channels, *S]`` for any spatial shape ``S``."""
        check_field_input(
            x,
            model_name="lsm",
            in_channels=self.in_channels,
            n_dim=self.n_dim,
            dim_fix=f"build lsm with n_dim={x.ndim - 2 if torch.is_tensor(x) else '?'}",
        )
        sizes = x.shape[2:]
        h = self.lift(torch.cat([x, self.grid(x)], dim=1))
        patch = self.patch_for(sizes)
        padded = lsm_padded_shape(sizes, patch, self.depth)
        pad = [amount for s, t in zip(reversed(sizes), reversed(padded)) for amount in (0, t - s)]
        if any(pad):
            h = F.pad(h, pad)
        skips = [self.inc(h)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        h = self.blocks[self.depth](skips[self.depth], patch)
        for level in reversed(range(self.depth)):
            h = self.ups[level](h, self.blocks[level](skips[level], patch))
        h = h[(..., *(slice(0, s) for s in sizes))]
        return self.project(h)


@MODELS.register("lsm")
def lsm(
    *,
    in_channels: int,
    out_channels: int,
    n_dim: int | None = None,
    width: int = 32,
    num_basis: int = 12,
    num_token: int = 4,
    patch_size: int | Sequence[int] = 4,
    depth: int = 4,
    num_heads: int = 8,
    projection_channels: int = 128,
    norm: str = "batch",
) -> LatentSpectralModel:
    """Latent Spectral Model (Wu et al., ICML 2023) for 1D, 2D or 3D fields.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of ``x [B, Cin, *S]`` and of the output ``[B, Cout, *S]``. The
        coordinates (each axis on [0, 1]) are appended inside the model.
    n_dim : int, optional
        Spatial dimensions, 1 to 3. Defaults to ``len(patch_size)`` when ``patch_size`` is
        a sequence, else 2.
    width : int
        Channels at the finest scale; scale ``l`` has ``width * 2**l`` (the bottom keeps
        the scale above's). The paper uses 64 for Darcy and 32 to 64 elsewhere; 32 is a
        good start.
    num_basis : int
        Frequencies of the latent sin/cos basis (paper: 12).
    num_token : int
        Latent tokens per patch (paper: 4).
    patch_size : int, sequence of int, or "auto"
        Patch extent per axis (paper: 6 on 85x85 Darcy, 4 on 64x64 Navier-Stokes). "auto"
        takes ``ceil(S / 2**depth)`` per axis at each input size, so the coarsest scale is one
        patch and its spectral block mixes the whole domain, at any resolution (the authors'
        code: ``ceil(S / 16)`` at depth 4). A fixed patch smaller than that leaves the
        coarsest scale cut into patches that never exchange information except through
        3-point convolutions: on Burgers 1D at 128 points (depth 3), patch 4 gives test
        relative L2 0.277 and "auto" (16) 0.096 (quick benchmark, 100 epochs).
    depth : int
        Number of downsamplings (paper: 4, i.e. five scales).
    num_heads : int
        Attention heads of the spectral blocks; must divide ``width``.
    projection_channels : int
        Hidden channels of the pointwise projection to ``out_channels``.
    norm : {"batch", "group", "none"}
        Normalization in the convolution stages. "batch" is the paper's; "group" (one
        group: per-sample statistics) makes outputs independent of the batch.

    Returns
    -------
    LatentSpectralModel
        ``x [B, in_channels, *S] -> [B, out_channels, *S]`` for any ``S``. Each axis is
        padded internally to a multiple of ``patch_size * 2**depth`` (see
        :func:`lsm_padded_shape`): choose resolutions near such multiples to waste
        little compute (64 with patch 4 and depth 4; 85 with patch 6 and depth 4 pads to 96).
        A wrong channel count or dimensionality raises :class:`~sciml.core.errors.ShapeError`.
    """
    auto = isinstance(patch_size, str)
    if auto and patch_size != "auto":
        raise ConfigError(f"lsm patch_size must be an integer, one per axis, or 'auto', got {patch_size!r}")
    if isinstance(patch_size, Sequence) and not auto:
        patches = tuple(int(p) for p in patch_size)
        if n_dim is None:
            n_dim = len(patches)
    else:
        n_dim = 2 if n_dim is None else n_dim
        patches = (1,) * int(n_dim) if auto else (int(patch_size),) * int(n_dim)
    n_dim = int(n_dim)
    if n_dim not in _CONV:
        raise ConfigError(f"lsm supports 1 to 3 spatial dimensions, got n_dim={n_dim}; use n_dim=1, 2 or 3")
    if len(patches) != n_dim:
        raise ConfigError(
            f"lsm is {n_dim}-D but patch_size={list(patches)} has {len(patches)} entries; give one per axis"
        )
    if any(p < 1 for p in patches):
        raise ConfigError(f"lsm patch_size must be positive, got {list(patches)}")
    if norm not in NORMS:
        raise ConfigError(f"unknown lsm norm '{norm}'; use one of {', '.join(NORMS)}")
    for key, value, low in (
        ("in_channels", in_channels, 1),
        ("out_channels", out_channels, 1),
        ("width", width, 1),
        ("num_basis", num_basis, 1),
        ("num_token", num_token, 1),
        ("depth", depth, 0),
        ("num_heads", num_heads, 1),
        ("projection_channels", projection_channels, 1),
    ):
        if int(value) < low:
            raise ConfigError(f"lsm {key} must be >= {low}, got {value}")
    if int(width) % int(num_heads):
        raise ConfigError(f"lsm width={width} is not a multiple of num_heads={num_heads}; change one of them")
    model = LatentSpectralModel(
        in_channels=int(in_channels),
        out_channels=int(out_channels),
        n_dim=n_dim,
        width=int(width),
        num_basis=int(num_basis),
        num_token=int(num_token),
        patch_size=None if auto else patches,
        depth=int(depth),
        num_heads=int(num_heads),
        projection_channels=int(projection_channels),
        norm=norm,
    )
    model.sciml_spec = {
        "in_channels": int(in_channels),
        "out_channels": int(out_channels),
        "n_dim": n_dim,
        "width": int(width),
        "num_basis": int(num_basis),
        "num_token": int(num_token),
        "patch_size": "auto" if auto else list(patches),
        "depth": int(depth),
        "num_heads": int(num_heads),
        "projection_channels": int(projection_channels),
        "norm": norm,
        "parameters": parameter_count(model),
    }
    return model
