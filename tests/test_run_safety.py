"""Runs that never lie: bad data refused at the door, run directories kept, resume and eval that do what they say.

Every case goes through the CLI (``sciml.cli.main``) as a user would, and checks the exit
code, the one-line message, and what is (not) left on disk.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from sciml.cli import main
from sciml.data.datasets import split_indices
from sciml.training import load_checkpoint


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _config(tmp_path, data, name="cfg.json", run="run", **train):
    cfg = {
        "data": {"path": str(data)},
        "model": {"name": "fno", "kwargs": {"n_modes": [8], "hidden_channels": 8, "n_layers": 2}},
        "optimizer": {"name": "adam", "kwargs": {"lr": 3e-3}},
        "train": {"epochs": 3, "batch_size": 16, "run_dir": str(tmp_path / run), "progress": False, **train},
    }
    path = tmp_path / name
    path.write_text(json.dumps(cfg))
    return path


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("sciml: error: "), err
    return err


def _copy(tmp_path, heat_file, name="data.h5") -> Path:
    path = tmp_path / name
    path.write_bytes(heat_file.read_bytes())
    return path


# ---------------------------------------------------------------- 1. bad data at the door


def _val_and_train_samples(n=64):
    splits = split_indices(n)
    return int(splits["val"][0]), int(splits["train"][3])


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_nan_in_one_sample_is_refused_before_training(tmp_path, capsys, heat_file, split):
    data = _copy(tmp_path, heat_file)
    val_sample, train_sample = _val_and_train_samples()
    sample = val_sample if split == "val" else train_sample
    with h5py.File(data, "r+") as f:
        f["u"][sample, 1, 0, 7] = np.nan
    code, out, err = _run(capsys, "train", _config(tmp_path, data))
    assert code == 2 and out == ""
    assert f"non-finite values (NaN/inf) in 'u' at sample {sample} (split '{split}')" in _one_line(err)
    assert not (tmp_path / "run").exists()


def test_a_nan_outside_the_splits_read_is_not_an_error_of_the_run(tmp_path, capsys, heat_file):
    from sciml.data.schema import validate

    data = _copy(tmp_path, heat_file)
    splits = split_indices(64)
    with h5py.File(data, "r+") as f:
        f["u"][int(splits["test"][0]), 1, 0, 7] = np.nan
        del f.attrs["content_sha256"]  # e.g. an imported file without a content hash
    validate(data, splits={"train": splits["train"], "val": splits["val"]})  # the test split is not read
    with pytest.raises(Exception, match=rf"at sample {int(splits['test'][0])} \(split 'test'\)"):
        validate(data, splits=splits)


@pytest.mark.parametrize("split", ["train", "val"])
def test_one_corrupted_byte_is_refused_before_training(tmp_path, capsys, heat_file, split):
    data = _copy(tmp_path, heat_file)
    val_sample, train_sample = _val_and_train_samples()
    sample = val_sample if split == "val" else train_sample
    with h5py.File(data, "r") as f:
        offset = f["u"].id.get_chunk_info(sample).byte_offset  # one chunk per sample
    with open(data, "r+b") as fh:
        fh.seek(offset + 5)
        byte = fh.read(1)
        fh.seek(offset + 5)
        fh.write(bytes([byte[0] ^ 0xFF]))
    code, out, err = _run(capsys, "train", _config(tmp_path, data))
    assert code == 2 and out == ""
    assert re.search(rf"checksum mismatch reading 'u' near sample {sample} \(split '{split}'\)", _one_line(err)), err
    assert not (tmp_path / "run").exists()


def test_a_file_whose_content_changed_is_refused_by_train_and_resume(tmp_path, capsys, heat_file):
    data = _copy(tmp_path, heat_file)
    cfg = _config(tmp_path, data, epochs=1)
    assert _run(capsys, "train", cfg)[0] == 0
    import gc

    gc.collect()  # the in-process run's lazily opened read handles
    with h5py.File(data, "r+") as f:  # rewrite one value: chunk checksums are recomputed, the content hash is not
        f["u"][0, 1, 0, 0] = f["u"][0, 1, 0, 0] + 1.0
    code, _, err = _run(capsys, "train", cfg, "train.epochs=2", "--resume")
    assert code == 2 and "content checksum mismatch (data changed after writing)" in _one_line(err)
    assert load_checkpoint(tmp_path / "run" / "last.pt")["meta"]["epoch"] == 1


# ---------------------------------------------------------------- 2. run directories


def test_a_new_run_refuses_an_existing_run_directory_unless_overwrite(tmp_path, capsys, heat_file):
    cfg = _config(tmp_path, heat_file, epochs=1)
    assert _run(capsys, "train", cfg)[0] == 0
    run = tmp_path / "run"
    assert _run(capsys, "eval", run)[0] == 0
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    code, out, err = _run(capsys, "train", cfg, "train.epochs=2")
    assert code == 2 and "already holds a run; pass --overwrite to replace it, --resume to continue" in _one_line(err)
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before  # untouched
    code, _, err = _run(capsys, "train", cfg, "train.epochs=2", "--overwrite")
    assert code == 0, err
    assert not (run / "eval_test_metrics.json").exists()  # the former run's evaluation is gone with it
    assert load_checkpoint(run / "last.pt")["meta"]["epoch"] == 2


def test_resume_applies_a_new_learning_rate_and_says_so(tmp_path, capsys, heat_file):
    cfg = _config(tmp_path, heat_file, epochs=2)
    assert _run(capsys, "train", cfg, "scheduler.name=none")[0] == 0
    code, _, err = _run(capsys, "train", cfg, "scheduler.name=none", "train.epochs=4", "optimizer.lr=1e-3", "--resume")
    assert code == 0, err
    assert "applied optimizer.kwargs.lr 0.003 -> 0.001; train.epochs 2 -> 4" in err
    rows = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    assert [r["lr"] for r in rows] == pytest.approx([3e-3, 3e-3, 1e-3, 1e-3])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["optimizer"]["kwargs"]["lr"] == 1e-3


def test_resume_with_more_epochs_stretches_the_cosine_schedule(tmp_path, capsys, heat_file):
    cfg = _config(tmp_path, heat_file, epochs=2)
    assert _run(capsys, "train", cfg)[0] == 0  # cosine over 2 epochs: ends at lr 0
    assert _run(capsys, "train", cfg, "train.epochs=5", "--resume")[0] == 0
    rows = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    lrs = [r["lr"] for r in rows]  # the rate each epoch trained with
    base = 3e-3
    closed = [base * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(2, 5)]
    # from the resumed epoch on, the rate is the closed-form cosine of a 5-epoch run: it decays to the new end
    # instead of wrapping around past the old T_max (3e-3 * [0.5, 0, 0.5, 1] before)
    assert lrs[2:] == pytest.approx(closed, rel=1e-9)
    assert all(a > b > 0 for a, b in zip(lrs[2:], lrs[3:]))


def test_a_refused_resume_writes_nothing(tmp_path, capsys, heat_file):
    cfg = _config(tmp_path, heat_file, epochs=1)
    assert _run(capsys, "train", cfg)[0] == 0
    run = tmp_path / "run"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    code, _, err = _run(capsys, "train", cfg, "model.kwargs.hidden_channels=16", "train.epochs=2", "--resume")
    assert code == 2
    assert "--resume cannot change model.kwargs.hidden_channels 8 -> 16" in _one_line(err)
    (run / "last.pt").write_bytes(before["last.pt"][:5000])  # a truncated checkpoint
    code, _, err = _run(capsys, "train", cfg, "train.epochs=2", "--resume")
    assert code == 2 and "truncated" in _one_line(err)
    (run / "last.pt").write_bytes(before["last.pt"])
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys, heat_file):
    code, _, err = _run(capsys, "train", _config(tmp_path, heat_file), "--resume")
    assert code == 2 and "--resume last: no checkpoint" in _one_line(err) and "train without --resume" in err
    assert not (tmp_path / "run").exists()


def test_divergence_names_the_good_checkpoint_and_resume_best_continues(tmp_path, capsys, heat_file):
    cfg = _config(tmp_path, heat_file, epochs=3)
    assert _run(capsys, "train", cfg, "optimizer.lr=1e-3")[0] == 0
    code, _, err = _run(capsys, "train", cfg, "optimizer.lr=1e6", "train.epochs=8", "--resume", "best")
    assert code == 2
    note, line = err.splitlines()  # what the resume applied, then the error
    assert note.startswith("sciml: resuming from") and "applied optimizer.kwargs.lr 0.001 -> 1000000.0" in note
    assert line.startswith("sciml: error: ")
    assert re.search(r"became (nan|inf|-inf) at epoch [4-8], step \d+", line), line
    assert f"the good checkpoint is {tmp_path / 'run' / 'best.pt'}: resume from it (sciml train CONFIG --resume best)" in line
    best = load_checkpoint(tmp_path / "run" / "best.pt")["meta"]
    assert all(math.isfinite(r["train_loss"]) for r in best["history"])
    code, _, err = _run(capsys, "train", cfg, "optimizer.lr=5e-4", "train.epochs=5", "--resume", "best")
    assert code == 0, err
    assert "resuming from" in err and "best.pt" in err


# ---------------------------------------------------------------- 3. eval


def test_eval_refuses_a_changed_data_file_unless_given_explicitly(tmp_path, capsys, heat_file):
    data = _copy(tmp_path, heat_file)
    assert _run(capsys, "train", _config(tmp_path, data, epochs=1))[0] == 0
    other = _copy(tmp_path, heat_file, "other.h5")
    with h5py.File(other, "r+") as f:
        f.attrs["content_sha256"] = "0" * 64  # another file's checksum
    os.replace(other, data)  # the training file was replaced after training
    code, _, err = _run(capsys, "eval", tmp_path / "run")
    assert code == 2 and "changed after training" in _one_line(err) and f"pass --data {data}" in err


def test_eval_from_another_directory_and_into_out(tmp_path, capsys, heat_file, monkeypatch):
    data = _copy(tmp_path, heat_file)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    cfg = {
        "data": {"path": "../data.h5"},  # relative to where sciml train runs
        "model": {"name": "fno", "kwargs": {"n_modes": [8], "hidden_channels": 8, "n_layers": 2}},
        "train": {"epochs": 1, "batch_size": 16, "run_dir": "run", "progress": False},
    }
    Path("cfg.json").write_text(json.dumps(cfg))
    code, out, err = _run(capsys, "train", "cfg.json")
    assert code == 0, err
    trained = json.loads(out[: out.rindex("}") + 1])
    assert json.loads(Path("run/config.json").read_text())["data"]["path"] == str(data.resolve())
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in (tmp_path / "work" / "run").iterdir())
    code, out, err = _run(capsys, "eval", "work/run", "--out", "evaluated")
    assert code == 0, err
    assert json.loads(out)["test_relative_l2"] == pytest.approx(trained["test_relative_l2"], rel=1e-6)
    assert f"to {Path('evaluated')}" in err
    assert {"eval_test_metrics.json", "predictions.png"} <= {p.name for p in (tmp_path / "evaluated").iterdir()}
    assert sorted(p.name for p in (tmp_path / "work" / "run").iterdir()) == before  # the run is read only


# ---------------------------------------------------------------- 4. one line, never a traceback


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "generate", "burgers1d", "--n", "2", "--out", "{tmp}/x.h5", "nu=abc"],
         "generator 'burgers1d' parameter nu expects a number (default 0.01), got 'abc'"),
        (["data", "generate", "burgers1d", "--n", "2", "--out", "{tmp}/x.h5", "n_times=2.5"],
         "generator 'burgers1d' parameter n_times expects an integer (default 11), got 2.5"),
        (["train", "{cfg}", "optimizer.lr=-1"], "optimizer.kwargs.lr' must be positive, got -1"),
        (["train", "{tmp}"], "is a directory, not a config file"),
    ],
)
def test_wrong_types_and_paths_are_one_line_errors(tmp_path, capsys, heat_file, argv, message):
    cfg = _config(tmp_path, heat_file)
    argv = [a.format(tmp=tmp_path, cfg=cfg) for a in argv]
    code, out, err = _run(capsys, *argv)
    assert code == 2 and message in _one_line(err), err
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "run").exists()


def test_version_and_a_closed_pipe(tmp_path):
    from sciml import __version__

    version = subprocess.run([sys.executable, "-m", "sciml.cli", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == f"sciml {__version__}"
    # `sciml list | head -1`: the reader closes the pipe early
    first = subprocess.run([sys.executable, "-m", "sciml.cli", "list"], capture_output=True, text=True).stdout
    piped = subprocess.run(
        f"{sys.executable} -m sciml.cli list | head -1", shell=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert piped.returncode == 0 and piped.stdout == first.splitlines(keepends=True)[0]
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr


# ---------------------------------------------------------------- 5. leftovers of a killed generation


def test_the_rerun_of_a_killed_generation_removes_its_temporary_file(tmp_path):
    out = tmp_path / "burgers.h5"
    cmd = [sys.executable, "-m", "sciml.cli", "data", "generate", "burgers1d", "--n", "256", "--batch-size", "8",
           "--out", str(out), "resolution=64"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".burgers.h5.*.tmp")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the generation ended before it could be killed: make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = list(tmp_path.glob(".burgers.h5.*.tmp"))
    assert left and not out.exists()  # the kill left the temporary file, and no finished-looking file
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert not list(tmp_path.glob(".burgers.h5.*.tmp")), sorted(p.name for p in tmp_path.iterdir())
    assert out.exists()


# ---------------------------------------------------------------- 6. journeys: logs, help


def test_a_run_logged_to_a_file_prints_a_line_per_epoch(tmp_path, heat_file):
    cfg = _config(tmp_path, heat_file, epochs=2)
    data = json.loads(cfg.read_text())
    data["train"].pop("progress")  # the default: a bar on a terminal, lines in a log
    cfg.write_text(json.dumps(data))
    log = tmp_path / "train.log"
    with open(log, "w") as fh:  # stderr is a file, not a terminal
        done = subprocess.run([sys.executable, "-m", "sciml.cli", "train", str(cfg)], stderr=fh, stdout=subprocess.PIPE,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert done.returncode == 0
    lines = [line for line in log.read_text().splitlines() if line.startswith("epoch ")]
    rows = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    assert [line.split(":")[0] for line in lines] == [f"epoch {r['epoch']}/2, step {r['step']}" for r in rows]
    assert f"train_loss={rows[-1]['train_loss']:.4g}" in lines[-1] and "val_loss=" in lines[-1]


def test_help_lists_the_generators_presets_and_config_keys(capsys):
    with pytest.raises(SystemExit):
        main(["data", "generate", "--help"])
    generate = capsys.readouterr().out
    assert "burgers1d:" in generate and "nu=0.01" in generate and "navier_stokes2d:" in generate
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    train = capsys.readouterr().out
    assert "presets: " in train and "burgers_fno" in train and "node_digits" in train
    assert re.search(r"train: epochs, max_steps, eval_every, phases", train)
