"""Where the Sessions API really lives: the embedded emulator, or a URL.

The proxy and the Watcher talk to a backend only through ``BackendClient``: one pooled
httpx.AsyncClient, a timeout on every call, and connection failures turned into the
google.rpc.Status errors a client understands.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .._version import __version__
from ..api import errors
from ..api.backoff import Backoff
from ..client.retry import retry_after
from .loopback import LoopbackTransport
from .proxy_settings import NetworkSettings
from .supervisor import EmulatorSupervisor

log = logging.getLogger(__name__)

StatusListener = Callable[[bool, str], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff with jitter for answers that say "try again" (429, 503) and refused connects.

    Retries re-send the very same request, so a ``requestId`` in it stays the same and the
    backend deduplicates. The whole exchange stays within ``max_total`` seconds.
    """

    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 503}))
    max_retries: int = 4
    first_delay: float = 0.5
    max_delay: float = 8.0
    max_total: float = 20.0

    @property
    def schedule(self) -> Backoff:
        return Backoff(first=self.first_delay, cap=self.max_delay)

    def backoff(self, attempt: int) -> float:
        return self.schedule.step(attempt)

    def delay(self, attempt: int, started: float, hint: float | None = None) -> float | None:
        """Seconds to wait before retry ``attempt + 1``, or None to give up."""
        if attempt >= self.max_retries:
            return None
        return self.schedule.delay(attempt, hint=hint, deadline=started + self.max_total)


class Backend(abc.ABC):
    """A Sessions API endpoint the extension forwards to."""

    kind: str = "abstract"
    # None: answers are relayed as they come (the local emulator never rate-limits).
    retry_policy: RetryPolicy | None = None

    def __init__(self) -> None:
        self.listeners: list[StatusListener] = []

    @property
    @abc.abstractmethod
    def api_root(self) -> str:
        """The URL that prefixes ``v1/...``, ending with a slash."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Bring the backend up (for the embedded emulator: start its process)."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Release what start() took."""

    async def ready(self, timeout: float) -> bool:
        """Wait (bounded) until requests can be sent; False if it is not there yet."""
        return True

    def incarnation(self) -> object:
        """Which run of the backend answers now (the local emulator's pid), or None."""
        return None

    async def restarted(self, since: object, timeout: float) -> bool:
        """A connection to incarnation ``since`` broke: wait (bounded) for a new one that
        answers. True means an idempotent request may be sent again."""
        return False

    async def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request to the backend."""
        return {}

    async def credentials_rejected(self, sent: dict[str, str]) -> bool:
        """The backend answered 401 to ``sent`` auth headers: True to retry once (after
        getting new credentials), False to relay the 401."""
        return False

    def rewrite_error(self, method: str, path: str, error: errors.ApiError) -> errors.ApiError:
        """A clearer error for users of ``METHOD path``; the default keeps the backend's."""
        return error

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind, "endpoint": self.api_root}

    def _emit(self, up: bool, message: str) -> None:
        for listener in list(self.listeners):
            listener(up, message)


class LocalBackend(Backend):
    """The embedded emulator, run and supervised as a child process."""

    kind = "local"

    def __init__(self, data_dir: Path, runtime: str, extra_args: list[str]) -> None:
        super().__init__()
        self.supervisor = EmulatorSupervisor(
            data_dir, runtime=runtime, extra_args=extra_args, on_change=self._emit
        )

    @property
    def api_root(self) -> str:
        return self.supervisor.url

    async def start(self) -> None:
        try:
            await self.supervisor.start()
        except (RuntimeError, OSError) as exc:  # requests retry the start and say why
            log.error("The local sessions emulator did not start: %s", exc)

    async def stop(self) -> None:
        await self.supervisor.stop()

    async def ready(self, timeout: float) -> bool:
        if not self.supervisor.running and self.supervisor.pid is None:
            try:
                await self.supervisor.start()
            except (RuntimeError, OSError) as exc:
                raise errors.Unavailable(
                    f"The local sessions emulator did not start: {exc}"
                ) from None
        return await self.supervisor.wait_ready(timeout)

    async def auth_headers(self) -> dict[str, str]:
        token = self.supervisor.token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def incarnation(self) -> object:
        return self.supervisor.pid

    async def restarted(self, since: object, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        # The supervisor learns of a crash from the process's exit, a moment after the
        # connection broke; an emulator still running after that did not crash.
        grace = time.monotonic() + 1.0
        while self.supervisor.pid == since and self.supervisor.running:
            if time.monotonic() >= grace:
                return False
            await asyncio.sleep(0.02)
        return await self.supervisor.wait_ready(max(0.0, deadline - time.monotonic()))


class UrlBackend(Backend):
    """A Sessions API at a fixed URL (an emulator run by hand, or a gateway)."""

    kind = "url"

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url if url.endswith("/") else url + "/"

    @property
    def api_root(self) -> str:
        return self._url


class BackendClient:
    """Sends requests to the backend with bounded time and readable failures."""

    def __init__(
        self,
        backend: Backend,
        timeout: float,
        max_connections: int = 64,
        network: NetworkSettings | None = None,
    ) -> None:
        self.backend = backend
        self.timeout = timeout
        #: Proxy and CA bundle of calls to Google (None: a local backend, never proxied).
        self.network = network
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=32)
        options: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            "headers": {"User-Agent": f"jupyter-sessions/{__version__}"},
            "follow_redirects": False,
            "trust_env": False,  # a proxy only from NetworkSettings, and only for Google
        }
        # A loopback backend gets a lean transport (most of the proxy's own time was the
        # generic HTTP stack's); streams (the change feed) keep httpx's.
        net = network.httpx_options(backend.api_root) if network is not None else {}
        if "proxy" not in net and net.get("verify", True) is True:
            self._client = httpx.AsyncClient(
                transport=LoopbackTransport(httpx.AsyncHTTPTransport(limits=limits)), **options
            )
            self._streaming = httpx.AsyncClient(limits=limits, **options)
        else:
            # Through the proxy (or with the CA bundle) for both; no loopback shortcut.
            self._client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(limits=limits, **net), **options
            )
            self._streaming = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(limits=limits, **net), **options
            )

    async def close(self) -> None:
        await self._client.aclose()
        await self._streaming.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send ``METHOD {api_root}{path}?{query}``; raise ApiError when there is no answer."""
        if not await self.backend.ready(timeout=min(self.timeout, 30.0)):
            raise errors.Unavailable(
                "The sessions backend is not available yet (the local emulator is starting "
                "or restarting); try again in a moment"
            )
        policy = self.backend.retry_policy
        started = time.monotonic()
        attempt = 0
        reauthorized = False
        read_again = method in ("GET", "HEAD")  # once, across a restart of the backend
        while True:
            root = self.backend.api_root
            url = root + path + (f"?{query}" if query else "")
            auth = await self.backend.auth_headers()
            incarnation = self.backend.incarnation()
            try:
                response = await self._client.request(
                    method, url, content=body, headers={**(headers or {}), **auth}
                )
            except httpx.TimeoutException:
                raise errors.DeadlineExceeded(
                    f"The sessions backend at {root} did not answer within {self.timeout:g}s"
                ) from None
            except httpx.HTTPError as exc:
                left = self.timeout - (time.monotonic() - started)
                if read_again and await self.backend.restarted(incarnation, left):
                    read_again = False
                    log.warning(
                        "%s %s: the backend restarted (%s); reading again",
                        method,
                        path,
                        exc.__class__.__name__,
                    )
                    continue
                explained = self.network.explain(url, exc) if self.network else ""
                if explained:
                    raise errors.Unavailable(explained) from None
                # Only a refused connection is safe to repeat: nothing reached the backend.
                delay = (
                    policy.delay(attempt, started)
                    if policy is not None and isinstance(exc, httpx.ConnectError)
                    else None
                )
                if delay is None:
                    raise errors.Unavailable(
                        f"The sessions backend at {root} is unreachable: {exc.__class__.__name__}"
                        + (f": {exc}" if str(exc) else "")
                    ) from None
                reason = exc.__class__.__name__
            else:
                status = response.status_code
                if status == 401 and not reauthorized:
                    reauthorized = True
                    if await self.backend.credentials_rejected(auth):
                        continue
                if policy is None or status not in policy.statuses:
                    return response
                delay = policy.delay(attempt, started, retry_after(response))
                if delay is None:
                    return response
                reason = f"HTTP {status}"
            attempt += 1
            log.info("%s %s: %s; retry %d in %.2fs", method, path, reason, attempt, delay)
            await asyncio.sleep(delay)

    async def get_json(self, path: str, query: str = "") -> dict[str, Any]:
        """GET and decode JSON, raising the backend's error as an ApiError."""
        response = await self.request("GET", path, query=query)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            raise self.backend.rewrite_error(
                "GET", path, errors.ApiError.from_http(response.status_code, data)
            )
        if not isinstance(data, dict):
            raise errors.Unavailable(f"The sessions backend sent a non-JSON answer for {path}")
        return data

    # --- the Watcher's own requests: a short deadline, no retries (it paces itself) ---

    async def look(self, path: str, query: str, timeout: float) -> httpx.Response:
        """GET for the Watcher: answered within ``timeout`` seconds or an ApiError, so a
        hung backend is noticed in seconds whatever the users' request timeout is."""
        if not await self.backend.ready(timeout=timeout):
            raise errors.Unavailable("The sessions backend is not available yet")
        url = self.backend.api_root + path + (f"?{query}" if query else "")
        for _ in range(2):  # a second time only after the backend renewed credentials
            auth = await self.backend.auth_headers()
            try:
                response = await self._client.get(url, headers=auth, timeout=timeout)
            except httpx.HTTPError as exc:
                raise _look_failed(exc, f"did not answer within {timeout:g}s") from None
            if response.status_code != 401 or not await self.backend.credentials_rejected(auth):
                break
        return response

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, query: str, read_timeout: float
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET (the emulator's change feed); each read waits at most
        ``read_timeout`` seconds, so a backend that stops answering is noticed."""
        if not await self.backend.ready(timeout=read_timeout):
            raise errors.Unavailable("The sessions backend is not available yet")
        url = self.backend.api_root + path + (f"?{query}" if query else "")
        auth = await self.backend.auth_headers()
        timeout = httpx.Timeout(read_timeout, connect=min(read_timeout, 10.0))
        try:
            async with self._streaming.stream("GET", url, headers=auth, timeout=timeout) as r:
                yield r
        except httpx.HTTPError as exc:
            raise _look_failed(exc, f"sent nothing for {read_timeout:g}s") from None


def _look_failed(exc: httpx.HTTPError, timed_out: str) -> errors.ApiError:
    """A Watcher's look got no answer: a timeout or an unreachable backend."""
    if isinstance(exc, httpx.TimeoutException):
        return errors.DeadlineExceeded(f"The sessions backend {timed_out}")
    return errors.Unavailable(f"The sessions backend is unreachable: {exc.__class__.__name__}")
