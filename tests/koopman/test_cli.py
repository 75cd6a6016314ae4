"""``sciml koopman fit`` / ``sciml koopman forecast`` end to end on files the tests write themselves."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg

from sciml.cli import main
from sciml.core.estimator import load_estimator
from sciml.data import Provenance, write_trajectories
from sciml.data.schema import open_h5
from sciml.koopman import pendulum_trajectories


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def linear_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "linear.h5"
    assert main(["data", "generate", "linear_ode", "--n", "20", "--out", str(path), "dim=3", "n_times=41", "dt=0.1",
                 "matrix_seed=2", "--no-progress"]) == 0
    return path


@pytest.fixture(scope="module")
def pendulum_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "pendulum.h5"
    x = pendulum_trajectories(20, 200, seed=1)
    write_trajectories(path, x, np.arange(200) * 0.5, Provenance("user", {"system": "pendulum"}), dt=0.5)
    return path


def _exact(path):
    with open_h5(path) as f:
        params = json.loads(f.attrs["params"])
        dt = float(f.attrs["dt"])
    return np.linalg.eigvals(scipy.linalg.expm(np.array(params["matrix"]) * dt))


def test_fit_writes_koopman_json_the_estimator_and_plots(tmp_path, capsys, linear_file):
    out = tmp_path / "edmd"
    code, stdout, err = _run(capsys, "koopman", "fit", "--data", linear_file, "--method", "edmd",
                             "--dictionary", "monomial:1", "--out", out)
    assert code == 0, err
    record = json.loads((out / "koopman.json").read_text())
    with open_h5(linear_file) as f:
        sha = str(f.attrs["content_sha256"])
    assert record["method"] == "edmd" and record["dictionary"] == "monomial:1"
    assert record["data"]["content_sha256"] == sha and record["data"]["split"] == "train"
    lam = np.array([complex(re, im) for re, im in record["eigenvalues"]])
    exact = np.r_[1.0, _exact(linear_file)]
    # one-to-one: each exact eigenvalue has a distinct fitted one within 1e-10 (exact data, monomial:1 span)
    dist = np.abs(lam[:, None] - exact[None])
    assert dist.shape == (4, 4) and sorted(dist.argmin(axis=0).tolist()) == [0, 1, 2, 3]
    assert dist.min(axis=0).max() <= 1e-10
    assert len(record["residuals"]) == 4 and max(record["residuals"]) <= 1e-10 and record["kept"] is None
    assert record["metrics"]["test_forecast_rel_l2"] < 1e-9 < 0.1 < record["metrics"]["test_persistence_forecast_rel_l2"]
    assert record["plots"] == ["spectrum.png"] and (out / "spectrum.png").stat().st_size > 10_000
    est = load_estimator(out / "estimator")
    assert est.training_data["content_sha256"] == sha
    np.testing.assert_array_equal(est.eigenvalues_, lam)
    assert "wrote" in stdout and json.loads(stdout[: stdout.rindex("}") + 1])["n_eigenvalues"] == 4

    code, stdout, err = _run(capsys, "koopman", "forecast", out, "--data", linear_file)
    assert code == 0, err
    forecast = json.loads(stdout)
    assert forecast["data"]["split"] == "test" and forecast["context"] == 1 and forecast["horizon"] == 40
    assert forecast["forecast_rel_l2"] < 1e-9
    saved = np.load(out / "forecast.npz")
    assert saved["prediction"].shape == saved["truth"].shape == (2, 40, 3)
    assert (out / "forecast.png").stat().st_size > 10_000 and json.loads((out / "forecast.json").read_text())


def test_resdmd_records_every_candidate_with_kept_flags(tmp_path, capsys, pendulum_file):
    out = tmp_path / "res"
    code, _, err = _run(capsys, "koopman", "fit", "--data", pendulum_file, "--method", "resdmd",
                        "--dictionary", "legendre:6", "--epsilon", "0.1", "--out", out)
    assert code == 0, err
    record = json.loads((out / "koopman.json").read_text())
    lam = np.array([complex(*p) for p in record["eigenvalues"]])
    kept = np.array(record["kept"])
    res = np.array(record["residuals"])
    assert lam.size == res.size == kept.size == 28 and record["epsilon"] == 0.1
    np.testing.assert_array_equal(kept, res <= 0.1)
    assert kept.sum() >= 1 and np.abs(np.abs(lam[kept]) - 1).max() <= 0.1
    est = load_estimator(out / "estimator")
    np.testing.assert_array_equal(est.candidate_eigenvalues_, lam)
    assert set(record["plots"]) == {"spectrum.png", "eigenfunctions.png"}


@pytest.mark.parametrize(("method", "dictionary", "extra"), [
    ("kedmd", "polynomial:2", []),
    ("hankel_dmd", "delay:6", []),
    ("havok", "delay:8", ["--rank", "3"]),
    ("dmd", None, []),
])
def test_every_method_fits_and_forecasts(tmp_path, capsys, linear_file, method, dictionary, extra):
    out = tmp_path / method
    spec = [] if dictionary is None else ["--dictionary", dictionary]
    code, _, err = _run(capsys, "koopman", "fit", "--data", linear_file, "--method", method, *spec, *extra, "--out", out)
    assert code == 0, err
    record = json.loads((out / "koopman.json").read_text())
    assert record["method"] == method and record["eigenvalues"]
    if method == "havok":
        assert record["residuals"] is None and "forcing.png" in record["plots"]
    code, stdout, err = _run(capsys, "koopman", "forecast", out, "--data", linear_file, "--horizon", "5")
    assert code == 0, err
    record = json.loads(stdout)
    assert record["horizon"] == 5 and record["context"] == (int(dictionary[6:]) if method in ("hankel_dmd", "havok") else 1)
    if method != "havok":  # exact linear data; HAVOK's rank 3 drops a mode on purpose
        assert record["forecast_rel_l2"] < 1e-8


def test_bad_input_exits_2_with_one_line(tmp_path, capsys, linear_file):
    short = tmp_path / "short.h5"
    write_trajectories(short, np.random.default_rng(0).standard_normal((10, 6, 2)), np.arange(6) * 0.1,
                       Provenance("user"), dt=0.1)
    # NaN snapshots cannot reach a file (the schema writer refuses them); test_bad_input.py covers arrays
    cases = [
        (["--data", linear_file, "--method", "edmd", "--dictionary", "monomail:3"],
         "unknown dictionary 'monomail:3' (did you mean 'monomial'?)"),
        (["--data", short, "--method", "edmd", "--dictionary", "monomial:8"], "has K=45 functions but the data give only M=40 snapshot pairs"),
        (["--data", short, "--method", "hankel_dmd", "--dictionary", "delay:9"],
         "a delay of 9 states needs trajectories of at least 10 states, got T=6"),
        (["--data", linear_file, "--method", "edmdd"], "unknown method 'edmdd' (did you mean 'edmd'?)"),
        (["--data", linear_file, "--method", "edmd", "--epsilon", "0.1"], "--epsilon is ResDMD's residual threshold"),
        (["--data", linear_file, "--method", "havok", "--dictionary", "rbf:10"], "pass --dictionary delay:d"),
        (["--data", tmp_path / "missing.h5", "--method", "edmd"], "no data file"),
        (["--data", linear_file, "--method", "edmd", "--rank", "abc"], "--rank 'abc' is not a number"),
    ]
    for args, message in cases:
        out = tmp_path / "out"
        code, stdout, err = _run(capsys, "koopman", "fit", *args, "--out", out)
        assert code == 2 and stdout == "" and err.count("\n") == 1, (args, err)
        assert message in err, (args, err)
        assert not (out / "koopman.json").exists()
    code, _, err = _run(capsys, "koopman", "forecast", tmp_path, "--data", linear_file)
    assert code == 2 and "is not a 'sciml koopman fit' directory" in err and err.count("\n") == 1
