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

from sciml.core.errors import ConfigError
from sciml.core.registry import MODELS
from sciml.operators._common import dense_parameter_count, install_input_check, parameter_count
from sciml.operators._fno import fno

__all__ = ["FACTORIZATIONS", "PARAMETER_GROUPS", "parameter_groups", "tfno"]

logger = logging.getLogger(__name__)

FACTORIZATIONS = ("tucker", "cp", "tt", "dense")

PARAMETER_GROUPS = (
    "spectral",
    "spectral_bias",
    "lifting",
    "projection",
    "channel_mlp",
    "fno_skip",
    "channel_mlp_skip",
    "other",
)


def parameter_groups(model: nn.Module) -> dict[str, int]:
    """Real parameters of a neuraloperator FNO/TFNO (or a model holding one) per part.

    Counted like :func:`~sciml.operators.parameter_count` (a complex scalar counts twice),
    the same way for dense and factorized models. Keys (:data:`PARAMETER_GROUPS`):
    ``spectral`` (the spectral weights, dense or their factors), ``spectral_bias``,
    ``lifting``, ``projection``, ``channel_mlp`` (the per-layer channel MLPs), ``fno_skip``
    and ``channel_mlp_skip`` (the skip connections), ``other``. Only the spectral weights
    are factorized by a TFNO: the compression of the whole model is
    ``(S + D) / (S_factorized + D)`` with ``D`` the sum of the other groups.
    """
    from neuralop.layers.spectral_convolution import SpectralConv

    spectral_weights = {id(p) for m in model.modules() if isinstance(m, SpectralConv) for p in m.weight.parameters()}
    spectral_other = {id(p) for m in model.modules() if isinstance(m, SpectralConv) for p in m.parameters()}
    groups = dict.fromkeys(PARAMETER_GROUPS, 0)
    for name, p in model.named_parameters():
        parts = name.split(".")
        if id(p) in spectral_weights:
            key = "spectral"
        elif id(p) in spectral_other:
            key = "spectral_bias"
        else:
            key = next(
                (k for k in ("channel_mlp_skips", "fno_skips", "channel_mlp", "lifting", "projection") if k in parts),
                "other",
            ).replace("skips", "skip")
        groups[key] += p.numel() * (2 if p.is_complex() else 1)
    return groups


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
        (tensorly rounds it to integer ranks), or an integer rank. Only the spectral
        weights are factorized: the whole model compresses by ``(S + D) / (rank * S + D)``
        with ``D`` the dense rest (lifting, projection, channel MLPs, skips; see
        :func:`parameter_groups`), less than ``1 / rank``. With neuraloperator's defaults
        at ``n_modes=(12, 12)``, ``hidden_channels=32``, Tucker rank 0.1 gives 8.97x and
        rank 0.075 reaches 10x (11.8x, the benchmark's choice); ``fno_skip="soft-gating",
        use_channel_mlp=False, lifting_channel_ratio=0`` shrink ``D`` and give 10.2x at rank
        0.1, but cost accuracy once the FNO is accurate (NS, Burgers: docs/operators.md).
    **kwargs
        Passed to ``neuralop.models.FNO``.

    Returns
    -------
    torch.nn.Module
        ``x [B, in_channels, *S] -> [B, out_channels, *S]``; a wrong channel count or
        dimensionality raises :class:`~sciml.core.errors.ShapeError` at forward.
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
