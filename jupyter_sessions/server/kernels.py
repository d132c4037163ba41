"""Session kernels in Jupyter's kernel picker, beside the local ones.

The sessions backend serves the Jupyter Kernel Gateway protocol: Google's kernel gateway
for Dataproc, the emulator's own for the local backend. This module mixes that gateway's
kernelspecs and kernels into the Jupyter server's own, using jupyter_server's gateway
machinery for the remote side:

- ``SessionKernelSpecManager``: local kernelspecs plus the gateway's (cached; a gateway that
  is down or refuses never hides the local kernels);
- ``SessionKernelManager``: local kernels as usual; a session kernelspec starts a kernel on
  the gateway (which creates a session); every kernel the gateway runs (each ACTIVE session)
  is listed, so a notebook can attach to it. Shutting down a kernel this server started
  ends its session; one it only attached to is let go and keeps running;
- ``SessionAwareConnection``: the websocket of a local kernel talks ZMQ, that of a session
  kernel is relayed to the gateway's websocket.

With the Dataproc backend, every call to the gateway (REST and websocket) goes through the
proxy the network settings choose for its URL, when there is one (``gateway_proxy``).

The access token is added here, server-side, from the backend's credentials (renewed before
each request when close to expiry); it never reaches the browser.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from asyncio import Future
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_core.utils import ensure_async
from jupyter_server.gateway.connections import GatewayWebSocketConnection
from jupyter_server.gateway.gateway_client import GatewayClient, gateway_request
from jupyter_server.gateway.managers import GatewayKernelManager, GatewayMappingKernelManager
from jupyter_server.services.kernels.connection.base import BaseKernelWebsocketConnection
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import (
    AsyncMappingKernelManager,
    emit_kernel_action_event,
)
from jupyter_server.utils import url_escape, url_path_join
from tornado import web
from tornado import websocket as tornado_websocket
from tornado.escape import json_decode, json_encode
from tornado.escape import url_escape as query_escape
from tornado.httpclient import HTTPRequest, HTTPResponse
from tornado.ioloop import IOLoop
from traitlets import default

from ..api import errors
from .gateway_proxy import ProxiedGateway, ProxyTunnelError
from .started_kernels import StartedKernels

if TYPE_CHECKING:
    from .proxy_settings import NetworkSettings

log = logging.getLogger(__name__)

SPEC_CACHE_SECONDS = 30.0
SPEC_RETRY_SECONDS = 2.0  # a failed listing (gateway or proxy down) is not kept for long
SETTLE_TIMEOUT = 60.0  # how long a request waits for the gateway after the server starts
KERNEL_LIST_CACHE_SECONDS = 3.0
RESOURCE_PREFIX = "//dataproc.googleapis.com/"

AuthHeaders = Callable[[], Awaitable[dict[str, str]]]
Rejected = Callable[[dict[str, str]], Awaitable[bool]]
T = TypeVar("T")


class SessionGateway:
    """Where the session kernels live, and how to authenticate to it. One per server."""

    def __init__(self) -> None:
        self.url = ""
        self.problem = "Session kernels are starting (the backend is not up yet)"
        self.auth_headers: AuthHeaders | None = None
        self.rejected: Rejected | None = None
        self._sent: dict[str, str] = {}
        self.started_here = StartedKernels()  # kernels whose sessions this server created
        self._specs: dict[str, Any] = {}
        self._specs_at = 0.0
        self._specs_lock = asyncio.Lock()
        self._warned = ""
        self._settled = False  # configured or disabled: no more waiting for the backend
        self.proxied: ProxiedGateway | None = None  # when calls go through a proxy
        self.ca_certs = ""  # the network's CA bundle, for tornado's calls

    async def settled(self, timeout: float) -> None:
        """Wait (bounded) until the gateway is known: right after the server starts, the
        embedded emulator may still be coming up."""
        deadline = time.monotonic() + timeout
        while not self._settled and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def configure(
        self,
        url: str,
        auth_headers: AuthHeaders | None,
        *,
        rejected: Rejected | None = None,
        request_timeout: float,
        connect_timeout: float = 20.0,
        network: NetworkSettings | None = None,
    ) -> None:
        """Point jupyter_server's gateway client at ``url`` (no trailing slash); with
        ``network`` (the Dataproc backend's), through the proxy it chooses for ``url``."""
        self.url = url.rstrip("/")
        self.proxied = None
        # tornado's calls (no proxy) check the gateway with the bundle too; jupyter_server
        # passes its own ``ca_certs`` only with a client certificate, so ours are explicit.
        self.ca_certs = network.ca_bundle if network is not None and network.ca_bundle else ""
        if network is not None and network.proxy_for(self.url)[0]:
            self.proxied = ProxiedGateway(self.url, network)
        self.problem = ""
        self._settled = True
        self.auth_headers = auth_headers
        self.rejected = rejected
        client = GatewayClient.instance()
        client.url = self.url
        client.ws_url = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        client.kernels_endpoint = "/api/kernels"
        client.kernelspecs_endpoint = "/api/kernelspecs"
        client.request_timeout = request_timeout
        client.connect_timeout = connect_timeout
        client.auth_scheme = ""
        client.auth_token = ""
        client.launch_timeout_pad = 0
        # Reconnect the kernel websocket for a few minutes (a gateway or emulator restart).
        client.gateway_retry_max = 12
        client.gateway_retry_interval_max = 20.0
        client._connection_args = {}  # re-read the settings above on the next request
        self._specs_at = 0.0

    def disable(self, problem: str) -> None:
        self.url = ""
        self.problem = problem
        self._settled = True
        self.proxied = None

    async def close(self) -> None:
        """Close the connections kept to the gateway (a later call opens new ones)."""
        if self.proxied is not None:
            await self.proxied.aclose()

    @property
    def unavailable(self) -> str:
        """Why the last listing of the gateway's kernelspecs failed; "" when it worked."""
        return self._warned

    @property
    def kernels_url(self) -> str:
        return url_path_join(self.url, "/api/kernels")

    async def authorize(self) -> None:
        """Put a current access token into the gateway client's headers."""
        if self.auth_headers is None:
            return
        headers = await self.auth_headers()
        self._sent = headers
        client = GatewayClient.instance()
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        client.auth_header_key = "Authorization"
        client.auth_scheme = scheme
        client.auth_token = token
        extra = json.dumps({k: v for k, v in sorted(headers.items()) if k != "Authorization"})
        if client.headers != extra:  # e.g. the quota project: static, read once
            client.headers = extra
            client._connection_args = {}

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run a gateway operation with a current token; if the gateway refuses the token
        (revoked, or expired early), get a new one and try once more."""
        await self.authorize()
        try:
            return await operation()
        except web.HTTPError as exc:
            if exc.status_code != 401 or self.rejected is None:
                raise
            if not await self.rejected(self._sent):
                raise
        await self.authorize()
        return await operation()

    async def fetch(self, url: str, **kwargs: Any) -> HTTPResponse:
        """jupyter_server's ``gateway_request``, through the proxy when one applies."""
        if self.proxied is not None:
            return await self.proxied.fetch(url, **kwargs)
        if self.ca_certs:
            kwargs.setdefault("ca_certs", self.ca_certs)
        response: HTTPResponse = await gateway_request(url, **kwargs)
        return response

    async def request(self, path: str, method: str = "GET", body: str | None = None) -> Any:
        """One authorized request to the gateway; its JSON answer."""
        kwargs: dict[str, Any] = {"method": method}
        if body is not None:
            kwargs.update(body=body, headers={"Content-Type": "application/json"})
        url = url_path_join(self.url, path)
        response = await self.call(lambda: self.fetch(url, **kwargs))
        return json_decode(response.body) if response.body else None

    async def specs(self, *, retry_failed: bool = False) -> dict[str, Any]:
        """The gateway's kernelspecs (kernelspec models by name), cached for a while; with
        ``retry_failed``, listed again at once if the last listing failed."""
        await self.settled(SETTLE_TIMEOUT)
        if not self.enabled:
            return {}
        async with self._specs_lock:
            age = time.monotonic() - self._specs_at
            if self._warned:
                fresh = age < SPEC_RETRY_SECONDS and not retry_failed
            else:
                fresh = age < SPEC_CACHE_SECONDS
            if fresh:
                return self._specs
            try:
                found = await self.request("/api/kernelspecs")
                specs = found.get("kernelspecs", {}) if isinstance(found, dict) else {}
                self._specs = {n: s for n, s in specs.items() if _is_spec_model(s)}
                self._warned = ""
            except Exception as exc:  # the local kernels must stay usable whatever happens
                message = clean_error(exc)
                if message != self._warned:
                    log.warning("Session kernels are not available: %s", message)
                    self._warned = message
            self._specs_at = time.monotonic()
            return self._specs

    def cached_spec(self, name: str) -> dict[str, Any] | None:
        spec = self._specs.get(name)
        return dict(spec) if isinstance(spec, dict) else None

    def forget_specs(self) -> None:
        self._specs_at = 0.0


gateway = SessionGateway()


def _is_spec_model(value: Any) -> bool:
    return isinstance(value, dict) and {"name", "spec", "resources"} <= set(value)


def clean_error(exc: BaseException) -> str:
    """One readable sentence from what jupyter_server's gateway client raises."""
    if isinstance(exc, errors.ApiError):
        return exc.message
    if isinstance(exc, ProxyTunnelError):  # its message names the proxy and what it said
        return str(exc)
    if isinstance(exc, web.HTTPError):
        if exc.log_message and "Error from Gateway" in exc.log_message and exc.args:
            return str(exc.args[0])  # the gateway's own message
        if exc.log_message:
            try:
                return str(exc.log_message % exc.args)
            except TypeError:
                return str(exc.log_message)
        return f"HTTP {exc.status_code}"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return f"The kernel gateway at {gateway.url} did not answer in time"
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


def http_error(status: int, message: str) -> web.HTTPError:
    """An HTTPError whose message jupyter_server's API handlers show as it is (no format
    arguments: they reply with the raw log_message)."""
    return web.HTTPError(status, message)


class UnknownKernel(NoSuchKernel, web.HTTPError):
    """A kernel name neither here nor on the gateway: 404 from the kernels API, and the
    NoSuchKernel that the sessions API answers 501 for (any other error there is a 500)."""

    def __init__(self, message: str) -> None:
        web.HTTPError.__init__(self, 404, message)

    def __str__(self) -> str:
        return str(self.log_message)


def session_of_kernel(model: dict[str, Any] | None) -> str:
    """The session name a gateway kernel model points at, or ''."""
    metadata = (model or {}).get("metadata") or {}
    resource = str(metadata.get("endpointParentResource") or "")
    return resource[len(RESOURCE_PREFIX) :] if resource.startswith(RESOURCE_PREFIX) else ""


class SessionKernelSpecManager(KernelSpecManager):
    """Local kernelspecs plus the session kernelspecs of the kernel gateway."""

    async def get_all_specs(self) -> dict[str, Any]:  # type: ignore[override]
        specs: dict[str, Any] = super().get_all_specs()
        for name, model in (await gateway.specs()).items():
            specs.setdefault(name, model)  # a local kernel of the same name wins
        return specs

    def is_remote(self, name: str) -> bool:
        return name not in self.find_kernel_specs() and gateway.cached_spec(name) is not None

    def get_kernel_spec(self, kernel_name: str, *args: Any, **kwargs: Any) -> Any:
        if self.is_remote(kernel_name):
            return gateway.cached_spec(kernel_name)
        return super().get_kernel_spec(kernel_name, *args, **kwargs)

    async def get_kernel_spec_resource(self, kernel_name: str, path: str) -> bytes | None:
        return None


class SessionGatewayKernelManager(GatewayKernelManager):
    """One session kernel on the gateway: jupyter_server's ``GatewayKernelManager`` whose
    REST calls go through ``gateway.fetch`` (so through the proxy when one applies); the
    requests, answers and events are the library's."""

    async def _model(self) -> dict[str, Any] | None:
        try:
            response = await gateway.fetch(self.kernel_url, method="GET")
        except web.HTTPError as error:
            if error.status_code != 404:
                raise
            self.log.warning("Kernel not found at: %s", self.kernel_url)
            return None
        model: dict[str, Any] | None = json_decode(response.body)
        return model

    async def refresh_model(self, model: dict[str, Any] | None = None) -> Any:
        if model is None:
            model = await self._model()
            if not model:
                self.kernel = model
                return model
        return await super().refresh_model(model)  # only the activity markers: no request

    @emit_kernel_action_event(success_msg="Kernel {kernel_id} was started.")
    async def start_kernel(self, **kwargs: Any) -> None:
        kernel_id = kwargs.get("kernel_id")
        if kernel_id is not None:
            self.kernel_id = kernel_id
            self.kernel_url = url_path_join(self.kernels_url, url_escape(str(kernel_id)))
            self.kernel = await self.refresh_model()
            return
        client = GatewayClient.instance()
        given = {**os.environ, **kwargs.get("env", {})}
        if "KERNEL_USERNAME" not in os.environ and client.http_user:
            given.setdefault("KERNEL_USERNAME", client.http_user)
        allowed = client.allowed_envs.split(",")
        env = {k: v for k, v in given.items() if k.startswith("KERNEL_") or k in allowed}
        if kwargs.get("cwd") is not None:
            env.setdefault("KERNEL_WORKING_DIR", kwargs["cwd"])
        response = await gateway.fetch(
            self.kernels_url,
            method="POST",
            headers={"Content-Type": "application/json"},
            body=json_encode({"name": kwargs.get("kernel_name", "python3"), "env": env}),
        )
        self.kernel = json_decode(response.body)
        self.kernel_id = self.kernel["id"]
        self.kernel_url = url_path_join(self.kernels_url, url_escape(str(self.kernel_id)))
        self.log.info("Session kernel %s started on the gateway", self.kernel_id)

    @emit_kernel_action_event(success_msg="Kernel {kernel_id} was shutdown.")
    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        if not self.has_kernel:
            return
        try:
            await gateway.fetch(self.kernel_url, method="DELETE")
        except web.HTTPError as error:
            if error.status_code != 404:
                raise
            self.log.debug("Shutdown kernel response: kernel not found (ignored)")

    async def _post(self, action: str) -> None:
        if self.has_kernel:
            await gateway.fetch(
                f"{self.kernel_url}/{action}",
                method="POST",
                headers={"Content-Type": "application/json"},
                body=json_encode({}),
            )

    @emit_kernel_action_event(success_msg="Kernel {kernel_id} was restarted.")
    async def restart_kernel(self, **kw: Any) -> None:
        await self._post("restart")

    @emit_kernel_action_event(success_msg="Kernel {kernel_id} was interrupted.")
    async def interrupt_kernel(self) -> None:
        await self._post("interrupt")


class SessionGatewayMappingKernelManager(GatewayMappingKernelManager):
    """The gateway's kernels that this server knows, each a ``SessionGatewayKernelManager``."""

    @default("kernel_manager_class")
    def _default_kernel_manager_class(self) -> str:
        return f"{__name__}.SessionGatewayKernelManager"

    async def list_kernels(self, **kwargs: Any) -> list[dict[str, Any]]:
        """The gateway's models of the kernels known here (dropping those it no longer
        runs), through ``gateway.fetch``."""
        response = await gateway.fetch(self.kernels_url, method="GET")
        running = {m["id"]: m for m in json_decode(response.body) if isinstance(m, dict)}
        models = []
        for kid, km in list(self._kernels.items()):
            model = running.get(kid)
            if model is None:  # not listed: ask for it alone before dropping it
                try:
                    model = await km.refresh_model()
                except web.HTTPError:
                    model = None
            else:
                await km.refresh_model(model)
            if model:
                models.append(model)
            else:
                self._kernels.pop(kid, None)
        return models


class SessionKernelManager(AsyncMappingKernelManager):
    """Local kernels, plus session kernels through the kernel gateway."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.remote = SessionGatewayMappingKernelManager(parent=self.parent, log=self.log)
        self._listed_at = 0.0
        self._list_lock = asyncio.Lock()

    # --- which side a kernel is on ----------------------------------------------------------

    def is_remote(self, kernel_id: str | None) -> bool:
        return kernel_id is not None and kernel_id in self.remote._kernels

    def __contains__(self, kernel_id: object) -> bool:
        return super().__contains__(kernel_id) or (  # type: ignore[operator]
            isinstance(kernel_id, str) and self.is_remote(kernel_id)
        )

    def list_kernel_ids(self) -> list[str]:
        return [*super().list_kernel_ids(), *self.remote._kernels]

    def get_kernel(self, kernel_id: str) -> Any:
        if self.is_remote(kernel_id):
            return self.remote._kernels[kernel_id]
        return super().get_kernel(kernel_id)

    def _check_kernel_id(self, kernel_id: str) -> None:
        if not self.is_remote(kernel_id):
            super()._check_kernel_id(kernel_id)

    def _is_session_spec(self, kernel_name: str | None) -> bool:
        ksm = self.kernel_spec_manager
        return bool(
            kernel_name and isinstance(ksm, SessionKernelSpecManager) and ksm.is_remote(kernel_name)
        )

    # --- starting, attaching, stopping ---------------------------------------------------------

    async def start_kernel(  # type: ignore[override]
        self, *, kernel_id: str | None = None, path: str | None = None, **kwargs: Any
    ) -> str:
        name = kwargs.get("kernel_name")
        if kernel_id is not None and (kernel_id in self or await self._attach(kernel_id)):
            return kernel_id
        if not self._is_session_spec(name):
            # The spec may be new since the last listing, or the gateway back since it failed.
            await gateway.specs(retry_failed=True)
        if not self._is_session_spec(name):
            ksm = self.kernel_spec_manager
            if name and ksm is not None and name not in ksm.find_kernel_specs():
                if gateway.enabled and gateway.unavailable:  # it may be a session kernelspec
                    raise http_error(
                        503, f"Session kernels are not available: {gateway.unavailable}"
                    )
                why = "" if gateway.enabled else f" ({gateway.problem})"
                raise UnknownKernel(f"No such kernel: {name}{why}")
            started: str = await super().start_kernel(
                kernel_id=kernel_id,
                path=path,  # type: ignore[arg-type]
                **kwargs,
            )
            return started
        if not gateway.enabled:
            raise http_error(503, gateway.problem)
        self.log.info("Starting a session kernel from kernelspec %s", name)
        try:
            km = self.remote.kernel_manager_factory(parent=self.remote, log=self.log)
            km.kernels_url = gateway.kernels_url
            await gateway.call(lambda: km.start_kernel(kernel_name=name, env={}))
        except web.HTTPError as exc:
            raise http_error(exc.status_code, clean_error(exc)) from None
        except Exception as exc:
            raise http_error(503, f"Could not start a session kernel: {clean_error(exc)}") from None
        kid = str(km.kernel_id)
        self.remote._kernels[kid] = km
        gateway.started_here.add(kid)
        self.log.info("Session kernel %s runs session %s", kid, session_of_kernel(km.kernel))
        return kid

    async def _attach(self, kernel_id: str) -> bool:
        """Register a kernel the gateway runs (an existing session) under its own id."""
        if not gateway.enabled:
            return False
        try:
            km = self.remote.kernel_manager_factory(parent=self.remote, log=self.log)
            km.kernels_url = gateway.kernels_url
            await gateway.call(lambda: km.start_kernel(kernel_id=kernel_id))
        except (web.HTTPError, errors.ApiError):
            return False
        if km.kernel is None:
            return False
        self.remote._kernels[kernel_id] = km
        return True

    async def shutdown_kernel(  # type: ignore[override]
        self, kernel_id: str, now: bool = False, restart: bool = False
    ) -> None:
        if not self.is_remote(kernel_id):
            await super().shutdown_kernel(kernel_id, now=now, restart=restart)
            return
        if kernel_id in gateway.started_here:
            try:
                await gateway.call(
                    lambda: self.remote.shutdown_kernel(kernel_id, now=now, restart=restart)
                )
            except web.HTTPError as exc:
                raise http_error(exc.status_code, clean_error(exc)) from None
            gateway.started_here.discard(kernel_id)
        else:
            # Attached to a session someone else started: let go, the session runs on.
            self.remote.remove_kernel(kernel_id)

    async def restart_kernel(self, kernel_id: str, now: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        if not self.is_remote(kernel_id):
            await super().restart_kernel(kernel_id, now=now, **kwargs)
            return
        try:
            await gateway.call(lambda: self.remote.restart_kernel(kernel_id, now=now))
            await gateway.call(self.remote._kernels[kernel_id].refresh_model)
        except web.HTTPError as exc:
            raise http_error(exc.status_code, clean_error(exc)) from None

    async def interrupt_kernel(self, kernel_id: str, **kwargs: Any) -> None:  # type: ignore[override]
        if not self.is_remote(kernel_id):
            await ensure_async(super().interrupt_kernel(kernel_id))
            return
        try:
            await gateway.call(lambda: self.remote.interrupt_kernel(kernel_id))
        except web.HTTPError as exc:
            raise http_error(exc.status_code, clean_error(exc)) from None

    async def shutdown_all(self, now: bool = False) -> None:  # type: ignore[override]
        # Not super().shutdown_all(): it ends every id of list_kernel_ids() the local way,
        # and a session kernel's id raised KeyError there, which left the server running.
        end_local = super().shutdown_kernel
        local = {*super().list_kernel_ids(), *self._pending_kernels}
        results = await asyncio.gather(
            *(end_local(kid, now=now) for kid in local), return_exceptions=True
        )
        for kid, result in zip(local, results, strict=True):
            if isinstance(result, Exception):
                self.log.warning("Could not shut down kernel %s: %s", kid, result)
        for kid in list(self.remote._kernels):
            try:
                await self.shutdown_kernel(kid, now=now)
            except Exception as exc:
                self.log.warning("Could not end session kernel %s: %s", kid, clean_error(exc))

    # --- models -----------------------------------------------------------------------------

    def kernel_model(self, kernel_id: str) -> Any:
        """A local kernel's model; for a session kernel, an awaitable of its fresh model
        (callers use ensure_async)."""
        if not self.is_remote(kernel_id):
            return super().kernel_model(kernel_id)
        return self._fresh_model(kernel_id)

    async def _fresh_model(self, kernel_id: str) -> dict[str, Any]:
        km = self.remote._kernels[kernel_id]
        try:
            model = await gateway.call(km.refresh_model)
        except Exception as exc:  # keep the last known model: the gateway may be slow
            self.log.debug("Could not refresh kernel %s: %s", kernel_id, clean_error(exc))
        else:
            if model is None:
                self.remote.remove_kernel(kernel_id)
                gateway.started_here.discard(kernel_id)
                raise web.HTTPError(404, "Kernel does not exist: %s", kernel_id)
        return self._remote_model(kernel_id)

    def _remote_model(self, kernel_id: str) -> dict[str, Any]:
        km = self.remote._kernels[kernel_id]
        remote = dict(km.kernel or {})
        return {
            **remote,
            "id": kernel_id,
            "name": remote.get("name") or km.kernel_name,
            "last_activity": remote.get("last_activity"),
            "execution_state": remote.get("execution_state", "unknown"),
            "connections": int(remote.get("connections") or 0),
            "metadata": {
                **(remote.get("metadata") or {}),
                "startedHere": kernel_id in gateway.started_here,
            },
        }

    async def list_kernels(self) -> list[dict[str, Any]]:
        await self._sync_remote()
        local: list[dict[str, Any]] = super().list_kernels()
        return local + [self._remote_model(kid) for kid in list(self.remote._kernels)]

    async def kernel_for_session(self, session_name: str) -> str:
        """The id of the kernel that runs a session, attached to this server; or an
        ApiError saying why there is none."""
        await self._sync_remote(fresh=True)
        for kid, km in list(self.remote._kernels.items()):
            if session_of_kernel(km.kernel) == session_name:
                return kid
        raise errors.NotFound(
            f"The kernel gateway runs no kernel for session {session_name.rsplit('/', 1)[-1]}: "
            "only an ACTIVE session with a Jupyter kernel has one"
        )

    async def _sync_remote(self, fresh: bool = False) -> None:
        """Learn which kernels the gateway runs (briefly cached): new ones become
        attachable, ended ones are dropped. With ``fresh``, ask now and raise failures."""
        if not gateway.enabled:
            return
        async with self._list_lock:
            if not fresh and time.monotonic() - self._listed_at < KERNEL_LIST_CACHE_SECONDS:
                return
            try:
                models = await gateway.request("/api/kernels")
            except Exception as exc:
                if fresh:
                    raise errors.Unavailable(
                        f"Could not list session kernels: {clean_error(exc)}"
                    ) from None
                self.log.warning("Could not list session kernels: %s", clean_error(exc))
                return
            finally:
                self._listed_at = time.monotonic()
            seen: set[str] = set()
            for model in models if isinstance(models, list) else []:
                if not isinstance(model, dict) or not model.get("id"):
                    continue
                kid = str(model["id"])
                seen.add(kid)
                km = self.remote._kernels.get(kid)
                if km is None:
                    km = self.remote.kernel_manager_factory(parent=self.remote, log=self.log)
                    km.kernels_url = gateway.kernels_url
                    km.kernel_id = kid
                    km.kernel_url = url_path_join(gateway.kernels_url, url_escape(kid))
                    km.kernel_name = str(model.get("name") or "")
                    self.remote._kernels[kid] = km
                await km.refresh_model(model)
            for kid in list(self.remote._kernels):
                if kid not in seen:
                    self.remote.remove_kernel(kid)
                    gateway.started_here.discard(kid)

    # --- what the ZMQ side needs only for local kernels ----------------------------------------

    def notify_connect(self, kernel_id: str) -> None:
        if not self.is_remote(kernel_id):
            super().notify_connect(kernel_id)

    def notify_disconnect(self, kernel_id: str) -> None:
        if not self.is_remote(kernel_id):
            super().notify_disconnect(kernel_id)

    def update_env(self, *, kernel_id: str, env: dict[str, str]) -> None:
        """A notebook renamed or moved (JupyterLab PATCHes its session right after
        starting it): a session kernel's environment is its session's, left as it is."""
        if not self.is_remote(kernel_id):
            super().update_env(kernel_id=kernel_id, env=env)


class SessionWebSocketConnection(GatewayWebSocketConnection):
    """The gateway's websocket for a session kernel, with a fresh token on each connect;
    once the kernel reports itself dead (its session ended) the client's socket closes."""

    MAX_PENDING = 1000  # messages kept while the gateway's websocket reconnects

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: list[str] = []

    async def connect(self) -> None:
        # Small frames both ways: no Nagle delay on the browser's socket.
        self.websocket_handler.set_nodelay(True)
        await gateway.authorize()
        # As GatewayWebSocketConnection.connect, with the network's CA bundle, and through
        # the proxy when one applies (tornado's websocket_connect cannot use one).
        self.ws = None
        client = GatewayClient.instance()
        ws_url = url_path_join(
            client.ws_url or "", client.kernels_endpoint, query_escape(self.kernel_id), "channels"
        )
        if self.session_id:
            ws_url += f"?session_id={query_escape(self.session_id)}"
        args = client.load_connection_args()
        future: Future[Any]
        if gateway.proxied is not None:
            self.log.info("Connecting to %s through the proxy", ws_url)
            future = gateway.proxied.websocket_connect(ws_url, **args)
        else:
            self.log.info("Connecting to %s", ws_url)
            if gateway.ca_certs:
                args.setdefault("ca_certs", gateway.ca_certs)
            future = cast(
                "Future[Any]", tornado_websocket.websocket_connect(HTTPRequest(ws_url, **args))
            )
        self.ws_future = future
        future.add_done_callback(self._connection_done)
        IOLoop.current().add_future(
            future, lambda _: IOLoop.current().spawn_callback(self._read_messages)
        )

    def _write_message(self, message: str) -> None:
        """Send to the gateway; while its websocket is down (a gateway or emulator restart),
        keep the message for the reconnection instead of dropping it."""
        if self.disconnected:
            return
        ws = self.ws
        if ws is not None and ws.protocol is not None and not ws.protocol.is_closing():
            try:
                ws.write_message(message)
                return
            except tornado_websocket.WebSocketClosedError:
                pass
        if len(self._pending) < self.MAX_PENDING:
            self._pending.append(message)

    def _connection_done(self, fut: Any) -> None:
        if not fut.cancelled() and fut.exception() is not None:
            self.log.warning(
                "Could not connect to the kernel %s on the gateway: %s",
                self.kernel_id,
                clean_error(fut.exception()),
            )
        super()._connection_done(fut)
        if self.ws is not None and not fut.cancelled() and fut.exception() is None:
            pending, self._pending = self._pending, []
            for message in pending:
                self._write_message(message)

    def handle_outgoing_message(self, incoming_msg: str, *args: Any) -> None:
        super().handle_outgoing_message(incoming_msg, *args)
        if '"dead"' in incoming_msg and '"status"' in incoming_msg:
            try:
                msg = json_decode(incoming_msg)
            except ValueError:
                return
            if (msg.get("content") or {}).get("execution_state") == "dead":
                self.disconnected = True
                if self.ws is not None:
                    self.ws.close()
                self.websocket_handler.close(1000, "The session's kernel is gone")


class SessionAwareConnection(BaseKernelWebsocketConnection):
    """Picks the websocket connection by kernel: ZMQ for local, the gateway for sessions."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        parent = kwargs.get("parent")
        if isinstance(parent, GatewayKernelManager):
            return SessionWebSocketConnection(*args, **kwargs)
        return ZMQChannelsWebsocketConnection(*args, **kwargs)


def install(serverapp: Any) -> bool:
    """Make the server mix session kernels in, unless its kernel classes are configured
    otherwise (then leave them: another extension or the user chose)."""
    chosen = serverapp.config.get("ServerApp", {})
    taken = [
        key
        for key in (
            "kernel_manager_class",
            "kernel_spec_manager_class",
            "kernel_websocket_connection_class",
        )
        if key in chosen
    ]
    if taken:
        log.warning(
            "Session kernels are off: ServerApp.%s is configured; remove it or set "
            "SessionsExtensionApp.session_kernels = False to silence this",
            taken[0],
        )
        return False
    serverapp.kernel_spec_manager_class = SessionKernelSpecManager
    serverapp.kernel_manager_class = SessionKernelManager
    serverapp.kernel_websocket_connection_class = SessionAwareConnection
    return True
