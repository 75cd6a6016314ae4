"""Training: the Trainer, its callbacks, checkpoints and distributed helpers (objectives and metrics live in sciml.core)."""

from sciml.training.callbacks import Callback, CheckpointCallback, EarlyStopping, MetricsLogger, ProgressBar
from sciml.training.checkpoint import checkpoint_meta, load_checkpoint, save_checkpoint
from sciml.training.distributed import EpochSampler
from sciml.training.trainer import Trainer, seed_everything

__all__ = [
    "Trainer",
    "Callback",
    "CheckpointCallback",
    "EarlyStopping",
    "MetricsLogger",
    "ProgressBar",
    "EpochSampler",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_meta",
    "seed_everything",
]
