"""Session kernels on the Dataproc backend behind a corporate proxy, end to end.

The emulator plays Google's kernel gateway (and the Dataproc API) over HTTPS, with a
certificate made for 127.0.0.1 and trusted through ``ca_bundle``. The Jupyter server is
told the gateway is at ``https://127.0.0.1:DEAD/gateway/projects/P/locations/L``, where
DEAD is a loopback port that refuses every connection: only the recording proxy knows that
a tunnel to it leads to the emulator. So a session kernel works only if every call to the
gateway, REST and websocket alike, goes through the proxy.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_sessions.server.gateway_proxy import ProxyTunnel, ProxyTunnelError
from jupyter_sessions.server.proxy_settings import NetworkSettings

from ..fake_oauth import GOOGLE_ENV_VARS, FakeTokenServer, isolated_google_env
from ..recording_proxy import RecordingProxy
from ..support import EmulatorProcess, JupyterServerProcess, wait_for
from .test_dataproc_kernels import settled_config
from .test_proxy_network import make_certificate, route_google_through
from .test_session_kernels import Channels, open_session_kernel

PROJECT = "gw-proxy"
LOCATION = "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
PROXY_ENV_VARS = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


class RoutingProxy(RecordingProxy):
    """The recording proxy, which alone knows where some addresses really lead: a tunnel
    to a key of ``routes`` is opened to its value (recorded under the address asked)."""

    def __init__(self, routes: dict[str, str]) -> None:
        super().__init__()
        self.routes = routes

    def _tunnel(self, conn: socket.socket, target: str, rest: bytes) -> None:
        super()._tunnel(conn, self.routes.get(target, target), rest)


@dataclass
class Stack:
    proxy: RoutingProxy
    emulator: EmulatorProcess
    server: JupyterServerProcess
    gateway: str  # host:port the server is told: only the proxy reaches it

    @property
    def gateway_url(self) -> str:
        return f"https://{self.gateway}/gateway/{PARENT}"

    def client(self) -> httpx.Client:
        client = self.server.client()
        client.timeout = httpx.Timeout(120.0)
        return client


def tls_google(workdir: Path, cleanup: ExitStack) -> tuple[Path, Path, EmulatorProcess]:
    """The emulator playing Google over HTTPS (its certificate in the returned file), with
    a token server whose tokens it requires; and the credentials for those tokens."""
    cert, key = make_certificate(workdir)
    tokens = FakeTokenServer(workdir).start()
    cleanup.callback(tokens.stop)
    creds = tokens.write_credentials(workdir / "adc.json")
    emulator = EmulatorProcess(
        workdir,
        "--warm-pool", "1",
        "--require-token", f"@{tokens.token_file}",
        "--tls-cert", str(cert), "--tls-key", str(key),
    )  # fmt: skip
    cleanup.callback(emulator.stop)
    emulator.start()
    return cert, creds, emulator


def dataproc_config(api: str, cert: Path) -> dict[str, Any]:
    """Dataproc mode with the API and the kernel gateway at ``api``, trusting ``cert``."""
    return {
        "SessionsExtensionApp": {
            "backend": "dataproc",
            "project": PROJECT,
            "location": LOCATION,
            "dataproc_endpoint": f"{api}/",
            "kernel_gateway_url": f"{api}/gateway/{PARENT}",
            "ca_bundle": str(cert),
            "steady_poll_interval": 0.5,
        }
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("gateway-proxy")
    with ExitStack() as cleanup:
        # A loopback port held but never listened on: connecting to it is refused at once.
        dead = cleanup.enter_context(socket.socket())
        dead.bind(("127.0.0.1", 0))
        gateway = f"127.0.0.1:{dead.getsockname()[1]}"
        cert, creds, emulator = tls_google(workdir, cleanup)
        proxy = RoutingProxy({gateway: emulator.url.removeprefix("https://")}).start()
        cleanup.callback(proxy.stop)
        config = dataproc_config(f"https://{gateway}", cert)
        server = JupyterServerProcess(workdir / "jupyter", config=config)
        route_google_through(server, proxy.url, creds)
        cleanup.callback(server.stop)
        server.start()
        yield Stack(proxy, emulator, server, gateway)


def test_a_session_kernel_runs_entirely_through_the_proxy(stack: Stack) -> None:
    """Given the Dataproc backend behind HTTPS_PROXY, with a gateway only the proxy reaches
    When a session kernel is started through Jupyter's REST API, runs code over Jupyter's
    kernel websocket, is interrupted and shut down
    Then each step works, the proxy tunnelled to the gateway for the REST calls and again
    for the websocket, and the log says the gateway is reached through the proxy."""
    config = settled_config(stack.server)
    assert config["kernelGateway"] == stack.gateway_url, config
    with stack.client() as jp:
        r = jp.post("api/kernels", json={"name": "session"})
        assert r.status_code == 201, r.text
        kid = r.json()["id"]
        rest_tunnels = len(stack.proxy.targets("CONNECT"))
        assert rest_tunnels > 0  # httpx keeps its tunnel for the next calls
        channels = Channels(stack.server, kid)
        try:
            assert channels.value("6 * 7") == "42"
            session = channels.value("import os; os.environ['JUPYTER_SESSIONS_SESSION']")
            assert str(session).startswith(repr(f"{PARENT}/sessions/")[:-1])
        finally:
            channels.close()
        # The websocket has its own tunnel (the REST calls share httpx's)
        assert len(stack.proxy.targets("CONNECT")) > rest_tunnels
        assert jp.post(f"api/kernels/{kid}/interrupt").status_code == 204
        assert jp.delete(f"api/kernels/{kid}").status_code == 204
        assert kid not in [k["id"] for k in jp.get("api/kernels").json()]
    assert set(stack.proxy.targets("CONNECT")) == {stack.gateway}
    log = stack.server.log_path.read_text()
    assert (
        f"kernel gateway at {stack.gateway_url}, reached through the proxy {stack.proxy.url} "
        "(HTTPS_PROXY)"
    ) in log
    assert "not through the proxy" not in log


def test_a_proxy_refusing_the_gateway_fails_the_kernel_start_naming_the_proxy(
    stack: Stack,
) -> None:
    """Given a proxy whose policy now refuses tunnels (403)
    When a session kernel is started
    Then the answer is 503 with one sentence naming the proxy, where it was set, the
    gateway's host and the proxy's answer; once the proxy allows it, a start works again."""
    settled_config(stack.server)
    stack.proxy.refuse_connect = True
    stack.proxy.drop_connections()
    try:
        with stack.client() as jp:
            r = jp.post("api/kernels", json={"name": "session"})
    finally:
        stack.proxy.refuse_connect = False
    assert r.status_code == 503, r.text
    message = r.json()["message"]
    assert (
        f"The proxy {stack.proxy.url} (HTTPS_PROXY) refused the connection to {stack.gateway}: "
        "403 Forbidden"
    ) in message
    assert "\n" not in message and "Traceback" not in message
    # Once the proxy lets tunnels through again, the next start works at once: the failed
    # listing of the gateway's kernelspecs is not kept.
    with stack.client() as jp:
        r = jp.post("api/kernels", json={"name": "session"})
        assert r.status_code == 201, r.text
        assert jp.delete(f"api/kernels/{r.json()['id']}").status_code == 204


def test_a_proxy_refusing_the_kernel_websocket_is_logged_naming_the_proxy(
    stack: Stack,
) -> None:
    """Given a running session kernel, and then a proxy that refuses tunnels
    When a client opens the kernel's websocket
    Then the server's log says the proxy refused the gateway, naming it (and the kernel
    can be used again once the proxy lets tunnels through)."""
    with stack.client() as jp:
        r = jp.post("api/kernels", json={"name": "session"})
        assert r.status_code == 201, r.text
        kid = r.json()["id"]
        stack.proxy.refuse_connect = True
        stack.proxy.drop_connections()
        try:
            refused = Channels(stack.server, kid)
            expected = (
                f"Could not connect to the kernel {kid} on the gateway: The proxy "
                f"{stack.proxy.url} (HTTPS_PROXY) refused the connection to {stack.gateway}: "
                "403 Forbidden"
            )
            wait_for(
                lambda: expected in stack.server.log_path.read_text(),
                30,
                what="the refused websocket in the log",
            )
        finally:
            stack.proxy.refuse_connect = False
        refused.close()
        channels = Channels(stack.server, kid)
        try:
            assert channels.value("2 + 3") == "5"
        finally:
            channels.close()
        assert jp.delete(f"api/kernels/{kid}").status_code == 204


def test_an_unreachable_proxy_fails_the_kernel_start_naming_the_proxy(stack: Stack) -> None:
    """Given the proxy is down
    When a session kernel is started
    Then the answer is 503 with one sentence naming the proxy and the gateway's host."""
    settled_config(stack.server)
    stack.proxy.pause()
    try:
        with stack.client() as jp:
            r = jp.post("api/kernels", json={"name": "session"})
    finally:
        stack.proxy.resume()
    assert r.status_code == 503, r.text
    assert (
        f"Cannot reach the proxy {stack.proxy.url} (HTTPS_PROXY) to connect to {stack.gateway}: "
        "check the proxy setting or NO_PROXY"
    ) in r.json()["message"]


def _tunnel_through(answer: bytes | None, proxy_user: str = "") -> tuple[str, list[str], float]:
    """Open a websocket tunnel to gateway.test:443 through a one-shot proxy on loopback that
    answers CONNECT with ``answer`` (None: never answers). The error's message, the
    requests the proxy saw, and the seconds it took. gateway.test is never resolved: only
    the proxy's address is."""
    seen: list[str] = []

    async def main() -> tuple[str, float]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append((await reader.readuntil(b"\r\n\r\n")).decode())
            if answer is None:
                await asyncio.sleep(30)
            else:
                writer.write(answer)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        proxy = f"http://{proxy_user}127.0.0.1:{port}"
        tunnel = ProxyTunnel(proxy, NetworkSettings(proxy=proxy), "https://gateway.test")
        started = time.monotonic()
        try:
            with pytest.raises(ProxyTunnelError) as caught:
                await tunnel.connect("gateway.test", 443, timeout=1.0)
        finally:
            server.close()
        return str(caught.value), time.monotonic() - started

    message, took = asyncio.run(asyncio.wait_for(main(), 20))
    return message, seen, took


def test_the_websocket_tunnel_authenticates_without_showing_the_password() -> None:
    """Given a proxy URL with user:password, and a proxy that asks for other credentials
    When a kernel websocket's tunnel is opened
    Then CONNECT carried the credentials (Basic), and the error names the proxy with its
    password hidden, and what it answered."""
    message, seen, _ = _tunnel_through(
        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
        proxy_user="me:s%40cret@",
    )
    assert seen and seen[0].startswith("CONNECT gateway.test:443 HTTP/1.1\r\n")
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'me:s@cret').decode()}" in seen[0]
    assert message.startswith("The proxy http://me:***@127.0.0.1:")
    assert message.endswith(
        "(SessionsExtensionApp.proxy) refused the connection to gateway.test:443: "
        "407 Proxy Authentication Required"
    )
    assert "cret" not in message


def test_a_silent_proxy_fails_the_websocket_tunnel_in_time() -> None:
    """Given a proxy that accepts the connection and never answers CONNECT
    When a kernel websocket's tunnel is opened with a 1 s timeout
    Then it fails within a few seconds, naming the proxy."""
    message, seen, took = _tunnel_through(None)
    assert seen
    assert took < 5
    assert message.startswith("The proxy http://127.0.0.1:")
    assert message.endswith(
        "(SessionsExtensionApp.proxy) did not answer in time the request to connect to "
        "gateway.test:443"
    )


def test_without_a_proxy_the_gateway_is_checked_with_the_ca_bundle(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Given the Dataproc backend with no proxy and a gateway whose certificate only the
    ``ca_bundle`` trusts (as behind a TLS-inspecting firewall)
    When a session kernel is started and runs code over Jupyter's kernel websocket
    Then both work: tornado's REST calls and websocket check the gateway with the bundle."""
    workdir = tmp_path_factory.mktemp("gateway-ca")
    with ExitStack() as cleanup:
        cert, creds, emulator = tls_google(workdir, cleanup)
        server = JupyterServerProcess(
            workdir / "jupyter", config=dataproc_config(emulator.url, cert)
        )
        for var in GOOGLE_ENV_VARS + PROXY_ENV_VARS:
            server.env.pop(var, None)
        server.env.update(isolated_google_env(creds))
        cleanup.callback(server.stop)
        server.start()
        assert settled_config(server)["kernelGateway"] == f"{emulator.url}/gateway/{PARENT}"
        with server.client() as jp:
            jp.timeout = httpx.Timeout(120.0)
            kid, _, channels = open_session_kernel(server, jp)
            try:
                assert channels.value("6 * 7") == "42"
            finally:
                channels.close()
            assert jp.delete(f"api/kernels/{kid}").status_code == 204
        assert "CERTIFICATE_VERIFY_FAILED" not in server.log_path.read_text()
