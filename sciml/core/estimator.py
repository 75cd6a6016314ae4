"""The estimator seam: models fitted in closed form or by their own solver (scikit-learn habit).

DMD, EDMD, ResDMD, SINDy, reservoir computers and symbolic regression are fitted by one
call to :meth:`AbstractEstimator.fit` instead of a gradient-descent loop. Every estimator

* stores each constructor argument under its own name (:meth:`~AbstractEstimator.get_params`
  reads them from the ``__init__`` signature; :meth:`~AbstractEstimator.set_params` changes them),
* keeps what it learns in public attributes whose names end in ``_`` (``eigenvalues_``),
* raises :class:`NotFittedError` when a method needing learned state runs before ``fit``,
* reports ``evaluate(data) -> dict[str, float]`` (the metrics ``sciml eval`` prints),
* saves itself to a directory that :func:`load_estimator` rebuilds without the code that
  created it (the registered name and parameters are in the JSON, the arrays in ``.npz``).

Estimators register in :data:`sciml.core.registry.ESTIMATORS` with :func:`register_estimator`.

Saved format (``format = "sciml.estimator"``, ``format_version = 1``): a directory with

``estimator.json``
    ``format``, ``format_version``, ``estimator`` (registered name), ``class`` (import path,
    informative only), ``params`` (:meth:`~AbstractEstimator.get_params`), ``environment``
    (sciml/torch/numpy/python versions, :func:`sciml.core.io.environment`), ``training_data``
    (``content_sha256``, ``path``, ``split`` and counts of the data ``fit`` saw; ``null``
    for in-memory data without a file), ``scalars`` (learned int/float/bool/str/None
    attributes; non-finite floats as JSON ``NaN``/``Infinity``), ``arrays`` (name ->
    ``{"shape", "dtype", "numpy_scalar"}`` of every learned array),
    ``arrays_sha256`` (SHA-256 of ``arrays.npz``, so a mixed-up or torn pair is detected),
    ``created_utc``.
``arrays.npz``
    Every learned array under its attribute name, dtype kept (float64, complex128, ...),
    read back with ``allow_pickle=False``.

Both files are written atomically, the arrays first and the JSON last.

Examples
--------
>>> import numpy as np
>>> class Mean(AbstractEstimator):
...     '''Predicts the mean of the training rows.'''
...     def __init__(self, shift: float = 0.0):
...         self.shift = shift
...     def fit(self, data):
...         self.mean_ = np.asarray(data, dtype=np.float64).mean(axis=0) + self.shift
...         return self
...     def predict(self, x):
...         self.check_fitted()
...         return np.broadcast_to(self.mean_, np.shape(x)).copy()
...     def evaluate(self, data):
...         return {"mse": float(((self.predict(data) - data) ** 2).mean())}
>>> est = Mean(shift=1.0)
>>> est.get_params()
{'shift': 1.0}
>>> est.predict(np.zeros((1, 2)))
Traceback (most recent call last):
...
sciml.core.estimator.NotFittedError: Mean is not fitted; call fit(data) first or load a saved estimator
>>> est.fit(np.array([[0.0, 2.0], [2.0, 4.0]])).mean_.tolist()
[2.0, 4.0]
>>> est.set_params(shfit=2.0)
Traceback (most recent call last):
...
sciml.core.errors.ConfigError: Mean has no parameter 'shfit' (did you mean 'shift'?); valid parameters: shift
"""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import inspect
import json
import math
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sciml.core.errors import ConfigError, DataError, SciMLError, ShapeError
from sciml.core.io import atomic_path, environment
from sciml.core.registry import ESTIMATORS

__all__ = [
    "AbstractEstimator",
    "NotFittedError",
    "register_estimator",
    "build_estimator",
    "load_estimator",
    "as_float64_array",
    "check_context",
    "FORMAT",
    "FORMAT_VERSION",
]

FORMAT = "sciml.estimator"
FORMAT_VERSION = 1
JSON_NAME = "estimator.json"
ARRAYS_NAME = "arrays.npz"
_SCALARS = (bool, int, float, str, type(None))


class NotFittedError(SciMLError, RuntimeError):
    """A method that needs learned state was called before ``fit``."""


class AbstractEstimator:
    """Base class of estimators fitted by one call to :meth:`fit`.

    Subclasses take only named constructor arguments (no ``*args``/``**kwargs``), store
    each one unchanged under its own name, validate them in :meth:`_check_params` and keep
    learned state in public attributes ending in ``_``. Learned attributes are numpy
    arrays (saved in ``arrays.npz``) or int/float/bool/str/None scalars (saved in the JSON).

    Attributes
    ----------
    registered_name : str or None
        The name in :data:`~sciml.core.registry.ESTIMATORS` (set by :func:`register_estimator`);
        :meth:`save` records it and :func:`load_estimator` looks it up.
    data_kind : str
        The sciml file kind ``fit`` reads (``"trajectories"``, ...): what a task passes.
    """

    registered_name: ClassVar[str | None] = None
    data_kind: ClassVar[str] = "trajectories"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, p in _init_parameters(cls).items():
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise SciMLError(f"{cls.__name__}.__init__ takes *{name}; estimators name every parameter explicitly")
            if name.endswith("_") or name.startswith("_"):
                raise SciMLError(
                    f"{cls.__name__}.__init__ parameter '{name}' starts or ends with '_', which marks learned or "
                    "private state; rename it"
                )
        # a registered parent's name is not the subclass's name
        if "registered_name" not in cls.__dict__:
            cls.registered_name = None

    # ------------------------------------------------------------------ parameters
    @classmethod
    def param_names(cls) -> list[str]:
        """Names of the constructor parameters, in signature order."""
        return list(_init_parameters(cls))

    def get_params(self) -> dict[str, Any]:
        """Every constructor argument under its own name: ``type(self)(**get_params())`` is a fresh copy."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> AbstractEstimator:
        """Change parameters; an unknown name or a bad value raises a one-line ConfigError.

        A changed value discards the learned state (the arrays no longer match the
        parameters): call :meth:`fit` again.
        """
        valid = self.param_names()
        for key in params:
            if key not in valid:
                raise ConfigError(_unknown_param(type(self).__name__, key, valid))
        old = self.get_params()
        for key, value in params.items():
            setattr(self, key, value)
        try:
            self._check_params()
        except BaseException:
            for key, value in old.items():
                setattr(self, key, value)
            raise
        if any(_changed(old[k], v) for k, v in params.items()):
            self._reset()
        return self

    def _check_params(self) -> None:
        """Raise a one-line ConfigError for an invalid parameter value (subclasses override)."""

    # ------------------------------------------------------------------ learned state
    def learned_state(self) -> dict[str, Any]:
        """The learned attributes (public names ending in ``_``), by name."""
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :func:`load_estimator`) has set the learned state."""
        return bool(self.learned_state())

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` (one line) unless the estimator is fitted."""
        if not self.is_fitted:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted; call fit(data) first or load a saved estimator"
            )

    def _reset(self) -> None:
        for key in list(self.learned_state()):
            delattr(self, key)
        self._training_data = None

    @property
    def training_data(self) -> dict[str, Any] | None:
        """What :meth:`fit` saw: ``content_sha256``, ``path``, ``split`` and counts (None if unknown)."""
        return getattr(self, "_training_data", None)

    def _record_training_data(self, data: Any, **counts: Any) -> None:
        """Remember the training data's identity (call from :meth:`fit`); reads attributes only."""
        sha = getattr(data, "content_sha256", None)
        path = getattr(data, "path", None)
        split = getattr(data, "split", None)
        self._training_data = {
            "content_sha256": None if sha is None else str(sha),
            "path": None if path is None else str(path),
            "split": None if split is None else str(split),
            **counts,
        }

    # ------------------------------------------------------------------ the protocol
    def fit(self, data: Any) -> AbstractEstimator:
        """Learn from ``data``; returns ``self``."""
        raise NotImplementedError  # AbstractEstimator: subclasses implement it

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """The estimator's prediction (its shape is documented by the subclass)."""
        raise NotImplementedError  # AbstractEstimator: subclasses implement it

    def evaluate(self, data: Any) -> dict[str, float]:
        """Metrics on ``data`` (the values ``sciml eval`` prints)."""
        raise NotImplementedError  # AbstractEstimator: subclasses implement it

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ save / load
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``estimator.json`` and ``arrays.npz`` into ``directory`` (created), atomically.

        Returns the directory. See the module docstring for the format.
        """
        self.check_fitted()
        name = type(self).registered_name
        if name is None:
            raise SciMLError(
                f"{type(self).__name__} is not registered; decorate it with @register_estimator('name') to save it"
            )
        params = self.get_params()
        if _json_roundtrip(params) != params:
            raise ConfigError(
                f"{type(self).__name__} parameters {params} do not survive JSON; use numbers, strings, lists and dicts"
            )
        arrays: dict[str, np.ndarray] = {}
        scalars: dict[str, Any] = {}
        learned = self.learned_state()
        for key, value in learned.items():
            if type(value) in _SCALARS:  # exactly a Python scalar (np.float64 stays an array)
                scalars[key] = value
            elif isinstance(value, (np.ndarray, np.generic)):
                if value.dtype == object:
                    raise SciMLError(f"learned attribute '{key}' is an object array; store numeric arrays only")
                arrays[key] = np.asarray(value)
            else:
                raise SciMLError(
                    f"learned attribute '{key}' of type {type(value).__name__} cannot be saved; "
                    "store numpy arrays or int/float/bool/str scalars"
                )
        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise DataError(f"{out} exists and is not a directory; choose a directory to save the estimator in")
        with atomic_path(out / ARRAYS_NAME, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
            digest = _sha256(tmp)
        env = environment()
        env["numpy"] = np.__version__
        record = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "estimator": name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": params,
            "environment": env,
            "training_data": self.training_data,
            "scalars": scalars,
            "arrays": {
                k: {"shape": list(v.shape), "dtype": v.dtype.str, "numpy_scalar": isinstance(learned[k], np.generic)}
                for k, v in arrays.items()
            },
            "arrays_sha256": digest,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        with atomic_path(out / JSON_NAME) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        return out


def register_estimator(name: str, *, doc: str | None = None):
    """Class decorator: register an :class:`AbstractEstimator` subclass in ``ESTIMATORS`` as ``name``."""

    def add(cls: type[AbstractEstimator]) -> type[AbstractEstimator]:
        if not (isinstance(cls, type) and issubclass(cls, AbstractEstimator)):
            raise SciMLError(f"register_estimator('{name}') decorates AbstractEstimator subclasses only")
        cls.registered_name = name
        ESTIMATORS.register(name, cls, doc=doc)
        return cls

    return add


def build_estimator(name: str, params: Mapping[str, Any] | None = None) -> AbstractEstimator:
    """``ESTIMATORS[name](**params)`` with one-line errors for unknown names and parameters.

    >>> build_estimator("dmd", {"rank": 2})
    DMD(rank=2)
    >>> build_estimator("dmd", {"rnak": 2})
    Traceback (most recent call last):
    ...
    sciml.core.errors.ConfigError: DMD has no parameter 'rnak' (did you mean 'rank'?); valid parameters: rank
    """
    cls = ESTIMATORS.get(name)
    params = dict(params or {})
    valid = list(_init_parameters(cls))
    for key in params:
        if key not in valid:
            raise ConfigError(_unknown_param(cls.__name__, key, valid))
    return cls(**params)


def load_estimator(directory: str | os.PathLike[str]) -> AbstractEstimator:
    """Rebuild a saved estimator from ``directory`` (written by :meth:`AbstractEstimator.save`).

    The class comes from the registered name through ``ESTIMATORS``; a missing, corrupt,
    truncated or mismatched file raises a one-line :class:`~sciml.core.errors.DataError`.
    """
    d = Path(directory)
    meta_path, arrays_path = d / JSON_NAME, d / ARRAYS_NAME
    if not meta_path.is_file():
        raise DataError(f"no saved estimator in {d} ({JSON_NAME} is missing); save one with estimator.save(directory)")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{meta_path} is corrupt or truncated ({_short(exc)}); save the estimator again") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{meta_path} is not a sciml estimator file (format is not '{FORMAT}'); pass a saved estimator")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{meta_path} has format_version {meta.get('format_version')!r}, this sciml reads {FORMAT_VERSION}; "
            "save the estimator again with this version"
        )
    for key in ("estimator", "params", "scalars", "arrays", "arrays_sha256"):
        if key not in meta:
            raise DataError(f"{meta_path} lacks '{key}'; the file is incomplete: save the estimator again")
    if not arrays_path.is_file():
        raise DataError(f"{arrays_path} is missing; copy it with {JSON_NAME} or save the estimator again")
    if _sha256(arrays_path) != meta["arrays_sha256"]:
        raise DataError(
            f"{arrays_path} does not match {JSON_NAME} (SHA-256 differs: corrupt, truncated or from another save); "
            "save the estimator again"
        )
    try:
        estimator = build_estimator(meta["estimator"], meta["params"])
    except ConfigError as exc:
        raise DataError(f"{meta_path}: {exc}") from None
    try:
        with np.load(arrays_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"{arrays_path} is corrupt or truncated ({_short(exc)}); save the estimator again") from None
    declared = meta["arrays"]
    if set(arrays) != set(declared):
        raise DataError(
            f"{arrays_path} holds {sorted(arrays)} but {JSON_NAME} lists {sorted(declared)}; save the estimator again"
        )
    for key, spec in declared.items():
        arr = arrays[key]
        if list(arr.shape) != list(spec.get("shape", [])) or arr.dtype.str != spec.get("dtype"):
            raise DataError(
                f"{arrays_path}: '{key}' is {arr.dtype.str} {list(arr.shape)}, {JSON_NAME} says "
                f"{spec.get('dtype')} {spec.get('shape')}; save the estimator again"
            )
        setattr(estimator, key, arr[()] if spec.get("numpy_scalar") else arr)
    for key, value in meta["scalars"].items():
        setattr(estimator, key, value)
    estimator._training_data = meta.get("training_data")
    return estimator


def as_float64_array(x: Any, name: str, ndims: tuple[int, ...], *, what: str = "") -> np.ndarray:
    """``x`` as a float64 numpy array, with one-line errors for the wrong rank or non-finite values.

    Parameters
    ----------
    x : array-like
    name : str
        The argument's name in messages (``"x"``, ``"snapshots"``).
    ndims : tuple of int
        Accepted numbers of axes.
    what : str
        The expected layout in messages (``"[N, T, D] or [T, D]"``).

    Returns
    -------
    ndarray, float64 (a copy only when a conversion is needed)

    >>> as_float64_array([[1, 2]], "x", (2,)).dtype
    dtype('float64')
    >>> as_float64_array([1.0, float("nan")], "x", (1,))
    Traceback (most recent call last):
    ...
    sciml.core.errors.DataError: x holds 1 non-finite value (NaN/inf), the first at index (1,); clean or drop those samples
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"{name} is not a numeric array ({_short(exc)}); pass a float array {what}".strip()) from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"{name} has dtype {arr.dtype}; pass a real float array {what}".strip())
    if arr.ndim not in ndims:
        layout = what or " or ".join(f"{n}-D" for n in ndims)
        raise ShapeError(f"{name} has shape {tuple(arr.shape)}; expected {layout}")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)
        raise DataError(
            f"{name} holds {len(bad)} non-finite value{'s' if len(bad) > 1 else ''} (NaN/inf), the first at index "
            f"{tuple(int(i) for i in bad[0])}; clean or drop those samples"
        )
    return arr


# ----------------------------------------------------------------------------- helpers


def _init_parameters(cls: type) -> dict[str, inspect.Parameter]:
    init = cls.__init__
    if init is object.__init__:
        return {}
    params = dict(inspect.signature(init).parameters)
    params.pop("self", None)
    return params


def _unknown_param(owner: str, key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(str(key), valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{owner} has no parameter '{key}'{hint}; valid parameters: {', '.join(valid) or '(none)'}"


def _changed(old: Any, new: Any) -> bool:
    try:
        return bool(old != new) and not (
            isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new)
        )
    except (TypeError, ValueError):  # arrays compare elementwise
        return True


def _json_roundtrip(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return _Unequal()


class _Unequal:
    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def check_context(context: Any, horizon: int, *, min_context: int, dim: int | None, owner: str) -> tuple[np.ndarray, bool]:
    """``context`` as float64 ``[B, C, D]`` and whether it came unbatched, with one-line errors.

    The checks of the forecast protocol (``forecast(context, horizon)``: a context of
    ``[C, D]`` or ``[B, C, D]`` states, at least ``min_context`` of them, of the fitted
    dimension), shared by the forecasters and the Koopman estimators.

    >>> ctx, single = check_context(np.zeros((5, 3)), 2, min_context=2, dim=3, owner="AR")
    >>> ctx.shape, single
    ((1, 5, 3), True)
    >>> check_context(np.zeros((1, 3)), 2, min_context=2, dim=3, owner="AR")
    Traceback (most recent call last):
    ...
    sciml.core.errors.ShapeError: AR needs a context of at least 2 states, got 1; pass more history
    """
    if not isinstance(horizon, (int, np.integer)) or isinstance(horizon, bool) or horizon < 1:
        raise ShapeError(f"{owner} horizon={horizon!r} is invalid; pass an int >= 1")
    arr = as_float64_array(context, "context", (2, 3), what="[C, D] or [B, C, D]")
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.shape[1] < min_context:
        raise ShapeError(
            f"{owner} needs a context of at least {min_context} states, got {arr.shape[1]}; pass more history"
        )
    if dim is not None and arr.shape[2] != dim:
        raise ShapeError(f"{owner} was fitted on {dim}-dimensional states, the context has {arr.shape[2]}")
    return arr, single
