"""Every dataset recipe regenerates (small variant) to the numerical fingerprint recorded in the manifest.

The bitwise ``content_sha256`` holds only on the CPU kernels that recorded it; the fingerprint (per-array
norms and moments) is compared at the recipe's tolerance, so the suite passes on any machine. Whether the
hash matched too is printed (``pytest -rP``) and recorded as the test's user property ``bitwise``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from sciml.cli import main
from sciml.core.errors import ConfigError, DataError
from sciml.data import recipes as recipes_module
from sciml.data.recipes import (
    FINGERPRINT_EPS_FACTOR,
    FINGERPRINT_RTOL,
    RECIPE_DIR,
    build_recipe,
    compare_fingerprints,
    load_manifest,
    load_recipe,
    numerical_fingerprint,
)

RECIPES = sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def test_every_recipe_is_in_the_manifest_with_a_small_fingerprint():
    manifest = load_manifest()
    assert RECIPES and set(RECIPES) == set(manifest)
    assert all(len(entry["small"]) == 64 for entry in manifest.values())
    assert all(entry["fingerprint"]["small"]["arrays"] for entry in manifest.values())
    assert FINGERPRINT_RTOL == FINGERPRINT_EPS_FACTOR * float(np.finfo(np.float32).eps)


@pytest.mark.parametrize("name", RECIPES)
def test_small_variant_reproduces_manifest_fingerprint(tmp_path, name, request):
    recipe = load_recipe(name)
    reference = load_manifest()[name]
    result = build_recipe(recipe, tmp_path / f"{name}.h5", small=True)  # raises on a fingerprint mismatch
    request.node.user_properties.append(("bitwise", result.content_sha256 == reference["small"]))
    print(result.message)  # shown with -rP: bitwise, or by fingerprint
    assert result.status in ("bitwise", "fingerprint"), result.message
    got = numerical_fingerprint(tmp_path / f"{name}.h5")
    assert (
        compare_fingerprints(got, reference["fingerprint"]["small"]["arrays"], recipe.fingerprint_rtol("small")) == []
    )


def _tmp_recipes(tmp_path, name, small_override=None, small_hash=None):
    """A copy of ``sciml/recipes/NAME.yaml`` and its manifest entry, optionally with another small variant or hash."""
    directory = tmp_path / "recipes"
    directory.mkdir(parents=True)
    raw = yaml.safe_load((RECIPE_DIR / f"{name}.yaml").read_text())
    raw["small"] = {**raw["small"], **(small_override or {})}
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(raw))
    entry = dict(load_manifest()[name])
    if small_hash:
        entry["small"] = small_hash
    (directory / "manifest.json").write_text(json.dumps({"schema": 2, "recipes": {name: entry}}))
    return directory


def test_a_real_change_fails_the_fingerprint_and_the_file_is_kept(tmp_path):
    for change in ({"seed": 1}, {"nu": 0.0101}):  # another seed; 1 % more viscosity (moves a statistic by 4.7e-4)
        directory = _tmp_recipes(tmp_path / str(change["seed"] if "seed" in change else "nu"), "burgers1d_fno", change)
        out = tmp_path / f"x{len(list(tmp_path.iterdir()))}.h5"
        with pytest.raises(DataError, match=r"numerical fingerprint differs beyond round-off: array '(a|u)' .*; kept "):
            build_recipe(load_recipe("burgers1d_fno", directory), out, small=True, recipe_dir=directory)
        assert out.exists()
    with pytest.raises(ConfigError, match="recipe 'nope' not found; known recipes: .*burgers1d"):
        load_recipe("nope")


def test_a_hash_mismatch_with_a_matching_fingerprint_keeps_the_file_and_says_so(tmp_path, monkeypatch, capsys):
    directory = _tmp_recipes(tmp_path, "kdv", small_hash="0" * 64)  # as if recorded on other CPU kernels
    monkeypatch.setattr(recipes_module, "RECIPE_DIR", directory)
    out = tmp_path / "kdv.h5"
    assert main(["data", "recipe", "kdv", "--small", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and out.exists()
    assert (
        "content differs bitwise from the manifest (other CPU kernels) but matches its numerical fingerprint" in printed
    )
    assert f"rtol={FINGERPRINT_RTOL:.2g}" in printed


def test_cli_exits_2_on_a_fingerprint_mismatch_and_keeps_the_file(tmp_path, monkeypatch, capsys):
    directory = _tmp_recipes(tmp_path, "burgers1d_fno", {"seed": 1})
    monkeypatch.setattr(recipes_module, "RECIPE_DIR", directory)
    out = tmp_path / "b.h5"
    assert main(["data", "recipe", "burgers1d_fno", "--small", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fingerprint differs beyond round-off: array '" in err
    assert f"kept {out} for inspection" in err and "python -m sciml.data.recipes burgers1d_fno'" in err
    assert out.exists()


def test_cli_recipe(tmp_path, capsys):
    assert main(["data", "recipe", "burgers1d_fno", "--small", "--out", str(tmp_path / "b.h5")]) == 0
    assert "matches" in capsys.readouterr().out


def test_fingerprint_tolerance_is_relative_to_the_array_scale():
    reference = {"u": {"shape": [4], "dtype": "float32", "l2": 2.0, "mean": 0.0, "std": 1.0,
                       "min": -1.0, "max": 1.0, "mean_abs": 1.0}}  # fmt: skip
    rms = 1.0  # l2 / sqrt(4)
    inside = {"u": {**reference["u"], "mean": 0.9 * FINGERPRINT_RTOL * rms, "l2": 2.0 * (1 + 0.9 * FINGERPRINT_RTOL)}}
    outside = {"u": {**reference["u"], "max": 1.0 + 1.1 * FINGERPRINT_RTOL * rms}}
    assert compare_fingerprints(inside, reference) == []
    (problem,) = compare_fingerprints(outside, reference)
    assert problem.startswith("array 'u' max ")
    assert problem.endswith(f"({1.1 * FINGERPRINT_RTOL:.2g} of its scale, rtol {FINGERPRINT_RTOL:.2g})")
    assert compare_fingerprints({"u": {**reference["u"], "shape": [5]}}, reference)[0].startswith(
        "array 'u' is float32 [5]"
    )
    assert compare_fingerprints({}, reference) == ["array 'u' is missing from the file"]


def test_update_manifest_keeps_files_in_workdir_and_records_checksums_and_fingerprints(tmp_path):
    from sciml.data.recipes import update_manifest
    from sciml.data.schema import validate

    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "tiny.yaml").write_text(
        "generator: burgers1d\nparams: {n: 4, resolution: 32, n_times: 2, seed: 1}\nsmall: {n: 2}\n"
    )
    work = tmp_path / "work"
    manifest = update_manifest(["tiny"], full=True, recipe_dir=recipes, workdir=str(work))
    assert manifest["tiny"]["full"] == validate(work / "tiny.full.h5").content_sha256
    assert manifest["tiny"]["small"] == validate(work / "tiny.small.h5").content_sha256
    assert manifest["tiny"]["full"] != manifest["tiny"]["small"]
    assert manifest["tiny"]["fingerprint"]["full"]["arrays"] == numerical_fingerprint(work / "tiny.full.h5")
    assert manifest["tiny"]["fingerprint"]["small"]["content_sha256"] == manifest["tiny"]["small"]
    assert set(manifest["tiny"]["fingerprint"]["small"]["arrays"]) == {"u", "a", "t", "coords/x"}
    assert load_manifest(recipes) == manifest
    again = build_recipe(load_recipe("tiny", recipes), tmp_path / "again.h5", recipe_dir=recipes)
    assert (again.status, again.content_sha256) == ("bitwise", manifest["tiny"]["full"])
    # keep_hashes: a recorded hash stays, the fingerprint is recomputed and names the file it came from
    (recipes / "manifest.json").write_text(
        json.dumps({"schema": 2, "recipes": {"tiny": {**manifest["tiny"], "small": "f" * 64}}})
    )
    kept = update_manifest(["tiny"], full=False, recipe_dir=recipes, keep_hashes=True)
    assert kept["tiny"]["small"] == "f" * 64
    assert kept["tiny"]["fingerprint"]["small"]["content_sha256"] == manifest["tiny"]["small"]


def test_a_variant_past_its_predictability_horizon_is_reported_unverifiable_not_refused(tmp_path):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "tiny.yaml").write_text(
        "generator: burgers1d\nparams: {n: 2, resolution: 32, n_times: 2, seed: 1}\nsmall: {n: 1}\n"
        "fingerprint_conditioning: {full: null}\n"
    )
    (recipes / "manifest.json").write_text(json.dumps({"schema": 2, "recipes": {"tiny": {"full": "0" * 64}}}))
    result = build_recipe(load_recipe("tiny", recipes), tmp_path / "t.h5", recipe_dir=recipes)
    assert result.status == "unverifiable" and (tmp_path / "t.h5").exists()
    assert "past its predictability horizon" in result.message
    (recipes / "bad.yaml").write_text("generator: burgers1d\nparams: {}\nfingerprint_conditioning: {full: 0.5}\n")
    with pytest.raises(ConfigError, match="fingerprint_conditioning.full=0.5; give small/full a number >= 1"):
        load_recipe("bad", recipes)
