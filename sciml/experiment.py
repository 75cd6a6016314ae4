"""From a config to a trained, evaluated, plotted run: what ``sciml train`` and ``sciml eval`` do.

A run directory holds ``config.json`` (the resolved config), ``last.pt`` / ``best.pt``
(self-describing checkpoints), ``metrics.csv`` / ``metrics.json`` (epoch history),
``test_metrics.json`` and PNGs.

Under ``torchrun``, ``train.parallel`` picks how the ranks share the work: ``data`` (default)
shards every global batch over them; ``patches`` builds a patched operator (``mgtfno``) with
``distribute_patches=True`` and gives every rank the whole global batch
(:class:`~sciml.training.distributed.ReplicatedBatches`), so the ranks split the patches of
each forward instead. Evaluation already gives every rank every sample in the same order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from sciml.config import ExperimentConfig
from sciml.data.datasets import FieldDataset, SampleDataset, TrajectoryDataset
from sciml.data.transforms import ChannelNormalizer, Normalized, fit_normalizers
from sciml.errors import ConfigError, ShapeError
from sciml.io import write_json
from sciml.models import build_model, check_model_fits_data
from sciml.operators.multigrid import MultigridPatchedOperator
from sciml.registry import OBJECTIVES
from sciml.training.callbacks import EarlyStopping
from sciml.training.checkpoint import load_checkpoint
from sciml.training.distributed import ReplicatedBatches, broadcast_module, is_main_process
from sciml.training.trainer import Trainer, seed_everything

__all__ = ["build_datasets", "build_run", "train_experiment", "evaluate_run"]

_DATASETS = {"fields": FieldDataset, "trajectories": TrajectoryDataset, "samples": SampleDataset}
PARALLEL_MODES = ("data", "patches")


def _check_parallel_mode(cfg: ExperimentConfig) -> None:
    if cfg.train.parallel not in PARALLEL_MODES:
        raise ConfigError(
            f"unknown train.parallel '{cfg.train.parallel}'; use data (shard the batches over the torchrun ranks) "
            "or patches (spread an mgtfno's patches over them)"
        )


def _configure_patch_parallelism(cfg: ExperimentConfig, model: torch.nn.Module) -> None:
    """``train.parallel=patches``: switch the patched operator's ``distribute_patches`` on (a no-op in one process).

    The model config is left as written, so a checkpoint holds an ordinary model.
    """
    inner = model.model if isinstance(model, Normalized) else model
    patched = inner if isinstance(inner, MultigridPatchedOperator) else None
    if cfg.train.parallel == "patches":
        if patched is None:
            raise ConfigError(
                f"train.parallel=patches spreads the patches of a patched operator over the ranks, but model "
                f"'{cfg.model.name}' does not cut its input into patches; use model.name=mgtfno or train.parallel=data"
            )
        patched.distribute_patches = True
        if isinstance(getattr(patched, "sciml_spec", None), dict):
            patched.sciml_spec["distribute_patches"] = True
    elif patched is not None and patched.distribute_patches and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(
            "model.kwargs.distribute_patches=true needs the same batch on every rank, but train.parallel=data "
            "shards the batches; set train.parallel=patches (and drop the kwarg) or remove distribute_patches"
        )


def build_datasets(cfg: ExperimentConfig, splits=("train", "val", "test")) -> dict[str, Any]:
    """The configured dataset for each split."""
    if not cfg.data.path:
        raise ConfigError("data.path is empty; set it in the config or pass data.path=FILE.h5")
    cls = _DATASETS.get(cfg.data.kind)
    if cls is None:
        raise ConfigError(f"unknown data.kind '{cfg.data.kind}'; use one of {', '.join(_DATASETS)}")
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


def _model_parameters(name: str) -> Any:
    import inspect

    from sciml.registry import MODELS

    return inspect.signature(MODELS.get(name)).parameters


def _build_with_sizes_from_data(cfg: ExperimentConfig, sizes: dict[str, tuple[int, str]]) -> torch.nn.Module:
    """Fill the model's size arguments from the data; ``sizes`` maps a keyword to (value, "the data has ...").

    A size the user set that disagrees with the data is a one-line ShapeError naming both.
    """
    kwargs = dict(cfg.model.kwargs)
    for key, (value, what) in sizes.items():
        given = kwargs.get(key)
        if given not in (None, "auto") and int(given) != value:
            raise ShapeError(
                f"model '{cfg.model.name}' has {key}={given} but {what}; "
                f"set model.kwargs.{key}={value} or remove it to infer it from the data"
            )
        kwargs[key] = value
    cfg.model.kwargs = kwargs
    return build_model(cfg.model.name, kwargs)


def build_trajectory_model(cfg: ExperimentConfig, train: TrajectoryDataset) -> torch.nn.Module:
    """A dynamics model (neural ODE, neural SDE, ...) whose state dimension ``dim`` is taken from the data."""
    sizes = {}
    if "dim" in _model_parameters(cfg.model.name):
        sizes["dim"] = (train.dim, f"the trajectories have {train.dim} components")
    return _build_with_sizes_from_data(cfg, sizes)


def build_sample_model(cfg: ExperimentConfig, train: SampleDataset) -> torch.nn.Module:
    """A model of independent samples whose sizes come from the data.

    ``in_features`` = the length of a (flat) ``x``; ``n_classes`` = the file's ``classes``
    (classifiers); ``out_features`` = ``classes`` or the target dimension ``Dy``.
    """
    name = cfg.model.name
    params = _model_parameters(name)
    sizes: dict[str, tuple[int, str]] = {}
    if "in_features" in params:
        if len(train.feature_shape) > 1 and not train.flatten:
            raise ShapeError(
                f"model '{name}' takes flat feature vectors (in_features) but the samples of {train.path} have "
                f"shape {list(train.feature_shape)}; set data.options.flatten=true"
            )
        sizes["in_features"] = (train.in_features, f"the samples have {train.in_features} features")
    if "n_classes" in params:
        if train.classes is None:
            raise ShapeError(
                f"model '{name}' is a classifier (n_classes) but {train.path} holds regression targets "
                f"[N, {train.target_dim}]; use a regression model or a file with class labels"
            )
        sizes["n_classes"] = (train.classes, f"the data has {train.classes} classes")
    if "out_features" in params:
        out = train.classes if train.classes is not None else train.target_dim
        what = f"{train.classes} classes" if train.classes is not None else f"{train.target_dim} targets per sample"
        sizes["out_features"] = (out, f"the data has {what}")
    return _build_with_sizes_from_data(cfg, sizes)


def _check_metrics_fit(cfg: ExperimentConfig, train: Any) -> None:
    """Class labels have no prediction-shaped target: refuse shape-comparing metrics before training."""
    if isinstance(train, SampleDataset) and train.classes is not None and cfg.train.metrics:
        raise ConfigError(
            f"train.metrics {list(cfg.train.metrics)} compare predictions with same-shaped targets, but "
            f"{train.path} holds class labels; set train.metrics=[] (the objective logs accuracy)"
        )


def _is_fields(data: Any) -> bool:
    """Operator-learning items over fields (FieldDataset or an imported layout), not trajectories or samples."""
    return not isinstance(data, (TrajectoryDataset, SampleDataset))


def _eval_metrics(cfg: ExperimentConfig, data: Any) -> list[str]:
    """The configured metrics, plus the Fourier band errors for fields (they need spatial axes)."""
    return list(cfg.train.metrics) + (["fourier_bands"] if _is_fields(data) else [])


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
    was_training = model.training
    model.eval()  # a forward in training mode would move batch-norm running statistics (LSM) of a loaded model
    try:
        with torch.no_grad():
            out = model(x)
    except RuntimeError as exc:
        raise ShapeError(
            f"model '{name}' cannot take input of shape {tuple(x.shape)} ({str(exc).splitlines()[0][:120]}); "
            "match the model's channels and dimensionality to the data"
        ) from None
    finally:
        model.train(was_training)
    expected = (out_channels, *sample["y"].shape[1:]) if "y" in sample else None
    if expected is not None and tuple(out.shape[1:]) != expected:
        raise ShapeError(
            f"model '{name}' outputs {tuple(out.shape[1:])} per sample but one call must give {expected}; "
            f"set out_channels={out_channels}"
        )


def build_run(cfg: ExperimentConfig) -> tuple[Trainer, dict[str, Any]]:
    """Datasets, model (with normalizers fitted on the training split), objective and Trainer."""
    _check_parallel_mode(cfg)
    seed_everything(cfg.train.seed)
    data = build_datasets(cfg)
    train = data["train"]
    objective = _objective(cfg)
    _check_metrics_fit(cfg, train)
    if isinstance(train, TrajectoryDataset):
        model = build_trajectory_model(cfg, train)
    elif isinstance(train, SampleDataset):
        model = build_sample_model(cfg, train)
    else:
        out_channels = _model_out_channels(objective, train)
        model = build_model_for(cfg, train, out_channels)
        if isinstance(model, Normalized):
            norms = _normalizers(train, cfg.train.eval_batch_size, out_channels)
            model.input_normalizer.load_state_dict(norms["x"].state_dict())
            model.output_normalizer.load_state_dict(norms["y"].state_dict())
        _smoke_forward(model, train[0], cfg.model.name, out_channels)
    _configure_patch_parallelism(cfg, model)
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
    train = data["train"]
    spread = cfg.train.parallel == "patches" and trainer.world_size > 1
    if spread:
        # every rank holds the whole global batch, in the order a one-process run draws it
        train = ReplicatedBatches(train, cfg.train.batch_size, seed=cfg.train.seed)
        trainer.steps_per_epoch = train.steps_per_epoch
    history = trainer.fit(train, data["val"], resume=resume)
    # rank 0 wrote best.pt; it reloads it and hands the weights to the other ranks (no shared disk needed)
    if is_main_process() and (run_dir / "best.pt").exists():
        trainer.model.load_state_dict(load_checkpoint(run_dir / "best.pt", map_location=trainer.device)["model"])
    broadcast_module(trainer.model)
    # every rank evaluates every test sample in the same order (with spread patches each forward is collective)
    test = trainer.evaluate(data["test"], metrics=_eval_metrics(cfg, data["test"]), prefix="test_")
    if is_main_process():
        write_json(run_dir / "test_metrics.json", test)
    if plots and (is_main_process() or spread):  # spread patches: every rank joins the prediction's forward
        _plots(trainer, data["test"], history, run_dir, write=is_main_process())
    return {"test": test, "history": history, "trainer": trainer}


def _plots(
    trainer: Trainer,
    test: FieldDataset | TrajectoryDataset | SampleDataset,
    history,
    run_dir: Path,
    *,
    write: bool = True,
) -> None:
    """Loss curve and predicted fields; ``write=False`` only joins the prediction (a patch-parallel rank > 0)."""
    from sciml.plotting import plot_fields, plot_history

    if history and write:
        plot_history(history, run_dir / "loss.png")
    if not isinstance(test, FieldDataset):
        return
    batch = next(iter(torch.utils.data.DataLoader(test, batch_size=4)))
    pred = trainer.predict([batch])
    if write and test.spatial_dims in (1, 2):
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
    fields = _is_fields(ds)  # trajectories and samples: sizes saved in the kwargs, no normalizers
    out_channels = _model_out_channels(objective, ds) if fields else 0
    model = build_model(cfg.model.name, cfg.model.kwargs)
    if cfg.data.normalize and fields:
        model = Normalized(model, ChannelNormalizer(ds.in_channels), ChannelNormalizer(out_channels))
    try:
        model.load_state_dict(blob["model"])
    except RuntimeError as exc:
        raise ShapeError(f"checkpoint in {run_dir} does not fit its own config ({str(exc).splitlines()[0]})") from None
    if fields:
        _smoke_forward(model, ds[0], cfg.model.name, out_channels)
    trainer = Trainer(
        model, objective, max_epochs=1, batch_size=cfg.train.eval_batch_size, device=device, progress=False
    )
    metrics = trainer.evaluate(ds, metrics=_eval_metrics(cfg, ds), prefix=f"{split_name}_")
    out = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    write_json(out / f"eval_{split_name}_metrics.json", {"data": cfg.data.path, **metrics})
    _plots(trainer, ds, blob["meta"].get("history", []), out)
    return metrics
