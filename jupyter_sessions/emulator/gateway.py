"""The Jupyter Kernel Gateway protocol over the emulator's sessions.

Google serves this protocol for Dataproc sessions (``/api/kernelspecs``, ``/api/kernels``,
the ``/api/kernels/{id}/channels`` websocket); the emulator serves the same on its own port,
so a Jupyter server reaches session kernels the same way on either backend:

- a kernelspec per session template with a ``jupyterSession`` block, plus ``session`` for a
  plain session; starting a kernel creates a session through the engine (it shows up in the
  API and the event stream as CREATING, then ACTIVE) and answers once its kernel is ready;
- every ACTIVE session with a kernel is a kernel, whose id is the session's uuid;
- deleting a kernel terminates its session; a session that ends from anywhere closes its
  kernel's websockets after an IOPub ``dead`` status carrying the reason.

Paths are served at the root for the default parent, and under
``/gateway/projects/P/locations/L`` for any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import tornado.web
import tornado.websocket
import zmq
import zmq.asyncio
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session as MessageSession

from ..api import errors
from ..api.model import Session, SessionTemplate, State
from ..api.names import Parent
from .engine import SessionService
from .guard import DEFAULT_ALLOWED_HOSTS, check_request
from .runtimes.base import RuntimeStartError

log = logging.getLogger(__name__)

DEFAULT_GATEWAY_PARENT = "projects/local-project/locations/local"
DEFAULT_SPEC = "session"
TEMPLATE_SPEC_PREFIX = "session-template-"
RESOURCE_PREFIX = "//dataproc.googleapis.com/"
_PREFIX = r"(?:/gateway/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+))?"
_POLL = 0.05
_ENDED_CHECK = 0.5  # seconds between checks that a connected kernel's session still runs
_NUDGE_TIMEOUT = 5.0  # a new IOPub subscription must deliver within this
_CHANNELS = {"shell": zmq.DEALER, "control": zmq.DEALER, "stdin": zmq.DEALER, "iopub": zmq.SUB}

Authenticator = Callable[[tornado.httputil.HTTPServerRequest], None]


def spec_name(template: SessionTemplate | None) -> str:
    return TEMPLATE_SPEC_PREFIX + template.template_id if template else DEFAULT_SPEC


def _iso(moment: datetime | float | None) -> str:
    """Kernel-gateway time stamps: UTC with microseconds and a Z (jupyter_server parses
    exactly this form)."""
    if moment is None:
        moment = datetime.now(timezone.utc)
    elif isinstance(moment, float):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KernelGateway:
    """Kernels and kernelspecs as views of one SessionService."""

    def __init__(
        self, service: SessionService, default_parent: str, start_timeout: float = 300.0
    ) -> None:
        self.service = service
        self.default_parent = Parent.parse(default_parent).path
        self.start_timeout = start_timeout
        self.connections: Counter[str] = Counter()  # open websockets per kernel id

    def parent(self, project: str | None, location: str | None) -> str:
        if project is None or location is None:
            return self.default_parent
        return Parent.parse(f"projects/{project}/locations/{location}").path

    # --- kernelspecs ----------------------------------------------------------------------

    def specs(self, parent: str) -> dict[str, Any]:
        found = {DEFAULT_SPEC: self._spec(parent, None)}
        token: str | None = None
        while True:
            page = self.service.list_templates(parent, 1000, token, None)
            for template in page.session_templates:
                if template.jupyter_session is not None:
                    found[spec_name(template)] = self._spec(parent, template)
            token = page.next_page_token or None
            if not token:
                break
        return {"default": DEFAULT_SPEC, "kernelspecs": found}

    def spec(self, parent: str, name: str) -> dict[str, Any]:
        template = self._template_of_spec(parent, name)
        return self._spec(parent, template)

    def _spec(self, parent: str, template: SessionTemplate | None) -> dict[str, Any]:
        jupyter = template.jupyter_session if template else None
        kernel = jupyter.kernel.name if jupyter else "PYTHON"
        language = "scala" if kernel == "SCALA" else "python"
        if template is None:
            display = "Python on a new session"
        else:
            display = (jupyter.display_name if jupyter else "") or template.template_id
        resource = f"{RESOURCE_PREFIX}{parent}/sessions"
        metadata = {
            "endpointParentResource": resource,
            "sessionTemplate": template.name if template else "",
            "description": template.description if template else "",
        }
        return {
            "name": spec_name(template),
            "spec": {
                "argv": [],
                "display_name": display,
                "language": language,
                "interrupt_mode": "message",
                "env": {},
                "metadata": metadata,
            },
            "resources": {"endpointParentResource": resource},
        }

    def _template_of_spec(self, parent: str, name: str) -> SessionTemplate | None:
        if name == DEFAULT_SPEC:
            return None
        if name.startswith(TEMPLATE_SPEC_PREFIX):
            template_id = name[len(TEMPLATE_SPEC_PREFIX) :]
            with contextlib.suppress(errors.ApiError):
                template = self.service.get_template(f"{parent}/sessionTemplates/{template_id}")
                if template.jupyter_session is not None:
                    return template
        raise errors.NotFound(f"No such kernelspec: {name}")

    # --- kernels --------------------------------------------------------------------------

    def kernels(self, parent: str) -> list[dict[str, Any]]:
        return [self._model(s) for s in self.service.sessions_of(parent) if self._has_kernel(s)]

    def kernel(self, parent: str, kernel_id: str) -> dict[str, Any]:
        return self._model(self.session_of(parent, kernel_id))

    def session_of(self, parent: str, kernel_id: str) -> Session:
        """The ACTIVE session whose kernel this is; 404 (saying why) otherwise."""
        for session in self.service.sessions_of(parent):
            if session.uuid != kernel_id:
                continue
            if self._has_kernel(session):
                return session
            reason = f": {session.state_message}" if session.state_message else ""
            raise errors.NotFound(
                f"Kernel {kernel_id} is gone: session {session.session_id} is "
                f"{session.state.name}{reason}"
            )
        raise errors.NotFound(f"No such kernel: {kernel_id}")

    async def start(self, parent: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a session for the kernelspec ``body["name"]``; answer once it is ACTIVE."""
        name = body.get("name") or DEFAULT_SPEC
        if not isinstance(name, str):
            raise errors.bad_request("name", "expected a kernelspec name")
        template = self._template_of_spec(parent, name)
        config: dict[str, Any] = {"jupyterSession": {"kernel": "PYTHON"}}
        if template is not None and template.jupyter_session is not None:
            config = {"jupyterSession": template.jupyter_session.to_json()}
        runtime = self.service.runtime
        if not runtime.serves_kernels:
            raise errors.FailedPrecondition(
                f"The emulator's {runtime.kind} runtime runs no kernels; start it with "
                "--runtime kernel to run notebooks in sessions"
            )
        try:
            runtime.check_config(config)
        except RuntimeStartError as exc:
            raise errors.FailedPrecondition(str(exc)) from None
        request: dict[str, Any] = dict(config)
        if template is not None:
            request = {"sessionTemplate": template.name}
        session_id = f"kernel-{uuid.uuid4().hex[:12]}"
        self.service.create_session(parent, session_id, None, request)
        session_name = f"{parent}/sessions/{session_id}"
        return self._model(await self._wait_active(session_name))

    async def _wait_active(self, name: str) -> Session:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while True:
            session = self.service.get_session(name)
            if session.state == State.ACTIVE:
                return session
            if session.state != State.CREATING:
                raise errors.FailedPrecondition(
                    f"Session {session.session_id} could not start its kernel: "
                    f"{session.state.name}: {session.state_message}"
                )
            if loop.time() > deadline:
                raise errors.DeadlineExceeded(
                    f"Session {session.session_id} was not ACTIVE within "
                    f"{self.start_timeout:g}s; it may still start (see the sessions list)"
                )
            await asyncio.sleep(_POLL)

    def shutdown(self, parent: str, kernel_id: str) -> None:
        session = self.session_of(parent, kernel_id)
        self.service.terminate_session(session.name, None)

    async def interrupt(self, parent: str, kernel_id: str) -> None:
        session = self.session_of(parent, kernel_id)
        try:
            await self.service.interrupt_runtime(session.name)
        except RuntimeStartError as exc:
            raise errors.FailedPrecondition(str(exc)) from None

    async def restart(self, parent: str, kernel_id: str) -> dict[str, Any]:
        session = self.session_of(parent, kernel_id)
        try:
            await self.service.restart_runtime(session.name)
        except RuntimeStartError as exc:
            raise errors.FailedPrecondition(f"The kernel could not restart: {exc}") from None
        return self._model(self.service.get_session(session.name))

    def connection_info(self, session: Session) -> dict[str, Any]:
        handle = self.service.runtime_handle(session.name)
        path = self.service.runtime.connection_file(handle) if handle else None
        if not path:
            raise errors.NotFound(f"The kernel of session {session.session_id} is gone")
        with open(path) as f:
            info: dict[str, Any] = json.load(f)
        return info

    def _has_kernel(self, session: Session) -> bool:
        if session.state != State.ACTIVE:
            return False
        handle = self.service.runtime_handle(session.name)
        return handle is not None and self.service.runtime.connection_file(handle) is not None

    def _model(self, session: Session) -> dict[str, Any]:
        handle = self.service.runtime_handle(session.name)
        runtime = self.service.runtime
        activity = runtime.last_activity(handle) if handle else None
        state = runtime.execution_state(handle) if handle else "starting"
        template = None
        if session.session_template:
            with contextlib.suppress(errors.ApiError):
                template = self.service.get_template(session.session_template)
        return {
            "id": session.uuid,
            "name": spec_name(template),
            "last_activity": _iso(activity or session.state_time),
            "execution_state": state,
            "connections": self.connections[session.uuid],
            "metadata": {"endpointParentResource": RESOURCE_PREFIX + session.name},
        }


def admit(
    request: tornado.httputil.HTTPServerRequest,
    settings: dict[str, Any],
    authenticate: Authenticator | None,
) -> None:
    """The emulator's own rules for every request: no web page, then the token."""
    check_request(request, settings.get("allowed_hosts", DEFAULT_ALLOWED_HOSTS))
    if authenticate is not None:
        authenticate(request)


class _GatewayHandler(tornado.web.RequestHandler):
    """Authentication and error bodies shared by the gateway's REST handlers."""

    def initialize(self, gateway: KernelGateway, authenticate: Authenticator | None) -> None:
        self.gateway = gateway
        self.authenticate = authenticate

    def check_xsrf_cookie(self) -> None:  # an API, not a browser app
        return

    def prepare(self) -> None:
        try:
            admit(self.request, self.settings, self.authenticate)
        except errors.ApiError as exc:
            self.fail(exc)

    def parent_of(self, project: str | None, location: str | None) -> str:
        return self.gateway.parent(project, location)

    def body(self) -> dict[str, Any]:
        raw = self.request.body
        if not raw or not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise errors.InvalidArgument("Invalid JSON payload received") from None
        if not isinstance(data, dict):
            raise errors.InvalidArgument("Invalid JSON payload received: expected an object")
        return data

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(body, separators=(",", ":")))

    def fail(self, exc: errors.ApiError) -> None:
        """The google.rpc.Status envelope, plus the ``message``/``reason`` pair that
        Jupyter's gateway client reads."""
        self.clear()
        self.set_status(exc.http_status)
        if exc.http_status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter-sessions-emulator"')
        body = {**exc.to_http_json(), "message": exc.message, "reason": exc.code.name}
        self.reply(body, exc.http_status)

    async def run(self, call: Callable[[], Any], status: int = 200) -> None:
        try:
            result = call()
            if asyncio.iscoroutine(result):
                result = await result
        except errors.ApiError as exc:
            self.fail(exc)
            return
        except Exception:
            log.exception("Kernel gateway error for %s %s", self.request.method, self.request.path)
            self.fail(errors.Internal("Internal error in the emulator's kernel gateway"))
            return
        if result is None:
            self.set_status(204)
            self.finish()
        else:
            self.reply(result, status)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.fail(errors.ApiError.from_http(status_code, None))


class KernelSpecsHandler(_GatewayHandler):
    async def get(self, project: str | None, location: str | None, name: str | None) -> None:
        parent = self.parent_of(project, location)
        if name is None:
            await self.run(lambda: self.gateway.specs(parent))
        else:
            await self.run(lambda: self.gateway.spec(parent, name))


class KernelsHandler(_GatewayHandler):
    async def get(self, project: str | None, location: str | None) -> None:
        parent = self.parent_of(project, location)
        await self.run(lambda: self.gateway.kernels(parent))

    async def post(self, project: str | None, location: str | None) -> None:
        parent = self.parent_of(project, location)
        await self.run(lambda: self.gateway.start(parent, self.body()), status=201)


class KernelHandler(_GatewayHandler):
    async def get(self, project: str | None, location: str | None, kernel_id: str) -> None:
        parent = self.parent_of(project, location)
        await self.run(lambda: self.gateway.kernel(parent, kernel_id))

    async def delete(self, project: str | None, location: str | None, kernel_id: str) -> None:
        parent = self.parent_of(project, location)
        await self.run(lambda: self.gateway.shutdown(parent, kernel_id))


class KernelActionHandler(_GatewayHandler):
    async def post(
        self, project: str | None, location: str | None, kernel_id: str, action: str
    ) -> None:
        parent = self.parent_of(project, location)
        if action == "interrupt":
            await self.run(lambda: self.gateway.interrupt(parent, kernel_id))
        else:
            await self.run(lambda: self.gateway.restart(parent, kernel_id))


class ChannelsHandler(tornado.websocket.WebSocketHandler):
    """Relays Jupyter messages between a websocket (JSON text frames, or the binary
    framing for messages with buffers) and the session kernel's ZMQ channels."""

    def initialize(self, gateway: KernelGateway, authenticate: Authenticator | None) -> None:
        self.gateway = gateway
        self.authenticate = authenticate
        self.relay: _Relay | None = None
        self.session_name = ""
        self.kernel_id = ""
        self._counted = False

    async def get(self, *args: Any, **kwargs: Any) -> None:
        try:
            admit(self.request, self.settings, self.authenticate)
            parent = self.gateway.parent(kwargs.get("project"), kwargs.get("location"))
            session = self.gateway.session_of(parent, kwargs["kernel_id"])
            info = self.gateway.connection_info(session)
        except errors.ApiError as exc:
            self.set_status(exc.http_status)
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            body = {**exc.to_http_json(), "message": exc.message, "reason": exc.code.name}
            self.finish(json.dumps(body))
            return
        self.session_name = session.name
        self.kernel_id = session.uuid
        self.relay = _Relay(info, self._to_client)
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        assert self.relay is not None
        # A request's replies are several small frames: without this, each waits for the
        # client's delayed ACK (some 40 ms per round trip).
        self.set_nodelay(True)
        self.gateway.connections[self.kernel_id] += 1
        self._counted = True
        await self.relay.start()
        self.relay.watch(self._ended, self.on_ended)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Tornado's own errors (a malformed request) in the same envelope as the API's."""
        cause = kwargs.get("exc_info", (None, None, None))[1]
        said = str(cause) if cause is not None and str(cause) else ""
        message = f"Malformed request: {said}" if said else f"HTTP {status_code}"
        exc = errors.ApiError.for_code(errors.ApiError.from_http(status_code, None).code)(
            message, http_status=status_code
        )
        body = {**exc.to_http_json(), "message": exc.message, "reason": exc.code.name}
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(body))

    def on_message(self, message: str | bytes) -> None:
        if self.relay is None:
            return
        try:
            msg = _deserialize(message)
        except (ValueError, struct.error) as exc:
            log.debug("Dropping a malformed websocket message: %s", exc)
            return
        self.relay.send(msg)

    def on_close(self) -> None:
        if self._counted:
            self.gateway.connections[self.kernel_id] -= 1
            if self.gateway.connections[self.kernel_id] <= 0:
                del self.gateway.connections[self.kernel_id]
            self._counted = False
        if self.relay is not None:
            self.relay.close()

    def _to_client(self, msg: dict[str, Any]) -> None:
        try:
            frame = _serialize(msg)
            self.write_message(frame, binary=isinstance(frame, bytes))
        except tornado.websocket.WebSocketClosedError:
            pass

    def _ended(self) -> str | None:
        """None while the kernel's session runs; else why it ended."""
        try:
            session = self.gateway.service.get_session(self.session_name)
        except errors.ApiError:
            return "the session was deleted"
        if session.state == State.ACTIVE:
            return None
        reason = f": {session.state_message}" if session.state_message else ""
        return f"session {session.session_id} is {session.state.name}{reason}"

    def on_ended(self, reason: str) -> None:
        if self.relay is not None:
            self.relay.announce_dead(reason)
        self.close(1000, reason[:120])


class _Relay:
    """One websocket's ZMQ sockets to a kernel, and the pumps between them."""

    def __init__(self, info: dict[str, Any], deliver: Callable[[dict[str, Any]], None]) -> None:
        self.info = info
        self.deliver = deliver
        self.session = MessageSession(
            key=str(info.get("key", "")).encode(),
            signature_scheme=str(info.get("signature_scheme", "hmac-sha256")),
        )
        self.sockets: dict[str, zmq.asyncio.Socket] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self._nudges: set[str] = set()

    async def start(self) -> None:
        ctx = zmq.asyncio.Context.instance()
        transport = self.info.get("transport", "tcp")
        ip = self.info.get("ip", "127.0.0.1")
        for channel, kind in _CHANNELS.items():
            sock = ctx.socket(kind)
            sock.linger = 0
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            else:
                sock.setsockopt(zmq.IDENTITY, self.session.bsession)
            sock.connect(f"{transport}://{ip}:{self.info[channel + '_port']}")
            self.sockets[channel] = sock
        await self._nudge()
        for channel in _CHANNELS:
            self.tasks.append(asyncio.create_task(self._pump(channel)))

    async def _nudge(self) -> None:
        """Wait (bounded) until the IOPub subscription delivers, so no output of the
        client's first request is lost: send kernel_info until IOPub shows something."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _NUDGE_TIMEOUT
        iopub = self.sockets["iopub"]
        while loop.time() < deadline:
            sent = self.session.send(self.sockets["shell"], "kernel_info_request", {})
            if sent is not None:
                self._nudges.add(sent["header"]["msg_id"])
            if await iopub.poll(timeout=200):
                await iopub.recv_multipart()
                return
        log.warning("The kernel's IOPub channel stayed silent for %ss", _NUDGE_TIMEOUT)

    async def _pump(self, channel: str) -> None:
        sock = self.sockets[channel]
        while True:
            try:
                frames = await sock.recv_multipart()
            except (zmq.ZMQError, asyncio.CancelledError):
                return
            try:
                _, parts = self.session.feed_identities(frames)
                msg = self.session.deserialize(parts, content=True)
            except Exception as exc:  # a malformed or badly signed message
                log.debug("Dropping a message on %s: %s", channel, exc)
                continue
            if msg.get("parent_header", {}).get("msg_id") in self._nudges:
                continue  # the answers to our own nudges
            msg["channel"] = channel
            self.deliver(msg)

    def send(self, msg: dict[str, Any]) -> None:
        channel = msg.pop("channel", None)
        if channel not in ("shell", "control", "stdin") or not isinstance(msg.get("header"), dict):
            log.debug("Dropping a websocket message for channel %r", channel)
            return
        msg.pop("msg_id", None)
        msg.pop("msg_type", None)
        buffers = msg.pop("buffers", None) or None
        msg.setdefault("parent_header", {})
        msg.setdefault("metadata", {})
        msg.setdefault("content", {})
        try:
            self.session.send(self.sockets[channel], msg, buffers=buffers)
        except (zmq.ZMQError, TypeError, ValueError, KeyError) as exc:
            log.debug("Could not relay a message to %s: %s", channel, exc)

    def watch(self, ended: Callable[[], str | None], on_end: Callable[[str], None]) -> None:
        """Check the session now and then; once it ended, call ``on_end`` with why."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(_ENDED_CHECK)
                reason = ended()
                if reason is not None:
                    on_end(reason)
                    return

        self.tasks.append(asyncio.create_task(loop()))

    def announce_dead(self, reason: str) -> None:
        """An IOPub ``dead`` status with the reason, as the last message a client gets."""
        msg = self.session.msg("status", {"execution_state": "dead", "reason": reason})
        msg["channel"] = "iopub"
        msg["msg_id"] = msg["header"]["msg_id"]
        msg["msg_type"] = "status"
        self.deliver(msg)

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        for sock in self.sockets.values():
            sock.close(linger=0)
        self.sockets.clear()


def _serialize(msg: dict[str, Any]) -> str | bytes:
    """A message as a JSON text frame, or (with buffers) the gateway binary framing:
    a count, offsets, the JSON, then each buffer."""
    buffers = [bytes(b) for b in msg.pop("buffers", None) or []]
    text = json.dumps(msg, default=json_default)
    if not buffers:
        return text
    parts = [text.encode(), *buffers]
    offsets = [4 * (len(parts) + 1)]
    for part in parts[:-1]:
        offsets.append(offsets[-1] + len(part))
    return struct.pack(f"!{len(parts) + 1}I", len(parts), *offsets) + b"".join(parts)


def _deserialize(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, str):
        msg = json.loads(frame)
        buffers: list[bytes] = []
    else:
        (count,) = struct.unpack("!I", frame[:4])
        if not 0 < count < 1024:
            raise ValueError("bad buffer count")
        offsets = list(struct.unpack(f"!{count}I", frame[4 : 4 * (count + 1)]))
        offsets.append(len(frame))
        parts = [frame[offsets[i] : offsets[i + 1]] for i in range(count)]
        msg = json.loads(parts[0].decode())
        buffers = parts[1:]
    if not isinstance(msg, dict):
        raise ValueError("expected a JSON object")
    if buffers:
        msg["buffers"] = buffers
    return msg


def gateway_routes(
    service: SessionService,
    default_parent: str,
    authenticate: Authenticator | None,
    start_timeout: float = 300.0,
) -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """The tornado routes of the kernel gateway, to put before the API's catch-all."""
    args = {
        "gateway": KernelGateway(service, default_parent, start_timeout),
        "authenticate": authenticate,
    }
    kid = r"(?P<kernel_id>[0-9a-fA-F-]{1,64})"
    return [
        (_PREFIX + r"/api/kernelspecs(?:/(?P<name>[^/]+))?/?", KernelSpecsHandler, args),
        (_PREFIX + r"/api/kernels/?", KernelsHandler, args),
        (_PREFIX + rf"/api/kernels/{kid}/channels", ChannelsHandler, args),
        (
            _PREFIX + rf"/api/kernels/{kid}/(?P<action>interrupt|restart)",
            KernelActionHandler,
            args,
        ),
        (_PREFIX + rf"/api/kernels/{kid}/?", KernelHandler, args),
    ]
