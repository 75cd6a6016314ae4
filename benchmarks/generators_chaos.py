"""Chaos generator speed: our batched solvers vs dysts ``make_trajectory`` per initial condition; Lyapunov check.

The code is ``sciml.bench.generators_chaos``: ``python benchmarks/generators_chaos.py --preset quick`` runs
``sciml bench generators_chaos --preset quick`` with the repository as root (results in ``benchmarks/results``);
see docs/benchmarks.md.
"""

import sys

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main(__file__))
