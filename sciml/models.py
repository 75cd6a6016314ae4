"""Building registered models from configs, with shape checks against the data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from sciml.errors import ConfigError, ShapeError
from sciml.registry import MODELS

__all__ = ["build_model", "check_model_fits_data"]


def build_model(name: str, kwargs: dict[str, Any]) -> nn.Module:
    """``MODELS.get(name)(**kwargs)``, with a one-line error for wrong arguments."""
    ctor = MODELS.get(name)
    try:
        return ctor(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"model '{name}' rejected its arguments ({exc}); fix model.kwargs in the config") from None


def check_model_fits_data(
    name: str,
    kwargs: dict[str, Any],
    *,
    in_channels: int,
    out_channels: int,
    spatial_shape: Sequence[int],
) -> dict[str, Any]:
    """Fill ``in_channels``/``out_channels`` from the data when absent; check they fit.

    Returns the completed kwargs. Raises :class:`~sciml.errors.ShapeError` naming both
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
