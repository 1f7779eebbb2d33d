"""One retry rule for every outbox: the wait doubles from a first wait and stops growing at a longest one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from citylink.runtime.backoff import backoff


def test_the_wait_doubles_then_holds_at_the_longest() -> None:
    waits = [backoff(n, first_s=2.0, longest_s=300.0).total_seconds() for n in range(1, 11)]
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0]


def test_a_partner_down_for_weeks_is_still_retried_at_the_longest_wait() -> None:
    # Uncapped, 2 ** n seconds outgrows a timedelta (OverflowError) after ~47 failures.
    assert backoff(10_000, first_s=1.0, longest_s=300.0) == timedelta(seconds=300)
    assert backoff(10_000, first_s=86_400.0, longest_s=86_400.0) == timedelta(days=1)


def test_there_is_no_wait_before_a_first_failure() -> None:
    with pytest.raises(ValueError, match="failures must be at least 1"):
        backoff(0, first_s=1.0, longest_s=300.0)
