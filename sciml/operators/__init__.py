"""Neural operators: FNO and TFNO presets on neuraloperator, the Latent Spectral Model (MG-TFNO joins next)."""

from sciml.operators._common import dense_parameter_count, parameter_count, to_precision
from sciml.operators._fno import fno
from sciml.operators._tfno import tfno
from sciml.operators.lsm import LatentSpectralModel, NeuralSpectralBlock, lsm, lsm_padded_shape

__all__ = [
    "LatentSpectralModel",
    "NeuralSpectralBlock",
    "dense_parameter_count",
    "fno",
    "lsm",
    "lsm_padded_shape",
    "parameter_count",
    "tfno",
    "to_precision",
]
