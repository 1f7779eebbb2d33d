"""What the timing benchmarks share: rich progress steps that never refresh mid-query, and latency samples."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from citylink.geo.distance import FloatArray


@dataclass(frozen=True, slots=True)
class Latencies:
    """Latency samples, in whatever unit the script times in (µs or ms)."""

    values: FloatArray

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.values, q))

    @property
    def max(self) -> float:
        return float(self.values.max())


def progress_bar(console: Console) -> Progress:
    # No refresh thread: it would take the GIL in the middle of timed queries. Steps refresh by hand.
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, auto_refresh=False)


@contextmanager
def step(bar: Progress, description: str) -> Iterator[None]:
    task = bar.add_task(description, total=None)
    bar.refresh()
    try:
        yield
    finally:
        bar.update(task, total=1, completed=1, refresh=True)
