"""Multigrid tensorized FNO (MG-TFNO): multigrid patching around any operator, registered as ``mgtfno``.

Kossaifi, Kovachki, Azizzadenesheli, Anandkumar: "Multi-Grid Tensorized Fourier Neural
Operator for High-Resolution PDEs" (TMLR 2024). Each sample ``[C, *S]`` is cut into
``2**levels`` patches per axis, each extended by ``padding_fraction`` of the size; to
each patch are appended ``levels`` context channel groups, the field subsampled by
``2, 4, ..., 2**levels`` around the patch, which gives the patch a coarse view of its
surroundings up to the whole domain. Where a window reaches past the domain's boundary
it is filled by ``padding_mode``: ``"circular"`` for periodic domains (neuraloperator's
only mode), ``"reflect"``, ``"replicate"`` or ``"zeros"`` for bounded ones. The inner
operator (a TFNO) maps ``[B * 2**(levels*d), C * (levels + 1), *P] -> [..., Cout, *P]``
and the patch outputs are cropped and stitched back to ``[B, Cout, *S]``.

Design: the patching is part of the model's forward, not of an objective or of the
Trainer. ``model(x)`` stays a map from full fields to full fields, so the model trains
with any objective (supervised, rollout), inside the data normalizers, is saved and
evaluated like every other operator, and needs no change to the Trainer. The Fourier
layers see only patch-sized inputs: their cost and the peak memory of inference
(``max_patches_per_forward``) scale with the patch, not with the domain.

Patch parallelism (``distribute_patches=True`` under ``torch.distributed``): every rank
of the patch group holds the same batch, runs the inner operator on its contiguous share
of the patches, and the outputs are gathered with a differentiable all-gather and
stitched, so every rank returns the whole output. The all-gather's backward sums the
ranks' (identical) output gradients, so a rank's parameter gradients are ``W`` times its
own patches' contribution; the mean all-reduce of data parallelism (DDP, the Trainer
under torchrun) turns them into exactly the single-process gradient. Feed such a run
:class:`sciml.training.distributed.ReplicatedBatches`, not a sharded dataset.

The construction (window sizes, strides, context padding) is neuraloperator's
``MultigridPatching2D``, written here by index arithmetic for 1-D and 2-D and for every
padding mode; in circular mode the patches equal neuraloperator's bit for bit (tested).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.registry import MODELS
from sciml.operators._common import check_field_input
from sciml.operators._tfno import tfno

__all__ = ["COARSENINGS", "PADDING_MODES", "STITCHINGS", "MultigridPatchedOperator", "mgtfno", "multigrid_valid_size"]

_AXES = ("X", "Y")

STITCHINGS = ("crop", "blend")
"""How patch outputs become the field: ``crop`` drops each patch's padding and tiles the
rest (neuraloperator's rule; every point comes from one patch); ``blend`` keeps the padding
and averages overlapping predictions with weights that ramp linearly over the overlap (a
partition of unity), so neighbouring patches agree across the seams.
"""

COARSENINGS = ("subsample", "average")
"""How the context levels are coarsened: ``subsample`` keeps every ``2**l``-th point
(neuraloperator's rule); ``average`` takes the mean of each ``2**l`` block, which keeps the
low-frequency content of rough fields (Darcy's piecewise-constant coefficient) instead of
aliasing it."""

PADDING_MODES = ("circular", "reflect", "replicate", "zeros")
"""How windows are filled past the domain's boundary.

``circular``: periodic wrap (periodic domains: Navier-Stokes on the torus, Burgers, KS).
``reflect``: mirror about the boundary point, which is not repeated (``f[-k] = f[k]``):
the even continuation, right for coefficients in a cosine (Neumann) series such as
Darcy's. ``replicate``: the boundary value repeated. ``zeros``: zero (after the data's
normalization).
"""


def _padding(size: int, padding_fraction: float) -> int:
    return int(round(size * padding_fraction))


def _level_geometry(size: int, levels: int, padding: int, level: int) -> tuple[int, int, int]:
    """``(stride, length, pad)`` of level ``level``: window stride, subsampled length and its padding.

    Level 0 is the fine field: stride = patch size, pad = ``padding``. Level ``l`` is the
    field subsampled by ``2**l``, padded so that ``2**levels`` windows of the fine window
    size, ``patch / 2**l`` apart, are centred on the patches (neuraloperator's rule).
    """
    n = 2**levels
    patch = size // n
    stride = patch // 2**level
    length = math.ceil(size / 2**level)
    pad = math.ceil((patch + (n - 1) * stride - length) / 2.0) + padding
    return stride, length, pad


def _axis_window_counts(size: int, levels: int, padding: int) -> list[int]:
    """Windows per coarse level that neuraloperator's construction cuts along one axis of ``size``."""
    patch = size // 2**levels
    counts = []
    for level in range(1, levels + 1):
        stride, length, pad = _level_geometry(size, levels, padding, level)
        counts.append(0 if stride < 1 else (length + 2 * pad - (patch + 2 * padding)) // stride + 1)
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


def _window_positions(size: int, levels: int, padding: int, level: int) -> torch.Tensor:
    """Positions ``[2**levels, window]`` (int64) of each window's points on the level's subsampled axis.

    Positions below 0 or at/after the subsampled length lie past the boundary.
    """
    stride, _, pad = _level_geometry(size, levels, padding, level)
    window = size // 2**levels + 2 * padding
    return torch.arange(2**levels)[:, None] * stride - pad + torch.arange(window)[None, :]


def _fold(positions: torch.Tensor, length: int, mode: str) -> torch.Tensor:
    """Indices into an axis of ``length`` that fill ``positions`` under ``mode`` (zeros: any index, masked)."""
    if mode == "circular":
        return positions % length
    if mode == "reflect":
        if length == 1:
            return torch.zeros_like(positions)
        period = 2 * (length - 1)
        folded = positions % period
        return torch.where(folded < length, folded, period - folded)
    return positions.clamp(0, length - 1)  # replicate; zeros masks these points after


def _windows(field: torch.Tensor, indices: Sequence[torch.Tensor]) -> torch.Tensor:
    """``field [B, C, *L]`` at ``indices[a] [n, w_a]`` per axis: ``[B, C, n, w_0, n, w_1, ...]``."""
    for axis, index in enumerate(indices):
        dim = 2 + 2 * axis
        field = field.index_select(dim, index.reshape(-1)).unflatten(dim, tuple(index.shape))
    return field


def _patches_first(windows: torch.Tensor, n_dim: int) -> torch.Tensor:
    """``[B, C, n, w_0, n, w_1, ...] -> [B * n**d, C, w_0, w_1, ...]`` (patch ``(i, j)`` of sample ``b`` at ``b*n*n + i*n + j``)."""
    b, c = windows.shape[:2]
    order = [0, *(2 + 2 * a for a in range(n_dim)), 1, *(3 + 2 * a for a in range(n_dim))]
    windows = windows.permute(order)
    return windows.reshape(-1, c, *windows.shape[2 + n_dim :])


def _samples_first(patches: torch.Tensor, n: int, n_dim: int) -> torch.Tensor:
    """``[B * n**d, C, w_0, w_1, ...] -> [B, C, n, w_0, n, w_1, ...]``: the inverse of :func:`_patches_first`."""
    c = patches.shape[1]
    grid = patches.reshape(-1, *([n] * n_dim), c, *patches.shape[2:])  # [B, n, (n,) C, w_0, (w_1)]
    order = [0, n_dim + 1, *(x for a in range(n_dim) for x in (1 + a, n_dim + 2 + a))]
    return grid.permute(order)


def _outer(vectors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Product of per-axis ``[n, w_a]`` tensors broadcast to ``[n, w_0, n, w_1, ...]``."""
    d = len(vectors)
    out = None
    for axis, v in enumerate(vectors):
        shape = [1] * (2 * d)
        shape[2 * axis : 2 * axis + 2] = v.shape
        v = v.reshape(shape)
        out = v if out is None else out * v
    return out


class MultigridPatchedOperator(nn.Module):
    """An operator applied to multigrid patches of its input and stitched back.

    Build it with :func:`mgtfno` (registered as ``"mgtfno"``), or around any operator
    whose ``in_channels`` is ``(in_channels + n_dim * global_coordinates) * (levels + 1)``.

    Parameters
    ----------
    operator : nn.Module
        ``[N, Cp * (levels + 1), *P] -> [N, Cout, *P]`` on patches ``P``, where ``Cp`` is
        ``in_channels`` plus ``n_dim`` coordinate channels when ``global_coordinates``.
    in_channels : int
        Channels ``C`` of the full fields ``x [B, C, *S]``.
    n_dim : {1, 2}
    levels : int
        Patches per axis ``2**levels``; ``0`` is the plain operator.
    padding_fraction : float
        Each patch is extended on both sides by ``round(size * padding_fraction)`` points
        of its neighbours, cropped or blended after the operator (``stitching``): it hides the patch edges from the
        Fourier layers.
    padding_mode : {"circular", "reflect", "replicate", "zeros"}
        How the patch padding and the context windows are filled past the domain's
        boundary: ``"circular"`` for periodic data, a bounded mode otherwise (``"reflect"``
        for Darcy flow). See :data:`PADDING_MODES`.
    max_patches_per_forward : int, optional
        Run the operator on at most this many patches at a time. Bounds the peak memory of
        inference; in training, activations of all chunks are still kept for backward.
    global_coordinates : bool
        Append the coordinates of the whole domain (``[0, 1]`` per axis) to every level of
        every patch, so a patch knows where it lies. A padded point gets the coordinate of
        where it lies: on the torus (wrapped) in circular mode, outside ``[0, 1]``
        (extended linearly) in the bounded modes.
    stitching : {"crop", "blend"}
        Tile the cropped patch outputs (neuraloperator's rule) or average the overlapping
        padded outputs with linear ramps (smooth seams). See :data:`STITCHINGS`.
    coarsening : {"subsample", "average"}
        How context level ``l`` is made from the field: every ``2**l``-th point
        (neuraloperator's rule) or the mean of each ``2**l`` block (no aliasing of rough
        inputs). See :data:`COARSENINGS`.
    distribute_patches : bool
        Patch parallelism under ``torch.distributed``: each rank of ``patch_group`` runs the
        operator on its contiguous share of the patches and the outputs are all-gathered
        (differentiably). Every rank must call forward with the same input (checked when
        ``check_replicated_input``). Without an initialized process group it is a no-op.
    patch_group : ProcessGroup, optional
        The ranks that share the patches; the default group when ``None``.
    check_replicated_input : bool
        With ``distribute_patches``, compare a fingerprint of the input over the patch
        group at every forward (one small all-gather) and raise a one-line
        :class:`~sciml.core.errors.ConfigError` when the ranks hold different batches.
    """

    def __init__(
        self,
        operator: nn.Module,
        *,
        in_channels: int,
        n_dim: int = 2,
        levels: int = 1,
        padding_fraction: float = 0.0,
        padding_mode: str = "circular",
        max_patches_per_forward: int | None = None,
        global_coordinates: bool = False,
        coarsening: str = "subsample",
        stitching: str = "crop",
        distribute_patches: bool = False,
        patch_group: Any = None,
        check_replicated_input: bool = True,
    ):
        super().__init__()
        if n_dim not in (1, 2):
            raise ConfigError(f"multigrid patching supports 1-D and 2-D fields, got n_dim={n_dim}; use fno/tfno in 3-D")
        if int(levels) < 0:
            raise ConfigError(f"multigrid levels must be >= 0, got {levels}")
        if not 0 <= float(padding_fraction) < 0.5:
            raise ConfigError(f"padding_fraction must be in [0, 0.5), got {padding_fraction}")
        if padding_mode not in PADDING_MODES:
            raise ConfigError(
                f"unknown padding_mode '{padding_mode}' for multigrid patching; use one of {', '.join(PADDING_MODES)} "
                "(circular for periodic domains)"
            )
        if coarsening not in COARSENINGS:
            raise ConfigError(
                f"unknown coarsening '{coarsening}' for multigrid patching; use one of {', '.join(COARSENINGS)}"
            )
        if stitching not in STITCHINGS:
            raise ConfigError(
                f"unknown stitching '{stitching}' for multigrid patching; use one of {', '.join(STITCHINGS)}"
            )
        if max_patches_per_forward is not None and int(max_patches_per_forward) < 1:
            raise ConfigError(f"max_patches_per_forward must be >= 1 or None, got {max_patches_per_forward}")
        self.operator = operator
        self.in_channels, self.n_dim, self.levels = int(in_channels), int(n_dim), int(levels)
        self.padding_fraction = float(padding_fraction)
        self.padding_mode = padding_mode
        self.max_patches_per_forward = None if max_patches_per_forward is None else int(max_patches_per_forward)
        # a per-patch 0..1 grid inside the operator would repeat the same features in every patch
        self.global_coordinates = bool(global_coordinates)
        self.coarsening = coarsening
        self.stitching = stitching
        self.distribute_patches = bool(distribute_patches)
        self.patch_group = patch_group
        self.check_replicated_input = bool(check_replicated_input)
        self._index_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    @property
    def patches_per_sample(self) -> int:
        return 2 ** (self.levels * self.n_dim)

    # ------------------------------------------------------------------ patching
    def check_resolution(self, spatial_shape: Sequence[int]) -> None:
        """One-line :class:`~sciml.core.errors.ShapeError` unless every axis splits into ``2**levels`` patches."""
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

    def _axis_indices(self, size: int, level: int, device: torch.device) -> tuple[torch.Tensor, ...]:
        """``(index, inside, position)`` ``[n, window]`` of one axis at one level, cached per size and device."""
        key = (size, level, self.levels, self.padding_fraction, self.padding_mode, str(device))
        if key not in self._index_cache:
            padding = _padding(size, self.padding_fraction) if self.levels else 0  # levels 0: the field itself
            position = _window_positions(size, self.levels, padding, level)
            length = _level_geometry(size, self.levels, 0, level)[1]
            index = _fold(position, length, self.padding_mode)
            inside = (position >= 0) & (position < length)
            self._index_cache[key] = (index.to(device), inside.to(device), position.to(device))
        return self._index_cache[key]

    def patch(self, x: torch.Tensor) -> torch.Tensor:
        """Multigrid patches ``[B * 2**(levels*d), C * (levels + 1), *(S / 2**levels + 2 * pad)]`` of ``x [B, C, *S]``.

        Patches of one sample are consecutive, row-major over the patch grid; channels
        ``[:C]`` hold the padded patch, channels ``[C*l : C*(l+1)]`` the field subsampled by
        ``2**l`` around it. Points past the boundary are filled by ``padding_mode``.
        """
        self.check_resolution(x.shape[2:])
        if self.levels == 0:
            return x
        levels = []
        for level in range(self.levels + 1):
            field = self._coarsen(x, 2**level)
            axes = [self._axis_indices(int(s), level, x.device) for s in x.shape[2:]]
            windows = _windows(field, [index for index, _, _ in axes])
            if self.padding_mode == "zeros":
                windows = windows * _outer([inside for _, inside, _ in axes]).to(windows.dtype)
            levels.append(_patches_first(windows, self.n_dim))
        return torch.cat(levels, dim=1)

    def _coarsen(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """``x [B, C, *S]`` coarsened by ``step`` per axis (every ``step``-th point, or block means)."""
        if step == 1:
            return x
        if self.coarsening == "average":
            pool = nn.functional.avg_pool1d if self.n_dim == 1 else nn.functional.avg_pool2d
            return pool(x, step)
        return x[(..., *[slice(None, None, step)] * self.n_dim)]

    def coordinate_patches(self, batch: int, spatial_shape: Sequence[int], *, like: torch.Tensor) -> torch.Tensor:
        """Global coordinates of every point of every level's window: ``[batch * n**d, d * (levels + 1), *P]``.

        Axis ``a`` of a field of ``S_a`` points spans ``[0, 1]`` (point ``i`` at
        ``i / (S_a - 1)``). A point past the boundary lies on the torus (wrapped) in
        circular mode and outside ``[0, 1]`` (extended) in the bounded modes.
        """
        shape = [int(s) for s in spatial_shape]
        levels = []
        for level in range(self.levels + 1):
            axes = [self._axis_indices(s, level, like.device) for s in shape]
            channels = []
            for axis, (index, _, position) in enumerate(axes):
                where = index if self.padding_mode == "circular" else position
                # a coarse point lies at its first fine point (subsample) or its block's centre (average)
                centre = (2**level - 1) / 2 if self.coarsening == "average" else 0.0
                values = (where * 2**level + centre).to(like.dtype) / max(shape[axis] - 1, 1)
                vectors = [torch.ones(i.shape, dtype=like.dtype, device=like.device) for i, _, _ in axes]
                vectors[axis] = values
                channels.append(_outer(vectors))
            grid = torch.stack(channels)[None]  # [1, d, n, w_0, n, w_1, ...]
            levels.append(_patches_first(grid, self.n_dim))
        grid = torch.cat(levels, dim=1)
        return grid.repeat(batch, *([1] * (grid.ndim - 1)))

    def stitch(self, patches: torch.Tensor, spatial_shape: Sequence[int]) -> torch.Tensor:
        """Put patch outputs ``[B * n**d, Cout, *P]`` back together: ``[B, Cout, *S]`` (see :data:`STITCHINGS`)."""
        if self.levels == 0:
            return patches
        pads = self._paddings(spatial_shape)
        if self.stitching == "blend" and any(pads):
            return self._blend(patches, [int(s) for s in spatial_shape], pads)
        index = tuple(slice(p, patches.shape[2 + i] - p) for i, p in enumerate(pads))
        patches = patches[(..., *index)]
        grid = _samples_first(patches, 2**self.levels, self.n_dim)
        return grid.reshape(*grid.shape[:2], *(int(s) for s in spatial_shape))

    def _blend_weights(self, size: int, pad: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``(index, weight)`` ``[n, window]`` of one axis: where each padded patch point lands, and its weight.

        The weight ramps linearly over the ``2 * pad`` points at each end of the window,
        where the window overlaps its neighbour, so overlapping weights sum to one; points
        past a bounded domain's edge get weight 0.
        """
        position = _window_positions(size, self.levels, pad, 0)
        window = position.shape[1]
        k = torch.arange(window, dtype=torch.float64)
        ramp = torch.minimum(k + 0.5, window - k - 0.5) / (2 * pad)
        weight = ramp.clamp(max=1.0)[None, :].expand_as(position).clone()
        if self.padding_mode == "circular":
            index = position % size
        else:
            inside = (position >= 0) & (position < size)
            weight = weight * inside
            index = position.clamp(0, size - 1)
        return index.to(device), weight.to(device)

    def _blend(self, patches: torch.Tensor, shape: list[int], pads: list[int]) -> torch.Tensor:
        n, d = 2**self.levels, self.n_dim
        b, c = patches.shape[0] // n**d, patches.shape[1]
        axes = [self._blend_weights(s, p, patches.device) for s, p in zip(shape, pads)]
        # flat target index and weight of every [n, w_0, (n, w_1)] point
        flat = 0
        for axis, (index, _) in enumerate(axes):
            view = [1] * (2 * d)
            view[2 * axis : 2 * axis + 2] = index.shape
            flat = flat + (index * math.prod(shape[axis + 1 :])).reshape(view)
        weight = _outer([w for _, w in axes]).to(patches.dtype)
        grid = _samples_first(patches, n, d) * weight  # the layout of flat and weight
        size = math.prod(shape)
        out = grid.new_zeros(b, c, size).index_add(2, flat.reshape(-1), grid.reshape(b, c, -1))
        total = weight.new_zeros(size).index_add(0, flat.reshape(-1), weight.reshape(-1))
        return (out / total).reshape(b, c, *shape)

    # ------------------------------------------------------------------ forward
    def _spreads_patches(self) -> bool:
        """Whether this forward spreads the patches: ``distribute_patches`` and a process group of 2+ ranks."""
        if not self.distribute_patches:
            return False
        import torch.distributed as dist

        return dist.is_available() and dist.is_initialized() and dist.get_world_size(self.patch_group) > 1

    def _run(self, patches: torch.Tensor) -> torch.Tensor:
        chunk = self.max_patches_per_forward
        if chunk is None or patches.shape[0] <= chunk:
            return self.operator(patches)
        return torch.cat([self.operator(p) for p in patches.split(chunk, dim=0)], dim=0)

    def _run_distributed(self, patches: torch.Tensor, x: torch.Tensor, group: Any) -> torch.Tensor:
        import torch.distributed as dist
        import torch.distributed.nn.functional as dist_nn

        world, rank = dist.get_world_size(group), dist.get_rank(group)
        if self.check_replicated_input:
            _check_replicated(x, group, world)
        n = patches.shape[0]
        if n < world:
            raise ConfigError(
                f"patch parallelism over {world} ranks needs at least {world} patches per forward, got {n} "
                f"({x.shape[0]} samples x {self.patches_per_sample} patches); use more levels, a larger batch "
                "or a smaller patch group"
            )
        counts = [n // world + (1 if r < n % world else 0) for r in range(world)]
        start = sum(counts[:rank])
        local = self._run(patches[start : start + counts[rank]])
        if counts[rank] < counts[0]:  # all-gather needs equal shapes: pad a short share, drop the padding after
            local = torch.cat([local, local.new_zeros(counts[0] - counts[rank], *local.shape[1:])])
        gathered = dist_nn.all_gather(local, group=group)
        return torch.cat([part[:count] for part, count in zip(gathered, counts)], dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_field_input(
            x,
            model_name="mgtfno",
            in_channels=self.in_channels,
            n_dim=self.n_dim,
            dim_fix=f"build the model with n_modes of length {x.ndim - 2 if x.ndim in (3, 4) else self.n_dim}",
        )
        shape = x.shape[2:]
        patches = self.patch(x)
        if self.global_coordinates:
            grid = self.coordinate_patches(x.shape[0], shape, like=patches)
            groups = self.levels + 1
            # per level: the field's channels, then its coordinates (the layout of appending them before patching)
            patches = torch.cat(
                [patches.unflatten(1, (groups, -1)), grid.unflatten(1, (groups, self.n_dim))], dim=2
            ).flatten(1, 2)
        if self._spreads_patches():
            out = self._run_distributed(patches, x, self.patch_group)
        else:
            out = self._run(patches)
        return self.stitch(out, shape)


def _check_replicated(x: torch.Tensor, group: Any, world: int) -> None:
    """One-line ConfigError on every rank unless all ranks of ``group`` hold the same ``x`` (shape and a checksum)."""
    import torch.distributed as dist

    flat = x.detach().reshape(-1).to(torch.float64)
    ramp = torch.linspace(-1.0, 1.0, flat.numel(), dtype=torch.float64, device=flat.device)
    shape = list(x.shape) + [0] * (6 - x.ndim)
    fingerprint = torch.cat(
        [
            torch.tensor(shape, dtype=torch.float64, device=flat.device),
            torch.stack([flat.sum(), (flat * ramp).sum(), flat.square().sum()]),
        ]
    )
    fingerprints = [torch.empty_like(fingerprint) for _ in range(world)]
    dist.all_gather(fingerprints, fingerprint, group=group)
    fingerprints = [torch.nan_to_num(f) for f in fingerprints]
    differing = [r for r, f in enumerate(fingerprints) if not torch.equal(f, fingerprints[0])]
    if differing:
        raise ConfigError(
            f"distribute_patches=True needs the same input on every rank of the patch group, but rank "
            f"{differing[0]}'s batch differs from rank 0's; train on "
            "sciml.training.distributed.ReplicatedBatches(dataset, batch_size) instead of a Dataset "
            "(which the Trainer shards over ranks), or set distribute_patches=False for data parallelism"
        )


@MODELS.register("mgtfno")
def mgtfno(
    *,
    in_channels: int,
    out_channels: int,
    levels: int = 1,
    padding_fraction: float = 0.0625,
    padding_mode: str = "circular",
    n_modes: Sequence[int] = (16, 16),
    hidden_channels: int = 32,
    n_layers: int = 4,
    factorization: str = "tucker",
    rank: float = 0.1,
    max_patches_per_forward: int | None = None,
    global_coordinates: bool = True,
    coarsening: str = "average",
    stitching: str = "blend",
    distribute_patches: bool = False,
    check_replicated_input: bool = True,
    **kwargs: Any,
) -> MultigridPatchedOperator:
    """Multigrid tensorized FNO (Kossaifi et al., TMLR 2024): a TFNO on multigrid patches (1D or 2D).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels ``C`` of the full input ``x [B, C, *S]`` and of the output. The inner
        TFNO takes ``(C + d) * (levels + 1)`` channels with global coordinates (the patch
        and its ``levels`` context levels, each with its ``d`` coordinates), else
        ``C * (levels + 1)``, neuraloperator's ``C + levels`` for one channel.
    levels : int
        ``2**levels`` patches per axis. 1 (4 patches in 2D) is a good start; each axis of
        the data must split evenly (multiples of ``4**levels`` always do, see
        :func:`multigrid_valid_size`), else a one-line :class:`~sciml.core.errors.ShapeError`.
    padding_fraction : float
        Overlap added around each patch as a fraction of the full size (blended or cropped after
        the TFNO); 0.0625 to 0.125 hides the patch edges at little cost.
    padding_mode : {"circular", "reflect", "replicate", "zeros"}
        Fill past the domain's boundary. Default ``"circular"`` (neuraloperator's) is right
        for periodic data only (Navier-Stokes on the torus, Burgers, KS); choose
        ``"reflect"`` for bounded domains such as Darcy flow.
    n_modes : sequence of int
        Fourier modes per axis *of a patch*: at most the padded patch size
        ``S / 2**levels + 2 * pad``. Halve the full-resolution model's modes per level.
    hidden_channels, n_layers, factorization, rank, **kwargs
        As for :func:`~sciml.operators.tfno`.
    max_patches_per_forward : int, optional
        Bound on patches per call of the TFNO (peak inference memory).
    global_coordinates : bool
        Append the whole domain's coordinates as input channels of every level, and turn
        off the TFNO's own (per-patch) positional grid, so a patch knows where it lies.
    stitching : {"blend", "crop"}
        Blend the overlapping padded outputs (default) or crop and tile them
        (neuraloperator's rule). Blending and averaging lowered the quick benchmark's error by 5 % on
        Darcy and 9 % on Navier-Stokes (docs/operators.md).
    coarsening : {"average", "subsample"}
        Context levels from block means (default) or from every ``2**l``-th point
        (neuraloperator's rule). ``stitching="crop", coarsening="subsample"`` is
        neuraloperator's MG-TFNO.
    distribute_patches : bool
        Patch parallelism over the ranks of ``torch.distributed`` (see
        :class:`MultigridPatchedOperator`); a no-op in a single process.
    check_replicated_input : bool
        With ``distribute_patches``, check at every forward that all ranks hold the same
        input (one small all-gather).

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
    if padding_mode not in PADDING_MODES:
        raise ConfigError(
            f"unknown padding_mode '{padding_mode}' for mgtfno; use one of {', '.join(PADDING_MODES)} "
            "(circular for periodic domains)"
        )
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
        n_dim=n_dim,
        levels=int(levels),
        padding_fraction=padding_fraction,
        padding_mode=padding_mode,
        max_patches_per_forward=max_patches_per_forward,
        global_coordinates=global_coordinates,
        coarsening=coarsening,
        stitching=stitching,
        distribute_patches=distribute_patches,
        check_replicated_input=check_replicated_input,
    )
    model.sciml_spec = {
        **inner.sciml_spec,
        "in_channels": int(in_channels),
        "operator_in_channels": inner.sciml_spec["in_channels"],
        "levels": int(levels),
        "padding_fraction": float(padding_fraction),
        "padding_mode": padding_mode,
        "coarsening": coarsening,
        "stitching": stitching,
        "distribute_patches": bool(distribute_patches),
    }
    return model
