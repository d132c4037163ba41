"""Exceptions the magics raise: real cell errors that render as a few readable lines.

IPython shows ``_render_traceback_()`` instead of a Python traceback, so a failed API call
fails the cell (frontends and nbclient see an error with ``ename``/``evalue``) but shows
one line, not the magic's internals.
"""

from __future__ import annotations

_RED = "\x1b[0;31m"
_RESET = "\x1b[0m"


class SessionError(Exception):
    """A %session command failed; the message is the whole story (no traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        return [f"{_RED}{type(self).__name__}{_RESET}: {self.message}"]


class RemoteExecutionError(Exception):
    """Code run by ``%%session`` raised inside the session's kernel.

    Instances are of a subclass named after the remote exception (``ZeroDivisionError``),
    so the cell's error reads like a local one; ``except RemoteExecutionError`` catches all.
    """

    def __init__(
        self, ename: str, evalue: str, traceback: list[str] | None = None, session: str = ""
    ) -> None:
        super().__init__(f"{ename}: {evalue}" if evalue else ename)
        self.ename = ename
        self.evalue = evalue
        self.remote_traceback = list(traceback or [])
        self.session = session

    def __str__(self) -> str:
        return self.evalue

    def _render_traceback_(self) -> list[str]:
        where = f" in session {self.session}" if self.session else ""
        header = f"{_RED}Remote error{where}{_RESET}"
        body = self.remote_traceback or [f"{_RED}{self.ename}{_RESET}: {self.evalue}"]
        return [header, *body]


_REMOTE_CLASSES: dict[str, type[RemoteExecutionError]] = {}


def remote_error(
    ename: str, evalue: str, traceback: list[str] | None = None, session: str = ""
) -> RemoteExecutionError:
    """A RemoteExecutionError whose class name is the remote exception's name."""
    if not ename.isidentifier() or ename == RemoteExecutionError.__name__:
        return RemoteExecutionError(ename, evalue, traceback, session)
    cls = _REMOTE_CLASSES.get(ename)
    if cls is None:
        cls = type(ename, (RemoteExecutionError,), {"__module__": __name__})
        _REMOTE_CLASSES[ename] = cls
    return cls(ename, evalue, traceback, session)
