"""Neural ODE/SDE solver-heuristic regularization: vanilla vs STEER vs global vs local (``sciml.bench.nde_regularization``).

``python benchmarks/nde_regularization.py --preset quick`` is ``sciml bench nde_regularization --preset quick``
writing to ``benchmarks/results``; see docs/benchmarks.md.
"""

import sys
from pathlib import Path

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(
        main(
            "nde_regularization",
            prog="python benchmarks/nde_regularization.py",
            root=Path(__file__).resolve().parents[1],
        )
    )
