"""The emulator's REST surface: Dataproc v1 paths over tornado, google.rpc.Status errors.

Every request, including unknown paths, wrong methods and malformed JSON, is answered
with JSON; nothing a client sends can produce an HTML page or a traceback.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import tornado.web
from tornado.log import access_log

from .._version import __version__
from ..api import errors, routes
from ..api.codec import Message
from .auth import redact_query
from .changes import stream_feed
from .engine import SessionService
from .faults import Faults, InjectedFault
from .gateway import DEFAULT_GATEWAY_PARENT, gateway_routes
from .guard import DEFAULT_ALLOWED_HOSTS, check_request

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024

Authenticator = Callable[[tornado.httputil.HTTPServerRequest], None]


class Stats:
    """Request counts by route, so tests and benchmarks can see what reached the backend."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.started = time.time()

    def to_json(self) -> dict[str, Any]:
        return {
            "total": sum(self.requests.values()),
            "requests": dict(self.requests),
            "since": self.started,
        }


class ApiHandler(tornado.web.RequestHandler):
    """One handler for every path: routes by the API's route table (api/routes.py)."""

    SUPPORTED_METHODS = ("GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "OPTIONS")
    LOCAL_PATHS = ("/healthz", "/emulator/stats")  # outside v1/, never authenticated
    OPENAPI_PATH = "/v1/openapi.json"

    def initialize(
        self,
        service: SessionService,
        stats: Stats,
        authenticate: Authenticator | None,
        faults: Faults | None = None,
        allowed_hosts: frozenset[str] = frozenset(DEFAULT_ALLOWED_HOSTS),
    ) -> None:
        self.service = service
        self.stats = stats
        self.authenticate = authenticate
        self.faults = faults
        self.allowed_hosts = allowed_hosts

    def check_xsrf_cookie(self) -> None:  # an API, not a browser app
        return

    async def _dispatch(self) -> None:
        route = "unknown"
        try:
            path = self.request.path
            check_request(self.request, self.allowed_hosts)  # before anything, /healthz too
            if path in self.LOCAL_PATHS:
                route = path
                self._write_json(self._local(path))
                return
            if self.authenticate is not None:
                self.authenticate(self.request)
            if path == self.OPENAPI_PATH:
                route = "openapi"
                self._write_json(self._openapi())
                return
            result = self._route(path)
            if inspect.isawaitable(result):  # the change feed streams its own answer
                await result
                return
            if isinstance(result, Message):
                self._write_json(result.to_json(enum_ints=self._enum_ints()))
            else:
                self._write_json(result)
        except errors.ApiError as exc:
            self._write_error_json(exc)
        except InjectedFault as fault:
            self._write_error_json(fault.error, fault.headers)
        except Exception:
            log.exception("Unexpected error for %s %s", self.request.method, self.request.path)
            self._write_error_json(errors.Internal("Internal error in the emulator"))
        finally:
            if route == "unknown":
                route = self.route_name
            self.stats.requests[f"{self.request.method} {route}"] += 1

    get = post = delete = patch = put = head = options = _dispatch

    # --- routing ----------------------------------------------------------------------

    route_name = "unknown"

    def _route(self, path: str) -> Any:
        """Find the API method for this path and HTTP method (api/routes.py), and call it."""
        method = self.request.method or "GET"
        if not path.startswith("/v1/"):
            raise errors.NotFound(f"No such path: {path}")
        segments = [unquote(part) for part in path[1:].split("/")]
        if any(not s or "/" in s for s in segments):
            raise errors.NotFound(f"No such path: {path}")
        found = routes.match(method, "/".join(segments))
        if found is None:
            if not routes.known_path("/".join(segments)):
                raise errors.NotFound(f"No such path: {path}")
            raise errors.NotFound(f"No method {method} {path}")
        self.route_name = found.route.name
        if self.faults:
            self.faults.check(self.route_name, found.resource)
        return self._api()[self.route_name](found.variables)

    def _api(self) -> dict[str, Callable[[dict[str, str]], Any]]:
        """Each API method of the route table, called with its path's variables."""
        svc = self.service
        q = self._query

        def listing(fn: Callable[[str, int | None, str | None, str | None], Any], at: str) -> Any:
            return fn(at, self._page_size(), q("pageToken"), q("filter"))

        def empty(fn: Callable[[str], None], name: str) -> dict[str, Any]:
            fn(name)
            return {}

        return {
            "sessions.create": lambda v: svc.create_session(
                v["parent"], q("sessionId"), q("requestId"), self._body()
            ),
            "sessions.get": lambda v: svc.get_session(v["name"]),
            "sessions.list": lambda v: listing(svc.list_sessions, v["parent"]),
            "sessions.terminate": lambda v: svc.terminate_session(
                v["name"], self._body_request_id()
            ),
            "sessions.delete": lambda v: svc.delete_session(v["name"], q("requestId")),
            # Beyond the Dataproc API: the change feed (see changes.py).
            "sessions.watch": lambda v: stream_feed(
                self, svc.store.changes, v["parent"], q("since"), q("wait"), q("heartbeat")
            ),
            "sessionTemplates.create": lambda v: svc.create_template(v["parent"], self._body()),
            "sessionTemplates.get": lambda v: svc.get_template(v["name"]),
            "sessionTemplates.list": lambda v: listing(svc.list_templates, v["parent"]),
            "sessionTemplates.patch": lambda v: svc.update_template(
                v["sessionTemplate.name"], self._body()
            ),
            "sessionTemplates.delete": lambda v: empty(svc.delete_template, v["name"]),
            "operations.list": lambda v: listing(svc.list_operations, v["name"]),
            "operations.get": lambda v: svc.get_operation(v["name"]),
            "operations.delete": lambda v: empty(svc.delete_operation, v["name"]),
            "operations.cancel": lambda v: empty(svc.cancel_operation, v["name"]),
        }

    def _body_request_id(self) -> str | None:
        body = self._body() or {}
        request_id = body.get("requestId", body.get("request_id"))
        if request_id is not None and not isinstance(request_id, str):
            raise errors.bad_request("requestId", "expected a string")
        return request_id

    def _query(self, name: str) -> str | None:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
        for key in (name, snake):
            values = self.request.query_arguments.get(key)
            if values:
                try:
                    return values[-1].decode("utf-8")
                except UnicodeDecodeError:
                    raise errors.bad_request(name, "is not valid UTF-8") from None
        return None

    def _page_size(self) -> int | None:
        raw = self._query("pageSize")
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            raise errors.bad_request("pageSize", f"expected an integer, got {raw!r}") from None
        if not -(2**31) <= value < 2**31:
            raise errors.bad_request("pageSize", "out of range for int32")
        return value

    def _body(self) -> dict[str, Any] | None:
        raw = self.request.body
        if not raw or not raw.strip():
            return None
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.InvalidArgument(f"Invalid JSON payload received: {exc}") from None
        except RecursionError:
            raise errors.InvalidArgument(
                "Invalid JSON payload received: nested too deeply"
            ) from None
        if not isinstance(data, dict):
            raise errors.InvalidArgument("Invalid JSON payload received: expected an object")
        return data

    def _enum_ints(self) -> bool:
        for key in ("$alt", "alt"):
            for value in self.request.query_arguments.get(key, []):
                if b"enum-encoding=int" in value:
                    return True
        return False

    def _openapi(self) -> dict[str, Any]:
        from ..openapi import load_spec

        if self.request.method not in ("GET", "HEAD"):
            raise errors.NotFound(f"No method {self.request.method} {self.OPENAPI_PATH}")
        return load_spec("emulator")

    def _local(self, path: str) -> dict[str, Any]:
        if path == "/healthz":
            return {
                "status": "ok",
                "pid": os.getpid(),
                "runtime": self.service.runtime.kind,
                "version": __version__,
            }
        return self.stats.to_json()

    # --- output -----------------------------------------------------------------------

    def _write_json(self, body: dict[str, Any]) -> None:
        self.set_status(200)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        if self.request.method != "HEAD":
            self.write(json.dumps(body, separators=(",", ":")))

    def _write_error_json(
        self, exc: errors.ApiError, headers: dict[str, str] | None = None
    ) -> None:
        self.clear()
        self.set_status(exc.http_status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        for name, value in (headers or {}).items():
            self.set_header(name, value)
        if exc.http_status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter-sessions-emulator"')
        if self.request.method != "HEAD":
            self.write(json.dumps(exc.to_http_json(), separators=(",", ":")))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Tornado's own errors (bad HTTP, oversize bodies) in the same envelope."""
        code = errors.ApiError.from_http(status_code, None)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(code.to_http_json()))


def log_request(handler: tornado.web.RequestHandler) -> None:
    """tornado's access log line, with credentials in the query string hidden."""
    request, status = handler.request, handler.get_status()
    log_method = (
        access_log.info
        if status < 400
        else access_log.warning
        if status < 500
        else access_log.error
    )
    uri = request.path + (f"?{redact_query(request.query)}" if request.query else "")
    millis = 1000.0 * request.request_time()
    log_method("%d %s %s (%s) %.2fms", status, request.method, uri, request.remote_ip, millis)


def make_app(
    service: SessionService,
    *,
    authenticate: Authenticator | None = None,
    faults: Faults | None = None,
    allowed_hosts: frozenset[str] = frozenset(DEFAULT_ALLOWED_HOSTS),
    gateway_parent: str = DEFAULT_GATEWAY_PARENT,
    kernel_start_timeout: float = 300.0,
) -> tornado.web.Application:
    stats = Stats()
    handler_args = {
        "service": service,
        "stats": stats,
        "authenticate": authenticate,
        "faults": faults,
        "allowed_hosts": allowed_hosts,
    }
    app = tornado.web.Application(
        [
            *gateway_routes(service, gateway_parent, authenticate, kernel_start_timeout),
            (r"/.*", ApiHandler, handler_args),
        ],
        default_handler_class=None,
        compress_response=False,
        log_function=log_request,
    )
    app.settings["stats"] = stats
    # Other handlers of this app pass it to guard.check_request too.
    app.settings["allowed_hosts"] = allowed_hosts
    return app
