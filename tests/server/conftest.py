from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..support import JupyterServerProcess

FAST_WATCH: dict[str, Any] = {
    "steady_poll_interval": 0.5,
    "transition_poll_interval": 0.1,
    "full_list_interval": 2.0,
    "heartbeat_interval": 1.0,
}


def sessions_config(**overrides: Any) -> dict[str, Any]:
    return {
        "SessionsExtensionApp": {
            "emulator_runtime": "simulated",
            "emulator_args": ["--start-delay", "1", "--stop-delay", "1", "--ttl-floor", "1"],
            "project": "test-project",
            "location": "us-central1",
            **FAST_WATCH,
            **overrides,
        }
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    """A real Jupyter server whose extension runs a simulated emulator (1 s transitions)."""
    proc = JupyterServerProcess(tmp_path_factory.mktemp("server"), config=sessions_config())
    proc.start()
    yield proc
    proc.stop()
