"""Variants of the operators benchmark's models, trained on its data with its protocol.

The layout, rank and learning-rate experiments quoted in docs/operators.md come from here: a spec
(YAML; the repository's are in ``benchmarks/variants/``) names one case of one preset of the
operators benchmark (:mod:`sciml.bench.operators`) and a list of variants, each a registered model
with the benchmark's hyperparameters (``operators.model_kwargs``) changed by ``overrides`` (keys
named in ``drop`` removed), trained by ``operators.train_sciml`` at ``lr`` (default: the
benchmark's learning rate of that method) for
the preset's epochs, scored by ``operators.test_error`` (NS: the rollout), all from the benchmark's
seed (``seed`` changes a variant's initialization and batch order, for the spread over seeds).
One variant is the ``reference`` (usually the FNO): every row restates its error and parameter
ratios against it, and the target of issue 4 (>= 10x fewer parameters at <= 1.1x the error) is
checked for each variant (``target: {reduction: 1, error_ratio: 1.1}`` restates another, e.g. MG-TFNO
against the TFNO). ``data`` overrides the preset's case settings (``n_train``,
``n_test``, ``epochs``...), e.g. a 50-trajectory NS subset.

Spec::

    case: burgers
    preset: medium
    reference: fno
    data: {}
    variants:
      - {name: fno, method: fno}
      - {name: tfno, method: tfno}
      - {name: tfno rank 0.1, method: tfno, overrides: {rank: 0.1}}
      - {name: tfno lr 1e-2, method: tfno, lr: 1.0e-2}

Usage::

    sciml bench operators_variants benchmarks/variants/tfno_burgers_medium.yaml --resume

Writes ``OUT/operators_variants_<spec>.json`` (rows and targets in the format of the other
benchmarks; rewritten as each variant finishes, ``complete`` once all have) and
``operators_variants_<spec>.png`` (error against parameter reduction). Each distinct training is
a cell keyed by its ``run_key`` (case, preset, data, resolved model kwargs, learning rate, seed and
device). With ``--resume`` a variant trained before is kept, from this spec's JSON or from that of
any other spec in ``--out`` (read when the run starts), so a variant added to a spec trains alone.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import statistics
import textwrap
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from sciml.bench import operators as bench
from sciml.bench._executors import open_executor
from sciml.bench._results import Results
from sciml.bench._runner import Cell, run_cells
from sciml.bench._tables import markdown_table
from sciml.bench._training import Standardized, add_device_arguments, torch_device
from sciml.core import build_model
from sciml.core.errors import ConfigError
from sciml.core.plotting import save_figure

__all__ = ["load_spec", "run", "run_variant", "run_key"]

NAME = "operators_variants"
VARIANT_KEYS = {"name", "method", "overrides", "drop", "lr", "seed"}
SPEC_KEYS = {"case", "preset", "reference", "data", "variants", "target"}
TARGET = {"reduction": 10.0, "error_ratio": 1.1}  # issue 4: TFNO against FNO


def load_spec(path: Path) -> dict[str, Any]:
    """Read and check a spec; every problem is one line naming the key and the fix."""
    if not path.is_file():
        raise ConfigError(f"spec {path} does not exist; pass a YAML file such as benchmarks/variants/*.yaml")
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"spec {path} is not valid YAML ({str(exc).splitlines()[0]}); fix the file") from None
    if not isinstance(spec, dict):
        raise ConfigError(
            f"spec {path} must be a mapping of {sorted(SPEC_KEYS)}; see sciml bench operators_variants --help"
        )
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise ConfigError(f"spec {path}: unknown keys {sorted(unknown)}; allowed: {sorted(SPEC_KEYS)}")
    if spec.get("preset") not in bench.PRESETS:
        raise ConfigError(f"spec {path}: preset {spec.get('preset')!r} is not one of {sorted(bench.PRESETS)}")
    cases = [c for c in bench.CASES if c in bench.PRESETS[spec["preset"]]]
    if spec.get("case") not in cases:
        raise ConfigError(f"spec {path}: case {spec.get('case')!r} is not one of {cases} (preset {spec['preset']!r})")
    variants = spec.get("variants") or []
    names = [v.get("name") for v in variants]
    if not variants or None in names or len(set(names)) != len(names):
        raise ConfigError(f"spec {path}: 'variants' must be a non-empty list of entries with distinct 'name's")
    for v in variants:
        bad = set(v) - VARIANT_KEYS
        if bad:
            raise ConfigError(
                f"spec {path}: variant {v['name']!r} has unknown keys {sorted(bad)}; allowed: {sorted(VARIANT_KEYS)}"
            )
        if v.get("method") not in bench.METHODS or v["method"] == "neuralop_fno":
            allowed = [m for m in bench.METHODS if m != "neuralop_fno"]
            raise ConfigError(
                f"spec {path}: variant {v['name']!r} has method {v.get('method')!r}; use one of {allowed}"
            )
    bad_target = set(spec.get("target") or {}) - set(TARGET)
    if bad_target:
        raise ConfigError(f"spec {path}: target has unknown keys {sorted(bad_target)}; allowed: {sorted(TARGET)}")
    if spec.get("reference") not in names:
        raise ConfigError(
            f"spec {path}: reference {spec.get('reference')!r} is not a variant name; pick one of {names}"
        )
    return spec


def variant_kwargs(variant: dict[str, Any], data: dict[str, Any], case: str) -> dict[str, Any]:
    train = data["train"]
    kw = bench.model_kwargs(variant["method"], data["n_dim"], train.x.shape[1], train.y.shape[1], data["size"], case)
    for key in variant.get("drop", []):
        kw.pop(key, None)
    return {**kw, **variant.get("overrides", {})}


def default_lr(preset: str, case: str, method: str) -> float:
    return float(bench.learning_rates(preset, case).get(method, bench.DEFAULT_LR))


def resolved(variant: dict, spec: dict, data: dict) -> dict[str, Any]:
    """What a variant trains: method, model kwargs (channels left out), learning rate and seed."""
    kw = variant_kwargs(variant, data, spec["case"])
    return {
        "method": variant["method"],
        "model_kwargs": {k: v for k, v in kw.items() if k not in ("in_channels", "out_channels")},
        "lr": float(variant.get("lr", default_lr(spec["preset"], spec["case"], variant["method"]))),
        "seed": int(variant.get("seed", bench.SEED)),
    }


def run_key(spec: dict[str, Any], what: dict[str, Any], device: str) -> str:
    """The training a row came from: case, preset, data overrides, ``resolved`` (not the name) and device.

    Built from the resolved kwargs, so a change of the benchmark's own defaults retrains the variants it touches.
    """
    parts = [
        spec["case"],
        spec["preset"],
        spec.get("data") or {},
        {k: what[k] for k in ("method", "model_kwargs", "lr", "seed")},
        device,
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_variant(variant: dict, spec: dict, cfg: dict, data_dir: str, device_name: str, threads: int) -> dict[str, Any]:
    """Train and score one variant (a cell)."""
    torch.set_num_threads(threads)
    device = torch_device(device_name)
    case = spec["case"]
    print(f"{case} {variant['name']}: training", flush=True)
    data = bench.load_case(case, cfg, Path(data_dir))
    what = resolved(variant, spec, data)
    lr, seed = what["lr"], what["seed"]
    bench.seed_everything(seed)
    model = Standardized(build_model(variant["method"], variant_kwargs(variant, data, case)), *data["stats"])
    start = time.perf_counter()
    durations = bench.train_sciml(model, data["train"], cfg, device, lr, seed)
    err = bench.test_error(model.to(device), data["test"], case, device, cfg["batch_size"])
    return {
        "case": case,
        "variant": variant["name"],
        "method": variant["method"],
        "lr": lr,
        "seed": seed,
        "relative_l2": round(float(err["relative_l2"]), 6),
        "params": bench.parameter_count(model.model),
        "seconds": round(time.perf_counter() - start, 1),
        "seconds_per_epoch": round(statistics.median(durations[1:] or durations), 3),
        "model_kwargs": what["model_kwargs"],
    }


def add_ratios(rows: list[dict], reference: str) -> list[dict]:
    ref = next(r for r in rows if r["variant"] == reference)
    for r in rows:
        r["error_ratio"] = round(r["relative_l2"] / ref["relative_l2"], 3)
        r["param_reduction"] = round(ref["params"] / r["params"], 2)
    return rows


def targets_of(rows: list[dict], reference: str, target: dict[str, float] = TARGET) -> list[dict]:
    reduction, ratio = float(target["reduction"]), float(target["error_ratio"])
    out = []
    for r in rows:
        if r["variant"] == reference:
            continue
        met = r["param_reduction"] >= reduction and r["error_ratio"] <= ratio
        out.append(
            {
                "name": f"{r['case']}/{r['variant']}: >= {reduction:g}x fewer parameters at <= {ratio:g}x the error of {reference}",
                "measured": {"param_reduction": r["param_reduction"], "error_ratio": r["error_ratio"]},
                "goal": f"param_reduction >= {reduction:g} and error_ratio <= {ratio:g}",
                "met": bool(met),
            }
        )
    return out


def markdown(rows: list[dict], reference: str) -> str:
    head = ["variant", "lr", "relative L2", f"/ {reference}", "parameters", "fewer parameters", "s/epoch"]
    return markdown_table(
        head,
        [
            [
                r["variant"],
                f"{r['lr']:g}",
                f"{r['relative_l2']:.5f}",
                f"{r['error_ratio']:.2f}",
                f"{r['params']:,}",
                f"{r['param_reduction']:.2f}x",
                f"{r['seconds_per_epoch']:.2f}",
            ]  # fmt: skip
            for r in rows
        ],
    )


def plot(rows: list[dict], reference: str, path: Path, title: str, target: dict[str, float] = TARGET) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, key) = plt.subplots(1, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [3, 2]})
    reduction, ratio = float(target["reduction"]), float(target["error_ratio"])
    x_max = max(max(r["param_reduction"] for r in rows), reduction) * 1.5
    ax.fill_between([max(reduction, 1e-3), x_max], 0, ratio, color="C2", alpha=0.12, label="target")
    lines = []
    for i, r in enumerate(rows, start=1):
        is_ref = r["variant"] == reference
        ax.scatter(r["param_reduction"], r["error_ratio"], color="C3" if is_ref else "C0", zorder=3)
        ax.annotate(
            str(i), (r["param_reduction"], r["error_ratio"]), fontsize=8, xytext=(4, 2), textcoords="offset points"
        )
        lines.append(f"{i:2d}  {r['error_ratio']:5.2f}  {r['param_reduction']:6.2f}x  {r['variant']}")
    ax.axhline(ratio, color="gray", ls="--", lw=0.8)
    if reduction > 0:
        ax.axvline(reduction, color="gray", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(right=x_max)
    ax.set_ylim(0.8 * min(1.0, min(r["error_ratio"] for r in rows)), 1.08 * max(r["error_ratio"] for r in rows))
    ax.set_xlabel(f"parameters of {reference} / parameters")
    ax.set_ylabel(f"test relative L2 / {reference}'s")
    ax.legend(loc="upper left", fontsize=8)
    key.axis("off")
    header = " #  error  fewer   variant"
    key.text(0, 1, "\n".join([header, *lines]), va="top", family="monospace", fontsize=7, transform=key.transAxes)
    fig.suptitle("\n".join(textwrap.wrap(title, 120)), fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser, root: Path) -> None:
    parser.add_argument("spec", type=Path, help="YAML spec (the repository's: benchmarks/variants/*.yaml)")
    add_device_arguments(parser)
    parser.add_argument("--data-dir", type=Path, default=Path(root) / "datasets" / "generated")


def _saved_rows(paths: list[Path]) -> list[dict]:
    """Rows with a ``run_key`` in the results files ``paths`` (unreadable files are passed over)."""
    out: list[dict] = []
    for path in paths:
        try:
            rows = json.loads(path.read_text()).get("rows")
        except (OSError, ValueError, AttributeError):
            continue
        out += [r for r in rows if isinstance(r, dict) and "run_key" in r] if isinstance(rows, list) else []
    return out


def run(
    preset: str | None,
    out: str | Path,
    executor: str | cf.Executor = "serial",
    *,
    spec: str | Path,
    device: str = "cpu",
    threads: int = 1,
    data_dir: str | Path = Path("datasets") / "generated",
    resume: bool = False,
    command: str = "sciml bench operators_variants",
    progress: bool = False,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Train every variant of ``spec`` (the preset is the spec's); writes ``out/operators_variants_<spec>.json``."""
    if preset is not None:
        raise ConfigError("operators_variants takes its preset from the spec's 'preset' key, not --preset")
    torch_device(device)  # no GPU: a one-line error before any work
    spec_path = Path(spec)
    spec = load_spec(spec_path)
    torch.set_num_threads(threads)
    out, data_dir = Path(out), Path(data_dir)
    case, reference = spec["case"], spec["reference"]
    target = {**TARGET, **(spec.get("target") or {})}
    cfg = {**bench.PRESETS[spec["preset"]][case], **(spec.get("data") or {})}
    bench.case_file(case, cfg, data_dir)
    data = bench.load_case(case, cfg, data_dir)
    stem = f"{NAME}_{spec_path.stem}"
    keys = [run_key(spec, resolved(v, spec, data), device) for v in spec["variants"]]
    cells, seen = [], set()
    for variant, key in zip(spec["variants"], keys):
        if key not in seen:  # two names for one training train once
            seen.add(key)
            cells.append(Cell((key,), run_variant, (variant, spec, cfg, str(data_dir), device, threads)))
    settings = {
        "spec": spec,
        "case_settings": {k: v for k, v in cfg.items() if k != "params"},
        "n_train": data["n_train"],
        "n_test": data["n_test"],
        "default_seed": bench.SEED,
        "optimizer": "adam",
        "scheduler": "cosine",
        "loss": "relative_l2",
    }
    start = time.perf_counter()
    with open_executor(executor) as (pool, executor_spec):
        results = Results(
            out / f"{stem}.json",
            stem,
            key=("run_key",),
            settings=settings,
            command=command,
            environment={"torch_threads": threads, "executor": executor_spec},
            resume=resume,
            match={},  # a row's run_key says what it trained
        )
        if resume:  # variants trained by another spec's run in --out
            for row in _saved_rows(sorted(set(out.glob(f"{NAME}_*.json")) - {results.path})):
                if row["run_key"] in seen and not results.done((row["run_key"],)):
                    results.add(row)
        kept = [v["name"] for v, k in zip(spec["variants"], keys) if results.done((k,))]
        for name in kept:
            print(f"{case} {name}: kept from an earlier run", flush=True)

        def variant_rows() -> list[dict[str, Any]]:
            rows = [
                {**results.get((k,)), "variant": v["name"]}
                for v, k in zip(spec["variants"], keys)
                if results.done((k,))
            ]
            return add_ratios(rows, reference) if any(r["variant"] == reference for r in rows) else rows

        def write(complete: bool = False) -> dict[str, Any]:
            rows = variant_rows()
            ratios = all("error_ratio" in r for r in rows)
            return results.write(
                order=[c.key for c in cells],
                complete=complete,
                rows=rows,
                wall_seconds=round(time.perf_counter() - start, 1),
                resumed_rows=kept,
                targets=targets_of(rows, reference, target) if rows and ratios else [],
            )

        on_row = lambda row: print(json.dumps(row), flush=True)  # noqa: E731
        run_cells(cells, pool, results, time_limit=time_limit, progress=progress, on_row=on_row, write=write)
    payload = write(complete=not results.failures())
    rows = payload["rows"]
    print()
    if rows and all("error_ratio" in r for r in rows):
        print(markdown(rows, reference))
        title = f"{command} ({torch_device(device)}, threads={threads})"
        plot(rows, reference, out / f"{stem}.png", title, target)
    for failure in payload["failed"]:
        print(f"failed: {failure['run_key']}: {failure['error']}")
    print(f"wrote {results.path} and {stem}.png")
    return payload
