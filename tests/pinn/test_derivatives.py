"""Derivative helpers against closed forms and central finite differences; sympy and Python residuals agree."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.pinn import PROBLEMS, Fields, PINNNet, gradient, partial, sympy_residual

F64 = torch.float64
EPS = torch.finfo(F64).eps


def _points(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=g, dtype=F64).mul(2).sub(1).requires_grad_(True)


def _field(p):
    x, t = p[:, :1], p[:, 1:2]
    return torch.sin(2 * x) * torch.exp(0.5 * t) + x**3 * t


# d/dx, d/dt of u = sin(2x) e^(t/2) + x^3 t, by hand
CLOSED = {
    (0,): lambda x, t: 2 * torch.cos(2 * x) * torch.exp(0.5 * t) + 3 * x**2 * t,
    (1,): lambda x, t: 0.5 * torch.sin(2 * x) * torch.exp(0.5 * t) + x**3,
    (0, 0): lambda x, t: -4 * torch.sin(2 * x) * torch.exp(0.5 * t) + 6 * x * t,
    (0, 1): lambda x, t: torch.cos(2 * x) * torch.exp(0.5 * t) + 3 * x**2,
    (1, 0): lambda x, t: torch.cos(2 * x) * torch.exp(0.5 * t) + 3 * x**2,
    (0, 0, 0): lambda x, t: -8 * torch.cos(2 * x) * torch.exp(0.5 * t) + 6 * t,
    (0, 0, 1): lambda x, t: -2 * torch.sin(2 * x) * torch.exp(0.5 * t) + 6 * x,
    (1, 1, 1): lambda x, t: 0.125 * torch.sin(2 * x) * torch.exp(0.5 * t),
}


@pytest.mark.parametrize("dims", sorted(CLOSED), ids=str)
def test_partial_equals_the_closed_form(dims):
    p = _points()
    value = partial(_field(p), p, *dims).detach()
    exact = CLOSED[dims](p[:, :1].detach(), p[:, 1:2].detach())
    # autograd evaluates the same formulas in another order: a few dozen roundings of O(10) values
    assert float((value - exact).abs().max()) <= 64 * EPS * 10


@pytest.mark.parametrize("dims", [(0,), (1,), (0, 0), (0, 1), (0, 0, 0), (0, 1, 1)], ids=str)
def test_partial_of_a_network_matches_central_differences(dims):
    torch.manual_seed(3)
    model = PINNNet(2, 1, width=16, depth=2, periodic={0: 2 * math.pi}).to(F64)
    p = _points(32, seed=1)
    value = partial(model(p), p, *dims).detach()
    # central difference of the (k-1)-th autograd derivative along the last coordinate of dims
    h = 1e-5
    step = torch.zeros(1, 2, dtype=F64)
    step[0, dims[-1]] = h
    lower = dims[:-1]

    def inner(q):
        q = q.detach().requires_grad_(True)
        return partial(model(q), q, *lower).detach()

    fd = (inner(p + step) - inner(p - step)) / (2 * h)
    # truncation h^2/6 |f'''| (|f'''| of this tanh network is O(10)) plus round-off eps |f| / h
    tol = h**2 / 6 * 50 + 50 * EPS / h
    assert float((value - fd).abs().max()) <= tol
    assert float(value.abs().max()) > 1e-3  # a derivative that is not trivially zero


def test_mixed_derivatives_commute_and_fields_cache_them():
    p = _points()
    fields = Fields(p, ("x", "t"), {"u": _field(p)})
    assert float((fields["u_xt"] - fields["u_tx"]).detach().abs().max()) <= 64 * EPS * 10
    assert "u_xt" in fields.names() and "u_x" in fields.names()
    assert torch.equal(fields["x"], p[:, :1]) and "u_y" not in fields


def test_sympy_and_python_residuals_give_the_same_values():
    problem = PROBLEMS.get("convection_diffusion")(beta=3.0, nu=0.2)
    p = _points()
    u = _field(p)
    fields = problem.fields(p, u)
    python = problem.residual_at(fields).detach()
    sympy = sympy_residual("u_t + beta*u_x - nu*u_xx", ("x", "t"), problem.params)(fields).detach()
    assert float(python.abs().max()) > 0.1
    assert float((python - sympy).abs().max()) <= 16 * EPS * float(python.abs().max() + 10)
    with_functions = sympy_residual("u_t - exp(-t)*sin(x)*u", ("x", "t"), {})(fields).detach()
    expected = (fields["u_t"] - torch.exp(-p[:, 1:2]) * torch.sin(p[:, :1]) * u).detach()
    assert float((with_functions - expected).abs().max()) <= 16 * EPS * 10


def test_exact_solutions_satisfy_their_residuals():
    for name, params in (
        ("convection", {"beta": 30.0}),
        ("convection_diffusion", {"beta": 5.0, "nu": 0.3}),
        ("heat", {}),
    ):
        problem = PROBLEMS.get(name)(**params)
        p = (problem.lower + (problem.upper - problem.lower) * torch.rand(128, 2, dtype=F64)).requires_grad_(True)
        r = problem.residual_at(problem.fields(p, problem.exact(p))).detach()
        # |u_t| is up to beta: round-off 64 eps beta
        assert float(r.abs().max()) <= 64 * EPS * max(params.get("beta", 1.0), 1.0), name


def test_bad_input_is_a_one_line_error():
    p = _points()
    with pytest.raises(ShapeError, match="u must be"):
        partial(torch.zeros(3, 1, dtype=F64), p, 0)
    with pytest.raises(ConfigError, match="coordinate 2 does not exist"):
        partial(_field(p), p, 2)
    with pytest.raises(ConfigError, match="symbol 'v_x'"):
        sympy_residual("u_t + v_x", ("x", "t"), {})
    with pytest.raises(ConfigError, match="not a sympy expression"):
        sympy_residual("u_t +* u_x", ("x", "t"), {})


def test_gradient_gives_every_first_partial_in_one_pass_and_fields_cache_them():
    p = _points()
    u = _field(p)
    grad = gradient(u, p)
    for d in range(p.shape[1]):
        assert torch.equal(grad[:, d : d + 1], partial(u, p, d))
    fields = Fields(p, ("x", "t"), {"u": u})
    fields["u_x"]
    assert {"u_x", "u_t"} <= set(fields.names())  # u_t came with u_x
    assert torch.equal(fields["u_t"], partial(u, p, 1))
    assert torch.allclose(fields["u_xt"], partial(u, p, 0, 1), rtol=0, atol=64 * EPS)


@pytest.mark.parametrize(
    "kwargs", [{}, {"periodic": {0: 2.0}, "harmonics": 2}, {"activation": "sin"}], ids=["tanh", "periodic", "sin"]
)
def test_the_jet_of_a_network_equals_nested_autograd(kwargs):
    torch.manual_seed(5)
    model = PINNNet(2, 1, width=12, depth=3, **kwargs).to(F64)
    p = _points(48, seed=2)
    u, first, second = model.jet(p, 0)
    reference = model(p)
    pairs = [(u, reference), (first[0], partial(reference, p, 0)), (first[1], partial(reference, p, 1)),
             (second, partial(reference, p, 0, 0))]  # fmt: skip
    for value, exact in pairs:
        exact = exact.detach()
        # the same products and sums in another order: a few hundred roundings of values of size |exact|
        assert float((value.detach() - exact).abs().max()) <= 256 * EPS * (1 + float(exact.abs().max()))
    # derivatives of the jet by autograd are the higher derivatives (the jet stays a function of the points)
    third = partial(second, p, 0).detach()
    assert float((third - partial(reference, p, 0, 0, 0).detach()).abs().max()) <= 256 * EPS * (1 + float(third.abs().max()))
    assert model.jet(p, None)[2] is None
    assert not PINNNet(2, 1, width=4, depth=1, activation="gelu").has_jet


@pytest.mark.parametrize("hard_start", [True, False])
def test_the_lagrangian_jet_equals_nested_autograd(hard_start):
    from sciml.pinn import LagrangianPINN

    torch.manual_seed(6)
    model = LagrangianPINN(10, 3, period=2.0, velocity_scale=1.5, hard_start=hard_start).to(F64)
    p = _points(40, seed=3)
    jet = model.jet(p)
    out = model(p)
    u, x = out[:, :1], out[:, 1:2]
    reference = {"u": u, "x": x, "u_x0": partial(u, p, 0), "u_t": partial(u, p, 1), "u_x0x0": partial(u, p, 0, 0),
                 "x_x0": partial(x, p, 0), "x_t": partial(x, p, 1), "x_x0x0": partial(x, p, 0, 0)}  # fmt: skip
    for key, exact in reference.items():
        exact = exact.detach()
        assert float((jet[key].detach() - exact).abs().max()) <= 256 * EPS * (1 + float(exact.abs().max())), key
