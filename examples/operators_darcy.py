"""Neural operators on 2D Darcy flow: FNO, TFNO, MG-TFNO and LSM on the same data and Trainer.

Run::

    python examples/operators_darcy.py --out runs/operators_darcy            # small default, minutes on a CPU
    python examples/operators_darcy.py --n 1200 --resolution 64 --epochs 100 --device cuda

Steps:

1. ``generate("darcy2d", ...)``: coefficient ``a`` -> pressure ``u``, at the training
   resolution and (for zero-shot super-resolution) at twice that resolution;
2. for each model, build it by name, wrap it in normalizers fitted on the training split,
   train with :class:`~sciml.training.Trainer`, evaluate relative L2;
3. figures: input / truth / prediction / error per model (``fields_<model>.png``), and a
   zero-shot super-resolution check of the FNO on the finer data.

Writes ``summary.json`` and the PNGs into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from sciml.core import build_model
from sciml.core.io import write_json
from sciml.data import FieldDataset
from sciml.data.generators import generate
from sciml.data.transforms import ChannelNormalizer, Normalized, fit_normalizers
from sciml.operators import parameter_count, plot_prediction_fields, super_resolution_error
from sciml.training import Trainer
from sciml.training.trainer import seed_everything

MODELS = {
    "fno": dict(n_modes=[12, 12], hidden_channels=32, n_layers=4),
    # rank 0.075: the largest Tucker rank at which neuraloperator's default layout is 10x smaller than the FNO
    "tfno": dict(n_modes=[12, 12], hidden_channels=32, n_layers=4, factorization="tucker", rank=0.075),
    "mgtfno": dict(levels=1, padding_fraction=0.0625, n_modes=[12, 12], hidden_channels=32, n_layers=4, rank=0.1),
    "lsm": dict(
        n_dim=2, width=16, num_basis=8, num_token=4, patch_size=4, depth=2, num_heads=4, projection_channels=64
    ),
}


def _normalized(model: torch.nn.Module, train: FieldDataset) -> Normalized:
    norms = fit_normalizers(torch.utils.data.DataLoader(train, batch_size=64))
    wrapped = Normalized(model, ChannelNormalizer(train.in_channels), ChannelNormalizer(train.out_channels))
    wrapped.input_normalizer.load_state_dict(norms["x"].state_dict())
    wrapped.output_normalizer.load_state_dict(norms["y"].state_dict())
    return wrapped


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/operators_darcy", help="output directory")
    parser.add_argument("--n", type=int, default=200, help="samples (80/10/10 split)")
    parser.add_argument("--resolution", type=int, default=32, help="training resolution (multiple of 4 for MG-TFNO)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--models", default="fno,tfno,mgtfno,lsm", help=f"comma-separated, from {','.join(MODELS)}")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    coarse, fine = out / f"darcy{args.resolution}.h5", out / f"darcy{2 * args.resolution}.h5"
    if not coarse.exists():
        generate("darcy2d", coarse, n=args.n, resolution=args.resolution, seed=args.seed)
    if not fine.exists():
        generate("darcy2d", fine, n=max(20, args.n // 10), resolution=2 * args.resolution, seed=args.seed + 1)
    train, test = FieldDataset(coarse, "train"), FieldDataset(coarse, "test")
    fine_test = FieldDataset(fine, None)

    summary: dict = {"resolution": args.resolution, "n_train": len(train), "n_test": len(test), "models": {}}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        if name not in MODELS:
            raise SystemExit(f"unknown model '{name}'; choose from {', '.join(MODELS)}")
        seed_everything(args.seed)
        model = build_model(
            name, {"in_channels": train.in_channels, "out_channels": train.out_channels, **MODELS[name]}
        )
        trainer = Trainer(
            _normalized(model, train),
            max_epochs=args.epochs,
            batch_size=args.batch_size,
            lr=2e-3,
            scheduler="cosine",
            grad_clip=1.0,
            device=args.device,
            seed=args.seed,
            progress=False,
        )
        start = time.perf_counter()
        trainer.fit(train)
        seconds = time.perf_counter() - start
        metrics = trainer.evaluate(test, metrics=["relative_l2", "nrmse"])
        plot_prediction_fields(trainer.model, test, out / f"fields_{name}.png", device=args.device, title=name)
        row = {
            "relative_l2": metrics["relative_l2"],
            "nrmse": metrics["nrmse"],
            "parameters": parameter_count(model),
            "seconds_per_epoch": seconds / args.epochs,
        }
        if name in ("fno", "tfno", "lsm"):
            sr = super_resolution_error(
                trainer.model, {args.resolution: test, 2 * args.resolution: fine_test}, device=args.device
            )
            row["relative_l2_at_2x_resolution"] = sr["resolutions"][2 * args.resolution]["relative_l2"]
        summary["models"][name] = row
        print(
            f"{name:7s} relative L2 {row['relative_l2']:.4f}  parameters {row['parameters']:8d}  "
            f"{row['seconds_per_epoch']:.2f} s/epoch"
            + (
                f"  zero-shot at {2 * args.resolution}: {row['relative_l2_at_2x_resolution']:.4f}"
                if "relative_l2_at_2x_resolution" in row
                else ""
            )
        )
    write_json(out / "summary.json", summary)
    print(json.dumps({k: round(v["relative_l2"], 4) for k, v in summary["models"].items()}))
    return summary


if __name__ == "__main__":
    main()
