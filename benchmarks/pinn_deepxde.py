"""Our vanilla PINN against DeepXDE's (optional peer) on Burgers and heat, same network, points, optimizer, iterations.

The code is ``sciml.bench.pinn_deepxde``: ``python benchmarks/pinn_deepxde.py --preset quick`` runs
``sciml bench pinn_deepxde --preset quick`` with the repository as root (results in ``benchmarks/results``);
see docs/pinn.md.
"""

import sys

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main(__file__))
