"""Neural operators side by side: FNO, TFNO, MG-TFNO, LSM and the neuraloperator-trained FNO.

The code is ``sciml.bench.operators``: ``python benchmarks/operators.py --preset quick`` runs ``sciml bench operators --preset quick`` with the
repository as root (results in ``benchmarks/results``, data in ``datasets/generated``); see docs/benchmarks.md.
"""

import sys

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main(__file__))
