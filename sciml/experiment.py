"""From a config to a trained, evaluated, plotted run: what ``sciml train`` and ``sciml eval`` do.

The config names a task (:data:`~sciml.core.registry.TASKS`); the task builds the data,
the model or estimator, the objective, the metrics and the plots. This module only
drives them: it has no branch on a family or a dataset class.

A run directory holds ``config.json`` (the resolved config), ``test_metrics.json``, PNGs and
either ``last.pt`` / ``best.pt`` (self-describing checkpoints) with ``metrics.csv`` /
``metrics.json`` (history) for a model task, or ``estimator.json`` / ``arrays.npz`` for an
estimator task.

Under ``torchrun``, ``train.parallel`` picks how the ranks share the work: ``data`` (default)
shards every global batch over them; other modes are the task's (the operator task's
``patches`` spreads an ``mgtfno``'s patches over the ranks and gives every rank the whole
global batch, :class:`~sciml.training.distributed.ReplicatedBatches`). Evaluation gives every
rank every sample in the same order.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from sciml.core.config import ExperimentConfig, config_from_dict, resolve_task
from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.core.io import write_json
from sciml.core.registry import OPTIMIZERS, TASKS
from sciml.core.task import AbstractTask
from sciml.training.callbacks import EarlyStopping
from sciml.training.checkpoint import load_checkpoint
from sciml.training.distributed import ReplicatedBatches, broadcast_module, is_main_process
from sciml.training.trainer import Trainer, seed_everything

__all__ = ["build_task", "build_run", "train_experiment", "evaluate_run", "PARALLEL_MODES"]

PARALLEL_MODES = ("data", "patches")
_ESTIMATOR_FILE = "estimator.json"


def build_task(cfg: ExperimentConfig) -> AbstractTask:
    """The config's task (resolved from ``data.kind`` when ``task`` is empty), built with the config."""
    name = resolve_task(cfg.task, cfg.data.kind)
    cfg.task = name
    cls = TASKS.get(name)
    section = getattr(cls, "section", None)
    if section is not None and name not in cfg.sections:
        cfg.sections[name] = section()
    return cls(cfg, name)


def _check_parallel_mode(cfg: ExperimentConfig) -> None:
    if cfg.train.parallel not in PARALLEL_MODES:
        raise ConfigError(
            f"unknown train.parallel '{cfg.train.parallel}'; use data (shard the batches over the torchrun ranks) "
            "or patches (spread an mgtfno's patches over them)"
        )


def _optimizer_args(spec: Any) -> dict[str, Any]:
    """``{name, kwargs}`` -> the Trainer's optimizer arguments (``lr`` and ``weight_decay`` split out)."""
    kwargs = dict(spec.kwargs)
    lr = kwargs.pop("lr", 1e-3)
    weight_decay = kwargs.pop("weight_decay", 0.0)
    if not OPTIMIZERS.tags(spec.name).get("weight_decay", True):
        weight_decay = 0.0  # L-BFGS takes none; the config's default is not an error
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        raise ConfigError(f"optimizer.kwargs.lr must be a positive number, got {lr!r}; e.g. optimizer.lr=1e-3")
    return {"optimizer": spec.name, "lr": float(lr), "weight_decay": float(weight_decay), "optimizer_kwargs": kwargs}


def _phases(cfg: ExperimentConfig) -> list[dict[str, Any]] | None:
    if not cfg.train.phases:
        return None
    phases = []
    for i, phase in enumerate(cfg.train.phases):
        if isinstance(phase.steps, bool) or not isinstance(phase.steps, int) or phase.steps < 1:
            raise ConfigError(
                f"train.phases[{i}].steps must be a positive number of optimizer steps, got {phase.steps!r}"
            )
        if phase.optimizer.name not in OPTIMIZERS:
            raise ConfigError(f"train.phases[{i}].optimizer.name: {OPTIMIZERS.unknown(phase.optimizer.name)}")
        args = _optimizer_args(phase.optimizer)
        entry = {
            "optimizer": args["optimizer"],
            "lr": args["lr"],
            "weight_decay": args["weight_decay"],
            "kwargs": args["optimizer_kwargs"],
            "steps": phase.steps,
        }
        if phase.scheduler is not None and phase.scheduler.name not in ("", "none"):
            entry["scheduler"] = phase.scheduler.name
            entry["scheduler_kwargs"] = dict(phase.scheduler.kwargs)
        phases.append(entry)
    return phases


def build_run(cfg: ExperimentConfig, task: AbstractTask | None = None) -> tuple[Trainer, dict[str | None, Any]]:
    """Data, model (normalizers fitted on the training split), objective and Trainer of the config's task."""
    _check_parallel_mode(cfg)
    seed_everything(cfg.train.seed)
    task = task if task is not None else build_task(cfg)
    if task.fits != "model":
        raise ConfigError(f"task '{task.name}' fits an estimator, not a model: run it with sciml train (no Trainer)")
    data = task.build_data(("train", "val", "test"))
    task.check_data(data)
    objective = task.build_objective()
    model = task.build_model(data, objective, fit=True)
    task.configure_parallelism(model, cfg.train.parallel)
    callbacks = []
    if cfg.train.early_stopping_patience:
        callbacks.append(EarlyStopping(patience=cfg.train.early_stopping_patience))
    budget: dict[str, Any] = {}
    phases = _phases(cfg)
    if phases is not None:
        budget["phases"] = phases
    if cfg.train.max_steps is not None:
        budget["max_steps"] = cfg.train.max_steps
    if cfg.train.eval_every is not None:
        budget["eval_every"] = cfg.train.eval_every
    sampler_steps = getattr(data.get("train"), "steps_per_epoch", None)
    trainer = Trainer(
        model,
        objective,
        **_optimizer_args(cfg.optimizer),
        scheduler=cfg.scheduler.name,
        scheduler_kwargs=cfg.scheduler.kwargs,
        max_epochs=cfg.train.epochs,
        batch_size=cfg.train.batch_size,
        eval_batch_size=cfg.train.eval_batch_size,
        grad_clip=cfg.train.grad_clip,
        device=cfg.train.device,
        seed=cfg.train.seed,
        run_dir=cfg.train.run_dir,
        checkpoint_every=cfg.train.checkpoint_every,
        callbacks=callbacks,
        progress=cfg.train.progress,
        metrics=cfg.train.metrics,
        config=cfg.to_dict(),
        data_sha256=task.data_checksum(data),
        num_workers=cfg.train.num_workers,
        steps_per_epoch=sampler_steps,
        **budget,
    )
    return trainer, data


def train_experiment(cfg: ExperimentConfig, *, resume: bool = False, plots: bool = True) -> dict[str, Any]:
    """Train (or fit), evaluate on the test split, write metrics and plots. Returns the test metrics."""
    run_dir = Path(cfg.train.run_dir)
    task = build_task(cfg)
    if task.fits == "estimator":
        return _fit_estimator(task, run_dir, plots=plots)
    trainer, data = build_run(cfg, task)
    if is_main_process():
        write_json(run_dir / "config.json", cfg.to_dict())
    train = data["train"]
    spread = cfg.train.parallel == "patches" and trainer.world_size > 1
    if spread:
        # every rank holds the whole global batch, in the order a one-process run draws it
        train = ReplicatedBatches(train, cfg.train.batch_size, seed=cfg.train.seed)
        trainer.steps_per_epoch = train.steps_per_epoch
    history = trainer.fit(train, data.get("val"), resume=resume)
    # rank 0 wrote best.pt; it reloads it and hands the weights to the other ranks (no shared disk needed)
    if is_main_process() and (run_dir / "best.pt").exists():
        trainer.model.load_state_dict(load_checkpoint(run_dir / "best.pt", map_location=trainer.device)["model"])
    broadcast_module(trainer.model)
    # every rank evaluates every test sample in the same order (with spread patches each forward is collective)
    test_data = data.get("test")
    test = trainer.evaluate(test_data, metrics=task.eval_metrics(test_data), prefix="test_") if test_data else {}
    if is_main_process():
        write_json(run_dir / "test_metrics.json", test)
    if plots and test_data is not None and (is_main_process() or spread):
        _plots(task, trainer, test_data, history, run_dir)
    return {"test": test, "history": history, "trainer": trainer}


def _plots(task: AbstractTask, trainer: Trainer, data: Any, history: list, out: Path) -> None:
    """The task's PNGs; a patch-parallel rank > 0 only joins the predictions' forwards (its files are dropped)."""

    def predictor(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return trainer.predict([batch])

    if is_main_process():
        task.plots(predictor, data, history, out)
        return
    with tempfile.TemporaryDirectory() as scratch:
        task.plots(predictor, data, history, Path(scratch))


def _fit_estimator(task: AbstractTask, run_dir: Path, *, plots: bool) -> dict[str, Any]:
    cfg = task.cfg
    seed_everything(cfg.train.seed)
    data = task.build_data(("train", "val", "test"))
    task.check_data(data)
    estimator = task.build_estimator().fit(data["train"])
    test_data = data.get("test")
    test = {f"test_{k}": v for k, v in estimator.evaluate(test_data).items()} if test_data is not None else {}
    write_json(run_dir / "config.json", cfg.to_dict())
    estimator.save(run_dir)
    write_json(run_dir / "test_metrics.json", test)
    if plots and test_data is not None:
        task.plots(estimator, test_data, [], run_dir)
    return {"test": test, "history": [], "estimator": estimator}


def _load_config(blob_config: dict[str, Any], run_dir: Any) -> ExperimentConfig:
    try:
        return config_from_dict(blob_config)
    except ConfigError as exc:
        raise DataError(f"the config saved in {run_dir} does not load ({exc})") from None


def evaluate_run(
    run_dir: str | os.PathLike[str], data_path: str | None = None, *, device: str = "cpu", split: str | None = "test"
) -> dict[str, float]:
    """Rebuild a run's model (from its checkpoint) or estimator (from its files) alone and evaluate it.

    ``data_path`` evaluates on another file (a finer resolution, another seed); ``split``
    None uses all of its samples.
    """
    run = Path(run_dir)
    if (run / _ESTIMATOR_FILE).exists():
        return _evaluate_estimator(run, data_path, split)
    blob = load_checkpoint(run_dir, map_location=device)
    cfg = _load_config(blob["meta"]["config"], run_dir)
    if data_path:
        cfg.data.path = str(data_path)
    cfg.train.device = device
    task = build_task(cfg)
    data = task.build_data((split,))
    ds = data[split]
    split_name = split or "all"
    objective = task.build_objective()
    model = task.build_model(data, objective, fit=False)
    try:
        model.load_state_dict(blob["model"])
    except RuntimeError as exc:
        raise ShapeError(f"checkpoint in {run_dir} does not fit its own config ({str(exc).splitlines()[0]})") from None
    check = getattr(task, "check_loaded_model", None)
    if check is not None:
        check(model, data, objective)
    trainer = Trainer(
        model, objective, max_epochs=1, batch_size=cfg.train.eval_batch_size, device=device, progress=False
    )
    metrics = trainer.evaluate(ds, metrics=task.eval_metrics(ds), prefix=f"{split_name}_")
    out = run if run.is_dir() else run.parent
    write_json(out / f"eval_{split_name}_metrics.json", {"data": cfg.data.path, **metrics})
    _plots(task, trainer, ds, blob["meta"].get("history", []), out)
    return metrics


def _evaluate_estimator(run: Path, data_path: str | None, split: str | None) -> dict[str, float]:
    import json

    from sciml.core.estimator import load_estimator

    try:
        saved = json.loads((run / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{run / 'config.json'} is missing or unreadable ({exc}); rerun sciml train") from None
    cfg = _load_config(saved, run)
    if data_path:
        cfg.data.path = str(data_path)
    task = build_task(cfg)
    estimator = load_estimator(run)
    ds = task.build_data((split,))[split]
    split_name = split or "all"
    metrics = {f"{split_name}_{k}": v for k, v in estimator.evaluate(ds).items()}
    write_json(run / f"eval_{split_name}_metrics.json", {"data": cfg.data.path, **metrics})
    task.plots(estimator, ds, [], run)
    return metrics
