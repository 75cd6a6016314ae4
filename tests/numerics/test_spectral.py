"""Spectral derivatives, dealiasing, Gaussian random fields and ETDRK4."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError
from sciml.numerics.spectral import (
    dealias_mask,
    etdrk4_coefficients,
    etdrk4_step,
    gaussian_random_field,
    spectral_derivative,
    spectral_gradient_2d,
    spectral_laplacian_2d,
    wavenumbers,
)
from tests.problems import ColeHopfBurgers


def fitted_order(step_sizes, errors) -> float:
    """Slope of log(error) against log(step size)."""
    return float(np.polyfit(np.log(step_sizes), np.log(errors), 1)[0])


# ----------------------------------------------------------------------------- wavenumbers


def test_wavenumbers_match_fft_ordering():
    k = wavenumbers(6, 3.0)
    expected = 2 * math.pi / 3.0 * torch.tensor([0, 1, 2, -3, -2, -1], dtype=torch.float64)
    assert torch.equal(k, expected)
    assert torch.equal(wavenumbers(6, 3.0, real=True), expected[:4].abs())


def test_wavenumbers_reject_bad_input():
    with pytest.raises(ConfigError, match="n must be >= 1"):
        wavenumbers(0, 1.0)
    with pytest.raises(ConfigError, match="length must be > 0"):
        wavenumbers(8, 0.0)


# ----------------------------------------------------------------------------- derivatives


def _trig_combo(x, length):
    """A trigonometric polynomial and its first four derivatives on a period ``length``."""
    a, b = 2 * math.pi * 3 / length, 2 * math.pi * 5 / length
    return [
        torch.sin(a * x) + 0.5 * torch.cos(b * x),
        a * torch.cos(a * x) - 0.5 * b * torch.sin(b * x),
        -(a**2) * torch.sin(a * x) - 0.5 * b**2 * torch.cos(b * x),
        -(a**3) * torch.cos(a * x) + 0.5 * b**3 * torch.sin(b * x),
        a**4 * torch.sin(a * x) + 0.5 * b**4 * torch.cos(b * x),
    ]


@pytest.mark.parametrize("length", [2 * math.pi, 1.0, 7.5])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_spectral_derivative_matches_analytic_derivative(length, order):
    x = torch.arange(32, dtype=torch.float64) * length / 32
    funcs = _trig_combo(x, length)
    derivative = spectral_derivative(funcs[0], order, length)
    scale = float(funcs[order].abs().max())
    assert float((derivative - funcs[order]).abs().max()) <= 1e-12 * scale


def test_spectral_derivative_batched_along_any_dim_and_complex():
    length = 2.0
    x = torch.arange(24, dtype=torch.float64) * length / 24
    u, du = _trig_combo(x, length)[:2]
    # samples along dim 1 of a [3, 24, 2] batch, with different amplitudes per entry
    amplitude = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)[:, None, None]
    batch = amplitude * torch.stack([u, 2 * u], dim=-1)
    expected = amplitude * torch.stack([du, 2 * du], dim=-1)
    assert torch.allclose(spectral_derivative(batch, 1, length, dim=1), expected, rtol=0, atol=1e-11)
    complex_field = u + 1j * torch.roll(u, 3)
    complex_expected = du + 1j * torch.roll(du, 3)
    result = spectral_derivative(complex_field, 1, length)
    assert result.dtype == torch.complex128
    assert torch.allclose(result, complex_expected, rtol=0, atol=1e-11)


def test_spectral_derivative_in_float32_keeps_dtype():
    n = 64
    x = torch.arange(n, dtype=torch.float32) * 2 * math.pi / n
    du = spectral_derivative(torch.sin(2 * x), 1)
    assert du.dtype == torch.float32
    # round-off of a forward and an inverse FFT is about eps log2(n) per coefficient, and the derivative
    # multiplies coefficient k by up to n / 2: bound 2 eps (n / 2) log2(n) = 4.6e-5 (float64 gives ~1e-13)
    tol = 2 * torch.finfo(torch.float32).eps * (n / 2) * math.log2(n)
    assert float((du - 2 * torch.cos(2 * x)).abs().max()) <= tol


def test_odd_derivative_of_nyquist_mode_is_zero():
    nyquist = torch.tensor([1.0, -1.0] * 8, dtype=torch.float64)
    # the other coefficients are FFT round-off (about eps log2(n) each), multiplied by up to
    # |k| = n / 2, through a forward and an inverse FFT: 2 (n / 2) log2(n) eps = 64 eps at n = 16
    n, eps = 16, torch.finfo(torch.float64).eps
    assert float(spectral_derivative(nyquist, 1).abs().max()) <= 2 * (n / 2) * math.log2(n) * eps
    # even derivatives keep it: d2/dx2 cos(8x) = -64 cos(8x) on 16 points of [0, 2 pi)
    assert torch.allclose(spectral_derivative(nyquist, 2), -64 * nyquist, atol=1e-12)


def test_spectral_derivative_is_the_limit_of_finite_differences():
    """Fourth-order central differences approach the spectral derivative as h^4."""

    def smooth(x):  # exp(sin x): not a trigonometric polynomial
        return torch.exp(torch.sin(x))

    sizes = [32, 64, 128, 256]
    gaps = []
    for n in sizes:
        h = 2 * math.pi / n
        x = torch.arange(n, dtype=torch.float64) * h
        u = smooth(x)
        central = (-torch.roll(u, -2) + 8 * torch.roll(u, -1) - 8 * torch.roll(u, 1) + torch.roll(u, 2)) / (12 * h)
        spectral = spectral_derivative(u, 1)
        # exp(sin x) is resolved to rounding at n >= 32: what is left is FFT round-off, about
        # eps log2(n) of max|u| per coefficient, multiplied by up to |k| = n / 2 (measured: a tenth of it)
        roundoff = (n / 2) * math.log2(n) * torch.finfo(torch.float64).eps * float(u.abs().max())
        assert float((spectral - torch.cos(x) * u).abs().max()) <= roundoff
        gaps.append(float((spectral - central).abs().max()))
    assert abs(fitted_order([2 * math.pi / n for n in sizes], gaps) - 4.0) <= 0.1


def test_gradient_and_laplacian_2d_match_analytic_and_finite_differences():
    lx, ly = 2.0, 3.0
    nx, ny = 32, 48
    x = (torch.arange(nx, dtype=torch.float64) * lx / nx)[:, None]
    y = (torch.arange(ny, dtype=torch.float64) * ly / ny)[None, :]
    kx, ky = 2 * math.pi * 2 / lx, 2 * math.pi * 3 / ly
    u = torch.sin(kx * x) * torch.cos(ky * y) + 0.3 * torch.cos(kx * x + ky * y)
    u_x = kx * torch.cos(kx * x) * torch.cos(ky * y) - 0.3 * kx * torch.sin(kx * x + ky * y)
    u_y = -ky * torch.sin(kx * x) * torch.sin(ky * y) - 0.3 * ky * torch.sin(kx * x + ky * y)
    laplacian = -(kx**2 + ky**2) * u
    batch = torch.stack([u, -2 * u])  # [2, nx, ny]
    dx, dy = spectral_gradient_2d(batch, (lx, ly))
    assert torch.allclose(dx, torch.stack([u_x, -2 * u_x]), rtol=0, atol=1e-12)
    assert torch.allclose(dy, torch.stack([u_y, -2 * u_y]), rtol=0, atol=1e-12)
    assert torch.allclose(
        spectral_laplacian_2d(batch, (lx, ly)), torch.stack([laplacian, -2 * laplacian]), rtol=0, atol=1e-10
    )
    # second-order central differences of the same field agree to O(h^2)
    hx = lx / nx
    central_x = (torch.roll(u, -1, 0) - torch.roll(u, 1, 0)) / (2 * hx)
    fd_gap = float((central_x - dx[0]).abs().max())
    # leading error term h^2 / 6 max|u_xxx| <= h^2 / 6 * 1.3 kx^3; next term is 1% of it
    assert fd_gap <= hx**2 / 6 * 1.3 * kx**3 * 1.01


def test_derivative_rejects_negative_order():
    with pytest.raises(ConfigError, match="non-negative integer"):
        spectral_derivative(torch.zeros(8), -1)


# ----------------------------------------------------------------------------- dealiasing


@pytest.mark.parametrize("n", [6, 64, 256, 255])
def test_two_thirds_rule_keeps_modes_with_three_m_below_n(n):
    m = torch.fft.fftfreq(n, 1.0 / n).abs()
    assert torch.equal(dealias_mask(n), 3 * m < n)
    assert torch.equal(dealias_mask(n, real=True), (3 * m < n)[: n // 2 + 1])


def test_dealiased_product_has_no_aliasing_error():
    """The product of two 2/3-truncated fields, truncated again, equals the exact product's
    truncation computed on a grid twice as fine."""
    n = 48
    generator = torch.Generator().manual_seed(3)
    keep = dealias_mask(n, real=True)
    spectra = torch.randn(2, n // 2 + 1, dtype=torch.complex128, generator=generator) * keep
    spectra[:, 0] = spectra[:, 0].real
    fields = torch.fft.irfft(spectra, n=n)
    coarse = torch.fft.rfft(fields[0] * fields[1]) * keep
    fine_fields = torch.fft.irfft(spectra, n=2 * n) * 2
    fine = torch.fft.rfft(fine_fields[0] * fine_fields[1])[: n // 2 + 1] / 2 * keep
    assert float((coarse - fine).abs().max()) <= 1e-12 * float(fine.abs().max())


def test_dealias_mask_rejects_bad_rule():
    with pytest.raises(ConfigError, match="rule"):
        dealias_mask(16, rule=1.5)


# ----------------------------------------------------------------------------- random fields


def test_grf_1d_has_the_requested_spectrum():
    batch, n, length, alpha, tau, sigma = 20000, 32, 2.0, 2.0, 3.0, 2.0
    generator = torch.Generator().manual_seed(0)
    u = gaussian_random_field(batch, n, length, alpha, tau, sigma, generator)
    power = (torch.fft.rfft(u).abs() / n).pow(2).mean(0)
    k = wavenumbers(n, length, real=True)
    expected = sigma**2 * (k**2 + tau**2) ** (-alpha) / length
    ratio = power[1:] / expected[1:]
    # each mode's mean of `batch` exponential variables has relative spread 1/sqrt(batch)
    # = 0.7% (Nyquist: 1%): 4% is five standard deviations
    assert float((ratio - 1).abs().max()) <= 0.04
    assert abs(float(ratio.mean()) - 1) <= 0.005
    assert float(power[0]) <= 1e-28  # zero mean


def test_grf_2d_has_the_requested_spectrum():
    batch, n, length, alpha, tau, sigma = 20000, 16, 1.0, 2.5, 7.0, 7.0**1.5
    generator = torch.Generator().manual_seed(1)
    u = gaussian_random_field(batch, n, length, alpha, tau, sigma, generator, dim=2)
    assert u.shape == (batch, n, n)
    power = (torch.fft.rfft2(u).abs() / n**2).pow(2).mean(0)
    kx = wavenumbers(n, length)[:, None]
    ky = wavenumbers(n, length, real=True)[None, :]
    expected = sigma**2 * (kx**2 + ky**2 + tau**2) ** (-alpha) / length**2
    ratio = (power / expected).reshape(-1)[1:]
    assert float((ratio - 1).abs().max()) <= 0.05
    assert abs(float(ratio.mean()) - 1) <= 0.005


def test_grf_is_reproducible_from_its_generator():
    first = gaussian_random_field(4, 64, generator=torch.Generator().manual_seed(5))
    again = gaussian_random_field(4, 64, generator=torch.Generator().manual_seed(5))
    other = gaussian_random_field(4, 64, generator=torch.Generator().manual_seed(6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert gaussian_random_field(2, 8, dtype=torch.float32).dtype == torch.float32


def test_grf_rejects_bad_input():
    with pytest.raises(ConfigError, match="dim must be 1 or 2"):
        gaussian_random_field(1, 8, dim=3)
    with pytest.raises(ConfigError, match="batch"):
        gaussian_random_field(0, 8)


# ----------------------------------------------------------------------------- ETDRK4


def _phi_functions(z):
    """ETDRK4 coefficient functions by their direct formulas (accurate for |z| >~ 1)."""
    ez = torch.exp(z)
    return {
        "q": (torch.exp(z / 2) - 1) / z,
        "f1": (-4 - z + ez * (4 - 3 * z + z**2)) / z**3,
        "f2": (2 + z + ez * (z - 2)) / z**3,
        "f3": (-4 - 3 * z - z**2 + ez * (4 - z)) / z**3,
    }


@pytest.mark.parametrize("complex_symbol", [False, True])
def test_etdrk4_coefficients_match_direct_formulas(complex_symbol):
    symbol = torch.tensor([-1.5, -4.0, -30.0, -400.0], dtype=torch.float64)
    if complex_symbol:
        symbol = symbol + 1j * torch.tensor([2.0, -8.0, 25.0, 300.0], dtype=torch.float64)
    h = 0.5
    coefficients = etdrk4_coefficients(symbol, h)
    for name, values in _phi_functions(h * symbol.to(torch.complex128)).items():
        values = values if complex_symbol else values.real
        assert torch.allclose(getattr(coefficients, name), h * values, rtol=1e-12, atol=0), name
    # the same exponential, once through complex128 and once directly: each within an ulp
    eps = torch.finfo(torch.float64).eps
    assert torch.allclose(coefficients.exp_half, torch.exp(h * symbol / 2), rtol=2 * eps, atol=0)
    assert coefficients.q.dtype == symbol.dtype


def test_etdrk4_coefficients_have_the_right_limits_at_zero():
    """For L -> 0 the direct formulas cancel catastrophically; the contour does not."""
    h = 0.1
    coefficients = etdrk4_coefficients(torch.tensor([0.0, -1e-9], dtype=torch.float64), h)
    assert torch.allclose(coefficients.q, torch.full((2,), h / 2, dtype=torch.float64), rtol=1e-12)
    for name in ("f1", "f2", "f3"):
        assert torch.allclose(getattr(coefficients, name), torch.full((2,), h / 6, dtype=torch.float64), rtol=1e-12)


@pytest.mark.parametrize("speed", [0.0, 3.0])
def test_etdrk4_is_fourth_order_on_burgers(speed):
    """Burgers in a frame moving at ``speed``: ``u_t + speed u_x + u u_x = nu u_xx``.

    Exact by Cole-Hopf; the linear symbol ``-nu k^2 - i speed k`` is complex when
    ``speed != 0``. 64 points resolve the solution to rounding, so the error is temporal.
    """
    problem = ColeHopfBurgers(nu=0.1, modes=((1, 0.5, 0.0), (2, 0.2, 1.0)))
    n, t_final = 64, 0.5
    x = problem.grid(n)
    k = wavenumbers(n, problem.length, real=True)
    symbol = -problem.nu * k**2 - 1j * speed * k
    nonlinear_symbol = -0.5j * k * dealias_mask(n, real=True)

    def nonlinear_hat(v_hat):
        return nonlinear_symbol * torch.fft.rfft(torch.fft.irfft(v_hat, n=n) ** 2)

    exact = problem.exact(torch.tensor([t_final]), x - speed * t_final)[0]
    steps, errors = [16, 32, 64, 128], []
    for n_steps in steps:
        coefficients = etdrk4_coefficients(symbol, t_final / n_steps)
        u_hat = torch.fft.rfft(problem.exact(torch.tensor([0.0]), x)[0])
        for _ in range(n_steps):
            u_hat = etdrk4_step(u_hat, nonlinear_hat, coefficients)
        errors.append(float((torch.fft.irfft(u_hat, n=n) - exact).norm() / exact.norm()))
    order = fitted_order([t_final / s for s in steps], errors)
    assert abs(order - 4.0) <= 0.2, (order, errors)
    assert errors[-1] <= 2e-7


def test_etdrk4_step_is_differentiable():
    n = 16
    k = wavenumbers(n, 1.0, real=True)
    coefficients = etdrk4_coefficients(-0.1 * k**2, 0.01)
    u0 = torch.randn(2, n, dtype=torch.float64, requires_grad=True)

    def step(u):
        u_hat = etdrk4_step(
            torch.fft.rfft(u), lambda v: -0.5j * k * torch.fft.rfft(torch.fft.irfft(v, n=n) ** 2), coefficients
        )
        return torch.fft.irfft(u_hat, n=n)

    assert torch.autograd.gradcheck(step, (u0,))


def test_etdrk4_coefficients_reject_bad_step():
    with pytest.raises(ConfigError, match="h must be > 0"):
        etdrk4_coefficients(torch.zeros(3), 0.0)
