"""A runtime made of timers: the full lifecycle without processes (tests, scale)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from .base import Runtime, RuntimeHandle, RuntimeStartError, Usage

# A nominal footprint so usage figures move the way a small real session's would.
_SIMULATED_RSS = 256 * 1024 * 1024


class SimulatedRuntime(Runtime):
    """Sessions that start and stop after configurable delays (zero for tests)."""

    kind = "simulated"

    def __init__(self, start_delay: float = 0.0, stop_delay: float = 0.0) -> None:
        self.start_delay = start_delay
        self.stop_delay = stop_delay
        self._stopped: set[str] = set()

    async def launch(self, session_name: str, config: dict[str, Any]) -> RuntimeHandle:
        if config.get("labels", {}).get("emulator-fail-start") is not None:
            # A way for tests and demos to see the CREATING -> FAILED path.
            raise RuntimeStartError("Simulated start failure (label emulator-fail-start is set)")
        if self.start_delay:
            await asyncio.sleep(self.start_delay)
        return RuntimeHandle(self.kind, {"id": uuid.uuid4().hex, "started": time.time()})

    async def stop(self, handle: RuntimeHandle) -> None:
        if self.stop_delay:
            await asyncio.sleep(self.stop_delay)
        self._stopped.add(str(handle.data.get("id")))

    def is_alive(self, handle: RuntimeHandle) -> bool:
        return str(handle.data.get("id")) not in self._stopped

    async def adopt(self, handle: RuntimeHandle) -> bool:
        return True  # nothing real ran, so nothing was lost

    def last_activity(self, handle: RuntimeHandle) -> float | None:
        return None

    def usage(self, handle: RuntimeHandle) -> Usage:
        wall = max(0.0, time.time() - float(handle.data.get("started", time.time())))
        return Usage(cpu_seconds=0.0, rss_bytes=_SIMULATED_RSS, wall_seconds=wall)

    def endpoints(self, handle: RuntimeHandle) -> dict[str, str]:
        return {}
