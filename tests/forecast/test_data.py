"""The benchmark's data: windows in time of one generator trajectory, noise on what the model sees, bad input."""

import numpy as np
import pytest

from sciml.core.errors import ConfigError, ShapeError, UnknownNameError
from sciml.data import load_trajectories
from sciml.data.generators.chaos import chaos
from sciml.forecast import SETTINGS, chaos_data
from sciml.systems import dominant_period, lyapunov_time


def test_windows_are_consecutive_pieces_of_one_generator_trajectory(tmp_path):
    data = chaos_data(
        "Lorenz", points_per_period=20, train_periods=3, val_periods=1, test_periods=2, context=30, seed=4
    )
    chaos(tmp_path / "l.h5", n=1, seed=4, system="Lorenz", n_periods=6, points_per_period=20)
    x = load_trajectories(tmp_path / "l.h5", split=None).x[0]
    np.testing.assert_array_equal(np.concatenate([data.train[0], data.val[0], data.test[0]]), x[:120])
    np.testing.assert_array_equal(data.context[0], x[50:80])  # the 30 states before the test window
    assert data.dt == dominant_period("Lorenz") / 20
    assert data.lyapunov_time == lyapunov_time("Lorenz") and data.lyapunov_max == pytest.approx(1 / data.lyapunov_time)
    np.testing.assert_allclose(data.scale, data.train[0].std(axis=0), rtol=1e-14)


def test_noise_is_on_what_the_model_sees_and_the_truth_stays_clean():
    kw = dict(points_per_period=20, train_periods=4, val_periods=1, test_periods=1, seed=1)
    clean, noisy = chaos_data("Lorenz", **kw), chaos_data("Lorenz", noise=0.05, **kw)
    np.testing.assert_array_equal(noisy.test, clean.test)
    added = noisy.train - clean.train
    std = np.concatenate([clean.train, clean.val, clean.test], axis=1)[0].std(axis=0)
    # 80 samples per dimension: the noise's sample std is 0.05 std within 4 / sqrt(2 * 80) of itself
    np.testing.assert_allclose(added[0].std(axis=0) / std, 0.05, rtol=4 / np.sqrt(160))
    assert np.abs(noisy.context - clean.context).max() > 0


def test_the_data_limited_setting_trains_on_fewer_periods():
    rich = chaos_data("Rossler", **{**SETTINGS["rich"], "points_per_period": 10})
    limited = chaos_data("Rossler", **{**SETTINGS["limited"], "points_per_period": 10})
    assert limited.train.shape[1] < rich.train.shape[1] and limited.test.shape == rich.test.shape


def test_the_test_window_holds_the_lyapunov_times_asked_for_up_to_its_cap():
    from sciml.systems import dominant_period, lyapunov_time

    base = dict(points_per_period=10, train_periods=2, val_periods=1, test_periods=1)
    # Rossler: one period is 0.42 Lyapunov times, so 5 Lyapunov times need 11.9 periods
    long = chaos_data("Rossler", **base, test_lyapunov_times=5.0)
    periods = 5.0 * lyapunov_time("Rossler") / dominant_period("Rossler")
    assert long.test.shape[1] == round(periods * 10) and long.test.shape[1] * long.dt / long.lyapunov_time >= 5.0 - 0.1
    assert long.settings["test_periods"] == pytest.approx(periods)
    capped = chaos_data("Rossler", **base, test_lyapunov_times=5.0, max_test_periods=4.0)
    assert capped.test.shape[1] == 40
    # a window already longer than asked is kept; the training and context windows do not move
    short = chaos_data("Rossler", **base, test_lyapunov_times=0.1)
    assert short.test.shape[1] == 10
    np.testing.assert_array_equal(long.train, short.train)
    np.testing.assert_array_equal(long.context, short.context)
    # the in-process cache hands out fresh arrays: changing one does not change the next call's
    long.train[:] = 0.0
    assert np.abs(chaos_data("Rossler", **base, test_lyapunov_times=5.0).train).max() > 0


def test_bad_input_is_one_line():
    with pytest.raises(UnknownNameError, match="did you mean 'Lorenz'") as info:
        chaos_data("Lorentz")
    assert "\n" not in str(info.value)
    data = chaos_data("Lorenz", points_per_period=10, train_periods=2, val_periods=1, test_periods=1)
    with pytest.raises(ShapeError, match="horizon 11 is longer than the test window of Lorenz .10 steps") as info:
        data.check_horizon(11)
    assert "\n" not in str(info.value) and data.check_horizon(10) == 10
    with pytest.raises(ConfigError, match="context=40"):
        chaos_data("Lorenz", points_per_period=10, train_periods=2, val_periods=1, test_periods=1, context=40)
    with pytest.raises(ConfigError, match="test_lyapunov_times=-1"):
        chaos_data("Lorenz", points_per_period=10, train_periods=2, test_lyapunov_times=-1)
    with pytest.raises(ConfigError, match="max_test_periods=0.5"):
        chaos_data("Lorenz", points_per_period=10, train_periods=2, test_periods=1, test_lyapunov_times=5, max_test_periods=0.5)
