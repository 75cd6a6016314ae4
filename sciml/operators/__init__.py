"""Neural operators: FNO, TFNO and MG-TFNO on neuraloperator, the Latent Spectral Model, autoregressive rollout."""

from sciml.operators._common import dense_parameter_count, parameter_count, to_precision
from sciml.operators._fno import fno
from sciml.operators._task import OperatorTask, check_model_fits_data
from sciml.operators._tfno import PARAMETER_GROUPS, parameter_groups, tfno
from sciml.operators.evaluation import (
    evaluate_operator,
    plot_prediction_fields,
    plot_rollout_error,
    super_resolution_error,
)
from sciml.operators.lsm import LatentSpectralModel, NeuralSpectralBlock, lsm, lsm_padded_shape
from sciml.operators.multigrid import PADDING_MODES, MultigridPatchedOperator, mgtfno, multigrid_valid_size
from sciml.operators.rollout import Rollout, rollout, rollout_error_curve

__all__ = [
    "PADDING_MODES",
    "PARAMETER_GROUPS",
    "LatentSpectralModel",
    "MultigridPatchedOperator",
    "NeuralSpectralBlock",
    "OperatorTask",
    "check_model_fits_data",
    "Rollout",
    "dense_parameter_count",
    "evaluate_operator",
    "fno",
    "lsm",
    "lsm_padded_shape",
    "mgtfno",
    "multigrid_valid_size",
    "parameter_count",
    "parameter_groups",
    "plot_prediction_fields",
    "plot_rollout_error",
    "rollout",
    "rollout_error_curve",
    "super_resolution_error",
    "tfno",
    "to_precision",
]
