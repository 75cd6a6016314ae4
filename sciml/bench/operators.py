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

Each (case, method) is a cell of :func:`sciml.bench.run_cells` (each learning-rate trial of
``--tune-lr`` too): the JSON is rewritten as each finishes and ``--resume`` trains only the
missing ones (a row counts if it trained the model and learning rate this run would).

Usage::

    sciml bench operators --preset quick              # minutes on one CPU thread
    sciml bench operators --preset full --device cuda # the FNO paper's sizes
    sciml bench operators --cases darcy --models fno,lsm
    sciml bench operators --preset medium --resume    # the issue's sizes on a CPU, resumable

Writes ``OUT/operators.json``, ``operators_errors.png``, ``operators_ns_rollout.png`` and
``operators_darcy_fields_<method>.png`` (``operators_<preset>...`` for medium and full).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import copy
import json
import statistics
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sciml.bench._executors import open_executor
from sciml.bench._plots import label_bars
from sciml.bench._results import Results
from sciml.bench._runner import Cell, run_cells
from sciml.bench._tables import format_spread, format_targets, markdown_table
from sciml.bench._training import (
    EpochClock,
    InMemoryFields,
    Standardized,
    add_device_arguments,
    neuralop_fit,
    relative_l2_loss,
    torch_device,
)
from sciml.core import build_model
from sciml.core.errors import ConfigError, DataError, TrainingDivergedError
from sciml.core.metrics import relative_l2
from sciml.core.plotting import save_figure
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

__all__ = ["PRESETS", "run", "model_kwargs", "load_case", "train_sciml", "test_error", "learning_rates"]

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
    # seconds: the tests' run (Burgers at 32 points, 2 epochs; use with --cases burgers)
    "tiny": {
        "burgers": {
            "generator": "burgers1d",
            "params": {"n": 12, "resolution": 32, "nu": 0.01, "t_final": 1.0, "n_times": 3, "seed": 0},
            "n_train": 8,
            "n_test": 4,
            "epochs": 2,
            "batch_size": 4,
        },
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


# ----------------------------------------------------------------------------- data
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
        raise DataError(f"{path} has {u.shape[0]} samples, fewer than {n_train} + {n_test}; delete it to regenerate")
    out: dict[str, Any] = {"file": str(path), "generator": gen, "n_train": n_train, "n_test": n_test}
    if case == "ns":
        h, k = cfg["history"], cfg["horizon"]
        w = u[:, :, 0]  # [N, T, S, S]
        n_t = w.shape[1]
        if h + k > n_t:
            raise DataError(f"history {h} + horizon {k} exceed the {n_t} snapshots of {path}")
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
    sampler = EpochSampler(len(data), seed=SEED, shuffle=True)
    loader = DataLoader(data, batch_size=cfg["batch_size"], sampler=sampler, pin_memory=device.type == "cuda")
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    # set_epoch: the permutation sciml's Trainer uses at this epoch
    durations, _ = neuralop_fit(model, loader, optimizer, scheduler, cfg["epochs"], device, sampler.set_epoch)
    return durations


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
        loss = relative_l2_loss(model(x), y)
    loss.backward()
    out["saved_bytes"] = float(sum(saved.values()))
    if device.type == "cuda":
        model.zero_grad(set_to_none=True)
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        relative_l2_loss(model(x), y).backward()
        torch.cuda.synchronize(device)
        out["cuda_peak_bytes"] = float(torch.cuda.max_memory_allocated(device) - before)
    return out


def _build(method: str, data: dict[str, Any], case: str) -> tuple[nn.Module, dict[str, Any]]:
    """The seeded, standardized model of a method (neuralop_fno: the FNO, the same initial weights)."""
    train = data["train"]
    in_ch, out_ch = train.x.shape[1], train.y.shape[1]
    kwargs = model_kwargs(method, data["n_dim"], in_ch, out_ch, data["size"], case)
    seed_everything(SEED)
    name = "fno" if method == "neuralop_fno" else method
    return Standardized(build_model(name, kwargs), *data["stats"]), kwargs


def run_cell(
    case: str,
    method: str,
    cfg: dict[str, Any],
    data_dir: str,
    device_name: str,
    threads: int,
    lr: float,
    fno_lr: float | None,
    out_dir: str,
    stem: str,
) -> dict[str, Any]:
    """Train and measure one method on one case (a cell); its Darcy prediction PNG is written here.

    For ``neuralop_fno`` with ``fno_lr`` (the FNO runs in the same sweep), also the interleaved
    epoch times of both trainers; the FNO's are carried in the row's ``_fno_interleaved`` and
    moved to the FNO's row when the rows are assembled (:func:`assemble`).
    """
    torch.set_num_threads(threads)
    device = torch_device(device_name)
    data = load_case(case, cfg, Path(data_dir))
    train, test = data["train"], data["test"]
    size = data["size"]
    model, kwargs = _build(method, data, case)
    base_fno = copy.deepcopy(model) if method == "neuralop_fno" else None
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
    if base_fno is not None and fno_lr is not None:
        times = interleaved_epoch_times(base_fno, train, cfg, device, fno_lr)
        fields = {}
        for m in ("fno", "neuralop_fno"):
            fields[m] = {
                "seconds_per_epoch_interleaved": round(statistics.median(times[m]), 5),
                "seconds_per_epoch_interleaved_rounds": [round(v, 5) for v in times[m]],
            }
        row.update(fields["neuralop_fno"])
        row["_fno_interleaved"] = fields["fno"]
        print(
            f"  {case:8s} interleaved timing: sciml {fields['fno']['seconds_per_epoch_interleaved']:.4f} s/epoch, "
            f"neuraloperator {row['seconds_per_epoch_interleaved']:.4f} s/epoch",
            flush=True,
        )
    if case == "darcy":
        plot_prediction_fields(
            model,
            test,
            Path(out_dir) / f"{stem}_darcy_fields_{method}.png",
            device=device,
            title=f"darcy {size}x{size}: {method} (rel L2 {row['relative_l2']:.4f})",
        )
    return row


def assemble(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the payload: each neuralop_fno row's interleaved FNO timing moved into its FNO's row."""
    out = [dict(r) for r in rows]
    for r in out:
        carried = r.pop("_fno_interleaved", None)
        fno = _row(out, r["case"], "fno") if carried else None
        if fno is not None:
            fno.update(carried)
    return out


def _print_row(row: dict[str, Any]) -> None:
    print(
        f"  {row['case']:8s} {row['method']:13s} lr {row['lr']:g}  rel L2 {row['relative_l2']:.4f}  "
        f"params {row['params']:8d}  {row['seconds_per_epoch']:.3f} s/epoch  "
        f"{row['inference_ms_per_sample']:.3f} ms/sample  saved {row['saved_mb_per_sample']:.2f} MB/sample",
        flush=True,
    )


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


def sweep_cell(
    case: str, method: str, lr: float, cfg: dict[str, Any], data_dir: str, device_name: str, threads: int
) -> dict:
    """One trial of the learning-rate sweep: train on the first ``1 - VALIDATION_FRACTION`` of the training
    samples (NS: trajectories), score the rest with the benchmark's test metric (NS: the rollout).

    Test samples are never used. A diverged training scores ``inf``.
    """
    torch.set_num_threads(threads)
    device = torch_device(device_name)
    n_val = max(1, round(cfg["n_train"] * VALIDATION_FRACTION))
    data = load_case(case, {**cfg, "n_train": cfg["n_train"] - n_val, "n_test": n_val}, Path(data_dir))
    model, _ = _build(method, data, case)
    try:
        train_sciml(model, data["train"], cfg, device, lr)
        err = test_error(model.to(device), data["test"], case, device, cfg["batch_size"])["relative_l2"]
    except TrainingDivergedError:
        err = float("inf")
    print(f"  sweep {case:8s} {method:8s} lr {lr:g}: validation rel L2 {err:.4f}", flush=True)
    return {"val_relative_l2": err}


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
    lines = []
    for r in rows:
        spectral = r["groups"]["spectral"]
        rank = r.get("largest_rank_for_10x", "")
        lines.append(
            [
                f"{r['n_dim']}D",
                r["model"],
                f"{r['params']:,}",
                f"{spectral:,}",
                f"{r['params'] - spectral:,}",
                f"{r['reduction_vs_fno']:.2f}" if "reduction_vs_fno" in r else "",
                f"{r['reduction_vs_same_options_dense']:.2f}" if "reduction_vs_fno" in r else "",
                "none >= 0.01" if rank is None else str(rank),
            ]
        )
    return markdown_table(head, lines)


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


def markdown(rows: list[dict]) -> str:
    """The results table; seconds per epoch as min / median / max over the timed epochs."""
    cuda = any("cuda_peak_mb_step" in r for r in rows)
    head = [
        "case",
        "method",
        "rel. L2",
        "params",
        "s / epoch (min / median / max)",
        "inference ms / sample",
        "saved MB / sample",
        "saved MB / patch",
    ] + (["CUDA peak MB / step"] if cuda else [])
    lines = []
    for r in rows:
        cells = [
            r["case"],
            r["method"],
            f"{r['relative_l2']:.4f}",
            f"{r['params']:,}",
            format_spread(r.get("seconds_per_epoch_all") or [r["seconds_per_epoch"]], ".3f"),
            f"{r['inference_ms_per_sample']:.2f}",
            f"{r['saved_mb_per_sample']:.2f}",
            f"{r['saved_mb_per_patch']:.2f}",
        ]
        if cuda:
            cells.append(f"{r.get('cuda_peak_mb_step', float('nan')):.1f}")
        lines.append(cells)
    return markdown_table(head, lines)


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
        label_bars(ax, bars, [f"{r['relative_l2']:.3f}\n{r['params'] / 1e3:.0f}k" for r in sub], fontsize=7)
        ax.set_title(case)
        ax.set_ylabel("test relative L2")
        ax.set_ylim(0, max(r["relative_l2"] for r in sub) * 1.3)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


# ----------------------------------------------------------------------------- entry
def _names(text: str | list[str] | None, valid: tuple[str, ...], what: str, option: str) -> list[str]:
    items = text if isinstance(text, list) else (text or ",".join(valid)).split(",")
    names = [s.strip() for s in items if s.strip()]
    bad = [n for n in names if n not in valid]
    if bad:
        raise ConfigError(f"unknown {what} {', '.join(bad)} ({option}); choose from {','.join(valid)}")
    return names


def add_arguments(parser: argparse.ArgumentParser, root: Path) -> None:
    add_device_arguments(parser)
    parser.add_argument("--cases", default=None, help=f"comma-separated, from {','.join(CASES)}")
    parser.add_argument("--models", default=None, help=f"comma-separated, from {','.join(METHODS)}")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(root) / "datasets" / "generated",
        help="cache of generated data, reused when present (default %(default)s)",
    )
    parser.add_argument(
        "--tune-lr",
        action="store_true",
        help=f"choose each method's learning rate from {LR_GRID} on a validation split first "
        "(writes operators_lr_sweep.json); otherwise LEARNING_RATES of the last sweep",
    )


def _tune(cases, methods, preset, device, threads, data_dir, out, executor, resume, command, progress, time_limit):
    """The learning-rate sweep (``--tune-lr``): one cell per (case, method, lr); returns the chosen rates."""
    table = PRESETS[preset]
    cells = []
    for case in cases:
        n_dim = 1 if case == "burgers" else 2
        for method in methods:
            if method == "neuralop_fno" or (method == "mgtfno" and n_dim != 2):
                continue
            cfg = table[case]
            cells += [
                Cell((case, method, lr), sweep_cell, (case, method, lr, cfg, str(data_dir), device, threads))
                for lr in LR_GRID
            ]
    settings = {"preset": preset, "device": device, "grid": list(LR_GRID), "validation_fraction": VALIDATION_FRACTION}
    results = Results(
        out / f"{NAME}_lr_sweep.json",
        f"{NAME}_lr_sweep",
        key=("case", "method", "lr"),
        settings=settings,
        command=command,
        environment={"torch_threads": threads},
        resume=resume,
    )

    def chosen() -> dict[str, dict[str, float]]:
        """Each method's best rate so far (ties: the first of LR_GRID)."""
        scores: dict[str, dict[str, dict[float, float]]] = {}
        for r in results.rows([c.key for c in cells]):
            scores.setdefault(r["case"], {}).setdefault(r["method"], {})[r["lr"]] = r["val_relative_l2"]
        return {case: {m: min(s, key=lambda k: s[k]) for m, s in by.items()} for case, by in scores.items()}

    write = lambda: results.write(order=[c.key for c in cells], chosen=chosen())  # noqa: E731
    run_cells(cells, executor, results, time_limit=time_limit, progress=progress, write=write)
    results.write(order=[c.key for c in cells], complete=not results.failures(), chosen=chosen())
    return chosen()


def run(
    preset: str,
    out: str | Path,
    executor: str | cf.Executor = "serial",
    *,
    device: str = "cpu",
    threads: int = 1,
    cases: str | list[str] | None = None,
    models: str | list[str] | None = None,
    data_dir: str | Path = Path("datasets") / "generated",
    tune_lr: bool = False,
    resume: bool = False,
    command: str = "sciml bench operators",
    progress: bool = False,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Train and measure every (case, method) of ``preset``; writes ``out/operators[_PRESET].json`` as each finishes."""
    torch_device(device)  # no GPU: a one-line error before any work
    table = PRESETS[preset]
    cases = _names(cases or [c for c in CASES if c in table], CASES, "case", "--cases")
    missing = [c for c in cases if c not in table]
    if missing:
        raise ConfigError(
            f"preset {preset!r} has no case {', '.join(missing)} (--cases); choose from {','.join(table)}"
        )
    methods = [m for m in METHODS if m in _names(models, METHODS, "model", "--models")]
    torch.set_num_threads(threads)
    out, data_dir = Path(out), Path(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = NAME if preset == "quick" else f"{NAME}_{preset}"  # quick, medium and full side by side
    print(
        f"{NAME}: preset {preset}, cases {cases}, methods {methods}, device={torch_device(device)}, threads={threads}",
        flush=True,
    )
    start = time.perf_counter()
    with open_executor(executor) as (pool, spec):
        for case in cases:  # generated once, before any cell reads it
            case_file(case, table[case], data_dir)
        if tune_lr:
            chosen = _tune(
                cases, methods, preset, device, threads, data_dir, out, pool, resume, command, progress, time_limit
            )
        else:  # a preset not swept yet (full) takes the quick sweep's choices
            chosen = {case: learning_rates(preset, case) for case in cases}
        settings: dict[str, Any] = {
            "preset": preset,
            "lr": "per (case, method), see rows[].lr and settings.lr_selection",
            "lr_selection": (
                f"validation sweep over {list(LR_GRID)} in this run (--tune-lr)"
                if tune_lr
                else f"LEARNING_RATES of the last validation sweep over {list(LR_GRID)} (default {DEFAULT_LR})"
            ),
            "optimizer": "adam",
            "scheduler": "cosine",
            "loss": "relative_l2",
            "seed": SEED,
            "cases": {},
        }
        data = {}
        cells = []
        for case in cases:
            cfg = table[case]
            data[case] = load_case(case, cfg, data_dir)
            settings["cases"][case] = {
                "data": data[case]["generator"],
                "n_train": data[case]["n_train"],
                "n_test": data[case]["n_test"],
                "epochs": cfg["epochs"],
                "batch_size": cfg["batch_size"],
                **data[case].get("windows", {}),
            }
            rates = chosen.get(case, {})
            fno_lr = rates.get("fno", DEFAULT_LR) if "fno" in methods else None
            for method in methods:
                if method == "mgtfno" and data[case]["n_dim"] != 2:
                    continue
                lr = rates.get("fno" if method == "neuralop_fno" else method, DEFAULT_LR)
                args = (case, method, cfg, str(data_dir), device, threads, lr, fno_lr, str(out), stem)
                cells.append(Cell((case, method), run_cell, args))
        # what a resumed file must share; a row counts only if it trained the model and rate this run would
        match = {"preset": preset, "cases": settings["cases"], "lr_selection": settings["lr_selection"]}
        results = Results(
            out / f"{stem}.json",
            NAME,
            key=("case", "method"),
            settings={**settings, "device": device, "methods": methods},
            command=command,
            environment={"torch_threads": threads, "executor": spec},
            resume=resume,
            match={**match, "device": device},
            keep=lambda r: (
                r["case"] in data and _same_run(r["method"], r, r["case"], data[r["case"]], chosen.get(r["case"], {}))
            ),
        )
        for key in results.resumed:
            print(f"  {key[0]:8s} {key[1]:13s} done in an earlier run (resumed)", flush=True)
        order = [c.key for c in cells]

        def write(complete: bool = False, **extra: Any) -> dict[str, Any]:
            rows = assemble(results.rows(order))
            return results.write(
                order=order,
                complete=complete,
                rows=rows,
                wall_seconds=round(time.perf_counter() - start, 1),
                resumed_rows=[f"{c}/{m}" for c, m in order if (c, m) in results.resumed],
                targets=targets_of(rows),
                **extra,
            )

        failure = lambda cell, message: print(f"  {cell.label} FAILED {message}", flush=True)  # noqa: E731
        run_cells(cells, pool, results, time_limit=time_limit, progress=progress, on_row=_print_row,
                  on_failure=failure, write=write)  # fmt: skip
    analysis = parameter_analysis()
    payload = write(complete=not results.failures(), parameter_analysis=analysis)
    rows = payload["rows"]
    curves = {r["method"]: r["rollout_relative_l2_per_step"] for r in rows if "rollout_relative_l2_per_step" in r}
    if "ns" in data and curves:
        windows = data["ns"]["windows"]
        plot_rollout_error(
            curves,
            out / f"{stem}_ns_rollout.png",
            title=f"Navier-Stokes nu=1e-3 {data['ns']['size']}x{data['ns']['size']}: {windows['horizon']} steps from "
            f"{windows['history']}",
        )
    print()
    print(markdown(rows))
    print()
    print(parameter_table(analysis))
    print()
    print(format_targets(payload["targets"]))
    if rows:
        plot_errors(rows, out / f"{stem}_errors.png", f"{command} ({torch_device(device)}, threads={threads})")
    print(f"wrote {results.path} and PNGs ({payload['wall_seconds']} s)")
    return payload
