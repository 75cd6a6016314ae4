"""Command line of the installed benchmarks: ``sciml bench NAME ...`` and the scripts in ``benchmarks/``.

Options every benchmark takes: ``--preset``, ``--executor SPEC``, ``--out DIR``, ``--resume``,
``--time-limit SECONDS`` (per cell) and ``--progress``; each adds its own
(``sciml bench NAME --help``). The results go to ``ROOT/benchmarks/results`` when that folder
exists (ROOT: the current directory for ``sciml bench``, the repository for the scripts), else
to the current directory.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sciml.bench._executors import EXECUTOR_FORMS, parse_executor_spec
from sciml.bench._registry import load_benchmark, presets_of
from sciml.core.errors import ConfigError, SciMLError

__all__ = ["run_benchmark", "main", "default_out"]


def default_out(root: Path) -> Path:
    """``root/benchmarks/results`` when that folder exists (a checkout of the repository), else ``.``."""
    results = Path(root) / "benchmarks" / "results"
    return results if results.is_dir() else Path(".")


class _Parser(argparse.ArgumentParser):
    """Parser errors as one-line ConfigErrors (the CLI prints them and exits with 2)."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise ConfigError(f"{self.prog}: {message}; see '{self.prog} --help'")


def build_parser(name: str, prog: str, root: Path) -> tuple[argparse.ArgumentParser, Any]:
    """The parser of benchmark ``name``: the common options and the benchmark's own."""
    module = load_benchmark(name)
    parser = _Parser(prog=prog, description=(module.__doc__ or name).strip().splitlines()[0])
    presets = presets_of(module)
    if presets:
        parser.add_argument("--preset", choices=presets, default=getattr(module, "DEFAULT_PRESET", "quick"))
    parser.add_argument(
        "--executor",
        default=getattr(module, "DEFAULT_EXECUTOR", "serial"),
        metavar="SPEC",
        help=f"where the cells run: {EXECUTOR_FORMS} (default %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=default_out(root), help="folder of the JSON and PNGs (default %(default)s)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows of the results file in --out (same settings) and run only the missing cells",
    )
    parser.add_argument(
        "--time-limit", type=float, default=None, metavar="SECONDS", help="per cell; over it, the cell fails"
    )
    parser.add_argument("--progress", action="store_true", help="a progress bar over the cells")
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser, Path(root))
    return parser, module


def run_benchmark(name: str, argv: Sequence[str], *, prog: str | None = None, root: Path | None = None) -> dict:
    """Parse ``argv`` for benchmark ``name`` and run it; returns its payload (errors: SciMLError)."""
    argv = list(argv)
    prog = prog or f"sciml bench {name}"
    root = Path.cwd() if root is None else Path(root)
    parser, module = build_parser(name, prog, root)
    args = vars(parser.parse_args(argv))
    if args.get("time_limit") is not None and args["time_limit"] <= 0:
        raise ConfigError(f"{prog}: --time-limit must be > 0 seconds, got {args['time_limit']:g}")
    preset = args.pop("preset", None)
    out = args.pop("out")
    executor = args.pop("executor")
    parse_executor_spec(executor)  # a wrong spec fails before any work
    command = " ".join([prog, *argv])
    return module.run(preset, out, executor, command=command, **args)


def main(script: str | os.PathLike[str], argv: Sequence[str] | None = None) -> int:
    """Entry point of a script ``benchmarks/NAME.py``: runs benchmark NAME with the repository as root.

    One-line errors on stderr and exit code 2; an interrupt exits with 130 (rerun with ``--resume``).
    """
    path = Path(script).resolve()
    prog = f"python {path.parent.name}/{path.name}"
    try:
        run_benchmark(path.stem, sys.argv[1:] if argv is None else argv, prog=prog, root=path.parents[1])
    except SciMLError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; rerun with --resume to keep the finished cells", file=sys.stderr)
        return 130
    return 0
