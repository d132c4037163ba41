"""Spark Connect sessions: a real local Spark Connect server per session.

The server is PySpark's own (``SparkConnectServer`` through ``spark-submit``, from the jars
PySpark ships), in its own process group and session so it outlives an emulator crash,
listening on loopback only with a token of its own. Its handle (pid, port, token) lets the
next emulator re-adopt it; the marker ``spark.jupyter_sessions.runtime=<id>`` on its command
line and ``JUPYTER_SESSIONS_RUNTIME=<id>`` in its environment make sure only our own
processes are ever stopped. A record ``connect/connect-<id>.json``, written before the
server is started and removed once it is stopped, lets the next emulator stop a server whose
session never got it (an emulator killed while the server was starting): by its pid, and by
the environment marker for whatever it started before its pid was recorded.
``runtimeInfo.endpoints["Spark Connect Server"]`` is
``sc://localhost:PORT/;token=TOKEN``, which PySpark's Spark Connect client takes as is.

Idle means no client connected: the server counts as active while a TCP connection to its
port is established (a Spark Connect client keeps its channel open while in use).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from .base import Runtime, RuntimeHandle, RuntimeStartError, Usage
from .kernel import (
    MARKER_ENV,
    _cmdline_has,
    _group_usage,
    _log_tail,
    _marked_pids,
    _runs,
    spawn_logged,
)
from .spark import INSTALL_HINT, free_port, local_conf

log = logging.getLogger(__name__)

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
ENDPOINT = "Spark Connect Server"
_MARK = "spark.jupyter_sessions.runtime"
_POLL = 0.1
_TERM_TIMEOUT = 10.0
_KILL_TIMEOUT = 2.0


def spark_home() -> str | None:
    """PySpark's Spark home (its bin/spark-submit and jars), if PySpark is installed."""
    if os.environ.get("SPARK_HOME") and Path(os.environ["SPARK_HOME"], "bin").is_dir():
        return os.environ["SPARK_HOME"]
    try:
        from pyspark.find_spark_home import _find_spark_home
    except ImportError:
        return None
    try:
        return str(_find_spark_home())
    except Exception:  # it exits or raises when it finds nothing
        return None


def unavailable_reason() -> str:
    """Why Spark Connect sessions cannot run here ("" when they can)."""
    home = spark_home()
    if home is None or not Path(home, "bin", "spark-submit").is_file():
        return "Spark Connect sessions need PySpark on the emulator's machine: " + INSTALL_HINT
    if not list(Path(home, "jars").glob("spark-connect_*.jar")):
        return f"the Spark in {home} has no Spark Connect server jar; install PySpark 4 or later"
    java_home = os.environ.get("JAVA_HOME", "")
    java = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        return "Spark Connect sessions need a Java runtime (java on PATH or JAVA_HOME): " + (
            INSTALL_HINT
        )
    return ""


def _connected(port: int) -> bool:
    """Whether a client holds an established TCP connection to this local port."""
    want = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[1].endswith(want) and parts[3] == "01":
                return True
    return False


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class SparkConnectRuntime(Runtime):
    """Starts, re-adopts and stops one local Spark Connect server per session."""

    kind = "spark-connect"

    def __init__(self, state_dir: Path, start_timeout: float = 180.0) -> None:
        self.dir = Path(state_dir).resolve() / "connect"
        self.start_timeout = start_timeout
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._activity: dict[str, float] = {}
        self._usage: dict[str, Usage] = {}

    async def launch(self, session_name: str, config: dict[str, Any]) -> RuntimeHandle:
        reason = unavailable_reason()
        if reason:
            raise RuntimeStartError(reason)
        home = spark_home()
        assert home is not None
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        rid = uuid.uuid4().hex[:16]
        port = free_port()
        token = secrets.token_urlsafe(24)
        log_file = self.dir / f"connect-{rid}.log"
        conf = local_conf(session_name, config)
        master = conf.pop("spark.master")
        cmd = [
            str(Path(home, "bin", "spark-submit")),
            "--class",
            SERVER_CLASS,
            "--name",
            conf.pop("spark.app.name"),
            "--master",
            master,
            "--conf",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf",
            f"spark.connect.grpc.binding.port={port}",
            "--conf",
            f"{_MARK}={rid}",
        ]
        for key, value in conf.items():
            cmd += ["--conf", f"{key}={value}"]
        env = dict(os.environ)
        env.pop("JPY_PARENT_PID", None)
        env.update(
            {
                MARKER_ENV: rid,
                "SPARK_CONNECT_AUTHENTICATE_TOKEN": token,  # never on the command line
                "SPARK_LOCAL_IP": "127.0.0.1",
                "SPARK_HOME": home,
            }
        )
        data: dict[str, Any] = {
            "id": rid,
            "pid": 0,
            "port": port,
            "token": token,
            "ui_port": int(conf["spark.ui.port"]),
            "log_file": str(log_file),
            "started": time.time(),
            "session": session_name,
        }
        # Until stopped, the record lets a later emulator stop the server if no session's
        # handle names it; written first, so that no crash leaves a server without one.
        self._write_record(data)
        try:
            proc = spawn_logged(cmd, log_file, env)
        except OSError as err:
            self._marker(rid).unlink(missing_ok=True)
            raise RuntimeStartError(f"Could not start the Spark Connect server: {err}") from err
        data["pid"] = proc.pid
        self._procs[rid] = proc
        self._write_record(data)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        try:
            while not await asyncio.to_thread(_listening, port):
                if proc.poll() is not None or loop.time() >= deadline:
                    code = proc.poll()
                    why = (
                        f"exited with code {code}"
                        if code is not None
                        else f"did not listen within {self.start_timeout:g} s"
                    )
                    tail = _log_tail(str(log_file)) or "(no log)"
                    await self.stop(RuntimeHandle(self.kind, data))
                    raise RuntimeStartError(f"The Spark Connect server {why}. Log:\n{tail}")
                await asyncio.sleep(_POLL)
        except asyncio.CancelledError:
            await self.stop(RuntimeHandle(self.kind, data))
            raise
        log.info(
            "Spark Connect server %s (pid %s) on port %s runs %s", rid, proc.pid, port, session_name
        )
        return RuntimeHandle(self.kind, data)

    def _is_ours(self, data: dict[str, Any]) -> bool:
        proc = self._procs.get(str(data.get("id", "")))
        if proc is not None:
            proc.poll()
        pid = int(data.get("pid") or 0)
        return _runs(pid) and _cmdline_has(pid, f"{_MARK}={data.get('id', '')}")

    async def stop(self, handle: RuntimeHandle) -> None:
        data = handle.data
        rid = str(data.get("id", ""))
        self._measure(data)
        pid = int(data.get("pid") or 0)
        proc = self._procs.pop(rid, None)
        loop = asyncio.get_running_loop()
        if self._is_ours(data):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            deadline = loop.time() + _TERM_TIMEOUT
            while self._is_ours(data) and loop.time() < deadline:
                await asyncio.sleep(_POLL)
        for other in [*([pid] if self._is_ours(data) else []), *_marked_pids(rid)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(other, signal.SIGKILL)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(proc.wait, _KILL_TIMEOUT)
        elif pid > 0:  # waitpid(0) would reap any child of ours
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        path = Path(str(data.get("log_file") or ""))
        if path.parent == self.dir:
            path.unlink(missing_ok=True)
        if rid and "/" not in rid:
            self._marker(rid).unlink(missing_ok=True)

    def _marker(self, rid: str) -> Path:
        return self.dir / f"connect-{rid}.json"

    def _write_record(self, data: dict[str, Any]) -> None:
        """Write a server's record whole or not at all (a crash leaves no half record)."""
        path = self._marker(str(data["id"]))
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(data))
        os.replace(partial, path)

    async def sweep(self, keep: list[RuntimeHandle]) -> int:
        """Stop servers a crashed emulator started for sessions that never got them."""
        kept = {str(h.data.get("id")) for h in keep}
        stopped = 0
        for marker in sorted(self.dir.glob("connect-*.json")):
            rid = marker.name[len("connect-") : -len(".json")]
            try:
                data = json.loads(marker.read_text())
            except (OSError, ValueError):
                # Unreadable: whatever carries its id in the environment is still found.
                data = {"id": rid, "log_file": str(self.dir / f"connect-{rid}.log")}
            if not isinstance(data, dict) or str(data.get("id")) != rid:
                data = {"id": rid}
            if rid in kept:
                continue
            if self._is_ours(data) or _marked_pids(rid):
                stopped += 1
                log.info("Stopping Spark Connect server %s left by a previous run", rid)
            await self.stop(RuntimeHandle(self.kind, data))
            marker.unlink(missing_ok=True)
        return stopped

    def is_alive(self, handle: RuntimeHandle) -> bool:
        return self._is_ours(handle.data)

    async def adopt(self, handle: RuntimeHandle) -> bool:
        data = handle.data
        port = int(data.get("port") or 0)
        if self._is_ours(data) and port and await asyncio.to_thread(_listening, port):
            self._activity[str(data["id"])] = time.time()
            log.info("Re-adopted Spark Connect server %s (pid %s)", data["id"], data["pid"])
            return True
        await self.stop(handle)
        return False

    def last_activity(self, handle: RuntimeHandle) -> float | None:
        rid = str(handle.data.get("id", ""))
        if _connected(int(handle.data.get("port") or 0)):
            self._activity[rid] = time.time()
        return self._activity.get(rid)

    def _measure(self, data: dict[str, Any]) -> Usage:
        rid = str(data.get("id", ""))
        if self._is_ours(data):
            cpu, rss = _group_usage(int(data["pid"]))
            previous = self._usage.get(rid)
            if previous is not None:
                cpu = max(cpu, previous.cpu_seconds)
            wall = max(0.0, time.time() - float(data.get("started") or time.time()))
            self._usage[rid] = Usage(cpu_seconds=cpu, rss_bytes=rss, wall_seconds=wall)
        return self._usage.get(rid) or Usage()

    def usage(self, handle: RuntimeHandle) -> Usage:
        return self._measure(handle.data)

    def endpoints(self, handle: RuntimeHandle) -> dict[str, str]:
        data = handle.data
        found = {ENDPOINT: f"sc://localhost:{data.get('port')}/;token={data.get('token')}"}
        if data.get("ui_port"):
            found["Spark UI"] = f"http://127.0.0.1:{data['ui_port']}/"
        if data.get("log_file"):
            found["Spark Connect Log"] = str(data["log_file"])
        return found


class SessionRuntime(Runtime):
    """Jupyter sessions on the kernel runtime, Spark Connect sessions on Spark Connect
    servers: one runtime for the engine, dispatching on the session and its handle."""

    runs_spark_connect = True

    def __init__(self, kernels: Runtime, connect: SparkConnectRuntime) -> None:
        self.kernels = kernels
        self.connect = connect
        self.kind = kernels.kind
        self.serves_kernels = kernels.serves_kernels

    def _for(self, handle: RuntimeHandle) -> Runtime:
        return self.connect if handle.kind == self.connect.kind else self.kernels

    async def open(self) -> None:
        await self.kernels.open()

    async def close(self) -> None:
        await self.kernels.close()

    async def sweep(self, keep: list[RuntimeHandle]) -> int:
        servers = [h for h in keep if h.kind == self.connect.kind]
        return await self.kernels.sweep(
            [h for h in keep if h.kind != self.connect.kind]
        ) + await self.connect.sweep(servers)

    async def launch(self, session_name: str, config: dict[str, Any]) -> RuntimeHandle:
        if config.get("sparkConnectSession") is not None:
            return await self.connect.launch(session_name, config)
        return await self.kernels.launch(session_name, config)

    async def stop(self, handle: RuntimeHandle) -> None:
        await self._for(handle).stop(handle)

    def is_alive(self, handle: RuntimeHandle) -> bool:
        return self._for(handle).is_alive(handle)

    async def adopt(self, handle: RuntimeHandle) -> bool:
        return await self._for(handle).adopt(handle)

    def last_activity(self, handle: RuntimeHandle) -> float | None:
        return self._for(handle).last_activity(handle)

    def usage(self, handle: RuntimeHandle) -> Usage:
        return self._for(handle).usage(handle)

    def endpoints(self, handle: RuntimeHandle) -> dict[str, str]:
        return self._for(handle).endpoints(handle)

    def check_config(self, config: dict[str, Any]) -> None:
        if config.get("sparkConnectSession") is not None:
            raise RuntimeStartError("A Spark Connect session has no Jupyter kernel")
        self.kernels.check_config(config)

    def connection_file(self, handle: RuntimeHandle) -> str | None:
        return self._for(handle).connection_file(handle)

    def execution_state(self, handle: RuntimeHandle) -> str:
        return self._for(handle).execution_state(handle)

    async def interrupt(self, handle: RuntimeHandle) -> None:
        await self._for(handle).interrupt(handle)

    async def restart(self, handle: RuntimeHandle) -> RuntimeHandle:
        return await self._for(handle).restart(handle)

    def __getattr__(self, name: str) -> Any:  # warm_kernels, log_tail, ...
        if name in ("kernels", "connect"):
            raise AttributeError(name)
        return getattr(self.kernels, name)
