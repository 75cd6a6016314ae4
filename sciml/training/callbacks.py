"""Trainer callbacks: checkpointing, early stopping, metric logs, progress bar.

A callback receives the trainer at fixed points of :meth:`Trainer.fit`. Callbacks with
state (best value so far, patience counter) save it in the checkpoint through
``state_dict`` / ``load_state_dict`` so a resumed run behaves as an uninterrupted one.
Only rank 0 writes files.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciml.core.io import atomic_path, write_json
from sciml.training.distributed import is_main_process

if TYPE_CHECKING:  # pragma: no cover
    from sciml.training.trainer import Trainer

__all__ = ["Callback", "CheckpointCallback", "EarlyStopping", "MetricsLogger", "ProgressBar", "callback_keys", "progress_line"]


class Callback:
    """Base class; every hook is optional.

    ``on_epoch_end`` runs at the end of every *period* (an epoch, or ``eval_every`` steps,
    or a phase; see :class:`~sciml.training.Trainer`), with the period's index and log row.
    A callback with state saves it under ``state_key`` (default: the class name, with
    ``#2``, ``#3``... for later callbacks of the same class), so two instances of one class
    resume their own state.
    """

    state_key: str | None = None

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None: ...

    def on_batch_end(self, trainer: Trainer, step: int, losses: dict[str, Any]) -> None: ...

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None: ...

    def on_fit_end(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def callback_keys(callbacks: list[Callback]) -> list[tuple[str, Callback]]:
    """``(key, callback)`` pairs with unique checkpoint keys (see :class:`Callback`)."""
    seen: dict[str, int] = {}
    pairs = []
    for cb in callbacks:
        base = cb.state_key or type(cb).__name__
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else f"{base}#{seen[base]}"
        pairs.append((key, cb))
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"callback state keys collide: {keys}; give the callbacks distinct state_key values")
    return pairs


class CheckpointCallback(Callback):
    """Write ``last.pt`` every ``every`` periods and ``best.pt`` when ``monitor`` improves.

    Parameters
    ----------
    run_dir : path-like
    every : int
        Period interval of ``last.pt``; the last period is always written (also when a
        later callback stops the run early).
    monitor : str
        Logged quantity to minimize (``val_loss`` when validation data is given,
        else ``train_loss``).
    """

    def __init__(self, run_dir: str | os.PathLike[str], every: int = 1, monitor: str | None = None):
        self.run_dir = Path(run_dir)
        self.every = max(1, int(every))
        self.monitor = monitor
        self.best = math.inf
        self._saved_step: int | None = None

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        monitor = self.monitor or ("val_loss" if "val_loss" in logs else "train_loss")
        value = logs.get(monitor, math.nan)
        improved = value < self.best
        if improved:
            self.best = value
        if is_main_process():
            if (epoch + 1) % self.every == 0 or trainer.finished:
                trainer.save(self.run_dir / "last.pt")
                self._saved_step = trainer.global_step
            if improved:
                trainer.save(self.run_dir / "best.pt")

    def on_fit_end(self, trainer: Trainer) -> None:
        # a later callback (early stopping) may have ended the run after this one ran: write
        # the final period's state, but only at a period end and never a diverged one
        at_period_end = bool(trainer.history) and trainer.history[-1].get("step") == trainer.global_step
        if is_main_process() and at_period_end and not trainer.diverged and self._saved_step != trainer.global_step:
            trainer.save(self.run_dir / "last.pt")
            self._saved_step = trainer.global_step

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best", math.inf)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, patience: int = 10, monitor: str | None = None, min_delta: float = 0.0):
        self.patience, self.monitor, self.min_delta = int(patience), monitor, float(min_delta)
        self.best = math.inf
        self.bad_epochs = 0

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        monitor = self.monitor or ("val_loss" if "val_loss" in logs else "train_loss")
        value = logs.get(monitor, math.nan)
        if value < self.best - self.min_delta:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                trainer.should_stop = True
                trainer.stop_reason = f"early stopping: {monitor} did not improve for {self.patience} epochs"

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best", math.inf)
        self.bad_epochs = state.get("bad_epochs", 0)


class MetricsLogger(Callback):
    """Write the epoch history to ``metrics.csv`` and ``metrics.json`` in ``run_dir`` (atomically)."""

    def __init__(self, run_dir: str | os.PathLike[str]):
        self.run_dir = Path(run_dir)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if not is_main_process():
            return
        history = trainer.history
        keys: list[str] = []
        for row in history:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
        with atomic_path(self.run_dir / "metrics.csv") as tmp:
            tmp.write_text(buf.getvalue())
        write_json(self.run_dir / "metrics.json", {"history": history})


class ProgressBar(Callback):
    """Progress of a run: a tqdm bar on a terminal, one line per period in a log.

    ``force=None`` (the default) draws the bar when stderr is a terminal and otherwise prints
    one line per period to stderr (``epoch 3/50, step 120: train_loss=0.0123 val_loss=...``),
    so the log file of a long run shows where it is; ``True`` always draws the bar, ``False``
    prints nothing.
    """

    def __init__(self, force: bool | None = None):
        self.force = force
        self.bar = None
        self.lines = False

    def on_fit_start(self, trainer: Trainer) -> None:
        if not is_main_process():
            return
        enabled = self.force if self.force is not None else sys.stderr.isatty()
        if enabled:
            from tqdm.auto import tqdm

            unit = "epoch" if trainer.eval_every is None and trainer.max_steps is None else "period"
            self.bar = tqdm(total=trainer.total_periods, initial=len(trainer.history), desc="train", unit=unit)
        self.lines = self.force is None and not enabled

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k != "epoch"}, refresh=False)
        elif self.lines:
            print(progress_line(trainer, logs), file=sys.stderr, flush=True)

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def progress_line(trainer: Trainer, logs: dict[str, float]) -> str:
    """``epoch 3/50, step 120: train_loss=0.0123 val_loss=0.0150 lr=0.00075 (1.2 s)``."""
    epoch, step = int(logs.get("epoch", 0)), int(logs.get("step", 0))
    if trainer.eval_every is None and trainer.max_steps is None:
        return _line(f"epoch {epoch}/{trainer.max_epochs}, step {step}", logs)
    return _line(f"epoch {epoch}, step {step}/{trainer.max_steps or '?'}", logs)


def _line(where: str, logs: dict[str, float]) -> str:
    keys = [k for k in logs if k in ("train_loss", "val_loss", "lr") or (k.startswith("val_") and k != "val_loss")][:5]
    values = " ".join(f"{k}={logs[k]:.4g}" for k in keys)
    return f"{where}: {values} ({logs.get('seconds', 0.0):.1f} s)"
