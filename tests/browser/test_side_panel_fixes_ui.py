"""Side panel fixes in a real JupyterLab on an embedded emulator with real kernels: the
kernel log opened read-only in the main area, endpoint tooltips, Escape back to the list,
the runtimes the emulator cannot run offered disabled with the reason, a duplicate id that
does not show the other session's state, and ages that move every second.

Screenshots go to ``artifacts/browser/side_panel_fixes/``, light and dark.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from ..server.conftest import sessions_config
from ..support import PARENT, wait_for
from .conftest import ARTIFACTS, PANEL, PANEL_TAB, Lab, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

LAB_CONFIG = {
    **sessions_config(emulator_runtime="kernel", emulator_args=["--warm-pool", "1"]),
    "LabApp": {"expose_app_in_browser": True},
}
API = "jupyter-sessions/v1/"
LIGHT, DARK = "JupyterLab Light", "JupyterLab Dark"
SHOTS = ARTIFACTS / "side_panel_fixes"


@pytest.fixture(scope="module")
def shots() -> Path:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


@pytest.fixture(scope="module")
def active_session(lab: Lab) -> str:
    session_id = f"logs-{uuid.uuid4().hex[:6]}"
    name = f"{PARENT}/sessions/{session_id}"
    with lab.client() as jp:
        r = jp.post(f"{API}{PARENT}/sessions", params={"sessionId": session_id}, json={})
        assert r.status_code == 200, r.text
        wait_for(lambda: jp.get(f"{API}{name}").json().get("state") == "ACTIVE", 120, what="ACTIVE")
    return session_id


def panel(page: Page) -> Locator:
    return page.locator(PANEL)


def show_list(page: Page) -> None:
    if not panel(page).is_visible():
        page.locator(PANEL_TAB).click()
    expect(panel(page)).to_be_visible(timeout=10_000)
    for leave in ("Back to the list", "Close"):
        button = panel(page).get_by_role("button", name=leave, exact=True)
        if button.count():
            button.first.click()
            break
    expect(panel(page).get_by_label("Filter sessions")).to_be_visible(timeout=10_000)


def details(page: Page, session_id: str) -> Locator:
    show_list(page)
    panel(page).locator(f'.jp-sessions-row[data-session="{session_id}"]').click()
    found = panel(page).locator(f'.jp-sessions-details[aria-label="Session {session_id}"]')
    expect(found).to_be_visible(timeout=10_000)
    return found


def set_theme(page: Page, theme: str) -> None:
    page.evaluate(
        "theme => window.jupyterapp.commands.execute('apputils:change-theme', { theme })", theme
    )
    expect(page.locator("body")).to_have_attribute("data-jp-theme-name", theme, timeout=10_000)


def test_kernel_log_opens_read_only_in_the_main_area(
    page: Page, lab: Lab, active_session: str, shots: Path
) -> None:
    """Given an ACTIVE emulator session, when View is clicked beside its kernel log, then a
    main-area tab shows the same text the extension's log route serves, read-only; the
    endpoint's full path is in its tooltip."""
    name = f"{PARENT}/sessions/{active_session}"
    with lab.client() as jp:
        log_path = jp.get(f"{API}{name}").json()["runtimeInfo"]["endpoints"]["Jupyter Kernel Log"]
        served = jp.get("jupyter-sessions/log", params={"session": name}).text
    assert served.strip(), "the kernel wrote nothing to its log"
    for theme in (LIGHT, DARK):
        set_theme(page, theme)
        found = details(page, active_session)
        endpoint = found.locator(".jp-sessions-endpoint", has_text="Jupyter Kernel Log")
        expect(endpoint.locator(".jp-sessions-endpoint-value")).to_have_attribute("title", log_path)
        endpoint.get_by_role("button", name="View").click()
        tab = page.locator(f"#jp-sessions-log-{active_session}")
        expect(tab).to_be_visible(timeout=10_000)
        text = tab.locator(".jp-sessions-log-text")
        first_line = served.strip().splitlines()[0]
        expect(text).to_contain_text(first_line, timeout=10_000)
        assert text.get_attribute("aria-readonly") == "true"
        assert text.evaluate("e => !e.isContentEditable")
        expect(
            page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Kernel log:")
        ).to_have_count(1)
        page.screenshot(path=str(shots / f"kernel-log-{'dark' if theme == DARK else 'light'}.png"))
    set_theme(page, LIGHT)


def test_escape_goes_back_to_the_list(page: Page, active_session: str, shots: Path) -> None:
    """Given a session's details just opened from the list, when Escape is pressed (the
    details hold the focus), then the list is back."""
    found = details(page, active_session)
    expect(found).to_be_focused()
    page.keyboard.press("Escape")
    expect(panel(page).get_by_label("Filter sessions")).to_be_visible(timeout=5_000)
    expect(found).to_have_count(0)


def test_create_form_offers_only_what_the_emulator_runs(page: Page, lab: Lab, shots: Path) -> None:
    """Given real kernels on the emulator, then the create form's Scala choice is disabled
    with the reason, and Spark Connect is disabled exactly when the server says it cannot
    run here."""
    runtimes = lab.config()["runtimes"]
    show_list(page)
    panel(page).get_by_role("button", name="New session").click()
    select = panel(page).locator("#jp-sessions-runtime")
    expect(select).to_be_visible(timeout=10_000)
    options = select.locator("option")
    expect(options).to_have_count(3)
    states = {options.nth(i).get_attribute("value"): options.nth(i).is_disabled() for i in range(3)}
    assert states == {
        "PYTHON": False,
        "SCALA": True,
        "SPARK_CONNECT": bool(runtimes["SPARK_CONNECT"]),
    }
    hint = panel(page).locator("#jp-sessions-runtime-hint")
    expect(hint).to_contain_text("Scala kernels are not available in the local emulator")
    panel(page).screenshot(path=str(shots / "create-form-runtimes.png"))
    # No template yet: the form says how to make one.
    panel(page).get_by_label("Template", exact=True).check()
    expect(panel(page).locator("form")).to_contain_text(
        "Make one in the Templates tab", timeout=10_000
    )
    panel(page).screenshot(path=str(shots / "create-form-no-templates.png"))


def test_a_taken_id_does_not_show_the_other_sessions_state(
    page: Page, lab: Lab, active_session: str, shots: Path
) -> None:
    """Given the create form with the id of an existing session, when Create is clicked,
    then the refusal is shown without the existing session's state badge."""
    show_list(page)
    panel(page).get_by_role("button", name="New session").click()
    field = panel(page).locator("#jp-sessions-field-sessionId")
    expect(field).to_be_visible(timeout=10_000)
    field.fill(active_session)
    panel(page).locator("form").get_by_role("button", name=re.compile("^Create")).click()
    alert = panel(page).get_by_role("alert")
    expect(alert).to_contain_text("already exists", timeout=20_000)
    form = panel(page).locator(f'[aria-label="Creating {active_session}"]')
    expect(form).to_be_visible()
    expect(form.locator(".jp-sessions-badge")).to_have_count(0)
    panel(page).screenshot(path=str(shots / "duplicate-id.png"))


def test_ages_in_the_list_move_every_second(page: Page, active_session: str) -> None:
    """Given the list, then a session's age changes within a few seconds (not every 15 s)."""
    show_list(page)
    age = panel(page).locator(
        f'.jp-sessions-row[data-session="{active_session}"] .jp-sessions-row-meta '
        'span[title^="Created"]'
    )
    before = age.inner_text()
    assert before == "just now" or before.endswith("ago"), before
    expect(age).not_to_have_text(before, timeout=5_000)
