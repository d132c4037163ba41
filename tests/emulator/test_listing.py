"""sessions.list (spec 3.3): page sizes, newest-first order, opaque and stable page tokens,
and the filter subset over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from ..support import EmulatorProcess, wait_for, wait_state
from .calls import (
    ENUM_INTS,
    assert_error,
    create_ok,
    fresh_parent,
    list_all,
    new_id,
    session_ids,
    terminate_ok,
)


def create_many(emulator: EmulatorProcess, parent: str, count: int, prefix: str = "s") -> list[str]:
    """Create ``count`` sessions with a few parallel clients; return their ids."""
    ids = [f"{prefix}-{i:05d}" for i in range(count)]
    local = threading.local()

    def one(sid: str) -> None:
        if not hasattr(local, "client"):
            local.client = emulator.client()
        r = local.client.post(f"/v1/{parent}/sessions", params={"sessionId": sid}, json={})
        assert r.status_code == 200, r.text

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, ids))
    return ids


def grew(items: list[str], size: int) -> Callable[[], bool]:
    return lambda: len(items) > size


def page(api: httpx.Client, parent: str, **params: Any) -> dict[str, Any]:
    r = api.get(f"/v1/{parent}/sessions", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


# --- paging ---------------------------------------------------------------------------------


def test_default_page_size_is_twenty_newest_first(api: httpx.Client) -> None:
    """Given 25 sessions created one after another
    When the client lists without pageSize
    Then the first page has 20 sessions and a token, the second the other 5 and no token,
    and the order is createTime descending (the newest first)."""
    parent = fresh_parent()
    ids = [new_id() for _ in range(25)]
    for sid in ids:
        create_ok(api, parent, sid)

    first = page(api, parent)
    assert len(first["sessions"]) == 20
    assert first["nextPageToken"]
    second = page(api, parent, pageToken=first["nextPageToken"])
    assert len(second["sessions"]) == 5
    assert "nextPageToken" not in second

    listed = first["sessions"] + second["sessions"]
    assert session_ids(listed) == list(reversed(ids))
    times = [s["createTime"] for s in listed]
    assert times == sorted(times, reverse=True)


def test_page_size_zero_means_default_and_sizes_may_change_between_pages(
    api: httpx.Client,
) -> None:
    """Given 12 sessions
    When the client lists with pageSize 0, then pages of 5 then 3 then 100
    Then pageSize 0 behaves as the default, and changing the size between pages neither
    repeats nor skips a session."""
    parent = fresh_parent()
    for _ in range(12):
        create_ok(api, parent, new_id())
    assert len(page(api, parent, pageSize=0)["sessions"]) == 12

    seen: list[str] = []
    token = None
    for size in (5, 3, 100):
        body = page(api, parent, pageSize=size, **({"pageToken": token} if token else {}))
        assert len(body["sessions"]) == min(size, 12 - len(seen))
        seen += session_ids(body["sessions"])
        token = body.get("nextPageToken")
    assert token is None
    assert len(seen) == len(set(seen)) == 12


def test_page_size_is_capped_at_one_thousand(
    api: httpx.Client, simulated_emulator: EmulatorProcess
) -> None:
    """Given 1003 sessions in one parent
    When the client asks for pageSize 5000
    Then it gets exactly 1000 and a token, and the next page holds the last 3."""
    parent = fresh_parent()
    ids = create_many(simulated_emulator, parent, 1003)
    first = page(api, parent, pageSize=5000)
    assert len(first["sessions"]) == 1000
    assert first["nextPageToken"]
    rest = page(api, parent, pageSize=5000, pageToken=first["nextPageToken"])
    assert len(rest["sessions"]) == 3
    assert "nextPageToken" not in rest
    assert sorted(session_ids(first["sessions"] + rest["sessions"])) == sorted(ids)


def test_tokens_are_opaque(api: httpx.Client) -> None:
    """Given a listing with more than one page
    When the client looks at the token
    Then it does not expose resource names or filter text, and a mangled token is 400."""
    parent = fresh_parent()
    for _ in range(3):
        create_ok(api, parent, new_id(), {"labels": {"secret": "value"}})
    token = page(api, parent, pageSize=1, filter="labels.secret = value")["nextPageToken"]
    assert parent not in token and "/sessions/" not in token and "secret" not in token
    r = api.get(
        f"/v1/{parent}/sessions",
        params={"pageToken": token[::-1], "filter": "labels.secret = value"},
    )
    assert_error(r, 400, "INVALID_ARGUMENT", field="pageToken")


def test_tokens_stay_valid_while_sessions_are_created(
    api: httpx.Client, simulated_emulator: EmulatorProcess
) -> None:
    """Given 40 sessions and a listing paged 7 at a time
    When new sessions are created between pages and by a concurrent writer
    Then walking the pages returns every one of the 40 exactly once, and sessions created
    after the first page never show up on later pages (they sort before the cursor)."""
    parent = fresh_parent()
    original = [new_id("old") for _ in range(40)]
    for sid in original:
        create_ok(api, parent, sid)

    first_page_read = threading.Event()
    stop = threading.Event()
    written: list[str] = []

    def writer() -> None:
        first_page_read.wait(30)
        with simulated_emulator.client() as c:
            while not stop.is_set():
                sid = new_id("new")
                create_ok(c, parent, sid)
                written.append(sid)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen: list[str] = []
        body = page(api, parent, pageSize=7)
        first_page_read.set()
        while True:
            seen += session_ids(body["sessions"])
            create_ok(api, parent, new_id("new"))
            token = body.get("nextPageToken")
            if not token:
                break
            wait_for(grew(written, len(written)), 10, what="a concurrent create")
            body = page(api, parent, pageSize=7, pageToken=token)
    finally:
        stop.set()
        thread.join(timeout=30)

    olds = [sid for sid in seen if sid.startswith("old-")]
    assert len(seen) == len(set(seen)), "a session was listed twice"
    assert sorted(olds) == sorted(original), "a session that existed was missed"
    assert seen == olds, "a session created after the first page showed up on a later page"
    assert len(written) >= 5
    assert len(list_all(api, f"{parent}/sessions", "sessions")) > 40


def test_filter_and_paging_together(api: httpx.Client) -> None:
    """Given 30 sessions of which every third is labelled team=a
    When the client lists with filter labels.team=a and pageSize 3
    Then the pages hold 3, 3, 3 and 1 of exactly those ten, newest first, with no token on
    the last page."""
    parent = fresh_parent()
    team_a: list[str] = []
    for i in range(30):
        sid = new_id()
        labels = {"team": "a"} if i % 3 == 0 else {"team": "b"}
        create_ok(api, parent, sid, {"labels": labels})
        if i % 3 == 0:
            team_a.append(sid)

    sizes: list[int] = []
    seen: list[str] = []
    params: dict[str, Any] = {"pageSize": 3, "filter": "labels.team = a"}
    while True:
        body = page(api, parent, **params)
        sizes.append(len(body.get("sessions", [])))
        seen += session_ids(body.get("sessions", []))
        if "nextPageToken" not in body:
            break
        params["pageToken"] = body["nextPageToken"]
    assert sizes == [3, 3, 3, 1]
    assert seen == list(reversed(team_a))


def test_filter_matching_nothing_is_an_empty_object(api: httpx.Client) -> None:
    """Given sessions in a parent
    When the client filters for a label none has
    Then the answer is {}."""
    parent = fresh_parent()
    create_ok(api, parent, new_id())
    assert page(api, parent, filter="labels.none = here") == {}


# --- filter fields --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def population(simulated_emulator: EmulatorProcess) -> dict[str, Any]:
    """One parent with five sessions in known states and labels:
    prod (ACTIVE, env=prod, team=a), devel (ACTIVE, env=dev), olden (TERMINATED, env=prod),
    broken (FAILED, no env), spare (ACTIVE, env=prod-2)."""
    parent = fresh_parent()
    with simulated_emulator.client() as api:
        specs = {
            "prod": {"env": "prod", "team": "a"},
            "devel": {"env": "dev"},
            "olden": {"env": "prod"},
            "broken": {"emulator-fail-start": ""},
            "spare": {"env": "prod-2"},
        }
        for sid, labels in specs.items():
            create_ok(api, parent, sid, {"labels": labels})
        for sid in specs:
            wait_state(api, f"{parent}/sessions/{sid}", {"ACTIVE", "FAILED"})
        terminate_ok(api, f"{parent}/sessions/olden")
        wait_state(api, f"{parent}/sessions/olden", {"TERMINATED"})
        sessions = {
            s["name"].rsplit("/", 1)[-1]: s for s in list_all(api, f"{parent}/sessions", "sessions")
        }
    return {"parent": parent, "sessions": sessions}


def matching(api: httpx.Client, population: dict[str, Any], text: str) -> set[str]:
    r = api.get(f"/v1/{population['parent']}/sessions", params={"filter": text})
    assert r.status_code == 200, (text, r.text)
    return set(session_ids(r.json().get("sessions", [])))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("state = ACTIVE", {"prod", "devel", "spare"}),
        ("state = TERMINATED", {"olden"}),
        ("state != ACTIVE", {"olden", "broken"}),
        ("state = TERMINATED OR state = FAILED", {"olden", "broken"}),
        ("state = CREATING OR state = ACTIVE OR state = TERMINATING", {"prod", "devel", "spare"}),
        ('session_id = "prod"', {"prod"}),
        ("session_id = prod", {"prod"}),
        ("sessionId = devel", {"devel"}),
        ("session_id != prod AND state = ACTIVE", {"devel", "spare"}),
        ("labels.env = prod", {"prod", "olden"}),
        ('labels.env = "prod"', {"prod", "olden"}),
        ("labels.env=prod", {"prod", "olden"}),
        ("labels.env != prod", {"devel", "broken", "spare"}),
        ("labels.team:*", {"prod"}),
        ("labels.env:*", {"prod", "devel", "olden", "spare"}),
        ("labels.env = PROD", set()),
        ("labels.emulator-fail-start:*", {"broken"}),
        ("NOT state = ACTIVE", {"olden", "broken"}),
        ("-state = ACTIVE", {"olden", "broken"}),
        ("state = ACTIVE AND labels.env = prod", {"prod"}),
        ("state = ACTIVE labels.env = dev", {"devel"}),
        ("(state = ACTIVE OR state = TERMINATED) AND labels.env = prod", {"prod", "olden"}),
        ("state = ACTIVE and labels.env = prod", {"prod"}),
        ("state = TERMINATED or state = FAILED", {"olden", "broken"}),
        ("not state = ACTIVE", {"olden", "broken"}),
        ("state = ACTIVE And NOT labels.team:*", {"devel", "spare"}),
    ],
)
def test_filter_expressions(
    api: httpx.Client, population: dict[str, Any], text: str, expected: set[str]
) -> None:
    """Given the five sessions of the population
    When the client lists with the filter
    Then exactly the expected sessions match."""
    assert matching(api, population, text) == expected


def test_filter_on_uuid_in_both_spellings(api: httpx.Client, population: dict[str, Any]) -> None:
    """Given the population
    When the client filters on one session's uuid (session_uuid and sessionUuid)
    Then only that session matches."""
    uuid = population["sessions"]["devel"]["uuid"]
    assert matching(api, population, f'session_uuid = "{uuid}"') == {"devel"}
    assert matching(api, population, f'sessionUuid = "{uuid}"') == {"devel"}
    assert matching(api, population, f'session_uuid != "{uuid}"') == {
        "prod",
        "olden",
        "broken",
        "spare",
    }


def test_filter_on_create_time_comparisons(api: httpx.Client, population: dict[str, Any]) -> None:
    """Given the population created in the order prod, devel, olden, broken, spare
    When the client filters on create_time (both spellings, every comparator)
    Then the comparisons follow the creation order."""
    t = population["sessions"]["olden"]["createTime"]
    assert matching(api, population, f'create_time > "{t}"') == {"broken", "spare"}
    assert matching(api, population, f'create_time >= "{t}"') == {"olden", "broken", "spare"}
    assert matching(api, population, f'create_time < "{t}"') == {"prod", "devel"}
    assert matching(api, population, f'createTime <= "{t}"') == {"prod", "devel", "olden"}
    assert matching(api, population, f'create_time = "{t}"') == {"olden"}
    assert matching(api, population, 'create_time < "2000-01-01T00:00:00Z"') == set()
    assert matching(api, population, f'state = ACTIVE AND create_time < "{t}"') == {"prod", "devel"}


def test_filter_results_keep_enum_encoding(api: httpx.Client, population: dict[str, Any]) -> None:
    """Given the population
    When the client filters by state name and asks for int enums
    Then the filter still takes the name and the results carry ints."""
    r = api.get(
        f"/v1/{population['parent']}/sessions",
        params={"filter": "state = FAILED", **ENUM_INTS},
    )
    assert [s["state"] for s in r.json()["sessions"]] == [5]
