"""Build the stored Lyapunov references, ``sciml/systems/lyapunov_references.json``.

A thin entry point of :func:`sciml.systems.build_lyapunov_references`: every system of the
catalogue (129 flows, 6 delay equations) with :func:`sciml.systems.lyapunov_estimate` at
the default :class:`~sciml.systems.LyapunovSettings`, the convergence check (L vs 2L),
the catalogue values labelled as such. The file is written after every system; a restart
skips the finished ones (``--retry-failed`` recomputes those whose integration failed);
``--time-limit`` bounds each system's CPU seconds (a system over it is stored with what it
reached, ``converged: false``). Single process: run it in the background, e.g.::

    OMP_NUM_THREADS=1 nohup nice -n 10 python benchmarks/lyapunov_references.py > lyapunov.log 2>&1 &
    python benchmarks/lyapunov_references.py --systems Lorenz,Rossler --out /tmp/two.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import sciml.systems as systems

DEFAULT_OUT = Path(systems.__file__).resolve().parent / "lyapunov_references.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default="all", help="comma-separated names, or 'all' (default)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON file (default {DEFAULT_OUT})")
    parser.add_argument("--time-limit", type=float, default=120.0, help="CPU seconds per system (default 120)")
    parser.add_argument("--retry-failed", action="store_true", help="recompute systems whose integration failed")
    args = parser.parse_args(argv)
    names = None if args.systems == "all" else [n.strip() for n in args.systems.split(",") if n.strip()]
    payload = systems.build_lyapunov_references(
        args.out,
        names,
        time_limit_s=args.time_limit,
        retry_failed=args.retry_failed,
        log=lambda line: print(line, flush=True),
    )
    summary = payload["summary"]
    print(
        f"{summary['n_converged']} of {summary['n_systems']} converged; "
        f"{summary['cpu_seconds'] / 60:.1f} CPU minutes; written to {args.out}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
