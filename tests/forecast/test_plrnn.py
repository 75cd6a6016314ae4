"""Shallow PLRNNs with generalized teacher forcing (sciml.forecast._gtf, sciml.forecast.plrnn).

Every tolerance is a multiple of the dtype's machine epsilon with the factor stated; the
training tests assert measured margins (numbers in the comments, from
``pytest tests/forecast/test_plrnn.py`` on one CPU thread).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.estimator import load_estimator
from sciml.core.registry import FORECASTERS, OBJECTIVES
from sciml.forecast import PLRNNAGTF, PLRNNBPTT, PLRNNGTF
from sciml.forecast._gtf import (
    GTF,
    PLRNN,
    ShallowPLRNN,
    alpha_from_sigma,
    forced_states,
    gtf_rollout,
    jacobian_product_sigma,
)
from sciml.numerics import integrate_batch
from sciml.systems import batched_rhs, dominant_period
from sciml.training import Trainer

EPS64 = float(np.finfo(np.float64).eps)
DT = dominant_period("Lorenz") / 100  # 100 samples per dominant period, as the benchmark's data


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lorenz() -> np.ndarray:
    """Four Lorenz-63 trajectories ``[4, 4000, 3]`` after a burn-in of 1000 samples, dt = period / 100."""
    rng = np.random.default_rng(0)
    y0 = np.array([[-9.79, -15.04, 20.53]]) + rng.normal(size=(4, 3))
    t = np.arange(1, 5001) * DT
    ys, stats = integrate_batch(batched_rhs("Lorenz"), y0, t, rtol=1e-8, atol=1e-8)
    assert not stats.failures
    return ys.numpy()[:, 1000:]


def _models(dtype=torch.float64):
    """Three models with frozen parameters (derivatives with respect to the state only)."""
    return [
        m.requires_grad_(False)
        for m in (
            ShallowPLRNN(3, 3, 20, seed=1, dtype=dtype),
            ShallowPLRNN(3, 5, 20, clipped=True, seed=2, dtype=dtype),
            PLRNN(3, 4, seed=3, dtype=dtype),
        )
    ]


def _kink_distance(model, z: torch.Tensor) -> torch.Tensor:
    """Per state, the distance of the nearest ReLU argument to its kink (0)."""
    if isinstance(model, ShallowPLRNN):
        pre = z @ model.W2.T
        args = torch.cat([pre + model.h2, pre], dim=-1) if model.clipped else pre + model.h2
        return args.abs().min(dim=-1).values / model.W2.abs().sum(dim=-1).max()
    return z.abs().min(dim=-1).values


# ---------------------------------------------------------------------------- the model


@pytest.mark.parametrize("index", range(3))
def test_jacobian_matches_central_differences_and_autograd(index):
    model = _models()[index]
    with torch.no_grad():  # a non-trivial model: biases off zero, so the kinks sit anywhere
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(index), dtype=p.dtype))
    z = torch.randn(200, model.latent, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    h = 1e-6
    z = z[_kink_distance(model, z) > 10 * h][:50]  # central differences away from the kinks: exact up to rounding
    assert len(z) >= 20
    jac = model.jacobian(z)
    assert jac.shape == (len(z), model.latent, model.latent)
    fd = torch.stack(
        [
            (model.step(z + h * e) - model.step(z - h * e)) / (2 * h)
            for e in torch.eye(model.latent, dtype=torch.float64)
        ],
        dim=-1,
    )
    scale = float(model.step(z).abs().max()) + float(z.abs().max())
    # rounding of a central difference: ~ eps * |F| / h per entry; factor 100
    assert float((jac - fd).abs().max()) <= 100 * EPS64 * scale / h
    auto = torch.func.vmap(torch.func.jacrev(model.step))(z)
    # both are the same sums of products of the parameters: agree to 16 eps of the entries' scale
    assert float((jac - auto).abs().max()) <= 16 * EPS64 * float(auto.abs().max() + 1)
    # the norm bound holds at every sampled state
    assert float(torch.linalg.matrix_norm(jac, ord=2).max()) <= float(model.norm_upper_bound()) * (1 + 16 * EPS64)


def test_initialisation_follows_the_paper():
    m = ShallowPLRNN(3, 3, 50, seed=0, dtype=torch.float64).requires_grad_(False)
    # A: diagonal of a positive definite matrix normalized to largest eigenvalue 1: entries in (0, 1]
    assert float(m.A.min()) > 0 and float(m.A.max()) <= 1 + 4 * EPS64
    assert float(m.W1.abs().max()) <= 1 / math.sqrt(50) and float(m.W2.abs().max()) <= 1 / math.sqrt(3)
    assert float(m.h1.abs().max()) == 0 and float(m.h2.abs().max()) == 0
    clipped = ShallowPLRNN(3, 3, 50, clipped=True, seed=0, dtype=torch.float64).requires_grad_(False)
    assert 0 < float(clipped.h2.abs().max()) <= 1 / math.sqrt(50)
    # seeded by a private generator: the same seed, the same weights; the global RNG untouched
    state = torch.random.get_rng_state()
    again = ShallowPLRNN(3, 3, 50, seed=0, dtype=torch.float64)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), again.parameters()))
    plain = PLRNN(4, 4, seed=0, dtype=torch.float64).requires_grad_(False)
    assert float((plain.W * plain.offdiag).diagonal().abs().max()) == 0


# ---------------------------------------------------------------------------- the bound


def test_sigma_estimates_against_an_explicit_product_of_jacobians():
    model = ShallowPLRNN(3, 3, 20, seed=4, dtype=torch.float64).requires_grad_(False)
    with torch.no_grad():
        model.A.fill_(1.1)  # an expanding model: the product grows
        model.W1.mul_(3.0)
    x = torch.randn(3, 41, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    states = forced_states(model, x)[:, 1:]  # [3, 40, 3]
    assert torch.equal(states, x[:, 1:])  # latent == dim: the data-inferred states are the data
    t = states.shape[1]
    jac = model.jacobian(states).numpy()
    exact = []
    for b in range(3):
        prod = np.eye(3)
        for k in range(t):
            prod = jac[b, k] @ prod
        exact.append(np.linalg.svd(prod, compute_uv=False)[0] ** (1 / t))
    exact = np.array(exact)
    product = jacobian_product_sigma(model, states, "product").numpy()
    # both products carry ~ t roundings (relative t * eps), the t-th root divides that by t: rtol 64 eps
    np.testing.assert_allclose(product, exact, rtol=64 * EPS64)
    upper = jacobian_product_sigma(model, states, "product_upper_bound").numpy()
    largest = jacobian_product_sigma(model, states, "batch_maximum").numpy()
    norms = np.linalg.norm(jac, ord=2, axis=(-2, -1))
    np.testing.assert_allclose(upper, np.exp(np.log(norms).mean(axis=1)), rtol=16 * EPS64)
    np.testing.assert_allclose(largest, norms.max(axis=1), rtol=16 * EPS64)
    # submultiplicativity: sigma_1(product)^(1/t) <= geometric mean of the norms <= the largest norm
    assert np.all(exact <= upper * (1 + 16 * EPS64)) and np.all(upper <= largest * (1 + 16 * EPS64))
    assert np.all(product > 1)  # the model expands, so the bound asks for forcing
    assert 0 < alpha_from_sigma(float(upper.max())) < 1


def test_product_sigma_survives_products_that_overflow_float64():
    model = ShallowPLRNN(3, 3, 20, seed=5, dtype=torch.float64).requires_grad_(False)
    with torch.no_grad():
        model.A.fill_(3.0)  # every singular value of J is near 3 or more: 3^1000 overflows float64
        model.W1.mul_(1e-3)
    states = torch.randn(1, 1000, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    jac = model.jacobian(states)[0].numpy()
    with np.errstate(over="ignore", invalid="ignore"):
        prod = np.eye(3)
        for k in range(1000):
            prod = jac[k] @ prod
    assert not np.isfinite(prod).all()
    sigma = float(jacobian_product_sigma(model, states, "product")[0])
    assert math.isfinite(sigma) and 2.9 < sigma < 3.1


def test_gtf_gradient_stays_bounded_where_bptt_explodes_on_lorenz(lorenz):
    """The paper's claim, measured: a shPLRNN that reproduces the Lorenz attractor, gradients over T steps."""
    fitted = PLRNNAGTF(steps=1500, sequence_length=50, seed=0).fit(lorenz[:3])
    net = ShallowPLRNN(3, 3, 50, dtype=torch.float64)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.as_tensor(getattr(fitted, f"{name}_")))
    free = fitted.forecast(lorenz[3, :1], 3000)
    # the model is chaotic like the data: its free run fills the attractor (std 7.6, 8.7, 10.3 vs 7.9, 9.0, 8.7)
    assert np.all(free.std(axis=0) > 0.6 * lorenz[3].std(axis=0))
    xs = torch.as_tensor((lorenz[3] - fitted.mean_) / fitted.scale_)
    norms: dict[int, dict[str, float]] = {}
    for t in (50, 200, 500):
        starts = np.random.default_rng(1).integers(0, len(xs) - t - 1, size=16)
        x = torch.stack([xs[s : s + t + 1] for s in starts])
        states = forced_states(net, x)[:, 1:]
        # sigma_max = max_t ||J_t||: sigma_1(J_{t+k} ... J_t) <= sigma_max^k for every stretch of the sequence;
        # the paper's aGTF estimate, the geometric mean of ||J_t||, bounds the whole product only
        alphas = {
            name: alpha_from_sigma(float(jacobian_product_sigma(net, states, method).max()))
            for name, method in (("max", "batch_maximum"), ("geomean", "product_upper_bound"))
        }
        assert 0 < alphas["geomean"] < alphas["max"] < 0.5
        norms[t] = {}
        for name, a in (("bptt", 0.0), ("gtf_max", alphas["max"]), ("gtf_geomean", alphas["geomean"])):
            net.zero_grad()
            GTF(a)(net, {"x": x})["loss"].backward()
            norms[t][name] = float(torch.sqrt(sum((p.grad**2).sum() for p in net.parameters())))
    # measured (seed 0): BPTT 17.8 -> 4935 -> 1.3e8; alpha = 1 - 1/max ||J|| (0.19-0.22): 0.096 -> 0.090 -> 0.053;
    # alpha from the geometric mean (0.08-0.09): 0.30 -> 2.5 -> 6.0 (grows, but by 20x where BPTT grows by 7e6)
    assert norms[500]["bptt"] > 20 * norms[50]["bptt"]
    assert norms[500]["gtf_max"] < 3 * norms[50]["gtf_max"] and norms[200]["gtf_max"] < 3 * norms[50]["gtf_max"]
    assert norms[500]["gtf_max"] < norms[500]["bptt"] / 1000
    assert norms[500]["gtf_geomean"] < norms[500]["bptt"] / 100


# ---------------------------------------------------------------------------- the objective


def test_rollout_is_bptt_at_alpha_zero_and_teacher_forcing_at_alpha_one():
    net = ShallowPLRNN(3, 5, 16, seed=0, dtype=torch.float64)
    x = torch.randn(4, 21, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    free = gtf_rollout(net, net, x, 0.0)
    expected = net.observe(net.generate(net.init_state(x[:, 0]), 20))
    assert torch.allclose(free, expected, rtol=0, atol=0)  # the same operations in the same order
    forced = gtf_rollout(net, net, x, 1.0)
    expected = net.observe(net.step(forced_states(net, x)[:, :-1]))
    assert torch.allclose(forced, expected, rtol=16 * EPS64, atol=16 * EPS64)
    half = gtf_rollout(net, net, x, 0.5)
    assert not torch.allclose(half, forced) and not torch.allclose(half, free)


def test_objective_is_registered_and_its_schedule_follows_the_step():
    assert OBJECTIVES.get("gtf") is GTF
    assert {"plrnn_gtf", "plrnn_agtf", "plrnn_bptt"} <= set(FORECASTERS.names())
    net = ShallowPLRNN(3, 3, 16, seed=0)
    with torch.no_grad():
        net.W1.mul_(4.0)
    x = torch.randn(4, 11, 3, generator=torch.Generator().manual_seed(0))
    annealed = GTF(1.0, "annealed", alpha_decay=0.5, alpha_update_interval=2)
    alphas = []
    for step in range(4):
        annealed.begin_step(step)
        alphas.append(float(annealed(net, {"x": x})["alpha"]))
    estimate = alpha_from_sigma(annealed.sigma)
    assert 0 < estimate < 1
    # steps 0 and 2 update: 1 -> (1 + a) / 2 -> ((1 + a) / 2 + a) / 2; steps 1 and 3 keep the value
    first = 0.5 * 1.0 + 0.5 * estimate
    assert alphas[0] == pytest.approx(first, rel=1e-6) and alphas[1] == alphas[0]
    assert alphas[2] == pytest.approx(0.5 * first + 0.5 * estimate, rel=1e-6) and alphas[3] == alphas[2]
    state = annealed.state_dict()
    again = GTF(1.0, "annealed", alpha_decay=0.5, alpha_update_interval=2)
    again.load_state_dict(json.loads(json.dumps(state)))
    assert again.state_dict() == state
    bound = GTF(None, "bound")
    bound.begin_step(0)
    assert float(bound(net, {"x": x})["alpha"]) == pytest.approx(estimate, rel=1e-6)
    # evaluation (no grad) never moves the schedule
    with torch.no_grad():
        bound.begin_step(5)
        bound(net, {"x": x})
    assert bound.updated_at == 0


def test_trainer_resume_continues_the_alpha_schedule_exactly(tmp_path, lorenz):
    data = torch.as_tensor((lorenz[:2] - lorenz.mean((0, 1))) / lorenz.std((0, 1)), dtype=torch.float32)

    def sample(step):
        rng = np.random.default_rng([0, step])
        starts = rng.integers(0, data.shape[1] - 21, size=8)
        return {"x": torch.stack([data[0, s : s + 21] for s in starts])}

    def run(max_steps, run_dir, resume=False):
        net = ShallowPLRNN(3, 3, 16, seed=0)
        objective = GTF(1.0, "annealed", alpha_decay=0.9, alpha_update_interval=3)
        trainer = Trainer(
            net,
            objective,
            optimizer="adam",
            lr=1e-2,
            max_steps=max_steps,
            eval_every=10,
            run_dir=run_dir,
            progress=False,
            metrics=(),
        )
        trainer.fit(sample, resume=resume)
        return net, objective

    whole, whole_obj = run(40, tmp_path / "whole")
    run(20, tmp_path / "piece")
    resumed, resumed_obj = run(40, tmp_path / "piece", resume=True)
    assert resumed_obj.state_dict() == whole_obj.state_dict() and whole_obj.alpha < 1.0
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)  # one process, the same operations: the same bits


# ---------------------------------------------------------------------------- the forecasters


def test_gtf_forecaster_beats_persistence_and_climatology_on_lorenz(lorenz):
    train, test = lorenz[:3], lorenz[3]
    horizon = 10  # 0.15 time units, 0.14 Lyapunov times
    starts = np.arange(50, len(test) - horizon, 29)
    context = np.stack([test[s - 1 : s] for s in starts])
    truth = np.stack([test[s : s + horizon] for s in starts])
    scores = {}
    for name, forecaster in (
        ("gtf", PLRNNGTF(steps=1000, sequence_length=30, hidden=30, seed=0)),
        ("agtf", PLRNNAGTF(steps=1000, sequence_length=30, hidden=30, seed=0)),
    ):
        pred = forecaster.fit(train).forecast(context, horizon)
        assert pred.shape == truth.shape and pred.dtype == np.float64
        scores[name] = float(np.sqrt(np.mean((pred - truth) ** 2)))
    persistence = float(np.sqrt(np.mean((context[:, -1:] - truth) ** 2)))
    climatology = float(np.sqrt(np.mean((train.reshape(-1, 3).mean(axis=0) - truth) ** 2)))
    # measured: gtf 1.55, agtf 1.45 (plrnn_bptt, same budget: 2.33); persistence 5.35; climatology 8.51
    for name, score in scores.items():
        assert score < 0.5 * persistence < climatology, (name, score, persistence, climatology)


@pytest.mark.parametrize(
    "cls, params",
    [
        (PLRNNGTF, {"alpha": 0.2}),
        (PLRNNAGTF, {"latent": 5, "warmup": 4, "model": "clipped_shplrnn"}),
        (PLRNNBPTT, {"model": "plrnn", "latent": 4, "warmup": 3, "dtype": "float64"}),
    ],
)
def test_save_load_round_trip_gives_the_same_forecast(cls, params, tmp_path, lorenz):
    est = cls(steps=20, sequence_length=10, hidden=8, **params).fit(lorenz[:2, :400])
    context = lorenz[3, :12]
    expected = est.forecast(context, 30)
    out = est.save(tmp_path / "saved")
    loaded = load_estimator(out)
    assert type(loaded) is cls and loaded.get_params() == est.get_params()
    assert np.array_equal(loaded.forecast(context, 30), expected)
    assert loaded.evaluate(lorenz[3, :200]) == est.evaluate(lorenz[3, :200])
    # the learned arrays are the model's parameters as float64 (exact for float32 weights), plus the standardization
    assert loaded.A_.dtype == np.float64 and loaded.mean_.dtype == np.float64
    if params.get("dtype") != "float64":
        assert np.array_equal(loaded.A_.astype(np.float32).astype(np.float64), loaded.A_)
    assert ("L_" in loaded.learned_state()) == (params.get("latent", 3) > 3)
    # a refit with the same seed learns the same arrays (deterministic)
    again = cls(steps=20, sequence_length=10, hidden=8, **params).fit(lorenz[:2, :400])
    assert all(
        np.array_equal(v, getattr(again, k)) for k, v in est.learned_state().items() if isinstance(v, np.ndarray)
    )


def test_batched_and_single_contexts_agree(lorenz):
    est = PLRNNAGTF(steps=10, sequence_length=10, hidden=8, latent=4, warmup=5).fit(lorenz[:1, :300])
    contexts = np.stack([lorenz[3, s : s + 6] for s in (0, 100, 200)])
    batched = est.forecast(contexts, 7)
    assert batched.shape == (3, 7, 3)
    for b in range(3):
        single = est.forecast(contexts[b], 7)
        assert single.shape == (7, 3)
        # the same float32 operations in a batch of 3 or 1: agree to 64 float32 eps of the states' scale
        np.testing.assert_allclose(single, batched[b], rtol=0, atol=64 * np.finfo(np.float32).eps * 50)


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


def test_bad_input_gives_one_line_errors(lorenz):
    for bad in (1.0, -0.1, float("nan"), "0.5", True):
        with pytest.raises(ConfigError, match="alpha") as info:
            PLRNNGTF(alpha=bad)
        _one_line(info.value)
    PLRNNAGTF(alpha=1.0)  # aGTF starts at full forcing
    with pytest.raises(ConfigError, match=r"must be a number in \[0, 1\]"):
        PLRNNAGTF(alpha=1.5)
    with pytest.raises(ConfigError, match="alpha"):
        GTF(1.0, "constant")
    for params, match in (
        ({"hidden": 0}, "hidden=0"),
        ({"model": "lstm"}, "model='lstm' is unknown"),
        ({"dtype": "float16"}, "dtype"),
        ({"lr_end": 1.0}, "lr_end"),
        ({"sequence_length": 2.5}, "sequence_length"),
        ({"seed": -1}, "seed"),
    ):
        with pytest.raises(ConfigError, match=match) as info:
            PLRNNBPTT(**params)
        _one_line(info.value)
    with pytest.raises(ShapeError, match="sequence_length \\+ 1 = 51 states, the trajectories hold 40") as info:
        PLRNNBPTT(steps=1).fit(lorenz[:1, :40])
    _one_line(info.value)
    with pytest.raises(ConfigError, match="latent=2 is below"):
        PLRNNBPTT(latent=2, steps=1, sequence_length=5).fit(lorenz[:1, :40])
    est = PLRNNGTF(steps=2, sequence_length=5, hidden=4, latent=5, warmup=6).fit(lorenz[:1, :40])
    assert est.min_context == 6
    with pytest.raises(ShapeError, match="needs a context of at least 6 states, got 3") as info:
        est.forecast(lorenz[3, :3], 5)
    _one_line(info.value)
    with pytest.raises(ShapeError, match="fitted on 3-dimensional states, the context has 2") as info:
        est.forecast(lorenz[3, :10, :2], 5)
    _one_line(info.value)
    with pytest.raises(ShapeError, match="horizon"):
        est.forecast(lorenz[3, :10], 0)
    with pytest.raises(ShapeError, match=r"gtf batches hold sequences x \[B, T\+1, 3\]"):
        GTF(0.1)(ShallowPLRNN(3, 3, 4), {"x": torch.zeros(2, 5, 2)})
    assert PLRNNGTF(steps=2, sequence_length=5, hidden=4).fit(lorenz[:1, :40]).min_context == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_and_forecast_on_cuda(lorenz, tmp_path):
    est = PLRNNAGTF(steps=30, sequence_length=20, hidden=16, device="cuda").fit(lorenz[:2, :500])
    pred = est.forecast(lorenz[3, :1], 50)
    assert np.isfinite(pred).all() and pred.shape == (50, 3)
    loaded = load_estimator(est.save(tmp_path / "gpu"))
    assert np.array_equal(loaded.forecast(lorenz[3, :1], 50), pred)
