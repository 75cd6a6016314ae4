"""The one step-size controller of the adaptive integrators, and its named settings.

An embedded pair gives, for every attempted step of size ``h``, a scaled error estimate
EEst (accept when ``EEst <= 1``). The next step size is ``h * factor``, with

* after an accepted step (Gustafsson's PI controller in the form of Hairer & Wanner,
  *Solving ODEs II*, IV.2 eq. (2.43c); with ``integral = 0`` the plain I controller)::

      factor = safety * max(EEst_n, error_floor) ** (-proportional / k)
                      * EEst_{n-1} ** (integral / k)
      factor = clip(factor, factor_min, factor_max)
      factor = min(1, factor)          if the step before was rejected (no_growth_after_rejection)

  where ``EEst_{n-1} = max(EEst of the previous accepted step, previous_floor)`` (1 before
  the first) and ``k`` is the caller's order exponent (``error_order + 1`` for an RK pair);

* after a rejected step::

      factor = max(factor_min, safety * EEst_n ** (-rejection / k))   (factor_min if EEst_n is not finite)

Every integrator of :mod:`sciml.numerics` uses this rule with one of the settings below,
which are each caller's constants as they were when the controllers were separate, so the
step sequences are bitwise what they were. The rule is evaluated in two arithmetics:
:meth:`StepSizeController.accept_factor` / :meth:`~StepSizeController.reject_factor` on
Python floats (:func:`~sciml.numerics.odeint`, :func:`~sciml.numerics.sdeint`, one state
at a time) and :meth:`~StepSizeController.accept_factors` /
:meth:`~StepSizeController.reject_factors` on numpy arrays, one entry per trajectory
(:func:`~sciml.numerics.integrate_batch`).

>>> RK_PI.accept_factor(1.0, 5) == 0.9, RK_PI.reject_factor(float("nan"), 5)
(True, 0.2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["StepSizeController", "RK_PI", "SDE_DAMPED_I", "DOPRI5_BATCHED_I"]


@dataclass(frozen=True)
class StepSizeController:
    """Step-size factors from the scaled error estimate EEst (see the module docstring).

    Attributes
    ----------
    name : str
        What the setting is, for provenance records.
    safety : float
        Multiplies every factor (0.9 for all callers), in (0, 1].
    factor_min, factor_max : float
        Bounds of the factor, ``0 < factor_min < 1 < factor_max``.
    proportional : float
        Exponent of ``EEst_n`` after an acceptance, divided by the order exponent ``k``.
    integral : float
        Exponent of the remembered ``EEst_{n-1}`` after an acceptance, divided by ``k``;
        0 is the I controller.
    rejection : float
        Exponent of ``EEst_n`` after a rejection, divided by ``k``.
    error_floor : float
        Lower bound of ``EEst_n`` before the power after an acceptance (an exact step would
        otherwise give an infinite factor; ``factor_max`` clips it anyway).
    previous_floor : float
        Lower bound of the remembered ``EEst_{n-1}`` (Hairer's 1e-4).
    no_growth_after_rejection : bool
        Cap the factor at 1 right after a rejected step (Hairer's DOPRI5, scipy's RK45).
    """

    name: str
    safety: float = 0.9
    factor_min: float = 0.2
    factor_max: float = 10.0
    proportional: float = 1.0
    integral: float = 0.0
    rejection: float = 1.0
    error_floor: float = 1e-10
    previous_floor: float = 1e-4
    no_growth_after_rejection: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.safety <= 1:
            raise ValueError(f"StepSizeController {self.name}: safety must be in (0, 1], got {self.safety}")
        if not 0 < self.factor_min < 1 < self.factor_max:
            raise ValueError(
                f"StepSizeController {self.name}: need 0 < factor_min < 1 < factor_max, "
                f"got {self.factor_min}, {self.factor_max}"
            )
        if not (self.proportional > 0 and self.rejection > 0 and self.integral >= 0):
            raise ValueError(f"StepSizeController {self.name}: exponents must be positive (integral >= 0)")
        if not (self.error_floor > 0 and self.previous_floor > 0):
            raise ValueError(f"StepSizeController {self.name}: error_floor and previous_floor must be positive")

    # ------------------------------------------------------------------ Python floats

    def accept_factor(self, error: float, k: float, previous: float = 1.0, rejected_last: bool = False) -> float:
        """The factor after an accepted step with EEst ``error`` (floats).

        Parameters
        ----------
        error : float
            EEst of the accepted step (<= 1).
        k : float
            Order exponent (``error_order + 1`` for an RK pair).
        previous : float
            The remembered EEst of the previous accepted step (see :meth:`remember`).
        rejected_last : bool
            Whether the attempt before this one was rejected.
        """
        factor = self.safety * max(error, self.error_floor) ** (-self.proportional / k)
        if self.integral:
            factor = factor * previous ** (self.integral / k)
        factor = min(self.factor_max, max(self.factor_min, factor))
        if rejected_last and self.no_growth_after_rejection:
            factor = min(1.0, factor)
        return factor

    def reject_factor(self, error: float, k: float) -> float:
        """The factor after a rejected step with EEst ``error`` (floats; NaN and inf give ``factor_min``)."""
        if not math.isfinite(error):
            return self.factor_min
        return max(self.factor_min, self.safety * error ** (-self.rejection / k))

    def remember(self, error: float) -> float:
        """The value of ``EEst_{n-1}`` to keep after accepting a step with EEst ``error``."""
        return max(error, self.previous_floor)

    # ------------------------------------------------------------------ numpy arrays

    def accept_factors(self, error: np.ndarray, k: float, rejected_last: np.ndarray | None = None) -> np.ndarray:
        """:meth:`accept_factor` per entry of ``error [B]`` (I controllers only: ``integral == 0``)."""
        if self.integral:
            raise ValueError(f"StepSizeController {self.name}: the array form has no integral term")
        factor = self.safety * np.maximum(error, self.error_floor) ** (-self.proportional / k)
        factor = np.minimum(self.factor_max, np.maximum(self.factor_min, factor))
        if rejected_last is not None and self.no_growth_after_rejection:
            factor = np.where(rejected_last, np.minimum(1.0, factor), factor)
        return factor

    def reject_factors(self, error: np.ndarray, k: float) -> np.ndarray:
        """:meth:`reject_factor` per entry of ``error [B]``."""
        finite = np.isfinite(error)
        factor = self.safety * np.where(finite, error, 1.0) ** (-self.rejection / k)
        return np.where(finite, np.maximum(self.factor_min, factor), self.factor_min)


RK_PI = StepSizeController(
    name="PI (Gustafsson; Hairer-Wanner II, IV.2 eq. 2.43c), safety 0.9, factor in [0.2, 10]",
    proportional=0.7,
    integral=0.4,
)
""":func:`~sciml.numerics.odeint`: ``0.9 EEst_n^(-0.7/k) EEst_{n-1}^(0.4/k)``, ``k = error_order + 1``;
a rejected step is retried with the I controller ``0.9 EEst^(-1/k)``."""

SDE_DAMPED_I = StepSizeController(
    name="damped I, 0.9 EEst^(-1/2), factor in [0.2, 2]",
    factor_max=2.0,
    proportional=0.5,
    rejection=0.5,
)
""":func:`~sciml.numerics.sdeint` (called with ``k = 1``): the Milstein/Euler-Maruyama error estimate
scales like ``h`` and carries the chi-square noise of ``dW^2 / h``, so the I exponent is damped
to 1/2 and growth is clipped at 2 (torchsde clips at 1.4)."""

DOPRI5_BATCHED_I = StepSizeController(
    name="I (scipy RK45 / Hairer DOPRI5), safety 0.9, factor in [0.2, 10]",
    error_floor=1e-300,
)
""":func:`~sciml.numerics.integrate_batch` (``k = 5``): scipy's ``RK45`` rule, ``0.9 EEst^(-1/5)``,
per trajectory."""
