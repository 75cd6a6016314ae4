"""Trainer overhead: sciml's Trainer vs a bare torch loop vs neuraloperator's Trainer.

The code is ``sciml.bench.trainer_overhead``: ``python benchmarks/trainer_overhead.py --preset quick`` runs ``sciml bench trainer_overhead --preset quick`` with the
repository as root (results in ``benchmarks/results``, data in ``datasets/generated``); see docs/benchmarks.md.
"""

import sys

from sciml.bench import main

if __name__ == "__main__":
    sys.exit(main(__file__))
