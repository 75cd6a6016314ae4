"""Markdown tables of benchmark rows, with the spread of repeated measurements (min / median / max).

>>> spread([0.30, 0.10, 0.20, 0.25])
{'min': 0.1, 'median': 0.225, 'max': 0.3, 'n': 4}
>>> format_spread([1.0, 1.5, 1.25], ".2f")
'1.00 / 1.25 / 1.50'
>>> print(markdown_table(["method", "s / epoch (min / median / max)"], [["fno", format_spread([1.0, 2.0, 4.0], ".1f")]]))
| method | s / epoch (min / median / max) |
|---|---|
| fno | 1.0 / 2.0 / 4.0 |
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["spread", "format_spread", "markdown_table", "format_targets"]


def spread(values: Iterable[float]) -> dict[str, float]:
    """``{"min", "median", "max", "n"}`` of repeated measurements (one value: all three equal it)."""
    data = [float(v) for v in values]
    if not data:
        raise ValueError("spread of no values; measure at least once")
    return {"min": min(data), "median": statistics.median(data), "max": max(data), "n": len(data)}


def format_spread(values: Iterable[float], fmt: str = ".4g") -> str:
    """``"min / median / max"`` of ``values``, each formatted with ``fmt``."""
    s = spread(values)
    return " / ".join(format(s[k], fmt) for k in ("min", "median", "max"))


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table: one ``| a | b |`` line per row under ``header``."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def format_targets(targets: Iterable[dict[str, Any]]) -> str:
    """One line per target: ``target NAME: measured X, goal G, met`` (or ``NOT met``)."""
    lines = []
    for t in targets:
        measured = t["measured"]
        value = format(measured, ".4g") if isinstance(measured, float) else measured
        lines.append(f"target {t['name']}: measured {value}, goal {t['goal']}, {'met' if t['met'] else 'NOT met'}")
    return "\n".join(lines)
