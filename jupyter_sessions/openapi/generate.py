"""Build the OpenAPI documents from the code itself: the API's route table
(``api/routes.py``), the extension's handlers (``SessionsExtensionApp.initialize_handlers``
and the proxy allow-list), and the resource model's dataclass fields. A route without a
description here fails the build, so the documents cannot silently fall behind the routes.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import re
import types
import typing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Union, cast

from ..api import routes
from ..api.codec import INT64, Message, camel
from ..api.errors import Code
from ..api.model import (
    METADATA_TYPE_URL,
    SESSION_TYPE_URL,
    ListOperationsResponse,
    ListSessionsResponse,
    ListSessionTemplatesResponse,
    Operation,
    Session,
    SessionTemplate,
)
from ..api.validation import REQUEST_ID_RE, SESSION_ID_RE
from . import SPEC_KINDS, SpecKind, spec_path

OPENAPI_VERSION = "3.1.0"
API_VERSION = "v1"
REF = "#/components/schemas/"
ENUM_INTS = "$alt=json;enum-encoding=int"

# Fields the service sets (AIP OUTPUT_ONLY): marked readOnly, ignored on input.
OUTPUT_ONLY = {
    "Session": {
        "uuid",
        "createTime",
        "runtimeInfo",
        "state",
        "stateMessage",
        "stateTime",
        "creator",
        "stateHistory",
    },
    "SessionTemplate": {"createTime", "creator", "updateTime", "uuid"},
}
# google.protobuf.Any fields: the message plus its type URL.
ANY_FIELDS = {
    ("Operation", "metadata"): METADATA_TYPE_URL,
    ("Operation", "response"): SESSION_TYPE_URL,
}


@dataclass(frozen=True)
class Doc:
    """What the document says about one API method, beyond the route table."""

    summary: str
    content: str = "application/json"  # of the 200 answer
    description: str = ""


DOCS: dict[str, Doc] = {
    "sessions.list": Doc("List sessions, newest first"),
    "sessions.create": Doc("Create a session (returns the create Operation at once)"),
    "sessions.get": Doc("Get a session"),
    "sessions.watch": Doc(
        "Follow changes of the parent's sessions (emulator only, beyond the Dataproc API)",
        "application/x-ndjson",
        "An addition of this emulator, not part of the Dataproc API. Newline-delimited JSON, "
        "one ChangeFeedLine a line, each with a resume position: without `since` (or with an "
        "unknown or too old one) a `reset` line with every session of the parent comes "
        "first; then every committed change in order (each state a session passes through, "
        "and deletions); the stream stays open for `wait` seconds, with a heartbeat line "
        "every `heartbeat` seconds while nothing changes. Reconnect with `since` set to the "
        "last position read to miss nothing.",
    ),
    "sessions.delete": Doc("Delete a session (terminating it first if ACTIVE)"),
    "sessions.terminate": Doc("Terminate an ACTIVE session"),
    "sessionTemplates.list": Doc("List session templates"),
    "sessionTemplates.create": Doc("Create a session template (its name in the body)"),
    "sessionTemplates.get": Doc("Get a session template"),
    "sessionTemplates.patch": Doc(
        "Replace every mutable field of a session template (no update mask)"
    ),
    "sessionTemplates.delete": Doc("Delete a session template"),
    "operations.list": Doc("List operations, newest first (filter is refused)"),
    "operations.get": Doc("Get an operation"),
    "operations.delete": Doc("Delete an operation record"),
    "operations.cancel": Doc("Cancel an operation (accepted; session operations run on)"),
}

QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    "pageSize": {
        "schema": {"type": "integer", "format": "int32", "minimum": 0},
        "description": "Items per page: 20 by default, at most 1000; negative is refused.",
    },
    "pageToken": {
        "schema": {"type": "string"},
        "description": "nextPageToken of the previous page, with the same parent and filter.",
    },
    "filter": {
        "schema": {"type": "string"},
        "description": "AIP-160 filter, e.g. state = ACTIVE AND labels.team = data.",
    },
    "sessionId": {
        "schema": {"type": "string", "pattern": SESSION_ID_RE.pattern},
        "description": "The new session's id (the last segment of its name).",
    },
    "requestId": {
        "schema": {"type": "string", "pattern": REQUEST_ID_RE.pattern},
        "description": "Idempotency key: a repeated requestId returns the first Operation.",
    },
    "since": {
        "schema": {"type": "string"},
        "description": "Resume position: the `position` of the last change feed line read.",
    },
    "wait": {
        "schema": {"type": "number", "minimum": 0, "maximum": 3600, "default": 0},
        "description": "Seconds to keep the change feed open for new changes (0: backlog only).",
    },
    "heartbeat": {
        "schema": {"type": "number", "minimum": 0.05, "maximum": 60, "default": 1},
        "description": "Seconds between heartbeat lines while nothing changes.",
    },
    "alt": {
        "name": "$alt",
        "schema": {"type": "string", "examples": [ENUM_INTS]},
        "description": f"With `{ENUM_INTS}`, enums are written as integers.",
    },
}

CHANGE_FEED_LINE: dict[str, Any] = {
    "type": "object",
    "description": "One line of the change feed: a reset, a changed session, a deletion or a "
    "heartbeat, with the position to resume after it.",
    "required": ["position"],
    "properties": {
        "position": {"type": "string", "description": "Pass as `since` to resume after it."},
        "reset": {"type": "boolean", "description": "`sessions` is the whole current set."},
        "sessions": {"type": "array", "items": {"$ref": REF + "Session"}},
        "session": {"$ref": REF + "Session"},
        "deleted": {"type": "string", "description": "The name of a deleted session."},
        "heartbeat": {"type": "boolean", "description": "Nothing new yet."},
    },
}

PROXY_NOTE = (
    " Forwarded to the configured backend; an unreachable backend answers 502 or 503 and a "
    "slow one 504, in the same error envelope."
)


# --- schemas from the resource model ---------------------------------------------------


class _Schemas:
    """Component schemas, collected from dataclass type hints."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, tp: Any) -> dict[str, Any]:
        """The schema (often a $ref) of one field type."""
        origin = typing.get_origin(tp)
        if origin is Annotated:
            base, *meta = typing.get_args(tp)
            if INT64 in meta:
                return {
                    "type": "string",
                    "format": "int64",
                    "pattern": r"^-?\d{1,19}$",
                    "description": "int64 as a decimal string (a JSON integer is accepted).",
                }
            return self.ref(base)
        if origin in (Union, types.UnionType):
            (arg,) = [a for a in typing.get_args(tp) if a is not type(None)]
            return self.ref(arg)
        if origin is list:
            return {"type": "array", "items": self.ref(typing.get_args(tp)[0])}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.ref(typing.get_args(tp)[1])}
        if tp is Any:
            return {}
        if isinstance(tp, type) and issubclass(tp, Message):
            self.message(tp)
            return {"$ref": REF + tp.__name__}
        if isinstance(tp, type) and issubclass(tp, enum.IntEnum):
            self.enum(tp)
            return {"$ref": REF + tp.__name__}
        if tp is datetime:
            return {"type": "string", "format": "date-time"}
        if tp is timedelta:
            return {
                "type": "string",
                "pattern": r"^-?\d+(\.\d{1,9})?s$",
                "description": "A duration in seconds with an s suffix, e.g. 3600s.",
            }
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer", "format": "int32"}
        if tp is str:
            return {"type": "string"}
        raise TypeError(f"no schema for {tp!r}")

    def message(self, cls: type[Message]) -> None:
        name = cls.__name__
        if name in self.schemas:
            return
        schema: dict[str, Any] = {"type": "object"}
        self.schemas[name] = schema  # placed first: recursive types stop here
        doc = cls.__dict__.get("__doc__") or ""
        if doc and not doc.startswith(f"{name}("):  # not the dataclass signature
            schema["description"] = doc.strip().splitlines()[0]
        hints = typing.get_type_hints(cls, include_extras=True)
        properties: dict[str, Any] = {}
        for f in dataclasses.fields(cast(Any, cls)):
            json_name = camel(f.name)
            prop = self.ref(hints[f.name])
            url = ANY_FIELDS.get((name, json_name))
            if url:
                prop = {
                    "allOf": [
                        prop,
                        {"type": "object", "properties": {"@type": {"const": url}}},
                    ]
                }
            if json_name in OUTPUT_ONLY.get(name, ()):
                prop = {**prop, "readOnly": True}
            properties[json_name] = prop
        if properties:
            schema["properties"] = properties

    def enum(self, cls: type[enum.IntEnum]) -> None:
        if cls.__name__ in self.schemas:
            return
        members = list(cls)
        self.schemas[cls.__name__] = {
            "description": (cls.__doc__ or cls.__name__).strip()
            + f" Names by default; integers with {ENUM_INTS} (either is accepted on input).",
            "anyOf": [
                {"type": "string", "enum": [m.name for m in members]},
                {"type": "integer", "enum": [int(m) for m in members]},
            ],
        }


def _text_responses(description: str, media: str) -> dict[str, Any]:
    """The responses of an operation that answers text of type ``media`` (errors as JSON)."""
    return {
        "200": {"description": description, "content": {media: {"schema": {"type": "string"}}}},
        "default": {"$ref": "#/components/responses/Error"},
    }


def _components(extra: dict[str, Any]) -> dict[str, Any]:
    collected = _Schemas()
    for cls in (
        Session,
        SessionTemplate,
        Operation,
        ListSessionsResponse,
        ListSessionTemplatesResponse,
        ListOperationsResponse,
    ):
        collected.message(cls)
    schemas = dict(collected.schemas)
    schemas["TerminateSessionRequest"] = {
        "type": "object",
        "properties": {"requestId": QUERY_PARAMETERS["requestId"]["schema"]},
    }
    schemas["Empty"] = {"type": "object", "maxProperties": 0}
    schemas["StatusEnvelope"] = {
        "type": "object",
        "description": "Every error: the google.rpc.Status HTTP envelope.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "status"],
                "properties": {
                    "code": {"type": "integer", "description": "The HTTP status code."},
                    "message": {"type": "string"},
                    "status": {"type": "string", "enum": [c.name for c in Code if c != Code.OK]},
                    "details": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"@type": {"type": "string"}},
                        },
                    },
                },
            }
        },
    }
    schemas.update(extra)
    parameters: dict[str, Any] = {}
    for key, p in QUERY_PARAMETERS.items():
        rest = {k: v for k, v in p.items() if k != "name"}
        parameters[key] = {"name": p.get("name", key), "in": "query", **rest}
    path_params = [p for r in routes.ROUTES for t in r.templates for p in _path_params(t)]
    for item in dict.fromkeys(path_params):
        parameters[item] = {
            "name": item,
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
        }
    return {
        "schemas": dict(sorted(schemas.items())),
        "parameters": parameters,
        "responses": {
            "Error": {
                "description": "An error, in the google.rpc.Status envelope.",
                "content": {"application/json": {"schema": {"$ref": REF + "StatusEnvelope"}}},
            }
        },
    }


# --- paths -------------------------------------------------------------------------------


def _path_params(template: routes.PathTemplate) -> list[str]:
    return re.findall(r"{(\w+)}", template.flat())


def _operation(
    route: routes.Route, template: routes.PathTemplate, doc: Doc, note: str = ""
) -> dict[str, Any]:
    parameters = [{"$ref": f"#/components/parameters/{p}"} for p in _path_params(template)]
    for q in (*route.query, "alt"):
        ref: dict[str, Any] = {"$ref": f"#/components/parameters/{q}"}
        if q in route.required:
            # A required query parameter: the component says it is optional.
            ref = {"name": q, "in": "query", "required": True, **QUERY_PARAMETERS[q]}
        parameters.append(ref)
    out: dict[str, Any] = {
        # The path's words and the method: projects.regions.operations.get
        "operationId": ".".join((*template.literals[1:-1], route.name)),
        "summary": doc.summary,
        "tags": [template.literals[-1]],
        "parameters": parameters,
    }
    if note or doc.description:
        out["description"] = (doc.description + " " + note).strip()
    if route.body:
        out["requestBody"] = {
            # The whole request as body (terminate): its fields are all optional.
            "required": route.body != "*",
            "content": {"application/json": {"schema": {"$ref": REF + route.body_type}}},
        }
    out["responses"] = {
        "200": {
            "description": "OK",
            "content": {doc.content: {"schema": {"$ref": REF + route.response}}},
        },
        "default": {"$ref": "#/components/responses/Error"},
    }
    out["x-iam-permission"] = route.permission
    return out


def api_templates() -> list[tuple[str, routes.Route, routes.PathTemplate]]:
    """Every (HTTP method, route, template) of the route table, by method."""
    rows = [(r.method, r, t) for r in routes.ROUTES for t in r.templates]
    return sorted(rows, key=lambda row: (row[0], row[2].flat()))


def _api_paths(prefix: str, keep: Any, note: str = "") -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for method, route, template in api_templates():
        path = "/" + template.flat()
        if not keep(path, method):
            continue
        doc = DOCS.get(route.name)
        if doc is None:
            raise KeyError(
                f"the route table has {route.name!r}; describe it in openapi/generate.py"
            )
        paths.setdefault(prefix + path, {})[method.lower()] = _operation(route, template, doc, note)
    return paths


def _json_get(op_id: str, summary: str, schema: Any, **extra: Any) -> dict[str, Any]:
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
                "default": {"$ref": "#/components/responses/Error"},
            },
            **extra,
        }
    }


def build_emulator() -> dict[str, Any]:
    """The emulator's document: its v1 routes, the document itself, health and stats."""
    from ..emulator.app import ApiHandler

    paths = _api_paths("", lambda template, method: True)
    paths[ApiHandler.OPENAPI_PATH] = _json_get(
        "openapi.get", "This OpenAPI document", {"type": "object"}
    )
    local = {
        "/healthz": ("healthz.get", "Liveness: status, pid, runtime kind, version"),
        "/emulator/stats": ("stats.get", "Request counts by method since start"),
    }
    if set(local) != set(ApiHandler.LOCAL_PATHS):
        raise KeyError(f"describe the emulator's local paths {ApiHandler.LOCAL_PATHS}")
    for path, (op_id, summary) in local.items():
        paths[path] = _json_get(op_id, summary, {"type": "object"}, security=[])
    paths.update(_gateway_paths())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "jupyter-sessions emulator: Dataproc v1 Sessions API",
            "version": API_VERSION,
            "description": "The local, Dataproc-compatible Sessions API "
            "(`jupyter-sessions emulator`). Without --require-token it needs no credentials; "
            "with it, every v1 call needs `Authorization: Bearer TOKEN`.",
        },
        "servers": [{"url": "/"}],
        "security": [{}, {"bearerToken": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            **_components({"ChangeFeedLine": CHANGE_FEED_LINE}),
            "securitySchemes": {"bearerToken": {"type": "http", "scheme": "bearer"}},
        },
    }


GATEWAY_NOTE = (
    "The Jupyter Kernel Gateway protocol, as Google serves it for Dataproc sessions (an "
    "addition to the Sessions API): kernelspecs are `session` and one "
    "`session-template-ID` per template with a jupyterSession block; a kernel is an ACTIVE "
    "session's kernel (its id is the session's uuid). Served at the root for --gateway-parent "
    "and under /gateway/projects/P/locations/L for other parents."
)


def _gateway_op(op_id: str, summary: str, ok: str = "200", body: bool = False) -> Any:
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "description": GATEWAY_NOTE,
        "tags": ["kernel gateway"],
        "responses": {
            ok: {"description": "OK", "content": {"application/json": {"schema": {}}}}
            if ok != "204"
            else {"description": "Done"},
            "default": {"$ref": "#/components/responses/Error"},
        },
    }
    if body:
        op["requestBody"] = {
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {"name": {"type": "string"}}}
                }
            }
        }
    return op


def _gateway_paths() -> dict[str, dict[str, Any]]:
    """The kernel gateway's routes (checked against emulator/gateway.py's route table)."""
    from ..emulator.gateway import gateway_routes

    described = {
        "/api/kernelspecs": {"get": _gateway_op("kernelspecs.list", "Kernelspecs")},
        "/api/kernelspecs/{name}": {"get": _gateway_op("kernelspecs.get", "One kernelspec")},
        "/api/kernels": {
            "get": _gateway_op("kernels.list", "Kernels of ACTIVE sessions"),
            "post": _gateway_op(
                "kernels.start",
                "Create a session for a kernelspec; answer once ACTIVE",
                "201",
                True,
            ),
        },
        "/api/kernels/{kernel_id}": {
            "get": _gateway_op("kernels.get", "One kernel"),
            "delete": _gateway_op("kernels.delete", "Terminate the kernel's session", "204"),
        },
        "/api/kernels/{kernel_id}/interrupt": {
            "post": _gateway_op("kernels.interrupt", "Interrupt the kernel", "204")
        },
        "/api/kernels/{kernel_id}/restart": {
            "post": _gateway_op("kernels.restart", "A fresh kernel process, same session")
        },
        "/api/kernels/{kernel_id}/channels": {
            "get": _gateway_op(
                "kernels.channels", "WebSocket relaying Jupyter messages (JSON frames)", "101"
            )
        },
    }
    # Every route of the gateway's table must match one of the paths described here.
    samples = {p.replace("{name}", "session").replace("{kernel_id}", "0a1b") for p in described}
    for pattern, *_ in gateway_routes(None, "projects/p/locations/l", None):  # type: ignore[arg-type]
        if not any(re.fullmatch(pattern, sample) for sample in samples):
            raise KeyError(f"the kernel gateway routes {pattern!r}; describe it here")
    for path, item in described.items():
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)
        ]
        for op in item.values():
            if params:
                op["parameters"] = params
    return described


def handler_methods(handler: type) -> list[str]:
    """The HTTP methods a tornado handler class implements itself."""
    from tornado.web import RequestHandler

    return [
        m.upper()
        for m in ("get", "post", "delete", "patch", "put")
        if getattr(handler, m) is not getattr(RequestHandler, m)
    ]


def extension_routes() -> list[tuple[str, type]]:
    """The extension's own tornado routes, from its ``initialize_handlers``; not the
    refinements of jupyter_server's API (documented by jupyter_server)."""
    from ..server.app import SessionsExtensionApp
    from ..server.kernel_handlers import API_OVERRIDES

    app = SessionsExtensionApp()
    app.initialize_handlers()
    routes = [(str(pattern), handler) for pattern, handler, *_ in app.handlers]
    return [route for route in routes if route not in API_OVERRIDES]


PROXY_PATTERN = "/jupyter-sessions/v1/(.*)"
SAMPLE_VALUES = {
    "project": "p",
    "location": "l",
    "session": "s",
    "sessionTemplate": "t",
    "operation": "o",
}


def sample_path(template: str) -> str:
    """A template with every {parameter} filled in (for the allow-list)."""
    out = template
    for key, value in SAMPLE_VALUES.items():
        out = out.replace("{" + key + "}", value)
    return out


def build_extension() -> dict[str, Any]:
    """The extension's document: config, events, this document, and the proxied v1 routes
    (those the allow-list passes, with the methods the proxy handler forwards)."""
    from ..server.handlers import allowed_path

    fixed: dict[str, dict[str, Any]] = {
        "/jupyter-sessions/config": _json_get(
            "config.get",
            "The backend the extension talks to, and the default project and location",
            {"$ref": REF + "ExtensionConfig"},
        ),
        "/jupyter-sessions/openapi.json": _json_get(
            "openapi.get", "This OpenAPI document", {"type": "object"}
        ),
        "/jupyter-sessions/kernel": _json_get(
            "kernel.get",
            "The id of the kernel (on this server) that runs a session, attached on demand",
            {
                "type": "object",
                "properties": {"id": {"type": "string"}, "session": {"type": "string"}},
            },
            parameters=[
                {
                    "name": "session",
                    "in": "query",
                    "required": True,
                    "description": "projects/P/locations/L/sessions/ID",
                    "schema": {"type": "string"},
                }
            ],
        ),
        "/jupyter-sessions/log": {
            "get": {
                "operationId": "log.get",
                "summary": "The end of a session's kernel log, read-only (embedded emulator only)",
                "description": "Only the file the session names in runtimeInfo.endpoints"
                '["Jupyter Kernel Log"], and only inside the emulator\'s data folder. With the '
                "Dataproc backend: 400 FAILED_PRECONDITION (the logs are in Cloud Logging).",
                "parameters": [
                    {
                        "name": "session",
                        "in": "query",
                        "required": True,
                        "description": "projects/P/locations/L/sessions/ID",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "tail",
                        "in": "query",
                        "description": "At most this many bytes from the end (default 262144)",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 4194304},
                    },
                ],
                "responses": _text_responses("The log as UTF-8 text", "text/plain"),
            }
        },
        "/jupyter-sessions/events": {
            "get": {
                "operationId": "events.get",
                "summary": "Server-Sent Events of one project and location",
                "description": "A `snapshot` event first (all sessions), then `session` (a new "
                "or changed session), `removed` ({name}), `status` ({reachable, lastPoll, "
                "message}), `template` ({name, template} or {name, deleted: true}: a session "
                "template written through this server) and `heartbeat` events.",
                "parameters": [
                    {
                        "name": "parent",
                        "in": "query",
                        "description": "projects/P/locations/L (default: the configured one)",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": _text_responses("An endless text/event-stream", "text/event-stream"),
            },
            "post": {
                "operationId": "events.activity",
                "summary": "A panel of this project and location is visible and in use",
                "description": "With a polled backend (Dataproc) the Watcher then looks at "
                "the active interval for a while; with the emulator's change feed it changes "
                "nothing.",
                "parameters": [
                    {
                        "name": "parent",
                        "in": "query",
                        "description": "projects/P/locations/L (default: the configured one)",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Noted",
                        "content": {"application/json": {"schema": {"$ref": REF + "Empty"}}},
                    },
                    "default": {"$ref": "#/components/responses/Error"},
                },
            },
        },
    }
    paths: dict[str, dict[str, Any]] = {}
    for pattern, handler in extension_routes():
        methods = handler_methods(handler)
        if pattern == PROXY_PATTERN:
            prefix = PROXY_PATTERN.split("/v1/")[0]
            proxied = _api_paths(
                prefix,
                lambda t, m, methods=methods: (
                    m in methods and allowed_path(sample_path(t)[len("/v1/") :]) is not None
                ),
                PROXY_NOTE,
            )
            paths.update(proxied)
            continue
        if pattern not in fixed:
            raise KeyError(f"the extension routes {pattern!r}; describe it in openapi/generate.py")
        documented = [m.upper() for m in fixed[pattern]]
        if documented != methods:
            raise KeyError(f"{pattern}: the handler has {methods}, the document {documented}")
        paths[pattern] = fixed[pattern]
    config_schema = {
        "type": "object",
        "description": "The effective configuration; backends may add keys of their own (the "
        "dataproc backend: where the project and location came from, the credentials used).",
        "properties": {
            **{
                key: {"type": "string"}
                for key in ("backend", "endpoint", "project", "location", "parent", "user")
            },
            "version": {"type": "string", "description": "jupyter-sessions version"},
            "heartbeatInterval": {
                "type": "number",
                "description": "Seconds between heartbeats on an idle event stream",
            },
            "kernelGateway": {
                "type": "string",
                "description": "The kernel gateway that runs session kernels ('' if none)",
            },
            "kernelGatewayError": {
                "type": "string",
                "description": "Why there are no session kernels, if so",
            },
            "runtimes": {
                "type": "object",
                "description": "What the backend can run: PYTHON, SCALA and SPARK_CONNECT, each "
                "with why it cannot ('' when it can)",
                "additionalProperties": {"type": "string"},
            },
        },
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "jupyter-sessions server extension",
            "version": API_VERSION,
            "description": "Routes of the Jupyter server extension, under the server's base "
            "URL. The Sessions API paths are those of the Dataproc v1 API under "
            "`jupyter-sessions/v1/`; nothing else is forwarded.",
        },
        "servers": [{"url": "/", "description": "The Jupyter server's base URL"}],
        "security": [{"jupyterToken": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            **_components({"ExtensionConfig": config_schema}),
            "securitySchemes": {
                "jupyterToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`token <TOKEN>`, or Jupyter's login cookie (then writes "
                    "need the X-XSRFToken header).",
                }
            },
        },
    }


def build(kind: SpecKind) -> dict[str, Any]:
    return build_emulator() if kind == "emulator" else build_extension()


def render(kind: SpecKind) -> str:
    """The document as it is shipped (stable key order, one trailing newline)."""
    import json

    return json.dumps(build(kind), indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_sessions.openapi")
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for kind in SPEC_KINDS:
        path = spec_path(kind)
        text = render(kind)
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)} (run python -m jupyter_sessions.openapi)")
        return 1
    print(("rewrote " if stale else "up to date: ") + ", ".join(stale or SPEC_KINDS))
    return 0
