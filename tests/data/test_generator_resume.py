"""Every generator survives SIGKILL: the rerun loads the finished batches and writes the
uninterrupted file's content.

The generation runs in a child process whose batch cache kills the process (SIGKILL, no
cleanup of any kind) right after the first finished batch is on disk. The same call in
this process then loads that batch instead of computing it (counted) and must give the
``content_sha256`` of an uninterrupted run in this process. All runs happen on this
machine with the same libraries and thread settings, so equal checksums are the right
check here (the batches' contents do not depend on the batch size: per-sample streams).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from sciml.core.registry import GENERATORS
from sciml.data import generators
from sciml.data.generators import _common

# two batches or more each, as small as the generators allow
TINY = {
    "advection_diffusion1d": {"n": 4, "batch_size": 2, "resolution": 32, "n_times": 3},
    "burgers1d": {"n": 4, "batch_size": 2, "resolution": 32, "n_times": 3, "t_final": 0.1},
    "chaos": {"n": 4, "batch_size": 2, "n_periods": 1.0, "points_per_period": 20, "burn_in_periods": 0.5},
    "darcy2d": {"n": 4, "batch_size": 2, "resolution": 9},
    "digits": {"n": 8, "batch_size": 3},
    "kdv1d": {"n": 4, "batch_size": 2, "length": 46.0, "resolution": 128, "n_times": 2, "t_final": 0.2, "c_max": 1.0},
    "kuramoto_sivashinsky1d": {"n": 4, "batch_size": 2, "length": 22.0, "resolution": 48, "n_times": 2, "burn_in": 1.0},
    "linear_ode": {"n": 4, "batch_size": 2, "n_times": 5},
    "navier_stokes2d": {"n": 4, "batch_size": 2, "resolution": 16, "nu": 1e-3, "t_final": 0.2, "n_times": 2, "seed": 3},
    "oscillators": {"n": 4, "batch_size": 2, "n_times": 5, "t_final": 1.0},
    "reaction_diffusion1d": {"n": 4, "batch_size": 2, "resolution": 160, "n_times": 3, "t_final": 0.1},
    "spiral_sde": {"n": 4, "batch_size": 2, "n_times": 5, "t_final": 0.2},
}

_CHILD = """
import json, os, signal, sys
from sciml.data.generators import _common, generate

real_save = _common.BatchCache.save

def save_then_die(self, start, **arrays):
    real_save(self, start, **arrays)
    os.kill(os.getpid(), signal.SIGKILL)

_common.BatchCache.save = save_then_die
name, path, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
generate(name, path, **params)
"""


def test_every_generator_is_covered():
    assert sorted(TINY) == sorted(GENERATORS.names())


@pytest.mark.parametrize("name", sorted(TINY))
def test_sigkill_then_rerun_gives_the_uninterrupted_content(name, tmp_path, monkeypatch):
    params = TINY[name]
    assert params["n"] > params["batch_size"], "the test needs two batches or more"
    reference = generators.generate(name, tmp_path / "reference.h5", **params)

    out = tmp_path / "run.h5"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, name, str(out), json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert not out.exists()
    cache_dir = tmp_path / ".run.h5.batches"
    assert [p.name for p in cache_dir.glob("*.npz")] == ["000000000.npz"]

    loaded, saved = [], []
    real_load, real_save = _common.BatchCache.load, _common.BatchCache.save

    def counting_load(self, start):
        arrays = real_load(self, start)
        if arrays is not None:
            loaded.append(start)
        return arrays

    def counting_save(self, start, **arrays):
        saved.append(start)
        real_save(self, start, **arrays)

    monkeypatch.setattr(_common.BatchCache, "load", counting_load)
    monkeypatch.setattr(_common.BatchCache, "save", counting_save)
    digest = generators.generate(name, out, **params)
    assert loaded == [0]
    assert 0 not in saved and len(saved) == -(-params["n"] // params["batch_size"]) - 1
    assert digest == reference
    assert not cache_dir.exists()
