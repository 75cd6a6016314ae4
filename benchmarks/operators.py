"""Neural operators side by side: FNO, TFNO, MG-TFNO, LSM and the neuraloperator-trained FNO (``sciml.bench.operators``).

``python benchmarks/operators.py --preset quick`` is ``sciml bench operators --preset quick`` writing to
``benchmarks/results`` (data cached in ``datasets/generated``); see docs/benchmarks.md.
"""

import sys
from pathlib import Path

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main("operators", prog="python benchmarks/operators.py", root=Path(__file__).resolve().parents[1]))
