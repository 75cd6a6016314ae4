"""Koopman learners vs PyDMD on the same data and dictionary: eigenvalues and fit time.

The code is ``sciml.bench.koopman``: ``python benchmarks/koopman.py --preset quick`` runs ``sciml bench koopman --preset quick`` with the
repository as root (results in ``benchmarks/results``); see docs/benchmarks.md and docs/koopman.md.
"""

import sys

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main(__file__))
