"""Numerical methods without learnable state: Runge-Kutta tableaus, ODE and SDE integrators,
the batched per-trajectory integrator, the one step-size controller and evaluation counter."""

from sciml.numerics.batched import IntegrationStats, MemberFailure, batched_initial_step, integrate_batch
from sciml.numerics.control import DOPRI5_BATCHED_I, RK_PI, SDE_DAMPED_I, StepSizeController
from sciml.numerics.counting import CountingField
from sciml.numerics.rk import (
    SolverError,
    SolverStats,
    initial_step_size,
    odeint,
    rk_step,
    scaled_error_norm,
    stiffness_estimate,
)
from sciml.numerics.sde import SDE_METHODS, SDEMethod, SDEStats, milstein_step, sdeint
from sciml.numerics.tableaus import (
    BS3,
    DOPRI5,
    EULER,
    RK4,
    TABLEAUS,
    TSIT5,
    ButcherTableau,
    get_tableau,
)

__all__ = [
    "BS3",
    "DOPRI5",
    "EULER",
    "RK4",
    "TABLEAUS",
    "TSIT5",
    "ButcherTableau",
    "get_tableau",
    "SolverError",
    "SolverStats",
    "initial_step_size",
    "odeint",
    "rk_step",
    "scaled_error_norm",
    "stiffness_estimate",
    "SDE_METHODS",
    "SDEMethod",
    "SDEStats",
    "milstein_step",
    "sdeint",
    "integrate_batch",
    "batched_initial_step",
    "IntegrationStats",
    "MemberFailure",
    "StepSizeController",
    "RK_PI",
    "SDE_DAMPED_I",
    "DOPRI5_BATCHED_I",
    "CountingField",
]
