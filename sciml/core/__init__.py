"""The core layer: what every family may import.

Errors, the one registry mechanism and its plugin loading, the batch contract, the
objective and metric protocols, typed configs, atomic I/O and plotting helpers. The core
imports nothing else of sciml and names no family.
"""

from sciml.core.batch import STANDARD_KEYS, batch_size_of, check_batch, move_batch
from sciml.core.errors import ConfigError, DataError, SciMLError, ShapeError, TrainingDivergedError, UnknownNameError
from sciml.core.estimator import AbstractEstimator, NotFittedError, build_estimator, load_estimator, register_estimator
from sciml.core.metrics import compute_metrics, fourier_band_errors, max_abs_error, mse, nrmse, relative_l2, rmse
from sciml.core.objectives import AbstractObjective, Supervised
from sciml.core.registry import (
    ESTIMATORS,
    GENERATORS,
    METRICS,
    MODELS,
    OBJECTIVES,
    OPTIMIZERS,
    SCHEDULERS,
    TASKS,
    Plugin,
    Registry,
    all_registries,
    build_model,
    load_plugins,
    register_plugin,
    unavailable_plugins,
)
from sciml.core.task import AbstractTask

__all__ = [
    "AbstractEstimator", "NotFittedError", "build_estimator", "load_estimator", "register_estimator",
    "AbstractObjective",
    "AbstractTask",
    "Supervised",
    "compute_metrics",
    "fourier_band_errors",
    "max_abs_error",
    "mse",
    "nrmse",
    "relative_l2",
    "rmse",
    "STANDARD_KEYS",
    "batch_size_of",
    "check_batch",
    "move_batch",
    "SciMLError",
    "ConfigError",
    "DataError",
    "ShapeError",
    "TrainingDivergedError",
    "UnknownNameError",
    "Registry",
    "Plugin",
    "MODELS",
    "ESTIMATORS",
    "OBJECTIVES",
    "TASKS",
    "GENERATORS",
    "METRICS",
    "OPTIMIZERS",
    "SCHEDULERS",
    "all_registries",
    "build_model",
    "load_plugins",
    "register_plugin",
    "unavailable_plugins",
]
