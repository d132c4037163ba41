"""The Sessions API's route table: one entry per API method, as data.

Each entry says what Google's ``google.api.http`` annotation says of a Dataproc v1 method
(the HTTP method, the path template, the body field), plus its query parameters, the IAM
permission it needs and its response message. The emulator routes by this table, the
client expands its templates, the extension's proxy allow-list and the OpenAPI documents
are built from it.

Templates follow ``google.api.http``: ``v1/{parent=projects/*/locations/*}/sessions``,
``v1/{name=projects/*/locations/*/sessions/*}:terminate``, where ``*`` is one path segment
and ``{var}`` alone stands for ``{var=*}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from .errors import bad_request
from .names import LOCATION, PROJECT, RESOURCE_ID

API_VERSION = "v1"
WILDCARD = "*"

# The names a wildcard takes after each literal: its singular (the path parameter of a
# flat template such as the OpenAPI documents use) and the proxy's rule for its text.
_PARAMETER = {
    "projects": "project",
    "locations": "location",
    "regions": "location",
    "sessions": "session",
    "sessionTemplates": "sessionTemplate",
    "operations": "operation",
}
_NAME_RULE = {"projects": PROJECT, "locations": LOCATION, "regions": LOCATION}
_VARIABLE = re.compile(r"\{([A-Za-z_][\w.]*)(?:=([^{}]*))?\}")
_VERB = re.compile(r":([A-Za-z]\w*)\Z")
# What the proxy accepts in a raw path: unreserved characters, ':' and '/' only.
_SAFE_RAW = re.compile(r"^[A-Za-z0-9._~:/-]*\Z")


@dataclass(frozen=True)
class Segment:
    """One path segment of a template: a literal, or ``*`` within a variable."""

    literal: str
    variable: str = ""

    @property
    def wildcard(self) -> bool:
        return self.literal == WILDCARD


@dataclass(frozen=True)
class PathTemplate:
    """A parsed ``google.api.http`` path template."""

    text: str
    segments: tuple[Segment, ...]
    verb: str = ""

    @classmethod
    def parse(cls, text: str) -> PathTemplate:
        verb_match = _VERB.search(text)
        body = text[: verb_match.start()] if verb_match else text
        segments: list[Segment] = []
        pos = 0
        for m in _VARIABLE.finditer(body):
            segments += [Segment(s) for s in body[pos : m.start()].split("/") if s]
            pattern = m.group(2) or WILDCARD
            segments += [Segment(s, m.group(1)) for s in pattern.split("/")]
            pos = m.end()
        segments += [Segment(s) for s in body[pos:].split("/") if s]
        if any(s.literal in ("", "**") or "{" in s.literal or ":" in s.literal for s in segments):
            raise ValueError(f"unsupported path template {text!r}")
        return cls(text, tuple(segments), verb_match.group(1) if verb_match else "")

    @property
    def variables(self) -> tuple[str, ...]:
        """The variables, in order."""
        return tuple(dict.fromkeys(s.variable for s in self.segments if s.variable))

    @property
    def literals(self) -> tuple[str, ...]:
        """The fixed words of the path (``v1``, ``projects``, ``locations``, ...)."""
        return tuple(s.literal for s in self.segments if not s.wildcard)

    def match(self, segments: Sequence[str], verb: str = "") -> dict[str, str] | None:
        """The variables' values if these (decoded) segments and verb fit, else None."""
        if verb != self.verb or len(segments) != len(self.segments):
            return None
        parts: dict[str, list[str]] = {v: [] for v in self.variables}
        for want, got in zip(self.segments, segments, strict=True):
            if not got or (got != want.literal and not want.wildcard):
                return None
            if want.variable:
                parts[want.variable].append(got)
        return {name: "/".join(values) for name, values in parts.items()}

    def _fill(self, values: Mapping[str, str]) -> list[str] | None:
        """The segments with each variable's value in place, if each value has as many
        segments as its pattern."""
        pieces = {}
        for name in self.variables:
            given = values.get(name)
            count = sum(1 for s in self.segments if s.variable == name)
            if not isinstance(given, str) or given.count("/") + 1 != count:
                return None
            pieces[name] = iter(given.split("/"))
        return [next(pieces[s.variable]) if s.variable else s.literal for s in self.segments]

    def fits(self, values: Mapping[str, str]) -> bool:
        """Whether each variable's value has the shape its pattern asks for."""
        filled = self._fill(values)
        return filled is not None and self.match(filled, self.verb) is not None

    def expand(self, values: Mapping[str, str]) -> str:
        """The path with each variable's value in place, every segment percent-encoded
        (so ``?``, ``#`` or ``%`` in a value cannot leave its segment)."""
        filled = self._fill(values)
        if filled is None or self.match(filled, self.verb) is None:
            raise ValueError(f"{dict(values)!r} do not fit {self.text!r}")
        out = [
            quote(text, safe="") if s.variable else text
            for s, text in zip(self.segments, filled, strict=True)
        ]
        return "/".join(out) + (f":{self.verb}" if self.verb else "")

    def flat(self) -> str:
        """The template with a parameter for each wildcard, named after the word before it:
        ``v1/projects/{project}/locations/{location}/sessions/{session}:terminate``."""
        out, previous = [], ""
        for s in self.segments:
            out.append("{" + _PARAMETER[previous] + "}" if s.wildcard else s.literal)
            previous = s.literal
        return "/".join(out) + (f":{self.verb}" if self.verb else "")

    def name_pattern(self) -> str:
        """A regular expression of the encoded paths this template allows, each wildcard
        held to Dataproc's naming rule (api/names.py) for what it names."""
        out, previous = [], ""
        for s in self.segments:
            out.append(
                _NAME_RULE.get(previous, RESOURCE_ID) if s.wildcard else re.escape(s.literal)
            )
            previous = s.literal
        return "/".join(out) + (re.escape(f":{self.verb}") if self.verb else "")


@dataclass(frozen=True)
class Route:
    """One API method: how it is called over HTTP, what it needs and what it answers."""

    name: str  # ``collection.method``, as Google's REST reference names it
    method: str  # the HTTP method
    path: str  # the path template
    response: str  # the response message
    permission: str  # the IAM permission the call needs
    body: str = ""  # "*" (the whole request), a request field, or "" (no body)
    body_type: str = ""  # the message the body holds
    query: tuple[str, ...] = ()  # query parameters (JSON names)
    required: tuple[str, ...] = ()  # those of them that must be given
    additional_paths: tuple[str, ...] = ()  # further templates answering the same method
    dataproc: bool = True  # False: an addition of the emulator, not in Google's API
    templates: tuple[PathTemplate, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parsed = tuple(PathTemplate.parse(p) for p in (self.path, *self.additional_paths))
        object.__setattr__(self, "templates", parsed)


@dataclass(frozen=True)
class RouteMatch:
    """A request's route and the values of its path's variables."""

    route: Route
    template: PathTemplate
    variables: dict[str, str]

    @property
    def resource(self) -> str:
        """What the permission is checked on: the named resource, or a collection's parent
        (``{name=projects/*/regions/*/operations}`` is checked on the region)."""
        first = self.template.variables[0]
        last = [s for s in self.template.segments if s.variable == first][-1]
        value = self.variables[first]
        return value if last.wildcard else value.rsplit("/", 1)[0]


_PAGING = ("pageSize", "pageToken", "filter")
_SESSION = "v1/{name=projects/*/locations/*/sessions/*}"
_SESSIONS = "v1/{parent=projects/*/locations/*}/sessions"
_TEMPLATE = "v1/{name=projects/*/locations/*/sessionTemplates/*}"
_TEMPLATES = "v1/{parent=projects/*/locations/*}/sessionTemplates"
_OPERATION = "v1/{name=projects/*/regions/*/operations/*}"
_OPERATION_L = "v1/{name=projects/*/locations/*/operations/*}"
_OPERATIONS = "v1/{name=projects/*/regions/*/operations}"
_OPERATIONS_L = "v1/{name=projects/*/locations/*/operations}"

ROUTES: tuple[Route, ...] = (
    Route(
        "sessions.create",
        "POST",
        _SESSIONS,
        "Operation",
        "dataproc.sessions.create",
        body="session",
        body_type="Session",
        query=("sessionId", "requestId"),
        required=("sessionId",),
    ),
    Route("sessions.get", "GET", _SESSION, "Session", "dataproc.sessions.get"),
    Route(
        "sessions.list",
        "GET",
        _SESSIONS,
        "ListSessionsResponse",
        "dataproc.sessions.list",
        query=_PAGING,
    ),
    Route(
        "sessions.terminate",
        "POST",
        _SESSION + ":terminate",
        "Operation",
        "dataproc.sessions.terminate",
        body="*",
        body_type="TerminateSessionRequest",
    ),
    Route(
        "sessions.delete",
        "DELETE",
        _SESSION,
        "Operation",
        "dataproc.sessions.delete",
        query=("requestId",),
    ),
    # The emulator's change feed (emulator/changes.py): it shows what sessions.list shows.
    Route(
        "sessions.watch",
        "GET",
        _SESSIONS + ":watch",
        "ChangeFeedLine",
        "dataproc.sessions.list",
        query=("since", "wait", "heartbeat"),
        dataproc=False,
    ),
    Route(
        "sessionTemplates.create",
        "POST",
        _TEMPLATES,
        "SessionTemplate",
        "dataproc.sessionTemplates.create",
        body="sessionTemplate",
        body_type="SessionTemplate",
    ),
    Route(
        "sessionTemplates.get", "GET", _TEMPLATE, "SessionTemplate", "dataproc.sessionTemplates.get"
    ),
    Route(
        "sessionTemplates.list",
        "GET",
        _TEMPLATES,
        "ListSessionTemplatesResponse",
        "dataproc.sessionTemplates.list",
        query=_PAGING,
    ),
    Route(
        "sessionTemplates.patch",
        "PATCH",
        "v1/{sessionTemplate.name=projects/*/locations/*/sessionTemplates/*}",
        "SessionTemplate",
        "dataproc.sessionTemplates.update",
        body="sessionTemplate",
        body_type="SessionTemplate",
    ),
    Route(
        "sessionTemplates.delete", "DELETE", _TEMPLATE, "Empty", "dataproc.sessionTemplates.delete"
    ),
    # Operations answer under regions (as Dataproc names them) and under locations.
    Route(
        "operations.list",
        "GET",
        _OPERATIONS,
        "ListOperationsResponse",
        "dataproc.operations.list",
        query=_PAGING,
        additional_paths=(_OPERATIONS_L,),
    ),
    Route(
        "operations.get",
        "GET",
        _OPERATION,
        "Operation",
        "dataproc.operations.get",
        additional_paths=(_OPERATION_L,),
    ),
    Route(
        "operations.delete",
        "DELETE",
        _OPERATION,
        "Empty",
        "dataproc.operations.delete",
        additional_paths=(_OPERATION_L,),
    ),
    Route(
        "operations.cancel",
        "POST",
        _OPERATION + ":cancel",
        "Empty",
        "dataproc.operations.cancel",
        additional_paths=(_OPERATION_L + ":cancel",),
    ),
)
BY_NAME: dict[str, Route] = {r.name: r for r in ROUTES}
# What Google's API has too: what a proxy in front of either backend forwards.
DATAPROC_ROUTES: tuple[Route, ...] = tuple(r for r in ROUTES if r.dataproc)


def expand(route_name: str, /, **values: str) -> str:
    """The path of the API method ``route_name`` (relative: ``v1/...``) with its variables
    filled in, by its first template the values fit (a dotted variable is passed as
    ``**{"sessionTemplate.name": ...}``)."""
    route = BY_NAME[route_name]
    for template in route.templates:
        if template.fits(values):
            return template.expand(values)
    variable = route.templates[0].variables[0]
    expected = " or ".join(t.text for t in route.templates)
    raise bad_request(variable, f"{values.get(variable)!r} does not fit {expected}")


def _split(path: str) -> tuple[list[str], str]:
    """Decoded path -> its segments and custom verb (after a colon in the last one)."""
    segments = path.split("/")
    last, _, verb = segments[-1].partition(":")
    return [*segments[:-1], last], verb


def match(method: str, path: str, routes: Iterable[Route] = ROUTES) -> RouteMatch | None:
    """The route answering ``method`` on a decoded path (``v1/projects/...:verb``)."""
    segments, verb = _split(path)
    for route in routes:
        if route.method != method:
            continue
        for template in route.templates:
            variables = template.match(segments, verb)
            if variables is not None:
                return RouteMatch(route, template, variables)
    return None


def known_path(path: str, routes: Iterable[Route] = ROUTES) -> bool:
    """Whether some route answers on this decoded path, whatever the method and verb."""
    segments, _ = _split(path)
    return any(t.match(segments, t.verb) is not None for r in routes for t in r.templates)


def proxy_allow_list(
    routes: Iterable[Route] = DATAPROC_ROUTES,
) -> Callable[[str], str | None]:
    """The proxy's matcher of raw (still percent-encoded) paths under ``v1/``: the path to
    forward, or None. Only the routes' paths pass, each name held to Dataproc's naming
    rules; anything encoded but a colon, any dot segment, an absolute URL or an empty
    segment is refused."""
    alternatives = sorted({t.name_pattern() for r in routes for t in r.templates})
    allowed = re.compile("^(?:" + "|".join(alternatives) + r")\Z")

    def allowed_path(raw: str) -> str | None:
        candidate = re.sub("%3[aA]", ":", raw)
        if not _SAFE_RAW.match(candidate):
            return None
        if any(seg in ("", ".", "..") for seg in candidate.split("/")):
            return None
        return candidate if allowed.match(f"{API_VERSION}/{candidate}") else None

    return allowed_path
