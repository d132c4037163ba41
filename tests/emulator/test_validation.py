"""Bad input and the error model (spec sections 3, 7 and 9): every mistake a client can make
is a 4xx google.rpc.Status envelope, never a 5xx, and validation errors name the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ..support import EmulatorProcess
from .calls import (
    BAD_REQUEST_TYPE,
    assert_envelope,
    assert_error,
    create_active,
    create_ok,
    create_session,
    fresh_parent,
    list_all,
    new_id,
)

PARENT = "projects/validation/locations/us-central1"


def nothing_created(api: httpx.Client, parent: str) -> bool:
    return list_all(api, f"{parent}/sessions", "sessions") == []


# --- sessionId and requestId ---------------------------------------------------------------


@pytest.mark.parametrize(
    "session_id",
    [
        "abc",  # too short
        "Abcd",  # uppercase
        "abcD",
        "1abc",  # leading digit
        "-abc",
        "abc-",  # trailing hyphen
        "a" * 64,  # too long
        "ab_c",  # underscore
        "ab.c",
        "ab c",
        "",  # missing
    ],
)
def test_bad_session_id_is_invalid_argument(api: httpx.Client, session_id: str) -> None:
    """Given a sessionId that breaks the rule (4-63 of [a-z0-9-], letter first, no trailing
    hyphen)
    When the client creates a session with it
    Then the answer is 400 INVALID_ARGUMENT with a field violation on sessionId, and no
    session exists."""
    parent = fresh_parent()
    r = create_session(api, parent, session_id)
    assert_error(r, 400, "INVALID_ARGUMENT", field="sessionId")
    assert nothing_created(api, parent)


def test_missing_session_id_parameter_is_invalid_argument(api: httpx.Client) -> None:
    """Given a create without any sessionId parameter
    When the client sends it
    Then the answer is 400 saying sessionId is required."""
    err = assert_error(
        create_session(api, fresh_parent(), None), 400, "INVALID_ARGUMENT", field="sessionId"
    )
    assert "required" in err["message"]


@pytest.mark.parametrize("session_id", ["abcd", "a" + "b" * 61 + "c", "a-1-b", "z999"])
def test_session_id_boundaries_are_accepted(api: httpx.Client, session_id: str) -> None:
    """Given sessionIds at the edges of the rule (4 and 63 characters, hyphens, digits)
    When the client creates sessions with them
    Then they are accepted."""
    op = create_ok(api, fresh_parent(), session_id)
    assert op["metadata"]["session"].endswith("/sessions/" + session_id)


@pytest.mark.parametrize("request_id", ["has space", "semi;colon", "x" * 41, "dot.ted", "ü"])
def test_bad_request_id_is_invalid_argument(api: httpx.Client, request_id: str) -> None:
    """Given a requestId outside [a-zA-Z0-9_-]{1,40}
    When the client creates, terminates or deletes with it
    Then each answer is 400 INVALID_ARGUMENT on requestId and nothing is created."""
    parent = fresh_parent()
    assert_error(
        create_session(api, parent, new_id(), request_id=request_id),
        400,
        "INVALID_ARGUMENT",
        field="requestId",
    )
    assert nothing_created(api, parent)
    s = create_active(api, parent, new_id())
    r = api.post(f"/v1/{s['name']}:terminate", json={"requestId": request_id})
    assert_error(r, 400, "INVALID_ARGUMENT", field="requestId")
    r = api.delete(f"/v1/{s['name']}", params={"requestId": request_id})
    assert_error(r, 400, "INVALID_ARGUMENT", field="requestId")
    assert api.get(f"/v1/{s['name']}").json()["state"] == "ACTIVE"


def test_request_id_of_forty_characters_is_accepted(api: httpx.Client) -> None:
    """Given a requestId of exactly 40 allowed characters
    When the client creates a session with it
    Then the create is accepted."""
    op = create_ok(api, fresh_parent(), new_id(), request_id="A_z-9" * 8)
    assert op["metadata"]["operationType"] == "CREATE"


def test_non_string_request_id_in_terminate_body_is_invalid_argument(api: httpx.Client) -> None:
    """Given an ACTIVE session
    When the client terminates it with a numeric requestId
    Then the answer is 400 on requestId and the session stays ACTIVE."""
    s = create_active(api, fresh_parent(), new_id())
    r = api.post(f"/v1/{s['name']}:terminate", json={"requestId": 5})
    assert_error(r, 400, "INVALID_ARGUMENT", field="requestId")
    assert api.get(f"/v1/{s['name']}").json()["state"] == "ACTIVE"


# --- labels, TTLs, session config ------------------------------------------------------------


def test_thirty_three_labels_are_rejected_and_thirty_two_accepted(api: httpx.Client) -> None:
    """Given 33 user labels, and then 32
    When the client creates sessions with them
    Then 33 is 400 on labels, and 32 is accepted (system labels do not count)."""
    parent = fresh_parent()
    many = {f"k{i}": "v" for i in range(33)}
    err = assert_error(
        create_session(api, parent, new_id(), {"labels": many}),
        400,
        "INVALID_ARGUMENT",
        field="labels",
    )
    assert "32" in err["message"]
    del many["k32"]
    s = create_active(api, parent, new_id(), {"labels": many})
    assert len(s["labels"]) == 32 + 4


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ({"Upper": "v"}, "labels.Upper"),
        ({"1digit": "v"}, "labels.1digit"),
        ({"": "v"}, "labels."),
        ({"k" * 64: "v"}, "labels." + "k" * 64),
        ({"key": "Upper"}, "labels.key"),
        ({"key": "v" * 64}, "labels.key"),
        ({"key": "with space"}, "labels.key"),
        ({"key": 5}, "labels.key"),
    ],
)
def test_bad_label_key_or_value_is_rejected(
    api: httpx.Client, labels: dict[str, Any], field: str
) -> None:
    """Given a label whose key or value breaks the RFC 1035-style rules
    When the client creates a session with it
    Then the answer is 400 INVALID_ARGUMENT naming that label."""
    r = create_session(api, fresh_parent(), new_id(), {"labels": labels})
    assert_error(r, 400, "INVALID_ARGUMENT", field=field)


def test_empty_label_value_and_long_key_are_accepted(api: httpx.Client) -> None:
    """Given a label with an empty value and a 63-character key
    When the client creates a session with them
    Then both are kept."""
    s = create_active(api, fresh_parent(), new_id(), {"labels": {"flag": "", "k" * 63: "v"}})
    assert s["labels"]["flag"] == "" and s["labels"]["k" * 63] == "v"


@pytest.mark.parametrize("field", ["ttl", "idleTtl"])
@pytest.mark.parametrize(
    ("value", "shown"),
    [("0.5s", "0.500s"), ("0s", "0s"), ("1209601s", "1209601s"), ("-5s", "-5s")],
)
def test_ttl_outside_the_range_is_rejected(
    api: httpx.Client, field: str, value: str, shown: str
) -> None:
    """Given a ttl or idleTtl below the floor (1s in tests) or above 14 days
    When the client creates a session with it
    Then the answer is 400 on that field, and the message shows the range and the value."""
    body = {"environmentConfig": {"executionConfig": {field: value}}}
    err = assert_error(
        create_session(api, fresh_parent(), new_id(), body),
        400,
        "INVALID_ARGUMENT",
        field=f"environmentConfig.executionConfig.{field}",
    )
    assert "1209600s" in err["message"]
    assert f"got {shown}" in err["message"]


def test_ttl_of_exactly_fourteen_days_is_accepted(api: httpx.Client) -> None:
    """Given ttl and idleTtl of exactly 14 days
    When the client creates a session
    Then they are accepted and echoed."""
    body = {"environmentConfig": {"executionConfig": {"ttl": "1209600s", "idleTtl": "1209600s"}}}
    s = create_active(api, fresh_parent(), new_id(), body)
    assert s["environmentConfig"]["executionConfig"]["ttl"] == "1209600s"


@pytest.mark.parametrize("value", ["1h", "3600", 3600, "s", "1e3s"])
def test_malformed_duration_is_rejected(api: httpx.Client, value: Any) -> None:
    """Given a ttl that is not a proto3 JSON duration string
    When the client creates a session with it
    Then the answer is 400 on the ttl field."""
    body = {"environmentConfig": {"executionConfig": {"ttl": value}}}
    assert_error(
        create_session(api, fresh_parent(), new_id(), body),
        400,
        "INVALID_ARGUMENT",
        field="environmentConfig.executionConfig.ttl",
    )


def test_both_session_configs_are_rejected(api: httpx.Client) -> None:
    """Given a body with both jupyterSession and sparkConnectSession (a oneof)
    When the client creates a session
    Then the answer is 400 INVALID_ARGUMENT and nothing is created."""
    parent = fresh_parent()
    body = {"jupyterSession": {"kernel": "PYTHON"}, "sparkConnectSession": {}}
    err = assert_error(
        create_session(api, parent, new_id(), body), 400, "INVALID_ARGUMENT", field="jupyterSession"
    )
    assert "sparkConnectSession" in err["message"]
    assert nothing_created(api, parent)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"labels": "team=a"}, "labels"),
        ({"labels": ["a"]}, "labels"),
        ({"jupyterSession": {"kernel": "PERL"}}, "jupyterSession.kernel"),
        ({"jupyterSession": {"kernel": 7}}, "jupyterSession.kernel"),
        ({"jupyterSession": "python"}, "jupyterSession"),
        ({"runtimeConfig": {"version": "latest"}}, "runtimeConfig.version"),
        ({"runtimeConfig": {"properties": {"a": 1}}}, "runtimeConfig.properties.a"),
        ({"user": 42}, "user"),
        ({"environmentConfig": {"executionConfig": {"networkTags": "tag"}}}, None),
    ],
)
def test_wrongly_typed_fields_are_rejected(
    api: httpx.Client, body: dict[str, Any], field: str | None
) -> None:
    """Given a body whose field has the wrong JSON type or an unknown enum value
    When the client creates a session
    Then the answer is 400 INVALID_ARGUMENT pointing at the field."""
    r = create_session(api, fresh_parent(), new_id(), body)
    assert_error(r, 400, "INVALID_ARGUMENT", field=field)


def test_unknown_fields_are_ignored(api: httpx.Client) -> None:
    """Given a body with a field this API version does not know
    When the client creates a session
    Then it is accepted and the unknown field is not echoed."""
    s = create_active(api, fresh_parent(), new_id(), {"futureField": {"x": 1}})
    assert "futureField" not in s


# --- malformed bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"{bad json",
        b"[1, 2]",
        b'"text"',
        b"42",
        b"null",
        b"true",
        b"\xff\xfe\x00",
        b'{"a": }',
        b"[" * 100_000,
        b'{"labels":' + b'{"a":' * 5_000 + b"1" + b"}" * 5_001,
    ],
    ids=lambda raw: repr(raw[:12]) + (f"..{len(raw)}" if len(raw) > 12 else ""),
)
def test_malformed_or_non_object_json_is_invalid_argument(api: httpx.Client, raw: bytes) -> None:
    """Given a create body that is not JSON, JSON that is not an object, or JSON nested
    deeper than any real body
    When the client sends it
    Then the answer is 400 INVALID_ARGUMENT about the payload and nothing is created."""
    parent = fresh_parent()
    r = api.post(
        f"/v1/{parent}/sessions",
        params={"sessionId": new_id()},
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    err = assert_error(r, 400, "INVALID_ARGUMENT")
    assert "JSON" in err["message"]
    assert nothing_created(api, parent)


def test_malformed_json_on_every_body_method(api: httpx.Client) -> None:
    """Given malformed JSON
    When the client sends it to terminate, template create and template patch
    Then each answer is 400 INVALID_ARGUMENT."""
    parent = fresh_parent()
    s = create_active(api, parent, new_id())
    name = f"{parent}/sessionTemplates/{new_id('tmpl')}"
    api.post(f"/v1/{parent}/sessionTemplates", json={"name": name})
    for method, url in (
        ("POST", f"/v1/{s['name']}:terminate"),
        ("POST", f"/v1/{parent}/sessionTemplates"),
        ("PATCH", f"/v1/{name}"),
    ):
        r = api.request(method, url, content=b"{nope", headers={"Content-Type": "application/json"})
        assert_error(r, 400, "INVALID_ARGUMENT")
    assert api.get(f"/v1/{s['name']}").json()["state"] == "ACTIVE"


# --- list parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pageSize": "-1"}, "pageSize"),
        ({"pageSize": "ten"}, "pageSize"),
        ({"pageSize": "99999999999"}, "pageSize"),
        ({"pageToken": "not-a-token"}, "pageToken"),
        ({"pageToken": "eyJrIjoxfQ"}, "pageToken"),  # valid base64 JSON, wrong shape
        ({"filter": "state ="}, "filter"),
        ({"filter": "state = RUNNING"}, "filter"),
        ({"filter": "create_time > yesterday"}, "filter"),
        ({"filter": "(state = ACTIVE"}, "filter"),
        ({"filter": "labels = x"}, "filter"),
    ],
)
def test_bad_list_parameters_are_invalid_argument(
    api: httpx.Client, params: dict[str, str], field: str
) -> None:
    """Given a malformed pageSize, pageToken or filter
    When the client lists sessions
    Then the answer is 400 INVALID_ARGUMENT naming the parameter."""
    r = api.get(f"/v1/{PARENT}/sessions", params=params)
    assert_error(r, 400, "INVALID_ARGUMENT", field=field)


def test_unsupported_filter_field_points_at_the_token(api: httpx.Client) -> None:
    """Given a filter with a field sessions do not support after a valid restriction
    When the client lists sessions
    Then the answer is 400 whose message names the field and its position."""
    r = api.get(f"/v1/{PARENT}/sessions", params={"filter": "state = ACTIVE AND foo = 1"})
    err = assert_error(r, 400, "INVALID_ARGUMENT", field="filter")
    assert "'foo'" in err["message"]
    assert "position 19" in err["message"]


def test_page_token_reused_with_another_filter_is_rejected(api: httpx.Client) -> None:
    """Given a page token from a listing with one filter
    When the client passes it with another filter, or to another parent
    Then the answer is 400 on pageToken; with the same filter it works."""
    parent = fresh_parent()
    for _ in range(3):
        create_ok(api, parent, new_id(), {"labels": {"team": "a"}})
    first = api.get(
        f"/v1/{parent}/sessions", params={"pageSize": 1, "filter": "labels.team = a"}
    ).json()
    token = first["nextPageToken"]

    r = api.get(f"/v1/{parent}/sessions", params={"pageToken": token, "filter": "labels.team = b"})
    err = assert_error(r, 400, "INVALID_ARGUMENT", field="pageToken")
    assert "filter" in err["message"]
    r = api.get(f"/v1/{parent}/sessions", params={"pageToken": token})
    assert_error(r, 400, "INVALID_ARGUMENT", field="pageToken")
    r = api.get(
        f"/v1/{fresh_parent()}/sessions", params={"pageToken": token, "filter": "labels.team = a"}
    )
    assert_error(r, 400, "INVALID_ARGUMENT", field="pageToken")
    ok = api.get(f"/v1/{parent}/sessions", params={"pageToken": token, "filter": "labels.team = a"})
    assert ok.status_code == 200 and ok.json()["sessions"]


def test_session_token_is_not_a_template_token(api: httpx.Client) -> None:
    """Given a page token from a sessions listing
    When the client passes it to the templates listing of the same parent
    Then the answer is 400 on pageToken."""
    parent = fresh_parent()
    for _ in range(2):
        create_ok(api, parent, new_id())
    token = api.get(f"/v1/{parent}/sessions", params={"pageSize": 1}).json()["nextPageToken"]
    r = api.get(f"/v1/{parent}/sessionTemplates", params={"pageToken": token})
    assert_error(r, 400, "INVALID_ARGUMENT", field="pageToken")


# --- paths and methods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/v1"),
        ("GET", "/v1/"),
        ("GET", "/v2/projects/p/locations/l/sessions"),
        ("GET", "/v1/nope"),
        ("GET", "/v1/projects/p/zones/l/sessions"),
        ("GET", "/v1/projects/p/regions/l/sessions"),
        ("GET", "/v1/projects/p/locations/l/clusters"),
        ("GET", "/v1/projects/p/locations/l/sessions/a/b"),
        ("GET", "/v1/projects/p/locations/l/sessions//x"),
        ("GET", "/v1/projects/p/locations/l/sessions/a%2Fb"),
        ("POST", "/v1/projects/p/locations/l/sessions/a%2Fb:terminate"),
        ("DELETE", "/v1/projects/p/locations/l/sessionTemplates/a%2Fb"),
        ("POST", "/v1/projects/p/locations/l/sessions/abcd:frobnicate"),
        ("PUT", "/v1/projects/p/locations/l/sessions"),
        ("PATCH", "/v1/projects/p/locations/l/sessions"),
        ("DELETE", "/v1/projects/p/locations/l/sessions"),
        ("PATCH", "/v1/projects/p/locations/l/sessions/abcd"),
        ("PUT", "/v1/projects/p/locations/l/sessionTemplates/abcd"),
        ("POST", "/v1/projects/p/locations/l/sessionTemplates/abcd"),
        ("DELETE", "/v1/projects/p/locations/l/sessionTemplates"),
        ("POST", "/v1/projects/p/regions/l/operations"),
        ("GET", "/v1/projects/p/regions/l/operations/x:cancel"),
        ("OPTIONS", "/v1/projects/p/locations/l/sessions"),
        ("TRACE", "/v1/projects/p/locations/l/sessions"),
    ],
)
def test_unknown_paths_and_wrong_methods_get_the_envelope(
    api: httpx.Client, method: str, path: str
) -> None:
    """Given a path the API does not have, a wrong method, or an encoded slash in a segment
    When the client calls it
    Then the answer is a 4xx google.rpc.Status envelope, never a 5xx or an HTML page."""
    r = api.request(method, path)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert_envelope(r)


def test_encoded_slash_does_not_reach_another_resource(api: httpx.Client) -> None:
    """Given a session
    When the client addresses 'sessions/<id>%2Fextra'
    Then the answer is 404 and the session is untouched."""
    s = create_active(api, fresh_parent(), new_id())
    r = api.delete(f"/v1/{s['name']}%2Fextra")
    assert_error(r, 404, "NOT_FOUND")
    assert api.get(f"/v1/{s['name']}").json()["state"] == "ACTIVE"


def test_validation_errors_carry_bad_request_details(api: httpx.Client) -> None:
    """Given an invalid sessionId
    When the client creates a session
    Then details holds exactly one google.rpc.BadRequest with a field violation whose
    description is readable, and the message repeats it."""
    r = create_session(api, fresh_parent(), "Bad_Id")
    err = assert_error(r, 400, "INVALID_ARGUMENT", field="sessionId")
    (detail,) = err["details"]
    assert detail["@type"] == BAD_REQUEST_TYPE
    (violation,) = detail["fieldViolations"]
    assert violation["description"] in err["message"]
    assert "Bad_Id" in err["message"]


def test_not_found_has_no_details_and_status_matches_code(api: httpx.Client) -> None:
    """Given a missing session
    When the client gets it
    Then the envelope is exactly code, message and status (no details), 404 NOT_FOUND."""
    r = api.get(f"/v1/{fresh_parent()}/sessions/{new_id()}")
    err = assert_error(r, 404, "NOT_FOUND")
    assert set(err) == {"code", "message", "status"}


def test_no_input_above_produced_a_server_error(simulated_emulator: EmulatorProcess) -> None:
    """Given every malformed request this module sent to its emulator
    When its log is read
    Then no request ended in an unexpected error or a traceback, and it is still healthy."""
    log = simulated_emulator.log_path.read_text()
    assert "Unexpected error" not in log
    assert "Traceback" not in log
    with simulated_emulator.client() as c:
        assert c.get("/healthz").json()["status"] == "ok"
