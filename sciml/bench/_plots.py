"""What the benchmarks' figures share: bars labelled with their values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["label_bars"]


def label_bars(ax: Any, bars: Iterable[Any], labels: Iterable[str], offset: float = 2, **text: Any) -> None:
    """Write ``labels`` above ``bars`` (a ``bar`` call's result), ``offset`` points up, centred."""
    for bar, label in zip(bars, labels):
        ax.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, offset),
            textcoords="offset points",
            ha="center",
            **text,
        )
