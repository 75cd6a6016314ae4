"""The catalogue: names, delay flags, metadata, periods, initial conditions, unknown names."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.core.errors import UnknownNameError
from sciml.systems import (
    dominant_period,
    initial_conditions,
    is_delay,
    list_systems,
    load_system,
    system_metadata,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DELAY_SYSTEMS = ["IkedaDelay", "MackeyGlass", "PiecewiseCircuit", "ScrollDelay", "SprottDelay", "VossDelay"]


def test_catalogue_lists_all_systems():
    assert len(list_systems()) == 135
    assert len(list_systems(include_delay=False)) == 129
    assert sorted(n for n in list_systems() if is_delay(n)) == DELAY_SYSTEMS
    assert list_systems() == sorted(list_systems())


def test_metadata_is_a_copy_and_periods_come_from_it():
    meta = system_metadata("Lorenz")
    assert meta["parameters"] == {"beta": 2.667, "rho": 28, "sigma": 10}
    meta["period"] = -1.0
    assert system_metadata("Lorenz")["period"] == dominant_period("Lorenz") == pytest.approx(1.5008)
    assert all(dominant_period(n) > 0 for n in list_systems())


def test_initial_conditions_depend_only_on_seed_and_index():
    system = load_system("Lorenz")
    batch = initial_conditions(system, 0, 5, seed=3)
    later = initial_conditions("Lorenz", 2, 2, seed=3)
    np.testing.assert_array_equal(batch[2:4], later)  # same numbers, same process
    assert not np.array_equal(initial_conditions(system, 0, 5, seed=4), batch)
    ic = np.asarray(system.ic)
    std = np.asarray(system_metadata("Lorenz")["std"])
    # perturbation 0.01 catalogue std per component: within 5 sigma of the catalogue IC
    assert np.all(np.abs(batch - ic) <= 5 * 0.01 * std)


@pytest.mark.parametrize("call", [load_system, system_metadata, is_delay, dominant_period])
def test_unknown_names_list_close_matches_on_one_line(call):
    with pytest.raises(UnknownNameError, match="'Lorenz'") as info:
        call("Lorentz")
    message = str(info.value)
    assert "\n" not in message and "chaotic system 'Lorentz'" in message and "Rossler" in message
