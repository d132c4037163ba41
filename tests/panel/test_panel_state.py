"""The panel's pure core: the event reducer, row formatting, filters, form checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jupyter_sessions.api.codec import format_timestamp
from jupyter_sessions.api.model import Kernel, Session, State
from jupyter_sessions.notebook.panel.state import (
    CreateFormValues,
    PanelState,
    SessionFilter,
    api_error_fields,
    can_delete,
    can_terminate,
    check_create_form,
    check_duration,
    check_field,
    check_labels,
    check_properties,
    check_session_id,
    format_elapsed,
    idle_text,
    row_view,
    status_view,
    usage_text,
)

PARENT = "projects/p/locations/l"
T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def ts(seconds: float) -> str:
    return format_timestamp(T0 + timedelta(seconds=seconds))


def sj(
    sid: str, state: str = "ACTIVE", *, created: float = 0, since: float = 1, **extra: Any
) -> dict[str, Any]:
    """Session JSON as the event stream carries it."""
    history = {
        "CREATING": [],
        "ACTIVE": [{"state": "CREATING", "stateStartTime": ts(created)}],
        "TERMINATING": [
            {"state": "CREATING", "stateStartTime": ts(created)},
            {"state": "ACTIVE", "stateStartTime": ts(created + 1)},
        ],
        "TERMINATED": [
            {"state": "CREATING", "stateStartTime": ts(created)},
            {"state": "ACTIVE", "stateStartTime": ts(created + 1)},
            {"state": "TERMINATING", "stateStartTime": ts(created + 2)},
        ],
        "FAILED": [{"state": "CREATING", "stateStartTime": ts(created)}],
    }[state]
    data: dict[str, Any] = {
        "name": f"{PARENT}/sessions/{sid}",
        "uuid": f"uuid-{sid}",
        "createTime": ts(created),
        "state": state,
        "stateTime": ts(since),
        "creator": "me@example.com",
        "labels": {"team": "data", "goog-dataproc-session-id": sid},
    }
    if history:
        data["stateHistory"] = history
    data.update(extra)
    return data


# --- the reducer ---------------------------------------------------------------------


def test_snapshot_then_session_events_keep_newest_first() -> None:
    st = PanelState()
    assert st.apply("snapshot", {"sessions": [sj("b", created=10), sj("a", created=0)]})
    assert list(st.sessions) == [f"{PARENT}/sessions/b", f"{PARENT}/sessions/a"]
    assert st.status.connected and st.status.synced

    assert st.apply("session", sj("c", "CREATING", created=20, since=20))
    assert [s.session_id for s in st.sessions.values()] == ["c", "b", "a"]

    assert st.apply("session", sj("c", "ACTIVE", created=20, since=21))
    assert st.sessions[f"{PARENT}/sessions/c"].state == State.ACTIVE
    assert [s.session_id for s in st.sessions.values()] == ["c", "b", "a"]


def test_an_identical_event_changes_nothing() -> None:
    st = PanelState()
    st.apply("snapshot", {"sessions": [sj("a")]})
    version = st.version
    assert not st.apply("session", sj("a"))
    assert st.version == version


def test_a_stale_event_does_not_move_a_session_back() -> None:
    """Given the operation's TERMINATED snapshot applied locally, a late ACTIVE event from
    the stream (one poll behind) is ignored."""
    st = PanelState()
    st.apply("session", sj("a", "TERMINATED", since=5))
    assert not st.apply("session", sj("a", "ACTIVE", since=1))
    assert st.sessions[f"{PARENT}/sessions/a"].state == State.TERMINATED
    # A snapshot that lags keeps the newer copy too.
    st.apply("snapshot", {"sessions": [sj("a", "ACTIVE", since=1)]})
    assert st.sessions[f"{PARENT}/sessions/a"].state == State.TERMINATED


def test_a_reused_id_is_a_new_session() -> None:
    st = PanelState()
    st.apply("session", sj("a", "TERMINATED", since=5))
    fresh = sj("a", "CREATING", created=50, since=50, uuid="uuid-new")
    assert st.apply("session", fresh)
    assert st.sessions[f"{PARENT}/sessions/a"].state == State.CREATING


def test_removed_and_late_events_of_a_deleted_session() -> None:
    st = PanelState()
    st.apply("snapshot", {"sessions": [sj("a"), sj("b", created=1)]})
    assert st.apply("removed", {"name": f"{PARENT}/sessions/a"})
    assert list(st.sessions) == [f"{PARENT}/sessions/b"]
    assert not st.apply("removed", {"name": f"{PARENT}/sessions/a"})
    # A late event or snapshot about the deleted session (same uuid) cannot revive it.
    assert not st.apply("session", sj("a", "TERMINATED", since=9))
    st.apply("snapshot", {"sessions": [sj("a", "TERMINATED", since=9), sj("b", created=1)]})
    assert list(st.sessions) == [f"{PARENT}/sessions/b"]


def test_snapshot_replaces_everything() -> None:
    st = PanelState()
    st.apply("snapshot", {"sessions": [sj("a"), sj("b", created=1)]})
    assert st.apply("snapshot", {"sessions": [sj("c", created=2)]})
    assert list(st.sessions) == [f"{PARENT}/sessions/c"]
    assert not st.apply("snapshot", {"sessions": [sj("c", created=2)]})


def test_status_events_drive_reachability_and_recovery() -> None:
    st = PanelState()
    st.apply("snapshot", {"sessions": []}, now=T0)
    assert status_view(st.status, T0).kind == "live"

    assert st.apply("status", {"reachable": False, "message": "connection refused"}, now=T0)
    view = status_view(st.status, T0)
    assert view.kind == "unreachable" and "connection refused" in view.title

    later = T0 + timedelta(seconds=3)
    assert st.apply("status", {"reachable": True, "lastPoll": ts(3)}, now=later)
    assert status_view(st.status, later).kind == "recovered"
    assert status_view(st.status, later + timedelta(seconds=10)).kind == "live"
    assert st.status.last_poll == T0 + timedelta(seconds=3)


def test_stream_drop_and_reconnect() -> None:
    st = PanelState()
    assert status_view(st.status, T0).kind == "connecting"
    st.apply("snapshot", {"sessions": [sj("a")]}, now=T0)
    st.apply("disconnected", {"message": "no heartbeat within 20s", "retryIn": 2.0}, now=T0)
    view = status_view(st.status, T0)
    assert view.kind == "reconnecting" and "2s" in view.text and "no heartbeat" in view.title
    # The sessions stay visible (last known state) while the stream is down.
    assert len(st.sessions) == 1
    st.apply("snapshot", {"sessions": [sj("a")]}, now=T0)
    assert status_view(st.status, T0).kind == "recovered"
    assert "Reconnected" in status_view(st.status, T0).title


def test_heartbeats_and_unknown_events() -> None:
    st = PanelState()
    st.apply("snapshot", {"sessions": []})
    assert not st.apply("heartbeat", {"time": ts(0)})
    assert not st.apply("something-new", {"x": 1})


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("snapshot", {"sessions": "nope"}),
        ("session", {"state": "ACTIVE"}),
        ("removed", {}),
        ("session", ["not", "an", "object"]),
    ],
)
def test_malformed_events_raise_value_error(kind: str, data: Any) -> None:
    with pytest.raises(ValueError):
        PanelState().apply(kind, data)


# --- rows ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h 00m"),
        (5430, "1h 30m"),
        (86400 + 7200, "1d 2h"),
        (-5, "0s"),
    ],
)
def test_format_elapsed(seconds: float, text: str) -> None:
    assert format_elapsed(seconds) == text


def test_row_of_an_active_session() -> None:
    s = Session.from_json(
        sj(
            "a",
            created=0,
            since=60,
            environmentConfig={"executionConfig": {"idleTtl": "1800s", "ttl": "86400s"}},
            runtimeInfo={
                "currentUsage": {"milliDcu": "4000"},
                "approximateUsage": {"milliDcuSeconds": "7200000"},
            },
        )
    )
    now = T0 + timedelta(seconds=60 + 600)
    view = row_view(s, now, user="me@example.com")
    assert view.session_id == "a" and view.state == State.ACTIVE
    assert view.age == "11m" and view.in_state == "10m"
    assert view.idle == "20m"  # 30 min idle TTL from stateTime, 10 min gone
    assert "At least 20m left" in view.idle_title
    assert view.usage == "4 DCU · 2 DCU·h"
    assert view.mine and view.labels == (("team", "data"),)  # no system labels
    assert view.can_terminate and view.can_delete and not view.busy


def test_idle_countdown_only_for_active_and_ttl_when_sooner() -> None:
    creating = Session.from_json(sj("c", "CREATING", since=0))
    assert idle_text(creating, T0) == ("", "")
    ttl_first = Session.from_json(
        sj("t", since=0, environmentConfig={"executionConfig": {"idleTtl": "3600s", "ttl": "900s"}})
    )
    text, title = idle_text(ttl_first, T0 + timedelta(seconds=300))
    assert text == "ttl 10m" and "TTL 15m" in title
    default_idle = Session.from_json(sj("d", since=0))
    assert idle_text(default_idle, T0 + timedelta(minutes=15))[0] == "45m"
    assert idle_text(default_idle, T0 + timedelta(hours=2))[0] == "due"


def test_usage_of_final_and_new_sessions() -> None:
    done = Session.from_json(
        sj("x", "TERMINATED", runtimeInfo={"approximateUsage": {"milliDcuSeconds": "1552350"}})
    )
    assert usage_text(done)[0] == "0.43 DCU·h"
    assert "1552350 milli-DCU-seconds" in usage_text(done)[1]
    fresh = Session.from_json(sj("y", "CREATING"))
    assert usage_text(fresh)[0] == "-"


def test_spinner_and_allowed_actions_per_state() -> None:
    for state in State:
        view = row_view(Session(name=f"{PARENT}/sessions/s", state=state), T0)
        assert view.busy == (state in (State.CREATING, State.TERMINATING))
    assert [s for s in State if can_terminate(s)] == [State.ACTIVE]
    assert not can_delete(State.CREATING)
    assert all(
        can_delete(s) for s in (State.ACTIVE, State.TERMINATING, State.TERMINATED, State.FAILED)
    )


# --- filters -------------------------------------------------------------------------


def test_filters_by_state_and_mine() -> None:
    sessions = [
        Session.from_json(sj("a", "ACTIVE")),
        Session.from_json(sj("b", "TERMINATED", creator="other@example.com")),
        Session.from_json(sj("c", "CREATING", creator="other@example.com")),
    ]
    ids = lambda flt: [s.session_id for s in flt.apply(sessions)]  # noqa: E731
    assert ids(SessionFilter()) == ["a", "b", "c"]
    assert ids(SessionFilter.from_choice("live")) == ["a", "c"]
    assert ids(SessionFilter.from_choice("TERMINATED")) == ["b"]
    assert ids(SessionFilter.from_choice("all", mine=True, user="me@example.com")) == ["a"]
    assert ids(SessionFilter.from_choice("live", mine=True, user="other@example.com")) == ["c"]
    # "Mine" without knowing who I am shows nothing rather than everyone's sessions.
    assert ids(SessionFilter.from_choice("all", mine=True, user="")) == []
    with pytest.raises(ValueError):
        SessionFilter.from_choice("bogus")


# --- the create form -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("good-id", None),
        ("", "Enter a session ID."),
        ("Bad_Id", "Start with a lowercase letter."),
        ("abc", "Use at least 4 characters."),
        ("ends-with-", "Do not end with a hyphen."),
        ("9starts", "Start with a lowercase letter."),
    ],
)
def test_session_id_messages(value: str, expected: str | None) -> None:
    error = check_session_id(value)
    if expected is None:
        assert error is None
    else:
        assert error is not None and expected in error


def test_session_id_already_in_the_table() -> None:
    known = {
        f"{PARENT}/sessions/live-one": Session.from_json(sj("live-one")),
        f"{PARENT}/sessions/old-one": Session.from_json(sj("old-one", "TERMINATED")),
    }
    assert "already exists (ACTIVE)" in (check_session_id("live-one", known) or "")
    assert "delete it to reuse the id" in (check_session_id("old-one", known) or "")
    assert check_session_id("new-one", known) is None


@pytest.mark.parametrize(
    ("text", "seconds", "error"),
    [
        ("", None, None),
        ("30m", 1800, None),
        ("1h30m", 5400, None),
        ("2 hours", None, "Write a duration such as 90s, 30m, 2h or 1d."),
        ("5m", None, "At least 10 minutes."),
        ("15d", None, "At most 14 days."),
    ],
)
def test_durations(text: str, seconds: int | None, error: str | None) -> None:
    value, message = check_duration(text, "environmentConfig.executionConfig.ttl")
    assert (value.total_seconds() if value else None) == seconds
    assert (message is None) if error is None else (message is not None and error in message)


def test_labels_and_properties_messages() -> None:
    assert check_labels("team=data, env=dev\npurpose=") == (
        {"team": "data", "env": "dev", "purpose": ""},
        None,
    )
    assert "is not key=value" in (check_labels("team")[1] or "")
    assert "given twice" in (check_labels("a=1,a=2")[1] or "")
    assert (check_labels("Team=x")[1] or "").startswith("Team: label keys are")
    assert "label values are" in (check_labels("team=UPPER")[1] or "")
    assert "at most 32 labels" in (check_labels(",".join(f"k{i}=v" for i in range(33)))[1] or "")
    props, err = check_properties("spark:spark.executor.memory=4g\nspark:spark.jars=a.jar,b.jar")
    assert err is None and props["spark:spark.jars"] == "a.jar,b.jar"
    assert "carry a prefix" in (check_properties("spark.executor.memory=4g")[1] or "")


def test_a_valid_form_becomes_a_request() -> None:
    check = check_create_form(
        CreateFormValues(
            session_id=" my-session ",
            kernel="scala",
            ttl="2h",
            max_idle="30m",
            labels="team=data",
            properties="spark:spark.executor.cores=2",
            template=f"{PARENT}/sessionTemplates/small",
        )
    )
    assert check.ok and check.request is not None
    assert check.request.session_id == "my-session"
    body = check.request.session.to_json()
    assert body["jupyterSession"] == {"kernel": "SCALA"}
    assert body["environmentConfig"]["executionConfig"] == {"ttl": "7200s", "idleTtl": "1800s"}
    assert body["labels"] == {"team": "data"}
    assert body["runtimeConfig"]["properties"] == {"spark:spark.executor.cores": "2"}
    assert body["sessionTemplate"] == f"{PARENT}/sessionTemplates/small"


def test_kernel_choices() -> None:
    def body(kernel: str) -> dict[str, Any]:
        check = check_create_form(CreateFormValues(session_id="abcd", kernel=kernel))
        assert check.request is not None
        return check.request.session.to_json()

    assert body("python")["jupyterSession"]["kernel"] == Kernel.PYTHON.name
    assert body("spark-connect")["sparkConnectSession"] == {}
    assert "jupyterSession" not in body("") and "sparkConnectSession" not in body("")
    assert check_field("kernel", CreateFormValues(kernel="cobol")) is not None


def test_an_invalid_form_reports_every_field_and_builds_nothing() -> None:
    check = check_create_form(
        CreateFormValues(
            session_id="Bad_Id", ttl="1m", max_idle="soon", labels="x", properties="nope=1"
        )
    )
    assert not check.ok and check.request is None
    assert set(check.errors) == {"session_id", "ttl", "max_idle", "labels", "properties"}


def test_api_field_violations_map_back_to_the_form() -> None:
    from jupyter_sessions.api.errors import bad_request

    err = bad_request("environmentConfig.executionConfig.idleTtl", "must be shorter")
    assert api_error_fields(err) == {"max_idle": "must be shorter"}
    err = bad_request("labels.team", "bad value")
    assert api_error_fields(err) == {"labels": "bad value"}
    assert api_error_fields(bad_request("somethingElse", "x")) == {}
