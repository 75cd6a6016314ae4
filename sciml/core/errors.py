"""Error types of sciml.

Every error a user can cause derives from :class:`SciMLError`. Its message is one line
that names the problem and the fix; the CLI prints it to stderr and exits with code 2.
"""

from __future__ import annotations

__all__ = [
    "SciMLError",
    "ConfigError",
    "DataError",
    "ShapeError",
    "TrainingDivergedError",
    "UnknownNameError",
]


class SciMLError(Exception):
    """Base class of errors caused by input (files, configs, names, data)."""

    def __init__(self, message: str):
        # one line, always: multi-line messages are hard to grep in logs
        super().__init__(" ".join(str(message).split()))


class ConfigError(SciMLError, ValueError):
    """A configuration value, override or file is malformed or has the wrong type."""


class DataError(SciMLError, ValueError):
    """A data file is missing, corrupt, of the wrong schema, or holds non-finite values."""


class ShapeError(SciMLError, ValueError):
    """Shapes of data and model do not fit together."""


class UnknownNameError(SciMLError, KeyError):
    """A name was looked up in a registry that does not hold it."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return self.args[0]


class TrainingDivergedError(SciMLError, RuntimeError):
    """The loss became NaN or infinite during training."""
