"""Variants of the operators benchmark's models from a YAML spec.

The code is ``sciml.bench.operators_variants``: ``python benchmarks/operators_variants.py benchmarks/variants/tfno_ns_subset.yaml --resume`` runs ``sciml bench operators_variants SPEC --resume`` with the
repository as root (results in ``benchmarks/results``, data in ``datasets/generated``); see docs/benchmarks.md.
"""

import sys

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main(__file__))
