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


def lbfgs(params, lr: float = 1.0, line_search_fn: str | None = "strong_wolfe", **kwargs) -> torch.optim.LBFGS:
    """``torch.optim.LBFGS`` with the strong Wolfe line search by default (``line_search_fn=None`` for fixed steps)."""
    return torch.optim.LBFGS(params, lr=lr, line_search_fn=line_search_fn, **kwargs)


OPTIMIZERS.register(
    "lbfgs",
    lbfgs,
    doc="L-BFGS with strong Wolfe line search, driven with a closure (PINNs after Adam)",
    needs_closure=True,
    weight_decay=False,
)

SCHEDULERS.register("cosine", torch.optim.lr_scheduler.CosineAnnealingLR, doc="cosine annealing over T_max epochs")
SCHEDULERS.register("step", torch.optim.lr_scheduler.StepLR, doc="multiply the LR by gamma every step_size epochs")
SCHEDULERS.register("exponential", torch.optim.lr_scheduler.ExponentialLR, doc="multiply the LR by gamma every epoch")
SCHEDULERS.register(
    "plateau", torch.optim.lr_scheduler.ReduceLROnPlateau, doc="reduce on a plateau of the monitored loss"
)
