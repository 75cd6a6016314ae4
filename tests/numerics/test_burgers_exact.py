"""The Cole-Hopf solution of Burgers from ``u0 = -sin(pi x)``: the literature's steepest slope, our
spectral solver, converged quadrature, the boundary and symmetry, the start and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.core.errors import ConfigError
from sciml.numerics.pde import burgers_cole_hopf, solve_burgers

NU = 0.01 / math.pi
EPS = torch.finfo(torch.float64).eps


def test_steepest_slope_is_basdevants_152_00516():
    # Basdevant et al. (Computers & Fluids 1986): max |u_x| = 152.00516 at t = 1.6037 / pi, at x = 0.
    # Central difference with h = 1e-6: truncation u_xxx h^2 / 6 is below 1e-6 here (h = 1e-5 gives
    # 152.00504), round-off eps |u| / h about 2e-10.
    h = 1e-6
    u = burgers_cole_hopf(torch.tensor([-h, h], dtype=torch.float64), 1.6037 / math.pi, NU)
    slope = float((u[1] - u[0]) / (2 * h))
    assert slope == pytest.approx(-152.00516, abs=2e-5)


def test_agrees_with_the_spectral_solver():
    # ETDRK4 on 1024 periodic points of [0, 2) (the odd 2-periodic extension is the Dirichlet problem);
    # its error at this resolution is what bounds the difference: measured 1.4e-7 (2048 points: 1.2e-8)
    s = 1024
    x = torch.arange(s, dtype=torch.float64) * (2.0 / s)
    t = torch.tensor([0.25, 0.5, 1.0], dtype=torch.float64)
    spectral = solve_burgers(-torch.sin(math.pi * x)[None], t, nu=NU, length=2.0)[0]
    exact = burgers_cole_hopf(x, t[:, None], NU)
    assert float((spectral - exact).abs().max()) <= 3e-7
    assert float(exact.abs().max()) > 0.9  # a real solution, with its shock (max |u| near 1)


def test_quadrature_is_converged_and_the_solution_odd_with_zero_boundary():
    x = torch.linspace(-1, 1, 257, dtype=torch.float64)
    t = torch.linspace(0, 1, 21, dtype=torch.float64)[:, None]
    u = burgers_cole_hopf(x, t, NU)
    assert u.shape == (21, 257)
    # 100 nodes against the default 400 (measured 1.2e-14): both converged to round-off of |u| <= 1
    assert float((burgers_cole_hopf(x, t, NU, nodes=100) - u).abs().max()) <= 256 * EPS
    # odd in x, to round-off: u is the difference of two O(1) sums (measured 6.9e-15, 31 eps)
    assert float((u + u.flip(-1)).abs().max()) <= 128 * EPS
    assert float(u[:, [0, -1]].abs().max()) <= 16 * EPS  # u(+-1, t) = 0
    assert torch.equal(u[0], -torch.sin(math.pi * x))
    assert float(u.abs().max()) <= 1.0 + 16 * EPS  # maximum principle


def test_satisfies_burgers_by_finite_differences_at_moderate_viscosity():
    # nu = 0.05 keeps the solution smooth enough for central differences (h = 1e-3: truncation
    # of order h^2 |u_xxxx| nu ~ 1e-5 near the front); the residual of a wrong nu would be ~0.1
    nu, h = 0.05, 1e-3
    x = torch.linspace(-0.9, 0.9, 37, dtype=torch.float64)
    t = torch.tensor([[0.3], [0.6]], dtype=torch.float64)
    u = burgers_cole_hopf(x, t, nu)
    u_t = (burgers_cole_hopf(x, t + h, nu) - burgers_cole_hopf(x, t - h, nu)) / (2 * h)
    u_x = (burgers_cole_hopf(x + h, t, nu) - burgers_cole_hopf(x - h, t, nu)) / (2 * h)
    u_xx = (burgers_cole_hopf(x + h, t, nu) - 2 * u + burgers_cole_hopf(x - h, t, nu)) / h**2
    residual = u_t + u * u_x - nu * u_xx
    assert float(residual.abs().max()) <= 1e-3
    assert float((u_t + u * u_x - 2 * nu * u_xx).abs().max()) > 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"nu": 0.0}, "nu"), ({"nu": float("nan")}, "nu"), ({"nodes": 1}, "nodes"), ({"t": -0.1}, "times")],
)
def test_bad_input_is_one_line(kwargs, match):
    args = {"x": torch.zeros(3), "t": 0.5, "nu": NU, **kwargs}
    with pytest.raises(ConfigError, match=match):
        burgers_cole_hopf(args.pop("x"), args.pop("t"), **args)
