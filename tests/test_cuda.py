"""The same code paths on a CUDA GPU: Trainer, operators, generators, neural ODEs.

Skipped with a stated reason on machines without a GPU (the CPU suite covers the same
code); run on a GPU machine with ``pytest tests/test_cuda.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.core import build_model
from sciml.data import FieldDataset, validate
from sciml.data.generators import generate
from sciml.nde import neural_ode
from sciml.training import Trainer, load_checkpoint, seed_everything

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; the CPU suite covers these code paths")

OPERATORS = [
    ("fno", {"n_modes": [8], "hidden_channels": 16}, (64,)),
    ("tfno", {"n_modes": [8, 8], "hidden_channels": 16}, (32, 32)),
    ("lsm", {"width": 16, "patch_size": [4, 4], "depth": 2, "num_heads": 4}, (37, 45)),
]


@pytest.mark.parametrize("name, kwargs, shape", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_operator_outputs_agree_between_cpu_and_cuda(name, kwargs, shape):
    seed_everything(0)
    model = build_model(name, {"in_channels": 2, "out_channels": 1, **kwargs}).eval()
    x = torch.randn(3, 2, *shape)
    with torch.no_grad():
        cpu = model(x)
        gpu = model.to("cuda")(x.to("cuda")).cpu()
    assert torch.allclose(cpu, gpu, rtol=1e-3, atol=1e-4), float((cpu - gpu).abs().max())


def test_trainer_on_cuda_trains_and_checkpoint_loads_on_cpu(tmp_path, heat_file):
    seed_everything(0)
    model = build_model("fno", {"in_channels": 1, "out_channels": 1, "n_modes": [8], "hidden_channels": 16})
    trainer = Trainer(model, max_epochs=15, batch_size=16, lr=5e-3, device="cuda", run_dir=tmp_path, progress=False)
    assert trainer.device.type == "cuda" and trainer.device.index is not None
    history = trainer.fit(FieldDataset(heat_file, "train"), FieldDataset(heat_file, "val"))
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    blob = load_checkpoint(tmp_path / "last.pt", map_location="cpu")
    assert all(v.device.type == "cpu" for v in blob["model"].values())
    cpu_model = build_model("fno", {"in_channels": 1, "out_channels": 1, "n_modes": [8], "hidden_channels": 16})
    cpu_model.load_state_dict(blob["model"])
    ds = FieldDataset(heat_file, "test")
    x = torch.stack([ds[i]["x"] for i in range(len(ds))])
    with torch.no_grad():
        on_gpu = trainer.model.eval()(x.cuda()).cpu()
        on_cpu = cpu_model.eval()(x)
    assert torch.allclose(on_gpu, on_cpu, rtol=1e-3, atol=1e-5)


def test_burgers_generator_on_cuda_matches_cpu(tmp_path):
    kwargs = {"n": 8, "resolution": 64, "n_times": 3, "seed": 3}
    generate("burgers1d", tmp_path / "cpu.h5", device="cpu", **kwargs)
    generate("burgers1d", tmp_path / "gpu.h5", device="cuda", **kwargs)
    import h5py

    with h5py.File(tmp_path / "cpu.h5") as a, h5py.File(tmp_path / "gpu.h5") as b:
        np.testing.assert_allclose(a["u"][()], b["u"][()], rtol=1e-5, atol=1e-6)
    assert validate(tmp_path / "gpu.h5").n_samples == 8


@pytest.mark.parametrize("backend", ["sciml", "torchdiffeq"])
def test_neural_ode_on_cuda_matches_cpu(backend):
    seed_everything(0)
    node = neural_ode(3, hidden=16, backend=backend, rtol=1e-6, atol=1e-8)
    y0 = torch.randn(5, 3)
    cpu = node(y0)
    gpu = node.to("cuda")(y0.cuda()).cpu()
    assert torch.allclose(cpu, gpu, rtol=1e-4, atol=1e-5)
    assert node.last_stats.nfe > 0
