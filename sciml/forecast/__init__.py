"""Forecasters of chaotic dynamics and the benchmark that compares them (``sciml bench chaos``).

One protocol (:class:`AbstractForecaster`): ``fit(train)``, then ``forecast(context, horizon)``;
forecasters register by name in :data:`sciml.core.registry.FORECASTERS`. See
``docs/chaos_benchmark.md``.
"""

from sciml.forecast._gtf import GTF, PLRNN, ShallowPLRNN, jacobian_product_sigma  # registers the objective gtf
from sciml.forecast._protocol import AbstractForecaster, check_context, register_forecaster
from sciml.forecast.plrnn import PLRNNAGTF, PLRNNBPTT, PLRNNGTF  # registers plrnn_gtf, plrnn_agtf, plrnn_bptt

__all__ = ["AbstractForecaster", "check_context", "register_forecaster"]
__all__ += ["PLRNNGTF", "PLRNNAGTF", "PLRNNBPTT", "GTF", "ShallowPLRNN", "PLRNN", "jacobian_product_sigma"]
