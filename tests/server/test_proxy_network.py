"""The Dataproc backend behind a corporate proxy, end to end with real processes.

The endpoint comes from GOOGLE_CLOUD_DATAPROC_API_ENDPOINT as a bare host, so https.

The emulator plays Dataproc over HTTPS (a certificate made for 127.0.0.1, trusted through
``ca_bundle``), so the Jupyter server reaches it the way it reaches Google: a CONNECT tunnel
through the proxy named by HTTPS_PROXY, then TLS. The fake token endpoint is plain HTTP on
loopback, reached through HTTP_PROXY as an absolute-form request. Tokens are issued with
200 s to live, inside google-auth's 3 min 45 s margin, so every request refreshes its token
and the proxy sees token calls and API calls alike.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_sessions.client.gcp_auth import GoogleAuth

from ..fake_oauth import GOOGLE_ENV_VARS, FakeTokenServer, isolated_google_env
from ..recording_proxy import RecordingProxy
from ..support import EmulatorProcess, JupyterServerProcess, wait_for

PROJECT = "proxy-project"
LOCATION = "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"


def make_certificate(workdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the test is skipped without openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl to make a test certificate")
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def route_google_through(server: JupyterServerProcess, proxy_url: str, creds: Path) -> None:
    """The server's environment: only the test's Google credentials, and every call to
    Google through ``proxy_url`` (no NO_PROXY exceptions)."""
    for var in GOOGLE_ENV_VARS:
        server.env.pop(var, None)
    server.env.update(isolated_google_env(creds))
    for var in ("NO_PROXY", "no_proxy"):
        server.env.pop(var, None)
    server.env.update({"HTTPS_PROXY": proxy_url, "HTTP_PROXY": proxy_url})


@dataclass
class Stack:
    proxy: RecordingProxy
    tokens: FakeTokenServer
    emulator: EmulatorProcess
    server: JupyterServerProcess

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.server.client() as client:
            return client.request(method, f"jupyter-sessions/v1/{path}", **kwargs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("proxied")
    cert, key = make_certificate(workdir)
    proxy = RecordingProxy().start()
    tokens = FakeTokenServer(workdir, expires_in=200).start()
    creds = tokens.write_credentials(workdir / "adc.json", "quota-from-adc")
    emulator = EmulatorProcess(
        workdir,
        "--runtime", "simulated", "--ttl-floor", "1",
        "--require-token", f"@{tokens.token_file}",
        "--tls-cert", str(cert), "--tls-key", str(key),
    ).start()  # fmt: skip
    assert emulator.url.startswith("https://127.0.0.1:")
    config = {
        "SessionsExtensionApp": {
            "backend": "dataproc",
            "project": PROJECT,
            "location": LOCATION,
            "ca_bundle": str(cert),
            "session_kernels": False,
        }
    }
    server = JupyterServerProcess(workdir / "jupyter", config=config)
    route_google_through(server, proxy.url, creds)
    # The endpoint as Google's client libraries take it: a bare host (so https).
    server.env["GOOGLE_CLOUD_DATAPROC_API_ENDPOINT"] = emulator.url.removeprefix("https://")
    server.start()
    yield Stack(proxy, tokens, emulator, server)
    server.stop()
    emulator.stop()
    tokens.stop()
    proxy.stop()


def test_every_google_call_goes_through_the_proxy(stack: Stack) -> None:
    """Given HTTPS_PROXY and HTTP_PROXY naming a recording proxy, and no NO_PROXY
    When sessions are listed and one is created and read through the extension
    Then each works, the proxy tunnelled to the API host (CONNECT) and forwarded every token
    request: the token endpoint answered no request that did not come through it."""
    emulator_target = stack.emulator.url.removeprefix("https://")
    before = stack.tokens.requests
    posts_before = len(stack.proxy.targets("POST"))

    listed = stack.api("GET", f"{PARENT}/sessions")
    assert listed.status_code == 200, listed.text
    created = stack.api(
        "POST", f"{PARENT}/sessions", params={"sessionId": "through-proxy"}, json={}
    )
    assert created.status_code == 200, created.text

    def active() -> bool:
        r = stack.api("GET", f"{PARENT}/sessions/through-proxy")
        return r.status_code == 200 and r.json()["state"] == "ACTIVE"

    wait_for(active, 30, what="the session ACTIVE through the proxy")
    with stack.server.client() as client:
        config = client.get("jupyter-sessions/config").json()
    assert config["endpoint"] == stack.emulator.url + "/"
    assert config["endpointSource"] == "GOOGLE_CLOUD_DATAPROC_API_ENDPOINT"

    assert emulator_target in stack.proxy.targets("CONNECT")
    assert set(stack.proxy.targets("CONNECT")) == {emulator_target}
    token_posts = stack.proxy.targets("POST")
    assert token_posts and set(token_posts) == {stack.tokens.url}
    refreshed = stack.tokens.requests - before
    assert refreshed > 0
    assert refreshed == len(token_posts) - posts_before


def test_a_proxy_refusal_names_the_proxy(stack: Stack) -> None:
    """Given a proxy whose policy now refuses tunnels
    When the extension calls the API
    Then the answer is 503 with one sentence naming the proxy, where it was set, the host
    it refused, and the proxy's reason."""
    stack.proxy.refuse_connect = True
    stack.proxy.drop_connections()
    try:
        r = stack.api("GET", f"{PARENT}/sessions")
    finally:
        stack.proxy.refuse_connect = False
    assert r.status_code == 503
    message = r.json()["error"]["message"]
    target = stack.emulator.url.removeprefix("https://")
    assert message.startswith(
        f"The proxy {stack.proxy.url} (HTTPS_PROXY) refused the connection to {target}"
    )
    assert "403" in message


def test_an_unreachable_proxy_names_the_proxy_also_for_tokens(stack: Stack) -> None:
    """Given the proxy is down
    When the extension needs a token
    Then the answer is 503 with one plain sentence naming the proxy (no Python reprs)."""
    stack.proxy.pause()
    try:
        r = stack.api("GET", f"{PARENT}/sessions")
    finally:
        stack.proxy.resume()
    assert r.status_code == 503
    message = r.json()["error"]["message"]
    assert message == (
        f"Cannot reach Google's token endpoint through the proxy {stack.proxy.url} "
        "(HTTPS_PROXY) to refresh credentials: the proxy could not be reached."
    )
    assert "Error" not in message and "Pool" not in message and "\n" not in message


class _Expiring:
    """Credentials whose token expires at a chosen time; counts refreshes."""

    def __init__(self, expiry: datetime) -> None:
        self.token = "t"
        self.expiry = expiry.replace(tzinfo=None)
        self.refreshed = 0

    def refresh(self, request: Any) -> None:
        self.refreshed += 1
        self.expiry = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(tzinfo=None)

    def apply(self, headers: dict[str, str]) -> None:
        headers["authorization"] = f"Bearer {self.token}"


def test_token_refresh_uses_google_auths_margin() -> None:
    """Given tokens with 4 minutes and with 3 minutes left (google-auth refreshes within
    3 min 45 s of expiry)
    When request headers are asked for
    Then only the one with 3 minutes left is refreshed."""
    import google.auth._helpers

    now = datetime.now(timezone.utc)
    margin = google.auth._helpers.REFRESH_THRESHOLD
    fresh = _Expiring(now + margin + timedelta(seconds=15))
    stale = _Expiring(now + margin - timedelta(seconds=45))
    GoogleAuth(fresh).headers()
    GoogleAuth(stale).headers()
    assert fresh.refreshed == 0
    assert stale.refreshed == 1
