"""The live change stream: snapshot, then every state, removals, recovery from crashes."""

from __future__ import annotations

import os
import signal
import time
import uuid

import httpx
import pytest

from ..support import PARENT, JupyterServerProcess, SseRecorder, pid_alive, wait_for
from .conftest import sessions_config


def _direct(server: JupyterServerProcess) -> httpx.Client:
    return server.emulator()


def test_subscriber_sees_every_state_of_a_session_another_client_drives(
    server: JupyterServerProcess,
) -> None:
    """Given a subscriber, when another client (straight to the emulator) creates,
    terminates and deletes a session, then the subscriber sees snapshot, CREATING, ACTIVE,
    TERMINATING, TERMINATED, then removed."""
    rec = SseRecorder(server)
    try:
        rec.wait(lambda r: "snapshot" in r.kinds())
        # heartbeats may come first while the snapshot is read from a busy backend
        assert next(k for k in rec.kinds() if k != "heartbeat") == "snapshot"
        sid = "ev-" + uuid.uuid4().hex[:8]
        name = f"{PARENT}/sessions/{sid}"
        with _direct(server) as other:
            assert other.post(f"v1/{PARENT}/sessions", params={"sessionId": sid}).status_code == 200
            rec.wait(lambda r: "ACTIVE" in r.states_of(name))
            assert other.post(f"v1/{name}:terminate", json={}).status_code == 200
            rec.wait(lambda r: "TERMINATED" in r.states_of(name))
            assert other.delete(f"v1/{name}").status_code == 200
            rec.wait(lambda r: any(k == "removed" and d["name"] == name for _, k, d in r.events))
        assert rec.states_of(name) == ["CREATING", "ACTIVE", "TERMINATING", "TERMINATED"]
        session_events = [d for _, k, d in rec.events if k == "session" and d["name"] == name]
        assert session_events[-1]["stateHistory"][-1]["state"] == "TERMINATING"
    finally:
        rec.stop()


def test_heartbeats_keep_an_idle_stream_alive(server: JupyterServerProcess) -> None:
    """Given an idle stream, heartbeat events arrive at the configured interval (1 s)."""
    rec = SseRecorder(server)
    try:
        rec.wait(lambda r: r.kinds().count("heartbeat") >= 2, timeout=10)
    finally:
        rec.stop()


def test_bad_parent_is_a_clear_400(server: JupyterServerProcess) -> None:
    with server.client() as c:
        r = c.get("jupyter-sessions/events", params={"parent": "projects/only"})
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "projects/PROJECT/locations/LOCATION" in r.json()["error"]["message"]


def _requests_in_window(server: JupyterServerProcess, seconds: float) -> int:
    """Requests in a window, the change feed's own excluded (one is counted when its
    stream ends, e.g. a feed of an earlier test's Watcher)."""

    def count(c: httpx.Client) -> int:
        requests = c.get("emulator/stats").json()["requests"]
        return sum(n for route, n in requests.items() if route != "GET sessions.watch")

    with _direct(server) as c:
        before = count(c)
        time.sleep(seconds)
        after = count(c)
    return after - before - 1  # minus our own first stats call


def test_twenty_subscribers_cost_the_backend_what_one_costs(
    server: JupyterServerProcess,
) -> None:
    """Given 1 and then 20 subscribers on one parent, the emulator receives the same
    number of requests in the same window: none, as one change feed serves everyone."""
    one = [SseRecorder(server)]
    try:
        one[0].wait(lambda r: "snapshot" in r.kinds())
        time.sleep(0.5)
        single = _requests_in_window(server, 3.0)
        many = [SseRecorder(server) for _ in range(19)]
        try:
            for rec in many:
                rec.wait(lambda r: "snapshot" in r.kinds())
            time.sleep(0.5)
            twenty = _requests_in_window(server, 3.0)
        finally:
            SseRecorder.stop_all(many)
    finally:
        one[0].stop()
    # The Watcher follows the emulator's change feed (an open request, counted when it
    # ends) instead of polling: nothing more while nothing changes, however many listen.
    assert single == twenty == 0, (single, twenty)


def test_emulator_crash_is_reported_and_recovered_without_missing_a_final_state(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Given a subscriber and a session that is terminating, when the emulator is killed
    (-9), then the subscriber gets status(reachable=false), the extension restarts the
    emulator, status(reachable=true) follows, the session's TERMINATED state arrives, and
    new events flow again."""
    config = sessions_config(
        emulator_args=["--start-delay", "0.5", "--stop-delay", "3", "--ttl-floor", "1"]
    )
    server = JupyterServerProcess(tmp_path_factory.mktemp("crash"), config=config).start()
    rec = SseRecorder(server)
    try:
        rec.wait(lambda r: "snapshot" in r.kinds())
        endpoint = server.config()["endpoint"]
        sid = "crash-" + uuid.uuid4().hex[:6]
        name = f"{PARENT}/sessions/{sid}"
        with server.client() as c:
            api = "jupyter-sessions/v1/"
            assert c.post(f"{api}{PARENT}/sessions", params={"sessionId": sid}).status_code == 200
            rec.wait(lambda r: "ACTIVE" in r.states_of(name))
            assert c.post(f"{api}{name}:terminate", json={}).status_code == 200
            rec.wait(lambda r: "TERMINATING" in r.states_of(name))
        with httpx.Client(timeout=10.0) as h:
            emulator_pid = h.get(endpoint + "healthz").json()["pid"]
        os.kill(emulator_pid, signal.SIGKILL)
        rec.wait(lambda r: any(k == "status" and not d["reachable"] for _, k, d in r.events), 30)
        down = next(d for _, k, d in rec.events if k == "status" and not d["reachable"])
        assert down.get("message")
        rec.wait(lambda r: any(k == "status" and d["reachable"] for _, k, d in r.events), 60)
        # The restarted emulator reconciles the TERMINATING session to TERMINATED.
        rec.wait(lambda r: "TERMINATED" in r.states_of(name), 30)
        assert server.config()["endpoint"] == endpoint  # same port after the restart
        with httpx.Client(timeout=10.0) as h:
            new_pid = h.get(endpoint + "healthz").json()["pid"]
        assert new_pid != emulator_pid and not pid_alive(emulator_pid)
        with server.client() as c:
            sid2 = "after-" + uuid.uuid4().hex[:6]
            c.post(f"jupyter-sessions/v1/{PARENT}/sessions", params={"sessionId": sid2})
        rec.wait(lambda r: "ACTIVE" in r.states_of(f"{PARENT}/sessions/{sid2}"), 30)
        assert "restarting" in server.log_path.read_text()
    finally:
        rec.stop()
        server.stop()
    wait_for(lambda: not pid_alive(new_pid), 30, what="emulator stopped with the server")


async def test_changes_are_published_on_the_jupyter_events_bus(
    server: JupyterServerProcess,
) -> None:
    """Given a listener on the server's event bus (/api/events/subscribe) and a watched
    parent, a session's state changes arrive there under the registered schema."""
    import asyncio
    import json as jsonlib

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    from jupyter_sessions.server.events_bus import SCHEMA_ID

    rec = SseRecorder(server)  # the Watcher runs only while someone subscribes
    try:
        rec.wait(lambda r: "snapshot" in r.kinds())
        headers = {"Authorization": f"token {server.token}"}
        ws = await websocket_connect(
            HTTPRequest(
                server.url.replace("http", "ws", 1) + "api/events/subscribe", headers=headers
            )
        )
        sid = "bus-" + uuid.uuid4().hex[:6]
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
            r = await c.post(f"jupyter-sessions/v1/{PARENT}/sessions", params={"sessionId": sid})
            assert r.status_code == 200
        states = set()
        deadline = time.monotonic() + 30
        while "ACTIVE" not in states and time.monotonic() < deadline:
            raw = await asyncio.wait_for(ws.read_message(), 30)
            assert raw is not None
            event = jsonlib.loads(raw)
            if event.get("schema_id") == SCHEMA_ID and event.get("name", "").endswith(sid):
                assert event["parent"] == PARENT and event["kind"] == "session"
                states.add(event["state"])
        ws.close()
        assert "ACTIVE" in states
    finally:
        rec.stop()
