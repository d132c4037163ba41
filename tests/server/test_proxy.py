"""The extension's proxy: every Sessions API method round-trips; nothing else passes."""

from __future__ import annotations

import http.client
import json
import uuid

import httpx
import pytest

from ..support import PARENT, JupyterServerProcess, pid_alive, wait_for, wait_operation

API = "jupyter-sessions/v1/"


def _both(server: JupyterServerProcess) -> tuple[httpx.Client, httpx.Client]:
    return server.client(), server.emulator()


def test_config_names_the_embedded_emulator(server: JupyterServerProcess) -> None:
    """Given the default backend, config reports the local emulator, project and parent."""
    cfg = server.config()
    assert cfg["backend"] == "local"
    assert cfg["endpoint"].startswith("http://127.0.0.1:")
    assert cfg["parent"] == PARENT
    assert cfg["user"].endswith("@localhost")
    with httpx.Client(timeout=10.0) as c:
        assert c.get(cfg["endpoint"] + "healthz").json()["runtime"] == "simulated"


def test_session_methods_round_trip_with_exact_status_and_body(
    server: JupyterServerProcess,
) -> None:
    """Given a session created through the proxy, when it is read, listed, terminated and
    deleted, then each answer equals the emulator's own answer for the same request."""
    proxy, direct = _both(server)
    sid = "px-" + uuid.uuid4().hex[:8]
    r = proxy.post(
        f"{API}{PARENT}/sessions",
        params={"sessionId": sid, "requestId": "req-" + sid},
        json={"labels": {"team": "data"}},
    )
    assert r.status_code == 200, r.text
    op = r.json()
    assert "done" not in op and op["metadata"]["operationType"] == "CREATE"
    # The same requestId again (straight to the emulator) returns the same operation.
    again = direct.post(
        f"v1/{PARENT}/sessions", params={"sessionId": sid, "requestId": "req-" + sid}, json={}
    )
    assert again.json()["name"] == op["name"]
    name = op["metadata"]["session"]
    done = wait_operation_via(proxy, op["name"])
    assert done["response"]["state"] == "ACTIVE"
    for path, params in (
        (f"{name}", None),
        (f"{PARENT}/sessions", {"filter": f'session_id = "{sid}"'}),
        (op["name"], None),
        (op["name"].replace("/regions/", "/locations/"), None),
        (f"{PARENT.replace('locations', 'regions')}/operations", {"pageSize": 5}),
    ):
        a = proxy.get(API + path, params=params)
        b = direct.get("v1/" + path, params=params)
        assert (a.status_code, a.json()) == (b.status_code, b.json()), path
    term = proxy.post(f"{API}{name}:terminate", json={"requestId": "t-" + sid})
    assert term.status_code == 200 and term.json()["metadata"]["operationType"] == "TERMINATE"
    twice = proxy.post(f"{API}{name}:terminate", json={})
    assert twice.status_code == 400 and twice.json()["error"]["status"] == "FAILED_PRECONDITION"
    wait_operation_via(proxy, term.json()["name"])
    deleted = proxy.delete(f"{API}{name}", params={"requestId": "d-" + sid})
    assert deleted.status_code == 200
    assert wait_operation_via(proxy, deleted.json()["name"])["response"]["state"] == "TERMINATED"
    gone = proxy.get(API + name)
    assert gone.status_code == 404 and gone.json() == direct.get("v1/" + name).json()
    assert gone.json()["error"]["message"] == f"Not found: Session {name}"
    cancel = proxy.post(f"{API}{op['name']}:cancel", json={})
    assert cancel.status_code == 200 and cancel.json() == {}
    assert proxy.delete(API + op["name"]).json() == {}
    assert proxy.get(API + op["name"]).status_code == 404


def wait_operation_via(client: httpx.Client, op_name: str) -> dict[str, object]:
    """wait_operation through the proxy prefix."""
    prefixed = httpx.Client(
        base_url=str(client.base_url) + "jupyter-sessions/",
        headers=client.headers,
        timeout=30.0,
    )
    with prefixed:
        return wait_operation(prefixed, op_name)


def test_template_methods_round_trip(server: JupyterServerProcess) -> None:
    """Given templates created through the proxy, every template method answers as the
    emulator does, including PATCH and DELETE."""
    proxy, direct = _both(server)
    tid = "tpl-" + uuid.uuid4().hex[:8]
    name = f"{PARENT}/sessionTemplates/{tid}"
    created = proxy.post(
        f"{API}{PARENT}/sessionTemplates",
        json={"name": name, "description": "small", "labels": {"size": "s"}},
    )
    assert created.status_code == 200, created.text
    assert created.json()["uuid"]
    dup = proxy.post(f"{API}{PARENT}/sessionTemplates", json={"name": name})
    assert dup.status_code == 409 and dup.json()["error"]["status"] == "ALREADY_EXISTS"
    patched = proxy.patch(API + name, json={"description": "bigger", "labels": {"size": "m"}})
    assert patched.status_code == 200 and patched.json()["description"] == "bigger"
    for path in (name, f"{PARENT}/sessionTemplates"):
        a, b = proxy.get(API + path), direct.get("v1/" + path)
        assert (a.status_code, a.json()) == (b.status_code, b.json())
    assert proxy.delete(API + name).json() == {}
    missing = proxy.get(API + name)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"Not found: Session Template {name}"


def test_backend_validation_errors_pass_through(server: JupyterServerProcess) -> None:
    """Given bad input, the proxy returns the emulator's 4xx envelope unchanged."""
    proxy, direct = _both(server)
    for params in ({"sessionId": "Bad_Id"}, {"sessionId": "abcd", "requestId": "x" * 41}):
        a = proxy.post(f"{API}{PARENT}/sessions", params=params, json={})
        b = direct.post(f"v1/{PARENT}/sessions", params=params, json={})
        assert a.status_code == b.status_code == 400
        assert a.json() == b.json()
        assert a.json()["error"]["status"] == "INVALID_ARGUMENT"
    bad_json = proxy.post(f"{API}{PARENT}/sessions", params={"sessionId": "abcd"}, content=b"{nope")
    assert bad_json.status_code == 400
    assert "Invalid JSON payload" in bad_json.json()["error"]["message"]


@pytest.mark.parametrize(
    "path",
    [
        "jupyter-sessions/v1/projects/p/locations/l/clusters",
        "jupyter-sessions/v1/projects/p/locations/l/batches/b1",
        "jupyter-sessions/v1/projects/p/locations/l/sessions/a/b",
        "jupyter-sessions/v1/projects/p/locations/l/sessions/x:delete",
        "jupyter-sessions/v1/projects/p/locations/l/sessions%2Fx",
        "jupyter-sessions/v1/projects/p/locations/l/sessions/..%2F..%2Fhealthz",
        "jupyter-sessions/v1/projects/p/locations/l/sessions/%2e%2e",
        "jupyter-sessions/v1/projects/p/locations/l/../l/sessions",
        "jupyter-sessions/v1/http://127.0.0.2:1/v1/projects/p/locations/l/sessions",
        "jupyter-sessions/v1//127.0.0.2/projects/p/locations/l/sessions",
        "jupyter-sessions/v1/healthz",
        "jupyter-sessions/v1/emulator/stats",
        "jupyter-sessions/v1/",
    ],
)
def test_proxy_refuses_everything_outside_the_allow_list(
    server: JupyterServerProcess, path: str
) -> None:
    """Given a path outside sessions/sessionTemplates/operations, the proxy answers 404
    with the envelope and sends nothing to the backend."""
    before = _backend_total(server)
    status, body = raw_get(server, path)
    assert status == 404, (path, body)
    assert json.loads(body)["error"]["status"] == "NOT_FOUND"
    assert _backend_total(server) == before + 1  # only our own /emulator/stats call


def test_host_header_cannot_steer_the_proxy(server: JupyterServerProcess) -> None:
    """Given a forged Host header, the request is served by the extension's own backend:
    the answer is the emulator's listing and the emulator counts exactly that request."""
    with server.emulator() as direct:
        before = direct.get("emulator/stats").json()["requests"].get("GET sessions.list", 0)
        expected = direct.get(f"v1/{PARENT}/sessions").json()
        with server.client() as c:
            r = c.get(f"{API}{PARENT}/sessions", headers={"Host": "127.0.0.2:9"})
        after = direct.get("emulator/stats").json()["requests"].get("GET sessions.list", 0)
    assert r.status_code == 200, r.text
    assert r.json() == expected
    assert after == before + 2  # our direct listing and the proxied one


def raw_get(server: JupyterServerProcess, path: str) -> tuple[int, str]:
    """GET with the request line exactly as given (no client-side path normalisation)."""
    url = httpx.URL(server.url)
    conn = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        conn.request(
            "GET",
            url.raw_path.decode() + path,
            headers={"Authorization": f"token {server.token}"},
        )
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _backend_total(server: JupyterServerProcess) -> int:
    with httpx.Client(timeout=10.0) as c:
        return int(c.get(server.config()["endpoint"] + "emulator/stats").json()["total"])


def test_server_shutdown_stops_the_emulator(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Given a server with its embedded emulator, when the server stops, then the
    emulator process is gone too."""
    from .conftest import sessions_config

    proc = JupyterServerProcess(tmp_path_factory.mktemp("shutdown"), config=sessions_config())
    proc.start()
    try:
        endpoint = proc.config()["endpoint"]
        with httpx.Client(timeout=10.0) as c:
            emulator_pid = c.get(endpoint + "healthz").json()["pid"]
        assert pid_alive(emulator_pid)
    finally:
        proc.stop()
    wait_for(lambda: not pid_alive(emulator_pid), 30, what="emulator exit")
