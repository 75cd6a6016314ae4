"""Typed configs, dotted overrides and registries give one-line errors that name the fix."""

from __future__ import annotations

import pytest

from sciml import MODELS, ExperimentConfig, Registry, apply_overrides, load_config
from sciml.core.errors import ConfigError, UnknownNameError


def test_yaml_config_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {path: d.h5}\nmodel: {name: fno, kwargs: {n_modes: [16]}}\ntrain: {epochs: 4, grad_clip: 1.0}\n")
    cfg = load_config(path, ["optimizer.lr=3e-4", "model.kwargs.hidden_channels=24", "train.device=cuda"])
    assert cfg.optimizer.kwargs["lr"] == pytest.approx(3e-4)
    assert cfg.model.kwargs == {"n_modes": [16], "hidden_channels": 24}
    assert (cfg.train.epochs, cfg.train.grad_clip, cfg.train.device) == (4, 1.0, "cuda")
    assert ExperimentConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epochs=ten", "'train.epochs' expects int, got 'ten'"),
        ("train.epochs", "malformed override 'train.epochs'; write it as key.sub=value"),
        ("tran.epochs=3", "unknown section 'tran'"),
        ("train.epoch=3", "unknown config field 'train.epoch' \\(did you mean 'epochs'\\?\\)"),
        ("optimizer.lr=[1]", "'optimizer.kwargs.lr' expects float"),
        ("train..x=1", "malformed override"),
    ],
)
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        apply_overrides(ExperimentConfig(), [override])
    assert "\n" not in str(info.value)


def test_bad_config_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train: {epochs: [1, 2]}\n")
    with pytest.raises(ConfigError, match="'train.epochs' expects int"):
        load_config(path)
    path.write_text("train: {epochs: 3\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_registry_lists_close_matches():
    reg = Registry("widget", listed=False)
    reg.register("fourier", object())
    reg.register("fourier_big", object())
    with pytest.raises(UnknownNameError, match=r"unknown widget 'fourir' \(did you mean 'fourier'.*valid names: fourier, fourier_big"):
        reg.get("fourir")
    with pytest.raises(UnknownNameError, match="did you mean 'fno'"):
        MODELS.get("fnoo")
    assert "fno" in MODELS and len(reg) == 2


def test_every_named_part_has_one_shape_and_the_first_shape_still_loads():
    legacy = {
        "data": {"path": "d.h5", "kind": "trajectories"},
        "optimizer": {"name": "adam", "lr": 3e-3},
        "train": {"objective": {"name": "node_regression", "regularizer": "local_error", "regularizer_kwargs": {"weight": 3.0}}},
    }
    cfg = ExperimentConfig.from_dict(legacy)
    # lr moved into kwargs; the first shape's default weight decay is kept
    assert cfg.optimizer.name == "adam" and cfg.optimizer.kwargs == {"lr": 3e-3, "weight_decay": 1e-4}
    assert cfg.objective.name == "node_regression"
    assert cfg.objective.kwargs == {"regularizer": {"name": "local_error", "kwargs": {"weight": 3.0}}}
    saved = cfg.to_dict()
    assert set(saved["optimizer"]) == set(saved["model"]) == set(saved["objective"]) == {"name", "kwargs"}
    assert "objective" not in saved["train"] and saved["task"] == "dynamics"  # resolved from data.kind
    assert ExperimentConfig.from_dict(saved) == cfg
    with pytest.raises(ConfigError, match="the objective is given twice"):
        ExperimentConfig.from_dict({"objective": {"name": "supervised"}, "train": {"objective": {"name": "rollout"}}})


@pytest.mark.parametrize(
    "config, message",
    [
        ({"trian": {}}, "unknown config section 'trian' \\(did you mean 'train'\\?\\); valid sections: task, data"),
        ({"task": "nope"}, "unknown task 'nope'.*valid names: .*dynamics.*operator.*samples"),
        ({"sections": {}}, "unknown config section 'sections'"),
        ({"data": {"kind": "movies"}}, "no task is registered for data.kind 'movies'; set task: NAME"),
        ({"optimizer": {"name": "adam", "kwargs": {"lr": -1.0}}}, "'optimizer.kwargs.lr' must be positive, got -1.0"),
        ({"train": {"phases": [{"optimizer": {"name": "adam"}, "steps": "ten"}]}}, "'train.phases\\[0\\].steps' expects int"),
    ],
)
def test_bad_sections_are_one_line_errors(config, message):
    with pytest.raises((ConfigError, UnknownNameError), match=message) as info:
        ExperimentConfig.from_dict(config)
    assert "\n" not in str(info.value)


def test_sciml_list_prints_every_registry(capsys):
    from sciml.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    headers = {line[:-1] for line in out.splitlines() if line and not line.startswith(" ")}
    expected = {"models", "estimators", "objectives", "tasks", "generators", "metrics", "optimizers", "schedulers",
                "regularizers", "tableaus", "sde_methods", "presets"}
    assert expected <= headers, headers - expected
    for name in ("fno", "neural_ode", "operator", "dynamics", "lbfgs", "global_error", "dopri5", "milstein_em"):
        assert f"  {name} " in out
