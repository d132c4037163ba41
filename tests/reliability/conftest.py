"""Fixtures of the reliability tests, and the figures they measured in the run summary."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..server.conftest import sessions_config
from ..support import EmulatorProcess, JupyterServerProcess, wait_for

QUICK = ("--runtime", "simulated", "--ttl-floor", "1", "--tick", "0.2")


@dataclass
class Stack:
    """An emulator and a Jupyter server whose extension forwards to it."""

    emulator: EmulatorProcess
    server: JupyterServerProcess
    requests_log: Path

    def backend_calls(self) -> int:
        """API calls the emulator has received (its own health and stats excluded, and the
        Watcher's change feed, counted whenever a stream ends)."""
        with httpx.Client(timeout=10.0) as c:
            counts: dict[str, int] = c.get(self.emulator.url + "/emulator/stats").json()["requests"]
        skip = ("/healthz", "/stats", "sessions.watch")
        return sum(n for route, n in counts.items() if not route.endswith(skip))


def start_stack(workdir: Path, *emulator_args: str, **config: Any) -> Stack:
    log = workdir / "requests.jsonl"
    emu = EmulatorProcess(workdir, *QUICK, "--record-requests", str(log), *emulator_args)
    emu.start()
    try:
        server = JupyterServerProcess(
            workdir / "server", config=sessions_config(backend=emu.url + "/", **config)
        ).start()
        wait_listening(server)
    except BaseException:
        emu.stop()
        raise
    return Stack(emu, server, log)


def wait_listening(server: JupyterServerProcess) -> None:
    """The info file can appear a moment before the server accepts connections."""

    def answers() -> bool:
        try:
            with server.client() as c:
                return c.get("api/status").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(answers, 30, what="jupyter server answering")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Shared by the tests that do not stop or break anything."""
    s = start_stack(tmp_path_factory.mktemp("stack"))
    yield s
    s.server.stop()
    s.emulator.stop()
