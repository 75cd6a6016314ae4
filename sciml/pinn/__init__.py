"""Physics-informed neural networks: PINNs and Lagrangian PINNs on one core.

A :class:`PDEProblem` (domain, residual as a callable or a sympy string, initial and
boundary conditions, exact solution) is solved by a network trained by the shared
Trainer through an objective: :class:`PINNLoss` (``pinn``: residual, initial and boundary
losses; fixed or gradient-norm weights; causal weighting; RAD/RAR adaptive sampling;
parameter curricula) or :class:`LagrangianPINNLoss` (``lpinn``: the state along the
characteristics and the characteristic curves, two branches of :class:`LagrangianPINN`).
Collocation points are drawn each step from the step's seed (:class:`CollocationSampler`).
The task ``pinn`` runs it all from a config: ``sciml train convection_lpinn``.
"""

from sciml.pinn import _task as _task  # noqa: F401  (registers the task)
from sciml.pinn._derivatives import Fields, gradient, partial
from sciml.pinn._measurements import load_measurements
from sciml.pinn._models import LagrangianPINN, PeriodicEmbedding, PINNNet
from sciml.pinn._objective import LagrangianPINNLoss, PINNLoss, periodic_interpolate
from sciml.pinn._problem import PROBLEMS, Condition, PDEProblem, sympy_residual
from sciml.pinn._sampling import CollocationSampler, sample_box
from sciml.pinn._task import GridSolution, PINNConfig, PINNTask

__all__ = [
    "PROBLEMS",
    "CollocationSampler",
    "Condition",
    "Fields",
    "GridSolution",
    "LagrangianPINN",
    "LagrangianPINNLoss",
    "PDEProblem",
    "PINNConfig",
    "PINNLoss",
    "PINNNet",
    "PINNTask",
    "PeriodicEmbedding",
    "gradient",
    "load_measurements",
    "partial",
    "periodic_interpolate",
    "sample_box",
    "sympy_residual",
]
