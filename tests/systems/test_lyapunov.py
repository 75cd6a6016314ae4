"""Lyapunov estimators and the stored references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sciml.core.errors import ConfigError, UnknownNameError
from sciml.systems import (
    LyapunovSettings,
    convergence_check,
    list_systems,
    lyapunov_delay,
    lyapunov_flow,
    lyapunov_reference,
    lyapunov_time,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# y' = A y, A upper triangular with eigenvalues 0.5, -0.2, -1 (non-normal: the growth of a
# vector is not the eigenvalue at first); lambda_max = 0.5 exactly
LINEAR = np.array([[0.5, 2.0, -1.0], [0.0, -0.2, 3.0], [0.0, 0.0, -1.0]])
FAST = LyapunovSettings(members=4, length_periods=10, settle_periods=0, align_periods=10)


def _linear(t, y):
    return y @ LINEAR.T


@pytest.mark.parametrize("method", ["two-trajectory", "tangent"])
def test_linear_flow_has_its_largest_eigenvalue(method):
    """Both methods recover lambda_max = 0.5 of a linear flow. After 10 time units of alignment the
    other directions are down by e^(-0.7 * 10) ~ 1e-3, which biases log |v| by about that over 20
    counted time units: 1e-4 in lambda; the integration at rtol 1e-9 adds far less."""
    x0 = np.random.default_rng(0).standard_normal((4, 3)) * 1e-3
    result = lyapunov_flow(
        _linear, x0, period=1.0, settings=FAST, method=method, jvp=lambda t, x, v: v @ LINEAR.T, name="linear"
    )
    assert result["complete"] and result["failed_members"] == {}
    assert abs(result["estimate_2L"] - 0.5) < 1e-3, result["estimate_2L"]
    assert abs(result["estimate_L"] - 0.5) < 2e-3, result["estimate_L"]
    # every member sees the same linear map: the spread is the alignment residue only
    assert result["standard_error_2L"] < 1e-3
    check = convergence_check(result)
    assert check["converged"] and check["reason"] == ""


def test_delay_estimator_is_positive_on_ikeda():
    """IkedaDelay is strongly chaotic (catalogue 0.45 per unit time): a short run is clearly positive."""
    result = lyapunov_delay("IkedaDelay", LyapunovSettings(members=8, length_periods=10, settle_periods=5))
    assert result["complete"] and 0.2 < result["estimate"] < 0.8, result["estimate"]


def test_convergence_check_band():
    base = {"complete": True, "settings": {"length_periods": 10.0, "members": 3}, "period": 1.0}
    agree = {**base, "estimate_L": 1.0, "estimate_2L": 1.02, "standard_error_L": 0.01, "standard_error_2L": 0.01}
    agree |= {"_members_L": np.array([1.0, 1.0, 1.0]), "_members_2L": np.array([1.02, 1.02, 1.02])}
    check = convergence_check(agree)
    # band = max(3 * 0 (identical member differences), 0.05 * 1.02, 1 / 20) = 0.051
    assert check["converged"] and check["band"] == pytest.approx(0.051)
    apart = {**agree, "estimate_L": 1.2, "_members_L": np.array([1.2, 1.2, 1.2])}
    check = convergence_check(apart)
    assert not check["converged"] and "exceeds the band" in check["reason"]
    unfinished = convergence_check({"complete": False, "time_limited": True, "cpu_seconds": 99.0, **base})
    assert not unfinished["converged"] and "time limit" in unfinished["reason"]


def test_bad_estimator_arguments():
    with pytest.raises(ConfigError, match="members"):
        LyapunovSettings(members=1)
    with pytest.raises(ConfigError, match="jvp"):
        lyapunov_flow(_linear, np.ones((2, 3)), period=1.0, method="tangent")
    with pytest.raises(ConfigError, match="delay equation"):
        lyapunov_delay("Lorenz")


# ----------------------------------------------------------------------------- stored references


def test_references_present_for_all_135_with_settings_and_check():
    names = list_systems()
    assert len(names) == 135
    for name in names:
        entry = lyapunov_reference(name)
        assert entry["system"] == name
        assert isinstance(entry["converged"], bool)
        assert entry["settings"]["members"] >= 2 and entry["settings"]["length_periods"] > 0
        assert entry["catalogue"]["label"].startswith("catalogue")
        if entry["converged"]:
            assert entry["reason"] == "" and math.isfinite(entry["lyapunov_max"])
            check = entry["check"]
            assert abs(check["estimate_L"] - check["estimate_2L"]) <= check["band"]
            assert entry["lyapunov_max"] == check["estimate_2L"] and entry["standard_error"] > 0
        else:
            assert entry["reason"], name  # never silently dropped: the reason is stored


def test_lorenz_and_rossler_references_match_the_literature():
    """Literature: Lorenz 0.9056, Rossler (a = b = 0.2, c = 5.7) 0.0714."""
    lorenz, rossler = lyapunov_reference("Lorenz"), lyapunov_reference("Rossler")
    assert lorenz["converged"] and rossler["converged"]
    assert abs(lorenz["lyapunov_max"] - 0.90) <= 0.02, lorenz["lyapunov_max"]
    assert abs(rossler["lyapunov_max"] - 0.071) <= 0.006, rossler["lyapunov_max"]
    assert lorenz["standard_error"] < 0.005 and rossler["standard_error"] < 0.002
    assert lyapunov_time("Lorenz") == pytest.approx(1.0 / lorenz["lyapunov_max"])


def test_reference_of_an_unknown_system():
    with pytest.raises(UnknownNameError, match="Lorenz"):
        lyapunov_reference("Lorentz")
