"""The layer contract (``[tool.importlinter]`` in pyproject.toml, run by ``make lint``) holds,
and it fails on a wrong import.

Each wrong import is written into a copy of the package in a temporary directory; the
repository itself is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is missing")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "jupyter_sessions",
        tmp_path / "jupyter_sessions",
        ignore=shutil.ignore_patterns("labextension", "__pycache__", "*.json"),
    )
    return tmp_path


def test_the_layers_hold_in_the_repository() -> None:
    # Given the package as it is, When the contract is checked, Then every layer holds
    out = lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("api/model.py", "import httpx", "api is the resource model: no I/O library"),
        ("api/codec.py", "import sqlite3", "api is the resource model: no I/O library"),
        ("client/retry.py", "from ..notebook import render", "client imports only api"),
        ("notebook/render.py", "from ..server import app", "notebook imports client and api"),
        ("notebook/panel/state.py", "from ...emulator import store", "notebook imports client"),
        ("emulator/store.py", "from ..server import backend", "emulator never imports server"),
        ("server/watcher.py", "from ..notebook import magics", "server never imports notebook"),
    ],
)
def test_a_wrong_import_breaks_the_contract(
    copy: Path, module: str, bad_import: str, contract: str
) -> None:
    # Given a copy of the package with one import across a layer
    path = copy / "jupyter_sessions" / module
    path.write_text(path.read_text() + f"\n{bad_import}  # noqa\n")
    # When the contract is checked
    out = lint(copy)
    # Then it fails and names the broken contract
    assert out.returncode != 0, out.stdout
    broken = out.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, out.stdout
