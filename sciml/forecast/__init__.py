"""Forecasters of chaotic dynamics and the benchmark that compares them (``sciml bench chaos``).

One protocol (:class:`AbstractForecaster`): ``fit(train)``, then ``forecast(context, horizon)``;
forecasters register by name in :data:`sciml.core.registry.FORECASTERS`. See
``docs/chaos_benchmark.md``.
"""

from sciml.forecast._baselines import Climatology, Persistence
from sciml.forecast._deep_koopman import DeepKoopmanForecaster
from sciml.forecast._esn import EchoStateNetwork
from sciml.forecast._gtf import GTF, PLRNN, ShallowPLRNN, jacobian_product_sigma  # registers the objective gtf
from sciml.forecast._koopman import (
    EDMDForecaster,
    HankelDMDForecaster,
    HAVOKForecaster,
    KernelEDMDForecaster,
    ResDMDForecaster,
)
from sciml.forecast._linear import NVAR, LinearAR
from sciml.forecast._lstm import LSTMForecaster
from sciml.forecast._nbeats import NBEATS
from sciml.forecast._nhits import NHiTS
from sciml.forecast._node import NeuralODEForecaster
from sciml.forecast._peers import DartsNBEATS, DartsNHiTS, DartsTCN, DartsTransformer, ReservoirPyESN
from sciml.forecast._protocol import AbstractForecaster, check_context, register_forecaster
from sciml.forecast._sindy import SINDyForecaster
from sciml.forecast._stnn import DelayMLPForecaster, StNNForecaster
from sciml.forecast._tcn import TCN
from sciml.forecast._transformer import TransformerForecaster
from sciml.forecast.data import SETTINGS, ChaosData, chaos_data
from sciml.forecast.plrnn import PLRNNAGTF, PLRNNBPTT, PLRNNGTF  # registers plrnn_gtf, plrnn_agtf, plrnn_bptt

__all__ = [
    "AbstractForecaster",
    "check_context",
    "register_forecaster",
    "Persistence",
    "Climatology",
    "LinearAR",
    "NVAR",
    "EchoStateNetwork",
    "LSTMForecaster",
    "NBEATS",
    "NHiTS",
    "TCN",
    "TransformerForecaster",
    "DartsNBEATS",
    "DartsNHiTS",
    "DartsTCN",
    "DartsTransformer",
    "ReservoirPyESN",
    "SINDyForecaster",
    "StNNForecaster",
    "DelayMLPForecaster",
    "NeuralODEForecaster",
    "EDMDForecaster",
    "HankelDMDForecaster",
    "HAVOKForecaster",
    "KernelEDMDForecaster",
    "ResDMDForecaster",
    "DeepKoopmanForecaster",
    "PLRNNGTF",
    "PLRNNAGTF",
    "PLRNNBPTT",
    "GTF",
    "ShallowPLRNN",
    "PLRNN",
    "jacobian_product_sigma",
    "ChaosData",
    "chaos_data",
    "SETTINGS",
]
