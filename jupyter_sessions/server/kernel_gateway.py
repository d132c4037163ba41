"""Which kernel gateway runs this server's session kernels, and how to reach it.

- ``local``: the embedded emulator's gateway, ``{emulator}/gateway/projects/P/locations/L``,
  with the emulator's token;
- ``dataproc``: Google's ``https://{project_number}-dot-{region}.kernels.googleusercontent
  .com`` with the Application Default Credentials' access token; the project number comes
  from ``project_number`` or is looked up once from the project id;
- a URL backend: ``{url}gateway/projects/P/locations/L`` (an emulator run by hand);
- ``kernel_gateway_url`` overrides all of these.

With ``dataproc``, the gateway is reached (REST calls and kernel websockets) through the
proxy that the network settings choose for its URL, as the Dataproc API is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from .._version import __version__
from ..api import errors
from .kernels import gateway
from .proxy_settings import redacted
from .started_kernels import server_file

if TYPE_CHECKING:
    from .app import SessionsExtensionApp

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT = 15.0


async def connect_gateway(app: SessionsExtensionApp) -> None:
    """Point the session kernels at the backend's gateway (or say why there is none)."""
    _remember_started_kernels(app)
    backend = app.backend_impl
    try:
        url = app.kernel_gateway_url.strip() or await _default_url(app)
    except errors.ApiError as exc:
        gateway.disable(f"Session kernels are not available: {exc.message}")
        log.warning("%s", gateway.problem)
        return
    if not url.startswith(("http://", "https://")):
        gateway.disable(f"kernel_gateway_url must be an http(s) URL, got {url!r}")
        log.warning("%s", gateway.problem)
        return
    network = getattr(app, "network", None) if backend.kind == "dataproc" else None
    gateway.configure(
        url,
        backend.auth_headers,
        rejected=backend.credentials_rejected,
        request_timeout=app.kernel_start_timeout,
        connect_timeout=20.0,
        network=network,
    )
    proxy, source = network.proxy_for(url) if network is not None else ("", "")
    if proxy:
        app.log.info(
            "Session kernels run through the kernel gateway at %s, reached through the "
            "proxy %s (%s)",
            url,
            redacted(proxy),
            source,
        )
    else:
        app.log.info("Session kernels run through the kernel gateway at %s", url)


def _remember_started_kernels(app: SessionsExtensionApp) -> None:
    """Know the session kernels this server started before it was restarted."""
    server: Any = app.serverapp
    try:
        address = str(server.connection_url)
    except Exception:  # no bound server: nothing to carry across restarts
        return
    path = server_file(Path(app.emulator_data_dir), str(server.root_dir), address)
    gateway.started_here.load(path)


async def _default_url(app: SessionsExtensionApp) -> str:
    backend = app.backend_impl
    if backend.kind in ("local", "url"):
        return f"{backend.api_root}gateway/{app.default_parent}"
    if backend.kind != "dataproc":
        raise errors.FailedPrecondition(f"the {backend.kind} backend has no kernel gateway")
    location = app.default_location
    if not location:
        raise errors.FailedPrecondition(
            "no region is set: set SessionsExtensionApp.location (or kernel_gateway_url)"
        )
    number = app.project_number.strip() or await lookup_project_number(app)
    return f"https://{number}-dot-{location}.kernels.googleusercontent.com"


async def lookup_project_number(app: SessionsExtensionApp) -> str:
    """The project's number, from Cloud Resource Manager (one request, at start-up)."""
    project = app.default_project
    if not project:
        raise errors.FailedPrecondition(
            "no project is set: set SessionsExtensionApp.project (or kernel_gateway_url)"
        )
    headers = await app.backend_impl.auth_headers()
    url = app.resource_manager_endpoint.rstrip("/") + f"/v1/projects/{project}"
    hint = "set SessionsExtensionApp.project_number (or kernel_gateway_url)"
    network = getattr(app, "network", None)
    try:
        async with httpx.AsyncClient(
            timeout=LOOKUP_TIMEOUT,
            headers={"User-Agent": f"jupyter-sessions/{__version__}"},
            trust_env=False,
            **(network.httpx_options(url) if network is not None else {}),
        ) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise errors.Unavailable(
            f"could not look up the number of project {project} ({exc.__class__.__name__}); " + hint
        ) from None
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        pass
    number = str(body.get("projectNumber", "")) if isinstance(body, dict) else ""
    if response.status_code != 200 or not number.isdigit():
        said = errors.ApiError.from_http(response.status_code, body).message
        raise errors.FailedPrecondition(
            f"could not look up the number of project {project} (HTTP "
            f"{response.status_code}: {said}); {hint}"
        )
    return number


async def end_started_session_kernels(serverapp: Any) -> None:
    """Before the backend goes away: end the sessions of kernels this server started, as
    its local kernels end with it."""
    km = getattr(serverapp, "kernel_manager", None)
    remote = getattr(km, "remote", None)
    if km is None or remote is None or not gateway.enabled:
        return
    for kid in list(gateway.started_here):
        if kid not in remote._kernels:
            continue
        try:
            await km.shutdown_kernel(kid)
        except Exception as exc:
            log.warning("Could not end the session of kernel %s: %s", kid, exc)
    await gateway.close()
