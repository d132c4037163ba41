"""``%session template ...`` and ``jupyter-sessions template ...``: what both share.

The verbs (create, describe, edit, delete, from-session), their flags (the configuration
flags of ``create``), the template body they send, what an edit changed, and how a
session's configuration becomes a template. Like ``commands``, light at import time.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .commands import add_config_arguments, add_kind_arguments, duration

if TYPE_CHECKING:
    from ..api.errors import ApiError
    from ..api.model import Session, SessionTemplate
    from ..client import SessionsClient

# name -> one-line description, in the order of ``help``.
TEMPLATE_VERBS: dict[str, str] = {
    "create": "create a session template (a launcher card when it has a Jupyter kernel)",
    "describe": "show a session template",
    "edit": "change a session template and show what changed",
    "delete": "delete a session template",
    "from-session": "save a session's configuration as a new template",
}
# What a template holds besides its name and output-only fields (SessionTemplate in the
# spec); everything else of a session (ids, state, runtimeInfo, ...) is dropped.
TEMPLATE_FIELDS = (
    "jupyterSession",
    "sparkConnectSession",
    "labels",
    "runtimeConfig",
    "environmentConfig",
)


def _config_arguments(p: argparse.ArgumentParser, *, edit: bool) -> None:
    """The configuration flags of ``%session create``, and the template's own."""
    add_kind_arguments(
        p,
        kernel="Jupyter kernel of its sessions" + ("" if edit else " (default python)"),
        spark_connect="Spark Connect sessions instead of a kernel",
    )
    p.add_argument(
        "--display-name", metavar="N", help="name of its launcher card (Jupyter kernels only)"
    )
    p.add_argument("--description", metavar="TEXT", help="what the template is for")
    add_config_arguments(
        p,
        labels="label applied to its sessions (repeatable)",
        duration_type=duration,
        defaults=False,
    )
    if edit:
        p.add_argument(
            "--remove-label", action="append", default=[], metavar="K", help="drop a label"
        )
        p.add_argument(
            "--remove-property",
            action="append",
            default=[],
            metavar="K",
            help="drop a runtime property",
        )


def add_template_arguments(
    p: argparse.ArgumentParser, parents: list[argparse.ArgumentParser] | None = None
) -> dict[str, argparse.ArgumentParser]:
    """Add the verbs under ``template``; returns their parsers as ``template VERB``."""
    sub = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    found: dict[str, argparse.ArgumentParser] = {}
    for verb, text in TEMPLATE_VERBS.items():
        v = sub.add_parser(verb, help=text, description=text, parents=parents or [])
        found[f"template {verb}"] = v
        if verb == "from-session":
            v.add_argument("session", metavar="SESSION_ID", help="session id or full name")
            v.add_argument("template", metavar="NEW_ID", help="id of the new template")
            v.add_argument("--description", metavar="TEXT", help="what the template is for")
            v.add_argument("--display-name", metavar="N", help="name of its launcher card")
            continue
        v.add_argument("template", metavar="ID", help="template id or full name")
        if verb in ("create", "edit"):
            _config_arguments(v, edit=verb == "edit")
    return found


# --- bodies -----------------------------------------------------------------------------


def _set_text(target: dict[str, Any], key: str, value: str | None) -> None:
    """A flag given as "" clears the field; not given leaves it."""
    if value is None:
        return
    if value.strip():
        target[key] = value.strip()
    else:
        target.pop(key, None)


def _prune(data: dict[str, Any]) -> dict[str, Any]:
    """Without empty nested messages and maps (``{}`` stays only for sparkConnectSession)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "sparkConnectSession":
            value = _prune(value)
            if not value:
                continue
        out[key] = value
    return out


def apply_flags(body: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The template JSON ``body`` with the flags of create/edit applied (a new dict).
    Raises InvalidArgument on labels the API would refuse or a display name without a
    Jupyter kernel."""
    from ..api import errors
    from ..api.codec import format_duration
    from ..api.validation import validate_labels

    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in body.items()}
    if args.spark_connect:
        out.pop("jupyterSession", None)
        out["sparkConnectSession"] = {}
    elif args.kernel:
        out.pop("sparkConnectSession", None)
        out["jupyterSession"] = {**out.get("jupyterSession", {}), "kernel": args.kernel.upper()}
    if args.display_name is not None:
        if "jupyterSession" not in out:
            raise errors.bad_request(
                "jupyterSession.displayName",
                "only templates with a Jupyter kernel have a display name (a launcher card)",
            )
        _set_text(out["jupyterSession"], "displayName", args.display_name)
    _set_text(out, "description", args.description)
    labels = dict(out.get("labels", {}))
    for key in getattr(args, "remove_label", []):
        labels.pop(key, None)
    labels.update(dict(args.label))
    out["labels"] = validate_labels(labels)
    runtime = dict(out.get("runtimeConfig", {}))
    properties = dict(runtime.get("properties", {}))
    for key in getattr(args, "remove_property", []):
        properties.pop(key, None)
    properties.update(dict(args.property))
    runtime["properties"] = properties
    _set_text(runtime, "version", args.version)
    out["runtimeConfig"] = runtime
    env = dict(out.get("environmentConfig", {}))
    execution = dict(env.get("executionConfig", {}))
    if args.ttl:
        execution["ttl"] = format_duration(args.ttl)
    if args.max_idle:
        execution["idleTtl"] = format_duration(args.max_idle)
    _set_text(execution, "serviceAccount", args.service_account)
    _set_text(execution, "subnetworkUri", args.subnet)
    if args.subnet:
        execution.pop("networkUri", None)  # one of the two: the subnet replaces a network
    env["executionConfig"] = execution
    out["environmentConfig"] = env
    return _prune(out)


def new_template_body(args: argparse.Namespace) -> dict[str, Any]:
    """What ``template create`` sends (without its name): a Python kernel unless told."""
    base: dict[str, Any] = {}
    if not args.spark_connect:
        base["jupyterSession"] = {"kernel": (args.kernel or "python").upper()}
    return apply_flags(base, args)


def editable(template: SessionTemplate) -> dict[str, Any]:
    """A template's mutable fields as JSON (what a PATCH replaces)."""
    data = template.to_json()
    return {k: v for k, v in data.items() if k in (*TEMPLATE_FIELDS, "description")}


def template_from_session(
    session: Session, description: str | None = None, display_name: str | None = None
) -> dict[str, Any]:
    """A session's configuration as a template body: everything a template can hold
    (session config, user labels, runtime and environment config), nothing it cannot
    (ids, uuid, state, runtimeInfo, creator, system ``goog-dataproc-*`` labels, the
    template the session came from)."""
    data = session.to_json()
    body: dict[str, Any] = {k: data[k] for k in TEMPLATE_FIELDS if k in data}
    labels = {k: v for k, v in body.pop("labels", {}).items() if not _system(k)}
    if labels:
        body["labels"] = labels
    body["description"] = (
        description if description is not None else f"Saved from session {session.session_id}"
    )
    if display_name is not None:
        if "jupyterSession" not in body:
            from ..api import errors

            raise errors.bad_request(
                "jupyterSession.displayName",
                f"session {session.session_id} has no Jupyter kernel, so its template has "
                "no launcher card to name",
            )
        body["jupyterSession"] = {**body["jupyterSession"], "displayName": display_name}
    return body  # as the session has it, empty messages included


def _system(label: str) -> bool:
    from ..api.defaults import is_system_label

    return is_system_label(label)


# --- what changed -----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One field of a template before and after an edit ("" = not set)."""

    field: str
    before: str
    after: str


def template_rows(template: SessionTemplate) -> list[tuple[str, str]]:
    """The template's configuration as (field, value) rows, for people."""
    from ..api.durations import format_human_duration
    from .render import execution_rows, kind, labels_text

    rows: list[tuple[str, str]] = []
    rows.append(("kind", kind(template)))
    if template.jupyter_session is not None and template.jupyter_session.display_name:
        rows.append(("display name", template.jupyter_session.display_name))
    if template.description:
        rows.append(("description", template.description))
    rc = template.runtime_config
    env = template.environment_config
    ec = env.execution_config if env is not None else None
    if rc is not None and rc.version:
        rows.append(("runtime version", rc.version))
    if ec is not None:
        if ec.ttl is not None:
            rows.append(("ttl", format_human_duration(ec.ttl)))
        rows.extend(execution_rows(ec))
    user = {k: v for k, v in template.labels.items() if not _system(k)}
    if user:
        rows.append(("labels", labels_text(user)))
    if rc is not None:
        for key, value in sorted(rc.properties.items()):
            rows.append((f"property {key}", value))
    return [(k, v) for k, v in rows if v]


def changes(before: SessionTemplate, after: SessionTemplate) -> list[Change]:
    """What an edit changed, field by field (labels one by one)."""

    def fields(t: SessionTemplate) -> dict[str, str]:
        rows = dict(template_rows(t))
        rows.pop("labels", None)
        for key, value in t.labels.items():
            rows[f"label {key}"] = value if value else "(no value)"
        return rows

    old, new = fields(before), fields(after)
    keys = list(old) + [k for k in new if k not in old]
    return [Change(k, old.get(k, ""), new.get(k, "")) for k in keys if old.get(k) != new.get(k)]


# --- the verbs ----------------------------------------------------------------------------


def template_id(text: str) -> str:
    """The id of a template given by id or full name, checked like a session id."""
    from ..api.validation import validate_session_id

    tid = text.rsplit("/", 1)[-1]
    validate_session_id(tid, "template id")
    return tid


def create_template(client: SessionsClient, args: argparse.Namespace) -> SessionTemplate:
    return client.create_template(new_template_body(args), template_id=template_id(args.template))


def edit_template(
    client: SessionsClient, args: argparse.Namespace
) -> tuple[SessionTemplate, list[Change]]:
    """PATCH the template with the flags; nothing is sent when nothing would change."""
    current = client.get_template(args.template)
    body = apply_flags(editable(current), args)
    if body == _prune(editable(current)):
        return current, []
    updated = client.update_template(body, current.name)
    return updated, changes(current, updated)


def save_session(client: SessionsClient, args: argparse.Namespace) -> SessionTemplate:
    """``from-session``: one create with the session's configuration."""
    tid = template_id(args.template)
    session = client.get_session(args.session)
    body = template_from_session(session, args.description, args.display_name)
    return client.create_template(body, template_id=tid)


_HINTS: dict[str, str] = {
    "ALREADY_EXISTS": "pick another id, or change it with `{prog} template edit {id}`",
    "NOT_FOUND": "`{prog} templates` lists the templates",
}


def describe_template_error(exc: ApiError, template: str, prog: str) -> str:
    """One readable line for an API error of a template verb."""
    from .commands import describe_error

    line = describe_error(exc)
    hint = _HINTS.get(exc.code.name)
    if hint and template and "Template" in exc.message:
        line += "; " + hint.format(prog=prog, id=template.rsplit("/", 1)[-1])
    return line


def run_template_verb(client: SessionsClient, args: argparse.Namespace) -> Any:
    """Run ``template VERB`` for the magics: a TemplateView, TemplateChanges or Notice."""
    from .render import Notice
    from .render_templates import TemplateChanges, TemplateView

    if args.verb == "create":
        created = create_template(client, args)
        return TemplateView.of(created, f"Created template {created.template_id}")
    if args.verb == "describe":
        return TemplateView.of(client.get_template(args.template))
    if args.verb == "edit":
        template, changed = edit_template(client, args)
        return TemplateChanges(template, changed)
    if args.verb == "delete":
        client.delete_template(args.template)
        return Notice(f"Deleted template {args.template.rsplit('/', 1)[-1]}")
    saved = save_session(client, args)
    sid = args.session.rsplit("/", 1)[-1]
    return TemplateView.of(saved, f"Saved session {sid} as template {saved.template_id}")
