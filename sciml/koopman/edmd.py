"""Extended DMD on a dictionary of observables (``edmd``), residual DMD (``resdmd``) and Hankel-DMD (``hankel_dmd``).

EDMD (Williams, Kevrekidis, Rowley 2015) lifts each snapshot by a dictionary
``psi = (psi_1 .. psi_K)`` and fits the weighted least-squares Koopman matrix on the
lifted pairs: with quadrature weights ``W``, ``Psi_X, Psi_Y [M, K]``, the matrix minimizes
``sum_m w_m |psi(y_m) - psi(x_m) K|^2``. It is computed as DMD of the lifted, weighted
snapshots (:mod:`sciml.koopman._core`: the truncated SVD of ``sqrt(W) Psi_X``, never the
Gram matrix ``G = Psi_X^* W Psi_X``): in the POD coordinates ``z = U^T psi^T`` the model is
``z_{k+1} = A_tilde z_k``. Left eigenvectors ``xi`` of ``A_tilde`` give the eigenfunctions
``phi(x) = psi(x) U xi``.

ResDMD (Colbrook and Townsend 2024) attaches to every EDMD eigenpair its residual
``res(lambda, g)^2 = g^* (L - lambda A^* - conj(lambda) A + |lambda|^2 G) g / (g^* G g)``,
``A = Psi_X^* W Psi_Y``, ``L = Psi_Y^* W Psi_Y``, computed from one QR factor of the
whitened data (:func:`~sciml.koopman._core.residual_factor`), and keeps the pairs with
``res <= epsilon``. For a measure-preserving system (an isometric Koopman operator) a
residual bounds the distance to the spectrum, so the kept eigenvalues are verified.

Hankel-DMD (Arbabi and Mezic 2017) is EDMD on the time-delay dictionary ``delay:d``.

References
----------
M. O. Williams, I. G. Kevrekidis, C. W. Rowley, "A data-driven approximation of the Koopman
operator: extending dynamic mode decomposition", J. Nonlinear Sci. 25 (2015) 1307-1346.
M. J. Colbrook, A. Townsend, "Rigorous data-driven computation of spectral properties of
Koopman operators for dynamical systems", Comm. Pure Appl. Math. 77 (2024) 221-283.
H. Arbabi, I. Mezic, "Ergodic theory, dynamic mode decomposition, and computation of
spectral properties of the Koopman operator", SIAM J. Appl. Dyn. Syst. 16 (2017) 2096-2126.
"""

from __future__ import annotations

import abc
import numbers
from typing import Any

import numpy as np

from sciml.core.errors import ConfigError, DataError
from sciml.core.estimator import register_estimator
from sciml.koopman._core import (
    check_rank,
    choose_rank,
    pair_residuals,
    pseudospectrum,
    sorted_eig,
    tall_r,
)
from sciml.koopman._lifted import AbstractKoopman, lift_data, pair_weights
from sciml.koopman.dictionaries import AbstractDictionary, make_dictionary, parse_dictionary

__all__ = ["EDMD", "ResDMD", "HankelDMD"]

_DICT_PREFIX = "dictionary_"


def _check_seed(seed: Any, owner: str) -> None:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"{owner} seed={seed!r} is invalid; use an int >= 0")


class _LiftedEDMD(AbstractKoopman, abc.ABC):
    """EDMD on a dictionary (the shared machinery of ``edmd``, ``resdmd`` and ``hankel_dmd``).

    Learned state (after ``fit``): ``eigenvalues_ [r]``, ``modes_ [D, r]`` (Koopman modes of
    the state: ``x = sum_j phi_j(x) modes_[:, j]``), ``residuals_ [r]`` (ResDMD residuals of
    every pair), ``eigenfunction_coefficients_ [K, r]`` (``phi_j = psi . g_j``), ``operator_``
    ``[r, r]`` (``A_tilde``), ``basis_ [K, r]`` (``U``), ``readout_ [D, r]`` (states from ``z``),
    ``residual_factor_ [., 2r]`` (for :meth:`pseudospectrum`), ``singular_values_``, ``rank_``,
    ``dt_``, ``n_features_`` (D), ``n_functions_`` (K), and the dictionary's fitted arrays
    ``dictionary_<name>_``.
    """

    @abc.abstractmethod
    def _spec(self) -> Any:
        """The dictionary spec (a string or a dictionary object) this estimator lifts the states with."""

    def _seed(self) -> int:
        return int(getattr(self, "seed", 0))

    @property
    def window(self) -> int:
        spec = self._spec()
        if isinstance(spec, str):
            kind, n, _ = parse_dictionary(spec)
            return n if kind == "delay" else 1
        return int(getattr(spec, "window", 1))

    def _check_params(self) -> None:
        owner = type(self).__name__
        check_rank(self.rank, owner)
        spec = self._spec()
        if isinstance(spec, str):
            parse_dictionary(spec)
        elif not callable(spec) and not isinstance(spec, AbstractDictionary):
            raise ConfigError(f"{owner} dictionary={spec!r} is invalid; pass a spec string (monomial:3) or a callable")
        _check_seed(getattr(self, "seed", 0), owner)

    def _reset(self) -> None:
        super()._reset()
        self._fitted_dictionary = None

    # ------------------------------------------------------------------ dictionary
    def fitted_dictionary(self) -> AbstractDictionary:
        """The fitted dictionary (rebuilt from the spec and the stored arrays after a load)."""
        self.check_fitted()
        cached = getattr(self, "_fitted_dictionary", None)
        if cached is None:
            arrays = {k[len(_DICT_PREFIX) : -1]: v for k, v in self.learned_state().items() if k.startswith(_DICT_PREFIX)}
            cached = make_dictionary(self._spec()).set_state(self.n_features_, arrays)
            self._fitted_dictionary = cached
        return cached

    # ------------------------------------------------------------------ fitting
    def fit(self, data: Any, dt: float | None = None, weights: Any = None) -> _LiftedEDMD:
        """Fit on every snapshot pair of ``data``.

        Parameters
        ----------
        data : Trajectories, array-like ``[N, T, D]`` / ``[T, D]``, or a tuple ``(x [M, D], y [M, D])``
            Uniformly sampled trajectories (every consecutive pair within a trajectory), or
            explicit snapshot pairs ``y[m] = F(x[m])`` (pointwise dictionaries only).
        dt : float, optional
            The time step of array data (default 1).
        weights : array-like ``[M]`` or ``[N, T - window]``, optional
            Quadrature weights of the pairs (default uniform ``1/M``, the ergodic average
            along trajectories); normalized to sum 1.

        Returns
        -------
        self

        Cost: lifting ``O(M K)``, the SVD of the ``[K, M]`` lifted matrix ``O(M K^2)``, the
        residual QR ``O(M r^2)``, eigenpairs ``O(r^3)``; memory ``O(M K)``.
        """
        owner = type(self).__name__
        dictionary = make_dictionary(self._spec())
        lifted = lift_data(data, dt, dictionary.window, owner)
        self._reset()
        m, d = lifted.n_pairs, lifted.states.shape[1]
        fit_states = lifted.source.x.reshape(-1, d) if lifted.source is not None else lifted.states
        dictionary.fit(fit_states, d, self._seed())
        k = dictionary.n_functions(d)
        spec = dictionary.spec
        if k > m:
            raise ConfigError(
                f"{owner}: the dictionary {spec} has K={k} functions but the data give only M={m} snapshot pairs, "
                f"so the least-squares Koopman matrix is ill-posed (it needs K <= M); use a smaller dictionary "
                f"or more snapshots (at least {k} pairs)"
            )
        w = pair_weights(weights, m, owner)
        dictionary.fit_pairs(lifted.x_windows, lifted.y_windows, w, self._seed())  # learned dictionaries train here
        psi_x, psi_y = lifted.lift_pairs(dictionary.transform)
        if not (np.isfinite(psi_x).all() and np.isfinite(psi_y).all()):
            raise DataError(f"{owner}: the dictionary {spec} overflows on the data; rescale the states or lower the degree")
        states = lifted.states
        if weights is None:
            # uniform weights 1/M scale every row by one number: the factors below are the same
            # without it (it cancels in every ratio), so only the singular values are rescaled
            uniform = 1.0 / np.sqrt(m)
        else:
            sw = np.sqrt(w)[:, None]
            psi_x, psi_y, states, uniform = psi_x * sw, psi_y * sw, states * sw, 1.0
        # One tall-skinny QR of [Psi_X, Psi_Y, X] = Q R holds every product with the data:
        # Psi_X = Q_1 R_11, so the SVD of the small R_11 = P S W^T is Psi_X's (POD basis W, right
        # vectors Q_1 P); Psi_Y's and the states' coordinates on Q_1 are R_12 and R_13, and the
        # residual factor is that of a small matrix (see residual_factor). No [M, .] SVD or
        # second pass over the data (LAPACK's tall SVD is a QR first as well).
        big = tall_r(psi_x, psi_y, states)
        r11, r12, r13 = big[:k, :k], big[:k, k : 2 * k], big[:k, 2 * k :]
        r22 = big[k : 2 * k, k : 2 * k]
        p_left, s_all, w_t = np.linalg.svd(r11)
        r, numerical = choose_rank(s_all, self.rank, (k, m), owner)
        basis, s, p_r = w_t[:r].T, s_all[:r], p_left[:, :r]  # U [K, r]; S; Q_1^T V [K, r]
        b_mat = (r12.T @ p_r) / s[None, :]  # Psi_Y^T V S^{-1}
        a_tilde = basis.T @ b_mat
        # states from z = U^T psi^T: weighted least squares over the data (z of the data is S Vh)
        readout = (r13.T @ p_r) / s[None, :]
        lam, xi = sorted_eig(a_tilde.T)  # left eigenvectors of A_tilde: phi_j(x) = z(x)^T xi_j
        xi = xi / np.linalg.norm(xi, axis=0, keepdims=True)
        modes = np.linalg.solve(xi, readout.T.astype(np.complex128)).T  # x = readout Xi^{-T} phi
        # [Q_X, P_Y] = [Q_1 P_r, Psi_Y U S^{-1}] = Q [[P_r, R_12 U S^{-1}], [0, R_22 U S^{-1}]]
        small = np.zeros((k + r22.shape[0], 2 * r))
        small[:k, :r] = p_r
        small[:k, r:] = (r12 @ basis) / s[None, :]
        small[k:, r:] = (r22 @ basis) / s[None, :]
        factor = np.linalg.qr(small, mode="r")
        residuals = pair_residuals(factor, lam, xi * s[:, None])

        self.eigenvalues_ = lam
        self.modes_ = modes.astype(np.complex128)
        self.residuals_ = residuals
        self.eigenfunction_coefficients_ = (basis @ xi).astype(np.complex128)
        self.operator_ = np.ascontiguousarray(a_tilde, dtype=np.float64)
        self.basis_ = np.ascontiguousarray(basis, dtype=np.float64)
        self.readout_ = np.ascontiguousarray(readout, dtype=np.float64)
        self.residual_factor_ = np.ascontiguousarray(factor, dtype=np.float64)
        self.singular_values_ = s_all.astype(np.float64) * uniform
        self.rank_ = int(r)
        self.dt_ = float(lifted.dt)
        self.n_features_ = int(d)
        self.n_functions_ = int(k)
        for key, value in dictionary.state().items():
            setattr(self, f"{_DICT_PREFIX}{key}_", np.asarray(value, dtype=np.float64))
        self._fitted_dictionary = dictionary
        self._record_training_data(
            lifted.source if lifted.source is not None else data,
            n_trajectories=lifted.n_trajectories,
            n_pairs=m,
            numerical_rank=numerical,
            dictionary=spec,
        )
        self._after_fit(lifted, w)
        return self

    def _after_fit(self, lifted, weights) -> None:
        """Hook for ResDMD's selection."""

    # ------------------------------------------------------------------ the model
    def _lift(self, windows: np.ndarray) -> np.ndarray:
        return self.fitted_dictionary().transform(windows) @ self.basis_

    def _advance(self, z: np.ndarray) -> np.ndarray:
        return z @ self.operator_.T

    def _readout(self, z: np.ndarray) -> np.ndarray:
        return z @ self.readout_.T

    def eigenfunctions(self, x: Any) -> np.ndarray:
        """The eigenfunctions at states ``x [B, D]`` (for a delay dictionary: contexts ``[B, C, D]``) -> ``[B, r]`` complex.

        ``phi_j(F(x)) ~ eigenvalues_[j] phi_j(x)``, each column normalized as the unit
        left eigenvector of ``operator_``.
        """
        windows, single = self._states(x, "x")
        out = self.fitted_dictionary().transform(windows) @ self.eigenfunction_coefficients_
        return out[0] if single else out

    def continuous_eigenvalues(self) -> np.ndarray:
        """``log(eigenvalues_) / dt_`` (principal branch): eigenvalues of the generator."""
        self.check_fitted()
        with np.errstate(divide="ignore"):
            return np.log(self.eigenvalues_) / self.dt_

    def pseudospectrum(self, z: Any) -> np.ndarray:
        """``tau(z)``: the smallest weighted relative residual ``||(Psi_Y - z Psi_X) g|| / ||Psi_X g||`` over the span.

        Parameters
        ----------
        z : complex array-like, any shape (a grid ``re + 1j im``)

        Returns
        -------
        ndarray, float64, the shape of ``z``: ``{z : tau(z) <= eps}`` approximates the
        eps-pseudospectrum (Colbrook and Townsend). Cost ``O(rank^3)`` per point.
        """
        self.check_fitted()
        return pseudospectrum(self.residual_factor_, np.asarray(z))


@register_estimator("edmd", doc="extended DMD on a dictionary of observables, with quadrature weights")
class EDMD(_LiftedEDMD):
    """Extended dynamic mode decomposition (Williams, Kevrekidis, Rowley 2015), fitted in float64.

    Parameters
    ----------
    dictionary : str or callable
        A spec (``monomial:3``, ``hermite:4``, ``legendre:4``, ``rbf:200``, ``rff:100``,
        ``delay:10``, ``neural:16`` (learned observables, trained on the pairs);
        :mod:`sciml.koopman.dictionaries`) or a function ``x [M, D] -> [M, K]``
        (not saved by name). A good start for smooth low-dimensional systems is a
        polynomial of degree 3-5, for others ``rbf:K`` with ``K`` a tenth of the pairs.
    rank : None, int or float in (0, 1)
        Truncation of the SVD of the weighted lifted snapshots, as for :class:`~sciml.koopman.DMD`.
    seed : int
        For the k-means centres, random features and the initialisation of learned ones.

    Attributes
    ----------
    See :class:`_LiftedEDMD`; ``residuals_`` holds the ResDMD residual of every pair.

    Examples
    --------
    The map ``x+ = 0.9 x, y+ = 0.5 y + 0.3 x^2`` keeps ``span{1, x, y, x^2}`` invariant, with
    Koopman eigenvalues 1, 0.9, 0.81, 0.5 there; ``monomial:2`` holds that span, so those four
    are found exactly (residual 0), beside two more whose residuals say they are not:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-1, 1, (50, 2))
    >>> y = np.stack([0.9 * x[:, 0], 0.5 * x[:, 1] + 0.3 * x[:, 0] ** 2], axis=1)
    >>> edmd = EDMD("monomial:2").fit((x, y))
    >>> exact = edmd.residuals_ < 1e-12
    >>> np.round(edmd.eigenvalues_[exact].real, 12).tolist(), bool((edmd.residuals_[~exact] > 0.01).all())
    ([1.0, 0.9, 0.81, 0.5], True)
    """

    def __init__(self, dictionary: Any = "monomial:2", rank: int | float | None = None, seed: int = 0):
        self.dictionary = dictionary
        self.rank = rank
        self.seed = seed
        self._check_params()

    def _spec(self):
        return self.dictionary


@register_estimator("hankel_dmd", doc="Hankel (time-delay) DMD: EDMD on the delay embedding of the states")
class HankelDMD(_LiftedEDMD):
    """Hankel-DMD (Arbabi and Mezic 2017): EDMD on the time-delay embedding ``[x_k, ..., x_{k-d+1}]``.

    Parameters
    ----------
    delays : int >= 1
        ``d``, the states per embedded vector (``min_context``); ``delays=1`` is exact DMD.
    rank : None, int or float in (0, 1)
        Truncation of the SVD of the Hankel matrix (a fraction such as 0.9999 drops noise).

    Attributes
    ----------
    See :class:`_LiftedEDMD` (``modes_ [D, r]`` are the present-state block of the Hankel modes).
    """

    def __init__(self, delays: int = 10, rank: int | float | None = None):
        self.delays = delays
        self.rank = rank
        self._check_params()

    def _check_params(self) -> None:
        if isinstance(self.delays, bool) or not isinstance(self.delays, numbers.Integral) or self.delays < 1:
            raise ConfigError(f"HankelDMD delays={self.delays!r} is invalid; use an int >= 1")
        super()._check_params()

    def _spec(self):
        return f"delay:{int(self.delays)}"


@register_estimator("resdmd", doc="residual DMD: EDMD eigenpairs with residuals, kept below epsilon; pseudospectra")
class ResDMD(_LiftedEDMD):
    """Residual DMD (Colbrook and Townsend 2024): EDMD eigenpairs verified by their residuals.

    Every EDMD candidate pair ``(lambda, g)`` gets the residual
    ``res = ||(Psi_Y - lambda Psi_X) g||_W / ||Psi_X g||_W`` (the square root of
    ``g^*(L - lambda A^* - conj(lambda) A + |lambda|^2 G) g / g^* G g``), computed from the QR
    factor of the whitened data. Pairs with ``res <= epsilon`` are kept: when the data
    quadrature converges and the Koopman operator is normal (measure-preserving systems),
    each kept ``lambda`` lies within ``epsilon`` of the spectrum; spurious eigenvalues
    (spectral pollution) have large residuals and are dropped.

    Parameters
    ----------
    dictionary : str or callable
        As for :class:`EDMD`.
    epsilon : float > 0
        The residual threshold (0.1 keeps eigenvalues within about 10 % of the spectrum).
    rank : None, int or float in (0, 1)
    seed : int

    Attributes
    ----------
    eigenvalues_ : ndarray ``[k]``, complex128
        The kept eigenvalues (``res <= epsilon``), by decreasing modulus.
    residuals_ : ndarray ``[k]``
        Their residuals.
    modes_ : ndarray ``[D, k]``, complex128
        Koopman modes of the state on the kept eigenfunctions (weighted least squares over
        the training data): :meth:`forecast` expands in the kept pairs only.
    eigenfunction_coefficients_ : ndarray ``[K, k]``
    candidate_eigenvalues_, candidate_residuals_ : ndarray ``[r]``
        Every EDMD pair and its residual; ``kept_ [r]`` (bool) marks the kept ones.
    """

    def __init__(self, dictionary: Any = "monomial:2", epsilon: float = 0.1, rank: int | float | None = None,
                 seed: int = 0):
        self.dictionary = dictionary
        self.epsilon = epsilon
        self.rank = rank
        self.seed = seed
        self._check_params()

    def _spec(self):
        return self.dictionary

    def _check_params(self) -> None:
        eps = self.epsilon
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps) or not eps > 0:
            raise ConfigError(f"ResDMD epsilon={eps!r} is invalid; use a positive residual threshold such as 0.1")
        super()._check_params()

    def _after_fit(self, lifted, weights) -> None:
        kept = self.residuals_ <= float(self.epsilon)
        self.candidate_eigenvalues_ = self.eigenvalues_
        self.candidate_residuals_ = self.residuals_
        self.kept_ = kept
        xi = self.basis_.T @ self.eigenfunction_coefficients_[:, kept]  # z-coordinates of the kept functions
        # x ~ sum_j phi_j(x) v_j over the data: phi(data) = Vh^T S xi, so the normal equations reduce to r x k
        s = self.singular_values_[: self.rank_]
        if kept.any():
            coef, *_ = np.linalg.lstsq(xi * s[:, None], (self.readout_ * s[None, :]).T.astype(np.complex128), rcond=None)
            self.modes_ = coef.T.astype(np.complex128)
        else:
            self.modes_ = np.zeros((self.n_features_, 0), dtype=np.complex128)
        self.eigenvalues_ = self.candidate_eigenvalues_[kept]
        self.residuals_ = self.candidate_residuals_[kept]
        self.eigenfunction_coefficients_ = self.eigenfunction_coefficients_[:, kept]

    def _require_kept(self) -> None:
        if self.eigenvalues_.size == 0:
            raise DataError(
                f"ResDMD kept no eigenpair (the smallest residual is {self.candidate_residuals_.min():.3g} > "
                f"epsilon={self.epsilon}); raise epsilon or enrich the dictionary"
            )

    # forecasting expands in the kept eigenpairs: phi_j(x_{k+1}) = lambda_j phi_j(x_k)
    def _lift(self, windows: np.ndarray) -> np.ndarray:
        self._require_kept()
        return self.fitted_dictionary().transform(windows) @ self.eigenfunction_coefficients_

    def _advance(self, z: np.ndarray) -> np.ndarray:
        return z * self.eigenvalues_[None, :]

    def _readout(self, z: np.ndarray) -> np.ndarray:
        return np.real(z @ self.modes_.T)

