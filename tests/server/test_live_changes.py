"""Live for every change, made anywhere: the Watcher follows the emulator's change feed
(no polling), resumes it without missing a change, notices a hung backend in seconds,
and, with a polled backend (Dataproc mode), still announces every state in order."""

from __future__ import annotations

import itertools
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest

from ..relay import Relay
from ..support import PARENT, EmulatorProcess, JupyterServerProcess, SseRecorder, wait_for
from .conftest import sessions_config
from .test_dataproc import LOCATION, PROJECT, start_stack

# Polling so slow that whatever arrives within a test came from the change feed.
NO_POLLING: dict[str, Any] = {
    "steady_poll_interval": 600.0,
    "transition_poll_interval": 600.0,
    "full_list_interval": 600.0,
    "heartbeat_interval": 1.0,
    "watch_timeout": 2.0,
}
LIFECYCLE = ["CREATING", "ACTIVE", "TERMINATING", "TERMINATED"]
# Usage figures refreshed every 30 s are real changes too (another ACTIVE event); the tests
# that count events one per state keep them out of the way.
QUIET_USAGE = ("--usage-interval", "3600")


def direct(server: JupyterServerProcess) -> httpx.Client:
    """A client straight to the embedded emulator (outside the proxy)."""
    return server.emulator()


def api_calls(client: httpx.Client) -> dict[str, int]:
    """Requests the emulator counted, its own health and stats excluded, and the change
    feed's (counted when a stream ends, e.g. one of an earlier test's Watcher)."""
    counts: dict[str, int] = client.get("emulator/stats").json()["requests"]
    skip = ("/healthz", "/stats", "sessions.watch")
    return {k: v for k, v in counts.items() if not k.endswith(skip)}


def session_events(rec: SseRecorder, name: str) -> list[dict[str, Any]]:
    return [d for _, k, d in rec.events if k == "session" and d.get("name") == name]


def removed(rec: SseRecorder, name: str) -> bool:
    return any(k == "removed" and d["name"] == name for _, k, d in rec.events)


def create(client: httpx.Client, sid: str, parent: str = PARENT, **body: Any) -> str:
    r = client.post(f"v1/{parent}/sessions", params={"sessionId": sid}, json=body)
    assert r.status_code == 200, r.text
    return f"{parent}/sessions/{sid}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    """The embedded emulator (simulated, 0.5 s transitions, short TTL floor), polling off."""
    config = sessions_config(
        emulator_args=[
            *QUIET_USAGE,
            "--start-delay",
            "0.5",
            "--stop-delay",
            "0.5",
            "--ttl-floor",
            "1",
        ],
        **NO_POLLING,
    )
    proc = JupyterServerProcess(tmp_path_factory.mktemp("live"), config=config).start()
    yield proc
    proc.stop()


@pytest.fixture
def recorder(server: JupyterServerProcess) -> Iterator[SseRecorder]:
    rec = SseRecorder(server)
    rec.wait(lambda r: "snapshot" in r.kinds())
    yield rec
    rec.stop()


def test_external_create_terminate_delete_reach_a_subscriber_in_order(
    server: JupyterServerProcess, recorder: SseRecorder
) -> None:
    """Given polling is off, when another client drives a session straight at the emulator
    through its whole life, then the subscriber gets every state, in order, each once and
    none as caught up (the feed saw them all), then its removal."""
    with direct(server) as other:
        name = create(other, "ext-" + uuid.uuid4().hex[:6])
        recorder.wait(lambda r: "ACTIVE" in r.states_of(name))
        assert other.post(f"v1/{name}:terminate", json={}).status_code == 200
        recorder.wait(lambda r: "TERMINATED" in r.states_of(name))
        assert other.delete(f"v1/{name}").status_code == 200
        recorder.wait(lambda r: removed(r, name))
    events = session_events(recorder, name)
    assert [e["state"] for e in events] == LIFECYCLE
    assert not any(e.get("caughtUp") for e in events)


def test_a_session_that_fails_while_creating_reaches_subscribers(
    server: JupyterServerProcess, recorder: SseRecorder
) -> None:
    """Given a create whose runtime fails to start (CREATING then FAILED at once), the
    subscriber gets both states, the failure with its message."""
    with direct(server) as other:
        name = create(other, "fail-" + uuid.uuid4().hex[:6], labels={"emulator-fail-start": "1"})
    recorder.wait(lambda r: "FAILED" in r.states_of(name))
    events = session_events(recorder, name)
    assert [e["state"] for e in events] == ["CREATING", "FAILED"]
    assert "Simulated start failure" in events[-1]["stateMessage"]


def test_ttl_expiry_reaches_subscribers_with_every_state(
    server: JupyterServerProcess, recorder: SseRecorder
) -> None:
    """Given a session with a 2 s ttl, the emulator ends it by itself; the subscriber gets
    ACTIVE, TERMINATING (with the ttl message) and TERMINATED, in order."""
    body = {"environmentConfig": {"executionConfig": {"ttl": "2s"}}}
    with direct(server) as other:
        name = create(other, "ttl-" + uuid.uuid4().hex[:6], **body)
    recorder.wait(lambda r: "TERMINATED" in r.states_of(name), timeout=60)
    events = session_events(recorder, name)
    assert [e["state"] for e in events] == LIFECYCLE
    assert "ttl" in events[2]["stateMessage"]


def test_an_idle_project_costs_no_request_beyond_the_feed(
    server: JupyterServerProcess, recorder: SseRecorder
) -> None:
    """Given a subscriber and nothing happening, in three seconds the emulator receives no
    API request at all (the open feed is counted when it ends), yet heartbeats flow."""
    with direct(server) as emu:
        time.sleep(0.5)
        before = api_calls(emu)
        beats = recorder.kinds().count("heartbeat")
        time.sleep(3.0)
        after = api_calls(emu)
    assert after == before
    assert recorder.kinds().count("heartbeat") > beats


def test_a_hung_backend_is_reported_unreachable_and_recovers(
    server: JupyterServerProcess, recorder: SseRecorder
) -> None:
    """Given a subscriber, when the emulator process is stopped (SIGSTOP: it neither dies
    nor answers), then status(reachable=false) arrives (the feed's heartbeats stop; the
    watch timeout is 2 s); after SIGCONT, status(reachable=true) follows and changes flow."""
    with httpx.Client(timeout=10.0) as h:
        pid = int(h.get(server.config()["endpoint"] + "healthz").json()["pid"])
    start = len(recorder.events)
    os.kill(pid, signal.SIGSTOP)
    try:
        recorder.wait(
            lambda r: any(k == "status" and not d["reachable"] for _, k, d in r.events[start:]),
            timeout=20,
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    down = next(d for _, k, d in recorder.events[start:] if k == "status" and not d["reachable"])
    assert "2s" in down["message"]
    recorder.wait(
        lambda r: any(k == "status" and d["reachable"] for _, k, d in r.events[start:]),
        timeout=30,
    )
    with direct(server) as other:
        name = create(other, "cont-" + uuid.uuid4().hex[:6])
    recorder.wait(lambda r: "ACTIVE" in r.states_of(name))


def test_a_reconnecting_watcher_misses_no_change(tmp_path: Path) -> None:
    """Given a Watcher following an emulator through a relay, when the relay is killed (the
    feed connection drops), a session lives its whole life meanwhile, and the relay comes
    back, then the subscriber gets each of its states in order, from the feed (not caught
    up from a listing), with no new snapshot."""
    emu = EmulatorProcess(tmp_path, "--runtime", "simulated", *QUIET_USAGE).start()
    relay = Relay(int(emu.url.rsplit(":", 1)[1])).start()
    server = None
    rec = None
    try:
        config = sessions_config(backend=relay.url, **NO_POLLING)
        server = JupyterServerProcess(tmp_path / "server", config=config).start()
        rec = SseRecorder(server)
        rec.wait(lambda r: "snapshot" in r.kinds())
        relay.kill()
        rec.wait(lambda r: any(k == "status" and not d["reachable"] for _, k, d in r.events))
        with emu.client() as other:
            name = create(other, "gap-" + uuid.uuid4().hex[:6])
            wait_for(lambda: other.get(f"/v1/{name}").json()["state"] == "ACTIVE", 30)
            assert other.post(f"/v1/{name}:terminate", json={}).status_code == 200
            wait_for(lambda: other.get(f"/v1/{name}").json()["state"] == "TERMINATED", 30)
            assert other.delete(f"/v1/{name}").status_code == 200
            wait_for(lambda: other.get(f"/v1/{name}").status_code == 404, 30)
        relay = Relay(relay.target_port, relay.port).start()
        rec.wait(lambda r: removed(r, name), timeout=30)
        events = session_events(rec, name)
        assert [e["state"] for e in events] == LIFECYCLE
        assert not any(e.get("caughtUp") for e in events)
        assert rec.kinds().count("snapshot") == 1
    finally:
        if rec is not None:
            rec.stop()
        if server is not None:
            server.stop()
        relay.kill()
        emu.stop()


# --- a polled backend: Dataproc mode against the emulator behind --require-token ---------

DP_PARENT = f"projects/{PROJECT}/locations/{LOCATION}"


@pytest.fixture(scope="module")
def dataproc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Dataproc mode with slow looks (4 s), so sessions can live whole lives between two."""
    stack = start_stack(
        tmp_path_factory.mktemp("dp-live"),
        *QUIET_USAGE,
        transition_poll_interval=4.0,
        active_poll_interval=4.0,
        steady_poll_interval=4.0,
        full_list_interval=600.0,
        heartbeat_interval=1.0,
        poll_budget=6000.0,
    )
    yield stack
    stack.stop()


def _emulator_client(stack: Any) -> httpx.Client:
    token = Path(stack.tokens.token_file).read_text().strip()
    return httpx.Client(
        base_url=stack.emulator.url, timeout=30.0, headers={"Authorization": f"Bearer {token}"}
    )


def test_polling_announces_states_passed_between_two_looks_in_order(dataproc: Any) -> None:
    """Given looks 4 s apart, when a session is created, becomes ACTIVE and is terminated
    between two looks, and another fails at once, then the subscriber still gets every
    state in order: those it missed from stateHistory, marked caughtUp, then the current
    one (the failed session was never live at a look: the create_time filter finds it)."""
    rec = SseRecorder(dataproc.server, DP_PARENT)
    try:
        rec.wait(lambda r: "snapshot" in r.kinds())
        with _emulator_client(dataproc) as other:
            done = create(other, "dp-" + uuid.uuid4().hex[:6], DP_PARENT)
            wait_for(lambda: other.get(f"/v1/{done}").json()["state"] == "ACTIVE", 30)
            assert other.post(f"/v1/{done}:terminate", json={}).status_code == 200
            wait_for(lambda: other.get(f"/v1/{done}").json()["state"] == "TERMINATED", 30)
            failed = create(
                other, "dpf-" + uuid.uuid4().hex[:6], DP_PARENT, labels={"emulator-fail-start": "x"}
            )
        rec.wait(lambda r: "TERMINATED" in r.states_of(done) and "FAILED" in r.states_of(failed))
        for name, states in ((done, LIFECYCLE), (failed, ["CREATING", "FAILED"])):
            events = session_events(rec, name)
            assert [e["state"] for e in events] == states, name
            assert not events[-1].get("caughtUp")
        # A one-second life seen by looks 4 s apart: at most two of its states were seen by
        # a look, the others were caught up from stateHistory.
        caught = [e for e in session_events(rec, done) if e.get("caughtUp")]
        assert len(caught) >= 2
        # Each is the session as it then was: the history up to that state.
        assert all(len(e["stateHistory"]) == LIFECYCLE.index(e["state"]) for e in caught)
        queries = [unquote_plus(r.get("query") or "") for r in dataproc.records()]
        assert any("OR create_time >= " in q for q in queries)
    finally:
        rec.stop()


@pytest.fixture(scope="module")
def dataproc_quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Dataproc mode whose Watcher looks only once (its snapshot) within a test."""
    stack = start_stack(
        tmp_path_factory.mktemp("dp-quiet"),
        *QUIET_USAGE,
        transition_poll_interval=600.0,
        active_poll_interval=600.0,
        steady_poll_interval=600.0,
        full_list_interval=600.0,
        heartbeat_interval=1.0,
    )
    yield stack
    stack.stop()


@pytest.mark.parametrize("read", ["session", "operation"])
def test_a_proxied_read_updates_subscribers_at_once(dataproc_quiet: Any, read: str) -> None:
    """Given a Watcher that does not look again and a session created (and ACTIVE) outside
    the proxy, nobody hears of it; when a user reads the session, or its finished create
    operation, through the proxy, the subscriber gets the session from that read."""
    rec = SseRecorder(dataproc_quiet.server, DP_PARENT)
    try:
        rec.wait(lambda r: "snapshot" in r.kinds())
        with _emulator_client(dataproc_quiet) as other:
            sid = "rd-" + uuid.uuid4().hex[:6]
            op = other.post(f"/v1/{DP_PARENT}/sessions", params={"sessionId": sid}, json={})
            op_name = op.json()["name"]
            wait_for(lambda: other.get(f"/v1/{op_name}").json().get("done"), 30)
        name = f"{DP_PARENT}/sessions/{sid}"
        time.sleep(0.5)
        assert session_events(rec, name) == []
        path = name if read == "session" else op_name
        assert dataproc_quiet.api("GET", path).status_code == 200
        rec.wait(lambda r: "ACTIVE" in r.states_of(name), 10)
        events = session_events(rec, name)
        assert [e["state"] for e in events] == ["CREATING", "ACTIVE"]
        assert events[0]["caughtUp"] is True and "caughtUp" not in events[1]
    finally:
        rec.stop()


def test_429_slows_the_looks_down_at_least_as_asked(tmp_path: Path) -> None:
    """Given a backend that answers the first two listings with 429 and Retry-After: 3,
    the Watcher waits at least 3 s before each next look, then gets its snapshot."""
    stack = start_stack(
        tmp_path,
        "--fail-next",
        "2:429:sessions.list:3",
        steady_poll_interval=1.0,
        transition_poll_interval=1.0,
        active_poll_interval=1.0,
        poll_budget=6000.0,
    )
    rec = SseRecorder(stack.server, DP_PARENT)
    try:
        rec.wait(lambda r: "snapshot" in r.kinds(), timeout=60)
        looks = [
            r["time"]
            for r in stack.records()
            if r["path"] == f"/v1/{DP_PARENT}/sessions" and r["accepted"]  # not a 401 retried
        ]
    finally:
        rec.stop()
        stack.stop()
    assert len(looks) >= 3
    gaps = [b - a for a, b in itertools.pairwise(looks[:3])]  # after each 429
    assert all(gap >= 2.9 for gap in gaps), gaps


def test_the_pacer_keeps_to_its_budget_and_backs_off_on_429() -> None:
    """Fast in transition and in use, slower when steady and idle; never faster than the
    budget allows for the requests a look took; a 429 at least doubles the wait."""
    from jupyter_sessions.server.feed import Pacer

    pacer = Pacer(0.5, 2.0, 10.0, 30.0, 120.0, 600.0, budget_per_minute=60.0)
    now = 1000.0

    def delay(in_transition: bool = False, used_ago: float = 0.0, requests: int = 1) -> float:
        return pacer.delay(
            in_transition=in_transition, last_used=now - used_ago, requests=requests, now=now
        )

    assert delay(in_transition=True) == 1.0  # 0.5 asked, one request a second at 60/min
    assert delay(used_ago=10) == 2.0
    assert delay(used_ago=300) == 10.0
    assert delay(used_ago=3600) == 30.0
    assert delay(in_transition=True, requests=5) == 5.0  # a 5-page look costs 5 s
    assert pacer.throttled(retry_after=30.0) == 30.0
    assert pacer.throttled(retry_after=None) == 40.0  # 10 s steady, slowed down 4x
    assert delay(used_ago=300) == 40.0
    for _ in range(20):
        pacer.succeeded()
    assert delay(used_ago=300) == 10.0


def test_a_backend_without_the_feed_is_polled(tmp_path: Path) -> None:
    """Given a URL backend that answers every path with ``{}`` (no change feed), the
    Watcher falls back to polling: the subscriber gets its snapshot and the backend stays
    reachable, instead of a feed reconnecting in a loop."""
    from ..reliability.test_faults import SlowBackend

    with SlowBackend(stall=0.0) as backend:
        config = sessions_config(backend=backend.url, steady_poll_interval=0.5)
        server = JupyterServerProcess(tmp_path, config=config).start()
        rec = SseRecorder(server)
        try:
            rec.wait(lambda r: "snapshot" in r.kinds(), timeout=30)
            time.sleep(1.0)
        finally:
            rec.stop()
            server.stop()
    assert not any(k == "status" and not d["reachable"] for _, k, d in rec.events)
    snapshot = next(d for _, k, d in rec.events if k == "snapshot")
    assert snapshot["sessions"] == []


def test_a_visible_panel_in_use_speeds_up_the_looks(tmp_path: Path) -> None:
    """Given Dataproc mode with looks every 0.3 s for 1.5 s after a use and none otherwise,
    the looks stop once the panel's opening is 1.5 s old; when the panel says it is visible
    and in use (POST events), they start again."""
    stack = start_stack(
        tmp_path,
        *QUIET_USAGE,
        active_poll_interval=0.3,
        active_window=1.5,
        steady_poll_interval=600.0,
        idle_poll_interval=600.0,
        full_list_interval=600.0,
        poll_budget=6000.0,
    )
    rec = SseRecorder(stack.server, DP_PARENT)

    def looks_since(t: float) -> int:
        path = f"/v1/{DP_PARENT}/sessions"
        return sum(1 for r in stack.records() if r["path"] == path and r["time"] > t)

    try:
        rec.wait(lambda r: "snapshot" in r.kinds())
        time.sleep(2.5)  # past the window of the panel's opening (and one last look)
        quiet_from = time.time()
        time.sleep(1.5)
        quiet = looks_since(quiet_from)
        used_at = time.time()
        r = stack.call("POST", "events", params={"parent": DP_PARENT})
        assert r.status_code == 200, r.text
        wait_for(lambda: looks_since(used_at) >= 2, 10, what="looks after the use")
        bad = stack.call("POST", "events", params={"parent": "projects/only"})
    finally:
        rec.stop()
        stack.stop()
    assert quiet == 0
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"
