"""A recording HTTP proxy on 127.0.0.1, as a corporate network puts in front of Google.

It tunnels ``CONNECT host:port`` (HTTPS) and forwards absolute-form requests
(``POST http://host:port/path``, plain HTTP), records each, and only ever connects to
loopback addresses (anything else is refused with 403, so nothing leaves the machine).
``refuse_connect`` answers CONNECT with 403, as a proxy whose policy blocks a host does.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Any


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class RecordingProxy:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []  # (method, target)
        self.refuse_connect = False
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> RecordingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.pause()

    def pause(self) -> None:
        """Stop listening: the proxy is unreachable until ``resume()``."""
        self._stopped = True
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() in progress
        except OSError:
            pass
        self._server.close()
        self.drop_connections()
        self._thread.join(timeout=5)

    def resume(self) -> None:
        """Listen again on the same port."""
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def drop_connections(self) -> None:
        """Close every open tunnel and connection (clients must connect again)."""
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def targets(self, method: str) -> list[str]:
        with self._lock:
            return [t for m, t in self.seen if m == method]

    # --- serving ----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            head, rest = head.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            with self._lock:
                self.seen.append((method, target))
            if method == "CONNECT":
                self._tunnel(conn, target, rest)
            else:
                self._forward(conn, method, target, version, lines[1:], rest)
        except OSError:
            pass
        finally:
            conn.close()

    def _refuse(self, conn: socket.socket, why: str) -> None:
        body = why.encode()
        conn.sendall(
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    def _tunnel(self, conn: socket.socket, target: str, rest: bytes) -> None:
        host, _, port = target.rpartition(":")
        if self.refuse_connect or not _loopback(host):
            self._refuse(conn, "blocked by policy")
            return
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        with self._lock:
            self._open.append(upstream)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            upstream.sendall(rest)
        self._pipe(conn, upstream)

    def _forward(
        self,
        conn: socket.socket,
        method: str,
        target: str,
        version: str,
        headers: list[str],
        rest: bytes,
    ) -> None:
        if not target.startswith("http://"):
            self._refuse(conn, "absolute-form http:// requests only")
            return
        hostport, _, path = target[len("http://") :].partition("/")
        host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "80")
        if not _loopback(host):
            self._refuse(conn, "blocked by policy")
            return
        kept = [h for h in headers if not h.lower().startswith(("proxy-", "connection:"))]
        length = next(
            (int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")),
            0,
        )
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
        upstream = socket.create_connection((host, int(port)), timeout=10)
        with self._lock:
            self._open.append(upstream)
        request = [f"{method} /{path} {version}", *kept, "Connection: close", "", ""]
        upstream.sendall("\r\n".join(request).encode("latin-1") + rest)
        self._pipe(conn, upstream)

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        def copy(src: socket.socket, dst: socket.socket) -> None:
            try:
                while chunk := src.recv(65536):
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        other = threading.Thread(target=copy, args=(b, a), daemon=True)
        other.start()
        copy(a, b)
        other.join(timeout=30)
        b.close()

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
