"""Typed experiment configs: dataclasses loaded from YAML/TOML/JSON, overridden from the CLI.

>>> cfg = ExperimentConfig.from_dict({"data": {"path": "d.h5"}, "model": {"name": "fno"}})
>>> cfg = apply_overrides(cfg, ["train.epochs=3", "model.kwargs.n_modes=[8]", "optimizer.lr=3e-3"])
>>> cfg.train.epochs, cfg.model.kwargs, cfg.optimizer.kwargs
(3, {'n_modes': [8]}, {'lr': 0.003, 'weight_decay': 0.0001})
>>> apply_overrides(cfg, ["train.epochs=three"])
Traceback (most recent call last):
...
sciml.core.errors.ConfigError: config field 'train.epochs' expects int, got 'three' (str); fix the value in the config file or the override
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from sciml.core.errors import ConfigError

__all__ = [
    "ComponentConfig",
    "DataConfig",
    "ModelConfig",
    "ObjectiveConfig",
    "OptimizerConfig",
    "SchedulerConfig",
    "PhaseConfig",
    "TrainConfig",
    "ExperimentConfig",
    "load_config",
    "apply_overrides",
    "parse_override",
    "config_from_dict",
]

# "A registered name plus its arguments" has one shape everywhere: {name: ..., kwargs: {...}}
# (model, objective, optimizer, scheduler, a phase's optimizer, a regularizer inside an objective's
# kwargs, an estimator inside a task's section).


@dataclass
class ComponentConfig:
    """A registered name and its keyword arguments: the one shape of every named part of a config."""

    name: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Which file and which samples (a task that samples its own points, a PINN's, needs no file).

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
    """A registered model and its arguments (sizes are inferred from the data when absent)."""

    name: str = "fno"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class ObjectiveConfig:
    """A registered objective and its arguments."""

    name: str = "supervised"
    kwargs: dict[str, Any] = field(default_factory=dict)


_OPTIMIZER_DEFAULTS: dict[str, dict[str, float]] = {"*": {"lr": 1e-3, "weight_decay": 1e-4}, "lbfgs": {"lr": 1.0}}


@dataclass
class OptimizerConfig:
    """A registered optimizer and its arguments (``lr``, ``weight_decay``, ...).

    Missing ``lr`` / ``weight_decay`` take the optimizer's defaults: ``lr=1e-3,
    weight_decay=1e-4`` for the gradient methods, ``lr=1.0`` (and no weight decay) for
    ``lbfgs``, whose line search scales the step.
    """

    name: str = "adamw"
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.kwargs = {**_OPTIMIZER_DEFAULTS.get(self.name, _OPTIMIZER_DEFAULTS["*"]), **self.kwargs}
        for key in ("lr", "weight_decay"):
            value = self.kwargs.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(
                    f"config field 'optimizer.kwargs.{key}' expects float, got {value!r} ({type(value).__name__}); "
                    "fix the value in the config file or the override"
                )
            if value < 0 or (key == "lr" and value == 0):
                raise ConfigError(
                    f"config field 'optimizer.kwargs.{key}' must be {'positive' if key == 'lr' else '>= 0'}, "
                    f"got {value!r}; e.g. optimizer.lr=1e-3"
                )
            self.kwargs[key] = float(value)


@dataclass
class SchedulerConfig:
    """A registered learning-rate scheduler and its arguments; ``none`` for a constant rate."""

    name: str = "cosine"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class PhaseConfig:
    """One optimizer phase of a run: its optimizer (and scheduler) for ``steps`` optimizer steps."""

    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    steps: int = 0
    scheduler: Union[SchedulerConfig, None] = None  # noqa: UP007 - resolved at run time on Python 3.10


@dataclass
class TrainConfig:
    """How the Trainer runs: budget, batches, device, checkpoints.

    ``max_steps`` bounds the run in optimizer steps beside ``epochs``; ``eval_every``
    validates, checkpoints and steps the scheduler every that many steps instead of once per
    epoch. ``phases`` (e.g. Adam then L-BFGS) replace the top-level ``optimizer``/``scheduler``.
    """

    epochs: int = 20
    max_steps: Union[int, None] = None  # noqa: UP007
    eval_every: Union[int, None] = None  # noqa: UP007
    phases: list[PhaseConfig] = field(default_factory=list)
    batch_size: int = 32
    eval_batch_size: int = 64
    grad_clip: Union[float, None] = None  # noqa: UP007
    device: str = "cpu"
    seed: int = 0
    metrics: list[str] = field(default_factory=lambda: ["relative_l2", "nrmse"])
    checkpoint_every: int = 1
    early_stopping_patience: Union[int, None] = None  # noqa: UP007
    run_dir: str = "runs/experiment"
    progress: Union[bool, None] = None  # noqa: UP007
    num_workers: int = 0
    # under torchrun: "data" shards every global batch over the ranks; "patches" gives every
    # rank the whole batch and spreads a patched operator's (mgtfno) patches over the ranks
    parallel: str = "data"


_FIXED_SECTIONS = ("task", "data", "model", "objective", "optimizer", "scheduler", "train")


@dataclass
class ExperimentConfig:
    """Everything ``sciml train`` needs.

    ``task`` names a registered task (``sciml list tasks``); empty picks the task that
    declares itself the default for ``data.kind``. A task may declare a config section of
    its own (a dataclass); it appears here under the task's name in ``sections`` and in
    files and overrides as a top-level key (``pinn.n_points=4096``).
    """

    task: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sections: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExperimentConfig:
        return config_from_dict(d)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: dataclasses.asdict(getattr(self, f.name)) if f.name != "task" else self.task
               for f in dataclasses.fields(self) if f.name != "sections"}
        for name, section in self.sections.items():
            out[name] = dataclasses.asdict(section) if dataclasses.is_dataclass(section) else dict(section)
        return out

    def section(self, name: str) -> Any:
        """The typed section of task ``name`` (its defaults when the config file has none)."""
        return self.sections[name]


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
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown config field '{where}'{hint}; valid fields: {', '.join(sorted(names))}")
        kwargs[key] = _coerce(value, hints[key], where)
    for f in dataclasses.fields(cls):
        # a mapping with defaults (the optimizer's lr and weight_decay) is completed, not replaced
        if f.name in kwargs and isinstance(kwargs[f.name], dict) and f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
            if isinstance(default, dict) and default:
                kwargs[f.name] = {**default, **kwargs[f.name]}
    return cls(**kwargs)


# ----------------------------------------------------------------------------- experiment configs

# keys of the first config shape (before tasks): read so that older files and checkpoints still load
_LEGACY_OPTIMIZER_KEYS = ("lr", "weight_decay")


def _component(value: Any, where: str) -> Any:
    """``{name, k: v, ...}`` (the first shape) -> ``{name, kwargs: {k: v, ...}}``."""
    if not isinstance(value, dict):
        return value
    flat = {k: v for k, v in value.items() if k not in ("name", "kwargs")}
    if not flat:
        return value
    kwargs = value.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ConfigError(f"config field '{where}.kwargs' must be a mapping; fix the config file")
    out = {"kwargs": {**flat, **kwargs}}
    if "name" in value:
        out["name"] = value["name"]
    return out


def _migrate(d: dict[str, Any]) -> dict[str, Any]:
    """Read the first config shape: ``optimizer.lr``, ``train.objective`` with flat keys, ``regularizer_kwargs``."""
    d = copy.deepcopy(d)
    opt = d.get("optimizer")
    if isinstance(opt, dict) and any(k in opt for k in _LEGACY_OPTIMIZER_KEYS):
        d["optimizer"] = _component(opt, "optimizer")
    train = d.get("train")
    if isinstance(train, dict) and "objective" in train:
        if "objective" in d:
            raise ConfigError("the objective is given twice (train.objective and objective); keep the top-level one")
        d["objective"] = train.pop("objective")
    if isinstance(d.get("objective"), dict):
        obj = _component(d["objective"], "objective")
        kwargs = obj.get("kwargs")
        if isinstance(kwargs, dict) and "regularizer_kwargs" in kwargs:
            reg_kwargs = kwargs.pop("regularizer_kwargs") or {}
            reg = kwargs.get("regularizer")
            if isinstance(reg, str):
                kwargs["regularizer"] = {"name": reg, "kwargs": reg_kwargs}
        d["objective"] = obj
    return d


def _task_section(task: str) -> type | None:
    from sciml.core.registry import TASKS

    return getattr(TASKS.get(task), "section", None) if task else None


def resolve_task(task: str, data_kind: str) -> str:
    """The task's registered name: ``task`` itself, or the task that declares itself the default for ``data_kind``."""
    from sciml.core.registry import TASKS

    if task:
        TASKS.get(task)  # an unknown name is a one-line error listing the tasks
        return task
    defaults = [n for n, t in TASKS.items() if data_kind in getattr(t, "default_for", ())]
    if len(defaults) == 1:
        return defaults[0]
    if not defaults:
        raise ConfigError(
            f"no task is registered for data.kind '{data_kind}'; set task: NAME (tasks: {', '.join(TASKS.names())})"
        )
    raise ConfigError(f"several tasks take data.kind '{data_kind}' ({', '.join(defaults)}); set task: NAME")


def config_from_dict(d: dict[str, Any]) -> ExperimentConfig:
    """An :class:`ExperimentConfig` from a mapping: fixed sections typed, the task's own section typed by its dataclass.

    A key that is neither a fixed section nor the section of this config's task is a
    one-line :class:`~sciml.core.errors.ConfigError` naming it and, when another task
    declares it, that task.
    """
    if not isinstance(d, dict):
        raise ConfigError(f"a config must be a mapping of sections, got {type(d).__name__}")
    d = _migrate(d)
    fixed = {k: v for k, v in d.items() if k in _FIXED_SECTIONS}
    extra = {k: v for k, v in d.items() if k not in _FIXED_SECTIONS}
    cfg = _from_dict(ExperimentConfig, fixed, "")
    task = cfg.task = resolve_task(cfg.task, cfg.data.kind)
    section = _task_section(task)
    for key, value in extra.items():
        if key == task and section is not None:
            cfg.sections[key] = _coerce(value, section, key)
            continue
        owner = _task_section(key) if _is_task(key) else None
        if owner is not None:
            raise ConfigError(
                f"config section '{key}' belongs to task '{key}' but this config's task is '{task}'; "
                f"set task: {key} or remove the section"
            )
        valid = [*_FIXED_SECTIONS, *([task] if section is not None else [])]
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"unknown config section '{key}'{hint}; valid sections: {', '.join(valid)}")
    if section is not None and task not in cfg.sections:
        cfg.sections[task] = section()
    return cfg


def _is_task(name: str) -> bool:
    from sciml.core.registry import TASKS

    return name in TASKS


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
    cfg = config_from_dict(raw)
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


_OVERRIDE_ALIASES = {("optimizer", "lr"): ["optimizer", "kwargs", "lr"],
                     ("optimizer", "weight_decay"): ["optimizer", "kwargs", "weight_decay"]}


def apply_overrides(cfg: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Return a new config with each ``key.sub=value`` applied and type-checked.

    ``optimizer.lr`` and ``optimizer.weight_decay`` are short for ``optimizer.kwargs.lr`` and
    ``optimizer.kwargs.weight_decay``. Inside ``kwargs`` and ``options`` new keys may be added.
    """
    d = cfg.to_dict()
    for text in overrides:
        parts, value = parse_override(text)
        parts = _OVERRIDE_ALIASES.get(tuple(parts), parts)
        if len(parts) > 1 and parts[0] not in d and _is_task(parts[0]) and _task_section(parts[0]) is not None:
            d[parts[0]] = {}  # the section of a task chosen by an earlier override (task=NAME)
        node = d
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node:
                if isinstance(node, dict) and i > 0 and parts[i - 1] in ("kwargs", "options"):
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
    return config_from_dict(d)
