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
    return GENERATORS.get(name)(path, **kwargs)
