"""The widget layer in-process: rows, filters, selection, confirmation, the indicator and
the log, driven by events exactly as the feed delivers them; then a panel on a client
without the extension (polling a real emulator), and import lightness."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from jupyter_sessions.client import ServerConfig, SessionsClient
from jupyter_sessions.widgets import SessionsPanel

from ..support import EmulatorProcess, wait_for
from .test_panel_state import PARENT, sj

ME = "me@example.com"


@pytest.fixture
def panel() -> Iterator[SessionsPanel]:
    """A panel that runs no thread: the test feeds its events."""
    client = SessionsClient("http://127.0.0.1:9/jupyter-sessions/", project="p", location="l")
    client.server_config = ServerConfig(url="http://127.0.0.1:9/", backend="local", user=ME)
    p = SessionsPanel(client, start=False)
    yield p
    p.close()
    client.close()


def names(*ids: str) -> list[str]:
    return [f"{PARENT}/sessions/{i}" for i in ids]


def snapshot(panel: SessionsPanel) -> None:
    panel.apply_event(
        "snapshot",
        {
            "sessions": [
                sj("mine-active", "ACTIVE", created=0, creator=ME),
                sj("other-done", "TERMINATED", created=1, creator="x@example.com"),
                sj("other-new", "CREATING", created=2, since=2, creator="x@example.com"),
            ]
        },
    )


def test_rows_appear_newest_first_and_filters_apply(panel: SessionsPanel) -> None:
    assert "Loading sessions" in panel._empty.value
    snapshot(panel)
    assert panel.visible() == names("other-new", "other-done", "mine-active")
    creating = panel.row_html("other-new") or ""
    assert "jp-sessions-live-state-creating" in creating and "jp-sessions-live-spinner" in creating
    assert "jp-sessions-live-mine" in (panel.row_html("mine-active") or "")
    assert "3 sessions · 2 live" in panel.summary_html.value

    panel.state_filter.value = "live"
    assert panel.visible() == names("other-new", "mine-active")
    assert panel.row_html("other-done") is None
    panel.mine_only.value = True
    assert panel.visible() == names("mine-active")
    assert "1 shown" in panel.summary_html.value
    panel.state_filter.value = "FAILED"
    assert panel.visible() == [] and "No session matches" in panel._empty.value
    assert panel._empty in panel.table.children


def test_a_panel_without_a_known_user_cannot_filter_mine() -> None:
    client = SessionsClient("http://127.0.0.1:9/", project="p", location="l")
    p = SessionsPanel(client, start=False)
    try:
        assert p.mine_only.disabled and "does not say who you are" in p.mine_only.tooltip
    finally:
        p.close()
        client.close()


def test_session_events_update_and_remove_rows(panel: SessionsPanel) -> None:
    snapshot(panel)
    row_widget = panel._rows[names("other-new")[0]]
    panel.apply_event("session", sj("other-new", "ACTIVE", created=2, since=3))
    assert panel._rows[names("other-new")[0]] is row_widget  # updated in place
    assert "jp-sessions-live-state-active" in (panel.row_html("other-new") or "")
    panel.apply_event("removed", {"name": names("other-done")[0]})
    assert panel.visible() == names("other-new", "mine-active")
    assert names("other-done")[0] not in panel._rows  # its widgets were closed


def test_selection_details_and_what_the_buttons_allow(panel: SessionsPanel) -> None:
    snapshot(panel)
    assert panel.details_box.layout.display == "none"
    panel._rows[names("other-new")[0]].button.click()  # clicking the id selects
    assert panel.selected == names("other-new")[0] and panel.details_box.layout.display == ""
    assert panel.terminate_button.disabled and panel.delete_button.disabled
    assert "still being created" in panel.delete_button.tooltip
    assert "still being created" in panel.terminate_button.tooltip

    panel.select("mine-active")
    assert not panel.terminate_button.disabled and not panel.delete_button.disabled
    # The selected row is marked by the theme's colours, not a bright button style.
    selected, other = panel._rows[names("mine-active")[0]], panel._rows[names("other-new")[0]]
    assert "jp-sessions-live-row-selected" in selected.box._dom_classes
    assert "jp-sessions-live-row-selected" not in other.box._dom_classes
    assert selected.button.button_style == other.button.button_style == ""
    assert "State history" in panel.details_html.value

    panel.terminate_button.click()
    assert panel.confirm_bar.layout.display == ""
    assert "Terminate session mine-active?" in panel.confirm_html.value
    # The session moves on before the confirmation: the question is withdrawn.
    panel.apply_event("session", sj("mine-active", "TERMINATING", created=0, since=5, creator=ME))
    assert panel.confirm_bar.layout.display == "none" and panel.terminate_button.disabled
    assert "already terminating" in panel.terminate_button.tooltip

    panel.delete_button.click()
    assert panel.confirm_bar.layout.display == ""
    panel.cancel_button.click()
    assert panel.confirm_bar.layout.display == "none" and panel.last_action is None

    panel.apply_event("removed", {"name": names("mine-active")[0]})
    assert "no longer exists" in panel.details_html.value and panel.delete_button.disabled
    panel.close_details_button.click()
    assert panel.selected is None and panel.details_box.layout.display == "none"


def test_failed_session_details_show_why(panel: SessionsPanel) -> None:
    panel.apply_event(
        "session", sj("broke", "FAILED", since=3, stateMessage="The runtime failed to start")
    )
    panel.select("broke")
    assert 'jp-sessions-live-failure">The runtime failed to start' in panel.details_html.value


def test_indicator_and_log_follow_the_stream_and_the_backend(panel: SessionsPanel) -> None:
    def kind() -> str:
        return str(panel.status_html.value).split("jp-sessions-live-status-", 2)[1].split('"')[0]

    def log() -> str:
        return "".join(o["text"] for o in panel.output.outputs)

    assert kind() == "connecting"
    snapshot(panel)
    assert kind() == "live"
    panel.apply_event("disconnected", {"message": "no heartbeat within 20s", "retryIn": 3.0})
    assert kind() == "reconnecting" and "retrying in 3s" in panel.status_html.value
    assert "Lost the live event stream: no heartbeat" in log()
    assert len(panel.visible()) == 3  # the last known state stays on screen
    snapshot(panel)
    assert kind() == "recovered" and "Reconnected to the live event stream" in log()

    panel.apply_event("status", {"reachable": False, "message": "connection refused"})
    assert kind() == "unreachable" and "connection refused" in panel.status_html.value
    assert "The sessions backend is unreachable: connection refused" in log()
    panel.apply_event("status", {"reachable": True})
    assert kind() == "recovered" and "reachable again" in log()


def test_malformed_events_are_logged_not_raised(panel: SessionsPanel) -> None:
    panel.apply_event("session", {"state": "ACTIVE"})
    assert "Ignored a malformed session event" in panel.output.outputs[-1]["text"]
    assert panel.output.outputs[-1]["name"] == "stderr"


def test_close_is_idempotent_and_stops_nothing_twice(panel: SessionsPanel) -> None:
    snapshot(panel)
    panel.close()
    panel.close()
    assert panel.closed and panel.threads() == []
    panel.apply_event("session", sj("late"))  # ignored once closed
    assert panel.form.session_id.comm is None and panel.comm is None


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(
        tmp_path_factory.mktemp("emu"), "--runtime", "simulated", "--ttl-floor", "1"
    ).start()
    yield emu
    emu.stop()


def test_a_client_without_the_extension_polls(emulator: EmulatorProcess) -> None:
    """Given a client straight to an emulator (no event stream there), the panel lists
    the sessions periodically, creates through the form, and close() ends its threads."""
    client = SessionsClient(emulator.url, project="proj", location="loc")
    p = SessionsPanel(client, start=False)
    p.poll_interval = 0.2
    p.start()
    try:
        assert any(t.name.startswith("jupyter-sessions-poll-") for t in p.threads())
        wait_for(lambda: p.state.status.synced, 10, what="the first listing")
        p.form.session_id.value = "polled-one"
        action = p.form.submit()
        assert action is not None and action.wait(30) and action.ok, action
        wait_for(
            lambda: "jp-sessions-live-state-active" in (p.row_html("polled-one") or ""),
            10,
            what="row",
        )
    finally:
        p.close()
        client.close()
    assert p.threads() == []
    assert not [t for t in threading.enumerate() if t.name.startswith("jupyter-sessions")]


def test_importing_the_package_does_not_import_widgets() -> None:
    code = (
        "import sys, jupyter_sessions, jupyter_sessions.notebook.panel.state, "
        "jupyter_sessions.client.event_stream, jupyter_sessions.notebook.panel.actions, "
        "jupyter_sessions.client\n"
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets was imported'\n"
        "assert 'jupyter_sessions.widgets' not in sys.modules\n"
        "assert 'jupyter_sessions.notebook.panel.widget' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_create_is_disabled_while_a_field_is_invalid_and_says_why(panel: SessionsPanel) -> None:
    """Given the create form, when a TTL is too short, then Create is disabled and the form
    says which field to fix, in the same words as the side panel; fixing it enables Create."""
    snapshot(panel)
    panel.new_button.value = True
    form = panel.form
    form.session_id.value = "a-new-session"
    assert not form.create_button.disabled and form.blocked.value == ""
    form.ttl.value = "5m"
    assert "At least 10 minutes." in form.errors["ttl"].value
    assert form.create_button.disabled
    assert "Fix TTL to create." in form.blocked.value
    assert form.create_button.tooltip == "Fix TTL to create."
    form.session_id.value = "Bad"
    assert "Fix Session id, TTL to create." in form.blocked.value
    form.session_id.value = "a-new-session"
    form.ttl.value = "2h"
    assert not form.create_button.disabled and form.blocked.value == ""
