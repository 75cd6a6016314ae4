"""The PINN objectives' pieces, each against a number computed here."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.core.errors import ConfigError
from sciml.pinn import CollocationSampler, LagrangianPINN, LagrangianPINNLoss, PINNLoss, PINNNet, periodic_interpolate

F64 = torch.float64


def test_periodic_interpolation_is_second_order_accurate():
    length = 2 * math.pi
    grid = torch.linspace(0, length, 129, dtype=F64)[:-1]
    errors = []
    for n in (32, 64, 128):
        # particles shifted by 1.7 and listed out of order, some beyond the period
        labels = torch.linspace(0, length, n + 1, dtype=F64)[:-1]
        positions = (labels + 1.7 + length * (torch.arange(n) % 3 - 1)).unsqueeze(0)
        values = torch.sin(labels + 1.7).unsqueeze(0)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
        result = periodic_interpolate(positions[:, perm], values[:, perm], grid, 0.0, length)
        errors.append(float((result[0] - torch.sin(grid)).abs().max()))
        # linear interpolation: error <= h^2 / 8 max|u''|
        assert errors[-1] <= (length / n) ** 2 / 8 * 1.0 + 1e-12
    assert math.log2(errors[0] / errors[2]) / 2 > 1.8


def test_causal_weights_follow_the_earlier_bins_losses():
    objective = PINNLoss("convection", {"beta": 1.0}, causal=True, causal_epsilon=2.0, causal_bins=4)
    t = torch.tensor([0.1, 0.3, 0.6, 0.9], dtype=F64)
    r = torch.tensor([[1.0], [0.5], [2.0], [0.1]], dtype=F64)
    loss, extra = objective._residual_loss(r, t)
    losses = torch.tensor([1.0, 0.25, 4.0, 0.01], dtype=F64)
    weights = torch.exp(-2.0 * torch.tensor([0.0, 1.0, 1.25, 5.25], dtype=F64))
    assert float(loss) == pytest.approx(float((weights * losses).mean()), rel=1e-12)
    assert float(extra["causal_min_weight"]) == pytest.approx(math.exp(-10.5), rel=1e-12)


def test_gradient_norm_balancing_sets_the_published_ratio():
    torch.manual_seed(0)
    model = PINNNet(2, 1, width=8, depth=1).to(F64)
    objective = PINNLoss("heat", balancing="grad_norm", balancing_every=1, balancing_alpha=1.0)
    batch = CollocationSampler(objective.problem, interior=64, initial=16, boundary=8)(0)
    objective.begin_step(0)
    out = objective(model, batch)
    params = list(model.parameters())

    def flat_grad(key_loss):
        # the output bias does not reach the residual (derivatives of a constant): zero gradient
        g = torch.autograd.grad(key_loss, params, retain_graph=True, allow_unused=True)
        return torch.cat([(x if x is not None else torch.zeros_like(q)).reshape(-1) for x, q in zip(g, params)])

    # recompute the terms on the same points and the ratio max|grad L_r| / mean|grad L_k|
    objective2 = PINNLoss("heat")
    objective2.begin_step(0)
    model.zero_grad()
    p = batch["interior"].to(F64).requires_grad_(True)
    r = objective2.residual_terms(model, p)["residual"]
    start = batch["initial"].to(F64)
    top = flat_grad((r**2).mean()).abs().max()
    initial = ((model(start) - objective2.problem.condition("initial").value(start)) ** 2).mean()
    expected = float(top / flat_grad(initial).abs().mean())
    assert objective.weights["initial"] == pytest.approx(expected, rel=1e-9)
    assert objective.weights["residual"] == 1.0 and out["loss"].requires_grad


def test_rad_draws_where_the_residual_is_large_and_reuses_the_draw_within_a_step():
    model = PINNNet(2, 1, width=8, depth=1).to(F64)
    objective = PINNLoss("convection", {"beta": 1.0}, adaptive="rad", rad_k=2.0, rad_c=0.0, hard=["periodic"])
    # a residual that is large only for x > pi: the pool is drawn there
    objective.residual_terms = lambda m, p: {"residual": (p[:, :1] > math.pi).to(p.dtype) + 1e-3}
    pool = CollocationSampler(objective.problem, interior=256, initial=8, boundary=0, pool=512)(0)
    objective.begin_step(0)
    chosen = objective._interior(model, pool)
    assert float((chosen[:, 0] > math.pi).double().mean()) > 0.99
    assert torch.equal(objective._interior(model, pool), chosen)  # a closure's second call: same points
    objective.begin_step(1)
    assert not torch.equal(
        objective._interior(
            model, CollocationSampler(objective.problem, interior=256, initial=8, boundary=0, pool=512)(1)
        ),
        chosen,
    )


def test_rar_keeps_the_worst_pool_points_in_its_state():
    model = PINNNet(2, 1, width=8, depth=1).to(F64)
    objective = PINNLoss(
        "convection", {"beta": 1.0}, adaptive="rar", adaptive_every=2, adaptive_points=5, hard=["periodic"]
    )
    objective.residual_terms = lambda m, p: {"residual": p[:, 1:2]}  # worst = latest times
    sampler = CollocationSampler(objective.problem, interior=16, initial=8, boundary=0, pool=64)
    for step in range(4):
        objective.begin_step(step)
        points = objective._interior(model, sampler(step))
    assert objective.extra_points.shape == (10, 2) and points.shape == (26, 2)
    top = torch.topk(sampler(2)["pool"][:, 1], 5).values
    assert torch.equal(torch.sort(objective.extra_points[5:, 1]).values, torch.sort(top).values)
    restored = PINNLoss("convection", {"beta": 1.0}, adaptive="rar", hard=["periodic"])
    restored.load_state_dict(objective.state_dict())
    assert torch.equal(restored.extra_points, objective.extra_points) and restored.step == 3


def test_curriculum_changes_the_parameter_at_its_steps_and_survives_a_resume():
    spec = {"param": "beta", "values": [1.0, 10.0, 30.0], "steps": [0, 5, 9]}
    objective = PINNLoss("convection", {"beta": 30.0}, curriculum=spec)
    seen = []
    for step in range(11):
        objective.begin_step(step)
        seen.append(objective.problem.params["beta"])
    assert seen == [1.0] * 5 + [10.0] * 4 + [30.0] * 2
    resumed = PINNLoss("convection", {"beta": 30.0}, curriculum=spec)
    resumed.load_state_dict({"weights": objective.weights, "step": 6})
    assert resumed.problem.params["beta"] == 10.0
    with pytest.raises(ConfigError, match="steps increasing from 0"):
        PINNLoss("convection", curriculum={"param": "beta", "values": [1, 2], "steps": [3, 5]})


def test_lagrangian_residuals_vanish_on_the_exact_characteristics():
    class Exact(torch.nn.Module):  # (x0, t) -> (sin x0, x0 + beta t): the exact Lagrangian solution
        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros((), dtype=F64))

        def forward(self, p):
            return torch.cat([torch.sin(p[:, :1]) + 0 * self.dummy, p[:, :1] + 7.0 * p[:, 1:2]], dim=1)

    objective = LagrangianPINNLoss("convection_diffusion", {"beta": 7.0, "nu": 0.0}, hard=["periodic"])
    batch = CollocationSampler(objective.problem, interior=64, initial=16, boundary=0)(0)
    out = objective(Exact(), batch)
    eps = torch.finfo(F64).eps
    for key in ("residual_state", "residual_characteristic", "initial_state", "initial_position"):
        assert float(out[key]) <= (64 * eps * 7) ** 2, key
    x = torch.linspace(0, 2 * math.pi, 65, dtype=F64)[:-1]
    t = torch.linspace(0, 1, 5, dtype=F64)
    u = objective.grid_prediction(Exact(), x, t)
    exact = objective.problem.exact_on(x, t)
    assert float((u - exact).abs().max()) <= (2 * math.pi / 64) ** 2 / 8 + 1e-12


def test_lpinn_refuses_a_problem_without_periodic_characteristics():
    with pytest.raises(ConfigError, match="periodic 1-D problems"):
        LagrangianPINNLoss("heat")
    with pytest.raises(ConfigError, match="balancing='adam' is unknown"):
        PINNLoss("heat", balancing="adam")
    with pytest.raises(ConfigError, match="'volume' is not a term"):
        PINNLoss("heat", weights={"volume": 1.0})
    assert LagrangianPINN(8, 1)(torch.zeros(3, 2)).shape == (3, 2)


def _without_jet(model):
    """The same model seen without its jet: the objectives fall back to nested autograd."""

    class Plain(torch.nn.Module):
        has_jet = False

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, points):
            return self.inner(points)

    return Plain(model)


@pytest.mark.parametrize("problem,params,periodic", [("heat", {}, None), ("burgers", {}, None),
                                                     ("convection", {"beta": 5.0}, {0: 2 * math.pi})])  # fmt: skip
def test_pinn_loss_from_the_jet_equals_the_loss_by_autograd(problem, params, periodic):
    torch.manual_seed(0)
    objective = PINNLoss(problem, params)
    model = PINNNet(2, 1, width=16, depth=3, periodic=periodic).double()
    batch = CollocationSampler(objective.problem, interior=64, initial=16, boundary=16)(0)
    plain = objective(_without_jet(model), batch)
    objective(model, batch)  # the first call learns which derivatives the residual reads
    jet = objective(model, batch)
    for key in ("residual", "initial", "boundary"):
        if key in plain:
            scale = float(plain[key])
            assert abs(float(jet[key]) - scale) <= 256 * torch.finfo(torch.float64).eps * (1 + scale), key


def test_lpinn_loss_from_the_jet_equals_the_chain_rule_by_autograd_with_the_clamp_active():
    torch.manual_seed(1)
    # min_stretch 1 clamps about half the points (x_x0 = 1 + t N_x0 scatters around 1): both branches of the clamp
    objective = LagrangianPINNLoss("burgers", {"periodic": True}, hard=["periodic"], min_stretch=1.0)
    model = LagrangianPINN(10, 3, period=2.0, velocity_scale=1.0, hard_start=True).double()
    batch = CollocationSampler(objective.problem, interior=128, initial=16, boundary=0)(0)
    stretch = model.jet(batch["interior"].double())["x_x0"]
    assert 0.2 < float((stretch < 1.0).double().mean()) < 0.8
    plain, jet = objective(_without_jet(model), batch), objective(model, batch)
    for key in objective.terms:
        scale = float(plain[key])
        assert abs(float(jet[key]) - scale) <= 256 * torch.finfo(torch.float64).eps * (1 + scale), key


def test_the_causal_epsilon_schedule_moves_on_once_every_bin_carries_weight():
    # Wang, Sankaran & Perdikaris (2022), Algorithm 1: the next epsilon once min_i w_i > tol
    objective = PINNLoss("convection", {"beta": 1.0}, causal=True, causal_epsilon=[0.01, 1.0, 100.0], causal_bins=4)
    t = torch.tensor([0.1, 0.3, 0.6, 0.9], dtype=F64)
    r = torch.tensor([[0.5], [0.5], [0.5], [0.5]], dtype=F64)  # bin losses 0.25: earlier sums 0, 0.25, 0.5, 0.75
    objective.begin_step(0)
    _, extra = objective._residual_loss(r, t)
    assert float(extra["causal_epsilon"]) == 0.01
    assert float(extra["causal_min_weight"]) == pytest.approx(math.exp(-0.01 * 0.75), rel=1e-12)  # > 0.99
    objective.begin_step(1)
    assert objective.causal_level == 1
    _, extra = objective._residual_loss(r, t)  # exp(-0.75) = 0.47 < 0.99: the schedule stays
    assert float(extra["causal_min_weight"]) == pytest.approx(math.exp(-0.75), rel=1e-12)
    objective.begin_step(2)
    assert objective.causal_level == 1
    _, extra = objective._residual_loss(r * 1e-3, t)  # exp(-1e-6 * 0.75) > 0.99
    state = objective.state_dict()
    again = PINNLoss("convection", {"beta": 1.0}, causal=True, causal_epsilon=[0.01, 1.0, 100.0], causal_bins=4)
    again.load_state_dict(state)  # a resumed run takes the same decision at the next step
    for o in (objective, again):
        o.begin_step(3)
        assert o.causal_level == 2
        o.begin_step(4)  # the last epsilon is kept
        assert o.causal_level == 2
    with torch.no_grad():  # evaluation does not move the schedule
        fresh = PINNLoss("convection", {"beta": 1.0}, causal=True, causal_epsilon=[0.01, 1.0], causal_bins=4)
        fresh._residual_loss(r * 1e-3, t)
        fresh.begin_step(1)
    assert fresh.causal_level == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"causal_epsilon": [1.0, 0.1]}, r"causal_epsilon=\[1.0, 0.1\]: give a positive number or an increasing list"),
        ({"causal_epsilon": -1.0}, "causal_epsilon=-1.0: give a positive number"),
        ({"causal_epsilon": "x"}, "causal_epsilon='x': give a positive number"),
        ({"causal_tol": 1.5}, r"causal_tol=1.5: need 0 < tol < 1"),
    ],
)
def test_a_bad_causal_schedule_is_a_one_line_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        PINNLoss("convection", causal=True, **kwargs)
    assert "\n" not in str(info.value)
