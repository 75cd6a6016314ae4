"""sciml: scientific machine learning in PyTorch.

One HDF5 dataset format, one Trainer over dict batches, explicit registries, one CLI.
"""

from sciml._version import __version__
from sciml.config import ExperimentConfig, apply_overrides, load_config
from sciml.errors import ConfigError, DataError, SciMLError, ShapeError, TrainingDivergedError, UnknownNameError
from sciml.registry import GENERATORS, METRICS, MODELS, OBJECTIVES, Registry

__all__ = [
    "__version__",
    "Registry",
    "MODELS",
    "OBJECTIVES",
    "GENERATORS",
    "METRICS",
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
