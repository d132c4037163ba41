"""SessionsClient / AsyncSessionsClient against a real emulator process and tiny loopback
HTTP servers (for retries, timeouts and discovery)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from jupyter_sessions.api.model import Operation, Session, SessionTemplate, State
from jupyter_sessions.api.names import Parent
from jupyter_sessions.client import (
    Aborted,
    AlreadyExists,
    AsyncSessionsClient,
    DeadlineExceeded,
    DiscoveryError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    SessionsClient,
    Unauthenticated,
    Unavailable,
)

from .support import EmulatorProcess

TOKEN = "s3cret-bearer"


# --- fixtures and loopback helpers ---------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(
        tmp_path_factory.mktemp("client-emu"), "--runtime", "simulated", "--ttl-floor", "1"
    ).start()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def slow_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """Sessions stay CREATING for 5 s, and every call needs a bearer token."""
    emu = EmulatorProcess(
        tmp_path_factory.mktemp("client-slow-emu"),
        "--runtime",
        "simulated",
        "--ttl-floor",
        "1",
        "--start-delay",
        "5",
        "--require-token",
        TOKEN,
    ).start()
    yield emu
    emu.stop()


def fresh_project() -> str:
    """A project of its own per test, so the shared emulator's listings stay exact."""
    return f"p-{uuid.uuid4().hex[:10]}"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1:0 whose answers the test scripts."""

    respond: Callable[[Seen], Reply]
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                outer.seen.append(req)
                status, headers, body = outer.respond(req)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(body).encode(),
    )


def unavailable(headers: dict[str, str] | None = None) -> Reply:
    return json_reply(
        503,
        {"error": {"code": 503, "message": "backend restarting", "status": "UNAVAILABLE"}},
        headers,
    )


def forward(emu: EmulatorProcess, req: Seen, path: str) -> Reply:
    """Send the request on to the real emulator, as the server extension's proxy does."""
    r = httpx.request(
        req.method,
        emu.url.rstrip("/") + "/" + path,
        content=req.body or None,
        headers={"Content-Type": "application/json"} if req.body else None,
        timeout=10,
    )
    return r.status_code, {"Content-Type": "application/json"}, r.content


def list_calls(emu: EmulatorProcess) -> int:
    return emu.stats().get("GET sessions.list", 0)


# --- import weight -----------------------------------------------------------------------------


def test_importing_the_client_does_not_pull_in_the_server() -> None:
    # Given a fresh interpreter, When the client module is imported
    code = (
        "import sys, jupyter_sessions.client; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tornado', 'jupyter_server')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    # Then neither tornado nor jupyter_server was loaded
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- CRUD ------------------------------------------------------------------------------------


def test_session_round_trip_sync(emulator: EmulatorProcess) -> None:
    project = fresh_project()
    with SessionsClient(emulator.url, project=project, location="us-central1") as client:
        # When a session is created with a typed body
        op = client.create_session(
            "crud-sync", Session(labels={"team": "data"}), request_id="req-crud-sync"
        )
        # Then the create operation names it and, once done, carries the ACTIVE session
        assert isinstance(op, Operation)
        assert op.metadata is not None
        assert op.metadata.session == f"projects/{project}/locations/us-central1/sessions/crud-sync"
        done = client.wait_operation(op, timeout=30)
        assert done.done and done.response is not None
        assert done.response.state == State.ACTIVE

        # And it reads back the same by id and by full name
        by_id = client.get_session("crud-sync")
        by_name = client.get_session(by_id.name)
        assert by_id.uuid == by_name.uuid and by_id.labels["team"] == "data"
        assert [s.session_id for s in client.list_sessions()] == ["crud-sync"]

        # When it is terminated, Then the operation ends with the TERMINATED session
        terminated = client.wait_operation(client.terminate_session("crud-sync"), timeout=30)
        assert terminated.response is not None
        assert terminated.response.state == State.TERMINATED
        assert client.get_session("crud-sync").state == State.TERMINATED

        # When it is deleted, Then it is gone
        client.wait_operation(client.delete_session(by_id.name), timeout=30)
        with pytest.raises(NotFound):
            client.get_session("crud-sync")
        assert list(client.list_sessions()) == []


async def test_session_round_trip_async(emulator: EmulatorProcess) -> None:
    project = fresh_project()
    async with AsyncSessionsClient(emulator.url, project=project) as client:
        # When three sessions are created and awaited
        for n in range(3):
            op = await client.create_session(f"async-{n}", {"labels": {"n": str(n)}})
            assert (await client.wait_operation(op, timeout=30)).done
        seen: list[tuple[State, float]] = []

        async def progress(session: Session, elapsed: float) -> None:
            seen.append((session.state, elapsed))

        session = await client.wait_session("async-0", progress=progress, timeout=30)
        # Then they are ACTIVE, the coroutine progress callback ran, and a 2-per-page
        # listing yields each one once
        assert session.state == State.ACTIVE
        assert seen and seen[-1][0] == State.ACTIVE
        ids = [s.session_id async for s in client.list_sessions(page_size=2)]
        assert sorted(ids) == ["async-0", "async-1", "async-2"]
        page = await client.list_sessions_page(page_size=2)
        assert len(page.sessions) == 2 and page.next_page_token

        # When one is terminated and then deleted
        op = await client.terminate_session("async-1")
        assert (await client.wait_operation(op.name, timeout=30)).response is not None
        assert (await client.get_session("async-1")).state == State.TERMINATED
        await client.wait_operation(await client.delete_session("async-1"), timeout=30)
        # Then it is gone and the others remain
        with pytest.raises(NotFound):
            await client.get_session("async-1")
        assert sorted([s.session_id async for s in client.list_sessions()]) == [
            "async-0",
            "async-2",
        ]

        # And templates go through the same round trip
        created = await client.create_template({"description": "one"}, template_id="tpl-async")
        assert created.name == f"projects/{project}/locations/local/sessionTemplates/tpl-async"
        created.description = "two"
        assert (await client.update_template(created)).description == "two"
        assert [t.template_id async for t in client.list_templates()] == ["tpl-async"]
        await client.delete_template("tpl-async")
        with pytest.raises(NotFound):
            await client.get_template("tpl-async")


def test_template_round_trip_sync(emulator: EmulatorProcess) -> None:
    project = fresh_project()
    with SessionsClient(emulator.url, project=project) as client:
        # When a template is created from a typed object
        template = client.create_template(
            SessionTemplate(description="small", labels={"size": "s"}), template_id="tpl-small"
        )
        # Then it is stored under the default parent with server-set fields
        assert template.template_id == "tpl-small" and template.uuid
        assert client.get_template(template.name).labels == {"size": "s"}

        # When it is updated by full name, Then the change is visible and createTime kept
        template.description = "still small"
        updated = client.update_template(template)
        assert updated.description == "still small"
        assert updated.create_time == template.create_time
        assert [t.description for t in client.list_templates()] == ["still small"]

        # When a second create uses the same id, Then AlreadyExists
        with pytest.raises(AlreadyExists):
            client.create_template({"name": "tpl-small"})

        # When it is deleted, Then reads are 404 and a second delete is too
        client.delete_template("tpl-small")
        with pytest.raises(NotFound):
            client.get_template("tpl-small")
        with pytest.raises(NotFound):
            client.delete_template("tpl-small")


def test_list_sessions_paginates_lazily(emulator: EmulatorProcess) -> None:
    parent = Parent(fresh_project(), "europe-west1")
    with SessionsClient(emulator.url) as client:
        # Given 45 sessions under one parent
        for n in range(45):
            client.create_session(f"page-{n:02d}", parent=parent)

        # When the lazy iterator is started, Then only the first page was fetched
        before = list_calls(emulator)
        it = client.list_sessions(page_size=10, parent=parent)
        first = next(it)
        assert list_calls(emulator) - before == 1
        # When it is drained, Then every session came exactly once over five pages
        ids = [first.session_id, *(s.session_id for s in it)]
        assert list_calls(emulator) - before == 5
        assert len(ids) == 45
        assert sorted(ids) == [f"page-{n:02d}" for n in range(45)]

        # And one page is exactly what it says
        page = client.list_sessions_page(page_size=10, parent=parent.path)
        assert len(page.sessions) == 10 and page.next_page_token
        # And the filter reaches the server
        one = list(client.list_sessions(filter='session_id = "page-07"', parent=parent))
        assert [s.session_id for s in one] == ["page-07"]


# --- waits ---------------------------------------------------------------------------------


def test_wait_session_calls_progress(emulator: EmulatorProcess) -> None:
    with SessionsClient(emulator.url, project=fresh_project()) as client:
        client.create_session("waited")
        calls: list[tuple[Session, float]] = []
        # When waiting with a progress callback
        session = client.wait_session(
            "waited", timeout=30, progress=lambda s, t: calls.append((s, t))
        )
        # Then the session is ACTIVE and the callback saw each poll, in order
        assert session.state == State.ACTIVE
        assert calls
        assert calls[-1][0].state == State.ACTIVE
        assert all(isinstance(s, Session) and t >= 0 for s, t in calls)
        assert [t for _, t in calls] == sorted(t for _, t in calls)


def test_waits_are_bounded(slow_emulator: EmulatorProcess) -> None:
    with SessionsClient(slow_emulator.url, bearer=TOKEN, project=fresh_project()) as client:
        op = client.create_session("slow-start")
        polls: list[State] = []
        # When waiting 0.5 s for a session that needs 5 s to start
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded) as info:
            client.wait_session(
                "slow-start", timeout=0.5, progress=lambda s, t: polls.append(s.state)
            )
        elapsed = time.monotonic() - started
        # Then the wait gave up on time, saying why, after polling with backoff
        assert 0.45 <= elapsed < 2.0
        assert "0.5s" in str(info.value) and "CREATING" in str(info.value)
        assert len(polls) >= 2 and set(polls) == {State.CREATING}

        # And an operation wait is bounded the same way
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match=r"did not finish within 0\.3s"):
            client.wait_operation(op, timeout=0.3)
        assert time.monotonic() - started < 2.0

        # And terminating or deleting a session still being created is ABORTED (409)
        with pytest.raises(Aborted) as aborted:
            client.terminate_session("slow-start")
        assert aborted.value.http_status == 409 and "still being created" in str(aborted.value)
        with pytest.raises(Aborted):
            client.delete_session("slow-start")


# --- errors ----------------------------------------------------------------------------------


def test_errors_are_typed_with_the_server_message(emulator: EmulatorProcess) -> None:
    project = fresh_project()
    with SessionsClient(emulator.url, project=project) as client:
        # 404
        with pytest.raises(NotFound) as nf:
            client.get_session("missing-session")
        assert nf.value.http_status == 404
        assert str(nf.value) == (
            f"Not found: Session projects/{project}/locations/local/sessions/missing-session"
        )
        # 409
        client.wait_operation(client.create_session("dup-id"), timeout=30)
        with pytest.raises(AlreadyExists, match="already exists") as ae:
            client.create_session("dup-id")
        assert ae.value.http_status == 409
        # 400
        with pytest.raises(InvalidArgument, match="sessionId") as ia:
            client.create_session("Bad_ID")
        assert ia.value.http_status == 400
        with pytest.raises(InvalidArgument, match="expected an id"):
            client.get_session("not/a/name")
        # 400 FAILED_PRECONDITION on a second terminate
        client.wait_operation(client.terminate_session("dup-id"), timeout=30)
        with pytest.raises(FailedPrecondition, match="already terminated"):
            client.terminate_session("dup-id")

        # A failed create operation raises its own error class
        op = client.create_session("spark-one", {"sparkConnectSession": {}})
        with pytest.raises(FailedPrecondition, match="Session creation is FAILED"):
            client.wait_operation(op, timeout=30)
        # And waiting for ACTIVE on a FAILED session fails at once instead of timing out
        started = time.monotonic()
        with pytest.raises(FailedPrecondition, match="is FAILED"):
            client.wait_session("spark-one", states={"ACTIVE"}, timeout=60)
        assert time.monotonic() - started < 5


def test_bearer_and_refreshed_auth_headers(slow_emulator: EmulatorProcess) -> None:
    project = fresh_project()
    # Given an emulator that requires a bearer token, When none is sent, Then UNAUTHENTICATED
    with SessionsClient(slow_emulator.url, project=project) as anonymous:
        with pytest.raises(Unauthenticated, match="authentication credential") as info:
            anonymous.get_session("anything")
        assert info.value.http_status == 401
    # When the token comes from a callable, Then it is asked before each request
    asked: list[int] = []

    def headers() -> dict[str, str]:
        asked.append(1)
        return {"Authorization": f"Bearer {TOKEN}"}

    with SessionsClient(slow_emulator.url, auth_headers=headers, project=project) as client:
        assert list(client.list_sessions()) == []
        with pytest.raises(NotFound):
            client.get_session("nothing-here")
    assert len(asked) == 2


# --- retries, connection failures, timeouts ----------------------------------------------


def test_retries_resend_the_same_request_id(emulator: EmulatorProcess) -> None:
    project = fresh_project()

    def respond(req: Seen) -> Reply:
        posts = [r for r in server.seen if r.method == "POST"]
        if req.method == "POST" and len(posts) == 1:
            return unavailable({"Retry-After": "0"})
        if req.method == "POST" and len(posts) == 2:
            return unavailable()
        return forward(emulator, req, req.path.lstrip("/"))

    with LoopbackServer(respond) as server, SessionsClient(server.url, project=project) as client:
        # When the backend answers 503 twice before it accepts the create
        op = client.create_session("retried")
        # Then the client sent it three times with one generated requestId
        posts = [r for r in server.seen if r.method == "POST"]
        assert len(posts) == 3
        ids = {r.query["requestId"][0] for r in posts}
        assert len(ids) == 1
        (request_id,) = ids
        assert len(request_id) <= 40 and request_id.isalnum()
        assert op.metadata is not None and op.metadata.session.endswith("/sessions/retried")

    # And the backend answers that requestId with the same operation, never a second session
    with SessionsClient(emulator.url, project=project) as direct:
        again = direct.create_session("retried", request_id=request_id)
        assert again.name == op.name
        assert [s.session_id for s in direct.list_sessions()] == ["retried"]


def test_retry_policy_by_method(emulator: EmulatorProcess) -> None:
    def respond(req: Seen) -> Reply:
        if "sessionTemplates" in req.path or "always-busy" in req.path:
            return unavailable()
        if len([r for r in server.seen if "slow-down" in r.path]) == 1:
            return json_reply(
                429,
                {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}},
                {"Retry-After": "1"},
            )
        return forward(emulator, req, req.path.lstrip("/"))

    with LoopbackServer(respond) as server, SessionsClient(server.url, retries=2) as client:
        # A template write is not repeated on 503: it could apply twice
        with pytest.raises(Unavailable, match="backend restarting") as info:
            client.create_template({"description": "x"}, template_id="tpl-once")
        assert info.value.http_status == 503
        assert len([r for r in server.seen if "sessionTemplates" in r.path]) == 1

        # A read is retried until the retries run out, then the last error is raised
        with pytest.raises(Unavailable):
            client.get_session("always-busy")
        assert len([r for r in server.seen if "always-busy" in r.path]) == 3

        # A 429 with Retry-After: 1 is retried no sooner than asked
        started = time.monotonic()
        with pytest.raises(NotFound):
            client.get_session("slow-down")
        assert time.monotonic() - started >= 1.0
        assert len([r for r in server.seen if "slow-down" in r.path]) == 2


def test_connection_refused_is_unavailable_quickly() -> None:
    # Given a port that is bound but not listening (connections are refused)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        with SessionsClient(url) as client:
            started = time.monotonic()
            with pytest.raises(Unavailable) as info:
                client.get_session("anything")
            elapsed = time.monotonic() - started
    # Then the error names the URL and the reason, after a short bounded retry
    assert f"cannot reach the sessions API at {url}" in str(info.value)
    assert "refused" in str(info.value).lower()
    assert elapsed < 3.0


def test_slow_server_raises_deadline_exceeded() -> None:
    release = threading.Event()

    def respond(req: Seen) -> Reply:
        release.wait(10)
        return json_reply(200, {})

    with LoopbackServer(respond) as server:
        try:
            with SessionsClient(server.url, timeout=0.3) as client:
                started = time.monotonic()
                with pytest.raises(DeadlineExceeded) as info:
                    client.get_session("sleepy")
                elapsed = time.monotonic() - started
        finally:
            release.set()
    # Then the timeout is named, and not retried into a longer wait
    assert "0.3s" in str(info.value) and "read timeout" in str(info.value)
    assert elapsed < 1.5
    assert len(server.seen) == 1


# --- discovery -------------------------------------------------------------------------------


def fake_jupyter(
    emu: EmulatorProcess, token: str, config: dict[str, str], base: str = "/base/"
) -> LoopbackServer:
    """A stand-in Jupyter server: token auth, the config endpoint and the v1 proxy."""
    prefix = base + "jupyter-sessions/"

    def respond(req: Seen) -> Reply:
        if req.headers.get("authorization") != f"token {token}":
            return json_reply(403, {"message": "Forbidden", "reason": None})
        if req.path == prefix + "config":
            return json_reply(200, config)
        if req.path.startswith(prefix + "v1/"):
            return forward(emu, req, req.path[len(prefix) :])
        return json_reply(404, {"message": "Not Found"})

    return LoopbackServer(respond)


def test_discovery_from_environment(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = fresh_project()
    config = {
        "backend": "local",
        "endpoint": emulator.url,
        "project": project,
        "location": "asia-east1",
        "parent": f"projects/{project}/locations/asia-east1",
        "user": "someone@example.com",
    }
    with fake_jupyter(emulator, "tok-123", config) as jupyter:
        # Given the variables the extension exports into kernels
        monkeypatch.setenv("JUPYTER_SESSIONS_URL", jupyter.url + "base/")
        monkeypatch.setenv("JUPYTER_SESSIONS_TOKEN", "tok-123")
        # When the client discovers its server
        with SessionsClient.from_environment() as client:
            # Then it talks to the extension's proxy with the server's defaults
            assert client.api_root == jupyter.url + "base/jupyter-sessions/"
            assert (client.project, client.location) == (project, "asia-east1")
            assert client.server_config is not None
            assert client.server_config.user == "someone@example.com"
            op = client.create_session("through-proxy")
            assert op.metadata is not None
            assert op.metadata.session == f"{config['parent']}/sessions/through-proxy"
            assert [s.session_id for s in client.list_sessions()] == ["through-proxy"]
        # And every request carried the Jupyter token
        assert len(jupyter.seen) == 3
        assert {r.headers["authorization"] for r in jupyter.seen} == {"token tok-123"}

        # When the token is wrong and no other server runs, Then a clear ConnectionError
        monkeypatch.setenv("JUPYTER_SESSIONS_TOKEN", "wrong")
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
        with pytest.raises(DiscoveryError, match="is the token right") as info:
            SessionsClient.from_environment()
        assert isinstance(info.value, ConnectionError)
        assert "%session config --url" in str(info.value)


async def test_async_discovery(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"backend": "local", "project": "async-found", "location": "l9"}
    with fake_jupyter(emulator, "tok-async", config, base="/") as jupyter:
        monkeypatch.setenv("JUPYTER_SESSIONS_URL", jupyter.url)
        monkeypatch.setenv("JUPYTER_SESSIONS_TOKEN", "tok-async")
        # When the async client discovers its server, explicit arguments winning
        async with await AsyncSessionsClient.from_environment(location="other") as client:
            # Then it uses the server's project, the given location, and the proxy
            assert (client.project, client.location) == ("async-found", "other")
            assert client.api_root == jupyter.url + "jupyter-sessions/"
            with pytest.raises(NotFound):
                await client.get_session("nowhere")
        assert [r.path for r in jupyter.seen] == [
            "/jupyter-sessions/config",
            "/jupyter-sessions/v1/projects/async-found/locations/other/sessions/nowhere",
        ]


def write_server_info(runtime: Path, pid: int, url: str, token: str, mtime: float) -> None:
    path = runtime / f"jpserver-{pid}.json"
    path.write_text(json.dumps({"url": url, "token": token, "pid": pid, "base_url": "/base/"}))
    os.utime(path, (mtime, mtime))


def test_discovery_falls_back_to_running_servers(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("JUPYTER_SESSIONS_URL", raising=False)
    monkeypatch.delenv("JUPYTER_SESSIONS_TOKEN", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    now = time.time()
    older = {"backend": "local", "project": "older-project", "location": "l1"}
    newer = {"backend": "local", "project": "newer-project", "location": "l2"}
    with (
        fake_jupyter(emulator, "old-tok", older) as old,
        fake_jupyter(emulator, "new-tok", newer) as new,
    ):
        # Given two running servers (info files of live pids), When discovering
        write_server_info(tmp_path, os.getpid(), old.url + "base/", "old-tok", now - 100)
        write_server_info(tmp_path, os.getppid(), new.url + "base/", "new-tok", now - 10)
        with SessionsClient.discover() as client:
            # Then the newest server that answers is used, with its own token
            assert client.project == "newer-project"
            assert client.api_root == new.url + "base/jupyter-sessions/"
        assert {r.headers["authorization"] for r in new.seen} == {"token new-tok"}
        assert old.seen == []

        # When the newest one stops answering, Then the next one is used
        with socket.socket() as dead:
            dead.bind(("127.0.0.1", 0))
            dead_url = f"http://127.0.0.1:{dead.getsockname()[1]}/base/"
            write_server_info(tmp_path, os.getppid(), dead_url, "new-tok", now - 10)
            with SessionsClient.discover() as client:
                assert client.project == "older-project"


def test_discovery_without_any_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JUPYTER_SESSIONS_URL", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    started = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        SessionsClient.from_environment()
    assert isinstance(info.value, DiscoveryError)
    assert "%session config --url" in str(info.value) and "JupyterLab" in str(info.value)
    assert time.monotonic() - started < 10
