"""Families plug in through the public mechanism only, and one broken family breaks no other.

A toy family is installed the way a third-party package would be (a module plus an
entry point of the group ``sciml.plugins`` in a ``.dist-info`` on the path); no file of
sciml is edited. It registers a model and a task that samples its own training points
(no data file), and runs through ``sciml train`` and ``sciml eval`` in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

TOY_FAMILY = '''
"""A toy family: regress y = sin(x) on [-pi, pi] from points drawn each step."""
import math
from dataclasses import dataclass

import torch

from sciml.core import MODELS, TASKS, AbstractTask


@dataclass
class ToyConfig:
    points: int = 64
    frequency: float = 1.0


@MODELS.register("toy_mlp")
def toy_mlp(hidden: int = 32):
    """A two-layer tanh MLP from x [B, 1] to y [B, 1]."""
    return torch.nn.Sequential(torch.nn.Linear(1, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))


class Sampler:
    """Fresh points every step, seeded by the step: a resumed run draws the same ones."""

    def __init__(self, points, frequency, steps_per_epoch, offset=0):
        self.points, self.frequency, self.steps_per_epoch, self.offset = points, frequency, steps_per_epoch, offset

    def __call__(self, step):
        g = torch.Generator().manual_seed(self.offset + step)
        x = (torch.rand(self.points, 1, generator=g) * 2 - 1) * math.pi
        return {"x": x, "y": torch.sin(self.frequency * x)}


class Points(torch.utils.data.Dataset):
    """Fixed evaluation points (a map-style dataset of dict items)."""

    def __init__(self, n, frequency, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = (torch.rand(n, 1, generator=g) * 2 - 1) * math.pi
        self.y = torch.sin(frequency * self.x)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i]}


@TASKS.register("toy")
class ToyTask(AbstractTask):
    """Regression of sin(frequency x) from sampled points."""

    section = ToyConfig

    def build_data(self, splits):
        opt = self.options
        out = {}
        for split in splits:
            if split == "train":
                out[split] = Sampler(opt.points, opt.frequency, steps_per_epoch=20)
            else:
                out[split] = Points(128, opt.frequency, seed={"val": 1, "test": 2}.get(split, 3))
        return out

    def build_model(self, data, objective, *, fit):
        return MODELS.get(self.cfg.model.name)(**self.cfg.model.kwargs)
'''

ENTRY_POINTS = "[sciml.plugins]\ntoy = toy_family\n"
METADATA = "Metadata-Version: 2.1\nName: toy-family\nVersion: 0.1\n"


def _install_toy_family(root: Path) -> None:
    (root / "toy_family.py").write_text(TOY_FAMILY)
    dist = root / "toy_family-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(METADATA)
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)


def _sciml(args: list[str], cwd: Path, pythonpath: Path | None = None, prelude: str = ""):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    code = f"import sys\n{prelude}\nfrom sciml.cli import main\nsys.exit(main({args!r}))"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_toy_family_registered_by_entry_point_trains_and_evaluates(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_toy_family(site)
    listed = _sciml(["list", "tasks"], tmp_path, site)
    assert listed.returncode == 0, listed.stderr
    assert "toy " in listed.stdout and "Regression of sin" in listed.stdout
    config = tmp_path / "toy.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            task: toy
            toy: {{points: 64, frequency: 1.0}}
            model: {{name: toy_mlp, kwargs: {{hidden: 32}}}}
            optimizer: {{name: adam, kwargs: {{lr: 1.0e-2, weight_decay: 0.0}}}}
            scheduler: {{name: none}}
            objective: {{name: supervised, kwargs: {{loss: mse}}}}
            train: {{epochs: 15, eval_batch_size: 64, metrics: [mse], run_dir: {tmp_path / "run"}, progress: false}}
            """
        )
    )
    trained = _sciml(["train", str(config)], tmp_path, site)
    assert trained.returncode == 0, trained.stderr[-2000:]
    test = json.loads(trained.stdout[: trained.stdout.rindex("}") + 1])
    # predicting the mean field (0 for sin on [-pi, pi]) scores mse = E[sin^2] = 0.5
    assert test["test_mse"] < 0.01, test
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["task"] == "toy" and saved["toy"] == {"points": 64, "frequency": 1.0}
    evaluated = _sciml(["eval", str(tmp_path / "run")], tmp_path, site)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    # the same weights on the same points, rebuilt from the checkpoint alone: equal to float32 round-off
    assert abs(json.loads(evaluated.stdout)["test_mse"] - test["test_mse"]) <= 1e-5 * test["test_mse"]
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0

    # the task's section is typed by its dataclass: an unknown key is a one-line error, exit 2
    bad = _sciml(["train", str(config), "toy.pionts=3"], tmp_path, site)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "unknown config field 'toy.pionts' (did you mean 'points'?)" in bad.stderr
    # without the family installed, the same config names the section as unknown
    missing = _sciml(["train", str(config)], tmp_path)
    assert missing.returncode == 2 and "unknown task 'toy'" in missing.stderr


def test_a_family_whose_dependency_is_missing_leaves_the_others_working(tmp_path):
    # a family whose module imports an optional dependency that is not installed: it is reported as
    # unavailable with its install hint, every other family (built-in or not) still registers
    site = tmp_path / "site"
    site.mkdir()
    _install_toy_family(site)
    (site / "broken_family.py").write_text("import a_dependency_that_is_not_installed\n")
    dist = site / "broken_family-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-family\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[sciml.plugins]\nbroken = broken_family\n")

    listed = _sciml(["list"], tmp_path, site)
    assert listed.returncode == 0, listed.stderr
    for name in ("fno", "neural_ode", "burgers1d", "adamw", "toy_mlp", "dopri5", "global_error", "toy", "operator"):
        assert f"  {name} " in listed.stdout, name
    assert "unavailable families:" in listed.stdout
    assert "No module named 'a_dependency_that_is_not_installed'; pip install broken-family" in listed.stdout

    config = tmp_path / "toy.yaml"
    config.write_text(f"task: toy\nmodel: {{name: toy_mlp}}\ntrain: {{epochs: 1, run_dir: {tmp_path / 'run'}}}\n")
    lookup = _sciml(["train", str(config), "model.name=broken_model"], tmp_path, site)
    assert lookup.returncode == 2 and lookup.stderr.count("\n") == 1
    assert "unknown model 'broken_model'" in lookup.stderr
    assert "family 'broken' is unavailable (No module named 'a_dependency_that_is_not_installed'): pip install broken-family" in lookup.stderr
    assert not (tmp_path / "run").exists()  # a refused command writes nothing
