"""The panel's HTML: everything from the API is escaped; only http(s) endpoints link."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jupyter_sessions.api.model import Session
from jupyter_sessions.notebook.panel.html import (
    details_html,
    row_cells_html,
    status_html,
    timeline_html,
)
from jupyter_sessions.notebook.panel.state import StatusView, row_view

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
EVIL = '<img src=x onerror="alert(1)">'


def hostile_session() -> Session:
    return Session.from_json(
        {
            "name": "projects/p/locations/l/sessions/bad",
            "state": "FAILED",
            "stateMessage": f"boom {EVIL}",
            "createTime": "2026-05-01T12:00:00Z",
            "stateTime": "2026-05-01T12:00:05Z",
            "creator": EVIL,
            "labels": {"team": EVIL},
            "stateHistory": [
                {"state": "CREATING", "stateStartTime": "2026-05-01T12:00:00Z"},
            ],
            "runtimeInfo": {
                "endpoints": {
                    "Spark UI": "https://ui.example.com/x?a=1&b=2",
                    "Evil": "javascript:alert(1)",
                    EVIL: "sc://host:443",
                },
                "outputUri": "gs://bucket/out",
            },
            "runtimeConfig": {"properties": {"spark:x": EVIL}, "version": "2.2"},
        }
    )


def test_row_and_details_escape_everything_from_the_api() -> None:
    s = hostile_session()
    html = row_cells_html(row_view(s, T0 + timedelta(seconds=9))) + details_html(s, T0)
    assert "<img" not in html and 'onerror="' not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_details_show_failure_timeline_endpoints_and_config() -> None:
    html = details_html(hostile_session(), T0 + timedelta(seconds=9))
    assert 'class="jp-sessions-live-failure">boom &lt;img' in html
    assert (
        '<a href="https://ui.example.com/x?a=1&amp;b=2" target="_blank" '
        'rel="noopener noreferrer">' in html
    )
    # Only http(s) becomes a link: other schemes are shown as code.
    assert "<code>javascript:alert(1)</code>" in html and 'href="javascript' not in html
    assert "<code>sc://host:443</code>" in html and "<code>gs://bucket/out</code>" in html
    assert "Runtime version" in html and "2.2" in html and "spark:x" in html


def test_timeline_lists_every_state_with_durations() -> None:
    s = Session.from_json(
        {
            "name": "projects/p/locations/l/sessions/t",
            "state": "TERMINATED",
            "stateTime": "2026-05-01T12:01:05Z",
            "stateHistory": [
                {"state": "CREATING", "stateStartTime": "2026-05-01T12:00:00Z"},
                {"state": "ACTIVE", "stateStartTime": "2026-05-01T12:00:02Z"},
                {"state": "TERMINATING", "stateStartTime": "2026-05-01T12:01:00Z"},
            ],
        }
    )
    html = timeline_html(s, T0 + timedelta(hours=1))
    assert html.count("<li>") == 4
    assert "for 2s" in html and "for 58s" in html and "for 5s" in html
    assert html.index("CREATING") < html.index("ACTIVE") < html.index("TERMINATED")


def test_status_html_carries_kind_and_escaped_title() -> None:
    html = status_html(StatusView("unreachable", "Backend unreachable", f"down: {EVIL}"))
    assert "jp-sessions-live-status-unreachable" in html and "<img" not in html
