"""The emulator's kernel gateway: kernelspecs, kernels and their websocket, against a real
emulator with real kernels, the way jupyter_server's gateway client uses them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websocket

from ..support import EmulatorProcess, wait_for, wait_state

PARENT = "projects/gw-project/locations/local"
TOKEN = "gateway-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(
        tmp_path_factory.mktemp("gateway"),
        "--gateway-parent",
        PARENT,
        "--require-token",
        TOKEN,
        "--warm-pool",
        "1",
    ).start()
    yield emu
    emu.stop()


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with emulator.client(headers=AUTH) as client:
        yield client


class Channels:
    """A websocket to /api/kernels/ID/channels speaking Jupyter messages as JSON."""

    def __init__(self, emulator: EmulatorProcess, kernel_id: str, **headers: str) -> None:
        url = emulator.url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
        self.ws = websocket.create_connection(url, timeout=30, header={**AUTH, **headers})
        self.session = uuid.uuid4().hex

    def send(self, channel: str, msg_type: str, content: dict[str, Any]) -> str:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "session": self.session,
            "username": "test",
            "date": "2026-01-01T00:00:00Z",
            "version": "5.3",
        }
        msg = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
        self.ws.send(json.dumps({**msg, "channel": channel}))
        return msg_id

    def recv(self) -> dict[str, Any]:
        return dict(json.loads(self.ws.recv()))

    def execute(self, code: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Run code; return the execute_reply and the IOPub messages of the request."""
        msg_id = self.send("shell", "execute_request", {"code": code, "silent": False})
        reply: dict[str, Any] | None = None
        iopub: list[dict[str, Any]] = []
        idle = False
        while reply is None or not idle:
            msg = self.recv()
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell":
                reply = msg
            elif msg["channel"] == "iopub":
                iopub.append(msg)
                idle = msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
        return reply, iopub

    def value(self, code: str) -> str:
        reply, iopub = self.execute(code)
        assert reply["content"]["status"] == "ok", reply["content"]
        results = [m for m in iopub if m["msg_type"] == "execute_result"]
        assert results, iopub
        return str(results[-1]["content"]["data"]["text/plain"])

    def close(self) -> None:
        self.ws.close()


def start_kernel(api: httpx.Client, name: str = "session") -> dict[str, Any]:
    r = api.post("/api/kernels", json={"name": name}, timeout=120)
    assert r.status_code == 201, r.text
    return dict(r.json())


def session_of(kernel: dict[str, Any]) -> str:
    resource = kernel["metadata"]["endpointParentResource"]
    assert resource.startswith("//dataproc.googleapis.com/")
    return str(resource[len("//dataproc.googleapis.com/") :])


def test_kernelspecs_offer_a_plain_session_and_each_jupyter_template(api: httpx.Client) -> None:
    # Given templates with and without a Jupyter block, one with a Scala kernel
    for tid, body in (
        ("etl-team", {"jupyterSession": {"kernel": "PYTHON", "displayName": "ETL team"}}),
        ("plain-py", {"jupyterSession": {}}),
        ("scala-tpl", {"jupyterSession": {"kernel": "SCALA"}}),
        ("connect", {"sparkConnectSession": {}}),
    ):
        r = api.post(
            f"/v1/{PARENT}/sessionTemplates",
            json={"name": f"{PARENT}/sessionTemplates/{tid}", **body},
        )
        assert r.status_code == 200, r.text
    # When the gateway lists its kernelspecs
    r = api.get("/api/kernelspecs")
    assert r.status_code == 200, r.text
    specs = r.json()["kernelspecs"]
    # Then there is one per Jupyter template and one for a plain session
    assert r.json()["default"] == "session"
    assert set(specs) == {
        "session",
        "session-template-etl-team",
        "session-template-plain-py",
        "session-template-scala-tpl",
    }
    assert specs["session-template-etl-team"]["spec"]["display_name"] == "ETL team"
    assert specs["session-template-plain-py"]["spec"]["display_name"] == "plain-py"
    assert specs["session-template-scala-tpl"]["spec"]["language"] == "scala"
    where = f"//dataproc.googleapis.com/{PARENT}/sessions"
    assert specs["session"]["resources"]["endpointParentResource"] == where
    assert specs["session-template-etl-team"]["spec"]["metadata"]["endpointParentResource"] == where
    # And one spec can be read alone; an unknown one is a 404 in the error envelope
    assert api.get("/api/kernelspecs/session-template-etl-team").json()["name"] == (
        "session-template-etl-team"
    )
    missing = api.get("/api/kernelspecs/session-template-nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"


def test_a_kernel_is_a_session_from_start_to_shutdown(
    emulator: EmulatorProcess, api: httpx.Client
) -> None:
    # When a kernel starts from a template's kernelspec
    kernel = start_kernel(api, "session-template-etl-team")
    name = session_of(kernel)
    # Then a session was created from that template, and it is ACTIVE once the POST answers
    session = api.get(f"/v1/{name}").json()
    assert session["state"] == "ACTIVE"
    assert session["sessionTemplate"] == f"{PARENT}/sessionTemplates/etl-team"
    assert session["uuid"] == kernel["id"]
    assert kernel["name"] == "session-template-etl-team"
    assert any(k["id"] == kernel["id"] for k in api.get("/api/kernels").json())
    # And code sent over the websocket runs in that session's kernel
    ch = Channels(emulator, kernel["id"])
    try:
        assert ch.value("import os; os.environ['JUPYTER_SESSIONS_SESSION']") == repr(name)
        assert api.get(f"/api/kernels/{kernel['id']}").json()["connections"] == 1
        # When the kernel is deleted
        r = api.delete(f"/api/kernels/{kernel['id']}")
        assert r.status_code == 204
        # Then its session ends, and the connected client is told the kernel is dead, and why
        final = wait_state(api, name, {"TERMINATED"}, timeout=60)
        assert [h["state"] for h in final["stateHistory"]] == ["CREATING", "ACTIVE", "TERMINATING"]
        dead = wait_for(lambda: _dead_status(ch), timeout=30, what="dead status")
        assert (
            "TERMINATED" in dead["content"]["reason"] or "TERMINATING" in dead["content"]["reason"]
        )
    finally:
        ch.close()
    assert api.get(f"/api/kernels/{kernel['id']}").status_code == 404


def _dead_status(ch: Channels) -> dict[str, Any] | None:
    try:
        msg = ch.recv()
    except (websocket.WebSocketConnectionClosedException, websocket.WebSocketTimeoutException):
        return None
    if msg["channel"] == "iopub" and msg["content"].get("execution_state") == "dead":
        return msg
    return None


def test_interrupt_and_restart_reach_the_session_kernel(
    emulator: EmulatorProcess, api: httpx.Client
) -> None:
    kernel = start_kernel(api)
    kid = kernel["id"]
    ch = Channels(emulator, kid)
    try:
        first_pid = ch.value("import os; x = 41; os.getpid()")
        # When a long cell is interrupted through the REST API
        msg_id = ch.send("shell", "execute_request", {"code": "import time; time.sleep(60)"})
        wait_for(
            lambda: (
                (m := ch.recv())["msg_type"] == "execute_input"
                and m["parent_header"].get("msg_id") == msg_id
            ),
            timeout=30,
        )
        assert api.post(f"/api/kernels/{kid}/interrupt").status_code == 204

        def interrupted() -> bool:
            m = ch.recv()
            return m["msg_type"] == "error" and m["content"]["ename"] == "KeyboardInterrupt"

        # Then the cell fails with KeyboardInterrupt and the kernel keeps its state
        wait_for(interrupted, timeout=30, what="KeyboardInterrupt")
        wait_for(
            lambda: (
                (m := ch.recv())["msg_type"] == "status"
                and m["parent_header"].get("msg_id") == msg_id
                and m["content"]["execution_state"] == "idle"
            ),
            timeout=30,
        )
        # (ipykernel aborts requests that arrive right after an error)
        assert wait_for(lambda: _value_or_none(ch, "x + 1"), 30) == "42"
        # When the kernel restarts
        r = api.post(f"/api/kernels/{kid}/restart", timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == kid
        # Then the same websocket reaches a fresh process of the same session
        ch2 = Channels(emulator, kid)
        try:
            second_pid = wait_for(lambda: _value_or_none(ch2, "import os; os.getpid()"), 30)
            assert second_pid != first_pid
            assert ch2.value("'x' in globals()") == "False"
        finally:
            ch2.close()
        assert api.get(f"/v1/{session_of(kernel)}").json()["state"] == "ACTIVE"
    finally:
        ch.close()
        api.delete(f"/api/kernels/{kid}")


def _value_or_none(ch: Channels, code: str) -> str | None:
    try:
        return ch.value(code)
    except AssertionError:
        return None


def test_a_session_ended_elsewhere_ends_its_kernel_with_the_reason(
    emulator: EmulatorProcess, api: httpx.Client
) -> None:
    kernel = start_kernel(api)
    name = session_of(kernel)
    ch = Channels(emulator, kernel["id"])
    try:
        assert ch.value("1 + 1") == "2"
        # When the session is terminated through the Sessions API
        r = api.post(f"/v1/{name}:terminate", json={})
        assert r.status_code == 200, r.text
        # Then the client sees the kernel die, with the session's state in the reason
        dead = wait_for(lambda: _dead_status(ch), timeout=30, what="dead status")
        assert name.rsplit("/", 1)[-1] in dead["content"]["reason"]
    finally:
        ch.close()
    gone = api.get(f"/api/kernels/{kernel['id']}")
    assert gone.status_code == 404
    assert "TERMINAT" in gone.json()["message"]


def test_what_cannot_run_is_refused_before_anything_is_created(api: httpx.Client) -> None:
    before = len(api.get(f"/v1/{PARENT}/sessions", params={"pageSize": 1000}).json()["sessions"])
    r = api.post("/api/kernels", json={"name": "session-template-scala-tpl"})
    assert r.status_code == 400
    assert "Scala" in r.json()["message"]
    assert api.post("/api/kernels", json={"name": "no-such-spec"}).status_code == 404
    bad = api.post(
        "/api/kernels", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    after = len(api.get(f"/v1/{PARENT}/sessions", params={"pageSize": 1000}).json()["sessions"])
    assert after == before


def test_the_gateway_has_the_apis_protections(emulator: EmulatorProcess, api: httpx.Client) -> None:
    with emulator.client() as anonymous:
        r = anonymous.get("/api/kernels")
        assert r.status_code == 401
        assert anonymous.post("/api/kernels", json={"name": "session"}).status_code == 401
    # A web page: foreign Origin, or a body that is not JSON
    assert api.get("/api/kernelspecs", headers={"Origin": "http://evil.example"}).status_code == 403
    r = api.post(
        "/api/kernels", content=b'{"name":"session"}', headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 415
    kernel = start_kernel(api)
    try:
        url = emulator.url.replace("http://", "ws://") + f"/api/kernels/{kernel['id']}/channels"
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, timeout=10)
        assert refused.value.status_code == 401
        with pytest.raises(websocket.WebSocketBadStatusException) as foreign:
            websocket.create_connection(url, timeout=10, header=AUTH, origin="http://evil.example")
        assert foreign.value.status_code == 403
        with pytest.raises(websocket.WebSocketBadStatusException) as unknown:
            Channels(emulator, uuid.uuid4().hex)
        assert unknown.value.status_code == 404
    finally:
        api.delete(f"/api/kernels/{kernel['id']}")


def test_other_parents_are_served_under_their_own_prefix(
    emulator: EmulatorProcess, api: httpx.Client, tmp_path: Path
) -> None:
    prefix = "/gateway/projects/other/locations/europe-west1"
    kernel = start_kernel_at(api, prefix)
    try:
        assert session_of(kernel).startswith("projects/other/locations/europe-west1/sessions/")
        ids = [k["id"] for k in api.get(f"{prefix}/api/kernels").json()]
        assert ids == [kernel["id"]]
        assert kernel["id"] not in [k["id"] for k in api.get("/api/kernels").json()]
    finally:
        api.delete(f"{prefix}/api/kernels/{kernel['id']}")


def start_kernel_at(api: httpx.Client, prefix: str) -> dict[str, Any]:
    r = api.post(f"{prefix}/api/kernels", json={"name": "session"}, timeout=120)
    assert r.status_code == 201, r.text
    return dict(r.json())
