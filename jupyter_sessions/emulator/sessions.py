"""Sessions of the emulator: create, get, list, terminate and delete, and the defaults the
service fills in. What happens after (runtimes, states, operations) is ``lifecycle``'s."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..api import errors
from ..api.filter import SESSION_FILTER_FIELDS
from ..api.model import (
    EnvironmentConfig,
    ExecutionConfig,
    ListSessionsResponse,
    Operation,
    OperationType,
    PeripheralsConfig,
    RuntimeConfig,
    Session,
    SparkHistoryServerConfig,
    State,
)
from ..api.names import ChildName, Parent
from ..api.validation import (
    validate_labels,
    validate_request_id,
    validate_session_config,
    validate_session_id,
)
from .lifecycle import DEFAULT_IDLE_TTL, DEFAULT_TTL, Lifecycle
from .listing import ListRequest, compile_list_filter, order_key, page
from .operations import Operations, new_operation
from .runtimes.base import RuntimeHandle
from .tables import SessionRow, SessionSlot, Tables, utcnow
from .templates import Templates

if TYPE_CHECKING:
    from .engine import EngineConfig

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


class Sessions:
    """The sessions collection, over the shared tables."""

    def __init__(
        self,
        tables: Tables,
        lifecycle: Lifecycle,
        templates: Templates,
        operations: Operations,
        config: EngineConfig,
    ) -> None:
        self.tables = tables
        self.lifecycle = lifecycle
        self.templates = templates
        self.operations = operations
        self.config = config

    def create(
        self, parent_path: str, session_id: str | None, request_id: str | None, body: Any
    ) -> Operation:
        parent = Parent.parse(parent_path)
        session_id = validate_session_id(session_id or "")
        validate_request_id(request_id)
        scope = f"create:{parent.path}"
        earlier = self.operations.remembered(scope, request_id)
        if earlier is not None:
            return earlier
        if body is None:
            body = {}
        requested = Session.from_json(body, strict=True)
        name = parent.session(session_id)
        if name in self.tables.sessions:
            raise errors.AlreadyExists(f"Session {name} already exists")
        session = (
            self.templates.merged(parent, requested) if requested.session_template else requested
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
        _apply_defaults(parent, session)
        op = new_operation(parent, session, OperationType.CREATE, "Create session", now)
        slot = SessionSlot(SessionRow(session, ops=(op.name,)))
        with self.tables.transaction() as txn:
            txn.put_session(slot, slot.row)
            txn.put_operation(op)
            if request_id:
                txn.remember_request(scope, request_id, op.name)
            txn.after_commit(lambda: self.lifecycle.spawn(self.lifecycle.bring_up(slot)))
        return op

    def get(self, name: str) -> Session:
        return self.tables.slot(name).session

    def list_sessions(self, request: ListRequest) -> ListSessionsResponse:
        parent = Parent.parse(request.parent)
        flt = compile_list_filter(request.filter_text, SESSION_FILTER_FIELDS)
        found, next_token = page(
            self.tables.ordered(parent.path),
            request,
            key=lambda s: order_key(s.session.create_time, s.name),
            query=f"sessions|{parent.path}|{request.filter_text or ''}",
            match=(lambda s: flt.matches(_session_record(s.session))) if flt else None,
        )
        return ListSessionsResponse([s.session for s in found], next_token)

    def of_parent(self, parent_path: str) -> list[Session]:
        """Every session under a parent, newest first."""
        ordered = self.tables.ordered(Parent.parse(parent_path).path)
        return [s.session for s in reversed(ordered)]

    def terminate(self, name: str, request_id: str | None) -> Operation:
        slot = self.tables.slot(name)
        validate_request_id(request_id)
        scope = f"terminate:{name}:{slot.session.uuid}"
        earlier = self.operations.remembered(scope, request_id)
        if earlier is not None:
            return earlier
        state = slot.session.state
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
        op = new_operation(
            parent, slot.session, OperationType.TERMINATE, "Terminate session", utcnow()
        )
        with self.tables.transaction(reserve=True) as txn:  # works on a full database
            txn.put_operation(op)
            row = replace(slot.row, ops=(*slot.row.ops, op.name))
            txn.put_session(slot, row, durable=False)
            if request_id:
                txn.remember_request(scope, request_id, op.name)
            self.lifecycle.begin_termination(txn, slot, "Terminating session at the user's request")
        return op

    def delete(self, name: str, request_id: str | None) -> Operation:
        validate_request_id(request_id)
        try:
            slot = self.tables.slot(name)
        except errors.NotFound:
            # A retry of a delete that already finished answers with that delete.
            done = self._finished_delete(name, request_id)
            if done is None:
                raise
            return done
        scope = f"delete:{name}:{slot.session.uuid}"
        earlier = self.operations.remembered(scope, request_id)
        if earlier is not None:
            return earlier
        if slot.session.state == State.CREATING:
            raise errors.Aborted(
                f"Session {name} is still being created; delete it once it is ACTIVE"
            )
        if slot.row.pending_delete:
            raise errors.FailedPrecondition(f"Session {name} is already being deleted")
        parent = ChildName.parse(name, "sessions").parent
        op = new_operation(parent, slot.session, OperationType.DELETE, "Delete session", utcnow())
        with self.tables.transaction(reserve=True) as txn:  # works on a full database
            row = replace(slot.row, pending_delete=op.name, ops=(*slot.row.ops, op.name))
            txn.put_session(slot, row, durable=False)
            txn.put_operation(op)
            if request_id:
                txn.remember_request(scope, request_id, op.name)
            if row.session.state == State.ACTIVE:
                self.lifecycle.begin_termination(txn, slot, "Deleting session")
            else:
                txn.put_session(slot, row)
        if slot.session.state.is_final:
            # Completes on the next loop turn, so the first response is still "not done".
            self.lifecycle.spawn(self.lifecycle.settle_soon(slot))
        return op

    def _finished_delete(self, name: str, request_id: str | None) -> Operation | None:
        if not request_id:
            return None
        found = None
        prefix = f"delete:{name}:"
        operations = self.tables.operations
        for (scope, rid), op_name in self.tables.request_ids.items():
            if rid == request_id and scope.startswith(prefix) and op_name in operations:
                found = operations[op_name]  # the latest such delete wins
        return found

    # --- the kernels behind sessions (for the kernel gateway) ---------------------------

    def runtime_handle(self, name: str) -> RuntimeHandle | None:
        """The runtime behind an ACTIVE session, or None."""
        slot = self.tables.slot(name)
        return slot.handle if slot.session.state == State.ACTIVE else None

    def live_handle(self, name: str) -> RuntimeHandle:
        """The runtime behind an ACTIVE session, or FAILED_PRECONDITION."""
        handle = self.runtime_handle(name)
        if handle is None:
            state = self.tables.slot(name).session.state.name
            raise errors.FailedPrecondition(f"Session {name} is {state}, not ACTIVE")
        return handle


def _apply_defaults(parent: Parent, session: Session) -> None:
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


def _project_number(project: str) -> int:
    """A stable 12-digit project number, as the default service account needs one."""
    return 100_000_000_000 + int(hashlib.sha256(project.encode()).hexdigest(), 16) % 900_000_000_000


def _session_record(s: Session) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "session_uuid": s.uuid,
        "state": s.state.name,
        "create_time": s.create_time,
        "labels": s.labels,
    }
