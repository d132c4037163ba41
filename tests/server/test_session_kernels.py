"""Session kernels through jupyter_server's own REST and websocket API, on the embedded
emulator with real kernels: the kernel picker offers them beside the local kernels, and each
step of a kernel's life matches its session's."""

from __future__ import annotations

import json
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websocket

from ..support import PARENT, JupyterServerProcess, wait_for
from .conftest import sessions_config

API = "jupyter-sessions/v1/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    config = sessions_config(emulator_runtime="kernel", emulator_args=["--warm-pool", "1"])
    proc = JupyterServerProcess(tmp_path_factory.mktemp("kernels"), config=config).start()
    yield proc
    proc.stop()


@pytest.fixture
def jp(server: JupyterServerProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        client.timeout = httpx.Timeout(120.0)
        yield client


class Channels:
    """The Jupyter server's kernel websocket, as JupyterLab uses it (JSON messages)."""

    def __init__(self, server: JupyterServerProcess, kernel_id: str) -> None:
        url = server.url.replace("http://", "ws://") + f"api/kernels/{kernel_id}/channels"
        self.ws = websocket.create_connection(
            f"{url}?session_id={uuid.uuid4().hex}",
            timeout=60,
            header={"Authorization": f"token {server.token}"},
        )

    def execute(self, code: str) -> tuple[str, list[dict[str, Any]]]:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "session": "s",
            "username": "u",
            "date": "2026-01-01T00:00:00Z",
            "version": "5.3",
        }
        self.ws.send(
            json.dumps(
                {
                    "channel": "shell",
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": {"code": code, "silent": False},
                }
            )
        )
        status = ""
        iopub: list[dict[str, Any]] = []
        idle = False
        while not status or not idle:
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell":
                status = msg["content"]["status"]
            elif msg["channel"] == "iopub":
                iopub.append(msg)
                idle = msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
        return status, iopub

    def value(self, code: str) -> str | None:
        status, iopub = self.execute(code)
        results = [
            m["content"]["data"]["text/plain"] for m in iopub if m["msg_type"] == "execute_result"
        ]
        return str(results[-1]) if status == "ok" and results else None

    def close(self) -> None:
        self.ws.close()


def session_name(model: dict[str, Any]) -> str:
    resource = model["metadata"]["endpointParentResource"]
    return str(resource.removeprefix("//dataproc.googleapis.com/"))


def state_of(jp: httpx.Client, name: str) -> str:
    return str(jp.get(API + name).json().get("state"))


def test_the_kernel_picker_offers_session_kernels_beside_local_ones(jp: httpx.Client) -> None:
    # Given a session template with a Jupyter block, made through the extension's proxy
    r = jp.post(
        f"{API}{PARENT}/sessionTemplates",
        json={
            "name": f"{PARENT}/sessionTemplates/team-python",
            "jupyterSession": {"kernel": "PYTHON", "displayName": "Team Python"},
        },
    )
    assert r.status_code == 200, r.text
    # When the kernelspecs are listed
    specs = jp.get("api/kernelspecs").json()["kernelspecs"]
    # Then the local kernel is there unchanged, and so are the session kernels
    assert "python3" in specs
    assert specs["session"]["spec"]["display_name"] == "Python on a new session"
    assert specs["session-template-team-python"]["spec"]["display_name"] == "Team Python"
    assert specs["session"]["spec"]["metadata"]["endpointParentResource"] == (
        f"//dataproc.googleapis.com/{PARENT}/sessions"
    )
    # And a single spec reads back too
    one = jp.get("api/kernelspecs/session-template-team-python")
    assert one.status_code == 200, one.text
    assert one.json()["name"] == "session-template-team-python"


def test_a_session_kernel_lives_and_ends_with_its_session(
    server: JupyterServerProcess, jp: httpx.Client
) -> None:
    # When a notebook starts a kernel from the template's kernelspec
    r = jp.post(
        "api/sessions",
        json={
            "path": "a.ipynb",
            "type": "notebook",
            "kernel": {"name": "session-template-team-python"},
        },
    )
    assert r.status_code == 201, r.text
    notebook = r.json()
    kid = notebook["kernel"]["id"]
    model = jp.get(f"api/kernels/{kid}").json()
    name = session_name(model)
    # Then a session was created from the template and is ACTIVE
    session = jp.get(API + name).json()
    assert session["state"] == "ACTIVE"
    assert session["sessionTemplate"] == f"{PARENT}/sessionTemplates/team-python"
    assert model["metadata"]["startedHere"] is True
    ch = Channels(server, kid)
    try:
        # And cells run in the session's kernel, not in a local one
        assert ch.value("import os; os.environ.get('JUPYTER_SESSIONS_SESSION')") == repr(name)
        first_pid = ch.value("import os; x = 1; os.getpid()")
        assert first_pid is not None and int(first_pid) != os.getpid()
        # When the kernel is interrupted through the Jupyter server
        ch.ws.send(_execute("import time; time.sleep(60)"))
        wait_for(lambda: jp.get(f"api/kernels/{kid}").json()["execution_state"] == "busy", 30)
        assert jp.post(f"api/kernels/{kid}/interrupt").status_code == 204
        # Then the cell stops with KeyboardInterrupt
        wait_for(lambda: _saw_error(ch, "KeyboardInterrupt"), 30, what="KeyboardInterrupt")
        # When it is restarted
        r = jp.post(f"api/kernels/{kid}/restart")
        assert r.status_code == 200, r.text
        # Then the session runs on with a fresh kernel process
        second_pid = wait_for(lambda: _value(ch, "import os; os.getpid()"), 60)
        assert second_pid != first_pid
        assert state_of(jp, name) == "ACTIVE"
    finally:
        ch.close()
    # When the notebook's session (and with it the kernel) is shut down
    assert jp.delete(f"api/sessions/{notebook['id']}").status_code == 204
    # Then the session that the kernel created ends too
    wait_for(lambda: state_of(jp, name) == "TERMINATED", 60, what="TERMINATED")
    assert kid not in [k["id"] for k in jp.get("api/kernels").json()]


def _execute(code: str) -> str:
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": "execute_request",
        "session": "s",
        "username": "u",
        "date": "2026-01-01T00:00:00Z",
        "version": "5.3",
    }
    body = {"header": header, "parent_header": {}, "metadata": {}, "content": {"code": code}}
    return json.dumps({"channel": "shell", **body})


def _saw_error(ch: Channels, ename: str) -> bool:
    msg = json.loads(ch.ws.recv())
    return msg.get("msg_type") == "error" and msg["content"]["ename"] == ename


def _value(ch: Channels, code: str) -> str | None:
    try:
        return ch.value(code)
    except (websocket.WebSocketException, OSError):
        return None


def test_attaching_to_a_running_session_leaves_it_running(
    server: JupyterServerProcess, jp: httpx.Client
) -> None:
    # Given a session created elsewhere (here: straight through the Sessions API)
    sid = f"attach-{uuid.uuid4().hex[:8]}"
    r = jp.post(f"{API}{PARENT}/sessions", params={"sessionId": sid}, json={"jupyterSession": {}})
    assert r.status_code == 200, r.text
    name = f"{PARENT}/sessions/{sid}"
    wait_for(lambda: state_of(jp, name) == "ACTIVE", 60, what="ACTIVE")
    uid = jp.get(API + name).json()["uuid"]

    # When the running kernels are listed, it is there, as a kernel this server did not start
    def listed() -> dict[str, Any] | None:
        found = {k["id"]: k for k in jp.get("api/kernels").json()}
        return found if uid in found else None

    kernels = wait_for(listed, 30, what="the session's kernel in the list")
    assert kernels[uid]["metadata"]["startedHere"] is False
    # When a notebook attaches to it and runs a cell
    r = jp.post("api/sessions", json={"path": "b.ipynb", "type": "notebook", "kernel": {"id": uid}})
    assert r.status_code == 201, r.text
    notebook = r.json()
    assert notebook["kernel"]["id"] == uid
    ch = Channels(server, uid)
    try:
        assert ch.value("import os; os.environ.get('JUPYTER_SESSIONS_SESSION')") == repr(name)
    finally:
        ch.close()
    # And the notebook is shut down
    assert jp.delete(f"api/sessions/{notebook['id']}").status_code == 204
    # Then the session it only attached to runs on
    assert state_of(jp, name) == "ACTIVE"
    r = jp.post(f"{API}{name}:terminate", json={})
    assert r.status_code == 200, r.text


def test_a_notebook_on_a_session_kernel_can_be_renamed(jp: httpx.Client) -> None:
    # Given a notebook on a session kernel (JupyterLab starts it under a temporary path)
    r = jp.post(
        "api/sessions",
        json={"path": "tmp-1234", "type": "notebook", "kernel": {"name": "session"}},
    )
    assert r.status_code == 201, r.text
    notebook = r.json()
    kid = notebook["kernel"]["id"]
    name = session_name(jp.get(f"api/kernels/{kid}").json())
    # When it moves to its real path, as JupyterLab does right after the start
    r = jp.patch(f"api/sessions/{notebook['id']}", json={"path": "renamed.ipynb"})
    # Then the notebook keeps its kernel and the session runs on
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "renamed.ipynb"
    assert r.json()["kernel"]["id"] == kid
    assert state_of(jp, name) == "ACTIVE"
    assert jp.delete(f"api/sessions/{notebook['id']}").status_code == 204
    wait_for(lambda: state_of(jp, name) == "TERMINATED", 60, what="TERMINATED")


def test_local_kernels_work_as_before(server: JupyterServerProcess, jp: httpx.Client) -> None:
    r = jp.post("api/kernels", json={"name": "python3"})
    assert r.status_code == 201, r.text
    kid = r.json()["id"]
    ch = Channels(server, kid)
    try:
        assert ch.value("import os; 'JUPYTER_SESSIONS_SESSION' in os.environ") == "False"
    finally:
        ch.close()
    assert jp.delete(f"api/kernels/{kid}").status_code == 204


def test_a_kernel_that_cannot_run_here_is_refused_with_a_reason(jp: httpx.Client) -> None:
    r = jp.post(
        f"{API}{PARENT}/sessionTemplates",
        json={
            "name": f"{PARENT}/sessionTemplates/scala-team",
            "jupyterSession": {"kernel": "SCALA"},
        },
    )
    assert r.status_code == 200, r.text
    before = len(
        jp.get(f"{API}{PARENT}/sessions", params={"pageSize": 1000}).json().get("sessions", [])
    )
    r = jp.post("api/kernels", json={"name": "session-template-scala-team"})
    assert r.status_code == 400, r.text
    assert "Scala kernels are not available" in r.json()["message"]
    assert "Ensure gateway url" not in r.json()["message"]
    # Opening a notebook on it (JupyterLab's POST /api/sessions) is refused the same way.
    r = open_notebook(jp, "session-template-scala-team", "scala.ipynb")
    assert r.status_code == 400, r.text
    assert "Scala kernels are not available" in r.json()["message"]
    assert "scala.ipynb" not in [s["path"] for s in jp.get("api/sessions").json()]
    after = len(
        jp.get(f"{API}{PARENT}/sessions", params={"pageSize": 1000}).json().get("sessions", [])
    )
    assert after == before


def open_notebook(jp: httpx.Client, kernel_name: str, path: str) -> httpx.Response:
    """Open a notebook on a new kernel, as JupyterLab does (POST /api/sessions)."""
    body = {"kernel": {"name": kernel_name}, "path": path, "type": "notebook", "name": path}
    return jp.post("api/sessions", json=body)


def open_session_kernel(
    server: JupyterServerProcess, jp: httpx.Client
) -> tuple[str, str, Channels]:
    """A new session kernel: its id, its session's name, and a websocket to it."""
    r = jp.post("api/kernels", json={"name": "session"})
    assert r.status_code == 201, r.text
    kid = r.json()["id"]
    return kid, session_name(jp.get(f"api/kernels/{kid}").json()), Channels(server, kid)


def test_a_notebook_survives_an_emulator_crash(
    server: JupyterServerProcess, jp: httpx.Client
) -> None:
    # Given a notebook on a session kernel with some state
    kid, name, ch = open_session_kernel(server, jp)
    try:
        assert ch.value("kept = 'still here'; kept") == "'still here'"
        # When the embedded emulator is killed -9 (the supervisor restarts it)
        with server.emulator() as emu:
            pid = emu.get("/healthz").json()["pid"]
        os.kill(pid, signal.SIGKILL)

        def restarted() -> bool:
            try:
                with server.emulator() as emu:
                    return bool(emu.get("/healthz").json()["pid"] != pid)
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        wait_for(restarted, 60, what="a new emulator")
        # Then the session was re-adopted, and the same notebook connection runs cells in the
        # same kernel (the server reconnects its gateway websocket)
        assert state_of(jp, name) == "ACTIVE"
        assert wait_for(lambda: _value(ch, "kept"), 60, what="a cell after the crash") == (
            "'still here'"
        )
    finally:
        ch.close()
        jp.delete(f"api/kernels/{kid}")


def test_a_killed_session_kernel_is_reported_dead_with_the_reason(
    server: JupyterServerProcess, jp: httpx.Client
) -> None:
    kid, name, ch = open_session_kernel(server, jp)
    try:
        pid = int(ch.value("import os; os.getpid()") or 0)
        # When the session's kernel process is killed -9
        os.kill(pid, signal.SIGKILL)
        # Then the session goes FAILED and the notebook is told its kernel is dead, and why
        wait_for(lambda: state_of(jp, name) == "FAILED", 60, what="FAILED")

        def dead() -> dict[str, Any] | None:
            try:
                msg = json.loads(ch.ws.recv())
            except (websocket.WebSocketException, OSError):
                return None
            state = msg.get("content", {}).get("execution_state")
            return msg if msg.get("msg_type") == "status" and state == "dead" else None

        msg = wait_for(dead, 30, what="a dead status")
        assert "FAILED" in msg["content"]["reason"]
        assert "exited unexpectedly" in msg["content"]["reason"]
    finally:
        ch.close()
    # And the kernel is gone from the server's list
    wait_for(lambda: kid not in [k["id"] for k in jp.get("api/kernels").json()], 30)


def test_an_unknown_kernel_name_is_a_client_error_on_both_apis(jp: httpx.Client) -> None:
    """Given a kernel name that is neither a local kernelspec nor one of the gateway's
    When a kernel is started with it, or a notebook session is opened on it (as JupyterLab
    does when it opens a notebook)
    Then the kernels API answers 404 naming the kernel, and the sessions API 501 (its
    answer for a kernel that is not available), never a 500."""
    r = jp.post("api/kernels", json={"name": "session-template-nope"})
    assert r.status_code == 404, r.text
    assert r.json()["message"] == "No such kernel: session-template-nope"
    r = open_notebook(jp, "session-template-nope", "unknown.ipynb")
    assert r.status_code == 501, r.text
    assert "session-template-nope" in r.json()["message"]
    # Restarting or interrupting a kernel that is not there is a 404 too.
    for action in ("restart", "interrupt"):
        r = jp.post(f"api/kernels/{uuid.uuid4()}/{action}")
        assert r.status_code == 404, (action, r.text)
        assert r.json()["message"].startswith("Kernel does not exist: "), r.text
    assert "unknown.ipynb" not in [s["path"] for s in jp.get("api/sessions").json()]


def test_a_restarted_server_still_ends_the_sessions_of_kernels_it_started(
    tmp_path: Path,
) -> None:
    """Given a session kernel this server started, and the server killed -9 and started
    again on the same root directory and address (its emulator is adopted)
    When the kernel is listed and then shut down from the restarted server
    Then it is still the server's own (startedHere), and shutting it down ends its session,
    where a kernel the server only attached to would be let go with its session running."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ("--ServerApp.port_retries=0",)
    config = sessions_config(emulator_runtime="kernel", emulator_args=["--warm-pool", "1"])
    first = JupyterServerProcess(tmp_path, *args, config=config, port=port).start()
    second: JupyterServerProcess | None = None
    try:
        with first.client() as jp:
            jp.timeout = httpx.Timeout(120.0)
            r = jp.post("api/kernels", json={"name": "session"})
            assert r.status_code == 201, r.text
            kid = r.json()["id"]
            assert r.json()["metadata"]["startedHere"] is True
            name = session_name(r.json())
        os.kill(first.pid, signal.SIGKILL)
        first.proc.wait(timeout=10)  # type: ignore[union-attr]
        second = JupyterServerProcess(tmp_path, *args, config=config, port=port).start()
        assert second.url == first.url
        with second.client() as jp:
            jp.timeout = httpx.Timeout(120.0)
            kernels = wait_for(
                lambda: {k["id"]: k for k in jp.get("api/kernels").json()}.get(kid),
                60,
                what="the kernel listed by the restarted server",
            )
            assert kernels["metadata"]["startedHere"] is True
            assert state_of(jp, name) == "ACTIVE"
            assert jp.delete(f"api/kernels/{kid}").status_code == 204
            wait_for(lambda: state_of(jp, name) == "TERMINATED", 60, what="the session to end")
    finally:
        if second is not None:
            second.stop()
        first.stop()
