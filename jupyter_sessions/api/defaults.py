"""Defaults every part shares: the local project and location, the data directory, the
system-label prefix, what counts as loopback, and who the local user is.

Pure values and small functions, no I/O at import time (the data directory is computed when
asked for).
"""

from __future__ import annotations

import getpass
import ipaddress
from pathlib import Path

#: The project and location of the embedded emulator when none is configured.
DEFAULT_PROJECT = "local-project"
DEFAULT_LOCATION = "local"

#: Labels the service sets itself (``goog-dataproc-session-id`` ...); they are not the user's.
SYSTEM_LABEL_PREFIX = "goog-dataproc-"


def is_system_label(key: str) -> bool:
    """True for the labels the service sets (``goog-dataproc-*``)."""
    return key.startswith(SYSTEM_LABEL_PREFIX)


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_user() -> str:
    """The local user's name, or ``""`` where there is none (some containers)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return ""


def default_creator() -> str:
    """The emulator's ``creator`` of sessions: ``user@localhost``."""
    return f"{default_user() or 'user'}@localhost"


def default_data_dir() -> Path:
    """Where the emulator keeps its database: ``<Jupyter data dir>/jupyter_sessions``."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "jupyter_sessions"
