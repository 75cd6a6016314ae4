"""PDE solvers steppable on any batch of states, from any start time.

Every solver takes a batch of states ``[B, *S]`` at time ``t0`` and output times ``t``
(``>= t0``), runs on the states' device and dtype, and returns ``[B, T, *S]``. With
``on_failure="report"`` it returns a :class:`PDESolution` instead: a member that blows up
is dropped and named in ``messages``, and the others are the results of a run without
it (an ensemble filter survives one diverging member). The default, ``"raise"``, is one
:class:`~sciml.core.errors.DataError` naming the first failed member.

==================================  ==================================================  =====================
solver                              equation                                            method (order)
==================================  ==================================================  =====================
:func:`solve_burgers`               ``u_t + u u_x = nu u_xx``                           ETDRK4 (4)
:func:`burgers_cole_hopf`           exact Burgers from ``u0 = -sin(pi x)``              Cole-Hopf, Gauss-Hermite
:func:`solve_advection_diffusion`   ``u_t + beta u_x = nu u_xx``                        exact propagator
:func:`solve_reaction_diffusion`    Fisher-KPP, Allen-Cahn                              ETDRK4 (4)
:func:`solve_kuramoto_sivashinsky`  ``u_t + u u_x + u_xx + u_xxxx = 0``                 ETDRK4 (4)
:func:`solve_kdv`                   ``u_t + 6 u u_x + u_xxx = 0``                       ETDRK4 (4)
:func:`solve_navier_stokes`         2-D vorticity form on the torus                     CN / Heun IMEX (2)
:func:`solve_darcy`                 ``-div(a grad u) = f``, steady                      five-point FD (2)
:func:`integrate_semilinear`        any ``u_t = L u + N(u)`` in 1-D, periodic           ETDRK4 (4)
==================================  ==================================================  =====================

See ``docs/pde.md`` for how each is verified and what a step costs.
"""

from sciml.numerics.pde._advection import ADVECTION_METHOD, solve_advection_diffusion
from sciml.numerics.pde._burgers import BURGERS_METHOD, solve_burgers
from sciml.numerics.pde._darcy import DARCY_METHOD, FACE_AVERAGES, darcy_matrix, solve_darcy
from sciml.numerics.pde._kdv import KDV_METHOD, kdv_time_step, soliton, solve_kdv
from sciml.numerics.pde._kuramoto_sivashinsky import KS_BOUND, KS_METHOD, solve_kuramoto_sivashinsky
from sciml.numerics.pde._navier_stokes import NAVIER_STOKES_METHOD, solve_navier_stokes
from sciml.numerics.pde._reaction_diffusion import (
    REACTION_DIFFUSION_METHOD,
    REACTION_DIFFUSION_MODELS,
    allen_cahn_free_energy,
    solve_reaction_diffusion,
)
from sciml.numerics.pde._semilinear import SEMILINEAR_METHOD, integrate_semilinear
from sciml.numerics.pde._solution import ON_FAILURE, PDESolution, PDEStats
from sciml.numerics.pde.burgers_exact import BURGERS_EXACT_METHOD, burgers_cole_hopf

__all__ = [
    "ON_FAILURE",
    "BURGERS_EXACT_METHOD",
    "burgers_cole_hopf",
    "PDESolution",
    "PDEStats",
    "integrate_semilinear",
    "solve_advection_diffusion",
    "solve_burgers",
    "solve_darcy",
    "solve_kdv",
    "solve_kuramoto_sivashinsky",
    "solve_navier_stokes",
    "solve_reaction_diffusion",
    "allen_cahn_free_energy",
    "darcy_matrix",
    "kdv_time_step",
    "soliton",
    "ADVECTION_METHOD",
    "BURGERS_METHOD",
    "DARCY_METHOD",
    "FACE_AVERAGES",
    "KDV_METHOD",
    "KS_BOUND",
    "KS_METHOD",
    "NAVIER_STOKES_METHOD",
    "REACTION_DIFFUSION_METHOD",
    "REACTION_DIFFUSION_MODELS",
    "SEMILINEAR_METHOD",
]
