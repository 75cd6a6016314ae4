"""The ``operator`` task: neural operators on fields files (``sciml train darcy_fno``).

Data: :class:`~sciml.data.FieldDataset` per split. Model: a registered operator whose
channels come from the data (one snapshot's channels when the objective unrolls the model,
:attr:`~sciml.operators.Rollout.model_out_channels`), wrapped in normalizers fitted on the
training split. Metrics: ``train.metrics`` plus the Fourier band errors. Plots: the loss
curve and predicted fields against the truth on the file's grid, the error centred on zero.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.registry import TASKS, build_model
from sciml.core.task import AbstractTask
from sciml.data.configured import open_splits
from sciml.data.datasets import FieldDataset
from sciml.data.transforms import ChannelNormalizer, Normalized, fit_normalizers
from sciml.operators.multigrid import MultigridPatchedOperator

__all__ = ["OperatorTask", "check_model_fits_data", "smoke_forward"]


def check_model_fits_data(
    name: str,
    kwargs: dict[str, Any],
    *,
    in_channels: int,
    out_channels: int,
    spatial_shape: Sequence[int],
) -> dict[str, Any]:
    """Fill ``in_channels``/``out_channels`` from the data when absent; check they fit.

    Returns the completed kwargs. Raises :class:`~sciml.core.errors.ShapeError` naming both
    sides and the fix when the model and the data disagree.
    """
    kwargs = dict(kwargs)
    for key, data_value in (("in_channels", in_channels), ("out_channels", out_channels)):
        given = kwargs.get(key)
        if given is None or given == "auto":
            kwargs[key] = data_value
        elif int(given) != data_value:
            raise ShapeError(
                f"model '{name}' has {key}={given} but the data has {data_value} channels; "
                f"set model.kwargs.{key}={data_value} or remove it to infer it from the data"
            )
    n_modes = kwargs.get("n_modes")
    if n_modes is not None:
        modes = list(n_modes) if isinstance(n_modes, Sequence) else [n_modes]
        if len(modes) != len(spatial_shape):
            raise ShapeError(
                f"model '{name}' is {len(modes)}-D (n_modes={modes}) but the data is {len(spatial_shape)}-D "
                f"(spatial shape {list(spatial_shape)}); give one n_modes entry per spatial axis"
            )
        for m, s in zip(modes, spatial_shape):
            # neuraloperator's n_modes=m keeps wavenumbers |k| <= m // 2; resolution s resolves |k| <= s // 2
            if int(m) > s:
                raise ShapeError(
                    f"model '{name}' keeps {m} Fourier modes (|k| <= {int(m) // 2}) but the data resolution {s} "
                    f"resolves |k| <= {s // 2}; lower n_modes to at most {s} or use finer data"
                )
    return kwargs


def smoke_forward(model: torch.nn.Module, sample: dict[str, torch.Tensor], name: str, out_channels: int) -> None:
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


@TASKS.register("operator")
class OperatorTask(AbstractTask):
    """Neural operators on fields files: input fields ``x [Cx, *S]`` to target fields ``y [Cy, *S]``."""

    default_for = ("fields",)

    def build_data(self, splits):
        return open_splits(FieldDataset, self.cfg.data, splits)

    def _out_channels(self, objective: Any, data: FieldDataset) -> int:
        """Channels of one model call: the target's, unless the objective unrolls the model (rollout)."""
        hook = getattr(objective, "model_out_channels", None)
        return int(hook(data)) if hook is not None else data.out_channels

    def build_model(self, data, objective, *, fit):
        cfg = self.cfg
        ds = data.get("train") if fit else next(iter(data.values()))
        out_channels = self._out_channels(objective, ds)
        kwargs = check_model_fits_data(
            cfg.model.name,
            cfg.model.kwargs,
            in_channels=ds.in_channels,
            out_channels=out_channels,
            spatial_shape=ds.spatial_shape,
        )
        cfg.model.kwargs = kwargs
        model = build_model(cfg.model.name, kwargs)
        if cfg.data.normalize:
            model = Normalized(model, ChannelNormalizer(ds.in_channels), ChannelNormalizer(out_channels))
            if fit:
                norms = _normalizers(ds, cfg.train.eval_batch_size, out_channels)
                model.input_normalizer.load_state_dict(norms["x"].state_dict())
                model.output_normalizer.load_state_dict(norms["y"].state_dict())
        if fit:
            smoke_forward(model, ds[0], cfg.model.name, out_channels)
        return model

    def check_loaded_model(self, model, data, objective) -> None:
        """After a checkpoint's weights are loaded: one forward on the evaluation data."""
        ds = next(iter(data.values()))
        smoke_forward(model, ds[0], self.cfg.model.name, self._out_channels(objective, ds))

    def configure_parallelism(self, model, mode):
        """``patches``: switch the patched operator's ``distribute_patches`` on (a no-op in one process).

        The model config is left as written, so a checkpoint holds an ordinary model.
        """
        inner = model.model if isinstance(model, Normalized) else model
        patched = inner if isinstance(inner, MultigridPatchedOperator) else None
        if mode == "patches":
            if patched is None:
                raise ConfigError(
                    f"train.parallel=patches spreads the patches of a patched operator over the ranks, but model "
                    f"'{self.cfg.model.name}' does not cut its input into patches; use model.name=mgtfno or "
                    "train.parallel=data"
                )
            patched.distribute_patches = True
            if isinstance(getattr(patched, "sciml_spec", None), dict):
                patched.sciml_spec["distribute_patches"] = True
        elif mode == "data":
            if patched is not None and patched.distribute_patches and int(os.environ.get("WORLD_SIZE", "1")) > 1:
                raise ConfigError(
                    "model.kwargs.distribute_patches=true needs the same batch on every rank, but train.parallel=data "
                    "shards the batches; set train.parallel=patches (and drop the kwarg) or remove distribute_patches"
                )
        else:
            super().configure_parallelism(model, mode)

    def eval_metrics(self, data):
        # the Fourier band errors need spatial axes, which every fields file has
        return [*self.cfg.train.metrics, "fourier_bands"]

    def figures(self, predictor: Any, data: Any, history: list[dict[str, float]]) -> dict[str, Any]:
        """``{name: Figure}`` of :meth:`plots`, unsaved: the loss curve and, for 1-D and 2-D fields, input /
        truth / prediction / error of the first 4 samples of ``data`` on the file's grid."""
        from sciml.core.plotting import fields_figure, history_figure

        figures = {"loss": history_figure(history)} if history else {}
        split = getattr(data, "split", None)
        if data.spatial_dims in (1, 2):
            batch = next(iter(torch.utils.data.DataLoader(data, batch_size=4)))
            with torch.no_grad():
                pred = predictor(batch)
            figures["predictions"] = fields_figure(
                batch["x"].numpy(),
                batch["y"].numpy(),
                pred.detach().cpu().numpy(),
                coords=data.coords,
                coord_names=_coord_names(data),
                title=f"{Path(data.path).name}, {f'{split} split' if split else 'all samples'}: first channel",
            )
        return figures

    def plots(self, predictor, data, history, out: Path):
        from sciml.core.plotting import save_figures

        return save_figures(self.figures(predictor, data, history), out)


def _coord_names(data: Any) -> list[str] | None:
    """The names of the spatial axes: the file's ``coords`` order (``["x", "y"]``), else None (the default names)."""
    names = getattr(data, "coord_names", None)  # imported layouts name them
    if names:
        return list(names)
    try:
        import h5py

        with h5py.File(data.path, "r") as f:
            order = json.loads(f["coords"].attrs.get("order", "[]")) if "coords" in f else []
    except (OSError, ValueError, KeyError):
        return None
    return [str(n) for n in order] if len(order) == data.spatial_dims else None
