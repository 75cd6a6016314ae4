"""The Trainer: fit / evaluate any ``nn.Module`` on dict batches through an objective.

The Trainer knows nothing about PDEs. Each step it calls
``objective(model, batch) -> dict`` and optimizes ``loss``; the other keys (regularizer
terms, NFE, ...) are averaged per epoch and logged. Training data may be

* a ``torch.utils.data.Dataset`` of dict items (the Trainer builds the loader, seeded
  per epoch so a resumed or distributed run sees the same batches);
* any iterable of dict batches (a user's ``DataLoader``);
* a callable ``sample(step) -> batch`` with ``steps_per_epoch`` (PINN collocation
  points drawn each step, no fixed dataset).

Closure optimizers (L-BFGS) are driven with ``optimizer.step(closure)``.
Under ``torchrun`` the model is wrapped in DistributedDataParallel, each rank takes
``batch_size / world_size`` samples of every global batch, and rank 0 writes files.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sciml.core.batch import move_batch
from sciml.core.errors import ConfigError, ShapeError, TrainingDivergedError
from sciml.core.metrics import compute_metrics
from sciml.core.objectives import Supervised
from sciml.core.registry import OPTIMIZERS, SCHEDULERS
from sciml.training import distributed as dist_utils
from sciml.training.callbacks import Callback, CheckpointCallback, MetricsLogger, ProgressBar
from sciml.training.checkpoint import load_checkpoint, model_state_dict, rng_state, save_checkpoint, set_rng_state

__all__ = ["Trainer", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and python's RNGs (model initialization, dropout, sampling)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Fit and evaluate a model through an objective.

    Parameters
    ----------
    model : nn.Module
    objective : callable, optional
        ``objective(model, batch) -> {"loss": scalar, ...}``; default
        :class:`~sciml.core.objectives.Supervised` (relative L2).
    optimizer : str, torch Optimizer or callable(params) -> Optimizer
        A registered name (``adamw``, ``adam``, ``sgd``, ``lbfgs``) built with ``lr``,
        ``weight_decay`` and ``optimizer_kwargs``.
    scheduler : str, callable(optimizer) -> scheduler, or None
        A registered name built with ``scheduler_kwargs`` (``cosine`` defaults
        ``T_max`` to ``max_epochs``), stepped once per epoch.
    max_epochs, batch_size : int
        ``batch_size`` is the global batch (split over DDP ranks).
    grad_clip : float or None
        Clip the global gradient norm.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; under torchrun on CUDA, the local rank's GPU.
    seed : int
        Seeds the model's data order (and, via :meth:`seed_everything`, weights).
    run_dir : path-like or None
        Where checkpoints (``last.pt``, ``best.pt``) and ``metrics.csv/json`` go;
        ``None`` keeps the run in memory (cheap for many small fits).
    checkpoint_every : int
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
        Required when the training data is a callable sampler.
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
        max_epochs: int = 10,
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
        num_workers: int = 0,
    ):
        if max_epochs < 1:
            raise ConfigError(f"max_epochs must be >= 1, got {max_epochs}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.distributed = dist_utils.init_distributed(str(device))
        self.rank, self.world_size = dist_utils.rank(), dist_utils.world_size()
        self.device = self._resolve_device(device)
        self.objective = objective if objective is not None else Supervised()
        self.max_epochs = int(max_epochs)
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or batch_size)
        self.grad_clip = grad_clip
        self.seed = int(seed)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.metrics = tuple(metrics)
        self.config = dict(config or {})
        self.data_sha256 = data_sha256
        self.steps_per_epoch = steps_per_epoch
        self.num_workers = num_workers

        self.model = model.to(self.device)
        self.train_model: nn.Module = self.model
        if self.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

        self.optimizer = self._build_optimizer(optimizer, lr, weight_decay, optimizer_kwargs or {})
        self.uses_closure = isinstance(self.optimizer, torch.optim.LBFGS)
        self.scheduler = self._build_scheduler(scheduler, scheduler_kwargs or {})

        self.callbacks: list[Callback] = []
        if self.run_dir is not None:
            self.callbacks += [CheckpointCallback(self.run_dir, every=checkpoint_every), MetricsLogger(self.run_dir)]
        self.callbacks += list(callbacks)
        self.callbacks.append(ProgressBar(force=progress))

        self.epoch = 0
        self.global_step = 0
        self.history: list[dict[str, float]] = []
        self.should_stop = False
        self.stop_reason = ""

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

    def _build_optimizer(self, optimizer, lr, weight_decay, kwargs) -> torch.optim.Optimizer:
        if isinstance(optimizer, torch.optim.Optimizer):
            return optimizer
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("the model has no trainable parameters; check requires_grad")
        if isinstance(optimizer, str):
            cls = OPTIMIZERS.get(optimizer)
            if optimizer == "lbfgs":
                return cls(params, lr=lr, **kwargs)
            return cls(params, lr=lr, weight_decay=weight_decay, **kwargs)
        return optimizer(params)

    def _build_scheduler(self, scheduler, kwargs):
        if scheduler is None or scheduler == "none":
            return None
        if isinstance(scheduler, str):
            if scheduler == "cosine":
                kwargs = {"T_max": self.max_epochs, **kwargs}
            return SCHEDULERS.get(scheduler)(self.optimizer, **kwargs)
        return scheduler(self.optimizer)

    # ------------------------------------------------------------------ data
    def _loader(self, data: Any, *, train: bool) -> Iterable[dict[str, torch.Tensor]]:
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
            sampler.set_epoch(self.epoch)
            return DataLoader(
                data, batch_size=max(1, per_rank), sampler=sampler, num_workers=self.num_workers,
                pin_memory=self.device.type == "cuda", persistent_workers=False,
            )
        if callable(data) and not isinstance(data, Iterable):
            if not self.steps_per_epoch:
                raise ConfigError("a callable training sampler needs steps_per_epoch=N")
            start = self.global_step
            return (data(start + i) for i in range(self.steps_per_epoch))
        if isinstance(data, Iterable):
            return data
        raise ConfigError(
            f"cannot train on a {type(data).__name__}; pass a Dataset, an iterable of dict batches "
            "or a callable sampler with steps_per_epoch"
        )

    # ------------------------------------------------------------------ training
    def _step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        model, objective, opt = self.train_model, self.objective, self.optimizer
        if self.uses_closure:
            holder: dict[str, dict[str, torch.Tensor]] = {}

            def closure():
                opt.zero_grad(set_to_none=True)
                out = objective(model, batch)
                out["loss"].backward()
                holder["out"] = out
                return out["loss"]

            opt.step(closure)
            return holder["out"]
        opt.zero_grad(set_to_none=True)
        out = objective(model, batch)
        loss = out["loss"]
        if not torch.isfinite(loss):
            self._diverged(loss)
        loss.backward()
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        opt.step()
        return out

    def _diverged(self, loss: torch.Tensor) -> None:
        kept = ""
        if self.run_dir is not None and (self.run_dir / "last.pt").exists():
            kept = f"; the last good checkpoint is kept at {self.run_dir / 'last.pt'}"
        raise TrainingDivergedError(
            f"loss became {loss.item()} at epoch {self.epoch}, step {self.global_step}: lower the learning rate, "
            f"set grad_clip, or normalize the data{kept}"
        )

    def fit(self, train: Any, val: Any = None, *, resume: bool | str | os.PathLike[str] = False) -> list[dict[str, float]]:
        """Train for ``max_epochs`` (from the checkpoint's epoch when resuming).

        Parameters
        ----------
        train : Dataset, iterable of dict batches, or callable sampler
        val : Dataset or iterable, optional
            Evaluated each epoch; logged as ``val_loss`` and ``val_<metric>``.
        resume : bool or path
            ``True`` resumes from ``run_dir/last.pt`` when it exists; a path resumes from
            that checkpoint.

        Returns
        -------
        list of dict
            One row per epoch: ``epoch``, ``train_loss`` (and other objective terms),
            ``val_*``, ``lr``, ``seconds``.
        """
        if resume:
            path = Path(resume) if not isinstance(resume, bool) else (self.run_dir / "last.pt" if self.run_dir else None)
            if path is not None and path.exists():
                self.load(path)
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            while self.epoch < self.max_epochs and not self.should_stop:
                logs = self._train_epoch(train)
                if val is not None:
                    logs.update(self.evaluate(val, prefix="val_"))
                logs["lr"] = self.optimizer.param_groups[0]["lr"]
                if self.scheduler is not None:
                    if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                        self.scheduler.step(logs.get("val_loss", logs["train_loss"]))
                    else:
                        self.scheduler.step()
                self.history.append(logs)
                epoch = self.epoch
                self.epoch += 1
                self._rng_end_of_epoch = rng_state()
                for cb in self.callbacks:
                    cb.on_epoch_end(self, epoch, logs)
        finally:
            for cb in self.callbacks:
                cb.on_fit_end(self)
        return self.history

    def _train_epoch(self, train: Any) -> dict[str, float]:
        for cb in self.callbacks:
            cb.on_epoch_start(self, self.epoch)
        self.train_model.train()
        start = time.perf_counter()
        sums: dict[str, torch.Tensor] = {}
        steps = 0
        batch_callbacks = [cb for cb in self.callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
        for batch in self._loader(train, train=True):
            batch = move_batch(batch, self.device)
            out = self._step(batch)
            for key, value in out.items():
                if key == "pred":
                    continue
                v = value.detach() if torch.is_tensor(value) else torch.tensor(float(value))
                sums[key] = sums[key] + v if key in sums else v.clone()
            steps += 1
            self.global_step += 1
            for cb in batch_callbacks:
                cb.on_batch_end(self, self.global_step, out)
        if steps == 0:
            raise ConfigError("the training data yielded no batches; check the dataset split and batch size")
        logs: dict[str, float] = {"epoch": self.epoch + 1}
        for key, total in sums.items():
            mean = dist_utils.all_reduce_mean((total / steps).to(torch.float64))
            logs["train_loss" if key == "loss" else f"train_{key}"] = float(mean)
        if not math.isfinite(logs["train_loss"]):
            self._diverged(torch.tensor(logs["train_loss"]))
        logs["seconds"] = time.perf_counter() - start
        return logs

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _predict_batch(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        predict = getattr(self.objective, "predict", None)
        return predict(self.model, batch) if predict is not None else self.model(batch["x"])

    def evaluate(self, data: Any, metrics: Sequence[str] | None = None, prefix: str = "") -> dict[str, float]:
        """Objective loss and metrics averaged over every sample of ``data``.

        Returns ``{prefix+"loss": ..., prefix+metric: ...}``, plus the objective's other
        scalar outputs (NFE, accuracy, task loss, ...) as ``prefix+key``, averaged over
        samples (each batch weighted by its size); a metric of the same name wins.
        """
        metrics = self.metrics if metrics is None else tuple(metrics)
        self.model.eval()
        needs_grad = getattr(self.objective, "needs_grad_in_eval", False)
        totals: dict[str, torch.Tensor] = {}
        count = 0
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        n_batches = 0
        extras: dict[str, Any] = {}
        n_extra = 0
        loader = self._loader(data, train=False) if isinstance(data, Dataset) else data
        for batch in loader:
            batch = move_batch(batch, self.device)
            with torch.set_grad_enabled(needs_grad):
                out = self.objective(self.model, batch)
            loss_sum += out["loss"].detach().to(torch.float64)
            n_batches += 1
            size = int(batch["x"].shape[0]) if torch.is_tensor(batch.get("x")) and batch["x"].ndim else 1
            for key, value in out.items():
                scalar = value.numel() == 1 if torch.is_tensor(value) else isinstance(value, (int, float))
                if key not in ("loss", "pred") and scalar:
                    # summed on the device: no host sync per batch
                    value = torch.as_tensor(value, device=self.device).detach().reshape(()).to(torch.float64)
                    extras[key] = extras.get(key, 0.0) + value * size
            n_extra += size
            if metrics and "y" in batch:
                # objectives may return their prediction under "pred" to spare a second forward
                pred = out["pred"] if "pred" in out else self._predict_batch(batch)
                for k, v in compute_metrics(pred, batch["y"], metrics).items():
                    totals[k] = totals.get(k, 0) + v.sum().to(torch.float64)
                count += batch["y"].shape[0]
        if n_batches == 0:
            raise ConfigError("the evaluation data yielded no batches; check the split")
        result = {f"{prefix}loss": float(loss_sum / n_batches)}
        result.update({f"{prefix}{k}": float(v) / n_extra for k, v in extras.items()})
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
        """Write a self-describing checkpoint of the current state."""
        payload = {
            "model": model_state_dict(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "callbacks": {type(cb).__name__: cb.state_dict() for cb in self.callbacks},
            "rng": getattr(self, "_rng_end_of_epoch", None) or rng_state(),
        }
        meta = {
            "config": self.config,
            "seed": self.seed,
            "data_sha256": self.data_sha256,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "world_size": self.world_size,
            "history": self.history,
        }
        return save_checkpoint(path, payload, meta)

    def load(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Restore model, optimizer, scheduler, callbacks, RNG and counters from a checkpoint."""
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
        self.optimizer.load_state_dict(blob["optimizer"])
        if self.scheduler is not None and blob.get("scheduler") is not None:
            self.scheduler.load_state_dict(blob["scheduler"])
        states = blob.get("callbacks") or {}
        for cb in self.callbacks:
            if type(cb).__name__ in states:
                cb.load_state_dict(states[type(cb).__name__])
        if blob.get("rng") is not None:
            set_rng_state(blob["rng"])
        self.epoch = int(meta["epoch"])
        self.global_step = int(meta["global_step"])
        self.history = list(meta.get("history", []))
        return meta
