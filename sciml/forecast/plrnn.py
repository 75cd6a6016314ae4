"""Shallow PLRNN forecasters trained with generalized teacher forcing, and the BPTT control.

Three registered forecasters (``sciml list forecasters``) share one model family
(:mod:`sciml.forecast._gtf`, after Hess et al., ICML 2023) and differ in the forcing of
training only:

``plrnn_gtf``
    GTF with a fixed ``alpha`` (given), or, with ``alpha=None``, ``alpha = 1 - 1/sigma``
    from the paper's bound, re-estimated every ``alpha_update_interval`` steps.
``plrnn_agtf``
    Adaptive GTF: the same estimate, annealed (rises at once, decays by ``alpha_decay``).
``plrnn_bptt``
    ``alpha = 0``: plain backpropagation through time of the free-running model (the control).

``fit(train, dt=None)`` standardizes the training states (mean and standard deviation per
dimension), draws ``batch_size`` random windows of ``sequence_length + 1`` states per step
(seeded by ``(seed, step)``) and runs the :class:`~sciml.training.Trainer` (Adam, an
exponential learning-rate decay from ``lr`` to ``lr_end``, optional ``grad_clip``).
``forecast(context, horizon)`` starts the latent state from the context's first state,
runs through the context with teacher forcing (observed units set to the data; for
``latent > dim`` this warms up the unobserved units), and then runs free. See docs/gtf.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.estimator import as_float64_array
from sciml.forecast._gtf import (
    GTF,
    PLRNN_KINDS,
    SIGMA_METHODS,
    AbstractPLRNN,
    build_plrnn,
    check_alpha,
    forced_states,
)
from sciml.forecast._protocol import AbstractForecaster, check_context, register_forecaster
from sciml.training import Trainer

__all__ = ["AbstractPLRNNForecaster", "PLRNNGTF", "PLRNNAGTF", "PLRNNBPTT"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_PERIODS = 50  # learning-rate decay steps (Trainer periods) over a fit


def _positive_int(value: Any, name: str, owner: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{owner} {name}={value!r} must be a positive integer")


class AbstractPLRNNForecaster(AbstractForecaster):
    """Common part of ``plrnn_gtf``, ``plrnn_agtf`` and ``plrnn_bptt``: data, Trainer, forecast.

    Shared parameters (each concrete forecaster lists them in its signature):

    latent : int or None
        ``M``, latent units (``None``: the data's dimension, the paper's choice for
        Lorenz-63, ``M = N = 3``). More units than observed dimensions are warmed up
        through the context at forecast time.
    hidden : int
        ``H``, hidden units of the shPLRNN (unused by ``model="plrnn"``).
    model : {"shplrnn", "clipped_shplrnn", "plrnn"}
    sequence_length : int
        ``T``, training steps per sequence (the paper: 200). Cost grows linearly with it.
    batch_size : int
        Sequences per optimizer step (the paper: 16).
    steps : int
        Optimizer steps (the Trainer's ``max_steps``).
    lr, lr_end : float
        Adam's learning rate, decayed exponentially to ``lr_end`` over the run (``None``
        keeps it constant). The paper decays 1e-3 to 1e-6.
    grad_clip : float or None
        Clip the gradient norm (the paper does not clip).
    regularization : float
        The paper's L2 penalty weight (see :class:`~sciml.forecast._gtf.GTF`).
    warmup : int
        For ``latent > dim``: the fewest context states :meth:`forecast` accepts (the
        unobserved units are warmed up through them); 1 when ``latent == dim``.
    seed : int
        Seeds the initialisation and the training windows.
    device : str
        ``"cpu"``, ``"cuda"``, ...; the learned arrays are saved on the CPU.
    dtype : {"float32", "float64"}
    """

    # ------------------------------------------------------------------ parameters
    def _check_common(self) -> None:
        owner = type(self).__name__
        if self.latent is not None:
            _positive_int(self.latent, "latent", owner)
        for name in ("hidden", "sequence_length", "batch_size", "steps", "warmup"):
            _positive_int(getattr(self, name), name, owner)
        if self.model not in PLRNN_KINDS:
            raise ConfigError(f"{owner} model={self.model!r} is unknown; use one of {', '.join(PLRNN_KINDS)}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError(f"{owner} lr={self.lr!r} must be a positive number (try 1e-3)")
        if self.lr_end is not None and not (isinstance(self.lr_end, (int, float)) and 0 < self.lr_end <= self.lr):
            raise ConfigError(f"{owner} lr_end={self.lr_end!r} must be in (0, lr={self.lr}] or None")
        if self.grad_clip is not None and not (isinstance(self.grad_clip, (int, float)) and self.grad_clip > 0):
            raise ConfigError(f"{owner} grad_clip={self.grad_clip!r} must be a positive number or None")
        if not (isinstance(self.regularization, (int, float)) and self.regularization >= 0):
            raise ConfigError(f"{owner} regularization={self.regularization!r} must be a number >= 0")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"{owner} dtype={self.dtype!r} is unknown; use 'float32' or 'float64'")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ConfigError(f"{owner} seed={self.seed!r} must be an integer >= 0")

    def _objective(self) -> GTF:  # pragma: no cover - abstract
        raise NotImplementedError  # AbstractPLRNNForecaster: subclasses implement it

    def _reset(self) -> None:
        super()._reset()
        self._module = None

    # ------------------------------------------------------------------ fit
    def fit(self, train: Any, dt: float | None = None) -> AbstractPLRNNForecaster:
        """Train on ``train`` (:class:`~sciml.data.Trajectories` or ``[N, T, D]`` / ``[T, D]``); returns ``self``.

        ``dt`` is accepted for the protocol; the PLRNN is a map from one sample to the next.
        """
        self._check_params()
        owner = type(self).__name__
        x = getattr(train, "x", train)
        x = as_float64_array(x, "train", (2, 3), what="[N, T, D] or [T, D]")
        if x.ndim == 2:
            x = x[None]
        n_traj, n_times, dim = x.shape
        need = self.sequence_length + 1
        if n_times < need:
            raise ShapeError(
                f"{owner} trains on windows of sequence_length + 1 = {need} states, the trajectories hold {n_times}; "
                "pass longer trajectories or a smaller sequence_length"
            )
        latent = dim if self.latent is None else int(self.latent)
        if latent < dim:
            raise ConfigError(f"{owner} latent={latent} is below the data's dimension {dim}; use latent >= {dim}")
        self._reset()
        mean = x.reshape(-1, dim).mean(axis=0)
        scale = x.reshape(-1, dim).std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        torch_dtype = _DTYPES[self.dtype]
        device = torch.device(self.device)
        data = torch.as_tensor((x - mean) / scale, dtype=torch_dtype, device=device)
        net = build_plrnn(self.model, dim, latent, int(self.hidden), seed=int(self.seed), dtype=torch_dtype)
        objective = self._objective()
        sample = _WindowSampler(data, int(self.sequence_length), int(self.batch_size), int(self.seed))
        periods = min(_PERIODS, int(self.steps))
        eval_every = -(-int(self.steps) // periods)
        periods = -(-int(self.steps) // eval_every)
        scheduler, scheduler_kwargs = None, {}
        if self.lr_end is not None and self.lr_end < self.lr:
            scheduler, scheduler_kwargs = "exponential", {"gamma": (self.lr_end / self.lr) ** (1.0 / periods)}
        trainer = Trainer(
            net,
            objective,
            optimizer="adam",
            lr=float(self.lr),
            scheduler=scheduler,
            scheduler_kwargs=scheduler_kwargs,
            max_steps=int(self.steps),
            eval_every=eval_every,
            grad_clip=self.grad_clip,
            device=device,
            seed=int(self.seed),
            progress=False,
            metrics=(),
            batch_size=int(self.batch_size),
        )
        history = trainer.fit(sample)
        net = trainer.model
        for name, p in net.named_parameters():
            # float64 like every estimator's arrays; exact for float32 weights, so a reload runs the same model
            setattr(self, f"{name}_", p.detach().cpu().to(torch.float64).numpy())
        self.mean_, self.scale_ = mean, scale
        self.dim_, self.latent_ = int(dim), int(latent)
        self.alpha_, self.sigma_ = float(objective.alpha), float(objective.sigma)
        self.final_loss_ = float(history[-1]["train_loss"])
        self._module = net.eval()
        self._record_training_data(train, n_trajectories=int(n_traj), n_times=int(n_times))
        return self

    @property
    def compute_dtype(self) -> str:  # type: ignore[override]
        """The float type of the network's arithmetic (the ``dtype`` parameter)."""
        return str(self.dtype)

    @property
    def min_context(self) -> int:  # type: ignore[override]
        """1 when ``latent == dim`` (the state is the observation); else ``warmup`` context states."""
        if self.is_fitted:
            return 1 if self.latent_ == self.dim_ else int(self.warmup)
        return 1 if self.latent is None else int(self.warmup)

    def _net(self) -> AbstractPLRNN:
        self.check_fitted()
        net = getattr(self, "_module", None)
        if net is None:
            dtype = _DTYPES[self.dtype]
            net = build_plrnn(self.model, self.dim_, self.latent_, int(self.hidden), seed=0, dtype=dtype)
            state = {name: torch.as_tensor(getattr(self, f"{name}_")) for name, _ in net.named_parameters()}
            missing = [k for k in state if state[k] is None]
            if missing:  # pragma: no cover - guarded by load_estimator's array check
                raise ShapeError(f"{type(self).__name__} lacks the learned arrays {missing}; fit it again")
            with torch.no_grad():
                for name, p in net.named_parameters():
                    p.copy_(state[name])
            net = net.to(torch.device(self.device)).eval()
            self._module = net
        return net

    # ------------------------------------------------------------------ forecast
    def forecast(self, context: Any, horizon: int) -> np.ndarray:
        """The next ``horizon`` states after ``context`` (``[C, D]`` or ``[B, C, D]``), float64.

        The latent state starts at ``[x_0, L x_0]``, runs through the context with the
        observed units set to the data at every step, and from the last context state runs
        free for ``horizon`` steps.
        """
        self.check_fitted()
        ctx, single = check_context(
            context, horizon, min_context=self.min_context, dim=self.dim_, owner=type(self).__name__
        )
        net = self._net()
        p = next(net.parameters())
        x = torch.as_tensor((ctx - self.mean_) / self.scale_, dtype=p.dtype, device=p.device)
        with torch.no_grad():
            z = forced_states(net, x)[:, -1]
            out = net.observe(net.generate(z, int(horizon)))
        pred = out.to(torch.float64).cpu().numpy() * self.scale_ + self.mean_
        return pred[0] if single else pred

    def evaluate(self, data: Any) -> dict[str, float]:
        """``one_step_mse``: the mean squared one-step prediction error (physical units) along ``data``.

        Every state of ``data`` (:class:`~sciml.data.Trajectories`, ``[N, T, D]`` or ``[T, D]``)
        after the first is predicted from the teacher-forced state before it.
        """
        self.check_fitted()
        x = as_float64_array(getattr(data, "x", data), "data", (2, 3), what="[N, T, D] or [T, D]")
        if x.ndim == 2:
            x = x[None]
        if x.shape[2] != self.dim_:
            raise ShapeError(
                f"{type(self).__name__} was fitted on {self.dim_}-dimensional states, the data have {x.shape[2]}"
            )
        if x.shape[1] < 2:
            raise ShapeError(
                f"{type(self).__name__}.evaluate needs trajectories of at least 2 states, got {x.shape[1]}"
            )
        net = self._net()
        p = next(net.parameters())
        xs = torch.as_tensor((x - self.mean_) / self.scale_, dtype=p.dtype, device=p.device)
        with torch.no_grad():
            pred = net.observe(net.step(forced_states(net, xs)[:, :-1]))
        pred = pred.to(torch.float64).cpu().numpy() * self.scale_ + self.mean_
        return {"one_step_mse": float(np.mean((pred - x[:, 1:]) ** 2))}


class _WindowSampler:
    """``sample(step) -> {"x": [B, T+1, D]}``: random windows, seeded by ``(seed, step)`` (exact resume)."""

    def __init__(self, data: torch.Tensor, length: int, batch: int, seed: int):
        self.data, self.length, self.batch, self.seed = data, length, batch, seed
        self.offsets = torch.arange(length + 1, device=data.device)

    def __call__(self, step: int) -> dict[str, torch.Tensor]:
        n, t, _ = self.data.shape
        rng = np.random.default_rng([self.seed, int(step)])
        which = torch.as_tensor(rng.integers(0, n, size=self.batch), device=self.data.device)
        start = torch.as_tensor(rng.integers(0, t - self.length, size=self.batch), device=self.data.device)
        return {"x": self.data[which[:, None], start[:, None] + self.offsets]}


@register_forecaster("plrnn_gtf", doc="shallow PLRNN trained with generalized teacher forcing (Hess et al. 2023)")
class PLRNNGTF(AbstractPLRNNForecaster):
    """Shallow PLRNN trained with GTF at a fixed ``alpha`` or at the bound ``1 - 1/sigma``.

    Parameters
    ----------
    alpha : float or None
        A constant forcing in ``[0, 1)``; ``None``: ``alpha = 1 - 1/sigma`` of the current
        model on the current batch, re-estimated every ``alpha_update_interval`` steps
        (``sigma`` by ``sigma_method``), which bounds the gradient at every estimate.
    sigma_method : {"batch_maximum", "product_upper_bound", "product"}
        ``"batch_maximum"`` (default): the largest ``||J_t||`` on the batch, which bounds
        every stretch of the product (``sigma_1(J_{t+k}..J_t) <= sigma^k``), so the
        gradient stays flat in ``T`` (measured in docs/gtf.md); it is also above 1 for the
        initial model, so forcing starts at once. ``"product_upper_bound"`` is the paper's
        aGTF estimate (the geometric mean of ``||J_t||``, a bound of the whole product only).
    alpha_update_interval : int
    latent, hidden, model, sequence_length, batch_size, steps, lr, lr_end, grad_clip, regularization, warmup, seed, device, dtype
        See :class:`AbstractPLRNNForecaster`.
    """

    def __init__(
        self,
        alpha: float | None = None,
        sigma_method: str = "batch_maximum",
        alpha_update_interval: int = 5,
        latent: int | None = None,
        hidden: int = 50,
        model: str = "shplrnn",
        sequence_length: int = 50,
        batch_size: int = 16,
        steps: int = 1000,
        lr: float = 1e-3,
        lr_end: float | None = 1e-5,
        grad_clip: float | None = None,
        regularization: float = 0.0,
        warmup: int = 10,
        seed: int = 0,
        device: str = "cpu",
        dtype: str = "float32",
    ):
        self.alpha, self.sigma_method, self.alpha_update_interval = alpha, sigma_method, alpha_update_interval
        self.latent, self.hidden, self.model = latent, hidden, model
        self.sequence_length, self.batch_size, self.steps = sequence_length, batch_size, steps
        self.lr, self.lr_end, self.grad_clip, self.regularization = lr, lr_end, grad_clip, regularization
        self.warmup, self.seed, self.device, self.dtype = warmup, seed, device, dtype
        self._check_params()

    def _check_params(self) -> None:
        self._check_common()
        if self.alpha is not None:
            check_alpha(self.alpha, "plrnn_gtf alpha")
        if self.sigma_method not in SIGMA_METHODS:
            raise ConfigError(
                f"plrnn_gtf sigma_method={self.sigma_method!r} is unknown; use one of {', '.join(SIGMA_METHODS)}"
            )
        _positive_int(self.alpha_update_interval, "alpha_update_interval", "plrnn_gtf")

    def _objective(self) -> GTF:
        method = "constant" if self.alpha is not None else "bound"
        return GTF(
            self.alpha,
            method,
            sigma_method=self.sigma_method,
            alpha_update_interval=int(self.alpha_update_interval),
            regularization=float(self.regularization),
        )


@register_forecaster("plrnn_agtf", doc="shallow PLRNN trained with adaptive, annealed GTF (Hess et al. 2023)")
class PLRNNAGTF(AbstractPLRNNForecaster):
    """Shallow PLRNN trained with adaptive GTF (aGTF): the bound's ``alpha``, annealed.

    Parameters
    ----------
    alpha : float
        The initial forcing in ``[0, 1]`` (the paper starts at 1: pure teacher forcing).
    alpha_decay : float
        ``gamma`` in ``(0, 1)``: ``alpha <- gamma alpha + (1 - gamma) estimate`` when the
        estimate is lower, ``alpha <- estimate`` when higher. The paper's 0.999 is tuned to
        250 000 steps; the default 0.98 lets ``alpha`` settle within a few hundred steps.
    sigma_method : {"product_upper_bound", "product", "batch_maximum"}
    alpha_update_interval : int
    latent, hidden, model, sequence_length, batch_size, steps, lr, lr_end, grad_clip, regularization, warmup, seed, device, dtype
        See :class:`AbstractPLRNNForecaster`.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        alpha_decay: float = 0.98,
        sigma_method: str = "product_upper_bound",
        alpha_update_interval: int = 5,
        latent: int | None = None,
        hidden: int = 50,
        model: str = "shplrnn",
        sequence_length: int = 50,
        batch_size: int = 16,
        steps: int = 1000,
        lr: float = 1e-3,
        lr_end: float | None = 1e-5,
        grad_clip: float | None = None,
        regularization: float = 0.0,
        warmup: int = 10,
        seed: int = 0,
        device: str = "cpu",
        dtype: str = "float32",
    ):
        self.alpha, self.alpha_decay = alpha, alpha_decay
        self.sigma_method, self.alpha_update_interval = sigma_method, alpha_update_interval
        self.latent, self.hidden, self.model = latent, hidden, model
        self.sequence_length, self.batch_size, self.steps = sequence_length, batch_size, steps
        self.lr, self.lr_end, self.grad_clip, self.regularization = lr, lr_end, grad_clip, regularization
        self.warmup, self.seed, self.device, self.dtype = warmup, seed, device, dtype
        self._check_params()

    def _check_params(self) -> None:
        self._check_common()
        check_alpha(self.alpha, "plrnn_agtf alpha", allow_one=True)
        if not (isinstance(self.alpha_decay, (int, float)) and 0 < self.alpha_decay < 1):
            raise ConfigError(f"plrnn_agtf alpha_decay={self.alpha_decay!r} must be in (0, 1)")
        if self.sigma_method not in SIGMA_METHODS:
            raise ConfigError(
                f"plrnn_agtf sigma_method={self.sigma_method!r} is unknown; use one of {', '.join(SIGMA_METHODS)}"
            )
        _positive_int(self.alpha_update_interval, "alpha_update_interval", "plrnn_agtf")

    def _objective(self) -> GTF:
        return GTF(
            float(self.alpha),
            "annealed",
            sigma_method=self.sigma_method,
            alpha_decay=float(self.alpha_decay),
            alpha_update_interval=int(self.alpha_update_interval),
            regularization=float(self.regularization),
        )


@register_forecaster("plrnn_bptt", doc="the same PLRNN trained by plain BPTT (alpha = 0): the control of GTF")
class PLRNNBPTT(AbstractPLRNNForecaster):
    """The PLRNN of ``plrnn_gtf`` trained by plain backpropagation through time (``alpha = 0``).

    Parameters
    ----------
    latent, hidden, model, sequence_length, batch_size, steps, lr, lr_end, grad_clip, regularization, warmup, seed, device, dtype
        See :class:`AbstractPLRNNForecaster`.
    """

    def __init__(
        self,
        latent: int | None = None,
        hidden: int = 50,
        model: str = "shplrnn",
        sequence_length: int = 50,
        batch_size: int = 16,
        steps: int = 1000,
        lr: float = 1e-3,
        lr_end: float | None = 1e-5,
        grad_clip: float | None = None,
        regularization: float = 0.0,
        warmup: int = 10,
        seed: int = 0,
        device: str = "cpu",
        dtype: str = "float32",
    ):
        self.latent, self.hidden, self.model = latent, hidden, model
        self.sequence_length, self.batch_size, self.steps = sequence_length, batch_size, steps
        self.lr, self.lr_end, self.grad_clip, self.regularization = lr, lr_end, grad_clip, regularization
        self.warmup, self.seed, self.device, self.dtype = warmup, seed, device, dtype
        self._check_params()

    def _check_params(self) -> None:
        self._check_common()

    def _objective(self) -> GTF:
        return GTF(0.0, "constant", regularization=float(self.regularization))
