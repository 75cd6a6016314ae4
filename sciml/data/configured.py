"""Datasets from a config's ``data`` section: one dataset per split, with one-line errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sciml.core.errors import ConfigError

__all__ = ["open_splits"]


def open_splits(dataset_cls: type, data_cfg: Any, splits: Sequence[str | None]) -> dict[str | None, Any]:
    """``{split: dataset_cls(data_cfg.path, split, fractions=..., split_seed=..., **data_cfg.options)}``.

    ``split`` None opens every sample of the file.
    """
    if not data_cfg.path:
        raise ConfigError("data.path is empty; set it in the config or pass data.path=FILE.h5")
    try:
        return {
            s: dataset_cls(
                data_cfg.path, s, fractions=data_cfg.fractions, split_seed=data_cfg.split_seed, **data_cfg.options
            )
            for s in splits
        }
    except TypeError as exc:
        raise ConfigError(f"data.options rejected ({exc}); see the {dataset_cls.__name__} parameters") from None
