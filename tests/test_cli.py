"""The CLI end to end, and bad input: one line on stderr naming the problem and the fix, exit code 2, no half file."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from sciml.cli import main
from tests.data.test_schema import _corrupt_one_byte_of_u


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _config(tmp_path, data, **train):
    cfg = {
        "data": {"path": str(data)},
        "model": {"name": "fno", "kwargs": {"n_modes": [8], "hidden_channels": 8, "n_layers": 2}},
        "train": {"epochs": 2, "batch_size": 16, "run_dir": str(tmp_path / "run"), "progress": False, **train},
    }
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    return path


def test_train_eval_and_info_end_to_end(tmp_path, capsys, heat_file):
    code, out, _ = _run(capsys, "data", "info", str(heat_file))
    assert code == 0 and "kind=fields, 64 samples" in out and "(verified)" in out
    cfg = _config(tmp_path, heat_file)
    code, out, err = _run(capsys, "train", str(cfg), "train.epochs=3", "optimizer.lr=5e-3")
    assert code == 0, err
    test = json.loads(out[: out.rindex("}") + 1])
    run = tmp_path / "run"
    assert {"best.pt", "last.pt", "metrics.csv", "config.json", "predictions.png", "loss.png"} <= {p.name for p in run.iterdir()}
    assert json.loads((run / "config.json").read_text())["train"]["epochs"] == 3
    # eval rebuilds the model from the checkpoint alone and reproduces the test metrics
    code, out, err = _run(capsys, "eval", str(run))
    assert code == 0, err
    again = json.loads(out)
    assert again["test_relative_l2"] == pytest.approx(test["test_relative_l2"], rel=1e-5)
    # --data evaluates a whole other file (here the same one: all 64 samples, train split included)
    code, out, err = _run(capsys, "eval", str(run), "--data", str(heat_file))
    assert code == 0, err
    whole = json.loads(out)
    assert "all_relative_l2" in whole and whole["all_relative_l2"] > 0
    code, out, _ = _run(capsys, "list")
    assert code == 0 and "fno" in out and "burgers1d" in out and "relative_l2" in out and "supervised" in out


def _damaged(tmp_path, heat_file, damage):
    path = tmp_path / "damaged.h5"
    path.write_bytes(heat_file.read_bytes())
    if damage == "not_hdf5":
        path.write_text("not,hdf5\n")
    elif damage == "truncated":
        path.write_bytes(heat_file.read_bytes()[:3000])
    elif damage == "flipped_byte":
        _corrupt_one_byte_of_u(path)
    elif damage == "schema_version":
        with h5py.File(path, "r+") as f:
            f.attrs["sciml_schema"] = 7
    elif damage == "missing_key":
        with h5py.File(path, "r+") as f:
            del f["t"]
    elif damage == "nan":
        with h5py.File(path, "r+") as f:
            f["u"][5, 1, 0, 2] = np.inf
    return path


BAD_FILES = [
    ("missing", "data file not found: .*nope.h5; check the path"),
    ("not_hdf5", "is not an HDF5 file .*; pass a file written by sciml"),
    ("truncated", "is truncated .*; regenerate or re-copy it"),
    ("flipped_byte", "checksum mismatch reading 'u' .*regenerate or re-copy it"),
    ("schema_version", "uses sciml schema version 7, this sciml reads versions? 1( and 2)?; regenerate"),
    ("missing_key", "missing the dataset 't' .*regenerate it"),
    ("nan", r"non-finite values \(NaN/inf\) in 'u' at sample 5"),
]


@pytest.mark.parametrize("damage, message", BAD_FILES)
def test_bad_data_files(tmp_path, capsys, heat_file, damage, message):
    path = tmp_path / "nope.h5" if damage == "missing" else _damaged(tmp_path, heat_file, damage)
    code, out, err = _run(capsys, "data", "info", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("sciml: error: ")
    assert __import__("re").search(message, err), err


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["train.epochs=ten"], "config field 'train.epochs' expects int, got 'ten' .*fix the value"),
        (["model.name=fnoo"], r"unknown model 'fnoo' \(did you mean 'fno'.*\?\); valid names: .*fno"),
        (["train.epochs"], "malformed override 'train.epochs'; write it as key.sub=value"),
        (["model.kwargs.in_channels=3"], "model 'fno' has in_channels=3 but the data has 1 channels; set model.kwargs.in_channels=1"),
        (["model.kwargs.n_modes=[8, 8]"], "model 'fno' is 2-D .* but the data is 1-D"),
        (["model.kwargs.n_modes=[40]"], r"keeps 40 Fourier modes \(\|k\| <= 20\) but the data resolution 32 resolves \|k\| <= 16; lower n_modes"),
        (["data.path=missing.h5"], "data file not found"),
        (["train.device=cuda:7"] if not __import__("torch").cuda.is_available() else ["train.batch_size=0"], "cuda|batch_size"),
    ],
)
def test_bad_configs(tmp_path, capsys, heat_file, overrides, message):
    cfg = _config(tmp_path, heat_file)
    code, out, err = _run(capsys, "train", str(cfg), *overrides)
    assert code == 2, err
    assert err.count("\n") == 1 and __import__("re").search(message, err), err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_bad_generate_calls_leave_no_file(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    cases = [
        (["data", "generate", "burgers1d", "--n", "2", "--out", str(blocker / "x.h5")], "not writable .*choose another output path"),
        (["data", "generate", "burgerz", "--n", "2", "--out", str(tmp_path / "x.h5")], r"unknown generator 'burgerz' \(did you mean 'burgers1d'"),
        (["data", "generate", "burgers1d", "--n", "2", "--out", str(tmp_path / "x.h5"), "viscosity=0.1"], "no parameter 'viscosity'.*valid parameters: .*nu"),
        (["data", "generate", "burgers1d", "--n", "2", "--out", str(tmp_path / "x.h5"), "nu=-1"], "nu"),
    ]
    for argv, message in cases:
        code, _, err = _run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1, err
        assert __import__("re").search(message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_real_entry_point_exit_code_and_debug(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sciml", "data", "info", str(tmp_path / "none.h5")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("sciml: error: data file not found")
    proc = subprocess.run([sys.executable, "-m", "sciml", "--debug", "data", "info", str(tmp_path / "none.h5")], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_train_and_eval_an_autoregressive_rollout_model(tmp_path, capsys):
    # windows of 2 snapshots in, 3 out; the model predicts one snapshot per call (the objective says so)
    data = tmp_path / "burgers.h5"
    code, _, err = _run(capsys, "data", "generate", "burgers1d", "--n", "24", "--resolution", "32", "--out", str(data), "n_times=8", "nu=0.05")
    assert code == 0, err
    cfg = {
        "data": {"path": str(data), "options": {"mode": "window", "history": 2, "horizon": 3, "stride": 1}},
        "model": {"name": "fno", "kwargs": {"n_modes": [8], "hidden_channels": 8, "n_layers": 2}},
        "train": {"epochs": 15, "batch_size": 16, "run_dir": str(tmp_path / "run"), "progress": False,
                  "objective": {"name": "rollout", "mode": "unrolled"}},
        "optimizer": {"lr": 5e-3},
    }
    path = tmp_path / "rollout.json"
    path.write_text(json.dumps(cfg))
    code, out, err = _run(capsys, "train", str(path))
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"]["kwargs"]["out_channels"] == 1 and saved["model"]["kwargs"]["in_channels"] == 2
    test = json.loads(out[: out.rindex("}") + 1])
    assert 0 < test["test_relative_l2"] < 0.3  # 3-step rollout error (0.13 measured; an untrained model gives 1.0)
    code, out, err = _run(capsys, "eval", str(tmp_path / "run"))
    assert code == 0, err
    assert json.loads(out)["test_relative_l2"] == pytest.approx(test["test_relative_l2"], rel=1e-5)


def test_train_a_neural_ode_on_trajectories(tmp_path, capsys, trajectory_file):
    # whole trajectories of a harmonic oscillator; the state dimension comes from the data
    cfg = {
        "data": {"path": str(trajectory_file), "kind": "trajectories", "fractions": [0.5, 0.17, 0.33], "normalize": False},
        "model": {"name": "neural_ode", "kwargs": {"hidden": 16, "backend": "sciml", "rtol": 1e-4, "atol": 1e-6}},
        "optimizer": {"name": "adam", "lr": 1e-2, "weight_decay": 0.0},
        "scheduler": {"name": "none"},
        "train": {"epochs": 60, "batch_size": 3, "run_dir": str(tmp_path / "run"), "progress": False, "metrics": [],
                  "objective": {"name": "node_regression"}},
    }
    path = tmp_path / "node.json"
    path.write_text(json.dumps(cfg))
    code, out, err = _run(capsys, "train", str(path))
    assert code == 0, err
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["kwargs"]["dim"] == 2
    assert history[-1]["train_task_loss"] < 0.4 * history[0]["train_task_loss"]  # measured 2.70 -> 0.77
    assert history[-1]["train_nfe"] > 0  # the solver's statistics reach the log
    code, out, err = _run(capsys, "eval", str(tmp_path / "run"))
    assert code == 0, err
    assert "test_loss" in json.loads(out), out
