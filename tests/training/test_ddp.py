"""DDP under torchrun trains exactly like one process with the same global batch.

Two CPU ranks (gloo) each take half of every global batch; the Trainer's
``EpochSampler`` gives the union of the ranks' k-th batches = the single process's
k-th batch, DDP averages the gradients, so loss curves and final weights must agree to
float32 round-off. Only rank 0 may write checkpoints and logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from sciml.data import Provenance, write_fields
from tests.conftest import heat_map_data

WORKER = Path(__file__).with_name("ddp_worker.py")
N_SAMPLES, RESOLUTION, GLOBAL_BATCH, EPOCHS = 32, 32, 8, 3


def _heat_file(path: Path) -> Path:
    """Periodic heat equation u_t = nu u_xx: random sine-series a -> u(t=1)."""
    a, u, x = heat_map_data(n=N_SAMPLES, s=RESOLUTION)
    write_fields(path, u, np.array([0.0, 1.0]), {"x": x}, Provenance("test:heat", {"nu": 0.02}, seed=0), a=a)
    return path


def _run(args: list[str], out: Path) -> dict:
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)  # the single-process run must not believe it is distributed
    proc = subprocess.run(
        [sys.executable, *args, str(out), "--batch-size", str(GLOBAL_BATCH), "--epochs", str(EPOCHS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"worker failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads((out / "history.json").read_text())


def test_ddp_matches_single_process(tmp_path):
    data = _heat_file(tmp_path / "heat.h5")
    ddp = _run(
        ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER), str(data)], tmp_path / "ddp"
    )
    single = _run([str(WORKER), str(data)], tmp_path / "single")

    assert ddp["world_size"] == 2 and single["world_size"] == 1
    assert ddp["global_step"] == single["global_step"] == EPOCHS * N_SAMPLES // GLOBAL_BATCH

    loss_ddp, loss_single = np.array(ddp["train_loss"]), np.array(single["train_loss"])
    assert loss_ddp.shape == loss_single.shape == (EPOCHS,)
    assert loss_single[-1] < loss_single[0]  # it trained
    np.testing.assert_allclose(loss_ddp, loss_single, rtol=1e-5, atol=0)

    w_ddp = torch.load(tmp_path / "ddp" / "weights.pt")
    w_single = torch.load(tmp_path / "single" / "weights.pt")
    assert w_ddp.keys() == w_single.keys()
    max_diff = max((w_ddp[k] - w_single[k]).abs().max().item() for k in w_single)
    scale = max(w_single[k].abs().max().item() for k in w_single)
    # The two runs reduce every gradient in another order (two half-batch means, then the mean over
    # ranks), so each step's gradients differ by a few float32 eps; Adam's m / sqrt(v) is scale-free and
    # passes relative differences on to the weights. Bound: 16 eps |w| per optimizer step. A sharding or
    # averaging bug moves the weights by the order of the updates themselves (lr * steps = 0.12).
    steps = EPOCHS * N_SAMPLES // GLOBAL_BATCH
    tol = 16 * steps * torch.finfo(torch.float32).eps * scale
    assert max_diff < tol, f"final weights differ by {max_diff:.3g} (bound {tol:.3g})"

    rank0, rank1 = tmp_path / "ddp" / "run" / "rank0", tmp_path / "ddp" / "run" / "rank1"
    assert {"last.pt", "best.pt", "metrics.json", "metrics.csv"} <= {p.name for p in rank0.iterdir()}
    assert not rank1.exists() or not any(rank1.iterdir()), f"rank 1 wrote {sorted(p.name for p in rank1.iterdir())}"
