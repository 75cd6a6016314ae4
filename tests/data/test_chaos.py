"""The chaos generator: files, determinism, provenance, postprocessing, errors."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.core.errors import ConfigError, DataError, UnknownNameError
from sciml.data.generators.chaos import chaos
from sciml.data.schema import validate
from sciml.systems import system_metadata

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_generator_writes_trajectories_and_is_deterministic(tmp_path):
    kwargs = dict(n=3, seed=7, batch_size=2, system="Lorenz", n_periods=2, points_per_period=20, burn_in_periods=1)
    sha1 = chaos(tmp_path / "a.h5", **kwargs)
    sha2 = chaos(tmp_path / "b.h5", **kwargs)
    assert sha1 == sha2
    assert chaos(tmp_path / "c.h5", **{**kwargs, "seed": 8}) != sha1
    info = validate(tmp_path / "a.h5")
    assert info.kind == "trajectories" and info.n_samples == 3
    assert info.shapes["x"] == (3, 40, 3)
    meta = system_metadata("Lorenz")
    assert info.attrs["system"] == "Lorenz"
    assert info.attrs["dominant_period"] == pytest.approx(meta["period"])
    assert info.attrs["lyapunov_max"] == pytest.approx(meta["maximum_lyapunov_estimated"])
    assert info.attrs["dt"] == pytest.approx(meta["period"] / 20)
    assert '"rhs_evaluation": "vectorized"' in info.attrs["solver"]


def test_postprocessing_applied_to_phase_systems(tmp_path):
    chaos(tmp_path / "d.h5", n=2, system="Duffing", n_periods=1, points_per_period=10, burn_in_periods=0.5)
    import h5py

    with h5py.File(tmp_path / "d.h5") as f:
        phase = f["x"][:, :, 2]
    assert np.all(np.abs(phase) <= 1.0)  # cos of the phase, as dysts stores it


def test_unknown_system_lists_close_matches(tmp_path):
    with pytest.raises(UnknownNameError, match="Lorenz") as info:
        chaos(tmp_path / "x.h5", n=1, system="Lorentz")
    assert "\n" not in str(info.value)


def test_bad_parameters_and_blow_up(tmp_path):
    with pytest.raises(ConfigError, match="points_per_period"):
        chaos(tmp_path / "x.h5", n=1, points_per_period=1)
    # a trajectory that cannot be integrated is named by its sample index (one line)
    with pytest.raises(DataError, match="trajectory 0") as info:
        chaos(tmp_path / "y.h5", n=2, system="Lorenz", n_periods=1, burn_in_periods=0, perturbation=1e300)
    assert "\n" not in str(info.value)
