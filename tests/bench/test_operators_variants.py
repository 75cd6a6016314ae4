"""sciml bench operators_variants: its spec errors, and that a variant builds and scores what it names.

A tiny Burgers file (24 samples at 64 points, written by the test) replaces the benchmark's data.
"""

from __future__ import annotations

import json

import pytest

from sciml.bench import operators_variants
from sciml.bench import run_benchmark as _run_benchmark
from sciml.core.errors import ConfigError


@pytest.fixture(scope="module")
def variants():
    return operators_variants


class _Main:
    """``run_benchmark(argv)`` of the old script: the benchmark through its command line."""


def run_benchmark(argv):
    return _run_benchmark("operators_variants", argv, prog="sciml bench operators_variants")


TINY = """
case: burgers
preset: quick
reference: fno
data:
  params: {n: 24, resolution: 64, nu: 0.01, t_final: 1.0, n_times: 3, seed: 0}
  n_train: 16
  n_test: 8
  epochs: 8
variants:
  - {name: fno, method: fno}
  - {name: tfno, method: tfno}
  - {name: tfno rank 0.1 lr 1e-2, method: tfno, overrides: {rank: 0.1}, lr: 1.0e-2}
"""


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("reference: fno", "reference: lsm", "reference 'lsm' is not a variant name"),
        ("preset: quick", "preset: huge", "preset 'huge' is not one of"),
        ("reference: fno", "reference: fno\ntarget: {ratio: 2}", "target has unknown keys ['ratio']"),
        ("{name: tfno, method: tfno}", "{name: tfno, method: tfno, rnak: 0.1}", "unknown keys ['rnak']"),
        ("{name: tfno, method: tfno}", "{name: tfno, method: neuralop_fno}", "has method 'neuralop_fno'"),
        ("{name: tfno, method: tfno}", "{name: fno, method: tfno}", "distinct 'name's"),
    ],
    ids=["reference", "preset", "target", "variant-key", "method", "duplicate"],
)
def test_bad_spec_is_one_line_naming_the_key(variants, tmp_path, old, new, message):
    spec = tmp_path / "bad.yaml"
    spec.write_text(TINY.replace(old, new))
    with pytest.raises(ConfigError) as info:
        variants.load_spec(spec)
    text = str(info.value)
    assert message in text and "\n" not in text


def test_variants_run_builds_the_benchmarks_tfno_and_restates_the_target(variants, tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    out = tmp_path / "out"
    payload = run_benchmark([str(spec), "--data-dir", str(tmp_path / "data"), "--out", str(out)])
    rows = {r["variant"]: r for r in payload["rows"]}
    # the benchmark's 1D TFNO: Tucker ranks (12, 12, 2) of each complex (64, 64, 9) weight, 4 layers, and the
    # dense rest of its layout (linear skips, no channel MLP, linear lifting, projection ratio 0.5): 18,945
    tucker = 4 * 2 * (12 * 12 * 2 + 2 * 64 * 12 + 9 * 2)
    assert rows["tfno"]["params"] == 18_945 + tucker == 33_681
    assert rows["tfno"]["lr"] == 3e-3 and rows["tfno rank 0.1 lr 1e-2"]["lr"] == 1e-2
    assert rows["fno"]["params"] == 345_665
    assert rows["tfno"]["param_reduction"] == round(345_665 / 33_681, 2) == 10.26
    assert rows["tfno rank 0.1 lr 1e-2"]["params"] > rows["tfno"]["params"]
    # 8 epochs on 16 samples (measured 0.54, 0.53, 0.39): each has learned; the ratios are those of the rows
    for r in rows.values():
        assert 0 < r["relative_l2"] < 0.7  # untrained: about 1
        assert r["error_ratio"] == round(r["relative_l2"] / rows["fno"]["relative_l2"], 3)
    assert rows["fno"]["error_ratio"] == 1.0
    targets = {t["name"].split(":")[0]: t for t in payload["targets"]}
    assert set(targets) == {"burgers/tfno", "burgers/tfno rank 0.1 lr 1e-2"}
    t = targets["burgers/tfno"]
    assert t["met"] == (rows["tfno"]["error_ratio"] <= 1.1)
    saved = json.loads((out / "operators_variants_tiny.json").read_text())
    assert saved["rows"] == payload["rows"] and (out / "operators_variants_tiny.png").stat().st_size > 10_000
    assert saved["complete"] is True and saved["failed"] == []


def test_resume_keeps_the_variants_trained_before_and_trains_only_the_new_one(variants, tmp_path, capsys):
    spec = tmp_path / "tiny.yaml"
    small = TINY.replace("epochs: 8", "epochs: 2")
    spec.write_text(small)
    argv = [str(spec), "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--resume"]
    first = {r["variant"]: r for r in run_benchmark(argv)["rows"]}
    # a new variant and a renamed one (same model and rate): only the new one trains
    reference = small.replace("reference: fno", "reference: the FNO")
    spec.write_text(
        reference.replace("{name: fno, method: fno}", "{name: the FNO, method: fno}")
        + "  - {name: tfno cp, method: tfno, overrides: {factorization: cp}}\n"
    )
    capsys.readouterr()
    second = {r["variant"]: r for r in run_benchmark(argv)["rows"]}
    out = capsys.readouterr().out
    assert out.count("kept from an earlier run") == 3 and out.count(": training") == 1
    assert saved_json(tmp_path)["resumed_rows"] == ["the FNO", "tfno", "tfno rank 0.1 lr 1e-2"]
    assert second["the FNO"]["seconds"] == first["fno"]["seconds"]
    assert second["tfno"]["relative_l2"] == first["tfno"]["relative_l2"]
    assert second["tfno cp"]["params"] < second["tfno"]["params"]  # CP rank 0.05 keeps fewer than Tucker's


def test_an_interrupted_run_resumes_from_the_cells_it_wrote(variants, tmp_path, monkeypatch, capsys):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY.replace("epochs: 8", "epochs: 2"))
    out = tmp_path / "out"
    argv = [str(spec), "--data-dir", str(tmp_path / "data"), "--out", str(out), "--resume"]
    real = variants.run_variant
    calls = []

    def dies_on_the_second(variant, *args):
        calls.append(variant["name"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(variant, *args)

    # the cells were built with the real function: interrupt through the module the runner calls
    monkeypatch.setattr(variants, "run_variant", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(argv)
    partial = json.loads((out / "operators_variants_tiny.json").read_text())
    assert [r["variant"] for r in partial["rows"]] == ["fno"] and partial["complete"] is False
    monkeypatch.setattr(variants, "run_variant", real)
    capsys.readouterr()
    rows = {r["variant"]: r for r in run_benchmark(argv)["rows"]}
    assert capsys.readouterr().out.count(": training") == 2
    assert rows["fno"]["relative_l2"] == partial["rows"][0]["relative_l2"] and len(rows) == 3
    assert saved_json(tmp_path)["complete"] is True


def saved_json(tmp_path):
    return json.loads((tmp_path / "out" / "operators_variants_tiny.json").read_text())


def test_resume_retrains_a_variant_whose_benchmark_defaults_changed(variants, tmp_path, monkeypatch, capsys):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY.replace("epochs: 8", "epochs: 2"))
    argv = [str(spec), "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--resume"]
    first = {r["variant"]: r for r in run_benchmark(argv)["rows"]}
    # the benchmark's 1D TFNO moves to rank 0.1: "tfno" (no overrides) is now another model, the others are not
    monkeypatch.setattr(variants.bench, "TFNO_OPTIONS_1D", {**variants.bench.TFNO_OPTIONS_1D, "rank": 0.1})
    capsys.readouterr()
    second = {r["variant"]: r for r in run_benchmark(argv)["rows"]}
    out = capsys.readouterr().out
    assert "burgers tfno: training" in out and out.count(": training") == 1
    assert second["tfno"]["params"] == first["tfno rank 0.1 lr 1e-2"]["params"] != first["tfno"]["params"]
    assert second["fno"]["seconds"] == first["fno"]["seconds"]
