"""The dysts catalogue as a library: batched right-hand sides, Jacobians, periods, Lyapunov references.

The equations and metadata (parameters, initial condition, dominant period, catalogue
Lyapunov estimates) come from the ``dysts`` package (Gilpin, "Chaos as an interpretable
benchmark for forecasting and data-driven modelling", NeurIPS 2021); the batched
evaluation, the Jacobians' vectorization, the integration (:func:`sciml.numerics.integrate_batch`,
:func:`integrate_delay_batch`) and the Lyapunov references are ours. See docs/systems.md.

>>> from sciml.systems import batched_rhs, list_systems
>>> len(list_systems())
135
>>> batched_rhs("Lorenz").path
'vectorized'
"""

from sciml.systems._catalogue import (
    dominant_period,
    initial_conditions,
    is_delay,
    list_systems,
    load_system,
    postprocess,
    system_metadata,
)
from sciml.systems._delay import BatchedDelayRHS, batched_delay_rhs, integrate_delay_batch, steps_per_delay_for
from sciml.systems._jacobian import BatchedJacobian, batched_jacobian
from sciml.systems._lyapunov import (
    LyapunovSettings,
    build_lyapunov_references,
    convergence_check,
    lyapunov_delay,
    lyapunov_estimate,
    lyapunov_flow,
    lyapunov_reference,
    lyapunov_tangent,
    lyapunov_time,
    lyapunov_two_trajectory,
)
from sciml.systems._rhs import BatchedRHS, batched_rhs

__all__ = [
    "list_systems",
    "is_delay",
    "load_system",
    "system_metadata",
    "dominant_period",
    "initial_conditions",
    "postprocess",
    "BatchedRHS",
    "batched_rhs",
    "BatchedDelayRHS",
    "batched_delay_rhs",
    "steps_per_delay_for",
    "integrate_delay_batch",
    "BatchedJacobian",
    "batched_jacobian",
    "LyapunovSettings",
    "lyapunov_estimate",
    "lyapunov_tangent",
    "lyapunov_two_trajectory",
    "lyapunov_delay",
    "lyapunov_flow",
    "convergence_check",
    "build_lyapunov_references",
    "lyapunov_reference",
    "lyapunov_time",
]
