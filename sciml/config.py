"""Typed experiment configs: dataclasses loaded from YAML/TOML/JSON, overridden from the CLI.

>>> cfg = ExperimentConfig.from_dict({"data": {"path": "d.h5"}, "model": {"name": "fno"}})
>>> cfg = apply_overrides(cfg, ["train.epochs=3", "model.kwargs.n_modes=[8]"])
>>> cfg.train.epochs, cfg.model.kwargs
(3, {'n_modes': [8]})
>>> apply_overrides(cfg, ["train.epochs=three"])
Traceback (most recent call last):
...
sciml.errors.ConfigError: config field 'train.epochs' expects int, got 'three' (str); fix the value in the config file or the override
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from sciml.errors import ConfigError

__all__ = [
    "DataConfig",
    "ModelConfig",
    "OptimizerConfig",
    "SchedulerConfig",
    "TrainConfig",
    "ExperimentConfig",
    "load_config",
    "apply_overrides",
    "parse_override",
]


@dataclass
class DataConfig:
    """Which file and which samples.

    ``kind`` picks the dataset: ``fields`` (:class:`~sciml.data.FieldDataset`),
    ``trajectories`` (:class:`~sciml.data.TrajectoryDataset`) or ``samples``
    (:class:`~sciml.data.SampleDataset`); ``options`` go to its constructor (``mode``,
    ``history``, ``horizon``, ``context``, ``flatten``, ...). ``normalize`` applies to fields.
    """

    path: str = ""
    kind: str = "fields"
    options: dict[str, Any] = field(default_factory=dict)
    fractions: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    split_seed: int = 0
    normalize: bool = True


@dataclass
class ModelConfig:
    """A registered model name and its keyword arguments (channels are inferred from the data when absent)."""

    name: str = "fno"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimizerConfig:
    name: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class SchedulerConfig:
    name: str = "cosine"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 32
    eval_batch_size: int = 64
    grad_clip: Union[float, None] = None  # noqa: UP007 - resolved at run time on Python 3.10
    device: str = "cpu"
    seed: int = 0
    objective: dict[str, Any] = field(default_factory=lambda: {"name": "supervised"})
    metrics: list[str] = field(default_factory=lambda: ["relative_l2", "nrmse"])
    checkpoint_every: int = 1
    early_stopping_patience: Union[int, None] = None  # noqa: UP007
    run_dir: str = "runs/experiment"
    progress: Union[bool, None] = None  # noqa: UP007
    num_workers: int = 0
    # under torchrun: "data" shards every global batch over the ranks; "patches" gives every
    # rank the whole batch and spreads a patched operator's (mgtfno) patches over the ranks
    parallel: str = "data"


@dataclass
class ExperimentConfig:
    """Everything ``sciml train`` needs."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExperimentConfig:
        return _from_dict(cls, d, "")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------- typing


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"config section '{where}' must be a mapping, got {value!r}; fix the config file")
        return _from_dict(tp, value, where)
    bad = ConfigError(
        f"config field '{where}' expects {_type_name(tp)}, got {value!r} ({type(value).__name__}); "
        "fix the value in the config file or the override"
    )
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise bad
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        return dict(value)
    return value


def _from_dict(cls: type, d: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in d.items():
        where = f"{prefix}.{key}" if prefix else key
        if key not in names:
            import difflib

            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown config field '{where}'{hint}; valid fields: {', '.join(sorted(names))}")
        kwargs[key] = _coerce(value, hints[key], where)
    return cls(**kwargs)


# ----------------------------------------------------------------------------- files


def load_config(path: str | os.PathLike[str], overrides: list[str] | None = None) -> ExperimentConfig:
    """Load an :class:`ExperimentConfig` from YAML, TOML or JSON and apply ``key.sub=value`` overrides."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file not found: {p}; check the path (presets: sciml list presets)")
    text = p.read_text()
    try:
        if p.suffix == ".toml":
            import tomllib

            raw = tomllib.loads(text)
        elif p.suffix == ".json":
            raw = json.loads(text)
        else:
            raw = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - yaml/toml/json raise different types
        raise ConfigError(f"cannot parse {p} ({type(exc).__name__}: {str(exc).splitlines()[0]}); fix its syntax") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{p} must hold a mapping of sections (data, model, train, ...), got {type(raw).__name__}")
    cfg = ExperimentConfig.from_dict(raw)
    base = p.parent
    if cfg.data.path and not os.path.isabs(cfg.data.path) and (base / cfg.data.path).exists():
        cfg.data.path = str(base / cfg.data.path)
    return apply_overrides(cfg, overrides or [])


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=3"`` -> ``(["a", "b"], 3)``; the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"malformed override '{text}'; write it as key.sub=value, e.g. train.epochs=5")
    key, _, raw = text.partition("=")
    parts = key.strip().split(".")
    if not key.strip() or any(not part or not part.replace("_", "").isalnum() for part in parts):
        raise ConfigError(f"malformed override '{text}'; the key must be dotted names, e.g. optimizer.lr=1e-3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(f"malformed override '{text}': cannot parse the value {raw!r}") from None
    if isinstance(value, str):
        # YAML reads 1e-3 as a string; accept numeric text
        try:
            value = float(value) if any(c in value for c in "eE.") else value
        except ValueError:
            pass
    return parts, value


def apply_overrides(cfg: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Return a new config with each ``key.sub=value`` applied and type-checked."""
    d = cfg.to_dict()
    for text in overrides:
        parts, value = parse_override(text)
        node = d
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node:
                if isinstance(node, dict) and i > 0 and parts[i - 1] in ("kwargs", "options", "objective"):
                    node = node.setdefault(part, {})
                    continue
                raise ConfigError(
                    f"override '{text}' names unknown section '{'.'.join(parts[: i + 1])}'; "
                    f"valid: {', '.join(sorted(node)) if isinstance(node, dict) else '(none)'}"
                )
            node = node[part]
        if not isinstance(node, dict):
            raise ConfigError(f"override '{text}' goes inside a value that is not a section")
        node[parts[-1]] = value
    return ExperimentConfig.from_dict(d)
