"""Session templates of the emulator, and how a session created from one is merged."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..api import errors
from ..api.filter import TEMPLATE_FILTER_FIELDS
from ..api.model import ListSessionTemplatesResponse, Session, SessionTemplate, State
from ..api.names import ChildName, Parent, parse_template_reference
from ..api.validation import validate_labels, validate_session_config, validate_session_id
from .listing import ListRequest, compile_list_filter, order_key, page
from .tables import Tables, utcnow

if TYPE_CHECKING:
    from .engine import EngineConfig


class Templates:
    """The sessionTemplates collection, over the shared tables."""

    def __init__(self, tables: Tables, config: EngineConfig) -> None:
        self.tables = tables
        self.config = config

    def create(self, parent_path: str, body: Any) -> SessionTemplate:
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
        if name in self.tables.templates:
            raise errors.AlreadyExists(f"Session Template {name} already exists")
        self._check(template)
        now = utcnow()
        template = replace(
            template,
            name=name,
            uuid=str(uuid.uuid4()),
            create_time=now,
            update_time=now,
            creator=self.config.creator,
        )
        with self.tables.transaction() as txn:
            txn.put_template(template)
        return template

    def get(self, name: str) -> SessionTemplate:
        ChildName.parse(name, "sessionTemplates")
        template = self.tables.templates.get(name)
        if template is None:
            raise errors.NotFound(f"Not found: Session Template {name}")
        return template

    def list_templates(self, request: ListRequest) -> ListSessionTemplatesResponse:
        parent = Parent.parse(request.parent)
        flt = compile_list_filter(request.filter_text, TEMPLATE_FILTER_FIELDS)
        prefix = parent.path + "/sessionTemplates/"
        items = sorted(
            (t for n, t in self.tables.templates.items() if n.startswith(prefix)),
            key=lambda t: order_key(t.create_time, t.name),
        )
        found, token = page(
            items,
            request,
            key=lambda t: order_key(t.create_time, t.name),
            query=f"templates|{parent.path}|{request.filter_text or ''}",
            match=(lambda t: flt.matches(_template_record(t))) if flt else None,
        )
        return ListSessionTemplatesResponse(found, token)

    def update(self, name: str, body: Any) -> SessionTemplate:
        """PATCH without a field mask replaces every mutable field."""
        current = self.get(name)
        patch = SessionTemplate.from_json(body if body is not None else {}, strict=True)
        if patch.name and patch.name != name:
            raise errors.bad_request("name", f"must match the path {name!r}, got {patch.name!r}")
        self._check(patch)
        patch = replace(
            patch,
            name=name,
            uuid=current.uuid,
            create_time=current.create_time,
            creator=current.creator,
            update_time=utcnow(),
        )
        with self.tables.transaction() as txn:
            txn.put_template(patch)
        return patch

    def delete(self, name: str) -> None:
        """Refused while a session created from it is still CREATING (FAILED_PRECONDITION):
        its kernel and launcher card are named after the template until it is ACTIVE. A
        running or ended session keeps its own copy of the configuration."""
        self.get(name)
        starting = sorted(
            slot.session.session_id
            for slot in self.tables.sessions.values()
            if slot.session.state == State.CREATING and _from_template(slot.session) == name
        )
        if starting:
            they = "they are" if len(starting) > 1 else "it is"
            raise errors.FailedPrecondition(
                f"Template {name.rsplit('/', 1)[-1]} is used by session {', '.join(starting)}, "
                f"which is still starting; delete it once {they} ACTIVE (sessions keep their "
                "own copy of the configuration)"
            )
        with self.tables.transaction(reserve=True) as txn:
            txn.delete_template(name)

    def merged(self, parent: Parent, requested: Session) -> Session:
        """Template values first, then whatever the session sets (maps merged key by key;
        a session config named by the session replaces the template's)."""
        ref = parse_template_reference(requested.session_template)
        if ref.parent != parent:
            raise errors.bad_request(
                "sessionTemplate",
                f"the template must be in the session's project and location ({parent.path})",
            )
        template = self.tables.templates.get(parent.template(ref.id))
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

    def _check(self, template: SessionTemplate) -> None:
        validate_labels(template.labels)
        validate_session_config(template, self.config.min_ttl)


def _from_template(session: Session) -> str:
    """The full name of the template a session was created from ("" if none)."""
    if not session.session_template:
        return ""
    try:
        ref = parse_template_reference(session.session_template)
    except errors.ApiError:
        return ""
    return ref.parent.template(ref.id)


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
