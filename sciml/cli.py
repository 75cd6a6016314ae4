"""The ``sciml`` command line.

::

    sciml list [REGISTRY]
    sciml data generate NAME --n N [--resolution R] [--seed S] --out FILE.h5 [key=value ...]
    sciml data recipe NAME --out FILE.h5 [--small]
    sciml data info FILE.h5
    sciml train CONFIG.yaml [key.sub=value ...] [--resume [last|best|PATH]] [--overwrite]
    sciml eval RUN_DIR [--data FILE.h5] [--split test] [--out DIR]
    sciml bench NAME [--preset quick|full] [--executor SPEC] [--out DIR] [--resume] | sciml bench --list
    sciml koopman fit --data FILE.h5 --method edmd|kedmd|resdmd|hankel_dmd|havok|dmd [--dictionary SPEC]
                      [--epsilon E] [--rank R] [--split train|all] --out DIR
    sciml koopman forecast DIR --data FILE.h5 [--split test|all] [--context C] [--horizon H] [--out DIR]

Errors caused by input print one line on stderr and exit with code 2; ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from sciml.core.errors import ConfigError, SciMLError

__all__ = ["main"]


def _cmd_list(args: argparse.Namespace) -> int:
    from sciml.core.registry import all_registries, unavailable_plugins

    all_regs: dict = {**all_registries(), "presets": None}
    wanted = [args.registry] if args.registry else list(all_regs)
    for name in wanted:
        if name not in all_regs:
            raise ConfigError(f"unknown registry '{name}'; valid: {', '.join(all_regs)}")
        print(f"{name}:")
        if name == "presets":
            for p in _presets():
                print(f"  {p.stem}")
            continue
        reg = all_regs[name]
        for item in reg.names():
            print(f"  {item:<24} {reg.describe(item)}")
    missing = unavailable_plugins()
    if missing and not args.registry:
        print("unavailable families:")
        for family, info in missing.items():
            print(f"  {family:<24} {info['error']}; {info['install']}")
    return 0


def _presets() -> list[Path]:
    return sorted((Path(__file__).parent / "presets").glob("*.yaml"))


def _parse_params(items: Sequence[str]) -> dict:
    from sciml.core.config import parse_override

    params = {}
    for item in items:
        parts, value = parse_override(item)
        if len(parts) != 1:
            raise ConfigError(f"generator parameter '{item}' must be a plain name=value")
        params[parts[0]] = value
    return params


def _cmd_data(args: argparse.Namespace) -> int:
    from sciml.data.schema import validate

    if args.data_cmd == "info":
        info = validate(args.file)
        print(info.summary())
        return 0
    if args.data_cmd == "recipe":
        from sciml.data.recipes import build_recipe, load_recipe

        recipe = load_recipe(args.recipe)
        if Path(args.out).exists() and not args.force:
            raise ConfigError(f"{args.out} exists; pass --force to overwrite it or choose another --out")
        result = build_recipe(recipe, args.out, small=args.small, check=not args.no_check)
        print(f"wrote {args.out} from recipe '{recipe.name}' ({result.message})")
        return 0
    from sciml.data.generators import generate

    params = _parse_params(args.params)
    for key in ("n", "resolution", "seed", "device", "batch_size"):
        value = getattr(args, key, None)
        if value is not None:
            params[key] = value
    # a bar on a terminal unless --no-progress; a log (no terminal) gets none
    params["progress"] = sys.stderr.isatty() if args.progress is None else args.progress
    if Path(args.out).exists() and not args.force:
        raise ConfigError(f"{args.out} exists; pass --force to overwrite it or choose another --out")
    digest = generate(args.name, args.out, **params)
    print(f"wrote {args.out} (content_sha256 {digest})")
    return 0


def _resolve_config(path: str) -> Path:
    p = Path(path)
    if p.exists():
        return p
    for preset in _presets():
        if preset.name == path or preset.stem == path or f"presets/{preset.name}" == path:
            return preset
    return p


def _note(message: str) -> None:
    print(f"sciml: {message}", file=sys.stderr)


def _cmd_train(args: argparse.Namespace) -> int:
    from sciml.core.config import load_config
    from sciml.experiment import train_experiment
    from sciml.training.distributed import is_main_process, shutdown_distributed

    config = Path(args.config)
    if config.is_dir():
        hint = " (it is a run directory: evaluate it with 'sciml eval DIR', or resume it with 'sciml train DIR/config.json --resume')" if (config / "config.json").exists() else ""
        raise ConfigError(f"{config} is a directory, not a config file{hint}")
    cfg = load_config(_resolve_config(args.config), args.overrides)
    try:
        result = train_experiment(cfg, resume=args.resume or False, overwrite=args.overwrite, report=_note)
        main = is_main_process()  # asked before the process group is gone (afterwards every rank is 0)
    finally:
        shutdown_distributed()
    if main:
        print(json.dumps(result["test"], indent=2))
        print(f"run directory: {cfg.train.run_dir}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from sciml.experiment import evaluate_run

    # another file is evaluated whole unless a split is named; the training file on its test split
    split = args.split or ("all" if args.data else "test")
    split = None if split == "all" else split
    metrics = evaluate_run(args.run_dir, args.data, device=args.device, split=split, out=args.out, report=_note)
    print(json.dumps(metrics, indent=2))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from sciml.bench import describe_benchmarks, run_benchmark

    if args.list_benchmarks or args.name is None:
        print(describe_benchmarks())
        return 0
    run_benchmark(args.name, args.bench_args, prog=f"sciml bench {args.name}")
    return 0


def _cmd_koopman(args: argparse.Namespace) -> int:
    from sciml.koopman.runs import fit_directory, forecast_directory, parse_rank

    split = None if args.split == "all" else args.split
    if args.koopman_cmd == "fit":
        record = fit_directory(
            args.data, args.method, args.out, dictionary=args.dictionary, epsilon=args.epsilon,
            rank=parse_rank(args.rank), split=split, seed=args.seed,
        )
        kept = record["kept"]
        summary = {
            "method": record["method"],
            "dictionary": record["dictionary"],
            "n_eigenvalues": len(record["eigenvalues"]),
            "n_kept": None if kept is None else int(sum(kept)),
            "max_residual": None if record["residuals"] is None else max(record["residuals"], default=None),
            **record.get("metrics", {}),
        }
        print(json.dumps(summary, indent=2))
        print(f"wrote {Path(args.out) / 'koopman.json'}, the estimator and {', '.join(record['plots'])}")
        return 0
    record = forecast_directory(args.directory, args.data, split=split, horizon=args.horizon, context=args.context,
                                out=args.out)
    print(json.dumps({k: v for k, v in record.items() if k != "forecast_rel_l2_per_trajectory"}, indent=2))
    return 0


def _version() -> str:
    from sciml import __version__

    return __version__


def _generators_epilog() -> str:
    from sciml.core.registry import GENERATORS
    from sciml.data.generators import generator_parameters

    lines = ["generators and their parameters (name=default):"]
    common = {"n", "seed", "device", "batch_size", "progress"}
    for name in GENERATORS.names():
        params = [f"{k}={v!r}" for k, v in generator_parameters(name).items() if k not in common]
        lines.append(f"  {name}: {GENERATORS.describe(name)}")
        if params:
            lines.append(f"      {' '.join(params)}")
    return "\n".join(lines)


def _train_epilog() -> str:
    import dataclasses

    from sciml.core.config import ExperimentConfig

    lines = ["presets: " + ", ".join(p.stem for p in _presets()), "", "config sections and keys (override as key.sub=value):"]
    for f in dataclasses.fields(ExperimentConfig):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            keys = ", ".join(g.name for g in dataclasses.fields(default))
            lines.append(f"  {f.name}: {keys}")
        elif f.name != "sections":
            lines.append(f"  {f.name}")
    lines.append("  <task name>: the task's own section (sciml list tasks)")
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (usage text goes to --help) and help epilogs built only when asked."""

    def __init__(self, *args, epilog_factory=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._epilog_factory = epilog_factory

    def format_help(self) -> str:
        if self._epilog_factory is not None and self.epilog is None:
            self.epilog = self._epilog_factory()
        return super().format_help()

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sciml", description="Scientific machine learning on one dataset format and one trainer.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.add_argument("--version", action="version", version=f"sciml {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="print every registry (models, generators, objectives, metrics, ...)")
    p.add_argument("registry", nargs="?", help="only this registry")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("data", help="generate and inspect datasets")
    dsub = p.add_subparsers(dest="data_cmd", required=True, parser_class=_Parser)
    g = dsub.add_parser(
        "generate", help="run a registered generator into an HDF5 file", epilog_factory=_generators_epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("name")
    g.add_argument("--n", type=int, help="number of samples")
    g.add_argument("--resolution", type=int)
    g.add_argument("--seed", type=int)
    g.add_argument("--device", help="cpu or cuda")
    g.add_argument("--batch-size", dest="batch_size", type=int)
    g.add_argument("--out", required=True, help="output .h5 file (written atomically)")
    g.add_argument("--force", action="store_true", help="overwrite an existing file")
    g.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="a progress bar (default: on when stderr is a terminal)",
    )
    g.add_argument("params", nargs="*", help="generator parameters as name=value (e.g. nu=0.01)")
    r = dsub.add_parser(
        "recipe",
        help="generate a standard dataset from sciml/recipes/NAME.yaml and check it against the manifest "
        "(bitwise checksum, else numerical fingerprint)",
    )
    r.add_argument("recipe", help="recipe name (sciml/recipes/NAME.yaml) or path")
    r.add_argument("--out", required=True)
    r.add_argument("--small", action="store_true", help="the small variant (what the tests regenerate)")
    r.add_argument("--no-check", dest="no_check", action="store_true", help="skip the manifest comparison")
    r.add_argument("--force", action="store_true", help="overwrite an existing file")
    i = dsub.add_parser("info", help="validate a file (schema, checksums, finiteness) and summarize it")
    i.add_argument("file")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser(
        "train", help="train from a config file (YAML/TOML/JSON) or a packaged preset", epilog_factory=_train_epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides, e.g. train.epochs=5")
    p.add_argument(
        "--resume", nargs="?", const="last", default=None, metavar="last|best|PATH",
        help="continue from run_dir/last.pt (or best.pt, or a checkpoint path); the config may change only "
        "the learning rate, the budget and the logistics (applied and reported)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace the run in a non-empty train.run_dir")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="evaluate a run directory's checkpoint; writes metrics and plots")
    p.add_argument("run_dir")
    p.add_argument("--data", help="evaluate on this file instead of the training file's test split")
    p.add_argument("--split", default=None, help="train, val, test or all (default: test, or all with --data)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None, help="write the metrics and plots here (default: the run directory)")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser(
        "bench",
        help="run an installed benchmark (results JSON + PNGs; resumable, on serial, process or Dask executors)",
        description="Run an installed benchmark: sciml bench NAME [--preset P] [--executor SPEC] [--out DIR] "
        "[--resume]; 'sciml bench NAME --help' lists its options, 'sciml bench --list' the benchmarks.",
    )
    p.add_argument("name", nargs="?", help="the benchmark (sciml bench --list)")
    p.add_argument("--list", dest="list_benchmarks", action="store_true", help="list the installed benchmarks")
    p.add_argument(
        "bench_args", nargs=argparse.REMAINDER, metavar="...",
        help="the benchmark's options: --preset, --executor serial|process[:N]|dask[:N|:ADDRESS], --out, --resume, ...",
    )
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("koopman", help="fit Koopman learners (EDMD, kernel EDMD, ResDMD, Hankel-DMD, HAVOK) and forecast")
    ksub = p.add_subparsers(dest="koopman_cmd", required=True, parser_class=_Parser)
    f = ksub.add_parser(
        "fit", help="fit a Koopman method on a trajectories file; writes DIR/koopman.json, the estimator and plots"
    )
    f.add_argument("--data", required=True, help="a trajectories file of the sciml schema")
    f.add_argument("--method", required=True, help="edmd, kedmd, resdmd, hankel_dmd, havok or dmd")
    f.add_argument(
        "--dictionary", default=None,
        help="monomial:p, hermite:p, legendre:p, rbf:K, rff:K, delay:d, neural:N (edmd/resdmd; default monomial:2); "
        "gaussian[:H] or polynomial:p (kedmd); delay:d (hankel_dmd, havok; default delay:10)",
    )
    f.add_argument("--epsilon", type=float, default=None, help="ResDMD's residual threshold (default 0.1)")
    f.add_argument("--rank", default=None, help="SVD truncation: an int, an energy fraction in (0, 1) or none")
    f.add_argument("--split", default="train", help="train, val, test or all (default train)")
    f.add_argument("--seed", type=int, default=0, help="k-means centres and random features")
    f.add_argument("--out", required=True, help="output directory")
    f.set_defaults(func=_cmd_koopman)
    fc = ksub.add_parser("forecast", help="forecast a trajectories file with a fitted directory")
    fc.add_argument("directory")
    fc.add_argument("--data", required=True)
    fc.add_argument("--split", default="test", help="train, val, test or all (default test)")
    fc.add_argument("--context", type=int, default=None, help="context states (default: the method's min_context)")
    fc.add_argument("--horizon", type=int, default=None, help="steps to forecast (default: the rest of each trajectory)")
    fc.add_argument("--out", default=None, help="where forecast.npz/json/png go (default: DIR)")
    fc.set_defaults(func=_cmd_koopman)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # name=value items may follow options: generator parameters / config overrides
    for item in extra:
        if "=" in item and not item.startswith("-") and hasattr(args, "params"):
            args.params.append(item)
        elif not item.startswith("-") and hasattr(args, "overrides"):
            args.overrides.append(item)
        else:
            parser.error(f"unrecognized argument '{item}'")
    previous = _stop_on_sigterm()
    try:
        return int(args.func(args) or 0)
    except SciMLError as exc:
        if args.debug:
            raise
        print(f"sciml: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader of our output went away (``sciml list | head``): exit quietly
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(
            "sciml: interrupted; training and benchmarks resume with --resume, a data generation from its finished batches "
            "when the same command is rerun",
            file=sys.stderr,
        )
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):  # noqa: ANN001, ARG001 - signal handler signature
    raise KeyboardInterrupt


def _stop_on_sigterm():
    """Turn SIGTERM (a scheduler's stop, ``kill``) into KeyboardInterrupt, so temporary files are
    removed, checkpoints and finished batches kept; returns the previous handler (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_interrupt)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
