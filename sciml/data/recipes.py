"""Dataset recipes: a YAML file naming a generator and its parameters, and a manifest of checksums.

A recipe (``datasets/NAME.yaml``)::

    generator: burgers1d
    description: viscous Burgers, nu=0.01, 1000 samples at 256 points, 11 times in [0, 1]
    params: {n: 1000, resolution: 256, nu: 0.01, n_times: 11, seed: 0}
    small: {n: 8}            # overrides for the quick variant the test suite regenerates

``datasets/manifest.json`` maps each recipe name to the ``content_sha256`` its full and
small variants must reproduce. Same recipe + seed = same checksum: :func:`build_recipe`
with ``check=True`` refuses (and deletes) a file whose checksum differs from the manifest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sciml.core.errors import ConfigError, DataError
from sciml.core.io import write_json

__all__ = ["Recipe", "load_recipe", "build_recipe", "load_manifest", "update_manifest", "RECIPE_DIR"]

RECIPE_DIR = Path(__file__).resolve().parents[2] / "datasets"


@dataclass
class Recipe:
    """A named generator call, with a small variant for quick checks."""

    name: str
    generator: str
    params: dict[str, Any]
    small: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def arguments(self, small: bool = False) -> dict[str, Any]:
        return {**self.params, **(self.small if small else {})}


def load_recipe(path_or_name: str | os.PathLike[str], recipe_dir: Path | None = None) -> Recipe:
    """Load ``datasets/NAME.yaml`` (by name or path)."""
    p = Path(path_or_name)
    if not p.exists():
        p = Path(recipe_dir or RECIPE_DIR) / f"{path_or_name}.yaml"
    if not p.exists():
        known = sorted(q.stem for q in Path(recipe_dir or RECIPE_DIR).glob("*.yaml"))
        raise ConfigError(f"recipe '{path_or_name}' not found; known recipes: {', '.join(known) or '(none)'}")
    raw = yaml.safe_load(p.read_text()) or {}
    missing = [k for k in ("generator", "params") if k not in raw]
    if missing:
        raise ConfigError(f"recipe {p} lacks {', '.join(missing)}; a recipe needs 'generator' and 'params'")
    return Recipe(
        p.stem, raw["generator"], dict(raw["params"]), dict(raw.get("small") or {}), raw.get("description", "")
    )


def load_manifest(recipe_dir: Path | None = None) -> dict[str, dict[str, str]]:
    path = Path(recipe_dir or RECIPE_DIR) / "manifest.json"
    return json.loads(path.read_text())["recipes"] if path.exists() else {}


def build_recipe(
    recipe: Recipe,
    out: str | os.PathLike[str],
    *,
    small: bool = False,
    check: bool = True,
    recipe_dir: Path | None = None,
) -> str:
    """Generate ``recipe`` into ``out``; with ``check``, compare against the manifest.

    Returns the file's ``content_sha256``. A mismatch deletes the file and raises
    :class:`~sciml.core.errors.DataError` (a changed solver or library gave different data).
    """
    from sciml.data.generators import generate

    digest = generate(recipe.generator, out, **recipe.arguments(small))
    expected = load_manifest(recipe_dir).get(recipe.name, {}).get("small" if small else "full")
    if check and expected and expected != digest:
        Path(out).unlink(missing_ok=True)
        raise DataError(
            f"recipe '{recipe.name}' ({'small' if small else 'full'}) produced content {digest[:16]}..., the manifest "
            f"expects {expected[:16]}...; the solver or a dependency changed: investigate, then update the manifest"
        )
    return digest


def update_manifest(
    names: list[str], *, full: bool, recipe_dir: Path | None = None, workdir: str | None = None
) -> dict:
    """Regenerate recipes and record their checksums in ``manifest.json``, saved after each recipe.

    With ``workdir`` the files are kept there as ``NAME.small.h5`` / ``NAME.full.h5``, and a long
    generation that is interrupted resumes from its finished batches when the call is repeated;
    without it they go to a temporary directory.
    """
    import contextlib
    import tempfile

    directory = Path(recipe_dir or RECIPE_DIR)
    manifest = load_manifest(directory)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            out_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            out_dir = Path(workdir)
            out_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            recipe = load_recipe(name, directory)
            entry = manifest.setdefault(name, {})
            entry["generator"] = recipe.generator
            entry["small"] = build_recipe(recipe, out_dir / f"{name}.small.h5", small=True, check=False)
            if full:
                entry["full"] = build_recipe(recipe, out_dir / f"{name}.full.h5", check=False)
            write_json(directory / "manifest.json", {"schema": 1, "recipes": dict(sorted(manifest.items()))})
    return manifest


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import argparse

    parser = argparse.ArgumentParser(description="Regenerate recipes and update datasets/manifest.json")
    parser.add_argument("names", nargs="*", help="recipe names (default: all)")
    parser.add_argument("--full", action="store_true", help="also generate the full datasets")
    parser.add_argument("--workdir", help="keep the generated files here (an interrupted run then resumes)")
    args = parser.parse_args()
    names = args.names or sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))
    for name, entry in update_manifest(names, full=args.full, workdir=args.workdir).items():
        print(name, entry)
