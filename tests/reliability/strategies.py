"""hypothesis strategies for requests built from the shipped OpenAPI documents: real
templates with real and garbage segments, random query parameters, and JSON bodies that
are valid-shaped (from the component schemas), wrongly typed, deeply nested or huge."""

from __future__ import annotations

import base64
import json
import re
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from jupyter_sessions.openapi import load_spec

METHODS = ("GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "OPTIONS")
SESSION_IDS = ("fz-alpha", "fz-bravo", "fz-charlie")
PROJECTS = ("fz-project",)
LOCATIONS = ("us-central1",)
PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Call:
    """One generated request."""

    method: str
    target: str  # path and query, percent-encoded, ASCII
    body: bytes | None
    headers: dict[str, str]
    operation: dict[str, Any] | None  # the spec operation it was built from, if unchanged

    def __repr__(self) -> str:  # hypothesis prints failing examples: keep them readable
        body = self.body if self.body is None or len(self.body) < 300 else self.body[:300]
        return f"Call({self.method} {self.target[:500]!r} body={body!r} {self.headers})"


# --- scalars -------------------------------------------------------------------------------

SPECIAL_SEGMENTS = (
    "..",
    ".",
    "%2F",
    "%2f",
    "%2e%2e",
    "%2E",
    "%00",
    "%ZZ",
    "%",
    "%C3%28",
    "%ED%A0%80",
    "%ff",
    "%3A",
    ":",
    "::cancel",
    "x:terminate",
    "~",
    "a%2Fb",
    "projects",
    "sessions",
    "regions",
    "locations",
    "operations",
    "%E2%80%AE",
    "%F0%9F%98%80",
    "%20",
    "+",
    "@",
    ";",
    "%25",
    "%252F",
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


def encoded_text(max_size: int = 24) -> st.SearchStrategy[str]:
    """Any unicode, percent-encoded (sometimes keeping reserved characters raw)."""
    return st.tuples(
        st.text(max_size=max_size), st.sampled_from(["", "", ":@!$&'()*+,;=", "/"])
    ).map(lambda pair: quote(pair[0], safe=pair[1]))


segments = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{2,20}[a-z0-9]", fullmatch=True),
    encoded_text(),
    st.sampled_from(SPECIAL_SEGMENTS),
    st.integers(min_value=64, max_value=4000).map(lambda n: "i" * n),  # very long ids
)


def _value_for(param: str) -> st.SearchStrategy[str]:
    if param == "project":
        known = st.sampled_from(PROJECTS)
    elif param == "location":
        known = st.sampled_from(LOCATIONS)
    elif param in ("session", "sessionTemplate"):
        known = st.sampled_from(SESSION_IDS)
    else:
        known = st.uuids().map(str)
    # Mostly real values, so that requests get past routing into the API methods.
    return st.sampled_from([True] * 7 + [False]).flatmap(lambda ok: known if ok else segments)


# --- query ---------------------------------------------------------------------------------

FILTER_WORDS = (
    "state",
    "=",
    "!=",
    "<",
    ">=",
    ":",
    "ACTIVE",
    "CREATING",
    "AND",
    "or",
    "NOT",
    "-",
    "(",
    ")",
    "labels.team",
    "labels.a:*",
    "*",
    '"',
    "create_time",
    '"2024-01-01T00:00:00Z"',
    '"9999-12-31T23:59:59-23:59"',
    '"0001-01-01T00:00:00+23:59"',
    "session_id",
    "sessionUuid",
    "name",
    "creator",
    "\\",
    "'x'",
)
filters = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(FILTER_WORDS), max_size=12).map(" ".join),
    st.integers(min_value=1, max_value=3000).map(lambda n: "(" * n + "state = ACTIVE" + ")" * n),
    st.integers(min_value=1, max_value=500).map(lambda n: " AND ".join(["state=ACTIVE"] * n)),
)


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


page_tokens = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40).map(_token),
    json_values.map(lambda v: _token(json.dumps(v).encode())),
    st.tuples(st.text(max_size=30), st.text(max_size=20)).map(
        lambda kq: _token(json.dumps({"k": kq[0], "q": kq[1]}).encode())
    ),
    st.integers(min_value=100, max_value=20000).map(lambda n: _token(b"[" * n + b"]" * n)),
)
QUERY_VALUES: dict[str, st.SearchStrategy[str]] = {
    "pageSize": st.one_of(
        st.integers(min_value=-5, max_value=2000).map(str),
        st.sampled_from(["", "abc", "1e3", "99999999999", " 12 ", "-0", "\u0661\u0662", "0x10"]),
        st.text(max_size=10),
    ),
    "pageToken": page_tokens,
    "filter": filters,
    "requestId": st.one_of(
        st.from_regex(r"[a-zA-Z0-9_-]{1,40}", fullmatch=True), st.text(max_size=50)
    ),
    "sessionId": st.one_of(*[st.sampled_from(SESSION_IDS)] * 4, segments, st.text(max_size=70)),
    "$alt": st.one_of(st.just("json;enum-encoding=int"), st.text(max_size=30)),
    # The change feed's (kept short: a fuzzed request must not hold a stream open).
    "since": st.one_of(st.integers(min_value=-5, max_value=10**6).map(str), st.text(max_size=12)),
    "wait": st.one_of(
        st.sampled_from(["0", "-1", "0.1", "abc", "", "nan", "inf"]), st.text(max_size=4)
    ),
    "heartbeat": st.one_of(
        st.sampled_from(["0", "-1", "0.05", "x", "", "nan"]), st.text(max_size=4)
    ),
    # The extension's log route.
    "tail": st.one_of(st.integers(min_value=-5, max_value=10**9).map(str), st.text(max_size=8)),
    # The extension's kernel route.
    "session": st.one_of(
        st.sampled_from([f"projects/p/locations/l/sessions/{i}" for i in SESSION_IDS]),
        st.text(max_size=60),
    ),
}
query_keys = st.one_of(
    st.sampled_from([*QUERY_VALUES, "alt", "page_size", "request_id", "fields", "key"]),
    st.text(max_size=8),
)


VALID_QUERY_VALUES: dict[str, st.SearchStrategy[str]] = {
    "pageSize": st.sampled_from(["1", "2", "20", "1000", ""]),
    "pageToken": st.just(""),
    "filter": st.sampled_from(
        [
            "state = ACTIVE",
            'labels.team = "data"',
            "state = CREATING OR state = ACTIVE OR state = TERMINATING",
            'session_id = "fz-alpha" AND NOT state = FAILED',
            'create_time > "2020-01-01T00:00:00Z"',
        ]
    ),
    "requestId": st.sampled_from(["fz-req-1", "fz-req-2", "fz-req-3"]),
    "sessionId": st.sampled_from(SESSION_IDS),
    "$alt": st.just("json;enum-encoding=int"),
    "since": st.sampled_from(["0", "1", "5"]),
    "wait": st.just("0"),
    "heartbeat": st.just("1"),
    "tail": st.sampled_from(["1", "20", "200"]),
    "session": st.sampled_from([f"projects/p/locations/l/sessions/{i}" for i in SESSION_IDS]),
}


@st.composite
def queries(
    draw: st.DrawFn, documented: tuple[str, ...] = (), required: tuple[str, ...] = ()
) -> str:
    """The documented parameters (mostly valid values), sometimes random extra ones."""
    keys = [k for k in documented if k in required or draw(st.booleans())]
    pairs = []
    for key in keys:
        good = draw(st.sampled_from([True] * 3 + [False]))
        value = draw(VALID_QUERY_VALUES[key] if good else QUERY_VALUES[key])
        pairs.append((key, value))
    if draw(st.sampled_from([False] * 3 + [True])):
        for key in draw(st.lists(query_keys, min_size=1, max_size=4)):
            pairs.append((key, draw(QUERY_VALUES.get(key, st.text(max_size=20)))))
    encoded = [f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in pairs]
    if draw(st.sampled_from([False] * 9 + [True])):
        encoded.append(draw(st.sampled_from(["%ZZ", "&&", "=", "a=%FF%FE", "==x", "%", "a"])))
    return "&".join(encoded)


# --- bodies --------------------------------------------------------------------------------


class SchemaStrategies:
    """Valid-shaped JSON for the OpenAPI component schemas (with occasional bad values)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.components = spec["components"]["schemas"]
        self.cache: dict[str, st.SearchStrategy[Any]] = {}

    def ref(self, name: str, depth: int = 0) -> st.SearchStrategy[Any]:
        if name not in self.cache:
            self.cache[name] = st.deferred(lambda: self.of(self.components[name], depth + 1))
        return self.cache[name]

    def of(self, schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
        if "$ref" in schema:
            return self.ref(schema["$ref"].rsplit("/", 1)[-1], depth)
        if "allOf" in schema:
            return self.of(schema["allOf"][0], depth)
        if "anyOf" in schema:
            return st.one_of(*(self.of(s, depth) for s in schema["anyOf"]))
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            optional = {k: self.of(v, depth + 1) for k, v in schema.get("properties", {}).items()}
            if "additionalProperties" in schema and isinstance(
                schema["additionalProperties"], dict
            ):
                keys = st.one_of(
                    st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True), st.text(max_size=8)
                )
                return st.dictionaries(
                    keys, self.of(schema["additionalProperties"], depth + 1), max_size=4
                )
            if depth > 6:
                return st.just({})
            return st.fixed_dictionaries({}, optional=optional)
        if kind == "array":
            return st.lists(self.of(schema.get("items", {}), depth + 1), max_size=3)
        if kind == "string":
            if schema.get("format") == "date-time":
                return st.one_of(
                    st.from_regex(
                        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})",
                        fullmatch=True,
                    ),
                    st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]),
                )
            if "pattern" in schema:
                return st.one_of(
                    st.from_regex(schema["pattern"], fullmatch=True), st.text(max_size=20)
                )
            return st.text(max_size=30)
        if kind == "integer":
            return st.integers(min_value=-(2**40), max_value=2**40)
        if kind == "boolean":
            return st.booleans()
        return json_values


def _nested(n: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * n + b"]" * n
    return b'{"a":' * n + b"1" + b"}" * n


VALID_BODIES = (
    b"{}",
    b'{"labels": {"team": "data"}}',
    b'{"jupyterSession": {"kernel": "PYTHON", "displayName": "Fuzz"}}',
    b'{"environmentConfig": {"executionConfig": {"ttl": "3600s", "idleTtl": "900s"}}}',
    b'{"runtimeConfig": {"version": "2.2", "properties": {"spark:x": "1"}}}',
    b'{"requestId": "fz-terminate-1"}',
    b'{"name": "projects/fz-project/locations/us-central1/sessionTemplates/fz-alpha"}',
    b'{"name": "projects/fz-project/locations/us-central1/sessionTemplates/fz-bravo",'
    b' "description": "t", "labels": {"team": "data"}}',
    b'{"sessionTemplate": "projects/fz-project/locations/us-central1/sessionTemplates/fz-alpha"}',
)


def bodies(schemas: SchemaStrategies, schema: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """Request bodies: valid-shaped for ``schema`` most of the time, else hostile."""
    valid = st.sampled_from(VALID_BODIES) if schema else st.none()
    shaped = schemas.of(schema).map(lambda v: json.dumps(v).encode()) if schema else st.none()
    wrong_types = st.dictionaries(
        st.sampled_from(
            [
                "name",
                "labels",
                "runtimeConfig",
                "environmentConfig",
                "jupyterSession",
                "sparkConnectSession",
                "sessionTemplate",
                "description",
                "requestId",
                "state",
                "createTime",
                "user",
            ]
        ),
        json_values,
        max_size=4,
    ).map(lambda v: json.dumps(v).encode())
    hostile = st.one_of(
        st.none(),
        st.just(b""),
        wrong_types,
        json_values.map(lambda v: json.dumps(v).encode()),
        st.tuples(
            st.integers(min_value=100, max_value=60000), st.sampled_from(["list", "dict"])
        ).map(lambda nk: _nested(*nk)),
        st.integers(min_value=10_000, max_value=1_000_000).map(
            lambda n: json.dumps({"description": "x" * n, "user": "u" * (n // 2)}).encode()
        ),
        st.binary(max_size=200),
        st.sampled_from(
            [
                b'{"name": "\xff\xfe"}',
                b"1e999999",
                b'{"labels": {"a": 1e400}}',
                b"NaN",
                b'{"requestId": "\\ud800"}',
                b'{"labels": {"\\u0000": "\\ud800"}}',
                b'{"environmentConfig": {"executionConfig": {"ttl": "' + b"9" * 5000 + b's"}}}',
                b'{"jupyterSession": {"kernel": "' + b"9" * 5000 + b'"}}',
                b'{"createTime": "9999-12-31T23:59:59-23:59"}',
            ]
        ),
    )
    # Half valid (so sessions exist and move through their states), a quarter shaped by
    # the schema, a quarter hostile.
    return st.sampled_from(["valid", "valid", "shaped", "hostile"]).flatmap(
        lambda kind: {"valid": valid, "shaped": shaped, "hostile": hostile}[kind]
    )


# --- whole requests ------------------------------------------------------------------------


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in node:
        return node
    found: Any = spec
    for part in node["$ref"].removeprefix("#/").split("/"):
        found = found[part]
    return dict(found)


CONTENT_TYPES = (
    "application/json",
    "application/json",
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=zz",
    "application/json; charset=latin-1",
)
auth_headers = st.one_of(
    st.none(),
    st.text(alphabet=string.printable.strip() + "é", max_size=40).map(lambda t: "Bearer " + t),
    st.sampled_from(["Bearer", "Basic Zm9vOmJhcg==", "bearer  ", "Bearer é"]),
)


def requests(
    spec: dict[str, Any],
    *,
    prefix: str = "",
    garbage_roots: tuple[str, ...] = ("/v1/", "/", "/v2/", "//", "/v1", "/v1/projects/"),
    exclude: tuple[str, ...] = (),
    auth: bool = False,
) -> st.SearchStrategy[Call]:
    """Requests against the document's paths (``prefix`` is prepended to each)."""
    schemas = SchemaStrategies(spec)
    templates = [
        (path, method.upper(), op)
        for path, item in spec["paths"].items()
        if path not in exclude
        for method, op in item.items()
        # Session routes five times over: they drive the state machine.
        for _ in range(5 if "/sessions" in path else 1)
    ]

    @st.composite
    def build(draw: st.DrawFn) -> Call:
        operation: dict[str, Any] | None = None
        body_schema: dict[str, Any] | None = None
        required: tuple[str, ...] = ()
        documented: tuple[str, ...] = ()
        if draw(st.sampled_from(["template"] * 4 + ["garbage"])) == "template":
            path, method, op = draw(st.sampled_from(templates))
            for param in PARAM.findall(path):
                path = path.replace("{" + param + "}", draw(_value_for(param)), 1)
            if draw(st.sampled_from([False] * 7 + [True])):
                method = draw(st.sampled_from(METHODS))
            else:
                operation = op
            content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            body_schema = content.get("schema")
            params = [_resolve(spec, p) for p in op.get("parameters", [])]
            query_params = [p for p in params if p["in"] == "query"]
            documented = tuple(p["name"] for p in query_params)
            required = tuple(p["name"] for p in query_params if p.get("required"))
        else:
            root = draw(st.sampled_from(garbage_roots))
            path = prefix + root + "/".join(draw(st.lists(segments, max_size=8)))
            method = draw(st.sampled_from(METHODS))
        query = draw(queries(documented, required))
        target = path + (f"?{query}" if query or draw(st.booleans()) else "")
        body = draw(bodies(schemas, body_schema))
        headers = {"Content-Type": draw(st.sampled_from(CONTENT_TYPES))}
        if auth:
            value = draw(auth_headers)
            if value is not None:
                headers["Authorization"] = value
        return Call(method, target, body, headers, operation)

    return build()


def emulator_requests(**kwargs: Any) -> st.SearchStrategy[Call]:
    return requests(load_spec("emulator"), **kwargs)


def extension_requests() -> st.SearchStrategy[Call]:
    # The event stream never ends by design; it has its own tests.
    return requests(
        load_spec("extension"),
        prefix="/jupyter-sessions",
        garbage_roots=("/v1/", "/v1/projects/", "/v1//", "/v1/.."),
        exclude=("/jupyter-sessions/events",),
    )
