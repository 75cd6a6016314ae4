"""TFNO presets on neuraloperator, and helpers shared by the neuraloperator-based models.

Tensorized FNO (Kossaifi et al., "Multi-Grid Tensorized Fourier Neural Operator for
High-Resolution PDEs", TMLR 2024): the FNO whose spectral weights
``[hidden, hidden, *modes]`` are learned in factorized form (Tucker, CP, tensor train).
neuraloperator is imported when a model is built, not when sciml is imported.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Sequence
from typing import Any

from torch import nn

from sciml.errors import ConfigError
from sciml.operators._common import dense_parameter_count, install_input_check, parameter_count
from sciml.operators._fno import fno
from sciml.registry import MODELS

__all__ = ["FACTORIZATIONS", "tfno"]

logger = logging.getLogger(__name__)

FACTORIZATIONS = ("tucker", "cp", "tt", "dense")


@MODELS.register("tfno")
def tfno(
    *,
    in_channels: int,
    out_channels: int,
    n_modes: Sequence[int] = (16,),
    hidden_channels: int = 32,
    n_layers: int = 4,
    factorization: str = "tucker",
    rank: float = 0.1,
    **kwargs: Any,
) -> nn.Module:
    """Tensorized FNO: ``neuralop.models.FNO`` with factorized spectral weights (1D, 2D or 3D).

    At build the parameter count and the compression ratio against the dense FNO of the
    same hyperparameters are computed, stored in ``model.sciml_spec`` (keys
    ``parameters``, ``dense_parameters``, ``compression_ratio``) and logged on one line
    (logger ``sciml.operators._tfno``, level INFO). Parameters are real degrees of
    freedom: a complex weight counts twice.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of ``x [B, Cin, *S]`` and of the output ``[B, Cout, *S]``.
    n_modes : sequence of int
        Fourier modes kept per spatial axis (its length sets the dimensionality).
    hidden_channels : int
        Width of the spectral layers.
    n_layers : int
        Number of Fourier layers.
    factorization : {"tucker", "cp", "tt", "dense"}
        Factorization of each spectral weight. Tucker is the TFNO of the paper; "dense"
        gives the plain FNO (compression ratio 1).
    rank : float
        Fraction of the dense spectral weight's parameters kept by the factorization
        (tensorly rounds it to integer ranks), or an integer rank. The compression of the
        whole model is smaller than ``1 / rank``: lifting, projection and channel MLPs
        are not factorized, and the rounding keeps slightly more than the fraction. For
        ``n_modes=(16, 16)``, ``hidden_channels=32``, Tucker at rank 0.1 gives 8.5x,
        rank 0.08 gives 10.3x.
    **kwargs
        Passed to ``neuralop.models.FNO``.

    Returns
    -------
    torch.nn.Module
        ``x [B, in_channels, *S] -> [B, out_channels, *S]``; a wrong channel count or
        dimensionality raises :class:`~sciml.errors.ShapeError` at forward.
    """
    fact = str(factorization).lower()
    if fact not in FACTORIZATIONS:
        raise ConfigError(f"unknown factorization '{factorization}' for tfno; use one of {', '.join(FACTORIZATIONS)}")
    if isinstance(rank, bool) or not isinstance(rank, numbers.Real) or not rank > 0:
        raise ConfigError(
            f"tfno rank must be a positive number (a fraction such as 0.1, or an integer rank), got {rank!r}"
        )
    model = fno(
        in_channels=in_channels,
        out_channels=out_channels,
        n_modes=n_modes,
        hidden_channels=hidden_channels,
        n_layers=n_layers,
        factorization=fact,
        rank=rank,
        **kwargs,
    )
    n_params = parameter_count(model)
    n_dense = dense_parameter_count(model)
    ratio = n_dense / n_params
    model.sciml_spec.update(
        {
            "factorization": fact,
            "rank": rank,
            "parameters": n_params,
            "dense_parameters": n_dense,
            "compression_ratio": ratio,
        }
    )
    install_input_check(model, model_name="tfno", in_channels=in_channels, n_dim=len(model.sciml_spec["n_modes"]))
    logger.info(
        "tfno: %s factorization, rank %s: %d parameters, %.2fx fewer than the dense FNO (%d)",
        fact,
        rank,
        n_params,
        ratio,
        n_dense,
    )
    return model
