"""Peer forecasters: darts' N-BEATS, N-HiTS, TCN and Transformer, and reservoirpy's echo-state network.

Adapters of two peer libraries (optional, ``pip install 'sciml[peers]'``) to the forecaster
protocol, configured like our models of the same name (``nbeats``, ``nhits``, ``tcn``,
``transformer``, ``esn``) so that ``sciml bench chaos --preset peers`` compares
implementations, not budgets. The libraries are imported inside ``fit`` / ``forecast`` (the
module imports without them); a missing one is a one-line :class:`ConfigError`.

What the adapters share with our models: the training trajectories are standardized with
their mean and std per dimension (darts and reservoirpy see standardized float32 / float64
series; forecasts are mapped back), the same input window and output chunk, widths, depths,
the same number of Adam steps (darts: Lightning's ``max_steps``; ``n_epochs`` is only an
upper bound), learning rate, batch size, MSE loss, no dropout, and the seed. What cannot be
matched is listed in each class's docstring and in docs/chaos_benchmark.md ("Peers").

Learned state is saved as arrays: the darts network's parameters as one float64 vector
(exact for float32), reservoirpy's matrices dense. Loading rebuilds the darts model by a
``fit`` of zero steps on a dummy series (darts' public API; the weights are then replaced)
and the reservoirpy nodes from the arrays, so a loaded peer forecasts exactly as the fitted one.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from sciml.core.errors import ConfigError
from sciml.forecast._common import as_train, check_device, check_positive_int, standardizer
from sciml.forecast._protocol import AbstractForecaster, check_context, register_forecaster

__all__ = ["DartsNBEATS", "DartsNHiTS", "DartsTCN", "DartsTransformer", "ReservoirPyESN"]

_QUIET_LOGGERS = ("pytorch_lightning", "lightning", "lightning_fabric", "lightning.pytorch", "darts", "reservoirpy")


def _import_peer(module: str, owner: str):
    """``import module`` or a one-line ConfigError naming the extra that installs it."""
    import importlib

    try:
        with warnings.catch_warnings():  # what the libraries warn about at import (optional backends) is theirs
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise ConfigError(
            f"{owner} needs the peer library {package}, which is not installed; pip install 'sciml[peers]'"
        ) from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence darts / Lightning / reservoirpy: their warnings, info logs ("GPU available", tips)."""
    loggers = [logging.getLogger(n) for n in _QUIET_LOGGERS]
    loggers += [
        logging.getLogger(n)
        for n in list(logging.root.manager.loggerDict)
        if n.startswith(_QUIET_LOGGERS) and n not in _QUIET_LOGGERS
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _accelerator(device: str) -> dict[str, Any]:
    """Lightning's trainer arguments for a torch device string (``cpu``, ``cuda``, ``cuda:1``)."""
    if device == "cpu":
        return {"accelerator": "cpu"}
    if device.startswith("cuda"):
        index = device.partition(":")[2]
        return {"accelerator": "gpu", "devices": [int(index)] if index else 1}
    return {"accelerator": device}


# ----------------------------------------------------------------------------- darts
class _DartsForecaster(AbstractForecaster, abc.ABC):
    """Base of the darts adapters (abstract: subclasses name the darts class and its architecture).

    Subclasses set ``window``, ``chunk``, ``steps``, ``batch_size``, ``lr``, ``device``, ``seed``.
    """

    compute_dtype = "float32"
    peer_library: ClassVar[str] = "darts"  # what fit imports (the benchmark checks it before a sweep)
    darts_class: ClassVar[str]
    window: int
    chunk: int
    steps: int
    batch_size: int
    lr: float
    device: str
    seed: int

    @abc.abstractmethod
    def _architecture(self) -> dict[str, Any]:
        """The darts model's architecture arguments (besides the chunk lengths and training ones)."""

    @property
    def min_context(self) -> int:  # type: ignore[override]
        return self.window

    def _check_common(self) -> None:
        name = type(self).__name__
        check_positive_int(name, window=self.window, chunk=self.chunk, steps=self.steps, batch_size=self.batch_size)
        check_device(name, self.device)
        if not self.lr > 0:
            raise ConfigError(f"{name} lr={self.lr!r} must be > 0; try 1e-3")

    def _darts_cls(self) -> type:
        """The darts model class; imported before :func:`_quiet`, since importing Lightning sets its log level."""
        darts_models = _import_peer("darts.models", f"{type(self).__name__} ({self.registered_name})")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(darts_models, self.darts_class)  # darts imports its torch models lazily

    def _darts(self, cls: type, max_steps: int):
        trainer = {
            **_accelerator(self.device),
            "max_steps": int(max_steps),
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
            "enable_checkpointing": False,
        }
        return cls(
            input_chunk_length=self.window,
            output_chunk_length=self.chunk,
            batch_size=self.batch_size,
            n_epochs=max(int(self.steps), 1),  # an upper bound: at least one batch an epoch; max_steps stops it
            optimizer_kwargs={"lr": self.lr},
            random_state=self.seed,
            pl_trainer_kwargs=trainer,
            save_checkpoints=False,
            log_tensorboard=False,
            show_warnings=False,
            **self._architecture(),
        )

    @staticmethod
    def _series(z: np.ndarray) -> list[Any]:
        from darts import TimeSeries

        return [TimeSeries.from_values(np.ascontiguousarray(traj, dtype=np.float32)) for traj in z]

    def fit(self, train: Any, dt: float | None = None) -> _DartsForecaster:
        import torch

        name = type(self).__name__
        x = as_train(train, name, min_length=self.window + self.chunk)
        cls = self._darts_cls()
        with _quiet():
            model = self._darts(cls, self.steps)
            self.mean_, self.std_ = standardizer(x)
            model.fit(self._series((x - self.mean_) / self.std_), verbose=False)
        self.dim_ = int(x.shape[-1])
        self.weights_ = (
            torch.nn.utils.parameters_to_vector(model.model.parameters()).detach().cpu().numpy().astype(np.float64)
        )
        self.steps_run_ = int(model.trainer.global_step)
        # forecasts always come from the model rebuilt from weights_ (as after a load): the trained model, with
        # bit-identical parameters, forecasts ~1e-6 apart (float32 rounding; presumably the parameters' memory
        # layout changes the matrix-product kernels), and a loaded peer must forecast exactly as the fitted one
        self._model_cache = None
        self._record_training_data(train, trajectories=int(x.shape[0]), steps=int(x.shape[1]))
        return self

    def _reset(self) -> None:
        super()._reset()
        self._model_cache = None

    def _model(self):
        """The darts model with the learned weights (after ``fit``, or rebuilt after a load)."""
        model = getattr(self, "_model_cache", None)
        if model is None:
            import torch

            cls = self._darts_cls()
            with _quiet():
                model = self._darts(cls, 0)  # zero steps: darts builds its module for the dimension, trains nothing
                length = self.window + self.chunk + (self.window if self.darts_class == "TCNModel" else 0)
                model.fit(self._series(np.zeros((1, length, int(self.dim_)))), verbose=False)
            params = list(model.model.parameters())
            vector = torch.as_tensor(np.asarray(self.weights_), dtype=params[0].dtype, device=params[0].device)
            with torch.no_grad():
                torch.nn.utils.vector_to_parameters(vector, params)
            self._model_cache = model
        return model

    def forecast(self, context: Any, horizon: int) -> np.ndarray:
        self.check_fitted()
        ctx, single = check_context(
            context, horizon, min_context=self.window, dim=int(self.dim_), owner=type(self).__name__
        )
        model = self._model()
        with _quiet():
            pred = model.predict(
                n=int(horizon),
                series=self._series((ctx - self.mean_) / self.std_),
                batch_size=len(ctx),
                verbose=False,
                show_warnings=False,
            )
        out = np.stack([p.values(copy=False) for p in pred]).astype(np.float64) * self.std_ + self.mean_
        return out[0] if single else out


@register_forecaster("darts_nbeats", doc="darts' NBEATSModel (generic) configured as our nbeats (peer, sciml[peers])")
class DartsNBEATS(_DartsForecaster):
    """darts' ``NBEATSModel``, generic architecture, configured as our :class:`~sciml.forecast.NBEATS`.

    Same: ``blocks`` blocks (darts: ``num_stacks=blocks`` stacks of one block) of ``layers``
    ReLU layers of ``width``, window -> chunk on the flattened multivariate window, Adam,
    MSE, ``steps`` optimizer steps of ``batch_size``, no dropout or batch norm,
    standardized inputs. Different, and not configurable in darts: ours forecasts relative
    to the window's last state (input ``x - x_last``, output ``+ x_last``); darts reads the
    window as it is. darts' heads are two linear maps (width -> ``expansion_coefficient_dim``
    -> length) where ours is one; ``expansion_coefficient_dim = width`` makes darts' function
    class ours (a product of two linear maps of inner size ``width`` spans every linear map
    of rank ``<= width``), with more parameters.

    Parameters
    ----------
    window, chunk, blocks, width, layers, steps, batch_size, lr, device, seed :
        As :class:`~sciml.forecast.NBEATS`.
    """

    darts_class = "NBEATSModel"

    def __init__(
        self,
        window: int = 50,
        chunk: int = 10,
        blocks: int = 3,
        width: int = 128,
        layers: int = 3,
        steps: int = 500,
        batch_size: int = 64,
        lr: float = 1e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.window, self.chunk, self.blocks, self.width, self.layers = window, chunk, blocks, width, layers
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int("DartsNBEATS", blocks=self.blocks, width=self.width, layers=self.layers)
        self._check_common()

    def _architecture(self) -> dict[str, Any]:
        return {
            "generic_architecture": True,
            "num_stacks": self.blocks,
            "num_blocks": 1,
            "num_layers": self.layers,
            "layer_widths": self.width,
            "expansion_coefficient_dim": self.width,
            "dropout": 0.0,
            "activation": "ReLU",
        }


@register_forecaster("darts_nhits", doc="darts' NHiTSModel configured as our nhits (peer, sciml[peers])")
class DartsNHiTS(_DartsForecaster):
    """darts' ``NHiTSModel`` configured as our :class:`~sciml.forecast.NHiTS`.

    Same: one block per stack, block ``i`` max-pools its input by ``pools[i]`` and forecasts
    knots down-sampled by ``downsamples[i]``, ``layers`` ReLU layers of ``width``, Adam, MSE,
    ``steps`` steps, no dropout, standardized inputs. Different, and not configurable: ours
    forecasts relative to the window's last state; darts interpolates the backcast from knots
    too (the paper's form; ours is at full resolution); darts has ``floor(chunk / r)`` knots
    where ours has ``ceil(chunk / r)`` (chunk 10, r = 4: 2 against 3) and interpolates without
    aligned corners.

    Parameters
    ----------
    window, chunk, pools, downsamples, width, layers, steps, batch_size, lr, device, seed :
        As :class:`~sciml.forecast.NHiTS`.
    """

    darts_class = "NHiTSModel"

    def __init__(
        self,
        window: int = 50,
        chunk: int = 10,
        pools: list[int] | None = None,
        downsamples: list[int] | None = None,
        width: int = 128,
        layers: int = 2,
        steps: int = 500,
        batch_size: int = 64,
        lr: float = 1e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.window, self.chunk, self.pools, self.downsamples = window, chunk, pools, downsamples
        self.width, self.layers = width, layers
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()

    def _rates(self) -> tuple[list[int], list[int]]:
        return list(self.pools or [4, 2, 1]), list(self.downsamples or [4, 2, 1])

    def _check_params(self) -> None:
        check_positive_int("DartsNHiTS", width=self.width, layers=self.layers)
        pools, downs = self._rates()
        if len(pools) != len(downs) or not pools:
            raise ConfigError(f"DartsNHiTS pools={pools} and downsamples={downs} must be non-empty lists of one length")
        check_positive_int("DartsNHiTS", **{f"pools[{i}]": p for i, p in enumerate(pools)})
        check_positive_int("DartsNHiTS", **{f"downsamples[{i}]": r for i, r in enumerate(downs)})
        self._check_common()

    def _architecture(self) -> dict[str, Any]:
        pools, downs = self._rates()
        return {
            "num_stacks": len(pools),
            "num_blocks": 1,
            "num_layers": self.layers,
            "layer_widths": self.width,
            "pooling_kernel_sizes": tuple((p,) for p in pools),
            "n_freq_downsample": tuple((r,) for r in downs),
            "dropout": 0.0,
            "activation": "ReLU",
            "MaxPool1d": True,
        }


@register_forecaster("darts_tcn", doc="darts' TCNModel configured as our tcn (peer, sciml[peers])")
class DartsTCN(_DartsForecaster):
    """darts' ``TCNModel`` configured as our :class:`~sciml.forecast.TCN`.

    Same: ``levels`` residual blocks of two causal convolutions (kernel ``kernel``, dilation
    ``2^i``, ReLU), ``channels`` filters, no weight norm or dropout, Adam, MSE, ``steps``
    steps, standardized inputs. Different, and not configurable: darts' TCN is sequence to
    sequence (trained on the window shifted by ``chunk``, its last block's convolution
    outputs the ``D`` target channels, without ReLU; the forecast is the last ``chunk``
    outputs) where ours maps the last step's ``channels`` features to the next ``chunk``
    states with a linear head, relative to the window's last state; darts needs
    ``chunk < window``.

    Parameters
    ----------
    window, chunk, channels, kernel, levels, steps, batch_size, lr, device, seed :
        As :class:`~sciml.forecast.TCN`.
    """

    darts_class = "TCNModel"

    def __init__(
        self,
        window: int = 50,
        chunk: int = 10,
        channels: int = 32,
        kernel: int = 3,
        levels: int = 4,
        steps: int = 500,
        batch_size: int = 64,
        lr: float = 1e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.window, self.chunk, self.channels, self.kernel, self.levels = window, chunk, channels, kernel, levels
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int("DartsTCN", channels=self.channels, kernel=self.kernel, levels=self.levels)
        self._check_common()
        if not self.chunk < self.window:
            raise ConfigError(f"DartsTCN chunk={self.chunk} must be below window={self.window} (darts' TCNModel)")
        if not self.kernel < self.window:
            raise ConfigError(f"DartsTCN kernel={self.kernel} must be below window={self.window} (darts' TCNModel)")

    def _architecture(self) -> dict[str, Any]:
        return {
            "kernel_size": self.kernel,
            "num_filters": self.channels,
            "num_layers": self.levels,
            "dilation_base": 2,
            "weight_norm": False,
            "dropout": 0.0,
        }


@register_forecaster("darts_transformer", doc="darts' TransformerModel configured as our transformer (sciml[peers])")
class DartsTransformer(_DartsForecaster):
    """darts' ``TransformerModel`` configured as our :class:`~sciml.forecast.TransformerForecaster`.

    Same: model width ``width``, ``heads`` heads, ``layers`` encoder layers, feed-forward
    width ``2 width``, ReLU, post-norm layer norm, no dropout, Adam, MSE, ``steps`` steps,
    standardized inputs. Different, and not configurable: darts' model is an
    encoder-decoder (``nn.Transformer``) and needs a decoder, so it has ``decoder_layers``
    (1 by default, the fewest) decoder layers that attend to the encoder and emit the
    ``chunk`` states, where ours is encoder-only with a linear head on the last position;
    darts' positions are sinusoidal (ours learned); ours forecasts relative to the window's
    last state.

    Parameters
    ----------
    window, chunk, width, heads, layers, steps, batch_size, lr, device, seed :
        As :class:`~sciml.forecast.TransformerForecaster`.
    decoder_layers : int
        darts' decoder layers.
    """

    darts_class = "TransformerModel"

    def __init__(
        self,
        window: int = 50,
        chunk: int = 10,
        width: int = 32,
        heads: int = 4,
        layers: int = 2,
        decoder_layers: int = 1,
        steps: int = 500,
        batch_size: int = 64,
        lr: float = 1e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.window, self.chunk, self.width, self.heads, self.layers = window, chunk, width, heads, layers
        self.decoder_layers = decoder_layers
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int(
            "DartsTransformer",
            width=self.width,
            heads=self.heads,
            layers=self.layers,
            decoder_layers=self.decoder_layers,
        )
        if self.width % self.heads:
            raise ConfigError(f"DartsTransformer width={self.width} must be divisible by heads={self.heads}")
        self._check_common()

    def _architecture(self) -> dict[str, Any]:
        return {
            "d_model": self.width,
            "nhead": self.heads,
            "num_encoder_layers": self.layers,
            "num_decoder_layers": self.decoder_layers,
            "dim_feedforward": 2 * self.width,
            "dropout": 0.0,
            "activation": "relu",
        }


# ----------------------------------------------------------------------------- reservoirpy
@register_forecaster("rpy_esn", doc="reservoirpy's Reservoir + Ridge configured as our esn (peer, sciml[peers])")
class ReservoirPyESN(AbstractForecaster):
    """reservoirpy's ``Reservoir`` and ``Ridge`` nodes configured as our :class:`~sciml.forecast.EchoStateNetwork`.

    Same: ``units`` leaky-tanh units, ``x_{t+1} = (1 - a) x_t + a tanh(W x_t + W_in u_t + b)``
    with ``W`` of density ``density`` and uniform entries scaled to spectral radius
    ``spectral_radius``, dense uniform ``W_in`` in ``[-input_scaling, input_scaling]``,
    uniform ``b`` in ``[-0.1, 0.1]`` (reservoirpy's ``mat_gen.uniform``), a ridge readout of
    the standardized increment ``u_{t+1} - u_t`` from ``[1, x_{t+1}, u_t]`` after ``warmup``
    teacher-forced steps, and a forecast that warms the reservoir up on the context and feeds
    its predictions back. Different: the random draws (reservoirpy's generator, seeded by
    ``seed``); reservoirpy's ``Ridge`` centres the features and leaves the bias unpenalized,
    and solves the normal equations (ours penalizes the constant too and solves the
    augmented least squares, better conditioned at ``alpha = 1e-6``). A batch of contexts is
    run one after another (a reservoirpy node holds one state).

    Parameters
    ----------
    units, spectral_radius, leak, input_scaling, density, alpha, warmup, device, seed :
        As :class:`~sciml.forecast.EchoStateNetwork` (``device``: numpy on the CPU).
    """

    peer_library: ClassVar[str] = "reservoirpy"

    def __init__(
        self,
        units: int = 400,
        spectral_radius: float = 0.9,
        leak: float = 0.5,
        input_scaling: float = 0.5,
        density: float = 0.05,
        alpha: float = 1e-6,
        warmup: int = 50,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.units, self.spectral_radius, self.leak = units, spectral_radius, leak
        self.input_scaling, self.density, self.alpha, self.warmup = input_scaling, density, alpha, warmup
        self.device, self.seed = device, seed
        self._check_params()

    def _check_params(self) -> None:
        check_positive_int("ReservoirPyESN", units=self.units, warmup=self.warmup)
        check_device("ReservoirPyESN", self.device)
        for name, ok in (
            ("spectral_radius", self.spectral_radius > 0),
            ("leak", 0 < self.leak <= 1),
            ("input_scaling", self.input_scaling > 0),
            ("density", 0 < self.density <= 1),
            ("alpha", self.alpha >= 0),
        ):
            if not ok:
                raise ConfigError(f"ReservoirPyESN {name}={getattr(self, name)!r} is out of range; see the docstring")

    @property
    def min_context(self) -> int:  # type: ignore[override]
        return self.warmup

    def _reset(self) -> None:
        super()._reset()
        self._nodes_cache = None

    def _nodes(self):
        """reservoirpy's Reservoir and Ridge holding the learned arrays (dense, so a loaded copy computes the same)."""
        nodes = getattr(self, "_nodes_cache", None)
        if nodes is None:
            rpy = _import_peer("reservoirpy.nodes", "ReservoirPyESN (rpy_esn)")
            with _quiet():
                reservoir = rpy.Reservoir(
                    units=self.units, lr=self.leak, W=np.asarray(self.w_), Win=np.asarray(self.w_in_),
                    bias=np.asarray(self.b_), seed=self.seed,
                )  # fmt: skip
                readout = rpy.Ridge(ridge=self.alpha, Wout=np.asarray(self.w_out_), bias=np.asarray(self.b_out_))
                dim = int(self.mean_.size)
                reservoir.initialize(np.zeros((1, dim)))
                readout.initialize(np.zeros((1, self.units + dim)))
            nodes = self._nodes_cache = (reservoir, readout)
        return nodes

    @staticmethod
    def _states(reservoir: Any, u: np.ndarray) -> np.ndarray:
        """The reservoir's states after each input of ``u [T, D]``, from the zero state."""
        reservoir.reset()
        return np.asarray(reservoir.run(u))

    def fit(self, train: Any, dt: float | None = None) -> ReservoirPyESN:
        rpy = _import_peer("reservoirpy.nodes", "ReservoirPyESN (rpy_esn)")
        mat_gen = _import_peer("reservoirpy.mat_gen", "ReservoirPyESN (rpy_esn)")
        x = as_train(train, "ReservoirPyESN", min_length=self.warmup + 2)
        self.mean_, self.std_ = standardizer(x)
        u = (x - self.mean_) / self.std_
        with _quiet():
            reservoir = rpy.Reservoir(
                units=self.units,
                lr=self.leak,
                sr=self.spectral_radius,
                input_scaling=self.input_scaling,
                input_connectivity=1.0,
                rc_connectivity=self.density,
                W=mat_gen.uniform(low=-1.0, high=1.0),
                Win=mat_gen.uniform(low=-1.0, high=1.0),
                bias=mat_gen.uniform(low=-0.1, high=0.1),
                seed=self.seed,
            )
            reservoir.initialize(u[0, :1])
            states = [self._states(reservoir, traj[:-1]) for traj in u]  # x_{t+1} after reading u_t
            keep = slice(self.warmup - 1, None)
            feats = np.concatenate([np.concatenate([s, traj[:-1]], axis=-1)[keep] for s, traj in zip(states, u)])
            target = np.concatenate([(traj[1:] - traj[:-1])[keep] for traj in u])
            readout = rpy.Ridge(ridge=self.alpha).fit(feats, target)
        dense = lambda m: np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=np.float64)  # noqa: E731
        self.w_, self.w_in_ = dense(reservoir.W), dense(reservoir.Win)
        self.b_ = np.broadcast_to(np.asarray(reservoir.bias, dtype=np.float64).reshape(-1), (self.units,)).copy()
        self.w_out_, self.b_out_ = dense(readout.Wout), dense(readout.bias).reshape(-1)
        self._nodes_cache = None
        self._record_training_data(train, trajectories=int(x.shape[0]), steps=int(x.shape[1]))
        return self

    def forecast(self, context: Any, horizon: int) -> np.ndarray:
        self.check_fitted()
        ctx, single = check_context(
            context, horizon, min_context=self.warmup, dim=self.mean_.size, owner="ReservoirPyESN"
        )
        reservoir, readout = self._nodes()
        u = (ctx - self.mean_) / self.std_
        out = np.empty((u.shape[0], horizon, u.shape[-1]))
        with _quiet(), np.errstate(over="ignore", invalid="ignore"):  # a diverging forecast ends in inf/NaN
            for b in range(u.shape[0]):
                r = self._states(reservoir, u[b])[-1]
                last = u[b, -1]
                for k in range(horizon):
                    nxt = last + readout.step(np.concatenate([r, last]))
                    out[b, k] = nxt
                    r = reservoir.step(nxt) if k + 1 < horizon else r
                    last = nxt
        pred = out * self.std_ + self.mean_
        return pred[0] if single else pred
