"""jupyter-sessions: serverless interactive sessions (Dataproc v1 Sessions API) from Jupyter.

Kept light on purpose: importing the package (or ``%load_ext``) must not pull in the
server, the emulator or the widgets.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_sessions``: register the %session magics."""
    from .notebook.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook.magics import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import SessionsExtensionApp

    return [{"module": "jupyter_sessions", "app": SessionsExtensionApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-sessions-labextension"}]
