"""Test helpers: real emulator processes on loopback, bounded waits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
PARENT = "projects/test-project/locations/us-central1"


def wait_for(
    predicate: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll until predicate returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate} (last={last!r})")


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class EmulatorProcess:
    """``jupyter-sessions emulator`` as a child process on a free loopback port."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.workdir = workdir
        self.args = list(args)
        self.db = workdir / "emulator.sqlite"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = workdir / "emulator.log"

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        ready = self.workdir / "ready.json"
        ready.unlink(missing_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_sessions.cli",
                "emulator",
                "--port",
                "0",
                "--db",
                str(self.db),
                "--ready-file",
                str(ready),
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        proc = self.proc
        wait_for(
            lambda: ready.exists() or proc.poll() is not None, timeout, what="emulator ready file"
        )
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited: {self.log_path.read_text()[-2000:]}")
        self.url = json.loads(ready.read_text())["url"]
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stats(self) -> dict[str, int]:
        with self.client() as c:
            return dict(c.get("/emulator/stats").json()["requests"])


def wait_state(
    client: httpx.Client, name: str, states: set[str], timeout: float = 60.0
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        r = client.get(f"/v1/{name}")
        if r.status_code == 200 and r.json().get("state") in states:
            return dict(r.json())
        return None

    return wait_for(check, timeout, what=f"{name} in {states}")


def wait_operation(client: httpx.Client, op_name: str, timeout: float = 60.0) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        r = client.get(f"/v1/{op_name}")
        assert r.status_code == 200, r.text
        return dict(r.json()) if r.json().get("done") else None

    return wait_for(check, timeout, what=f"operation {op_name} done")
