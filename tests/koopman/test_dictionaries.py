"""Dictionaries of observables: counts, values against closed forms, orthogonality by Gauss quadrature, spec errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from sciml.core.errors import ConfigError, ShapeError
from sciml.koopman import make_dictionary, parse_dictionary
from sciml.koopman.dictionaries import total_degree_exponents

EPS = np.finfo(np.float64).eps


def _windows(x):
    return np.asarray(x, dtype=np.float64)[:, None]


def test_monomials_are_every_product_of_total_degree_at_most_p():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (7, 3))
    d = make_dictionary("monomial:3").fit(x, 3)
    psi = d.transform(_windows(x))
    assert psi.shape == (7, math.comb(3 + 3, 3)) == (7, d.n_functions(3))
    exps = total_degree_exponents(3, 3)
    assert len({tuple(e) for e in exps}) == exps.shape[0] and exps.sum(axis=1).max() == 3
    expected = np.prod(x[:, None, :] ** exps[None], axis=-1)
    np.testing.assert_allclose(psi, expected, rtol=4 * EPS, atol=0)
    assert (psi[:, 0] == 1).all()  # the constant first


@pytest.mark.parametrize("degree", [1, 4, 7])
def test_hermite_polynomials_are_orthogonal_under_the_gaussian(degree):
    """``E[He_m He_n] = n! delta_mn`` for standard normal z; Gauss-Hermite with degree+1 nodes is exact for the
    products (degree <= 2 p). Tolerance: a few eps times the largest value ``(p!)``."""
    nodes, weights = hermegauss(degree + 1)
    weights = weights / weights.sum()
    d = make_dictionary(f"hermite:{degree}")
    d.fit(np.array([[-1.0], [1.0]]), 1)  # mean 0, std 1: z = x
    psi = d.transform(_windows(nodes[:, None]))
    gram = psi.T @ (weights[:, None] * psi)
    np.testing.assert_allclose(gram, np.diag([math.factorial(n) for n in range(degree + 1)]),
                               rtol=0, atol=64 * EPS * math.factorial(degree))


@pytest.mark.parametrize("degree", [2, 6])
def test_legendre_polynomials_are_orthogonal_on_the_training_range(degree):
    nodes, weights = leggauss(degree + 1)
    d = make_dictionary(f"legendre:{degree}").fit(np.array([[3.0], [7.0]]), 1)  # [3, 7] -> [-1, 1]
    psi = d.transform(_windows(5 + 2 * nodes[:, None]))
    gram = psi.T @ (weights[:, None] * psi)
    np.testing.assert_allclose(gram, np.diag([2 / (2 * n + 1) for n in range(degree + 1)]), rtol=0, atol=64 * EPS)


def test_rbf_centres_by_kmeans_and_rff_features():
    rng = np.random.default_rng(1)
    # four tight clusters: k-means with 4 centres finds their means
    means = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]])
    x = np.concatenate([m + 0.01 * rng.standard_normal((50, 2)) for m in means])
    d = make_dictionary("rbf:4").fit(x, 2, seed=0)
    found = d.centers[np.lexsort((d.centers[:, 1], d.centers[:, 0]))]
    cluster_means = np.stack([x[i * 50:(i + 1) * 50].mean(axis=0) for i in range(4)])
    np.testing.assert_allclose(found, cluster_means[np.lexsort((cluster_means[:, 1], cluster_means[:, 0]))], atol=1e-12)
    assert float(d.width) == pytest.approx(5.0, rel=0.01)  # the nearest other centre is 5 away
    psi = d.transform(_windows(means[:1]))
    assert psi.shape == (1, 1 + 2 + 4) and psi[0, 0] == 1 and (psi[0, 1:3] == means[0]).all()
    assert make_dictionary("rbf:4,width=2.5").fit(x, 2).width == 2.5
    # random Fourier features: E[psi(x) . psi(y)] = exp(-|z - z'|^2 / 2); K = 20000 gives a 3-sigma error of 3/sqrt(K/2)
    f = make_dictionary("rff:20000").fit(np.array([[-1.0, -1.0], [1.0, 1.0]]), 2, seed=3)  # std 1, mean 0
    a, b = np.array([[0.3, -0.2]]), np.array([[-0.5, 0.4]])
    fa, fb = f.transform(_windows(a))[:, 3:], f.transform(_windows(b))[:, 3:]
    assert abs(float((fa @ fb.T)[0, 0]) - np.exp(-np.sum((a - b) ** 2) / 2)) < 3 / np.sqrt(10000)
    again = make_dictionary("rff:20000").fit(np.array([[-1.0, -1.0], [1.0, 1.0]]), 2, seed=3)
    np.testing.assert_array_equal(again.weights, f.weights)


def test_delay_embedding_puts_the_present_first_and_callables_wrap():
    windows = np.arange(12.0).reshape(1, 3, 4)  # oldest row first
    d = make_dictionary("delay:3")
    assert d.window == 3 and d.n_functions(4) == 12
    np.testing.assert_array_equal(d.transform(windows)[0], np.concatenate([windows[0, 2], windows[0, 1], windows[0, 0]]))
    c = make_dictionary(lambda x: np.stack([x[:, 0], np.sin(x[:, 1])], axis=1))
    assert c.n_functions(2) == 2 and c.spec.startswith("callable:")
    np.testing.assert_array_equal(c.transform(np.array([[[1.0, 0.0]]])), [[1.0, 0.0]])
    with pytest.raises(ShapeError, match=r"must map x \[M, D\] to \[M, K\]"):
        make_dictionary(lambda x: x[:, 0]).transform(np.ones((2, 1, 2)))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("monomail:3", r"unknown dictionary 'monomail:3' \(did you mean 'monomial'\?\); valid: monomial:p"),
        ("hermit:4", r"did you mean 'hermite'\?"),
        ("fourier:3", r"unknown dictionary 'fourier:3'; valid"),
        ("monomial", "needs the total degree as an int >= 0 after the colon"),
        ("rbf:0", "needs the number of centres as an int >= 1"),
        ("delay:2.5", "needs the number of delays"),
        ("rbf:10,sigma=2", "unknown option 'sigma=2'; rbf takes width=VALUE"),
        ("rff:10,scale=-1", "must be positive"),
        ("", "is not a spec string"),
    ],
)
def test_bad_specs_are_one_line_config_errors(spec, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_dictionary(spec)
    assert "\n" not in str(info.value)
