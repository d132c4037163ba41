"""A lean HTTP/1.1 transport for a backend on this machine (the embedded emulator).

The proxy's forward path is dominated by the generic HTTP stack, not by the network:
on loopback, httpcore's connection pool costs about a millisecond per request. This
transport keeps plain keep-alive connections to ``http://`` loopback backends and speaks
just what a request-response exchange needs (Content-Length or chunked bodies). Anything
else (HTTPS to Google, other hosts) goes to httpx's own transport unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ..api.defaults import is_loopback

MAX_HEAD = 64 * 1024
MAX_IDLE = 32


def is_loopback_http(url: httpx.URL) -> bool:
    if url.scheme != "http":
        return False
    return is_loopback(url.host)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class LoopbackTransport(httpx.AsyncBaseTransport):
    """httpx transport: a small keep-alive pool per loopback origin, httpx for the rest."""

    def __init__(self, fallback: httpx.AsyncBaseTransport) -> None:
        self._fallback = fallback
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        await self._fallback.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not is_loopback_http(request.url):
            return await self._fallback.handle_async_request(request)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        connect_timeout = timeouts.get("connect")
        read_timeout = timeouts.get("read")
        origin = (request.url.host, request.url.port or 80)
        body = await request.aread()
        head = self._head(request, len(body))
        while True:
            conn = self._pooled(origin)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(origin, connect_timeout)
            try:
                conn.writer.write(head + body)
                await conn.writer.drain()
                status, headers, content, keep = await asyncio.wait_for(
                    self._read_response(conn.reader, request.method), read_timeout
                )
            except _Unanswered as exc:
                conn.close()
                if reused and request.method in ("GET", "HEAD"):
                    continue  # a kept-alive connection the backend had just closed
                raise httpx.ReadError(f"connection lost: {exc}", request=request) from None
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                conn.close()
                raise httpx.ReadError(f"connection lost: {exc!r}", request=request) from None
            except asyncio.TimeoutError:
                conn.close()
                raise httpx.ReadTimeout("timed out reading the answer", request=request) from None
            except ValueError as exc:
                conn.close()
                raise httpx.RemoteProtocolError(str(exc), request=request) from None
            except BaseException:
                conn.close()  # cancelled mid-exchange: the connection is in an unknown state
                raise
            if keep:
                idle = self._idle.setdefault(origin, [])
                if len(idle) < MAX_IDLE:
                    idle.append(conn)
                else:
                    conn.close()
            else:
                conn.close()
            return httpx.Response(
                status,
                headers=headers,
                stream=httpx.ByteStream(content),
                extensions={"http_version": b"HTTP/1.1"},
                request=request,
            )

    def _pooled(self, origin: tuple[str, int]) -> _Connection | None:
        pool = self._idle.get(origin)
        while pool:
            conn = pool.pop()
            if conn.reader.at_eof() or conn.writer.is_closing():
                conn.close()  # the backend closed it while it was idle
                continue
            return conn
        return None

    @staticmethod
    async def _connect(origin: tuple[str, int], timeout: float | None) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(origin[0], origin[1]), timeout
            )
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {origin[0]}:{origin[1]}") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc)) from None
        return _Connection(reader, writer)

    @staticmethod
    def _head(request: httpx.Request, length: int) -> bytes:
        url = request.url
        lines = [request.method.encode("ascii") + b" " + url.raw_path + b" HTTP/1.1"]
        seen = set()
        for name, value in request.headers.raw:
            lower = name.lower()
            if lower in (b"content-length", b"transfer-encoding", b"connection"):
                continue
            seen.add(lower)
            lines.append(name + b": " + value)
        if b"host" not in seen:
            lines.append(b"Host: " + url.netloc)
        if length or request.method in ("POST", "PUT", "PATCH"):
            lines.append(b"Content-Length: " + str(length).encode("ascii"))
        return b"\r\n".join(lines) + b"\r\n\r\n"

    @staticmethod
    async def _read_response(
        reader: asyncio.StreamReader, method: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _Unanswered("closed before answering") from None
            raise
        except ConnectionResetError:
            raise _Unanswered("reset before answering") from None
        except asyncio.LimitOverrunError:
            raise ValueError("response head too large") from None
        if len(raw) > MAX_HEAD:
            raise ValueError("response head too large")
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
        status = int(parts[1])
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        keep = parts[0] == b"HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            value = value.strip()
            lower = name.strip().lower()
            if lower == b"content-length":
                length = int(value)
            elif lower == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lower == b"connection":
                keep = value.lower() == b"keep-alive" or (keep and value.lower() != b"close")
            headers.append((name.strip(), value))
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return status, headers, b"", keep
        if chunked:
            content = bytearray()
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    break
                content += await reader.readexactly(size)
                await reader.readexactly(2)
            return status, headers, bytes(content), keep
        if length is not None:
            return status, headers, await reader.readexactly(length), keep
        return status, headers, await reader.read(), False  # until the backend closes


class _Unanswered(Exception):
    """The connection ended before any byte of an answer."""
