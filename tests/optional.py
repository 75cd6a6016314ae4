"""Registered names whose optional peer library is not installed: parametrized as stated skips.

A peer adapter (``peer_library`` set, e.g. ``darts_nbeats``) is registered whether or not its
library is installed; the conformance suites run it where the ``peers`` extra is installed and
skip it with the reason where it is not (``make test`` installs only ``.[test]``).
"""

from __future__ import annotations

import importlib.util

import pytest


def missing_peer(cls: type) -> str | None:
    """The skip reason if ``cls`` needs a peer library that does not import here, else None."""
    library = getattr(cls, "peer_library", None)
    if library is None:
        return None
    try:
        found = importlib.util.find_spec(library) is not None
    except (ImportError, ValueError):
        found = False
    return None if found else f"{cls.__name__} needs the optional peer {library}: pip install 'sciml[peers]'"


def names_with_peer_skips(registry, names) -> list:
    """``names`` as pytest params, a name whose peer is missing marked as a skip with the reason."""
    params = []
    for name in names:
        reason = missing_peer(registry.get(name))
        params.append(pytest.param(name, marks=pytest.mark.skip(reason=reason)) if reason else name)
    return params


def installed(registry, names) -> list[str]:
    """The names whose peer library (if any) is installed."""
    return [name for name in names if missing_peer(registry.get(name)) is None]
