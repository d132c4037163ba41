"""The emulator's lifecycle engine: the Sessions API behaviour, independent of HTTP.

``SessionService`` is the one entry point (the tornado app, the kernel gateway and the
server use it); the work is done by one unit per resource over shared tables:
``sessions``, ``templates`` and ``operations``, with ``lifecycle`` moving sessions through
their states and ``listing`` paging every collection.

All state changes happen on one asyncio loop. Each change is built aside, committed to
SQLite and only then swapped into memory (``tables``), before the call returns: a kill -9
after a response never loses what the response promised, and a change the database
refuses (a full disk, a read-only file) never shows in memory. Runtime work (starting and
stopping kernels) runs in background tasks that move sessions through their states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..api import model
from ..api.validation import MIN_TTL
from .lifecycle import Lifecycle
from .listing import ListRequest
from .operations import Operations
from .runtimes.base import Runtime, RuntimeHandle
from .sessions import Sessions
from .store import SessionStore
from .tables import Tables
from .templates import Templates


@dataclass
class EngineConfig:
    """Knobs of the emulated service."""

    creator: str = "emulator@localhost"
    min_ttl: timedelta = MIN_TTL
    tick_seconds: float = 1.0
    usage_interval: float = 30.0
    stop_runtimes_on_close: bool = True


class SessionService:
    """Sessions, session templates and operations, as the Dataproc v1 API defines them."""

    def __init__(
        self,
        store: SessionStore,
        runtime: Runtime,
        config: EngineConfig | None = None,
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.config = config or EngineConfig()
        self._tables = Tables(store)
        self._operations = Operations(self._tables)
        self._templates = Templates(self._tables, self.config)
        self._lifecycle = Lifecycle(self._tables, runtime, self.config)
        self._sessions = Sessions(
            self._tables, self._lifecycle, self._templates, self._operations, self.config
        )
        if store.max_pages is not None:
            store.end_cost = self._lifecycle.end_cost

    # --- start and stop ---------------------------------------------------------------

    async def open(self) -> None:
        """Load everything from the store, reconcile runtimes, start the clock."""
        self._tables.load()
        await self.runtime.open()
        await self._lifecycle.open()

    async def close(self) -> None:
        """Stop the clock and (by default) every runtime, ending live sessions cleanly."""
        await self._lifecycle.close()
        await self.runtime.close()

    # --- sessions ---------------------------------------------------------------------

    def create_session(
        self, parent_path: str, session_id: str | None, request_id: str | None, body: Any
    ) -> model.Operation:
        return self._sessions.create(parent_path, session_id, request_id, body)

    def get_session(self, name: str) -> model.Session:
        return self._sessions.get(name)

    def list_sessions(
        self,
        parent_path: str,
        page_size: int | None,
        page_token: str | None,
        filter_text: str | None,
    ) -> model.ListSessionsResponse:
        request = ListRequest(parent_path, page_size, page_token, filter_text)
        return self._sessions.list_sessions(request)

    def terminate_session(self, name: str, request_id: str | None) -> model.Operation:
        return self._sessions.terminate(name, request_id)

    def delete_session(self, name: str, request_id: str | None) -> model.Operation:
        return self._sessions.delete(name, request_id)

    # --- the kernels behind sessions (for the kernel gateway) ---------------------------

    def runtime_handle(self, name: str) -> RuntimeHandle | None:
        """The runtime behind an ACTIVE session, or None."""
        return self._sessions.runtime_handle(name)

    def sessions_of(self, parent_path: str) -> list[model.Session]:
        """Every session under a parent, newest first."""
        return self._sessions.of_parent(parent_path)

    async def interrupt_runtime(self, name: str) -> None:
        await self.runtime.interrupt(self._sessions.live_handle(name))

    async def restart_runtime(self, name: str) -> None:
        """A fresh kernel for an ACTIVE session; the session itself carries on."""
        old = self._sessions.live_handle(name)
        await self._lifecycle.restart(self._tables.slot(name), old)

    # --- templates --------------------------------------------------------------------

    def create_template(self, parent_path: str, body: Any) -> model.SessionTemplate:
        return self._templates.create(parent_path, body)

    def get_template(self, name: str) -> model.SessionTemplate:
        return self._templates.get(name)

    def list_templates(
        self,
        parent_path: str,
        page_size: int | None,
        page_token: str | None,
        filter_text: str | None,
    ) -> model.ListSessionTemplatesResponse:
        request = ListRequest(parent_path, page_size, page_token, filter_text)
        return self._templates.list_templates(request)

    def update_template(self, name: str, body: Any) -> model.SessionTemplate:
        """PATCH without a field mask replaces every mutable field."""
        return self._templates.update(name, body)

    def delete_template(self, name: str) -> None:
        """Refused while a session created from it is still CREATING."""
        self._templates.delete(name)

    # --- operations -------------------------------------------------------------------

    def get_operation(self, name: str) -> model.Operation:
        return self._operations.get(name)

    def list_operations(
        self,
        collection: str,
        page_size: int | None,
        page_token: str | None,
        filter_text: str | None,
    ) -> model.ListOperationsResponse:
        request = ListRequest(collection, page_size, page_token, filter_text)
        return self._operations.list_operations(request)

    def cancel_operation(self, name: str) -> None:
        """Session operations cannot be cancelled; like the service, accept and do nothing."""
        self._operations.cancel(name)

    def delete_operation(self, name: str) -> None:
        self._operations.delete(name)
