"""Koopman learners (estimators fitted in closed form): dynamic mode decomposition first.

:class:`DMD` (registered as ``dmd``) is exact DMD (Schmid 2010; Tu et al. 2014). The
linear-algebra core it is built from (snapshot pairs, truncated SVD, reduced operator,
sorted eigenpairs, exact modes) lives in :mod:`sciml.koopman._core` and is exported here
for the extended estimators (EDMD, kernel EDMD, ResDMD, HAVOK). See ``docs/koopman.md``.
"""

from sciml.koopman._core import (
    TruncatedSVD,
    check_rank,
    choose_rank,
    exact_modes,
    projected_operator,
    snapshot_pairs,
    sorted_eig,
    truncated_svd,
)
from sciml.koopman._task import KoopmanConfig, KoopmanTask
from sciml.koopman.dmd import DMD, as_trajectories, relative_l2_per_trajectory

__all__ = [
    "DMD",
    "KoopmanConfig",
    "KoopmanTask",
    "as_trajectories",
    "relative_l2_per_trajectory",
    "TruncatedSVD",
    "check_rank",
    "choose_rank",
    "exact_modes",
    "projected_operator",
    "snapshot_pairs",
    "sorted_eig",
    "truncated_svd",
]
