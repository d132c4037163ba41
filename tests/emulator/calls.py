"""REST calls and checks shared by the emulator conformance tests.

Everything here talks plain HTTP to a real emulator process; nothing reaches into it.
"""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any

import httpx

from ..support import wait_operation, wait_state

ENUM_INTS = {"$alt": "json;enum-encoding=int"}
"""The query parameter Google's REST GAPIC clients send."""

TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SERVICE_ACCOUNT_RE = re.compile(r"^\d{12}-compute@developer\.gserviceaccount\.com$")
PATCH_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
METADATA_TYPE = "type.googleapis.com/google.cloud.dataproc.v1.SessionOperationMetadata"
SESSION_TYPE = "type.googleapis.com/google.cloud.dataproc.v1.Session"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
RPC_STATUS_NAMES = {
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
}

_counter = itertools.count()


def new_id(prefix: str = "s") -> str:
    """A session or template id no other test uses (valid under the sessionId rule)."""
    return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:8]}"


def fresh_parent(location: str = "us-central1") -> str:
    """A parent of its own, so listings see only what one test created."""
    return f"projects/{new_id('proj')}/locations/{location}"


def regions(parent: str) -> str:
    """``projects/P/regions/L`` for ``projects/P/locations/L``."""
    return parent.replace("/locations/", "/regions/", 1)


def create_session(
    client: httpx.Client,
    parent: str,
    session_id: str | None,
    body: Any = None,
    *,
    request_id: str | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    query: dict[str, str] = dict(params or {})
    if session_id is not None:
        query["sessionId"] = session_id
    if request_id is not None:
        query["requestId"] = request_id
    return client.post(
        f"/v1/{parent}/sessions", params=query, json=body if body is not None else {}
    )


def create_ok(
    client: httpx.Client, parent: str, session_id: str, body: Any = None, **kwargs: Any
) -> dict[str, Any]:
    """Create a session and return the create operation (asserting 200)."""
    r = create_session(client, parent, session_id, body, **kwargs)
    assert r.status_code == 200, r.text
    return dict(r.json())


def create_active(
    client: httpx.Client, parent: str, session_id: str, body: Any = None, timeout: float = 30.0
) -> dict[str, Any]:
    """Create a session and wait until it is ACTIVE; return the ACTIVE session."""
    create_ok(client, parent, session_id, body)
    return wait_state(client, f"{parent}/sessions/{session_id}", {"ACTIVE"}, timeout)


def terminate_ok(client: httpx.Client, name: str, body: Any = None) -> dict[str, Any]:
    r = client.post(f"/v1/{name}:terminate", json=body if body is not None else {})
    assert r.status_code == 200, r.text
    return dict(r.json())


def finish(client: httpx.Client, op: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Wait for an operation returned by create, terminate or delete to be done."""
    return wait_operation(client, op["name"], timeout)


def list_all(
    client: httpx.Client, path: str, key: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every item of a listing, following nextPageToken."""
    items: list[dict[str, Any]] = []
    query = dict(params or {})
    for _ in range(10_000):
        r = client.get(f"/v1/{path}", params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        items.extend(body.get(key, []))
        token = body.get("nextPageToken")
        if not token:
            return items
        query["pageToken"] = token
    raise AssertionError("listing never ended")


def session_ids(sessions: list[dict[str, Any]]) -> list[str]:
    return [s["name"].rsplit("/", 1)[-1] for s in sessions]


def assert_envelope(r: httpx.Response) -> dict[str, Any]:
    """The google.rpc.Status HTTP envelope: code = HTTP status, a message, a status name."""
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == r.status_code, err
    assert isinstance(err["message"], str) and err["message"], err
    assert err["status"] in RPC_STATUS_NAMES, err
    return dict(err)


def assert_error(
    r: httpx.Response, http_status: int, status: str, *, field: str | None = None
) -> dict[str, Any]:
    """An error response with the given HTTP status and rpc status name. With ``field``,
    also a google.rpc.BadRequest detail whose field violation names that field."""
    assert r.status_code == http_status, (r.status_code, r.text)
    err = assert_envelope(r)
    assert err["status"] == status, err
    if field is not None:
        violations = [
            v
            for d in err.get("details", [])
            if d.get("@type") == BAD_REQUEST_TYPE
            for v in d.get("fieldViolations", [])
        ]
        assert violations, f"no BadRequest field violations in {err}"
        assert any(v["field"] == field and v["description"] for v in violations), violations
    return err


def history_states(session: dict[str, Any]) -> list[str]:
    return [h["state"] for h in session.get("stateHistory", [])]
