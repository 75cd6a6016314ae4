"""Butcher tableaus: the built-in ones are consistent, corrupted ones are refused."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from sciml.core.errors import UnknownNameError
from sciml.numerics import BS3, DOPRI5, EULER, RK4, TABLEAUS, TSIT5, ButcherTableau, get_tableau
from sciml.numerics.tableaus import rooted_trees

EPS = np.finfo(np.float64).eps

DECLARED = {
    # name: (stages, order, error_order, fsal, dense output order)
    "dopri5": (7, 5, 4, True, 4),
    "tsit5": (7, 5, 4, True, 4),
    "bs3": (4, 3, 2, True, 3),
    "rk4": (4, 4, None, False, 3),
    "euler": (1, 1, None, False, 3),
}


def test_name_table_holds_the_declared_methods():
    assert sorted(TABLEAUS) == sorted(DECLARED)
    assert [DOPRI5, TSIT5, BS3, RK4, EULER] == [get_tableau(name) for name in DECLARED]


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_builtin_tableau_is_consistent(name):
    tableau = get_tableau(name)
    stages, order, error_order, fsal, dense_order = DECLARED[name]
    assert (tableau.stages, tableau.order, tableau.error_order) == (stages, order, error_order)
    assert (tableau.fsal, tableau.dense_output_order) == (fsal, dense_order)
    a, b, c = np.array(tableau.a), np.array(tableau.b), np.array(tableau.c)
    assert a.shape == (stages, stages)
    assert np.all(np.triu(a) == 0.0), "explicit: strictly lower-triangular"

    # A sum of s stored coefficients is off by at most ~s eps sum|terms| (each coefficient is a
    # rounded float64, each addition rounds once): tolerance 2 s eps sum|terms|, derived per sum.
    def bound(terms):
        terms = np.asarray(terms, dtype=np.float64)
        return 2 * terms.size * EPS * float(np.abs(terms).sum()) + EPS

    for row, c_i in zip(a, c):
        assert abs(row.sum() - c_i) <= bound(row), (row, c_i)
    assert abs(b.sum() - 1.0) <= bound(b)
    # b c^(k-1) = 1/k: the bushy-tree conditions up to the declared order, checked here
    # independently of the tree machinery of the tableau module
    for k in range(1, order + 1):
        assert abs(b @ c ** (k - 1) - 1.0 / k) <= bound(b * c ** (k - 1)), k
    assert abs(b @ c**order - 1.0 / (order + 1)) > 1e-4, "order is not higher than declared"
    if tableau.is_adaptive:
        b_error = np.array(tableau.b_error)
        assert abs(b_error.sum()) <= bound(b_error)
        b_hat = b - b_error
        for k in range(1, error_order + 1):
            assert abs(b_hat @ c ** (k - 1) - 1.0 / k) <= bound(b_hat * c ** (k - 1)), k
    if tableau.interpolation is not None:
        interpolation = np.array(tableau.interpolation)
        for row, b_i in zip(interpolation, b):
            assert abs(row.sum() - b_i) <= bound(row), (row, b_i)


def test_rooted_tree_counts_match_oeis_a000081():
    assert [len(rooted_trees(order)) for order in range(1, 8)] == [1, 1, 2, 4, 9, 20, 48]


def test_embedded_weights_of_dopri5_are_the_published_ones():
    b_hat = [
        Fraction(5179, 57600),
        0,
        Fraction(7571, 16695),
        Fraction(393, 640),
        Fraction(-92097, 339200),
        Fraction(187, 2100),
        Fraction(1, 40),
    ]
    # b_hat = b - b_error is one subtraction of rounded coefficients: 2 eps relative, 4 eps with margin
    np.testing.assert_allclose(DOPRI5.embedded().b, [float(x) for x in b_hat], rtol=4 * EPS, atol=4 * EPS)
    assert DOPRI5.embedded().order == 4
    assert not DOPRI5.embedded().is_adaptive


def test_dopri5_dense_output_matches_hairer_published_coefficients():
    # Hairer, Norsett & Wanner I, II.6, Table 6.2: b_1(theta) of DOPRI5's continuous output
    first_row = np.array(DOPRI5.interpolation[0])
    expected = [1.0, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432]
    # both sides are the same rationals rounded to float64 (the module may compute them): 4 eps relative
    np.testing.assert_allclose(first_row, expected, rtol=4 * EPS)
    assert DOPRI5.interpolation[1] == (0.0, 0.0, 0.0, 0.0)


def _stability_polynomial_modulus(tableau, x):
    a, b = np.array(tableau.a), np.array(tableau.b)
    value, power = 1.0, np.ones(tableau.stages)
    for k in range(1, tableau.stages + 1):
        value += (b @ power) * (-x) ** k
        power = a @ power
    return abs(value)


@pytest.mark.parametrize(
    "name, boundary",
    # Hairer & Wanner II, IV.2: euler 2, rk4 2.785, bs3 2.513, dopri5 3.307
    [("euler", 2.0), ("rk4", 2.7853), ("bs3", 2.5127), ("dopri5", 3.3066), ("tsit5", None)],
)
def test_real_stability_boundary(name, boundary):
    tableau = get_tableau(name)
    x = tableau.real_stability_boundary
    if boundary is not None:
        assert abs(x - boundary) < 1e-4
    assert abs(_stability_polynomial_modulus(tableau, x) - 1.0) < 1e-9
    assert _stability_polynomial_modulus(tableau, x * 1.001) > 1.0
    inside = [_stability_polynomial_modulus(tableau, s) for s in np.linspace(0, x, 200)]
    assert max(inside) <= 1.0 + 1e-9


def test_stiffness_stage_pairs_share_an_abscissa():
    assert DOPRI5.stiffness_stages == (5, 6)
    assert TSIT5.stiffness_stages == (5, 6)
    assert RK4.stiffness_stages == (1, 2)
    assert BS3.stiffness_stages is None and EULER.stiffness_stages is None


def _rk4_fields(**changes):
    fields = dict(
        name="broken",
        c=(0.0, 0.5, 0.5, 1.0),
        a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
        b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
        order=4,
    )
    fields.update(changes)
    return fields


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"a": ((), (0.5,), (0.0, 0.4), (0.0, 0.0, 1.0))}, "row 2 of a sums to"),
        ({"b": (1 / 6, 1 / 3, 1 / 3, 0.2)}, "b sums to"),
        ({"a": ((0.0,), (0.25, 0.25), (0.0, 0.5), (0.0, 0.0, 1.0))}, "strictly lower-triangular"),
        ({"c": (0.1, 0.5, 0.5, 1.0), "a": ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0))}, r"c\[0\] = 0.1"),
        ({"order": 5}, "order-5 condition"),
        ({"b": (0.25, 0.25, 0.25, 0.25), "order": 3}, "order-3 condition"),
        ({"b_error": (0.1, 0.0, 0.0, 0.0), "error_order": 3}, "b_error sums to"),
        ({"b_error": (0.1, 0.0, 0.0, -0.1)}, "together"),
        ({"b_error": (0.0, 0.1, -0.1, 0.0), "error_order": 3}, "b - b_error violate"),
        ({"fsal": True}, "fsal=True"),
        ({"interpolation": ((1.0,), (0.0,), (0.0,), (0.0,)), "interpolation_order": 1}, "theta=1"),
        ({"b": (1 / 6, 1 / 3, 1 / 2)}, "b has 3 entries"),
        ({"name": ""}, "non-empty"),
    ],
)
def test_corrupted_tableau_raises_one_line_value_error(changes, message):
    with pytest.raises(ValueError, match=message) as raised:
        ButcherTableau(**_rk4_fields(**changes))
    assert "\n" not in str(raised.value)


def test_typo_that_keeps_row_sums_is_caught_by_order_conditions():
    rows = list(DOPRI5.a)
    rows[2] = (3 / 40 + 0.01, 9 / 40 - 0.01) + (0.0,) * 5  # still sums to c[2] = 3/10
    fields = {f.name: getattr(DOPRI5, f.name) for f in dataclasses.fields(DOPRI5) if f.init}
    fields["a"] = tuple(rows)
    with pytest.raises(ValueError, match=r"violate the order-3 condition of tree \[\[.\]\]"):
        ButcherTableau(**fields)


def test_tableau_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DOPRI5.order = 4


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownNameError, match="valid names: bs3, dopri5, euler, rk4, tsit5"):
        get_tableau("dopri8")
    with pytest.raises(KeyError):
        get_tableau("rk45")
