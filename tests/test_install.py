"""A non-editable install carries its recipes and presets: `sciml data recipe` works from any directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py

ROOT = Path(__file__).resolve().parents[1]


def test_a_wheel_install_finds_its_recipes_from_another_directory(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "sciml", source / "sciml", ignore=shutil.ignore_patterns("__pycache__"))
    wheel = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source), "-w", str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=300,
    )
    assert wheel.returncode == 0, wheel.stderr[-2000:]
    (built,) = (tmp_path / "dist").glob("sciml-*.whl")
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(built)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    probe = subprocess.run([sys.executable, "-c", "import sciml; print(sciml.__file__)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True)
    assert Path(probe.stdout.strip()).is_relative_to(site), probe  # the installed copy, not the checkout
    run = subprocess.run(
        [sys.executable, "-m", "sciml.cli", "data", "recipe", "burgers1d_fno", "--small", "--out", "F.h5"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    manifest = json.loads((ROOT / "sciml" / "recipes" / "manifest.json").read_text())
    with h5py.File(elsewhere / "F.h5", "r") as f:
        digest = str(f.attrs["content_sha256"])
    small = manifest["recipes"]["burgers1d_fno"]["small"]
    # the same content as the manifest's small variant (bitwise here; other CPUs pass by fingerprint)
    assert digest == small or "numerical fingerprint" in run.stdout, (digest, run.stdout)
    presets = subprocess.run([sys.executable, "-m", "sciml.cli", "list", "presets"], cwd=elsewhere, env=env,
                             capture_output=True, text=True)
    assert "burgers_fno" in presets.stdout
