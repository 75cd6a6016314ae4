"""``sciml bench``: an installed benchmark end to end through the CLI, resume, the list, and bad input."""

from __future__ import annotations

import json

import pytest

from sciml.bench import BENCHMARKS, load_benchmark
from sciml.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_trainer_overhead_runs_through_the_cli_and_resumes_by_repetition(tmp_path, capsys):
    out = tmp_path / "results"
    code, stdout, err = _run(capsys, "bench", "trainer_overhead", "--preset", "tiny", "--out", str(out))
    assert code == 0, err
    payload = json.loads((out / "trainer_overhead.json").read_text())
    assert payload["benchmark"] == "trainer_overhead" and payload["complete"] is True
    assert payload["command"] == f"sciml bench trainer_overhead --preset tiny --out {out}"
    assert {"sciml", "torch", "cpu_count"} <= set(payload["environment"]) and payload["environment"][
        "executor"
    ] == "serial"
    assert payload["settings"]["preset"] == "tiny" and payload["failed"] == []
    assert [r["repeat"] for r in payload["repeats"]] == [0, 1, 2]
    rows = {r["method"]: r for r in payload["rows"]}
    assert list(rows) == ["bare_loop", "sciml_trainer", "neuralop_trainer"]
    # 3 repetitions x (2 epochs, the first dropped as warm-up)
    assert all(r["epochs_timed"] == 3 and len(r["per_repeat_seconds_per_epoch"]) == 3 for r in rows.values())
    assert rows["bare_loop"]["ratio_vs_bare"] == 1.0
    # the two DataLoader loops see the same batches from the same weights: the same losses
    assert rows["bare_loop"]["final_train_loss"] == pytest.approx(
        rows["neuralop_trainer"]["final_train_loss"], abs=2e-5
    )
    (target,) = payload["targets"]
    assert target["measured"] == rows["sciml_trainer"]["ratio_vs_bare"] and target["met"] == (
        target["measured"] <= 1.05
    )
    assert (
        "ratio vs bare (min / median / max of repeats)" in stdout
        and (out / "trainer_overhead.png").stat().st_size > 5000
    )
    # --resume: every repetition is in the file, none runs again, the summary is the same
    code, stdout, err = _run(capsys, "bench", "trainer_overhead", "--preset", "tiny", "--out", str(out), "--resume")
    assert code == 0, err
    assert "repeat 1/3" not in stdout
    again = json.loads((out / "trainer_overhead.json").read_text())
    assert again["rows"] == payload["rows"] and again["repeats"] == payload["repeats"]
    # another preset's file is not resumed from
    code, _, err = _run(capsys, "bench", "trainer_overhead", "--preset", "quick", "--out", str(out), "--resume")
    assert code == 2 and "other settings (preset:" in err and len(err.strip().splitlines()) == 1


def test_bench_list_names_every_installed_benchmark_with_its_presets(capsys):
    code, out, _ = _run(capsys, "bench", "--list")
    assert code == 0
    for name in BENCHMARKS.names():
        line = next(line for line in out.splitlines() if line.split()[:1] == [name])
        module = load_benchmark(name)
        assert all(p in line for p in getattr(module, "PRESETS", {})), line
    assert {"operators", "nde_regularization", "trainer_overhead", "generators", "operators_variants"} <= set(
        BENCHMARKS.names()
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bench", "operatros"], "unknown benchmark 'operatros' (did you mean 'operators'"),
        (["bench", "trainer_overhead", "--executor", "threads:2"], "unknown executor spec 'threads:2' (--executor)"),
        (["bench", "trainer_overhead", "--preset", "huge"], "argument --preset: invalid choice: 'huge'"),
        (["bench", "nde_regularization", "--tasks", "digts"], "unknown task digts (--tasks)"),
        (["bench", "operators_variants", "nope.yaml"], "spec nope.yaml does not exist"),
    ],
    ids=["benchmark", "executor", "preset", "task", "spec"],
)
def test_bad_bench_input_is_one_line_and_exit_code_2(capsys, tmp_path, argv, message):
    code, out, err = _run(capsys, *argv, *(["--out", str(tmp_path)] if len(argv) > 2 else []))
    assert code == 2 and message in err and err.startswith("sciml: error: ")
    assert len(err.strip().splitlines()) == 1 and not list(tmp_path.iterdir())
