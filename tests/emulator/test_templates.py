"""Session templates (spec section 6): CRUD, PATCH without a field mask, and how a session
created from a template takes the template's values."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from ..support import wait_state
from .calls import (
    TIMESTAMP_RE,
    UUID_RE,
    assert_error,
    create_active,
    create_session,
    fresh_parent,
    list_all,
    new_id,
)

FULL_TEMPLATE: dict[str, Any] = {
    "description": "Team defaults",
    "jupyterSession": {"kernel": "SCALA", "displayName": "Team Scala"},
    "labels": {"team": "analytics", "env": "dev"},
    "runtimeConfig": {
        "version": "2.2",
        "properties": {"spark:spark.executor.memory": "4g", "spark:team.only": "yes"},
    },
    "environmentConfig": {
        "executionConfig": {
            "ttl": "7200s",
            "idleTtl": "1800s",
            "serviceAccount": "team@p.iam.gserviceaccount.com",
        }
    },
}


def make_template(
    api: httpx.Client, parent: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    name = f"{parent}/sessionTemplates/{new_id('tmpl')}"
    r = api.post(f"/v1/{parent}/sessionTemplates", json={"name": name, **(body or {})})
    assert r.status_code == 200, r.text
    return dict(r.json())


# --- CRUD ------------------------------------------------------------------------------------


def test_create_template_is_synchronous_and_fills_output_fields(api: httpx.Client) -> None:
    """Given a template body with its name
    When the client creates it
    Then the answer is the SessionTemplate itself (no Operation) with uuid, creator,
    createTime equal to updateTime, and the client's fields as sent."""
    parent = fresh_parent()
    t = make_template(api, parent, FULL_TEMPLATE)

    assert "metadata" not in t and "done" not in t
    assert t["name"].startswith(f"{parent}/sessionTemplates/tmpl-")
    assert UUID_RE.match(t["uuid"])
    assert "@" in t["creator"]
    assert TIMESTAMP_RE.match(t["createTime"])
    assert t["updateTime"] == t["createTime"]
    for key, value in FULL_TEMPLATE.items():
        assert t[key] == value, key


def test_get_and_list_templates(api: httpx.Client) -> None:
    """Given two templates in a parent and one elsewhere
    When the client gets one and lists the parent
    Then get returns it as created and the listing holds exactly the parent's two."""
    parent = fresh_parent()
    a = make_template(api, parent, {"labels": {"kind": "a"}})
    b = make_template(api, parent, {"labels": {"kind": "b"}})
    make_template(api, fresh_parent())

    got = api.get(f"/v1/{a['name']}")
    assert got.status_code == 200 and got.json() == a
    listed = list_all(api, f"{parent}/sessionTemplates", "sessionTemplates")
    assert sorted(t["name"] for t in listed) == sorted([a["name"], b["name"]])
    paged = list_all(api, f"{parent}/sessionTemplates", "sessionTemplates", {"pageSize": 1})
    assert [t["name"] for t in paged] == [t["name"] for t in listed]
    filtered = list_all(
        api, f"{parent}/sessionTemplates", "sessionTemplates", {"filter": "labels.kind = b"}
    )
    assert [t["name"] for t in filtered] == [b["name"]]
    assert api.get(f"/v1/{fresh_parent()}/sessionTemplates").json() == {}


def test_list_templates_rejects_unsupported_filter_fields(api: httpx.Client) -> None:
    """Given the templates collection
    When the client filters on a field templates do not support
    Then the answer is 400 INVALID_ARGUMENT naming the field."""
    r = api.get(f"/v1/{fresh_parent()}/sessionTemplates", params={"filter": "state = ACTIVE"})
    err = assert_error(r, 400, "INVALID_ARGUMENT", field="filter")
    assert "state" in err["message"]


def test_patch_replaces_every_mutable_field(api: httpx.Client) -> None:
    """Given a template with description, kernel, labels, runtime and environment config
    When the client PATCHes it with only new labels and a Spark Connect config
    Then everything else is cleared (no field mask: full replacement), name, uuid,
    createTime and creator are kept, and updateTime moves forward."""
    parent = fresh_parent()
    t = make_template(api, parent, FULL_TEMPLATE)
    time.sleep(0.01)
    r = api.patch(
        f"/v1/{t['name']}",
        json={"labels": {"owner": "me"}, "sparkConnectSession": {}},
    )
    assert r.status_code == 200, r.text
    p = r.json()

    assert p["labels"] == {"owner": "me"}
    assert p["sparkConnectSession"] == {}
    for cleared in ("description", "jupyterSession", "runtimeConfig", "environmentConfig"):
        assert cleared not in p, cleared
    for kept in ("name", "uuid", "createTime", "creator"):
        assert p[kept] == t[kept], kept
    assert p["updateTime"] > t["updateTime"]
    assert api.get(f"/v1/{t['name']}").json() == p


def test_patch_with_name_of_the_path_is_accepted_and_another_name_is_rejected(
    api: httpx.Client,
) -> None:
    """Given a template
    When the client PATCHes it with its own name in the body, then with another name
    Then the first succeeds and the second is 400 naming the name field."""
    t = make_template(api, fresh_parent())
    ok = api.patch(f"/v1/{t['name']}", json={"name": t["name"], "description": "x"})
    assert ok.status_code == 200 and ok.json()["description"] == "x"
    other = t["name"] + "-other"
    r = api.patch(f"/v1/{t['name']}", json={"name": other, "description": "y"})
    assert_error(r, 400, "INVALID_ARGUMENT", field="name")
    assert api.get(f"/v1/{t['name']}").json()["description"] == "x"


def test_patch_validates_like_create(api: httpx.Client) -> None:
    """Given a template
    When the client PATCHes it with an invalid label key
    Then the answer is 400 and the template is unchanged."""
    t = make_template(api, fresh_parent(), {"labels": {"a": "b"}})
    r = api.patch(f"/v1/{t['name']}", json={"labels": {"Bad Key": "x"}})
    assert_error(r, 400, "INVALID_ARGUMENT", field="labels.Bad Key")
    assert api.get(f"/v1/{t['name']}").json() == t


def test_delete_template_returns_empty_and_then_not_found(api: httpx.Client) -> None:
    """Given a template
    When the client deletes it
    Then the answer is {}; get, patch and a second delete are 404 with the observed
    'Not found: Session Template <name>' message; it is no longer listed."""
    parent = fresh_parent()
    t = make_template(api, parent)
    r = api.delete(f"/v1/{t['name']}")
    assert r.status_code == 200 and r.json() == {}

    err = assert_error(api.get(f"/v1/{t['name']}"), 404, "NOT_FOUND")
    assert err["message"] == f"Not found: Session Template {t['name']}"
    assert_error(api.patch(f"/v1/{t['name']}", json={}), 404, "NOT_FOUND")
    assert_error(api.delete(f"/v1/{t['name']}"), 404, "NOT_FOUND")
    assert api.get(f"/v1/{parent}/sessionTemplates").json() == {}


def test_duplicate_template_name_is_already_exists(api: httpx.Client) -> None:
    """Given a template
    When the client creates another with the same name
    Then the answer is 409 ALREADY_EXISTS and the first is unchanged."""
    parent = fresh_parent()
    t = make_template(api, parent, {"description": "first"})
    r = api.post(f"/v1/{parent}/sessionTemplates", json={"name": t["name"], "description": "x"})
    assert_error(r, 409, "ALREADY_EXISTS")
    assert api.get(f"/v1/{t['name']}").json() == t


@pytest.mark.parametrize(
    "name",
    [
        None,
        "",
        "just-an-id",
        "projects/test-project/locations/us-central1/sessions/looks-like-a-session",
        "projects/other/locations/us-central1/sessionTemplates/wrong-parent",
        "projects/test-project/locations/us-central1/sessionTemplates/Upper-Case",
        "projects/test-project/locations/us-central1/sessionTemplates/ab",
        "projects/test-project/locations/us-central1/sessionTemplates/ends-with-",
    ],
)
def test_missing_or_invalid_template_name_is_bad_request(
    api: httpx.Client, name: str | None
) -> None:
    """Given a template body without a usable name
    When the client creates it under projects/test-project/locations/us-central1
    Then the answer is 400 INVALID_ARGUMENT with a field violation on name."""
    parent = "projects/test-project/locations/us-central1"
    body: dict[str, Any] = {"description": "x"}
    if name is not None:
        body["name"] = name
    r = api.post(f"/v1/{parent}/sessionTemplates", json=body)
    assert_error(r, 400, "INVALID_ARGUMENT", field="name")


def test_template_values_are_validated(api: httpx.Client) -> None:
    """Given template bodies with 33 labels, a ttl above 14 days, or both session configs
    When the client creates them
    Then each is 400 INVALID_ARGUMENT."""
    parent = fresh_parent()
    bad: list[tuple[dict[str, Any], str | None]] = [
        ({"labels": {f"k{i}": "v" for i in range(33)}}, "labels"),
        (
            {"environmentConfig": {"executionConfig": {"ttl": "1209601s"}}},
            "environmentConfig.executionConfig.ttl",
        ),
        ({"jupyterSession": {}, "sparkConnectSession": {}}, "jupyterSession"),
    ]
    for body, field in bad:
        name = f"{parent}/sessionTemplates/{new_id('tmpl')}"
        r = api.post(f"/v1/{parent}/sessionTemplates", json={"name": name, **body})
        assert_error(r, 400, "INVALID_ARGUMENT", field=field)
        assert api.get(f"/v1/{name}").status_code == 404


# --- sessions from templates ---------------------------------------------------------------


def test_session_from_template_takes_its_values(api: httpx.Client) -> None:
    """Given a template with kernel, labels, properties and TTLs
    When the client creates a session naming only the template
    Then the session has the template's kernel, labels (plus system labels), properties
    (plus defaults), ttl, idleTtl, service account and resolved version, and keeps the
    template reference."""
    parent = fresh_parent()
    t = make_template(api, parent, FULL_TEMPLATE)
    s = create_active(api, parent, new_id(), {"sessionTemplate": t["name"]})

    assert s["sessionTemplate"] == t["name"]
    assert s["jupyterSession"] == FULL_TEMPLATE["jupyterSession"]
    assert {k: v for k, v in s["labels"].items() if not k.startswith("goog-")} == {
        "team": "analytics",
        "env": "dev",
    }
    assert s["labels"]["goog-dataproc-session-uuid"] == s["uuid"]
    props = s["runtimeConfig"]["properties"]
    assert props["spark:spark.executor.memory"] == "4g"
    assert props["spark:team.only"] == "yes"
    assert props["spark:spark.driver.cores"] == "4"
    assert s["runtimeConfig"]["version"].startswith("2.2.")
    assert s["environmentConfig"]["executionConfig"] == {
        "ttl": "7200s",
        "idleTtl": "1800s",
        "serviceAccount": "team@p.iam.gserviceaccount.com",
    }
    assert "description" not in s


def test_session_values_win_and_maps_merge_key_by_key(api: httpx.Client) -> None:
    """Given a template with labels, properties, TTLs and a Scala kernel
    When a session from it sets one label, one property, its own ttl and a Python kernel
    Then the session's values win, the template's other keys remain, and the template's
    unrelated fields (idleTtl, service account) remain."""
    parent = fresh_parent()
    t = make_template(api, parent, FULL_TEMPLATE)
    s = create_active(
        api,
        parent,
        new_id(),
        {
            "sessionTemplate": t["name"],
            "jupyterSession": {"kernel": "PYTHON"},
            "labels": {"env": "prod", "mine": "yes"},
            "runtimeConfig": {"properties": {"spark:spark.executor.memory": "8g"}},
            "environmentConfig": {"executionConfig": {"ttl": "3600s"}},
        },
    )

    assert s["jupyterSession"] == {"kernel": "PYTHON"}
    labels = {k: v for k, v in s["labels"].items() if not k.startswith("goog-")}
    assert labels == {"team": "analytics", "env": "prod", "mine": "yes"}
    props = s["runtimeConfig"]["properties"]
    assert props["spark:spark.executor.memory"] == "8g"
    assert props["spark:team.only"] == "yes"
    ec = s["environmentConfig"]["executionConfig"]
    assert ec["ttl"] == "3600s"
    assert ec["idleTtl"] == "1800s"
    assert ec["serviceAccount"] == "team@p.iam.gserviceaccount.com"


def test_template_reference_in_full_url_form(api: httpx.Client) -> None:
    """Given a template
    When a session names it in the https://www.googleapis.com/compute/v1/ form
    Then the template applies and the reference is kept as given."""
    parent = fresh_parent()
    t = make_template(api, parent, {"labels": {"from": "url"}})
    ref = f"https://www.googleapis.com/compute/v1/{t['name']}"
    s = create_active(api, parent, new_id(), {"sessionTemplate": ref})
    assert s["labels"]["from"] == "url"
    assert s["sessionTemplate"] == ref


def test_sessions_keep_template_values_after_the_template_changes(api: httpx.Client) -> None:
    """Given a session created from a template
    When the template is patched and then deleted
    Then the session still shows the values it was created with."""
    parent = fresh_parent()
    t = make_template(api, parent, {"labels": {"v": "one"}})
    s = create_active(api, parent, new_id(), {"sessionTemplate": t["name"]})
    api.patch(f"/v1/{t['name']}", json={"labels": {"v": "two"}})
    api.delete(f"/v1/{t['name']}")
    now = wait_state(api, s["name"], {"ACTIVE"})
    assert now["labels"]["v"] == "one"


@pytest.mark.parametrize(
    "where",
    [
        "projects/{project}/locations/europe-west1",
        "projects/another-project/locations/us-central1",
    ],
)
def test_template_of_another_location_or_project_is_bad_request(
    api: httpx.Client, where: str
) -> None:
    """Given a template in another location (or project) than the session
    When a session names it
    Then the answer is 400 INVALID_ARGUMENT on sessionTemplate and no session exists."""
    parent = fresh_parent()
    project = parent.split("/")[1]
    elsewhere = where.format(project=project)
    t = make_template(api, elsewhere)
    sid = new_id()
    r = create_session(api, parent, sid, {"sessionTemplate": t["name"]})
    assert_error(r, 400, "INVALID_ARGUMENT", field="sessionTemplate")
    assert api.get(f"/v1/{parent}/sessions/{sid}").status_code == 404


def test_unknown_template_is_not_found(api: httpx.Client) -> None:
    """Given no template with that name
    When a session names it
    Then the answer is 404 NOT_FOUND naming the template and no session exists."""
    parent = fresh_parent()
    ref = f"{parent}/sessionTemplates/{new_id('nope')}"
    sid = new_id()
    err = assert_error(create_session(api, parent, sid, {"sessionTemplate": ref}), 404, "NOT_FOUND")
    assert ref in err["message"]
    assert api.get(f"/v1/{parent}/sessions/{sid}").status_code == 404


def test_malformed_template_reference_is_bad_request(api: httpx.Client) -> None:
    """Given a sessionTemplate value that is not a template name
    When a session names it
    Then the answer is 400 INVALID_ARGUMENT on sessionTemplate."""
    r = create_session(api, fresh_parent(), new_id(), {"sessionTemplate": "not a template"})
    assert_error(r, 400, "INVALID_ARGUMENT", field="sessionTemplate")


def test_merged_values_are_validated(api: httpx.Client) -> None:
    """Given a template with 20 labels
    When a session from it adds 13 more (33 in all)
    Then the answer is 400 on labels: the limit applies to the merged session."""
    parent = fresh_parent()
    t = make_template(api, parent, {"labels": {f"t{i}": "v" for i in range(20)}})
    body = {"sessionTemplate": t["name"], "labels": {f"s{i}": "v" for i in range(13)}}
    assert_error(
        create_session(api, parent, new_id(), body), 400, "INVALID_ARGUMENT", field="labels"
    )
