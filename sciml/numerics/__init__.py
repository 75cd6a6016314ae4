"""Numerical methods without learnable state: Runge-Kutta tableaus, ODE and SDE integrators."""

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
]
