"""Generator speed: seconds per sample at two resolutions, peak memory, 1000-sample time (``sciml.bench.generators``).

``python benchmarks/generators.py --preset quick`` is ``sciml bench generators --preset quick`` writing to
``benchmarks/results``; see docs/benchmarks.md.
"""

import sys
from pathlib import Path

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main("generators", prog="python benchmarks/generators.py", root=Path(__file__).resolve().parents[1]))
