"""``%%session``: run a cell in a session's kernel and relay what it does, as it happens.

Sessions of the local emulator's kernel runtime publish a Jupyter connection file in
``runtimeInfo.endpoints["Jupyter Kernel Connection File"]``; this module connects a
jupyter_client BlockingKernelClient to it, sends ``execute_request`` and relays the IOPub
messages of that request: stream text to ``sys.stdout``/``sys.stderr``, rich output through
IPython's display machinery, and the remote error as a failed cell. Ctrl-C (a kernel
interrupt) is forwarded as an ``interrupt_request`` on the control channel.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import Any

from .api.model import Session, State
from .cell_errors import SessionError, remote_error

CONNECTION_FILE = "Jupyter Kernel Connection File"
KERNEL_PID = "Jupyter Kernel Pid"

_CONNECT_TIMEOUT = 10.0  # the kernel answers kernel_info within this, or is unusable
_INTERRUPT_TIMEOUT = 3.0  # for the interrupt_reply
_DRAIN_TIMEOUT = 10.0  # for the rest of the output after an interrupt
_LIVENESS_INTERVAL = 5.0  # seconds without output before checking the session is alive
_POLL = 0.1


def connection_file(session: Session) -> Path:
    """The session's kernel connection file, or a SessionError saying why there is none."""
    sid = session.session_id
    if session.state != State.ACTIVE:
        hint = (
            f"wait for it with `%session wait {sid}`"
            if session.state == State.CREATING
            else "create a new one with `%session create`"
        )
        raise SessionError(f"Session {sid} is {session.state.name}, not ACTIVE: {hint}")
    endpoints = session.runtime_info.endpoints if session.runtime_info else {}
    raw = endpoints.get(CONNECTION_FILE, "")
    if not raw:
        offered = ", ".join(sorted(endpoints)) or "none"
        raise SessionError(
            f"Session {sid} offers no Jupyter kernel this notebook can reach (its endpoints: "
            f"{offered}); %%session runs cells in sessions of the local emulator's kernel runtime"
        )
    path = Path(raw)
    if not path.is_file():
        raise SessionError(
            f"The kernel connection file of session {sid} ({raw}) is not on this machine: the "
            "session runs elsewhere, so %%session cannot reach its kernel from here"
        )
    return path


class RemoteKernel:
    """A connection to one session's kernel, reused by the cells that run there."""

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
        try:
            self._handshake()
        except BaseException:
            self.close()
            raise

    def matches(self, session: Session, path: Path) -> bool:
        return session.uuid == self.uuid and path == self.path

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

    # --- running a cell -------------------------------------------------------------------

    def execute(
        self,
        code: str,
        *,
        timeout: float | None = None,
        alive: Callable[[], str | None] | None = None,
    ) -> None:
        """Run ``code``, relaying its output; raise the remote error if it fails.

        ``alive()`` is asked after a while without output: a message means the session is
        gone (the cell fails with it); None means keep waiting.
        """
        self._drain_stale()
        msg_id = self.client.execute(code, store_history=True, allow_stdin=False)
        relay = _Relay()
        started = time.monotonic()
        last_seen = started
        interrupted = False
        while True:
            try:
                msg = self.client.iopub_channel.get_msg(timeout=_POLL)
            except Empty:
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
            except KeyboardInterrupt:
                if interrupted:
                    raise  # a second Ctrl-C stops waiting for the remote kernel
                interrupted = True
                self._interrupt()
                self._finish(relay, msg_id, _DRAIN_TIMEOUT)
                break
            last_seen = time.monotonic()
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue  # another client's cell in the same kernel
            if relay.handle(msg):
                break
        if relay.error is not None:
            ename, evalue, tb = relay.error
            raise remote_error(ename, evalue, tb, self.session_id)
        if interrupted:
            raise SessionError(
                f"Interrupted; the cell in session {self.session_id} was interrupted too"
            )

    def _finish(self, relay: _Relay, msg_id: str, timeout: float) -> None:
        """Relay what is left of the request's output (bounded), after an interrupt."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.client.iopub_channel.get_msg(timeout=_POLL)
            except Empty:
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id and relay.handle(msg):
                return

    def _drain_stale(self) -> None:
        """Drop messages left from earlier requests (e.g. replies nobody waited for)."""
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


class _Relay:
    """Re-emits one request's IOPub messages in this kernel."""

    def __init__(self) -> None:
        self.error: tuple[str, str, list[str]] | None = None

    def handle(self, msg: dict[str, Any]) -> bool:
        """Relay one message; True once the request is finished (the kernel went idle)."""
        from IPython.display import clear_output, display, update_display

        kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type", "")
        content = msg.get("content", {})
        if kind == "stream":
            out = sys.stderr if content.get("name") == "stderr" else sys.stdout
            out.write(content.get("text", ""))
            out.flush()
        elif kind in ("display_data", "execute_result"):
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
        self._by_name: dict[str, RemoteKernel] = {}

    def get(self, session: Session) -> RemoteKernel:
        try:
            path = connection_file(session)
        except SessionError:
            self.forget(session.name)  # it ended: its kernel is gone
            raise
        kernel = self._by_name.get(session.name)
        if kernel is not None and not kernel.matches(session, path):
            kernel.close()
            kernel = None
        if kernel is None:
            kernel = RemoteKernel(session, path)
            self._by_name[session.name] = kernel
        return kernel

    def forget(self, name: str) -> None:
        kernel = self._by_name.pop(name, None)
        if kernel is not None:
            kernel.close()

    def close(self) -> None:
        for name in list(self._by_name):
            self.forget(name)
