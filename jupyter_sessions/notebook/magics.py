"""``%session`` and ``%%session``: manage interactive sessions from IPython.

Every subcommand has its own flags (see ``%session help``). Commands without an ID act on
the current session: the last one created or ``use``d. Failures are real cell errors of one
line (SessionError); results are objects that render as HTML in notebooks and as text in
terminals. Loading the extension imports neither the server, the emulator nor the widgets;
the HTTP client is imported by the first command.
"""

from __future__ import annotations

import argparse
import inspect
import shlex
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from .cell_errors import SessionError
from .cleanup import SessionReaper
from .commands import (
    ABORT_WAIT,
    build_subparsers,
    describe_error,
    duration,
    generate_session_id,
    help_rows,
    list_sessions,
    session_body,
    terminate_when_possible,
    wait_for_operation,
    wait_for_state,
)

if TYPE_CHECKING:
    from ..api.model import Operation, Session
    from ..client import SessionsClient
    from .remote import RemoteKernels

__all__ = ["SessionMagics", "load_ipython_extension", "unload_ipython_extension"]


class _HelpShown(Exception):
    """argparse printed a --help text; the command is over."""


class _Parser(argparse.ArgumentParser):
    """argparse that never exits the kernel: a bad flag is a one-line UsageError."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `%session help`)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status == 0:
            raise _HelpShown()
        raise UsageError(f"{self.prog}: {(message or 'invalid arguments').strip()}")


def build_parsers() -> tuple[_Parser, dict[str, argparse.ArgumentParser]]:
    """The ``%session`` parser, and every subcommand's parser (``%%session`` included)."""
    parser = _Parser(prog="%session", add_help=False)
    subparsers = build_subparsers(
        parser.add_subparsers(dest="command", metavar="COMMAND"), magics=True
    )
    subparsers["use"].add_argument(
        "--keep",
        action="store_true",
        help="do not terminate it when this kernel shuts down (if this kernel created it)",
    )
    cell = _Parser(prog="%%session", description="run the cell in the session's kernel")
    cell.add_argument(
        "session", metavar="ID", nargs="?", help="session id (default: the current session)"
    )
    cell.add_argument(
        "--timeout",
        type=duration,
        default=None,
        metavar="DURATION",
        help="interrupt the cell after this long (default: no limit)",
    )
    subparsers["%%session"] = cell
    from .spark_magic import add_spark_parser

    subparsers["spark"] = add_spark_parser(parser)
    return parser, subparsers


class _Progress:
    """Live progress of a wait: one display updated in place in a notebook, one
    rewritten line in a terminal."""

    def __init__(self, shell: Any, verb: str) -> None:
        self.verb = verb
        self.notebook = getattr(shell, "kernel", None) is not None
        self._handle: Any = None
        self._width = 0

    def session(self, session: Session, elapsed: float) -> None:
        from .render import progress_bundle

        self.show(progress_bundle(self.verb, session, elapsed))

    def operation(self, operation: Operation, elapsed: float) -> None:
        sid = operation.metadata.session.rsplit("/", 1)[-1] if operation.metadata else ""
        state = "done" if operation.done else "in progress"
        text = f"{self.verb} {sid}: {state} ({elapsed:.1f}s)"
        self.show({"text/plain": text, "text/html": f"<div>{text}</div>"})

    def show(self, bundle: dict[str, str]) -> None:
        if self.notebook:
            from IPython.display import display

            if self._handle is None:
                self._handle = display(bundle, raw=True, display_id=True)
            else:
                self._handle.update(bundle, raw=True)
            return
        line = bundle["text/plain"]
        sys.stdout.write("\r" + line.ljust(self._width))
        sys.stdout.flush()
        self._width = len(line)

    def close(self) -> None:
        if not self.notebook and self._width:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._width = 0


@magics_class
class SessionMagics(Magics):
    """``%session`` subcommands and the ``%%session`` cell magic."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self.parser, self.subparsers = build_parsers()
        self.current: str | None = None
        self.reaper = SessionReaper()
        if shell is not None:
            self.reaper.register(shell)
        self._client: SessionsClient | None = None
        self._connection: dict[str, str | None] = {
            "url": None,
            "token": None,
            "project": None,
            "location": None,
        }
        self._kernels: RemoteKernels | None = None
        # How long a Ctrl-C during create waits for ACTIVE before it can terminate.
        self.abort_wait = ABORT_WAIT

    # --- connection -----------------------------------------------------------------------

    @property
    def client(self) -> SessionsClient:
        """The client, connected on first use (``$JUPYTER_SESSIONS_URL`` or a running
        server, unless ``%session config --url`` said otherwise)."""
        if self._client is None:
            self._client = _connect(self._connection)
        return self._client

    @property
    def kernels(self) -> RemoteKernels:
        if self._kernels is None:
            from .remote import RemoteKernels

            self._kernels = RemoteKernels()
        return self._kernels

    def _name(self, session: str | None) -> str:
        """The full name of the session a command is about."""
        if not session:
            if self.current:
                return self.current
            raise SessionError(
                "No current session: pass a session id, or run `%session create` or "
                "`%session use ID` first"
            )
        if session.startswith("projects/"):
            return session
        return self.client.parent.session(session)

    def _view(self, session: Session, compact: bool = False) -> Any:
        from .render import SessionView

        return SessionView.of(session, compact=compact, current=session.name == self.current)

    # --- the magic ------------------------------------------------------------------------

    @line_cell_magic
    def session(self, line: str, cell: str | None = None) -> Any:
        """Manage interactive sessions; ``%session help`` lists the subcommands.

        As a cell magic, ``%%session [ID]`` runs the cell in the session's kernel.
        """
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%session: {exc}") from None
        try:
            if cell is not None:
                args = self.subparsers["%%session"].parse_args(argv)
            else:
                args = self.parser.parse_args(argv or ["help"])
        except _HelpShown:
            return None
        try:
            if cell is not None:
                return self._run_cell(args, cell)
            return getattr(self, "_cmd_" + args.command)(args)
        except Exception as exc:
            raise self._friendly(exc, getattr(args, "session", None) or "") from None

    def _friendly(self, exc: Exception, session: str) -> Exception:
        """API and connection failures as one-line SessionErrors; anything else as is."""
        from ..api.errors import ApiError
        from .commands import WaitError

        if isinstance(exc, (SessionError, UsageError)):
            return exc
        if isinstance(exc, ApiError):
            return SessionError(describe_error(exc, session.rsplit("/", 1)[-1]))
        if isinstance(exc, WaitError):
            return SessionError(str(exc))
        from ..client import DiscoveryError

        if isinstance(exc, DiscoveryError):
            return SessionError(f"Cannot reach the sessions server: {exc}")
        return exc

    # --- subcommands ------------------------------------------------------------------------

    def _cmd_help(self, args: argparse.Namespace) -> Any:
        from .render import HelpTable

        rows = help_rows(self.subparsers)
        return HelpTable(rows, "%session: manage interactive sessions; %%session: run code in one")

    def _cmd_list(self, args: argparse.Namespace) -> Any:
        from .render import SessionList

        sessions, truncated = list_sessions(self.client, args)
        return SessionList(
            sessions,
            parent=self.client.parent.path,
            current=self.current or "",
            truncated=truncated,
        )

    def _cmd_create(self, args: argparse.Namespace) -> Any:
        from ..api.model import State
        from ..api.validation import validate_request_id, validate_session_id
        from .commands import check_session_id

        if args.session:  # refused before anything is sent, in the panels' words
            check_session_id(args.session.rsplit("/", 1)[-1])
        client = self.client
        sid = args.session or generate_session_id()
        validate_session_id(sid.rsplit("/", 1)[-1], "session id")
        validate_request_id(args.request_id, "--request-id")
        body = session_body(args, client.parent)
        operation = client.create_session(sid, body, request_id=args.request_id)
        name = operation.metadata.session if operation.metadata else self._name(sid)
        if not args.keep:
            self.reaper.own(name, client)
        if args.no_wait:
            self.current = name
            return self._view(client.get_session(name), compact=True)
        progress = _Progress(self.shell, "Creating")
        try:
            session = wait_for_state(
                client,
                name,
                frozenset({State.ACTIVE}),
                args.timeout.total_seconds(),
                progress.session,
            )
        except KeyboardInterrupt:
            progress.close()
            raise SessionError(self._abort_create(name)) from None
        finally:
            progress.close()
        self.current = name
        return self._view(session, compact=True)

    def _abort_create(self, name: str) -> str:
        """Ctrl-C while waiting for ACTIVE: terminate rather than leave a session running."""
        progress = _Progress(self.shell, "Waiting to terminate")
        try:
            done, outcome = terminate_when_possible(
                self.client, name, self.abort_wait, progress.session
            )
        finally:
            progress.close()
        if done:
            self.reaper.disown(name)
        return f"Interrupted: {outcome}"

    def _cmd_describe(self, args: argparse.Namespace) -> Any:
        return self._view(self.client.get_session(self._name(args.session)))

    def _cmd_use(self, args: argparse.Namespace) -> Any:
        session = self.client.get_session(self._name(args.session))
        self.current = session.name
        if args.keep:
            self.reaper.disown(session.name)
        return self._view(session, compact=True)

    def _cmd_wait(self, args: argparse.Namespace) -> Any:
        from ..api.model import State

        name = self._name(args.session)
        progress = _Progress(self.shell, "Waiting for")
        try:
            session = wait_for_state(
                self.client,
                name,
                frozenset({State.ACTIVE, State.TERMINATED, State.FAILED}),
                args.timeout.total_seconds(),
                progress.session,
            )
        finally:
            progress.close()
        if session.state == State.FAILED:
            raise SessionError(
                f"Session {session.session_id} FAILED: {session.state_message or 'no details'}"
            )
        return self._view(session, compact=True)

    def _cmd_terminate(self, args: argparse.Namespace) -> Any:
        from ..api.model import State

        client = self.client
        name = self._name(args.session)
        client.terminate_session(name)
        self.reaper.disown(name)
        self.kernels.forget(name)
        if args.no_wait:
            return self._view(client.get_session(name), compact=True)
        progress = _Progress(self.shell, "Terminating")
        try:
            session = wait_for_state(
                client,
                name,
                frozenset({State.TERMINATED}),
                args.timeout.total_seconds(),
                progress.session,
            )
        finally:
            progress.close()
        return self._view(session, compact=True)

    def _cmd_delete(self, args: argparse.Namespace) -> Any:
        from .render import Notice

        client = self.client
        name = self._name(args.session)
        operation = client.delete_session(name)
        self.reaper.disown(name)
        self.kernels.forget(name)
        if self.current == name:
            self.current = None
        sid = name.rsplit("/", 1)[-1]
        if args.no_wait:
            return Notice(f"Deleting session {sid} (operation {operation.operation_id})")
        progress = _Progress(self.shell, "Deleting")
        try:
            wait_for_operation(client, operation, args.timeout.total_seconds(), progress.operation)
        finally:
            progress.close()
        return Notice(f"Deleted session {sid}")

    def _cmd_templates(self, args: argparse.Namespace) -> Any:
        from .render import TemplateList

        client = self.client
        return TemplateList(client.list_templates(page_size=1000), parent=client.parent.path)

    def _cmd_template(self, args: argparse.Namespace) -> Any:
        from ..api.errors import ApiError
        from .templates_cmd import run_template_verb

        try:
            return run_template_verb(self.client, args)
        except ApiError as exc:
            from .templates_cmd import describe_template_error

            raise SessionError(describe_template_error(exc, args.template, "%session")) from None

    def _cmd_spark(self, args: argparse.Namespace) -> Any:
        from .spark_magic import bind_spark

        return bind_spark(self, args)

    def _cmd_panel(self, args: argparse.Namespace) -> Any:
        try:
            from .panel.widget import SessionsPanel  # type: ignore[import-not-found,unused-ignore]
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.panel.widget":
                raise SessionError(
                    "The sessions panel is not available in this installation "
                    "(jupyter_sessions.notebook.panel.widget is missing); "
                    "use `%session list` instead"
                ) from None
            raise SessionError(f"The sessions panel needs the {exc.name} package") from None
        except ImportError as exc:
            raise SessionError(f"The sessions panel cannot be loaded: {exc}") from None
        try:
            accepts_client = "client" in inspect.signature(SessionsPanel).parameters
        except (TypeError, ValueError):
            accepts_client = False
        return SessionsPanel(client=self.client) if accepts_client else SessionsPanel()

    def _cmd_config(self, args: argparse.Namespace) -> Any:
        from .render import KeyValues

        if args.url or args.token:
            old = self._client
            url = args.url or (
                old.server_config.url if old is not None and old.server_config else None
            )
            wanted = {
                **self._connection,
                "url": url,
                "token": args.token if args.token is not None else self._connection["token"],
                "project": args.project or self._connection["project"],
                "location": args.location or self._connection["location"],
            }
            # Connect first: on failure the old connection stays in use.
            self._client = _connect(wanted)
            self._connection = wanted
            if old is not None:
                # Panels opened earlier hold the old client: close them with it.
                widgets = sys.modules.get("jupyter_sessions.notebook.panel.widget")
                if widgets is not None:
                    widgets.SessionsPanel.close_all()
                old.close()
        client = self.client
        if args.project:
            client.project = self._connection["project"] = args.project
        if args.location:
            client.location = self._connection["location"] = args.location
        cfg = client.server_config
        rows = [
            ("server", cfg.url if cfg else "(none: talking to the API directly)"),
            ("api", client.api_root),
            ("backend", cfg.backend if cfg else ""),
            ("endpoint", cfg.endpoint if cfg else ""),
            ("project", client.project),
            ("location", client.location),
            ("user", cfg.user if cfg else ""),
            ("current session", (self.current or "").rsplit("/", 1)[-1] or "(none)"),
            (
                "terminated at shutdown",
                ", ".join(n.rsplit("/", 1)[-1] for n in self.reaper.owned) or "(none)",
            ),
        ]
        return KeyValues("Sessions connection", [(k, v) for k, v in rows if v])

    # --- %%session ---------------------------------------------------------------------------

    def _run_cell(self, args: argparse.Namespace, cell: str) -> Any:
        from ..api.errors import ApiError, NotFound
        from ..api.model import State

        client = self.client
        name = self._name(args.session)
        kernel = self.kernels.get(client.get_session(name), client)
        sid = name.rsplit("/", 1)[-1]

        def alive() -> str | None:
            try:
                now = client.get_session(name)
            except NotFound:
                return f"Session {sid} was deleted while the cell ran"
            except ApiError:
                return None  # the server may be restarting: keep waiting for the kernel
            if now.state != State.ACTIVE:
                detail = f": {now.state_message}" if now.state_message else ""
                return f"Session {sid} is {now.state.name}{detail}; the cell cannot finish"
            return None

        timeout = args.timeout.total_seconds() if args.timeout else None
        # The notebook's number of this cell (IPython stores it on the running cell's result).
        running = getattr(getattr(self.shell, "displayhook", None), "exec_result", None)
        local_cell = getattr(running, "execution_count", None)
        return kernel.execute(cell, timeout=timeout, alive=alive, local_cell=local_cell)


def _connect(how: dict[str, str | None]) -> SessionsClient:
    from .commands import connect

    return connect(how["url"], how["token"], how["project"], how["location"])


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext jupyter_sessions``)."""
    ipython.register_magics(SessionMagics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """Sessions created without --keep are still terminated when the kernel shuts down."""
    magics = ipython.magics_manager.registry.get("SessionMagics")
    if magics is not None and magics._kernels is not None:
        magics._kernels.close()
