"""Jupyter auth on every route, XSRF on cookie writes, and kernel discovery variables."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from ..support import PARENT, JupyterServerProcess
from .conftest import sessions_config

ROUTES = [
    ("GET", "jupyter-sessions/config"),
    ("GET", "jupyter-sessions/openapi.json"),
    ("GET", f"jupyter-sessions/events?parent={PARENT}"),
    ("GET", f"jupyter-sessions/v1/{PARENT}/sessions"),
    ("POST", f"jupyter-sessions/v1/{PARENT}/sessions?sessionId=auth-check"),
    ("DELETE", f"jupyter-sessions/v1/{PARENT}/sessions/auth-check"),
    ("POST", f"jupyter-sessions/v1/{PARENT}/sessions/auth-check:terminate"),
    ("PATCH", f"jupyter-sessions/v1/{PARENT}/sessionTemplates/t-auth"),
    ("GET", "jupyter-sessions/v1/projects/p/regions/r/operations/op"),
]


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    config = sessions_config()
    config["ServerApp"] = {"allow_unauthenticated_access": False}
    proc = JupyterServerProcess(tmp_path_factory.mktemp("locked"), config=config).start()
    yield proc
    proc.stop()


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_refuses_requests_without_credentials(
    locked: JupyterServerProcess, method: str, path: str
) -> None:
    """Given allow_unauthenticated_access=False, a request with no or a wrong token is
    refused with the envelope, and nothing reaches the backend."""
    for client in (locked.anonymous(), locked.client(token="wrong-token")):
        with client:
            r = client.request(method, path, json={} if method != "GET" else None)
        assert r.status_code in (401, 403), (method, path, r.status_code, r.text)
        body = r.json()
        assert body["error"]["code"] == r.status_code
        assert body["error"]["status"] in ("UNAUTHENTICATED", "PERMISSION_DENIED")


def test_valid_token_is_accepted(locked: JupyterServerProcess) -> None:
    with locked.client() as c:
        assert c.get("jupyter-sessions/config").status_code == 200
        assert c.get(f"jupyter-sessions/v1/{PARENT}/sessions").status_code == 200


def test_cookie_authenticated_writes_need_the_xsrf_token(locked: JupyterServerProcess) -> None:
    """Given a browser-style login cookie, a POST without the XSRF token is refused and
    one with it goes through."""
    with httpx.Client(base_url=locked.url, timeout=30.0, follow_redirects=True) as browser:
        login = browser.get("login")
        xsrf = browser.cookies.get("_xsrf")
        assert xsrf, login.text[:200]
        r = browser.post("login", data={"password": locked.token, "_xsrf": xsrf})
        assert r.status_code == 200
        assert browser.get("jupyter-sessions/config").status_code == 200  # the cookie works
        sid = "xsrf-" + uuid.uuid4().hex[:6]
        path = f"jupyter-sessions/v1/{PARENT}/sessions?sessionId={sid}"
        refused = browser.post(path, json={})
        assert refused.status_code == 403
        accepted = browser.post(path, json={}, headers={"X-XSRFToken": xsrf})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["metadata"]["session"].endswith(sid)


async def _run_in_new_kernel(server: JupyterServerProcess, code: str) -> str:
    """Start a kernel through the server's REST API, run code, return its stdout."""
    headers = {"Authorization": f"token {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60.0) as c:
        kernel = (await c.post("api/kernels", json={"name": "python3"})).json()
        try:
            ws_url = server.url.replace("http", "ws", 1) + f"api/kernels/{kernel['id']}/channels"
            ws = await websocket_connect(HTTPRequest(ws_url, headers=headers))
            msg_id = uuid.uuid4().hex
            ws.write_message(
                json.dumps(
                    {
                        "header": {
                            "msg_id": msg_id,
                            "msg_type": "execute_request",
                            "username": "test",
                            "session": uuid.uuid4().hex,
                            "version": "5.3",
                        },
                        "parent_header": {},
                        "metadata": {},
                        "content": {"code": code, "silent": False},
                        "channel": "shell",
                    }
                )
            )
            out = []
            while True:
                raw = await asyncio.wait_for(ws.read_message(), 60)
                assert raw is not None, "kernel websocket closed"
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            ws.close()
            return "".join(out)
        finally:
            await c.delete(f"api/kernels/{kernel['id']}")


async def test_kernels_started_by_the_server_can_find_it(server: JupyterServerProcess) -> None:
    """Given a kernel started by the server, it inherits JUPYTER_SESSIONS_URL (the
    server's URL with base_url) and JUPYTER_SESSIONS_TOKEN, and can call the API."""
    code = (
        "import os, json, urllib.request\n"
        "u = os.environ['JUPYTER_SESSIONS_URL']; t = os.environ['JUPYTER_SESSIONS_TOKEN']\n"
        "req = urllib.request.Request(u + 'jupyter-sessions/config',"
        " headers={'Authorization': 'token ' + t})\n"
        "print(json.dumps({'url': u, 'cfg': json.load(urllib.request.urlopen(req, timeout=30))}))\n"
    )
    result = json.loads(await _run_in_new_kernel(server, code))
    assert result["url"] == server.url
    assert result["cfg"]["parent"] == PARENT
