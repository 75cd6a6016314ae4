"""Generator speed: seconds per sample at two resolutions, peak memory, 1000-sample time.

The code is ``sciml.bench.generators``: ``python benchmarks/generators.py --preset quick`` runs ``sciml bench generators --preset quick`` with the
repository as root (results in ``benchmarks/results``, data in ``datasets/generated``); see docs/benchmarks.md.
"""

import sys

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main(__file__))
