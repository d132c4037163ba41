"""The Jupyter server extension: proxy, event stream and the embedded emulator."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, List, Unicode, default

from .._version import __version__
from ..api.defaults import DEFAULT_LOCATION, DEFAULT_PROJECT, default_data_dir
from .backend import Backend, BackendClient, LocalBackend, UrlBackend
from .events_bus import EventBus
from .handlers import ConfigHandler, EventsHandler, OpenApiHandler, ProxyHandler
from .kernel_handlers import API_OVERRIDES, SessionKernelHandler
from .log_handler import SessionLogHandler
from .watcher import WatcherRegistry, WatchSettings

# At shutdown: ending started session kernels calls the gateway (each call bounded by its
# own timeout too); the emulator's supervisor waits 20 s for it, then kills it.
STOP_KERNELS_TIMEOUT = 15.0
STOP_BACKEND_TIMEOUT = 35.0


class SessionsExtensionApp(ExtensionApp):
    """Manage Dataproc interactive sessions from Jupyter."""

    name = "jupyter_sessions"
    load_other_extensions = True

    # Why Spark Connect sessions cannot run on the embedded emulator (None: not probed yet).
    _spark_connect_problem: str | None = None

    backend = Unicode(
        "local",
        config=True,
        help=(
            "Where the Sessions API lives: 'local' (the embedded emulator, started and "
            "supervised by the server), 'dataproc' (Google Cloud Dataproc), or the URL of a "
            "Sessions API endpoint (the prefix of its v1/ paths)."
        ),
    )
    project = Unicode("", config=True, help="Default project of the sessions panel and magics.")
    location = Unicode(
        "", config=True, help="Default location (region) of the sessions panel and magics."
    )
    user = Unicode(
        "", config=True, help="The user shown as 'mine' in the panels (defaults per backend)."
    )
    steady_poll_interval = Float(
        10.0, config=True, help="Seconds between polls while no session is in transition."
    )
    transition_poll_interval = Float(
        0.5, config=True, help="Seconds between polls while a session is starting or stopping."
    )
    full_list_interval = Float(
        60.0, config=True, help="Seconds between full listings (to notice deletions)."
    )
    active_poll_interval = Float(
        2.0,
        config=True,
        help="Seconds between polls of a polled backend (Dataproc) while the parent was used "
        "through the proxy in the last two minutes.",
    )
    active_window = Float(
        120.0,
        config=True,
        help="Seconds a use of a parent (a request through the proxy, a panel opening or "
        "saying it is visible and in use) keeps its polls at active_poll_interval.",
    )
    idle_poll_interval = Float(
        30.0,
        config=True,
        help="Seconds between polls of a polled backend after ten minutes without use.",
    )
    poll_budget = Float(
        60.0,
        config=True,
        help="Most requests per minute the Watcher sends to a polled backend for one parent "
        "(60 is 0.8% of Dataproc's regional quota of 7,500 a minute).",
    )
    watch_timeout = Float(
        5.0,
        config=True,
        help="Deadline in seconds of each of the Watcher's own looks at the backend (and the "
        "longest silence of the change feed): a hung backend is reported this soon.",
    )
    change_feed = Bool(
        True,
        config=True,
        help="Follow the backend's change feed when it has one (the emulator's) instead of "
        "polling; Dataproc is always polled.",
    )
    max_backoff = Float(
        10.0,
        config=True,
        help="Longest wait, in seconds, between polls while the backend is unreachable.",
    )
    heartbeat_interval = Float(
        15.0, config=True, help="Seconds between heartbeat events on an idle event stream."
    )
    dataproc_endpoint = Unicode(
        "",
        config=True,
        help=(
            "Endpoint of the 'dataproc' backend: 'regional' (the default: "
            "https://LOCATION-dataproc.googleapis.com/), 'global' "
            "(https://dataproc.googleapis.com/), 'rep' (https://dataproc.LOCATION.rep."
            "googleapis.com/), or a base URL (https://, or http:// on loopback only)."
        ),
    )
    quota_project = Unicode(
        "",
        config=True,
        help=(
            "Project billed for Dataproc API quota (the x-goog-user-project header) with the "
            "'dataproc' backend; defaults to the credentials' own quota project."
        ),
    )
    request_timeout = Float(
        30.0, config=True, help="Timeout in seconds of each request to the sessions backend."
    )
    proxy = Unicode(
        "",
        config=True,
        help=(
            "Proxy of calls to Google with the 'dataproc' backend (http://[user:pass@]host:port); "
            "default: HTTPS_PROXY (HTTP_PROXY for http:// URLs), hosts in NO_PROXY excepted. "
            "Never used for the local emulator."
        ),
    )
    ca_bundle = Unicode(
        "",
        config=True,
        help=(
            "PEM file of certificate authorities trusted for calls to Google besides the "
            "system's (a TLS-inspecting proxy's); default: REQUESTS_CA_BUNDLE or SSL_CERT_FILE."
        ),
    )
    max_body_bytes = Int(
        4 * 1024 * 1024,
        config=True,
        help="Largest request body the proxy forwards, in bytes (the embedded emulator's own "
        "limit, 4 MiB, by default); a larger one gets 413.",
    )
    session_kernels = Bool(
        True,
        config=True,
        help="Offer session kernels in the kernel picker and the launcher (one per session "
        "template, plus a plain session), beside the local kernels, through the backend's "
        "kernel gateway.",
    )
    kernel_gateway_url = Unicode(
        "",
        config=True,
        help="URL of the kernel gateway that runs session kernels. Default: the embedded "
        "emulator's for 'local'; for 'dataproc', Google's "
        "https://PROJECT_NUMBER-dot-REGION.kernels.googleusercontent.com.",
    )
    project_number = Unicode(
        "",
        config=True,
        help="Number of the Google Cloud project (for the Dataproc kernel gateway's URL); "
        "looked up once from the project id when not set.",
    )
    resource_manager_endpoint = Unicode(
        "https://cloudresourcemanager.googleapis.com/",
        config=True,
        help="Where the project number is looked up (Cloud Resource Manager v1).",
    )
    kernel_start_timeout = Float(
        900.0,
        config=True,
        help="Seconds a session kernel may take to start (a Dataproc session can take "
        "minutes); the notebook shows the session starting meanwhile.",
    )
    emulator_runtime = Unicode(
        "kernel",
        config=True,
        help="Runtime of the embedded emulator: 'kernel' (a real kernel per session) or "
        "'simulated' (timers only).",
    )
    emulator_data_dir = Unicode(
        config=True, help="Directory of the embedded emulator's database and kernel files."
    )
    emulator_args = List(
        Unicode(),
        config=True,
        help="Extra command-line options of the embedded emulator (see "
        "'jupyter-sessions emulator --help').",
    )

    @default("emulator_data_dir")
    def _default_data_dir(self) -> str:
        return str(default_data_dir())

    # --- wiring -----------------------------------------------------------------------

    def initialize_settings(self) -> None:
        from .proxy_settings import network_settings

        self.network = network_settings(self.proxy, self.ca_bundle)
        self.backend_impl = self._make_backend()
        self.backend_client = BackendClient(
            self.backend_impl,
            self.request_timeout,
            network=self.network if self.backend.strip() == "dataproc" else None,
        )
        self.bus = EventBus(self.serverapp.event_logger if self.serverapp else None, self.log)
        self.watchers = WatcherRegistry(
            self.backend_client,
            WatchSettings(
                transition_interval=self.transition_poll_interval,
                steady_interval=self.steady_poll_interval,
                full_interval=self.full_list_interval,
                max_backoff=self.max_backoff,
                active_interval=self.active_poll_interval,
                active_window=self.active_window,
                idle_interval=self.idle_poll_interval,
                budget_per_minute=self.poll_budget,
                probe_timeout=self.watch_timeout,
                use_feed=self.change_feed,
            ),
            publish=self.bus.publish,
        )
        self.backend_impl.listeners.append(self.watchers.backend_changed)
        self._export_kernel_environment()

    def initialize_handlers(self) -> None:
        self.handlers.extend(
            [
                *API_OVERRIDES,
                (r"/jupyter-sessions/config", ConfigHandler),
                (r"/jupyter-sessions/kernel", SessionKernelHandler),
                (r"/jupyter-sessions/log", SessionLogHandler),
                (r"/jupyter-sessions/events", EventsHandler),
                (r"/jupyter-sessions/openapi.json", OpenApiHandler),
                (r"/jupyter-sessions/v1/(.*)", ProxyHandler),
            ]
        )

    def _make_backend(self) -> Backend:
        kind = self.backend.strip()
        if kind == "local":
            return LocalBackend(
                Path(self.emulator_data_dir), self.emulator_runtime, list(self.emulator_args)
            )
        if kind == "dataproc":
            from .dataproc import DataprocBackend

            return DataprocBackend(
                self.project,
                self.location,
                self.log,
                endpoint=self.dataproc_endpoint,
                quota_project=self.quota_project,
                network=self.network,
            )
        if kind.startswith(("http://", "https://")):
            return UrlBackend(kind)
        raise ValueError(
            f"SessionsExtensionApp.backend must be 'local', 'dataproc' or a URL, got {kind!r}"
        )

    def _export_kernel_environment(self) -> None:
        """Kernels started by this server inherit how to reach it."""
        server = self.serverapp
        if server is None:
            return
        try:
            token = server.identity_provider.token
        except AttributeError:
            token = ""
        if token:
            os.environ["JUPYTER_SESSIONS_TOKEN"] = token
        try:
            os.environ["JUPYTER_SESSIONS_URL"] = server.connection_url
        except Exception:  # the port is not bound yet; the start hook sets it
            pass

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        super()._link_jupyter_server_extension(serverapp)
        if self.session_kernels:
            from . import kernels

            kernels.install(serverapp)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self._export_kernel_environment()
        await self.backend_impl.start()
        if self.session_kernels:
            from .kernel_gateway import connect_gateway

            await connect_gateway(self)

    async def stop_extension(self) -> None:
        # Each step is bounded, so nothing here can keep the server from exiting, and the
        # log says which step was slow.
        started = time.monotonic()
        if self.session_kernels:
            from .kernel_gateway import end_started_session_kernels

            await self._bounded(
                "ending the sessions of kernels this server started",
                end_started_session_kernels(self.serverapp),
                STOP_KERNELS_TIMEOUT,
            )
        self.watchers.close()
        await self._bounded("closing the backend client", self.backend_client.close(), 10.0)
        await self._bounded("stopping the backend", self.backend_impl.stop(), STOP_BACKEND_TIMEOUT)
        self.log.info("jupyter_sessions stopped in %.1f s", time.monotonic() - started)

    async def _bounded(self, what: str, step: Awaitable[None], timeout: float) -> None:
        try:
            await asyncio.wait_for(step, timeout)
        except asyncio.TimeoutError:
            self.log.warning("Gave up %s after %.0f s, to let the server exit", what, timeout)
        except Exception as exc:
            self.log.warning("Failed %s: %s", what, exc)

    # --- what panels and magics need to know ------------------------------------------

    @property
    def _has_no_defaults(self) -> bool:
        # A made-up project would only hide the configuration error Dataproc reports.
        return self.backend_impl.kind == "dataproc"

    @property
    def default_project(self) -> str:
        project = self.project or getattr(self.backend_impl, "project", "")
        return project or ("" if self._has_no_defaults else DEFAULT_PROJECT)

    @property
    def default_location(self) -> str:
        location = self.location or getattr(self.backend_impl, "location", "")
        return location or ("" if self._has_no_defaults else DEFAULT_LOCATION)

    @property
    def default_parent(self) -> str:
        return f"projects/{self.default_project}/locations/{self.default_location}"

    def describe(self) -> dict[str, Any]:
        info = self.backend_impl.describe()
        user = self.user or getattr(self.backend_impl, "user", "")
        if not user and isinstance(self.backend_impl, LocalBackend):
            from ..api.defaults import default_creator

            user = default_creator()
        return {
            **info,
            "project": self.default_project,
            "location": self.default_location,
            "parent": self.default_parent,
            "user": user,
            "version": __version__,
            "heartbeatInterval": self.heartbeat_interval,
            "runtimes": self._runtimes(),
            **self._kernel_gateway_info(),
        }

    def _runtimes(self) -> dict[str, str]:
        """What the backend can run: each runtime choice with why it cannot ("" when it can).

        Only the embedded emulator's real runtimes have limits (no Scala kernel; Spark Connect
        needs PySpark and Java here); the simulated runtime and Dataproc run all three.
        """
        choices = {"PYTHON": "", "SCALA": "", "SPARK_CONNECT": ""}
        if not isinstance(self.backend_impl, LocalBackend) or self.emulator_runtime != "kernel":
            return choices
        if self._spark_connect_problem is None:
            from ..emulator.runtimes.connect import unavailable_reason

            self._spark_connect_problem = unavailable_reason()
        from ..emulator.runtimes.kernel import SCALA_UNAVAILABLE

        return {**choices, "SCALA": SCALA_UNAVAILABLE, "SPARK_CONNECT": self._spark_connect_problem}

    def _kernel_gateway_info(self) -> dict[str, Any]:
        if not self.session_kernels:
            return {"kernelGateway": "", "kernelGatewayError": "session kernels are off"}
        from .kernels import gateway

        return {"kernelGateway": gateway.url, "kernelGatewayError": gateway.problem}
