"""Fourier pseudo-spectral tools for periodic fields: derivatives, dealiasing, random
fields and the ETDRK4 exponential integrator.

Every function is a pure torch function, batched over leading dimensions and
working on any device and floating dtype. Grids are uniform and periodic: a field of
``n`` samples on ``[0, length)`` sits at ``x_j = j * length / n``.

References
----------
Kassam, A.-K. and Trefethen, L. N. (2005), "Fourth-order time-stepping for stiff
PDEs", SIAM J. Sci. Comput. 26(4), 1214-1233 (ETDRK4 with contour integrals).

Cox, S. M. and Matthews, P. C. (2002), "Exponential time differencing for stiff
systems", J. Comput. Phys. 176, 430-455 (the ETDRK4 scheme).

Li, Z. et al. (2021), "Fourier neural operator for parametric partial differential
equations", ICLR (Gaussian random field initial conditions of the benchmarks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from sciml.core.errors import ConfigError

__all__ = [
    "wavenumbers",
    "spectral_derivative",
    "spectral_gradient_2d",
    "spectral_laplacian_2d",
    "dealias_mask",
    "gaussian_random_field",
    "ETDRK4Coefficients",
    "etdrk4_coefficients",
    "etdrk4_step",
]


def _real_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.empty((), dtype=dtype).real.dtype if dtype.is_complex else dtype


def wavenumbers(
    n: int,
    length: float = 2 * math.pi,
    *,
    real: bool = False,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Angular wavenumbers ``k = 2 pi m / length`` of an ``n``-point periodic grid.

    Parameters
    ----------
    n : int
        Number of grid points.
    length : float
        Period of the domain.
    real : bool
        ``False``: the ordering of :func:`torch.fft.fft` (``m = 0, 1, ..., -1``),
        ``n`` values. ``True``: the ordering of :func:`torch.fft.rfft`
        (``m = 0, ..., n // 2``), ``n // 2 + 1`` values.
    dtype, device
        Of the returned tensor.

    Returns
    -------
    Tensor ``[n]`` or ``[n // 2 + 1]``
        Angular wavenumbers. For even ``n`` the Nyquist index ``m = n / 2`` appears
        once, with a negative sign in the full ordering (as in ``fftfreq``).

    Examples
    --------
    >>> wavenumbers(4, 2 * math.pi).tolist()
    [0.0, 1.0, -2.0, -1.0]
    >>> wavenumbers(4, 1.0, real=True) / (2 * math.pi)
    tensor([0., 1., 2.], dtype=torch.float64)
    """
    if n < 1:
        raise ConfigError(f"wavenumbers: n must be >= 1, got {n}")
    if not length > 0:
        raise ConfigError(f"wavenumbers: length must be > 0, got {length}")
    freq = (
        torch.fft.rfftfreq(n, d=1.0 / n, dtype=dtype, device=device)
        if real
        else (torch.fft.fftfreq(n, d=1.0 / n, dtype=dtype, device=device))
    )
    return freq * (2 * math.pi / length)


def _derivative_multiplier(
    n: int, order: int, length: float, *, real: bool, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """``(i k)^order`` with the Nyquist mode removed for odd orders on even grids."""
    k = wavenumbers(n, length, real=real, dtype=_real_dtype(dtype), device=device)
    multiplier = (1j * k) ** order
    if order % 2 == 1 and n % 2 == 0:
        # The Nyquist mode cos(pi n x / L) samples as (-1)^j: its odd derivatives
        # (a sine) vanish on the grid, so the only consistent value is zero.
        multiplier[n // 2] = 0
    return multiplier


def spectral_derivative(u: torch.Tensor, order: int = 1, length: float = 2 * math.pi, dim: int = -1) -> torch.Tensor:
    """Derivative of a periodic field along one dimension by FFT.

    Exact (to rounding) for trigonometric polynomials of degree below ``n / 2``;
    spectrally accurate for smooth periodic fields.

    Parameters
    ----------
    u : Tensor ``[..., n, ...]``
        Real or complex samples on a uniform periodic grid along ``dim``.
    order : int
        Derivative order, ``>= 0``.
    length : float
        Period of the domain along ``dim``.
    dim : int
        Dimension to differentiate along.

    Returns
    -------
    Tensor, same shape and dtype as ``u``
        ``d^order u / dx^order``. For odd orders on even grids the Nyquist mode is
        dropped (its odd derivatives are not representable on the grid).

    Examples
    --------
    >>> x = torch.arange(16, dtype=torch.float64) * 2 * math.pi / 16
    >>> du = spectral_derivative(torch.sin(3 * x), 1, 2 * math.pi)
    >>> bool(torch.allclose(du, 3 * torch.cos(3 * x), atol=1e-12))
    True
    """
    if int(order) != order or order < 0:
        raise ConfigError(f"spectral_derivative: order must be a non-negative integer, got {order}")
    order = int(order)
    if order == 0:
        return u
    n = u.shape[dim]
    shape = [1] * u.ndim
    shape[dim] = -1
    if u.is_complex():
        mult = _derivative_multiplier(n, order, length, real=False, dtype=u.dtype, device=u.device)
        return torch.fft.ifft(torch.fft.fft(u, dim=dim) * mult.to(u.dtype).reshape(shape), dim=dim)
    mult = _derivative_multiplier(n, order, length, real=True, dtype=u.dtype, device=u.device)
    u_hat = torch.fft.rfft(u, dim=dim)
    return torch.fft.irfft(u_hat * mult.to(u_hat.dtype).reshape(shape), n=n, dim=dim)


def _lengths_2d(lengths: float | Sequence[float]) -> tuple[float, float]:
    if isinstance(lengths, (int, float)):
        return float(lengths), float(lengths)
    lx, ly = lengths
    return float(lx), float(ly)


def spectral_gradient_2d(
    u: torch.Tensor, lengths: float | Sequence[float] = 2 * math.pi
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of a real periodic 2-D field by one 2-D real FFT.

    Parameters
    ----------
    u : Tensor ``[..., nx, ny]``
        Real field; ``x`` along dimension ``-2``, ``y`` along ``-1`` (the axis order
        of the HDF5 schema).
    lengths : float or (float, float)
        Periods ``(Lx, Ly)``; one number for a square domain.

    Returns
    -------
    (Tensor ``[..., nx, ny]``, Tensor ``[..., nx, ny]``)
        ``(du/dx, du/dy)``, Nyquist modes dropped as in :func:`spectral_derivative`.
    """
    lx, ly = _lengths_2d(lengths)
    nx, ny = u.shape[-2], u.shape[-1]
    u_hat = torch.fft.rfft2(u)
    mult_x = _derivative_multiplier(nx, 1, lx, real=False, dtype=u.dtype, device=u.device)
    mult_y = _derivative_multiplier(ny, 1, ly, real=True, dtype=u.dtype, device=u.device)
    dx = torch.fft.irfft2(u_hat * mult_x.to(u_hat.dtype)[:, None], s=(nx, ny))
    dy = torch.fft.irfft2(u_hat * mult_y.to(u_hat.dtype)[None, :], s=(nx, ny))
    return dx, dy


def spectral_laplacian_2d(u: torch.Tensor, lengths: float | Sequence[float] = 2 * math.pi) -> torch.Tensor:
    """Laplacian ``u_xx + u_yy`` of a real periodic 2-D field by FFT.

    Parameters
    ----------
    u : Tensor ``[..., nx, ny]``
        Real field; ``x`` along dimension ``-2``, ``y`` along ``-1``.
    lengths : float or (float, float)
        Periods ``(Lx, Ly)``; one number for a square domain.

    Returns
    -------
    Tensor ``[..., nx, ny]``
    """
    lx, ly = _lengths_2d(lengths)
    nx, ny = u.shape[-2], u.shape[-1]
    rdtype = _real_dtype(u.dtype)
    kx = wavenumbers(nx, lx, dtype=rdtype, device=u.device)
    ky = wavenumbers(ny, ly, real=True, dtype=rdtype, device=u.device)
    symbol = -(kx[:, None] ** 2 + ky[None, :] ** 2)
    return torch.fft.irfft2(torch.fft.rfft2(u) * symbol, s=(nx, ny))


def dealias_mask(
    n: int, rule: float = 2 / 3, *, real: bool = False, device: torch.device | str | None = None
) -> torch.Tensor:
    """Boolean mask of the Fourier modes kept by the truncation (Orszag) rule.

    Keeps the integer modes with ``|m| < rule * n / 2``. With ``rule = 2/3`` that is
    ``3 |m| < n``: the product of two kept fields aliases only onto dropped modes, so
    quadratic nonlinearities are computed without aliasing error.

    Parameters
    ----------
    n : int
        Number of grid points.
    rule : float
        Fraction of the resolved band kept, in ``(0, 1]``; 2/3 for quadratic terms,
        1/2 for cubic ones.
    real : bool
        Ordering of :func:`torch.fft.rfft` (``n // 2 + 1`` values) instead of
        :func:`torch.fft.fft` (``n`` values).

    Returns
    -------
    Tensor ``[n]`` or ``[n // 2 + 1]`` of bool
        For 2-D fields take the outer product of two masks.

    Examples
    --------
    >>> dealias_mask(8, real=True).tolist()
    [True, True, True, False, False]
    """
    if not 0 < rule <= 1:
        raise ConfigError(f"dealias_mask: rule must be in (0, 1], got {rule}; 2/3 for quadratic terms")
    m = wavenumbers(n, 2 * math.pi, real=real, dtype=torch.float64, device=device).abs()
    # the tolerance keeps 3|m| = n out when 2/3 * n rounds up in floating point
    return m < rule * n / 2 - 1e-9


def gaussian_random_field(
    batch: int,
    n: int,
    length: float = 1.0,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    *,
    dim: int = 1,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Samples of a zero-mean periodic Gaussian random field.

    The covariance operator is ``sigma^2 (-Laplacian + tau^2 I)^(-alpha)`` on the
    periodic box ``[0, length)^dim``, as in the benchmarks of Li et al. (2021) (for
    example their Burgers data use ``alpha=2, tau=5, sigma=25`` and their Darcy
    coefficients ``alpha=2, tau=3, sigma=1``), with the mean mode removed. In
    numbers: the Fourier coefficient ``c_m = fft(u)_m / n^dim`` of every mode
    ``m != 0`` (Nyquist included) satisfies
    ``E |c_m|^2 = sigma^2 (|k_m|^2 + tau^2)^(-alpha) / length^dim``.

    Sampled as filtered white noise: real standard normals on the grid, drawn on the
    device of ``generator`` (CPU by default, so CPU and GPU runs draw the same
    fields), scaled in Fourier space and moved to ``device``.

    Parameters
    ----------
    batch : int
        Number of samples B.
    n : int
        Grid points per axis.
    length : float
        Period of the domain along every axis.
    alpha : float
        Smoothness: samples lie in ``H^s`` for ``s < alpha - dim / 2``.
    tau : float
        Inverse correlation length.
    sigma : float
        Amplitude.
    generator : torch.Generator, optional
        Source of randomness; ``None`` uses the global CPU generator.
    device : torch.device or str
        Where the returned samples live.
    dim : int
        1 or 2 spatial dimensions.
    dtype : torch.dtype
        Real floating dtype of the result.

    Returns
    -------
    Tensor ``[B, n]`` (dim=1) or ``[B, n, n]`` (dim=2)

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> u = gaussian_random_field(3, 64, 1.0, alpha=2.0, tau=5.0, sigma=25.0, generator=g)
    >>> u.shape, abs(float(u.mean())) < 1e-12
    (torch.Size([3, 64]), True)
    """
    if dim not in (1, 2):
        raise ConfigError(f"gaussian_random_field: dim must be 1 or 2, got {dim}")
    if batch < 1 or n < 2:
        raise ConfigError(f"gaussian_random_field: need batch >= 1 and n >= 2, got batch={batch}, n={n}")
    if not (length > 0 and tau >= 0 and alpha > 0):
        raise ConfigError(f"gaussian_random_field: need length > 0, alpha > 0, tau >= 0; got {length}, {alpha}, {tau}")
    noise_device = generator.device if generator is not None else torch.device("cpu")
    noise = torch.randn((batch,) + (n,) * dim, generator=generator, dtype=dtype, device=noise_device)
    noise = noise.to(device)
    k_full = wavenumbers(n, length, dtype=dtype, device=device)
    k_half = wavenumbers(n, length, real=True, dtype=dtype, device=device)
    k_squared = k_half**2 if dim == 1 else k_full[:, None] ** 2 + k_half[None, :] ** 2
    # E|fft(noise)_m|^2 = n^dim, so this scale gives E|fft(u)_m / n^dim|^2 = eigenvalue / length^dim
    scale = sigma * (k_squared + tau**2) ** (-alpha / 2) * math.sqrt(n**dim / length**dim)
    scale.reshape(-1)[0] = 0.0  # zero-mean field
    if dim == 1:
        return torch.fft.irfft(torch.fft.rfft(noise) * scale, n=n)
    return torch.fft.irfft2(torch.fft.rfft2(noise) * scale, s=(n, n))


class ETDRK4Coefficients(NamedTuple):
    """Precomputed ETDRK4 coefficients for one linear symbol and one step size.

    Every field has the shape of the linear symbol (``[M]``: one value per Fourier
    mode), is real when the symbol is real and complex otherwise; ``h`` is the step.
    """

    exp_full: torch.Tensor
    exp_half: torch.Tensor
    q: torch.Tensor
    f1: torch.Tensor
    f2: torch.Tensor
    f3: torch.Tensor
    h: float


def etdrk4_coefficients(linear_symbol: torch.Tensor, h: float, n_contour: int = 32) -> ETDRK4Coefficients:
    """ETDRK4 coefficients of Cox and Matthews, by the contour integrals of Kassam and
    Trefethen (2005).

    For ``u_t = L u + N(u)`` with diagonal ``L`` (a Fourier symbol), the phi-functions
    ``(e^z - 1) / z`` and friends suffer cancellation for small ``|z|``; evaluating
    them as means over a circle of radius 1 around each ``z = h L`` avoids it.

    Parameters
    ----------
    linear_symbol : Tensor ``[M]`` (any shape), real or complex
        Diagonal of ``L`` in Fourier space, e.g. ``-nu k^2`` for diffusion or
        ``-nu k^2 - i beta k`` with advection.
    h : float
        Time step.
    n_contour : int
        Points on the contour: on the upper half circle with the real-part trick when
        the symbol is real, on the full circle otherwise. 32 gives coefficients
        accurate to rounding (relative 1e-14) for real and complex symbols.

    Returns
    -------
    ETDRK4Coefficients
        Computed in double precision, returned in the precision of ``linear_symbol``.
    """
    if not h > 0:
        raise ConfigError(f"etdrk4_coefficients: step h must be > 0, got {h}")
    if n_contour < 4:
        raise ConfigError(f"etdrk4_coefficients: n_contour must be >= 4, got {n_contour}")
    is_real = not linear_symbol.is_complex()
    symbol = linear_symbol.to(torch.complex128)
    z = h * symbol
    j = torch.arange(1, n_contour + 1, dtype=torch.float64, device=symbol.device)
    # upper half circle suffices for real z: the values at conjugate points are conjugates
    angle = math.pi * (j - 0.5) / n_contour if is_real else 2 * math.pi * (j - 0.5) / n_contour
    roots = torch.exp(1j * angle.to(torch.complex128))
    zr = z[..., None] + roots
    ezr = torch.exp(zr)
    q = h * ((torch.exp(zr / 2) - 1) / zr).mean(-1)
    f1 = h * ((-4 - zr + ezr * (4 - 3 * zr + zr**2)) / zr**3).mean(-1)
    f2 = h * ((2 + zr + ezr * (zr - 2)) / zr**3).mean(-1)
    f3 = h * ((-4 - 3 * zr - zr**2 + ezr * (4 - zr)) / zr**3).mean(-1)
    exp_full, exp_half = torch.exp(z), torch.exp(z / 2)
    out_dtype = linear_symbol.dtype
    if is_real:
        coefficients = [c.real.to(out_dtype) for c in (exp_full, exp_half, q, f1, f2, f3)]
    else:
        coefficients = [c.to(out_dtype) for c in (exp_full, exp_half, q, f1, f2, f3)]
    return ETDRK4Coefficients(*coefficients, h=float(h))


def etdrk4_step(
    u_hat: torch.Tensor,
    nonlinear_hat_fn: Callable[[torch.Tensor], torch.Tensor],
    coefficients: ETDRK4Coefficients,
) -> torch.Tensor:
    """One ETDRK4 step (Cox and Matthews 2002) of ``u_t = L u + N(u)`` in Fourier space.

    :func:`sciml.numerics.pde.integrate_semilinear` drives it over output times for a
    batch of states (members that fail leave the batch).

    Fourth order in time for smooth solutions; the linear part is integrated exactly,
    so the step is limited by ``N`` only (for Burgers, roughly a CFL condition).

    Parameters
    ----------
    u_hat : Tensor ``[..., M]``, complex
        Fourier coefficients; the symbol's shape broadcasts against it.
    nonlinear_hat_fn : callable
        ``N_hat = nonlinear_hat_fn(v_hat)``, Fourier coefficients of ``N`` at the
        state ``v_hat``, same shape as ``u_hat``. Autonomous: time-dependent forcing
        must be folded into the state.
    coefficients : ETDRK4Coefficients
        From :func:`etdrk4_coefficients` for the same symbol and step.

    Returns
    -------
    Tensor ``[..., M]``
        Fourier coefficients after one step of size ``coefficients.h``.

    Examples
    --------
    Exact for a linear problem with constant forcing, ``u' = -u + 1``:

    >>> c = etdrk4_coefficients(torch.tensor([-1.0], dtype=torch.float64), 0.5)
    >>> u = etdrk4_step(torch.zeros(1, dtype=torch.complex128), lambda v: torch.ones_like(v), c)
    >>> abs(float(u.real) - (1 - math.exp(-0.5))) < 1e-14
    True
    """
    exp_full, exp_half, q, f1, f2, f3 = (c.to(u_hat.dtype) for c in coefficients[:6])
    # in-place updates of the step's own temporaries: large CPU allocations cost more
    # than the arithmetic here; the tensors returned by nonlinear_hat_fn are not modified
    n_u = nonlinear_hat_fn(u_hat)
    propagated = exp_half * u_hat
    a = torch.addcmul(propagated, q, n_u)
    n_a = nonlinear_hat_fn(a)
    b = propagated.addcmul_(q, n_a)
    n_b = nonlinear_hat_fn(b)
    c = a.mul_(exp_half).addcmul_(q, n_b.mul(2).sub_(n_u))
    n_c = nonlinear_hat_fn(c)
    out = exp_full * u_hat
    return out.addcmul_(f1, n_u).addcmul_(2 * f2, n_a + n_b).addcmul_(f3, n_c)
