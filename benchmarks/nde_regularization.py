"""Neural ODE/SDE solver-heuristic regularization: vanilla vs STEER vs global vs local.

The code is ``sciml.bench.nde_regularization``: ``python benchmarks/nde_regularization.py --preset quick`` runs ``sciml bench nde_regularization --preset quick`` with the
repository as root (results in ``benchmarks/results``, data in ``datasets/generated``); see docs/benchmarks.md.
"""

import sys

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main(__file__))
