"""Runs the embedded emulator as a child process of the Jupyter server.

Starts it on a free loopback port, waits until it answers, restarts it if it dies (with
backoff, saying so in the log and to the watchers), and stops it on shutdown. Session
kernels outlive an emulator crash and are re-adopted by the restarted emulator.

The emulator requires a token only this server holds (a fresh random one in a 0600 file
beside the database, ``--require-token @FILE``) and exits by itself when this server does
(``--parent-pid``). An emulator left by a server that crashed is found through the
database lock (``emulator.sqlite.lock`` says who holds it) and stopped before a new one
starts: one database, one emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ..api.backoff import Backoff
from ..emulator.lock import holder_of, process_alive
from .private_files import write_private

log = logging.getLogger(__name__)

TOKEN_FILE = "emulator.token"
DATABASE_FILE = "emulator.sqlite"


class EmulatorBusy(RuntimeError):
    """The database is held by an emulator that is not ours to stop."""


class EmulatorSupervisor:
    """Keeps one emulator process alive while the server runs."""

    def __init__(
        self,
        data_dir: Path,
        *,
        runtime: str = "kernel",
        extra_args: list[str] | None = None,
        start_timeout: float = 60.0,
        on_change: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.runtime = runtime
        self.extra_args = list(extra_args or [])
        self.start_timeout = start_timeout
        self.on_change = on_change
        self.url = ""
        self.port = 0
        self.restarts = 0
        self.token = ""
        self.db = data_dir / DATABASE_FILE
        self.token_file = data_dir / TOKEN_FILE
        self._proc: asyncio.subprocess.Process | None = None
        self._ready = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False
        self._start_lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._ready.is_set()

    async def start(self) -> None:
        """Start the emulator (once) and keep watching it."""
        async with self._start_lock:
            if self._monitor is not None:
                return
            await self._spawn()
            self._monitor = asyncio.get_running_loop().create_task(self._watch())

    async def wait_ready(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def _spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        await self._settle_leftover()
        if not self.token:
            self._write_token()
        ready_file = self.data_dir / f"emulator-{os.getpid()}.ready.json"
        ready_file.unlink(missing_ok=True)
        log_file = self.data_dir / "emulator.log"
        # Reuse the previous port after a crash so URLs handed out stay valid.
        args = [
            sys.executable,
            "-m",
            "jupyter_sessions.cli",
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            "--runtime",
            self.runtime,
            "--ready-file",
            str(ready_file),
            "--require-token",
            f"@{self.token_file}",
            "--parent-pid",
            str(os.getpid()),
            *self.extra_args,
        ]
        with open(log_file, "ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                *args, stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.returncode is not None:
                break
            if ready_file.exists():
                info = json.loads(ready_file.read_text())
                self.url = str(info["url"]) + "/"
                self.port = int(info["port"])
                ready_file.unlink(missing_ok=True)
                if await self._healthy():
                    self._ready.set()
                    log.info("Local sessions emulator running at %s (pid %s)", self.url, self.pid)
                    return
            await asyncio.sleep(0.05)
        tail = _tail(log_file)
        if self._proc.returncode is None:
            await self._terminate()
        if self.port:
            self.port = 0  # the old port may be taken; take any free one next time
        raise RuntimeError(f"The local sessions emulator did not start: {tail}")

    def _write_token(self) -> None:
        """A fresh random token, readable by this user only (written before any use)."""
        token = secrets.token_urlsafe(32)
        write_private(self.token_file, token)
        self.token = token

    async def _settle_leftover(self) -> None:
        """Make sure no other emulator holds the database: wait for (or stop) one left by a
        server that is gone; refuse to touch one that a live server or a user runs."""
        holder = holder_of(self.db)
        if holder is None:
            return
        pid = _as_pid(holder.get("pid"))
        parent = _as_pid(holder.get("parentPid"))
        if parent and parent != os.getpid() and process_alive(parent):
            raise EmulatorBusy(
                f"the database {self.db} is in use by the emulator (pid {pid}) of another "
                f"running Jupyter server (pid {parent}); stop that server, or give this one "
                "its own SessionsExtensionApp.emulator_data_dir"
            )
        if not pid:  # it has just taken the lock and not yet said who it is
            if await _lock_freed(self.db, 5.0):
                return
            raise EmulatorBusy(f"the database {self.db} is in use by another process")
        if not parent and process_alive(pid):
            raise EmulatorBusy(
                f"the database {self.db} is in use by an emulator this server did not start "
                f"(pid {pid}, {holder.get('url') or 'no URL yet'}); stop it, point "
                "SessionsExtensionApp.backend at it, or set SessionsExtensionApp.emulator_data_dir"
            )
        log.warning(
            "The sessions emulator (pid %s) of a Jupyter server that is gone (pid %s) still "
            "holds %s; waiting for it to exit",
            pid,
            parent,
            self.db,
        )
        # It watches its server and leaves by itself within a second; stop it otherwise.
        if await _lock_freed(self.db, 5.0):
            return
        for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
            log.warning("Stopping the leftover emulator (pid %s) with %s", pid, sig.name)
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
            if await _lock_freed(self.db, wait):
                return
        raise EmulatorBusy(f"the database {self.db} is still held by process {pid}")

    async def _healthy(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                r = await client.get(self.url + "healthz")
                return r.status_code == 200
        except httpx.HTTPError:
            return False

    async def _watch(self) -> None:
        schedule = Backoff(first=0.5, cap=30.0)
        failures = 0
        while not self._stopping:
            proc = self._proc
            if proc is None:
                return
            code = await proc.wait()
            if self._stopping:
                return
            self._ready.clear()
            message = f"The local sessions emulator exited (code {code}); restarting it"
            log.warning(message)
            self._notify(False, message)
            while not self._stopping:
                try:
                    await self._spawn()
                    self.restarts += 1
                    self._notify(True, "The local sessions emulator is running again")
                    failures = 0
                    break
                except (RuntimeError, OSError) as exc:
                    delay = schedule.step(failures)
                    failures += 1
                    log.warning(
                        "Restarting the emulator failed: %s (retrying in %.1fs)", exc, delay
                    )
                    await asyncio.sleep(delay)

    def _notify(self, running: bool, message: str) -> None:
        if self.on_change is not None:
            try:
                self.on_change(running, message)
            except Exception:
                log.exception("emulator state listener failed")

    async def stop(self, timeout: float = 20.0) -> None:
        """Stop the emulator; it ends its sessions' runtimes cleanly."""
        self._stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
        await self._terminate(timeout)
        self._ready.clear()

    async def _terminate(self, timeout: float = 20.0) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            log.warning("The emulator did not stop in %ss; killing it", timeout)
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)


def _as_pid(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0


async def _lock_freed(db: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while holder_of(db) is not None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
