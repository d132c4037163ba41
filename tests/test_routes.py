"""The API route table (api/routes.py): its templates expand and match back, the proxy's
allow-list built from it passes exactly its paths, the emulator serves every entry, and
the OpenAPI documents describe exactly its operations."""

from __future__ import annotations

import itertools
import uuid

import httpx
import pytest

from jupyter_sessions.api import errors, routes
from jupyter_sessions.api.routes import BY_NAME, ROUTES, PathTemplate, Route, expand, match
from jupyter_sessions.openapi import SpecKind, load_spec
from jupyter_sessions.server.handlers import allowed_path

from .support import EmulatorProcess

PROJECTS = ("my-project", "example.com:my-project", "123456789")
DATAPROC = list(routes.DATAPROC_ROUTES)


def values_for(template: PathTemplate, project: str, item: str = "s-1") -> dict[str, str]:
    """A value for each variable of ``template``: wildcards after ``projects`` get the
    project, after ``locations``/``regions`` a region, after a collection ``item``."""
    out: dict[str, list[str]] = {}
    previous = ""
    for segment in template.segments:
        if segment.variable:
            fill = {"projects": project, "locations": "us-central1", "regions": "us-central1"}
            text = fill.get(previous, item) if segment.wildcard else segment.literal
            out.setdefault(segment.variable, []).append(text)
        previous = segment.literal
    return {name: "/".join(parts) for name, parts in out.items()}


def every_template() -> list[tuple[Route, PathTemplate]]:
    return [(r, t) for r in ROUTES for t in r.templates]


def test_the_table_is_unambiguous_and_names_google_permissions() -> None:
    """Given the table, names are unique, no two entries answer the same method on the same
    template, every permission is dataproc.<collection>.<action>, every template is under
    v1/ with its variables named, and a body field always comes with its message."""
    assert len(BY_NAME) == len(ROUTES)
    pairs = [(r.method, t.flat()) for r, t in every_template()]
    assert len(pairs) == len(set(pairs))
    for route, template in every_template():
        collection = route.name.split(".")[0]
        assert route.permission.startswith(f"dataproc.{collection}."), route
        assert template.literals[0] == routes.API_VERSION
        assert template.literals[-1] == collection, template.text
        assert template.variables, template.text
        assert bool(route.body) == bool(route.body_type), route
        assert set(route.required) <= set(route.query), route
    assert BY_NAME["sessionTemplates.patch"].permission == "dataproc.sessionTemplates.update"


@pytest.mark.parametrize(
    ("route", "template"), every_template(), ids=lambda x: getattr(x, "name", "")
)
@pytest.mark.parametrize("project", PROJECTS)
def test_every_template_expands_and_matches_back_to_itself(
    route: Route, template: PathTemplate, project: str
) -> None:
    """Given an entry's template and values that fit it
    When it is expanded into a path and the decoded path is matched with the entry's method
    Then the same entry and template come back, with the same values."""
    values = values_for(template, project)
    path = template.expand(values)
    assert path.startswith("v1/projects/") and "{" not in path
    assert ":" not in path.split("/")[2], "a colon in a project is percent-encoded"
    found = match(route.method, path.replace("%3A", ":"))
    assert found is not None, path
    assert (found.route, found.template, found.variables) == (route, template, values)
    if template is route.templates[0]:
        assert expand(route.name, **values) == path


def test_expand_encodes_each_segment_and_picks_the_binding_that_fits() -> None:
    """Given values with characters that could leave their segment, or that fit only the
    additional binding, or that fit none
    When expanded
    Then each stays percent-encoded in its segment, the fitting binding is used, and a
    misfit is an INVALID_ARGUMENT naming the variable."""
    name = "projects/p/locations/l/sessions/a?b#c%d"
    assert expand("sessions.get", name=name) == "v1/projects/p/locations/l/sessions/a%3Fb%23c%25d"
    assert expand("operations.get", name="projects/p/regions/r/operations/o") == (
        "v1/projects/p/regions/r/operations/o"
    )
    assert expand("operations.get", name="projects/p/locations/l/operations/o") == (
        "v1/projects/p/locations/l/operations/o"
    )
    for bad in ("projects/p/locations/l", "projects//locations/l/sessions/s", "x/y"):
        with pytest.raises(errors.InvalidArgument) as caught:
            expand("sessions.get", name=bad)
        assert caught.value.details[0]["fieldViolations"][0]["field"] == "name"


def test_match_tells_unknown_paths_from_wrong_methods() -> None:
    """Given decoded paths
    When matched
    Then a known path with another method or verb matches nothing but is a known path, and
    shapes the table does not have are not known paths."""
    for method, path, name in [
        ("GET", "v1/projects/p/locations/l/sessions", "sessions.list"),
        ("POST", "v1/projects/p/locations/l/sessions", "sessions.create"),
        ("GET", "v1/projects/p/locations/l/sessions:watch", "sessions.watch"),
        ("POST", "v1/projects/p/locations/l/sessions/s:terminate", "sessions.terminate"),
    ]:
        found = match(method, path)
        assert found is not None and found.route.name == name, (method, path)
    listed = match("GET", "v1/projects/p/regions/r/operations")
    assert listed is not None and listed.resource == "projects/p/regions/r"
    for method, path in [
        ("PUT", "v1/projects/p/locations/l/sessions"),
        ("POST", "v1/projects/p/locations/l/sessions/s:frobnicate"),
        ("GET", "v1/projects/p/regions/l/operations/o:cancel"),
    ]:
        assert match(method, path) is None
        assert routes.known_path(path), path
    for path in [
        "v1/projects/p/regions/l/sessions",
        "v1/projects/p/zones/l/operations",
        "v1/projects/p/locations/l/clusters",
        "v1/projects/p/locations/l/sessions/a/b",
        "v2/projects/p/locations/l/sessions",
        "v1/projects/p/locations/l/sessions/",
    ]:
        assert not routes.known_path(path), path
        assert all(match(m, path) is None for m in ("GET", "POST", "PATCH", "DELETE"))


@pytest.mark.parametrize(("route", "template"), [(r, t) for r in DATAPROC for t in r.templates])
def test_the_allow_list_accepts_every_dataproc_path_of_the_table(
    route: Route, template: PathTemplate
) -> None:
    """Given each Dataproc entry's path as the client sends it (a domain-scoped project's
    colon percent-encoded), the proxy forwards it, decoded colon and all."""
    for project, item in itertools.product(PROJECTS, ("s-1", "A1_b-2", "a" * 100)):
        path = template.expand(values_for(template, project, item))[len("v1/") :]
        assert allowed_path(path) == path.replace("%3A", ":"), path


@pytest.mark.parametrize(
    "raw",
    [
        "projects/p/locations/l/sessions/a%2Fb",
        "projects/p/locations/l/sessions%2Fx",
        "projects/p/locations/l/sessions/..%2F..%2Fhealthz",
        "projects/p/locations/l/sessions/../sessionTemplates/t",
        "projects/p/locations/l/./sessions",
        "projects/p/locations/l/sessions/%2e%2e",
        "projects/p/locations/l/sessions/s/",
        "projects/p/locations/l//sessions",
        "http://evil.example/projects/p/locations/l/sessions",
        "//evil.example/projects/p/locations/l/sessions",
        "projects/p/locations/l/sessions/s\n",
        "projects/p/locations/l/sessions/s%0A",
        "projects/p/locations/l/sessions/s%0Aterminate",
        "projects/p/locations/l/sessions/s?x=1",
        "projects/p/locations/l/sessions/s#x",
        "projects/p/locations/l/%73essions",
        "projects/p/locations/l/batches",
        "projects/p/locations/l/clusters/c",
        "projects/p/zones/l/sessions",
        "projects/p/regions/l/sessions",
        "projects/p/regions/l/sessionTemplates/t",
        "projects/p/locations/l/sessions:watch",
        "projects/p/locations/l/sessions/s:cancel",
        "projects/p/locations/l/operations/o:terminate",
        "projects/p/locations/l/sessions/s:terminate:terminate",
        "projects/P/locations/l/sessions",
        "projects/p/locations/US/sessions",
        "projects/p/locations/l/sessions/" + "a" * 101,
        "projects/p/locations/l/sessions/-s",
        "projects/p/locations/l",
        "healthz",
        "",
    ],
)
def test_the_allow_list_refuses_hostile_and_unknown_paths(raw: str) -> None:
    """Given an encoded slash, a dot segment, an absolute URL, a newline, an encoded
    letter, an unknown collection or parent kind, an emulator-only or wrong verb, or a
    name Dataproc would not accept, the proxy forwards nothing."""
    assert allowed_path(raw) is None


def test_every_emulator_route_in_the_table_is_served(
    api: httpx.Client, simulated_emulator: EmulatorProcess
) -> None:
    """Given each entry and template of the table, with ids that do not exist
    When the emulator is called with the entry's method on the expanded path
    Then the API method answers (never "No such path"/"No method", never a 5xx), and it is
    counted under the entry's name."""
    project = f"rt-{uuid.uuid4().hex[:8]}"
    for route, template in every_template():
        path = template.expand(values_for(template, project, "rt-none"))
        before = simulated_emulator.stats().get(f"{route.method} {route.name}", 0)
        params = {"wait": "0", "sessionId": "rt-none"}
        body: dict[str, str] | None = {} if route.body else None
        r = api.request(route.method, "/" + path, params=params, json=body)
        message = r.json().get("error", {}).get("message", "") if r.content else ""
        assert not message.startswith(("No such path", "No method")), (route.name, path)
        assert r.status_code < 500, (route.name, path, r.text)
        after = simulated_emulator.stats().get(f"{route.method} {route.name}", 0)
        assert after == before + 1, (route.name, path)


def documented_operations(kind: SpecKind, prefix: str) -> set[tuple[str, str, str, str]]:
    """(method, path, operationId, permission) of a document's API operations."""
    return {
        (method.upper(), path[len(prefix) :], op["operationId"], op.get("x-iam-permission", ""))
        for path, item in load_spec(kind)["paths"].items()
        if path.startswith(prefix + "/v1/projects/")
        for method, op in item.items()
    }


def table_operations(entries: list[Route]) -> set[tuple[str, str, str, str]]:
    return {
        (r.method, "/" + t.flat(), ".".join((*t.literals[1:-1], r.name)), r.permission)
        for r in entries
        for t in r.templates
    }


def test_the_openapi_documents_have_exactly_the_tables_operations() -> None:
    """Given the shipped documents, the emulator's describes every entry of the table on
    every template (with its IAM permission) and nothing more; the extension's the
    Dataproc entries only, under jupyter-sessions/."""
    assert documented_operations("emulator", "") == table_operations(list(ROUTES))
    assert documented_operations("extension", "/jupyter-sessions") == table_operations(DATAPROC)
    spec = load_spec("emulator")
    for route, template in every_template():
        op = spec["paths"]["/" + template.flat()][route.method.lower()]
        named = {
            p["$ref"].rsplit("/", 1)[1] if "$ref" in p else p["name"] for p in op["parameters"]
        }
        assert set(route.query) <= named, route.name
        (answer,) = op["responses"]["200"]["content"].values()
        assert answer["schema"]["$ref"] == "#/components/schemas/" + route.response
        assert ("requestBody" in op) == bool(route.body), route.name
