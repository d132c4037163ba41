"""The long-running Operation endpoints (spec section 4): get, list, cancel and delete under
both ``regions`` and ``locations``."""

from __future__ import annotations

import httpx
import pytest

from .calls import (
    ENUM_INTS,
    METADATA_TYPE,
    SESSION_TYPE,
    assert_error,
    create_active,
    create_ok,
    finish,
    fresh_parent,
    list_all,
    new_id,
    regions,
    terminate_ok,
)


def locations_form(op_name: str) -> str:
    return op_name.replace("/regions/", "/locations/", 1)


def test_operation_is_served_under_regions_and_locations(api: httpx.Client) -> None:
    """Given a finished create operation (named in the regions form)
    When the client gets it under regions and under locations
    Then both answers are the same operation, named in the regions form."""
    parent = fresh_parent()
    op = create_ok(api, parent, new_id())
    assert "/regions/" in op["name"]
    done = finish(api, op)

    by_locations = api.get(f"/v1/{locations_form(op['name'])}")
    assert by_locations.status_code == 200, by_locations.text
    assert by_locations.json() == done
    assert done["metadata"]["@type"] == METADATA_TYPE
    assert done["response"]["@type"] == SESSION_TYPE
    assert next(iter(done["metadata"])) == "@type"
    assert next(iter(done["response"])) == "@type"


def test_list_operations_under_both_forms_newest_first(api: httpx.Client) -> None:
    """Given a create, a terminate and a delete operation in one location
    When the client lists operations under regions and under locations
    Then both list the same three, newest first, and paging walks them one by one."""
    parent = fresh_parent()
    s = create_active(api, parent, new_id())
    t = terminate_ok(api, s["name"])
    finish(api, t)
    d = api.delete(f"/v1/{s['name']}").json()
    finish(api, d)

    via_regions = list_all(api, f"{regions(parent)}/operations", "operations")
    via_locations = list_all(api, f"{parent}/operations", "operations")
    assert [o["name"] for o in via_regions] == [o["name"] for o in via_locations]
    kinds = [o["metadata"]["operationType"] for o in via_regions]
    assert kinds == ["DELETE", "TERMINATE", "CREATE"]
    assert all(o["done"] for o in via_regions)

    paged = list_all(api, f"{parent}/operations", "operations", {"pageSize": 1})
    assert [o["name"] for o in paged] == [o["name"] for o in via_regions]
    first = api.get(f"/v1/{parent}/operations", params={"pageSize": 1}).json()
    assert len(first["operations"]) == 1 and first["nextPageToken"]


def test_list_operations_of_another_location_is_empty(api: httpx.Client) -> None:
    """Given operations in one location
    When the client lists another location's operations
    Then the answer is {}."""
    parent = fresh_parent()
    create_ok(api, parent, new_id())
    other = parent.replace("us-central1", "asia-east1")
    r = api.get(f"/v1/{other}/operations")
    assert r.status_code == 200 and r.json() == {}


def test_list_operations_encodes_enums_as_asked(api: httpx.Client) -> None:
    """Given a create operation
    When the client lists operations with enum-encoding=int
    Then operationType inside the metadata is an int."""
    parent = fresh_parent()
    create_ok(api, parent, new_id())
    ops = api.get(f"/v1/{parent}/operations", params=ENUM_INTS).json()["operations"]
    assert ops[0]["metadata"]["operationType"] == 1


def test_list_operations_rejects_a_filter(api: httpx.Client) -> None:
    """Given the operations collection
    When the client lists it with a filter (not supported by the emulator)
    Then the answer is 400 INVALID_ARGUMENT naming the filter."""
    r = api.get(f"/v1/{fresh_parent()}/operations", params={"filter": "done = true"})
    assert_error(r, 400, "INVALID_ARGUMENT", field="filter")


@pytest.mark.parametrize("form", ["regions", "locations"])
def test_cancel_is_accepted_and_changes_nothing(slow_api: httpx.Client, form: str) -> None:
    """Given a create operation that is still running
    When the client cancels it (regions or locations form)
    Then the answer is {} and the operation still completes with the ACTIVE session."""
    parent = fresh_parent()
    op = create_ok(slow_api, parent, new_id())
    name = op["name"] if form == "regions" else locations_form(op["name"])
    r = slow_api.post(f"/v1/{name}:cancel", json={})
    assert r.status_code == 200, r.text
    assert r.json() == {}
    done = finish(slow_api, op)
    assert done["response"]["state"] == "ACTIVE"
    assert "error" not in done


@pytest.mark.parametrize("form", ["regions", "locations"])
def test_delete_operation_forgets_it_but_not_the_session(api: httpx.Client, form: str) -> None:
    """Given a finished create operation
    When the client deletes the operation (regions or locations form)
    Then the answer is {}, the operation is 404 under both forms, it is no longer listed,
    and the session is unaffected."""
    parent = fresh_parent()
    sid = new_id()
    op = finish(api, create_ok(api, parent, sid))
    name = op["name"] if form == "regions" else locations_form(op["name"])
    r = api.delete(f"/v1/{name}")
    assert r.status_code == 200, r.text
    assert r.json() == {}

    for either in (op["name"], locations_form(op["name"])):
        assert_error(api.get(f"/v1/{either}"), 404, "NOT_FOUND")
    assert op["name"] not in [
        o["name"] for o in list_all(api, f"{parent}/operations", "operations")
    ]
    assert api.get(f"/v1/{parent}/sessions/{sid}").json()["state"] == "ACTIVE"


@pytest.mark.parametrize("form", ["regions", "locations"])
def test_unknown_operation_is_not_found(api: httpx.Client, form: str) -> None:
    """Given an operation id that was never issued
    When the client gets, cancels or deletes it
    Then each answer is 404 NOT_FOUND with the envelope."""
    name = f"projects/p/{form}/us-central1/operations/{new_id('op')}"
    err = assert_error(api.get(f"/v1/{name}"), 404, "NOT_FOUND")
    assert name.rsplit("/", 1)[-1] in err["message"]
    assert_error(api.post(f"/v1/{name}:cancel", json={}), 404, "NOT_FOUND")
    assert_error(api.delete(f"/v1/{name}"), 404, "NOT_FOUND")


def test_operation_of_another_project_is_not_found(api: httpx.Client) -> None:
    """Given an operation of one project
    When the client asks for its id under another project
    Then the answer is 404."""
    op = create_ok(api, fresh_parent(), new_id())
    op_id = op["name"].rsplit("/", 1)[-1]
    assert_error(
        api.get(f"/v1/projects/elsewhere/regions/us-central1/operations/{op_id}"), 404, "NOT_FOUND"
    )


def test_every_operation_kind_carries_its_own_metadata(api: httpx.Client) -> None:
    """Given a session that is created, terminated and deleted
    When the client reads the three operations
    Then each has its operationType, description, the session's name and uuid, createTime,
    and once done a doneTime not before createTime."""
    parent = fresh_parent()
    sid = new_id()
    c = finish(api, create_ok(api, parent, sid))
    name = f"{parent}/sessions/{sid}"
    t = finish(api, terminate_ok(api, name))
    d = finish(api, api.delete(f"/v1/{name}").json())

    expected = [
        (c, "CREATE", "Create session", "ACTIVE"),
        (t, "TERMINATE", "Terminate session", "TERMINATED"),
        (d, "DELETE", "Delete session", "TERMINATED"),
    ]
    for op, kind, description, state in expected:
        meta = op["metadata"]
        assert meta["operationType"] == kind
        assert meta["description"] == description
        assert meta["session"] == name
        assert meta["sessionUuid"] == c["response"]["uuid"]
        assert meta["doneTime"] >= meta["createTime"]
        assert op["response"]["state"] == state
        assert "error" not in op
