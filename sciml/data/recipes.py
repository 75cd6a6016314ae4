"""Dataset recipes: a YAML file naming a generator and its parameters, and a manifest of checksums.

A recipe (``sciml/recipes/NAME.yaml``)::

    generator: burgers1d
    description: viscous Burgers, nu=0.01, 1000 samples at 256 points, 11 times in [0, 1]
    params: {n: 1000, resolution: 256, nu: 0.01, n_times: 11, seed: 0}
    small: {n: 8}            # overrides for the quick variant the test suite regenerates
    fingerprint_conditioning: {full: 30}   # optional: round-off amplification of a long chaotic run

``sciml/recipes/manifest.json`` records, for each recipe and variant (``small``, ``full``), the
bitwise ``content_sha256`` and a **numerical fingerprint**: per data array its shape, dtype
and, computed in float64 from the stored values, the L2 norm, mean, standard deviation,
minimum, maximum and mean absolute value (:func:`numerical_fingerprint`).

The hash holds only where the same kernels run: another CPU (AVX-512 against AVX2 FFT and
BLAS kernels, another MKL or OpenBLAS code path) rounds differently in the last bits, and a
long-horizon solver carries that round-off into every stored float. The fingerprint is
compared at the relative tolerance :data:`FINGERPRINT_RTOL` (see there for its derivation):
:func:`build_recipe` with ``check=True`` accepts a bitwise match, accepts a fingerprint match
and says so, and raises :class:`~sciml.core.errors.DataError` on a fingerprint mismatch,
keeping the file for inspection (it never deletes what it generated).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sciml.core.errors import ConfigError, DataError
from sciml.core.io import atomic_path

__all__ = [
    "Recipe",
    "RecipeCheck",
    "load_recipe",
    "build_recipe",
    "load_manifest",
    "update_manifest",
    "numerical_fingerprint",
    "compare_fingerprints",
    "FINGERPRINT_STATISTICS",
    "FINGERPRINT_EPS_FACTOR",
    "FINGERPRINT_RTOL",
    "RECIPE_DIR",
]

RECIPE_DIR = Path(__file__).resolve().parents[1] / "recipes"  # package data: found by any install
MANIFEST_SCHEMA = 2
"""Version 2 adds the ``fingerprint`` of each variant; version-1 manifests (hashes only) still read."""

FINGERPRINT_STATISTICS = ("l2", "mean", "std", "min", "max", "mean_abs")
FINGERPRINT_EPS_FACTOR = 64
"""Tolerance factor on float32 eps; the derivation is at :data:`FINGERPRINT_RTOL`."""
FINGERPRINT_RTOL = FINGERPRINT_EPS_FACTOR * float(np.finfo(np.float32).eps)
"""Relative tolerance of a fingerprint statistic: ``64 x eps(float32)`` = 7.6e-6.

float32 is the storage precision of the field data; statistics are accumulated in float64,
so their own round-off (about 1e-16) does not count. Every stored element may move by up to
64 float32 ulps of the array's RMS before a mean, minimum or maximum leaves the band: room for
a solver that amplifies round-off modestly over its horizon. Measured on this repository's
recipes (``ATEN_CPU_CAPABILITY=avx2`` and ``default``; MKL restricted to SSE4.2 with
``MKL_CBWR=COMPATIBLE``, numpy without AVX2/AVX-512 and OpenBLAS ``Prescott`` kernels;
a 1-ulp float64 perturbation of every initial state): the small variants move by at most
1.8e-9 (Lorenz, 16 Lyapunov times; the others by at most 1.1e-15: few or tiny elements
differ), the full variants by at most 7e-16 except two chaotic ones. The smallest real change
tried, 1 % more viscosity in ``burgers1d_fno``, moves a statistic by 4.7e-4 (60 x rtol);
another seed by 8e-3 .. 3 (docs/datasets.md has the table). A chaotic long-horizon variant states its amplification in its
recipe (``fingerprint_conditioning``, multiplying this rtol): ``kuramoto_sivashinsky`` full
x 100 (measured 4.1e-5), ``chaos_lorenz`` full none (its trajectories decorrelate).
"""


@dataclass
class Recipe:
    """A named generator call, with a small variant for quick checks."""

    name: str
    generator: str
    params: dict[str, Any]
    small: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    conditioning: dict[str, float | None] = field(default_factory=dict)
    """Per variant (``small``, ``full``): how much the problem amplifies round-off in the fingerprint
    statistics beyond what a non-chaotic solve shows (default 1); ``None`` for a variant that runs past
    its predictability horizon, where no fingerprint can tell other kernels from a change."""

    def arguments(self, small: bool = False) -> dict[str, Any]:
        return {**self.params, **(self.small if small else {})}

    def fingerprint_rtol(self, variant: str) -> float | None:
        """``FINGERPRINT_RTOL x conditioning`` of ``variant``; ``None`` when it has no usable fingerprint."""
        factor = self.conditioning.get(variant, 1.0)
        return None if factor is None else FINGERPRINT_RTOL * float(factor)


@dataclass(frozen=True)
class RecipeCheck:
    """What :func:`build_recipe` wrote and how it compared with the manifest.

    ``status`` is ``"bitwise"`` (the ``content_sha256`` matches), ``"fingerprint"`` (the
    hash differs, every fingerprint statistic agrees to :meth:`Recipe.fingerprint_rtol`),
    ``"unverifiable"`` (the hash differs and the variant runs past its predictability
    horizon) or ``"unchecked"`` (``check=False``, or the manifest has no entry for it).
    ``message`` says which, in one line.
    """

    content_sha256: str
    status: str
    message: str


def load_recipe(path_or_name: str | os.PathLike[str], recipe_dir: Path | None = None) -> Recipe:
    """Load ``sciml/recipes/NAME.yaml`` (by name or path)."""
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
    conditioning = dict(raw.get("fingerprint_conditioning") or {})
    for variant, factor in conditioning.items():
        if variant not in ("small", "full") or not (
            factor is None or (isinstance(factor, (int, float)) and factor >= 1)
        ):
            raise ConfigError(
                f"recipe {p}: fingerprint_conditioning.{variant}={factor!r}; give small/full a number >= 1, or null "
                "for a variant past its predictability horizon"
            )
    return Recipe(
        p.stem,
        raw["generator"],
        dict(raw["params"]),
        dict(raw.get("small") or {}),
        raw.get("description", ""),
        conditioning,
    )


def load_manifest(recipe_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """The ``recipes`` table of ``manifest.json`` (empty if there is none)."""
    path = Path(recipe_dir or RECIPE_DIR) / "manifest.json"
    return json.loads(path.read_text())["recipes"] if path.exists() else {}


def numerical_fingerprint(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Per data array of a sciml file: shape, dtype and float64 statistics of the stored values.

    The arrays are those :func:`~sciml.data.schema.validate` hashes (per-sample datasets,
    then ``t`` and ``coords/*``). Each statistic (:data:`FINGERPRINT_STATISTICS`) is
    accumulated in float64 block by block, so a full dataset is never held in memory.

    Returns
    -------
    dict
        ``{name: {"shape": [...], "dtype": "float32", "l2": ..., "mean": ..., "std": ...,
        "min": ..., "max": ..., "mean_abs": ...}}``, JSON-ready.
    """
    from sciml.data.schema import _sample_datasets, open_h5

    out: dict[str, dict[str, Any]] = {}
    with open_h5(path) as f:
        names = _sample_datasets(f)
        names += [n for n in ["t", *(f"coords/{k}" for k in f.get("coords", {}))] if n in f and n not in names]
        for name in names:
            ds = f[name]
            count = int(np.prod(ds.shape))
            total = total_sq = total_abs = 0.0
            low, high = math.inf, -math.inf
            step = max(1, int(2**24 // max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:])))))
            for start in range(0, max(1, ds.shape[0]) if ds.ndim else 1, step):
                block = np.asarray(ds[start : start + step] if ds.ndim else ds[()], dtype=np.float64)
                if block.size:
                    total += float(block.sum())
                    total_sq += float(np.square(block).sum())
                    total_abs += float(np.abs(block).sum())
                    low, high = min(low, float(block.min())), max(high, float(block.max()))
            mean = total / max(count, 1)
            out[name] = {
                "shape": list(ds.shape),
                "dtype": str(ds.dtype),
                "l2": math.sqrt(total_sq),
                "mean": mean,
                "std": math.sqrt(max(total_sq / max(count, 1) - mean * mean, 0.0)),
                "min": low if count else 0.0,
                "max": high if count else 0.0,
                "mean_abs": total_abs / max(count, 1),
            }
    return out


def compare_fingerprints(
    got: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]], rtol: float = FINGERPRINT_RTOL
) -> list[str]:
    """Differences of ``got`` from ``expected`` beyond ``rtol``, one phrase each (empty: they match).

    A statistic ``s`` of an array matches when ``|s - s_ref| <= rtol * scale``, with
    ``scale`` the reference L2 norm for ``l2`` and the reference root mean square
    ``l2 / sqrt(size)`` for the others: round-off moves every element by a fraction of the
    array's magnitude, so a mean or minimum near 0 is held to the same absolute accuracy as
    the rest, not to a relative one it cannot have.
    """
    problems = []
    for name in sorted(set(expected) | set(got)):
        if name not in got or name not in expected:
            where = "the file" if name not in got else "the manifest"
            problems.append(f"array '{name}' is missing from {where}")
            continue
        g, e = got[name], expected[name]
        if list(g["shape"]) != list(e["shape"]) or g["dtype"] != e["dtype"]:
            problems.append(
                f"array '{name}' is {g['dtype']} {list(g['shape'])}, the manifest has {e['dtype']} {list(e['shape'])}"
            )
            continue
        rms = e["l2"] / math.sqrt(max(1, int(np.prod(e["shape"]))))
        for stat in FINGERPRINT_STATISTICS:
            scale = e["l2"] if stat == "l2" else rms
            deviation = abs(g[stat] - e[stat])
            if not deviation <= rtol * scale:
                relative = deviation / scale if scale > 0 else math.inf
                problems.append(
                    f"array '{name}' {stat} {g[stat]:.9g} vs the manifest's {e[stat]:.9g} "
                    f"({relative:.2g} of its scale, rtol {rtol:.2g})"
                )
    return problems


def build_recipe(
    recipe: Recipe,
    out: str | os.PathLike[str],
    *,
    small: bool = False,
    check: bool = True,
    recipe_dir: Path | None = None,
) -> RecipeCheck:
    """Generate ``recipe`` into ``out`` (atomically); with ``check``, compare against the manifest.

    Returns
    -------
    RecipeCheck
        The file's ``content_sha256`` and how it matched: bitwise; or (other CPU kernels)
        by its numerical fingerprint within :meth:`Recipe.fingerprint_rtol`; or not at all
        for a variant past its predictability horizon (``status="unverifiable"``).

    Raises
    ------
    DataError
        The hash differs and the fingerprint differs too, or the manifest records no
        fingerprint for this variant: the data changed beyond round-off, or cannot be told
        apart from such a change. The file is kept at ``out`` for inspection; the message
        names the first array that differs and the fix.
    """
    from sciml.data.generators import generate

    variant = "small" if small else "full"
    digest = generate(recipe.generator, out, **recipe.arguments(small))
    entry = load_manifest(recipe_dir).get(recipe.name, {})
    expected = entry.get(variant)
    label = f"recipe '{recipe.name}' ({variant})"
    regenerate = f"'python -m sciml.data.recipes {recipe.name}{'' if small else ' --full'}'"
    if not check or not expected:
        reason = "not checked" if not check else f"the manifest has no {variant} entry for it"
        return RecipeCheck(digest, "unchecked", f"content_sha256 {digest} ({reason})")
    if expected == digest:
        return RecipeCheck(digest, "bitwise", f"content_sha256 {digest}, matches the manifest")
    rtol = recipe.fingerprint_rtol(variant)
    differs = f"{label} produced content {digest[:16]}..., the manifest expects {expected[:16]}..."
    if rtol is None:
        return RecipeCheck(
            digest,
            "unverifiable",
            f"content_sha256 {digest}: content differs bitwise from the manifest and this variant runs past its "
            f"predictability horizon (round-off grows to the size of the attractor), so no numerical fingerprint can "
            f"tell other CPU kernels from a change; kept {out}; the small variant checks the solver "
            f"(sciml data recipe {recipe.name} --small)",
        )
    reference = entry.get("fingerprint", {}).get(variant)
    if reference is None:
        raise DataError(
            f"{differs} and records no numerical fingerprint for the {variant} variant, so round-off cannot be told "
            f"from a change; kept {out} for inspection; compare it with a trusted copy, or regenerate the manifest "
            f"entry with {regenerate} if the change is intended"
        )
    problems = compare_fingerprints(numerical_fingerprint(out), reference["arrays"], rtol)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DataError(
            f"{differs}, and its numerical fingerprint differs beyond round-off: {problems[0]}{more}; kept {out} for "
            f"inspection; the solver, the recipe or a dependency changed: investigate, then regenerate the manifest "
            f"entry with {regenerate}"
        )
    return RecipeCheck(
        digest,
        "fingerprint",
        f"content_sha256 {digest}: content differs bitwise from the manifest (other CPU kernels) but matches its "
        f"numerical fingerprint to rtol={rtol:.2g}",
    )


def _kernels() -> dict[str, str]:
    """What decides the last bits of a recipe's floats: library versions and the CPU kernels they pick."""
    import contextlib
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu)
    return {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu": cpu,
    }


def update_manifest(
    names: list[str],
    *,
    full: bool,
    recipe_dir: Path | None = None,
    workdir: str | None = None,
    keep_hashes: bool = False,
) -> dict:
    """Regenerate recipes and record their checksums and fingerprints in ``manifest.json``.

    The manifest is saved (atomically) after each recipe. With ``workdir`` the files are
    kept there as ``NAME.small.h5`` / ``NAME.full.h5``, and a long generation that is
    interrupted resumes from its finished batches when the call is repeated; without it
    they go to a temporary directory. With ``keep_hashes`` a variant that already has a
    ``content_sha256`` keeps it and only its fingerprint is (re)computed; the fingerprint
    then records the hash of the file it was computed from, which on other CPU kernels may
    differ from the recorded one.
    """
    import contextlib
    import tempfile

    directory = Path(recipe_dir or RECIPE_DIR)
    path_json = directory / "manifest.json"
    top = json.loads(path_json.read_text()) if path_json.exists() else {}
    manifest = top.pop("recipes", {})
    with contextlib.ExitStack() as stack:
        if workdir is None:
            out_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            out_dir = Path(workdir)
            out_dir.mkdir(parents=True, exist_ok=True)
        source = _kernels()
        for name in names:
            recipe = load_recipe(name, directory)
            entry = manifest.setdefault(name, {})
            entry["generator"] = recipe.generator
            for variant in ("small", "full") if full else ("small",):
                path = out_dir / f"{name}.{variant}.h5"
                digest = build_recipe(recipe, path, small=variant == "small", check=False).content_sha256
                if not (keep_hashes and entry.get(variant)):
                    entry[variant] = digest
                if recipe.fingerprint_rtol(variant) is None:  # past the predictability horizon: nothing to record
                    entry.get("fingerprint", {}).pop(variant, None)
                    continue
                entry.setdefault("fingerprint", {})[variant] = {
                    "content_sha256": digest,
                    "environment": source,
                    "arrays": numerical_fingerprint(path),
                }
            if entry.get("fingerprint"):
                entry["fingerprint"] = dict(sorted(entry["fingerprint"].items(), key=lambda kv: kv[0] != "small"))
            else:
                entry.pop("fingerprint", None)
            ordered = {k: entry[k] for k in ("generator", "small", "full", "fingerprint") if k in entry}
            manifest[name] = {**ordered, **entry}
            # other top-level keys (notes) are kept as they are
            _write_manifest(path_json, {**top, "schema": MANIFEST_SCHEMA, "recipes": dict(sorted(manifest.items()))})
    return manifest


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Indented JSON with one line per fingerprinted array, written atomically."""
    compact: dict[str, str] = {}

    def placeholder(arrays: dict[str, Any]) -> dict[str, str]:
        out = {}
        for name, stats in arrays.items():
            compact[f"@{len(compact)}@"] = json.dumps(stats)
            out[name] = f"@{len(compact) - 1}@"
        return out

    recipes = {
        name: {
            **entry,
            "fingerprint": {v: {**fp, "arrays": placeholder(fp["arrays"])} for v, fp in entry["fingerprint"].items()},
        }
        if "fingerprint" in entry
        else entry
        for name, entry in manifest["recipes"].items()
    }
    text = json.dumps({**manifest, "recipes": recipes}, indent=2) + "\n"
    for token, stats in compact.items():
        text = text.replace(f'"{token}"', stats, 1)
    with atomic_path(path) as tmp:
        tmp.write_text(text)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import argparse

    parser = argparse.ArgumentParser(description="Regenerate recipes and update sciml/recipes/manifest.json")
    parser.add_argument("names", nargs="*", help="recipe names (default: all)")
    parser.add_argument("--full", action="store_true", help="also generate the full datasets")
    parser.add_argument("--workdir", help="keep the generated files here (an interrupted run then resumes)")
    parser.add_argument(
        "--keep-hashes",
        action="store_true",
        help="keep the recorded content_sha256 of each variant; only (re)compute the numerical fingerprints",
    )
    args = parser.parse_args()
    names = args.names or sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))
    manifest = update_manifest(names, full=args.full, workdir=args.workdir, keep_hashes=args.keep_hashes)
    for name in names:
        entry = manifest[name]
        print(name, {k: entry.get(k) for k in ("small", "full")}, "fingerprints:", sorted(entry.get("fingerprint", {})))
