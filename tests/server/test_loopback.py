"""The proxy's lean loopback transport: the same answers as httpx's own, kept-alive
connections, chunked bodies, connections the backend closed, and timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from jupyter_sessions.server.loopback import LoopbackTransport, is_loopback_http

from ..support import PARENT, EmulatorProcess

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP server on 127.0.0.1 answering with whatever bytes ``handler`` writes; yields
    its URL and a list that counts accepted connections."""
    accepted: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/", accepted
    finally:
        server.close()


def lean_client(timeout: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=LoopbackTransport(httpx.AsyncHTTPTransport()), timeout=timeout
    )


async def test_answers_equal_httpx_own_against_the_emulator(
    simulated_emulator: EmulatorProcess,
) -> None:
    """Given the emulator, GET, POST with a body, an error and HEAD answer through the
    lean transport exactly as through httpx's own (status, JSON body, content type)."""
    base = simulated_emulator.url + "/v1/"
    calls: list[tuple[str, str, dict[str, object]]] = [
        ("POST", f"{PARENT}/sessions?sessionId=lean-transport", {"json": {}}),
        ("GET", f"{PARENT}/sessions/lean-transport", {}),
        ("GET", f"{PARENT}/sessions?pageSize=5", {}),
        ("GET", f"{PARENT}/sessions/missing-one", {}),
        ("POST", f"{PARENT}/sessions?sessionId=Bad_Id", {"json": {}}),
        ("HEAD", "openapi.json", {}),
    ]
    async with lean_client() as lean, httpx.AsyncClient(timeout=5.0) as plain:
        for method, path, kwargs in calls:
            a = await lean.request(method, base + path, **kwargs)  # type: ignore[arg-type]
            if method == "POST" and "lean-transport" in path:
                b = await plain.get(base + f"{PARENT}/sessions/lean-transport")
                assert a.status_code == 200 and b.status_code == 200
                continue
            b = await plain.request(method, base + path, **kwargs)  # type: ignore[arg-type]
            assert a.status_code == b.status_code, path
            assert a.headers["content-type"] == b.headers["content-type"], path
            if method != "HEAD":
                assert a.json().keys() == b.json().keys(), path
            else:
                assert a.content == b"" and b.content == b""


async def test_connections_are_kept_alive_and_chunked_bodies_decoded() -> None:
    """Given a backend that answers chunked on one connection, ten requests use that one
    connection and each body arrives whole."""

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
                b'5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
            )
            await writer.drain()

    async with raw_server(chunked) as (url, accepted), lean_client() as c:
        for _ in range(10):
            r = await c.get(url + "x")
            assert r.json() == {"a": 1}
    assert len(accepted) == 1


async def test_a_connection_the_backend_closed_is_replaced() -> None:
    """Given a backend that closes each connection after one answer (without saying so),
    every GET and POST still gets its answer, each on a new connection."""

    async def one_shot(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    async with raw_server(one_shot) as (url, accepted), lean_client() as c:
        for method in ("GET", "POST", "GET", "POST"):
            r = await c.request(method, url + "y", content=b"{}" if method == "POST" else None)
            assert r.status_code == 200 and r.json() == {}
    assert len(accepted) == 4


async def test_a_backend_that_never_answers_times_out() -> None:
    """Given a backend that accepts and never answers, the request fails with a read
    timeout (what BackendClient turns into DEADLINE_EXCEEDED), not a hang."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async with raw_server(silent) as (url, _), lean_client(timeout=0.5) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.get(url + "z")


def test_only_plain_http_on_loopback_takes_the_lean_path() -> None:
    assert is_loopback_http(httpx.URL("http://127.0.0.1:8/v1/"))
    assert is_loopback_http(httpx.URL("http://[::1]:8/v1/"))
    assert is_loopback_http(httpx.URL("http://localhost:8/"))
    assert not is_loopback_http(httpx.URL("https://127.0.0.1:8/"))
    assert not is_loopback_http(httpx.URL("http://dataproc.example/"))
    assert not is_loopback_http(httpx.URL("http://10.0.0.1/"))
