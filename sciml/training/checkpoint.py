"""Self-describing checkpoints.

A checkpoint is one ``torch.save`` file written atomically (temp + rename) holding

``meta``  JSON string: format version, config, sciml/torch versions, seed, data file's
          ``content_sha256``, epoch, global step, created time, metrics history;
``model``, ``optimizer``, ``scheduler``, ``callbacks``  state dicts;
``rng``   torch / numpy / python RNG states, so a resumed run continues bitwise.

The JSON config names the model and its arguments, so :func:`load_model` rebuilds the
model without the code that created it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml.core.errors import DataError
from sciml.core.io import atomic_path, environment

__all__ = ["model_state_dict", "save_checkpoint", "load_checkpoint", "checkpoint_meta", "rng_state", "set_rng_state"]

FORMAT = "sciml-checkpoint"
FORMAT_VERSION = 1


def model_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``model.state_dict()`` with tensors only.

    neuraloperator models add a non-tensor ``_metadata`` entry to the state dict of any
    module that contains them, which the containing module then refuses to load.
    """
    return {k: v for k, v in model.state_dict().items() if torch.is_tensor(v)}


def rng_state() -> dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write ``payload`` (state dicts) plus ``meta`` (JSON-serializable) atomically."""
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": environment(),
        **meta,
    }
    blob = {"meta": json.dumps(meta, default=str), **payload}
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(blob, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint; ``result["meta"]`` is the decoded JSON dict."""
    p = Path(path)
    if p.is_dir():
        for name in ("best.pt", "last.pt"):
            if (p / name).exists():
                p = p / name
                break
        else:
            raise DataError(f"no checkpoint (best.pt or last.pt) in {path}; pass a run directory of 'sciml train'")
    if not p.exists():
        raise DataError(f"checkpoint not found: {p}; check the path")
    try:
        blob = torch.load(p, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
        raise DataError(f"{p} is not a readable checkpoint ({type(exc).__name__}); it may be truncated: use another one") from None
    if not isinstance(blob, dict) or "meta" not in blob:
        raise DataError(f"{p} is not a sciml checkpoint (no 'meta'); save it with sciml.training.save_checkpoint")
    blob["meta"] = json.loads(blob["meta"])
    if blob["meta"].get("format") != FORMAT:
        raise DataError(f"{p} is not a sciml checkpoint; save it with sciml.training.save_checkpoint")
    return blob


def checkpoint_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Only the metadata of a checkpoint."""
    return load_checkpoint(path)["meta"]
