"""FNO presets on neuraloperator (Li et al., ICLR 2021), registered by name.

neuraloperator is imported when a model is built, not when sciml is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from sciml.core.errors import ConfigError
from sciml.core.registry import MODELS
from sciml.operators._common import install_grid_cache_guard, install_input_check

__all__ = ["fno"]


@MODELS.register("fno")
def fno(
    *,
    in_channels: int,
    out_channels: int,
    n_modes: Sequence[int] = (16,),
    hidden_channels: int = 32,
    n_layers: int = 4,
    **kwargs: Any,
) -> nn.Module:
    """Fourier neural operator from ``neuralop.models.FNO`` (1D, 2D or 3D by ``len(n_modes)``).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of ``x [B, Cin, *S]`` and of the output ``[B, Cout, *S]``. The
        coordinate grid is appended inside the model (``positional_embedding="grid"``).
    n_modes : sequence of int
        Fourier modes kept per spatial axis; at most half the resolution. A good starting
        point is 16 in 1D and (12, 12) to (16, 16) in 2D.
    hidden_channels : int
        Width of the spectral layers; 32 to 64 is typical.
    n_layers : int
        Number of Fourier layers (4 in the original paper).
    **kwargs
        Passed to ``neuralop.models.FNO`` (``factorization``, ``rank``, ``domain_padding``...).
    """
    from neuralop.models import FNO

    n_modes = tuple(int(m) for m in (n_modes if isinstance(n_modes, Sequence) else [n_modes]))
    if not 1 <= len(n_modes) <= 3:
        raise ConfigError(f"fno supports 1 to 3 spatial dimensions, got n_modes={list(n_modes)}")
    if any(m < 1 for m in n_modes):
        raise ConfigError(f"n_modes must be positive, got {list(n_modes)}")
    model = FNO(
        n_modes=n_modes,
        in_channels=int(in_channels),
        out_channels=int(out_channels),
        hidden_channels=int(hidden_channels),
        n_layers=int(n_layers),
        **kwargs,
    )
    model.sciml_spec = {"in_channels": int(in_channels), "out_channels": int(out_channels), "n_modes": list(n_modes)}
    install_input_check(model, model_name="fno", in_channels=in_channels, n_dim=len(n_modes))
    install_grid_cache_guard(model)
    return model
