"""An interrupted generation resumes from its finished batches and writes the same bytes."""

from __future__ import annotations

import pytest

from sciml.core.errors import DataError
from sciml.data import generators
from sciml.data.generators import navier_stokes

SMALL = {"n": 4, "batch_size": 2, "resolution": 16, "nu": 1e-3, "t_final": 0.2, "n_times": 2, "seed": 3}


def test_killed_generation_resumes_to_the_same_checksum(tmp_path, monkeypatch):
    reference = generators.generate("navier_stokes2d", tmp_path / "ref.h5", **SMALL)

    out = tmp_path / "run.h5"
    real_solve = navier_stokes.solve_navier_stokes
    calls = []

    def dying_solve(*args, **kwargs):
        calls.append(kwargs["first_index"])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is stopped during the second batch
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(navier_stokes, "solve_navier_stokes", dying_solve)
    with pytest.raises(KeyboardInterrupt):
        generators.generate("navier_stokes2d", out, **SMALL)
    assert not out.exists()
    cache_dir = tmp_path / ".run.h5.batches"
    assert sorted(p.name for p in cache_dir.glob("*.npz")) == ["000000000.npz"]

    calls.clear()
    monkeypatch.setattr(
        navier_stokes, "solve_navier_stokes", lambda *a, **k: (calls.append(k["first_index"]), real_solve(*a, **k))[1]
    )
    digest = generators.generate("navier_stokes2d", out, **SMALL)
    assert calls == [2]  # the first batch came from the cache
    assert digest == reference
    assert not cache_dir.exists()


def test_cache_of_other_settings_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "run.h5"

    def dying_solve(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(navier_stokes, "solve_navier_stokes", dying_solve)
    with pytest.raises(KeyboardInterrupt):
        generators.generate("navier_stokes2d", out, **SMALL)
    with pytest.raises(DataError, match=r"different call .*nu.*delete that directory"):
        generators.generate("navier_stokes2d", out, **{**SMALL, "nu": 2e-3})
    assert not out.exists()


def test_damaged_batch_is_recomputed(tmp_path, monkeypatch):
    reference = generators.generate("navier_stokes2d", tmp_path / "ref.h5", **SMALL)
    out = tmp_path / "run.h5"
    real_solve = navier_stokes.solve_navier_stokes

    def dying_solve(*args, **kwargs):
        if kwargs["first_index"] == 2:
            raise KeyboardInterrupt
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(navier_stokes, "solve_navier_stokes", dying_solve)
    with pytest.raises(KeyboardInterrupt):
        generators.generate("navier_stokes2d", out, **SMALL)
    batch = tmp_path / ".run.h5.batches" / "000000000.npz"
    batch.write_bytes(batch.read_bytes()[:100])  # truncated by a full disk
    monkeypatch.setattr(navier_stokes, "solve_navier_stokes", real_solve)
    assert generators.generate("navier_stokes2d", out, **SMALL) == reference


def test_sigterm_keeps_finished_batches_and_the_rerun_completes(tmp_path):
    """A scheduler's SIGTERM stops `sciml data generate` cleanly: exit 130, no temporary file,
    finished batches kept; the same command then completes with the uninterrupted checksum."""
    import os
    import signal
    import subprocess
    import sys
    import time

    params = {**SMALL, "n": 8, "batch_size": 1, "resolution": 32, "t_final": 2.0}
    reference = generators.generate("navier_stokes2d", tmp_path / "ref.h5", **params)
    out = tmp_path / "run.h5"
    command = [sys.executable, "-m", "sciml.cli", "data", "generate", "navier_stokes2d", "--out", str(out)]
    command += [f"{k}={v}" for k, v in params.items()]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cache_dir = tmp_path / ".run.h5.batches"
    deadline = time.time() + 60
    while not list(cache_dir.glob("*.npz")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.fail("the generation finished before SIGTERM; make the test's run longer")
    assert proc.returncode == 130, err
    assert "rerun" in err
    assert not out.exists() and not list(tmp_path.glob(".run.h5.*.tmp"))
    kept = len(list(cache_dir.glob("*.npz")))
    assert 1 <= kept < 8

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert reference in done.stdout
    assert not cache_dir.exists()
