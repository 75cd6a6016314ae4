"""The core's own registrations: optimizers, schedulers, metrics and the supervised objective."""

from __future__ import annotations

import torch

from sciml.core import metrics as _metrics  # noqa: F401  (registers the metrics)
from sciml.core import objectives as _objectives  # noqa: F401  (registers supervised)
from sciml.core.registry import OPTIMIZERS, SCHEDULERS

__all__: list[str] = []

OPTIMIZERS.register("adam", torch.optim.Adam, doc="Adam (Kingma & Ba 2015)")
OPTIMIZERS.register("adamw", torch.optim.AdamW, doc="Adam with decoupled weight decay")
OPTIMIZERS.register("sgd", torch.optim.SGD, doc="stochastic gradient descent (momentum via kwargs)")
OPTIMIZERS.register(
    "lbfgs",
    torch.optim.LBFGS,
    doc="L-BFGS driven with a closure (PINNs after Adam; line_search_fn='strong_wolfe')",
    needs_closure=True,
    weight_decay=False,
)

SCHEDULERS.register("cosine", torch.optim.lr_scheduler.CosineAnnealingLR, doc="cosine annealing over T_max epochs")
SCHEDULERS.register("step", torch.optim.lr_scheduler.StepLR, doc="multiply the LR by gamma every step_size epochs")
SCHEDULERS.register("exponential", torch.optim.lr_scheduler.ExponentialLR, doc="multiply the LR by gamma every epoch")
SCHEDULERS.register(
    "plateau", torch.optim.lr_scheduler.ReduceLROnPlateau, doc="reduce on a plateau of the monitored loss"
)
