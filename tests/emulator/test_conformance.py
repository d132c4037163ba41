"""Conformance of the emulator's sessions API with the spec (sessions-api.md sections 1-5).

Sessions: create, get, list, terminate, delete by state; the state machine and stateHistory;
proto3 JSON (enum encodings, int64, durations, timestamps, defaults); what the server adds
on create; requestId idempotency; TTL expiry; start failures. Everything goes over HTTP to
a real emulator process.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import httpx
import pytest

from ..support import EmulatorProcess, wait_for, wait_state
from .calls import (
    ENUM_INTS,
    METADATA_TYPE,
    PATCH_VERSION_RE,
    SERVICE_ACCOUNT_RE,
    SESSION_TYPE,
    TIMESTAMP_RE,
    UUID_RE,
    assert_error,
    create_active,
    create_ok,
    create_session,
    finish,
    fresh_parent,
    history_states,
    list_all,
    new_id,
    session_ids,
    terminate_ok,
)

SYSTEM_LABELS = (
    "goog-dataproc-session-id",
    "goog-dataproc-session-uuid",
    "goog-dataproc-location",
    "goog-dataproc-drz-resource-uuid",
)


def system_labels(session_id: str, session_uuid: str, location: str) -> dict[str, str]:
    return {
        "goog-dataproc-session-id": session_id,
        "goog-dataproc-session-uuid": session_uuid,
        "goog-dataproc-location": location,
        "goog-dataproc-drz-resource-uuid": f"session-{session_uuid}",
    }


def failed_session(api: httpx.Client, parent: str) -> dict[str, Any]:
    """A session that failed to start (the simulated runtime's failure hook)."""
    sid = new_id("failing")
    create_ok(api, parent, sid, {"labels": {"emulator-fail-start": ""}})
    return wait_state(api, f"{parent}/sessions/{sid}", {"FAILED"})


def terminated_session(api: httpx.Client, parent: str) -> dict[str, Any]:
    session = create_active(api, parent, new_id("ended"))
    finish(api, terminate_ok(api, session["name"]))
    return wait_state(api, session["name"], {"TERMINATED"})


# --- create ------------------------------------------------------------------------------


def test_create_returns_a_pending_create_operation(api: httpx.Client) -> None:
    """Given a new session id
    When the client creates a session
    Then the answer is an Operation in the regions form, without done, whose metadata is a
    SessionOperationMetadata for that session (type CREATE, user and system labels)."""
    parent = fresh_parent()
    sid = new_id()
    op = create_ok(api, parent, sid, {"labels": {"team": "data"}})

    project = parent.split("/")[1]
    assert op["name"].startswith(f"projects/{project}/regions/us-central1/operations/")
    assert UUID_RE.match(op["name"].rsplit("/", 1)[-1])
    assert "done" not in op and "response" not in op and "error" not in op
    meta = op["metadata"]
    assert meta["@type"] == METADATA_TYPE
    assert meta["session"] == f"{parent}/sessions/{sid}"
    assert UUID_RE.match(meta["sessionUuid"])
    assert meta["operationType"] == "CREATE"
    assert meta["description"] == "Create session"
    assert TIMESTAMP_RE.match(meta["createTime"])
    assert "doneTime" not in meta
    assert meta["labels"] == {
        "team": "data",
        **system_labels(sid, meta["sessionUuid"], "us-central1"),
    }


def test_create_operation_completes_with_the_active_session(api: httpx.Client) -> None:
    """Given a create operation
    When the session becomes ACTIVE
    Then the operation is done, has a doneTime, and its response is the ACTIVE Session."""
    parent = fresh_parent()
    sid = new_id()
    done = finish(api, create_ok(api, parent, sid))

    assert done["done"] is True
    assert "error" not in done
    assert TIMESTAMP_RE.match(done["metadata"]["doneTime"])
    assert done["metadata"]["doneTime"] >= done["metadata"]["createTime"]
    response = done["response"]
    assert response["@type"] == SESSION_TYPE
    assert response["name"] == f"{parent}/sessions/{sid}"
    assert response["state"] == "ACTIVE"
    assert response["uuid"] == done["metadata"]["sessionUuid"]
    assert history_states(response) == ["CREATING"]


def test_get_returns_the_created_session_with_server_fields(api: httpx.Client) -> None:
    """Given a created session
    When the client gets it
    Then it has its name, a uuid, createTime, the creator, the user's fields, and the
    server's system labels and defaults (spec 2.4)."""
    parent = fresh_parent("europe-west4")
    sid = new_id()
    body = {
        "jupyterSession": {"kernel": "PYTHON", "displayName": "My kernel"},
        "labels": {"env": "test"},
        "user": "someone@example.com",
    }
    create_ok(api, parent, sid, body)
    s = wait_state(api, f"{parent}/sessions/{sid}", {"ACTIVE"})

    assert s["name"] == f"{parent}/sessions/{sid}"
    assert UUID_RE.match(s["uuid"])
    assert TIMESTAMP_RE.match(s["createTime"]) and TIMESTAMP_RE.match(s["stateTime"])
    assert "@" in s["creator"]
    assert s["user"] == "someone@example.com"
    assert s["jupyterSession"] == {"kernel": "PYTHON", "displayName": "My kernel"}
    assert s["labels"] == {"env": "test", **system_labels(sid, s["uuid"], "europe-west4")}
    ec = s["environmentConfig"]["executionConfig"]
    assert ec["ttl"] == "86400s"
    assert ec["idleTtl"] == "3600s"
    assert SERVICE_ACCOUNT_RE.match(ec["serviceAccount"]), ec
    assert s["environmentConfig"]["peripheralsConfig"] == {"sparkHistoryServerConfig": {}}
    assert PATCH_VERSION_RE.match(s["runtimeConfig"]["version"])
    assert s["runtimeConfig"]["properties"]["spark:spark.executor.instances"] == "2"
    assert s["runtimeConfig"]["properties"]["dataproc:dataproc.tier"] == "premium"
    assert isinstance(s["runtimeInfo"], dict)


def test_create_keeps_user_values_over_defaults(api: httpx.Client) -> None:
    """Given a session that sets its own ttl, idleTtl, service account, version and a
    default property
    When it is created
    Then the server keeps every one of those and resolves the version to a patch version."""
    parent = fresh_parent()
    body = {
        "runtimeConfig": {
            "version": "2.2",
            "properties": {"spark:spark.executor.instances": "7", "spark:x": "y"},
        },
        "environmentConfig": {
            "executionConfig": {
                "ttl": "7200s",
                "idleTtl": "900.5s",
                "serviceAccount": "sa@p.iam.gserviceaccount.com",
            }
        },
    }
    s = create_active(api, parent, new_id(), body)

    rc = s["runtimeConfig"]
    assert rc["version"].startswith("2.2.") and PATCH_VERSION_RE.match(rc["version"])
    assert rc["properties"]["spark:spark.executor.instances"] == "7"
    assert rc["properties"]["spark:x"] == "y"
    assert rc["properties"]["spark:spark.driver.cores"] == "4"
    ec = s["environmentConfig"]["executionConfig"]
    assert ec == {
        "ttl": "7200s",
        "idleTtl": "900.500s",
        "serviceAccount": "sa@p.iam.gserviceaccount.com",
    }


def test_create_ignores_output_only_fields_and_a_body_name(api: httpx.Client) -> None:
    """Given a create body that carries output-only fields and another session's name
    When the session is created
    Then the server's own values win and the name comes from parent and sessionId."""
    parent = fresh_parent()
    sid = new_id()
    body = {
        "name": f"{parent}/sessions/someone-else",
        "uuid": "not-a-uuid",
        "state": "FAILED",
        "stateMessage": "forged",
        "createTime": "2001-01-01T00:00:00Z",
        "creator": "forger@example.com",
        "stateHistory": [{"state": "ACTIVE"}],
        "labels": {"goog-dataproc-session-id": "forged", "mine": "kept"},
    }
    op = create_ok(api, parent, sid, body)
    s = api.get(f"/v1/{parent}/sessions/{sid}").json()

    assert s["name"] == f"{parent}/sessions/{sid}"
    assert s["uuid"] == op["metadata"]["sessionUuid"] != "not-a-uuid"
    assert s["state"] in ("CREATING", "ACTIVE")
    assert s.get("stateMessage") != "forged"
    assert not s["createTime"].startswith("2001")
    assert s["creator"] != "forger@example.com"
    assert s["labels"]["goog-dataproc-session-id"] == sid
    assert s["labels"]["mine"] == "kept"
    assert api.get(f"/v1/{parent}/sessions/someone-else").status_code == 404


def test_create_with_an_existing_id_is_already_exists(api: httpx.Client) -> None:
    """Given an ACTIVE session and a TERMINATED (not deleted) one
    When the client creates another session with either id
    Then the answer is 409 ALREADY_EXISTS and nothing changes."""
    parent = fresh_parent()
    active = create_active(api, parent, new_id())
    ended = terminated_session(api, parent)

    for existing in (active, ended):
        sid = existing["name"].rsplit("/", 1)[-1]
        assert_error(create_session(api, parent, sid), 409, "ALREADY_EXISTS")
        assert api.get(f"/v1/{existing['name']}").json()["uuid"] == existing["uuid"]


def test_session_id_can_be_reused_after_delete(api: httpx.Client) -> None:
    """Given a session that was deleted
    When the client creates a session with the same id
    Then it is a new session (a new uuid) that becomes ACTIVE with a fresh history."""
    parent = fresh_parent()
    sid = new_id()
    first = create_active(api, parent, sid)
    r = api.delete(f"/v1/{first['name']}")
    assert r.status_code == 200, r.text
    finish(api, r.json())
    assert api.get(f"/v1/{first['name']}").status_code == 404

    second = create_active(api, parent, sid)
    assert second["uuid"] != first["uuid"]
    assert history_states(second) == ["CREATING"]
    assert second["labels"]["goog-dataproc-session-uuid"] == second["uuid"]


# --- get and list --------------------------------------------------------------------------


def test_get_unknown_session_is_not_found_with_the_observed_message(api: httpx.Client) -> None:
    """Given no session with that id
    When the client gets, terminates or deletes it
    Then each answer is 404 NOT_FOUND, 'Not found: Session <name>'."""
    name = f"{fresh_parent()}/sessions/{new_id('missing')}"
    err = assert_error(api.get(f"/v1/{name}"), 404, "NOT_FOUND")
    assert err["message"] == f"Not found: Session {name}"
    assert_error(api.post(f"/v1/{name}:terminate", json={}), 404, "NOT_FOUND")
    assert_error(api.delete(f"/v1/{name}"), 404, "NOT_FOUND")


def test_list_of_an_empty_parent_is_an_empty_object(api: httpx.Client) -> None:
    """Given a parent without sessions
    When the client lists it
    Then the answer is {} (no sessions key, no token)."""
    r = api.get(f"/v1/{fresh_parent()}/sessions")
    assert r.status_code == 200
    assert r.json() == {}


def test_list_shows_terminal_sessions_but_not_deleted_ones(api: httpx.Client) -> None:
    """Given an ACTIVE, a TERMINATED, a FAILED and a deleted session
    When the client lists the parent
    Then the first three appear with their states and the deleted one does not."""
    parent = fresh_parent()
    active = create_active(api, parent, new_id("a"))
    ended = terminated_session(api, parent)
    failed = failed_session(api, parent)
    gone = create_active(api, parent, new_id("gone"))
    finish(api, api.delete(f"/v1/{gone['name']}").json())

    listed = {s["name"]: s["state"] for s in list_all(api, f"{parent}/sessions", "sessions")}
    assert listed == {
        active["name"]: "ACTIVE",
        ended["name"]: "TERMINATED",
        failed["name"]: "FAILED",
    }


def test_list_sessions_only_of_the_parent(api: httpx.Client) -> None:
    """Given sessions in two locations of one project
    When the client lists one location
    Then only that location's sessions appear."""
    project = new_id("proj")
    east, west = f"projects/{project}/locations/east1", f"projects/{project}/locations/west1"
    create_ok(api, east, "east-one")
    create_ok(api, west, "west-one")
    assert session_ids(list_all(api, f"{east}/sessions", "sessions")) == ["east-one"]
    assert session_ids(list_all(api, f"{west}/sessions", "sessions")) == ["west-one"]


# --- terminate by state --------------------------------------------------------------------


def test_terminate_active_session(api: httpx.Client) -> None:
    """Given an ACTIVE session
    When the client terminates it with an empty body
    Then it gets a TERMINATE operation (not done) and the session goes through TERMINATING
    to TERMINATED; the operation's response is the TERMINATED snapshot."""
    parent = fresh_parent()
    s = create_active(api, parent, new_id())
    op = terminate_ok(api, s["name"])

    assert "done" not in op
    meta = op["metadata"]
    assert meta["operationType"] == "TERMINATE"
    assert meta["description"] == "Terminate session"
    assert meta["session"] == s["name"] and meta["sessionUuid"] == s["uuid"]
    assert meta["labels"] == s["labels"]
    done = finish(api, op)
    assert done["response"]["@type"] == SESSION_TYPE
    assert done["response"]["state"] == "TERMINATED"
    assert history_states(done["response"]) == ["CREATING", "ACTIVE", "TERMINATING"]
    now = api.get(f"/v1/{s['name']}").json()
    assert now["state"] == "TERMINATED"
    assert now["stateMessage"]


def test_terminate_accepts_no_body_at_all(api: httpx.Client) -> None:
    """Given an ACTIVE session
    When the client terminates it with no request body
    Then the call succeeds like one with {}."""
    s = create_active(api, fresh_parent(), new_id())
    r = api.post(f"/v1/{s['name']}:terminate")
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["operationType"] == "TERMINATE"


def test_terminate_creating_session_is_aborted(slow_api: httpx.Client) -> None:
    """Given a session that is still CREATING
    When the client terminates it
    Then the answer is 409 ABORTED saying it is still being created, and it still starts."""
    parent = fresh_parent()
    sid = new_id()
    create_ok(slow_api, parent, sid)
    name = f"{parent}/sessions/{sid}"
    assert slow_api.get(f"/v1/{name}").json()["state"] == "CREATING"

    err = assert_error(slow_api.post(f"/v1/{name}:terminate", json={}), 409, "ABORTED")
    assert "still being created" in err["message"]
    wait_state(slow_api, name, {"ACTIVE"})


def test_terminate_terminating_session_is_failed_precondition(slow_api: httpx.Client) -> None:
    """Given a session that is TERMINATING
    When the client terminates it again
    Then the answer is 400 FAILED_PRECONDITION: another termination is in progress."""
    s = create_active(slow_api, fresh_parent(), new_id())
    op = terminate_ok(slow_api, s["name"])
    assert slow_api.get(f"/v1/{s['name']}").json()["state"] == "TERMINATING"

    r = slow_api.post(f"/v1/{s['name']}:terminate", json={})
    err = assert_error(r, 400, "FAILED_PRECONDITION")
    assert "in progress" in err["message"]
    finish(slow_api, op)


@pytest.mark.parametrize("final", ["TERMINATED", "FAILED"])
def test_terminate_final_session_is_failed_precondition(api: httpx.Client, final: str) -> None:
    """Given a session that is TERMINATED or FAILED
    When the client terminates it
    Then the answer is 400 FAILED_PRECONDITION (already terminated) and the state stays."""
    parent = fresh_parent()
    s = terminated_session(api, parent) if final == "TERMINATED" else failed_session(api, parent)

    err = assert_error(api.post(f"/v1/{s['name']}:terminate", json={}), 400, "FAILED_PRECONDITION")
    assert "already terminated" in err["message"]
    assert api.get(f"/v1/{s['name']}").json() == s


# --- delete by state -----------------------------------------------------------------------


def test_delete_active_session_returns_the_final_snapshot(api: httpx.Client) -> None:
    """Given an ACTIVE session
    When the client deletes it
    Then the DELETE operation (not done at first) completes with the final TERMINATED
    snapshot, stateHistory [CREATING, ACTIVE, TERMINATING], and GET is then 404."""
    s = create_active(api, fresh_parent(), new_id())
    r = api.delete(f"/v1/{s['name']}")
    assert r.status_code == 200, r.text
    op = r.json()
    assert "done" not in op
    assert op["metadata"]["operationType"] == "DELETE"
    assert op["metadata"]["description"] == "Delete session"
    assert op["metadata"]["sessionUuid"] == s["uuid"]
    assert op["metadata"]["labels"] == s["labels"]

    done = finish(api, op)
    snapshot = done["response"]
    assert snapshot["@type"] == SESSION_TYPE
    assert snapshot["name"] == s["name"] and snapshot["uuid"] == s["uuid"]
    assert snapshot["state"] == "TERMINATED"
    assert history_states(snapshot) == ["CREATING", "ACTIVE", "TERMINATING"]
    assert "approximateUsage" in snapshot["runtimeInfo"]
    assert_error(api.get(f"/v1/{s['name']}"), 404, "NOT_FOUND")


def test_delete_creating_session_is_aborted(slow_api: httpx.Client) -> None:
    """Given a session that is still CREATING
    When the client deletes it
    Then the answer is 409 ABORTED (the emulator's documented choice) and the session is
    untouched: it still becomes ACTIVE."""
    parent = fresh_parent()
    sid = new_id()
    create_ok(slow_api, parent, sid)
    name = f"{parent}/sessions/{sid}"

    err = assert_error(slow_api.delete(f"/v1/{name}"), 409, "ABORTED")
    assert "still being created" in err["message"]
    wait_state(slow_api, name, {"ACTIVE"})


def test_delete_terminating_session_completes_after_termination(slow_api: httpx.Client) -> None:
    """Given a session that is TERMINATING
    When the client deletes it
    Then the delete operation completes once the session is TERMINATED, with that snapshot,
    and the session is gone."""
    s = create_active(slow_api, fresh_parent(), new_id())
    terminate_ok(slow_api, s["name"])
    r = slow_api.delete(f"/v1/{s['name']}")
    assert r.status_code == 200, r.text
    assert "done" not in r.json()

    done = finish(slow_api, r.json())
    assert done["response"]["state"] == "TERMINATED"
    assert history_states(done["response"]) == ["CREATING", "ACTIVE", "TERMINATING"]
    assert slow_api.get(f"/v1/{s['name']}").status_code == 404


def test_second_delete_while_deleting_is_failed_precondition(slow_api: httpx.Client) -> None:
    """Given a session whose deletion is in progress
    When the client deletes it again without a requestId
    Then the answer is 400 FAILED_PRECONDITION and the first deletion still completes."""
    s = create_active(slow_api, fresh_parent(), new_id())
    first = slow_api.delete(f"/v1/{s['name']}").json()

    assert_error(slow_api.delete(f"/v1/{s['name']}"), 400, "FAILED_PRECONDITION")
    finish(slow_api, first)
    assert slow_api.get(f"/v1/{s['name']}").status_code == 404


@pytest.mark.parametrize("final", ["TERMINATED", "FAILED"])
def test_delete_final_session_returns_its_snapshot(api: httpx.Client, final: str) -> None:
    """Given a TERMINATED or FAILED session
    When the client deletes it
    Then the first answer is not done, the operation then completes with the session as it
    was (history unchanged), and the session is gone."""
    parent = fresh_parent()
    s = terminated_session(api, parent) if final == "TERMINATED" else failed_session(api, parent)
    r = api.delete(f"/v1/{s['name']}")
    assert r.status_code == 200, r.text
    assert "done" not in r.json()

    snapshot = finish(api, r.json())["response"]
    assert snapshot["state"] == final
    assert snapshot["stateHistory"] == s["stateHistory"]
    assert snapshot["stateTime"] == s["stateTime"]
    assert api.get(f"/v1/{s['name']}").status_code == 404
    assert s["name"] not in [x["name"] for x in list_all(api, f"{parent}/sessions", "sessions")]


# --- state machine and stateHistory ----------------------------------------------------------


def test_creating_session_has_no_history(slow_api: httpx.Client) -> None:
    """Given a session that was just created
    When the client gets it while it is CREATING
    Then state is CREATING, stateTime is createTime and stateHistory is absent."""
    parent = fresh_parent()
    sid = new_id()
    create_ok(slow_api, parent, sid)
    s = slow_api.get(f"/v1/{parent}/sessions/{sid}").json()
    assert s["state"] == "CREATING"
    assert "stateHistory" not in s
    assert s["stateTime"] == s["createTime"]


def test_state_history_holds_only_earlier_states_oldest_first(api: httpx.Client) -> None:
    """Given a session taken through CREATING, ACTIVE, TERMINATING and TERMINATED
    When the client reads it at each stage
    Then stateHistory holds only the earlier states, oldest first, each entry starting
    when the previous state's stateTime said, and earlier entries never change."""
    s = create_active(api, fresh_parent(), new_id())
    assert history_states(s) == ["CREATING"]
    assert s["stateHistory"][0]["stateStartTime"] == s["createTime"]
    active_since = s["stateTime"]

    finish(api, terminate_ok(api, s["name"]))
    t = api.get(f"/v1/{s['name']}").json()
    assert t["state"] == "TERMINATED"
    assert history_states(t) == ["CREATING", "ACTIVE", "TERMINATING"]
    assert t["stateHistory"][0] == s["stateHistory"][0]
    assert t["stateHistory"][1]["stateStartTime"] == active_since
    starts = [h["stateStartTime"] for h in t["stateHistory"]] + [t["stateTime"]]
    assert starts == sorted(starts)
    assert t["stateHistory"][2]["stateMessage"]


def test_failed_start_goes_from_creating_to_failed(api: httpx.Client) -> None:
    """Given a simulated session labelled emulator-fail-start
    When it starts
    Then it ends FAILED with a stateMessage naming the hook, history [CREATING], and the
    create operation ends with an error (rpc code 9) carrying that message."""
    parent = fresh_parent()
    sid = new_id()
    op = create_ok(api, parent, sid, {"labels": {"emulator-fail-start": ""}})
    done = finish(api, op)
    s = api.get(f"/v1/{parent}/sessions/{sid}").json()

    assert s["state"] == "FAILED"
    assert "emulator-fail-start" in s["stateMessage"]
    assert history_states(s) == ["CREATING"]
    assert "response" not in done
    assert done["error"]["code"] == 9
    assert s["stateMessage"] in done["error"]["message"]
    assert "status" not in done["error"]


@pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is not None, reason="pyspark is installed here"
)
def test_spark_connect_without_pyspark_fails_clearly(api: httpx.Client) -> None:
    """Given a machine without pyspark
    When the client creates a Spark Connect session
    Then the session ends FAILED with a stateMessage naming pyspark, and the create
    operation ends with error code 9 carrying that message."""
    parent = fresh_parent()
    sid = new_id()
    op = create_ok(api, parent, sid, {"sparkConnectSession": {}})
    done = finish(api, op)
    s = api.get(f"/v1/{parent}/sessions/{sid}").json()

    assert s["state"] == "FAILED"
    assert s["sparkConnectSession"] == {}
    assert "pyspark" in s["stateMessage"]
    assert done["error"]["code"] == 9
    assert s["stateMessage"] in done["error"]["message"]


# --- TTL and idle TTL -------------------------------------------------------------------------


def test_ttl_and_idle_ttl_terminate_sessions_by_themselves(api: httpx.Client) -> None:
    """Given one session with ttl 2s and another with idleTtl 2s (floor lowered to 1s)
    When the time passes without any terminate call
    Then both go through TERMINATING to TERMINATED, with stateMessages that say ttl and
    idle respectively; a session with the default TTLs stays ACTIVE."""
    parent = fresh_parent()
    short = create_active(
        api, parent, new_id("ttl"), {"environmentConfig": {"executionConfig": {"ttl": "2s"}}}
    )
    idle = create_active(
        api,
        parent,
        new_id("idle"),
        {"environmentConfig": {"executionConfig": {"idleTtl": "2s"}}},
    )
    steady = create_active(api, parent, new_id("steady"))

    started = time.monotonic()
    by_ttl = wait_state(api, short["name"], {"TERMINATED", "FAILED"}, timeout=15)
    by_idle = wait_state(api, idle["name"], {"TERMINATED", "FAILED"}, timeout=15)
    assert time.monotonic() - started >= 1.0
    assert by_ttl["state"] == "TERMINATED"
    assert "ttl" in by_ttl["stateMessage"]
    assert history_states(by_ttl) == ["CREATING", "ACTIVE", "TERMINATING"]
    assert "ttl" in by_ttl["stateHistory"][2]["stateMessage"]
    assert by_idle["state"] == "TERMINATED"
    assert "idle" in by_idle["stateMessage"].lower()
    assert api.get(f"/v1/{steady['name']}").json()["state"] == "ACTIVE"


# --- JSON encoding ------------------------------------------------------------------------------


def test_enum_encoding_int_turns_every_enum_into_a_number(api: httpx.Client) -> None:
    """Given an ACTIVE Python session
    When the client asks with $alt=json;enum-encoding=int
    Then state, stateHistory states, kernel and the operation's operationType are ints;
    without it they are names."""
    parent = fresh_parent()
    sid = new_id()
    r = create_session(api, parent, sid, {"jupyterSession": {"kernel": "PYTHON"}}, params=ENUM_INTS)
    assert r.json()["metadata"]["operationType"] == 1
    name = f"{parent}/sessions/{sid}"
    wait_state(api, name, {"ACTIVE"})

    ints = api.get(f"/v1/{name}", params=ENUM_INTS).json()
    assert ints["state"] == 2
    assert ints["stateHistory"][0]["state"] == 1
    assert ints["jupyterSession"]["kernel"] == 1
    names = api.get(f"/v1/{name}").json()
    assert names["state"] == "ACTIVE"
    assert names["stateHistory"][0]["state"] == "CREATING"
    assert names["jupyterSession"]["kernel"] == "PYTHON"

    op = api.get(f"/v1/{r.json()['name']}", params=ENUM_INTS).json()
    assert op["metadata"]["operationType"] == 1
    assert op["response"]["state"] == 2
    listed = api.get(f"/v1/{parent}/sessions", params=ENUM_INTS).json()["sessions"]
    assert listed[0]["state"] == 2
    t = api.post(f"/v1/{name}:terminate", params=ENUM_INTS, json={}).json()
    assert t["metadata"]["operationType"] == 2
    d = finish(api, api.delete(f"/v1/{name}", params=ENUM_INTS).json())
    assert d["metadata"]["operationType"] == "DELETE"  # polled without $alt: names
    assert api.get(f"/v1/{d['name']}", params=ENUM_INTS).json()["metadata"]["operationType"] == 3


def test_request_bodies_accept_int_enums_and_snake_case(api: httpx.Client) -> None:
    """Given a body written the way GAPIC REST clients write it (int enums) and one with
    snake_case field names
    When the client creates sessions from them
    Then both are understood exactly like the camelCase, named-enum form."""
    parent = fresh_parent()
    a = create_active(api, parent, new_id(), {"jupyterSession": {"kernel": 1}})
    b = create_active(
        api,
        parent,
        new_id(),
        {
            "jupyter_session": {"kernel": 2, "display_name": "Scala"},
            "runtime_config": {"version": "2.2", "properties": {"spark:k": "v"}},
            "environment_config": {
                "execution_config": {"idle_ttl": "1200s", "service_account": "x@y.z"}
            },
        },
    )
    assert a["jupyterSession"] == {"kernel": "PYTHON"}
    assert b["jupyterSession"] == {"kernel": "SCALA", "displayName": "Scala"}
    assert b["runtimeConfig"]["properties"]["spark:k"] == "v"
    assert b["runtimeConfig"]["version"].startswith("2.2.")
    assert b["environmentConfig"]["executionConfig"]["idleTtl"] == "1200s"
    assert b["environmentConfig"]["executionConfig"]["serviceAccount"] == "x@y.z"
    assert not any("_" in key for key in b)


def test_int64_fields_are_decimal_strings(api: httpx.Client) -> None:
    """Given a session that ran for a moment and was terminated
    When the client reads its usage
    Then int64 fields (milliDcuSeconds) are decimal strings, not JSON numbers."""
    s = create_active(api, fresh_parent(), new_id())
    time.sleep(0.5)
    done = finish(api, terminate_ok(api, s["name"]))
    usage = done["response"]["runtimeInfo"]["approximateUsage"]
    assert isinstance(usage["milliDcuSeconds"], str)
    assert usage["milliDcuSeconds"].isdigit() and int(usage["milliDcuSeconds"]) > 0
    assert TIMESTAMP_RE.match(usage["updateTime"])


def test_default_values_are_omitted_and_present_messages_are_objects(api: httpx.Client) -> None:
    """Given a session created with an empty body
    When the client reads it
    Then unset scalars, lists and oneof members are absent (no stateMessage, user,
    jupyterSession, sparkConnectSession, sessionTemplate, done:false), while present empty
    messages are written as {}."""
    parent = fresh_parent()
    sid = new_id()
    op = create_ok(api, parent, sid, {})
    s = wait_state(api, f"{parent}/sessions/{sid}", {"ACTIVE"})
    for absent in ("stateMessage", "user", "jupyterSession", "sparkConnectSession"):
        assert absent not in s, absent
    assert "sessionTemplate" not in s
    assert "done" not in op
    assert s["environmentConfig"]["peripheralsConfig"]["sparkHistoryServerConfig"] == {}
    assert "stateMessage" not in s["stateHistory"][0]

    spark = api.post(
        f"/v1/{parent}/sessions", params={"sessionId": new_id()}, json={"sparkConnectSession": {}}
    ).json()
    created = api.get(f"/v1/{spark['metadata']['session']}").json()
    assert created["sparkConnectSession"] == {}


def test_timestamps_are_rfc3339_utc(api: httpx.Client) -> None:
    """Given a terminated session and its operations
    When the client reads them
    Then every timestamp is RFC 3339 in UTC with Z and 0, 3, 6 or 9 fractional digits."""
    s = create_active(api, fresh_parent(), new_id())
    done = finish(api, terminate_ok(api, s["name"]))
    t = api.get(f"/v1/{s['name']}").json()
    stamps = [t["createTime"], t["stateTime"], done["metadata"]["createTime"]]
    stamps += [done["metadata"]["doneTime"], t["runtimeInfo"]["approximateUsage"]["updateTime"]]
    stamps += [h["stateStartTime"] for h in t["stateHistory"]]
    for stamp in stamps:
        assert TIMESTAMP_RE.match(stamp), stamp


def test_system_query_parameters_and_client_headers_are_tolerated(api: httpx.Client) -> None:
    """Given the standard system parameters and the headers Google's clients send
    When the client makes ordinary calls with them
    Then the calls behave as without them."""
    parent = fresh_parent()
    sid = new_id()
    headers = {
        "X-Goog-Request-Params": f"parent={parent}",
        "X-Goog-User-Project": "quota-project",
        "x-goog-api-client": "gl-python/3.12 gapic/1.0",
    }
    system = {"prettyPrint": "false", "key": "k", "quotaUser": "q", "$.xgafv": "2", "alt": "json"}
    r = api.post(
        f"/v1/{parent}/sessions",
        params={"sessionId": sid, **system},
        json={},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    g = api.get(f"/v1/{parent}/sessions/{sid}", params=system, headers=headers)
    assert g.status_code == 200 and g.json()["name"].endswith(sid)


# --- requestId idempotency ---------------------------------------------------------------------


def test_create_with_a_repeated_request_id_returns_the_first_operation(api: httpx.Client) -> None:
    """Given a create with requestId R
    When the client repeats R (even with another sessionId and body), now and after the
    session is ACTIVE
    Then each answer is the same operation and no second session exists."""
    parent = fresh_parent()
    first = create_ok(api, parent, "first-one", {"labels": {"a": "b"}}, request_id="req-1")
    again = create_ok(api, parent, "second-one", {"labels": {"c": "d"}}, request_id="req-1")
    assert again["name"] == first["name"]
    wait_state(api, f"{parent}/sessions/first-one", {"ACTIVE"})
    later = create_ok(api, parent, "first-one", request_id="req-1")
    assert later["name"] == first["name"] and later["done"] is True

    assert session_ids(list_all(api, f"{parent}/sessions", "sessions")) == ["first-one"]
    assert_error(api.get(f"/v1/{parent}/sessions/second-one"), 404, "NOT_FOUND")
    other = create_ok(api, parent, "third-one", request_id="req-2")
    assert other["name"] != first["name"]


def test_terminate_with_a_repeated_request_id_returns_the_first_operation(
    api: httpx.Client,
) -> None:
    """Given a terminate with requestId R
    When the client repeats it (the session is now TERMINATING or TERMINATED)
    Then the answer is the same operation instead of FAILED_PRECONDITION."""
    s = create_active(api, fresh_parent(), new_id())
    first = terminate_ok(api, s["name"], {"requestId": "term-1"})
    again = terminate_ok(api, s["name"], {"requestId": "term-1"})
    assert again["name"] == first["name"]
    finish(api, first)
    third = terminate_ok(api, s["name"], {"request_id": "term-1"})
    assert third["name"] == first["name"]
    assert_error(
        api.post(f"/v1/{s['name']}:terminate", json={"requestId": "term-2"}),
        400,
        "FAILED_PRECONDITION",
    )


def test_delete_with_a_repeated_request_id_returns_the_first_operation(
    slow_api: httpx.Client,
) -> None:
    """Given a delete with requestId R
    When the client repeats it while the deletion runs and again after the session is gone
    Then every answer is the same operation (not FAILED_PRECONDITION, not NOT_FOUND)."""
    s = create_active(slow_api, fresh_parent(), new_id())
    url = f"/v1/{s['name']}"
    first = slow_api.delete(url, params={"requestId": "del-1"}).json()
    again = slow_api.delete(url, params={"requestId": "del-1"})
    assert again.status_code == 200, again.text
    assert again.json()["name"] == first["name"]

    finish(slow_api, first)
    assert slow_api.get(url).status_code == 404
    after = slow_api.delete(url, params={"requestId": "del-1"})
    assert after.status_code == 200, after.text
    assert after.json()["name"] == first["name"] and after.json()["done"] is True
    assert_error(slow_api.delete(url, params={"requestId": "del-2"}), 404, "NOT_FOUND")


def test_request_ids_are_scoped_to_their_method(api: httpx.Client) -> None:
    """Given a session created with requestId R
    When the client terminates it with the same R
    Then that is a new TERMINATE operation, not the create operation."""
    parent = fresh_parent()
    sid = new_id()
    created = create_ok(api, parent, sid, request_id="same-id")
    wait_state(api, f"{parent}/sessions/{sid}", {"ACTIVE"})
    t = terminate_ok(api, f"{parent}/sessions/{sid}", {"requestId": "same-id"})
    assert t["name"] != created["name"]
    assert t["metadata"]["operationType"] == "TERMINATE"


def test_sessions_become_active_without_polling_the_operation(api: httpx.Client) -> None:
    """Given several sessions created back to back
    When the client only polls the sessions (as gcloud does)
    Then each becomes ACTIVE and each create operation is done with it."""
    parent = fresh_parent()
    ops = [create_ok(api, parent, new_id()) for _ in range(5)]
    wait_for(
        lambda: (
            len(list_all(api, f"{parent}/sessions", "sessions", {"filter": "state = ACTIVE"})) == 5
        ),
        timeout=15,
        what="five ACTIVE sessions",
    )
    for op in ops:
        got = api.get(f"/v1/{op['name']}").json()
        assert got["done"] is True and got["response"]["state"] == "ACTIVE"


def test_the_emulator_logged_no_unexpected_error(simulated_emulator: EmulatorProcess) -> None:
    """Given everything this module did to its emulator
    When its log is read
    Then no request or lifecycle task ended in an unexpected error or a traceback."""
    log = simulated_emulator.log_path.read_text()
    assert "Traceback" not in log
    assert "Unexpected error" not in log and "Lifecycle task failed" not in log
