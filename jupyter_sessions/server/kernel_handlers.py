"""``GET jupyter-sessions/kernel?session=NAME``: which kernel of this server runs a session.

``%%session`` in a notebook kernel uses it when the session's kernel is not on this machine
(Dataproc): the Jupyter server attaches to the session's kernel through the kernel gateway,
and the cell then runs over Jupyter's own kernel websocket. The notebook kernel holds only
the Jupyter token; the gateway's credentials stay in the server.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.services.kernels.handlers import (
    KernelActionHandler,
    _kernel_action_regex,
    _kernel_id_regex,
)
from jupyter_server.services.sessions.handlers import SessionRootHandler
from tornado import web

from ..api import errors
from ..api.names import ChildName
from .handlers import SessionsHandler
from .kernels import SessionKernelManager, gateway


async def keeping_status(call: Awaitable[None] | None) -> None:
    """Await a jupyter_server handler method that makes any error a 500: a deliberate
    HTTPError under it (a session kernel's refusal, an unknown kernel's 404) keeps its own
    status and sentence."""
    try:
        await ensure_async(call)
    except web.HTTPError as exc:
        cause = exc.__cause__
        if exc.status_code == 500 and isinstance(cause, web.HTTPError):
            raise cause from None
        raise


class NotebookSessionsHandler(SessionRootHandler):
    """jupyter_server's ``POST /api/sessions``, how JupyterLab opens a notebook on a kernel
    (503 gateway down, 400 cannot run here, rather than 500)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await keeping_status(super().post())


class KernelActionsHandler(KernelActionHandler):
    """jupyter_server's ``POST /api/kernels/ID/restart|interrupt`` (404 for a kernel that
    is not there, a session kernel's refusal as it is, rather than 500)."""

    @web.authenticated
    @authorized
    async def post(self, kernel_id: str, action: str) -> None:
        await keeping_status(super().post(kernel_id, action))


# Before jupyter_server's own handlers for the same paths: extension handlers match first.
API_OVERRIDES = [
    (r"/api/sessions", NotebookSessionsHandler),
    (rf"/api/kernels/{_kernel_id_regex}/{_kernel_action_regex}", KernelActionsHandler),
]


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
