"""Finding the Jupyter server to talk to, and what its extension reports.

``$JUPYTER_SESSIONS_URL`` (and ``_TOKEN``), exported by the extension into the kernels it
starts, then Jupyter's running-server list (newest first); ``GET jupyter-sessions/config`` tells
the backend, project, location and user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx

from ..api.errors import ApiError
from ..api.names import Parent

__all__ = [
    "ENV_LOCATION",
    "ENV_PROJECT",
    "ENV_TOKEN",
    "ENV_URL",
    "EXTENSION_PREFIX",
    "DiscoveryError",
    "ServerConfig",
    "discover_server",
    "fetch_server_config",
]

ENV_URL = "JUPYTER_SESSIONS_URL"
ENV_TOKEN = "JUPYTER_SESSIONS_TOKEN"
ENV_PROJECT = "JUPYTER_SESSIONS_PROJECT"
ENV_LOCATION = "JUPYTER_SESSIONS_LOCATION"
EXTENSION_PREFIX = "jupyter-sessions/"

# The config endpoint may wait for a just-started backend; a dead server fails at once.
_DISCOVERY_TIMEOUT = 10.0


class DiscoveryError(ConnectionError):
    """No Jupyter server with the jupyter-sessions extension could be reached."""


@dataclass(frozen=True)
class ServerConfig:
    """What a Jupyter server's ``GET jupyter-sessions/config`` reports."""

    url: str
    backend: str = ""
    endpoint: str = ""
    project: str = ""
    location: str = ""
    parent: str = ""
    user: str = ""
    heartbeat_interval: float = 15.0

    @property
    def api_root(self) -> str:
        """The prefix of the extension's ``v1/...`` proxy."""
        return self.url + EXTENSION_PREFIX

    @classmethod
    def from_json(cls, url: str, data: Any) -> ServerConfig:
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")

        def text(key: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) else ""

        project, location, parent = text("project"), text("location"), text("parent")
        if parent and not (project and location):
            try:
                p = Parent.parse(parent)
            except ApiError:
                pass
            else:
                project, location = project or p.project, location or p.location
        heartbeat = data.get("heartbeatInterval")
        return cls(
            url=url,
            backend=text("backend"),
            endpoint=text("endpoint"),
            project=project,
            location=location,
            parent=parent,
            user=text("user"),
            heartbeat_interval=float(heartbeat)
            if isinstance(heartbeat, (int, float)) and heartbeat > 0
            else 15.0,
        )


def _server_url(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"token {token}"} if token else {}


def fetch_server_config(
    url: str, token: str | None = None, timeout: float = _DISCOVERY_TIMEOUT
) -> ServerConfig:
    """Read the extension's config from a Jupyter server URL (including its base_url).

    Raises DiscoveryError, with the reason, when the server or the extension does not answer.
    """
    url = _server_url(url)
    target = url + EXTENSION_PREFIX + "config"
    try:
        response = httpx.get(
            target,
            headers={"Accept": "application/json", **_auth(token)},
            timeout=httpx.Timeout(timeout),
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise DiscoveryError(f"cannot reach {target}: {exc or type(exc).__name__}") from exc
    if response.status_code == 404:
        raise DiscoveryError(f"{url} has no jupyter-sessions server extension ({target}: 404)")
    if response.status_code in (401, 403) or response.is_redirect:
        raise DiscoveryError(
            f"{target} refused the request (HTTP {response.status_code}): is the token right?"
        )
    if response.status_code != 200:
        raise DiscoveryError(f"{target} answered HTTP {response.status_code}")
    try:
        return ServerConfig.from_json(url, response.json())
    except ValueError as exc:
        raise DiscoveryError(f"{target} did not answer with a JSON object: {exc}") from exc


def _running_servers() -> list[dict[str, Any]]:
    """Jupyter's running-server list, newest first. Imported lazily: it is heavy."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return []
    runtime_dir = jupyter_runtime_dir()
    servers = [info for info in list_running_servers(runtime_dir) if isinstance(info, dict)]

    def started(info: dict[str, Any]) -> float:
        # The info file is written at start-up and named after the server's pid.
        try:
            return os.path.getmtime(os.path.join(runtime_dir, f"jpserver-{info.get('pid')}.json"))
        except OSError:
            return 0.0

    servers.sort(key=started, reverse=True)
    return servers


def discover_server(timeout: float = _DISCOVERY_TIMEOUT) -> tuple[ServerConfig, str | None]:
    """Find the Jupyter server to talk to: ``$JUPYTER_SESSIONS_URL`` (+ ``_TOKEN``), then
    the running-server list (newest first). Returns its config and token."""
    tried: list[str] = []
    env_url = os.environ.get(ENV_URL)
    if env_url:
        env_token = os.environ.get(ENV_TOKEN) or None
        try:
            return fetch_server_config(env_url, env_token, timeout), env_token
        except DiscoveryError as exc:
            tried.append(f"${ENV_URL}: {exc}")
    for info in _running_servers():
        url = info.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            continue  # a unix-socket server: not reachable over TCP
        token = info.get("token") or None
        try:
            return fetch_server_config(url, token, timeout), token
        except DiscoveryError as exc:
            tried.append(str(exc))
    detail = "; ".join(tried) if tried else "no running Jupyter server was found"
    raise DiscoveryError(
        f"No Jupyter server with the jupyter-sessions extension answered ({detail}). "
        "Run `%session config --url URL` with your Jupyter server's URL, or start JupyterLab."
    )
