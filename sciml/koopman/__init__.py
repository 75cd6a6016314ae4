"""Koopman learners (estimators fitted in closed form), every eigenvalue with a residual.

Registered estimators: ``dmd`` (:class:`DMD`, exact DMD), ``edmd`` (:class:`EDMD`, on a
dictionary of observables, :mod:`sciml.koopman.dictionaries`), ``kedmd``
(:class:`KernelEDMD`), ``resdmd`` (:class:`ResDMD`, residual-verified eigenpairs and
pseudospectra), ``hankel_dmd`` (:class:`HankelDMD`) and ``havok`` (:class:`HAVOK`); spectral
measures of measure-preserving systems from correlations (:func:`spectral_measure`). The deep
Koopman autoencoder (:mod:`sciml.koopman.deep`: model and objective ``deep_koopman``) is trained
by gradient descent; its forecaster lives in :mod:`sciml.forecast`. The linear-algebra core they share (snapshot pairs, truncated SVD, reduced operator, sorted
eigenpairs, exact modes, the residual QR factor) lives in :mod:`sciml.koopman._core`. The
lifted estimators follow the forecast protocol (``forecast(context, horizon)``,
``min_context``) without importing ``sciml.forecast``. :mod:`sciml.koopman.stnn` holds the
Hankel-structured layers and network (:class:`StNN`, a torch module; the forecaster ``stnn``
of :mod:`sciml.forecast` trains it). See ``docs/koopman.md``.
"""

from sciml.koopman._core import (
    TruncatedSVD,
    check_rank,
    choose_rank,
    exact_modes,
    pair_residuals,
    projected_operator,
    pseudospectrum,
    residual_factor,
    snapshot_pairs,
    sorted_eig,
    truncated_svd,
)
from sciml.koopman._task import KoopmanConfig, KoopmanTask
from sciml.koopman.deep import DeepKoopman, DeepKoopmanLoss, deep_koopman
from sciml.koopman.dictionaries import (
    AbstractDictionary,
    CallableDictionary,
    Hermite,
    Legendre,
    Monomials,
    NeuralDictionary,
    RadialBasis,
    RandomFourier,
    TimeDelay,
    make_dictionary,
    parse_dictionary,
)
from sciml.koopman.dmd import DMD, as_trajectories, relative_l2_per_trajectory
from sciml.koopman.edmd import EDMD, HankelDMD, ResDMD
from sciml.koopman.havok import HAVOK
from sciml.koopman.kedmd import KernelEDMD, parse_kernel
from sciml.koopman.spectral import autocorrelations, spectral_filter, spectral_measure
from sciml.koopman.stnn import HankelLinear, StNN, hankel_matvec
from sciml.koopman.systems import pendulum_trajectories, quadratic_map, quadratic_map_eigenvalues

__all__ = [
    "DMD",
    "EDMD",
    "HAVOK",
    "HankelDMD",
    "KernelEDMD",
    "ResDMD",
    "DeepKoopman",
    "DeepKoopmanLoss",
    "deep_koopman",
    "StNN",
    "HankelLinear",
    "hankel_matvec",
    "AbstractDictionary",
    "CallableDictionary",
    "Hermite",
    "Legendre",
    "Monomials",
    "NeuralDictionary",
    "RadialBasis",
    "RandomFourier",
    "TimeDelay",
    "make_dictionary",
    "parse_dictionary",
    "parse_kernel",
    "autocorrelations",
    "spectral_filter",
    "spectral_measure",
    "pendulum_trajectories",
    "quadratic_map",
    "quadratic_map_eigenvalues",
    "pair_residuals",
    "pseudospectrum",
    "residual_factor",
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
