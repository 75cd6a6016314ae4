"""Butcher tableaus of explicit Runge-Kutta methods, validated at construction.

A tableau is data: the abscissae ``c``, the strictly lower-triangular matrix ``a``, the
weights ``b`` and, for adaptive pairs, the error weights ``b_error = b - b_hat`` of the
embedded solution. Construction checks that the rows of ``a`` sum to ``c``, that ``b`` and
``b_hat`` satisfy the order conditions (Butcher's rooted trees) of their declared orders,
and that the dense-output polynomials reproduce ``b`` at the end of the step, so a typo in
a coefficient fails at import rather than as a wrong convergence order.

>>> from sciml.numerics import get_tableau
>>> tableau = get_tableau("dopri5")
>>> tableau.order, tableau.error_order, tableau.stages, tableau.fsal
(5, 4, 7, True)
>>> round(tableau.real_stability_boundary, 3)
3.307
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from sciml.core.registry import Registry

__all__ = [
    "ButcherTableau",
    "TABLEAUS",
    "get_tableau",
    "DOPRI5",
    "TSIT5",
    "BS3",
    "RK4",
    "EULER",
]

# Tolerances of the construction checks. Coefficients given as decimals (tsit5) satisfy the
# order conditions to about 1e-15; a typo in a coefficient violates them by far more.
_SUM_TOLERANCE = 1e-12
_ORDER_CONDITION_TOLERANCE = 1e-10

RootedTree = tuple  # a rooted tree is the sorted tuple of its children's trees; () is a leaf


def _grow(tree: RootedTree) -> Iterator[RootedTree]:
    """Yield every tree obtained by attaching one new leaf somewhere in ``tree``."""
    yield tuple(sorted((*tree, ())))
    for index, child in enumerate(tree):
        for grown in _grow(child):
            yield tuple(sorted((*tree[:index], grown, *tree[index + 1 :])))


def rooted_trees(order: int) -> list[RootedTree]:
    """Return the rooted trees with ``order`` nodes, each once (1, 1, 2, 4, 9, 20, ... trees).

    A tree is represented canonically as the sorted tuple of the subtrees hanging from its
    root; the single-node tree is ``()``.
    """
    trees: set[RootedTree] = {()}
    for _ in range(order - 1):
        trees = {grown for tree in trees for grown in _grow(tree)}
    return sorted(trees)


def _tree_order(tree: RootedTree) -> int:
    return 1 + sum(_tree_order(child) for child in tree)


def _tree_density(tree: RootedTree) -> int:
    """Butcher's density gamma(t): the exact solution's coefficient is 1/gamma(t)."""
    return _tree_order(tree) * math.prod(_tree_density(child) for child in tree)


def _stage_weights(tree: RootedTree, a: np.ndarray) -> np.ndarray:
    """Per-stage elementary weights: ones for a leaf, prod over children of ``a @ child``."""
    weights = np.ones(a.shape[0])
    for child in tree:
        weights = weights * (a @ _stage_weights(child, a))
    return weights


def _tree_name(tree: RootedTree) -> str:
    return "." if not tree else "[" + ",".join(_tree_name(child) for child in tree) + "]"


def _order_condition_violation(b: np.ndarray, a: np.ndarray, order: int) -> tuple[RootedTree, float, float] | None:
    """Return the first tree of order <= ``order`` whose condition ``b`` violates, if any."""
    for tree_order in range(1, order + 1):
        for tree in rooted_trees(tree_order):
            got = float(b @ _stage_weights(tree, a))
            want = 1.0 / _tree_density(tree)
            if abs(got - want) > _ORDER_CONDITION_TOLERANCE:
                return tree, got, want
    return None


def _real_stability_boundary(a: np.ndarray, b: np.ndarray) -> float:
    """Length of the interval [-x, 0] of the negative real axis inside the stability region.

    The stability polynomial of an explicit method is R(z) = 1 + sum_k (b^T a^(k-1) 1) z^k.
    The boundary is found by a scan for the first x with |R(-x)| > 1, refined by bisection.
    """
    stages = len(b)
    coefficients = [1.0]
    power = np.ones(stages)
    for _ in range(stages):
        coefficients.append(float(b @ power))
        power = a @ power

    def outside(x: np.ndarray | float) -> np.ndarray:
        return np.abs(np.polynomial.polynomial.polyval(-np.asarray(x), coefficients)) > 1.0

    scan = np.linspace(0.0, 2.0 * stages * stages + 1.0, 20_000 * stages + 1)[1:]
    exits = np.flatnonzero(outside(scan))
    if exits.size == 0:
        return math.inf
    high = float(scan[exits[0]])
    low = float(scan[exits[0] - 1]) if exits[0] > 0 else 0.0
    for _ in range(60):
        middle = 0.5 * (low + high)
        if outside(middle):
            high = middle
        else:
            low = middle
    return low


def _as_float_tuple(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(value) for value in values)


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge-Kutta method with an optional embedded pair and dense output.

    One step of size ``h`` from ``(t, y)`` computes the stages
    ``k_i = f(t + c_i h, y + h sum_j a_ij k_j)`` and ``y_next = y + h sum_i b_i k_i``.
    The local error estimate is ``h sum_i b_error_i k_i`` (high minus embedded solution).

    This class is final: a new method is a new instance, not a subclass.

    Parameters
    ----------
    name : str
        Name used in messages and in :data:`TABLEAUS`.
    c : sequence of float, shape [s]
        Abscissae; ``c[0]`` must be 0.
    a : sequence of sequences of float, shape [s, s] or ragged lower rows
        Strictly lower-triangular Runge-Kutta matrix; row ``i`` may be given with only its
        first ``i`` entries. Stored as a full square tuple of rows.
    b : sequence of float, shape [s]
        Weights of the propagated solution; must satisfy the order conditions of ``order``.
    order : int
        Classical order of the propagated solution.
    b_error : sequence of float, shape [s], optional
        ``b - b_hat`` where ``b_hat`` are the weights of the embedded solution; ``None`` for
        fixed-step methods.
    error_order : int, optional
        Order of the embedded solution ``b_hat``; required exactly when ``b_error`` is given.
    fsal : bool
        First same as last: the last stage is ``f(t + h, y_next)`` (last row of ``a`` equals
        ``b`` and ``c[-1] == 1``), so it is reused as the first stage of the next step.
    interpolation : sequence of sequences of float, shape [s, degree], optional
        Continuous weights ``b_i(theta) = sum_p interpolation[i][p] * theta**(p + 1)``, so
        that ``y(t + theta h) = y + h sum_i b_i(theta) k_i``; ``b_i(1)`` must equal ``b_i``.
        ``None`` means the solver uses a cubic Hermite interpolant of ``y, f`` at both ends.
    interpolation_order : int, optional
        Order of the continuous weights; required exactly when ``interpolation`` is given.

    Attributes
    ----------
    stages : int
        Number of stages ``s``.
    real_stability_boundary : float
        Largest ``x`` such that ``[-x, 0]`` lies in the stability region
        ``{z: |R(z)| <= 1}``; ``h * |lambda|`` beyond it makes the step unstable
        (about 2 for Euler, 2.785 for RK4, 3.307 for dopri5).
    stiffness_stages : tuple of (int, int) or None
        Two stages with the same abscissa and different rows of ``a``, used by Shampine's
        stiffness estimate ``|f(s_i) - f(s_j)| / |s_i - s_j|``; ``None`` if there is no pair.

    Raises
    ------
    ValueError
        On inconsistent shapes, rows of ``a`` that do not sum to ``c``, a non-explicit ``a``,
        weights that violate an order condition of the declared order, or a wrong FSAL flag.
    """

    name: str
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    order: int
    b_error: tuple[float, ...] | None = None
    error_order: int | None = None
    fsal: bool = False
    interpolation: tuple[tuple[float, ...], ...] | None = None
    interpolation_order: int | None = None
    stages: int = field(init=False, repr=False)
    real_stability_boundary: float = field(init=False, repr=False, compare=False)
    stiffness_stages: tuple[int, int] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name:
            raise ValueError("tableau name must be a non-empty string")
        c = _as_float_tuple(self.c)
        s = len(c)
        if s == 0:
            raise ValueError(f"tableau '{name}': c is empty; a method needs at least one stage")
        if len(self.a) != s:
            raise ValueError(f"tableau '{name}': a has {len(self.a)} rows but c has {s} entries")
        rows = []
        for i, row in enumerate(self.a):
            row = _as_float_tuple(row)
            if len(row) > s:
                raise ValueError(f"tableau '{name}': row {i} of a has {len(row)} > {s} entries")
            row = row + (0.0,) * (s - len(row))
            if any(value != 0.0 for value in row[i:]):
                raise ValueError(
                    f"tableau '{name}': a is not strictly lower-triangular in row {i}; "
                    "only explicit methods are supported"
                )
            rows.append(row)
        a = tuple(rows)
        b = _as_float_tuple(self.b)
        if len(b) != s:
            raise ValueError(f"tableau '{name}': b has {len(b)} entries but c has {s}")
        if c[0] != 0.0:
            raise ValueError(f"tableau '{name}': c[0] = {c[0]} but an explicit method needs 0")
        for i, row in enumerate(a):
            if abs(sum(row) - c[i]) > _SUM_TOLERANCE * max(1.0, abs(c[i])):
                raise ValueError(f"tableau '{name}': row {i} of a sums to {sum(row)!r} but c[{i}] = {c[i]!r}")
        if abs(sum(b) - 1.0) > _SUM_TOLERANCE:
            raise ValueError(f"tableau '{name}': b sums to {sum(b)!r}, not 1")
        if not isinstance(self.order, int) or self.order < 1:
            raise ValueError(f"tableau '{name}': order must be a positive int, got {self.order}")

        a_matrix = np.array(a)
        self._check_order_conditions(np.array(b), a_matrix, self.order, "b")

        b_error = None
        if (self.b_error is None) != (self.error_order is None):
            raise ValueError(f"tableau '{name}': give b_error and error_order together (or neither)")
        if self.b_error is not None:
            b_error = _as_float_tuple(self.b_error)
            if len(b_error) != s:
                raise ValueError(f"tableau '{name}': b_error has {len(b_error)} entries, not {s}")
            if abs(sum(b_error)) > _SUM_TOLERANCE:
                raise ValueError(f"tableau '{name}': b_error sums to {sum(b_error)!r}, not 0")
            if not isinstance(self.error_order, int) or not 1 <= self.error_order < self.order:
                raise ValueError(f"tableau '{name}': error_order must be an int in [1, order), got {self.error_order}")
            b_hat = np.array(b) - np.array(b_error)
            self._check_order_conditions(b_hat, a_matrix, self.error_order, "b - b_error")

        is_fsal = c[-1] == 1.0 and a[-1] == b
        if self.fsal and not is_fsal:
            raise ValueError(f"tableau '{name}': fsal=True needs c[-1] = 1 and the last row of a equal to b")

        interpolation = None
        if (self.interpolation is None) != (self.interpolation_order is None):
            raise ValueError(f"tableau '{name}': give interpolation and interpolation_order together")
        if self.interpolation is not None:
            interpolation = tuple(_as_float_tuple(row) for row in self.interpolation)
            degrees = {len(row) for row in interpolation}
            if len(interpolation) != s or len(degrees) != 1 or 0 in degrees:
                raise ValueError(f"tableau '{name}': interpolation must have {s} rows of equal non-zero length")
            for i, row in enumerate(interpolation):
                if abs(sum(row) - b[i]) > _ORDER_CONDITION_TOLERANCE:
                    raise ValueError(
                        f"tableau '{name}': interpolation weight {i} at theta=1 is {sum(row)!r} but b[{i}] = {b[i]!r}"
                    )

        object.__setattr__(self, "c", c)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "b_error", b_error)
        object.__setattr__(self, "fsal", bool(self.fsal))
        object.__setattr__(self, "interpolation", interpolation)
        object.__setattr__(self, "stages", s)
        object.__setattr__(self, "real_stability_boundary", _real_stability_boundary(a_matrix, np.array(b)))
        object.__setattr__(self, "stiffness_stages", self._find_stiffness_stages())

    def _check_order_conditions(self, weights: np.ndarray, a: np.ndarray, order: int, label: str) -> None:
        violation = _order_condition_violation(weights, a, order)
        if violation is not None:
            tree, got, want = violation
            raise ValueError(
                f"tableau '{self.name}': weights {label} violate the order-{_tree_order(tree)} "
                f"condition of tree {_tree_name(tree)} (got {got!r}, want {want!r}); "
                f"a coefficient is wrong or the declared order {order} is too high"
            )

    def _find_stiffness_stages(self) -> tuple[int, int] | None:
        # the last pair is preferred: for FSAL pairs it is (stage s-1, y_next), both at t + h
        for j in range(self.stages - 1, 0, -1):
            for i in range(j - 1, -1, -1):
                if self.c[i] == self.c[j] and self.a[i] != self.a[j]:
                    return i, j
        return None

    @property
    def is_adaptive(self) -> bool:
        """Whether the tableau carries error weights, so that it can control its step size."""
        return self.b_error is not None

    @property
    def dense_output_order(self) -> int:
        """Order of the continuous output: ``interpolation_order``, or 3 for Hermite cubic."""
        return self.interpolation_order if self.interpolation_order is not None else 3

    def embedded(self) -> ButcherTableau:
        """Return the embedded method ``b_hat = b - b_error`` as a fixed-step tableau.

        Raises
        ------
        ValueError
            If the tableau has no error weights.
        """
        if self.b_error is None:
            raise ValueError(f"tableau '{self.name}' has no embedded method (b_error is None)")
        b_hat = tuple(bi - ei for bi, ei in zip(self.b, self.b_error))
        return ButcherTableau(name=f"{self.name}_embedded", c=self.c, a=self.a, b=b_hat, order=self.error_order)


def _dopri5_interpolation() -> tuple[tuple[float, ...], ...]:
    """Continuous weights of Dormand-Prince 5(4), expanded from Hairer's form.

    Hairer, Norsett & Wanner, *Solving ODEs I* (1993), II.6, and the code DOPRI5 write
    ``y(theta) = y0 + theta (dy + (1 - theta) (h k1 - dy + theta (2 dy - h k1 - h k7
    + (1 - theta) h sum_i d_i k_i)))`` with ``dy = h sum_i b_i k_i``. Expanding in powers of
    theta (exactly, with fractions) gives per-stage polynomials ``sum_p w_ip theta**(p+1)``.
    """
    b = [Fraction(35, 384), 0, Fraction(500, 1113), Fraction(125, 192), Fraction(-2187, 6784), Fraction(11, 84), 0]
    d = [
        Fraction(-12715105075, 11282082432),
        0,
        Fraction(87487479700, 32700410799),
        Fraction(-10690763975, 1880347072),
        Fraction(701980252875, 199316789632),
        Fraction(-1453857185, 822651844),
        Fraction(69997945, 29380423),
    ]
    rows = []
    for i in range(7):
        first, last = Fraction(int(i == 0)), Fraction(int(i == 6))
        # weight_i = theta b + (theta - theta^2) u + (theta^2 - theta^3) v
        #            + (theta^2 - 2 theta^3 + theta^4) d_i,  u = e1 - b, v = 2b - e1 - e7
        u = first - b[i]
        v = 2 * b[i] - first - last
        rows.append((b[i] + u, -u + v + d[i], -v - 2 * d[i], d[i]))
    return tuple(tuple(float(value) for value in row) for row in rows)


def _tsit5_interpolation() -> tuple[tuple[float, ...], ...]:
    """Continuous weights of Tsitouras 5(4), from the factored polynomials of the paper.

    Tsitouras (2011), Table 2 / eq. for b_i(theta); expanded to powers of theta.
    """
    P = np.polynomial.Polynomial
    theta = P([0.0, 1.0])
    polynomials = [
        -1.0530884977290216
        * theta
        * (theta - 1.3299890189751412)
        * (theta**2 - 1.4364028541716351 * theta + 0.7139816917074209),
        0.1017 * theta**2 * (theta**2 - 2.1966568338249754 * theta + 1.2949852507374631),
        2.490627285651252793 * theta**2 * (theta**2 - 2.38535645472061657 * theta + 1.57803468208092486),
        -16.54810288924490272 * (theta - 1.21712927295533244) * (theta - 0.61620406037800089) * theta**2,
        47.37952196281928122 * (theta - 1.203071208372362603) * (theta - 0.658047292653547382) * theta**2,
        -34.87065786149660974 * (theta - 1.2) * (theta - 0.666666666666666667) * theta**2,
        2.5 * (theta - 1.0) * (theta - 0.6) * theta**2,
    ]
    rows = []
    for polynomial in polynomials:
        coefficients = np.zeros(5)
        coefficients[: len(polynomial.coef)] = polynomial.coef
        rows.append(tuple(float(value) for value in coefficients[1:]))
    return tuple(rows)


DOPRI5 = ButcherTableau(
    name="dopri5",
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    a=(
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
    ),
    b=(35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0),
    order=5,
    # b - b_hat with b_hat = (5179/57600, 0, 7571/16695, 393/640, -92097/339200, 187/2100, 1/40)
    b_error=(71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40),
    error_order=4,
    fsal=True,
    interpolation=_dopri5_interpolation(),
    interpolation_order=4,
)
"""Dormand & Prince (1980) 5(4) pair, 7 stages with FSAL, with Hairer's order-4 dense output.

J. R. Dormand and P. J. Prince, "A family of embedded Runge-Kutta formulae", J. Comput.
Appl. Math. 6 (1980) 19-26. The method of torchdiffeq's and scipy's ``dopri5``/``RK45``.
"""

_TSIT5_B = (
    0.09646076681806522951816731316512876333712,
    0.01,
    0.4798896504144995747752495322905965199130,
    1.379008574103741893192274821856872770756,
    -3.290069515436080679901047585711363850116,
    2.324710524099773982415355918398765796109,
    0.0,
)
_TSIT5_B_HAT = (
    0.09468075576583945807478876255758922856118,
    0.009183565540343253096776363936645313759814,
    0.4877705284247615707855642599631228241517,
    1.234297566930478985655109673884237654036,
    -2.707712349983525454881109975059321670690,
    1.866628418170587035753719399566211498666,
    1 / 66,
)
TSIT5 = ButcherTableau(
    name="tsit5",
    c=(0.0, 0.161, 0.327, 0.9, 0.9800255409045096857298102862870245954942, 1.0, 1.0),
    a=(
        (),
        (0.161,),
        (-0.008480655492356988544426874250230774675121, 0.3354806554923569885444268742502307747),
        (
            2.897153057105493432130432594192938764925,
            -6.359448489975074843148159912383825625953,
            4.362295432869581411017727318190886861028,
        ),
        (
            5.325864828439256604428877920840511317836,
            -11.74888356406282787774717033978577296189,
            7.495539342889836208304604784564358155659,
            -0.09249506636175524925650207933207191611350,
        ),
        (
            5.861455442946420028659251486982647890394,
            -12.92096931784710929170611868178335939542,
            8.159367898576158643180400794539253485182,
            -0.07158497328140099722453054252582973869127,
            -0.02826905039406838290900305721271224146718,
        ),
        _TSIT5_B[:6],
    ),
    b=_TSIT5_B,
    order=5,
    b_error=tuple(high - low for high, low in zip(_TSIT5_B, _TSIT5_B_HAT)),
    error_order=4,
    fsal=True,
    interpolation=_tsit5_interpolation(),
    interpolation_order=4,
)
"""Tsitouras (2011) 5(4) pair, 7 stages with FSAL, with its free order-4 interpolant.

Ch. Tsitouras, "Runge-Kutta pairs of order 5(4) satisfying only the first column
simplifying assumption", Comput. Math. Appl. 62 (2011) 770-775. Usually a little cheaper
than dopri5 at the same tolerance.
"""

BS3 = ButcherTableau(
    name="bs3",
    c=(0.0, 1 / 2, 3 / 4, 1.0),
    a=((), (1 / 2,), (0.0, 3 / 4), (2 / 9, 1 / 3, 4 / 9)),
    b=(2 / 9, 1 / 3, 4 / 9, 0.0),
    order=3,
    # b - b_hat with b_hat = (7/24, 1/4, 1/3, 1/8)
    b_error=(-5 / 72, 1 / 12, 1 / 9, -1 / 8),
    error_order=2,
    fsal=True,
)
"""Bogacki & Shampine (1989) 3(2) pair, 4 stages with FSAL; dense output by Hermite cubic.

P. Bogacki and L. F. Shampine, "A 3(2) pair of Runge-Kutta formulas", Appl. Math. Lett. 2
(1989) 321-325. MATLAB's ``ode23``; good for loose tolerances (rtol around 1e-3).
"""

RK4 = ButcherTableau(
    name="rk4",
    c=(0.0, 1 / 2, 1 / 2, 1.0),
    a=((), (1 / 2,), (0.0, 1 / 2), (0.0, 0.0, 1.0)),
    b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
    order=4,
)
"""The classical fourth-order Runge-Kutta method (Kutta 1901); fixed step only."""

EULER = ButcherTableau(name="euler", c=(0.0,), a=((),), b=(1.0,), order=1)
"""The explicit Euler method, order 1; fixed step only."""

TABLEAUS: Registry[ButcherTableau] = Registry("Runge-Kutta method", plural="tableaus", plugins=False)
"""Registry of the built-in tableaus, used by ``odeint(method=...)``."""
for _tableau in (DOPRI5, TSIT5, BS3, RK4, EULER):
    _embedded = f", embedded order {_tableau.error_order}" if _tableau.error_order else " (fixed step only)"
    TABLEAUS.register(_tableau.name, _tableau, doc=f"explicit Runge-Kutta of order {_tableau.order}{_embedded}")


def get_tableau(name: str) -> ButcherTableau:
    """Return the built-in tableau called ``name``.

    Parameters
    ----------
    name : str
        One of the keys of :data:`TABLEAUS`: ``dopri5``, ``tsit5``, ``bs3``, ``rk4``,
        ``euler``.

    Raises
    ------
    sciml.core.errors.UnknownNameError
        (a ``KeyError``) if the name is unknown; the message lists the valid names.
    """
    return TABLEAUS.get(name)
