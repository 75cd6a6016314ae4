"""Helpers shared by the operator models: input checks, parameter counts, precision casts."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError

__all__ = [
    "check_field_input",
    "dense_parameter_count",
    "install_grid_cache_guard",
    "install_input_check",
    "parameter_count",
    "to_precision",
]

_AXES = ("X", "Y", "Z")


def parameter_count(model: nn.Module) -> int:
    """Real degrees of freedom of ``model``: a complex parameter counts twice (real and imaginary part)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def dense_parameter_count(model: nn.Module) -> int:
    """:func:`parameter_count` of the same model with every spectral weight stored densely.

    Each neuraloperator ``SpectralConv`` holds a (possibly factorized) weight tensor of
    full shape ``[in, out, *modes]``; this replaces its factors' count by that shape's.
    Computed without building the dense model, whose spectral weights can take gigabytes
    in 3D.
    """
    from neuralop.layers.spectral_convolution import SpectralConv

    total = parameter_count(model)
    for module in model.modules():
        if isinstance(module, SpectralConv):
            factors = list(module.weight.parameters())
            is_complex = any(p.is_complex() for p in factors)
            total -= sum(p.numel() * (2 if p.is_complex() else 1) for p in factors)
            total += math.prod(module.weight.shape) * (2 if is_complex else 1)
    return total


def check_field_input(x: Any, *, model_name: str, in_channels: int, n_dim: int, dim_fix: str) -> None:
    """Raise a one-line :class:`~sciml.core.errors.ShapeError` unless ``x`` is ``[B, in_channels, *S]`` with ``len(S) == n_dim``.

    ``dim_fix`` completes the message for a wrong dimensionality (how to build the model
    for the data's dimensionality).
    """
    layout = "[B, C, " + ", ".join(_AXES[:n_dim] if n_dim <= 3 else [f"S{i}" for i in range(n_dim)]) + "]"
    if not torch.is_tensor(x):
        raise ShapeError(f"model '{model_name}' takes a tensor x {layout} but got {type(x).__name__}; pass batch['x']")
    if x.ndim != n_dim + 2:
        raise ShapeError(
            f"model '{model_name}' is {n_dim}-D and takes x {layout} but got x of shape {tuple(x.shape)} "
            f"({x.ndim - 2}-D fields); pass {n_dim}-D fields or {dim_fix}"
        )
    if x.shape[1] != in_channels:
        raise ShapeError(
            f"model '{model_name}' has in_channels={in_channels} but x of shape {tuple(x.shape)} has "
            f"{x.shape[1]} channels (x is channels-first {layout}); set in_channels={x.shape[1]} "
            "or fix the data's channel axis"
        )


def _input_check_hook(module: nn.Module, args: tuple, *, model_name: str, in_channels: int, n_dim: int) -> None:
    if args:
        check_field_input(
            args[0],
            model_name=model_name,
            in_channels=in_channels,
            n_dim=n_dim,
            dim_fix="give one n_modes entry per spatial axis",
        )


def install_input_check(model: nn.Module, *, model_name: str, in_channels: int, n_dim: int) -> nn.Module:
    """Check ``x`` before each forward of a neuraloperator model (a forward pre-hook).

    A hook, not a wrapper: the model stays a plain neuraloperator module with its own
    state-dict keys. The hook is a ``functools.partial`` of a module-level function, so
    the model still pickles and deep-copies.
    """
    model.register_forward_pre_hook(
        functools.partial(_input_check_hook, model_name=model_name, in_channels=int(in_channels), n_dim=int(n_dim))
    )
    return model


def to_precision(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast real floating tensors of ``model`` to ``dtype`` and complex ones to the complex dtype of the same precision.

    Use it instead of ``model.to(torch.float64)`` or ``model.double()`` for models with
    complex weights (neuraloperator's spectral weights): ``Module.to(float64)`` casts
    complex parameters to real ones, discarding their imaginary parts, and
    ``Module.double()`` leaves them complex64, so the forward fails on complex128 FFTs.
    Note that neuraloperator's ``SpectralConv`` accumulates its spectral product in
    complex64 whatever the weights' dtype, so a float64 FNO is accurate to about 1e-7
    relative, not 1e-15.
    """
    pairs = {torch.float32: torch.complex64, torch.float64: torch.complex128}
    if dtype not in pairs:
        raise ConfigError(f"to_precision supports torch.float32 and torch.float64, got {dtype}; pick one of them")
    complex_dtype = pairs[dtype]

    def cast(t: torch.Tensor) -> torch.Tensor:
        if t.is_complex():
            return t.to(complex_dtype)
        return t.to(dtype) if t.is_floating_point() else t

    # Module._apply is what Module.to uses, with our per-tensor rule in place of its own
    return model._apply(cast)


def _grid_cache_hook(module: nn.Module, args: tuple, *, cache_owners: tuple[nn.Module, ...]) -> None:
    x = args[0] if args else None
    if not torch.is_tensor(x):
        return
    for owner in cache_owners:
        grid = owner._grid
        if grid is not None and (grid[0].device != x.device or grid[0].dtype != x.dtype):
            owner._grid, owner._res = None, None


def install_grid_cache_guard(model: nn.Module) -> nn.Module:
    """Drop neuraloperator's cached coordinate grids when the input's device or dtype changes.

    ``GridEmbeddingND`` caches its grid as plain tensors (not buffers) keyed on the
    resolution only, so after ``model.to("cuda")`` following a CPU forward the stale CPU grid
    is concatenated with CUDA data and the forward fails (seen on an H100). A forward
    pre-hook compares the cache with the input and clears it when they differ.
    """
    owners = tuple(m for m in model.modules() if hasattr(m, "_grid") and hasattr(m, "_res"))
    if owners:
        model.register_forward_pre_hook(functools.partial(_grid_cache_hook, cache_owners=owners))
    return model
