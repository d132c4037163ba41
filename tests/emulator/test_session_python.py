"""Session kernels in another Python environment (--session-python, per runtime version),
and what a session says when local Spark cannot run."""

from __future__ import annotations

import json
import os
import sys
import sysconfig
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sessions.api.model import Session
from jupyter_sessions.notebook.render import SessionView

from ..support import EmulatorProcess, new_venv
from .test_spark_sessions import create, execute

PARENT = "projects/spark-project/locations/local"


@pytest.fixture(scope="module")
def other_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second virtual environment: its own prefix and a module only it has, and (through a
    .pth file) this environment's packages for ipykernel."""
    root = tmp_path_factory.mktemp("other-env") / "venv"
    _, site = new_venv(root)
    Path(site, "ours.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    Path(site, "only_in_other_env.py").write_text("WHERE = 'other'\n")
    return root


@pytest.fixture(scope="module")
def emulator(
    tmp_path_factory: pytest.TempPathFactory, other_env: Path
) -> Iterator[EmulatorProcess]:
    # No Java where the emulator looks: local Spark is unavailable, and sessions say so.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JAVA_HOME", str(tmp_path_factory.mktemp("no-java")))
        emu = EmulatorProcess(
            tmp_path_factory.mktemp("py-emu"),
            "--runtime",
            "kernel",
            "--spark",
            "auto",
            "--warm-pool",
            "1",
            "--session-python",
            f"2.2={other_env / 'bin' / 'python'}",
        ).start()
    yield emu
    emu.stop(timeout=60)


PROBE = (
    "import sys, json, importlib.util\n"
    "print(json.dumps({'prefix': sys.prefix,"
    " 'marker': importlib.util.find_spec('only_in_other_env') is not None,"
    " 'spark': 'spark' in globals()}))"
)


def test_runtime_version_picks_the_sessions_python(
    emulator: EmulatorProcess, other_env: Path
) -> None:
    """Given an emulator whose runtime version 2.2 runs in a second environment
    When a 2.2 session and a default-version session run code
    Then the 2.2 kernel runs in the second environment (its prefix, its own module) and the
    other in the emulator's own."""
    with emulator.client() as client:
        other = create(client, "v22-" + uuid.uuid4().hex[:8], {"runtimeConfig": {"version": "2.2"}})
        own = create(client, "v23-" + uuid.uuid4().hex[:8], {})
    got_other = json.loads(
        execute(other["runtimeInfo"]["endpoints"]["Jupyter Kernel Connection File"], PROBE)
    )
    got_own = json.loads(
        execute(own["runtimeInfo"]["endpoints"]["Jupyter Kernel Connection File"], PROBE)
    )
    assert os.path.realpath(got_other["prefix"]) == os.path.realpath(other_env)
    assert got_other["marker"] is True
    assert os.path.realpath(got_own["prefix"]) == os.path.realpath(sys.prefix)
    assert got_own["marker"] is False


def test_without_java_sessions_work_and_say_spark_is_not_available(
    emulator: EmulatorProcess,
) -> None:
    """Given an emulator that finds no Java
    When a session is created
    Then its kernel runs (without `spark`), and its endpoints say Spark is not available
    locally, why, and what to install."""
    with emulator.client() as client:
        s = create(client, "nojava-" + uuid.uuid4().hex[:8], {})
    endpoints = s["runtimeInfo"]["endpoints"]
    assert "Spark UI" not in endpoints
    note = endpoints["Spark"]
    assert note.startswith("not available locally: no Java runtime found")
    assert "jupyter-sessions[spark]" in note and "openjdk-17-jre-headless" in note
    got = json.loads(execute(endpoints["Jupyter Kernel Connection File"], PROBE))
    assert got["spark"] is False
    described = SessionView.of(Session.from_json(s))._text()  # what `%session describe` prints
    assert "Spark: not available locally: no Java runtime found" in described
