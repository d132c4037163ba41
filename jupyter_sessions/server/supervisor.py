"""Runs the embedded emulator as a child process of the Jupyter server.

Starts it on a free loopback port, waits until it answers, restarts it if it dies (with
backoff, saying so in the log and to the watchers), and stops it on shutdown. Session
kernels outlive an emulator crash and are re-adopted by the restarted emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

log = logging.getLogger(__name__)


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
            str(self.data_dir / "emulator.sqlite"),
            "--runtime",
            self.runtime,
            "--ready-file",
            str(ready_file),
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

    async def _healthy(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                r = await client.get(self.url + "healthz")
                return r.status_code == 200
        except httpx.HTTPError:
            return False

    async def _watch(self) -> None:
        delay = 0.5
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
                    delay = 0.5
                    break
                except (RuntimeError, OSError) as exc:
                    log.warning(
                        "Restarting the emulator failed: %s (retrying in %.1fs)", exc, delay
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)

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


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
