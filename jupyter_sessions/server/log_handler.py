"""``GET jupyter-sessions/log?session=NAME``: a session's kernel log, read-only, as text.

The embedded emulator writes each session kernel's log outside Jupyter's root folder and
names it in the session's ``runtimeInfo.endpoints["Jupyter Kernel Log"]``. This route lets
the side panel show it in JupyterLab: authenticated like every route of the extension, only
for the embedded emulator, only the file the session itself names, and only when that file
lies in the emulator's own data folder. ``tail`` bounds how much is sent (the end of the log).
"""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import errors
from ..api.names import ChildName
from .backend import LocalBackend
from .handlers import SessionsHandler

LOG_ENDPOINT = "Jupyter Kernel Log"
DEFAULT_TAIL = 256 * 1024
MAX_TAIL = 4 * 1024 * 1024


def _tail(raw: str) -> int:
    if not raw:
        return DEFAULT_TAIL
    try:
        value = int(raw)
    except ValueError:
        raise errors.InvalidArgument(f"tail must be a number of bytes, got {raw!r}") from None
    if not 1 <= value <= MAX_TAIL:
        raise errors.InvalidArgument(f"tail must be between 1 and {MAX_TAIL} bytes, got {value}")
    return value


def read_tail(path: Path, size: int) -> tuple[str, bool]:
    """The last ``size`` bytes of a file as text, and whether the start was cut."""
    with path.open("rb") as f:
        f.seek(0, 2)
        length = f.tell()
        f.seek(max(0, length - size))
        data = f.read(size)
    cut = length > size
    if cut:  # start at a line, not in the middle of one
        newline = data.find(b"\n")
        data = data[newline + 1 :] if 0 <= newline < len(data) - 1 else data
    return data.decode("utf-8", errors="replace"), cut


class SessionLogHandler(SessionsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        app = self.sessions_app
        name = self.get_query_argument("session", "")
        try:
            ChildName.parse(name, "sessions", "session")
            size = _tail(self.get_query_argument("tail", ""))
            if not isinstance(app.backend_impl, LocalBackend):
                raise errors.FailedPrecondition(
                    "Kernel logs are shown only for sessions of the embedded emulator; a "
                    "Dataproc session's logs are in Cloud Logging"
                )
            session = await app.backend_client.get_json("v1/" + name)
            endpoints = (session.get("runtimeInfo") or {}).get("endpoints") or {}
            logged = endpoints.get(LOG_ENDPOINT)
            if not isinstance(logged, str) or not logged:
                raise errors.NotFound(f"Session {name} has no kernel log (it has no kernel yet)")
            path = Path(logged).resolve()
            home = Path(app.emulator_data_dir).resolve()
            if not path.is_relative_to(home):
                raise errors.PermissionDenied(
                    f"The kernel log of {name} is outside the emulator's folder; not shown"
                )
            try:
                text, cut = read_tail(path, size)
            except FileNotFoundError:
                raise errors.NotFound(
                    f"The kernel log of {name} is gone (the session's kernel was cleaned up)"
                ) from None
        except errors.ApiError as exc:
            self.send_error_json(exc)
            return
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Jupyter-Sessions-Log", json.dumps({"path": str(path), "cut": cut}))
        self.finish(text, set_content_type="text/plain; charset=UTF-8")
