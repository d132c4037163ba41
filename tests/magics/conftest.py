from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..server.conftest import sessions_config
from ..support import JupyterServerProcess

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

KERNEL_SERVER_CONFIG = sessions_config(
    emulator_runtime="kernel", emulator_args=["--warm-pool", "1", "--ttl-floor", "1"]
)


def kernel_env(server: JupyterServerProcess, tmp: Path) -> dict[str, str]:
    """The environment of a kernel started outside the server (nbclient, a KernelManager):
    how to reach the test server, and nothing of the machine's own Jupyter setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SESSIONS_")}
    env.update(
        {
            "JUPYTER_SESSIONS_URL": server.url,
            "JUPYTER_SESSIONS_TOKEN": server.token,
            "JUPYTER_RUNTIME_DIR": str(tmp / "kernel-runtime"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def plain(text: str) -> str:
    return ANSI.sub("", text)


def output_text(outputs: list[Any], name: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("name") == name)


@pytest.fixture(scope="module")
def kernel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    """A real Jupyter server whose embedded emulator runs a real kernel per session."""
    proc = JupyterServerProcess(tmp_path_factory.mktemp("server"), config=KERNEL_SERVER_CONFIG)
    proc.start()
    yield proc
    proc.stop()
