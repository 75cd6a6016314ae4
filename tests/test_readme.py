"""The README's command journeys run as written, top to bottom, in a tiny configuration.

The shell blocks of "1. Train a surrogate" and "Neural ODEs and SDEs" are read from the
README itself and run with bash in a fresh directory, with ``sciml`` found on the PATH the
way the README says (``.venv/bin``); only sizes are shrunk (samples, resolution, epochs).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # what `source .venv/bin/activate` puts on the PATH


def _block(title: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(title) :]
    body = section[section.index("```bash") + len("```bash") : section.index("```", section.index("```bash") + 7)]
    return [line.split("#")[0].strip() for line in body.strip().splitlines() if line.split("#")[0].strip()]


def _tiny(line: str) -> str:
    line = re.sub(r"--n \d+", "--n 48", line)
    line = re.sub(r"--resolution \d+", "--resolution 32", line)
    line = line.replace("train.epochs=50", "train.epochs=1").replace("train.epochs=80", "train.epochs=2")
    if " train " in f" {line} " and "train.epochs=" not in line:
        line += " train.epochs=1"
    if line.startswith("sciml data generate digits"):
        line += " --n 60"
    return line


@pytest.mark.parametrize("title", ["### 1. Train a surrogate", "### Neural ODEs and SDEs"])
def test_readme_journey_runs_as_written(tmp_path, title):
    lines = _block(title)
    assert len(lines) >= 4 and all(line.startswith(("sciml ", "torchrun ")) for line in lines), lines
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    for line in lines:
        done = subprocess.run(["bash", "-c", _tiny(line)], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, (line, done.stderr[-3000:])
    runs = sorted(p for p in (tmp_path / "runs").iterdir() if p.is_dir())
    assert runs
    for run in runs:
        test = json.loads((run / "test_metrics.json").read_text())
        assert test and all(isinstance(v, float) for v in test.values()), (run, test)
    if title.startswith("### 1."):
        history = json.loads((tmp_path / "runs" / "burgers_fno" / "metrics.json").read_text())["history"]
        assert [r["epoch"] for r in history] == [1, 2]  # trained 1 epoch, then resumed for one more
        assert (tmp_path / "runs" / "burgers_fno" / "eval_test_metrics.json").exists()
        assert (tmp_path / "runs" / "burgers_fno_ddp" / "last.pt").exists()
