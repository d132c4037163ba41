"""The magics, ``%%session`` and the widget panel in a real browser: JupyterLab (light and
dark, the panel 600 and 1200 px wide) and Notebook 7, against an embedded emulator that runs
a real kernel per session.

Screenshots of the panel go to ``artifacts/browser/widget_panel/`` (kept apart from the
other modules' screenshots, which are cleared per module).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from ..server.conftest import sessions_config
from ..support import PARENT, JupyterServerProcess, pid_alive, wait_for
from .conftest import ARTIFACTS, DISABLED_LAB_PLUGINS, Lab, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

LAB_CONFIG = {
    **sessions_config(emulator_runtime="kernel", emulator_args=["--warm-pool", "1"]),
    "LabApp": {"expose_app_in_browser": True},
}
API = "jupyter-sessions/v1/"
LIGHT, DARK = "JupyterLab Light", "JupyterLab Dark"
SHOTS = ARTIFACTS / "widget_panel"
# Long ids that share a prefix: cut the same way, they would all look alike.
SESSIONS = {
    "ux-timeline-analysis-alpha": {"team": "data", "purpose": "demo"},
    "ux-timeline-analysis-beta": {"team": "ml"},
    "ux-timeline-analysis-gamma": {},
}
RUN_IN = "ux-timeline-analysis-alpha"
CELLS = [
    "%load_ext jupyter_sessions",
    "%session list",
    "%session panel",
    f"%%session {RUN_IN}\ndef explode():\n    return 1 / 0\nanswer = 6\nanswer * 7",
    f"%%session {RUN_IN}\nexplode()",
]
HEADERS = ("State", "Age", "In state", "Creator", "Labels", "Usage", "Idle TTL")
NARROW_HIDDEN = {"In state", "Creator", "Labels"}


def write_notebook(root: Path, name: str) -> str:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(CELLS)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(json.dumps(nb))
    return name


def create_sessions(server: JupyterServerProcess) -> None:
    with server.client() as jp:
        for session_id, labels in SESSIONS.items():
            r = jp.get(f"{API}{PARENT}/sessions/{session_id}")
            if r.status_code == 200:
                continue
            r = jp.post(
                f"{API}{PARENT}/sessions",
                params={"sessionId": session_id},
                json={"jupyterSession": {"kernel": "PYTHON"}, "labels": labels},
            )
            assert r.status_code == 200, r.text

        def active() -> bool:
            states = {
                jp.get(f"{API}{PARENT}/sessions/{sid}").json().get("state") for sid in SESSIONS
            }
            return states == {"ACTIVE"}

        wait_for(active, 120, what="the sessions to be ACTIVE")


def wait_kernel_idle(page: Page) -> None:
    wait_for(
        lambda: page.evaluate(
            "() => !!window.jupyterapp && !!window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel"
            "?.status === 'idle'"
        ),
        60,
        what="the notebook's kernel to be idle",
    )


def run_all(page: Page) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def code_cells(page: Page) -> Locator:
    return page.locator(".jp-NotebookPanel:visible .jp-CodeCell")


def prompt_number(cell: Locator) -> int:
    text = cell.locator(".jp-InputPrompt").inner_text()
    found = re.search(r"\[(\d+)\]", text)
    assert found, text
    return int(found.group(1))


def check_magics_and_session_cells(page: Page) -> None:
    """The list is a table of the sessions; %%session's last expression is the cell's result;
    its remote traceback cites the notebook's own cell numbers."""
    cells = code_cells(page)
    listing = cells.nth(1).locator(".jp-OutputArea-output")
    for session_id in SESSIONS:
        expect(listing).to_contain_text(session_id, timeout=120_000)
    result = cells.nth(3).locator(".jp-OutputArea-output")
    expect(result).to_have_text("42", timeout=120_000)
    expect(cells.nth(3).locator(".jp-OutputArea-prompt")).to_contain_text(
        f"[{prompt_number(cells.nth(3))}]"
    )
    error = cells.nth(4).locator(".jp-OutputArea-output")
    expect(error).to_contain_text("ZeroDivisionError", timeout=120_000)
    text = error.inner_text()
    cited = [int(n) for n in re.findall(r"Cell In\[(\d+)\]", text)]
    assert cited == [prompt_number(cells.nth(4)), prompt_number(cells.nth(3))], text


def panel(page: Page) -> Locator:
    return page.locator(".jp-NotebookPanel:visible .jp-sessions-live-panel")


def row(page: Page, session_id: str) -> Locator:
    return (
        panel(page)
        .locator(".jp-sessions-live-row")
        .filter(has=page.locator(f'.jupyter-button[title^="{session_id}:"]'))
    )


def geometry(page: Page) -> dict[str, Any]:
    """Where the header's cells and every row's cells are, and whether anything overflows."""
    return dict(
        page.evaluate(
            """() => {
            const panel = [...document.querySelectorAll('.jp-sessions-live-panel')]
              .find(p => p.offsetParent !== null);
            const table = panel.querySelector('.jp-sessions-live-table');
            const box = e => e.getBoundingClientRect();
            const visible = e => getComputedStyle(e).display !== 'none';
            const head = panel.querySelector('.jp-sessions-live-head');
            const headerCells = [...head.querySelectorAll('.jp-sessions-live-grid > span')];
            const rows = [...panel.querySelectorAll('.jp-sessions-live-row')].map(r => ({
              id: box(r.querySelector('.jp-sessions-live-row-select')),
              cells: [...r.querySelectorAll('.jp-sessions-live-grid > span')]
                .filter(visible).map(c => ({left: box(c).left, width: box(c).width}))
            }));
            return {
              width: box(panel).width,
              overflow: table.scrollWidth - table.clientWidth,
              headerId: box(head.querySelector('.jp-sessions-live-header-id')),
              headers: headerCells.filter(visible).map(c => ({
                text: c.textContent, left: box(c).left, width: box(c).width,
                clipped: c.scrollWidth > c.clientWidth + 1
              })),
              rows
            };
          }"""
        )
    )


def set_panel_width(page: Page, target: int) -> dict[str, Any]:
    """Resize the window until the panel (the notebook's output width) is ``target`` px."""
    size = page.viewport_size or {"width": 1280, "height": 800}
    width = size["width"]
    for _ in range(4):
        page.set_viewport_size({"width": width, "height": 1800})
        page.wait_for_timeout(300)  # let the layout settle after the resize
        found = geometry(page)
        if abs(found["width"] - target) <= 4:
            return found
        width += round(target - found["width"])
    raise AssertionError(f"the panel is {found['width']} px wide, wanted {target}")


def set_theme(page: Page, theme: str) -> None:
    page.evaluate(
        "theme => window.jupyterapp.commands.execute('apputils:change-theme', { theme })", theme
    )
    expect(page.locator("body")).to_have_attribute("data-jp-theme-name", theme, timeout=10_000)
    # A theme change shows JupyterLab's splash for a moment: screenshots wait it out.
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=10_000)


def luminance(css_colour: str) -> float:
    channels = [int(c) for c in re.findall(r"\d+", css_colour)[:3]]
    r, g, b = (c / 255 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.fixture(scope="module")
def shots_dir() -> Path:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


@pytest.fixture(scope="module")
def lab_notebook(page: Page, lab: Lab) -> Page:
    """The notebook open in JupyterLab, all cells run, the panel showing every session."""
    create_sessions(lab)
    name = write_notebook(lab.workdir / "root", "panel.ipynb")
    page.goto(f"{lab.url}lab/tree/{name}?token={lab.token}", timeout=60_000)
    expect(code_cells(page)).to_have_count(len(CELLS), timeout=60_000)
    wait_kernel_idle(page)
    if page.locator("#jp-left-stack:visible").count():
        page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    run_all(page)
    for session_id in SESSIONS:
        expect(row(page, session_id)).to_be_visible(timeout=120_000)
    return page


@pytest.mark.parametrize("theme", [LIGHT, DARK])
def test_magics_and_session_cells_in_jupyterlab(
    lab_notebook: Page, shots_dir: Path, theme: str
) -> None:
    """Given the notebook run in JupyterLab, in each theme, then %session list shows the
    sessions, a %%session cell's last value is its result and its traceback cites this
    notebook's cells."""
    set_theme(lab_notebook, theme)
    check_magics_and_session_cells(lab_notebook)
    slug = "dark" if theme == DARK else "light"
    lab_notebook.screenshot(path=str(shots_dir / f"magics-{slug}.png"))


@pytest.mark.parametrize("width", [600, 1200])
@pytest.mark.parametrize("theme", [LIGHT, DARK])
def test_widget_panel_columns_stay_aligned(
    lab_notebook: Page, shots_dir: Path, theme: str, width: int
) -> None:
    """Given the panel at 600 and 1200 px in each theme, then every row's cells start where
    their header does, nothing overflows, the full ids are in tooltips, narrow panels drop
    the secondary columns, and the selected row stays in the theme's colours."""
    page = lab_notebook
    set_theme(page, theme)
    if not row(page, RUN_IN).locator(".jp-sessions-live-row-selected").count():
        selected = panel(page).locator(".jp-sessions-live-row-selected")
        if not selected.count():
            row(page, RUN_IN).locator(".jupyter-button").click()
    expect(panel(page).locator(".jp-sessions-live-row-selected")).to_have_count(1)
    found = set_panel_width(page, width)

    headers = [h["text"] for h in found["headers"]]
    expected = [h for h in HEADERS if width > 900 or h not in NARROW_HIDDEN]
    assert headers == expected
    assert not [h["text"] for h in found["headers"] if h["clipped"]]
    assert found["overflow"] <= 0, found
    assert len(found["rows"]) == len(SESSIONS)
    for r in found["rows"]:
        assert abs(r["id"]["left"] - found["headerId"]["left"]) <= 1
        assert abs(r["id"]["width"] - found["headerId"]["width"]) <= 1
        assert len(r["cells"]) == len(found["headers"])
        for cell, header in zip(r["cells"], found["headers"], strict=True):
            assert abs(cell["left"] - header["left"]) <= 1, (cell, header)
    for session_id in SESSIONS:
        button = row(page, session_id).locator(".jupyter-button")
        assert (button.get_attribute("title") or "").startswith(f"{session_id}:")
        usage = row(page, session_id).locator('[data-col="usage"]')
        assert usage.evaluate("e => e.scrollWidth <= e.clientWidth"), usage.inner_text()
        # Ids sharing a prefix stay apart: a cut id loses its start, never its end.
        assert button.evaluate("e => getComputedStyle(e).direction") == "rtl"

    selected_bg = computed(panel(page).locator(".jp-sessions-live-row-selected"), "backgroundColor")
    page_bg = page.evaluate(
        "() => getComputedStyle(document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-Notebook')).backgroundColor"
    )
    # The selection is a nuance of the page's own background, never a bright block.
    assert abs(luminance(selected_bg) - luminance(page_bg)) < 0.2, (selected_bg, page_bg)
    active_colour = computed(panel(page).locator('[data-state="ACTIVE"]').first, "color")
    theme_green = page.evaluate(
        "() => { const p = document.createElement('span');"
        " p.style.color = 'var(--jp-success-color1)'; document.body.appendChild(p);"
        " const c = getComputedStyle(p).color; p.remove(); return c; }"
    )
    assert active_colour == theme_green
    slug = "dark" if theme == DARK else "light"
    panel(page).screenshot(path=str(shots_dir / f"panel-{width}px-{slug}.png"))


def computed(locator: Locator, prop: str) -> str:
    """A computed style of a live row's element; the panel re-renders its rows as they
    change, and an element replaced between lookup and read has no style ('')."""
    script = f"e => e.isConnected ? getComputedStyle(e).{prop} : ''"
    return str(wait_for(lambda: locator.evaluate(script), 10, what=f"the {prop} of {locator}"))


def test_create_form_disables_create_and_says_why(lab_notebook: Page, shots_dir: Path) -> None:
    """Given the panel's create form, when the TTL is 5m, then Create is disabled and the
    form says the TTL needs fixing, with the side panel's words; a good TTL enables it."""
    page = lab_notebook
    set_theme(page, LIGHT)
    set_panel_width(page, 600)
    p = panel(page)
    p.locator(".jupyter-button", has_text="New session").click()
    form = p.locator(".jp-sessions-live-form")
    expect(form).to_be_visible()
    ttl = form.locator(".widget-text", has_text="TTL").first.locator("input")
    ttl.fill("5m")
    ttl.press("Tab")
    create = form.locator(".jupyter-button", has_text="Create")
    expect(create).to_be_disabled()
    expect(form).to_contain_text("At least 10 minutes.")
    expect(form.locator(".jp-sessions-live-form-blocked")).to_have_text("Fix TTL to create.")
    form.screenshot(path=str(shots_dir / "create-form-600px-light.png"))
    ttl.fill("2h")
    ttl.press("Tab")
    expect(create).to_be_enabled()
    expect(form.locator(".jp-sessions-live-form-blocked")).to_have_text("")
    form.locator(".jupyter-button", has_text="Cancel").click()
    expect(form).to_be_hidden()


# --- Notebook 7 ------------------------------------------------------------------------


class Notebook7(JupyterServerProcess):
    def __init__(self, workdir: Path) -> None:
        config = {
            **sessions_config(emulator_runtime="kernel", emulator_args=["--warm-pool", "1"]),
            "JupyterNotebookApp": {"expose_app_in_browser": True},
        }
        super().__init__(workdir, config=config, app="notebook")
        labconfig = workdir / "config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(
            json.dumps({"disabledExtensions": DISABLED_LAB_PLUGINS})
        )


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory, shots_dir: Path) -> Iterator[Notebook7]:
    proc = Notebook7(tmp_path_factory.mktemp("nb7"))
    emulator_pid = 0
    try:
        proc.start(timeout=90)
        with proc.emulator() as c:
            emulator_pid = int(c.get("healthz").json()["pid"])
        yield proc
    finally:
        proc.stop()
        if proc.log_path.exists():
            shutil.copyfile(proc.log_path, shots_dir / "notebook7-server.log")
    wait_for(lambda: not pid_alive(emulator_pid), 20, what=f"emulator {emulator_pid} to exit")


def test_magics_session_cells_and_panel_in_notebook_7(
    browser: Any, notebook7: Notebook7, shots_dir: Path
) -> None:
    """Given Notebook 7 with the extension, when a notebook runs the magics, %%session and
    %session panel, then they work as in JupyterLab: the list, the result, the traceback
    citing the notebook's cells, and a live panel whose rows line up with its header."""
    create_sessions(notebook7)
    name = write_notebook(notebook7.workdir / "root", "panel7.ipynb")
    page = browser.new_page()
    try:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{notebook7.url}notebooks/{name}?token={notebook7.token}", timeout=60_000)
        expect(code_cells(page)).to_have_count(len(CELLS), timeout=60_000)
        wait_kernel_idle(page)
        run_all(page)
        check_magics_and_session_cells(page)
        for session_id in SESSIONS:
            expect(row(page, session_id)).to_be_visible(timeout=60_000)
        found = geometry(page)
        assert found["headers"][0]["text"] == "State"
        assert found["overflow"] <= 0, found
        for r in found["rows"]:
            for cell, header in zip(r["cells"], found["headers"], strict=True):
                assert abs(cell["left"] - header["left"]) <= 1, (cell, header)
        panel(page).screenshot(path=str(shots_dir / "notebook7-panel.png"))
        page.screenshot(path=str(shots_dir / "notebook7-page.png"), full_page=True)
    finally:
        page.close()
