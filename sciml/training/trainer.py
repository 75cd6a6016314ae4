"""The Trainer: fit / evaluate any ``nn.Module`` on dict batches through an objective.

The Trainer knows nothing about PDEs. Each optimizer step it tells the objective the
global step (``objective.begin_step(step)``, when it has one), calls
``objective(model, batch) -> dict`` and optimizes ``loss``; the other keys (regularizer
terms, NFE, ...) are averaged per sample over a logging period and logged. Training data
may be

* a ``torch.utils.data.Dataset`` of dict items (the Trainer builds the loader, seeded
  per epoch so a resumed or distributed run sees the same batches);
* any iterable of dict batches (a user's ``DataLoader``);
* a callable ``sample(step) -> batch`` with ``steps_per_epoch`` (PINN collocation
  points drawn each step, no fixed dataset); validation and :meth:`Trainer.evaluate` take
  one too, called with ``0 .. eval_steps - 1``.

**Budgets and periods.** A run lasts ``max_epochs`` epochs, or ``max_steps`` optimizer
steps when that is given (or the sum of the phases' steps). A *period* ends every epoch,
or every ``eval_every`` steps when that is given, at every phase boundary and at the end
of the budget; at a period end the Trainer validates, steps the scheduler, appends a row
to the history and runs the callbacks (checkpoints, early stopping), so all of these count
periods.

**Phases.** ``phases=[{"optimizer": "adam", "lr": 1e-3, "steps": 5000}, {"optimizer":
"lbfgs", "steps": 500}]`` runs Adam then L-BFGS in one run; each phase has its own
optimizer and scheduler, the checkpoint records the phase, and a resume continues in the
same phase (or builds the next phase's optimizer when the checkpoint sits on the boundary).

Closure optimizers (registered with ``needs_closure=True``, e.g. ``lbfgs``; or any
optimizer object with ``needs_closure = True``) are driven with ``optimizer.step(closure)``;
every closure call checks that the loss is finite and clips the gradient.
Under ``torchrun`` the model is wrapped in DistributedDataParallel, each rank takes
``batch_size / world_size`` samples of every global batch, and rank 0 writes files.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sciml.core.batch import batch_size_of, move_batch
from sciml.core.errors import ConfigError, ShapeError, TrainingDivergedError
from sciml.core.metrics import compute_metrics
from sciml.core.objectives import Supervised
from sciml.core.registry import OPTIMIZERS, SCHEDULERS
from sciml.training import distributed as dist_utils
from sciml.training.callbacks import Callback, CheckpointCallback, MetricsLogger, ProgressBar, callback_keys
from sciml.training.checkpoint import load_checkpoint, model_state_dict, rng_state, save_checkpoint, set_rng_state

__all__ = ["Trainer", "seed_everything"]

_PHASE_KEYS = ("optimizer", "lr", "weight_decay", "kwargs", "steps", "scheduler", "scheduler_kwargs", "closure")


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and python's RNGs (model initialization, dropout, sampling)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


class Trainer:
    """Fit and evaluate a model through an objective.

    Parameters
    ----------
    model : nn.Module
    objective : callable, optional
        ``objective(model, batch) -> {"loss": scalar, ...}``; default
        :class:`~sciml.core.objectives.Supervised` (relative L2). Optional hooks:
        ``begin_step(step)`` (called once per optimizer step, before the closure calls, with
        the 0-based global step), ``state_dict()`` / ``load_state_dict()`` (saved in
        checkpoints), ``predict(model, batch)``.
    optimizer : str, torch Optimizer or callable(params) -> Optimizer
        A registered name (``adamw``, ``adam``, ``sgd``, ``lbfgs``) built with ``lr``,
        ``weight_decay`` (for optimizers registered with ``weight_decay=False`` it is not
        passed) and ``optimizer_kwargs``. Built when training starts, so a model without
        trainable parameters can still be evaluated.
    scheduler : str, callable(optimizer) -> scheduler, or None
        A registered name built with ``scheduler_kwargs`` (``cosine`` defaults ``T_max``
        to the number of periods of its phase), stepped once per period.
    phases : list of dict, optional
        Optimizer phases run in order, each ``{"optimizer", "steps"}`` plus optional
        ``lr``, ``weight_decay``, ``kwargs``, ``scheduler``, ``scheduler_kwargs``,
        ``closure`` (force the closure path); they replace ``optimizer`` ... ``scheduler_kwargs``
        and set ``max_steps`` to their total.
    max_epochs, max_steps : int
        The budget: ``max_steps`` optimizer steps when given, else ``max_epochs`` epochs.
    eval_every : int, optional
        Period length in steps (default: one epoch).
    batch_size : int
        The global batch (split over DDP ranks).
    grad_clip : float or None
        Clip the global gradient norm (on the closure path too).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; under torchrun on CUDA, the local rank's GPU.
    seed : int
        Seeds the model's data order (and, via :meth:`seed_everything`, weights).
    run_dir : path-like or None
        Where checkpoints (``last.pt``, ``best.pt``) and ``metrics.csv/json`` go;
        ``None`` keeps the run in memory (cheap for many small fits).
    checkpoint_every : int
        Period interval of ``last.pt``.
    callbacks : sequence of Callback
        Extra callbacks (early stopping, ...).
    progress : bool or None
        tqdm bar; ``None`` shows it only on a terminal.
    config : dict, optional
        JSON-serializable description stored in checkpoints (model name and arguments,
        data, optimizer): what makes checkpoints self-describing.
    data_sha256 : str, optional
        Content checksum of the training file, stored in checkpoints.
    steps_per_epoch : int, optional
        The epoch length of a callable training sampler (required unless ``max_steps``
        bounds the run).
    eval_steps : int, optional
        Batches drawn from a callable validation / evaluation sampler.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Callable[[nn.Module, dict], dict] | None = None,
        *,
        optimizer: str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer] = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer_kwargs: dict[str, Any] | None = None,
        scheduler: str | Callable[..., Any] | None = None,
        scheduler_kwargs: dict[str, Any] | None = None,
        phases: Sequence[dict[str, Any]] | None = None,
        max_epochs: int = 10,
        max_steps: int | None = None,
        eval_every: int | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        grad_clip: float | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
        run_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 1,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
        metrics: Sequence[str] = ("relative_l2",),
        config: dict[str, Any] | None = None,
        data_sha256: str | None = None,
        steps_per_epoch: int | None = None,
        eval_steps: int | None = None,
        num_workers: int = 0,
    ):
        self.max_epochs = _positive_int(max_epochs, "max_epochs")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.eval_every = None if eval_every is None else _positive_int(eval_every, "eval_every")
        self.steps_per_epoch = None if steps_per_epoch is None else _positive_int(steps_per_epoch, "steps_per_epoch")
        self.eval_steps = None if eval_steps is None else _positive_int(eval_steps, "eval_steps")
        if grad_clip is not None and not grad_clip > 0:
            raise ConfigError(f"grad_clip must be a positive number or None, got {grad_clip!r}")
        self.phases = self._phase_specs(
            phases, optimizer, lr, weight_decay, optimizer_kwargs or {}, scheduler, scheduler_kwargs or {}
        )
        self.phase_ends = list(itertools.accumulate(p["steps"] for p in self.phases)) if phases else [None]
        if phases:
            total = self.phase_ends[-1]
            if max_steps is not None and int(max_steps) != total:
                raise ConfigError(
                    f"max_steps={max_steps} differs from the phases' total of {total} steps; give one of the two"
                )
            max_steps = total
        self.max_steps = None if max_steps is None else _positive_int(max_steps, "max_steps")

        self.distributed = dist_utils.init_distributed(str(device))
        self.rank, self.world_size = dist_utils.rank(), dist_utils.world_size()
        self.device = self._resolve_device(device)
        self.objective = objective if objective is not None else Supervised()
        self.eval_batch_size = int(eval_batch_size or batch_size)
        self.grad_clip = grad_clip
        self.seed = int(seed)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.metrics = tuple(metrics)
        self.config = dict(config or {})
        self.data_sha256 = data_sha256
        self.num_workers = num_workers

        self.model = model.to(self.device)
        self.train_model: nn.Module = self.model
        if self.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

        # built when training reaches a phase (see _enter_phase)
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self.uses_closure = False
        self.phase: int | None = None
        self._pending: dict[str, Any] | None = None  # optimizer/scheduler state of a loaded checkpoint
        self._epoch_length: int | None = None

        # the user's callbacks (early stopping...) run first at a period end, so the checkpoint
        # written after them holds their updated state and knows whether they stopped the run
        self.callbacks: list[Callback] = list(callbacks)
        if self.run_dir is not None:
            self.callbacks += [CheckpointCallback(self.run_dir, every=checkpoint_every), MetricsLogger(self.run_dir)]
        self.callbacks.append(ProgressBar(force=progress))

        self.epoch = 0  # completed data epochs
        self.batch_in_epoch = 0  # batches of the current epoch already trained on
        self.global_step = 0  # optimizer steps taken
        self.history: list[dict[str, float]] = []
        self.should_stop = False
        self.stop_reason = ""
        self.diverged = False
        self._period: dict[str, Any] = self._new_period()

    # ------------------------------------------------------------------ construction
    def _resolve_device(self, device: str | torch.device) -> torch.device:
        dev = torch.device(device)
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise ConfigError("device='cuda' was requested but no CUDA GPU is visible; use device='cpu'")
            if dev.index is None:
                local = int(os.environ.get("LOCAL_RANK", "0")) if self.distributed else torch.cuda.current_device()
                dev = torch.device("cuda", local)
            torch.cuda.set_device(dev)
        return dev

    @staticmethod
    def _phase_specs(phases, optimizer, lr, weight_decay, kwargs, scheduler, scheduler_kwargs) -> list[dict[str, Any]]:
        if phases is None:
            specs = [
                {
                    "optimizer": optimizer, "lr": lr, "weight_decay": weight_decay, "kwargs": dict(kwargs),
                    "steps": None, "scheduler": scheduler, "scheduler_kwargs": dict(scheduler_kwargs), "closure": None,
                }
            ]
        else:
            if isinstance(phases, (str, dict)) or not len(phases):
                raise ConfigError("phases must be a non-empty list of {optimizer, steps, ...} dicts")
            specs = []
            for i, phase in enumerate(phases):
                if not isinstance(phase, dict):
                    raise ConfigError(f"phases[{i}] must be a dict with keys optimizer and steps, got {type(phase).__name__}")
                unknown = sorted(set(phase) - set(_PHASE_KEYS))
                if unknown:
                    raise ConfigError(
                        f"phases[{i}] has unknown key(s) {', '.join(unknown)}; the keys are {', '.join(_PHASE_KEYS)}"
                    )
                if "optimizer" not in phase or "steps" not in phase:
                    raise ConfigError(f"phases[{i}] needs 'optimizer' and 'steps', e.g. {{'optimizer': 'adam', 'steps': 1000}}")
                specs.append(
                    {
                        "optimizer": phase["optimizer"], "lr": phase.get("lr", 1e-3 if phase["optimizer"] != "lbfgs" else 1.0),
                        "weight_decay": phase.get("weight_decay", 0.0), "kwargs": dict(phase.get("kwargs") or {}),
                        "steps": _positive_int(phase["steps"], f"phases[{i}].steps"),
                        "scheduler": phase.get("scheduler"), "scheduler_kwargs": dict(phase.get("scheduler_kwargs") or {}),
                        "closure": phase.get("closure"),
                    }
                )
        for i, spec in enumerate(specs):
            where = f"phases[{i}].optimizer" if phases is not None else "optimizer"
            if isinstance(spec["optimizer"], str):
                if spec["optimizer"] not in OPTIMIZERS:
                    raise ConfigError(f"{where}: {OPTIMIZERS.unknown(spec['optimizer'])}")
            elif not (isinstance(spec["optimizer"], torch.optim.Optimizer) or callable(spec["optimizer"])):
                raise ConfigError(f"{where} must be a registered name, an Optimizer or a callable(params)")
            if isinstance(spec["scheduler"], str) and spec["scheduler"] not in ("none", *SCHEDULERS):
                raise ConfigError(f"{where.replace('optimizer', 'scheduler')}: {SCHEDULERS.unknown(spec['scheduler'])}")
            if not isinstance(spec["lr"], (int, float)) or isinstance(spec["lr"], bool) or not spec["lr"] >= 0:
                raise ConfigError(f"{where.replace('optimizer', 'lr')} must be a number >= 0, got {spec['lr']!r}")
        return specs

    def _build_optimizer(self, spec: dict[str, Any]) -> torch.optim.Optimizer:
        optimizer = spec["optimizer"]
        if isinstance(optimizer, torch.optim.Optimizer):
            return optimizer
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError(
                "the model has no trainable parameters: nothing to train (evaluate it, or fit it as an estimator)"
            )
        if isinstance(optimizer, str):
            factory = OPTIMIZERS.get(optimizer)
            if OPTIMIZERS.tags(optimizer).get("weight_decay", True):
                return factory(params, lr=spec["lr"], weight_decay=spec["weight_decay"], **spec["kwargs"])
            return factory(params, lr=spec["lr"], **spec["kwargs"])
        return optimizer(params)

    def _needs_closure(self, spec: dict[str, Any], optimizer: torch.optim.Optimizer) -> bool:
        if spec["closure"] is not None:
            return bool(spec["closure"])
        if isinstance(spec["optimizer"], str) and OPTIMIZERS.tags(spec["optimizer"]).get("needs_closure", False):
            return True
        return bool(getattr(optimizer, "needs_closure", isinstance(optimizer, torch.optim.LBFGS)))

    def _build_scheduler(self, spec: dict[str, Any], index: int):
        scheduler, kwargs = spec["scheduler"], dict(spec["scheduler_kwargs"])
        if scheduler is None or scheduler == "none":
            return None
        if isinstance(scheduler, str):
            if scheduler == "cosine" and "T_max" not in kwargs:
                periods = self._periods_in_phase(index)
                if periods is None:
                    raise ConfigError(
                        "the cosine schedule cannot count the periods of an epoch of unknown length; "
                        "give scheduler_kwargs T_max, or eval_every / max_steps"
                    )
                kwargs["T_max"] = periods
            return SCHEDULERS.get(scheduler)(self.optimizer, **kwargs)
        return scheduler(self.optimizer)

    # ------------------------------------------------------------------ budget and periods
    def _phase_bounds(self, index: int) -> tuple[int, int | None]:
        start = 0 if index == 0 else self.phase_ends[index - 1]
        end = self.phase_ends[index]
        if end is None and self.max_steps is not None:
            end = self.max_steps
        if end is None and self._epoch_length is not None:
            end = self.max_epochs * self._epoch_length
        return start, end

    def _periods_in_phase(self, index: int) -> int | None:
        """How many period ends fall in the phase (the default ``T_max`` of a cosine schedule)."""
        if self.eval_every is None and self.max_steps is None:
            return self.max_epochs  # one period per epoch, whatever its length
        start, end = self._phase_bounds(index)
        k = self.eval_every or self._epoch_length
        if end is None or k is None:
            return None
        return max(1, end // k - start // k + (0 if end % k == 0 else 1))

    def _phase_of(self, step: int) -> int:
        for i, end in enumerate(self.phase_ends):
            if end is None or step < end:
                return i
        return len(self.phase_ends) - 1

    def _budget_left(self) -> bool:
        if self.max_steps is not None:
            return self.global_step < self.max_steps
        return self.epoch < self.max_epochs

    @property
    def total_periods(self) -> int | None:
        """The number of periods of the whole run, when it can be known in advance."""
        counts = [self._periods_in_phase(i) for i in range(len(self.phases))]
        if self.eval_every is None and self.max_steps is None:
            return self.max_epochs
        return None if any(c is None for c in counts) else sum(counts)

    def _enter_phase(self) -> None:
        """Build the optimizer and scheduler of the phase the global step is in (once per phase)."""
        index = self._phase_of(self.global_step)
        if self.phase == index and self.optimizer is not None:
            return
        spec = self.phases[index]
        self.optimizer = self._build_optimizer(spec)
        self.uses_closure = self._needs_closure(spec, self.optimizer)
        self.phase = index
        self.scheduler = self._build_scheduler(spec, index)
        pending, self._pending = self._pending, None
        if pending is not None and pending["phase"] == index:
            self._restore_optimizer(pending)

    def _restore_optimizer(self, pending: dict[str, Any]) -> None:
        assert self.optimizer is not None
        saved, ours = pending.get("optimizer_class"), type(self.optimizer).__name__
        where = f"checkpoint {pending['path']}"
        if saved is not None and saved != ours:
            raise ConfigError(
                f"{where} holds the state of a {saved} optimizer in phase {pending['phase']}, but this run's phase "
                f"{pending['phase']} uses {ours}; resume with the checkpoint's optimizer settings (its config.json) "
                "or start a new run directory"
            )
        try:
            self.optimizer.load_state_dict(pending["optimizer"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise ConfigError(
                f"{where} has optimizer state that does not fit this run's {ours} ({type(exc).__name__}: {exc}); "
                "resume with the checkpoint's optimizer settings or start a new run directory"
            ) from None
        if self.scheduler is not None and pending.get("scheduler") is not None:
            self.scheduler.load_state_dict(pending["scheduler"])
        self._continue_schedule(pending)

    def _continue_schedule(self, pending: dict[str, Any]) -> None:
        """After a restore: the configured learning rate if asked, and a cosine stretched to the current budget."""
        assert self.optimizer is not None
        spec = self.phases[pending["phase"]]
        base = [g.get("initial_lr", g["lr"]) for g in self.optimizer.param_groups]
        if pending.get("lr_from_config") and isinstance(spec["optimizer"], str):
            new = float(spec["lr"])
            for g, b in zip(self.optimizer.param_groups, base):
                g["lr"] = g["lr"] * new / b if b else new  # the schedule's position, at the new scale
                if "initial_lr" in g:
                    g["initial_lr"] = new
            if self.scheduler is not None and hasattr(self.scheduler, "base_lrs"):
                self.scheduler.base_lrs = [new for _ in self.scheduler.base_lrs]
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR
        if isinstance(self.scheduler, cosine) and "T_max" not in spec["scheduler_kwargs"]:
            periods = self._periods_in_phase(pending["phase"])
            if periods is not None and periods != self.scheduler.T_max:
                # a longer (or shorter) budget: the closed-form cosine over the new span, from where the run is
                sched = self.scheduler
                sched.T_max = periods
                t = min(sched.last_epoch, periods)
                for g, b in zip(self.optimizer.param_groups, sched.base_lrs):
                    g["lr"] = sched.eta_min + (b - sched.eta_min) * (1 + math.cos(math.pi * t / periods)) / 2

    # ------------------------------------------------------------------ data
    def _epoch_length_of(self, data: Any) -> int | None:
        if isinstance(data, Dataset):
            per_rank = max(1, self.batch_size // self.world_size)
            return math.ceil(len(dist_utils.EpochSampler(len(data), world_size=self.world_size)) / per_rank)
        if callable(data) and not isinstance(data, Iterable):
            return self.steps_per_epoch
        try:
            return len(data)
        except TypeError:
            return None

    def _loader(self, data: Any, *, train: bool, skip: int = 0) -> Iterable[dict[str, torch.Tensor]]:
        if isinstance(data, Dataset):
            if train and self.batch_size % self.world_size:  # only a Dataset is sharded over the ranks
                raise ConfigError(
                    f"batch_size={self.batch_size} is not divisible by the {self.world_size} processes; "
                    f"use a multiple of {self.world_size}"
                )
            per_rank = (self.batch_size if train else self.eval_batch_size) // (self.world_size if train else 1)
            sampler = dist_utils.EpochSampler(
                len(data), seed=self.seed, shuffle=train,
                rank=self.rank if train else 0, world_size=self.world_size if train else 1,
            )
            sampler.set_epoch(self.epoch, start=skip * max(1, per_rank))
            return DataLoader(
                data, batch_size=max(1, per_rank), sampler=sampler, num_workers=self.num_workers,
                pin_memory=self.device.type == "cuda", persistent_workers=False,
                # A fresh epoch's iterator draws its base seed from the global RNG (as it always has);
                # an epoch resumed mid-way must not draw again: the uninterrupted run drew before the checkpoint.
                generator=torch.Generator().manual_seed(self.seed) if skip else None,
            )
        if callable(data) and not isinstance(data, Iterable):
            if train:
                length = self.steps_per_epoch
                if length is None:
                    if self.max_steps is None:
                        raise ConfigError("a callable training sampler needs steps_per_epoch=N (or max_steps)")
                    length = self.max_steps
                start = self.global_step
                return (data(start + i) for i in range(length - skip))
            steps = self.eval_steps or self.steps_per_epoch
            if steps is None:
                raise ConfigError("evaluating a callable sampler needs eval_steps=N (the number of batches to draw)")
            return (data(i) for i in range(steps))
        if isinstance(data, Iterable):
            return itertools.islice(data, skip, None) if skip else data
        raise ConfigError(
            f"cannot train on a {type(data).__name__}; pass a Dataset, an iterable of dict batches "
            "or a callable sampler with steps_per_epoch"
        )

    # ------------------------------------------------------------------ training
    def _backward(self, out: dict[str, torch.Tensor]) -> None:
        loss = out["loss"]
        if not torch.isfinite(loss):
            self._diverged(loss, out)
        loss.backward()
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)

    def _step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        model, objective, opt = self.train_model, self.objective, self.optimizer
        assert opt is not None
        begin = getattr(objective, "begin_step", None)
        if begin is not None:
            begin(self.global_step)
        if self.uses_closure:
            holder: dict[str, dict[str, torch.Tensor]] = {}

            def closure():
                opt.zero_grad(set_to_none=True)
                out = objective(model, batch)
                self._backward(out)
                holder.setdefault("out", out)  # the loss at the step's starting point, as on the plain path
                return out["loss"]

            opt.step(closure)
            return holder["out"]
        opt.zero_grad(set_to_none=True)
        out = objective(model, batch)
        self._backward(out)
        opt.step()
        return out

    def _good_checkpoint(self) -> str:
        """Which checkpoint to resume from after a divergence: best.pt (the monitored best), else last.pt."""
        if self.run_dir is None:
            return ""
        for name, how in (("best.pt", "best"), ("last.pt", "last")):
            if (self.run_dir / name).exists():
                return f"; the good checkpoint is {self.run_dir / name}: resume from it (sciml train CONFIG --resume {how})"
        return ""

    def _diverged(self, loss: torch.Tensor, out: dict[str, Any] | None = None, what: str = "train loss") -> None:
        self.diverged = True
        terms = []
        for key, value in (out or {}).items():
            if key in ("loss", "pred") or not torch.is_tensor(value) or value.numel() != 1:
                continue
            if not bool(torch.isfinite(value.detach())):
                terms.append(key)
        term = f" (non-finite term: {', '.join(terms)})" if terms else ""
        raise TrainingDivergedError(
            f"{what} became {float(loss.detach())} at epoch {self.epoch + 1}, step {self.global_step + 1}{term}: lower the "
            f"learning rate, set grad_clip, or normalize the data{self._good_checkpoint()}"
        )

    @staticmethod
    def _new_period() -> dict[str, Any]:
        return {"sums": {}, "count": 0, "steps": 0, "start": time.perf_counter()}

    def _accumulate(self, batch: dict[str, Any], out: dict[str, Any]) -> None:
        period = self._period
        size = batch_size_of(batch)
        for key, value in out.items():
            if key == "pred":
                continue
            if torch.is_tensor(value):
                if value.numel() != 1:
                    continue
                v = value.detach().reshape(()).to(torch.float64)
            elif isinstance(value, (int, float)):
                v = torch.tensor(float(value), dtype=torch.float64, device=self.device)
            else:
                continue
            period["sums"][key] = period["sums"][key] + v * size if key in period["sums"] else v * size
        period["count"] += size
        period["steps"] += 1

    def fit(
        self, train: Any, val: Any = None, *, resume: bool | str | os.PathLike[str] = False, lr_from_config: bool = False
    ) -> list[dict[str, float]]:
        """Train for the budget (from the checkpoint's step when resuming).

        Parameters
        ----------
        train : Dataset, iterable of dict batches, or callable sampler
        val : Dataset, iterable or callable sampler, optional
            Evaluated at every period end; logged as ``val_loss`` and ``val_<metric>``.
        resume : bool or path
            ``True`` resumes from ``run_dir/last.pt`` when it exists; a path resumes from
            that checkpoint.
        lr_from_config : bool
            On resume, train with this Trainer's learning rate instead of the checkpoint's.

        Returns
        -------
        list of dict
            One row per period: ``epoch``, ``step``, ``train_loss`` (and other objective
            terms), ``val_*``, ``lr``, ``seconds`` (and ``phase`` with phases).
        """
        self._epoch_length = self._epoch_length_of(train)
        if resume:
            path = Path(resume) if not isinstance(resume, bool) else (self.run_dir / "last.pt" if self.run_dir else None)
            if path is not None and path.exists():
                self.load(path, lr_from_config=lr_from_config)
        self._enter_phase()  # builds the optimizer (and checks a resumed state) before the first step
        for cb in self.callbacks:
            cb.on_fit_start(self)
        batch_callbacks = [cb for cb in self.callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
        self._period = self._new_period()
        try:
            while self._budget_left() and not self.should_stop:
                for cb in self.callbacks:
                    cb.on_epoch_start(self, self.epoch)
                self.train_model.train()
                stopped = False
                for batch in self._loader(train, train=True, skip=self.batch_in_epoch):
                    self._enter_phase()
                    batch = move_batch(batch, self.device)
                    out = self._step(batch)
                    self._accumulate(batch, out)
                    self.global_step += 1
                    self.batch_in_epoch += 1
                    for cb in batch_callbacks:
                        cb.on_batch_end(self, self.global_step, out)
                    at_phase_end = self.global_step in self.phase_ends
                    at_eval = self.eval_every is not None and self.global_step % self.eval_every == 0
                    out_of_steps = self.max_steps is not None and self.global_step >= self.max_steps
                    if at_phase_end or at_eval or out_of_steps:
                        self._end_period(val)
                    if out_of_steps or self.should_stop:
                        stopped = True
                        break
                if stopped:
                    break
                if self.batch_in_epoch == 0:
                    raise ConfigError("the training data yielded no batches; check the dataset split and batch size")
                self.epoch += 1
                self.batch_in_epoch = 0
                if self._period["steps"] and (self.eval_every is None or not self._budget_left()):
                    self._end_period(val)
        finally:
            for cb in self.callbacks:
                cb.on_fit_end(self)
        return self.history

    def _end_period(self, val: Any) -> None:
        period = self._period
        in_progress = 1 if self.batch_in_epoch else 0  # a period that ends mid-epoch is in epoch `epoch + 1`
        logs: dict[str, float] = {"epoch": self.epoch + in_progress, "step": self.global_step}
        if len(self.phases) > 1:
            logs["phase"] = self.phase
        sums = {k: dist_utils.all_reduce_sum(v) for k, v in period["sums"].items()}
        count = float(dist_utils.all_reduce_sum(torch.tensor(float(period["count"]), dtype=torch.float64, device=self.device)))
        for key, total in sums.items():
            logs["train_loss" if key == "loss" else f"train_{key}"] = float(total) / count
        if not math.isfinite(logs["train_loss"]):
            self._diverged(torch.tensor(logs["train_loss"]))
        if val is not None:
            logs.update(self.evaluate(val, prefix="val_"))
            self.train_model.train()
            bad = [k for k, v in logs.items() if k.startswith("val_") and not math.isfinite(v)]
            if bad:
                self.diverged = True
                raise TrainingDivergedError(
                    f"{', '.join(bad)} became {logs[bad[0]]} at epoch {self.epoch + (1 if self.batch_in_epoch else 0)}, "
                    f"step {self.global_step}: the model's output on the validation data is not finite (check the "
                    f"validation split with 'sciml data info FILE'), or training diverged{self._good_checkpoint()}"
                )
        assert self.optimizer is not None
        logs["lr"] = self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(logs.get("val_loss", logs["train_loss"]))
            else:
                self.scheduler.step()
        logs["seconds"] = time.perf_counter() - period["start"]
        self.history.append(logs)
        self._rng_at_period_end = rng_state()
        self._period = self._new_period()
        index = len(self.history) - 1
        for cb in self.callbacks:
            cb.on_epoch_end(self, index, logs)

    @property
    def finished(self) -> bool:
        """True when the budget is spent or a callback asked to stop."""
        return self.should_stop or not self._budget_left()

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _predict_batch(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        predict = getattr(self.objective, "predict", None)
        return predict(self.model, batch) if predict is not None else self.model(batch["x"])

    def evaluate(
        self, data: Any, metrics: Sequence[str] | None = None, prefix: str = "", *, steps: int | None = None
    ) -> dict[str, float]:
        """Objective loss and metrics averaged over every sample of ``data``.

        ``data`` is a Dataset, an iterable of dict batches, or a callable sampler
        (called with ``0 .. steps - 1``; ``steps`` defaults to ``eval_steps``). Returns
        ``{prefix+"loss": ..., prefix+metric: ...}``, plus the objective's other scalar
        outputs (NFE, accuracy, task loss, ...) as ``prefix+key``. Every quantity, the loss
        included, is averaged over samples (each batch weighted by its size), so a loss and
        a metric that compute the same quantity agree; a metric of the same name wins.
        """
        metrics = self.metrics if metrics is None else tuple(metrics)
        self.model.eval()
        needs_grad = getattr(self.objective, "needs_grad_in_eval", False)
        totals: dict[str, torch.Tensor] = {}
        count = 0
        sums: dict[str, torch.Tensor] = {}
        n_samples = 0
        if callable(data) and not isinstance(data, (Dataset, Iterable)) and steps is not None:
            loader: Iterable[dict[str, Any]] = (data(i) for i in range(_positive_int(steps, "steps")))
        elif isinstance(data, Dataset) or (callable(data) and not isinstance(data, Iterable)):
            loader = self._loader(data, train=False)
        else:
            loader = data
        for batch in loader:
            batch = move_batch(batch, self.device)
            with torch.set_grad_enabled(needs_grad):
                out = self.objective(self.model, batch)
            size = batch_size_of(batch)
            for key, value in out.items():
                scalar = value.numel() == 1 if torch.is_tensor(value) else isinstance(value, (int, float))
                if key != "pred" and scalar:
                    # summed on the device: no host sync per batch
                    value = torch.as_tensor(value, device=self.device).detach().reshape(()).to(torch.float64)
                    sums[key] = sums.get(key, 0.0) + value * size
            n_samples += size
            if metrics and "y" in batch:
                # objectives may return their prediction under "pred" to spare a second forward
                pred = out["pred"] if "pred" in out else self._predict_batch(batch)
                for k, v in compute_metrics(pred, batch["y"], metrics).items():
                    totals[k] = totals.get(k, 0) + v.sum().to(torch.float64)
                count += batch["y"].shape[0]
        if n_samples == 0:
            raise ConfigError("the evaluation data yielded no batches; check the split")
        result = {f"{prefix}{k}": float(v) / n_samples for k, v in sums.items()}
        for k, v in totals.items():
            result[f"{prefix}{k}"] = float(v / count)
        return result

    @torch.no_grad()
    def predict(self, data: Any) -> torch.Tensor:
        """Concatenated predictions over ``data`` (a Dataset or iterable of batches), on CPU."""
        self.model.eval()
        loader = self._loader(data, train=False) if isinstance(data, Dataset) else data
        return torch.cat([self._predict_batch(move_batch(b, self.device)).cpu() for b in loader])

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a self-describing checkpoint of the current state (at a period end)."""
        objective_state = getattr(self.objective, "state_dict", None)
        payload = {
            "model": model_state_dict(self.model),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "objective": objective_state() if objective_state is not None else None,
            "callbacks": {key: cb.state_dict() for key, cb in callback_keys(self.callbacks)},
            "rng": getattr(self, "_rng_at_period_end", None) or rng_state(),
        }
        meta = {
            "config": self.config,
            "seed": self.seed,
            "data_sha256": self.data_sha256,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "global_step": self.global_step,
            "phase": self.phase,
            "optimizer_class": type(self.optimizer).__name__ if self.optimizer is not None else None,
            "world_size": self.world_size,
            "history": self.history,
        }
        return save_checkpoint(path, payload, meta)

    def load(self, path: str | os.PathLike[str], *, lr_from_config: bool = False) -> dict[str, Any]:
        """Restore model, objective, callbacks, RNG and counters from a checkpoint.

        The optimizer and scheduler states are applied when training enters the
        checkpoint's phase (they belong to that phase's optimizer); a checkpoint written at a
        phase boundary continues with a fresh optimizer of the next phase. With
        ``lr_from_config`` the learning rate given to this Trainer replaces the checkpoint's
        (the schedule keeps its position); without, the resume is exact. A cosine schedule
        without an explicit ``T_max`` is stretched to this Trainer's budget (more epochs
        continue the decay instead of restarting it).
        """
        blob = load_checkpoint(path, map_location=self.device)
        meta = blob["meta"]
        if self.data_sha256 and meta.get("data_sha256") and meta["data_sha256"] != self.data_sha256:
            raise ConfigError(
                f"checkpoint {path} was trained on data {meta['data_sha256'][:12]}..., this run uses "
                f"{self.data_sha256[:12]}...; resume with the same data file or start a new run directory"
            )
        try:
            self.model.load_state_dict(blob["model"])
        except RuntimeError as exc:
            raise ShapeError(
                f"checkpoint {path} does not fit this model ({str(exc).splitlines()[0]}); "
                "build the model with the checkpoint's config"
            ) from None
        objective_state = blob.get("objective")
        if objective_state is not None and hasattr(self.objective, "load_state_dict"):
            self.objective.load_state_dict(objective_state)
        states = blob.get("callbacks") or {}
        for key, cb in callback_keys(self.callbacks):
            if key in states:
                cb.load_state_dict(states[key])
        if blob.get("rng") is not None:
            set_rng_state(blob["rng"])
        self.epoch = int(meta["epoch"])
        self.batch_in_epoch = int(meta.get("batch_in_epoch", 0))
        self.global_step = int(meta["global_step"])
        self.history = list(meta.get("history", []))
        if blob.get("optimizer") is not None:
            self._pending = {
                "path": str(path),
                "phase": int(meta.get("phase") or 0),
                "optimizer_class": meta.get("optimizer_class"),
                "optimizer": blob["optimizer"],
                "scheduler": blob.get("scheduler"),
                "lr_from_config": bool(lr_from_config),
            }
            self.optimizer, self.phase = None, None  # rebuilt (and the state applied) by _enter_phase
        return meta
