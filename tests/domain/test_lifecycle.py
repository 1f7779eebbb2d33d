"""Which status moves an incident where, and what ends it."""

from __future__ import annotations

import pytest

from citylink.domain.events import Status
from citylink.domain.incidents import LifecycleError, transition

ENDINGS = [Status.CLEARED, Status.CANCELLED, Status.ENDED, Status.AUTO_ENDED]


def test_first_event_opens() -> None:
    assert transition(None, Status.OCCURRED).opens
    assert transition(None, Status.CHANGED).opens  # a lost 10 upstream must not lose the update


@pytest.mark.parametrize("end", ENDINGS)
def test_every_end_status_ends_an_open_incident(end: Status) -> None:
    step = transition(Status.OCCURRED, end)
    assert step.ends and not step.opens
    assert transition(Status.CHANGED, end).ends


@pytest.mark.parametrize("end", ENDINGS)
def test_nothing_follows_an_end(end: Status) -> None:
    for incoming in Status:
        with pytest.raises(LifecycleError, match="already"):
            transition(end, incoming)


def test_updates_may_repeat_but_occurred_never_comes_back() -> None:
    assert not transition(Status.CHANGED, Status.CHANGED).ends
    with pytest.raises(LifecycleError, match="backwards"):
        transition(Status.CHANGED, Status.OCCURRED)
    with pytest.raises(LifecycleError, match="never opened"):
        transition(None, Status.ENDED)
