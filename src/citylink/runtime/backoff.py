"""The wait before a failed delivery is tried again: doubling from a first wait, never longer than a longest one.

One rule for every outbox that delivers to something that can be down (notifications, city linkage, CAP
receivers): a partner down for hours is retried at a steady pace, and no count of failures makes the wait
overflow (an uncapped 2 ** n seconds is past what a timedelta holds after ~47 failures).
"""

from __future__ import annotations

from datetime import timedelta

_MAX_DOUBLINGS = 64  # past any longest wait from any first wait a setting allows


def backoff(failures: int, *, first_s: float, longest_s: float) -> timedelta:
    """The wait after `failures` failures in a row (1: the first wait)."""
    if failures < 1:
        raise ValueError(f"failures must be at least 1, got {failures}")
    return timedelta(seconds=min(first_s * 2.0 ** min(failures - 1, _MAX_DOUBLINGS), longest_s))
