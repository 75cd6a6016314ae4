"""Variants of the operators benchmark's models from a YAML spec (``sciml.bench.operators_variants``).

``python benchmarks/operators_variants.py benchmarks/variants/tfno_ns_subset.yaml --resume`` is
``sciml bench operators_variants SPEC --resume`` writing to ``benchmarks/results``; see docs/benchmarks.md.
"""

import sys
from pathlib import Path

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(
        main(
            "operators_variants",
            prog="python benchmarks/operators_variants.py",
            root=Path(__file__).resolve().parents[1],
        )
    )
