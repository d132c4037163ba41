"""Where the Sessions API really lives: the embedded emulator, or a URL.

The proxy and the Watcher talk to a backend only through ``BackendClient``: one pooled
httpx.AsyncClient, a timeout on every call, and connection failures turned into the
google.rpc.Status errors a client understands.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .. import __version__
from ..api import errors
from .supervisor import EmulatorSupervisor

log = logging.getLogger(__name__)

StatusListener = Callable[[bool, str], None]


class Backend(abc.ABC):
    """A Sessions API endpoint the extension forwards to."""

    kind: str = "abstract"

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

    async def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request to the backend."""
        return {}

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
        await self.supervisor.start()

    async def stop(self) -> None:
        await self.supervisor.stop()

    async def ready(self, timeout: float) -> bool:
        if not self.supervisor.running and self.supervisor.pid is None:
            await self.supervisor.start()
        return await self.supervisor.wait_ready(timeout)


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

    def __init__(self, backend: Backend, timeout: float, max_connections: int = 64) -> None:
        self.backend = backend
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=32),
            headers={"User-Agent": f"jupyter-sessions/{__version__}"},
            follow_redirects=False,
            trust_env=False,  # loopback and Google only; never a proxy from the environment
        )

    async def close(self) -> None:
        await self._client.aclose()

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
        root = self.backend.api_root
        url = root + path + (f"?{query}" if query else "")
        all_headers = {**(headers or {}), **(await self.backend.auth_headers())}
        try:
            return await self._client.request(method, url, content=body, headers=all_headers)
        except httpx.TimeoutException:
            raise errors.DeadlineExceeded(
                f"The sessions backend at {root} did not answer within {self.timeout:g}s"
            ) from None
        except httpx.HTTPError as exc:
            raise errors.Unavailable(
                f"The sessions backend at {root} is unreachable: {exc.__class__.__name__}"
                + (f": {exc}" if str(exc) else "")
            ) from None

    async def get_json(self, path: str, query: str = "") -> dict[str, Any]:
        """GET and decode JSON, raising the backend's error as an ApiError."""
        response = await self.request("GET", path, query=query)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            raise errors.ApiError.from_http(response.status_code, data)
        if not isinstance(data, dict):
            raise errors.Unavailable(f"The sessions backend sent a non-JSON answer for {path}")
        return data
