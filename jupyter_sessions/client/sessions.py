"""SessionsClient and AsyncSessionsClient: the Sessions API over httpx.

One client class talks to every backend, because all of them serve the same Dataproc v1
REST paths under an ``api_root``:

- the emulator: ``http://127.0.0.1:PORT/``
- the Jupyter server extension: ``http://HOST:8888/BASE/jupyter-sessions/`` (Jupyter token)
- Google: ``https://dataproc.googleapis.com/`` (OAuth bearer token)

Both clients share request building, retry decisions and response parsing
(``_ClientBase``); only the transport loop and the sleeps differ.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from .._version import __version__
from ..api import errors
from ..api.backoff import Backoff
from ..api.defaults import DEFAULT_LOCATION, DEFAULT_PROJECT
from ..api.errors import (
    Aborted,
    AlreadyExists,
    ApiError,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
)
from ..api.model import (
    ListSessionsResponse,
    ListSessionTemplatesResponse,
    Operation,
    Session,
    SessionTemplate,
    State,
)
from ..api.names import ChildName, Parent
from ..api.routes import expand
from .discovery import (
    ENV_LOCATION,
    ENV_PROJECT,
    DiscoveryError,
    ServerConfig,
    discover_server,
    fetch_server_config,
)
from .retry import retry_after

__all__ = [
    "DEFAULT_LOCATION",
    "DEFAULT_PROJECT",
    "DEFAULT_WAIT_STATES",
    "Aborted",
    "AlreadyExists",
    "ApiError",
    "AsyncSessionsClient",
    "Cancelled",
    "DataLoss",
    "DeadlineExceeded",
    "DiscoveryError",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "ServerConfig",
    "SessionsClient",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "discover_server",
    "fetch_server_config",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_WAIT_STATES: frozenset[State] = frozenset({State.ACTIVE, State.FAILED, State.TERMINATED})


# Status waits: first poll at once, then 0.2 s growing x1.5 up to 5 s.
_POLL = Backoff(first=0.2, cap=5.0, factor=1.5, jitter=0.0)
# A poll issued at the very end of a wait still gets this long to answer.
_MIN_POLL_TIMEOUT = 1.0

# Request retries: exponential backoff with jitter, unless the server says how long.
_RETRY_BACKOFF = Backoff(first=0.25, cap=8.0)
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A refused connection usually means a wrong URL: fail fast, but ride out a restart.
_CONNECT_RETRIES = 2
# Longer server-requested waits are not slept through silently: the error surfaces.
_MAX_RETRY_AFTER = 60.0
_CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One API call, independent of the transport: what to send and how to read it."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, str] | None = None
    body: dict[str, Any] | None = None
    # False: the request may have side effects if repeated, so it is retried only when the
    # connection failed before anything was sent.
    idempotent: bool = True


def _new_request_id() -> str:
    return uuid.uuid4().hex


def _parse_operation(data: Any) -> Operation:
    return Operation.from_json(data, strict=False)


def _parse_session(data: Any) -> Session:
    return Session.from_json(data, strict=False)


def _parse_template(data: Any) -> SessionTemplate:
    return SessionTemplate.from_json(data, strict=False)


def _parse_sessions_page(data: Any) -> ListSessionsResponse:
    return ListSessionsResponse.from_json(data, strict=False)


def _parse_templates_page(data: Any) -> ListSessionTemplatesResponse:
    return ListSessionTemplatesResponse.from_json(data, strict=False)


def _parse_empty(data: Any) -> None:
    return None


def _page_params(
    filter: str | None, page_size: int | None, page_token: str | None
) -> dict[str, str]:
    params: dict[str, str] = {}
    if filter:
        params["filter"] = filter
    if page_size is not None:
        params["pageSize"] = str(int(page_size))
    if page_token:
        params["pageToken"] = page_token
    return params


def _error_body(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    # Jupyter's own errors are {"message": ...}: keep their text.
    if isinstance(body, dict) and "error" not in body and isinstance(body.get("message"), str):
        return {"error": {"message": body["message"]}}
    return body


def _wanted_states(states: Iterable[State | str | int]) -> frozenset[State]:
    wanted: set[State] = set()
    for s in states:
        if isinstance(s, State):
            wanted.add(s)
        elif isinstance(s, str):
            try:
                wanted.add(State[s.upper()])
            except KeyError:
                raise errors.bad_request("states", f"unknown session state {s!r}") from None
        else:
            wanted.add(State(int(s)))
    if not wanted:
        raise errors.bad_request("states", "at least one state is required")
    return frozenset(wanted)


def _state_names(states: Iterable[State]) -> str:
    return " or ".join(s.name for s in sorted(states))


def _session_reached(name: str, session: Session, wanted: frozenset[State]) -> bool:
    if session.state in wanted:
        return True
    if session.state.is_final:
        # A final state never changes: waiting longer cannot succeed.
        detail = f": {session.state_message}" if session.state_message else ""
        raise FailedPrecondition(
            f"Session {name} is {session.state.name}{detail}; it will not become "
            f"{_state_names(wanted)}"
        )
    return False


def _operation_finished(operation: Operation) -> bool:
    """True once done; a failed operation raises its error as the matching ApiError."""
    if not operation.done:
        return False
    if operation.error is not None:
        raise ApiError.from_status(operation.error.to_json())
    return True


class _Waiter:
    """A bounded poll: backoff from 0.2 s growing x1.5 to 5 s, never sleeping past the
    deadline."""

    def __init__(self, timeout: float) -> None:
        self.timeout = float(timeout)
        self.started = time.monotonic()
        self.deadline = self.started + max(0.0, self.timeout)
        self._polls = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def next_delay(self) -> float | None:
        """Seconds to sleep before the next poll, or None once the deadline has passed."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return None
        delay = min(_POLL.step(self._polls), remaining)
        self._polls += 1
        return delay

    def session_timeout(self, name: str, wanted: frozenset[State], last: Session) -> ApiError:
        return DeadlineExceeded(
            f"Session {name} did not become {_state_names(wanted)} within "
            f"{self.timeout:g}s (it is {last.state.name})"
        )

    def operation_timeout(self, name: str) -> ApiError:
        return DeadlineExceeded(f"Operation {name} did not finish within {self.timeout:g}s")


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value


class _ClientBase:
    """State, request building, retry decisions and response parsing shared by both clients."""

    def __init__(
        self,
        api_root: str,
        *,
        token: str | None = None,
        bearer: str | None = None,
        auth_headers: Callable[[], dict[str, str]] | None = None,
        project: str | None = None,
        location: str | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        user_agent: str = f"jupyter-sessions/{__version__}",
    ) -> None:
        if not api_root.startswith(("http://", "https://")):
            raise ValueError(f"api_root must be an http(s) URL, got {api_root!r}")
        if token and bearer:
            raise ValueError("give either token (Jupyter) or bearer (Google), not both")
        self.api_root = api_root if api_root.endswith("/") else api_root + "/"
        self.project: str = project or os.environ.get(ENV_PROJECT) or DEFAULT_PROJECT
        self.location: str = location or os.environ.get(ENV_LOCATION) or DEFAULT_LOCATION
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.server_config: ServerConfig | None = None
        self._auth_headers = auth_headers
        self._headers: dict[str, str] = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"token {token}"
        elif bearer:
            self._headers["Authorization"] = f"Bearer {bearer}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.api_root!r}, project={self.project!r}, "
            f"location={self.location!r})"
        )

    @property
    def parent(self) -> Parent:
        """The default parent: ids resolve under it."""
        return Parent(self.project, self.location)

    @classmethod
    def _config_kwargs(
        cls, config: ServerConfig, token: str | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        merged = dict(kwargs)
        merged.setdefault("token", token)
        # Explicit arguments win; then what the server's backend is configured for.
        if not merged.get("project") and config.project:
            merged["project"] = config.project
        if not merged.get("location") and config.location:
            merged["location"] = config.location
        return merged

    # --- names ------------------------------------------------------------------------

    def _resolve_parent(self, parent: Parent | str | None) -> Parent:
        if parent is None:
            return self.parent
        if isinstance(parent, Parent):
            return parent
        return Parent.parse(parent)

    def _name(self, name_or_id: str, collection: str, parent: Parent | str | None = None) -> str:
        """A full resource name from a full name or an id (resolved under ``parent``)."""
        if not isinstance(name_or_id, str) or not name_or_id:
            raise errors.bad_request("name", "a resource name or id is required")
        if name_or_id.startswith("projects/"):
            ChildName.parse(name_or_id, collection)
            return name_or_id
        if "/" in name_or_id:
            raise errors.bad_request(
                "name",
                f"expected an id or projects/PROJECT/locations/LOCATION/{collection}/ID, "
                f"got {name_or_id!r}",
            )
        base = self._resolve_parent(parent)
        if collection == "operations":
            return base.operation(name_or_id)
        return f"{base.path}/{collection}/{name_or_id}"

    def _split(
        self, name_or_id: str, collection: str, parent: Parent | str | None
    ) -> tuple[Parent, str]:
        ref = ChildName.parse(self._name(name_or_id, collection, parent), collection)
        return ref.parent, ref.id

    # --- request building -------------------------------------------------------------

    def _create_session_call(
        self,
        session_id: str,
        session: Session | dict[str, Any] | None,
        request_id: str | None,
        parent: Parent | str | None,
    ) -> _Call[Operation]:
        where, sid = self._split(session_id, "sessions", parent)
        body = session.to_json() if isinstance(session, Session) else dict(session or {})
        return _Call(
            "POST",
            expand("sessions.create", parent=where.path),
            _parse_operation,
            params={"sessionId": sid, "requestId": request_id or _new_request_id()},
            body=body,
        )

    def _get_session_call(self, name_or_id: str) -> _Call[Session]:
        return _Call(
            "GET", expand("sessions.get", name=self._name(name_or_id, "sessions")), _parse_session
        )

    def _list_sessions_call(
        self,
        filter: str | None,
        page_size: int | None,
        page_token: str | None,
        parent: Parent | str | None,
    ) -> _Call[ListSessionsResponse]:
        return _Call(
            "GET",
            expand("sessions.list", parent=self._resolve_parent(parent).path),
            _parse_sessions_page,
            params=_page_params(filter, page_size, page_token),
        )

    def _terminate_session_call(self, name_or_id: str, request_id: str | None) -> _Call[Operation]:
        return _Call(
            "POST",
            expand("sessions.terminate", name=self._name(name_or_id, "sessions")),
            _parse_operation,
            body={"requestId": request_id or _new_request_id()},
        )

    def _delete_session_call(self, name_or_id: str, request_id: str | None) -> _Call[Operation]:
        return _Call(
            "DELETE",
            expand("sessions.delete", name=self._name(name_or_id, "sessions")),
            _parse_operation,
            params={"requestId": request_id or _new_request_id()},
        )

    def _get_operation_call(self, op_or_name: Operation | str) -> _Call[Operation]:
        name = op_or_name.name if isinstance(op_or_name, Operation) else op_or_name
        return _Call(
            "GET", expand("operations.get", name=self._name(name, "operations")), _parse_operation
        )

    def _template_body(
        self,
        template: SessionTemplate | dict[str, Any],
        name_or_id: str | None,
        parent: Parent | str | None,
    ) -> tuple[str, dict[str, Any]]:
        body = template.to_json() if isinstance(template, SessionTemplate) else dict(template)
        given = name_or_id or body.get("name")
        if not isinstance(given, str) or not given:
            raise errors.bad_request(
                "name",
                "a template id or name is required (projects/P/locations/L/sessionTemplates/ID)",
            )
        name = self._name(given, "sessionTemplates", parent)
        body["name"] = name
        return name, body

    def _create_template_call(
        self,
        template: SessionTemplate | dict[str, Any],
        template_id: str | None,
        parent: Parent | str | None,
    ) -> _Call[SessionTemplate]:
        name, body = self._template_body(template, template_id, parent)
        where = ChildName.parse(name, "sessionTemplates").parent
        return _Call(
            "POST",
            expand("sessionTemplates.create", parent=where.path),
            _parse_template,
            body=body,
            idempotent=False,
        )

    def _get_template_call(self, name_or_id: str) -> _Call[SessionTemplate]:
        return _Call(
            "GET",
            expand("sessionTemplates.get", name=self._name(name_or_id, "sessionTemplates")),
            _parse_template,
        )

    def _list_templates_call(
        self,
        filter: str | None,
        page_size: int | None,
        page_token: str | None,
        parent: Parent | str | None,
    ) -> _Call[ListSessionTemplatesResponse]:
        return _Call(
            "GET",
            expand("sessionTemplates.list", parent=self._resolve_parent(parent).path),
            _parse_templates_page,
            params=_page_params(filter, page_size, page_token),
        )

    def _update_template_call(
        self, template: SessionTemplate | dict[str, Any], name_or_id: str | None
    ) -> _Call[SessionTemplate]:
        name, body = self._template_body(template, name_or_id, None)
        return _Call(
            "PATCH",
            expand("sessionTemplates.patch", **{"sessionTemplate.name": name}),
            _parse_template,
            body=body,
            idempotent=False,
        )

    def _delete_template_call(self, name_or_id: str) -> _Call[None]:
        return _Call(
            "DELETE",
            expand("sessionTemplates.delete", name=self._name(name_or_id, "sessionTemplates")),
            _parse_empty,
            idempotent=False,
        )

    # --- sending: the parts both transports share -------------------------------------

    def request_headers(self) -> dict[str, str]:
        """The headers of the next request, credentials included (fresh ones when the
        client has an ``auth_headers`` provider): for streams opened outside the client."""
        # Called per attempt, so refreshed credentials apply to retries too.
        if self._auth_headers is None:
            return self._headers
        return {**self._headers, **self._auth_headers()}

    def _attempt_timeout(self, deadline: float | None) -> float:
        if deadline is None:
            return self.timeout
        return min(self.timeout, max(deadline - time.monotonic(), _MIN_POLL_TIMEOUT))

    @staticmethod
    def _httpx_timeout(seconds: float) -> httpx.Timeout:
        return httpx.Timeout(seconds, connect=min(seconds, _CONNECT_TIMEOUT))

    def _retry_delay(
        self,
        call: _Call[Any],
        attempt: int,
        *,
        response: httpx.Response | None = None,
        exc: Exception | None = None,
        deadline: float | None = None,
    ) -> float | None:
        """Seconds to wait before retrying, or None to stop and report this outcome."""
        if attempt >= self.retries:
            return None
        if exc is not None:
            if isinstance(exc, httpx.ConnectError):
                # Nothing was sent, so even non-idempotent calls are safe to repeat.
                if attempt >= _CONNECT_RETRIES:
                    return None
            elif not call.idempotent or not isinstance(
                exc, (httpx.NetworkError, httpx.RemoteProtocolError)
            ):
                # Timeouts are the caller's bound and are not extended by retrying.
                return None
            hint = None
            reason = str(exc) or type(exc).__name__
        else:
            assert response is not None
            if response.status_code not in _RETRY_STATUSES or not call.idempotent:
                return None
            hint = retry_after(response)
            reason = f"HTTP {response.status_code}"
        delay = _RETRY_BACKOFF.delay(
            attempt, hint=hint, max_hint=_MAX_RETRY_AFTER, deadline=deadline
        )
        if delay is None:
            return None
        log.info(
            "%s %s%s: %s; retry %d/%d in %.2fs",
            call.method,
            self.api_root,
            call.path,
            reason,
            attempt + 1,
            self.retries,
            delay,
        )
        return delay

    def _transport_error(self, exc: httpx.HTTPError, timeout: float) -> ApiError:
        if isinstance(exc, httpx.TimeoutException):
            kind = {
                httpx.ConnectTimeout: "connect",
                httpx.ReadTimeout: "read",
                httpx.WriteTimeout: "write",
                httpx.PoolTimeout: "connection pool",
            }.get(type(exc), "")
            return DeadlineExceeded(
                f"The sessions API at {self.api_root} did not answer within the "
                f"{timeout:g}s timeout" + (f" ({kind} timeout)" if kind else "")
            )
        reason = str(exc) or type(exc).__name__
        return Unavailable(f"cannot reach the sessions API at {self.api_root}: {reason}")

    def _result(self, call: _Call[T], response: httpx.Response) -> T:
        """The parsed body of a 2xx answer; any other answer raises its ApiError."""
        status = response.status_code
        if 200 <= status < 300:
            try:
                data = response.json() if response.content.strip() else {}
                return call.parse(data)
            except (ValueError, TypeError, ApiError) as exc:
                raise Unknown(
                    f"Unexpected answer from the sessions API at {self.api_root} to "
                    f"{call.method} {call.path}: {exc}"
                ) from exc
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            # A Jupyter server redirects unauthenticated requests to its login page.
            cls: type[ApiError] = Unauthenticated if "login" in location else Unknown
            raise cls(
                f"The sessions API at {self.api_root} redirected {call.method} {call.path} "
                f"to {location or '?'} (HTTP {status}): check the URL and token",
                http_status=status,
            )
        raise ApiError.from_http(status, _error_body(response))


class SessionsClient(_ClientBase):
    """Synchronous client of the Sessions API (emulator, Jupyter extension or Google).

    Ids or full resource names are accepted everywhere; an id resolves under the default
    ``project``/``location``. Every call has a timeout; errors raise one ApiError subclass
    per rpc code (NotFound, AlreadyExists, ...).
    """

    def __init__(
        self,
        api_root: str,
        *,
        token: str | None = None,
        bearer: str | None = None,
        auth_headers: Callable[[], dict[str, str]] | None = None,
        project: str | None = None,
        location: str | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        user_agent: str = f"jupyter-sessions/{__version__}",
    ) -> None:
        super().__init__(
            api_root,
            token=token,
            bearer=bearer,
            auth_headers=auth_headers,
            project=project,
            location=location,
            timeout=timeout,
            retries=retries,
            user_agent=user_agent,
        )
        self._http = httpx.Client(base_url=self.api_root, timeout=self._httpx_timeout(self.timeout))

    # --- construction from a Jupyter server --------------------------------------------

    @classmethod
    def for_server(cls, url: str, token: str | None = None, **kwargs: Any) -> SessionsClient:
        """A client for the extension of the Jupyter server at ``url`` (with its base_url)."""
        config = fetch_server_config(url, token)
        client = cls(config.api_root, **cls._config_kwargs(config, token, kwargs))
        client.server_config = config
        return client

    @classmethod
    def from_environment(cls, **kwargs: Any) -> SessionsClient:
        """Find the Jupyter server (``$JUPYTER_SESSIONS_URL``/``_TOKEN``, then the
        running-server list) and connect to its extension. Raises DiscoveryError."""
        config, token = discover_server()
        client = cls(config.api_root, **cls._config_kwargs(config, token, kwargs))
        client.server_config = config
        return client

    discover = from_environment

    # --- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> SessionsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- transport -----------------------------------------------------------------------

    def _send(self, call: _Call[T], deadline: float | None = None) -> T:
        attempt = 0
        while True:
            timeout = self._attempt_timeout(deadline)
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.body,
                    headers=self.request_headers(),
                    timeout=self._httpx_timeout(timeout),
                )
            except httpx.HTTPError as exc:
                delay = self._retry_delay(call, attempt, exc=exc, deadline=deadline)
                if delay is None:
                    raise self._transport_error(exc, timeout) from exc
            else:
                delay = self._retry_delay(call, attempt, response=response, deadline=deadline)
                if delay is None:
                    return self._result(call, response)
            attempt += 1
            time.sleep(delay)

    # --- sessions ------------------------------------------------------------------------

    def create_session(
        self,
        session_id: str,
        session: Session | dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
        parent: Parent | str | None = None,
    ) -> Operation:
        """Start creating a session; returns the create Operation (see wait_session)."""
        return self._send(self._create_session_call(session_id, session, request_id, parent))

    def get_session(self, name_or_id: str) -> Session:
        """One session."""
        return self._send(self._get_session_call(name_or_id))

    def list_sessions_page(
        self,
        filter: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        parent: Parent | str | None = None,
    ) -> ListSessionsResponse:
        """One page of sessions (newest first) and the token of the next page."""
        return self._send(self._list_sessions_call(filter, page_size, page_token, parent))

    def list_sessions(
        self,
        filter: str | None = None,
        page_size: int | None = None,
        parent: Parent | str | None = None,
    ) -> Iterator[Session]:
        """Every matching session, fetching pages lazily."""
        token: str | None = None
        while True:
            page = self.list_sessions_page(filter, page_size, token, parent)
            yield from page.sessions
            token = page.next_page_token
            if not token:
                return

    def terminate_session(self, name_or_id: str, request_id: str | None = None) -> Operation:
        """Start terminating an ACTIVE session; returns the terminate Operation."""
        return self._send(self._terminate_session_call(name_or_id, request_id))

    def delete_session(self, name_or_id: str, request_id: str | None = None) -> Operation:
        """Delete a session (terminating it first if needed); returns the delete Operation."""
        return self._send(self._delete_session_call(name_or_id, request_id))

    # --- operations ----------------------------------------------------------------------

    def get_operation(self, name: Operation | str) -> Operation:
        """The current state of an operation (full name or id)."""
        return self._send(self._get_operation_call(name))

    def wait_operation(
        self,
        op_or_name: Operation | str,
        timeout: float = 600.0,
        progress: Callable[[Operation, float], Any] | None = None,
    ) -> Operation:
        """Poll until the operation is done; raise its error as the matching ApiError,
        or DeadlineExceeded after ``timeout`` seconds. ``progress(op, elapsed)`` per poll."""
        if isinstance(op_or_name, Operation) and _operation_finished(op_or_name):
            return op_or_name
        call = self._get_operation_call(op_or_name)
        waiter = _Waiter(timeout)
        while True:
            operation = self._send(call, deadline=waiter.deadline)
            if progress is not None:
                progress(operation, waiter.elapsed)
            if _operation_finished(operation):
                return operation
            delay = waiter.next_delay()
            if delay is None:
                raise waiter.operation_timeout(operation.name)
            time.sleep(delay)

    def wait_session(
        self,
        name_or_id: str,
        states: Iterable[State | str] = DEFAULT_WAIT_STATES,
        timeout: float = 600.0,
        progress: Callable[[Session, float], Any] | None = None,
    ) -> Session:
        """Poll until the session is in one of ``states``; DeadlineExceeded after
        ``timeout`` seconds; FailedPrecondition if it ends in a state not asked for.
        ``progress(session, elapsed)`` is called on each poll."""
        wanted = _wanted_states(states)
        call = self._get_session_call(name_or_id)
        name = self._name(name_or_id, "sessions")
        waiter = _Waiter(timeout)
        while True:
            session = self._send(call, deadline=waiter.deadline)
            if progress is not None:
                progress(session, waiter.elapsed)
            if _session_reached(name, session, wanted):
                return session
            delay = waiter.next_delay()
            if delay is None:
                raise waiter.session_timeout(name, wanted, session)
            time.sleep(delay)

    # --- templates -----------------------------------------------------------------------

    def create_template(
        self,
        template: SessionTemplate | dict[str, Any],
        *,
        template_id: str | None = None,
        parent: Parent | str | None = None,
    ) -> SessionTemplate:
        """Create a session template (its name from ``template_id`` or the body's name)."""
        return self._send(self._create_template_call(template, template_id, parent))

    def get_template(self, name_or_id: str) -> SessionTemplate:
        """One session template."""
        return self._send(self._get_template_call(name_or_id))

    def list_templates_page(
        self,
        filter: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        parent: Parent | str | None = None,
    ) -> ListSessionTemplatesResponse:
        """One page of session templates and the token of the next page."""
        return self._send(self._list_templates_call(filter, page_size, page_token, parent))

    def list_templates(
        self,
        filter: str | None = None,
        page_size: int | None = None,
        parent: Parent | str | None = None,
    ) -> Iterator[SessionTemplate]:
        """Every matching session template, fetching pages lazily."""
        token: str | None = None
        while True:
            page = self.list_templates_page(filter, page_size, token, parent)
            yield from page.session_templates
            token = page.next_page_token
            if not token:
                return

    def update_template(
        self, template: SessionTemplate | dict[str, Any], name_or_id: str | None = None
    ) -> SessionTemplate:
        """Replace a template's mutable fields (PATCH without a field mask)."""
        return self._send(self._update_template_call(template, name_or_id))

    def delete_template(self, name_or_id: str) -> None:
        """Delete a session template."""
        self._send(self._delete_template_call(name_or_id))


class AsyncSessionsClient(_ClientBase):
    """Asynchronous client of the Sessions API: the SessionsClient surface, awaitable.

    ``list_sessions``/``list_templates`` are async iterators (``async for``).
    """

    def __init__(
        self,
        api_root: str,
        *,
        token: str | None = None,
        bearer: str | None = None,
        auth_headers: Callable[[], dict[str, str]] | None = None,
        project: str | None = None,
        location: str | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        user_agent: str = f"jupyter-sessions/{__version__}",
    ) -> None:
        super().__init__(
            api_root,
            token=token,
            bearer=bearer,
            auth_headers=auth_headers,
            project=project,
            location=location,
            timeout=timeout,
            retries=retries,
            user_agent=user_agent,
        )
        self._http = httpx.AsyncClient(
            base_url=self.api_root, timeout=self._httpx_timeout(self.timeout)
        )

    # --- construction from a Jupyter server --------------------------------------------

    @classmethod
    async def for_server(
        cls, url: str, token: str | None = None, **kwargs: Any
    ) -> AsyncSessionsClient:
        """A client for the extension of the Jupyter server at ``url`` (with its base_url)."""
        config = await asyncio.to_thread(fetch_server_config, url, token)
        client = cls(config.api_root, **cls._config_kwargs(config, token, kwargs))
        client.server_config = config
        return client

    @classmethod
    async def from_environment(cls, **kwargs: Any) -> AsyncSessionsClient:
        """Find the Jupyter server as SessionsClient.from_environment does."""
        config, token = await asyncio.to_thread(discover_server)
        client = cls(config.api_root, **cls._config_kwargs(config, token, kwargs))
        client.server_config = config
        return client

    discover = from_environment

    # --- lifecycle -----------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncSessionsClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- transport -----------------------------------------------------------------------

    async def _send(self, call: _Call[T], deadline: float | None = None) -> T:
        attempt = 0
        while True:
            timeout = self._attempt_timeout(deadline)
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.body,
                    headers=self.request_headers(),
                    timeout=self._httpx_timeout(timeout),
                )
            except httpx.HTTPError as exc:
                delay = self._retry_delay(call, attempt, exc=exc, deadline=deadline)
                if delay is None:
                    raise self._transport_error(exc, timeout) from exc
            else:
                delay = self._retry_delay(call, attempt, response=response, deadline=deadline)
                if delay is None:
                    return self._result(call, response)
            attempt += 1
            await asyncio.sleep(delay)

    # --- sessions ------------------------------------------------------------------------

    async def create_session(
        self,
        session_id: str,
        session: Session | dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
        parent: Parent | str | None = None,
    ) -> Operation:
        """Start creating a session; returns the create Operation (see wait_session)."""
        return await self._send(self._create_session_call(session_id, session, request_id, parent))

    async def get_session(self, name_or_id: str) -> Session:
        """One session."""
        return await self._send(self._get_session_call(name_or_id))

    async def list_sessions_page(
        self,
        filter: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        parent: Parent | str | None = None,
    ) -> ListSessionsResponse:
        """One page of sessions (newest first) and the token of the next page."""
        return await self._send(self._list_sessions_call(filter, page_size, page_token, parent))

    async def list_sessions(
        self,
        filter: str | None = None,
        page_size: int | None = None,
        parent: Parent | str | None = None,
    ) -> AsyncIterator[Session]:
        """Every matching session, fetching pages lazily (``async for``)."""
        token: str | None = None
        while True:
            page = await self.list_sessions_page(filter, page_size, token, parent)
            for session in page.sessions:
                yield session
            token = page.next_page_token
            if not token:
                return

    async def terminate_session(self, name_or_id: str, request_id: str | None = None) -> Operation:
        """Start terminating an ACTIVE session; returns the terminate Operation."""
        return await self._send(self._terminate_session_call(name_or_id, request_id))

    async def delete_session(self, name_or_id: str, request_id: str | None = None) -> Operation:
        """Delete a session (terminating it first if needed); returns the delete Operation."""
        return await self._send(self._delete_session_call(name_or_id, request_id))

    # --- operations ----------------------------------------------------------------------

    async def get_operation(self, name: Operation | str) -> Operation:
        """The current state of an operation (full name or id)."""
        return await self._send(self._get_operation_call(name))

    async def wait_operation(
        self,
        op_or_name: Operation | str,
        timeout: float = 600.0,
        progress: Callable[[Operation, float], Any] | None = None,
    ) -> Operation:
        """Poll until the operation is done, as SessionsClient.wait_operation does.
        ``progress`` may be a plain function or a coroutine function."""
        if isinstance(op_or_name, Operation) and _operation_finished(op_or_name):
            return op_or_name
        call = self._get_operation_call(op_or_name)
        waiter = _Waiter(timeout)
        while True:
            operation = await self._send(call, deadline=waiter.deadline)
            if progress is not None:
                await _maybe_await(progress(operation, waiter.elapsed))
            if _operation_finished(operation):
                return operation
            delay = waiter.next_delay()
            if delay is None:
                raise waiter.operation_timeout(operation.name)
            await asyncio.sleep(delay)

    async def wait_session(
        self,
        name_or_id: str,
        states: Iterable[State | str] = DEFAULT_WAIT_STATES,
        timeout: float = 600.0,
        progress: Callable[[Session, float], Any] | None = None,
    ) -> Session:
        """Poll until the session is in one of ``states``, as SessionsClient.wait_session
        does. ``progress`` may be a plain function or a coroutine function."""
        wanted = _wanted_states(states)
        call = self._get_session_call(name_or_id)
        name = self._name(name_or_id, "sessions")
        waiter = _Waiter(timeout)
        while True:
            session = await self._send(call, deadline=waiter.deadline)
            if progress is not None:
                await _maybe_await(progress(session, waiter.elapsed))
            if _session_reached(name, session, wanted):
                return session
            delay = waiter.next_delay()
            if delay is None:
                raise waiter.session_timeout(name, wanted, session)
            await asyncio.sleep(delay)

    # --- templates -----------------------------------------------------------------------

    async def create_template(
        self,
        template: SessionTemplate | dict[str, Any],
        *,
        template_id: str | None = None,
        parent: Parent | str | None = None,
    ) -> SessionTemplate:
        """Create a session template (its name from ``template_id`` or the body's name)."""
        return await self._send(self._create_template_call(template, template_id, parent))

    async def get_template(self, name_or_id: str) -> SessionTemplate:
        """One session template."""
        return await self._send(self._get_template_call(name_or_id))

    async def list_templates_page(
        self,
        filter: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        parent: Parent | str | None = None,
    ) -> ListSessionTemplatesResponse:
        """One page of session templates and the token of the next page."""
        return await self._send(self._list_templates_call(filter, page_size, page_token, parent))

    async def list_templates(
        self,
        filter: str | None = None,
        page_size: int | None = None,
        parent: Parent | str | None = None,
    ) -> AsyncIterator[SessionTemplate]:
        """Every matching session template, fetching pages lazily (``async for``)."""
        token: str | None = None
        while True:
            page = await self.list_templates_page(filter, page_size, token, parent)
            for template in page.session_templates:
                yield template
            token = page.next_page_token
            if not token:
                return

    async def update_template(
        self, template: SessionTemplate | dict[str, Any], name_or_id: str | None = None
    ) -> SessionTemplate:
        """Replace a template's mutable fields (PATCH without a field mask)."""
        return await self._send(self._update_template_call(template, name_or_id))

    async def delete_template(self, name_or_id: str) -> None:
        """Delete a session template."""
        await self._send(self._delete_template_call(name_or_id))
