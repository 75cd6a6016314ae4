"""Dictionaries of observables for the Koopman estimators: the functions ``psi`` that lift states.

A dictionary maps a window of ``w`` consecutive states ``[M, w, D]`` (oldest first, the last
row is the present) to ``K`` observables ``[M, K]``. Pointwise dictionaries (``w = 1``) read
only the present state; the time-delay (Hankel) embedding reads ``w = delays`` states.

Spec strings name a dictionary in configs and on the command line:

=================  ===========================================================================
``monomial:p``     every monomial of total degree ``<= p`` (the constant first), ``C(D+p, p)`` functions
``hermite:p``      products of probabilists' Hermite polynomials ``He_k`` of the standardized
                   coordinates, total degree ``<= p`` (the same span as ``monomial:p``, better conditioned)
``legendre:p``     products of Legendre polynomials ``P_k`` of the coordinates mapped to ``[-1, 1]``
                   by the training range, total degree ``<= p``
``rbf:K``          the constant, the state ``x`` and ``K`` Gaussian bumps ``exp(-|x - c_j|^2 / (2 h^2))``, centres
                   ``c_j`` by k-means on the training states (``seed``), width ``h`` the median
                   distance from a centre to its nearest other centre (``rbf:K,width=H`` sets it)
``rff:K``          the constant, the state ``x`` and ``K`` random Fourier features ``sqrt(2/K) cos(w_j . z + b_j)``
                   of the standardized state ``z``, ``w_j ~ N(0, I / l^2)`` (``l = 1``; ``rff:K,scale=L``)
``delay:d``        the time-delay embedding ``[x_k, x_{k-1}, ..., x_{k-d+1}]`` (``d D`` functions)
``neural:N``       the constant, the state ``x`` and ``N`` features of a tanh MLP trained on the snapshot
                   pairs (EDMD with dictionary learning, :mod:`sciml.koopman.learned`); options
                   ``hidden``, ``depth``, ``iterations``, ``inner_steps``, ``lr``, ``ridge``, ``device``
=================  ===========================================================================

Most dictionaries are fitted on the training states alone (:meth:`AbstractDictionary.fit`);
a learned one is also fitted on the snapshot pairs (:meth:`AbstractDictionary.fit_pairs`,
which the estimators call after ``fit``, before they lift the data).

A Python callable ``f(x [M, D]) -> [M, K]`` is a dictionary too (:class:`CallableDictionary`);
it cannot be saved by name, so estimators built on one fit and predict but do not save.

The fitted state of a dictionary (centres, scalings, random weights) is a dict of float64
arrays (:meth:`AbstractDictionary.state`): the estimators store it in their learned state,
so a saved estimator rebuilds the same functions without the training data.
"""

from __future__ import annotations

import abc
import difflib
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, ShapeError
from sciml.koopman.learned import mlp_features, train_neural_dictionary

__all__ = [
    "AbstractDictionary",
    "Monomials",
    "Hermite",
    "Legendre",
    "RadialBasis",
    "RandomFourier",
    "TimeDelay",
    "CallableDictionary",
    "NeuralDictionary",
    "DICTIONARY_KINDS",
    "make_dictionary",
    "parse_dictionary",
    "total_degree_exponents",
]


def total_degree_exponents(dim: int, degree: int) -> np.ndarray:
    """Exponent vectors of every monomial in ``dim`` variables of total degree ``<= degree`` -> ``[K, dim]`` int64.

    Ordered by total degree, then lexicographically (largest power of the first variable first).

    >>> total_degree_exponents(2, 2).tolist()
    [[0, 0], [1, 0], [0, 1], [2, 0], [1, 1], [0, 2]]
    """
    rows = []
    for total in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(dim), total):
            e = [0] * dim
            for i in combo:
                e[i] += 1
            rows.append(e)
    return np.array(rows, dtype=np.int64).reshape(-1, dim)


class AbstractDictionary:
    """A set of observables ``psi: [M, window, D] -> [M, K]`` (see the module docstring).

    Attributes
    ----------
    spec : str
        The spec string that rebuilds it (``"monomial:3"``).
    window : int
        States per lifted vector (1 for pointwise dictionaries, ``d`` for ``delay:d``).
    """

    spec: str = ""
    window: int = 1

    def fit(self, states: np.ndarray, dim: int, seed: int = 0) -> AbstractDictionary:
        """Learn data-dependent parts (centres, scalings) from training states ``[M, D]``; returns self."""
        self.dim = int(dim)
        return self

    def fit_pairs(self, x_windows: np.ndarray, y_windows: np.ndarray, weights: np.ndarray, seed: int = 0) -> AbstractDictionary:
        """Learn from the snapshot pairs ``[M, window, D]`` (weights ``[M]``), after :meth:`fit`; returns self.

        Only learned dictionaries use the pairs (the others return at once); the estimators
        call it on every fit.
        """
        return self

    def n_functions(self, dim: int) -> int:
        """K, the number of observables for ``dim``-dimensional states."""
        raise NotImplementedError  # AbstractDictionary: subclasses implement it

    def transform(self, windows: np.ndarray) -> np.ndarray:
        """``[M, window, D]`` -> ``[M, K]`` float64."""
        raise NotImplementedError  # AbstractDictionary: subclasses implement it

    def state(self) -> dict[str, np.ndarray]:
        """The fitted arrays (float64), by name."""
        return {}

    def set_state(self, dim: int, arrays: dict[str, np.ndarray]) -> AbstractDictionary:
        """Restore :meth:`state` (what a loaded estimator does); returns self."""
        self.dim = int(dim)
        for key, value in arrays.items():
            setattr(self, key, np.asarray(value, dtype=np.float64))
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.spec}')"


class _Polynomial(AbstractDictionary, abc.ABC):
    def __init__(self, degree: int, spec: str):
        self.degree = int(degree)
        self.spec = spec

    def n_functions(self, dim: int) -> int:
        return math.comb(dim + self.degree, self.degree)

    def _coordinates(self, x: np.ndarray) -> np.ndarray:
        return x

    @abc.abstractmethod
    def _univariate(self, z: np.ndarray) -> np.ndarray:
        """``[M, D]`` -> ``[degree + 1, M, D]``: the 1-D basis of each coordinate."""

    def transform(self, windows: np.ndarray) -> np.ndarray:
        z = self._coordinates(windows[:, -1])
        basis = self._univariate(z)  # [p+1, M, D]
        exps = total_degree_exponents(z.shape[1], self.degree)
        out = np.ones((z.shape[0], exps.shape[0]))
        for d in range(z.shape[1]):
            out *= basis[exps[:, d], :, d].T
        return out


class Monomials(_Polynomial):
    """Every monomial ``x^e`` with ``|e| <= degree`` (``monomial:p``); the constant is the first function."""

    def _univariate(self, z):
        return np.stack([z**k for k in range(self.degree + 1)])


class Hermite(_Polynomial):
    """Products of probabilists' Hermite polynomials of the standardized state (``hermite:p``).

    ``He_0 = 1, He_1 = z, He_{k+1} = z He_k - k He_{k-1}``, ``z = (x - mean) / std`` of the training states.
    """

    def fit(self, states, dim, seed=0):
        super().fit(states, dim, seed)
        self.shift = states.mean(axis=0)
        std = states.std(axis=0)
        self.scale = np.where(std > 0, std, 1.0)
        return self

    def state(self):
        return {"shift": self.shift, "scale": self.scale}

    def _coordinates(self, x):
        return (x - self.shift) / self.scale

    def _univariate(self, z):
        out = [np.ones_like(z), z]
        for k in range(1, self.degree):
            out.append(z * out[k] - k * out[k - 1])
        return np.stack(out[: self.degree + 1])


class Legendre(_Polynomial):
    """Products of Legendre polynomials of the state mapped to ``[-1, 1]`` by the training range (``legendre:p``).

    ``P_0 = 1, P_1 = z, (k+1) P_{k+1} = (2k+1) z P_k - k P_{k-1}``.
    """

    def fit(self, states, dim, seed=0):
        super().fit(states, dim, seed)
        lo, hi = states.min(axis=0), states.max(axis=0)
        self.shift = (hi + lo) / 2
        half = (hi - lo) / 2
        self.scale = np.where(half > 0, half, 1.0)
        return self

    def state(self):
        return {"shift": self.shift, "scale": self.scale}

    def _coordinates(self, x):
        return (x - self.shift) / self.scale

    def _univariate(self, z):
        out = [np.ones_like(z), z]
        for k in range(1, self.degree):
            out.append(((2 * k + 1) * z * out[k] - k * out[k - 1]) / (k + 1))
        return np.stack(out[: self.degree + 1])


class RadialBasis(AbstractDictionary):
    """The constant, the state and ``n_centers`` Gaussian radial basis functions, centres by k-means (``rbf:K``)."""

    def __init__(self, n_centers: int, spec: str, width: float | None = None):
        self.n_centers = int(n_centers)
        self.spec = spec
        self.width_option = width

    def n_functions(self, dim):
        return 1 + dim + self.n_centers

    def fit(self, states, dim, seed=0):
        from sklearn.cluster import KMeans

        super().fit(states, dim, seed)
        distinct = np.unique(states, axis=0).shape[0]
        if distinct < self.n_centers:
            raise ConfigError(
                f"dictionary {self.spec} asks for {self.n_centers} centres but the data hold only {distinct} distinct "
                f"states; use rbf:{max(1, distinct // 2)} or more data"
            )
        km = KMeans(n_clusters=self.n_centers, n_init=1, random_state=int(seed)).fit(states)
        self.centers = np.ascontiguousarray(km.cluster_centers_, dtype=np.float64)
        if self.width_option is not None:
            width = float(self.width_option)
        elif self.n_centers > 1:
            d = np.linalg.norm(self.centers[:, None] - self.centers[None], axis=-1)
            np.fill_diagonal(d, np.inf)
            width = float(np.median(d.min(axis=1)))
        else:
            width = float(states.std(axis=0).max() or 1.0)
        self.width = np.array(width if width > 0 else 1.0)
        return self

    def state(self):
        return {"centers": self.centers, "width": self.width}

    def transform(self, windows):
        x = windows[:, -1]
        sq = ((x[:, None, :] - self.centers[None]) ** 2).sum(axis=-1)
        return np.concatenate([np.ones((x.shape[0], 1)), x, np.exp(-sq / (2 * float(self.width) ** 2))], axis=1)


class RandomFourier(AbstractDictionary):
    """The constant, the state and ``n_features`` random Fourier features of the standardized state (``rff:K``).

    Features ``sqrt(2/K) cos(z W + b)`` approximate the Gaussian kernel of length scale ``scale``
    (Rahimi and Recht 2007); ``W ~ N(0, 1/scale^2)``, ``b ~ U(0, 2 pi)`` from ``seed``.
    """

    def __init__(self, n_features: int, spec: str, scale: float = 1.0):
        self.n_features = int(n_features)
        self.spec = spec
        self.scale_option = float(scale)

    def n_functions(self, dim):
        return 1 + dim + self.n_features

    def fit(self, states, dim, seed=0):
        super().fit(states, dim, seed)
        rng = np.random.default_rng(int(seed))
        self.shift = states.mean(axis=0)
        std = states.std(axis=0)
        self.scale = np.where(std > 0, std, 1.0)
        self.weights = rng.standard_normal((dim, self.n_features)) / self.scale_option
        self.phases = rng.uniform(0.0, 2 * np.pi, self.n_features)
        return self

    def state(self):
        return {"shift": self.shift, "scale": self.scale, "weights": self.weights, "phases": self.phases}

    def transform(self, windows):
        x = windows[:, -1]
        z = (x - self.shift) / self.scale
        return np.concatenate([np.ones((x.shape[0], 1)), x, np.sqrt(2.0 / self.n_features) * np.cos(z @ self.weights + self.phases)], axis=1)


class TimeDelay(AbstractDictionary):
    """The time-delay (Hankel) embedding ``[x_k, x_{k-1}, ..., x_{k-d+1}]`` (``delay:d``; present first)."""

    def __init__(self, delays: int, spec: str):
        self.delays = int(delays)
        self.window = int(delays)
        self.spec = spec

    def n_functions(self, dim):
        return dim * self.delays

    def transform(self, windows):
        return windows[:, ::-1].reshape(windows.shape[0], -1)


class NeuralDictionary(AbstractDictionary):
    """The constant, the state and ``n_features`` learned tanh-MLP observables (``neural:N``; Li et al. 2017).

    ``psi(x) = [1, x, (h(z) - m) / s]`` with ``z`` the standardized state and ``h`` an MLP of
    ``depth`` hidden tanh layers of width ``hidden``, trained on the snapshot pairs by EDMD
    with dictionary learning (:func:`sciml.koopman.learned.train_neural_dictionary`):
    ``iterations`` times, the ridge-regularized EDMD solve for ``K``, then ``inner_steps``
    Adam steps (learning rate ``lr``) on ``|Psi(Y) - Psi(X) K|^2``. ``m, s`` are the weighted
    mean and standard deviation of the outputs on the training states. Float64, on
    ``device``, deterministic from the estimator's ``seed``. The learned weights are arrays
    of :meth:`state`, so a saved estimator rebuilds the same functions.
    """

    def __init__(
        self,
        n_features: int,
        spec: str,
        hidden: float = 32,
        depth: float = 2,
        iterations: float = 800,
        inner_steps: float = 1,
        lr: float = 1e-2,
        ridge: float = 1e-8,
        device: str = "cpu",
    ):
        self.n_features = int(n_features)
        self.spec = spec
        for name, value in (("hidden", hidden), ("depth", depth), ("iterations", iterations), ("inner_steps", inner_steps)):
            if float(value) != int(value) or int(value) < 1:
                raise ConfigError(f"dictionary '{spec}': option {name}={value} must be an integer >= 1")
        self.hidden, self.depth = int(hidden), int(depth)
        self.iterations, self.inner_steps = int(iterations), int(inner_steps)
        self.lr, self.ridge = float(lr), float(ridge)
        self.device = str(device)

    def n_functions(self, dim):
        return 1 + dim + self.n_features

    def fit(self, states, dim, seed=0):
        super().fit(states, dim, seed)
        self.shift = states.mean(axis=0)
        std = states.std(axis=0)
        self.scale = np.where(std > 0, std, 1.0)
        return self

    def fit_pairs(self, x_windows, y_windows, weights, seed=0):
        x, y = x_windows[:, -1], y_windows[:, -1]
        trained = train_neural_dictionary(
            (x - self.shift) / self.scale,
            (y - self.shift) / self.scale,
            x,
            y,
            weights,
            n_features=self.n_features,
            hidden=self.hidden,
            depth=self.depth,
            iterations=self.iterations,
            inner_steps=self.inner_steps,
            lr=self.lr,
            ridge=self.ridge,
            seed=int(seed),
            device=self.device,
        )
        for key, value in trained.items():
            setattr(self, key, value)
        return self

    def _layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(getattr(self, f"weight_{i}"), getattr(self, f"bias_{i}")) for i in range(self.depth + 1)]

    def state(self):
        arrays = {"shift": self.shift, "scale": self.scale}
        for i in range(self.depth + 1):
            arrays[f"weight_{i}"] = getattr(self, f"weight_{i}")
            arrays[f"bias_{i}"] = getattr(self, f"bias_{i}")
        arrays.update(feature_mean=self.feature_mean, feature_std=self.feature_std, loss_history=self.loss_history)
        return arrays

    def transform(self, windows):
        x = windows[:, -1]
        h = mlp_features((x - self.shift) / self.scale, self._layers())
        return np.concatenate([np.ones((x.shape[0], 1)), x, (h - self.feature_mean) / self.feature_std], axis=1)


class CallableDictionary(AbstractDictionary):
    """A user function ``f(x [M, D]) -> [M, K]`` as a pointwise dictionary (not saved by name)."""

    def __init__(self, function: Callable[[np.ndarray], Any]):
        self.function = function
        self.spec = f"callable:{getattr(function, '__name__', type(function).__name__)}"

    def n_functions(self, dim):
        return int(self.transform(np.zeros((1, 1, dim))).shape[1])

    def transform(self, windows):
        out = np.asarray(self.function(windows[:, -1]), dtype=np.float64)
        if out.ndim != 2 or out.shape[0] != windows.shape[0]:
            raise ShapeError(
                f"dictionary function {self.spec[9:]} returned shape {out.shape} for {windows.shape[0]} states; "
                f"it must map x [M, D] to [M, K]"
            )
        return out


#: spec name -> (class, the meaning of the integer, keyword options)
DICTIONARY_KINDS: dict[str, tuple[type[AbstractDictionary], str, tuple[str, ...]]] = {
    "monomial": (Monomials, "the total degree", ()),
    "hermite": (Hermite, "the total degree", ()),
    "legendre": (Legendre, "the total degree", ()),
    "rbf": (RadialBasis, "the number of centres", ("width",)),
    "rff": (RandomFourier, "the number of features", ("scale",)),
    "delay": (TimeDelay, "the number of delays", ()),
    "neural": (
        NeuralDictionary,
        "the number of learned features",
        ("hidden", "depth", "iterations", "inner_steps", "lr", "ridge", "device"),
    ),
}

#: options whose value is a word, not a number
_TEXT_OPTIONS = ("device",)

_EXAMPLES = "monomial:3, hermite:4, legendre:4, rbf:200, rff:100, delay:10, neural:16"


def parse_dictionary(spec: str) -> tuple[str, int, dict[str, Any]]:
    """Split a spec string into ``(kind, integer, options)`` with one-line ConfigErrors.

    >>> parse_dictionary("rbf:50,width=0.3")
    ('rbf', 50, {'width': 0.3})
    >>> parse_dictionary("monomail:3")
    Traceback (most recent call last):
    ...
    sciml.core.errors.ConfigError: unknown dictionary 'monomail:3' (did you mean 'monomial'?); valid: monomial:p, hermite:p, legendre:p, rbf:K, rff:K, delay:d, neural:N (e.g. monomial:3, hermite:4, legendre:4, rbf:200, rff:100, delay:10, neural:16)
    """
    valid = "monomial:p, hermite:p, legendre:p, rbf:K, rff:K, delay:d, neural:N"
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"dictionary {spec!r} is not a spec string; valid: {valid} (e.g. {_EXAMPLES})")
    text = spec.strip()
    head, _, rest = text.partition(",")
    kind, colon, number = head.partition(":")
    kind = kind.strip().lower()
    if kind not in DICTIONARY_KINDS:
        close = difflib.get_close_matches(kind, list(DICTIONARY_KINDS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"unknown dictionary '{text}'{hint}; valid: {valid} (e.g. {_EXAMPLES})")
    meaning, options = DICTIONARY_KINDS[kind][1], DICTIONARY_KINDS[kind][2]
    try:
        n = int(number)
    except ValueError:
        n = 0
    lowest = 1 if kind != "monomial" else 0
    if not colon or n < lowest or str(n) != number.strip():
        raise ConfigError(f"dictionary '{text}' needs {meaning} as an int >= {lowest} after the colon, e.g. {kind}:3")
    parsed: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if key not in options or not eq:
            raise ConfigError(
                f"dictionary '{text}': unknown option '{item}'; {kind} takes "
                f"{', '.join(o + '=VALUE' for o in options) or 'no options'}"
            )
        if key in _TEXT_OPTIONS:
            if not value.strip():
                raise ConfigError(f"dictionary '{text}': option {key}= is empty; e.g. {key}=cpu")
            parsed[key] = value.strip()
            continue
        try:
            parsed[key] = float(value)
        except ValueError:
            raise ConfigError(f"dictionary '{text}': option {key}={value!r} is not a number") from None
        if not parsed[key] > 0:
            raise ConfigError(f"dictionary '{text}': option {key}={value} must be positive")
    return kind, n, parsed


def make_dictionary(spec: str | Callable[[np.ndarray], Any] | AbstractDictionary) -> AbstractDictionary:
    """A fresh (unfitted) dictionary from a spec string, a callable or a dictionary instance.

    >>> d = make_dictionary("monomial:2").fit(np.zeros((3, 2)), 2)
    >>> d.transform(np.array([[[2.0, 3.0]]])).tolist()
    [[1.0, 2.0, 3.0, 4.0, 6.0, 9.0]]
    """
    if isinstance(spec, AbstractDictionary):
        return spec
    if callable(spec) and not isinstance(spec, str):
        return CallableDictionary(spec)
    kind, n, options = parse_dictionary(spec)
    cls = DICTIONARY_KINDS[kind][0]
    return cls(n, spec.strip(), **options)
