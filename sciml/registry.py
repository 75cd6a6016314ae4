"""Explicit registries: names -> constructors.

Configs and the CLI only ever name things; a registry turns a name into the object.
An unknown name raises :class:`~sciml.errors.UnknownNameError` listing close matches
and all valid names.

>>> from sciml.registry import Registry
>>> shapes = Registry("shapes")
>>> @shapes.register("square")
... def square(side: float) -> float:
...     return side * side
>>> shapes.get("square")(3.0)
9.0
>>> shapes.get("sqare")
Traceback (most recent call last):
...
sciml.errors.UnknownNameError: unknown shapes 'sqare' (did you mean 'square'?); valid names: square
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from sciml.errors import SciMLError, UnknownNameError

__all__ = ["Registry", "MODELS", "OBJECTIVES", "GENERATORS", "METRICS", "all_registries"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to constructors, with helpful errors for unknown names.

    Parameters
    ----------
    kind : str
        What the registry holds ("models", "generators", ...); used in messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._docs: dict[str, str] = {}

    def register(self, name: str, obj: T | None = None, *, doc: str | None = None):
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is omitted."""

        def add(o: T) -> T:
            prev = self._items.get(name)
            # the same definition imported twice (doctest collection imports modules under a second
            # name) replaces itself; a different object under a taken name is an error
            if prev is not None and prev is not o and getattr(prev, "__qualname__", None) != getattr(o, "__qualname__", ""):
                raise SciMLError(f"{self.kind} '{name}' is registered twice; rename one of them")
            self._items[name] = o
            text = doc or (getattr(o, "__doc__", None) or "").strip()
            self._docs[name] = text.splitlines()[0] if text else ""
            return o

        return add(obj) if obj is not None else add

    def get(self, name: str) -> T:
        """Return the object registered under ``name``."""
        _import_builtin_plugins()
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self._items, n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            valid = ", ".join(sorted(self._items)) or "(none registered)"
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'{hint}; valid names: {valid}"
            ) from None

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Look up ``name`` and call it with the given arguments."""
        return self.get(name)(*args, **kwargs)  # type: ignore[operator]

    def names(self) -> list[str]:
        _import_builtin_plugins()
        return sorted(self._items)

    def describe(self, name: str) -> str:
        return self._docs.get(name, "")

    def __contains__(self, name: object) -> bool:
        _import_builtin_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._items)} entries)"


MODELS: Registry[Callable[..., Any]] = Registry("model")
OBJECTIVES: Registry[Callable[..., Any]] = Registry("objective")
GENERATORS: Registry[Callable[..., Any]] = Registry("generator")
METRICS: Registry[Callable[..., Any]] = Registry("metric")

_REGISTRIES = {"models": MODELS, "objectives": OBJECTIVES, "generators": GENERATORS, "metrics": METRICS}

# Modules whose import fills the registries. Imported lazily on first lookup so that
# `import sciml.registry` stays cheap and free of import cycles.
_PLUGIN_MODULES = (
    "sciml.training.objectives",
    "sciml.training.metrics",
    "sciml.operators",
    "sciml.data.generators",
    "sciml.nde",
)
_plugins_loaded = False


def _import_builtin_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import importlib

    for module in _PLUGIN_MODULES:
        importlib.import_module(module)


def all_registries() -> dict[str, Registry[Any]]:
    """Every named registry, for ``sciml list``."""
    _import_builtin_plugins()
    return dict(_REGISTRIES)
