"""``%%session``: run a cell in a session's kernel and relay what it does, as it happens.

Two ways to reach the kernel:

- Sessions of the local emulator's kernel runtime publish a Jupyter connection file in
  ``runtimeInfo.endpoints["Jupyter Kernel Connection File"]``: a jupyter_client
  BlockingKernelClient connects to it over ZMQ.
- Otherwise (a Dataproc session, or any session whose kernel is not on this machine) the
  Jupyter server attaches to the session's kernel through the kernel gateway and the cell
  runs over Jupyter's own kernel websocket; the notebook kernel needs only the Jupyter token.

Either way the IOPub messages of the request are relayed: stream text to
``sys.stdout``/``sys.stderr``, rich output through IPython's display machinery, the value of
a last expression as the cell's result, and the remote error as a failed cell. Ctrl-C (a
kernel interrupt) is forwarded to the remote kernel.
"""

from __future__ import annotations

import abc
import json
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import TYPE_CHECKING, Any

from ..api.model import Session, State
from .cell_errors import SessionError, remote_error

if TYPE_CHECKING:
    from ..client import SessionsClient

CONNECTION_FILE = "Jupyter Kernel Connection File"
KERNEL_PID = "Jupyter Kernel Pid"

_CONNECT_TIMEOUT = 10.0  # the kernel answers kernel_info within this, or is unusable
_INTERRUPT_TIMEOUT = 3.0  # for the interrupt_reply
_DRAIN_TIMEOUT = 10.0  # for the rest of the output after an interrupt
_LIVENESS_INTERVAL = 5.0  # seconds without output before checking the session is alive
_POLL = 0.1


def _require_active(session: Session) -> None:
    if session.state != State.ACTIVE:
        sid = session.session_id
        hint = (
            f"wait for it with `%session wait {sid}`"
            if session.state == State.CREATING
            else "create a new one with `%session create`"
        )
        raise SessionError(f"Session {sid} is {session.state.name}, not ACTIVE: {hint}")


def local_connection_file(session: Session) -> Path | None:
    """The session's kernel connection file if it is on this machine."""
    endpoints = session.runtime_info.endpoints if session.runtime_info else {}
    raw = endpoints.get(CONNECTION_FILE, "")
    return Path(raw) if raw and Path(raw).is_file() else None


def connection_file(session: Session) -> Path:
    """The session's kernel connection file, or a SessionError saying why there is none."""
    _require_active(session)
    sid = session.session_id
    endpoints = session.runtime_info.endpoints if session.runtime_info else {}
    raw = endpoints.get(CONNECTION_FILE, "")
    if not raw:
        offered = ", ".join(sorted(endpoints)) or "none"
        raise SessionError(
            f"Session {sid} offers no Jupyter kernel this notebook can reach (its endpoints: "
            f"{offered}); connect through a Jupyter server with session kernels to run cells "
            "in it"
        )
    path = Path(raw)
    if not path.is_file():
        raise SessionError(
            f"The kernel connection file of session {sid} ({raw}) is not on this machine: the "
            "session runs elsewhere; connect through its Jupyter server to run cells in it"
        )
    return path


class RemoteResult:
    """The value of a remote cell's last expression, shown as this cell's result."""

    def __init__(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        self.data = data
        self.metadata = metadata

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.data, self.metadata

    def __repr__(self) -> str:
        return str(self.data.get("text/plain", ""))


class _CellRunner(abc.ABC):
    """Runs cells in one remote kernel and relays their output (how the messages travel is
    up to the subclass)."""

    session_id: str

    @abc.abstractmethod
    def _send_execute(self, code: str) -> str:
        """Send an execute_request; its msg_id."""

    @abc.abstractmethod
    def _next_iopub(self, timeout: float) -> dict[str, Any] | None:
        """The next IOPub message, or None after ``timeout`` without one."""

    @abc.abstractmethod
    def _interrupt(self) -> None:
        """Interrupt what the remote kernel runs (bounded in time)."""

    @abc.abstractmethod
    def _drain_stale(self) -> None:
        """Drop messages left from earlier requests."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def _handshake(self) -> None:
        """Check that the kernel answers (raises SessionError when it does not)."""

    def _handshake_or_close(self) -> None:
        try:
            self._handshake()
        except BaseException:
            self.close()
            raise

    def execute(
        self,
        code: str,
        *,
        timeout: float | None = None,
        alive: Callable[[], str | None] | None = None,
        local_cell: int | None = None,
    ) -> RemoteResult | None:
        """Run ``code``, relaying its output; return its result (the value of a last
        expression) or raise the remote error if it fails.

        ``local_cell`` is the notebook's execution count of the cell: the remote traceback's
        ``Cell In[N]`` frames of cells run this way point at the notebook's cells.

        ``alive()`` is asked after a while without output: a message means the session is
        gone (the cell fails with it); None means keep waiting.
        """
        self._drain_stale()
        msg_id = self._send_execute(code)
        relay = _Relay()
        cells: dict[int, int] = self.__dict__.setdefault("_local_cells", {})
        started = time.monotonic()
        last_seen = started
        interrupted = False
        while True:
            try:
                msg = self._next_iopub(_POLL)
            except KeyboardInterrupt:
                if interrupted:
                    raise  # a second Ctrl-C stops waiting for the remote kernel
                interrupted = True
                self._interrupt()
                self._finish(relay, msg_id, _DRAIN_TIMEOUT)
                break
            if msg is None:
                now = time.monotonic()
                if timeout is not None and now - started > timeout:
                    self._interrupt()
                    self._finish(relay, msg_id, _DRAIN_TIMEOUT)
                    raise SessionError(
                        f"The cell ran longer than its {timeout:g}s timeout in session "
                        f"{self.session_id}; it was interrupted"
                    ) from None
                if alive is not None and now - last_seen > _LIVENESS_INTERVAL:
                    last_seen = now
                    problem = alive()
                    if problem:
                        raise SessionError(problem) from None
                continue
            last_seen = time.monotonic()
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue  # another client's cell in the same kernel
            if relay.handle(msg):
                break
        if relay.remote_cell is not None and local_cell is not None:
            cells[relay.remote_cell] = local_cell
        if relay.error is not None:
            ename, evalue, tb = relay.error
            raise remote_error(ename, evalue, point_at_local_cells(tb, cells), self.session_id)
        if interrupted:
            raise SessionError(
                f"Interrupted; the cell in session {self.session_id} was interrupted too"
            )
        return relay.result

    def _finish(self, relay: _Relay, msg_id: str, timeout: float) -> None:
        """Relay what is left of the request's output (bounded), after an interrupt."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._next_iopub(_POLL)
            if msg is None:
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id and relay.handle(msg):
                return


class RemoteKernel(_CellRunner):
    """A ZMQ connection to a session kernel on this machine (its connection file)."""

    def __init__(self, session: Session, path: Path) -> None:
        from jupyter_client.blocking import BlockingKernelClient

        self.name = session.name
        self.session_id = session.session_id
        self.uuid = session.uuid
        self.path = path
        endpoints = session.runtime_info.endpoints if session.runtime_info else {}
        self.pid = _int(endpoints.get(KERNEL_PID, ""))
        self.client = BlockingKernelClient(connection_file=str(path))
        try:
            self.client.load_connection_file()
        except (OSError, ValueError) as exc:
            raise SessionError(f"Cannot read the connection file {path}: {exc}") from exc
        self.client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=True)
        self._handshake_or_close()

    def matches(self, session: Session) -> bool:
        return session.uuid == self.uuid and local_connection_file(session) == self.path

    def close(self) -> None:
        try:
            self.client.stop_channels()
        except Exception:  # closing sockets of a dead kernel; nothing to report
            pass

    def _handshake(self) -> None:
        """Wait until the kernel answers and IOPub delivers, so no output is missed (a new
        SUB socket drops what is published before its subscription reaches the kernel)."""
        deadline = time.monotonic() + _CONNECT_TIMEOUT
        replied = iopub_seen = False
        while time.monotonic() < deadline:
            self.client.kernel_info()
            resend = time.monotonic() + 0.5
            while time.monotonic() < min(resend, deadline):
                if not replied:
                    try:
                        reply = self.client.shell_channel.get_msg(timeout=0.05)
                        # Any kernel_info_reply (to this or an earlier resend) proves it answers.
                        replied = reply.get("msg_type") == "kernel_info_reply"
                    except Empty:
                        pass
                try:
                    self.client.iopub_channel.get_msg(timeout=0.05)
                    iopub_seen = True
                except Empty:
                    pass
                if replied and iopub_seen:
                    return
        raise SessionError(
            f"The kernel of session {self.session_id} did not answer within "
            f"{_CONNECT_TIMEOUT:g}s (connection file {self.path})"
        )

    def _send_execute(self, code: str) -> str:
        return str(self.client.execute(code, store_history=True, allow_stdin=False))

    def _next_iopub(self, timeout: float) -> dict[str, Any] | None:
        try:
            return dict(self.client.iopub_channel.get_msg(timeout=timeout))
        except Empty:
            return None

    def _drain_stale(self) -> None:
        for channel in (self.client.iopub_channel, self.client.shell_channel):
            while True:
                try:
                    channel.get_msg(timeout=0)
                except Empty:
                    break

    def _interrupt(self) -> None:
        """Ask the kernel to interrupt its current execution: an ``interrupt_request`` on the
        control channel; if it does not answer and its pid is known and local, SIGINT."""
        msg = self.client.session.msg("interrupt_request", {})
        self.client.control_channel.send(msg)
        deadline = time.monotonic() + _INTERRUPT_TIMEOUT
        while time.monotonic() < deadline:
            try:
                reply = self.client.control_channel.get_msg(timeout=_POLL)
            except Empty:
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg["header"]["msg_id"]:
                if reply.get("content", {}).get("status") == "ok":
                    return
                break
        if self.pid:
            try:
                os.killpg(self.pid, signal.SIGINT)
            except OSError:
                pass


class GatewayKernel(_CellRunner):
    """A session kernel reached through the Jupyter server's kernel websocket (the server
    attaches to it through the kernel gateway)."""

    def __init__(self, session: Session, server_url: str, headers: dict[str, str]) -> None:
        import httpx
        import websocket

        self.name = session.name
        self.session_id = session.session_id
        self.uuid = session.uuid
        self.server_url = server_url if server_url.endswith("/") else server_url + "/"
        self.headers = {k: v for k, v in headers.items() if k.lower() == "authorization"}
        self._http = httpx.Client(timeout=_CONNECT_TIMEOUT * 3, headers=self.headers)
        try:
            found = self._http.get(
                self.server_url + "jupyter-sessions/kernel", params={"session": self.name}
            )
        except httpx.HTTPError as exc:
            self._http.close()
            raise SessionError(f"Cannot reach the Jupyter server: {exc}") from None
        if found.status_code != 200:
            self._http.close()
            raise SessionError(_error_message(found, f"No kernel for session {self.session_id}"))
        self.kernel_id = str(found.json()["id"])
        self._session = uuid.uuid4().hex
        ws_url = self.server_url.replace("http", "ws", 1) + (
            f"api/kernels/{self.kernel_id}/channels?session_id={self._session}"
        )
        try:
            self.ws = websocket.create_connection(
                ws_url,
                timeout=_CONNECT_TIMEOUT * 3,
                header=[f"{k}: {v}" for k, v in self.headers.items()],
            )
        except (websocket.WebSocketException, OSError) as exc:
            self._http.close()
            raise SessionError(
                f"Cannot open the kernel of session {self.session_id} through the Jupyter "
                f"server: {exc}"
            ) from None
        self._dead = ""
        self._handshake_or_close()

    def matches(self, session: Session) -> bool:
        return session.uuid == self.uuid and not self._dead

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # already closed by the server
            pass
        self._http.close()

    def _handshake(self) -> None:
        msg_id = self._send("shell", "kernel_info_request", {})
        deadline = time.monotonic() + _CONNECT_TIMEOUT * 3
        while time.monotonic() < deadline:
            msg = self._recv(_POLL)
            if (
                msg
                and msg.get("parent_header", {}).get("msg_id") == msg_id
                and msg.get("msg_type") == "kernel_info_reply"
            ):
                return
        raise SessionError(
            f"The kernel of session {self.session_id} did not answer through the Jupyter "
            "server in time" + (f": {self._dead}" if self._dead else "")
        )

    def _send(self, channel: str, msg_type: str, content: dict[str, Any]) -> str:
        import websocket

        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "session": self._session,
            "username": "jupyter-sessions",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "version": "5.3",
        }
        message = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
        try:
            self.ws.send(json.dumps({**message, "channel": channel}))
        except (websocket.WebSocketException, OSError) as exc:
            self._dead = self._dead or f"the connection closed ({exc})"
            raise SessionError(
                f"The kernel of session {self.session_id} is gone: {self._dead}"
            ) from None
        return msg_id

    def _recv(self, timeout: float) -> dict[str, Any] | None:
        import websocket

        if self._dead:
            raise SessionError(f"The kernel of session {self.session_id} is gone: {self._dead}")
        self.ws.settimeout(timeout)
        try:
            frame = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return None
        except (websocket.WebSocketException, OSError):
            self._dead = "the Jupyter server closed the connection"
            raise SessionError(
                f"The kernel of session {self.session_id} is gone: {self._dead}"
            ) from None
        if not isinstance(frame, str):
            return None  # binary frames carry buffers (widgets), which cells here do not use
        try:
            msg = json.loads(frame)
        except ValueError:
            return None
        if not isinstance(msg, dict):
            return None
        content = msg.get("content") or {}
        if msg.get("msg_type") == "status" and content.get("execution_state") == "dead":
            self._dead = str(content.get("reason") or "the kernel died")
            raise SessionError(f"The kernel of session {self.session_id} is gone: {self._dead}")
        return msg

    def _send_execute(self, code: str) -> str:
        return self._send(
            "shell",
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )

    def _next_iopub(self, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            msg = self._recv(max(0.001, deadline - time.monotonic()))
            if msg is None or msg.get("channel") == "iopub":
                return msg
            if time.monotonic() >= deadline:
                return None

    def _drain_stale(self) -> None:
        while self._recv(0.001) is not None:
            pass

    def _interrupt(self) -> None:
        import httpx

        try:
            self._http.post(
                self.server_url + f"api/kernels/{self.kernel_id}/interrupt",
                timeout=_INTERRUPT_TIMEOUT * 3,
            )
        except httpx.HTTPError:
            pass  # the drain that follows is bounded; the cell fails with its message


def _error_message(response: Any, fallback: str) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{fallback} (HTTP {response.status_code})"
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and err.get("message"):
        return str(err["message"])
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"{fallback} (HTTP {response.status_code})"


_ANSI = r"(?:\x1b\[[0-9;]*m)*"
# IPython's frame header of a cell: ``Cell In[4], line 2`` (coloured, in IPython 8 and 9).
_CELL_REF = re.compile(rf"(Cell{_ANSI}\s{_ANSI})In ?\[(\d+)\]")


def point_at_local_cells(traceback: list[str], cells: dict[int, int]) -> list[str]:
    """Rewrite ``Cell In[N]`` of the remote cells run from this notebook to the notebook's
    own cell numbers; a remote cell run elsewhere reads ``Session cell [N]``."""

    def local(match: re.Match[str]) -> str:
        remote = int(match.group(2))
        if remote in cells:
            return f"{match.group(1)}In[{cells[remote]}]"
        return f"{match.group(1)}Session cell [{remote}]"

    return [_CELL_REF.sub(local, line) for line in traceback]


class _Relay:
    """Re-emits one request's IOPub messages in this kernel."""

    def __init__(self) -> None:
        self.error: tuple[str, str, list[str]] | None = None
        self.result: RemoteResult | None = None
        self.remote_cell: int | None = None

    def handle(self, msg: dict[str, Any]) -> bool:
        """Relay one message; True once the request is finished (the kernel went idle)."""
        from IPython.display import clear_output, display, update_display

        kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type", "")
        content = msg.get("content", {})
        if kind == "execute_input":
            count = content.get("execution_count")
            self.remote_cell = count if isinstance(count, int) else None
        elif kind == "stream":
            out = sys.stderr if content.get("name") == "stderr" else sys.stdout
            out.write(content.get("text", ""))
            out.flush()
        elif kind == "execute_result":
            # The value of the last expression: this cell's own result, as if run here.
            self.result = RemoteResult(content.get("data", {}), content.get("metadata") or {})
        elif kind == "display_data":
            display_id = content.get("transient", {}).get("display_id")
            kwargs: dict[str, Any] = {"raw": True, "metadata": content.get("metadata") or None}
            if display_id:
                kwargs["display_id"] = display_id
            display(content.get("data", {}), **kwargs)
        elif kind == "update_display_data":
            display_id = content.get("transient", {}).get("display_id")
            if display_id:
                update_display(
                    content.get("data", {}),
                    raw=True,
                    metadata=content.get("metadata") or None,
                    display_id=display_id,
                )
        elif kind == "clear_output":
            clear_output(wait=bool(content.get("wait")))
        elif kind == "error":
            self.error = (
                str(content.get("ename", "Error")),
                str(content.get("evalue", "")),
                [str(line) for line in content.get("traceback", [])],
            )
        elif kind == "status" and content.get("execution_state") == "idle":
            return True
        return False


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


class RemoteKernels:
    """One connection per session, opened on first use and closed when the session ends."""

    def __init__(self) -> None:
        self._by_name: dict[str, RemoteKernel | GatewayKernel] = {}

    def get(self, session: Session, client: SessionsClient | None = None) -> _CellRunner:
        """The session's kernel: over ZMQ when its connection file is here, otherwise
        through the Jupyter server that ``client`` talks to."""
        try:
            _require_active(session)
        except SessionError:
            self.forget(session.name)  # it ended: its kernel is gone
            raise
        kernel = self._by_name.get(session.name)
        if kernel is not None and not kernel.matches(session):
            kernel.close()
            kernel = None
        if kernel is None:
            server = client.server_config if client is not None else None
            # The emulator's kernels are reached over ZMQ when their file is here; anything
            # else (Dataproc) through the Jupyter server, which holds the gateway's token.
            direct = local_connection_file(session) is not None and (
                server is None or server.backend in ("local", "url")
            )
            if direct or server is None:
                kernel = RemoteKernel(session, connection_file(session))
            else:
                assert client is not None
                kernel = GatewayKernel(session, server.url, client.request_headers())
            self._by_name[session.name] = kernel
        return kernel

    def forget(self, name: str) -> None:
        kernel = self._by_name.pop(name, None)
        if kernel is not None:
            kernel.close()

    def close(self) -> None:
        for name in list(self._by_name):
            self.forget(name)
