"""The dysts catalogue: names, systems, metadata, initial conditions, coordinate maps."""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError
from sciml.core.registry import Registry

__all__ = [
    "list_systems",
    "is_delay",
    "load_system",
    "system_metadata",
    "dominant_period",
    "initial_conditions",
    "postprocess",
    "check_name",
]


def _dysts():
    try:
        with warnings.catch_warnings():
            # dysts warns at import when numba is missing; we do not need numba
            warnings.simplefilter("ignore")
            import dysts.flows as flows
            from dysts.base import DATAPATH_CONTINUOUS
    except ImportError:  # pragma: no cover - dysts is a pinned dependency
        raise ConfigError("sciml.systems needs the 'dysts' package: pip install dysts==0.96") from None
    return flows, DATAPATH_CONTINUOUS


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, Any]]:
    _, path = _dysts()
    with open(path) as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _names() -> Registry[dict[str, Any]]:
    # a private registry (not in `sciml list`), so that an unknown name gets the registries' message
    registry: Registry[dict[str, Any]] = Registry("chaotic system", plural="systems", listed=False, plugins=False)
    for name, entry in _catalogue().items():
        registry.register(name, entry, doc=str(entry.get("description", "")))
    return registry


def check_name(name: str) -> None:
    """Raise a one-line :class:`~sciml.core.errors.UnknownNameError` (close matches, valid names) for an unknown system."""
    _names().get(name)


def list_systems(include_delay: bool = True) -> list[str]:
    """Names of the continuous-time systems of the dysts catalogue, sorted.

    Parameters
    ----------
    include_delay : bool
        Also list the six delay differential equations; ``False`` lists the 129 ordinary flows.

    >>> len(list_systems()), len(list_systems(include_delay=False))
    (135, 129)
    """
    cat = _catalogue()
    return sorted(k for k, v in cat.items() if include_delay or not v.get("delay", False))


def is_delay(name: str) -> bool:
    """Whether ``name`` is one of the catalogue's delay differential equations.

    >>> is_delay("MackeyGlass"), is_delay("Lorenz")
    (True, False)
    """
    check_name(name)
    return bool(_catalogue()[name].get("delay", False))


def load_system(name: str):
    """A ``dysts.flows`` instance of ``name`` with its catalogue parameters; unknown -> one-line error.

    A delay system is a ``dysts.base.DynSysDelay`` (no ``rhs``; see
    :func:`sciml.systems.batched_delay_rhs`).
    """
    check_name(name)
    flows, _ = _dysts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(flows, name)()


def system_metadata(name: str) -> dict[str, Any]:
    """Catalogue entry of ``name``: parameters, initial_conditions, dt, period,
    maximum_lyapunov_estimated, embedding_dimension, ... (a copy of dysts' JSON)."""
    check_name(name)
    return json.loads(json.dumps(_catalogue()[name]))


def dominant_period(name: str) -> float:
    """The catalogue's dominant period of ``name`` (time units), the natural time scale of sampling.

    >>> round(dominant_period("Lorenz"), 4)
    1.5008
    """
    check_name(name)
    return float(_catalogue()[name]["period"])


def _sample_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0xC4A05]))


def initial_conditions(system, first: int, count: int, *, seed: int = 0, perturbation: float = 0.01) -> np.ndarray:
    """Perturbed catalogue initial conditions for samples ``first .. first+count-1``.

    ``ic + perturbation * s * z`` with ``z ~ N(0, 1)`` per component, ``s`` the
    catalogue standard deviation of the component (or ``max(|ic|, 1)`` when unknown);
    sample ``i`` depends only on ``(seed, i)``.

    Parameters
    ----------
    system : dysts.base.DynSys or str
        A system (:func:`load_system`) or its name.
    first, count : int
        The sample indices.
    seed : int
    perturbation : float
        Relative size, in catalogue standard deviations.

    Returns
    -------
    ndarray ``[count, D]`` float64
    """
    if isinstance(system, str):
        system = load_system(system)
    ic = np.asarray(system.ic, dtype=np.float64).reshape(-1)
    std = np.asarray(getattr(system, "std", np.ones_like(ic)), dtype=np.float64).reshape(-1)
    if std.shape != ic.shape or not np.all(np.isfinite(std)) or np.any(std <= 0):
        std = np.maximum(np.abs(ic), 1.0)
    unbounded = set(getattr(system, "unbounded_indices", []) or [])
    scale = np.array([max(abs(ic[j]), 1.0) if j in unbounded else std[j] for j in range(ic.size)])
    z = np.stack([_sample_rng(seed, i).standard_normal(ic.size) for i in range(first, first + count)])
    return ic[None, :] + perturbation * scale[None, :] * z


def postprocess(system, x: np.ndarray) -> np.ndarray:
    """dysts' coordinate maps for unbounded variables (phases -> cos), on ``x [B, T, D]``.

    The identity for systems without such variables.
    """
    post = getattr(system, "_postprocessing", None)
    if post is None:
        return x
    parts = post(*np.moveaxis(x, -1, 0))
    return np.stack([np.broadcast_to(np.asarray(p, dtype=np.float64), x.shape[:-1]) for p in parts], axis=-1)
