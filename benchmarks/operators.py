"""Neural operators side by side: FNO, TFNO, MG-TFNO, LSM and the neuraloperator-trained FNO.

Cases (data from sciml's generators, cached under ``--data-dir`` and reused when present):

``darcy``    Darcy 2D, coefficient ``a`` -> pressure ``u`` (full: the ``darcy64`` recipe,
             1000 train / 200 test at 64x64);
``ns``       Navier-Stokes 2D vorticity, nu = 1e-3, 64x64 (full: the ``navier_stokes_nu1e-3``
             recipe, 1000 / 200 samples). One-step models map ``history`` snapshots to the
             next one; they are trained on every (window -> next snapshot) pair of the
             training trajectories (teacher forcing) and evaluated by an autoregressive
             rollout of ``horizon`` steps from the last window (full: 10 steps from 10);
``burgers``  Burgers 1D, ``u(t=0)`` -> ``u(t=1)`` (full: the ``burgers1d`` recipe, 800 / 200).

Methods: ``fno`` (neuraloperator's defaults), ``tfno`` (Tucker; in 2D neuraloperator's default
layout at rank 0.075, the largest reaching 10x; in 1D rank 0.05 with linear Fourier skips,
no channel MLP, linear lifting, projection ratio 0.5 and the tanh stabilizer; see
``parameter_analysis``), ``mgtfno`` (2D cases only; levels 1, an inner Tucker TFNO at rank 0.1
with the small dense part and the input channels at full rank; patches padded by the domain's
rule: ``reflect`` on Darcy's bounded square, ``circular`` on the Navier-Stokes torus; overlaps
blended, context levels block-averaged), ``lsm``,
all trained with :class:`sciml.training.Trainer`, and ``neuralop_fno``: the same FNO (a
deep copy of the same initial weights) trained by ``neuralop.training.Trainer`` with the
same optimizer (Adam), learning rate, cosine schedule, epochs, batch order and relative-L2
loss. Adam's learning rate is each method's best of ``LR_GRID`` on a validation split of the
training samples (``--tune-lr`` runs that sweep; otherwise the choices of the last sweep,
``LEARNING_RATES``, are used).

Every model sees raw fields: a wrapper without parameters standardizes the input and
un-standardizes the output with scalar statistics of the training split (for the rollout
the same statistics in and out, so predictions can be fed back).

Measured per (case, method): test relative L2 (NS: mean over rollout steps, and the curve);
parameters (real degrees of freedom, :func:`sciml.operators.parameter_count`); seconds per
epoch (median over epochs, the first epoch dropped as warm-up; for the FNO against its
neuraloperator-trained twin also in alternating short runs, ``interleaved_epoch_times``, which
the time target uses); inference milliseconds per
test sample (NS: the whole rollout; best of 3 passes); memory of one training step: bytes
of the activations saved for backward (``torch.autograd.graph.saved_tensors_hooks``,
unique storages, parameters excluded; device independent and deterministic), per sample
and, for MG-TFNO, per patch; on CUDA also ``torch.cuda.max_memory_allocated`` over the step.
Parameter split (``parameter_analysis`` in the JSON): spectral weights vs the dense rest of
the FNO and of Tucker TFNOs with neuraloperator's options, and the rank that reaches 10x.

Usage::

    python benchmarks/operators.py --preset quick              # minutes on one CPU thread
    python benchmarks/operators.py --preset full --device cuda # the FNO paper's sizes
    python benchmarks/operators.py --cases darcy --models fno,lsm
    python benchmarks/operators.py --preset medium --resume    # the issue's sizes on a CPU, resumable

Writes ``benchmarks/results/operators.json``, ``operators_errors.png``, ``operators_ns_rollout.png`` and
``operators_darcy_fields_<method>.png`` (``operators_<preset>...`` for medium and full).
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from _timing import EpochClock
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sciml.core import build_model
from sciml.core.errors import TrainingDivergedError
from sciml.core.io import atomic_path, environment, write_json
from sciml.core.metrics import relative_l2
from sciml.data.generators import generate
from sciml.data.recipes import load_recipe
from sciml.operators import (
    parameter_count,
    parameter_groups,
    plot_prediction_fields,
    plot_rollout_error,
    rollout_error_curve,
)
from sciml.training import Trainer
from sciml.training.distributed import EpochSampler
from sciml.training.trainer import seed_everything

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
NAME = "operators"
CASES = ("darcy", "ns", "burgers")
METHODS = ("fno", "neuralop_fno", "tfno", "mgtfno", "lsm")
SEED = 0
MB = 2.0**20
# Adam's learning rate is chosen per (preset, case, method) from LR_GRID by a validation sweep
# (``--tune-lr``: train on the first 80 % of the training samples, score the other 20 %; the test
# split is never seen). LEARNING_RATES holds the choices of the last sweep (its JSON:
# ``operators_lr_sweep.json``); a missing entry falls back to DEFAULT_LR, neuraloperator's
# example value. neuralop_fno always trains at the FNO's rate.
LR_GRID = (1e-3, 3e-3, 1e-2)
DEFAULT_LR = 1e-3
LEARNING_RATES: dict[str, dict[str, dict[str, float]]] = {
    # python benchmarks/operators.py --preset quick --tune-lr (2026-11-27), operators_lr_sweep.json
    "quick": {
        "darcy": {"fno": 1e-2, "tfno": 1e-2, "mgtfno": 1e-2, "lsm": 1e-2},
        "ns": {"fno": 3e-3, "tfno": 1e-2, "mgtfno": 1e-2, "lsm": 1e-3},
        "burgers": {"fno": 3e-3, "tfno": 3e-3, "lsm": 3e-3},  # lsm re-swept with patch_size "auto"
    },
}
VALIDATION_FRACTION = 0.2


def learning_rates(preset: str, case: str) -> dict[str, float]:
    """The last sweep's learning rates of a case: the preset's own, else the quick preset's."""
    return LEARNING_RATES.get(preset, {}).get(case) or LEARNING_RATES.get("quick", {}).get(case, {})


PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # about 13 minutes on one CPU thread (data generation, about 15 s, included once; --tune-lr adds
    # about 25). Darcy trains 30 epochs: after 10 (130 Adam steps) the errors still depended on the
    # initialization more than on the method (MG-TFNO: 0.16 to 0.37 over 3 seeds). NS (5 steps an
    # epoch) and Burgers (10) train 100: at 30 and 15 the FNO's error was still falling 2x and 4x.
    "quick": {
        "darcy": {
            "generator": "darcy2d",
            "params": {"n": 240, "resolution": 32, "coefficient": "threshold", "seed": 0},
            "n_train": 200,
            "n_test": 40,
            "epochs": 30,
            "batch_size": 16,
        },
        "ns": {
            "generator": "navier_stokes2d",
            # 32x32 output of a 64x64 solve (the quick preset only), 8 snapshots after t = 0
            "params": {
                "n": 24,
                "resolution": 32,
                "internal_resolution": 64,
                "nu": 1e-3,
                "t_final": 8.0,
                "n_times": 8,
                "forcing": "fno",
                "seed": 0,
            },
            "n_train": 16,
            "n_test": 8,
            "history": 4,
            "horizon": 4,
            "epochs": 100,
            "batch_size": 16,
        },
        "burgers": {
            "generator": "burgers1d",
            "params": {"n": 200, "resolution": 128, "nu": 0.01, "t_final": 1.0, "n_times": 11, "seed": 0},
            "n_train": 160,
            "n_test": 40,
            "epochs": 100,
            "batch_size": 16,
        },
    },
    # the sizes on a CPU (about 5 hours on one thread; --resume continues an interrupted run):
    # Darcy 1000 / 200 at 64x64, NS nu = 1e-3 at 64x64 with 10 steps predicted from 10 (200 / 50
    # trajectories: 2000 training windows an epoch), Burgers 800 / 200; fewer epochs than "full"
    "medium": {
        "darcy": {"recipe": "darcy64", "n_train": 1000, "n_test": 200, "epochs": 50, "batch_size": 20},
        "ns": {
            # the first 250 trajectories of the navier_stokes_nu1e-3 recipe (samples are seeded by index)
            "generator": "navier_stokes2d",
            "params": {
                "n": 250,
                "resolution": 64,
                "nu": 1e-3,
                "t_final": 20.0,
                "n_times": 20,
                "forcing": "fno",
                "seed": 0,
            },
            "n_train": 200,
            "n_test": 50,
            "history": 10,
            "horizon": 10,
            "epochs": 30,
            "batch_size": 20,
        },
        "burgers": {"recipe": "burgers1d", "n_train": 800, "n_test": 200, "epochs": 100, "batch_size": 20},
    },
    # the FNO paper's sizes (NS: 1000 / 200 trajectories, 10000 training windows an epoch): run it on a GPU
    "full": {
        "darcy": {"recipe": "darcy64", "n_train": 1000, "n_test": 200, "epochs": 100, "batch_size": 20},
        "ns": {
            "recipe": "navier_stokes_nu1e-3",
            "n_train": 1000,
            "n_test": 200,
            "history": 10,
            "horizon": 10,
            "epochs": 50,
            "batch_size": 20,
        },
        "burgers": {"recipe": "burgers1d", "n_train": 800, "n_test": 200, "epochs": 100, "batch_size": 20},
    },
}


# ----------------------------------------------------------------------------- models
# Multigrid patches are filled past the boundary by the domain's rule: Navier-Stokes lives on the
# torus (periodic), Darcy on the unit square with u = 0 on its boundary (bounded).
PADDING_MODE = {"darcy": "reflect", "ns": "circular", "burgers": "circular"}

# neuraloperator options of the TFNOs: only the spectral weights are factorized, so the dense rest
# (skips, channel MLPs, lifting, projection) decides how far rank 0.1 reduces the count (see
# parameter_analysis). LEAN_OPTIONS shrink it: a soft-gating (diagonal) Fourier skip instead of a
# linear one, no channel MLP, a linear lifting.
LEAN_OPTIONS: dict[str, Any] = {"fno_skip": "soft-gating", "use_channel_mlp": False, "lifting_channel_ratio": 0}
# The 2D TFNO keeps neuraloperator's default layout and lowers the Tucker rank to 0.075, the largest
# (steps of 0.005) reaching 10x against the FNO: 11.8x, ranks (16, 16, 6, 3) of each (32, 32, 12, 7)
# weight (rank 0.1 with this layout: 8.97x). The lean layout at rank 0.1 (LEAN_TFNO_OPTIONS, 10.2x)
# costs accuracy once the FNO is accurate: NS at 64x64 with 50 training trajectories (30 epochs, lr 1e-2)
# 0.0238 against 0.0123 with the default layout (FNO 0.0065); quick NS 0.0229 against 0.0153 (FNO
# 0.0164), quick Darcy 0.0293 against 0.0286 (FNO 0.0301).
TFNO_OPTIONS_2D: dict[str, Any] = {"rank": 0.075}
# the lean layout with tensor mode 0 of each Tucker weight (the input channels) at full rank
# (fixed_rank_modes=True): ranks (32, 14, 5, 3) instead of (17, 17, 6, 4) for the (32, 32, 12, 7)
# weight, 10.2x; quick Darcy at lr 1e-2: 0.029 against 0.040 without it. MG-TFNO's inner TFNO (its
# medium rows were measured with it).
LEAN_TFNO_OPTIONS: dict[str, Any] = {**LEAN_OPTIONS, "fixed_rank_modes": True}
# In 1D (Burgers, hidden 64) the default layout's dense rest alone is 1/6.8 of the FNO, so no rank
# reaches 10x with it. The 1D TFNO keeps the linear Fourier skips (they matter most in 1D), drops the
# channel MLPs, lifts linearly, halves the projection's hidden width and takes Tucker rank 0.05:
# 10.26x, ranks (12, 12, 2) of each (64, 64, 9) weight. Medium Burgers (800 / 200, 100 epochs, lr 3e-3):
# 0.0049 against 0.0058 for the lean layout at rank 0.1 (10.44x), 0.0068 with soft-gating skips and
# quarter-width channel MLPs at rank 0.075 (10.24x), 0.0079 with the lean layout and the 9 Fourier
# modes of each weight at full rank (fixed_rank_modes=[2], 10.83x); FNO 0.0028, the dense FNO in the
# lean layout 0.0043. The tanh stabilizer (tanh of each spectral convolution's input, no parameters)
# helps the small 1D model: quick Burgers 0.0164 -> 0.0130 with the lean layout (the FNO with it:
# 0.0100, without 0.0093); in 2D it is neutral (NS 0.0229 -> 0.0228, Darcy 0.0293 -> 0.0288), not used.
TFNO_OPTIONS_1D: dict[str, Any] = {
    "rank": 0.05,
    "use_channel_mlp": False,
    "lifting_channel_ratio": 0,
    "projection_channel_ratio": 0.5,
    "stabilizer": "tanh",
}


def model_kwargs(
    method: str, n_dim: int, in_channels: int, out_channels: int, size: int, case: str = "darcy"
) -> dict[str, Any]:
    """Hyperparameters of each method: one setting for all presets (FNO and LSM near the same budget in 2D)."""
    base = {"in_channels": in_channels, "out_channels": out_channels}
    modes, hidden = ([12, 12], 32) if n_dim == 2 else ([16], 64)
    fno = {**base, "n_modes": modes, "hidden_channels": hidden, "n_layers": 4}
    if method in ("fno", "neuralop_fno"):
        return fno
    if method == "tfno":
        return {**fno, "factorization": "tucker", **(TFNO_OPTIONS_2D if n_dim == 2 else TFNO_OPTIONS_1D)}
    if method == "mgtfno":
        # 0.125: the padded patch (S/2 + S/4) keeps the TFNO's modes, so the inner TFNO is the TFNO's size
        padding_fraction = 0.125
        padded_patch = size // 2 + 2 * int(round(size * padding_fraction))
        patch_modes = [min(m, padded_patch // 2) for m in modes]
        return {
            **fno,
            "n_modes": patch_modes,
            "rank": 0.1,
            "levels": 1,
            "padding_fraction": padding_fraction,
            "padding_mode": PADDING_MODE[case],
            # overlaps blended and context levels block-averaged (neuraloperator: crop, subsample); quick runs:
            # Darcy 0.0417 -> 0.0398, NS 0.0298 -> 0.0272 (docs/operators.md)
            "stitching": "blend",
            "coarsening": "average",
            **LEAN_TFNO_OPTIONS,
        }
    if method == "lsm":
        width = 24 if n_dim == 2 else 32
        return {
            **base,
            "n_dim": n_dim,
            "width": width,
            "num_basis": 12,
            "num_token": 4,
            # the coarsest scale is one patch at any resolution (4 at 32x32, 8 at 64x64, 16 at 128 points)
            "patch_size": "auto",
            "depth": 3,
            "num_heads": 8,
            "projection_channels": 128,
        }
    raise ValueError(method)


class Standardized(nn.Module):
    """``model((x - x_mean) / x_std) * y_std + y_mean`` with scalar statistics; extra keywords are ignored.

    Ignoring keywords lets neuraloperator's Trainer call ``model(**batch)`` (it passes ``y``).
    """

    def __init__(self, model: nn.Module, x_mean: float, x_std: float, y_mean: float, y_std: float):
        super().__init__()
        self.model = model
        for name, value in (("x_mean", x_mean), ("x_std", x_std), ("y_mean", y_mean), ("y_std", y_std)):
            self.register_buffer(name, torch.tensor(float(value)))

    def forward(self, x: torch.Tensor, **_: Any) -> torch.Tensor:
        return self.model((x - self.x_mean) / self.x_std) * self.y_std + self.y_mean


# ----------------------------------------------------------------------------- data
class InMemoryFields(Dataset):
    """Dict items ``{"x": x[i], "y": y[i]}`` (and ``"t"`` for rollout windows)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor | None = None):
        self.x, self.y, self.t = x, y, t
        self.channels = 1

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = {"x": self.x[i], "y": self.y[i]}
        if self.t is not None:
            item["t"] = self.t
        return item


def case_file(case: str, cfg: dict[str, Any], data_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The cached data file of a case (generated when absent) and its generator parameters."""
    if "recipe" in cfg:
        recipe = load_recipe(cfg["recipe"])
        generator, params = recipe.generator, recipe.arguments()
    else:
        generator, params = cfg["generator"], dict(cfg["params"])
    tag = "_".join(f"{k}{v}" for k, v in sorted(params.items()))
    path = data_dir / f"{generator}_{tag}.h5"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        print(f"  generating {path} ({generator}, {params})", flush=True)
        start = time.perf_counter()
        tmp = path.with_suffix(".partial.h5")
        generate(generator, tmp, **params)
        tmp.replace(path)
        print(f"  generated in {time.perf_counter() - start:.1f} s", flush=True)
    return path, {"generator": generator, **params}


def load_case(case: str, cfg: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """Train / test datasets and scalar statistics of a case; the first ``n_train`` samples train."""
    path, gen = case_file(case, cfg, data_dir)
    with h5py.File(path, "r") as f:
        a = torch.from_numpy(np.asarray(f["a"][()], np.float32))
        u = torch.from_numpy(np.asarray(f["u"][()], np.float32))
        times = torch.from_numpy(np.asarray(f["t"][()], np.float32))
    n_train, n_test = cfg["n_train"], cfg["n_test"]
    if n_train + n_test > u.shape[0]:
        raise SystemExit(f"{path} has {u.shape[0]} samples, fewer than {n_train} + {n_test}; delete it to regenerate")
    out: dict[str, Any] = {"file": str(path), "generator": gen, "n_train": n_train, "n_test": n_test}
    if case == "ns":
        h, k = cfg["history"], cfg["horizon"]
        w = u[:, :, 0]  # [N, T, S, S]
        n_t = w.shape[1]
        if h + k > n_t:
            raise SystemExit(f"history {h} + horizon {k} exceed the {n_t} snapshots of {path}")
        tr = w[:n_train]
        # every (h snapshots -> next one) pair of the training trajectories: teacher forcing
        xs = torch.cat([tr[:, s : s + h] for s in range(n_t - h)], dim=0)
        ys = torch.cat([tr[:, s + h : s + h + 1] for s in range(n_t - h)], dim=0)
        te = w[n_train : n_train + n_test]
        start = n_t - h - k  # the last window: t_1..t_10 -> t_11..t_20 in the full preset
        out["train"] = InMemoryFields(xs, ys)
        out["test"] = InMemoryFields(te[:, start : start + h], te[:, start + h :], times[start:])
        mean, std = float(tr.mean()), float(tr.std())
        out["stats"] = (mean, std, mean, std)
        out["windows"] = {"history": h, "horizon": k, "test_start": start, "train_pairs": xs.shape[0]}
    else:
        y = u[:, -1]  # the last time: Darcy's only one, Burgers' t = 1
        out["train"] = InMemoryFields(a[:n_train], y[:n_train])
        out["test"] = InMemoryFields(a[n_train : n_train + n_test], y[n_train : n_train + n_test])
        out["stats"] = (
            float(a[:n_train].mean()),
            float(a[:n_train].std()),
            float(y[:n_train].mean()),
            float(y[:n_train].std()),
        )
    out["n_dim"] = u.ndim - 3
    out["size"] = int(u.shape[-1])
    return out


# ----------------------------------------------------------------------------- training
def loss_fn(out: torch.Tensor, y: torch.Tensor, **_: Any) -> torch.Tensor:
    """Mean over the batch of per-sample relative L2 (sciml's ``Supervised`` default)."""
    return relative_l2(out, y).mean()


def train_sciml(
    model: nn.Module, data: Dataset, cfg: dict[str, Any], device: torch.device, lr: float, seed: int = SEED
) -> list[float]:
    clock = EpochClock(device)
    trainer = Trainer(
        model,
        optimizer="adam",
        lr=lr,
        scheduler="cosine",
        max_epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        device=device,
        seed=seed,
        progress=False,
        callbacks=[clock],
    )
    clock.stamp()
    trainer.fit(data)
    return clock.durations()


def train_neuralop(
    model: nn.Module, data: Dataset, cfg: dict[str, Any], device: torch.device, lr: float
) -> list[float]:
    """neuraloperator's Trainer with sciml's optimizer, schedule and batch order (its own sampler)."""
    from neuralop.training import Trainer as NeuralopTrainer

    clock = EpochClock(device)
    sampler = EpochSampler(len(data), seed=SEED, shuffle=True)
    loader = DataLoader(data, batch_size=cfg["batch_size"], sampler=sampler, pin_memory=device.type == "cuda")
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    trainer = NeuralopTrainer(
        model=model, n_epochs=cfg["epochs"], device=device, verbose=False, eval_interval=cfg["epochs"] + 1
    )
    train_one_epoch = trainer.train_one_epoch

    def timed_epoch(epoch, *args, **kwargs):
        sampler.set_epoch(epoch)  # the permutation sciml's Trainer uses at this epoch
        out = train_one_epoch(epoch, *args, **kwargs)
        clock.stamp()
        return out

    trainer.train_one_epoch = timed_epoch
    clock.stamp()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*expects losses to sum across the batch.*")
        trainer.train(loader, {}, optimizer, scheduler, training_loss=loss_fn)
    return clock.durations()


# ----------------------------------------------------------------------------- measurements
@torch.no_grad()
def test_error(model: nn.Module, test: InMemoryFields, case: str, device: torch.device, batch_size: int) -> dict:
    model.eval()
    if case == "ns":
        curve = rollout_error_curve(model, test, channels=1, batch_size=batch_size, device=device)
        return {"relative_l2": float(curve.mean()), "rollout_curve": [float(v) for v in curve]}
    total, count = 0.0, 0
    for batch in DataLoader(test, batch_size=batch_size):
        x, y = batch["x"].to(device), batch["y"].to(device)
        total += float(relative_l2(model(x), y).double().sum())
        count += x.shape[0]
    return {"relative_l2": total / count}


@torch.no_grad()
def inference_ms(model: nn.Module, test: InMemoryFields, case: str, device: torch.device, batch_size: int) -> float:
    """Milliseconds per test sample (NS: the whole rollout), best of 3 passes over the test set."""
    from sciml.operators import rollout

    model.eval()
    best = float("inf")
    for _ in range(3):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for batch in DataLoader(test, batch_size=batch_size):
            x = batch["x"].to(device)
            if case == "ns":
                rollout(model, x, batch["y"].shape[1], channels=1)
            else:
                model(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 1000.0 * best / len(test)


def step_memory(model: nn.Module, data: Dataset, batch_size: int, device: torch.device) -> dict[str, float]:
    """Memory of one training step (forward, loss, backward) on the first ``batch_size`` training samples.

    ``saved_bytes``: bytes of the unique storages saved for backward, parameters and
    buffers excluded. On CUDA also ``cuda_peak_bytes``: ``max_memory_allocated`` during the
    step above what was allocated before it.
    """
    model = copy.deepcopy(model).to(device).train()
    batch = next(iter(DataLoader(data, batch_size=batch_size)))
    x, y = batch["x"].to(device), batch["y"].to(device)
    own = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in own:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    out: dict[str, float] = {"batch": x.shape[0]}
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = loss_fn(model(x), y)
    loss.backward()
    out["saved_bytes"] = float(sum(saved.values()))
    if device.type == "cuda":
        model.zero_grad(set_to_none=True)
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        loss_fn(model(x), y).backward()
        torch.cuda.synchronize(device)
        out["cuda_peak_bytes"] = float(torch.cuda.max_memory_allocated(device) - before)
    return out


def run_case(
    case: str,
    cfg: dict,
    data: dict,
    methods: list[str],
    device: torch.device,
    out_dir: Path,
    learning_rates: dict[str, float] | None = None,
    done: dict[str, dict] | None = None,
    on_row: Any = None,
    stem: str = NAME,
) -> list[dict]:
    """Train and measure every method on one case; ``done`` rows (a resumed run) are kept as they are,
    ``on_row(rows)`` is called after every new row (the caller saves progress). PNGs are named
    ``<stem>_...`` (``operators_medium_...`` for the medium preset)."""
    n_dim, size = data["n_dim"], data["size"]
    train, test = data["train"], data["test"]
    in_ch, out_ch = train.x.shape[1], train.y.shape[1]
    rows, curves = [], {}
    base_fno = None
    for method in methods:
        if method == "mgtfno" and n_dim != 2:
            continue
        if done and method in done:
            rows.append(done[method])
            if "rollout_relative_l2_per_step" in done[method]:
                curves[method] = done[method]["rollout_relative_l2_per_step"]
            print(f"  {case:8s} {method:13s} done in an earlier run (resumed)", flush=True)
            continue
        kwargs = model_kwargs(method, n_dim, in_ch, out_ch, size, case)
        if method in ("fno", "neuralop_fno"):
            if base_fno is None:  # one initialization, deep-copied for both trainers
                seed_everything(SEED)
                base_fno = Standardized(build_model("fno", kwargs), *data["stats"])
            model = copy.deepcopy(base_fno)
        else:
            seed_everything(SEED)
            model = Standardized(build_model(method, kwargs), *data["stats"])
        lr = (learning_rates or {}).get("fno" if method == "neuralop_fno" else method, DEFAULT_LR)
        start = time.perf_counter()
        durations = (train_neuralop if method == "neuralop_fno" else train_sciml)(model, train, cfg, device, lr)
        fit_seconds = time.perf_counter() - start
        model = model.to(device)
        err = test_error(model, test, case, device, cfg["batch_size"])
        mem = step_memory(model, train, cfg["batch_size"], device)
        patches = getattr(model.model, "patches_per_sample", 1)
        row = {
            "case": case,
            "method": method,
            "relative_l2": round(err["relative_l2"], 6),
            "lr": lr,
            "params": parameter_count(model.model),
            "seconds_per_epoch": round(statistics.median(durations), 5),
            "seconds_per_epoch_all": [round(d, 5) for d in durations],
            "fit_seconds": round(fit_seconds, 3),
            "inference_ms_per_sample": round(inference_ms(model, test, case, device, cfg["batch_size"]), 4),
            "saved_mb_per_sample": round(mem["saved_bytes"] / mem["batch"] / MB, 4),
            "saved_mb_per_patch": round(mem["saved_bytes"] / mem["batch"] / patches / MB, 4),
            "patches_per_sample": patches,
            "trainer": "neuraloperator" if method == "neuralop_fno" else "sciml",
            "model": {"name": "fno" if method == "neuralop_fno" else method, **kwargs},
        }
        if method in ("fno", "neuralop_fno", "tfno", "mgtfno"):
            row["param_groups"] = parameter_groups(model.model)
        if "cuda_peak_bytes" in mem:
            row["cuda_peak_mb_step"] = round(mem["cuda_peak_bytes"] / MB, 3)
        if "rollout_curve" in err:
            row["rollout_relative_l2_per_step"] = [round(v, 6) for v in err["rollout_curve"]]
            curves[method] = err["rollout_curve"]
        rows.append(row)
        fno_row = _row(rows, case, "fno")
        if method == "neuralop_fno" and fno_row is not None:
            if base_fno is None:
                seed_everything(SEED)
                base_fno = Standardized(build_model("fno", kwargs), *data["stats"])
            times = interleaved_epoch_times(base_fno, train, cfg, device, fno_row["lr"])
            for r, m in ((fno_row, "fno"), (row, "neuralop_fno")):
                r["seconds_per_epoch_interleaved"] = round(statistics.median(times[m]), 5)
                r["seconds_per_epoch_interleaved_rounds"] = [round(v, 5) for v in times[m]]
            print(
                f"  {case:8s} interleaved timing: sciml {fno_row['seconds_per_epoch_interleaved']:.4f} s/epoch, "
                f"neuraloperator {row['seconds_per_epoch_interleaved']:.4f} s/epoch",
                flush=True,
            )
        if on_row is not None:
            on_row(rows)
        print(
            f"  {case:8s} {method:13s} lr {lr:g}  rel L2 {row['relative_l2']:.4f}  params {row['params']:8d}  "
            f"{row['seconds_per_epoch']:.3f} s/epoch  {row['inference_ms_per_sample']:.3f} ms/sample  "
            f"saved {row['saved_mb_per_sample']:.2f} MB/sample",
            flush=True,
        )
        if case == "darcy":
            plot_prediction_fields(
                model,
                test,
                out_dir / f"{stem}_darcy_fields_{method}.png",
                device=device,
                title=f"darcy {size}x{size}: {method} (rel L2 {row['relative_l2']:.4f})",
            )
    if case == "ns" and curves:
        plot_rollout_error(
            curves,
            out_dir / f"{stem}_ns_rollout.png",
            title=f"Navier-Stokes nu=1e-3 {size}x{size}: {data['windows']['horizon']} steps from "
            f"{data['windows']['history']}",
        )
    return rows


def _same_run(method: str, row: dict, case: str, data: dict, learning_rates: dict[str, float]) -> bool:
    """Whether a saved row trained the model and learning rate this run would use (``--resume``)."""
    in_ch, out_ch = data["train"].x.shape[1], data["train"].y.shape[1]
    kwargs = model_kwargs(method, data["n_dim"], in_ch, out_ch, data["size"], case)
    model = {"name": "fno" if method == "neuralop_fno" else method, **kwargs}
    lr = learning_rates.get("fno" if method == "neuralop_fno" else method, DEFAULT_LR)
    return row.get("lr") == lr and json.loads(json.dumps(row.get("model"))) == json.loads(json.dumps(model))


def interleaved_epoch_times(
    model: nn.Module,
    data: Dataset,
    cfg: dict,
    device: torch.device,
    lr: float,
    rounds: int = 4,
    epochs: int = 3,
) -> dict[str, list[float]]:
    """Seconds per epoch of the same FNO under sciml's Trainer and neuraloperator's, in alternation.

    Each round trains a fresh copy of ``model`` for ``epochs`` epochs (the first is warm-up) under
    each trainer, the order flipping every round, so a shared machine's drift falls on both alike;
    the long training runs themselves go one after the other. Returns each round's median.
    """
    times: dict[str, list[float]] = {"fno": [], "neuralop_fno": []}
    for r in range(rounds):
        for method in ("fno", "neuralop_fno") if r % 2 == 0 else ("neuralop_fno", "fno"):
            trainer = train_neuralop if method == "neuralop_fno" else train_sciml
            durations = trainer(copy.deepcopy(model), data, {**cfg, "epochs": epochs}, device, lr)
            times[method].append(statistics.median(durations))
    return times


def sweep_learning_rates(
    case: str, cfg: dict, methods: list[str], device: torch.device, data_dir: Path
) -> tuple[dict[str, float], list[dict]]:
    """Best Adam learning rate of each method from LR_GRID on a validation split of the training data.

    The first ``1 - VALIDATION_FRACTION`` of the training samples (NS: trajectories) train, the
    rest are scored with the benchmark's test metric (NS: the rollout); test samples are never used.
    """
    n_val = max(1, round(cfg["n_train"] * VALIDATION_FRACTION))
    data = load_case(case, {**cfg, "n_train": cfg["n_train"] - n_val, "n_test": n_val}, data_dir)
    n_dim, size = data["n_dim"], data["size"]
    train, val = data["train"], data["test"]
    in_ch, out_ch = train.x.shape[1], train.y.shape[1]
    best: dict[str, float] = {}
    rows = []
    for method in methods:
        if method == "neuralop_fno" or (method == "mgtfno" and n_dim != 2):
            continue
        scores = {}
        for lr in LR_GRID:
            seed_everything(SEED)
            model = Standardized(
                build_model(method, model_kwargs(method, n_dim, in_ch, out_ch, size, case)), *data["stats"]
            )
            try:
                train_sciml(model, train, cfg, device, lr)
                err = test_error(model.to(device), val, case, device, cfg["batch_size"])["relative_l2"]
            except TrainingDivergedError:
                err = float("inf")
            scores[lr] = err
            rows.append({"case": case, "method": method, "lr": lr, "val_relative_l2": err})
            print(f"  sweep {case:8s} {method:8s} lr {lr:g}: validation rel L2 {err:.4f}", flush=True)
        best[method] = min(scores, key=lambda k: scores[k])
    return best, rows


# ----------------------------------------------------------------------------- parameter analysis
def tfno_variants(hidden_channels: int) -> dict[str, dict[str, Any]]:
    """neuraloperator FNO options that shrink the dense (not factorized) part of a TFNO."""
    return {
        "defaults (the benchmark's 2D TFNO, at rank 0.075)": {},
        "no channel MLP": {"use_channel_mlp": False},
        "soft-gating Fourier skip": {"fno_skip": "soft-gating"},
        "linear lifting": {"lifting_channel_ratio": 0},
        "original FNO layout (linear skip, no channel MLP, linear lifting)": {
            "use_channel_mlp": False,
            "lifting_channel_ratio": 0,
        },
        "same + projection ratio 0.5 (the benchmark's 1D TFNO, at rank 0.05)": {
            "use_channel_mlp": False,
            "lifting_channel_ratio": 0,
            "projection_channel_ratio": 0.5,
        },
        "soft-gating skip, no channel MLP, linear lifting": LEAN_OPTIONS,
        "same + input channels at full rank (fixed_rank_modes; MG-TFNO's inner TFNO)": LEAN_TFNO_OPTIONS,
        "soft-gating skip, no channel MLP, linear lifting, projection ratio 0.5": {
            **LEAN_OPTIONS,
            "projection_channel_ratio": 0.5,
        },
        "smallest dense part (identity skip, no channel MLP, linear lifting, projection width 1)": {
            "fno_skip": "identity",
            "use_channel_mlp": False,
            "lifting_channel_ratio": 0,
            "projection_channel_ratio": 1 / hidden_channels,
        },
    }


def _tucker_tfno(fno_kwargs: dict[str, Any], options: dict[str, Any], rank: float) -> nn.Module:
    return build_model("tfno", {**fno_kwargs, "factorization": "tucker", "rank": float(rank), **options})


def parameter_analysis(in_channels: int = 1, out_channels: int = 1) -> list[dict[str, Any]]:
    """Parameter split of the benchmark's FNO and of Tucker TFNOs with neuraloperator's options (1D and 2D).

    Per TFNO variant: its count, reduction against the benchmark FNO (neuraloperator's defaults)
    and against the dense FNO with the same options, and the largest Tucker rank (steps of
    0.005) that reaches 10x against the benchmark FNO (None if none down to 0.01). Every count
    is in real scalars, a complex weight counting twice, for every model alike.
    """
    rows = []
    for n_dim in (2, 1):
        fno_kwargs = model_kwargs("fno", n_dim, in_channels, out_channels, size=64)
        fno = build_model("fno", fno_kwargs)
        reference = parameter_count(fno)
        rows.append(
            {"n_dim": n_dim, "model": "fno", "options": {}, "params": reference, "groups": parameter_groups(fno)}
        )
        for name, options in tfno_variants(fno_kwargs["hidden_channels"]).items():
            model = _tucker_tfno(fno_kwargs, options, 0.1)
            count = parameter_count(model)
            ranks = np.round(np.arange(0.1, 0.0099, -0.005), 3)
            rank_for_10x = next(
                (r for r in ranks if reference / parameter_count(_tucker_tfno(fno_kwargs, options, r)) >= 10), None
            )
            rows.append(
                {
                    "n_dim": n_dim,
                    "model": f"tfno rank 0.1: {name}",
                    "options": options,
                    "params": count,
                    "groups": parameter_groups(model),
                    "reduction_vs_fno": round(reference / count, 3),
                    "reduction_vs_same_options_dense": round(model.sciml_spec["compression_ratio"], 3),
                    "largest_rank_for_10x": None if rank_for_10x is None else float(rank_for_10x),
                }
            )
    return rows


def parameter_table(rows: list[dict[str, Any]]) -> str:
    head = ["dims", "model", "params", "spectral", "dense rest", "vs FNO", "vs own dense", "rank for 10x"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        spectral = r["groups"]["spectral"]
        rank = r.get("largest_rank_for_10x", "")
        cells = [
            f"{r['n_dim']}D",
            r["model"],
            f"{r['params']:,}",
            f"{spectral:,}",
            f"{r['params'] - spectral:,}",
            f"{r['reduction_vs_fno']:.2f}" if "reduction_vs_fno" in r else "",
            f"{r['reduction_vs_same_options_dense']:.2f}" if "reduction_vs_fno" in r else "",
            "none >= 0.01" if rank is None else str(rank),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- targets, table, figure
def _row(rows: list[dict], case: str, method: str) -> dict | None:
    return next((r for r in rows if r["case"] == case and r["method"] == method), None)


def targets_of(rows: list[dict]) -> list[dict]:
    targets = []

    def add(name: str, measured: float, goal: str, met: bool, **extra: Any) -> None:
        targets.append({"name": name, "measured": round(measured, 4), "goal": goal, "met": bool(met), **extra})

    fno, lsm = _row(rows, "darcy", "fno"), _row(rows, "darcy", "lsm")
    if fno and lsm:
        ratio = lsm["relative_l2"] / fno["relative_l2"]
        add(
            "lsm_vs_fno_error_ratio_darcy",
            ratio,
            "<= 0.75",
            ratio <= 0.75,
            params_ratio=round(lsm["params"] / fno["params"], 3),
        )
    for case in CASES:
        fno, tfno, mg = _row(rows, case, "fno"), _row(rows, case, "tfno"), _row(rows, case, "mgtfno")
        peer = _row(rows, case, "neuralop_fno")
        if fno and tfno:
            compression = fno["params"] / tfno["params"]
            add(f"tfno_param_reduction_{case}", compression, ">= 10", compression >= 10)
            ratio = tfno["relative_l2"] / fno["relative_l2"]
            add(f"tfno_vs_fno_error_ratio_{case}", ratio, "<= 1.1", ratio <= 1.1)
        if tfno and mg:
            ratio = mg["relative_l2"] / tfno["relative_l2"]
            add(f"mgtfno_vs_tfno_error_ratio_{case}", ratio, "<= 1.1", ratio <= 1.1)
            mem = mg["saved_mb_per_patch"] / tfno["saved_mb_per_patch"]
            add(f"mgtfno_vs_tfno_per_patch_memory_ratio_{case}", mem, "< 1", mem < 1)
        if fno and peer:
            ratio = fno["relative_l2"] / peer["relative_l2"]
            add(f"fno_vs_neuralop_error_ratio_{case}", ratio, "0.98 to 1.02", abs(ratio - 1) <= 0.02)
            key = "seconds_per_epoch_interleaved" if "seconds_per_epoch_interleaved" in fno else "seconds_per_epoch"
            ratio = fno[key] / peer[key]
            add(f"fno_vs_neuralop_time_ratio_{case}", ratio, "<= 1.05", ratio <= 1.05, timing=key)
    return targets


def markdown_table(rows: list[dict]) -> str:
    cuda = any("cuda_peak_mb_step" in r for r in rows)
    head = [
        "case",
        "method",
        "rel. L2",
        "params",
        "s / epoch",
        "inference ms / sample",
        "saved MB / sample",
        "saved MB / patch",
    ] + (["CUDA peak MB / step"] if cuda else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["case"],
            r["method"],
            f"{r['relative_l2']:.4f}",
            f"{r['params']:,}",
            f"{r['seconds_per_epoch']:.3f}",
            f"{r['inference_ms_per_sample']:.2f}",
            f"{r['saved_mb_per_sample']:.2f}",
            f"{r['saved_mb_per_patch']:.2f}",
        ]
        if cuda:
            cells.append(f"{r.get('cuda_peak_mb_step', float('nan')):.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_errors(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    cases = [c for c in CASES if any(r["case"] == c for r in rows)]
    fig, axes = plt.subplots(1, len(cases), figsize=(4.2 * len(cases), 3.6), squeeze=False)
    colors = dict(zip(METHODS, ["tab:blue", "0.55", "tab:orange", "tab:green", "tab:red"]))
    for ax, case in zip(axes[0], cases):
        sub = [r for r in rows if r["case"] == case]
        bars = ax.bar(
            [r["method"] for r in sub], [r["relative_l2"] for r in sub], color=[colors[r["method"]] for r in sub]
        )
        for bar, r in zip(bars, sub):
            ax.annotate(
                f"{r['relative_l2']:.3f}\n{r['params'] / 1e3:.0f}k",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                fontsize=7,
            )
        ax.set_title(case)
        ax.set_ylabel("test relative L2")
        ax.set_ylim(0, max(r["relative_l2"] for r in sub) * 1.3)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


# ----------------------------------------------------------------------------- main
def _names(text: str, valid: tuple[str, ...], what: str, parser: argparse.ArgumentParser) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in valid]
    if bad:
        parser.error(f"unknown {what} {', '.join(bad)}; choose from {','.join(valid)}")
    return names


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, fixed for the whole run")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {','.join(CASES)}")
    parser.add_argument("--models", default=",".join(METHODS), help=f"comma-separated, from {','.join(METHODS)}")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / "datasets" / "generated",
        help="cache of generated data, reused when present",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory of the JSON and PNGs")
    parser.add_argument(
        "--tune-lr",
        action="store_true",
        help=f"choose each method's learning rate from {LR_GRID} on a validation split first "
        "(writes operators_lr_sweep.json); otherwise LEARNING_RATES of the last sweep",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows (and learning-rate sweeps) an interrupted run of the same command saved in "
        "operators_<preset>.partial.json and run only the rest (use the same --threads: times are per row)",
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was requested but no CUDA GPU is visible; use --device cpu")
    cases = _names(args.cases, CASES, "case", parser)
    methods = [m for m in METHODS if m in _names(args.models, METHODS, "model", parser)]
    torch.set_num_threads(args.threads)
    device = torch.device("cuda", torch.cuda.current_device()) if args.device == "cuda" else torch.device("cpu")
    preset = PRESETS[args.preset]
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"{NAME}: preset {args.preset}, cases {cases}, methods {methods}, device={device}, threads={args.threads}",
        flush=True,
    )

    rows: list[dict] = []
    settings: dict[str, Any] = {
        "preset": args.preset,
        "lr": "per (case, method), see rows[].lr and settings.lr_selection",
        "lr_selection": (
            f"validation sweep over {list(LR_GRID)} in this run (--tune-lr)"
            if args.tune_lr
            else f"LEARNING_RATES of the last validation sweep over {list(LR_GRID)} (default {DEFAULT_LR})"
        ),
        "optimizer": "adam",
        "scheduler": "cosine",
        "loss": "relative_l2",
        "seed": SEED,
        "cases": {},
    }
    start = time.perf_counter()
    sweep_rows: list[dict] = []
    kept: list[str] = []  # "case/method" rows taken over from the partial file of an interrupted run
    chosen: dict[str, dict[str, float]] = {}
    # progress of this command, saved after every row and sweep: --resume continues from it
    partial_path = args.out / f"{NAME}_{args.preset}.partial.json"
    stem = NAME if args.preset == "quick" else f"{NAME}_{args.preset}"  # quick, medium and full side by side
    run_key = {
        "preset": args.preset,
        "device": device.type,
        "cases": cases,
        "methods": methods,
        "tune_lr": args.tune_lr,
    }
    progress: dict[str, Any] = {"key": run_key, "rows": {}, "sweeps": {}}
    if args.resume and partial_path.exists():
        saved = json.loads(partial_path.read_text())
        if {k: saved.get("key", {}).get(k) for k in run_key} != run_key:
            parser.error(f"{partial_path} belongs to another command ({saved.get('key')}); drop --resume or delete it")
        progress = saved
        print(f"resuming: {sum(len(v) for v in progress['rows'].values())} rows saved in {partial_path}", flush=True)

    def save_progress() -> None:
        write_json(partial_path, progress)

    for case in cases:
        cfg = preset[case]
        if args.tune_lr and case in progress["sweeps"]:
            chosen[case] = progress["sweeps"][case]["chosen"]
            sweep_rows += progress["sweeps"][case]["rows"]
        elif args.tune_lr:
            chosen[case], rows_of_case = sweep_learning_rates(case, cfg, methods, device, args.data_dir)
            sweep_rows += rows_of_case
            progress["sweeps"][case] = {"chosen": chosen[case], "rows": rows_of_case}
            save_progress()
        else:  # a preset not swept yet (full) takes the quick sweep's choices
            chosen[case] = learning_rates(args.preset, case)
        data = load_case(case, cfg, args.data_dir)
        settings["cases"][case] = {
            "data": data["generator"],
            "n_train": data["n_train"],
            "n_test": data["n_test"],
            "epochs": cfg["epochs"],
            "batch_size": cfg["batch_size"],
            **data.get("windows", {}),
        }

        def on_row(case_rows: list[dict], case: str = case) -> None:
            progress["rows"][case] = {r["method"]: r for r in case_rows}
            save_progress()

        # a saved row counts only if it trained the model this run would build, at the same learning rate
        done = {m: r for m, r in progress["rows"].get(case, {}).items() if _same_run(m, r, case, data, chosen[case])}
        kept += [f"{case}/{m}" for m in methods if m in done]
        rows += run_case(case, cfg, data, methods, device, args.out, chosen[case], done=done, on_row=on_row, stem=stem)
    if args.tune_lr:
        write_json(
            args.out / f"{NAME}_lr_sweep.json",
            {
                "benchmark": f"{NAME}_lr_sweep",
                "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "preset": args.preset,
                "grid": list(LR_GRID),
                "validation_fraction": VALIDATION_FRACTION,
                "rows": sweep_rows,
                "chosen": chosen,
            },
        )
    targets = targets_of(rows)
    analysis = parameter_analysis()
    command = " ".join(["python", "benchmarks/operators.py", *(argv if argv is not None else sys.argv[1:])])
    payload = {
        "benchmark": NAME,
        "command": command,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": {**environment(), "torch_threads": args.threads},
        "settings": settings,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "resumed_rows": kept,
        "rows": rows,
        "targets": targets,
        "parameter_analysis": analysis,
    }
    print()
    print(markdown_table(rows))
    print()
    print(parameter_table(analysis))
    print()
    for t in targets:
        print(f"target {t['name']}: measured {t['measured']}, goal {t['goal']}, met {t['met']}")
    write_json(args.out / f"{stem}.json", payload)
    partial_path.unlink(missing_ok=True)
    plot_errors(rows, args.out / f"{stem}_errors.png", f"{command} ({device}, threads={args.threads})")
    print(f"wrote {args.out / (stem + '.json')} and PNGs ({payload['wall_seconds']} s)")
    return payload


if __name__ == "__main__":
    main()
