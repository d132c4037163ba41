"""Many clients at once: concurrent creates, shared requestIds, races on one session."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from ..support import EmulatorProcess, wait_for, wait_state
from .calls import create_active, fresh_parent, list_all, new_id


async def _create_all(
    url: str, parent: str, calls: list[tuple[str, str | None]]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) as client:

        async def one(session_id: str, request_id: str | None) -> httpx.Response:
            params = {"sessionId": session_id}
            if request_id:
                params["requestId"] = request_id
            return await client.post(f"/v1/{parent}/sessions", params=params, json={})

        return await asyncio.gather(*(one(sid, rid) for sid, rid in calls))


def test_two_hundred_concurrent_creates_with_a_shared_request_id(
    api: httpx.Client, simulated_emulator: EmulatorProcess
) -> None:
    """Given 200 creates sent at once, 50 of which share one requestId (each with its own
    sessionId)
    When they all complete
    Then all 200 answers are 200; the 50 carry the same operation name; exactly 151
    sessions exist (one for the shared requestId); and all 151 reach ACTIVE with their
    create operations done."""
    parent = fresh_parent()
    shared: list[tuple[str, str | None]] = [
        (f"shared-{i:03d}", "one-request-id") for i in range(50)
    ]
    own: list[tuple[str, str | None]] = [(f"own-{i:03d}", None) for i in range(150)]
    calls = [c for pair in zip(own[:50], shared, strict=True) for c in pair] + own[50:]

    responses = asyncio.run(_create_all(simulated_emulator.url, parent, calls))

    assert [r.status_code for r in responses] == [200] * 200, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    by_call = dict(zip(calls, (r.json() for r in responses), strict=True))
    shared_ops = {by_call[c]["name"] for c in shared}
    assert len(shared_ops) == 1
    own_ops = {by_call[c]["name"] for c in own}
    assert len(own_ops) == 150 and not own_ops & shared_ops

    sessions = list_all(api, f"{parent}/sessions", "sessions", {"pageSize": 1000})
    ids = [s["name"].rsplit("/", 1)[-1] for s in sessions]
    assert len(ids) == len(set(ids)) == 151
    winners = [sid for sid in ids if sid.startswith("shared-")]
    assert len(winners) == 1
    shared_op = next(iter(shared_ops))
    assert api.get(f"/v1/{shared_op}").json()["metadata"]["session"].endswith(winners[0])

    def all_active() -> bool:
        active = list_all(
            api, f"{parent}/sessions", "sessions", {"pageSize": 1000, "filter": "state = ACTIVE"}
        )
        return len(active) == 151

    wait_for(all_active, timeout=30, what="151 ACTIVE sessions")
    for op_name in [*own_ops, shared_op]:
        assert api.get(f"/v1/{op_name}").json().get("done") is True


def test_concurrent_creates_of_one_id_let_exactly_one_win(
    api: httpx.Client, simulated_emulator: EmulatorProcess
) -> None:
    """Given 20 creates of the same sessionId sent at once (no requestId)
    When they complete
    Then exactly one is 200 and the other 19 are 409 ALREADY_EXISTS."""
    parent = fresh_parent()
    sid = new_id()
    responses = asyncio.run(_create_all(simulated_emulator.url, parent, [(sid, None)] * 20))
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 1, 409: 19}
    assert all(
        r.json()["error"]["status"] == "ALREADY_EXISTS" for r in responses if r.status_code == 409
    )
    assert len(list_all(api, f"{parent}/sessions", "sessions")) == 1


def test_concurrent_terminates_of_one_session(
    api: httpx.Client, simulated_emulator: EmulatorProcess
) -> None:
    """Given an ACTIVE session
    When 20 clients terminate it at once
    Then exactly one gets an operation and the others get 400 FAILED_PRECONDITION; the
    session ends TERMINATED once."""
    parent = fresh_parent()
    s = create_active(api, parent, new_id())

    async def hammer() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=simulated_emulator.url, timeout=60.0) as client:
            return await asyncio.gather(
                *(client.post(f"/v1/{s['name']}:terminate", json={}) for _ in range(20))
            )

    responses = asyncio.run(hammer())
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 1, 400: 19}
    statuses: set[Any] = {r.json()["error"]["status"] for r in responses if r.status_code == 400}
    assert statuses == {"FAILED_PRECONDITION"}
    final = wait_state(api, s["name"], {"TERMINATED"})
    assert [h["state"] for h in final["stateHistory"]] == ["CREATING", "ACTIVE", "TERMINATING"]
