"""Session kernels with the Dataproc backend: the Jupyter server adds the Google access
token (from Application Default Credentials, issued by a fake token endpoint on 127.0.0.1)
to every kernel gateway call, renews it, and never lets it out; ``%%session`` in a notebook
kernel runs cells through the server. The emulator plays Google's gateway and API, in its
bearer-token mode; nothing here contacts Google."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ..fake_oauth import GOOGLE_ENV_VARS, FakeTokenServer, isolated_google_env
from ..local_kernel import execute, kernel_env, outputs_of, start_kernel, stop_kernel
from ..magics.conftest import output_text
from ..support import EmulatorProcess, JupyterServerProcess, wait_for
from .test_session_kernels import Channels, session_name

PROJECT = "dp-kernels"
LOCATION = "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"


class FakeResourceManager:
    """Cloud Resource Manager's projects.get, answering only with the current token."""

    def __init__(self, tokens: FakeTokenServer, number: str) -> None:
        self.seen: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append(self.path)
                expected = f"Bearer {tokens.token_file.read_text().strip()}"
                if self.headers.get("Authorization") != expected:
                    self._reply(401, {"error": {"code": 401, "message": "bad token"}})
                elif self.path == f"/v1/projects/{PROJECT}":
                    self._reply(200, {"projectId": PROJECT, "projectNumber": number})
                else:
                    self._reply(404, {"error": {"code": 404, "message": "no such project"}})

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def start_server(
    workdir: Path, tokens: FakeTokenServer, creds: Path, **settings: Any
) -> JupyterServerProcess:
    config = {
        "SessionsExtensionApp": {
            "backend": "dataproc",
            "project": PROJECT,
            "location": LOCATION,
            "steady_poll_interval": 0.5,
            "transition_poll_interval": 0.1,
            **settings,
        }
    }
    server = JupyterServerProcess(workdir, config=config)
    for var in GOOGLE_ENV_VARS:
        server.env.pop(var, None)
    server.env.update(isolated_google_env(creds))
    return server.start()


class Stack:
    def __init__(self, workdir: Path) -> None:
        self.tokens = FakeTokenServer(workdir).start()
        self.creds = self.tokens.write_credentials(workdir / "adc.json")
        self.record = workdir / "requests.jsonl"
        self.emulator = EmulatorProcess(
            workdir,
            "--warm-pool",
            "1",
            "--gateway-parent",
            PARENT,
            "--require-token",
            f"@{self.tokens.token_file}",
            "--record-requests",
            str(self.record),
        ).start()
        self.server = start_server(
            workdir / "jupyter",
            self.tokens,
            self.creds,
            dataproc_endpoint=self.emulator.url,
            kernel_gateway_url=self.emulator.url,
        )

    def stop(self) -> None:
        self.server.stop()
        self.emulator.stop()
        self.tokens.stop()

    def gateway_requests(self) -> list[dict[str, Any]]:
        lines = self.record.read_text().splitlines() if self.record.exists() else []
        return [r for r in map(json.loads, lines) if "/api/" in r.get("path", "")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("dataproc-kernels"))
    yield s
    s.stop()


def test_a_notebook_runs_in_a_dataproc_session_with_the_servers_token(stack: Stack) -> None:
    with stack.server.client() as jp:
        # The kernelspecs come from the gateway, with the server's bearer token
        specs = jp.get("api/kernelspecs").json()["kernelspecs"]
        assert "session" in specs and "python3" in specs
        assert stack.server.config()["kernelGateway"] == stack.emulator.url
        # When the token is revoked at Google, the next call gets a new one and succeeds
        refreshes = stack.tokens.refreshes
        stack.tokens.expire()
        r = jp.post(
            "api/sessions",
            json={"path": "dp.ipynb", "type": "notebook", "kernel": {"name": "session"}},
            timeout=120,
        )
        assert r.status_code == 201, r.text
        assert stack.tokens.refreshes > refreshes
        kid = r.json()["kernel"]["id"]
        name = session_name(jp.get(f"api/kernels/{kid}").json())
        assert name.startswith(f"{PARENT}/sessions/")
        # And cells run in the session's kernel over Jupyter's websocket
        ch = Channels(stack.server, kid)
        try:
            assert ch.value("import os; os.environ['JUPYTER_SESSIONS_SESSION']") == repr(name)
        finally:
            ch.close()
        assert jp.delete(f"api/sessions/{r.json()['id']}").status_code == 204
        ended = jp.get(f"jupyter-sessions/v1/{name}").json()
        assert ended["state"] in ("TERMINATING", "TERMINATED")
    # Every gateway call carried an accepted bearer token (only its fingerprint is logged)
    calls = stack.gateway_requests()
    assert {"/api/kernelspecs", "/api/kernels"} <= {c["path"] for c in calls}
    accepted = [c for c in calls if c.get("accepted")]
    assert accepted and all(c["authorization"].startswith("Bearer ") for c in accepted)


def test_session_cells_reach_a_dataproc_session_through_the_server(
    stack: Stack, tmp_path: Path
) -> None:
    # A notebook kernel that knows only the Jupyter server (URL and Jupyter token)
    env = kernel_env(stack.server, tmp_path)
    assert not any(k.startswith("GOOGLE_") for k in env if k in ("GOOGLE_APPLICATION_CREDENTIALS",))
    km, kc = start_kernel(env, tmp_path)
    try:
        sid = f"cells-{uuid.uuid4().hex[:6]}"
        reply, _ = run(kc, f"%load_ext jupyter_sessions\n%session create {sid} --async")
        assert reply["status"] == "ok", reply
        reply, _ = run(kc, f"%session wait {sid}", timeout=120)
        assert reply["status"] == "ok", reply
        # When a %%session cell prints and ends with an expression
        reply, outputs = run(
            kc, "%%session\nimport os\nprint('from', os.environ['JUPYTER_SESSIONS_SESSION'])\n6 * 7"
        )
        # Then its output streams back and the value is the cell's own result
        assert reply["status"] == "ok", reply
        assert f"from {PARENT}/sessions/{sid}" in output_text(outputs)
        results = [o for o in outputs if o.get("output_type") == "execute_result"]
        assert [r["data"]["text/plain"] for r in results] == ["42"]
        # And a remote error fails the cell
        reply, _ = run(kc, "%%session\n1 / 0")
        assert reply["status"] == "error"
        assert reply["ename"] == "ZeroDivisionError"
        run(kc, f"%session terminate {sid}")
    finally:
        stop_kernel(km, kc, now=True)
    # The token never reached the notebook kernel, the responses or the logs
    logs = stack.server.log_path.read_text() + stack.emulator.log_path.read_text()
    for secret in stack.tokens.secrets():
        assert secret not in logs


def run(kc: Any, code: str, timeout: float = 60.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Execute ``code``; the execute_reply content and the outputs, as nbformat dicts."""
    reply, seen = execute(kc, code, timeout)
    return reply, outputs_of(seen)


def settled_config(server: JupyterServerProcess) -> dict[str, Any]:
    """The config once the extension has found its kernel gateway (or failed to)."""

    def settled() -> dict[str, Any] | None:
        config = server.config()
        starting = config["kernelGatewayError"].startswith("Session kernels are starting")
        return None if starting else config

    return wait_for(settled, 60, what="the kernel gateway settled")


@contextmanager
def looked_up(
    tmp_path: Path, number: str
) -> Iterator[tuple[JupyterServerProcess, FakeResourceManager]]:
    """A dataproc-mode server with no project number set, and the Resource Manager it asks
    (answering ``number``)."""
    tokens = FakeTokenServer(tmp_path).start()
    crm = FakeResourceManager(tokens, number)
    try:
        creds = tokens.write_credentials(tmp_path / "adc.json")
        server = start_server(
            tmp_path / "jupyter", tokens, creds, resource_manager_endpoint=crm.url
        )
        try:
            yield server, crm
        finally:
            server.stop()
    finally:
        crm.stop()
        tokens.stop()


def test_the_project_number_is_looked_up_once_for_googles_gateway(tmp_path: Path) -> None:
    with looked_up(tmp_path, "987654321") as (server, crm):
        config = settled_config(server)
        # Google's gateway URL is built from the number the lookup returned
        assert config["kernelGateway"] == (
            "https://987654321-dot-us-central1.kernels.googleusercontent.com"
        )
        assert crm.seen == [f"/v1/projects/{PROJECT}"]
        # That gateway cannot be reached from here: local kernels still work
        with server.client() as jp:
            specs = jp.get("api/kernelspecs")
            assert specs.status_code == 200
            assert "python3" in specs.json()["kernelspecs"]
            assert "session" not in specs.json()["kernelspecs"]


def test_a_failed_lookup_says_what_to_set(tmp_path: Path) -> None:
    with looked_up(tmp_path, "not-a-number") as (server, _):
        config = settled_config(server)
        assert config["kernelGateway"] == ""
        assert "project_number" in config["kernelGatewayError"]
        with server.client() as jp:
            r = jp.post("api/kernels", json={"name": "session"})
            assert r.status_code == 404  # no such kernelspec here: only local ones
            assert "project_number" in r.json()["message"]
