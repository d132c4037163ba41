"""Session kernels' calls to the kernel gateway through the network's proxy.

jupyter_server's gateway client sends its REST calls with tornado's simple HTTP client and
opens the kernel channels with tornado's ``websocket_connect``; neither can use a proxy.
When the network settings choose a proxy for the gateway's URL (the Dataproc backend; the
local emulator never goes through one), ``ProxiedGateway`` takes both over:

- ``fetch``: a REST call with httpx (the proxy, the CA bundle) that answers and fails as
  jupyter_server's ``gateway_request`` does (a tornado ``HTTPResponse``; ``web.HTTPError``
  with the same messages), except that a failure at the proxy names the proxy;
- ``websocket_connect``: the kernel websocket through a ``CONNECT host:port`` tunnel
  (``ProxyTunnel``), then TLS to the gateway inside it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
import numbers
import socket
import ssl
from io import BytesIO
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from jupyter_server.gateway.gateway_client import (
    ERROR_STATUS,
    MESSAGE_KEY,
    STATUS_CODE_KEY,
    STATUS_KEY,
    SUCCESS_STATUS,
    GatewayClient,
    RetryableHTTPClient,
)
from tornado import gen, httputil, web
from tornado.concurrent import Future
from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse, _RequestProxy
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, StreamClosedError, UnsatisfiableReadError
from tornado.tcpclient import TCPClient
from tornado.websocket import WebSocketClientConnection

from .._version import __version__
from ..api.backoff import Backoff
from .proxy_settings import NetworkSettings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0  # any step without a timeout of its own
MAX_PROXY_REPLY = 16384  # bytes of a proxy's answer to CONNECT
# The project's one schedule, starting where jupyter_server's gateway client does.
_RETRY = Backoff(first=RetryableHTTPClient.backoff_factor, cap=2.0)


class ProxyTunnelError(ConnectionError):
    """The proxy could not be reached, or did not open the tunnel; the message names it."""


def gateway_error(url: str, exc: HTTPClientError) -> web.HTTPError:
    """What jupyter_server's ``gateway_request`` raises for an HTTP error from the gateway
    (the same status and message)."""
    reason = f"Exception while attempting to connect to Gateway server url '{url}'"
    message = exc.message
    if exc.response is not None:
        try:
            payload = json.loads(exc.response.body)
        except ValueError:
            reason = exc.response.body.decode("utf-8", "replace")
        else:
            if isinstance(payload, dict):
                reason = payload.get("reason") or reason
                message = payload.get("message") or message
    return web.HTTPError(
        exc.code,
        "Error from Gateway: [%s] %s. "
        "Ensure gateway url is valid and the Gateway instance is running.",
        message,
        reason,
    )


def _tornado_response(url: str, method: str, response: httpx.Response) -> HTTPResponse:
    headers = httputil.HTTPHeaders()
    for name, value in response.headers.multi_items():
        headers.add(name, value)
    return HTTPResponse(
        HTTPRequest(url, method=method),
        response.status_code,
        headers=headers,
        buffer=BytesIO(response.content),
        effective_url=str(response.url),
        reason=response.reason_phrase or None,
    )


def _seconds(timeout: float | datetime.timedelta | None) -> float:
    if isinstance(timeout, datetime.timedelta):
        return max(timeout.total_seconds(), 0.0)
    if isinstance(timeout, numbers.Real) and timeout > 0:
        return float(timeout)
    return DEFAULT_TIMEOUT


class ProxyTunnel(TCPClient):
    """A TCPClient whose every connection is a ``CONNECT host:port`` tunnel through an HTTP
    proxy, with TLS to ``host`` inside it when asked (as tornado's ``TCPClient`` does)."""

    def __init__(self, proxy: str, network: NetworkSettings, url: str) -> None:
        super().__init__()
        self.proxy = urlsplit(proxy)
        self.network = network
        self.url = url  # the gateway's URL: what messages name as the destination

    async def connect(
        self,
        host: str,
        port: int,
        af: socket.AddressFamily = socket.AF_UNSPEC,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        source_ip: str | None = None,
        source_port: int | None = None,
        timeout: float | datetime.timedelta | None = None,
    ) -> IOStream:
        """A stream to ``host:port`` through the proxy, each step within ``timeout``
        (seconds, as tornado passes it; 20 s when none)."""
        deadline = IOLoop.current().time() + _seconds(timeout)
        if self.proxy.scheme != "http" or not self.proxy.hostname:
            raise ProxyTunnelError(
                self.network.refused(
                    self.url, "only an http:// proxy can tunnel the kernel websocket"
                )
            )
        try:
            stream = await super().connect(
                self.proxy.hostname,
                self.proxy.port or 80,
                af=af,
                max_buffer_size=max_buffer_size,
                source_ip=source_ip,
                source_port=source_port,
                timeout=max(deadline - IOLoop.current().time(), 0.001),
            )
        except (OSError, TimeoutError):
            raise ProxyTunnelError(self.network.unreachable(self.url)) from None
        try:
            await self._open_tunnel(stream, host, port, deadline)
        except BaseException:
            stream.close()
            raise
        if ssl_options is None:
            return stream
        handshake = stream.start_tls(False, ssl_options=ssl_options, server_hostname=host)
        try:
            return await gen.with_timeout(deadline, handshake)
        finally:
            handshake.cancel()  # closes the TLS stream on a timeout; no-op once done

    async def _open_tunnel(self, stream: IOStream, host: str, port: int, deadline: float) -> None:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        if self.proxy.username is not None:
            user = f"{unquote(self.proxy.username)}:{unquote(self.proxy.password or '')}"
            lines.append("Proxy-Authorization: Basic " + base64.b64encode(user.encode()).decode())
        lines.append(f"User-Agent: jupyter-sessions/{__version__}")
        try:
            await gen.with_timeout(
                deadline, stream.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            )
            head = await gen.with_timeout(
                deadline, stream.read_until(b"\r\n\r\n", max_bytes=MAX_PROXY_REPLY)
            )
        except TimeoutError:
            raise ProxyTunnelError(self.network.unanswered(self.url)) from None
        except (StreamClosedError, UnsatisfiableReadError, OSError):
            raise ProxyTunnelError(
                self.network.refused(self.url, "the proxy closed the connection without answering")
            ) from None
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        version, _, rest = status.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise ProxyTunnelError(
                self.network.refused(self.url, f"not an HTTP answer: {status[:80]!r}")
            )
        if not 200 <= int(code) < 300:
            raise ProxyTunnelError(self.network.refused(self.url, f"{code} {reason}".strip()))


class TunnelledWebSocketClientConnection(WebSocketClientConnection):
    """tornado's websocket client, connecting through a ``ProxyTunnel``."""

    def __init__(self, request: HTTPRequest, tunnel: ProxyTunnel, **kwargs: Any) -> None:
        super().__init__(request, **kwargs)
        # The connection starts on the next loop iteration (``_HTTPConnection.run``), with
        # whatever ``tcp_client`` is then: make it the tunnel.
        replaced, self.tcp_client = self.tcp_client, tunnel
        replaced.close()


class ProxiedGateway:
    """A kernel gateway reached through the network's proxy (see the module's doc)."""

    def __init__(self, url: str, network: NetworkSettings) -> None:
        self.url = url
        self.network = network
        self.proxy, self.source = network.proxy_for(url)
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                trust_env=False,  # exactly the network settings
                follow_redirects=True,  # as tornado's client does
                headers={"User-Agent": f"jupyter-sessions/{__version__}"},
                **self.network.httpx_options(self.url),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def fetch(self, endpoint: str, **kwargs: Any) -> HTTPResponse:
        """``gateway_request(endpoint, **kwargs)`` through the proxy; GET and DELETE are
        tried again as jupyter_server's client does (502/503/504, timeouts, connections)."""
        client = GatewayClient.instance()
        args = client.load_connection_args(**kwargs)
        method = str(args.get("method") or "GET").upper()
        timeout = httpx.Timeout(
            args.get("request_timeout") or DEFAULT_TIMEOUT,
            connect=args.get("connect_timeout") or DEFAULT_TIMEOUT,
        )
        retries = (
            RetryableHTTPClient.max_retries if method in RetryableHTTPClient.retried_methods else 0
        )
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                response = await self._http().request(
                    method,
                    endpoint,
                    headers=args.get("headers") or {},
                    content=args.get("body"),
                    timeout=timeout,
                )
            except httpx.HTTPError as exc:
                if last or not isinstance(exc, (httpx.ConnectError, httpx.TimeoutException)):
                    raise self._transport_error(endpoint, exc) from None
            else:
                if last or response.status_code not in RetryableHTTPClient.retried_errors:
                    break
            await asyncio.sleep(_RETRY.step(attempt))
        answer = _tornado_response(endpoint, method, response)
        if answer.error is not None:
            error = HTTPClientError(answer.code, message=answer.reason, response=answer)
            client.emit(
                data={
                    STATUS_KEY: ERROR_STATUS,
                    STATUS_CODE_KEY: answer.code,
                    MESSAGE_KEY: answer.reason,
                }
            )
            raise gateway_error(client.url or self.url, error) from None
        client.emit(data={STATUS_KEY: SUCCESS_STATUS, STATUS_CODE_KEY: 200, MESSAGE_KEY: "success"})
        if client.accept_cookies:
            client.update_cookies(answer.headers)
        return answer

    def _transport_error(self, endpoint: str, exc: httpx.HTTPError) -> web.HTTPError:
        client = GatewayClient.instance()
        explained = self.network.explain(endpoint, exc)
        client.emit(
            data={
                STATUS_KEY: ERROR_STATUS,
                STATUS_CODE_KEY: 503,
                MESSAGE_KEY: explained or str(exc),
            }
        )
        if explained:
            return web.HTTPError(503, "%s", explained)
        if isinstance(exc, httpx.TimeoutException):
            said = (
                "Timeout while connecting"
                if isinstance(exc, httpx.ConnectTimeout)
                else "Timeout during request"
            )
            return gateway_error(client.url or self.url, HTTPClientError(599, message=said))
        return web.HTTPError(
            503,
            "ConnectionError was received from Gateway server url '%s'.  "
            "Check to be sure the Gateway instance is running.",
            client.url or self.url,
        )

    def websocket_connect(self, url: str, **kwargs: Any) -> Future[WebSocketClientConnection]:
        """tornado's ``websocket_connect(HTTPRequest(url, **kwargs))``, tunnelled; the
        gateway's certificate is checked with the network's CA bundle too."""
        verify = self.network.verify()
        if isinstance(verify, ssl.SSLContext):
            kwargs.setdefault("ssl_options", verify)
        request = HTTPRequest(url, **kwargs)
        request.headers = httputil.HTTPHeaders(request.headers)
        connection = TunnelledWebSocketClientConnection(
            _RequestProxy(request, HTTPRequest._DEFAULTS),  # type: ignore[arg-type]
            ProxyTunnel(self.proxy, self.network, self.url),
        )
        return connection.connect_future
