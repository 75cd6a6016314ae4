"""Training: the Trainer, objectives, callbacks, checkpoints, metrics."""

from sciml.training.callbacks import Callback, CheckpointCallback, EarlyStopping, MetricsLogger, ProgressBar
from sciml.training.checkpoint import checkpoint_meta, load_checkpoint, save_checkpoint
from sciml.training.distributed import EpochSampler
from sciml.training.metrics import fourier_band_errors, max_abs_error, mse, nrmse, relative_l2, rmse
from sciml.training.objectives import AbstractObjective, Supervised
from sciml.training.trainer import OPTIMIZERS, SCHEDULERS, Trainer, move_batch, seed_everything

__all__ = [
    "Trainer",
    "AbstractObjective",
    "Supervised",
    "Callback",
    "CheckpointCallback",
    "EarlyStopping",
    "MetricsLogger",
    "ProgressBar",
    "EpochSampler",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_meta",
    "relative_l2",
    "nrmse",
    "mse",
    "rmse",
    "max_abs_error",
    "fourier_band_errors",
    "OPTIMIZERS",
    "SCHEDULERS",
    "move_batch",
    "seed_everything",
]
