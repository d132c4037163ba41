"""The JupyterLab side panel in a real browser, against a real ``jupyter lab`` whose
extension runs the simulated emulator (1 s starts and stops, fast polling).

Each test starts from the panel's list and leaves it there; the sessions each test
works on are its own.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from ..support import pid_alive, wait_for
from .conftest import PANEL, PANEL_TAB, Lab, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

Shot = Callable[[str], Path]

# Records, inside the page, every state each session's badge shows (in the list, the
# details and the create progress) and every text of the status line, so a state that
# lasts less than a poll of the test is still seen; it also proves the page was never
# reloaded (a reload would drop the records).
RECORDER = """() => {
  if (window.__jpsRecorder) { return; }
  window.__jpsRecorder = { states: {}, status: [] };
  const rec = window.__jpsRecorder;
  const push = (list, value) => {
    if (list[list.length - 1] !== value) { list.push(value); }
  };
  const scan = () => {
    for (const row of document.querySelectorAll('.jp-sessions-row[data-session]')) {
      const badge = row.querySelector('.jp-sessions-badge');
      if (badge) {
        push(rec.states[row.dataset.session] ??= [], badge.dataset.state);
      }
    }
    for (const header of document.querySelectorAll('.jp-sessions-details-header')) {
      const title = header.querySelector('.jp-sessions-details-title');
      const badge = header.querySelector('.jp-sessions-badge');
      if (title && badge) {
        push(rec.states[title.textContent] ??= [], badge.dataset.state);
      }
    }
    const status = document.querySelector('.jp-sessions-status-text');
    push(rec.status, status ? status.textContent : '');
  };
  new MutationObserver(scan).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true
  });
  scan();
}"""


def record(page: Page) -> None:
    page.evaluate(RECORDER)


def recorded(page: Page) -> dict[str, Any]:
    data = page.evaluate("() => window.__jpsRecorder ?? null")
    assert data is not None, "the page was reloaded (its recorder is gone)"
    return dict(data)


def states_seen(page: Page, session_id: str) -> list[str]:
    return list(recorded(page)["states"].get(session_id, []))


def in_order(seen: list[str], expected: list[str]) -> bool:
    """Whether ``expected`` occurs in ``seen`` in this order (other states may come between)."""
    rest = iter(seen)
    return all(state in rest for state in expected)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def panel(page: Page) -> Locator:
    return page.locator(PANEL)


def row(page: Page, session_id: str) -> Locator:
    return panel(page).locator(f'.jp-sessions-row[data-session="{session_id}"]')


def badge_of_row(page: Page, session_id: str) -> Locator:
    return row(page, session_id).locator(".jp-sessions-badge")


@pytest.fixture
def sessions_panel(page: Page) -> Page:
    """The side panel shown, on its list, with the in-page recorder running."""
    if not panel(page).is_visible():
        page.locator(PANEL_TAB).click()
    expect(panel(page)).to_be_visible(timeout=10_000)
    back = panel(page).get_by_role("button", name="Back to the list")
    if back.count():
        back.first.click()
    expect(panel(page).get_by_label("Filter sessions")).to_be_visible(timeout=10_000)
    record(page)
    return page


def create_directly(lab: Lab, session_id: str) -> str:
    """Create a session as another client would: straight to the emulator."""
    parent = lab.parent()
    with lab.emulator() as other:
        r = other.post(f"v1/{parent}/sessions", params={"sessionId": session_id}, json={})
    assert r.status_code == 200, r.text
    return f"{parent}/sessions/{session_id}"


def open_details(page: Page, session_id: str) -> Locator:
    row(page, session_id).click()
    details = panel(page).locator(f'.jp-sessions-details[aria-label="Session {session_id}"]')
    expect(details).to_be_visible(timeout=5_000)
    return details


def accept_dialog(page: Page, title: str, button: str, shot: Shot, step: str) -> None:
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible(timeout=5_000)
    expect(dialog.locator(".jp-Dialog-header")).to_have_text(title, timeout=5_000)
    shot(step)
    dialog.get_by_role("button", name=button, exact=True).click()
    expect(dialog).to_have_count(0, timeout=5_000)


def back_to_list(page: Page) -> None:
    panel(page).get_by_role("button", name="Back to the list").first.click()
    expect(panel(page).get_by_label("Filter sessions")).to_be_visible(timeout=5_000)


# --- the tests ----------------------------------------------------------------------------


def test_side_panel_opens_from_its_tab(page: Page, lab: Lab, shot: Shot) -> None:
    """Given JupyterLab just loaded, when the Sessions tab is clicked, then the panel shows
    the configured project and location on the local emulator, live, with an empty list."""
    tab = page.locator(PANEL_TAB)
    expect(panel(page)).to_be_hidden()  # a fresh workspace starts with it closed
    tab.click()
    expect(tab).to_have_class(_has_class("lm-mod-current"), timeout=5_000)
    expect(panel(page)).to_be_visible(timeout=10_000)
    expect(panel(page).locator(".jp-sessions-title")).to_have_text("Sessions")
    context = panel(page).locator(".jp-sessions-context")
    expect(context).to_contain_text("test-project", timeout=20_000)
    expect(context).to_contain_text("us-central1")
    expect(context.locator(".jp-sessions-backend")).to_have_text("local emulator")
    live = context.locator(".jp-sessions-connection-live")
    expect(live).to_be_visible(timeout=20_000)
    assert_not_clipped(context, live, context.locator(".jp-sessions-backend"))
    expect(panel(page).locator(".jp-sessions-empty")).to_have_text(
        "No sessions yet. Create one with + (New session) above.", timeout=20_000
    )
    expect(panel(page).locator(".jp-sessions-status")).to_have_count(0)
    box = panel(page).bounding_box()
    assert box is not None and box["width"] > 150 and box["height"] > 300, box
    shot("panel-open")


def test_session_created_from_the_dialog_goes_creating_to_active_live(
    sessions_panel: Page, lab: Lab, shot: Shot
) -> None:
    """Given the panel, when a session is created from the New session dialog, then it
    shows CREATING, then ACTIVE, without a reload, and is listed as ACTIVE."""
    page = sessions_panel
    session_id = new_id("ui")
    panel(page).get_by_role("button", name="New session").click()
    form = panel(page).locator('form[aria-label="New session"]')
    expect(form).to_be_visible(timeout=5_000)
    expect(form.locator(".jp-sessions-form-context")).to_have_text(
        "in projects/test-project/locations/us-central1"
    )
    form.locator("#jp-sessions-field-sessionId").fill(session_id)
    create = form.get_by_role("button", name="Create", exact=True)
    expect(create).to_be_enabled()
    shot("dialog-filled")

    create.click()
    progress = panel(page).locator(f'[aria-label="Creating {session_id}"]')
    expect(progress).to_be_visible(timeout=5_000)
    shot("creating")
    badge = progress.locator(".jp-sessions-badge")
    expect(badge).to_have_attribute("data-state", "ACTIVE", timeout=20_000)
    expect(progress.locator(".jp-sessions-outcome")).to_have_attribute(
        "data-phase", "succeeded", timeout=20_000
    )
    expect(progress.locator(".jp-sessions-outcome")).to_contain_text(f"{session_id} is ACTIVE")
    shot("active")

    progress.get_by_role("button", name="Close").click()
    expect(badge_of_row(page, session_id)).to_have_attribute("data-state", "ACTIVE")
    expect(badge_of_row(page, session_id)).to_have_text("Active")
    seen = states_seen(page, session_id)
    assert in_order(seen, ["CREATING", "ACTIVE"]), seen
    assert seen[-1] == "ACTIVE", seen
    with lab.emulator() as direct:
        r = direct.get(f"v1/{lab.parent()}/sessions/{session_id}")
    assert r.status_code == 200 and r.json()["state"] == "ACTIVE", r.text
    shot("listed")


def test_session_created_by_another_client_appears_live(
    sessions_panel: Page, lab: Lab, shot: Shot
) -> None:
    """Given the panel, when another client creates a session straight on the emulator,
    then its row appears by itself and turns ACTIVE."""
    page = sessions_panel
    session_id = new_id("other")
    expect(row(page, session_id)).to_have_count(0)
    create_directly(lab, session_id)
    expect(row(page, session_id)).to_be_visible(timeout=15_000)
    expect(badge_of_row(page, session_id)).to_have_attribute("data-state", "ACTIVE", timeout=20_000)
    assert states_seen(page, session_id)[-1] == "ACTIVE"
    shot("appeared-active")


def test_terminate_after_confirmation_shows_terminated(
    sessions_panel: Page, lab: Lab, shot: Shot
) -> None:
    """Given an ACTIVE session, when Terminate is clicked in its details and the dialog
    is accepted, then it goes TERMINATING then TERMINATED, and the list says so."""
    page = sessions_panel
    session_id = new_id("term")
    create_directly(lab, session_id)
    expect(badge_of_row(page, session_id)).to_have_attribute("data-state", "ACTIVE", timeout=20_000)
    details = open_details(page, session_id)
    terminate = details.get_by_role("button", name="Terminate", exact=True)
    expect(terminate).to_be_enabled(timeout=5_000)
    terminate.click()
    accept_dialog(page, f"Terminate {session_id}?", "Terminate", shot, "confirm")

    badge = details.locator(".jp-sessions-details-header .jp-sessions-badge")
    expect(badge).to_have_attribute("data-state", "TERMINATED", timeout=20_000)
    expect(badge).to_have_text("Terminated")
    expect(details.get_by_role("button", name="Terminate", exact=True)).to_be_disabled()
    expect(details.get_by_role("button", name="Delete", exact=True)).to_be_enabled(timeout=10_000)
    seen = states_seen(page, session_id)
    assert in_order(seen, ["ACTIVE", "TERMINATING", "TERMINATED"]), seen
    shot("terminated")

    back_to_list(page)
    expect(badge_of_row(page, session_id)).to_have_attribute("data-state", "TERMINATED")


def test_delete_after_confirmation_removes_the_row(
    sessions_panel: Page, lab: Lab, shot: Shot
) -> None:
    """Given a TERMINATED session, when Delete is clicked in its details and the dialog is
    accepted, then its row leaves the list and the backend no longer has it."""
    page = sessions_panel
    session_id = new_id("del")
    name = create_directly(lab, session_id)
    with lab.emulator() as other:
        wait_for(lambda: other.get(f"v1/{name}").json().get("state") == "ACTIVE", 20, what="ACTIVE")
        assert other.post(f"v1/{name}:terminate", json={}).status_code == 200
    expect(badge_of_row(page, session_id)).to_have_attribute(
        "data-state", "TERMINATED", timeout=20_000
    )
    details = open_details(page, session_id)
    details.get_by_role("button", name="Delete", exact=True).click()
    accept_dialog(page, f"Delete {session_id}?", "Delete", shot, "confirm")

    # Once the delete is done the panel is back on the list, without the session.
    expect(panel(page).get_by_label("Filter sessions")).to_be_visible(timeout=20_000)
    expect(details).to_have_count(0)
    expect(row(page, session_id)).to_have_count(0, timeout=5_000)
    with lab.emulator() as other:
        assert other.get(f"v1/{name}").status_code == 404
    shot("row-removed")


def test_bad_session_id_shows_the_field_error_and_sends_nothing(
    sessions_panel: Page, lab: Lab, shot: Shot
) -> None:
    """Given the New session dialog, when an invalid id is typed, then the field says why,
    Create is disabled, and neither Enter nor a click sends a create request."""
    page = sessions_panel
    posts: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and "/jupyter-sessions/v1/" in request.url:
            posts.append(request.url)

    with lab.emulator() as direct:
        before = direct.get("emulator/stats").json()
    page.on("request", on_request)
    try:
        panel(page).get_by_role("button", name="New session").click()
        form = panel(page).locator('form[aria-label="New session"]')
        expect(form).to_be_visible(timeout=5_000)
        field = form.locator("#jp-sessions-field-sessionId")
        field.fill("Bad_ID!")
        error = form.locator("#jp-sessions-field-sessionId-help")
        expect(error).to_have_text("Start with a lowercase letter.", timeout=5_000)
        expect(error).to_have_class(_has_class("jp-sessions-field-error"))
        expect(field).to_have_attribute("aria-invalid", "true")

        field.fill("bad_id!")
        expect(error).to_have_text(
            'Use only lowercase letters, digits and hyphens (not "_", "!").', timeout=5_000
        )
        create = form.get_by_role("button", name="Create", exact=True)
        expect(create).to_be_disabled()
        field.press("Enter")
        create.click(force=True)
        shot("field-error")
        page.wait_for_timeout(1_000)  # room for a request that should not come
        expect(form).to_be_visible()
        expect(error).to_have_text('Use only lowercase letters, digits and hyphens (not "_", "!").')
    finally:
        page.remove_listener("request", on_request)
    assert posts == []
    with lab.emulator() as direct:
        after = direct.get("emulator/stats").json()
    assert after["total"] > before["total"]  # the counter is live (the Watcher polls)
    creates = "POST sessions.create"
    assert after["requests"].get(creates, 0) == before["requests"].get(creates, 0), after

    form.get_by_role("button", name="Cancel").click()
    expect(panel(page).get_by_label("Filter sessions")).to_be_visible(timeout=5_000)


def test_status_line_shows_while_the_backend_is_down_and_clears_after_restart(
    sessions_panel: Page, lab: Lab, shot: Shot
) -> None:
    """Given the panel on a running emulator, when the emulator process dies, then the
    status line says the backend is unreachable; the extension restarts the emulator and
    the line goes away by itself, the sessions still listed."""
    page = sessions_panel
    session_id = new_id("kept")
    create_directly(lab, session_id)
    expect(badge_of_row(page, session_id)).to_have_attribute("data-state", "ACTIVE", timeout=20_000)
    status = panel(page).locator(".jp-sessions-status")
    expect(status).to_have_count(0)

    old_pid = lab.emulator_pid()
    assert _parent_pid(old_pid) == lab.pid  # the emulator this test's server started
    os.kill(old_pid, signal.SIGKILL)
    expect(status).to_contain_text("Backend unreachable", timeout=15_000)
    shot("backend-unreachable")
    page.wait_for_function(
        "() => window.__jpsRecorder.status.some(t => t.startsWith('Backend unreachable'))",
        timeout=5_000,
    )

    expect(status).to_have_count(0, timeout=30_000)
    new_pid = wait_for(lambda: _healthy_pid(lab), 20, what="the restarted emulator")
    assert new_pid != old_pid and not pid_alive(old_pid)
    expect(panel(page).locator(".jp-sessions-connection-live")).to_be_visible()
    expect(badge_of_row(page, session_id)).to_have_attribute("data-state", "ACTIVE")
    seen = [text for text in recorded(page)["status"] if text]
    assert any("emulator exited" in text for text in seen), seen
    shot("backend-back")


# --- helpers ------------------------------------------------------------------------------


def assert_not_clipped(container: Locator, *parts: Locator) -> None:
    """Each part lies inside the container's box (which hides what overflows it)."""
    outer = container.bounding_box()
    assert outer is not None
    for part in parts:
        box = part.bounding_box()
        assert box is not None
        assert outer["x"] <= box["x"] and box["x"] + box["width"] <= outer["x"] + outer["width"], (
            part,
            box,
            outer,
        )


def _has_class(name: str) -> Any:
    import re

    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def _parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(") ", 1)[1].split()[1])


def _healthy_pid(lab: Lab) -> int | None:
    try:
        return lab.emulator_pid()
    except Exception:
        time.sleep(0.2)
        return None
