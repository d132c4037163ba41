"""Session kernels in a real JupyterLab: the launcher's "Sessions" cards, a notebook whose
kernel runs in a session of the embedded emulator (real kernels, one kept warm), the notebook
toolbar's live session state, the side panel's notebook badge, and "Open a notebook on this
session".

The tests run in order and share one JupyterLab page; each leaves the page with its own
notebooks open.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from ..server.conftest import sessions_config
from ..support import PARENT, wait_for
from .conftest import PANEL, PANEL_TAB, Lab, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

LAB_CONFIG = {
    **sessions_config(emulator_runtime="kernel", emulator_args=["--warm-pool", "1"]),
    # The page's app handle (window.jupyterapp), used only to switch themes for screenshots.
    "LabApp": {"expose_app_in_browser": True},
}

API = "jupyter-sessions/v1/"
TEMPLATE_ID = "team-python"
TEMPLATE_DISPLAY = "Team Python"
PLAIN_DISPLAY = "Python on a new session"
LIGHT, DARK = "JupyterLab Light", "JupyterLab Dark"
SIZES = {1400: 900, 900: 800}

Shot = Callable[[str], Path]


@pytest.fixture(scope="module")
def template(lab: Lab) -> str:
    """A session template with a Jupyter block, written through the extension's proxy
    before the page loads (so its kernelspec is there from the start)."""
    name = f"{PARENT}/sessionTemplates/{TEMPLATE_ID}"
    with lab.client() as jp:
        r = jp.post(
            f"{API}{PARENT}/sessionTemplates",
            json={
                "name": name,
                "description": "The team's Python defaults",
                "jupyterSession": {"kernel": "PYTHON", "displayName": TEMPLATE_DISPLAY},
            },
        )
    assert r.status_code == 200, r.text
    return name


@pytest.fixture
def sized(page: Page) -> Iterator[Page]:
    """The page at its default size, in the light theme, again after the test."""
    yield page
    set_theme(page, LIGHT)
    page.set_viewport_size({"width": 1280, "height": 800})


# --- helpers ------------------------------------------------------------------------------


def set_theme(page: Page, theme: str) -> None:
    page.evaluate(
        "theme => window.jupyterapp.commands.execute('apputils:change-theme', { theme })", theme
    )
    expect(page.locator("body")).to_have_attribute("data-jp-theme-name", theme, timeout=10_000)


def shots_at_sizes(page: Page, shot: Shot, step: str, ready: Callable[[], None]) -> None:
    """Screenshots at 1400 and 900 px wide, light then dark theme."""
    for theme in (LIGHT, DARK):
        set_theme(page, theme)
        for width, height in SIZES.items():
            page.set_viewport_size({"width": width, "height": height})
            ready()
            page.wait_for_timeout(300)  # let the layout settle before the picture
            shot(f"{step}-{width}-{'dark' if theme == DARK else 'light'}")
    set_theme(page, LIGHT)


def launcher(page: Page) -> Locator:
    return page.locator(".jp-Launcher:visible")


def sessions_section(page: Page) -> Locator:
    return (
        launcher(page)
        .locator(".jp-Launcher-section")
        .filter(has=page.locator(".jp-Launcher-sectionTitle", has_text=re.compile("^Sessions$")))
    )


def notebook(page: Page) -> Locator:
    return page.locator(".jp-NotebookPanel:visible")


def status_item(page: Page) -> Locator:
    return notebook(page).locator(".jp-sessions-kernel-status")


def run_cell(page: Page, code: str) -> str:
    """Type ``code`` into the last cell of the visible notebook, run it, return its output."""
    cells = notebook(page).locator(".jp-Notebook .jp-Cell")
    before = notebook(page).locator(".jp-OutputArea-output").count()
    editor = cells.last.locator(".cm-content")
    editor.click()
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")
    outputs = notebook(page).locator(".jp-OutputArea-output")
    expect(outputs).to_have_count(before + 1, timeout=60_000)
    return str(outputs.last.inner_text())


def ancestors(pid: int) -> list[int]:
    """``pid``'s parent, grandparent, ... up to init."""
    chain: list[int] = []
    while pid > 1:
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(") ", 1)[1].split()[1])
        chain.append(pid)
    return chain


def session_state(lab: Lab, name: str) -> str:
    with lab.client() as jp:
        return str(jp.get(API + name).json().get("state"))


def shut_down_kernel_from_the_menu(page: Page) -> None:
    page.locator(".lm-MenuBar-item", has_text=re.compile("^Kernel$")).first.click()
    page.locator(".lm-Menu-item", has_text=re.compile(r"^Shut Down Kernel")).first.click()
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(state="visible", timeout=2_000)
    except Exception:
        return  # no confirmation asked
    dialog.locator(".jp-mod-accept").click()
    expect(dialog).to_have_count(0, timeout=5_000)


def panel(page: Page) -> Locator:
    return page.locator(PANEL)


def details_of(page: Page, session_id: str) -> Locator:
    return panel(page).locator(f'.jp-sessions-details[aria-label="Session {session_id}"]')


# --- the tests ----------------------------------------------------------------------------


def test_launcher_has_a_sessions_section_with_a_card_per_session_kernelspec(
    template: str, page: Page, sized: Page, shot: Shot
) -> None:
    """Given a template with a Jupyter block, when the launcher shows, then a "Sessions"
    section between Notebook and Console has a card for a plain session and one for the
    template, named by their kernelspecs' display names."""
    expect(launcher(page)).to_be_visible(timeout=30_000)
    section = sessions_section(page)
    expect(section).to_be_visible(timeout=30_000)
    cards = section.locator(".jp-LauncherCard")
    expect(cards).to_have_count(2, timeout=30_000)
    expect(cards.locator(".jp-LauncherCard-label")).to_have_text([PLAIN_DISPLAY, TEMPLATE_DISPLAY])
    assert cards.nth(1).get_attribute("title") == (
        "The team's Python defaults\nCreates a Python session from template team-python in "
        f"{PARENT} and opens a notebook whose kernel runs in it"
    )
    titles = launcher(page).locator(".jp-Launcher-sectionTitle").all_inner_texts()
    assert titles.index("Notebook") < titles.index("Sessions") < titles.index("Console"), titles
    # The local kernels keep their normal cards.
    notebook_cards = launcher(page).locator('.jp-LauncherCard[data-category="Notebook"]')
    expect(notebook_cards.filter(has_text=re.compile(r"^Python 3"))).to_have_count(1)
    shots_at_sizes(page, shot, "launcher", lambda: expect(cards.first).to_be_visible())


def test_a_card_opens_a_notebook_whose_kernel_runs_in_a_new_session(
    template: str, page: Page, sized: Page, lab: Lab, shot: Shot
) -> None:
    """Given the launcher, when the plain session card is clicked, then a notebook opens
    whose toolbar says a session is starting, then names the session, ACTIVE; a cell runs in
    the session's kernel (a process of the emulator, not of the Jupyter server); clicking
    the toolbar item shows the session, with the notebook attached; shutting the kernel
    down from the Kernel menu terminates the session."""
    expect(launcher(page)).to_be_visible(timeout=30_000)
    # Hold the notebook's kernel start in the browser until the test has seen the
    # "starting" state, as a Dataproc session start would last minutes.
    held: list[Route] = []

    def hold(route: Route) -> None:
        if route.request.method == "POST" and not held:
            held.append(route)
        else:
            route.continue_()

    page.route(re.compile(r"/api/sessions(\?.*)?$"), hold)
    try:
        sessions_section(page).locator(".jp-LauncherCard", has_text=PLAIN_DISPLAY).click()
        expect(notebook(page)).to_be_visible(timeout=30_000)
        starting = status_item(page)
        expect(starting).to_have_attribute("data-state", "STARTING", timeout=30_000)
        expect(starting).to_have_text(re.compile(r"^Starting a session… 0:\d\d$"))
        for _ in range(100):  # route handlers run while Playwright waits
            if held:
                break
            page.wait_for_timeout(100)
        assert held, "the kernel start request was not seen"
        page.wait_for_timeout(1_500)  # the clock ticks while the start is held
        expect(starting).to_have_text(re.compile(r"^Starting a session… 0:0[1-9]$"))
        shot("starting")
    finally:
        for route in held:
            route.continue_()
        page.unroute(re.compile(r"/api/sessions(\?.*)?$"), hold)

    item = status_item(page)
    expect(item).to_have_attribute("data-state", "ACTIVE", timeout=60_000)
    text = item.get_attribute("aria-label") or ""
    match = re.fullmatch(r"(kernel-[0-9a-f]+) · ACTIVE", text)
    assert match, text
    session_id = match.group(1)
    session = f"{PARENT}/sessions/{session_id}"
    assert session_state(lab, session) == "ACTIVE"
    with lab.client() as jp:
        kernels = {k["id"]: k for k in jp.get("api/kernels").json()}
        uid = jp.get(API + session).json()["uuid"]
    assert kernels[uid]["metadata"]["endpointParentResource"] == (
        f"//dataproc.googleapis.com/{session}"
    )
    assert kernels[uid]["metadata"]["startedHere"] is True

    output = run_cell(page, 'import os; os.getpid(), os.environ.get("JUPYTER_SESSIONS_SESSION")')
    found = re.fullmatch(r"\((\d+),\s*'([^']*)'\)", output.strip())  # IPython wraps it
    assert found, output
    pid, named = int(found.group(1)), found.group(2)
    assert named == session
    chain = ancestors(pid)
    assert lab.emulator_pid() in chain, (pid, chain)  # a kernel of the session's runtime
    assert pid != lab.pid

    shots_at_sizes(
        page,
        shot,
        "notebook",
        # in sight on the toolbar (not in its overflow menu), even when narrow
        lambda: expect(status_item(page).locator(".jp-sessions-kernel-status-state")).to_have_text(
            "ACTIVE"
        ),
    )

    # The toolbar item opens the session in the side panel, where the notebook shows.
    page.set_viewport_size({"width": 1400, "height": 900})
    item.click()
    details = details_of(page, session_id)
    expect(details).to_be_visible(timeout=10_000)
    badge = details.locator(".jp-sessions-notebook-badge")
    expect(badge).to_be_visible(timeout=20_000)
    attached = re.compile(r"^A notebook is attached: Untitled\d*\.ipynb$")
    expect(badge).to_have_attribute("title", attached)
    shot("details-attached")

    # When the kernel is shut down from the Kernel menu, the session it created ends.
    notebook(page).locator(".jp-Notebook").click()
    shut_down_kernel_from_the_menu(page)
    header_badge = details.locator(".jp-sessions-details-header .jp-sessions-badge")
    expect(header_badge).to_have_attribute("data-state", "TERMINATED", timeout=60_000)
    assert session_state(lab, session) == "TERMINATED"
    expect(status_item(page)).to_have_attribute("data-state", "TERMINATED", timeout=20_000)
    expect(status_item(page)).to_have_text(f"{session_id} · TERMINATED")
    expect(badge).to_have_count(0, timeout=20_000)  # no notebook on it any more
    # Shut down from here: no toast about the end of the session.
    expect(page.locator(".Toastify__toast", has_text=session_id)).to_have_count(0)
    shot("terminated")


def test_open_a_notebook_on_an_active_session_and_hear_when_it_ends(
    page: Page, sized: Page, lab: Lab, shot: Shot
) -> None:
    """Given an ACTIVE session created elsewhere, when "Open a notebook on this session"
    is clicked in its details, then a new notebook runs in that session's kernel and the
    session shows a notebook attached; when the session is terminated from elsewhere, the
    notebook's toolbar says TERMINATED with the reason and a notification says what to do."""
    session_id = f"attach-{uuid.uuid4().hex[:6]}"
    session = f"{PARENT}/sessions/{session_id}"
    with lab.client() as jp:
        r = jp.post(
            f"{API}{PARENT}/sessions", params={"sessionId": session_id}, json={"jupyterSession": {}}
        )
        assert r.status_code == 200, r.text
    wait_for(lambda: session_state(lab, session) == "ACTIVE", 60, what="ACTIVE")

    page.set_viewport_size({"width": 1400, "height": 900})
    if not panel(page).is_visible():
        page.locator(PANEL_TAB).click()
    back = panel(page).get_by_role("button", name="Back to the list")
    if back.count():
        back.first.click()
    row = panel(page).locator(f'.jp-sessions-row[data-session="{session_id}"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator(".jp-sessions-notebook-badge")).to_have_count(0)
    row.click()
    details = details_of(page, session_id)
    open_button = details.get_by_role("button", name="Open a notebook on this session")
    expect(open_button).to_be_enabled(timeout=30_000)
    before = notebook(page).count()
    open_button.click()

    item = status_item(page)
    expect(item).to_have_text(f"{session_id} · ACTIVE", timeout=60_000)
    assert notebook(page).count() == max(before, 1)
    output = run_cell(page, 'import os; os.environ.get("JUPYTER_SESSIONS_SESSION")')
    assert output.strip() == repr(session)
    expect(details.locator(".jp-sessions-notebook-badge")).to_be_visible(timeout=20_000)
    shot("attached")
    # The list marks the session as having a notebook.
    panel(page).get_by_role("button", name="Back to the list").first.click()
    row_badge = row.locator(".jp-sessions-notebook-badge")
    expect(row_badge).to_have_attribute("title", re.compile(r"^A notebook is attached: Untitled"))
    shot("listed-with-notebook")

    # When the session is terminated by someone else
    with lab.client() as jp:
        r = jp.post(f"{API}{session}:terminate", json={})
        assert r.status_code == 200, r.text
    expect(item).to_have_attribute("data-state", "TERMINATED", timeout=60_000)
    title = item.get_attribute("title") or ""
    assert title.startswith("TERMINATED"), title
    toast = page.locator(".Toastify__toast", has_text=f"Session {session_id} ended")
    expect(toast).to_be_visible(timeout=20_000)
    expect(toast).to_contain_text("Start a new kernel to go on.")
    expect(toast.get_by_role("button", name="Change kernel…")).to_be_visible()
    expect(toast).not_to_have_class(re.compile(r"Toastify--animate"), timeout=5_000)
    expect(row).to_be_visible()
    expect(row.locator(".jp-sessions-badge")).to_have_attribute("data-state", "TERMINATED")
    shot("ended-notification")
