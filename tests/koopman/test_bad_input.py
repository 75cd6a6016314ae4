"""Bad input to the Koopman estimators: one-line errors of the right type that name the problem and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.koopman import EDMD, HAVOK, HankelDMD, KernelEDMD, ResDMD


def _traj(n=3, t=20, d=2, seed=0):
    return np.random.default_rng(seed).standard_normal((n, t, d))


def _nan():
    x = _traj()
    x[1, 4, 0] = np.nan
    return x


CASES = [
    # snapshot pairs of different lengths
    (lambda: EDMD().fit((np.ones((10, 2)), np.ones((9, 2)))), ShapeError,
     r"EDMD: snapshot pairs have different lengths \(x has 10 snapshots, y has 9\); pass y\[m\] = F\(x\[m\]\)"),
    (lambda: KernelEDMD("polynomial:2").fit((np.ones((10, 2)), np.ones((11, 2)))), ShapeError, "different lengths"),
    (lambda: EDMD().fit((np.ones((10, 2)), np.ones((10, 3)))), ShapeError, "have D=2 and D=3 features"),
    # a dictionary larger than the number of snapshots: ill-posed, say so and suggest the fix
    (lambda: EDMD("monomial:4").fit(_traj(1, 8)), ConfigError,
     r"EDMD: the dictionary monomial:4 has K=15 functions but the data give only M=7 snapshot pairs, so the "
     r"least-squares Koopman matrix is ill-posed \(it needs K <= M\); use a smaller dictionary or more snapshots "
     r"\(at least 15 pairs\)"),
    (lambda: ResDMD("rbf:30").fit(_traj(1, 30)), ConfigError, "K=33 functions but the data give only M=29"),
    (lambda: HankelDMD(delays=30).fit(_traj(1, 50, 2)), ConfigError, "delay:30 has K=60 functions .* ill-posed"),
    # NaN snapshots
    (lambda: EDMD().fit(_nan()), DataError, r"trajectories holds 1 non-finite value \(NaN/inf\), the first at index \(1, 4, 0\)"),
    (lambda: HAVOK(delays=3).fit(_nan()), DataError, "non-finite"),
    (lambda: KernelEDMD().fit(_nan()), DataError, "non-finite"),
    (lambda: EDMD().fit((np.full((5, 2), np.nan), np.ones((5, 2)))), DataError, "snapshot pairs x holds 10 non-finite"),
    # a delay longer than the trajectory
    (lambda: HankelDMD(delays=25).fit(_traj(2, 20)), ShapeError,
     r"HankelDMD: a delay of 25 states needs trajectories of at least 26 states, got T=20; use fewer delays "
     r"\(at most 19\) or longer trajectories"),
    (lambda: HAVOK(delays=20).fit(_traj(2, 20)), ShapeError, "a delay of 20 states needs trajectories of at least 21"),
    (lambda: EDMD("delay:5").fit((np.ones((10, 2)), np.ones((10, 2)))), ConfigError, "needs trajectories, not snapshot pairs"),
    (lambda: HankelDMD(delays=3).fit(_traj()).forecast(_traj()[0, :2], 4), ShapeError,
     "HankelDMD needs a context of at least 3 states, got 2; pass more history"),
    # an unknown dictionary spec
    (lambda: EDMD("monomail:3"), ConfigError, r"unknown dictionary 'monomail:3' \(did you mean 'monomial'\?\)"),
    (lambda: ResDMD("rbf"), ConfigError, "needs the number of centres"),
    (lambda: KernelEDMD("gausian"), ConfigError, r"unknown kernel 'gausian' \(did you mean 'gaussian'\?\)"),
    (lambda: EDMD(dictionary=3), ConfigError, "dictionary=3 is invalid"),
    # other parameters and uses
    (lambda: ResDMD(epsilon=0), ConfigError, "ResDMD epsilon=0 is invalid"),
    (lambda: HAVOK(delays=1), ConfigError, "HAVOK delays=1 is invalid"),
    (lambda: HAVOK(rank=1), ConfigError, "it needs at least 2 coordinates"),
    (lambda: EDMD(seed=-1), ConfigError, "seed=-1 is invalid"),
    (lambda: EDMD().fit(_traj(), weights=np.ones(5)), ShapeError, "5 weights for 57 snapshot pairs"),
    (lambda: EDMD().fit(_traj(), weights=-np.ones(57)), DataError, "weights must be >= 0"),
    (lambda: EDMD().fit("data.h5"), ConfigError, "takes data, not a path"),
    (lambda: EDMD().fit(_traj()).forecast(_traj()[0], 0), ShapeError, "horizon=0 is invalid"),
    (lambda: EDMD().fit(_traj()).predict(np.ones((2, 3))), ShapeError, "x has 3 features but EDMD was fitted on D=2"),
    (lambda: EDMD().fit(_traj()).evaluate(_traj(d=3)), ShapeError, "the data have D=3 features"),
]


@pytest.mark.parametrize(("call", "error", "message"), CASES, ids=[c[2][:40] for c in CASES])
def test_bad_input_is_a_one_line_error(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_weights_change_the_fit_and_uniform_weights_do_not():
    x = _traj(4, 30, 2, seed=5)
    base = EDMD("monomial:2").fit(x)
    uniform = EDMD("monomial:2").fit(x, weights=np.full((4, 29), 7.0))
    np.testing.assert_allclose(uniform.eigenvalues_, base.eigenvalues_, rtol=0, atol=1e-12)
    w = np.ones((4, 29))
    w[0] = 0.0  # dropping the first trajectory's pairs equals fitting without it
    dropped = EDMD("monomial:2").fit(x, weights=w)
    np.testing.assert_allclose(dropped.eigenvalues_, EDMD("monomial:2").fit(x[1:]).eigenvalues_, rtol=0, atol=1e-10)
