"""Forecasters of chaotic dynamics and the benchmark that compares them (``sciml bench chaos``).

One protocol (:class:`AbstractForecaster`): ``fit(train)``, then ``forecast(context, horizon)``;
forecasters register by name in :data:`sciml.core.registry.FORECASTERS`. See
``docs/chaos_benchmark.md``.
"""

from sciml.forecast._protocol import AbstractForecaster, check_context, register_forecaster

__all__ = ["AbstractForecaster", "check_context", "register_forecaster"]
