"""Neural ODEs and SDEs with solver-heuristic regularization (global and local).

:class:`NeuralODE` runs on our instrumented solver (``backend="sciml"``, which records the
error and stiffness estimates of every step), on ``torchdiffeq.odeint`` or on
``torchdiffeq.odeint_adjoint``; :class:`NeuralSDE` on ``torchsde`` or on our instrumented, adaptive SDE solver
(``backend="sciml"``). The regularizers read
the solver's own heuristics (Pal et al., ICML 2021 and 2023) or randomize the end time
(STEER, Ghosh et al. 2020); the objectives ``node_classification``,
``node_regression`` and ``sde_moment_matching`` add them to the task loss and report NFE
to the Trainer. See ``docs/nde.md``.
"""

from sciml.nde._models import DiagonalDiffusion, latent_ode, neural_sde
from sciml.nde._node import MLPVectorField, NeuralDEModel, NeuralODE, neural_ode, node_classifier
from sciml.nde._objectives import NDEClassification, NDERegression, SDEMomentMatching
from sciml.nde._regularizers import (
    REGULARIZERS,
    STEER,
    AbstractRegularizer,
    GlobalErrorRegularizer,
    GlobalStiffnessRegularizer,
    LocalErrorRegularizer,
    SDEGlobalErrorRegularizer,
    SDELocalErrorRegularizer,
    build_regularizer,
)
from sciml.nde._sde import NeuralSDE, SDEStats, milstein_error_estimate
from sciml.nde._task import DynamicsTask, SamplesTask

__all__ = [
    "NeuralODE",
    "NeuralSDE",
    "SDEStats",
    "MLPVectorField",
    "NeuralDEModel",
    "neural_ode",
    "node_classifier",
    "milstein_error_estimate",
    "AbstractRegularizer",
    "GlobalErrorRegularizer",
    "GlobalStiffnessRegularizer",
    "LocalErrorRegularizer",
    "SDEGlobalErrorRegularizer",
    "SDELocalErrorRegularizer",
    "STEER",
    "REGULARIZERS",
    "build_regularizer",
    "NDEClassification",
    "NDERegression",
    "SDEMomentMatching",
    "DiagonalDiffusion",
    "neural_sde",
    "latent_ode",
    "DynamicsTask",
    "SamplesTask",
]
