"""``sciml bench generators_chaos``: the speed comparison against dysts on a tiny preset, resume, the Lyapunov check.

The tiny preset integrates Lorenz (an ordinary flow) and MackeyGlass (a delay equation) for
two periods: 8 trajectories, one timed and checked against the reference per system.
"""

from __future__ import annotations

import json

import numpy as np

from sciml.cli import main
from sciml.systems import system_metadata


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_speed_rows_compare_the_same_pair_against_one_reference_and_resume(tmp_path, capsys):
    out = tmp_path / "res"
    code, stdout, err = _run(capsys, "bench", "generators_chaos", "--preset", "tiny", "--out", str(out))
    assert code == 0, err
    payload = json.loads((out / "generators_chaos.json").read_text())
    assert payload["complete"] and payload["failed"] == [] and payload["systems_done"] == 2
    rows = {(r["case"], r["method"]): r for r in payload["rows"]}
    assert list(rows) == [
        ("Lorenz", "sciml_batched"),
        ("Lorenz", "dysts_rk45"),
        ("MackeyGlass", "sciml_batched"),
        ("MackeyGlass", "dysts_ddeint"),
    ]
    ours, theirs = rows["Lorenz", "sciml_batched"], rows["Lorenz", "dysts_rk45"]
    # the same Dormand-Prince pair at rtol = atol = 1e-9 against DOP853 at 1e-12: errors of
    # the order of the tolerance, equal up to the rounding of the step sequences
    assert 1e-11 < ours["error_1lyap"] < 1e-7 and 0.5 < ours["error_1lyap"] / theirs["error_1lyap"] < 2.0
    # dysts' delay integrator takes no tolerance (VODE at its defaults, the state held between
    # outputs); ours meets rtol against 16x finer RK4 steps
    mg_ours, mg_theirs = rows["MackeyGlass", "sciml_batched"], rows["MackeyGlass", "dysts_ddeint"]
    assert mg_ours["error_full"] < 1e-7 < mg_theirs["error_full"]
    # the targets restate the rows: total speed-up and the median error ratio over systems
    speed, ratio = payload["targets"]
    total = sum(r["seconds"] for r in payload["rows"] if r["method"] != "sciml_batched")
    assert np.isclose(speed["measured"], total / payload["totals"]["sciml_batched_seconds"], rtol=1e-12)
    expected = np.median(
        [ours["error_1lyap"] / theirs["error_1lyap"], mg_ours["error_1lyap"] / mg_theirs["error_1lyap"]]
    )
    assert np.isclose(ratio["measured"], expected, rtol=1e-12) and ratio["met"] == (expected <= 1.1)
    assert (out / "generators_chaos.png").stat().st_size > 10_000
    # resumed: nothing runs again, the rows (timings included) are those of the file
    code, stdout, err = _run(capsys, "bench", "generators_chaos", "--preset", "tiny", "--out", str(out), "--resume")
    assert code == 0, err
    assert "Lorenz  " not in stdout and "dysts  " not in stdout
    assert json.loads((out / "generators_chaos.json").read_text())["rows"] == payload["rows"]


def test_lyapunov_check_rows_restate_both_catalogue_values(tmp_path, capsys):
    out = tmp_path / "res"
    argv = ["bench", "generators_chaos", "--preset", "tiny", "--no-speed", "--lyapunov", "--systems", "MackeyGlass"]
    code, stdout, err = _run(capsys, *argv, "--out", str(out))
    assert code == 0, err
    assert not (out / "generators_chaos.json").exists()
    payload = json.loads((out / "generators_chaos_lyapunov.json").read_text())
    (row,) = payload["rows"]
    meta = system_metadata("MackeyGlass")
    catalogue, qr = meta["maximum_lyapunov_estimated"], meta["lyapunov_spectrum_estimated"][0]
    assert row["catalogue"] == catalogue and row["catalogue_qr"] == qr
    assert row["relative_difference"] == abs(row["estimate"] - catalogue) / abs(catalogue)
    assert row["within_15pct"] == (row["relative_difference"] <= 0.15)
    # a chaotic delay equation: positive, and resolved to a few standard errors
    assert row["estimate"] > 3 * row["standard_error"] > 0
    share = payload["targets"][0]
    assert share["measured"] == float(row["within_15pct"]) and payload["outside_15pct"] == (
        [] if row["within_15pct"] else ["MackeyGlass"]
    )


def test_bad_input_is_one_line_with_exit_code_2(tmp_path, capsys):
    base = ["bench", "generators_chaos", "--preset", "tiny", "--out", str(tmp_path)]
    code, _, err = _run(capsys, *base, "--systems", "Lorenx")
    assert code == 2 and "Lorenz" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, *base, "--no-speed")
    assert code == 2 and "--no-speed needs --lyapunov" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "generators_chaos.json").exists()
