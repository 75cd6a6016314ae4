"""Tiny training runs on Burgers (issue 4 acceptance): FNO, LSM, and autoregressive FNO rollout.

Data: ``burgers1d`` at resolution 64, nu = 0.1, t_final = 1 (the smooth FNO-paper
setting), generated here in well under a second. Each run takes 5 to 20 s on one thread;
the thresholds sit about 2x above the errors measured on seeds 0 and 1 (quoted in each
test), so they fail on a real regression, not on noise.
"""

from __future__ import annotations

import pytest
import torch

from sciml.data import FieldDataset
from sciml.data.generators import generate
from sciml.data.transforms import ChannelNormalizer, Normalized, fit_normalizers
from sciml.operators import Rollout, fno, lsm, rollout_error_curve
from sciml.training import Trainer
from sciml.training.trainer import seed_everything


@pytest.fixture(scope="module")
def burgers_map(tmp_path_factory):
    path = tmp_path_factory.mktemp("burgers") / "map.h5"
    generate("burgers1d", path, n=120, resolution=64, n_times=2, nu=0.1, seed=0)
    return FieldDataset(path, "train"), FieldDataset(path, "test")


@pytest.fixture(scope="module")
def burgers_windows(tmp_path_factory):
    path = tmp_path_factory.mktemp("burgers") / "windows.h5"
    generate("burgers1d", path, n=30, resolution=64, n_times=11, nu=0.1, seed=0)
    train = FieldDataset(path, "train", mode="window", history=1, horizon=2, stride=1)
    test = FieldDataset(path, "test", mode="window", history=1, horizon=5, stride=5)
    return train, test


def _normalized(model: torch.nn.Module, train: FieldDataset) -> Normalized:
    norms = fit_normalizers(torch.utils.data.DataLoader(train, batch_size=64))
    wrapped = Normalized(model, ChannelNormalizer(train.in_channels), ChannelNormalizer(train.out_channels))
    wrapped.input_normalizer.load_state_dict(norms["x"].state_dict())
    wrapped.output_normalizer.load_state_dict(norms["y"].state_dict())
    return wrapped


def test_fno_learns_burgers(burgers_map):
    """96 training samples, 30 epochs: test relative L2 0.025 (seed 0), 0.040 (seed 1)."""
    train, test = burgers_map
    seed_everything(0)
    model = fno(in_channels=1, out_channels=1, n_modes=(16,), hidden_channels=32, n_layers=4)
    trainer = Trainer(model, max_epochs=30, batch_size=16, lr=3e-3, scheduler="cosine", progress=False)
    trainer.fit(train)
    assert trainer.evaluate(test)["relative_l2"] < 0.08


def test_lsm_learns_burgers(burgers_map):
    """Same data, a small LSM inside the data normalizers, 30 epochs: test relative L2 0.236
    (seed 0), 0.246 (seed 1).

    The LSM needs many more steps than the FNO (the paper trains 500 epochs): at this
    budget it is 8x less accurate than the FNO; the threshold guards against a broken
    model (an untrained one scores about 1)."""
    train, test = burgers_map
    seed_everything(0)
    model = lsm(
        in_channels=1,
        out_channels=1,
        n_dim=1,
        width=16,
        num_basis=8,
        num_token=4,
        patch_size=4,
        depth=2,
        num_heads=4,
        projection_channels=64,
        norm="group",
    )
    trainer = Trainer(
        _normalized(model, train),
        max_epochs=30,
        batch_size=16,
        lr=3e-3,
        scheduler="cosine",
        grad_clip=1.0,
        progress=False,
    )
    trainer.fit(train)
    assert trainer.evaluate(test)["relative_l2"] < 0.4


def test_fno_rollout_training_reaches_small_rollout_error(burgers_windows):
    """Unrolled training over 2 steps (216 windows of 24 trajectories, 12 epochs); 5-step
    rollouts from 6 test windows: relative L2 of the whole rollout 0.091 (seed 0) and 0.122
    (seed 1), error at step 5 0.092 and 0.097. Burgers at nu = 0.1 is dissipative: the
    one-step error dominates and errors barely accumulate over 5 steps."""
    train, test = burgers_windows
    seed_everything(0)
    model = fno(in_channels=1, out_channels=1, n_modes=(16,), hidden_channels=32, n_layers=4)
    trainer = Trainer(
        model, Rollout(mode="unrolled"), max_epochs=12, batch_size=16, lr=3e-3, scheduler="cosine", progress=False
    )
    trainer.fit(train)
    metrics = trainer.evaluate(test)
    curve = rollout_error_curve(model, test)
    assert curve.shape == (5,)
    assert metrics["relative_l2"] < 0.2
    assert curve[-1] < 0.2
