"""The one backoff schedule every retrying and polling loop uses."""

from __future__ import annotations

import time

from jupyter_sessions.api.backoff import Backoff


def test_the_wait_doubles_up_to_the_cap_with_jitter_below_it() -> None:
    # Given a backoff from 0.5 s up to 4 s with half jitter
    schedule = Backoff(first=0.5, cap=4.0)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0), (10, 4.0)]:
        # When many waits are drawn, Then each lies in [ceiling / 2, ceiling]
        waits = [schedule.step(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        # and they are spread out
        assert max(waits) - min(waits) > ceiling / 10


def test_no_jitter_gives_the_plain_geometric_schedule() -> None:
    schedule = Backoff(first=0.2, cap=5.0, factor=1.5, jitter=0.0)
    assert [round(schedule.step(n), 4) for n in range(4)] == [0.2, 0.3, 0.45, 0.675]
    assert schedule.step(20) == 5.0


def test_the_servers_retry_after_wins_unless_it_is_too_long() -> None:
    schedule = Backoff(first=0.25, cap=8.0)
    # Given the server asked for 3 s, Then the wait is 3 s whatever the attempt
    assert schedule.delay(0, hint=3.0) == 3.0
    # Given it asked for longer than we wait silently, Then the caller gives up
    assert schedule.delay(0, hint=120.0, max_hint=60.0) is None


def test_no_wait_ends_past_the_deadline() -> None:
    schedule = Backoff(first=1.0, cap=1.0, jitter=0.0)
    now = time.monotonic()
    assert schedule.delay(0, deadline=now + 10) == 1.0
    assert schedule.delay(0, deadline=now + 0.5) is None
    assert schedule.delay(0, hint=0.1, deadline=now + 0.5) == 0.1
