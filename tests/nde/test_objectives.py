"""NDE objectives: registration, Trainer logs, irregular times, and regularization that lowers NFE."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.core import build_model
from sciml.core.errors import ShapeError
from sciml.core.registry import MODELS, OBJECTIVES
from sciml.nde import NDEClassification, NDERegression, NeuralODE, node_classifier
from sciml.training import Trainer
from tests.nde.test_node import LinearField
from tests.problems import LinearSystem

F64 = torch.float64


def circles(n: int, seed: int) -> dict[str, torch.Tensor]:
    """Two concentric classes in the plane: radius < 0.5 and 1 < radius < 1.5."""
    generator = torch.Generator().manual_seed(seed)
    radius = torch.cat(
        [0.5 * torch.rand(n // 2, generator=generator), 1.0 + 0.5 * torch.rand(n - n // 2, generator=generator)]
    )
    angle = 2 * math.pi * torch.rand(n, generator=generator)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=-1)
    return {"x": x, "y": torch.cat([torch.zeros(n // 2), torch.ones(n - n // 2)]).long()}


def test_objectives_and_models_are_registered():
    assert OBJECTIVES.get("node_classification") is NDEClassification
    assert OBJECTIVES.get("node_regression") is NDERegression
    model = build_model("node_classifier", {"in_features": 2, "n_classes": 3, "augment": 1, "backend": "torchdiffeq"})
    assert model(torch.zeros(4, 2)).shape == (4, 3) and model.dynamics.backend == "torchdiffeq"
    assert isinstance(MODELS.build("neural_ode", 3), NeuralODE)
    objective = OBJECTIVES.build("node_classification", regularizer="local_error", regularizer_kwargs={"weight": 5.0})
    assert objective.config() == {
        "name": "node_classification",
        "regularizer": {
            "name": "local_error",
            "weight": 5.0,
            "schedule": "constant",
            "decay": 1.0,
            "sampling": "unbiased",
            "step_size": None,
            "rtol": None,
            "atol": None,
        },
    }


def test_trainer_logs_nfe_and_regularizer_per_epoch():
    torch.manual_seed(0)
    data = circles(64, 0)
    model = node_classifier(2, 2, augment=1, hidden=8, rtol=1e-3, atol=1e-4)
    objective = NDEClassification("global_error", {"weight": 1.0, "schedule": "exponential", "decay": 0.5})
    trainer = Trainer(
        model, objective, optimizer="adam", lr=1e-2, max_epochs=3, steps_per_epoch=2, progress=False, metrics=()
    )
    history = trainer.fit(lambda step: data)
    assert objective.step == 5  # the Trainer reported the steps 0..5: one per optimizer step
    for row in history:
        assert row["train_nfe"] >= 14 and row["train_reg"] > 0 and 0 <= row["train_accuracy"] <= 1
        assert row["train_loss"] == pytest.approx(row["train_task_loss"] + row["train_reg"], rel=1e-5)
    assert history[2]["train_reg"] < history[0]["train_reg"]  # the weight halves every step
    evaluation = trainer.evaluate([data], metrics=())
    assert math.isfinite(evaluation["loss"])


def test_regression_with_irregular_per_sample_times_gathers_the_right_states():
    problem = LinearSystem()
    ode = NeuralODE(LinearField(problem.a), rtol=1e-9, atol=1e-11)
    y0 = torch.stack([problem.y0, 2 * problem.y0])
    t = torch.tensor([[0.0, 0.3, 1.1], [0.0, 0.7, 0.9]], dtype=F64)
    exact = torch.stack([torch.linalg.matrix_exp(ti[:, None, None] * problem.a) @ y for ti, y in zip(t, y0)])
    objective = NDERegression()
    batch = {"x": y0, "t": t, "y": exact}
    prediction = objective.predict(ode, batch)
    assert prediction.shape == (2, 3, 3)
    assert torch.allclose(prediction, exact, atol=1e-8)
    assert float(objective(ode, batch)["task_loss"]) < 1e-15
    # a mask drops the corrupted observation
    corrupted = exact.clone()
    corrupted[1, 2] += 5.0
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    assert float(objective(ode, {**batch, "y": corrupted, "mask": mask})["task_loss"]) < 1e-15
    # whole trajectories, shared times: x [batch, n_times, dim]
    shared = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    trajectories = torch.stack([torch.linalg.matrix_exp(shared[:, None, None] * problem.a) @ y for y in y0])
    assert float(objective(ode, {"x": trajectories, "t": shared})["task_loss"]) < 1e-15
    with pytest.raises(ShapeError, match="start at the same"):
        objective(ode, {"x": y0, "t": t + torch.tensor([[0.0], [0.1]], dtype=F64), "y": exact})


def _train(regularizer, kwargs, backend: str, steps: int = 80, seed: int = 0):
    torch.manual_seed(seed)
    model = node_classifier(2, 2, augment=1, hidden=16, backend=backend, rtol=1e-4, atol=1e-5)
    objective = NDEClassification(regularizer, kwargs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = circles(256, 0)
    for _ in range(steps):
        optimizer.zero_grad()
        objective(model, data)["loss"].backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        result = objective(model, circles(256, 1))
    return {key: float(value) for key, value in result.items()}


@pytest.mark.parametrize(
    "regularizer,kwargs,backend",
    [("global_error", {"weight": 10.0}, "sciml"), ("local_error", {"weight": 3e4}, "torchdiffeq_adjoint")],
    ids=["global_error-sciml", "local_error-adjoint"],
)
def test_regularization_lowers_nfe_at_the_same_accuracy(regularizer, kwargs, backend):
    # 80 Adam steps on concentric circles, same seed. Measured test NFE: sciml 68 -> 32 (global error,
    # w=10), torchdiffeq_adjoint 44 -> 26 (local error, w=3e4), all at test accuracy 1.0.
    vanilla = _train(None, {}, backend)
    regularized = _train(regularizer, kwargs, backend)
    assert regularized["nfe"] <= 0.8 * vanilla["nfe"], (vanilla, regularized)
    assert regularized["accuracy"] >= vanilla["accuracy"] - 0.02
    # the task is still solved: test cross-entropy under 0.05 (ln 2 = 0.69 at chance)
    assert regularized["task_loss"] < 0.05 and vanilla["task_loss"] < 0.05
