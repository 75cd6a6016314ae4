"""PINN failure modes on transport: vanilla, curriculum, causal PINN and Lagrangian PINN over beta; Burgers.

The code is ``sciml.bench.pinn_convection``: ``python benchmarks/pinn_convection.py --preset quick`` runs
``sciml bench pinn_convection --preset quick`` with the repository as root (results in ``benchmarks/results``);
see docs/pinn.md.
"""

import sys

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main(__file__))
