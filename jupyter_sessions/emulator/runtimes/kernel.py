"""The ``kernel`` runtime: a real IPython kernel process per session.

Kernels run in their own process group and session, without ``JPY_PARENT_PID``, so they
outlive a crash of the emulator; the next emulator re-adopts them from their handle. Every
kernel carries ``JUPYTER_SESSIONS_RUNTIME=<id>`` in its environment, which lets the runtime
find (and only ever kill) processes that belong to it, children included.

Files live under ``<state_dir>/kernels/``: ``kernel-<id>.json`` (connection file, 0600),
``kernel-<id>.log`` (kernel stdout/stderr) and, while no session owns the kernel yet,
``kernel-<id>.unclaimed`` (its handle data, so a later ``open()`` can clean up warm-pool
kernels orphaned by a crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.connect import write_connection_file

from jupyter_sessions.emulator.runtimes.base import (
    Runtime,
    RuntimeHandle,
    RuntimeStartError,
    Usage,
)
from jupyter_sessions.emulator.runtimes.spark import UNAVAILABLE_KEY, SparkSupport

log = logging.getLogger(__name__)

MARKER_ENV = "JUPYTER_SESSIONS_RUNTIME"
SESSION_ENV = "JUPYTER_SESSIONS_SESSION"

SCALA_UNAVAILABLE = (
    "Scala kernels are not available in the local emulator; "
    "use the python kernel or a Dataproc backend"
)

_IP = "127.0.0.1"
_POLITE_TIMEOUT = 2.0  # after shutdown_request
_TERM_TIMEOUT = 1.0  # after SIGTERM
_KILL_TIMEOUT = 5.0  # after SIGKILL: waited only while the process lingers (a loaded machine)
_PROBE_RESEND = 1.0  # resend kernel_info while the kernel is still binding its sockets
_NAME_TIMEOUT = 5.0  # telling a claimed pool kernel its session name
_POLL = 0.05
_LOG_TAIL_LINES = 20
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# Requests other clients send just to look at a kernel; they are not execution activity.
_PROBE_REQUESTS = frozenset({"kernel_info_request"})


def spawn_logged(
    cmd: list[str], log_file: Path | str, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in a process session of its own, its output appended to ``log_file``
    (raises OSError when it cannot start)."""
    with open(log_file, "ab") as out:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )


@dataclass
class _Kernel:
    """In-memory state of a kernel this runtime tracks."""

    data: dict[str, Any]
    client: AsyncKernelClient
    proc: subprocess.Popen[bytes] | None = None
    watcher: asyncio.Task[None] | None = None
    last_activity: float | None = None
    iopub_seen: asyncio.Event = field(default_factory=asyncio.Event)
    execution_state: str = "starting"

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def pid(self) -> int:
        return int(self.data["pid"])

    @property
    def own_session(self) -> str:
        return str(self.client.session.session)


def _kernel_kind(config: dict[str, Any]) -> str:
    """The kernel a session asks for; only python runs locally."""
    jupyter = config.get("jupyterSession")
    raw = jupyter.get("kernel") if isinstance(jupyter, dict) else None
    name = str(raw).upper() if raw is not None else ""
    if name in ("", "0", "1", "PYTHON", "KERNEL_UNSPECIFIED"):
        return "python"
    if name in ("2", "SCALA"):
        raise RuntimeStartError(SCALA_UNAVAILABLE)
    raise RuntimeStartError(f"Unknown kernel {raw!r}; expected PYTHON or SCALA")


def _runtime_version(config: dict[str, Any]) -> str:
    """A session's runtime version, major.minor ("2.3.14" -> "2.3")."""
    runtime = config.get("runtimeConfig")
    version = str(runtime.get("version") or "") if isinstance(runtime, dict) else ""
    return ".".join(version.split(".")[:2])


# --- /proc helpers -------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from ``state`` on (index 0 = field 3), or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(b")") + 2 :].decode().split()


def _runs(pid: int) -> bool:
    """The process exists and is not a zombie."""
    if pid <= 0:
        return False
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X", "x")


def _cmdline_has(pid: int, needle: str) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return needle.encode() in args


def _exiting(pid: int) -> bool:
    """The process is on its way out: its memory (and so its cmdline) is released, but it
    is not a zombie yet. For a moment it still looks like it runs."""
    try:
        empty = Path(f"/proc/{pid}/cmdline").read_bytes() == b""
    except OSError:
        return False
    return empty and _runs(pid)


def _marked_pids(handle_id: str) -> list[int]:
    """Processes whose environment carries this runtime id (the kernel and its children)."""
    if not handle_id:
        return []
    marker = f"\0{MARKER_ENV}={handle_id}\0".encode()
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if marker in b"\0" + env + b"\0" and _runs(int(entry)):
            found.append(int(entry))
    return found


def _group_usage(pgid: int) -> tuple[float, int]:
    """CPU seconds (self + reaped children) and resident bytes of a process group."""
    ticks = 0
    pages = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is None or len(fields) < 22 or int(fields[2]) != pgid:
            continue
        # utime, stime, cutime, cstime are stat fields 14-17; rss (pages) is field 24.
        ticks += sum(int(v) for v in fields[11:15])
        pages += int(fields[21])
    return ticks / _CLK_TCK, pages * _PAGE_SIZE


def _signal(pid: int, sig: int) -> None:
    """Signal a kernel's whole process group (it leads one), else just the process."""
    if pid <= 0 or pid == os.getpid():  # 0 or our own pid would hit the emulator itself
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _reap_foreign(pid: int) -> None:
    """Reap a zombie kernel that happens to be our child without a Popen (same-process re-adopt)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _log_tail(path: str | None, lines: int = _LOG_TAIL_LINES) -> str:
    if not path:
        return ""
    try:
        text = Path(path).read_bytes()[-16384:].decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


class KernelRuntime(Runtime):
    """Runs each session in a real IPython kernel, with a warm pool of ready kernels."""

    kind = "kernel"
    serves_kernels = True
    #: How long a kernel found after a restart gets to answer kernel_info before it is killed.
    adopt_timeout: float = 5.0

    def __init__(
        self,
        state_dir: Path,
        warm_pool: int = 1,
        python: str = sys.executable,
        start_timeout: float = 60.0,
        spark: SparkSupport | None = None,
        pythons: dict[str, str] | None = None,
    ) -> None:
        self.kernels_dir = Path(state_dir).resolve() / "kernels"
        self.warm_pool = max(0, warm_pool)
        self.python = python
        self.start_timeout = start_timeout
        #: Local Spark in session kernels (None: plain IPython kernels).
        self.spark = spark
        #: The Python of sessions of a runtime version ("2.3" -> path), else ``python``.
        self.pythons = dict(pythons or {})
        self._kernels: dict[str, _Kernel] = {}  # tracked: pool and claimed
        self._pool: list[str] = []  # ids of ready, unclaimed kernels, oldest first
        self._fill_task: asyncio.Task[None] | None = None
        self._usage: dict[str, Usage] = {}  # last known, kept after the process is gone
        self._closed = False

    @property
    def warm_kernels(self) -> int:
        """How many ready kernels wait in the pool."""
        return len(self._pool)

    # --- lifecycle of the runtime ---------------------------------------------------------

    async def open(self) -> None:
        """Clean up kernels a crashed emulator left unclaimed, then start filling the pool."""
        self.kernels_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for marker in sorted(self.kernels_dir.glob("kernel-*.unclaimed")):
            try:
                data = json.loads(marker.read_text())
            except (OSError, ValueError):
                data = {}
            if data.get("id") in self._kernels:
                continue
            log.info("Stopping unclaimed kernel %s left by a previous run", data.get("id"))
            await self._force_stop(data, None)
            self._remove_files(data)
            marker.unlink(missing_ok=True)
        self._schedule_fill()

    async def close(self) -> None:
        """Stop the warm pool and stop watching claimed kernels (they keep running)."""
        self._closed = True
        if self._fill_task is not None:
            self._fill_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fill_task
            self._fill_task = None
        pool = [self._kernels[kid] for kid in self._pool if kid in self._kernels]
        self._pool.clear()
        await asyncio.gather(*(self.stop(RuntimeHandle(self.kind, k.data)) for k in pool))
        for kernel in list(self._kernels.values()):
            await self._detach(kernel)
        self._kernels.clear()

    # --- Runtime contract -----------------------------------------------------------------

    async def launch(self, session_name: str, config: dict[str, Any]) -> RuntimeHandle:
        """Hand out a warm kernel if one is ready, else start one; return once it answers."""
        kernel_kind = _kernel_kind(config)
        if self._closed:
            raise RuntimeStartError("The kernel runtime is shut down")
        python = self._python_for(config)
        spark_conf: dict[str, str] | None = None
        spark_note = ""
        if self.spark is not None:
            # Local Spark only where the session's own interpreter has PySpark.
            probed = await self.spark.probe_for(python)
            if probed.available:
                spark_conf = self.spark.conf_for(session_name, config)
            else:
                spark_note = probed.note()
        kernel = await self._claim(session_name, spark_conf) if python == self.python else None
        if kernel is None:
            kernel = await self._start_kernel(session_name, spark_conf=spark_conf, python=python)
        self._unmark_unclaimed(kernel.data)
        kernel.data["kernel"] = kernel_kind
        if spark_conf is not None:
            kernel.data["spark"] = spark_conf
        elif spark_note:
            kernel.data[UNAVAILABLE_KEY] = spark_note
        self._schedule_fill()
        log.info("Kernel %s (pid %s) runs session %s", kernel.id, kernel.pid, session_name)
        return RuntimeHandle(self.kind, dict(kernel.data))

    async def stop(self, handle: RuntimeHandle) -> None:
        """Shut the kernel down politely, then SIGTERM, then SIGKILL its process group."""
        data = handle.data
        kid = str(data.get("id", ""))
        kernel = self._kernels.pop(kid, None)
        if kid in self._pool:
            self._pool.remove(kid)
        self._measure(data)  # the final usage, while the process still exists
        await self._end(data, kernel)
        self._remove_files(data)

    def is_alive(self, handle: RuntimeHandle) -> bool:
        """The kernel process exists, is not a zombie, and is still the one we started."""
        kernel = self._kernels.get(str(handle.data.get("id", "")))
        if kernel is not None and kernel.proc is not None:
            kernel.proc.poll()  # reaps an exited child
        return self._is_ours(handle.data, None)

    async def adopt(self, handle: RuntimeHandle) -> bool:
        """Track a kernel that outlived the previous emulator again, or stop what is left."""
        data = handle.data
        kid = str(data.get("id", ""))
        if kid in self._kernels:
            return self.is_alive(handle)
        if self._is_ours(data, None):
            kernel: _Kernel | None = None
            try:
                kernel = self._track(dict(data), None)
                deadline = asyncio.get_running_loop().time() + self.adopt_timeout
                if await self._probe(kernel, deadline):
                    # What the kernel did while nobody watched is unknown: count from now, so
                    # an emulator restart never makes a busy session look idle.
                    kernel.last_activity = time.time()
                    self._kernels[kid] = kernel
                    self._measure(data)
                    log.info("Re-adopted kernel %s (pid %s)", kid, data.get("pid"))
                    return True
                log.warning("Kernel %s is alive but does not answer; stopping it", kid)
            except (OSError, ValueError, KeyError) as err:
                log.warning("Cannot reconnect to kernel %s: %s; stopping it", kid, err)
            if kernel is not None:
                await self._detach(kernel)
        await self._force_stop(data, None)
        self._remove_files(data)
        return False

    def last_activity(self, handle: RuntimeHandle) -> float | None:
        """Wall time of the last execution seen on the kernel's IOPub channel."""
        kernel = self._kernels.get(str(handle.data.get("id", "")))
        return kernel.last_activity if kernel is not None else None

    def usage(self, handle: RuntimeHandle) -> Usage:
        """CPU, memory and wall time of the kernel's process group (last known if gone)."""
        return self._measure(handle.data)

    def endpoints(self, handle: RuntimeHandle) -> dict[str, str]:
        """Connection file, shell address and log of the kernel."""
        data = handle.data
        found = {
            "Jupyter Kernel Connection File": str(data.get("connection_file", "")),
            "Jupyter Kernel Shell": f"tcp://{_IP}:{data.get('shell_port', '')}",
        }
        if data.get("log_file"):
            found["Jupyter Kernel Log"] = str(data["log_file"])
        if self.spark is not None:
            found.update(self.spark.endpoints(data))
        return found

    def log_tail(self, handle: RuntimeHandle, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines the kernel wrote to stdout/stderr (empty once stopped)."""
        return _log_tail(handle.data.get("log_file"), lines)

    # --- what the kernel gateway needs --------------------------------------------------------

    def check_config(self, config: dict[str, Any]) -> None:
        _kernel_kind(config)

    def _python_for(self, config: dict[str, Any]) -> str:
        """The interpreter of a session's kernel: per runtime version, else the default."""
        return self.pythons.get(_runtime_version(config), self.python)

    def connection_file(self, handle: RuntimeHandle) -> str | None:
        path = self._own_file(handle.data.get("connection_file"))
        return str(path) if path is not None and path.is_file() else None

    def execution_state(self, handle: RuntimeHandle) -> str:
        kernel = self._kernels.get(str(handle.data.get("id", "")))
        return kernel.execution_state if kernel is not None else "starting"

    async def interrupt(self, handle: RuntimeHandle) -> None:
        """SIGINT to the kernel's process group, as jupyter_client does for ipykernel."""
        if not self._is_ours(handle.data, None):
            raise RuntimeStartError("The session's kernel is not running")
        _signal(int(handle.data["pid"]), signal.SIGINT)

    async def restart(self, handle: RuntimeHandle) -> RuntimeHandle:
        """Stop the kernel process and start a new one on the same connection file, so
        connected clients (same ports, same key) carry on with a fresh kernel."""
        data = dict(handle.data)
        kid = str(data.get("id", ""))
        if self._own_file(data.get("connection_file")) is None:
            raise RuntimeStartError("The session's kernel has no connection file to reuse")
        used = self._measure(data)
        kernel = self._kernels.pop(kid, None)
        await self._end(data, kernel)
        data["cpu_offset"] = used.cpu_seconds  # usage carries on across restarts
        fresh = await self._start_kernel(data.get("session"), reuse=data)
        self._unmark_unclaimed(fresh.data)
        log.info("Kernel %s restarted (pid %s)", kid, fresh.pid)
        return RuntimeHandle(self.kind, dict(fresh.data))

    # --- warm pool ------------------------------------------------------------------------

    def _schedule_fill(self) -> None:
        if self._closed or self.warm_pool == 0 or len(self._pool) >= self.warm_pool:
            return
        if self._fill_task is None or self._fill_task.done():
            self._fill_task = asyncio.create_task(self._fill(), name="kernel-warm-pool")

    async def _fill(self) -> None:
        failures = 0
        while not self._closed and len(self._pool) < self.warm_pool:
            try:
                kernel = await self._start_kernel(None)
            except RuntimeStartError as err:
                failures += 1
                log.warning("Could not start a warm-pool kernel (attempt %s): %s", failures, err)
                if failures >= 3:
                    return  # the next claim tries again
                await asyncio.sleep(2.0**failures)
                continue
            failures = 0
            self._pool.append(kernel.id)

    async def _claim(
        self, session_name: str, spark_conf: dict[str, str] | None = None
    ) -> _Kernel | None:
        """Take the oldest healthy pool kernel and tell it its session name."""
        while self._pool:
            kernel = self._kernels[self._pool.pop(0)]
            handle = RuntimeHandle(self.kind, kernel.data)
            try:
                named = self.is_alive(handle) and await self._name_session(
                    kernel, session_name, spark_conf
                )
            except BaseException:
                self._pool.insert(0, kernel.id)  # cancelled: still a healthy pool kernel
                raise
            if named:
                kernel.data["session"] = session_name
                kernel.last_activity = None  # its life as a session starts now
                return kernel
            log.warning("Warm-pool kernel %s is unusable; discarding it", kernel.id)
            await self.stop(handle)
        return None

    async def _name_session(
        self, kernel: _Kernel, session_name: str, spark_conf: dict[str, str] | None = None
    ) -> bool:
        """Set JUPYTER_SESSIONS_SESSION inside a pool kernel (silent: no history, no output),
        and start building its session's SparkSession."""
        code = f"import os as _os; _os.environ[{SESSION_ENV!r}] = {session_name!r}; del _os"
        if self.spark is not None and spark_conf is not None:
            code += "\n" + self.spark.claim_code(spark_conf)
        msg_id = kernel.client.execute(code, silent=True, store_history=False)
        deadline = asyncio.get_running_loop().time() + _NAME_TIMEOUT
        while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                reply = await kernel.client.get_shell_msg(timeout=remaining)
            except Empty:
                break
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return bool(reply["content"].get("status") == "ok")
        return False

    # --- starting, probing, watching --------------------------------------------------------

    async def _start_kernel(
        self,
        session_name: str | None,
        reuse: dict[str, Any] | None = None,
        spark_conf: dict[str, str] | None = None,
        python: str | None = None,
    ) -> _Kernel:
        """Start a kernel process and return once it answers kernel_info; with ``reuse``
        (a handle's data), on that kernel's id and connection file (a restart)."""
        self.kernels_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        kid = str(reuse["id"]) if reuse else uuid.uuid4().hex[:16]
        conn = self.kernels_dir / f"kernel-{kid}.json"
        log_file = self.kernels_dir / f"kernel-{kid}.log"
        if reuse:
            info = json.loads(conn.read_text())
        else:
            _, info = write_connection_file(
                str(conn), ip=_IP, key=secrets.token_hex(32).encode(), kernel_name="python3"
            )
        env = dict(os.environ)
        env.pop("JPY_PARENT_PID", None)  # without it the kernel survives the emulator
        env[MARKER_ENV] = kid
        if session_name is None:
            env.pop(SESSION_ENV, None)
        else:
            env[SESSION_ENV] = session_name
        if reuse and isinstance(reuse.get("spark"), dict):
            spark_conf = reuse["spark"]
        if reuse and reuse.get("python"):
            python = str(reuse["python"])
        python = python or self.python
        # Session kernels get Spark when their session has a Spark configuration (their
        # interpreter has PySpark); pool kernels, in the default interpreter, when it has.
        spark = self.spark
        if spark is not None and (
            spark_conf is not None or (session_name is None and spark.available)
        ):
            env.update(spark.kernel_env(spark_conf, python))
        else:
            spark = None
        data: dict[str, Any] = {
            "id": kid,
            "pid": 0,
            "connection_file": str(conn),
            "log_file": str(log_file),
            "started": time.time(),
            "kernel": "python",
            "shell_port": int(info["shell_port"]),
            "session": session_name,
        }
        if reuse:
            data.update(
                started=reuse.get("started", data["started"]),
                kernel=reuse.get("kernel", "python"),
                cpu_offset=float(reuse.get("cpu_offset") or 0.0),
            )
            if reuse.get(UNAVAILABLE_KEY):
                data[UNAVAILABLE_KEY] = reuse[UNAVAILABLE_KEY]
        if spark_conf is not None:
            data["spark"] = spark_conf
        if python != self.python:
            data["python"] = python
        cmd = [python, "-m", "ipykernel_launcher", "-f", str(conn)]
        if spark is not None:
            cmd += spark.kernel_args()
        try:
            proc = spawn_logged(cmd, log_file, env)
        except OSError as err:
            self._remove_files(data)
            raise RuntimeStartError(f"Could not start the python kernel: {err}") from err
        data["pid"] = proc.pid
        self._mark_unclaimed(data)
        kernel = self._track(data, proc)
        try:
            deadline = asyncio.get_running_loop().time() + self.start_timeout
            ready = await self._probe(kernel, deadline)
        except BaseException:
            self._abort(kernel)
            raise
        if not ready:
            code = proc.poll()
            self._abort(kernel, keep_log=True)
            reason = (
                f"exited with code {code}"
                if code is not None
                else f"did not answer within {self.start_timeout:g} s"
            )
            tail = _log_tail(str(log_file)) or "(the kernel wrote no log)"
            log_file.unlink(missing_ok=True)
            raise RuntimeStartError(f"The python kernel {reason}. Kernel log:\n{tail}")
        self._kernels[kid] = kernel
        log.debug("Kernel %s ready (pid %s)", kid, proc.pid)
        return kernel

    def _track(self, data: dict[str, Any], proc: subprocess.Popen[bytes] | None) -> _Kernel:
        """Connect a client to the kernel and start watching its IOPub channel."""
        client = AsyncKernelClient(connection_file=str(data["connection_file"]))
        client.load_connection_file()
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=True)
        kernel = _Kernel(data=data, client=client, proc=proc)
        kernel.watcher = asyncio.create_task(self._watch(kernel), name=f"kernel-{kernel.id}-iopub")
        return kernel

    async def _probe(self, kernel: _Kernel, deadline: float) -> bool:
        """Whether the kernel answers kernel_info (and our IOPub subscription is live)."""
        loop = asyncio.get_running_loop()
        sent: set[str] = set()
        replied = False
        next_send = 0.0
        while (now := loop.time()) < deadline:
            if kernel.proc is not None and kernel.proc.poll() is not None:
                return False
            if kernel.proc is None and not _runs(kernel.pid):
                return False
            if replied and kernel.iopub_seen.is_set():
                return True
            if now >= next_send:
                sent.add(kernel.client.kernel_info())
                next_send = now + _PROBE_RESEND
            try:
                msg = await kernel.client.get_shell_msg(timeout=min(0.1, deadline - now))
            except Empty:
                continue
            if msg.get("parent_header", {}).get("msg_id") in sent:
                replied = True
        return False

    async def _watch(self, kernel: _Kernel) -> None:
        """Record execution activity from IOPub; reap the process if it exits."""
        own = kernel.own_session
        while True:
            try:
                msg = await kernel.client.get_iopub_msg(timeout=2.0)
            except Empty:
                if kernel.proc is not None and kernel.proc.poll() is not None:
                    log.info("Kernel %s exited with code %s", kernel.id, kernel.proc.returncode)
                    return
                continue
            except zmq.ZMQError:
                return  # channels closed
            except Exception as err:  # a malformed or badly signed message
                log.debug("Ignoring IOPub message of kernel %s: %s", kernel.id, err)
                continue
            kernel.iopub_seen.set()
            if msg.get("msg_type") == "status":
                state = (msg.get("content") or {}).get("execution_state")
                if state in ("starting", "idle", "busy"):
                    kernel.execution_state = state
            parent = msg.get("parent_header") or {}
            if parent.get("session") == own or parent.get("msg_type") in _PROBE_REQUESTS:
                continue  # our own probes, or someone else's kernel_info
            msg_type = msg.get("msg_type")
            content = msg.get("content") or {}
            if msg_type == "execute_input" or (
                msg_type == "status" and content.get("execution_state") == "busy"
            ):
                kernel.last_activity = time.time()

    # --- stopping ---------------------------------------------------------------------------

    async def _end(self, data: dict[str, Any], kernel: _Kernel | None) -> None:
        """Stop a kernel: politely if it is ours, then its client, then by force."""
        proc = kernel.proc if kernel is not None else None
        if self._is_ours(data, proc):
            await self._polite_shutdown(data, kernel, proc)
        if kernel is not None:
            await self._detach(kernel)
        await self._force_stop(data, proc)

    def _is_ours(self, data: dict[str, Any], proc: subprocess.Popen[bytes] | None) -> bool:
        """The handle's pid runs and is the kernel of this connection file (not a reused pid)."""
        if proc is not None:
            proc.poll()
        pid = int(data.get("pid") or 0)
        conn = str(data.get("connection_file") or "")
        return bool(conn) and _runs(pid) and _cmdline_has(pid, conn)

    async def _polite_shutdown(
        self, data: dict[str, Any], kernel: _Kernel | None, proc: subprocess.Popen[bytes] | None
    ) -> None:
        """Send shutdown_request on the control channel and wait a little for the exit."""
        client = kernel.client if kernel is not None else None
        temporary = False
        try:
            if client is None:
                client = AsyncKernelClient(connection_file=str(data["connection_file"]))
                client.load_connection_file()
                client.start_channels(shell=False, iopub=False, stdin=False, hb=False)
                temporary = True
            client.shutdown()
        except (OSError, ValueError, KeyError, zmq.ZMQError) as err:
            log.debug("No polite shutdown for kernel %s: %s", data.get("id"), err)
        else:
            await self._wait_gone(data, proc, _POLITE_TIMEOUT)
        finally:
            if temporary and client is not None:
                client.stop_channels()

    async def _force_stop(self, data: dict[str, Any], proc: subprocess.Popen[bytes] | None) -> None:
        """SIGTERM then SIGKILL the kernel's group and any process carrying its marker."""
        pid = int(data.get("pid") or 0)
        kid = str(data.get("id") or "")
        ours = self._is_ours(data, proc)
        if ours:
            _signal(pid, signal.SIGTERM)
            _signal(pid, signal.SIGCONT)  # a stopped process only acts on SIGTERM once resumed
            if not await self._wait_gone(data, proc, _TERM_TIMEOUT):
                _signal(pid, signal.SIGKILL)
                await self._wait_gone(data, proc, _KILL_TIMEOUT)
        elif proc is not None and proc.returncode is None:
            # Our own child whose cmdline no longer matches (exec'd away): still ours to kill.
            _signal(pid, signal.SIGKILL)
        # Children that outlived the kernel, or left its process group.
        leftovers = _marked_pids(kid)
        for other in leftovers:
            _signal(other, signal.SIGKILL)
        if leftovers:
            await self._wait_pids_gone(leftovers, _KILL_TIMEOUT)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=_KILL_TIMEOUT)  # no zombies
        elif ours:
            _reap_foreign(pid)
        if self._is_ours(data, proc):
            log.error("Kernel %s (pid %s) survived SIGKILL", kid, pid)

    async def _wait_gone(
        self, data: dict[str, Any], proc: subprocess.Popen[bytes] | None, timeout: float
    ) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pid = int(data.get("pid") or 0)
        while self._is_ours(data, proc) or _exiting(pid):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(_POLL)
        return True

    @staticmethod
    async def _wait_pids_gone(pids: list[int], timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(_runs(p) for p in pids) and loop.time() < deadline:
            await asyncio.sleep(_POLL)

    def _abort(self, kernel: _Kernel, keep_log: bool = False) -> None:
        """Kill a kernel that failed to start (also on cancellation: keep it short)."""
        self._kernels.pop(kernel.id, None)
        if kernel.watcher is not None:
            kernel.watcher.cancel()
        kernel.client.stop_channels()
        if kernel.proc is not None and kernel.proc.poll() is None:
            _signal(kernel.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                kernel.proc.wait(timeout=_KILL_TIMEOUT)
        for other in _marked_pids(kernel.id):
            _signal(other, signal.SIGKILL)
        self._remove_files(kernel.data, keep_log=keep_log)

    async def _detach(self, kernel: _Kernel) -> None:
        """Stop watching a kernel without touching its process."""
        if kernel.watcher is not None and not kernel.watcher.done():
            kernel.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await kernel.watcher
        kernel.client.stop_channels()

    # --- files and usage ----------------------------------------------------------------------

    def _own_file(self, raw: Any) -> Path | None:
        """A path from a handle, only if it lies in our kernels directory (never delete others)."""
        if not raw:
            return None
        path = Path(str(raw))
        return path if path.parent == self.kernels_dir else None

    def _remove_files(self, data: dict[str, Any], keep_log: bool = False) -> None:
        for key in ("connection_file",) if keep_log else ("connection_file", "log_file"):
            path = self._own_file(data.get(key))
            if path is not None:
                path.unlink(missing_ok=True)
        self._unmark_unclaimed(data)

    def _unclaimed_path(self, data: dict[str, Any]) -> Path | None:
        kid = str(data.get("id") or "")
        if not kid or "/" in kid:
            return None
        return self.kernels_dir / f"kernel-{kid}.unclaimed"

    def _mark_unclaimed(self, data: dict[str, Any]) -> None:
        path = self._unclaimed_path(data)
        if path is not None:
            path.write_text(json.dumps(data))

    def _unmark_unclaimed(self, data: dict[str, Any]) -> None:
        path = self._unclaimed_path(data)
        if path is not None:
            path.unlink(missing_ok=True)

    def _measure(self, data: dict[str, Any]) -> Usage:
        kid = str(data.get("id") or "")
        if self._is_ours(data, None):
            cpu, rss = _group_usage(int(data["pid"]))
            cpu += float(data.get("cpu_offset") or 0.0)
            previous = self._usage.get(kid)
            # Children reaped by nobody drop out of the sum; usage never goes backwards.
            if previous is not None:
                cpu = max(cpu, previous.cpu_seconds)
            wall = max(0.0, time.time() - float(data.get("started") or time.time()))
            self._usage[kid] = Usage(cpu_seconds=cpu, rss_bytes=rss, wall_seconds=wall)
        return self._usage.get(kid) or Usage()
