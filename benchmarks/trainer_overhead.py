"""Trainer overhead: sciml's Trainer vs a bare torch loop vs neuraloperator's Trainer (``sciml.bench.trainer_overhead``).

``python benchmarks/trainer_overhead.py --preset quick`` is ``sciml bench trainer_overhead --preset quick``
writing to ``benchmarks/results``; see docs/benchmarks.md.
"""

import sys
from pathlib import Path

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(
        main("trainer_overhead", prog="python benchmarks/trainer_overhead.py", root=Path(__file__).resolve().parents[1])
    )
