"""Every dataset recipe regenerates (small variant) to the checksum recorded in the manifest."""

from __future__ import annotations

import pytest

from sciml.cli import main
from sciml.core.errors import ConfigError, DataError
from sciml.data.recipes import RECIPE_DIR, build_recipe, load_manifest, load_recipe

RECIPES = sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def test_every_recipe_is_in_the_manifest():
    manifest = load_manifest()
    assert RECIPES and set(RECIPES) == set(manifest)
    assert all(len(entry["small"]) == 64 for entry in manifest.values())


@pytest.mark.parametrize("name", RECIPES)
def test_small_variant_reproduces_manifest_checksum(tmp_path, name):
    recipe = load_recipe(name)
    digest = build_recipe(recipe, tmp_path / f"{name}.h5", small=True)
    assert digest == load_manifest()[name]["small"]


def test_mismatch_is_refused_and_file_removed(tmp_path, monkeypatch):
    recipe = load_recipe("burgers1d_fno")
    recipe.small = {**recipe.small, "seed": 1}  # another seed: other data, same name
    with pytest.raises(DataError, match="produced content .* the manifest expects"):
        build_recipe(recipe, tmp_path / "x.h5", small=True)
    assert not (tmp_path / "x.h5").exists()
    with pytest.raises(ConfigError, match="recipe 'nope' not found; known recipes: .*burgers1d"):
        load_recipe("nope")


def test_cli_recipe(tmp_path, capsys):
    assert main(["data", "recipe", "burgers1d_fno", "--small", "--out", str(tmp_path / "b.h5")]) == 0
    assert "matches the manifest" in capsys.readouterr().out


def test_update_manifest_keeps_files_in_workdir_and_records_their_checksums(tmp_path):
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
    assert load_manifest(recipes) == manifest
    assert (
        build_recipe(load_recipe("tiny", recipes), tmp_path / "again.h5", recipe_dir=recipes)
        == manifest["tiny"]["full"]
    )
