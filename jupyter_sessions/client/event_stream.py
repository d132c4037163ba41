"""Feeds of session changes for the panel, each in one daemon thread.

``EventStream`` reads the extension's Server-Sent Events
(``{server}jupyter-sessions/events?parent=...``) with httpx streaming. A read timeout a
little above the server's heartbeat period notices a dead connection; a dropped stream
reconnects with bounded, jittered backoff (a fresh ``snapshot`` follows every reconnect);
``close()`` interrupts a blocked read at once and joins the thread.

``PollingFeed`` is the fallback for a client that talks to a Sessions API without the
extension (the emulator or Google directly): it lists the sessions every few seconds.

Both call ``on_event(kind, data)`` from their thread, with the extension's event kinds
(``snapshot``, ``session``, ``removed``, ``status``, ``heartbeat``) plus
``disconnected`` (``{"message", "retryIn", "attempt"}``) when the stream drops.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from ..api.backoff import Backoff
from ..api.errors import ApiError

if TYPE_CHECKING:
    from .sessions import SessionsClient

log = logging.getLogger(__name__)

EventCallback = Callable[[str, dict[str, Any]], None]

# The extension's default heartbeat is 15 s; a stream silent for longer than this is dead.
DEFAULT_READ_TIMEOUT = 20.0
CONNECT_TIMEOUT = 5.0
FIRST_RETRY = 1.0
MAX_RETRY = 15.0
# An error body is read only this far: it is for a message, not for parsing.
_MAX_ERROR_BODY = 2000


class SseParser:
    """Incremental ``text/event-stream`` parser: feed lines, get (event, data) when one ends."""

    def __init__(self) -> None:
        self.retry: float | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> tuple[str, str] | None:
        if line == "":
            if not self._data:
                self._event = ""
                return None
            out = (self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return out
        if line.startswith(":"):
            return None  # a comment
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "retry" and value.isdigit():
            self.retry = int(value) / 1000
        return None

    def parse(self, lines: Iterator[str]) -> Iterator[tuple[str, str]]:
        for line in lines:
            event = self.feed(line)
            if event is not None:
                yield event


class StreamError(Exception):
    """The event stream could not be opened or ended."""


def _backoff(attempt: int, base: float, cap: float) -> float:
    """Reconnect attempt ``attempt`` (from 1) waits ``base * 2**(attempt - 1)`` up to ``cap``,
    less up to a quarter: panels that lost the same server at once come back spread out."""
    return round(Backoff(first=base, cap=cap, jitter=0.25).step(attempt - 1), 2)


class _Feed:
    """A daemon thread with a stop flag, started once and closed once."""

    thread_prefix = "jupyter-sessions-feed"
    _count = 0

    def __init__(self, on_event: EventCallback) -> None:
        self.on_event = on_event
        self._stop = threading.Event()
        _Feed._count += 1
        self._thread = threading.Thread(
            target=self._main, name=f"{self.thread_prefix}-{_Feed._count}", daemon=True
        )

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()

    def close(self, timeout: float = 5.0) -> bool:
        """Stop the thread; True once it has ended (within ``timeout``)."""
        self._stop.set()
        self._interrupt()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _interrupt(self) -> None:
        pass

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self._stop.is_set():
            return
        try:
            self.on_event(kind, data)
        except Exception:  # a consumer bug must not end the feed
            log.exception("session event handler failed on %s", kind)

    def _main(self) -> None:
        try:
            self._run()
        except Exception:  # never die silently: the panel shows the stream as lost
            log.exception("%s stopped", self._thread.name)
            self._emit("disconnected", {"message": "the event reader stopped", "retryIn": None})

    def _run(self) -> None:
        raise NotImplementedError


class EventStream(_Feed):
    """The extension's event stream for one parent, read in a daemon thread."""

    thread_prefix = "jupyter-sessions-events"

    def __init__(
        self,
        server_url: str,
        parent: str,
        on_event: EventCallback,
        *,
        headers: dict[str, str] | None = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        first_retry: float = FIRST_RETRY,
        max_retry: float = MAX_RETRY,
    ) -> None:
        super().__init__(on_event)
        base = server_url if server_url.endswith("/") else server_url + "/"
        self.url = base + "jupyter-sessions/events"
        self.parent = parent
        self.headers = {"Accept": "text/event-stream", **(headers or {})}
        self.timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=connect_timeout, pool=connect_timeout
        )
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.connections = 0
        self._worked = False  # the current connection delivered a snapshot
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()

    def _interrupt(self) -> None:
        # Shutting the socket down wakes a read blocked in another thread at once (closing
        # it would not); the reader then sees the stop flag.
        with self._lock:
            response = self._response
        if response is None:
            return
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _run(self) -> None:
        attempt = 0
        base = self.first_retry
        with httpx.Client(timeout=self.timeout, headers=self.headers) as http:
            while not self._stop.is_set():
                parser = SseParser()
                try:
                    reason = self._read(http, parser)
                except StreamError as exc:
                    reason = str(exc)
                except httpx.TimeoutException as exc:
                    kind = "no heartbeat" if isinstance(exc, httpx.ReadTimeout) else "timeout"
                    reason = f"{kind} from {self.url} within {self._limit(exc):g}s"
                except (httpx.HTTPError, OSError) as exc:
                    reason = f"cannot reach {self.url}: {exc or type(exc).__name__}"
                if self._stop.is_set():
                    return
                if parser.retry is not None:
                    base = max(self.first_retry, min(parser.retry, self.max_retry))
                # A stream that had worked is retried promptly; repeated failures back off.
                attempt = 1 if self._worked else attempt + 1
                delay = _backoff(attempt, base, self.max_retry)
                self._emit(
                    "disconnected", {"message": reason, "retryIn": delay, "attempt": attempt}
                )
                self._stop.wait(delay)

    def _limit(self, exc: httpx.TimeoutException) -> float:
        if isinstance(exc, httpx.ReadTimeout):
            return float(self.timeout.read or 0)
        return float(self.timeout.connect or 0)

    def _read(self, http: httpx.Client, parser: SseParser) -> str:
        """One connection: read events until it ends. Returns why it ended."""
        self._worked = False
        with http.stream("GET", self.url, params={"parent": self.parent}) as response:
            with self._lock:
                self._response = response
            try:
                if self._stop.is_set():
                    return "closed"
                if response.status_code != 200:
                    raise StreamError(self._refusal(response))
                self.connections += 1
                for kind, text in parser.parse(response.iter_lines()):
                    if self._stop.is_set():
                        return "closed"
                    try:
                        data = json.loads(text)
                    except ValueError:
                        log.warning("unreadable %s event from %s: %.200s", kind, self.url, text)
                        continue
                    if kind == "snapshot":
                        self._worked = True
                    if isinstance(data, dict):
                        self._emit(kind, data)
            finally:
                with self._lock:
                    self._response = None
        return f"the Jupyter server closed the event stream ({self.url})"

    def _refusal(self, response: httpx.Response) -> str:
        body = b""
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > _MAX_ERROR_BODY:
                    break
        except httpx.HTTPError:
            pass
        message = ""
        try:
            err = json.loads(body).get("error", {})
            message = str(err.get("message", "")) if isinstance(err, dict) else ""
        except (ValueError, AttributeError):
            message = body.decode("utf-8", "replace")[:200]
        hint = " (is the token right?)" if response.status_code in (401, 403) else ""
        return f"{self.url} answered HTTP {response.status_code}{hint}" + (
            f": {message}" if message else ""
        )


class PollingFeed(_Feed):
    """Lists the parent's sessions every ``interval`` seconds (no extension to stream from)."""

    thread_prefix = "jupyter-sessions-poll"

    def __init__(
        self,
        client: SessionsClient,
        parent: str,
        on_event: EventCallback,
        *,
        interval: float = 5.0,
    ) -> None:
        super().__init__(on_event)
        self.client = client
        self.parent = parent
        self.interval = interval

    def _run(self) -> None:
        reachable: bool | None = None
        while not self._stop.is_set():
            try:
                sessions = [s.to_json() for s in self.client.list_sessions(parent=self.parent)]
            except ApiError as exc:
                if reachable is not False:
                    self._emit("status", {"reachable": False, "message": str(exc)})
                reachable = False
            else:
                if reachable is False:
                    self._emit("status", {"reachable": True})
                reachable = True
                self._emit("snapshot", {"sessions": sessions})
            self._stop.wait(self.interval)
