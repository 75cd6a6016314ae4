"""Variants of the operators benchmark's models, trained on its data with its protocol.

The layout, rank and learning-rate experiments quoted in docs/operators.md come from here: a spec
(YAML, under ``benchmarks/variants/``) names one case of one preset of ``benchmarks/operators.py``
and a list of variants, each a registered model with the benchmark's hyperparameters
(``operators.model_kwargs``) changed by ``overrides`` (keys named in ``drop`` removed), trained by
``operators.train_sciml`` at ``lr`` (default: the benchmark's learning rate of that method) for
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

    python benchmarks/operators_variants.py benchmarks/variants/tfno_burgers_medium.yaml --resume

Writes ``benchmarks/results/operators_variants_<spec>.json`` (rows and targets in the format of the
other benchmarks) and ``operators_variants_<spec>.png`` (error against parameter reduction).
With ``--resume`` a variant trained before (same case, preset, data, resolved model kwargs, learning rate,
seed and device: ``run_key``) is kept, from the partial file of an interrupted run or the JSON of a finished one (of
any spec in ``--out``), so a variant added to a spec trains alone.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import statistics
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import operators as bench
import torch
import yaml

from sciml.core import build_model
from sciml.core.io import atomic_path, environment, write_json

NAME = "operators_variants"
VARIANT_KEYS = {"name", "method", "overrides", "drop", "lr", "seed"}
SPEC_KEYS = {"case", "preset", "reference", "data", "variants", "target"}
TARGET = {"reduction": 10.0, "error_ratio": 1.1}  # issue 4: TFNO against FNO


def load_spec(path: Path) -> dict[str, Any]:
    """Read and check a spec; every problem is one line naming the key and the fix."""
    if not path.is_file():
        raise SystemExit(f"spec {path} does not exist; pass a YAML file such as benchmarks/variants/*.yaml")
    spec = yaml.safe_load(path.read_text()) or {}
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise SystemExit(f"spec {path}: unknown keys {sorted(unknown)}; allowed: {sorted(SPEC_KEYS)}")
    if spec.get("preset") not in bench.PRESETS:
        raise SystemExit(f"spec {path}: preset {spec.get('preset')!r} is not one of {sorted(bench.PRESETS)}")
    if spec.get("case") not in bench.CASES:
        raise SystemExit(f"spec {path}: case {spec.get('case')!r} is not one of {list(bench.CASES)}")
    variants = spec.get("variants") or []
    names = [v.get("name") for v in variants]
    if not variants or None in names or len(set(names)) != len(names):
        raise SystemExit(f"spec {path}: 'variants' must be a non-empty list of entries with distinct 'name's")
    for v in variants:
        bad = set(v) - VARIANT_KEYS
        if bad:
            raise SystemExit(
                f"spec {path}: variant {v['name']!r} has unknown keys {sorted(bad)}; allowed: {sorted(VARIANT_KEYS)}"
            )
        if v.get("method") not in bench.METHODS or v["method"] == "neuralop_fno":
            allowed = [m for m in bench.METHODS if m != "neuralop_fno"]
            raise SystemExit(f"spec {path}: variant {v['name']!r} has method {v.get('method')!r}; use one of {allowed}")
    bad_target = set(spec.get("target") or {}) - set(TARGET)
    if bad_target:
        raise SystemExit(f"spec {path}: target has unknown keys {sorted(bad_target)}; allowed: {sorted(TARGET)}")
    if spec.get("reference") not in names:
        raise SystemExit(f"spec {path}: reference {spec.get('reference')!r} is not a variant name; pick one of {names}")
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


def run_variant(variant: dict, spec: dict, cfg: dict, data: dict, device: torch.device) -> dict[str, Any]:
    case = spec["case"]
    what = resolved(variant, spec, data)
    lr, seed = what["lr"], what["seed"]
    bench.seed_everything(seed)
    model = bench.Standardized(build_model(variant["method"], variant_kwargs(variant, data, case)), *data["stats"])
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


def markdown_table(rows: list[dict], reference: str) -> str:
    lines = [
        f"| variant | lr | relative L2 | / {reference} | parameters | fewer parameters | s/epoch |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['lr']:g} | {r['relative_l2']:.5f} | {r['error_ratio']:.2f} | "
            f"{r['params']:,} | {r['param_reduction']:.2f}x | {r['seconds_per_epoch']:.2f} |"
        )
    return "\n".join(lines)


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
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="YAML spec (benchmarks/variants/*.yaml)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--data-dir", type=Path, default=bench.ROOT / "datasets" / "generated")
    parser.add_argument("--out", type=Path, default=bench.RESULTS)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows of variants an earlier run (of any spec in --out) trained the same way",
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was requested but no CUDA GPU is visible; use --device cpu")
    spec = load_spec(args.spec)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda", torch.cuda.current_device()) if args.device == "cuda" else torch.device("cpu")
    case, reference = spec["case"], spec["reference"]
    target = {**TARGET, **(spec.get("target") or {})}
    cfg = {**bench.PRESETS[spec["preset"]][case], **(spec.get("data") or {})}
    data = bench.load_case(case, cfg, args.data_dir)
    stem = f"{NAME}_{args.spec.stem}"
    args.out.mkdir(parents=True, exist_ok=True)
    partial = args.out / f"{stem}.partial.json"

    def saved_rows(*paths: Path) -> list[dict]:
        """Rows of earlier runs in ``paths``, by default every spec's in --out (this spec's partial file
        first), read afresh for each variant: a run of another spec in parallel may have finished one."""
        out: list[dict] = []
        for path in paths or [partial, *sorted(set(args.out.glob(f"{NAME}_*.json")) - {partial})]:
            rows = json.loads(path.read_text()).get("rows") if path.exists() else None
            out += [r for r in rows if isinstance(r, dict) and "run_key" in r] if isinstance(rows, list) else []
        return out

    start = time.perf_counter()
    rows: list[dict] = []
    kept: list[str] = []  # variants taken over from earlier runs (their seconds are those runs')
    for variant in spec["variants"]:
        key = run_key(spec, resolved(variant, spec, data), args.device)
        saved = saved_rows() if args.resume else []
        row = next((r for r in saved if r.get("run_key") == key), None)
        if row is None:
            print(f"{case} {variant['name']}: training", flush=True)
            row = {**run_variant(variant, spec, cfg, data, device), "run_key": key}
            keys = {r["run_key"] for r in [*rows, row]}
            earlier = [r for r in saved_rows(partial) if r["run_key"] not in keys]  # variants not reached yet
            write_json(partial, {"rows": [*rows, row, *earlier]})
        else:
            print(f"{case} {variant['name']}: kept from an earlier run", flush=True)
            kept.append(variant["name"])
        row = {**row, "variant": variant["name"]}
        print(json.dumps(row), flush=True)
        rows.append(row)
    add_ratios(rows, reference)
    command = " ".join(["python", "benchmarks/operators_variants.py", *(argv if argv is not None else sys.argv[1:])])
    payload = {
        "benchmark": stem,
        "command": command,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": {**environment(), "torch_threads": args.threads},
        "settings": {
            "spec": spec,
            "case_settings": {k: v for k, v in cfg.items() if k != "params"},
            "n_train": data["n_train"],
            "n_test": data["n_test"],
            "default_seed": bench.SEED,
            "optimizer": "adam",
            "scheduler": "cosine",
            "loss": "relative_l2",
        },
        "wall_seconds": round(time.perf_counter() - start, 1),
        "resumed_rows": kept,
        "rows": rows,
        "targets": targets_of(rows, reference, target),
    }
    print()
    print(markdown_table(rows, reference))
    write_json(args.out / f"{stem}.json", payload)
    plot(rows, reference, args.out / f"{stem}.png", f"{command} ({device}, threads={args.threads})", target)
    partial.unlink(missing_ok=True)
    print(f"wrote {args.out / (stem + '.json')} and {stem}.png")
    return payload


if __name__ == "__main__":
    main()
