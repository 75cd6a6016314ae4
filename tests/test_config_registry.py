"""Typed configs, dotted overrides and registries give one-line errors that name the fix."""

from __future__ import annotations

import pytest

from sciml import MODELS, ExperimentConfig, Registry, apply_overrides, load_config
from sciml.errors import ConfigError, UnknownNameError


def test_yaml_config_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {path: d.h5}\nmodel: {name: fno, kwargs: {n_modes: [16]}}\ntrain: {epochs: 4, grad_clip: 1.0}\n")
    cfg = load_config(path, ["optimizer.lr=3e-4", "model.kwargs.hidden_channels=24", "train.device=cuda"])
    assert cfg.optimizer.lr == pytest.approx(3e-4)
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
        ("optimizer.lr=[1]", "'optimizer.lr' expects float"),
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
    reg = Registry("widget")
    reg.register("fourier", object())
    reg.register("fourier_big", object())
    with pytest.raises(UnknownNameError, match=r"unknown widget 'fourir' \(did you mean 'fourier'.*valid names: fourier, fourier_big"):
        reg.get("fourir")
    with pytest.raises(UnknownNameError, match="did you mean 'fno'"):
        MODELS.get("fnoo")
    assert "fno" in MODELS and len(reg) == 2
