"""``GET jupyter-sessions/log``: a session's kernel log through the extension (read-only,
authenticated, only that session's own file), and what the backend can run, in
``jupyter-sessions/config``, on an embedded emulator with real kernels."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from ..support import PARENT, JupyterServerProcess, wait_for
from .conftest import sessions_config

API = "jupyter-sessions/v1/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    config = sessions_config(emulator_runtime="kernel", emulator_args=["--warm-pool", "0"])
    proc = JupyterServerProcess(tmp_path_factory.mktemp("logs"), config=config).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def session(server: JupyterServerProcess) -> str:
    session_id = f"log-{uuid.uuid4().hex[:8]}"
    name = f"{PARENT}/sessions/{session_id}"
    with server.client() as jp:
        r = jp.post(f"{API}{PARENT}/sessions", params={"sessionId": session_id}, json={})
        assert r.status_code == 200, r.text
        wait_for(
            lambda: jp.get(f"{API}{name}").json().get("state") == "ACTIVE",
            120,
            what="the session to be ACTIVE",
        )
    return name


def test_the_log_of_a_session_is_its_own_kernel_log(
    server: JupyterServerProcess, session: str
) -> None:
    """Given an ACTIVE session, when its log is asked for, then the answer is the text of the
    file its runtimeInfo names, as plain text that is never cached."""
    with server.client() as jp:
        logged = jp.get(f"{API}{session}").json()["runtimeInfo"]["endpoints"]["Jupyter Kernel Log"]
        r = jp.get("jupyter-sessions/log", params={"session": session})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"
    with open(logged, encoding="utf-8", errors="replace") as f:
        assert r.text == f.read()


def test_tail_sends_the_end_of_the_log_from_a_line_start(
    server: JupyterServerProcess, session: str
) -> None:
    with server.client() as jp:
        whole = jp.get("jupyter-sessions/log", params={"session": session}).text
        r = jp.get("jupyter-sessions/log", params={"session": session, "tail": "300"})
    assert r.status_code == 200
    assert whole.endswith(r.text) and len(r.text.encode()) <= 300
    assert r.text == "" or whole[len(whole) - len(r.text) - 1] == "\n"


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({}, 400, "session"),
        ({"session": "/etc/passwd"}, 400, "session"),
        ({"session": f"{PARENT}/sessions/nope-none"}, 404, "nope-none"),
        ({"session": "SESSION", "tail": "0"}, 400, "tail"),
        ({"session": "SESSION", "tail": "lots"}, 400, "tail"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    server: JupyterServerProcess, session: str, params: dict[str, str], status: int, words: str
) -> None:
    query = {k: (session if v == "SESSION" else v) for k, v in params.items()}
    with server.client() as jp:
        r = jp.get("jupyter-sessions/log", params=query)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]


def test_the_log_needs_jupyters_credentials(server: JupyterServerProcess, session: str) -> None:
    with server.anonymous() as anon:
        r = anon.get("jupyter-sessions/log", params={"session": session})
    assert r.status_code == 403
    assert "INFO" not in r.text and "Kernel" not in r.text


def test_config_says_what_the_emulator_can_run(server: JupyterServerProcess) -> None:
    """Given real kernels on the emulator, then config offers Python, says why Scala cannot
    run, and says why Spark Connect cannot whenever it cannot."""
    runtimes = server.config()["runtimes"]
    assert set(runtimes) == {"PYTHON", "SCALA", "SPARK_CONNECT"}
    assert runtimes["PYTHON"] == ""
    assert "Scala kernels are not available in the local emulator" in runtimes["SCALA"]
    from jupyter_sessions.emulator.runtimes.connect import unavailable_reason

    assert runtimes["SPARK_CONNECT"] == unavailable_reason()


def test_a_log_that_is_gone_is_a_404(server: JupyterServerProcess) -> None:
    """Given a session whose kernel log was removed, then the log is a 404 saying so."""
    session_id = f"gone-{uuid.uuid4().hex[:8]}"
    name = f"{PARENT}/sessions/{session_id}"
    with server.client() as jp:
        assert jp.post(f"{API}{PARENT}/sessions", params={"sessionId": session_id}).is_success
        wait_for(lambda: jp.get(f"{API}{name}").json().get("state") == "ACTIVE", 120, what="ACTIVE")
        logged = jp.get(f"{API}{name}").json()["runtimeInfo"]["endpoints"]["Jupyter Kernel Log"]
        os.unlink(logged)
        r = jp.get("jupyter-sessions/log", params={"session": name})
    assert r.status_code == 404, r.text
    assert "gone" in r.json()["error"]["message"]


def test_the_route_is_documented(server: JupyterServerProcess) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"token {server.token}"}) as c:
        spec = c.get("jupyter-sessions/openapi.json").json()
    assert "/jupyter-sessions/log" in spec["paths"]
