"""StNN (Hankel-structured layers) vs the dense network of the same depth, HAVOK and SINDy on Lotka-Volterra and Lorenz-63.

The code is ``sciml.bench.koopman_stnn``: ``python benchmarks/koopman_stnn.py --preset quick`` runs
``sciml bench koopman_stnn --preset quick`` with the repository as root (results in ``benchmarks/results``);
see docs/koopman.md, section StNN.
"""

import sys

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main(__file__))
