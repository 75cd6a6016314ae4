"""Patch parallelism: MG-TFNO patches spread over 2 torchrun ranks equal one process.

The file is also its own worker: ``python test_multigrid_ddp.py OUT`` runs the checks in
one process, ``python -m torch.distributed.run --standalone --nproc_per_node=2
test_multigrid_ddp.py OUT`` on two CPU ranks (gloo); each rank writes ``OUT/rank<r>.pt``.
Every rank holds the same batch and runs the inner TFNO on half of the patches; the
outputs are all-gathered and stitched, so each rank's output equals the single process's,
and the gradients (after DDP's mean all-reduce) equal the single-process gradients. A
short Trainer run on :class:`ReplicatedBatches` gives the loss curve and weights of a
one-process Trainer on the plain dataset.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SHAPES = {"2d": (16, 16), "1d": (32,)}
SMALL = {"2d": dict(n_modes=(4, 4)), "1d": dict(n_modes=(6,))}


def _model(n_dim_key: str, *, levels: int = 1):
    from sciml.operators import mgtfno

    torch.manual_seed(0)
    return mgtfno(
        in_channels=1,
        out_channels=1,
        levels=levels,
        padding_fraction=0.125,
        padding_mode="reflect",
        hidden_channels=8,
        n_layers=2,
        distribute_patches=True,
        **SMALL[n_dim_key],
    )


def _data(n: int, shape: tuple[int, ...], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, *shape, generator=g)
    return x, x.roll(1, dims=-1) + 0.1 * torch.randn(n, 1, *shape, generator=g)


def _output_and_gradients(key: str, batch: int, levels: int, world: int) -> dict:
    """One forward/backward: output, raw and mean-reduced gradients, DDP gradients, inner batch sizes."""
    import torch.distributed as dist

    from sciml.core.metrics import relative_l2

    x, y = _data(batch, SHAPES[key], seed=1)
    model = _model(key, levels=levels)
    inner_batches: list[int] = []
    model.operator.register_forward_pre_hook(lambda m, args: inner_batches.append(args[0].shape[0]))
    out = model(x)
    relative_l2(out, y).mean().backward()
    raw = {k: p.grad.clone() for k, p in model.named_parameters()}
    mean = {}
    for k, g in raw.items():
        g = g.clone()
        if world > 1:
            dist.all_reduce(g)
            g /= world
        mean[k] = g
    ddp_model = _model(key, levels=levels)
    wrapped = torch.nn.parallel.DistributedDataParallel(ddp_model) if world > 1 else ddp_model
    relative_l2(wrapped(x), y).mean().backward()
    return {
        "out": out.detach(),
        "grads_raw": raw,
        "grads": mean,
        "grads_ddp": {k: p.grad.clone() for k, p in ddp_model.named_parameters()},
        "inner_batches": inner_batches,
    }


class _Fields(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def _trainer_run(world: int) -> dict:
    """Two epochs of the Trainer: ReplicatedBatches on 2 ranks, the plain dataset in one process."""
    from sciml.training import Trainer
    from sciml.training.checkpoint import model_state_dict
    from sciml.training.distributed import ReplicatedBatches

    dataset = _Fields(*_data(10, SHAPES["2d"], seed=2))
    model = _model("2d")
    batches = ReplicatedBatches(dataset, batch_size=4, seed=0)
    trainer = Trainer(
        model,
        optimizer="adam",
        lr=1e-2,
        max_epochs=2,
        batch_size=4,
        seed=0,
        progress=False,
        grad_clip=1.0,
        steps_per_epoch=batches.steps_per_epoch,
    )
    history = trainer.fit(batches if world > 1 else dataset)
    return {
        "train_loss": [row["train_loss"] for row in history],
        "global_step": trainer.global_step,
        "weights": model_state_dict(trainer.model),
    }


def _sharded_batch_error(world: int) -> str:
    """The message when ranks hold different batches (what a sharded Dataset would give)."""
    import torch.distributed as dist

    from sciml.core.errors import ConfigError

    if world == 1:
        return ""
    x, _ = _data(2, SHAPES["2d"], seed=10 + dist.get_rank())
    try:
        _model("2d")(x)
    except ConfigError as exc:
        return str(exc)
    return "no error"


def worker(out: Path) -> None:
    import torch.distributed as dist

    from sciml.training.distributed import init_distributed, rank, shutdown_distributed, world_size

    init_distributed("cpu")
    world, me = world_size(), rank()
    result = {
        "world_size": world,
        "2d": _output_and_gradients("2d", batch=2, levels=1, world=world),
        "1d": _output_and_gradients("1d", batch=3, levels=1, world=world),
        # 3 samples at levels 0: 3 patches on 2 ranks, shares 2 and 1
        "uneven": _output_and_gradients("1d", batch=3, levels=0, world=world),
        "trainer": _trainer_run(world),
        "sharded_error": _sharded_batch_error(world),
    }
    torch.save(result, out / f"rank{me}.pt")
    if dist.is_initialized():
        dist.barrier()
        shutdown_distributed()


def _launch(args: list[str], out: Path) -> None:
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)  # the single-process run must not believe it is distributed
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, *args, str(out)], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"worker failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("patch_parallel")
    script = str(Path(__file__).resolve())
    _launch(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", script], tmp / "ddp")
    _launch([script], tmp / "single")
    load = lambda p: torch.load(p, weights_only=False)  # noqa: E731
    return {
        "single": load(tmp / "single" / "rank0.pt"),
        "ranks": [load(tmp / "ddp" / f"rank{r}.pt") for r in range(2)],
    }


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("case", ["2d", "1d", "uneven"])
def test_two_ranks_give_the_single_process_output_and_gradients(runs, case):
    single = runs["single"][case]
    assert runs["single"]["world_size"] == 1 and runs["ranks"][0]["world_size"] == 2
    for result in runs["ranks"]:
        mine = result[case]
        torch.testing.assert_close(mine["out"], single["out"], rtol=0, atol=1e-6)
        # a rank's own gradient is 2x its patches' share; the mean over ranks (DDP's) is the whole gradient
        assert _max_diff(mine["grads"], single["grads"]) < 1e-6
        assert _max_diff(mine["grads_ddp"], single["grads"]) < 1e-6
        assert _max_diff(mine["grads_raw"], single["grads"]) > 1e-4  # the raw ones alone are not
    # each rank's inner TFNO saw its share of the patches: half in the even cases
    total = single["inner_batches"]
    shares = [result[case]["inner_batches"] for result in runs["ranks"]]
    if case == "uneven":
        assert total == [3] and shares == [[2], [1]]
    else:
        assert all(2 * s[0] == total[0] for s in shares), (total, shares)


def test_patch_parallel_trainer_matches_one_process_trainer(runs):
    single = runs["single"]["trainer"]
    for result in runs["ranks"]:
        mine = result["trainer"]
        assert mine["global_step"] == single["global_step"] == 2 * 3
        torch.testing.assert_close(
            torch.tensor(mine["train_loss"]), torch.tensor(single["train_loss"]), rtol=1e-5, atol=0
        )
        assert _max_diff(mine["weights"], single["weights"]) < 1e-5


def test_ranks_holding_different_batches_get_a_one_line_error(runs):
    for result in runs["ranks"]:
        message = result["sharded_error"]
        assert "\n" not in message
        assert "needs the same input on every rank" in message and "ReplicatedBatches" in message


def test_replicated_batches_are_the_trainers_single_process_batches():
    from sciml.training.distributed import EpochSampler, ReplicatedBatches

    dataset = _Fields(*_data(10, (8,), seed=3))
    batches = ReplicatedBatches(dataset, batch_size=4, seed=5)
    assert batches.steps_per_epoch == 3
    for epoch in range(2):
        sampler = EpochSampler(10, seed=5)
        sampler.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(dataset, batch_size=4, sampler=sampler)
        for i, expected in enumerate(loader):
            got = batches(epoch * 3 + i)
            assert torch.equal(got["x"], expected["x"]) and torch.equal(got["y"], expected["y"])


def test_distribute_patches_without_a_process_group_is_the_plain_model():
    x, _ = _data(2, SHAPES["2d"], seed=4)
    model = _model("2d")
    plain = _model("2d")
    plain.distribute_patches = False
    assert torch.equal(model(x), plain(x))


if __name__ == "__main__":
    worker(Path(sys.argv[1]))
