"""``GET jupyter-sessions/kernel?session=NAME``: which kernel of this server runs a session.

``%%session`` in a notebook kernel uses it when the session's kernel is not on this machine
(Dataproc): the Jupyter server attaches to the session's kernel through the kernel gateway,
and the cell then runs over Jupyter's own kernel websocket. The notebook kernel holds only
the Jupyter token; the gateway's credentials stay in the server.
"""

from __future__ import annotations

import json

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import errors
from ..api.names import ChildName
from .handlers import SessionsHandler
from .kernels import SessionKernelManager, gateway


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
