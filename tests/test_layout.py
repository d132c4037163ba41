"""The kernel side of the package stands without the server side.

A kernel imports ``jupyter_sessions`` (``%load_ext``), the client and the notebook modules; none
of them may load the Jupyter server, tornado, zmq, sqlite3, the extension or the emulator.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

KERNEL_SIDE = [
    "jupyter_sessions",
    "jupyter_sessions.client",
    "jupyter_sessions.client.event_stream",
    "jupyter_sessions.client.gcp_auth",
    "jupyter_sessions.client.retry",
    "jupyter_sessions.notebook",
    "jupyter_sessions.notebook.magics",
    "jupyter_sessions.notebook.commands",
    "jupyter_sessions.notebook.remote",
    "jupyter_sessions.notebook.cleanup",
    "jupyter_sessions.notebook.render",
    "jupyter_sessions.notebook.render_templates",
    "jupyter_sessions.notebook.templates_cmd",
    "jupyter_sessions.notebook.spark_magic",
    "jupyter_sessions.notebook.panel",
    "jupyter_sessions.notebook.panel.state",
    "jupyter_sessions.notebook.panel.html",
    "jupyter_sessions.notebook.panel.actions",
    "jupyter_sessions.notebook.panel.widget",
    "jupyter_sessions.widgets",
]

SERVER_SIDE = (
    "jupyter_server",
    "tornado",
    "zmq",
    "sqlite3",
    "jupyter_sessions.server",
    "jupyter_sessions.emulator",
)


@pytest.mark.parametrize("module", KERNEL_SIDE)
def test_a_kernel_side_import_loads_nothing_of_the_server_side(module: str) -> None:
    # Given a fresh interpreter, When a kernel-side module is imported
    code = (
        f"import sys, {module}\n"
        f"heavy = {SERVER_SIDE!r}\n"
        "print(sorted({m for m in sys.modules if m.startswith(heavy)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    # Then neither the Jupyter server, tornado, zmq, sqlite3, the extension nor the emulator
    # was loaded
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_public_names_stay_where_they_were() -> None:
    # Given the layout with client/ and notebook/, Then the public entry points still import
    from jupyter_sessions import load_ipython_extension
    from jupyter_sessions.client import AsyncSessionsClient, SessionsClient, discover_server
    from jupyter_sessions.notebook.panel import SessionsPanel as Lazy
    from jupyter_sessions.notebook.panel.widget import SessionsPanel as Real
    from jupyter_sessions.widgets import SessionsPanel

    assert callable(load_ipython_extension) and callable(discover_server)
    assert SessionsClient.__name__ == "SessionsClient"
    assert AsyncSessionsClient.__module__ == "jupyter_sessions.client.sessions"
    assert SessionsPanel is Real is Lazy
