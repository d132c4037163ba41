"""HTTP handlers of the extension: config, the Sessions API proxy, the event stream.

All of them sit behind Jupyter's own authentication and authorization (auth_resource
``jupyter_sessions``); cookie-authenticated writes need the XSRF token, as everywhere in
Jupyter. Every error is a google.rpc.Status envelope.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_plus

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.iostream import StreamClosedError

from ..api import errors
from ..api.codec import format_timestamp
from ..api.names import Parent
from ..api.routes import proxy_allow_list
from .feed import note_proxied
from .watcher import WatchEvent

if TYPE_CHECKING:
    from .app import SessionsExtensionApp

AUTH_RESOURCE = "jupyter_sessions"

# The Dataproc methods of the route table, names spelled as Dataproc spells them
# (api/names.py, the same rules as the event stream's parent).
_ALLOWED = proxy_allow_list()
_PARENT_OF = re.compile(r"^(projects/[^/]+)/(?:locations|regions)/([^/]+)/")
# Jupyter's own credentials may come in the query string; they stay on this server.
_JUPYTER_PARAMS = frozenset({"token", "_xsrf"})


def forwarded_query(query: str) -> str:
    """The query string sent upstream: as the client wrote it, minus Jupyter's token."""
    kept = [
        part
        for part in query.split("&")
        if part and unquote_plus(part.partition("=")[0]) not in _JUPYTER_PARAMS
    ]
    return "&".join(kept)


def allowed_path(raw: str) -> str | None:
    """The backend path for a raw (still percent-encoded) request path, or None.

    Only the paths of the route table's Dataproc methods pass (sessions, sessionTemplates
    and operations); anything encoded but a colon, any dot segment, an absolute URL or an
    empty segment is refused.
    """
    return _ALLOWED(raw)


class SessionsHandler(ExtensionHandlerMixin, APIHandler):
    """Base: the extension app, and errors as google.rpc.Status envelopes."""

    auth_resource = AUTH_RESOURCE

    @property
    def sessions_app(self) -> SessionsExtensionApp:
        return self.extensionapp  # type: ignore[return-value]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, errors.ApiError):
            err = exc
        else:
            message = ""
            if isinstance(exc, web.HTTPError):
                message = exc.log_message or exc.reason or ""
            err = errors.ApiError.from_http(status_code, None)
            if message:
                err = type(err)(message, http_status=status_code)
            elif status_code == 403:
                err = errors.PermissionDenied(
                    "Forbidden: Jupyter credentials are missing or not allowed", http_status=403
                )
        self.send_error_json(err)

    def send_error_json(self, err: errors.ApiError) -> None:
        self.clear()
        self.set_status(err.http_status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(err.to_http_json()))


class ConfigHandler(SessionsHandler):
    """``GET jupyter-sessions/config``: what the extension talks to."""

    _track_activity = False  # polled by panels; must not keep an idle server alive

    @web.authenticated
    @authorized
    async def get(self) -> None:
        app = self.sessions_app
        # Right after start-up the emulator may still be coming up: report its real
        # endpoint once it answers (bounded), not an empty one.
        await app.backend_impl.ready(timeout=min(app.request_timeout, 30.0))
        self.finish(json.dumps(app.describe()))


class OpenApiHandler(SessionsHandler):
    """``GET jupyter-sessions/openapi.json``: the OpenAPI 3 description of these routes."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from ..openapi import load_spec

        spec = {**load_spec("extension"), "servers": [{"url": self.base_url}]}
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(spec))


class ProxyHandler(SessionsHandler):
    """``jupyter-sessions/v1/...``: the allow-listed Sessions API, forwarded."""

    async def _forward(self) -> None:
        prefix = url_path_join(self.base_url, "jupyter-sessions/v1/")
        raw = self.request.path[len(prefix) :] if self.request.path.startswith(prefix) else ""
        path = allowed_path(raw)
        if path is None:
            self.send_error_json(
                errors.NotFound(
                    "Not a Sessions API path: only projects/*/locations/*/sessions, "
                    "sessionTemplates and operations are forwarded"
                )
            )
            return
        app = self.sessions_app
        method = self.request.method or "GET"
        size = len(self.request.body or b"")
        if size > app.max_body_bytes:
            # Answered here: the emulator would drop the connection without a word.
            self.send_error_json(
                errors.InvalidArgument(
                    f"Request body too large: {size} bytes, the limit is "
                    f"{app.max_body_bytes} bytes",
                    http_status=413,
                )
            )
            return
        body = self.request.body if method in ("POST", "PATCH", "PUT", "DELETE") else None
        headers = {"Content-Type": "application/json"} if body else {}
        try:
            response = await app.backend_client.request(
                method,
                "v1/" + path,
                query=forwarded_query(self.request.query),
                body=body or None,
                headers=headers,
            )
        except errors.ApiError as exc:
            self.send_error_json(self._upstream_error(exc))
            return
        parent = _PARENT_OF.match(path)
        if parent:
            # What passes through tells the Watcher at once, reads included.
            watched = f"{parent.group(1)}/locations/{parent.group(2)}"
            note_proxied(app.watchers, watched, method, path, response)
        if method != "GET" and "/sessionTemplates" in path and response.status_code < 400:
            from .kernels import gateway

            gateway.forget_specs()  # each template is a kernelspec: show the change at once
            if parent:
                from .template_events import note_template_write

                note_template_write(app.watchers, watched, method, path, response)
        if response.headers.get("Retry-After"):
            # Proxy retries gave up within their bound: the client may wait longer.
            self.set_header("Retry-After", response.headers["Retry-After"])
        self._relay(
            response.status_code,
            response.content,
            response.headers.get("content-type"),
            lambda err: app.backend_impl.rewrite_error(method, "v1/" + path, err),
        )

    @staticmethod
    def _upstream_error(exc: errors.ApiError) -> errors.ApiError:
        if isinstance(exc, errors.DeadlineExceeded):
            return errors.DeadlineExceeded(exc.message, http_status=504)
        if isinstance(exc, errors.Unavailable) and "unreachable" in exc.message:
            return errors.Unavailable(exc.message, http_status=502)
        return exc

    def _relay(
        self,
        status: int,
        content: bytes,
        content_type: str | None,
        rewrite: Callable[[errors.ApiError], errors.ApiError],
    ) -> None:
        self.set_status(status)
        is_json = bool(content_type and "json" in content_type)
        if status >= 400:
            try:
                body = json.loads(content) if is_json else None
            except ValueError:
                body = None
            if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
                # Keep the envelope even when the upstream sent HTML or plain text.
                err = errors.ApiError.from_http(status, None)
                text = content.decode("utf-8", "replace").strip()[:300]
                err = type(err)(
                    f"The sessions backend answered HTTP {status}: {text}", http_status=status
                )
                self.send_error_json(rewrite(err))
                return
            # The backend may know a clearer message (how to log in, which permission).
            err = errors.ApiError.from_http(status, body)
            clearer = rewrite(err)
            if clearer is not err:
                self.send_error_json(clearer)
                return
        self.set_header("Content-Type", content_type or "application/json; charset=UTF-8")
        self.finish(content)

    @web.authenticated
    @authorized
    async def get(self, _: str = "") -> None:
        await self._forward()

    @web.authenticated
    @authorized
    async def post(self, _: str = "") -> None:
        await self._forward()

    @web.authenticated
    @authorized
    async def delete(self, _: str = "") -> None:
        await self._forward()

    @web.authenticated
    @authorized
    async def patch(self, _: str = "") -> None:
        await self._forward()

    @web.authenticated
    @authorized
    async def put(self, _: str = "") -> None:
        await self._forward()


class EventsHandler(SessionsHandler):
    """``jupyter-sessions/events?parent=...``: Server-Sent Events from the Watcher."""

    _track_activity = False  # a stream open in a tab must not defeat idle culling

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self._closed = asyncio.Event()

    def on_connection_close(self) -> None:
        self._closed.set()

    @web.authenticated
    @authorized
    async def get(self) -> None:
        app = self.sessions_app
        parent_text = self.get_query_argument("parent", "") or app.default_parent
        try:
            # The proxy's character rules: a parent reaches the backend only as a parent.
            checked = Parent.parse(parent_text)
        except errors.ApiError as exc:
            self.send_error_json(exc)
            return
        parent = "projects/{}/locations/{}".format(
            quote(checked.project, safe=":"), quote(checked.location, safe="")
        )
        self.set_header("Content-Type", "text/event-stream; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        watcher, sub = app.watchers.subscribe(parent)
        heartbeat = app.heartbeat_interval
        try:
            self.write("retry: 2000\n\n")
            await self.flush()
            while not self._closed.is_set():
                getter = asyncio.ensure_future(sub.queue.get())
                closer = asyncio.ensure_future(self._closed.wait())
                done, _ = await asyncio.wait(
                    {getter, closer}, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED
                )
                closer.cancel()
                if getter in done:
                    self._write_event(getter.result())
                else:
                    getter.cancel()
                    if self._closed.is_set():
                        break
                    self._write_event(
                        WatchEvent(
                            "heartbeat", {"time": format_timestamp(datetime.now(timezone.utc))}
                        )
                    )
                await self.flush()
        except StreamClosedError:
            pass
        finally:
            watcher.unsubscribe(sub)

    def _write_event(self, event: WatchEvent) -> None:
        data = json.dumps(event.data, separators=(",", ":"))
        self.write(f"event: {event.kind}\ndata: {data}\n\n")

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """A panel showing ``parent`` is visible and in use: a polled backend is looked at
        often for a while (the change feed needs no such hint)."""
        parent_text = self.get_query_argument("parent", "") or self.sessions_app.default_parent
        try:
            checked = Parent.parse(parent_text)
        except errors.ApiError as exc:
            self.send_error_json(exc)
            return
        self.sessions_app.watchers.touch(
            f"projects/{quote(checked.project, safe=':')}/locations/"
            f"{quote(checked.location, safe='')}"
        )
        self.finish("{}")
