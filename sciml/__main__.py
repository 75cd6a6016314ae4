"""``python -m sciml`` (and ``torchrun -m sciml``) runs the CLI."""

import sys

from sciml.cli import main

sys.exit(main())
