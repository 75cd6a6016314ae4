"""From a config to a trained, evaluated, plotted run: what ``sciml train`` and ``sciml eval`` do.

A run directory holds ``config.json`` (the resolved config), ``last.pt`` / ``best.pt``
(self-describing checkpoints), ``metrics.csv`` / ``metrics.json`` (epoch history),
``test_metrics.json`` and PNGs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from sciml.config import ExperimentConfig
from sciml.data.datasets import FieldDataset, TrajectoryDataset
from sciml.data.transforms import ChannelNormalizer, Normalized, fit_normalizers
from sciml.errors import ConfigError, ShapeError
from sciml.io import write_json
from sciml.models import build_model, check_model_fits_data
from sciml.registry import OBJECTIVES
from sciml.training.callbacks import EarlyStopping
from sciml.training.checkpoint import load_checkpoint
from sciml.training.distributed import is_main_process
from sciml.training.trainer import Trainer, seed_everything

__all__ = ["build_datasets", "build_run", "train_experiment", "evaluate_run"]


def build_datasets(cfg: ExperimentConfig, splits=("train", "val", "test")) -> dict[str, Any]:
    """The configured dataset for each split."""
    if not cfg.data.path:
        raise ConfigError("data.path is empty; set it in the config or pass data.path=FILE.h5")
    cls = {"fields": FieldDataset, "trajectories": TrajectoryDataset}.get(cfg.data.kind)
    if cls is None:
        raise ConfigError(f"unknown data.kind '{cfg.data.kind}'; use 'fields' or 'trajectories'")
    try:
        return {
            s: cls(cfg.data.path, s, fractions=cfg.data.fractions, split_seed=cfg.data.split_seed, **cfg.data.options)
            for s in splits
        }
    except TypeError as exc:
        raise ConfigError(f"data.options rejected ({exc}); see the {cls.__name__} parameters") from None


def _normalizers(train: FieldDataset, batch_size: int, out_channels: int) -> dict[str, ChannelNormalizer]:
    """Input and output statistics over the training split.

    When one model call predicts fewer channels than a target holds (an autoregressive
    model predicting one snapshot of a k-snapshot horizon), the target is split into
    chunks of ``out_channels`` and all chunks share the output statistics.
    """
    loader = torch.utils.data.DataLoader(train, batch_size=batch_size, shuffle=False)

    def chunks(batches):
        for b in batches:
            y = b["y"]
            yield {"x": b["x"], "y": y.reshape(-1, out_channels, *y.shape[2:])}

    return fit_normalizers(chunks(loader), keys=("x", "y"))


def _model_out_channels(objective: Any, train: FieldDataset) -> int:
    """Channels of one model call: the target's, unless the objective unrolls the model (rollout)."""
    hook = getattr(objective, "model_out_channels", None)
    return int(hook(train)) if hook is not None else train.out_channels


def build_trajectory_model(cfg: ExperimentConfig, train: TrajectoryDataset) -> torch.nn.Module:
    """A dynamics model (neural ODE, ...) whose state dimension ``dim`` is taken from the data."""
    import inspect

    from sciml.registry import MODELS

    kwargs = dict(cfg.model.kwargs)
    params = inspect.signature(MODELS.get(cfg.model.name)).parameters
    if "dim" in params:
        given = kwargs.get("dim")
        if given not in (None, "auto") and int(given) != train.dim:
            raise ShapeError(
                f"model '{cfg.model.name}' has dim={given} but the trajectories have {train.dim} components; "
                f"set model.kwargs.dim={train.dim} or remove it to infer it from the data"
            )
        kwargs["dim"] = train.dim
    cfg.model.kwargs = kwargs
    return build_model(cfg.model.name, kwargs)


def _objective(cfg: ExperimentConfig) -> Any:
    obj_cfg = dict(cfg.train.objective)
    return OBJECTIVES.get(obj_cfg.pop("name", "supervised"))(**obj_cfg)


def build_model_for(cfg: ExperimentConfig, train: FieldDataset, out_channels: int | None = None) -> torch.nn.Module:
    """Build the configured model with channels taken from the data, wrapped in normalizers."""
    out_channels = train.out_channels if out_channels is None else out_channels
    kwargs = check_model_fits_data(
        cfg.model.name,
        cfg.model.kwargs,
        in_channels=train.in_channels,
        out_channels=out_channels,
        spatial_shape=train.spatial_shape,
    )
    cfg.model.kwargs = kwargs
    model = build_model(cfg.model.name, kwargs)
    if cfg.data.normalize:
        model = Normalized(model, ChannelNormalizer(train.in_channels), ChannelNormalizer(out_channels))
    return model


def _smoke_forward(model: torch.nn.Module, sample: dict[str, torch.Tensor], name: str, out_channels: int) -> None:
    """One forward pass on one sample, turning opaque shape errors into a one-line message."""
    x = sample["x"][None]
    try:
        with torch.no_grad():
            out = model(x)
    except RuntimeError as exc:
        raise ShapeError(
            f"model '{name}' cannot take input of shape {tuple(x.shape)} ({str(exc).splitlines()[0][:120]}); "
            "match the model's channels and dimensionality to the data"
        ) from None
    expected = (out_channels, *sample["y"].shape[1:]) if "y" in sample else None
    if expected is not None and tuple(out.shape[1:]) != expected:
        raise ShapeError(
            f"model '{name}' outputs {tuple(out.shape[1:])} per sample but one call must give {expected}; "
            f"set out_channels={out_channels}"
        )


def build_run(cfg: ExperimentConfig) -> tuple[Trainer, dict[str, Any]]:
    """Datasets, model (with normalizers fitted on the training split), objective and Trainer."""
    seed_everything(cfg.train.seed)
    data = build_datasets(cfg)
    train = data["train"]
    objective = _objective(cfg)
    if isinstance(train, TrajectoryDataset):
        model = build_trajectory_model(cfg, train)
    else:
        out_channels = _model_out_channels(objective, train)
        model = build_model_for(cfg, train, out_channels)
        if isinstance(model, Normalized):
            norms = _normalizers(train, cfg.train.eval_batch_size, out_channels)
            model.input_normalizer.load_state_dict(norms["x"].state_dict())
            model.output_normalizer.load_state_dict(norms["y"].state_dict())
        _smoke_forward(model, train[0], cfg.model.name, out_channels)
    callbacks = []
    if cfg.train.early_stopping_patience:
        callbacks.append(EarlyStopping(patience=cfg.train.early_stopping_patience))
    trainer = Trainer(
        model,
        objective,
        optimizer=cfg.optimizer.name,
        lr=cfg.optimizer.lr,
        weight_decay=cfg.optimizer.weight_decay,
        optimizer_kwargs=cfg.optimizer.kwargs,
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
        data_sha256=train.content_sha256,
        num_workers=cfg.train.num_workers,
    )
    return trainer, data


def train_experiment(cfg: ExperimentConfig, *, resume: bool = False, plots: bool = True) -> dict[str, Any]:
    """Train, evaluate on the test split, write metrics and plots. Returns the test metrics."""
    run_dir = Path(cfg.train.run_dir)
    trainer, data = build_run(cfg)
    if is_main_process():
        write_json(run_dir / "config.json", cfg.to_dict())
    history = trainer.fit(data["train"], data["val"], resume=resume)
    if (run_dir / "best.pt").exists():
        trainer.model.load_state_dict(load_checkpoint(run_dir / "best.pt", map_location=trainer.device)["model"])
    test = trainer.evaluate(data["test"], metrics=list(cfg.train.metrics) + ["fourier_bands"], prefix="test_")
    if is_main_process():
        write_json(run_dir / "test_metrics.json", test)
        if plots:
            _plots(trainer, data["test"], history, run_dir)
    return {"test": test, "history": history, "trainer": trainer}


def _plots(trainer: Trainer, test: FieldDataset | TrajectoryDataset, history, run_dir: Path) -> None:
    from sciml.plotting import plot_fields, plot_history

    if history:
        plot_history(history, run_dir / "loss.png")
    if not isinstance(test, FieldDataset):
        return
    batch = next(iter(torch.utils.data.DataLoader(test, batch_size=4)))
    pred = trainer.predict([batch])
    if test.spatial_dims in (1, 2):
        plot_fields(
            batch["x"].numpy(), batch["y"].numpy(), pred.numpy(), run_dir / "predictions.png", coords=test.coords
        )


def evaluate_run(
    run_dir: str | os.PathLike[str], data_path: str | None = None, *, device: str = "cpu", split: str | None = "test"
) -> dict[str, float]:
    """Rebuild a run's model from its checkpoint alone and evaluate it.

    ``data_path`` evaluates on another file (a finer resolution, another seed); ``split``
    None uses all of its samples.
    """
    blob = load_checkpoint(run_dir, map_location=device)
    cfg = ExperimentConfig.from_dict(blob["meta"]["config"])
    if data_path:
        cfg.data.path = str(data_path)
    cfg.train.device = device
    ds = build_datasets(cfg, splits=(split,))[split]
    split_name = split or "all"
    objective = _objective(cfg)
    trajectories = isinstance(ds, TrajectoryDataset)
    out_channels = 0 if trajectories else _model_out_channels(objective, ds)
    model = build_model(cfg.model.name, cfg.model.kwargs)
    if cfg.data.normalize and not trajectories:
        model = Normalized(model, ChannelNormalizer(ds.in_channels), ChannelNormalizer(out_channels))
    try:
        model.load_state_dict(blob["model"])
    except RuntimeError as exc:
        raise ShapeError(f"checkpoint in {run_dir} does not fit its own config ({str(exc).splitlines()[0]})") from None
    if not trajectories:
        _smoke_forward(model, ds[0], cfg.model.name, out_channels)
    trainer = Trainer(
        model, objective, max_epochs=1, batch_size=cfg.train.eval_batch_size, device=device, progress=False
    )
    metrics = trainer.evaluate(ds, metrics=list(cfg.train.metrics) + ["fourier_bands"], prefix=f"{split_name}_")
    out = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    write_json(out / f"eval_{split_name}_metrics.json", {"data": cfg.data.path, **metrics})
    _plots(trainer, ds, blob["meta"].get("history", []), out)
    return metrics
