"""DMD through ``sciml train`` and ``sciml eval``: the estimator seam end to end on an exact linear system."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg

from sciml.cli import main
from sciml.data.schema import open_h5


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def linear_file(tmp_path, capsys):
    path = tmp_path / "linear.h5"
    code, _, err = _run(capsys, "data", "generate", "linear_ode", "--n", "20", "--out", str(path),
                        "dim=4", "n_times=31", "dt=0.1", "matrix_seed=3")
    assert code == 0, err
    return path


def test_dmd_trained_saved_loaded_and_evaluated_through_the_cli(tmp_path, capsys, linear_file):
    run = tmp_path / "run"
    config = tmp_path / "dmd.yaml"
    config.write_text(
        f"task: koopman\ndata: {{path: {linear_file}, kind: trajectories}}\n"
        f"koopman: {{estimator: {{name: dmd}}}}\ntrain: {{run_dir: {run}}}\n"
    )
    code, out, err = _run(capsys, "train", str(config))
    assert code == 0, err
    test = json.loads(out[: out.rindex("}") + 1])

    with open_h5(linear_file) as f:
        params = json.loads(f.attrs["params"])
        dt = float(f.attrs["dt"])
    exact = np.linalg.eigvals(scipy.linalg.expm(np.array(params["matrix"]) * dt))
    saved = json.loads((run / "estimator.json").read_text())
    arrays = np.load(run / "arrays.npz")
    learned = arrays["eigenvalues_"]

    def by_angle(z):
        return z[np.lexsort((z.imag, z.real))]

    # float64 snapshots of an exact linear map: the eigenvalues agree to round-off (1e-10 leaves 1e5 eps of margin)
    assert learned.shape == exact.shape
    assert np.max(np.abs(by_angle(learned) - by_angle(exact))) <= 1e-10
    assert saved["estimator"] == "dmd" and saved["training_data"]["content_sha256"]
    # the free-running forecast of an exact linear map is exact; persistence is far off on the same split
    assert test["test_forecast_rel_l2"] <= 1e-10 < 1e-2 < test["test_persistence_forecast_rel_l2"]
    assert (run / "eigenvalues.png").stat().st_size > 0 and (run / "forecast.png").stat().st_size > 0

    code, out, err = _run(capsys, "eval", str(run))
    assert code == 0, err
    evaluated = json.loads(out)
    # the same estimator rebuilt from its files on the same split: the same metrics, same process
    assert evaluated["test_forecast_rel_l2"] == test["test_forecast_rel_l2"]
    assert evaluated["test_persistence_forecast_rel_l2"] == test["test_persistence_forecast_rel_l2"]


def test_bad_estimator_configs_are_one_line_errors(tmp_path, capsys, linear_file):
    run = tmp_path / "run"
    base = f"task: koopman\ndata: {{path: {linear_file}, kind: trajectories}}\ntrain: {{run_dir: {run}}}\n"
    config = tmp_path / "dmd.yaml"
    config.write_text(base)
    for override, message in [
        ("koopman.estimator.name=dmdd", "unknown estimator 'dmdd' (did you mean 'dmd'"),
        ("koopman.estimator.kwargs.rnak=2", "rnak"),
        ("koopman.estimatr.name=dmd", "names unknown section 'koopman.estimatr'; valid: estimator"),
        ("data.options.history=3", "data.options ['history'] are not read by task koopman"),
    ]:
        code, out, err = _run(capsys, "train", str(config), override)
        assert code == 2 and out == "" and err.count("\n") == 1, (override, err)
        assert message in err, (override, err)
        assert not run.exists()  # nothing written by a refused command


@pytest.mark.parametrize(("name", "kwargs"), [
    ("edmd", "{dictionary: 'monomial:1'}"),
    ("resdmd", "{dictionary: 'monomial:1', epsilon: 0.01}"),
    ("kedmd", "{kernel: 'polynomial:1'}"),
    ("hankel_dmd", "{delays: 6}"),
    ("havok", "{delays: 6, rank: 4}"),
])
def test_every_koopman_estimator_runs_through_sciml_train_and_eval(tmp_path, capsys, linear_file, name, kwargs):
    run = tmp_path / "run"
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        f"task: koopman\ndata: {{path: {linear_file}, kind: trajectories}}\n"
        f"koopman: {{estimator: {{name: {name}, kwargs: {kwargs}}}}}\ntrain: {{run_dir: {run}}}\n"
    )
    code, out, err = _run(capsys, "train", str(config))
    assert code == 0, err
    test = json.loads(out[: out.rindex("}") + 1])
    # exact linear data: the lifted estimators forecast the test split to round-off, far below persistence
    # (HAVOK closes its forcing by regression, exact here too)
    assert test["test_forecast_rel_l2"] <= 1e-8 < 1e-2 < test["test_persistence_forecast_rel_l2"], test
    assert (run / "eigenvalues.png").stat().st_size > 0 and (run / "forecast.png").stat().st_size > 0
    code, out, err = _run(capsys, "eval", str(run))
    assert code == 0, err
    assert json.loads(out)["test_forecast_rel_l2"] == test["test_forecast_rel_l2"]
