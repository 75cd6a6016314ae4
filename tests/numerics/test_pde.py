"""sciml.numerics.pde: every solver steps any batch of states from any t0, and reports a failed
member instead of failing the batch (an ensemble Kalman filter must survive one diverging member).

Float64 comparisons of two runs of the same arithmetic use ``roundoff(...)``: the two runs
may differ only where a batched FFT takes another code path for another batch size, by at
most about ``eps log2(N)`` of the field's scale per transform; the bound multiplies that by
the transforms per step, the steps, and ``e`` for the growth of a difference over the span
(one time unit of KS at L = 22: largest Lyapunov exponent 0.05, linear growth rate at most
1/4, a perturbation of 1e-13 measured to grow to 1.8e-13; Burgers and Navier-Stokes are
dissipative). A restart from grid values differs from a continuous run by one FFT round
trip of the state (measured 1.1e-15 against the generator below, the bound there 1.6e-12).
Within one process the same arithmetic agrees to the bit; the bound is what holds on any
machine.
"""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError, DataError, ShapeError
from sciml.data.generators import kuramoto_sivashinsky as ks_generator
from sciml.data.generators._common import grf_initial_conditions
from sciml.data.generators.kdv import soliton_initial_conditions
from sciml.data.generators.kuramoto_sivashinsky import ks_initial_conditions, kuramoto_sivashinsky1d
from sciml.data.generators.navier_stokes import initial_vorticity, ns_forcing
from sciml.data.generators.reaction_diffusion import reaction_diffusion_initial_conditions
from sciml.numerics import pde
from sciml.numerics.pde import (
    PDESolution,
    integrate_semilinear,
    solve_advection_diffusion,
    solve_burgers,
    solve_darcy,
    solve_kdv,
    solve_kuramoto_sivashinsky,
    solve_navier_stokes,
    solve_reaction_diffusion,
)

EPS = torch.finfo(torch.float64).eps
FLOAT32_EPS = float(np.finfo(np.float32).eps)


def roundoff(n_steps: int, points: int, scale: float, transforms_per_step: int = 8) -> float:
    """``k eps scale`` with ``k = transforms_per_step * n_steps * log2(points) * e`` (see the module docstring).

    ETDRK4 evaluates the nonlinear term 4 times per step, each an inverse and a forward FFT (8);
    CN/Heun evaluates advection twice, each 5 inverse and 1 forward 2-D FFT (12).
    """
    return transforms_per_step * max(n_steps, 1) * math.log2(points) * math.e * EPS * scale


def max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


# ---------------------------------------------------------------------- the EnKF-style test

KS = {"length": 22.0, "resolution": 64, "dt": 0.05}
T0 = 2.0


@pytest.fixture(scope="module")
def ks_generated(tmp_path_factory):
    """A KS data set of 32 trajectories from the generator, and the generator's own float64
    solution (captured from its solver call), at t = 0, 1, 2, 3 after a burn-in of 20."""
    captured: dict[int, torch.Tensor] = {}
    real = ks_generator.solve_kuramoto_sivashinsky

    def spy(u0, t, **kwargs):
        u = real(u0, t, **kwargs)
        if len(t) == 4:  # the trajectory call (the other one is the burn-in)
            captured[kwargs["first_index"]] = u.clone()
        return u

    path = tmp_path_factory.mktemp("ks") / "ks.h5"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ks_generator, "solve_kuramoto_sivashinsky", spy)
        kuramoto_sivashinsky1d(
            path, n=32, batch_size=8, seed=5, n_times=4, dt_output=1.0, burn_in=20.0, **KS
        )  # fmt: skip
    with h5py.File(path) as f:
        stored = torch.from_numpy(f["u"][:, :, 0])
        t = f["t"][()]
    trajectories = torch.cat([captured[start] for start in sorted(captured)])
    assert sorted(captured) == [0, 8, 16, 24] and t.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert torch.equal(stored, trajectories.float())  # the file holds this solution, rounded to float32
    return trajectories, stored


def test_enkf_ensemble_of_32_ks_states_stepped_one_time_unit_matches_the_generator(ks_generated):
    trajectories, stored = ks_generated
    ensemble = trajectories[:, 2].clone()  # 32 arbitrary states at t0 = 2 (none was the start of a call)
    stepped = solve_kuramoto_sivashinsky(ensemble, T0 + 1.0, t0=T0, length=KS["length"], dt=KS["dt"])
    generator = trajectories[:, 3]
    scale = float(generator.abs().max())
    tolerance = roundoff(20, KS["resolution"], scale)  # 20 steps of 0.05: about 1.4e-12 here
    difference = max_difference(stepped[:, 0], generator)
    assert difference <= tolerance, (difference, tolerance)
    # and the stored float32 file: rounding to float32 moves each value by at most eps32 / 2 of itself
    to_file = (stepped[:, 0] - stored[:, 3].double()).abs()
    assert bool((to_file <= 0.5 * FLOAT32_EPS * generator.abs() + tolerance).all())
    # the states really moved: a test of the stepping, not of copying
    assert max_difference(stepped[:, 0], ensemble) > 0.1 * scale


def test_enkf_member_that_blows_up_is_named_and_the_other_31_are_returned(ks_generated):
    trajectories, _ = ks_generated
    ensemble = trajectories[:, 2].clone()
    ensemble[13] *= 1e3  # a member of huge amplitude: the explicit nonlinear stage is unstable at dt = 0.05
    common = {"t0": T0, "length": KS["length"], "dt": KS["dt"]}
    solution = solve_kuramoto_sivashinsky(ensemble, [T0 + 0.5, T0 + 1.0], on_failure="report", **common)
    assert isinstance(solution, PDESolution)
    assert solution.failed.tolist() == [i == 13 for i in range(32)]
    assert list(solution.messages) == [13]
    message = solution.messages[13]
    assert "sample 13 " in message and "t=2.5" in message and "lower dt or raise resolution" in message
    assert "\n" not in message
    assert bool(torch.isnan(solution.u[13]).all())  # from its first output on
    others = torch.arange(32) != 13
    alone = solve_kuramoto_sivashinsky(ensemble[others], [T0 + 0.5, T0 + 1.0], **common)
    scale = float(alone.abs().max())
    tolerance = roundoff(20, KS["resolution"], scale)
    assert max_difference(solution.u[others], alone) <= tolerance
    assert max_difference(solution.u[others, 1], trajectories[others, 3]) <= tolerance
    assert solution.stats.steps[others].tolist() == [20] * 31 and int(solution.stats.steps[13]) == 10
    assert float(solution.stats.dt_max[0]) == pytest.approx(0.05, rel=4 * EPS)  # 0.5 / 10 rounded once
    # the default: one error naming the member
    with pytest.raises(DataError, match=r"Kuramoto-Sivashinsky integration blew up for sample 13 at t=3 ") as info:
        solve_kuramoto_sivashinsky(ensemble, [T0 + 1.0], **common)
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="sample 13 "):
        solution.raise_if_failed()


@pytest.mark.parametrize("t0", [5.0, 0.1, 5.7, 123.456])
def test_stepping_from_t0_is_stepping_from_zero(t0):
    """The PDEs are autonomous: only ``t - t0`` matters. Where ``(t0 + 1) - t0`` is not 1 in
    floating point the step differs by an ulp, which moves the result by about eps."""
    u0 = ks_initial_conditions(0, 3, 64, length=22.0, amplitude=2.0)
    from_zero = solve_kuramoto_sivashinsky(u0, [0.5, 1.0], length=22.0)
    from_t0 = solve_kuramoto_sivashinsky(u0, [t0 + 0.5, t0 + 1.0], t0=t0, length=22.0)
    assert max_difference(from_t0, from_zero) <= roundoff(20, 64, float(from_zero.abs().max()))
    assert max_difference(from_zero[:, 1], u0) > 0.1  # it moved

    b0 = grf_initial_conditions(0, 2, 64)
    burgers_zero = solve_burgers(b0, [0.2], nu=0.05, dt=2e-3)
    burgers_t0 = solve_burgers(b0, [t0 + 0.2], t0=t0, nu=0.05, dt=2e-3)
    assert max_difference(burgers_t0, burgers_zero) <= roundoff(100, 128, float(b0.abs().max()))

    w0 = initial_vorticity(0, 2, 32)
    ns_zero = solve_navier_stokes(w0, [0.05], nu=1e-2)
    ns_t0 = solve_navier_stokes(w0, [t0 + 0.05], t0=t0, nu=1e-2)
    assert max_difference(ns_t0, ns_zero) <= roundoff(10, 32 * 32, float(w0.abs().max()), 12)


# ------------------------------------------------------------- failures of other solvers


def test_burgers_failed_member_leaves_the_others_as_without_it():
    """With ``dt`` given the members are independent; with the CFL step (``dt=None``) the
    step comes from the batch's largest ``max|u0|`` over the members with finite states."""
    u0 = grf_initial_conditions(0, 8, 64)
    others = torch.arange(8) != 3
    dt = float((1 / 128) / u0[others].abs().max())  # the CFL step of the seven (cfl = 1)
    blowing = u0.clone()
    blowing[3] *= 50  # Courant number 50 at that step: unstable
    t = [0.05, 0.1]
    solution = solve_burgers(blowing, t, nu=0.01, dt=dt, on_failure="report")
    alone = solve_burgers(u0[others], t, nu=0.01, dt=dt)
    assert list(solution.messages) == [3] and solution.failed.sum() == 1
    assert "Burgers integration blew up for sample 3 at t=0.05" in solution.messages[3]
    steps = math.ceil(0.1 / dt)
    assert max_difference(solution.u[others], alone) <= roundoff(steps, 128, float(u0.abs().max()))
    assert bool(torch.isnan(solution.u[3]).all())

    # a non-finite member is named at t0 and does not enter the CFL step of the others
    poisoned = u0.clone()
    poisoned[5, 10] = float("inf")
    solution = solve_burgers(poisoned, t, nu=0.01, on_failure="report")
    keep = torch.arange(8) != 5
    alone = solve_burgers(u0[keep], t, nu=0.01)
    assert (
        list(solution.messages) == [5] and "non-finite values in its initial state u0 at t0=0" in solution.messages[5]
    )
    assert max_difference(solution.u[keep], alone) <= roundoff(steps, 128, float(u0.abs().max()))
    assert int(solution.stats.steps[5]) == 0 and math.isnan(float(solution.stats.dt_min[5]))


def test_navier_stokes_failed_member_leaves_the_others_as_without_it():
    w0 = initial_vorticity(0, 5, 32)
    forcing = ns_forcing("fno", 32)
    others = torch.tensor([True, True, False, True, True])
    huge = w0.clone()
    huge[2] *= 1e3
    t = [0.05, 0.1]
    # a fixed step: member 2's Courant number passes 1 at its first step, the others run on
    fixed = solve_navier_stokes(huge, t, nu=1e-3, forcing=forcing, dt=5e-3, on_failure="report")
    alone = solve_navier_stokes(w0[others], t, nu=1e-3, forcing=forcing, dt=5e-3)
    assert list(fixed.messages) == [2] and "sample 2 reached Courant number" in fixed.messages[2]
    scale = float(w0.abs().max())
    assert max_difference(fixed.u[others], alone) <= roundoff(20, 32 * 32, scale, 12)
    assert fixed.stats.steps.tolist() == [20, 20, 0, 20, 20]
    # adaptive steps are chosen per member: the huge one takes tiny steps until max_steps
    adaptive = solve_navier_stokes(huge, t, nu=1e-3, forcing=forcing, max_steps=50, on_failure="report")
    alone = solve_navier_stokes(w0[others], t, nu=1e-3, forcing=forcing)
    assert list(adaptive.messages) == [2] and "needs more than max_steps=50 steps" in adaptive.messages[2]
    n_steps = int(adaptive.stats.steps[others].max())
    assert max_difference(adaptive.u[others], alone) <= roundoff(n_steps, 32 * 32, scale, 12)
    assert int(adaptive.stats.steps[2]) == 50
    # and a NaN state is named before any step
    nan = w0.clone()
    nan[4, 0, 0] = float("nan")
    reported = solve_navier_stokes(nan, t, nu=1e-3, on_failure="report")
    assert list(reported.messages) == [4] and "sample 4 has non-finite values" in reported.messages[4]
    with pytest.raises(DataError, match="sample 4 has non-finite values"):
        solve_navier_stokes(nan, t, nu=1e-3)


def _states(kind: str) -> torch.Tensor:
    if kind == "kdv":
        return soliton_initial_conditions(0, 4, 128, length=46.0, c_max=1.0)[0]
    if kind == "reaction_diffusion":
        return reaction_diffusion_initial_conditions(0, 4, 128)
    if kind == "darcy":
        return torch.full((4, 9, 9), 2.0, dtype=torch.float64) + grf_initial_conditions(0, 4, 9)[:, :, None].abs()
    if kind == "navier_stokes":
        return initial_vorticity(0, 4, 16)
    return grf_initial_conditions(0, 4, 64)


CALLS = {
    "burgers": lambda u, **k: solve_burgers(u, [0.1], nu=0.05, dt=1e-3, **k),
    "advection": lambda u, **k: solve_advection_diffusion(u, [0.5], beta=2.0, nu=0.01, **k),
    "reaction_diffusion": lambda u, **k: solve_reaction_diffusion(u, [0.2], diffusion=1e-4, rate=2.0, **k),
    "kuramoto_sivashinsky": lambda u, **k: solve_kuramoto_sivashinsky(u, [0.5], length=22.0, **k),
    "kdv": lambda u, **k: solve_kdv(u, [0.2], length=46.0, dt=0.01, **k),
    "navier_stokes": lambda u, **k: solve_navier_stokes(u, [0.05], nu=1e-2, **k),
    "darcy": lambda u, **k: solve_darcy(u, 1.0, **k),
    "semilinear": lambda u, **k: integrate_semilinear(
        u, [0.1], -(pde_wavenumbers(64) ** 2), lambda v: torch.zeros_like(v), dt=0.01, **k
    ),
}


def pde_wavenumbers(s: int) -> torch.Tensor:
    return torch.fft.rfftfreq(s, 1.0 / s, dtype=torch.float64) * 2 * math.pi


@pytest.mark.parametrize("kind", sorted(CALLS))
def test_every_solver_reports_a_non_finite_member_and_solves_the_others(kind):
    states = _states(kind)
    bad = states.clone()
    bad[1].view(-1)[3] = float("nan")
    solution = CALLS[kind](bad, on_failure="report", first_index=100)
    assert isinstance(solution, PDESolution)
    assert solution.failed.tolist() == [False, True, False, False]
    assert list(solution.messages) == [1] and "sample 101 " in solution.messages[1]
    assert "\n" not in solution.messages[1]
    keep = torch.tensor([True, False, True, True])
    alone = CALLS[kind](states[keep])
    assert solution.u.shape == (4, *alone.shape[1:])
    # the same arithmetic on the same rows: any difference is an FFT code path (see roundoff)
    assert max_difference(solution.u[keep], alone) <= roundoff(100, 256, float(alone.abs().max()))
    assert bool(torch.isnan(solution.u[1]).all())
    assert bool(torch.isfinite(solution.u[keep]).all())
    with pytest.raises(DataError, match="sample 101 ") as info:
        CALLS[kind](bad, first_index=100)
    assert "\n" not in str(info.value)


def test_darcy_reports_a_non_positive_coefficient():
    a = _states("darcy")
    a[2, 4, 4] = -1.0
    solution = solve_darcy(a, on_failure="report")
    assert list(solution.messages) == [2] and "not finite and > 0 everywhere" in solution.messages[2]
    assert solution.t.numel() == 0 and solution.u.shape == (4, 9, 9)


def test_semilinear_driver_is_exact_for_the_heat_equation():
    """``u_t = u_xx`` with ``N = 0``: ETDRK4 multiplies each mode by ``exp(-k^2 h)`` per step."""
    s = 32
    x = torch.arange(s, dtype=torch.float64) * (2 * math.pi / s)
    u0 = torch.stack([torch.sin(3 * x), torch.cos(x) + 0.5 * torch.sin(5 * x)])
    k = torch.fft.rfftfreq(s, 1.0 / s, dtype=torch.float64)
    u = integrate_semilinear(u0, [0.3, 1.0], -(k**2), lambda v: torch.zeros_like(v), dt=0.1)
    exact = torch.stack(
        [
            torch.stack([math.exp(-9 * t) * torch.sin(3 * x), math.exp(-t) * torch.cos(x) + 0.5 * math.exp(-25 * t) * torch.sin(5 * x)])
            for t in (0.3, 1.0)
        ],
        dim=1,
    )  # fmt: skip
    # 10 steps, each a product by exp(-k^2 h) (one rounding) and an FFT pair at the end
    assert max_difference(u, exact) <= roundoff(10, s, 1.0, transforms_per_step=2)


# ------------------------------------------------------------------------------ bad input

ONE_D = {
    "solve_burgers": lambda u0, t, **k: solve_burgers(u0, t, **k),
    "solve_advection_diffusion": lambda u0, t, **k: solve_advection_diffusion(u0, t, **k),
    "solve_reaction_diffusion": lambda u0, t, **k: solve_reaction_diffusion(u0, t, **k),
    "solve_kuramoto_sivashinsky": lambda u0, t, **k: solve_kuramoto_sivashinsky(u0, t, length=22.0, **k),
    "solve_kdv": lambda u0, t, **k: solve_kdv(u0, t, length=46.0, **k),
}
STEPPED = ["solve_burgers", "solve_reaction_diffusion", "solve_kuramoto_sivashinsky", "solve_kdv"]


def _one_line(info) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", sorted(ONE_D))
@pytest.mark.parametrize(
    ("t", "t0", "words"),
    [
        ([1.0], 1.0, r"time span t\[-1\] - t0 = 0\.0 is not positive; pass output times that end after t0=1\.0"),
        ([0.5], 1.0, r"start at 0\.5, before t0=1\.0; pass times >= t0"),
        ([2.0, 1.5], 1.0, r"must be non-decreasing.*sort them"),
        ([], 0.0, r"t is empty; pass the output times"),
        ([float("nan")], 0.0, r"must be finite"),
    ],
)
def test_a_time_span_that_is_not_positive_is_one_line_naming_the_fix(name, t, t0, words):
    u0 = ks_initial_conditions(0, 2, 64, length=22.0)
    with pytest.raises(ConfigError, match=rf"^{name}: .*{words}") as info:
        ONE_D[name](u0, t, t0=t0)
    _one_line(info)


@pytest.mark.parametrize("name", STEPPED)
@pytest.mark.parametrize("dt", [0.0, -0.1, float("inf")])
def test_a_step_that_is_not_positive_is_one_line_naming_the_argument(name, dt):
    u0 = ks_initial_conditions(0, 2, 64, length=22.0)
    with pytest.raises(ConfigError, match=rf"^{name}: dt={dt!r} must be a finite number > 0") as info:
        ONE_D[name](u0, [1.0], dt=dt)
    _one_line(info)


@pytest.mark.parametrize("name", sorted(ONE_D))
def test_a_state_batch_of_the_wrong_shape_is_one_line_naming_the_fix(name):
    single = ks_initial_conditions(0, 1, 64, length=22.0)[0]
    with pytest.raises(
        ShapeError, match=rf"^{name}: u0 must have shape \[B, S\] .*got \(64,\); for one state pass u0\[None\]"
    ):
        ONE_D[name](single, [1.0])
    with pytest.raises(ShapeError, match=rf"^{name}: u0 must have shape \[B, S\] .*got \(2, 8, 8\)"):
        ONE_D[name](torch.zeros(2, 8, 8, dtype=torch.float64), [1.0])
    with pytest.raises(ConfigError, match=rf"^{name}: u0 must be a torch.Tensor \[B, S\], got ndarray; pass torch"):
        ONE_D[name](np.zeros((2, 64)), [1.0])
    if name != "solve_advection_diffusion":  # the exact solver takes any number of points
        with pytest.raises(ShapeError, match=rf"^{name}: u0 has shape \(2, 63\): the grid needs an even number"):
            ONE_D[name](torch.zeros(2, 63, dtype=torch.float64), [1.0])


def test_two_d_solvers_refuse_wrong_shapes_and_settings():
    w0 = initial_vorticity(0, 2, 16)
    with pytest.raises(ShapeError, match=r"^solve_navier_stokes: w0 must have shape \[B, S, S\] \(a square grid\)"):
        solve_navier_stokes(torch.zeros(2, 16, 32, dtype=torch.float64), [0.1])
    with pytest.raises(ShapeError, match=r"for one state pass w0\[None\]"):
        solve_navier_stokes(w0[0], [0.1])
    with pytest.raises(ShapeError, match=r"w0 has shape \(2, 6, 6\): the grid needs an even number of points >= 8"):
        solve_navier_stokes(torch.zeros(2, 6, 6, dtype=torch.float64), [0.1])
    with pytest.raises(ConfigError, match=r"^solve_navier_stokes: dt=0\.0 must be a finite number > 0"):
        solve_navier_stokes(w0, [0.1], dt=0.0)
    with pytest.raises(ConfigError, match=r"^solve_navier_stokes: the time span t\[-1\] - t0 = 0\.0 is not positive"):
        solve_navier_stokes(w0, [0.1], t0=0.1)
    with pytest.raises(ShapeError, match=r"forcing has shape \(8, 8\), expected \(16, 16\)"):
        solve_navier_stokes(w0, [0.1], forcing=torch.zeros(8, 8, dtype=torch.float64))
    with pytest.raises(ConfigError, match=r"internal_resolution=24 must be a multiple of the resolution 16; try 32"):
        solve_navier_stokes(w0, [0.1], internal_resolution=24)
    with pytest.raises(ConfigError, match=r"on_failure='ignore' is not one of raise, report"):
        solve_navier_stokes(w0, [0.1], on_failure="ignore")
    with pytest.raises(ShapeError, match=r"^solve_darcy: a must have shape \[B, S, S\]"):
        solve_darcy(torch.ones(9, 9, dtype=torch.float64))
    with pytest.raises(ShapeError, match=r"^solve_darcy: f has shape \(3, 3\), expected \(9, 9\) or \(1, 9, 9\)"):
        solve_darcy(torch.ones(1, 9, 9, dtype=torch.float64), torch.ones(3, 3))
    with pytest.raises(ShapeError, match=r"^integrate_semilinear: linear_symbol has shape \(5,\), expected \(33,\)"):
        integrate_semilinear(torch.zeros(1, 64, dtype=torch.float64), [1.0], torch.zeros(5), lambda v: v, dt=0.1)


def test_the_package_exports_what_it_lists():
    assert sorted(pde.__all__) == sorted(set(pde.__all__))
    for name in pde.__all__:
        assert getattr(pde, name) is not None
    assert pde.ON_FAILURE == ("raise", "report")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_solvers_run_on_the_device_of_the_states():
    u0 = ks_initial_conditions(0, 4, 64, length=22.0)
    cpu = solve_kuramoto_sivashinsky(u0, [1.0], length=22.0, on_failure="report")
    gpu = solve_kuramoto_sivashinsky(u0.cuda(), [1.0], length=22.0, on_failure="report")
    assert gpu.u.device.type == "cuda" and gpu.failed.device.type == "cpu"
    # other FFT kernels: round-off differences, bounded as in the module docstring
    assert max_difference(gpu.u.cpu(), cpu.u) <= roundoff(20, 64, float(cpu.u.abs().max()))
    w0 = initial_vorticity(0, 2, 32)
    w0[1, 3, 3] = float("nan")
    reported = solve_navier_stokes(w0.cuda(), [0.05], nu=1e-2, on_failure="report")
    assert list(reported.messages) == [1] and reported.u.device.type == "cuda"
    alone = solve_navier_stokes(w0[:1], [0.05], nu=1e-2)
    assert max_difference(reported.u[:1].cpu(), alone) <= roundoff(10, 32 * 32, float(alone.abs().max()), 12)
