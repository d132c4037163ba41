"""The HTTP client of the Sessions API, as kernels, the command line and scripts use it.

``SessionsClient`` / ``AsyncSessionsClient`` (httpx) talk to the Jupyter server extension, to the
emulator directly or to Google: CRUD, lazy paging, bounded waits, typed errors and safe retries
with the same requestId. Beside them: finding the Jupyter server (``discover_server``), the event
stream of the extension, retry hints and Google credentials. This package imports only
``jupyter_sessions.api`` of the project: no Jupyter server, no tornado, no emulator.
"""

from __future__ import annotations

from . import sessions as _sessions
from .sessions import *  # noqa: F403 (the public names are sessions.__all__)

__all__ = list(_sessions.__all__)
