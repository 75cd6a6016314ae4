"""Batched right-hand sides against dysts' own rhs called per sample."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.systems import batched_delay_rhs, batched_rhs, list_systems, load_system
from sciml.systems._rhs import _BATCHED_TRANSCRIPTIONS

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

EPS = np.finfo(np.float64).eps


def test_vectorized_and_loop_paths_agree_for_every_system():
    """Every flow's batched rhs equals dysts' rhs called per sample, and all 129 are
    vectorized: 124 by broadcasting dysts' own rhs, 5 by the sciml transcriptions."""
    rng = np.random.default_rng(0)
    implementations = {}
    for name in list_systems(include_delay=False):
        system = load_system(name)
        fast = batched_rhs(system)
        slow = batched_rhs(system, force_loop=True)
        ic = np.asarray(system.ic, dtype=np.float64)
        y = ic[None, :] * (1 + 0.02 * rng.standard_normal((6, ic.size))) + 0.01 * rng.standard_normal((6, ic.size))
        t = rng.uniform(0, 2, 6)
        with np.errstate(all="ignore"):
            reference = slow(t, y)
            # the same formulas in another evaluation order (numpy reductions, matrix products):
            # a few hundred ulps of the largest component at most; 1024 eps of the scale
            scale = np.abs(reference).max(axis=1, keepdims=True)
            np.testing.assert_allclose(fast(t, y), reference, rtol=0, atol=1024 * EPS * scale.max(), err_msg=name)
        assert fast.path == "vectorized", (name, fast.reason)
        implementations[name] = fast.implementation
    transcribed = sorted(n for n, impl in implementations.items() if impl == "sciml")
    assert transcribed == ["BeerRNN", "BelousovZhabotinsky", "BickleyJet", "InteriorSquirmer", "MacArthur"]


def test_transcriptions_match_dysts_off_the_probe():
    """The five batched transcriptions against dysts per sample, far from the catalogue
    state (a wider spread than the acceptance probe; BelousovZhabotinsky's max(0, x)
    branch on both sides; the squirmer's clock across several switching periods)."""
    rng = np.random.default_rng(3)
    for name, transcription in _BATCHED_TRANSCRIPTIONS.items():
        system = load_system(name)
        ic = np.asarray(system.ic, dtype=np.float64)
        y = ic[None, :] * (1 + 0.5 * rng.standard_normal((64, ic.size))) + 0.1 * rng.standard_normal((64, ic.size))
        if name == "BelousovZhabotinsky":
            y[::2, 0] = -np.abs(y[::2, 0])
        if name == "InteriorSquirmer":
            y[:, 0] = rng.uniform(0.05, 0.95, 64)
            y[:, 2] = rng.uniform(0, 12, 64)
        t = rng.uniform(0, 5, 64)
        fast = transcription(system)(t, y)
        slow = batched_rhs(system, force_loop=True)(t, y)
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12 * np.abs(slow).max(), err_msg=name)


def test_batched_rhs_takes_names():
    by_name = batched_rhs("Lorenz")
    y = np.array([[1.0, 2.0, 3.0]])
    # sigma (y - x), x (rho - z) - y, x y - beta z with the catalogue parameters: exact in float64
    np.testing.assert_array_equal(by_name(np.zeros(1), y), [[10.0, 1.0 * (28 - 3) - 2, 2.0 - 2.667 * 3]])
    assert batched_delay_rhs("MackeyGlass").path == "vectorized"
