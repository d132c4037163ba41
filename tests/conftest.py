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
