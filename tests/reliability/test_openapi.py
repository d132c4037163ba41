"""The OpenAPI documents: current with the code, in sync with the routes both ways,
well formed, served, and describing what the services really answer."""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any, cast

import httpx
import pytest
from jsonschema import Draft202012Validator

from jupyter_sessions.api.routes import ROUTES
from jupyter_sessions.emulator.app import ApiHandler
from jupyter_sessions.openapi import SPEC_KINDS, SpecKind, load_spec, spec_path
from jupyter_sessions.openapi.generate import render
from jupyter_sessions.server.app import SessionsExtensionApp
from jupyter_sessions.server.handlers import ProxyHandler, allowed_path
from jupyter_sessions.server.kernel_handlers import API_OVERRIDES

from ..support import wait_state
from .conftest import Stack
from .harness import Reply, assert_envelope

ITEM = {
    "sessions": "{session}",
    "sessionTemplates": "{sessionTemplate}",
    "operations": "{operation}",
}
PARAM = re.compile(r"\{(\w+)\}")


def documented(kind: SpecKind) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, item in load_spec(kind)["paths"].items() for m in item}


def emulator_routes() -> set[tuple[str, str]]:
    """(method, path template) of everything ``ApiHandler`` dispatches: the API route
    table (each entry served: tests/test_routes.py), the document itself, health, stats."""
    routes = {("GET", ApiHandler.OPENAPI_PATH)} | {("GET", p) for p in ApiHandler.LOCAL_PATHS}
    routes |= {(r.method, "/" + t.flat()) for r in ROUTES for t in r.templates}
    return routes | gateway_routes_documented()


def gateway_routes_documented() -> set[tuple[str, str]]:
    """(method, path template) of the kernel gateway's handlers: each route pattern must
    match a documented template, with the methods its handler implements."""
    from jupyter_sessions.emulator.gateway import gateway_routes

    templates = [p for p in load_spec("emulator")["paths"] if p.startswith("/api/")]
    found: set[tuple[str, str]] = set()
    for pattern, handler, *_ in gateway_routes(cast(Any, None), "projects/p/locations/l", None):
        matching = [
            t
            for t in templates
            if re.fullmatch(pattern, t.replace("{name}", "n").replace("{kernel_id}", "0a"))
        ]
        assert matching, pattern
        found |= {(m, t) for m in handler_methods(handler) for t in matching}
    return found


def handler_methods(handler: type) -> set[str]:
    from tornado.web import RequestHandler

    names = ("get", "post", "delete", "patch", "put")
    return {m.upper() for m in names if getattr(handler, m) is not getattr(RequestHandler, m)}


def fill(template: str, **values: str) -> str:
    defaults = {"project": "p", "location": "l", "session": "s", "sessionTemplate": "t"}
    defaults.update(name="n", kernel_id="0a1b")
    defaults.update(operation="o", **values)
    return PARAM.sub(lambda m: defaults[m.group(1)], template)


def test_shipped_documents_are_generated_from_the_code() -> None:
    """Given the route tables and the resource model as they are now, regenerating the
    documents changes nothing (run `python -m jupyter_sessions.openapi` otherwise)."""
    for kind in SPEC_KINDS:
        assert spec_path(kind).read_text(encoding="utf-8") == render(kind), kind


def test_every_emulator_route_is_documented_and_nothing_else() -> None:
    """Given the emulator's routing table, every (method, path) it dispatches is in the
    document, and the document has nothing the emulator does not dispatch."""
    assert documented("emulator") == emulator_routes()


def test_every_extension_route_is_documented_and_nothing_else() -> None:
    """Given the extension's handlers and the proxy allow-list, the document lists exactly
    the fixed routes and the proxied API paths the allow-list passes, with the methods
    the handlers implement; no other shape of path passes the allow-list."""
    app = SessionsExtensionApp()
    app.initialize_handlers()
    expected: set[tuple[str, str]] = set()
    for pattern, handler, *_ in app.handlers:
        if (pattern, handler) in API_OVERRIDES:
            continue  # jupyter_server's own API, its errors kept as they are
        methods = handler_methods(handler)
        if handler is ProxyHandler:
            prefix = str(pattern).split("/v1/")[0]
            for method, path in emulator_routes():
                forwarded = allowed_path(fill(path)[len("/v1/") :]) is not None
                if path.startswith("/v1/projects/") and method in methods and forwarded:
                    expected.add((method, prefix + path))
        else:
            expected |= {(m, str(pattern)) for m in methods}
    assert documented("extension") == expected
    proxied = {path for _, path in documented("extension") if "/v1/" in path}
    shapes = ["{c}", "{c}/{i}", "{c}/{i}:terminate", "{c}/{i}:cancel", "{c}/{i}:delete"]
    for kind, collection, shape in itertools.product(
        ("locations", "regions", "zones"),
        ("sessions", "sessionTemplates", "operations", "batches", "clusters"),
        shapes,
    ):
        item = ITEM.get(collection, "{x}")
        template = f"/v1/projects/{{project}}/{kind}/{{location}}/" + shape.format(
            c=collection, i=item
        )
        passes = allowed_path(fill(template, x="x")[len("/v1/") :]) is not None
        assert passes == ("/jupyter-sessions" + template in proxied), template


@pytest.mark.parametrize("kind", SPEC_KINDS)
def test_documents_are_well_formed(kind: SpecKind) -> None:
    """Every $ref resolves, path parameters match their templates, operationIds are
    unique, and every component schema is a valid JSON Schema (2020-12)."""
    spec = load_spec(kind)
    assert spec["openapi"].startswith("3.1")

    def resolve(ref: str) -> Any:
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                resolve(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    op_ids = []
    for path, item in spec["paths"].items():
        for op in item.values():
            op_ids.append(op["operationId"])
            params = [resolve(p["$ref"]) if "$ref" in p else p for p in op.get("parameters", [])]
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == set(PARAM.findall(path)), (path, in_path)
            assert "default" in op["responses"]
            assert any(code[0] == "2" or code == "101" for code in op["responses"]), path
    assert len(op_ids) == len(set(op_ids))
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_served_documents_are_the_shipped_ones(stack: Stack) -> None:
    """Given the running emulator and extension, each serves its document (the extension
    with its own base URL as server), only to authenticated callers."""
    with httpx.Client(timeout=30.0) as c:
        assert c.get(stack.emulator.url + "/v1/openapi.json").json() == load_spec("emulator")
        refused = c.post(stack.emulator.url + "/v1/openapi.json")
        assert refused.status_code == 404
    with stack.server.client() as c:
        served = c.get("jupyter-sessions/openapi.json").json()
    assert served["servers"] == [{"url": "/"}]
    assert {**served, "servers": load_spec("extension")["servers"]} == load_spec("extension")
    with stack.server.anonymous() as anonymous:
        r = anonymous.get("jupyter-sessions/openapi.json")
    assert r.status_code in (401, 403)
    assert_envelope(Reply(r.status_code, dict(r.headers), r.content))


def test_every_documented_emulator_route_is_routed(stack: Stack) -> None:
    """Given each documented (method, path) with ids that do not exist, the emulator
    answers from the API method (a resource error or success), never "No method"; other
    methods on the same paths are "No method" 404s."""
    prefix = f"projects/rt-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=stack.emulator.url, timeout=30.0) as c:
        for (method, template), probe in itertools.product(
            sorted(documented("emulator")), ("documented", "other")
        ):
            path = fill(template, project=prefix.split("/")[1], session="rt-none")
            if probe == "other":
                allowed = {m for m, p in documented("emulator") if p == template}
                others = [m for m in ("PUT", "PATCH", "POST", "DELETE") if m not in allowed]
                if not others or not template.startswith("/v1/projects/"):
                    continue
                method = others[0]
            r = c.request(method, path, json={} if method in ("POST", "PATCH") else None)
            body = r.json()
            message = body.get("error", {}).get("message", "") if isinstance(body, dict) else ""
            routed = not message.startswith(("No method", "No such path"))
            assert routed == (probe == "documented"), (method, path, r.status_code, message)


def _validate(kind: SpecKind, method: str, template: str, body: Any) -> None:
    spec = load_spec(kind)
    op = spec["paths"][template][method.lower()]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    errors = list(
        Draft202012Validator({**schema, "components": spec["components"]}).iter_errors(body)
    )
    assert not errors, (method, template, [e.message for e in errors[:3]], body)


def test_real_responses_match_the_documented_schemas(stack: Stack) -> None:
    """Given a session's whole life through the proxy (and straight to the emulator, also
    with integer enums), every answer validates against its documented schema, and every
    error against the StatusEnvelope."""
    parent = f"projects/sc-{uuid.uuid4().hex[:8]}/locations/us-central1"
    sid = "sc-" + uuid.uuid4().hex[:8]
    name = f"{parent}/sessions/{sid}"
    tpl = f"{parent}/sessionTemplates/tpl-{sid}"
    base = "/v1/projects/{project}/locations/{location}"
    base_regions = "/v1/projects/{project}/regions/{location}"
    with stack.server.client() as proxy, stack.emulator.client() as direct:
        calls: list[tuple[str, str, str, dict[str, Any], Any]] = [
            ("POST", f"{base}/sessionTemplates", f"{parent}/sessionTemplates", {}, {"name": tpl}),
            (
                "POST",
                f"{base}/sessions",
                f"{parent}/sessions",
                {"sessionId": sid},
                {"sessionTemplate": tpl, "labels": {"a": "b"}},
            ),
        ]
        results = {}
        for method, template, path, params, body in calls:
            r = proxy.request(method, "jupyter-sessions/v1/" + path, params=params, json=body)
            assert r.status_code == 200, r.text
            _validate("extension", method, "/jupyter-sessions" + template, r.json())
            results[template] = r.json()
        op_name = results[f"{base}/sessions"]["name"]
        wait_state(direct, name, {"ACTIVE"})
        reads = [
            ("GET", f"{base}/sessions/{{session}}", name),
            ("GET", f"{base}/sessions", f"{parent}/sessions"),
            ("GET", f"{base}/sessionTemplates/{{sessionTemplate}}", tpl),
            ("GET", f"{base}/sessionTemplates", f"{parent}/sessionTemplates"),
            ("GET", f"{base_regions}/operations/{{operation}}", op_name),
            ("GET", f"{base_regions}/operations", op_name.rsplit("/", 1)[0]),
        ]
        for (method, template, path), alt in itertools.product(reads, (False, True)):
            params = {"$alt": "json;enum-encoding=int"} if alt else {}
            r = direct.request(method, "/v1/" + path, params=params)
            assert r.status_code == 200, r.text
            _validate("emulator", method, template, r.json())
        term = proxy.post(f"jupyter-sessions/v1/{name}:terminate", json={})
        _validate(
            "extension",
            "POST",
            f"/jupyter-sessions{base}/sessions/{{session}}:terminate",
            term.json(),
        )
        again = proxy.post(f"jupyter-sessions/v1/{name}:terminate", json={})
        assert_envelope(Reply(again.status_code, dict(again.headers), again.content))
        wait_state(direct, name, {"TERMINATED"})
        gone = proxy.delete(f"jupyter-sessions/v1/{name}")
        _validate(
            "extension", "DELETE", f"/jupyter-sessions{base}/sessions/{{session}}", gone.json()
        )
        done = direct.get(f"/v1/{gone.json()['name']}").json()
        _validate("emulator", "GET", f"{base_regions}/operations/{{operation}}", done)
        r = proxy.get("jupyter-sessions/config")
        _validate("extension", "GET", "/jupyter-sessions/config", r.json())
        documented_keys = load_spec("extension")["components"]["schemas"]["ExtensionConfig"]
        assert set(r.json()) <= set(documented_keys["properties"]), r.json()
