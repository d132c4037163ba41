"""How sessions move through their states once created: runtimes coming up and going
away, operations finishing, the clock (TTL, idle TTL, usage) and restarts of the emulator.

Runtime work runs in background tasks. A change that has already happened for real (a
runtime came up, or stopped) and that the database refused is kept and retried on each
clock tick, oldest first, until it is recorded; until then memory shows what the disk
holds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from ..api import errors
from ..api.model import (
    OperationType,
    RuntimeInfo,
    SessionStateHistory,
    State,
    Status,
    UsageMetrics,
    UsageSnapshot,
)
from .operations import finished
from .runtimes.base import Runtime, RuntimeHandle, RuntimeStartError
from .tables import SessionRow, SessionSlot, Tables, Transaction, utcnow

if TYPE_CHECKING:
    from .engine import EngineConfig

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(hours=24)
DEFAULT_IDLE_TTL = timedelta(hours=1)
# Usage, in Dataproc's Data Compute Units: a vCPU busy for a second is 0.6 DCU-seconds
# and a GiB of memory held for a second is 0.1 DCU-seconds. CPU time is what the runtime
# really consumed (user + system); memory is its resident set.
DCU_PER_CPU = 0.6
DCU_PER_GIB = 0.1
GIB = 1024**3

Change = Callable[[Transaction], None]


class Lifecycle:
    """The state machine of sessions, driven by their runtimes and the clock."""

    def __init__(self, tables: Tables, runtime: Runtime, config: EngineConfig) -> None:
        self.tables = tables
        self.runtime = runtime
        self.config = config
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._closing = False
        # Lifecycle changes the database refused, retried on each tick (oldest first).
        self._unsaved: list[tuple[SessionSlot, Change]] = []

    # --- start and stop ---------------------------------------------------------------

    async def open(self) -> None:
        """Settle what the previous emulator process left in flight, start the clock."""
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
        if not self.config.stop_runtimes_on_close:
            return
        live = [s for s in self.tables.sessions.values() if s.session.state.is_live]
        await asyncio.gather(
            *(self.runtime.stop(s.handle) for s in live if s.handle), return_exceptions=True
        )
        try:
            with self.tables.transaction(reserve=True) as txn:
                for slot in live:
                    self.transition(
                        txn,
                        slot,
                        State.TERMINATED,
                        "Terminated because the local emulator shut down",
                        final_usage=True,
                    )
        except errors.ApiError as exc:
            # The next start finds these sessions' runtimes gone and marks them FAILED.
            log.warning("Could not record the shutdown of live sessions: %s", exc)

    async def _reconcile(self) -> None:
        """Settle sessions that were in flight when the previous emulator process died."""
        adopted: list[RuntimeHandle] = []
        resume: list[SessionSlot] = []
        for slot in list(self.tables.sessions.values()):
            state = slot.session.state
            if state == State.CREATING and slot.handle is None:
                # Its runtime never came up: start it again (after the sweep below has
                # cleared whatever a half-finished start left behind).
                resume.append(slot)
                continue
            if state in (State.CREATING, State.ACTIVE):
                alive = slot.handle is not None and await self.runtime.adopt(slot.handle)
                if alive and slot.handle is not None:
                    adopted.append(slot.handle)
                    if state == State.CREATING:
                        self._become_active(slot)
                    elif slot.row.pending_delete:
                        self.persist(
                            slot,
                            partial(self.begin_termination, slot=slot, message="Deleting session"),
                        )
                    continue
                if state == State.CREATING:
                    message = (
                        "Session creation was interrupted: the emulator stopped before the "
                        "runtime was ready"
                    )
                else:
                    pid = slot.handle.data.get("pid") if slot.handle else None
                    message = (
                        "The session's runtime is gone: it stopped while the emulator was not "
                        "running" + (f" (process {pid})" if pid else "")
                    )
                self._persist_transition(slot, State.FAILED, message, final_usage=True)
            elif state == State.TERMINATING:
                self.spawn(self._finish_termination(slot, slot.session.state_message))
            elif slot.row.ops or slot.row.pending_delete:
                self.persist(slot, partial(self.settle, slot=slot))
        swept = await self.runtime.sweep(adopted)
        if swept:
            log.info("Stopped %s runtime process(es) left behind by an earlier run", swept)
        for slot in resume:
            self.spawn(self.bring_up(slot))

    # --- recording changes ------------------------------------------------------------

    def persist(self, slot: SessionSlot, change: Change) -> None:
        """Record a lifecycle change that has already happened for real (a runtime came
        up or went away). If the database refuses it, memory stays as the disk has it
        and the change is built again and retried on each tick until it is recorded."""
        try:
            with self.tables.transaction(reserve=True) as txn:
                change(txn)
        except errors.ApiError as exc:
            log.warning("Could not record a change of %s (will retry): %s", slot.name, exc)
            self._unsaved.append((slot, change))

    def _persist_transition(
        self, slot: SessionSlot, state: State, message: str, *, final_usage: bool = False
    ) -> None:
        change = partial(
            self.transition, slot=slot, state=state, message=message, final_usage=final_usage
        )
        self.persist(slot, change)

    def _save_unsaved(self) -> None:
        """Retry, oldest first, the changes the database refused; stop at the first refusal."""
        while self._unsaved:
            slot, change = self._unsaved[0]
            if self.tables.sessions.get(slot.name) is slot:
                with self.tables.transaction(reserve=True) as txn:
                    change(txn)
            self._unsaved.pop(0)

    def end_cost(self) -> int:
        """Bytes that ending every session would write: a live one is written twice more
        (TERMINATING, TERMINATED), each time into the change log too, and its operations
        keep the final snapshot; any one is then deleted. A CREATING one first becomes
        ACTIVE (its row, the change log, its create operation's result): without room for
        that, a burst of creates could fill the reserve and leave sessions CREATING.
        Kept free on a capped database."""
        total = 0
        for session in self.tables.sessions_after_commit():
            size = len(json.dumps(session.to_json(), separators=(",", ":")))
            state = session.state
            writes = 9 if state == State.CREATING else 6 if state.is_live else 2
            total += writes * size + 2048
        return total

    # --- runtimes coming up and going away --------------------------------------------

    async def bring_up(self, slot: SessionSlot) -> None:
        name = slot.name
        try:
            runs_connect = getattr(self.runtime, "runs_spark_connect", False)
            if slot.session.spark_connect_session is not None and not runs_connect:
                raise RuntimeStartError(_spark_connect_message())
            handle = await self.runtime.launch(name, slot.session.to_json())
        except RuntimeStartError as exc:
            self._persist_transition(slot, State.FAILED, str(exc))
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a runtime bug must still end in a readable FAILED
            log.exception("Runtime failed to start %s", name)
            self._persist_transition(slot, State.FAILED, f"The runtime failed to start: {exc}")
            return
        if self.tables.sessions.get(name) is not slot or slot.session.state != State.CREATING:
            await self.runtime.stop(handle)
            return
        slot.handle = handle
        self._become_active(slot)

    def _become_active(self, slot: SessionSlot) -> None:
        self.persist(slot, partial(self._activate, slot=slot))

    def _activate(self, txn: Transaction, slot: SessionSlot) -> None:
        row = txn.row(slot)
        if row is None or row.session.state != State.CREATING:
            return
        endpoints = self.runtime.endpoints(slot.handle) if slot.handle else {}
        info = RuntimeInfo(endpoints=dict(endpoints))
        row = replace(row, session=replace(row.session, runtime_info=info))
        # Usage is visible from the first ACTIVE snapshot on.
        txn.put_session(slot, self._with_usage(row, slot.handle), durable=False)
        self.transition(txn, slot, State.ACTIVE, "")

    async def restart(self, slot: SessionSlot, old: RuntimeHandle) -> None:
        """A fresh kernel for an ACTIVE session; the session itself carries on."""
        if slot.restarting:
            raise errors.Aborted(f"The kernel of session {slot.name} is already restarting")
        slot.restarting = True
        try:
            handle = await self.runtime.restart(old)
        except RuntimeStartError as exc:
            message = f"The session's kernel failed to restart: {exc}"
            self._persist_transition(slot, State.FAILED, message)
            raise
        finally:
            slot.restarting = False
        if self.tables.sessions.get(slot.name) is not slot or slot.session.state != State.ACTIVE:
            await self.runtime.stop(handle)  # ended while restarting: nothing may outlive it
            return
        slot.handle = handle
        self.persist(slot, partial(self._new_endpoints, slot=slot, handle=handle))

    def _new_endpoints(self, txn: Transaction, slot: SessionSlot, handle: RuntimeHandle) -> None:
        row = txn.row(slot)
        if row is None:
            return
        info = row.session.runtime_info
        if info is not None:
            info = replace(info, endpoints=dict(self.runtime.endpoints(handle)))
            row = replace(row, session=replace(row.session, runtime_info=info))
        txn.put_session(slot, row)

    def begin_termination(self, txn: Transaction, slot: SessionSlot, message: str) -> None:
        """TERMINATING now; the runtime is stopped once that is committed."""
        self.transition(txn, slot, State.TERMINATING, message)
        txn.after_commit(lambda: self.spawn(self._finish_termination(slot, message)))

    async def _finish_termination(self, slot: SessionSlot, reason: str) -> None:
        failure = ""
        if slot.handle is not None:
            try:
                await self.runtime.stop(slot.handle)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("Stopping the runtime of %s failed", slot.name)
                failure = f"Termination failed: {exc}"
        message = failure or _final_message(reason)
        final = State.FAILED if failure else State.TERMINATED
        self._persist_transition(slot, final, message, final_usage=True)

    async def settle_soon(self, slot: SessionSlot) -> None:
        """Settle on the next loop turn, so that the first response is still "not done"."""
        await asyncio.sleep(0)
        self.persist(slot, partial(self.settle, slot=slot))

    # --- states and operations --------------------------------------------------------

    def transition(
        self,
        txn: Transaction,
        slot: SessionSlot,
        state: State,
        message: str,
        *,
        final_usage: bool = False,
    ) -> None:
        """Move a session to a new state, keeping stateHistory, then settle operations."""
        row = txn.row(slot)
        if row is None or row.session.state == state:
            return
        if final_usage:
            row = self._with_usage(row, slot.handle, final=True)
        s = row.session
        before = SessionStateHistory(
            state=s.state, state_message=s.state_message, state_start_time=s.state_time
        )
        session = replace(
            s,
            state=state,
            state_message=message,
            state_time=utcnow(),
            state_history=[*s.state_history, before],
        )
        txn.put_session(slot, replace(row, session=session))
        self.settle(txn, slot)

    def settle(self, txn: Transaction, slot: SessionSlot) -> None:
        """Finish every pending operation the session's state now answers."""
        row = txn.row(slot)
        if row is None:
            return
        s = row.session
        pending = list(row.ops)
        removed = False
        for op_name in row.ops:
            op = txn.operation(op_name)
            if op is None or op.done or op.metadata is None:
                pending.remove(op_name)
                continue
            kind = op.metadata.operation_type
            if kind == OperationType.CREATE and s.state == State.ACTIVE:
                done = finished(op, response=s)
            elif kind == OperationType.CREATE and s.state in (State.FAILED, State.TERMINATED):
                done = finished(
                    op,
                    error=Status(
                        int(errors.Code.FAILED_PRECONDITION),
                        f"Session creation is {s.state.name}. Detail: {s.state_message}",
                    ),
                )
            elif kind == OperationType.TERMINATE and s.state == State.TERMINATED:
                done = finished(op, response=s)
            elif kind == OperationType.TERMINATE and s.state == State.FAILED:
                done = finished(
                    op,
                    error=Status(
                        int(errors.Code.INTERNAL), s.state_message or "Termination failed"
                    ),
                )
            elif kind == OperationType.DELETE and s.state.is_final:
                done = finished(op, response=s)
            else:
                continue
            txn.put_operation(done)
            pending.remove(op_name)
            if kind == OperationType.DELETE and not removed:
                txn.delete_session(slot)
                removed = True
        if not removed and tuple(pending) != row.ops:
            txn.put_session(slot, replace(row, ops=tuple(pending)), durable=False)

    def _with_usage(
        self, row: SessionRow, handle: RuntimeHandle | None, *, final: bool = False
    ) -> SessionRow:
        """The row with the runtime's usage so far (as it was when the runtime is gone)."""
        if handle is None:
            return row
        try:
            usage = self.runtime.usage(handle)
        except Exception:  # usage is informative; never let it break a transition
            log.debug("usage unavailable for %s", row.session.name, exc_info=True)
            return row
        now = utcnow()
        gib = usage.rss_bytes / GIB
        total = UsageMetrics(
            milli_dcu_seconds=round(
                1000 * (DCU_PER_CPU * usage.cpu_seconds + DCU_PER_GIB * gib * usage.wall_seconds)
            ),
            update_time=now,
        )
        info = row.session.runtime_info or RuntimeInfo()
        sample = row.usage_sample
        if final:
            info = replace(info, current_usage=None, approximate_usage=total)
        else:
            wall = time.time()
            cpu_rate = 0.0
            if sample and wall > sample[0]:
                cpu_rate = max(0.0, usage.cpu_seconds - sample[1]) / (wall - sample[0])
            sample = (wall, usage.cpu_seconds)
            milli_dcu = round(1000 * (DCU_PER_CPU * cpu_rate + DCU_PER_GIB * gib))
            current = UsageSnapshot(
                milli_dcu=milli_dcu, milli_dcu_premium=milli_dcu, snapshot_time=now
            )
            info = replace(info, current_usage=current, approximate_usage=total)
        session = replace(row.session, runtime_info=info)
        return replace(row, session=session, usage_sample=sample)

    # --- the clock --------------------------------------------------------------------

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
        for slot in list(self.tables.sessions.values()):
            if slot.session.state != State.ACTIVE or slot.handle is None or slot.row.pending_delete:
                continue
            try:
                self._tick_session(slot, slot.handle, now, refresh_usage)
            except errors.ApiError as exc:  # the database refused; the next tick retries
                log.warning("Clock tick of %s failed: %s", slot.name, exc)

    def _tick_session(
        self, slot: SessionSlot, handle: RuntimeHandle, now: datetime, refresh_usage: bool
    ) -> None:
        if slot.restarting:
            return
        if not self.runtime.is_alive(handle):
            pid = handle.data.get("pid")
            with self.tables.transaction() as txn:
                self.transition(
                    txn,
                    slot,
                    State.FAILED,
                    "The session's runtime exited unexpectedly"
                    + (f" (process {pid} is gone)" if pid else ""),
                    final_usage=True,
                )
            return
        activity = self.runtime.last_activity(handle)
        if activity is not None and activity != slot.row.last_activity:
            with self.tables.transaction() as txn:
                txn.put_session(slot, replace(slot.row, last_activity=activity))
        s = slot.session
        ec = s.environment_config.execution_config if s.environment_config else None
        ttl = (ec.ttl if ec else None) or DEFAULT_TTL
        idle_ttl = (ec.idle_ttl if ec else None) or DEFAULT_IDLE_TTL
        active_since = s.state_time or now
        idle_since = active_since
        if slot.row.last_activity:
            idle_since = max(
                idle_since, datetime.fromtimestamp(slot.row.last_activity, timezone.utc)
            )
        if now - active_since >= ttl:
            message = f"Session reached its ttl ({int(ttl.total_seconds())}s); terminating"
        elif now - idle_since >= idle_ttl:
            message = (
                f"Session was idle longer than its idleTtl ({int(idle_ttl.total_seconds())}s);"
                " terminating"
            )
        else:
            if refresh_usage:
                with self.tables.transaction() as txn:
                    txn.put_session(slot, self._with_usage(slot.row, handle))
            return
        with self.tables.transaction() as txn:
            self.begin_termination(txn, slot, message)

    # --- background work --------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Lifecycle task failed", exc_info=task.exception())


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
