"""``train.parallel=patches`` through the real CLI: 2 torchrun ranks train like one process.

``python -m torch.distributed.run --standalone --nproc_per_node=2 -m sciml train CFG
train.parallel=patches`` (gloo on CPU) gives every rank the whole global batch and spreads
the MG-TFNO's patches over the ranks; loss history and final weights must equal those of a
one-process ``sciml train CFG`` to float32 round-off, and only rank 0 may write files.

To see which rank writes what, a ``sitecustomize`` on ``PYTHONPATH`` moves each rank into
its own working directory (``rank0``, ``rank1``) before ``-m sciml`` starts; the run
directory is relative, so rank ``r``'s files would land under ``rank<r>/run``. The ranks then
share no disk, which also checks that rank 0 hands the reloaded ``best.pt`` to rank 1.
A second launch resumes a patch-parallel run (shared run directory) and must end where
an uninterrupted one-process run does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.data import Provenance, write_fields
from sciml.training.checkpoint import load_checkpoint
from tests.conftest import heat_map_data

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 3
SITECUSTOMIZE = """\
import os
if os.environ.get("SCIML_TEST_RANK_DIRS") and "RANK" in os.environ:
    _d = os.path.join(os.environ["SCIML_TEST_RANK_DIRS"], "rank" + os.environ["RANK"])
    os.makedirs(_d, exist_ok=True)
    os.chdir(_d)
"""


def _config(tmp: Path) -> Path:
    a, u, x = heat_map_data(n=20, s=32)
    data = tmp / "heat.h5"
    write_fields(data, u, np.array([0.0, 1.0]), {"x": x}, Provenance("test:heat", {"nu": 0.02}, seed=0), a=a)
    cfg = {
        "data": {"path": str(data), "fractions": [0.6, 0.2, 0.2]},
        "model": {
            "name": "mgtfno",
            "kwargs": {
                "levels": 1,
                "padding_fraction": 0.125,
                "padding_mode": "reflect",
                "n_modes": [6],
                "hidden_channels": 8,
                "n_layers": 2,
            },
        },
        "optimizer": {"name": "adam", "lr": 1e-2, "weight_decay": 0.0},
        "scheduler": {"name": "none"},
        "train": {
            "epochs": EPOCHS,
            "batch_size": 4,
            "eval_batch_size": 4,
            "grad_clip": 1.0,
            "seed": 0,
            "run_dir": "run",
            "progress": False,
        },
    }
    path = tmp / "cfg.json"
    path.write_text(json.dumps(cfg))
    return path


def _sciml(cwd: Path, args: list[str], *, ranks: int = 1, rank_dirs: bool = False) -> str:
    cwd.mkdir(exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "SCIML_TEST_RANK_DIRS"):
        env.pop(key, None)  # the single-process run must not believe it is distributed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd.parent / "site"), str(ROOT), env.get("PYTHONPATH")]))
    if rank_dirs:
        env["SCIML_TEST_RANK_DIRS"] = str(cwd)
    launch = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"] if ranks > 1 else []
    proc = subprocess.run(
        [sys.executable, *launch, "-m", "sciml", "train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, (
        f"sciml train failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def _history(run: Path) -> dict[str, np.ndarray]:
    rows = json.loads((run / "metrics.json").read_text())["history"]
    return {key: np.array([row[key] for row in rows]) for key in ("train_loss", "val_loss")}


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "last.pt")["model"]


def _max_rel_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)).item() for k in b)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("patch_cli")
    (tmp / "site").mkdir()
    (tmp / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    cfg = str(_config(tmp))
    single_out = _sciml(tmp / "single", [cfg])
    patches_out = _sciml(tmp / "patches", [cfg, "train.parallel=patches"], ranks=2, rank_dirs=True)
    # interrupted after 2 epochs, then resumed to 3, in a run directory both ranks share
    _sciml(tmp / "resumed", [cfg, "train.parallel=patches", "train.epochs=2"], ranks=2)
    _sciml(tmp / "resumed", [cfg, "train.parallel=patches", "--resume"], ranks=2)
    return {
        "single": tmp / "single" / "run",
        "patches": tmp / "patches" / "rank0" / "run",
        "rank1": tmp / "patches" / "rank1",
        "resumed": tmp / "resumed" / "run",
        "single_out": single_out,
        "patches_out": patches_out,
    }


def test_patch_parallel_cli_matches_one_process(runs):
    single, patches = _history(runs["single"]), _history(runs["patches"])
    assert single["train_loss"].shape == (EPOCHS,) and single["train_loss"][-1] < single["train_loss"][0]
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(patches[key], single[key], rtol=1e-5, atol=0)
    assert _max_rel_diff(_weights(runs["patches"]), _weights(runs["single"])) < 1e-5
    blob = load_checkpoint(runs["patches"] / "last.pt")
    assert blob["meta"]["world_size"] == 2 and blob["meta"]["global_step"] == EPOCHS * 3
    assert blob["meta"]["config"]["train"]["parallel"] == "patches"
    # test metrics: every rank evaluated the reloaded best.pt on the whole test split
    test_single = json.loads((runs["single"] / "test_metrics.json").read_text())
    test_patches = json.loads((runs["patches"] / "test_metrics.json").read_text())
    assert test_single.keys() == test_patches.keys()
    for key, value in test_single.items():
        assert test_patches[key] == pytest.approx(value, rel=1e-4), key


def test_only_rank_0_writes(runs):
    written = {p.name for p in runs["patches"].iterdir()}
    assert {
        "config.json",
        "last.pt",
        "best.pt",
        "metrics.json",
        "metrics.csv",
        "test_metrics.json",
        "loss.png",
        "predictions.png",
    } <= written
    assert written == {p.name for p in runs["single"].iterdir()}
    rank1 = [str(p.relative_to(runs["rank1"])) for p in runs["rank1"].rglob("*")]
    assert rank1 == [], f"rank 1 wrote {rank1}"
    assert runs["patches_out"].count("run directory:") == 1  # one rank prints the summary


def test_resumed_patch_parallel_run_ends_where_the_uninterrupted_one_does(runs):
    resumed, single = _history(runs["resumed"]), _history(runs["single"])
    np.testing.assert_allclose(resumed["train_loss"], single["train_loss"], rtol=1e-5, atol=0)
    assert _max_rel_diff(_weights(runs["resumed"]), _weights(runs["single"])) < 1e-5


def test_patches_needs_a_patched_operator(tmp_path, capsys):
    from sciml.cli import main

    cfg = json.loads(_config(tmp_path).read_text())
    cfg["model"] = {"name": "fno", "kwargs": {"n_modes": [8], "hidden_channels": 8, "n_layers": 2}}
    cfg["train"]["run_dir"] = str(tmp_path / "run")
    (tmp_path / "fno.json").write_text(json.dumps(cfg))
    assert main(["train", str(tmp_path / "fno.json"), "train.parallel=patches"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "train.parallel=patches" in err and "model.name=mgtfno" in err
    assert main(["train", str(tmp_path / "fno.json"), "train.parallel=model"]) == 2
    assert "unknown train.parallel 'model'" in capsys.readouterr().err


def test_patches_switches_distribute_patches_on_and_leaves_the_model_config_alone(tmp_path):
    """With 2 ranks this flag makes each forward spread the patches; a sharded batch would then
    fail the operator's replicated-input check, so the CLI run above also shows the ranks held
    replicated batches. In one process the flag is a no-op: a normal run."""
    from sciml.core.config import ExperimentConfig
    from sciml.experiment import build_run

    raw = json.loads(_config(tmp_path).read_text())
    raw["train"]["run_dir"] = str(tmp_path / "run")
    for parallel in ("data", "patches"):
        cfg = ExperimentConfig.from_dict({**raw, "train": {**raw["train"], "parallel": parallel}})
        trainer, _ = build_run(cfg)
        assert trainer.model.model.distribute_patches is (parallel == "patches")
        assert "distribute_patches" not in cfg.model.kwargs
