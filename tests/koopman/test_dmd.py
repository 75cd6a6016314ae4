"""Exact DMD against linear systems whose Koopman spectrum is known in closed form.

The data are float64 samples of an exact linear map ``x_{k+1} = M x_k`` with
``M = expm(A dt)``, written by the ``linear_ode`` generator. Its only error is round-off:
relative ``delta <= 200 eps (1 + ||A|| t)`` (the bound ``tests/data/test_linear.py`` checks).
The least-squares map fitted by DMD then differs from ``M`` by about
``||dM|| <= cond(X) delta ||M||`` and, by Bauer-Fike, its eigenvalues differ from those of
``M`` by at most ``kappa(V) ||dM||`` (``V``: eigenvectors of ``M``). Here
``cond(X) kappa(V) delta < 1e-11``, which each test asserts, so the 1e-10 tolerance on
eigenvalues holds with a margin of 10 or more.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import block_diag, expm, subspace_angles

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.core.estimator import NotFittedError, build_estimator
from sciml.data import Provenance, Trajectories, load_trajectories, write_trajectories
from sciml.data.generators import generate
from sciml.koopman import DMD, snapshot_pairs

EPS = np.finfo(np.float64).eps
DT = 0.1


def _block(decay: float, freq: float) -> np.ndarray:
    return np.array([[-decay, freq], [-freq, -decay]])  # eigenvalues -decay +- i freq


def _matrix() -> np.ndarray:
    """A non-normal 5x5 matrix with eigenvalues -0.1 +- 2i, -0.3 +- 0.7i, -0.5 (well separated moduli)."""
    b = block_diag(_block(0.1, 2.0), _block(0.3, 0.7), [[-0.5]])
    v = np.eye(5) + 0.2 * np.random.default_rng(11).standard_normal((5, 5))
    return v @ b @ np.linalg.inv(v)


def _sorted(lam: np.ndarray) -> np.ndarray:
    """The order DMD uses: decreasing modulus, then positive imaginary part first."""
    lam = np.asarray(lam, dtype=np.complex128)
    return lam[np.lexsort((-lam.imag, -np.abs(lam)))]


def _data_delta(a: np.ndarray, t_max: float) -> float:
    return 200 * EPS * (1 + np.linalg.norm(a, 2) * t_max)


@pytest.fixture
def system(tmp_path):
    a = _matrix()
    path = tmp_path / "linear.h5"
    generate("linear_ode", path, n=20, n_times=41, dt=DT, matrix=a.tolist(), seed=3)
    return a, path


def test_eigenvalues_equal_those_of_expm_A_dt(system):
    a, path = system
    train = load_trajectories(path, "train")
    dmd = DMD().fit(train)
    m = expm(a * DT)
    lam_m, v_m = np.linalg.eig(m)
    X, _ = snapshot_pairs(train.x)
    bound = np.linalg.cond(X) * np.linalg.cond(v_m) * _data_delta(a, train.t[-1])
    assert bound < 1e-11  # the premise of the 1e-10 tolerance (module docstring)
    assert dmd.rank_ == 5 and dmd.dt_ == DT and dmd.n_features_ == 5
    err = np.abs(dmd.eigenvalues_ - _sorted(lam_m)).max()
    assert err <= 1e-10, err
    # the generator's eigenvalues log(lambda)/dt (no aliasing: |Im| dt = 0.2 < pi)
    np.testing.assert_allclose(dmd.continuous_eigenvalues(), _sorted(np.linalg.eigvals(a)), rtol=0, atol=1e-10 / DT)
    # the fitted map is expm(A dt), and each exact mode is an eigenvector of it
    assert np.linalg.norm(dmd.full_operator() - m, 2) <= 1e-10
    residual = np.linalg.norm(m @ dmd.modes_ - dmd.modes_ * dmd.eigenvalues_, axis=0) / np.linalg.norm(dmd.modes_, axis=0)
    assert residual.max() <= 1e-10
    # a real operator: eigenvalues in exact conjugate pairs, real operator_
    assert dmd.operator_.dtype == np.float64
    np.testing.assert_array_equal(dmd.eigenvalues_[[0, 2]], np.conj(dmd.eigenvalues_[[1, 3]]))
    # snapshot pairs must not cross from one trajectory into the next: joined, the fit is wrong
    joined = DMD().fit(train.x.reshape(1, -1, 5), dt=DT)
    assert np.abs(joined.eigenvalues_ - _sorted(lam_m)).max() > 1e-3


def test_low_rank_data_have_numerical_rank_and_refuse_a_larger_rank(system):
    a, path = system
    # a 2-D rotation-decay embedded in 6 dimensions: the data span exactly 2 directions
    a2 = _block(0.2, 1.3)
    path2 = path.parent / "planar.h5"
    generate("linear_ode", path2, n=6, n_times=30, dt=DT, matrix=a2.tolist(), seed=5)
    planar = load_trajectories(path2, None)
    embed = np.random.default_rng(2).standard_normal((6, 2))
    x6 = planar.x @ embed.T
    for rank in (None, 2):
        dmd = DMD(rank=rank).fit(x6, dt=DT)
        assert dmd.rank_ == 2 and dmd.basis_.shape == (6, 2) and dmd.modes_.shape == (6, 2)
        assert np.abs(dmd.eigenvalues_ - _sorted(np.linalg.eigvals(expm(a2 * DT)))).max() <= 1e-10
    with pytest.raises(ConfigError, match=r"DMD rank=3 exceeds the numerical rank 2 of the snapshot matrix \(D=6 states, M=174") as info:
        DMD(rank=3).fit(x6, dt=DT)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="rank=9 exceeds the numerical rank 5"):
        DMD(rank=9).fit(load_trajectories(path, "train"))


def test_rank_truncation_keeps_the_dominant_modes():
    """Slow modes of amplitude 1, fast modes of amplitude 1e-3: rank 2 keeps the slow pair.

    With ``rho = ||fast part|| / ||slow part||`` of the data, the rank-2 POD subspace is
    within an angle ``O(rho)`` of the slow eigenspace (Wedin) and the eigenvalues of the
    projected map within ``O(rho ||M||)`` of the slow ones (Bauer-Fike, ``kappa = 1``,
    ``||M|| <= 1``); both are asserted below ``rho``.
    """
    b = block_diag(_block(0.05, 1.0), _block(1.0, 3.0))
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))
    t = np.arange(60) * DT
    z0 = np.random.default_rng(1).standard_normal((10, 4))
    z0[:, 2:] *= 1e-3
    z = np.stack([z0 @ expm(b * tk).T for tk in t], axis=1)  # [10, 60, 4], exact in block coordinates
    slow, fast = z.copy(), z.copy()
    slow[..., 2:], fast[..., :2] = 0.0, 0.0
    rho = np.linalg.norm(fast) / np.linalg.norm(slow)
    x = z @ q.T
    slow_lam = np.exp(np.array([-0.05 + 1j, -0.05 - 1j]) * DT)
    fast_lam = np.exp(np.array([-1.0 + 3j, -1.0 - 3j]) * DT)
    for rank in (2, 0.9999):
        dmd = DMD(rank=rank).fit(x, dt=DT)
        assert dmd.rank_ == 2
        assert np.abs(dmd.eigenvalues_ - slow_lam).max() <= rho
        assert np.abs(dmd.eigenvalues_[:, None] - fast_lam[None]).min() > 0.1
        assert subspace_angles(dmd.modes_, q[:, :2].astype(np.complex128)).max() <= rho
    # the fast modes are in the data (a full fit finds all four), so truncation dropped them
    full = DMD().fit(x, dt=DT)
    assert full.rank_ == 4
    np.testing.assert_allclose(full.eigenvalues_, _sorted(np.concatenate([slow_lam, fast_lam])), rtol=0, atol=1e-9)
    energy = np.cumsum(full.singular_values_**2) / np.sum(full.singular_values_**2)
    assert energy[1] > 0.9999 > energy[0]


def test_forecast_matches_expm_A_k_dt_x0(system):
    """Tolerance: ``x_k = M^k x0``; ``||M_hat^k - M^k|| <= k kappa^2 ||dM||`` with ``||dM|| <= kappa cond(X) delta``,
    plus the reference's own expm error ``delta``, relative to ``|x0|``."""
    a, path = system
    train, test = load_trajectories(path, "train"), load_trajectories(path, "test")
    dmd = DMD().fit(train)
    horizon = test.n_times - 1
    x0 = test.x[:, 0]
    pred = dmd.forecast(x0, horizon)
    assert pred.shape == (test.n_trajectories, horizon, 5) and pred.dtype == np.float64
    exact = np.stack([x0 @ expm(a * DT * (k + 1)).T for k in range(horizon)], axis=1)
    kappa = np.linalg.cond(np.linalg.eig(expm(a * DT))[1])
    cond_x = np.linalg.cond(snapshot_pairs(train.x)[0])
    delta = _data_delta(a, horizon * DT)
    tol = (horizon * kappa**3 * cond_x + 1) * delta
    err = (np.abs(pred - exact).max(axis=(1, 2)) / np.abs(x0).max(axis=1)).max()
    assert err <= tol, (err, tol)
    assert tol < 1e-8  # a meaningful bound: seven orders of magnitude below persistence's error
    # one trajectory [D] -> [horizon, D]; predict is the first forecast step (BLAS may round a batch of one
    # or a different association differently: a few eps of |x0|, over 3 products of <= 5 terms)
    scale = 16 * EPS * np.abs(x0).max()
    np.testing.assert_allclose(dmd.forecast(x0[0], 3), pred[0, :3], rtol=0, atol=scale)
    np.testing.assert_allclose(dmd.predict(x0), pred[:, 0], rtol=0, atol=scale)
    with pytest.raises(ConfigError, match="horizon=0 must be an int >= 1"):
        dmd.forecast(x0, 0)


def test_evaluate_is_far_below_persistence_on_a_linear_system(system):
    a, path = system
    dmd = DMD().fit(load_trajectories(path, "train"))
    test = load_trajectories(path, "test")
    metrics = dmd.evaluate(test)
    assert set(metrics) == {
        "one_step_rel_l2",
        "forecast_rel_l2",
        "persistence_one_step_rel_l2",
        "persistence_forecast_rel_l2",
    }
    # the baseline, computed here trajectory by trajectory
    x = test.x
    one = [np.linalg.norm(xi[1:] - xi[:-1]) / np.linalg.norm(xi[1:]) for xi in x]
    free = [np.linalg.norm(xi[1:] - xi[0]) / np.linalg.norm(xi[1:]) for xi in x]
    assert metrics["persistence_one_step_rel_l2"] == pytest.approx(np.mean(one), rel=1e-12)
    assert metrics["persistence_forecast_rel_l2"] == pytest.approx(np.mean(free), rel=1e-12)
    assert metrics["persistence_one_step_rel_l2"] > 0.05 and metrics["persistence_forecast_rel_l2"] > 0.5
    assert metrics["one_step_rel_l2"] < 1e-12 and metrics["forecast_rel_l2"] < 1e-11
    # an honest metric: a rank-3 DMD that misses a mode pair is visibly worse than exact
    worse = DMD(rank=3).fit(load_trajectories(path, "train")).evaluate(test)
    assert worse["one_step_rel_l2"] > 1e3 * metrics["one_step_rel_l2"]
    # data of another sampling or system are refused
    write_trajectories(path.parent / "dt.h5", x, np.arange(x.shape[1]) * 0.2, Provenance("test"), dt=0.2)
    with pytest.raises(DataError, match=r"sampled at dt=0.2 but DMD was fitted at dt=0.1") as info:
        dmd.evaluate(load_trajectories(path.parent / "dt.h5", None))
    assert "\n" not in str(info.value)
    with pytest.raises(ShapeError, match="the data have D=4 features but DMD was fitted on D=5"):
        dmd.evaluate(x[..., :4])


def test_bad_input_gives_one_line_errors(system, tmp_path):
    a, path = system
    train = load_trajectories(path, "train")
    nan = train.x.copy()
    nan[2, 7, 1] = np.nan
    irregular = tmp_path / "irregular.h5"
    write_trajectories(irregular, np.ones((2, 3, 1)), np.array([[0.0, 0.1, 0.3], [0.0, 0.2, 0.4]]), Provenance("t"))
    cases = [
        (lambda: DMD().fit(nan, dt=DT), DataError, r"trajectories holds 1 non-finite value \(NaN/inf\), the first at index \(2, 7, 1\)"),
        (lambda: DMD().fit(np.ones((1, 3)), dt=DT), ShapeError, "DMD needs at least 2 snapshots per trajectory, got T=1"),
        (lambda: DMD().fit(np.ones(5)), ShapeError, r"expected \[N, T, D\] or \[T, D\]"),
        (lambda: DMD().fit(np.zeros((4, 3))), DataError, "the snapshot matrix is zero"),
        (lambda: DMD().fit(load_trajectories(irregular, None)), DataError, "needs uniformly sampled trajectories"),
        (lambda: DMD().fit(str(path)), ConfigError, "takes data, not a path"),
        (lambda: DMD().fit(train, dt=0.5), ConfigError, "dt=0.5 differs from the data's dt=0.1"),
        (lambda: DMD(rank=20).fit(train), ConfigError, "rank=20 exceeds the numerical rank 5"),
        (lambda: DMD(rank=0), ConfigError, "DMD rank=0 is invalid"),
        (lambda: DMD(rank=1.0), ConfigError, "DMD rank=1.0 is invalid"),
        (lambda: DMD(rank=True), ConfigError, "DMD rank=True is invalid"),
        (lambda: DMD().set_params(rank=-2), ConfigError, "DMD rank=-2 is invalid"),
        (lambda: DMD().set_params(rnak=2), ConfigError, r"DMD has no parameter 'rnak' \(did you mean 'rank'\?\)"),
        (lambda: build_estimator("dmd", {"tol": 1e-8}), ConfigError, "DMD has no parameter 'tol'; valid parameters: rank"),
        (lambda: DMD().continuous_eigenvalues(), NotFittedError, "DMD is not fitted; call fit"),
        (lambda: DMD().fit(train).predict(np.ones((2, 3))), ShapeError, "x has 3 features but DMD was fitted on D=5"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message) as info:
            call()
        assert "\n" not in str(info.value), message
    # a rejected set_params leaves the old value (and the learned state) in place
    dmd = DMD(rank=2).fit(train)
    with pytest.raises(ConfigError):
        dmd.set_params(rank=0)
    assert dmd.rank == 2 and dmd.is_fitted


def test_one_trajectory_array_and_trajectories_give_the_same_fit(system):
    _, path = system
    train = load_trajectories(path, "train")
    from_file = DMD().fit(Trajectories.from_array(train.x[0], dt=DT))
    from_array = DMD().fit(train.x[0], dt=DT)
    np.testing.assert_array_equal(from_file.eigenvalues_, from_array.eigenvalues_)
    assert from_array.training_data["content_sha256"] is None and from_array.training_data["n_pairs"] == 40
    fitted = DMD().fit(train)
    assert fitted.training_data["content_sha256"] == train.content_sha256
    assert fitted.training_data["split"] == "train" and fitted.training_data["n_trajectories"] == train.n_trajectories
