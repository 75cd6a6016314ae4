"""The table of built-in families: importing each module fills the registries.

The core (:mod:`sciml.core.registry`) reads this table on the first registry lookup, so a
new family is added here (or, outside this package, through an entry point of the group
``sciml.plugins``) and no file of the core changes. A family whose import fails is reported
as unavailable with ``install``; the others still register.
"""

from __future__ import annotations

from sciml.core.registry import Plugin

__all__ = ["PLUGINS"]

PLUGINS: tuple[Plugin, ...] = (
    Plugin("core", "sciml.core.builtins"),
    Plugin("numerics", "sciml.numerics"),
    Plugin("generators", "sciml.data.generators", install="pip install h5py scikit-learn dysts"),
    Plugin("operators", "sciml.operators", install="pip install neuraloperator"),
    Plugin("nde", "sciml.nde", install="pip install torchdiffeq torchsde"),
    Plugin("koopman", "sciml.koopman"),
    Plugin("pinn", "sciml.pinn", install="pip install sympy"),
    Plugin("forecast", "sciml.forecast"),
)
