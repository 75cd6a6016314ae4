"""Every example runs end to end in a tiny configuration and produces its files and numbers."""

from __future__ import annotations

import json
import runpy
import sys

import pytest

from sciml.cli import _presets
from sciml.core.config import load_config


def test_quickstart_tiny(tmp_path, monkeypatch):
    out = tmp_path / "qs"
    monkeypatch.setattr(
        sys, "argv", ["quickstart.py", "--out", str(out), "--n", "120", "--resolution", "64", "--epochs", "25"]
    )
    runpy.run_path("examples/quickstart.py", run_name="__main__")
    summary = json.loads((out / "quickstart_metrics.json").read_text())
    # 96 training samples and 25 epochs already learn the Burgers map to a few percent
    assert summary["test_relative_l2"] < 0.15
    for name in ("predictions.png", "loss.png", "best.pt", "burgers.h5", "metrics.csv"):
        assert (out / name).stat().st_size > 0


@pytest.mark.parametrize("preset", _presets(), ids=lambda p: p.stem)
def test_presets_load(preset):
    cfg = load_config(preset)
    assert cfg.model.name and cfg.data.path and cfg.train.epochs > 0


def test_operators_darcy_tiny(tmp_path, monkeypatch):
    out = tmp_path / "darcy"
    monkeypatch.setattr(
        sys, "argv", ["operators_darcy.py", "--out", str(out), "--n", "60", "--resolution", "16", "--epochs", "15"]
    )
    runpy.run_path("examples/operators_darcy.py", run_name="__main__")
    models = json.loads((out / "summary.json").read_text())["models"]
    assert set(models) == {"fno", "tfno", "mgtfno", "lsm"}
    # 48 training samples at 16 x 16, 15 epochs (measured: fno 0.18, tfno 0.34, mgtfno 0.56, lsm 0.07;
    # predicting the mean field gives about 0.62)
    assert models["fno"]["relative_l2"] < 0.3 and models["lsm"]["relative_l2"] < 0.2
    assert models["tfno"]["relative_l2"] < 0.5 and models["mgtfno"]["relative_l2"] < 0.7
    assert models["tfno"]["parameters"] * 10 <= models["fno"]["parameters"]
    assert list(out.glob("*.png"))


def test_datasets_gallery(tmp_path, monkeypatch):
    from sciml.core.registry import GENERATORS

    out = tmp_path / "gallery"
    monkeypatch.setattr(sys, "argv", ["datasets_gallery.py", "--out", str(out)])
    runpy.run_path("examples/datasets_gallery.py", run_name="__main__")
    summary = json.loads((out / "gallery.json").read_text())
    assert set(summary) == set(GENERATORS.names())  # every registered generator has a gallery entry
    for name in summary:
        assert (out / f"{name}.png").stat().st_size > 10_000
