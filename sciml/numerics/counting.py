"""The one evaluation counter of the integrators.

:class:`CountingField` wraps a vector field (or an SDE coefficient) and counts its calls,
optionally recording the time of each. :func:`~sciml.numerics.odeint`,
:func:`~sciml.numerics.sdeint`, the NDE regularizers and the NeuralODE's torchdiffeq
backends all count with it; where torchdiffeq's adjoint needs an ``nn.Module`` (to find
the field's parameters), the module in :mod:`sciml.nde` holds one of these and delegates
to it.

>>> field = CountingField(lambda t, y: -y, record_times=True)
>>> _ = field(0.5, 2.0); _ = field(1.0, 3.0)
>>> field.count, field.times
(2, [0.5, 1.0])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["CountingField"]


class CountingField:
    """Counts the evaluations of ``func(t, y)`` and, while ``recording``, their times.

    Parameters
    ----------
    func : callable ``(t, y) -> dy/dt``
        Any callable of two arguments; its result is returned unchanged.
    record_times : bool
        Append ``float(t)`` to :attr:`times` on every call while :attr:`recording` is true
        (a tensor ``t`` is detached first).

    Attributes
    ----------
    count : int
        Calls so far.
    times : list of float
        The recorded times (empty unless ``record_times``).
    recording : bool
        Whether times are being recorded; set it to ``False`` to stop (the count goes on).
    """

    def __init__(self, func: Callable[[Any, Any], Any], *, record_times: bool = False):
        self.func = func
        self.count = 0
        self.recording = bool(record_times)
        self.times: list[float] = []

    def __call__(self, t: Any, y: Any) -> Any:
        self.count += 1
        if self.recording:
            self.times.append(float(t.detach() if hasattr(t, "detach") else t))
        return self.func(t, y)
