"""``GET jupyter-sessions/kernel?session=NAME``: which kernel of this server runs a session.

``%%session`` in a notebook kernel uses it when the session's kernel is not on this machine
(Dataproc): the Jupyter server attaches to the session's kernel through the kernel gateway,
and the cell then runs over Jupyter's own kernel websocket. The notebook kernel holds only
the Jupyter token; the gateway's credentials stay in the server.
"""

from __future__ import annotations

import json

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.services.sessions.handlers import SessionRootHandler
from tornado import web

from ..api import errors
from ..api.names import ChildName
from .handlers import SessionsHandler
from .kernels import SessionKernelManager, gateway


class NotebookSessionsHandler(SessionRootHandler):
    """jupyter_server's ``POST /api/sessions`` (how JupyterLab opens a notebook on a
    kernel), answering a session kernel's refusal with its own status and sentence (503
    gateway down, 400 cannot run here, 429 quota) where jupyter_server makes any error of
    the kernel manager a 500."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            await ensure_async(super().post())
        except web.HTTPError as exc:
            cause = exc.__cause__
            if exc.status_code == 500 and isinstance(cause, web.HTTPError):
                raise cause from None
            raise


class SessionKernelHandler(SessionsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        name = self.get_query_argument("session", "")
        try:
            ChildName.parse(name, "sessions", "session")
            km = self.kernel_manager
            if not isinstance(km, SessionKernelManager):
                raise errors.FailedPrecondition(
                    "Session kernels are off on this Jupyter server "
                    "(SessionsExtensionApp.session_kernels, or another kernel manager is set)"
                )
            if not gateway.enabled:
                raise errors.Unavailable(gateway.problem)
            kernel_id = await km.kernel_for_session(name)
        except errors.ApiError as exc:
            self.send_error_json(exc)
            return
        self.finish(json.dumps({"id": kernel_id, "session": name}))
