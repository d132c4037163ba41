"""Long-running operations of the emulator: session create, terminate and delete."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from ..api import errors
from ..api.model import (
    ListOperationsResponse,
    Operation,
    OperationType,
    Session,
    SessionOperationMetadata,
    Status,
)
from ..api.names import ChildName, Parent
from .listing import ListRequest, page
from .tables import Tables, utcnow


class Operations:
    """The operations collection: get, list, cancel and delete, over the shared tables."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def get(self, name: str) -> Operation:
        op = self.tables.operations.get(_canonical_operation(name))
        if op is None:
            raise errors.NotFound(f"Not found: Operation {name}")
        return op

    def list_operations(self, request: ListRequest) -> ListOperationsResponse:
        """``request.parent`` is the collection (``.../operations``)."""
        parent = Parent.parse(request.parent.rsplit("/operations", 1)[0], field="name")
        if request.filter_text:
            raise errors.bad_request("filter", "filtering operations is not supported")
        prefix = parent.regions_path + "/operations/"
        seq = self.tables.op_seq
        items = sorted(
            (op for n, op in self.tables.operations.items() if n.startswith(prefix)),
            key=lambda op: -seq.get(op.name, 0),
        )
        found, token = page(
            items,
            request,
            key=lambda op: f"{10**12 - seq.get(op.name, 0):013d}",
            query=f"operations|{parent.path}",
            match=None,
        )
        return ListOperationsResponse(found, token)

    def cancel(self, name: str) -> None:
        """Session operations cannot be cancelled; like the service, accept and do nothing."""
        self.get(name)

    def delete(self, name: str) -> None:
        op = self.get(name)
        with self.tables.transaction(reserve=True) as txn:
            txn.delete_operation(op.name)

    def remembered(self, scope: str, request_id: str | None) -> Operation | None:
        """The operation that answered ``request_id`` in ``scope`` before, if any."""
        op_name = self.tables.request_ids.get((scope, request_id)) if request_id else None
        return self.tables.operations[op_name] if op_name is not None else None


def new_operation(
    parent: Parent, session: Session, kind: OperationType, description: str, now: datetime
) -> Operation:
    """A new, not yet done operation on ``session``."""
    return Operation(
        name=parent.operation(str(uuid.uuid4())),
        metadata=SessionOperationMetadata(
            session=session.name,
            session_uuid=session.uuid,
            create_time=now,
            operation_type=kind,
            description=description,
            labels=dict(session.labels),
        ),
    )


def finished(
    op: Operation, *, response: Session | None = None, error: Status | None = None
) -> Operation:
    """A done copy of ``op``, answered with ``response`` or ``error``."""
    metadata = replace(op.metadata, done_time=utcnow()) if op.metadata else None
    return replace(
        op,
        done=True,
        metadata=metadata,
        response=response.copy() if response is not None else None,
        error=error,
    )


def _canonical_operation(name: str) -> str:
    ref = ChildName.parse(name, "operations")
    return ref.parent.operation(ref.id)
