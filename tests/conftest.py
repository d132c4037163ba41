from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .reliability.harness import FIGURES
from .support import EmulatorProcess

# Session kernels start plain unless a test asks for local Spark (`--spark auto`): a JVM
# per kernel would cost every other test seconds of CPU.
os.environ.setdefault("JUPYTER_SESSIONS_SPARK", "off")


def _simulated(
    factory: pytest.TempPathFactory, name: str, *extra: str
) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(
        factory.mktemp(name), "--runtime", "simulated", "--ttl-floor", "1", "--tick", "0.2", *extra
    ).start()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def simulated_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """A simulated-runtime emulator shared by a test module (zero delays)."""
    yield from _simulated(tmp_path_factory, "emu")


@pytest.fixture
def api(simulated_emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with simulated_emulator.client() as client:
        yield client


# --- the figures the reliability tests measured, in the run summary ------------------------
# Under pytest-xdist (`make test`) each worker measures its own: it hands them to the
# controller, which prints them all.


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["reliability_figures"] = json.dumps(FIGURES, default=str)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    figures = getattr(node, "workeroutput", {}).get("reliability_figures")
    if figures:
        FIGURES.extend((name, values) for name, values in json.loads(figures))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, figures in FIGURES:
        shown = ", ".join(f"{k}={v}" for k, v in figures.items())
        terminalreporter.write_line(f"{name}: {shown}")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="module")
def slow_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """A simulated-runtime emulator whose starts and stops take a moment, so tests can act
    on sessions while they are CREATING or TERMINATING."""
    yield from _simulated(tmp_path_factory, "emu-slow", "--start-delay", "1", "--stop-delay", "1")


@pytest.fixture
def slow_api(slow_emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with slow_emulator.client() as client:
        yield client


# --- the order modules start in ------------------------------------------------------------
# Under pytest-xdist each module runs whole on one worker, in collection order: the longest
# modules go first, so no worker is left running one of them alone at the end.
_LONGEST_FIRST = (
    "emulator/test_spark_sessions.py",
    "server/test_live_changes.py",
    "server/test_events.py",
    "browser/",
    "reliability/test_embedded_emulator.py",
    "reliability/test_faults.py",
    "cli/",
    "magics/",
    "panel/test_panel_live.py",
)


def _start_rank(item: pytest.Item) -> int:
    path = item.path.as_posix()
    for rank, part in enumerate(_LONGEST_FIRST):
        if f"/tests/{part}" in path:
            return rank
    return len(_LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_start_rank)  # stable: a module's tests keep their order
