"""The emulator's lifecycle engine: the Sessions API behaviour, independent of HTTP.

All state changes happen on one asyncio loop; each public method validates, mutates the
in-memory state and writes it through to SQLite before it returns, so a kill -9 after a
response never loses what the response promised. If the database refuses a write (a full
disk, a read-only file), the in-memory changes of that call are undone, so memory never
shows what the disk does not hold. Runtime work (starting and stopping kernels) runs in
background tasks that move sessions through their states; a state change the database
refused there is retried on the next clock tick.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from ..api import errors
from ..api.filter import (
    SESSION_FILTER_FIELDS,
    TEMPLATE_FILTER_FIELDS,
)
from ..api.model import (
    EnvironmentConfig,
    ExecutionConfig,
    ListOperationsResponse,
    ListSessionsResponse,
    ListSessionTemplatesResponse,
    Operation,
    OperationType,
    PeripheralsConfig,
    RuntimeConfig,
    RuntimeInfo,
    Session,
    SessionOperationMetadata,
    SessionStateHistory,
    SessionTemplate,
    SparkHistoryServerConfig,
    State,
    Status,
    UsageMetrics,
    UsageSnapshot,
)
from ..api.names import ChildName, Parent, parse_template_reference
from ..api.validation import (
    MIN_TTL,
    validate_labels,
    validate_request_id,
    validate_session_config,
    validate_session_id,
)
from .listing import compile_list_filter, order_key, page
from .runtimes.base import Runtime, RuntimeHandle, RuntimeStartError
from .store import SessionStore

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(hours=24)
DEFAULT_IDLE_TTL = timedelta(hours=1)
DEFAULT_VERSION = "2.3"
# Runtime versions resolve to a patch version, as the service reports them.
_PATCH_VERSIONS = {"1.2": "1.2.62", "2.2": "2.2.82", "2.3": "2.3.14", "3.0": "3.0.6"}
_VERSION_RE = re.compile(r"^\d+\.\d+(\.\d+)?\Z")
DEFAULT_PROPERTIES = {
    "dataproc:dataproc.tier": "premium",
    "spark:spark.dataproc.engine": "default",
    "spark:spark.dataproc.lightningEngine.runtime": "default",
    "spark:spark.dataproc.scaling.version": "2",
    "spark:spark.driver.cores": "4",
    "spark:spark.driver.memory": "9600m",
    "spark:spark.dynamicAllocation.executorAllocationRatio": "0.3",
    "spark:spark.executor.cores": "4",
    "spark:spark.executor.instances": "2",
    "spark:spark.executor.memory": "9600m",
}
# Usage, in Dataproc's Data Compute Units: a vCPU busy for a second is 0.6 DCU-seconds
# and a GiB of memory held for a second is 0.1 DCU-seconds. CPU time is what the runtime
# really consumed (user + system); memory is its resident set.
DCU_PER_CPU = 0.6
DCU_PER_GIB = 0.1
GIB = 1024**3


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class EngineConfig:
    """Knobs of the emulated service."""

    creator: str = "emulator@localhost"
    min_ttl: timedelta = MIN_TTL
    tick_seconds: float = 1.0
    usage_interval: float = 30.0
    stop_runtimes_on_close: bool = True


@dataclass
class _Record:
    session: Session
    handle: RuntimeHandle | None = None
    last_activity: float | None = None
    pending_delete: str | None = None
    ops: list[str] = field(default_factory=list)  # operations not done yet
    usage_sample: tuple[float, float] | None = None  # (wall time, cpu seconds)
    restarting: bool = False  # its kernel is being replaced: not a crash


@dataclass
class _Txn:
    """What one store transaction changed in memory, and what waits for its commit."""

    undo: list[Callable[[], object]] = field(default_factory=list)
    coroutines: list[Coroutine[Any, Any, None]] = field(default_factory=list)


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
        self._sessions: dict[str, _Record] = {}
        self._templates: dict[str, SessionTemplate] = {}
        self._operations: dict[str, Operation] = {}
        self._op_seq: dict[str, int] = {}
        self._request_ids: dict[tuple[str, str], str] = {}
        self._order_cache: dict[str, list[_Record]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._seq = 0
        self._closing = False
        self._txn: _Txn | None = None
        # Lifecycle changes the database refused, retried on each tick (oldest first).
        self._unsaved: list[tuple[_Record, Callable[[], None]]] = []
        if store.max_pages is not None:
            store.end_cost = self._end_cost

    # --- start and stop ---------------------------------------------------------------

    async def open(self) -> None:
        """Load everything from the store, reconcile runtimes, start the clock."""
        for name, row in self.store.load_sessions().items():
            session = Session.from_json(row.body, strict=False)
            handle = RuntimeHandle.from_dict(row.runtime) if row.runtime else None
            self._sessions[name] = _Record(session, handle, row.last_activity, row.pending_delete)
        for name, body in self.store.load_templates().items():
            self._templates[name] = SessionTemplate.from_json(body, strict=False)
        for name, body, seq in self.store.load_operations():
            op = Operation.from_json(body, strict=False)
            self._operations[name] = op
            self._op_seq[name] = seq
            self._seq = max(self._seq, seq)
            if not op.done and op.metadata and op.metadata.session in self._sessions:
                self._sessions[op.metadata.session].ops.append(name)
        self._request_ids = self.store.load_request_ids()
        await self.runtime.open()
        await self._reconcile()
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def close(self) -> None:
        """Stop the clock and (by default) every runtime, ending live sessions cleanly."""
        self._closing = True
        if self._ticker:
            self._ticker.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        if self.config.stop_runtimes_on_close:
            live = [r for r in self._sessions.values() if r.session.state.is_live]
            await asyncio.gather(
                *(self.runtime.stop(r.handle) for r in live if r.handle), return_exceptions=True
            )
            try:
                with self._atomic(*live, reserve=True):
                    for rec in live:
                        self._transition(
                            rec,
                            State.TERMINATED,
                            "Terminated because the local emulator shut down",
                            final_usage=True,
                        )
            except errors.ApiError as exc:
                # The next start finds these sessions' runtimes gone and marks them FAILED.
                log.warning("Could not record the shutdown of live sessions: %s", exc)
        await self.runtime.close()

    async def _reconcile(self) -> None:
        """Settle sessions that were in flight when the previous emulator process died."""
        adopted: list[RuntimeHandle] = []
        resume: list[_Record] = []
        for rec in list(self._sessions.values()):
            state = rec.session.state
            if state == State.CREATING and rec.handle is None:
                # Its runtime never came up: start it again (after the sweep below has
                # cleared whatever a half-finished start left behind).
                resume.append(rec)
                continue
            if state in (State.CREATING, State.ACTIVE):
                alive = rec.handle is not None and await self.runtime.adopt(rec.handle)
                if alive and rec.handle is not None:
                    adopted.append(rec.handle)
                    if state == State.CREATING:
                        self._become_active(rec)
                    elif rec.pending_delete:
                        self._persist(
                            rec, partial(self._begin_termination, rec, "Deleting session")
                        )
                    continue
                if state == State.CREATING:
                    message = (
                        "Session creation was interrupted: the emulator stopped before the "
                        "runtime was ready"
                    )
                else:
                    pid = rec.handle.data.get("pid") if rec.handle else None
                    message = (
                        "The session's runtime is gone: it stopped while the emulator was not "
                        "running" + (f" (process {pid})" if pid else "")
                    )
                self._persist(
                    rec, partial(self._transition, rec, State.FAILED, message, final_usage=True)
                )
            elif state == State.TERMINATING:
                self._spawn(self._finish_termination(rec, rec.session.state_message))
            elif rec.ops or rec.pending_delete:
                self._persist(rec, partial(self._settle, rec))
        swept = await self.runtime.sweep(adopted)
        if swept:
            log.info("Stopped %s runtime process(es) left behind by an earlier run", swept)
        for rec in resume:
            self._spawn(self._bring_up(rec))

    # --- sessions ---------------------------------------------------------------------

    def create_session(
        self, parent_path: str, session_id: str | None, request_id: str | None, body: Any
    ) -> Operation:
        parent = Parent.parse(parent_path)
        session_id = validate_session_id(session_id or "")
        validate_request_id(request_id)
        scope = f"create:{parent.path}"
        if request_id and (scope, request_id) in self._request_ids:
            return self._operations[self._request_ids[(scope, request_id)]]
        if body is None:
            body = {}
        requested = Session.from_json(body, strict=True)
        name = parent.session(session_id)
        if name in self._sessions:
            raise errors.AlreadyExists(f"Session {name} already exists")
        session = (
            self._merge_template(parent, requested) if requested.session_template else requested
        )
        validate_labels(session.labels)
        validate_session_config(session, self.config.min_ttl)
        now = utcnow()
        session_uuid = str(uuid.uuid4())
        session.name = name
        session.uuid = session_uuid
        session.create_time = now
        session.state = State.CREATING
        session.state_time = now
        session.state_message = ""
        session.state_history = []
        session.creator = self.config.creator
        session.runtime_info = None
        session.labels = {
            **session.labels,
            "goog-dataproc-session-id": session_id,
            "goog-dataproc-session-uuid": session_uuid,
            "goog-dataproc-location": parent.location,
            "goog-dataproc-drz-resource-uuid": f"session-{session_uuid}",
        }
        self._apply_defaults(parent, session)
        rec = _Record(session)
        op = self._new_operation(parent, rec, OperationType.CREATE, "Create session", now)
        rec.ops.append(op.name)
        with self._atomic(rec):
            self._sessions[name] = rec
            self._order_cache.pop(parent.path, None)
            self._save(rec)
            self._save_operation(op)
            if request_id:
                self._remember_request(scope, request_id, op.name)
        self._spawn(self._bring_up(rec))
        return op

    def get_session(self, name: str) -> Session:
        return self._record(name).session

    def list_sessions(
        self,
        parent_path: str,
        page_size: int | None,
        page_token: str | None,
        filter_text: str | None,
    ) -> ListSessionsResponse:
        parent = Parent.parse(parent_path)
        flt = compile_list_filter(filter_text, SESSION_FILTER_FIELDS)
        records = self._ordered(parent.path)
        found, next_token = page(
            records,
            key=lambda r: order_key(r.session.create_time, r.session.name),
            size=page_size,
            token=page_token,
            query=f"sessions|{parent.path}|{filter_text or ''}",
            match=(lambda r: flt.matches(_session_record(r.session))) if flt else None,
        )
        return ListSessionsResponse([r.session for r in found], next_token)

    def terminate_session(self, name: str, request_id: str | None) -> Operation:
        rec = self._record(name)
        validate_request_id(request_id)
        scope = f"terminate:{name}:{rec.session.uuid}"
        if request_id and (scope, request_id) in self._request_ids:
            return self._operations[self._request_ids[(scope, request_id)]]
        state = rec.session.state
        if state == State.CREATING:
            raise errors.Aborted(
                f"Session {name} is still being created; terminate it once it is ACTIVE"
            )
        if state == State.TERMINATING:
            raise errors.FailedPrecondition(
                f"Session {name} is already terminating: another termination is still in progress"
            )
        if state.is_final:
            raise errors.FailedPrecondition(
                f"Session {name} is already terminated (state {state.name})"
            )
        parent = ChildName.parse(name, "sessions").parent
        op = self._new_operation(
            parent, rec, OperationType.TERMINATE, "Terminate session", utcnow()
        )
        with self._atomic(rec, reserve=True):  # works on a full database
            self._save_operation(op)
            rec.ops.append(op.name)
            if request_id:
                self._remember_request(scope, request_id, op.name)
            self._begin_termination(rec, "Terminating session at the user's request")
        return op

    def delete_session(self, name: str, request_id: str | None) -> Operation:
        validate_request_id(request_id)
        try:
            rec = self._record(name)
        except errors.NotFound:
            # A retry of a delete that already finished answers with that delete.
            done = self._finished_delete(name, request_id)
            if done is None:
                raise
            return done
        scope = f"delete:{name}:{rec.session.uuid}"
        if request_id and (scope, request_id) in self._request_ids:
            return self._operations[self._request_ids[(scope, request_id)]]
        if rec.session.state == State.CREATING:
            raise errors.Aborted(
                f"Session {name} is still being created; delete it once it is ACTIVE"
            )
        if rec.pending_delete:
            raise errors.FailedPrecondition(f"Session {name} is already being deleted")
        parent = ChildName.parse(name, "sessions").parent
        op = self._new_operation(parent, rec, OperationType.DELETE, "Delete session", utcnow())
        with self._atomic(rec, reserve=True):  # works on a full database
            rec.pending_delete = op.name
            rec.ops.append(op.name)
            self._save_operation(op)
            if request_id:
                self._remember_request(scope, request_id, op.name)
            if rec.session.state == State.ACTIVE:
                self._begin_termination(rec, "Deleting session")
            else:
                self._save(rec)
        if rec.session.state.is_final:
            # Completes on the next loop turn, so the first response is still "not done".
            self._spawn(self._settle_soon(rec))
        return op

    def _finished_delete(self, name: str, request_id: str | None) -> Operation | None:
        if not request_id:
            return None
        found = None
        prefix = f"delete:{name}:"
        for (scope, rid), op_name in self._request_ids.items():
            if rid == request_id and scope.startswith(prefix) and op_name in self._operations:
                found = self._operations[op_name]  # the latest such delete wins
        return found

    # --- lifecycle --------------------------------------------------------------------

    # --- the kernels behind sessions (for the kernel gateway) ---------------------------

    def runtime_handle(self, name: str) -> RuntimeHandle | None:
        """The runtime behind an ACTIVE session, or None."""
        rec = self._record(name)
        return rec.handle if rec.session.state == State.ACTIVE else None

    def sessions_of(self, parent_path: str) -> list[Session]:
        """Every session under a parent, newest first."""
        return [r.session for r in reversed(self._ordered(Parent.parse(parent_path).path))]

    async def interrupt_runtime(self, name: str) -> None:
        await self.runtime.interrupt(self._live_handle(name))

    async def restart_runtime(self, name: str) -> None:
        """A fresh kernel for an ACTIVE session; the session itself carries on."""
        old = self._live_handle(name)
        rec = self._record(name)
        if rec.restarting:
            raise errors.Aborted(f"The kernel of session {name} is already restarting")
        rec.restarting = True
        try:
            handle = await self.runtime.restart(old)
        except RuntimeStartError as exc:
            message = f"The session's kernel failed to restart: {exc}"
            self._persist(rec, partial(self._transition, rec, State.FAILED, message))
            raise
        finally:
            rec.restarting = False
        if self._sessions.get(name) is not rec or rec.session.state != State.ACTIVE:
            await self.runtime.stop(handle)  # ended while restarting: nothing may outlive it
            return

        def change() -> None:
            rec.handle = handle
            if rec.session.runtime_info is not None:
                rec.session.runtime_info.endpoints = dict(self.runtime.endpoints(handle))
            self._save(rec)

        self._persist(rec, change)

    def _live_handle(self, name: str) -> RuntimeHandle:
        handle = self.runtime_handle(name)
        if handle is None:
            state = self._record(name).session.state.name
            raise errors.FailedPrecondition(f"Session {name} is {state}, not ACTIVE")
        return handle

    async def _bring_up(self, rec: _Record) -> None:
        name = rec.session.name
        try:
            runs_connect = getattr(self.runtime, "runs_spark_connect", False)
            if rec.session.spark_connect_session is not None and not runs_connect:
                raise RuntimeStartError(_spark_connect_message())
            handle = await self.runtime.launch(name, rec.session.to_json())
        except RuntimeStartError as exc:
            self._persist(rec, partial(self._transition, rec, State.FAILED, str(exc)))
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a runtime bug must still end in a readable FAILED
            log.exception("Runtime failed to start %s", name)
            message = f"The runtime failed to start: {exc}"
            self._persist(rec, partial(self._transition, rec, State.FAILED, message))
            return
        if self._sessions.get(name) is not rec or rec.session.state != State.CREATING:
            await self.runtime.stop(handle)
            return
        rec.handle = handle
        self._become_active(rec)

    def _become_active(self, rec: _Record) -> None:
        self._persist(rec, partial(self._activate, rec))

    def _activate(self, rec: _Record) -> None:
        if rec.session.state != State.CREATING:
            return
        endpoints = self.runtime.endpoints(rec.handle) if rec.handle else {}
        rec.session.runtime_info = RuntimeInfo(endpoints=dict(endpoints))
        self._record_usage(rec)  # usage is visible from the first ACTIVE snapshot on
        self._transition(rec, State.ACTIVE, "")

    def _begin_termination(self, rec: _Record, message: str) -> None:
        with self._atomic(rec):
            self._transition(rec, State.TERMINATING, message)
            self._spawn(self._finish_termination(rec, message))  # starts once committed

    async def _finish_termination(self, rec: _Record, reason: str) -> None:
        failure = ""
        if rec.handle is not None:
            try:
                await self.runtime.stop(rec.handle)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("Stopping the runtime of %s failed", rec.session.name)
                failure = f"Termination failed: {exc}"
        message = failure or _final_message(reason)
        final = State.FAILED if failure else State.TERMINATED
        self._persist(rec, partial(self._transition, rec, final, message, final_usage=True))

    async def _settle_soon(self, rec: _Record) -> None:
        await asyncio.sleep(0)
        self._persist(rec, partial(self._settle, rec))

    def _transition(
        self, rec: _Record, state: State, message: str, *, final_usage: bool = False
    ) -> None:
        """Move a session to a new state, keeping stateHistory, then settle operations."""
        s = rec.session
        if s.state == state:
            return
        if final_usage:
            self._record_usage(rec, final=True)
        s.state_history.append(
            SessionStateHistory(
                state=s.state, state_message=s.state_message, state_start_time=s.state_time
            )
        )
        s.state = state
        s.state_message = message
        s.state_time = utcnow()
        self._save(rec)
        self._settle(rec)

    def _settle(self, rec: _Record) -> None:
        """Finish every pending operation the session's state now answers."""
        s = rec.session
        for op_name in list(rec.ops):
            op = self._operations.get(op_name)
            if op is None or op.done or op.metadata is None:
                rec.ops.remove(op_name)
                continue
            kind = op.metadata.operation_type
            if kind == OperationType.CREATE and s.state == State.ACTIVE:
                self._finish_operation(op, response=s)
            elif kind == OperationType.CREATE and s.state in (State.FAILED, State.TERMINATED):
                self._finish_operation(
                    op,
                    error=Status(
                        int(errors.Code.FAILED_PRECONDITION),
                        f"Session creation is {s.state.name}. Detail: {s.state_message}",
                    ),
                )
            elif kind == OperationType.TERMINATE and s.state == State.TERMINATED:
                self._finish_operation(op, response=s)
            elif kind == OperationType.TERMINATE and s.state == State.FAILED:
                self._finish_operation(
                    op,
                    error=Status(
                        int(errors.Code.INTERNAL), s.state_message or "Termination failed"
                    ),
                )
            elif kind == OperationType.DELETE and s.state.is_final:
                self._finish_operation(op, response=s)
                self._remove(rec)
            else:
                continue
            rec.ops.remove(op_name)

    def _remove(self, rec: _Record) -> None:
        name = rec.session.name
        if self._sessions.get(name) is rec:
            del self._sessions[name]
            self._order_cache.pop(name.rsplit("/sessions/", 1)[0], None)
            self.store.delete_session(name)

    def _record_usage(self, rec: _Record, *, final: bool = False) -> None:
        if rec.handle is None:
            return
        try:
            usage = self.runtime.usage(rec.handle)
        except Exception:  # usage is informative; never let it break a transition
            log.debug("usage unavailable for %s", rec.session.name, exc_info=True)
            return
        now = utcnow()
        gib = usage.rss_bytes / GIB
        milli_dcu_seconds = round(
            1000 * (DCU_PER_CPU * usage.cpu_seconds + DCU_PER_GIB * gib * usage.wall_seconds)
        )
        info = rec.session.runtime_info or RuntimeInfo()
        if final:
            info.current_usage = None
            info.approximate_usage = UsageMetrics(
                milli_dcu_seconds=milli_dcu_seconds, update_time=now
            )
        else:
            wall = time.time()
            cpu_rate = 0.0
            if rec.usage_sample and wall > rec.usage_sample[0]:
                cpu_rate = max(0.0, usage.cpu_seconds - rec.usage_sample[1]) / (
                    wall - rec.usage_sample[0]
                )
            rec.usage_sample = (wall, usage.cpu_seconds)
            info.current_usage = UsageSnapshot(
                milli_dcu=round(1000 * (DCU_PER_CPU * cpu_rate + DCU_PER_GIB * gib)),
                milli_dcu_premium=round(1000 * (DCU_PER_CPU * cpu_rate + DCU_PER_GIB * gib)),
                snapshot_time=now,
            )
            info.approximate_usage = UsageMetrics(
                milli_dcu_seconds=milli_dcu_seconds, update_time=now
            )
        rec.session.runtime_info = info

    async def _tick_forever(self) -> None:
        last_usage = 0.0
        while not self._closing:
            await asyncio.sleep(self.config.tick_seconds)
            try:
                now = time.monotonic()
                refresh_usage = now - last_usage >= self.config.usage_interval
                if refresh_usage:
                    last_usage = now
                self._tick(refresh_usage)
            except errors.ApiError as exc:  # e.g. the database refused a write
                log.warning("Emulator clock tick failed: %s", exc)
            except Exception:
                log.exception("Emulator clock tick failed")

    def _tick(self, refresh_usage: bool) -> None:
        """Enforce TTL and idle TTL, notice dead runtimes, refresh usage."""
        self._save_unsaved()
        now = utcnow()
        for rec in list(self._sessions.values()):
            s = rec.session
            if s.state != State.ACTIVE or rec.handle is None or rec.pending_delete:
                continue
            try:
                self._tick_session(rec, now, refresh_usage)
            except errors.ApiError as exc:  # the database refused; the next tick retries
                log.warning("Clock tick of %s failed: %s", s.name, exc)

    def _tick_session(self, rec: _Record, now: datetime, refresh_usage: bool) -> None:
        s = rec.session
        handle = rec.handle
        assert handle is not None
        if rec.restarting:
            return
        if not self.runtime.is_alive(handle):
            pid = handle.data.get("pid")
            with self._atomic(rec):
                self._transition(
                    rec,
                    State.FAILED,
                    "The session's runtime exited unexpectedly"
                    + (f" (process {pid} is gone)" if pid else ""),
                    final_usage=True,
                )
            return
        activity = self.runtime.last_activity(handle)
        if activity is not None and activity != rec.last_activity:
            with self._atomic(rec):
                rec.last_activity = activity
                self._save(rec)
        ec = s.environment_config.execution_config if s.environment_config else None
        ttl = (ec.ttl if ec else None) or DEFAULT_TTL
        idle_ttl = (ec.idle_ttl if ec else None) or DEFAULT_IDLE_TTL
        active_since = s.state_time or now
        idle_since = active_since
        if rec.last_activity:
            idle_since = max(idle_since, datetime.fromtimestamp(rec.last_activity, timezone.utc))
        if now - active_since >= ttl:
            self._begin_termination(
                rec, f"Session reached its ttl ({int(ttl.total_seconds())}s); terminating"
            )
        elif now - idle_since >= idle_ttl:
            self._begin_termination(
                rec,
                f"Session was idle longer than its idleTtl ({int(idle_ttl.total_seconds())}s);"
                " terminating",
            )
        elif refresh_usage:
            with self._atomic(rec):
                self._record_usage(rec)
                self._save(rec)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._txn is not None:  # work a change starts waits until the change is durable
            self._txn.coroutines.append(coro)
            return
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Lifecycle task failed", exc_info=task.exception())

    # --- templates --------------------------------------------------------------------

    def create_template(self, parent_path: str, body: Any) -> SessionTemplate:
        parent = Parent.parse(parent_path)
        template = SessionTemplate.from_json(body if body is not None else {}, strict=True)
        if not template.name:
            raise errors.bad_request(
                "name", "is required (projects/P/locations/L/sessionTemplates/ID)"
            )
        ref = ChildName.parse(template.name, "sessionTemplates")
        if ref.parent != parent:
            raise errors.bad_request("name", f"must be under {parent.path}, got {template.name!r}")
        validate_session_id(ref.id, field="name")
        name = parent.template(ref.id)
        if name in self._templates:
            raise errors.AlreadyExists(f"Session Template {name} already exists")
        self._check_template(template)
        now = utcnow()
        template.name = name
        template.uuid = str(uuid.uuid4())
        template.create_time = now
        template.update_time = now
        template.creator = self.config.creator
        with self.store.transaction():
            self.store.put_template(name, template.to_json())
        self._templates[name] = template  # only once the database holds it
        return template

    def get_template(self, name: str) -> SessionTemplate:
        ChildName.parse(name, "sessionTemplates")
        template = self._templates.get(name)
        if template is None:
            raise errors.NotFound(f"Not found: Session Template {name}")
        return template

    def list_templates(
        self,
        parent_path: str,
        page_size: int | None,
        page_token: str | None,
        filter_text: str | None,
    ) -> ListSessionTemplatesResponse:
        parent = Parent.parse(parent_path)
        flt = compile_list_filter(filter_text, TEMPLATE_FILTER_FIELDS)
        prefix = parent.path + "/sessionTemplates/"
        items = sorted(
            (t for n, t in self._templates.items() if n.startswith(prefix)),
            key=lambda t: order_key(t.create_time, t.name),
        )
        found, token = page(
            items,
            key=lambda t: order_key(t.create_time, t.name),
            size=page_size,
            token=page_token,
            query=f"templates|{parent.path}|{filter_text or ''}",
            match=(lambda t: flt.matches(_template_record(t))) if flt else None,
        )
        return ListSessionTemplatesResponse(found, token)

    def update_template(self, name: str, body: Any) -> SessionTemplate:
        """PATCH without a field mask replaces every mutable field."""
        current = self.get_template(name)
        patch = SessionTemplate.from_json(body if body is not None else {}, strict=True)
        if patch.name and patch.name != name:
            raise errors.bad_request("name", f"must match the path {name!r}, got {patch.name!r}")
        self._check_template(patch)
        patch.name = name
        patch.uuid = current.uuid
        patch.create_time = current.create_time
        patch.creator = current.creator
        patch.update_time = utcnow()
        with self.store.transaction():
            self.store.put_template(name, patch.to_json())
        self._templates[name] = patch
        return patch

    def delete_template(self, name: str) -> None:
        """Refused while a session created from it is still CREATING (FAILED_PRECONDITION):
        its kernel and launcher card are named after the template until it is ACTIVE. A
        running or ended session keeps its own copy of the configuration."""
        self.get_template(name)
        starting = sorted(
            rec.session.session_id
            for rec in self._sessions.values()
            if rec.session.state == State.CREATING and _from_template(rec.session) == name
        )
        if starting:
            they = "they are" if len(starting) > 1 else "it is"
            raise errors.FailedPrecondition(
                f"Template {name.rsplit('/', 1)[-1]} is used by session {', '.join(starting)}, "
                f"which is still starting; delete it once {they} ACTIVE (sessions keep their "
                "own copy of the configuration)"
            )
        with self.store.transaction(reserve=True):
            self.store.delete_template(name)
        del self._templates[name]

    def _check_template(self, template: SessionTemplate) -> None:
        validate_labels(template.labels)
        validate_session_config(template, self.config.min_ttl)

    def _merge_template(self, parent: Parent, requested: Session) -> Session:
        """Template values first, then whatever the session sets (maps merged key by key;
        a session config named by the session replaces the template's)."""
        ref = parse_template_reference(requested.session_template)
        if ref.parent != parent:
            raise errors.bad_request(
                "sessionTemplate",
                f"the template must be in the session's project and location ({parent.path})",
            )
        template = self._templates.get(parent.template(ref.id))
        if template is None:
            raise errors.NotFound(f"Not found: Session Template {parent.template(ref.id)}")
        base = template.to_json()
        for output_only in ("name", "uuid", "createTime", "updateTime", "creator", "description"):
            base.pop(output_only, None)
        overlay = requested.to_json()
        if "jupyterSession" in overlay or "sparkConnectSession" in overlay:
            base.pop("jupyterSession", None)
            base.pop("sparkConnectSession", None)
        merged = Session.from_json(_deep_merge(base, overlay), strict=True)
        merged.session_template = requested.session_template
        return merged

    # --- operations -------------------------------------------------------------------

    def get_operation(self, name: str) -> Operation:
        op = self._operations.get(_canonical_operation(name))
        if op is None:
            raise errors.NotFound(f"Not found: Operation {name}")
        return op

    def list_operations(
        self,
        collection: str,
        page_size: int | None,
        page_token: str | None,
        filter_text: str | None,
    ) -> ListOperationsResponse:
        parent = Parent.parse(collection.rsplit("/operations", 1)[0], field="name")
        if filter_text:
            raise errors.bad_request("filter", "filtering operations is not supported")
        prefix = parent.regions_path + "/operations/"
        items = sorted(
            (op for n, op in self._operations.items() if n.startswith(prefix)),
            key=lambda op: -self._op_seq.get(op.name, 0),
        )
        found, token = page(
            items,
            key=lambda op: f"{10**12 - self._op_seq.get(op.name, 0):013d}",
            size=page_size,
            token=page_token,
            query=f"operations|{parent.path}",
            match=None,
        )
        return ListOperationsResponse(found, token)

    def cancel_operation(self, name: str) -> None:
        """Session operations cannot be cancelled; like the service, accept and do nothing."""
        self.get_operation(name)

    def delete_operation(self, name: str) -> None:
        op = self.get_operation(name)
        with self.store.transaction(reserve=True):
            self.store.delete_operation(op.name)
        self._operations.pop(op.name, None)
        self._op_seq.pop(op.name, None)

    def _new_operation(
        self, parent: Parent, rec: _Record, kind: OperationType, description: str, now: datetime
    ) -> Operation:
        return Operation(
            name=parent.operation(str(uuid.uuid4())),
            metadata=SessionOperationMetadata(
                session=rec.session.name,
                session_uuid=rec.session.uuid,
                create_time=now,
                operation_type=kind,
                description=description,
                labels=dict(rec.session.labels),
            ),
        )

    def _finish_operation(
        self, op: Operation, *, response: Session | None = None, error: Status | None = None
    ) -> None:
        self._note_operation(op)
        op.done = True
        if op.metadata:
            op.metadata.done_time = utcnow()
        op.response = response.copy() if response is not None else None
        op.error = error
        self._save_operation(op)

    def _save_operation(self, op: Operation) -> None:
        if op.name not in self._op_seq:
            self._note_operation(op)
            self._seq += 1
            self._op_seq[op.name] = self._seq
        self._operations[op.name] = op
        self.store.put_operation(op.name, op.to_json(), self._op_seq[op.name])

    def _remember_request(self, scope: str, request_id: str, op_name: str) -> None:
        if self._txn is not None and (scope, request_id) not in self._request_ids:
            self._txn.undo.append(partial(self._request_ids.pop, (scope, request_id), None))
        self._request_ids[(scope, request_id)] = op_name
        self.store.put_request_id(scope, request_id, op_name)

    # --- all or nothing ---------------------------------------------------------------

    @contextmanager
    def _atomic(self, *records: _Record, reserve: bool = False) -> Iterator[None]:
        """One store transaction; if the database refuses it, the in-memory changes made
        inside are undone (``records`` are the sessions it may change) and the tasks it
        started are dropped. Nested use joins the outer transaction. ``reserve``: a change
        that ends sessions, allowed into the room kept back on a capped database."""
        outer = self._txn
        txn = outer or _Txn()
        txn.undo.extend(self._snapshot(rec) for rec in records)
        if outer is not None:
            yield
            return
        self._txn = txn
        try:
            with self.store.transaction(reserve=reserve):
                yield
        except BaseException:
            self._txn = None
            for undo in reversed(txn.undo):
                undo()
            self._order_cache.clear()
            for coro in txn.coroutines:
                coro.close()
            raise
        self._txn = None
        for coro in txn.coroutines:
            self._spawn(coro)

    def _snapshot(self, rec: _Record) -> Callable[[], None]:
        """A function that puts one session record back as it is now."""
        body = rec.session.to_json()
        ops = list(rec.ops)
        pending_delete, last_activity = rec.pending_delete, rec.last_activity
        name = rec.session.name
        present = self._sessions.get(name) is rec

        def restore() -> None:
            saved = Session.from_json(body, strict=False)
            for f in dataclasses.fields(saved):
                setattr(rec.session, f.name, getattr(saved, f.name))
            rec.ops[:] = ops
            rec.pending_delete, rec.last_activity = pending_delete, last_activity
            if present:
                self._sessions[name] = rec
            elif self._sessions.get(name) is rec:
                del self._sessions[name]

        return restore

    def _note_operation(self, op: Operation) -> None:
        """Inside a transaction: remember how to put this operation back."""
        if self._txn is None:
            return
        if op.name not in self._operations:

            def forget() -> None:
                if self._operations.get(op.name) is op:
                    del self._operations[op.name]
                    self._op_seq.pop(op.name, None)

            self._txn.undo.append(forget)
            return
        body = op.to_json()

        def restore() -> None:
            saved = Operation.from_json(body, strict=False)
            for f in dataclasses.fields(saved):
                setattr(op, f.name, getattr(saved, f.name))

        self._txn.undo.append(restore)

    def _persist(self, rec: _Record, change: Callable[[], None]) -> None:
        """Record a lifecycle change that has already happened for real (a runtime came
        up or went away). If the database refuses it, memory stays as the disk has it
        and the change is retried on each tick until it is recorded."""
        try:
            with self._atomic(rec, reserve=True):
                change()
        except errors.ApiError as exc:
            log.warning("Could not record a change of %s (will retry): %s", rec.session.name, exc)
            self._unsaved.append((rec, change))

    def _save_unsaved(self) -> None:
        """Retry, oldest first, the changes the database refused; stop at the first refusal."""
        while self._unsaved:
            rec, change = self._unsaved[0]
            if self._sessions.get(rec.session.name) is rec:
                with self._atomic(rec, reserve=True):
                    change()
            self._unsaved.pop(0)

    # --- helpers ----------------------------------------------------------------------

    def _record(self, name: str) -> _Record:
        ChildName.parse(name, "sessions")
        rec = self._sessions.get(name)
        if rec is None:
            raise errors.NotFound(f"Not found: Session {name}")
        return rec

    def _end_cost(self) -> int:
        """Bytes that ending every session would write: a live one is written twice more
        (TERMINATING, TERMINATED), each time into the change log too, and its operations
        keep the final snapshot; any one is then deleted. Kept free on a capped database."""
        total = 0
        for rec in self._sessions.values():
            size = len(json.dumps(rec.session.to_json(), separators=(",", ":")))
            total += (6 if rec.session.state.is_live else 2) * size + 2048
        return total

    def _save(self, rec: _Record) -> None:
        self.store.put_session(
            rec.session.name,
            rec.session.to_json(),
            rec.handle.to_dict() if rec.handle else None,
            rec.last_activity,
            rec.pending_delete,
        )

    def _ordered(self, parent_path: str) -> list[_Record]:
        cached = self._order_cache.get(parent_path)
        if cached is None:
            prefix = parent_path + "/sessions/"
            cached = sorted(
                (r for n, r in self._sessions.items() if n.startswith(prefix)),
                key=lambda r: order_key(r.session.create_time, r.session.name),
            )
            self._order_cache[parent_path] = cached
        return cached

    def _apply_defaults(self, parent: Parent, session: Session) -> None:
        env = session.environment_config or EnvironmentConfig()
        ec = env.execution_config or ExecutionConfig()
        ec.ttl = ec.ttl or DEFAULT_TTL
        ec.idle_ttl = ec.idle_ttl or DEFAULT_IDLE_TTL
        ec.service_account = (
            ec.service_account
            or f"{_project_number(parent.project)}-compute@developer.gserviceaccount.com"
        )
        env.execution_config = ec
        env.peripherals_config = env.peripherals_config or PeripheralsConfig()
        if env.peripherals_config.spark_history_server_config is None:
            env.peripherals_config.spark_history_server_config = SparkHistoryServerConfig()
        session.environment_config = env
        rc = session.runtime_config or RuntimeConfig()
        version = rc.version or DEFAULT_VERSION
        if not _VERSION_RE.match(version):
            raise errors.bad_request(
                "runtimeConfig.version", f"{version!r} is not a runtime version such as 2.2"
            )
        rc.version = _PATCH_VERSIONS.get(
            version, version if version.count(".") == 2 else version + ".0"
        )
        rc.properties = {**DEFAULT_PROPERTIES, **rc.properties}
        session.runtime_config = rc


# --- module helpers -------------------------------------------------------------------


def _from_template(session: Session) -> str:
    """The full name of the template a session was created from ("" if none)."""
    if not session.session_template:
        return ""
    try:
        ref = parse_template_reference(session.session_template)
    except errors.ApiError:
        return ""
    return ref.parent.template(ref.id)


def _canonical_operation(name: str) -> str:
    ref = ChildName.parse(name, "operations")
    return ref.parent.operation(ref.id)


def _session_record(s: Session) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "session_uuid": s.uuid,
        "state": s.state.name,
        "create_time": s.create_time,
        "labels": s.labels,
    }


def _template_record(t: SessionTemplate) -> dict[str, Any]:
    return {
        "name": t.name,
        "create_time": t.create_time,
        "creator": t.creator,
        "labels": t.labels,
    }


def _deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _project_number(project: str) -> int:
    """A stable 12-digit project number, as the default service account needs one."""
    return 100_000_000_000 + int(hashlib.sha256(project.encode()).hexdigest(), 16) % 900_000_000_000


def _final_message(reason: str) -> str:
    if reason.endswith("; terminating"):
        return reason.replace("; terminating", "; terminated")
    if reason.startswith("Deleting"):
        return "Terminated before deletion"
    return "Terminated at the user's request" if "user's request" in reason else reason


def _spark_connect_message() -> str:
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        return (
            "Spark Connect sessions need pyspark on the emulator's machine: "
            "pip install 'pyspark[connect]', or create a Jupyter session instead"
        )
    return (
        "Spark Connect sessions are not run by the local emulator; create a Jupyter session "
        "(kernel python) or use a Dataproc backend"
    )
