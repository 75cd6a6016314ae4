"""One registry mechanism: names -> constructors (or data), for every kind of thing sciml names.

Configs and the CLI only ever name things; a registry turns a name into the object.
An unknown name raises :class:`~sciml.core.errors.UnknownNameError` listing close matches
and all valid names.

>>> from sciml.core.registry import Registry
>>> shapes = Registry("shape", listed=False)
>>> @shapes.register("square")
... def square(side: float) -> float:
...     return side * side
>>> shapes.get("square")(3.0)
9.0
>>> shapes.get("sqare")
Traceback (most recent call last):
...
sciml.core.errors.UnknownNameError: unknown shape 'sqare' (did you mean 'square'?); valid names: square

Families fill the registries when their module is imported. Which modules those are is
not written here: the core never names a family. On the first lookup the registries import

* the table of built-in families in :mod:`sciml.plugins` (``PLUGINS``), and
* every entry point of the group ``sciml.plugins`` (a third-party family declares
  ``[project.entry-points."sciml.plugins"] myfamily = "my_package.sciml_plugin"``).

A family whose import fails (an optional dependency missing) is recorded as unavailable
with its install hint; every other family still registers, and a lookup of a missing name
says which family is unavailable and what to install (:func:`unavailable_plugins`).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.metadata
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from sciml.core.errors import ConfigError, SciMLError, UnknownNameError

__all__ = [
    "Registry",
    "Plugin",
    "MODELS",
    "ESTIMATORS",
    "FORECASTERS",
    "OBJECTIVES",
    "TASKS",
    "GENERATORS",
    "METRICS",
    "OPTIMIZERS",
    "SCHEDULERS",
    "all_registries",
    "build_model",
    "load_plugins",
    "register_plugin",
    "unavailable_plugins",
]

T = TypeVar("T")

ENTRY_POINT_GROUP = "sciml.plugins"
_ALL: dict[str, Registry[Any]] = {}


class Registry(Generic[T]):
    """A mapping from names to constructors (or data), with helpful errors for unknown names.

    Parameters
    ----------
    kind : str
        What one entry is ("model", "generator", ...); used in messages.
    plural : str, optional
        The registry's name in ``sciml list`` (default ``kind + "s"``).
    listed : bool
        Whether ``sciml list`` shows it (``False`` for private registries, doctests).
    plugins : bool
        Whether a lookup first imports the families (:func:`load_plugins`). ``False`` for a
        registry that its own module fills completely (tableaus, SDE methods, regularizers).
    """

    def __init__(self, kind: str, plural: str | None = None, *, listed: bool = True, plugins: bool = True):
        self.kind = kind
        self._plugins = plugins
        self.plural = plural or f"{kind}s"
        self._items: dict[str, T] = {}
        self._docs: dict[str, str] = {}
        self._tags: dict[str, dict[str, Any]] = {}
        if listed:
            if self.plural in _ALL and _ALL[self.plural] is not self:
                # the same module imported under a second name (doctest collection) rebuilds its registry;
                # keep the first one, which holds the registrations
                return
            _ALL[self.plural] = self

    def register(self, name: str, obj: T | None = None, *, doc: str | None = None, **tags: Any):
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is omitted.

        ``tags`` declare properties of the entry that callers ask for by name (an optimizer's
        ``needs_closure=True``); :meth:`tags` returns them.
        """

        def add(o: T) -> T:
            prev = self._items.get(name)
            # the same definition imported twice (doctest collection imports modules under a second
            # name) replaces itself; a different object under a taken name is an error
            if prev is not None and prev is not o and _qualname(prev) != _qualname(o):
                raise SciMLError(f"{self.kind} '{name}' is registered twice; rename one of them")
            self._items[name] = o
            text = doc or _first_doc_line(o)
            self._docs[name] = text
            self._tags[name] = dict(tags)
            return o

        return add(obj) if obj is not None else add

    def get(self, name: str) -> T:
        """Return the object registered under ``name``."""
        self._load()
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise self.unknown(name) from None

    def unknown(self, name: Any) -> UnknownNameError:
        """The error for a name that is not registered: close matches, the valid names, unavailable families."""
        close = difflib.get_close_matches(str(name), list(self._items), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        valid = ", ".join(sorted(self._items)) or "(none registered)"
        missing = "".join(
            f"; family '{p.name}' is unavailable ({p.error}): {p.install}" for p in _UNAVAILABLE.values()
        )
        return UnknownNameError(f"unknown {self.kind} '{name}'{hint}; valid names: {valid}{missing}")

    __getitem__ = get

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Look up ``name`` and call it with the given arguments."""
        return self.get(name)(*args, **kwargs)  # type: ignore[operator]

    def _load(self) -> None:
        if self._plugins:
            load_plugins()

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._items[n]) for n in self.names()]

    def values(self) -> list[T]:
        return [self._items[n] for n in self.names()]

    def describe(self, name: str) -> str:
        return self._docs.get(name, "")

    def tags(self, name: str) -> dict[str, Any]:
        """The properties declared when ``name`` was registered (``{}`` if none)."""
        self.get(name)
        return dict(self._tags.get(name, {}))

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._items)} entries)"


def _qualname(obj: Any) -> Any:
    return getattr(obj, "__qualname__", None) or getattr(obj, "name", None) or id(obj)


def _first_doc_line(obj: Any) -> str:
    text = getattr(obj, "__doc__", None) if callable(obj) or isinstance(obj, type) else None
    if not text:
        text = getattr(obj, "description", "") or ""
    text = str(text).strip()
    return text.splitlines()[0] if text else ""


MODELS: Registry[Callable[..., Any]] = Registry("model")
ESTIMATORS: Registry[Callable[..., Any]] = Registry("estimator")
FORECASTERS: Registry[Callable[..., Any]] = Registry("forecaster")
OBJECTIVES: Registry[Callable[..., Any]] = Registry("objective")
TASKS: Registry[Callable[..., Any]] = Registry("task")
GENERATORS: Registry[Callable[..., Any]] = Registry("generator")
METRICS: Registry[Callable[..., Any]] = Registry("metric")
OPTIMIZERS: Registry[Callable[..., Any]] = Registry("optimizer")
SCHEDULERS: Registry[Callable[..., Any]] = Registry("scheduler")


# ----------------------------------------------------------------------------- plugins


@dataclasses.dataclass(frozen=True)
class Plugin:
    """A family (or any module) whose import fills registries.

    Parameters
    ----------
    name : str
        The family's name in messages (``operators``, ``nde``, ...).
    module : str
        The module to import.
    install : str
        What to run when its import fails (``pip install torchsde``).
    """

    name: str
    module: str
    install: str = "reinstall sciml (pip install -e .)"


@dataclasses.dataclass(frozen=True)
class _Failure:
    name: str
    module: str
    error: str
    install: str


_EXTRA: list[Plugin] = []
_UNAVAILABLE: dict[str, _Failure] = {}
_state = {"loaded": False, "loading": False}


def register_plugin(plugin: Plugin) -> None:
    """Add a family at run time (besides ``sciml.plugins`` and the entry points); imported on the next lookup."""
    _EXTRA.append(plugin)
    if _state["loaded"]:
        _import_plugin(plugin)


def _builtin_plugins() -> list[Plugin]:
    try:
        table = importlib.import_module("sciml.plugins")
    except ImportError:  # the core used without the package's plugin table
        return []
    return list(getattr(table, "PLUGINS", ()))


def _entry_point_plugins() -> list[Plugin]:
    plugins = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        install = f"pip install {dist.name}" if dist is not None else f"install the package that provides {ep.value}"
        plugins.append(Plugin(name=ep.name, module=ep.value.split(":")[0], install=install))
    return plugins


def _import_plugin(plugin: Plugin) -> None:
    try:
        importlib.import_module(plugin.module)
    except ImportError as exc:
        # an optional dependency of this family is missing: its names are unavailable, the rest work
        _UNAVAILABLE[plugin.name] = _Failure(plugin.name, plugin.module, str(exc).splitlines()[0], plugin.install)


def load_plugins() -> None:
    """Import every family once (built-in table, entry points, :func:`register_plugin`)."""
    if _state["loaded"] or _state["loading"]:
        return
    _state["loading"] = True
    try:
        for plugin in [*_builtin_plugins(), *_entry_point_plugins(), *_EXTRA]:
            _import_plugin(plugin)
        _state["loaded"] = True
    finally:
        _state["loading"] = False


def unavailable_plugins() -> dict[str, dict[str, str]]:
    """Families whose import failed: ``{name: {"module", "error", "install"}}``."""
    load_plugins()
    return {n: {"module": f.module, "error": f.error, "install": f.install} for n, f in _UNAVAILABLE.items()}


def all_registries() -> dict[str, Registry[Any]]:
    """Every listed registry by its plural name, for ``sciml list``."""
    load_plugins()
    return dict(sorted(_ALL.items()))


def build_model(name: str, kwargs: dict[str, Any]) -> Any:
    """``MODELS.get(name)(**kwargs)``, with a one-line error for wrong arguments."""
    ctor = MODELS.get(name)
    try:
        return ctor(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"model '{name}' rejected its arguments ({exc}); fix model.kwargs in the config") from None
