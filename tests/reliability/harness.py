"""Helpers of the reliability tests: raw HTTP, the error envelope, the store on disk, figures."""

from __future__ import annotations

import http.client
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from jupyter_sessions.api.errors import Code

RPC_STATUS_NAMES = {c.name for c in Code if c != Code.OK}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "stress"
FIGURES: list[tuple[str, dict[str, Any]]] = []
"""Figures the tests measured, printed at the end of the run (see conftest)."""


def record_figures(name: str, figures: dict[str, Any], *, write: bool = False) -> None:
    """Keep figures for the end-of-run summary; with ``write``, also as JSON in artifacts."""
    FIGURES.append((name, figures))
    if write:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RawClient:
    """HTTP/1.1 on one keep-alive connection, sending the request target byte for byte
    (no client-side normalisation of dot segments, encodings or slashes)."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    _conn: http.client.HTTPConnection | None = None

    def __post_init__(self) -> None:
        url = httpx.URL(self.base_url)
        assert url.host == "127.0.0.1", "reliability tests talk to loopback only"
        self.host, self.port = url.host, url.port or 80
        self.prefix = url.raw_path.decode().rstrip("/")

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send ``METHOD {prefix}{target}``; reconnect once if a kept-alive connection was
        closed by the server between requests (never for a fresh one)."""
        all_headers = {**self.headers, **(headers or {})}
        for attempt in range(2):
            fresh = self._conn is None
            conn = self._conn or http.client.HTTPConnection(self.host, self.port, self.timeout)
            self._conn = conn
            started = time.perf_counter()
            try:
                conn.request(method, self.prefix + target, body=body, headers=all_headers)
                response = conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if fresh or attempt:
                    raise
                continue
            if response.will_close:
                self.close()
            reply_headers = {k.lower(): v for k, v in response.getheaders()}
            return Reply(response.status, reply_headers, data, time.perf_counter() - started)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def assert_envelope(reply: Reply, context: object = "") -> dict[str, Any]:
    """The google.rpc.Status HTTP envelope: {"error": {code = HTTP status, message, status}}."""
    assert reply.headers.get("content-type", "").startswith("application/json"), (
        reply.status,
        reply.headers,
        reply.body[:300],
        context,
    )
    try:
        body = json.loads(reply.body)
    except ValueError:
        raise AssertionError(f"not JSON: {reply.status} {reply.body[:300]!r} {context}") from None
    # The kernel gateway's errors also carry the message/reason pair that Jupyter's gateway
    # client reads: the same message, nothing else.
    assert isinstance(body, dict) and set(body) - {"message", "reason"} == {"error"}, (
        body,
        context,
    )
    err = body["error"]
    if "message" in body:
        assert body["message"] == err.get("message") and body["reason"] == err.get("status")
    assert err.get("code") == reply.status, (reply.status, err, context)
    assert isinstance(err.get("message"), str) and err["message"], (err, context)
    assert err.get("status") in RPC_STATUS_NAMES, (err, context)
    return dict(err)


def read_only(db: Path) -> sqlite3.Connection:
    """The emulator's database, opened read-only (safe while the emulator runs: WAL)."""
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)


def integrity_check(db: Path) -> str:
    conn = read_only(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def stored_sessions(db: Path) -> dict[str, dict[str, Any]]:
    """Session name -> stored body, as the database holds them now."""
    conn = read_only(db)
    try:
        rows = conn.execute("SELECT name, body FROM sessions").fetchall()
    finally:
        conn.close()
    return {name: json.loads(body) for name, body in rows}


def stored_names(db: Path, table: str) -> set[str]:
    conn = read_only(db)
    try:
        return {name for (name,) in conn.execute(f"SELECT name FROM {table}")}
    finally:
        conn.close()


def api_path(name: str) -> str:
    """``/v1/NAME`` with every segment percent-encoded (names may hold any character)."""
    return "/v1/" + "/".join(quote(part, safe="") for part in name.split("/"))


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max of latencies in seconds, as milliseconds."""
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": at(1.0)}
