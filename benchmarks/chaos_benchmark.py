"""Chaotic forecasting benchmark over the dysts catalogue (``sciml bench chaos``).

The code is ``sciml.bench.chaos``: ``python benchmarks/chaos_benchmark.py --preset quick`` runs
``sciml bench chaos --preset quick`` with ``--out benchmarks/results/chaos`` (chaos.json,
cells.jsonl, leaderboard.md/.csv, PNGs) unless ``--out`` is given, and copies the results
payload to ``benchmarks/results/chaos_benchmark.json``. Another preset P (``--preset peers``)
writes into ``benchmarks/results/chaos/P`` and copies to ``benchmarks/results/chaos_benchmark_P.json``;
see docs/chaos_benchmark.md.
"""

import shutil
import sys
from pathlib import Path

from sciml.bench import run_benchmark
from sciml.core.errors import SciMLError

if __name__ == "__main__":
    here = Path(__file__).resolve()
    results = here.parent / "results"
    argv = sys.argv[1:]
    preset = "quick"
    for i, arg in enumerate(argv):
        if arg == "--preset" and i + 1 < len(argv):
            preset = argv[i + 1]
        elif arg.startswith("--preset="):
            preset = arg.partition("=")[2]
    if "--out" not in argv:
        argv = [*argv, "--out", str(results / "chaos" if preset == "quick" else results / "chaos" / preset)]
    prog = f"python benchmarks/{here.name}"
    try:
        run_benchmark("chaos", argv, prog=prog, root=here.parents[1])
    except SciMLError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; rerun with --resume to keep the finished cells", file=sys.stderr)
        sys.exit(130)
    out = Path(argv[argv.index("--out") + 1])
    shutil.copyfile(
        out / "chaos.json",
        results / ("chaos_benchmark.json" if preset == "quick" else f"chaos_benchmark_{preset}.json"),
    )
