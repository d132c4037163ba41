from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..local_kernel import kernel_env as kernel_env
from ..server.conftest import sessions_config
from ..support import JupyterServerProcess

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

KERNEL_SERVER_CONFIG = sessions_config(
    emulator_runtime="kernel", emulator_args=["--warm-pool", "1", "--ttl-floor", "1"]
)


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
