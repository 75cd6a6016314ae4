"""Forecast metrics: hand-computed values, dysts' own compute_metrics on the same arrays, VPT on synthetic curves."""

import warnings

import numpy as np
import pytest

from sciml.forecast import metrics as M

EPS = np.finfo(np.float64).eps


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((200, 3)) + 2.0
    return truth, truth + 0.3 * rng.standard_normal((200, 3))


def _dysts_metrics(a, b, include, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from dysts.metrics import compute_metrics

        np.random.seed(seed)
        return compute_metrics(a, b, include=include)


def test_every_metric_equals_dysts_compute_metrics_on_the_same_arrays(pair):
    a, b = pair
    # dysts 0.96's mutual_information fails under numpy 2 (it assigns a length-1 array to an element);
    # it is checked against the scikit-learn call it makes in the next test
    names = [n for n in M.POINTWISE_METRICS if n != "mutual_information"]
    theirs = _dysts_metrics(a, b, names, seed=5)
    for name in names:
        if name == "kl_divergence":  # the same draws: numpy's global stream, seeded as dysts reads it
            ours = M.kl_divergence(a, b, random_state=np.random.RandomState(5))
        else:
            ours = M.POINTWISE_METRICS[name](a, b)
        assert ours == pytest.approx(theirs[name], rel=64 * EPS, abs=64 * EPS), name


def test_mutual_information_is_sklearns_estimate_per_dimension_and_near_the_gaussian_value():
    from sklearn.feature_selection import mutual_info_regression

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2000, 2))
    rho = 0.8
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((2000, 2))
    state = np.random.RandomState(3)
    expected = np.mean([mutual_info_regression(x[:, [d]], y[:, d], random_state=state)[0] for d in range(2)])
    assert M.mutual_information(x, y, random_state=np.random.RandomState(3)) == pytest.approx(expected, rel=16 * EPS)
    # the bivariate Gaussian's mutual information -log(1 - rho^2) / 2 = 0.511 nats; KSG's bias at N = 2000 is < 0.05
    assert M.mutual_information(x, y, random_state=0) == pytest.approx(-0.5 * np.log(1 - rho**2), abs=0.05)


def test_pointwise_metrics_on_hand_computed_values():
    y = np.array([[1.0], [2.0], [3.0]])
    yhat = np.array([[1.0], [3.0], [5.0]])  # errors 0, 1, 2
    tol = dict(rel=1e-9)  # the eps = 1e-10 guards move the values by < 1e-10 relative
    assert M.mse(y, yhat) == pytest.approx(5 / 3, rel=4 * EPS)
    assert M.mae(y, yhat) == pytest.approx(1.0, rel=4 * EPS)
    assert M.rmse(y, yhat) == pytest.approx(np.sqrt(5 / 3), rel=4 * EPS)
    assert M.nrmse(y, yhat) == pytest.approx(np.sqrt((5 / 3) / (2 / 3)), **tol)
    assert M.smape(y, yhat) == pytest.approx(100 * (0 + 1 / 5 + 2 / 8) / 3, **tol)
    assert M.mape(y, yhat) == pytest.approx(100 * (0 + 1 / 2 + 2 / 3) / 3, **tol)
    assert M.wape(y, yhat) == pytest.approx(100 * 3 / 6, **tol)
    assert M.r2_score(y, yhat) == pytest.approx(1 - 5 / 2, rel=4 * EPS)
    assert M.coefficient_of_variation(y, yhat) == pytest.approx(100 * np.sqrt(2 / 3) / 2, **tol)
    # ranks [1, 3, 2, 4] against [1, 2, 3, 4]: one discordant pair of six, sum d^2 = 2
    r, s = np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4])
    assert M.kendall(r, s) == pytest.approx((5 - 1) / 6, rel=4 * EPS)
    assert M.spearman(r, s) == pytest.approx(1 - 6 * 2 / (4 * 15), rel=4 * EPS)
    assert M.pearson(r, s) == pytest.approx(0.8, rel=4 * EPS)  # of ranks, Pearson is Spearman
    assert M.pearson(r, 3 * r + 1) == pytest.approx(1.0, rel=4 * EPS)


def test_kl_divergence_is_zero_for_one_orbit_and_the_gaussian_value_for_a_shift():
    rng = np.random.default_rng(2)
    orbit = rng.standard_normal((50, 2))
    assert M.kl_divergence(orbit, orbit, random_state=0) == 0.0
    # one-point "orbits" N(0, 1) and N(delta, 1): KL = delta^2 / 2; the estimate's std is delta / sqrt(n)
    delta, n = 0.5, 4000
    est = M.kl_divergence([[0.0]], [[delta]], n_samples=n, random_state=1)
    assert est == pytest.approx(delta**2 / 2, abs=4 * delta / np.sqrt(n))


def test_hellinger_distance_is_zero_for_equal_and_one_for_disjoint_spectra():
    t = np.arange(200)
    a = np.cos(2 * np.pi * 3 * t / 200)[:, None]
    b = np.cos(2 * np.pi * 5 * t / 200)[:, None]
    assert M.hellinger_distance(a, a) == pytest.approx(0.0, abs=1e-7)
    assert M.hellinger_distance(a, b) == pytest.approx(1.0, abs=1e-7)


def test_forecast_metrics_of_a_batch_is_the_mean_over_members(pair):
    a, b = pair
    out = M.forecast_metrics(np.stack([a, a]), np.stack([b, a]), include=["mse", "smape"])
    assert out["mse"] == pytest.approx(M.mse(a, b) / 2, rel=4 * EPS)
    assert out["smape"] == pytest.approx(M.smape(a, b) / 2, rel=4 * EPS)
    with pytest.raises(Exception, match="unknown forecast metric 'msee'"):
        M.forecast_metrics(a, b, include=["msee"])


# ----------------------------------------------------------------------------- VPT
def test_vpt_smape_form_counts_the_steps_before_the_running_smape_crosses_30():
    truth = np.ones((10, 1))
    # per-step sMAPE (0..200 scale) of y_hat = 1 + d against 1 is 200 d / (2 + d): 9.52 for d = 0.1, 181.8 for 20;
    # the running mean after step 7 is (6 x 9.52 + 181.8) / 7 = 34.1 > 30, after step 6 it is 9.52
    pred = 1.0 + np.array([0.1] * 6 + [20.0] + [0.1] * 3)[:, None]
    curve = M.smape_curve(truth, pred)
    np.testing.assert_allclose(curve[:2], 200 * 0.1 / 2.1, rtol=4 * EPS)
    running = M.cumulative_smape_curve(truth, pred)
    assert running[6] == pytest.approx((6 * 200 * 0.1 / 2.1 + 200 * 20 / 22) / 7, rel=16 * EPS)
    assert M.valid_steps(running, 30.0) == 6
    lam = 0.9
    vpt = M.valid_prediction_time(truth, pred, dt=0.01, lyapunov_time=1 / lam, form="smape")
    assert vpt == pytest.approx(6 * 0.01 * lam, rel=4 * EPS)
    # a forecast valid throughout counts the whole horizon; one wrong at step 1 counts 0
    assert M.valid_prediction_time(truth, truth, dt=0.5, lyapunov_time=2.0) == 10 * 0.5 / 2.0
    assert M.valid_prediction_time(truth, -truth, dt=0.5, lyapunov_time=2.0) == 0.0


def test_vpt_normalized_form_threshold_is_inclusive_and_nan_counts_as_over():
    truth = np.zeros((5, 2))
    scale = np.array([2.0, 2.0])
    pred = np.zeros((5, 2))
    pred[:3] = 1.0  # e = sqrt(mean((1/2)^2)) = 0.5, exactly the threshold: valid
    pred[3] = 1.5  # e = 0.75 > 0.5
    np.testing.assert_array_equal(M.normalized_error_curve(truth, pred, scale), [0.5, 0.5, 0.5, 0.75, 0.0])
    assert M.valid_prediction_time(truth, pred, dt=0.1, lyapunov_time=1.0, form="normalized", scale=scale) == (
        pytest.approx(0.3, rel=4 * EPS)
    )
    assert M.valid_steps([0.1, np.nan, 0.1], 0.5) == 1
    with pytest.raises(Exception, match="needs scale"):
        M.valid_prediction_time(truth, pred, dt=0.1, lyapunov_time=1.0, form="normalized")


# ----------------------------------------------------------------------------- long-term statistics
def _noisy_circle(n, rng):
    phi = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(phi), np.sin(phi), 0.3 * np.cos(3 * phi)], 1) + 0.05 * rng.standard_normal((n, 3))


def test_state_space_divergence_is_zero_for_identical_data_and_grows_with_perturbation():
    rng = np.random.default_rng(4)
    orbit = _noisy_circle(5000, rng)
    assert M.state_space_divergence(orbit, orbit, n_bins=20) == 0.0
    values = [M.state_space_divergence(orbit, orbit + s * np.array([1.0, 0.5, 0.0]), n_bins=20)
              for s in (0.02, 0.05, 0.1, 0.2)]  # fmt: skip
    assert values[0] > 0 and all(b > a for a, b in zip(values, values[1:])), values


def test_state_space_divergence_on_hand_counts():
    alpha = 1e-5
    truth = np.array([0.0, 0.0, 1.0, 1.0])  # two bins of [-0.05, 1.05]: counts 2, 2
    pred = np.array([0.0, 0.0, 0.0, 1.0, 7.0])  # counts 3, 1 (7 lies outside the box and is dropped)
    p = (np.array([2, 2]) + alpha) / (4 + 2 * alpha)
    q = (np.array([3, 1]) + alpha) / (4 + 2 * alpha)
    expected = float(np.sum(p * np.log(p / q)))
    assert M.state_space_divergence(truth, pred, n_bins=2, alpha=alpha) == pytest.approx(expected, rel=16 * EPS)


def test_power_spectrum_distance_ignores_phase_and_separates_frequencies():
    t = np.arange(1000)
    a = np.sin(2 * np.pi * 5 * t / 1000)[:, None]
    shifted = np.sin(2 * np.pi * 5 * t / 1000 + 1.0)[:, None]
    far = np.sin(2 * np.pi * 40 * t / 1000)[:, None]
    assert M.power_spectrum_distance(a, a) == 0.0
    assert M.power_spectrum_distance(a, shifted) < 1e-6  # equal power spectra up to rounding (sqrt of ~eps)
    assert M.power_spectrum_distance(a, far) > 0.99


def test_correlation_dimension_of_a_line_and_a_square():
    rng = np.random.default_rng(5)
    s = rng.uniform(0, 1, 3000)
    line = np.stack([s, 2 * s, -s], 1)
    square = np.stack([rng.uniform(0, 1, 3000), rng.uniform(0, 1, 3000), np.zeros(3000)], 1)
    assert M.correlation_dimension(line) == pytest.approx(1.0, abs=0.1)
    assert M.correlation_dimension(square) == pytest.approx(2.0, abs=0.15)
    assert M.correlation_dimension_error(line, square) == pytest.approx(1.0, abs=0.2)
