"""Session templates in a real JupyterLab: the side panel's Templates tab (create, edit and
delete with field validation, errors from the server), its launcher card appearing, being
renamed and going without a reload, changes made outside the panel arriving live, "New
session from this template" and "Save as template".

The tests run in order and share one JupyterLab page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from ..server.conftest import sessions_config
from ..support import PARENT
from .conftest import PANEL, PANEL_TAB, Lab, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

LAB_CONFIG = {
    # Sessions stay CREATING for 4 s: long enough to try deleting their template meanwhile.
    **sessions_config(emulator_args=["--start-delay", "4", "--stop-delay", "1"]),
    "LabApp": {"expose_app_in_browser": True},  # window.jupyterapp, to switch themes
}

API = "jupyter-sessions/v1/"
TID = "ui-team"
NAME = f"{PARENT}/sessionTemplates/{TID}"
LIGHT, DARK = "JupyterLab Light", "JupyterLab Dark"
SIZES = {1400: 900, 900: 800}

Shot = Callable[[str], Path]


@pytest.fixture
def sized(page: Page) -> Iterator[Page]:
    yield page
    set_theme(page, LIGHT)
    page.set_viewport_size({"width": 1280, "height": 800})


def set_theme(page: Page, theme: str) -> None:
    page.evaluate(
        "theme => window.jupyterapp.commands.execute('apputils:change-theme', { theme })", theme
    )
    expect(page.locator("body")).to_have_attribute("data-jp-theme-name", theme, timeout=10_000)


def shots_at_sizes(page: Page, shot: Shot, step: str, ready: Callable[[], None]) -> None:
    for theme in (LIGHT, DARK):
        set_theme(page, theme)
        for width, height in SIZES.items():
            page.set_viewport_size({"width": width, "height": height})
            ready()
            page.wait_for_timeout(300)
            shot(f"{step}-{width}-{'dark' if theme == DARK else 'light'}")
    set_theme(page, LIGHT)
    page.set_viewport_size({"width": 1280, "height": 800})


def panel(page: Page) -> Locator:
    return page.locator(PANEL)


def open_templates(page: Page) -> None:
    if not panel(page).is_visible():
        page.locator(PANEL_TAB).click()
    expect(panel(page)).to_be_visible()
    panel(page).get_by_role("tab", name="Templates").click()
    expect(panel(page).get_by_role("tab", name="Templates")).to_have_attribute(
        "aria-selected", "true"
    )


def show_template(page: Page, tid: str) -> Locator:
    """The template's details in the Templates tab (the tab shows the page it was left on;
    a click on the selected tab goes back to the list)."""
    open_templates(page)
    details = panel(page).locator(f'.jp-sessions-details[aria-label="Template {tid}"]')
    if not details.is_visible():
        panel(page).get_by_role("tab", name="Templates").click()
        panel(page).get_by_role("button", name=f"Template {tid}").click()
    expect(details).to_be_visible()
    return details


def launcher_cards(page: Page) -> Locator:
    section = (
        page.locator(".jp-Launcher:visible .jp-Launcher-section")
        .filter(has=page.locator(".jp-Launcher-sectionTitle", has_text=re.compile("^Sessions$")))
        .first
    )
    return section.locator(".jp-LauncherCard-label")


def api_get(lab: Lab, path: str) -> Any:
    with lab.client() as jp:
        return jp.get(API + path)


def field(page: Page, label: str) -> Locator:
    return panel(page).get_by_label(label, exact=True)


def write_message(page: Page) -> Locator:
    return panel(page).locator(".jp-sessions-outcome").first


# --- the tests ------------------------------------------------------------------------------


def test_create_a_template_and_see_its_launcher_card(
    page: Page, sized: Page, lab: Lab, shot: Shot
) -> None:
    """Given no templates, when one is created in the Templates tab (a TTL too short is
    refused at the field first), then its details show, the API holds it, and the launcher
    gets its card without a reload."""
    expect(launcher_cards(page)).to_have_text(["Python on a new session"], timeout=30_000)
    open_templates(page)
    expect(panel(page).locator(".jp-sessions-templates-empty")).to_be_visible(timeout=10_000)
    shots_at_sizes(
        page,
        shot,
        "empty",
        lambda: expect(panel(page).locator(".jp-sessions-templates-empty")).to_be_visible(),
    )

    panel(page).get_by_role("button", name="New template").click()
    field(page, "Template ID *").fill(TID)
    field(page, "Description").fill("The UI team's defaults")
    field(page, "Launcher card").fill("UI Team")
    field(page, "TTL").fill("5m")
    field(page, "Idle TTL").fill("30m")
    expect(panel(page).get_by_text("At least 10 minutes.")).to_be_visible()
    create = panel(page).get_by_role("button", name="Create template")
    expect(create).to_be_disabled()
    field(page, "TTL").fill("2h")
    chip = field(page, "Labels")
    chip.fill("team=ui")
    chip.press("Enter")
    chip.fill("tier=gold")
    chip.press("Enter")
    panel(page).get_by_role("button", name="Add property").click()
    field(page, "Property 1 key").fill("spark:spark.executor.cores")
    field(page, "Property 1 value").fill("4")
    expect(panel(page).locator(".jp-sessions-chip")).to_have_text(["team=ui", "tier=gold"])
    shots_at_sizes(page, shot, "form", lambda: expect(create).to_be_enabled())
    create.click()

    details = panel(page).locator(f'.jp-sessions-details[aria-label="Template {TID}"]')
    expect(details).to_be_visible(timeout=10_000)
    expect(write_message(page)).to_have_text(re.compile(f"Created template {TID}"))
    body = api_get(lab, NAME).json()
    assert body["jupyterSession"] == {"kernel": "PYTHON", "displayName": "UI Team"}
    assert body["labels"] == {"team": "ui", "tier": "gold"}
    assert body["runtimeConfig"]["properties"] == {"spark:spark.executor.cores": "4"}
    assert body["environmentConfig"]["executionConfig"] == {"ttl": "7200s", "idleTtl": "1800s"}
    assert body["description"] == "The UI team's defaults"

    expect(launcher_cards(page)).to_have_text(
        ["Python on a new session", "UI Team"], timeout=15_000
    )
    shots_at_sizes(page, shot, "details", lambda: expect(details).to_be_visible())


def test_edit_renames_the_card_and_errors_write_nothing(
    page: Page, sized: Page, lab: Lab, shot: Shot
) -> None:
    """When the template is edited, the API and the launcher card follow; a duplicate id
    shows the server's message in the panel and nothing is written."""
    show_template(page, TID)
    panel(page).get_by_role("button", name="Edit", exact=True).click()
    expect(field(page, "Launcher card")).to_have_value("UI Team")
    expect(field(page, "TTL")).to_have_value("2h")
    field(page, "Launcher card").fill("UI Team v2")
    panel(page).get_by_role("button", name="Remove label tier=gold").click()
    panel(page).get_by_role("button", name="Save template").click()
    expect(write_message(page)).to_have_text(re.compile(f"Saved template {TID}"), timeout=10_000)
    body = api_get(lab, NAME).json()
    assert body["jupyterSession"]["displayName"] == "UI Team v2"
    assert body["labels"] == {"team": "ui"}
    assert body["runtimeConfig"]["properties"] == {"spark:spark.executor.cores": "4"}
    expect(launcher_cards(page)).to_have_text(
        ["Python on a new session", "UI Team v2"], timeout=15_000
    )

    panel(page).get_by_role("button", name="Back to the templates").click()
    panel(page).get_by_role("button", name="New template").click()
    field(page, "Template ID *").fill(TID)
    panel(page).get_by_role("button", name="Create template").click()
    alert = panel(page).locator(".jp-sessions-form [role=alert]").first
    expect(alert).to_have_text(
        re.compile(rf"Cannot create {TID}: .*already exists.*Nothing was saved\.$"),
        timeout=10_000,
    )
    shots_at_sizes(page, shot, "duplicate", lambda: expect(alert).to_be_visible())
    panel(page).get_by_role("button", name="Cancel").click()
    assert api_get(lab, NAME).json()["jupyterSession"]["displayName"] == "UI Team v2"


def test_changes_made_elsewhere_arrive_live(page: Page, sized: Page, lab: Lab, shot: Shot) -> None:
    """A template written through the server by someone else (a magic, the CLI, another
    tab) appears in the list and in the launcher at once, and goes when deleted."""
    open_templates(page)
    other = f"{PARENT}/sessionTemplates/from-a-magic"
    with lab.client() as jp:
        r = jp.post(
            f"{API}{PARENT}/sessionTemplates",
            json={"name": other, "jupyterSession": {"kernel": "PYTHON", "displayName": "Magic"}},
        )
        assert r.status_code == 200, r.text
    rows = panel(page).locator(".jp-sessions-template-row")
    expect(rows).to_have_count(2, timeout=10_000)
    expect(launcher_cards(page)).to_have_text(
        ["Python on a new session", "Magic", "UI Team v2"], timeout=15_000
    )
    expect(rows.first).to_have_attribute("data-template", "from-a-magic")
    shots_at_sizes(page, shot, "list", lambda: expect(rows).to_have_count(2))
    with lab.client() as jp:
        assert jp.delete(API + other).status_code == 200
    expect(rows).to_have_count(1, timeout=10_000)
    expect(launcher_cards(page)).to_have_text(
        ["Python on a new session", "UI Team v2"], timeout=15_000
    )


def test_new_session_from_the_template_and_delete_it_once_started(
    page: Page, sized: Page, lab: Lab, shot: Shot
) -> None:
    """ "New session from this template" opens the create form on it; deleting the template
    while that session is still starting is refused with the server's reason (the template
    stays); once the session is ACTIVE the template and its card go."""
    show_template(page, TID)
    panel(page).get_by_role("button", name="New session from this template").click()
    expect(panel(page).get_by_role("tab", name="Sessions")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(panel(page).locator("#jp-sessions-template")).to_have_value(NAME)
    session_id = panel(page).get_by_label("Session ID").input_value()
    panel(page).get_by_role("button", name="Create", exact=True).click()
    expect(panel(page).get_by_text(re.compile(rf"^{session_id}$")).first).to_be_visible()
    session = api_get(lab, f"{PARENT}/sessions/{session_id}").json()
    assert session["sessionTemplate"] == NAME and session["state"] == "CREATING"
    assert session["jupyterSession"]["displayName"] == "UI Team v2"

    show_template(page, TID)
    panel(page).get_by_role("button", name="Delete", exact=True).click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Session {session_id} is still starting")
    shot("confirm-in-use")
    dialog.locator(".jp-mod-warn").click()
    alert = panel(page).locator(".jp-sessions-details [role=alert]")
    expect(alert).to_have_text(
        re.compile(rf"Cannot delete {TID}: .*used by session {session_id}, which is still"),
        timeout=10_000,
    )
    shots_at_sizes(page, shot, "delete-refused", lambda: expect(alert).to_be_visible())
    assert api_get(lab, NAME).status_code == 200

    expect.set_options(timeout=20_000)
    for _ in range(200):
        if api_get(lab, f"{PARENT}/sessions/{session_id}").json()["state"] == "ACTIVE":
            break
        page.wait_for_timeout(100)
    panel(page).get_by_role("button", name="Dismiss").click()
    panel(page).get_by_role("button", name="Delete", exact=True).click()
    expect(dialog).to_contain_text("and its launcher card are removed")
    dialog.locator(".jp-mod-warn").click()
    expect(write_message(page)).to_have_text(re.compile(f"Deleted template {TID}"))
    expect(panel(page).locator(".jp-sessions-template-row")).to_have_count(0)
    assert api_get(lab, NAME).status_code == 404
    expect(launcher_cards(page)).to_have_text(["Python on a new session"], timeout=15_000)


def test_save_a_session_as_a_template(page: Page, sized: Page, lab: Lab, shot: Shot) -> None:
    """ "Save as template" on a session's details fills the template form from the session;
    the template keeps its labels and TTL and none of its system labels."""
    with lab.client() as jp:
        r = jp.post(
            f"{API}{PARENT}/sessions",
            params={"sessionId": "ui-source"},
            json={
                "jupyterSession": {"kernel": "PYTHON"},
                "labels": {"team": "ui"},
                "environmentConfig": {"executionConfig": {"ttl": "5400s"}},
            },
        )
        assert r.status_code == 200, r.text
    sessions_tab = panel(page).get_by_role("tab", name="Sessions")
    sessions_tab.click()
    expect(sessions_tab).to_have_attribute("aria-selected", "true")
    row = panel(page).locator('.jp-sessions-row[data-session="ui-source"]')
    if not row.is_visible():
        sessions_tab.click()  # the selected tab goes back to its list
    row.click()
    panel(page).get_by_role("button", name="Save as template").click()
    expect(panel(page).get_by_role("tab", name="Templates")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(field(page, "Template ID *")).to_have_value("ui-source-template")
    expect(field(page, "TTL")).to_have_value("1h30m")
    expect(panel(page).locator(".jp-sessions-chip")).to_have_text(["team=ui"])
    shots_at_sizes(
        page,
        shot,
        "save-as-template",
        lambda: expect(field(page, "Template ID *")).to_be_visible(),
    )
    panel(page).get_by_role("button", name="Create template").click()
    expect(write_message(page)).to_have_text(
        re.compile("Created template ui-source-template"), timeout=10_000
    )
    saved = api_get(lab, f"{PARENT}/sessionTemplates/ui-source-template").json()
    source = api_get(lab, f"{PARENT}/sessions/ui-source").json()
    assert saved["labels"] == {"team": "ui"}
    assert saved["runtimeConfig"] == source["runtimeConfig"]
    assert saved["environmentConfig"] == source["environmentConfig"]
    assert saved["description"] == "Saved from session ui-source"
    expect(launcher_cards(page)).to_have_text(
        ["Python on a new session", "ui-source-template"], timeout=15_000
    )
