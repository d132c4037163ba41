"""The emulator's working set in memory, and the transactions that change it.

Reads never touch the disk: every session, template, operation and request id is held in
memory as the database holds it. A change goes in three steps:

1. build: a ``Transaction`` collects the new state (new rows, new copies of whatever
   changes) and, in order, the writes that store it; memory is not touched;
2. commit: the writes run in one SQLite transaction (the change log's triggers with them);
3. swap: only once the commit has succeeded does the new state replace the old in memory,
   and the work that waited for it (a runtime to start or to stop) begins.

If the database refuses the commit (a full disk, a read-only file), the error reaches the
caller and memory still shows exactly what the disk holds. Committed objects are never
changed in place; a change builds new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial

from ..api import errors
from ..api.model import Operation, Session, SessionTemplate
from ..api.names import ChildName
from .listing import order_key
from .runtimes.base import RuntimeHandle
from .store import SessionStore


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SessionRow:
    """One session as committed: its row of the sessions table (but the runtime), the
    operations still pending on it and its last usage sample (both in memory only)."""

    session: Session
    last_activity: float | None = None
    pending_delete: str | None = None
    ops: tuple[str, ...] = ()
    usage_sample: tuple[float, float] | None = None  # (wall time, cpu seconds)


class SessionSlot:
    """A session's place in memory for as long as it exists. ``row`` is swapped whole by
    each commit; ``handle`` is its runtime as it really is (set when one comes up or is
    replaced), written with each row."""

    def __init__(self, row: SessionRow, handle: RuntimeHandle | None = None) -> None:
        self.row = row
        self.handle = handle
        self.restarting = False  # its kernel is being replaced: not a crash

    @property
    def session(self) -> Session:
        return self.row.session

    @property
    def name(self) -> str:
        return self.row.session.name


class Tables:
    """Sessions, templates, operations and request ids, as the store holds them."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._committing: Transaction | None = None
        self.sessions: dict[str, SessionSlot] = {}
        self.templates: dict[str, SessionTemplate] = {}
        self.operations: dict[str, Operation] = {}
        self.op_seq: dict[str, int] = {}  # list order of operations, latest highest
        self.request_ids: dict[tuple[str, str], str] = {}
        self.seq = 0
        self._ordered: dict[str, list[SessionSlot]] = {}

    def load(self) -> None:
        """Read everything the store holds."""
        stored = self.store.load_sessions()
        pending: dict[str, list[str]] = {name: [] for name in stored}
        for name, body, seq in self.store.load_operations():
            op = Operation.from_json(body, strict=False)
            self.operations[name] = op
            self.op_seq[name] = seq
            self.seq = max(self.seq, seq)
            if not op.done and op.metadata and op.metadata.session in pending:
                pending[op.metadata.session].append(name)
        for name, row in stored.items():
            session = Session.from_json(row.body, strict=False)
            handle = RuntimeHandle.from_dict(row.runtime) if row.runtime else None
            self.sessions[name] = SessionSlot(
                SessionRow(session, row.last_activity, row.pending_delete, tuple(pending[name])),
                handle,
            )
        for name, body in self.store.load_templates().items():
            self.templates[name] = SessionTemplate.from_json(body, strict=False)
        self.request_ids = self.store.load_request_ids()

    def sessions_after_commit(self) -> list[Session]:
        """Every session as the change being committed leaves it (the room a capped
        database keeps back is counted for that state, so a create reserves its own end)."""
        current = {name: slot.session for name, slot in self.sessions.items()}
        if self._committing is not None:
            for name, (_, row) in self._committing.sessions.items():
                if row is None:
                    current.pop(name, None)
                else:
                    current[name] = row.session
        return list(current.values())

    def slot(self, name: str) -> SessionSlot:
        """The session called ``name``, or NOT_FOUND."""
        ChildName.parse(name, "sessions")
        slot = self.sessions.get(name)
        if slot is None:
            raise errors.NotFound(f"Not found: Session {name}")
        return slot

    def ordered(self, parent_path: str) -> list[SessionSlot]:
        """The sessions of a parent in list order (newest first)."""
        cached = self._ordered.get(parent_path)
        if cached is None:
            prefix = parent_path + "/sessions/"
            cached = sorted(
                (s for n, s in self.sessions.items() if n.startswith(prefix)),
                key=lambda s: order_key(s.session.create_time, s.name),
            )
            self._ordered[parent_path] = cached
        return cached

    @contextmanager
    def transaction(self, *, reserve: bool = False) -> Iterator[Transaction]:
        """Build a change in the block; on leaving it, commit and swap. ``reserve``: the
        change ends or removes sessions and may use the room kept back on a capped
        database."""
        txn = Transaction(self)
        yield txn
        if txn.writes:
            self._committing = txn
            try:
                with self.store.transaction(reserve=reserve):
                    for write in txn.writes:
                        write()
            finally:
                self._committing = None
        self._swap(txn)
        for callback in txn.after:
            callback()

    def _swap(self, txn: Transaction) -> None:
        for name, (slot, row) in txn.sessions.items():
            parent = name.rsplit("/sessions/", 1)[0]
            if row is None:
                if self.sessions.get(name) is slot:
                    del self.sessions[name]
                    self._ordered.pop(parent, None)
                continue
            slot.row = row
            if self.sessions.get(name) is not slot:
                self.sessions[name] = slot
                self._ordered.pop(parent, None)
        for name, template in txn.templates.items():
            if template is None:
                self.templates.pop(name, None)
            else:
                self.templates[name] = template
        for name, (op, seq) in txn.operations.items():
            if op is None:
                self.operations.pop(name, None)
                self.op_seq.pop(name, None)
            else:
                self.operations[name] = op
                self.op_seq[name] = seq
        self.request_ids.update(txn.request_ids)
        self.seq = txn.seq


class Transaction:
    """One change being built: the new state, as it will be once committed, and the
    writes that store it. Reads through it see the state as the change leaves it."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        self._store = tables.store
        self.writes: list[Callable[[], None]] = []
        self.after: list[Callable[[], object]] = []
        self.sessions: dict[str, tuple[SessionSlot, SessionRow | None]] = {}
        self.templates: dict[str, SessionTemplate | None] = {}
        self.operations: dict[str, tuple[Operation | None, int]] = {}
        self.request_ids: dict[tuple[str, str], str] = {}
        self.seq = tables.seq

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the change is committed and in memory (never if not)."""
        self.after.append(callback)

    # sessions -----------------------------------------------------------------------

    def row(self, slot: SessionSlot) -> SessionRow | None:
        """The session's row as this change leaves it (None: it is gone)."""
        staged = self.sessions.get(slot.name)
        if staged is not None and staged[0] is slot:
            return staged[1]
        return slot.row if self._tables.sessions.get(slot.name) is slot else None

    def put_session(self, slot: SessionSlot, row: SessionRow, *, durable: bool = True) -> None:
        """The session's new row. ``durable=False``: only what memory alone holds changes
        (its pending operations), so nothing is written."""
        name = row.session.name
        self.sessions[name] = (slot, row)
        if durable:
            handle = slot.handle.to_dict() if slot.handle else None
            self.writes.append(
                partial(
                    self._store.put_session,
                    name,
                    row.session.to_json(),
                    handle,
                    row.last_activity,
                    row.pending_delete,
                )
            )

    def delete_session(self, slot: SessionSlot) -> None:
        self.sessions[slot.name] = (slot, None)
        self.writes.append(partial(self._store.delete_session, slot.name))

    # templates ----------------------------------------------------------------------

    def template(self, name: str) -> SessionTemplate | None:
        if name in self.templates:
            return self.templates[name]
        return self._tables.templates.get(name)

    def put_template(self, template: SessionTemplate) -> None:
        self.templates[template.name] = template
        self.writes.append(partial(self._store.put_template, template.name, template.to_json()))

    def delete_template(self, name: str) -> None:
        self.templates[name] = None
        self.writes.append(partial(self._store.delete_template, name))

    # operations and request ids -----------------------------------------------------

    def operation(self, name: str) -> Operation | None:
        if name in self.operations:
            return self.operations[name][0]
        return self._tables.operations.get(name)

    def put_operation(self, op: Operation) -> None:
        """A new operation (it goes first in list order) or a new version of one."""
        staged = self.operations.get(op.name)
        seq = staged[1] if staged and staged[0] else self._tables.op_seq.get(op.name)
        if seq is None:
            self.seq += 1
            seq = self.seq
        self.operations[op.name] = (op, seq)
        self.writes.append(partial(self._store.put_operation, op.name, op.to_json(), seq))

    def delete_operation(self, name: str) -> None:
        self.operations[name] = (None, 0)
        self.writes.append(partial(self._store.delete_operation, name))

    def remember_request(self, scope: str, request_id: str, op_name: str) -> None:
        """A request id answered by an operation: a retry gets that operation again."""
        self.request_ids[(scope, request_id)] = op_name
        self.writes.append(partial(self._store.put_request_id, scope, request_id, op_name))
