"""Multigrid tensorized FNO (MG-TFNO): multigrid patching around any operator, registered as ``mgtfno``.

Kossaifi, Kovachki, Azizzadenesheli, Anandkumar: "Multi-Grid Tensorized Fourier Neural
Operator for High-Resolution PDEs" (TMLR 2024). Each sample ``[C, *S]`` is cut into
``2**levels`` patches per axis (optionally padded by ``padding_fraction`` of the size,
circularly); to each patch are appended ``levels`` context channel groups, the field
subsampled by ``2, 4, ..., 2**levels`` around the patch, which gives the patch a
coarse view of its surroundings up to the whole domain. The inner operator (a TFNO)
maps ``[B * 2**(levels*d), C * (levels + 1), *P] -> [..., Cout, *P]`` and the patch
outputs are cropped and stitched back to ``[B, Cout, *S]``.

Design: the patching is part of the model's forward, not of an objective or of the
Trainer. ``model(x)`` stays a map from full fields to full fields, so the model trains
with any objective (supervised, rollout), inside the data normalizers, is saved and
evaluated like every other operator, and needs no change to the Trainer. The Fourier
layers see only patch-sized inputs: their cost and the peak memory of inference
(``max_patches_per_forward``) scale with the patch, not with the domain.

2-D patching is neuraloperator's (``neuralop.training.patching.MultigridPatching2D``);
1-D follows the same construction axis by axis.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciml.errors import ConfigError, ShapeError
from sciml.operators._common import check_field_input
from sciml.operators._tfno import tfno
from sciml.registry import MODELS

__all__ = ["MultigridPatchedOperator", "mgtfno", "multigrid_valid_size"]

_AXES = ("X", "Y")


def _padding(size: int, padding_fraction: float) -> int:
    return int(round(size * padding_fraction))


def _axis_window_counts(size: int, levels: int, padding: int) -> list[int]:
    """Windows per coarse level that neuraloperator's construction cuts along one axis of ``size``."""
    n = 2**levels
    patch = size // n
    counts = []
    for level in range(1, levels + 1):
        stride = patch // 2**level
        if stride < 1:
            counts.append(0)
            continue
        sub = math.ceil(size / 2**level)
        pad = math.ceil((patch + (n - 1) * stride - sub) / 2.0) + padding
        counts.append((sub + 2 * pad - (patch + 2 * padding)) // stride + 1)
    return counts


def multigrid_valid_size(size: int, levels: int, padding_fraction: float = 0.0) -> bool:
    """Whether an axis of ``size`` points splits into ``2**levels`` multigrid patches.

    The size must be a multiple of ``2**levels``, and at every level ``l`` the subsampled
    field must give exactly ``2**levels`` context windows (the patch size must be at least
    ``2**levels`` and its quotient by ``2**l`` must tile the coarse field: multiples of
    ``4**levels`` always work).

    >>> [s for s in range(8, 72, 4) if multigrid_valid_size(s, 2)]
    [32, 36, 40, 44, 48, 52, 56, 60, 64, 68]
    """
    n = 2**levels
    if levels == 0:
        return size >= 1
    if size % n:
        return False
    return all(c == n for c in _axis_window_counts(size, levels, _padding(size, padding_fraction)))


def _valid_neighbours(size: int, levels: int, padding_fraction: float) -> tuple[int | None, int]:
    below = next((s for s in range(size - 1, 0, -1) if multigrid_valid_size(s, levels, padding_fraction)), None)
    above = next(
        s for s in range(size + 1, size + 4**levels * 4 + 2) if multigrid_valid_size(s, levels, padding_fraction)
    )
    return below, above


def _patch_axis_1d(x: torch.Tensor, levels: int, padding: int) -> torch.Tensor:
    """1-D multigrid patches ``[B * n, C * (levels + 1), size / n + 2 * padding]`` of ``x [B, C, size]``."""
    b, c, size = x.shape
    n = 2**levels
    patch = size // n
    window = patch + 2 * padding

    def windows(field: torch.Tensor, stride: int) -> torch.Tensor:
        w = field.unfold(-1, window, stride)  # [B, C, n, window]
        return w.permute(0, 2, 1, 3).reshape(b * n, c, window)

    fine = F.pad(x, (padding, padding), mode="circular") if padding else x
    parts = [windows(fine, patch)]
    for level in range(1, levels + 1):
        stride = patch // 2**level
        sub = x[..., :: 2**level]
        pad = math.ceil((patch + (n - 1) * stride - sub.shape[-1]) / 2.0) + padding
        # circular padding wider than the field: pad by the field first, as neuraloperator does
        while pad > 0:
            step = min(pad, sub.shape[-1])
            sub = F.pad(sub, (step, step), mode="circular")
            pad -= step
        parts.append(windows(sub, stride))
    return torch.cat(parts, dim=1)


class MultigridPatchedOperator(nn.Module):
    """An operator applied to multigrid patches of its input and stitched back.

    Build it with :func:`mgtfno` (registered as ``"mgtfno"``), or around any operator
    whose ``in_channels`` is ``in_channels * (levels + 1)``.

    Parameters
    ----------
    operator : nn.Module
        ``[N, in_channels * (levels + 1), *P] -> [N, Cout, *P]`` on patches ``P``.
    in_channels : int
        Channels ``C`` of the full fields ``x [B, C, *S]``.
    n_dim : {1, 2}
    levels : int
        Patches per axis ``2**levels``; ``0`` is the plain operator.
    padding_fraction : float
        Each patch is extended on both sides by ``round(size * padding_fraction)`` points
        of its neighbours (circularly at the domain's boundary), cropped after the
        operator: it hides the patch edges from the Fourier layers.
    max_patches_per_forward : int, optional
        Run the operator on at most this many patches at a time. Bounds the peak memory of
        inference; in training, activations of all chunks are still kept for backward.
    """

    def __init__(
        self,
        operator: nn.Module,
        *,
        in_channels: int,
        n_dim: int = 2,
        levels: int = 1,
        padding_fraction: float = 0.0,
        max_patches_per_forward: int | None = None,
        global_coordinates: bool = False,
    ):
        super().__init__()
        if n_dim not in (1, 2):
            raise ConfigError(f"multigrid patching supports 1-D and 2-D fields, got n_dim={n_dim}; use fno/tfno in 3-D")
        if int(levels) < 0:
            raise ConfigError(f"multigrid levels must be >= 0, got {levels}")
        if not 0 <= float(padding_fraction) < 0.5:
            raise ConfigError(f"padding_fraction must be in [0, 0.5), got {padding_fraction}")
        if max_patches_per_forward is not None and int(max_patches_per_forward) < 1:
            raise ConfigError(f"max_patches_per_forward must be >= 1 or None, got {max_patches_per_forward}")
        self.operator = operator
        self.in_channels, self.n_dim, self.levels = int(in_channels), int(n_dim), int(levels)
        self.padding_fraction = float(padding_fraction)
        self.max_patches_per_forward = None if max_patches_per_forward is None else int(max_patches_per_forward)
        # append the coordinates of the whole domain before patching: a patch then knows where
        # it lies (a per-patch 0..1 grid inside the operator repeats features in every patch)
        self.global_coordinates = bool(global_coordinates)
        self._patchers: dict[float, nn.Module] = {}

    @property
    def patches_per_sample(self) -> int:
        return 2 ** (self.levels * self.n_dim)

    def check_resolution(self, spatial_shape: Sequence[int]) -> None:
        """One-line :class:`~sciml.errors.ShapeError` unless every axis splits into ``2**levels`` patches."""
        for axis, size in enumerate(spatial_shape):
            if not multigrid_valid_size(int(size), self.levels, self.padding_fraction):
                below, above = _valid_neighbours(int(size), self.levels, self.padding_fraction)
                sizes = f"{below} or {above}" if below else f"{above}"
                raise ShapeError(
                    f"multigrid patching with levels={self.levels} cannot split resolution {int(size)} of axis "
                    f"{_AXES[axis]} (spatial shape {list(spatial_shape)}) into {2**self.levels} patches with "
                    f"{self.levels} context levels; use a resolution such as {sizes} (multiples of "
                    f"{4**self.levels} always work) or fewer levels"
                )

    def _paddings(self, spatial_shape: Sequence[int]) -> list[int]:
        return [_padding(int(s), self.padding_fraction) for s in spatial_shape]

    def patch(self, x: torch.Tensor) -> torch.Tensor:
        """Multigrid patches ``[B * 2**(levels*d), C * (levels + 1), *(S / 2**levels + 2 * pad)]`` of ``x [B, C, *S]``.

        Patches of one sample are consecutive; channels ``[:C]`` hold the padded patch,
        channels ``[C*l : C*(l+1)]`` the field subsampled by ``2**l`` around it.
        """
        self.check_resolution(x.shape[2:])
        if self.levels == 0:
            return x
        if self.n_dim == 1:
            return _patch_axis_1d(x, self.levels, self._paddings(x.shape[2:])[0])
        return self._patcher(self.padding_fraction)._make_mg_patches(x)

    def _patcher(self, padding_fraction: float) -> nn.Module:
        """neuraloperator's 2-D patcher, built once per padding (its constructor prints its settings)."""
        if padding_fraction not in self._patchers:
            from neuralop.training.patching import MultigridPatching2D

            with contextlib.redirect_stdout(io.StringIO()):
                self._patchers[padding_fraction] = MultigridPatching2D(
                    nn.Identity(), levels=self.levels, padding_fraction=padding_fraction
                )
        return self._patchers[padding_fraction]

    def stitch(self, patches: torch.Tensor, spatial_shape: Sequence[int]) -> torch.Tensor:
        """Crop the padding of patch outputs ``[B * n, Cout, *P]`` and put them back together: ``[B, Cout, *S]``."""
        if self.levels == 0:
            return patches
        pads = self._paddings(spatial_shape)
        index = tuple(slice(p, patches.shape[2 + i] - p) for i, p in enumerate(pads))
        patches = patches[(..., *index)]
        n = 2**self.levels
        b = patches.shape[0] // self.patches_per_sample
        c = patches.shape[1]
        if self.n_dim == 1:
            return patches.reshape(b, n, c, -1).permute(0, 2, 1, 3).reshape(b, c, -1)
        return self._patcher(0.0)._stitch(patches.contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_field_input(
            x,
            model_name="mgtfno",
            in_channels=self.in_channels,
            n_dim=self.n_dim,
            dim_fix=f"build the model with n_modes of length {x.ndim - 2 if x.ndim in (3, 4) else self.n_dim}",
        )
        if self.global_coordinates:
            axes = [torch.linspace(0.0, 1.0, n, device=x.device, dtype=x.dtype) for n in x.shape[2:]]
            grid = torch.stack(torch.meshgrid(*axes, indexing="ij"))
            x = torch.cat([x, grid.expand(x.shape[0], *grid.shape)], dim=1)
        patches = self.patch(x)
        chunk = self.max_patches_per_forward
        if chunk is None or patches.shape[0] <= chunk:
            out = self.operator(patches)
        else:
            out = torch.cat([self.operator(p) for p in patches.split(chunk, dim=0)], dim=0)
        return self.stitch(out, x.shape[2:])


@MODELS.register("mgtfno")
def mgtfno(
    *,
    in_channels: int,
    out_channels: int,
    levels: int = 1,
    padding_fraction: float = 0.0625,
    n_modes: Sequence[int] = (16, 16),
    hidden_channels: int = 32,
    n_layers: int = 4,
    factorization: str = "tucker",
    rank: float = 0.1,
    max_patches_per_forward: int | None = None,
    global_coordinates: bool = True,
    **kwargs: Any,
) -> MultigridPatchedOperator:
    """Multigrid tensorized FNO (Kossaifi et al., TMLR 2024): a TFNO on multigrid patches (1D or 2D).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels ``C`` of the full input ``x [B, C, *S]`` and of the output. The inner
        TFNO takes ``C * (levels + 1)`` channels (the patch and its ``levels`` context
        levels); for one input channel that is neuraloperator's ``C + levels``.
    levels : int
        ``2**levels`` patches per axis. 1 (4 patches in 2D) is a good start; each axis of
        the data must split evenly (multiples of ``4**levels`` always do, see
        :func:`multigrid_valid_size`), else a one-line :class:`~sciml.errors.ShapeError`.
    padding_fraction : float
        Overlap added around each patch as a fraction of the full size (cropped after
        the TFNO); 0.0625 to 0.125 hides the patch edges at little cost.
    n_modes : sequence of int
        Fourier modes per axis *of a patch*: at most the padded patch size
        ``S / 2**levels + 2 * pad``. Halve the full-resolution model's modes per level.
    hidden_channels, n_layers, factorization, rank, **kwargs
        As for :func:`~sciml.operators.tfno`.
    max_patches_per_forward : int, optional
        Bound on patches per call of the TFNO (peak inference memory).
    global_coordinates : bool
        Append the whole domain's coordinates as input channels before patching, and turn
        off the TFNO's own (per-patch) positional grid, so a patch knows where it lies.

    Returns
    -------
    MultigridPatchedOperator
        ``x [B, in_channels, *S] -> [B, out_channels, *S]``; its ``sciml_spec`` holds the
        TFNO's parameter counts and the patching settings.
    """
    n_modes = tuple(int(m) for m in (n_modes if isinstance(n_modes, Sequence) else [n_modes]))
    if len(n_modes) not in (1, 2):
        raise ConfigError(f"mgtfno supports 1-D and 2-D fields, got n_modes={list(n_modes)}; use fno/tfno in 3-D")
    if int(levels) < 0:
        raise ConfigError(f"mgtfno levels must be >= 0, got {levels}")
    n_dim = len(n_modes)
    if global_coordinates:
        kwargs = {"positional_embedding": None, **kwargs}
    inner = tfno(
        in_channels=(int(in_channels) + (n_dim if global_coordinates else 0)) * (int(levels) + 1),
        out_channels=out_channels,
        n_modes=n_modes,
        hidden_channels=hidden_channels,
        n_layers=n_layers,
        factorization=factorization,
        rank=rank,
        **kwargs,
    )
    model = MultigridPatchedOperator(
        inner,
        in_channels=int(in_channels),
        n_dim=len(n_modes),
        levels=int(levels),
        padding_fraction=padding_fraction,
        max_patches_per_forward=max_patches_per_forward,
        global_coordinates=global_coordinates,
    )
    model.sciml_spec = {
        **inner.sciml_spec,
        "in_channels": int(in_channels),
        "operator_in_channels": inner.sciml_spec["in_channels"],
        "levels": int(levels),
        "padding_fraction": float(padding_fraction),
    }
    return model
