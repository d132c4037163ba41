"""No leaked sessions: what a kernel created without ``--keep`` is terminated when the
kernel shuts down.

The kernel manager gives a shutting-down kernel about half of its ``shutdown_wait_time``
(2.5 s by default) before SIGTERM, so the terminate calls run in parallel within a short
budget. A session still CREATING cannot be terminated yet (the API answers ABORTED); it
is handed to a small detached process that waits for it to become ACTIVE and then
terminates it (``python -m jupyter_sessions.notebook.cleanup``).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client import SessionsClient

log = logging.getLogger(__name__)

EXIT_BUDGET = 2.0  # seconds for every terminate call together
_AUTH_ENV = "JUPYTER_SESSIONS_CLEANUP_AUTH"
_HELPER_WAIT = 600.0  # how long the detached helper waits for a CREATING session


class SessionReaper:
    """Remembers the sessions to terminate at kernel shutdown (in creation order)."""

    def __init__(self, budget: float = EXIT_BUDGET) -> None:
        self.budget = budget
        self.client: SessionsClient | None = None
        self._owned: dict[str, None] = {}
        self._lock = threading.Lock()
        self._done = False
        self._registered = False

    @property
    def owned(self) -> list[str]:
        return list(self._owned)

    def own(self, name: str, client: SessionsClient) -> None:
        with self._lock:
            self._owned[name] = None
            self.client = client

    def disown(self, name: str) -> None:
        with self._lock:
            self._owned.pop(name, None)

    def register(self, shell: Any) -> None:
        """Run at interpreter exit, and when the kernel is asked to shut down or restart."""
        if self._registered:
            return
        self._registered = True
        atexit.register(self.run)
        kernel = getattr(shell, "kernel", None)
        original = getattr(kernel, "do_shutdown", None)
        if kernel is not None and callable(original):
            # ipykernel calls do_shutdown on a shutdown_request, while the kernel can still
            # talk to the network; atexit comes later, close to the kernel manager's SIGTERM.
            def do_shutdown(restart: bool) -> Any:
                self.run()
                return original(restart)

            kernel.do_shutdown = do_shutdown

    def run(self) -> None:
        """Terminate every owned session (bounded); safe to call more than once."""
        with self._lock:
            if self._done:
                return
            self._done = True
            names = list(self._owned)
            self._owned.clear()
            client = self.client
        if not names or client is None:
            return
        from concurrent.futures import ThreadPoolExecutor
        from concurrent.futures import wait as wait_futures

        # Short per-request timeouts and no retries: the whole exit must fit the budget.
        client.timeout = min(client.timeout, self.budget)
        client.retries = 0
        pending: list[str] = []
        pool = ThreadPoolExecutor(max_workers=min(8, len(names)))
        futures = {pool.submit(_terminate, client, name): name for name in names}
        done, not_done = wait_futures(futures, timeout=self.budget)
        for future in done:
            if future.exception() is None and future.result() == "creating":
                pending.append(futures[future])
        pending += [futures[f] for f in not_done]
        pool.shutdown(wait=False, cancel_futures=True)
        if pending:
            _spawn_helper(client, pending)


def _terminate(client: SessionsClient, name: str) -> str:
    from ..api.errors import Aborted, ApiError, FailedPrecondition, NotFound

    try:
        client.terminate_session(name)
    except Aborted:
        return "creating"
    except (FailedPrecondition, NotFound):
        return "gone"  # already terminated, or deleted
    except ApiError as exc:
        log.warning("Could not terminate session %s at shutdown: %s", name, exc)
        return "failed"
    return "terminating"


def _spawn_helper(client: SessionsClient, names: list[str]) -> None:
    """A detached process that terminates the sessions once they can be terminated."""
    import subprocess

    env = dict(os.environ)
    auth = client.request_headers().get("Authorization", "")
    if auth:
        env[_AUTH_ENV] = auth  # not on the command line, where any user could read it
    cmd = [sys.executable, "-m", "jupyter_sessions.notebook.cleanup", client.api_root, *names]
    try:
        subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        log.warning("Could not start the session cleanup helper: %s", exc)


def main(argv: list[str] | None = None) -> int:
    """The detached helper: ``python -m jupyter_sessions.notebook.cleanup API_ROOT NAME...``."""
    from ..client import SessionsClient
    from .commands import terminate_when_possible

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        return 2
    auth = os.environ.pop(_AUTH_ENV, "")
    headers = {"Authorization": auth} if auth else {}
    from ..api.errors import ApiError

    failed = 0
    with SessionsClient(args[0], auth_headers=lambda: headers) as client:
        for name in args[1:]:
            try:
                done, _ = terminate_when_possible(client, name, timeout=_HELPER_WAIT)
            except ApiError:
                done = False
            failed += not done
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
