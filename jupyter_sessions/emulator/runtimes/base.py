"""The contract every emulator runtime implements.

A runtime turns a session into something that really runs (a kernel process) or
pretends to (timers). The lifecycle engine owns session state; a runtime only starts,
watches and stops the thing behind a session, and reports how it is doing.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any


class RuntimeStartError(Exception):
    """The runtime could not start; the message becomes the session's stateMessage."""


@dataclass
class RuntimeHandle:
    """What the engine persists about a running runtime, so a restart can re-adopt it.

    ``data`` must stay JSON-serialisable: it is stored in SQLite as is.
    """

    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "data": self.data}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RuntimeHandle:
        return cls(kind=str(raw["kind"]), data=dict(raw.get("data") or {}))


@dataclass
class Usage:
    """What a runtime really used so far.

    ``cpu_seconds`` is CPU time consumed (user + system, all processes of the runtime);
    ``rss_bytes`` the resident memory now; ``wall_seconds`` the time since it started.
    """

    cpu_seconds: float = 0.0
    rss_bytes: int = 0
    wall_seconds: float = 0.0


class Runtime(abc.ABC):
    """Starts, watches and stops what runs behind a session."""

    kind: str = "abstract"
    #: Whether sessions get a Jupyter kernel that the kernel gateway can relay to.
    serves_kernels: bool = False

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare (for example fill a warm pool). Called once, before any launch."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release everything this runtime owns that is not behind a session handle."""

    async def sweep(self, keep: list[RuntimeHandle]) -> int:
        """After reconciliation: stop every process this runtime left behind earlier (for
        example warm-pool kernels of a killed emulator) that is not behind ``keep``.
        Returns how many were stopped."""
        return 0

    @abc.abstractmethod
    async def launch(self, session_name: str, config: dict[str, Any]) -> RuntimeHandle:
        """Start the runtime for a session and return once it is ready to run code.

        ``config`` is the session's JSON (camelCase). Raise RuntimeStartError with a
        readable message when the session cannot run here.
        """

    @abc.abstractmethod
    async def stop(self, handle: RuntimeHandle) -> None:
        """Stop it for good, bounded in time; never raises for an already-gone runtime."""

    @abc.abstractmethod
    def is_alive(self, handle: RuntimeHandle) -> bool:
        """Whether the runtime still runs."""

    @abc.abstractmethod
    async def adopt(self, handle: RuntimeHandle) -> bool:
        """After an emulator restart: take back a runtime that outlived the emulator.

        Returns True when it is alive and answers again; otherwise makes sure nothing of it
        is left running and returns False.
        """

    @abc.abstractmethod
    def last_activity(self, handle: RuntimeHandle) -> float | None:
        """Wall-clock time (epoch seconds) of the last execution activity, if any."""

    @abc.abstractmethod
    def usage(self, handle: RuntimeHandle) -> Usage:
        """What the runtime used so far."""

    @abc.abstractmethod
    def endpoints(self, handle: RuntimeHandle) -> dict[str, str]:
        """How a client on this machine reaches it (runtimeInfo.endpoints)."""

    # --- what a kernel gateway needs (optional: runtimes without kernels keep the defaults)

    def check_config(self, config: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Raise RuntimeStartError at once if a session with this config cannot run here,
        so nothing is created for it."""

    def connection_file(self, handle: RuntimeHandle) -> str | None:
        """The Jupyter connection file of the session's kernel, if it has one."""
        return None

    def execution_state(self, handle: RuntimeHandle) -> str:
        """The kernel's last reported execution state: starting, idle or busy."""
        return "idle"

    async def interrupt(self, handle: RuntimeHandle) -> None:
        """Interrupt what the kernel is running."""
        raise RuntimeStartError(f"The {self.kind} runtime has no kernel to interrupt")

    async def restart(self, handle: RuntimeHandle) -> RuntimeHandle:
        """Replace the kernel process by a fresh one reachable at the same address."""
        raise RuntimeStartError(f"The {self.kind} runtime has no kernel to restart")
