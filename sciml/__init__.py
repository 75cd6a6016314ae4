"""sciml: scientific machine learning in PyTorch.

One HDF5 dataset format, one Trainer over dict batches, one registry mechanism, one CLI.
"""

from sciml._version import __version__
from sciml.core.config import ExperimentConfig, apply_overrides, load_config
from sciml.core.errors import ConfigError, DataError, SciMLError, ShapeError, TrainingDivergedError, UnknownNameError
from sciml.core.registry import (
    ESTIMATORS,
    GENERATORS,
    METRICS,
    MODELS,
    OBJECTIVES,
    OPTIMIZERS,
    SCHEDULERS,
    TASKS,
    Registry,
    all_registries,
)

__all__ = [
    "__version__",
    "Registry",
    "all_registries",
    "MODELS",
    "ESTIMATORS",
    "OBJECTIVES",
    "TASKS",
    "GENERATORS",
    "METRICS",
    "OPTIMIZERS",
    "SCHEDULERS",
    "ExperimentConfig",
    "load_config",
    "apply_overrides",
    "SciMLError",
    "ConfigError",
    "DataError",
    "ShapeError",
    "UnknownNameError",
    "TrainingDivergedError",
]
