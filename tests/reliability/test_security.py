"""Security: the proxy forwards only the allow-list (property over raw paths and Host
headers), no secret reaches a response or a log, the emulator's token check holds
whatever the header says, and the emulator binds loopback unless told otherwise."""

from __future__ import annotations

import json
import re
import string
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ..server.conftest import sessions_config
from ..support import PARENT, EmulatorProcess, JupyterServerProcess, SseRecorder, wait_for
from .conftest import QUICK, Stack, wait_listening
from .harness import RawClient, Reply, assert_envelope, record_figures

# The allow-list, restated independently of the product's code: names as Dataproc
# spells them (project ids or numbers, optionally domain-scoped; regions; ids of letters,
# digits, '-' and '_'), no encodings but a colon, and only the sessions,
# sessionTemplates and operations shapes.
_PROJECT = r"(?:[a-z0-9][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LOCATION = r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ID = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,98}[A-Za-z0-9])?"
ALLOWED = re.compile(
    rf"^projects/{_PROJECT}/(?:"
    rf"locations/{_LOCATION}/sessions(?:/{_ID}(?::terminate)?)?"
    rf"|locations/{_LOCATION}/sessionTemplates(?:/{_ID})?"
    rf"|(?:locations|regions)/{_LOCATION}/operations(?:/{_ID}(?::cancel)?)?"
    r")\Z"
)
TOKENS = (
    "projects",
    "p",
    "locations",
    "regions",
    "us-central1",
    "sessions",
    "sessionTemplates",
    "operations",
    "batches",
    "s-1",
    "op-1",
    ":terminate",
    ":cancel",
    ":delete",
    "%3A",
    "%3aterminate",
    "..",
    ".",
    "",
    "%2F",
    "%2f",
    "%2e",
    "%2E%2E",
    "%252F",
    "%5C",
    "\\",
    "http:",
    "https:",
    "127.0.0.2:1",
    "@127.0.0.2",
    "?x=1",
    "?pageSize=1",
    "#frag",
    ";",
    "%00",
    "%E2%80%AE",
    "~",
    "-",
    "v1",
    "healthz",
    "emulator",
    "stats",
)
raw_paths = st.one_of(
    st.from_regex(ALLOWED, fullmatch=True).filter(lambda p: len(p) < 300),
    st.lists(st.sampled_from(TOKENS), max_size=9).map("/".join),
    st.lists(
        st.one_of(
            st.sampled_from(TOKENS),
            st.text(
                alphabet=string.ascii_letters + string.digits + "-._~:%@!$&'()*+,;=", max_size=6
            ),
        ),
        max_size=9,
    ).map(lambda parts: "/".join(parts)),
    # A valid path with one part replaced, or glued without its slash.
    st.tuples(
        st.sampled_from(
            [
                "projects/p/locations/l/sessions/s-1:terminate",
                "projects/p/regions/l/operations/op-1:cancel",
                "projects/p/locations/l/sessionTemplates/t-1",
            ]
        ),
        st.integers(min_value=0, max_value=5),
        st.sampled_from(TOKENS),
        st.booleans(),
    ).map(
        lambda t: (lambda parts: "/".join(parts) if t[3] else "".join(parts))(
            [t[2] if i == t[1] else part for i, part in enumerate(t[0].split("/"))]
        )
    ),
)
HOSTS = (None, None, None, "127.0.0.2:9", "evil.example", "[::1]:1", "localhost:1")


def new_lines(log: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    data = log.read_bytes() if log.exists() else b""
    lines = [json.loads(line) for line in data[offset:].splitlines() if line.strip()]
    return lines, len(data)


def allow_list_property(stack: Stack, examples: int, stress: bool) -> None:
    headers = {"Authorization": f"token {stack.server.token}"}
    counts = {"forwarded": 0, "refused": 0}
    offset = new_lines(stack.requests_log, 0)[1]

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=not stress,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        raw=raw_paths,
        method=st.sampled_from(["GET", "POST", "DELETE", "PATCH"]),
        host=st.sampled_from(HOSTS),
    )
    @example(raw="projects/p/locations/l/sessions/..%2F..%2Fhealthz", method="GET", host=None)
    @example(raw="projects/p/locations/l/sessions%2Fx", method="GET", host=None)
    @example(raw="http://127.0.0.2:1/v1/projects/p/locations/l/sessions", method="GET", host=None)
    @example(raw="projects/p/locations/l/sessions/s-1%3Aterminate", method="POST", host=None)
    @example(raw="projects/p/locations/l/sessions", method="GET", host="127.0.0.2:9")
    def forwards_only_the_allow_list(raw: str, method: str, host: str | None) -> None:
        nonlocal offset
        path_part = raw.split("?", 1)[0]
        allowed = ALLOWED.match(re.sub("%3[aA]", ":", path_part)) is not None
        extra = {"Host": host} if host else {}
        body = b"{}" if method in ("POST", "PATCH") else None
        with RawClient(stack.server.url, headers) as client:
            reply = client.request(method, "/jupyter-sessions/v1/" + raw, body, extra)
        reached, offset = new_lines(stack.requests_log, offset)
        context = (method, raw, host, reply.status, reply.body[:200])
        assert len(reached) <= 1, context
        if reached:
            counts["forwarded"] += 1
            # What reached the backend is exactly the allow-listed path, nothing else.
            assert allowed, context
            assert reached[0]["path"] == "/v1/" + re.sub("%3[aA]", ":", path_part), reached
        else:
            counts["refused"] += 1
            # Refused by the allow-list (404), by Jupyter's own Host check (403), or (400) as
            # a URL whose percent-escapes are not UTF-8.
            assert not allowed or host, context
            try:
                unquote_to_bytes(path_part).decode("utf-8")
                expected: tuple[int, ...] = (403, 404) if host else (404,)
            except UnicodeDecodeError:
                expected = (400, 403) if host else (400,)
            assert reply.status in expected, context
            assert_envelope(reply, context)

    forwards_only_the_allow_list()
    assert counts["forwarded"] and counts["refused"], counts
    record_figures(f"allow-list-{examples}", counts, write=stress)


def test_proxy_forwards_only_the_allow_list(stack: Stack) -> None:
    """Given random raw paths (dot segments, encoded slashes and colons, absolute URLs,
    glued segments) and forged Host headers, every path outside the allow-list gets a
    404 envelope and the emulator sees nothing; what does reach it is the allow-listed
    path itself."""
    allow_list_property(stack, 200, stress=False)


@pytest.mark.stress
def test_proxy_forwards_only_the_allow_list_long(stack: Stack) -> None:
    allow_list_property(stack, 2000, stress=True)


def test_jupyter_token_in_the_query_is_not_forwarded(stack: Stack) -> None:
    """Given a client authenticating with ?token= (as Jupyter allows), the proxied call
    works and the backend never receives the token (nor the _xsrf value)."""
    _, offset = new_lines(stack.requests_log, 0)
    with stack.server.anonymous() as c:
        r = c.get(
            f"jupyter-sessions/v1/{PARENT}/sessions",
            params={"pageSize": 3, "token": stack.server.token, "_xsrf": "x"},
        )
    assert r.status_code == 200, r.text
    reached, _ = new_lines(stack.requests_log, offset)
    assert [entry["query"] for entry in reached] == ["pageSize=3"]


# --- secrets -----------------------------------------------------------------------------


def test_secrets_never_appear_in_responses_or_logs(tmp_path: Path) -> None:
    """Given a server with a known token and an emulator requiring a known bearer token
    (both logging at DEBUG, the emulator also recording requests), when every route is
    called with right, wrong and query-string credentials and an event stream runs,
    then neither token appears in any response, event or log."""
    server_token = "srv" + uuid.uuid4().hex
    backend_token = "emu" + uuid.uuid4().hex
    record = tmp_path / "emu" / "requests.jsonl"
    (tmp_path / "emu").mkdir()
    emu = EmulatorProcess(
        tmp_path / "emu",
        *QUICK,
        "--require-token",
        backend_token,
        "--record-requests",
        str(record),
        "--log-level",
        "DEBUG",
    ).start()
    server = JupyterServerProcess(
        tmp_path / "server",
        "--log-level=DEBUG",
        token=server_token,
        config=sessions_config(backend=emu.url + "/"),
    )
    seen: list[str] = []

    def keep(r: httpx.Response) -> httpx.Response:
        seen.append(f"{r.status_code} {dict(r.headers)} {r.text}")
        return r

    recorder: SseRecorder | None = None
    try:
        server.start()
        wait_listening(server)
        recorder = SseRecorder(server)
        with server.client() as c:
            for method, path in (
                ("GET", "jupyter-sessions/config"),
                ("GET", "jupyter-sessions/openapi.json"),
                ("GET", f"jupyter-sessions/v1/{PARENT}/sessions"),
                ("POST", f"jupyter-sessions/v1/{PARENT}/sessions?sessionId=sec-1"),
                ("GET", "jupyter-sessions/v1/projects/p/regions/l/operations/x"),
                ("GET", "jupyter-sessions/v1/healthz"),
            ):
                keep(c.request(method, path, json={} if method == "POST" else None))
                keep(c.request(method, path + ("&" if "?" in path else "?") + "token=x"))
        with server.anonymous() as c:
            keep(c.get("jupyter-sessions/config", params={"token": server_token}))
            keep(c.get(f"jupyter-sessions/v1/{PARENT}/sessions", params={"token": server_token}))
            keep(c.get("jupyter-sessions/config", headers={"Authorization": "token wrong"}))
        with httpx.Client(base_url=emu.url, timeout=30.0) as c:
            right = {"Authorization": f"Bearer {backend_token}"}
            assert keep(c.get(f"/v1/{PARENT}/sessions", headers=right)).status_code == 200
            assert keep(c.get("/v1/openapi.json")).status_code == 401  # served to callers only
            for value in ("Bearer wrong", f"Bearer {backend_token}x", f"Basic {backend_token}"):
                r = keep(c.get(f"/v1/{PARENT}/sessions", headers={"Authorization": value}))
                assert r.status_code == 401
            keep(c.get(f"/v1/{PARENT}/sessions", params={"access_token": backend_token}))
            keep(c.get(f"/v1/{PARENT}/sessions", params={"key": backend_token}, headers=right))
        recorder.wait(lambda r: "status" in r.kinds(), 30)  # the backend refuses the watcher
    finally:
        if recorder is not None:
            recorder.stop()
        server.stop()
        emu.stop()
    events = json.dumps(recorder.events if recorder else [])
    texts = {
        "responses": "\n".join(seen),
        "events": events,
        "emulator log": emu.log_path.read_text(errors="replace"),
        "request record": record.read_text(errors="replace"),
        # jupyter_server itself dumps its command line (with the token) as "Config
        # changed" at DEBUG level: its own behaviour, not the extension's.
        "server log": "\n".join(
            line
            for line in server.log_path.read_text(errors="replace").splitlines()
            if "Config changed:" not in line
        ),
    }
    for where, text in texts.items():
        for secret in (server_token, backend_token):
            assert secret not in text, (where, text[max(0, text.find(secret) - 300) :][:600])
    assert "[secret]" in texts["emulator log"]  # query credentials are logged by name only


def test_token_check_holds_whatever_the_header_says(tmp_path: Path) -> None:
    """Given an emulator requiring a bearer token, any other Authorization header
    (non-ASCII bytes, other schemes, near misses) gets a 401 UNAUTHENTICATED envelope,
    never a 500, and only the exact token is accepted."""
    token = "tok-" + uuid.uuid4().hex
    emu = EmulatorProcess(tmp_path, *QUICK, "--require-token", token).start()
    printable = string.printable.strip() + " éß\u00ff"

    @settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @given(
        value=st.one_of(
            st.text(alphabet=printable, max_size=60),
            st.text(alphabet=printable, max_size=60).map(lambda t: "Bearer " + t),
            st.sampled_from(["Bearer ", "Bearer  ", "bearer "]).map(lambda b: b + token),
        )
    )
    @example(value="Bearer é")
    @example(value="Bearer " + "\u00ff" * 40)
    @example(value="bearer")
    @example(value=f"Bearer {token}x")
    def answers(value: str) -> None:
        with RawClient(emu.url) as client:
            reply = client.request(
                "GET", f"/v1/{PARENT}/sessions", headers={"Authorization": value}
            )
        scheme, _, given_token = value.strip().partition(" ")
        accepted = scheme.lower() == "bearer" and given_token.strip() == token
        assert reply.status == (200 if accepted else 401), (value, reply.body[:200])
        if not accepted:
            assert assert_envelope(reply, value)["status"] == "UNAUTHENTICATED"
            assert reply.headers.get("www-authenticate", "").startswith("Bearer")

    try:
        answers()
    finally:
        emu.stop()
    assert "Traceback" not in emu.log_path.read_text()


# --- binding -------------------------------------------------------------------------------


def _emulator(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "jupyter_sessions.cli", "emulator"]
    return subprocess.run(
        [*command, "--db", str(tmp_path / "x.db"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com"])
def test_emulator_refuses_a_non_loopback_bind(tmp_path: Path, host: str) -> None:
    """Given --host HOST that is not loopback and no --allow-remote, the emulator exits
    with status 2 and says why and what to do, before binding anything."""
    done = _emulator(tmp_path, "--host", host, "--port", "0", "--runtime", "simulated")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"refusing to bind {host}" in done.stderr and "--allow-remote" in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_emulator_binds_every_interface_only_when_asked(tmp_path: Path) -> None:
    """Given --host 0.0.0.0 --allow-remote, the emulator starts; it is checked through
    127.0.0.1 only, then stopped."""
    emu = EmulatorProcess(
        tmp_path, "--runtime", "simulated", "--host", "0.0.0.0", "--allow-remote"
    ).start()
    try:
        port = int(emu.url.rsplit(":", 1)[1])
        with httpx.Client(timeout=10.0) as c:
            health = c.get(f"http://127.0.0.1:{port}/healthz").json()
        assert health["pid"] == emu.pid
    finally:
        emu.stop()
    wait_for(lambda: emu.proc is not None and emu.proc.poll() is not None, 10)


def test_every_documented_route_refuses_without_credentials(stack: Stack) -> None:
    """Given every (method, path) of the extension's OpenAPI document, a request with no
    credentials or a wrong token is refused with the envelope and reaches nothing."""
    from jupyter_sessions.openapi import load_spec

    before = stack.backend_calls()
    paths = load_spec("extension")["paths"]
    for path, item in paths.items():
        target = re.sub(r"\{(\w+)\}", "x-1", path).lstrip("/")
        for method in item:
            for headers in ({}, {"Authorization": "token wrong"}):
                with httpx.Client(base_url=stack.server.url, timeout=30.0) as c:
                    r = c.request(method.upper(), target, headers=headers, json=None)
                assert r.status_code in (401, 403), (method, path, r.status_code)
                assert_envelope(Reply(r.status_code, dict(r.headers), r.content), path)
    assert stack.backend_calls() == before
