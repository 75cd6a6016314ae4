"""``sciml bench koopman --preset tiny``: ours, PyDMD and kooplearn on the same data and dictionary give the same eigenvalues.

PyDMD and kooplearn are optional peers (``pip install 'sciml[peers]'``); without them the
benchmark refuses with a one-line error, which is tested either way.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from sciml.bench import run_benchmark
from sciml.core.errors import ConfigError

HAS_PEERS = all(importlib.util.find_spec(name) is not None for name in ("pydmd", "kooplearn"))


@pytest.mark.skipif(not HAS_PEERS, reason="PyDMD or kooplearn (the 'peers' extra) is not installed")
def test_tiny_preset_agrees_with_pydmd(tmp_path):
    payload = run_benchmark("koopman", ["--preset", "tiny", "--out", str(tmp_path)])
    assert payload["complete"] and not payload["failed"]
    saved = json.loads((tmp_path / "koopman_tiny.json").read_text())
    rows = {(r["case"], r["method"]): r for r in saved["rows"]}
    # Henon, monomials <= 3 vs PyDMD's polynomial kernel: 10 eigenvalues, the same to 1e-8 (measured 1.5e-11)
    for method in ("sciml_edmd", "sciml_kedmd"):
        row = rows[("edmd_henon_M200", method)]
        assert len(row["eigenvalues"]) == 10 and row["eig_max_diff_vs_pydmd_edmd"] <= 1e-8
    # kernel EDMD vs kooplearn's principal-component KernelRidge, polynomial and Gaussian kernels:
    # the leading 10 eigenvalues to 1e-6 (measured 7e-12 and 5e-11)
    assert rows[("edmd_henon_M200", "sciml_kedmd")]["eig_max_diff_vs_kooplearn_kedmd"] <= 1e-6
    assert rows[("kedmd_gauss_henon_M200", "sciml_kedmd")]["eig_max_diff_vs_kooplearn_kedmd"] <= 1e-6
    # five sines: both find exp(+-i w dt) (measured ~1e-12 with 40 delays) and agree with each other
    hankel = rows[("hankel_sines_M2000", "sciml_hankel_dmd")]
    assert hankel["eig_max_diff_vs_exact"] <= 1e-8 and hankel["eig_max_diff_vs_pydmd_hankel_dmd"] <= 1e-8
    assert rows[("hankel_sines_M2000", "pydmd_hankel_dmd")]["eig_max_diff_vs_exact"] <= 1e-8
    # HAVOK on Lorenz x: our continuous-time generator's eigenvalues are PyDMD's (measured 5e-14)
    havok = rows[("havok_lorenz_M2000", "sciml_havok")]
    assert len(havok["eigenvalues"]) == 14 and havok["eig_max_diff_vs_pydmd_havok"] <= 1e-8
    names = {t["name"] for t in saved["targets"]}
    assert "sciml_edmd_fit_time_ratio_vs_pydmd_edmd_edmd_henon_M200" in names
    assert all(np.isfinite(r["fit_seconds"]) and r["fit_seconds"] > 0 for r in saved["rows"])
    assert (tmp_path / "koopman_tiny.png").stat().st_size > 0


@pytest.mark.skipif(HAS_PEERS, reason="PyDMD and kooplearn are installed")
def test_without_pydmd_the_benchmark_says_how_to_install_it(tmp_path):
    with pytest.raises(ConfigError, match=r"pip install 'sciml\[peers\]'"):
        run_benchmark("koopman", ["--preset", "tiny", "--out", str(tmp_path)])
