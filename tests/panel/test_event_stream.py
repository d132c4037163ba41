"""The event stream reader against a real loopback HTTP server: events, reconnects with
backoff after a drop, a dead connection noticed by the read timeout, a refused stream
reported, and close() ending a blocked read at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from jupyter_sessions.client.event_stream import EventStream, SseParser

from ..support import wait_for


class Script:
    """What the fake server does on each successive connection."""

    def __init__(self) -> None:
        self.connections: list[dict[str, Any]] = []
        self.plans: list[str] = []
        self.release = threading.Event()


def make_handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            n = len(script.connections)
            script.connections.append(
                {"path": self.path, "auth": self.headers.get("Authorization")}
            )
            plan = script.plans[n] if n < len(script.plans) else "hold"
            if plan == "forbidden":
                body = json.dumps({"error": {"code": 403, "message": "Forbidden"}}).encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            snapshot = {"sessions": [], "time": "2026-05-01T12:00:00Z", "n": n}
            self.wfile.write(b"retry: 100\n\n")
            self.wfile.write(f"event: snapshot\ndata: {json.dumps(snapshot)}\n\n".encode())
            self.wfile.flush()
            if plan == "drop":
                return  # the server closes the stream
            # "hold" and "stall": keep the connection open without a byte more.
            script.release.wait(30)

    return Handler


@pytest.fixture
def fake_server() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/base/", script
    finally:
        script.release.set()
        httpd.shutdown()
        httpd.server_close()


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


def test_parser_handles_comments_multiline_data_and_retry() -> None:
    p = SseParser()
    lines = [
        ": hello",
        "retry: 2000",
        "",
        "event: status",
        'data: {"a":',
        "data: 1}",
        "",
        "data: x",
        "",
    ]
    assert list(p.parse(iter(lines))) == [("status", '{"a":\n1}'), ("message", "x")]
    assert p.retry == 2.0


def test_a_dropped_stream_reconnects_and_gets_a_fresh_snapshot(
    fake_server: tuple[str, Script],
) -> None:
    url, script = fake_server
    script.plans = ["drop", "drop", "hold"]
    rec = Recorder()
    stream = EventStream(
        url, "projects/p/locations/l", rec, headers={"Authorization": "token t"}, first_retry=0.05
    )
    stream.start()
    try:
        wait_for(lambda: rec.kinds().count("snapshot") == 3, 10, what="three snapshots")
        assert rec.kinds()[:5] == [
            "snapshot",
            "disconnected",
            "snapshot",
            "disconnected",
            "snapshot",
        ]
        drop = rec.events[1][1]
        assert "closed the event stream" in drop["message"] and drop["retryIn"] <= 0.1
        assert script.connections[0] == {
            "path": "/base/jupyter-sessions/events?parent=projects%2Fp%2Flocations%2Fl",
            "auth": "token t",
        }
    finally:
        assert stream.close(5)


def test_a_silent_connection_is_noticed_by_the_read_timeout(
    fake_server: tuple[str, Script],
) -> None:
    url, script = fake_server
    script.plans = ["stall", "hold"]
    rec = Recorder()
    stream = EventStream(url, "projects/p/locations/l", rec, read_timeout=0.5, first_retry=0.05)
    stream.start()
    try:
        wait_for(lambda: "disconnected" in rec.kinds(), 10, what="a disconnect")
        message = dict(rec.events)["disconnected"]["message"]
        assert "no heartbeat" in message and "0.5s" in message
        wait_for(lambda: rec.kinds().count("snapshot") == 2, 10, what="the reconnect")
    finally:
        assert stream.close(5)


def test_a_refused_stream_backs_off_and_says_why(fake_server: tuple[str, Script]) -> None:
    url, script = fake_server
    script.plans = ["forbidden"] * 4 + ["hold"]
    rec = Recorder()
    stream = EventStream(url, "projects/p/locations/l", rec, first_retry=0.05, max_retry=0.4)
    stream.start()
    try:
        wait_for(lambda: "snapshot" in rec.kinds(), 15, what="the stream once allowed")
        drops = [d for k, d in rec.events if k == "disconnected"]
        assert len(drops) == 4
        assert "HTTP 403 (is the token right?): Forbidden" in drops[0]["message"]
        delays = [d["retryIn"] for d in drops]
        assert delays[-1] > delays[0] and max(delays) <= 0.4  # growing, and bounded
        assert [d["attempt"] for d in drops] == [1, 2, 3, 4]
    finally:
        assert stream.close(5)


def test_close_ends_a_blocked_read_at_once(fake_server: tuple[str, Script]) -> None:
    url, _ = fake_server
    rec = Recorder()
    stream = EventStream(url, "projects/p/locations/l", rec, read_timeout=60)
    stream.start()
    wait_for(lambda: "snapshot" in rec.kinds(), 10, what="a snapshot")
    started = time.monotonic()
    assert stream.close(5)
    assert time.monotonic() - started < 1.0
    assert not stream.running
    assert "disconnected" not in rec.kinds()  # a deliberate close is not reported as a drop


def test_an_unreachable_server_is_retried(fake_server: tuple[str, Script]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    rec = Recorder()
    stream = EventStream(
        f"http://127.0.0.1:{port}/", "projects/p/locations/l", rec, first_retry=0.05
    )
    stream.start()
    try:
        wait_for(lambda: rec.kinds().count("disconnected") >= 2, 10, what="two failed attempts")
        assert "cannot reach" in rec.events[0][1]["message"]
    finally:
        assert stream.close(5)
