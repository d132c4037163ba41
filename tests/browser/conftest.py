"""Browser fixtures: one real JupyterLab (with the simulated emulator behind the extension)
and one Debian chromium driven by Playwright, shared by a test module.

Screenshots go to ``artifacts/browser/<test module>/`` at the repository root, one per
step, plus one named after any test that fails.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..server.conftest import sessions_config
from ..support import JupyterServerProcess, pid_alive, wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
PANEL = "#jp-sessions-panel"
PANEL_TAB = f'.jp-SideBar .lm-TabBar-tab[data-id="{PANEL[1:]}"]'
# JupyterLab's own plugins that would reach the network or put toasts over the panel, and
# Notebook 7's "Open in Notebook" toolbar button (the test extra brings Notebook 7; the
# layouts measured here are JupyterLab's own).
DISABLED_LAB_PLUGINS = {
    "@jupyterlab/apputils-extension:announcements": True,
}

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install -y chromium)"
)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class Lab(JupyterServerProcess):
    """``jupyter lab`` with the sessions extension and its simulated emulator."""

    def __init__(self, workdir: Path, config: dict[str, Any] | None = None) -> None:
        super().__init__(workdir, config=config or sessions_config(), app="jupyterlab")
        labconfig = workdir / "config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(
            json.dumps({"disabledExtensions": DISABLED_LAB_PLUGINS})
        )

    @property
    def lab_url(self) -> str:
        return f"{self.url}lab?token={self.token}"

    def endpoint(self) -> str:
        """The emulator's base URL (``.../``), from the extension's config."""
        return str(self.config()["endpoint"])

    def parent(self) -> str:
        return str(self.config()["parent"])

    def emulator_pid(self) -> int:
        with self.emulator() as c:
            return int(c.get("healthz").json()["pid"])


@pytest.fixture(scope="module")
def artifacts(request: pytest.FixtureRequest) -> Path:
    """``artifacts/browser/<test module>/``: each module replaces only its own screenshots."""
    folder = ARTIFACTS / request.module.__name__.rsplit(".", 1)[-1]
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture(scope="module")
def lab(
    tmp_path_factory: pytest.TempPathFactory, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    """One ``jupyter lab`` per module (configured by the module's ``LAB_CONFIG``, if any);
    its log and its emulator's end up in the artefacts."""
    proc = Lab(tmp_path_factory.mktemp("lab"), getattr(request.module, "LAB_CONFIG", None))
    emulator_pid = 0
    try:
        proc.start(timeout=90)
        emulator_pid = proc.emulator_pid()
        yield proc
        emulator_pid = proc.emulator_pid()  # it may have been restarted meanwhile
    finally:
        proc.stop()
        for log in (proc.log_path, proc.data_dir / "jupyter_sessions" / "emulator.log"):
            if log.exists():
                shutil.copyfile(log, artifacts / f"{log.stem}.log")
    # Stopping the server stops the emulator it started: nothing is left behind.
    wait_for(lambda: not pid_alive(emulator_pid), 20, what=f"emulator {emulator_pid} to exit")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        # A persistent context on an empty directory: a fresh profile per module.
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(browser: Any, lab: Lab, artifacts: Path) -> Iterator[Any]:
    """JupyterLab loaded once for the module, its shell up and the sessions tab present."""
    from playwright.sync_api import expect

    page = browser.pages[0] if browser.pages else browser.new_page()
    log: list[str] = []
    page.on("console", lambda m: log.append(f"console.{m.type}: {m.text}"))
    page.on("pageerror", lambda e: log.append(f"pageerror: {e}"))
    try:
        try:
            page.goto(lab.lab_url, timeout=60_000)
            expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=60_000)
            expect(page.locator(PANEL_TAB)).to_be_visible(timeout=30_000)
            expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=30_000)
            # The default workspace restored: the launcher is the last thing it opens.
            expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=30_000)
        except Exception:
            page.screenshot(path=str(artifacts / "FAILED-load.png"))
            raise
        yield page
    finally:
        (artifacts / "console.log").write_text("\n".join(log) + "\n")


@pytest.fixture
def shot(page: Any, artifacts: Path, request: pytest.FixtureRequest) -> Generator[Any, None, None]:
    """``shot("step")`` saves ``artifacts/browser/<module>/<test>-<n>-<step>.png``; a failing test
    leaves ``FAILED-<test>.png``."""
    test = re.sub(r"^test_", "", request.node.name)
    count = [0]

    def take(step: str) -> Path:
        count[0] += 1
        path = artifacts / f"{test}-{count[0]:02d}-{step}.png"
        page.screenshot(path=str(path))
        return path

    yield take
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(artifacts / f"FAILED-{test}.png"))
