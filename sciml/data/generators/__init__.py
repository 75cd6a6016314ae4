"""Registered data generators.

A generator is a function registered in :data:`sciml.core.registry.GENERATORS` with the
signature::

    generator(path, *, n, seed=0, device="cpu", batch_size=..., progress=False, **params) -> str

It integrates ``n`` samples in batches with torch (on ``device``), streams them into an
HDF5 file of the sciml schema through :class:`~sciml.data.schema.FieldsWriter` or
:class:`~sciml.data.schema.TrajectoriesWriter`, and returns the file's ``content_sha256``.
Parameters are keyword-only with defaults, so :func:`generate` can list the valid ones.
"""

from __future__ import annotations

import difflib
import inspect
import os
from typing import Any

from sciml.core.errors import ConfigError
from sciml.core.registry import GENERATORS
from sciml.data.generators import advection as _advection  # noqa: F401  (registers advection_diffusion1d)
from sciml.data.generators import burgers as _burgers  # noqa: F401  (registers burgers1d)
from sciml.data.generators import chaos as _chaos  # noqa: F401  (registers chaos)
from sciml.data.generators import darcy as _darcy  # noqa: F401  (registers darcy2d)
from sciml.data.generators import digits as _digits  # noqa: F401  (registers digits)
from sciml.data.generators import kdv as _kdv  # noqa: F401  (registers kdv1d)
from sciml.data.generators import kuramoto_sivashinsky as _kuramoto_sivashinsky  # noqa: F401  (registers kuramoto_sivashinsky1d)
from sciml.data.generators import linear as _linear  # noqa: F401  (registers linear_ode)
from sciml.data.generators import navier_stokes as _navier_stokes  # noqa: F401  (registers navier_stokes2d)
from sciml.data.generators import oscillators as _oscillators  # noqa: F401  (registers oscillators)
from sciml.data.generators import reaction_diffusion as _reaction_diffusion  # noqa: F401  (registers reaction_diffusion1d)
from sciml.data.generators import spiral_sde as _spiral_sde  # noqa: F401  (registers spiral_sde)

__all__ = ["generate", "generator_parameters"]

_COMMON = ("n", "seed", "device", "batch_size", "progress")


def generator_parameters(name: str) -> dict[str, Any]:
    """Keyword parameters of a registered generator with their defaults."""
    fn = GENERATORS.get(name)
    sig = inspect.signature(fn)
    return {
        k: (None if p.default is inspect.Parameter.empty else p.default)
        for k, p in sig.parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def generate(name: str, path: str | os.PathLike[str], **kwargs: Any) -> str:
    """Run generator ``name`` into ``path``; unknown parameters give a one-line error.

    Returns the written file's ``content_sha256``.
    """
    valid = generator_parameters(name)
    for key in kwargs:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(
                f"generator '{name}' has no parameter '{key}'{hint}; valid parameters: {', '.join(valid)}"
            )
        _check_type(name, key, kwargs[key], valid[key])
    return GENERATORS.get(name)(path, **kwargs)


def _check_type(name: str, key: str, value: Any, default: Any) -> None:
    """A parameter's value must have its default's type (an int where an int is, a number where a float is)."""
    if default is None or isinstance(default, (tuple, list, dict)):
        return
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, kind = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    else:
        return
    if not ok:
        raise ConfigError(
            f"generator '{name}' parameter {key} expects {kind} (default {default!r}), got {value!r}; "
            f"e.g. {key}={default!r}"
        )
