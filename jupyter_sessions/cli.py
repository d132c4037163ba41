"""The ``jupyter-sessions`` command (also ``jupyter sessions``).

Exit codes scripts can rely on: 0 ok, 1 the API answered with an error (one line on
stderr), 2 usage error, 3 a wait timed out, 4 the server could not be reached, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from .notebook.commands import (
    build_subparsers,
    describe_error,
    generate_session_id,
    session_body,
)

if TYPE_CHECKING:
    from .api.model import Session
    from .client import SessionsClient

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_UNREACHABLE = 4
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failure with its exit code and one line for stderr."""

    def __init__(self, message: str, code: int = EXIT_API_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument(
        "--url",
        default=None,
        help="Jupyter server URL (or a Sessions API endpoint such as the emulator's); "
        "default: $JUPYTER_SESSIONS_URL, then the newest running Jupyter server",
    )
    group.add_argument(
        "--token", default=None, help="token of that server (default: $JUPYTER_SESSIONS_TOKEN)"
    )
    group.add_argument("--project", default=None, help="project (default: the server's)")
    group.add_argument("--location", default=None, help="location (default: the server's)")
    common.add_argument("--json", action="store_true", help="print the API's JSON")
    return common


def build_parser() -> argparse.ArgumentParser:
    from .emulator.server import add_arguments

    parser = argparse.ArgumentParser(
        prog="jupyter-sessions",
        description="Manage serverless interactive sessions (Dataproc v1 Sessions API).",
        epilog="Exit codes: 0 ok, 1 API error, 2 usage error, 3 wait timed out, "
        "4 server unreachable.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    build_subparsers(sub, magics=False, parents=[_common_options()])
    emu = sub.add_parser("emulator", help="run the local Dataproc-compatible Sessions API")
    add_arguments(emu)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "emulator":
        from .emulator.server import run

        return run(args)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    from .api.errors import ApiError
    from .client import DiscoveryError
    from .notebook.commands import SessionEnded, WaitTimeout, connect, is_unreachable

    try:
        client = connect(
            args.url,
            args.token if args.token is not None else os.environ.get("JUPYTER_SESSIONS_TOKEN"),
            args.project,
            args.location,
        )
    except DiscoveryError as exc:
        raise CommandError(str(exc), EXIT_UNREACHABLE) from None
    try:
        with client:
            return COMMANDS[args.command](client, args)
    except WaitTimeout as exc:
        raise CommandError(str(exc), EXIT_TIMEOUT) from None
    except SessionEnded as exc:
        raise CommandError(str(exc), EXIT_API_ERROR) from None
    except ApiError as exc:
        code = EXIT_UNREACHABLE if is_unreachable(exc) else EXIT_API_ERROR
        raise CommandError(describe_error(exc), code) from None


# --- output ---------------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def _print_session(args: argparse.Namespace, session: Session, compact: bool = True) -> None:
    from .notebook.render import SessionView

    if args.json:
        _print_json(session.to_json())
    else:
        print(SessionView.of(session, compact=compact)._text())


class _Progress:
    """One rewritten line on stderr while waiting, only when stderr is a terminal."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.enabled = sys.stderr.isatty()
        self.width = 0

    def __call__(self, session: Session, elapsed: float) -> None:
        if not self.enabled:
            return
        line = f"{self.verb} {session.session_id}: {session.state.name} ({elapsed:.0f}s)"
        if session.state_message:
            line += f" {session.state_message}"
        sys.stderr.write("\r" + line.ljust(self.width))
        sys.stderr.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.width:
            sys.stderr.write("\n")
            self.width = 0


# --- subcommands ------------------------------------------------------------------------------


def _cmd_list(client: SessionsClient, args: argparse.Namespace) -> int:
    from .notebook.commands import list_sessions
    from .notebook.render import SessionList

    sessions, truncated = list_sessions(client, args)
    if args.json:
        _print_json({"sessions": [s.to_json() for s in sessions], "truncated": truncated})
    else:
        print(SessionList(sessions, parent=client.parent.path, truncated=truncated)._text())
    return EXIT_OK


def _cmd_create(client: SessionsClient, args: argparse.Namespace) -> int:
    from .api.model import State
    from .api.validation import validate_request_id, validate_session_id
    from .notebook.commands import check_session_id, terminate_when_possible, wait_for_state

    sid = args.session or generate_session_id()
    check_session_id(sid.rsplit("/", 1)[-1])
    validate_session_id(sid.rsplit("/", 1)[-1], "session id")
    validate_request_id(args.request_id, "--request-id")
    operation = client.create_session(
        sid, session_body(args, client.parent), request_id=args.request_id
    )
    name = operation.metadata.session if operation.metadata else client.parent.session(sid)
    if args.no_wait:
        _print_session(args, client.get_session(name))
        return EXIT_OK
    progress = _Progress("Creating")
    try:
        session = wait_for_state(
            client, name, frozenset({State.ACTIVE}), args.timeout.total_seconds(), progress
        )
    except KeyboardInterrupt:
        progress.close()
        _, outcome = terminate_when_possible(client, name)
        print(f"interrupted: {outcome}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        progress.close()
    _print_session(args, session)
    return EXIT_OK


def _cmd_describe(client: SessionsClient, args: argparse.Namespace) -> int:
    _print_session(args, client.get_session(args.session), compact=False)
    return EXIT_OK


def _cmd_wait(client: SessionsClient, args: argparse.Namespace) -> int:
    from .api.model import State
    from .notebook.commands import wait_for_state

    progress = _Progress("Waiting for")
    try:
        session = wait_for_state(
            client,
            args.session,
            frozenset({State.ACTIVE, State.TERMINATED, State.FAILED}),
            args.timeout.total_seconds(),
            progress,
        )
    finally:
        progress.close()
    _print_session(args, session)
    if session.state == State.FAILED:
        raise CommandError(
            f"Session {session.session_id} FAILED: {session.state_message or 'no details'}"
        )
    return EXIT_OK


def _cmd_terminate(client: SessionsClient, args: argparse.Namespace) -> int:
    from .api.model import State
    from .notebook.commands import wait_for_state

    operation = client.terminate_session(args.session)
    if args.no_wait:
        if args.json:
            _print_json(operation.to_json())
        else:
            print(f"Terminating session {args.session.rsplit('/', 1)[-1]}")
        return EXIT_OK
    progress = _Progress("Terminating")
    try:
        session = wait_for_state(
            client,
            args.session,
            frozenset({State.TERMINATED}),
            args.timeout.total_seconds(),
            progress,
        )
    finally:
        progress.close()
    _print_session(args, session)
    return EXIT_OK


def _cmd_delete(client: SessionsClient, args: argparse.Namespace) -> int:
    from .notebook.commands import wait_for_operation

    operation = client.delete_session(args.session)
    sid = args.session.rsplit("/", 1)[-1]
    if not args.no_wait:
        operation = wait_for_operation(client, operation, args.timeout.total_seconds())
    if args.json:
        _print_json(operation.to_json())
    else:
        print(f"Deleted session {sid}" if operation.done else f"Deleting session {sid}")
    return EXIT_OK


def _cmd_templates(client: SessionsClient, args: argparse.Namespace) -> int:
    from .notebook.render import TemplateList

    templates = list(client.list_templates(page_size=1000))
    if args.json:
        _print_json({"sessionTemplates": [t.to_json() for t in templates]})
    else:
        print(TemplateList(templates, parent=client.parent.path)._text())
    return EXIT_OK


def _cmd_template(client: SessionsClient, args: argparse.Namespace) -> int:
    from .api.errors import ApiError
    from .notebook.commands import is_unreachable
    from .notebook.templates_cmd import describe_template_error, run_template_verb

    try:
        shown = run_template_verb(client, args)
    except ApiError as exc:
        code = EXIT_UNREACHABLE if is_unreachable(exc) else EXIT_API_ERROR
        raise CommandError(
            describe_template_error(exc, args.template, "jupyter-sessions"), code
        ) from None
    from .notebook.render_templates import TemplateChanges, TemplateView, as_json

    if not args.json:
        print(shown._text() if isinstance(shown, TemplateView) else repr(shown))
    elif isinstance(shown, TemplateChanges):
        _print_json(as_json(shown.template, list(shown)))
    elif isinstance(shown, TemplateView):
        _print_json(as_json(shown))
    else:
        name = args.template
        _print_json({"deleted": name if "/" in name else client.parent.template(name)})
    return EXIT_OK


def _cmd_config(client: SessionsClient, args: argparse.Namespace) -> int:
    cfg = client.server_config
    data = {
        "server": cfg.url if cfg else "",
        "api": client.api_root,
        "backend": cfg.backend if cfg else "",
        "endpoint": cfg.endpoint if cfg else "",
        "project": client.project,
        "location": client.location,
        "user": cfg.user if cfg else "",
    }
    if args.json:
        _print_json(data)
    else:
        width = max(len(k) for k in data)
        for key, value in data.items():
            if value:
                print(f"{key:<{width}}  {value}")
    return EXIT_OK


COMMANDS = {
    "list": _cmd_list,
    "create": _cmd_create,
    "describe": _cmd_describe,
    "wait": _cmd_wait,
    "terminate": _cmd_terminate,
    "delete": _cmd_delete,
    "templates": _cmd_templates,
    "template": _cmd_template,
    "config": _cmd_config,
}


if __name__ == "__main__":
    sys.exit(main())
