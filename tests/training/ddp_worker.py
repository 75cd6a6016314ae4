"""Worker of ``test_ddp.py``: train a tiny FNO with sciml's Trainer, alone or under torchrun.

Usage::

    python -m torch.distributed.run --standalone --nproc_per_node=2 ddp_worker.py DATA OUT --batch-size 8
    python ddp_worker.py DATA OUT --batch-size 8

Each rank checkpoints into ``OUT/run/rank<RANK>`` (so the test can tell which rank wrote
files); rank 0 writes ``OUT/history.json`` (train loss per epoch, world size, steps) and
``OUT/weights.pt`` (the final state dict).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--batch-size", type=int, required=True, help="global batch size")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)

    import torch
    import torch.distributed as dist

    from sciml.data import FieldDataset
    from sciml.operators import fno
    from sciml.training import Trainer
    from sciml.training.checkpoint import model_state_dict
    from sciml.training.distributed import shutdown_distributed

    torch.manual_seed(0)
    model = fno(in_channels=1, out_channels=1, n_modes=(8,), hidden_channels=8, n_layers=2)
    dataset = FieldDataset(args.data, split=None)
    rank = int(os.environ.get("RANK", "0"))
    trainer = Trainer(
        model,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer="adam",
        lr=1e-2,
        progress=False,
        run_dir=args.out / "run" / f"rank{rank}",
    )
    history = trainer.fit(dataset)
    if trainer.rank == 0:
        summary = {
            "world_size": trainer.world_size,
            "global_step": trainer.global_step,
            "train_loss": [row["train_loss"] for row in history],
        }
        (args.out / "history.json").write_text(json.dumps(summary))
        torch.save(model_state_dict(trainer.model), args.out / "weights.pt")
    if dist.is_initialized():
        dist.barrier()
        shutdown_distributed()


if __name__ == "__main__":
    main()
