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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sciml.core.config import ExperimentConfig, config_from_dict, resolve_task
from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.core.io import write_json
from sciml.core.registry import OPTIMIZERS, TASKS
from sciml.core.task import AbstractTask
from sciml.data.schema import content_checksum, validate
from sciml.training.callbacks import Callback, EarlyStopping
from sciml.training.checkpoint import load_checkpoint
from sciml.training.distributed import ReplicatedBatches, broadcast_module, is_main_process
from sciml.training.trainer import Trainer, seed_everything

__all__ = ["build_task", "build_run", "train_experiment", "evaluate_run", "verify_data", "PARALLEL_MODES", "RESUMABLE"]

PARALLEL_MODES = ("data", "patches")
_ESTIMATOR_FILE = "estimator.json"
# what a run writes: `--overwrite` removes these (and the run's PNGs), nothing else
_RUN_FILES = (
    "config.json", "last.pt", "best.pt", "metrics.csv", "metrics.json", "test_metrics.json", _ESTIMATOR_FILE, "arrays.npz",
)
# config keys a resume may change (applied); a change of any other key is refused
RESUMABLE = (
    "optimizer.kwargs.lr", "train.epochs", "train.max_steps", "train.checkpoint_every", "train.early_stopping_patience",
    "train.progress", "train.device", "train.num_workers", "train.eval_batch_size", "train.metrics", "train.grad_clip",
    "data.path",  # the content checksum must still match (the Trainer checks it)
)
Report = Callable[[str], None]


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
    # OptimizerConfig has checked lr and weight_decay; the Trainer passes no weight decay to an
    # optimizer registered with weight_decay=False (L-BFGS)
    weight_decay = kwargs.pop("weight_decay", 0.0)
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
    verify_data(data)
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


def verify_data(data: dict[str | None, Any]) -> None:
    """Check each file the run reads before the first step: schema, chunk checksums, content hash, finiteness.

    Datasets that name a file (``.path``) and their samples (``.samples``) are checked; the
    message of a bad sample names its array, sample and split. Data without a file (a
    task's own sampler) is the task's to check.
    """
    files: dict[str, dict[str, Any]] = {}
    for split, ds in data.items():
        path, samples = getattr(ds, "path", None), getattr(ds, "samples", None)
        if path is None or samples is None:
            continue
        files.setdefault(str(path), {})[split or "all"] = samples
    for path, splits in files.items():
        validate(path, splits=splits)


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict) or not d:
        return {prefix: d} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _resolve_data_path(cfg: ExperimentConfig) -> None:
    """A data path is stored absolute, so ``sciml eval`` finds the file from any directory."""
    if cfg.data.path and Path(cfg.data.path).exists():
        cfg.data.path = str(Path(cfg.data.path).resolve())


def _resume_checkpoint(run_dir: Path, resume: bool | str) -> Path:
    """The checkpoint ``--resume`` names: ``last`` (True), ``best`` or a path; an error when it is missing."""
    which = "last" if resume is True else str(resume)
    path = run_dir / f"{which}.pt" if which in ("last", "best") else Path(which)
    if not path.exists():
        have = ", ".join(sorted(p.name for p in run_dir.glob("*.pt"))) if run_dir.is_dir() else ""
        raise ConfigError(
            f"--resume {which}: no checkpoint {path}" + (f" (the run has {have})" if have else "")
            + "; train without --resume to start a new run, or name an existing checkpoint"
        )
    return path


def _reconcile_resume(cfg: ExperimentConfig, checkpoint: Path, report: Report | None) -> bool:
    """Compare the config with the checkpoint's: apply the resumable changes, refuse the others.

    Returns whether the learning rate changed (the Trainer then takes the config's).
    """
    blob = load_checkpoint(checkpoint)
    saved = _flatten(_load_config(blob["meta"]["config"], checkpoint).to_dict())
    ours = _flatten(cfg.to_dict())
    changed = sorted(k for k in set(saved) | set(ours) if saved.get(k) != ours.get(k))
    refused = [k for k in changed if k not in RESUMABLE]
    if refused:
        shown = "; ".join(f"{k} {saved.get(k)!r} -> {ours.get(k)!r}" for k in refused[:4])
        more = f" (and {len(refused) - 4} more)" if len(refused) > 4 else ""
        raise ConfigError(
            f"--resume cannot change {shown}{more}: the checkpoint {checkpoint} was trained with the former; "
            "resume with its values (its config.json) or start a new run directory"
        )
    applied = [k for k in changed if k != "data.path"]
    if report is not None:
        epoch = blob["meta"].get("epoch")
        what = "; ".join(f"{k} {saved.get(k)!r} -> {ours.get(k)!r}" for k in applied) or "no config change"
        report(f"resuming from {checkpoint} (epoch {epoch}, step {blob['meta'].get('global_step')}): applied {what}")
    return "optimizer.kwargs.lr" in applied


def _check_run_dir(run_dir: Path, overwrite: bool) -> None:
    """A new run refuses a non-empty run directory unless ``overwrite``."""
    if run_dir.is_file():
        raise ConfigError(f"train.run_dir {run_dir} is a file; choose a directory")
    if run_dir.is_dir() and any(run_dir.iterdir()) and not overwrite:
        raise ConfigError(
            f"train.run_dir {run_dir} already holds a run; pass --overwrite to replace it, --resume to continue "
            "it, or choose another train.run_dir=DIR"
        )


def _clear_run_dir(run_dir: Path) -> None:
    for name in _RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    for png in run_dir.glob("*.png"):
        png.unlink()
    for old in run_dir.glob("eval_*_metrics.json"):
        old.unlink()


class _StartRun(Callback):
    """At the first step, after a resumed checkpoint has been accepted: clear an overwritten run, write config.json."""

    def __init__(self, run_dir: Path, config: dict[str, Any], clear: bool):
        self.run_dir, self.config, self.clear = run_dir, config, clear

    def on_fit_start(self, trainer: Trainer) -> None:
        if is_main_process():
            if self.clear:
                _clear_run_dir(self.run_dir)
            write_json(self.run_dir / "config.json", self.config)


def train_experiment(
    cfg: ExperimentConfig,
    *,
    resume: bool | str = False,
    overwrite: bool = False,
    plots: bool = True,
    report: Report | None = None,
) -> dict[str, Any]:
    """Train (or fit), evaluate on the test split, write metrics and plots. Returns the test metrics.

    Parameters
    ----------
    resume : bool or {"last", "best"} or path
        Continue from that checkpoint of ``train.run_dir`` (an error when it does not exist).
        The config may change only the keys in :data:`RESUMABLE` (applied, and reported);
        any other change is refused. A changed ``optimizer.kwargs.lr`` is trained with.
    overwrite : bool
        A new run refuses a non-empty ``train.run_dir`` unless this is set; then the former
        run's files are removed when training starts (after every check passed).
    report : callable(str), optional
        Receives one line per notable decision (what a resume applied).

    Nothing is written before the config, the data and (on resume) the checkpoint are
    accepted.
    """
    run_dir = Path(cfg.train.run_dir)
    _resolve_data_path(cfg)
    task = build_task(cfg)
    if resume and task.fits == "estimator":
        raise ConfigError(f"task '{task.name}' fits an estimator in one call: there is nothing to resume; drop --resume")
    checkpoint = _resume_checkpoint(run_dir, resume) if resume else None
    if checkpoint is None:
        _check_run_dir(run_dir, overwrite)
    if task.fits == "estimator":
        return _fit_estimator(task, run_dir, plots=plots, clear=overwrite)
    trainer, data = build_run(cfg, task)  # fills the data's sizes into the model's arguments; writes nothing
    lr_from_config = _reconcile_resume(cfg, checkpoint, report) if checkpoint is not None else False
    trainer.callbacks.insert(0, _StartRun(run_dir, cfg.to_dict(), clear=overwrite and checkpoint is None))
    train = data["train"]
    spread = cfg.train.parallel == "patches" and trainer.world_size > 1
    if spread:
        # every rank holds the whole global batch, in the order a one-process run draws it
        train = ReplicatedBatches(train, cfg.train.batch_size, seed=cfg.train.seed)
        trainer.steps_per_epoch = train.steps_per_epoch
    history = trainer.fit(train, data.get("val"), resume=checkpoint or False, lr_from_config=lr_from_config)
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

    # plots that need more than predictions (a Lagrangian PINN's characteristics) reach the
    # trained model and its objective here
    predictor.model, predictor.objective, predictor.device = trainer.model, trainer.objective, trainer.device

    if is_main_process():
        task.plots(predictor, data, history, out)
        return
    with tempfile.TemporaryDirectory() as scratch:
        task.plots(predictor, data, history, Path(scratch))


def _fit_estimator(task: AbstractTask, run_dir: Path, *, plots: bool, clear: bool = False) -> dict[str, Any]:
    cfg = task.cfg
    seed_everything(cfg.train.seed)
    data = task.build_data(("train", "val", "test"))
    task.check_data(data)
    verify_data(data)
    estimator = task.build_estimator().fit(data["train"])
    if clear:
        _clear_run_dir(run_dir)
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


def _eval_data_path(cfg: ExperimentConfig, run: Path, data_path: str | None, trained_sha: str | None, report) -> None:
    """Point ``cfg`` at the file to evaluate: the training file (its checksum checked) or an explicit ``--data``."""
    if data_path:
        cfg.data.path = str(data_path)
        sha = content_checksum(data_path) if Path(data_path).exists() else None
        if report is not None and trained_sha and sha != trained_sha:
            report(f"evaluating on {data_path}, not the training data (its content checksum differs), as --data asked")
        return
    if not cfg.data.path:
        return  # the task samples its own points
    path = Path(cfg.data.path)
    if not path.exists():
        raise DataError(
            f"the run's data file {cfg.data.path!r} is not found (config.json of {run} names it); "
            "pass --data FILE to evaluate on a file"
        )
    sha = content_checksum(path)
    if trained_sha and sha != trained_sha:
        raise DataError(
            f"{path} changed after training (content checksum {str(sha)[:12]}..., the run was trained on "
            f"{trained_sha[:12]}...); pass --data {path} to evaluate on it anyway"
        )


def evaluate_run(
    run_dir: str | os.PathLike[str],
    data_path: str | None = None,
    *,
    device: str = "cpu",
    split: str | None = "test",
    out: str | os.PathLike[str] | None = None,
    report: Report | None = None,
) -> dict[str, float]:
    """Rebuild a run's model (from its checkpoint) or estimator (from its files) alone and evaluate it.

    ``data_path`` evaluates on another file (a finer resolution, another seed); without it
    the training file is used, and refused if its content changed since training. ``split``
    None uses all of its samples. The metrics (``eval_<split>_metrics.json``) and plots go to
    ``out`` (default: the run directory).
    """
    run = Path(run_dir)
    if (run / _ESTIMATOR_FILE).exists():
        return _evaluate_estimator(run, data_path, split, out, report)
    blob = load_checkpoint(run_dir, map_location=device)
    cfg = _load_config(blob["meta"]["config"], run_dir)
    _eval_data_path(cfg, run, data_path, blob["meta"].get("data_sha256"), report)
    cfg.train.device = device
    task = build_task(cfg)
    data = task.build_data((split,))
    verify_data(data)
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
    target = Path(out) if out is not None else (run if run.is_dir() else run.parent)
    write_json(target / f"eval_{split_name}_metrics.json", {"data": cfg.data.path, **metrics})
    _plots(task, trainer, ds, blob["meta"].get("history", []), target)
    if report is not None:
        report(f"wrote eval_{split_name}_metrics.json and the plots to {target}")
    return metrics


def _evaluate_estimator(
    run: Path, data_path: str | None, split: str | None, out: str | os.PathLike[str] | None, report: Report | None
) -> dict[str, float]:
    import json

    from sciml.core.estimator import load_estimator

    try:
        saved = json.loads((run / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{run / 'config.json'} is missing or unreadable ({exc}); rerun sciml train") from None
    cfg = _load_config(saved, run)
    estimator = load_estimator(run)
    trained = estimator.training_data or {}
    _eval_data_path(cfg, run, data_path, trained.get("content_sha256"), report)
    task = build_task(cfg)
    data = task.build_data((split,))
    verify_data(data)
    ds = data[split]
    split_name = split or "all"
    metrics = {f"{split_name}_{k}": v for k, v in estimator.evaluate(ds).items()}
    target = Path(out) if out is not None else run
    write_json(target / f"eval_{split_name}_metrics.json", {"data": cfg.data.path, **metrics})
    task.plots(estimator, ds, [], target)
    if report is not None:
        report(f"wrote eval_{split_name}_metrics.json and the plots to {target}")
    return metrics
