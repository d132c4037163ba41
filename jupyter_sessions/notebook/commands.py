"""What the ``%session`` magics and the ``jupyter-sessions`` command share: the
subcommands' flags (gcloud style), request bodies, list filters, connecting to a server,
and bounded waits with progress.

Kept light at import time: ``%load_ext`` builds the parsers without loading the client
or the resource model (they are imported by the first command).
"""

from __future__ import annotations

import argparse
import re
import string
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..api.errors import ApiError
    from ..api.model import Operation, Session, State
    from ..api.names import Parent
    from ..client import SessionsClient

DEFAULT_WAIT = timedelta(minutes=10)
DEFAULT_LIST_LIMIT = 50
STATE_NAMES = ("CREATING", "ACTIVE", "TERMINATING", "TERMINATED", "FAILED")
# A Ctrl-C during create may find the session still CREATING (terminate answers ABORTED):
# wait this long for it to become ACTIVE so it can be terminated instead of leaked.
ABORT_WAIT = 30.0


def _human(value: timedelta | float) -> str:
    from ..api.durations import format_human_duration

    return format_human_duration(value)


# --- argument types ---------------------------------------------------------------------


def duration(text: str) -> timedelta:
    """argparse type: ``90s``, ``30m``, ``2h``, ``1d``, ``1h30m`` or seconds."""
    from ..api.durations import parse_human_duration

    try:
        value = parse_human_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value.total_seconds() <= 0:
        raise argparse.ArgumentTypeError(f"duration {text!r} must be positive")
    return value


def ttl_duration(text: str) -> timedelta:
    """argparse type of --ttl and --max-idle: a duration within the API's bounds, with the
    same message the panels give (``At least 10 minutes.``)."""
    from .present import validate_ttl

    message = validate_ttl(text)
    if message:
        raise argparse.ArgumentTypeError(f"{text!r}: {message}")
    return duration(text)


def add_kind_arguments(p: argparse.ArgumentParser, *, kernel: str, spark_connect: str) -> None:
    """``--kernel python|scala`` or ``--spark-connect``, with these helps."""
    kind = p.add_mutually_exclusive_group()
    kind.add_argument(
        "--kernel", type=str.lower, choices=["python", "scala"], default=None, help=kernel
    )
    kind.add_argument("--spark-connect", action="store_true", help=spark_connect)


def add_config_arguments(
    p: argparse.ArgumentParser,
    *,
    labels: str,
    duration_type: Callable[[str], Any],
    defaults: bool,
) -> None:
    """The options a session and a template share: labels, runtime properties, the two time
    limits (``defaults``: say the server's), runtime version, service account and subnet."""
    add_key_values(p, "--label", labels)
    add_key_values(
        p, "--property", "runtime property, e.g. spark:spark.executor.cores=4 (repeatable)"
    )
    p.add_argument(
        "--ttl",
        type=duration_type,
        metavar="DURATION",
        help="hard limit on run time" + (" (server: 24h)" if defaults else ""),
    )
    p.add_argument(
        "--max-idle",
        type=duration_type,
        metavar="DURATION",
        help="terminate after this long without activity" + (" (server: 1h)" if defaults else ""),
    )
    p.add_argument("--version", metavar="V", help="runtime version, e.g. 2.2")
    p.add_argument("--service-account", metavar="SA", help="service account of the workload")
    p.add_argument("--subnet", metavar="URI", help="subnetwork URI")


def add_key_values(p: argparse.ArgumentParser, flag: str, help: str) -> None:
    """A repeatable ``FLAG K=V`` option, collected as a list of pairs."""
    p.add_argument(flag, type=key_value, action="append", default=[], metavar="K=V", help=help)


def check_session_id(session_id: str) -> None:
    """Refuse a bad new session id before anything is sent, in the panels' words."""
    from ..api.errors import bad_request
    from .present import validate_session_id

    message = validate_session_id(session_id)
    if message:
        raise bad_request(f"session ID {session_id!r}", message)


def key_value(text: str) -> tuple[str, str]:
    """argparse type: ``key=value`` (the value may be empty or contain '=')."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def state_list(text: str) -> list[str]:
    """argparse type: one state or a comma-separated list, any case."""
    names = [part.strip().upper() for part in text.split(",") if part.strip()]
    bad = [n for n in names if n not in STATE_NAMES]
    if bad or not names:
        which = ", ".join(bad) if bad else repr(text)
        raise argparse.ArgumentTypeError(f"unknown state {which}; use {', '.join(STATE_NAMES)}")
    return names


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# --- subcommands ---------------------------------------------------------------------------

# name -> one-line description; the order is the order of ``help``.
SUBCOMMANDS: dict[str, str] = {
    "list": "list sessions of the current project and location",
    "create": "create a session and wait until it is ACTIVE",
    "describe": "show a session: state timeline, endpoints, configuration, usage",
    "terminate": "terminate a session (stops its runtime; the record stays)",
    "delete": "delete a session (terminating it first if needed)",
    "wait": "wait until a session is ACTIVE, TERMINATED or FAILED",
    "use": "make an existing session the current one",
    "panel": "open the live sessions panel",
    "templates": "list session templates",
    "template": "session templates: create, describe, edit, delete, from-session",
    "config": "show or change the server, project and location",
    "help": "this table",
}
CLI_SUBCOMMANDS = (
    "list",
    "create",
    "describe",
    "terminate",
    "delete",
    "wait",
    "templates",
    "template",
    "config",
)


def _session_id_argument(p: argparse.ArgumentParser, required: bool) -> None:
    if required:
        p.add_argument("session", metavar="ID", help="session id or full resource name")
    else:
        p.add_argument(
            "session",
            metavar="ID",
            nargs="?",
            help="session id or full name (default: the current session)",
        )


def _timeout_argument(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--timeout",
        type=duration,
        default=DEFAULT_WAIT,
        metavar="DURATION",
        help=f"give up waiting{' ' + what if what else ''} after this long (e.g. 90s, 10m)",
    )


def add_list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state",
        type=state_list,
        default=None,
        metavar="S",
        help="only sessions in this state (comma-separated list allowed)",
    )
    p.add_argument(
        "--filter",
        default=None,
        metavar="EXPR",
        help="AIP-160 filter, e.g. 'create_time > \"2025-01-01T00:00:00Z\"'",
    )
    add_key_values(p, "--label", "only sessions with this label (repeatable)")
    p.add_argument("--all", action="store_true", help="list every session (no row limit)")
    p.add_argument(
        "--limit",
        type=positive_int,
        default=DEFAULT_LIST_LIMIT,
        metavar="N",
        help="show at most N sessions, newest first",
    )


def add_create_arguments(p: argparse.ArgumentParser, *, magics: bool) -> None:
    p.add_argument(
        "session",
        metavar="ID",
        nargs="?",
        help="session id (default: generated from your user name, the date and a suffix)",
    )
    p.add_argument("--template", metavar="T", help="session template id or full name")
    add_kind_arguments(
        p,
        kernel="Jupyter kernel of the session (default python, or the template's)",
        spark_connect="a Spark Connect session instead of a kernel",
    )
    add_config_arguments(
        p, labels="label the session (repeatable)", duration_type=ttl_duration, defaults=True
    )
    p.add_argument(
        "--request-id", metavar="R", help="idempotency key: a retry with it creates nothing new"
    )
    p.add_argument(
        "--async",
        dest="no_wait",
        action="store_true",
        help="return at once, without waiting for ACTIVE",
    )
    _timeout_argument(p, "for ACTIVE")
    if magics:
        p.add_argument(
            "--keep",
            action="store_true",
            help="keep the session when this kernel shuts down (default: terminate it)",
        )


def add_end_arguments(p: argparse.ArgumentParser, *, required: bool, what: str) -> None:
    _session_id_argument(p, required)
    p.add_argument(
        "--async",
        dest="no_wait",
        action="store_true",
        help=f"return at once, without waiting until it is {what}",
    )
    _timeout_argument(p, f"until it is {what}")


def build_subparsers(
    sub: Any,
    *,
    magics: bool,
    parents: list[argparse.ArgumentParser] | None = None,
) -> dict[str, argparse.ArgumentParser]:
    """Add the subcommands to ``sub`` (from ``parser.add_subparsers()``); returns them
    by name."""
    names = SUBCOMMANDS if magics else [n for n in SUBCOMMANDS if n in CLI_SUBCOMMANDS]
    extra = parents or []
    found: dict[str, argparse.ArgumentParser] = {}
    for name in names:
        # ``template`` takes the connection options on each of its verbs.
        p = sub.add_parser(
            name,
            help=SUBCOMMANDS[name],
            description=SUBCOMMANDS[name],
            parents=[] if name == "template" else extra,
        )
        found[name] = p
        if name == "template":
            from .templates_cmd import add_template_arguments

            found.update(add_template_arguments(p, extra))
        if name == "list":
            add_list_arguments(p)
        elif name == "create":
            add_create_arguments(p, magics=magics)
        elif name == "describe":
            _session_id_argument(p, required=not magics)
        elif name == "terminate":
            add_end_arguments(p, required=not magics, what="TERMINATED")
        elif name == "delete":
            add_end_arguments(p, required=not magics, what="deleted")
        elif name == "wait":
            _session_id_argument(p, required=not magics)
            _timeout_argument(p, "")
        elif name == "use":
            _session_id_argument(p, required=True)
        elif name == "config" and magics:
            p.add_argument("--project", metavar="P", help="project of the sessions")
            p.add_argument("--location", metavar="L", help="location (region) of the sessions")
            p.add_argument(
                "--url", metavar="URL", help="Jupyter server URL (or a Sessions API endpoint)"
            )
            p.add_argument("--token", metavar="T", help="token of that server")
    return found


def help_rows(parsers: dict[str, argparse.ArgumentParser]) -> list[tuple[str, str, str, str]]:
    """(subcommand usage, flag, default, help) rows for a grouped help table."""
    rows: list[tuple[str, str, str, str]] = []
    for name, p in parsers.items():
        usage = p.format_usage().replace("usage: ", "").strip()
        usage = re.sub(r"\s+", " ", re.sub(r"\s*\[-h\]", "", usage))
        rows.append((usage, "", "", SUBCOMMANDS.get(name, p.description or "")))
        for action in p._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue
            metavar = str(action.metavar or action.dest.upper())
            flag = ", ".join(action.option_strings) or metavar
            if action.option_strings and action.nargs != 0:
                flag += f" {metavar}"
            rows.append(("", flag, _default_text(action), action.help or ""))
    return rows


def _default_text(action: argparse.Action) -> str:
    value = action.default
    if value in (None, False, [], argparse.SUPPRESS):
        return ""
    if isinstance(value, timedelta):
        return _human(value)
    return str(value)


# --- session ids and request bodies ---------------------------------------------------------

_ID_ALPHABET = string.ascii_lowercase + string.digits


def generate_session_id(user: str | None = None, now: datetime | None = None) -> str:
    """A readable, valid id: ``<user>-<yyyymmdd>-<4 random>``, e.g. ``ana-20250130-k3f9``."""
    import secrets

    if user is None:
        from ..api.defaults import default_user

        user = default_user()
    slug = re.sub(r"[^a-z0-9]+", "-", user.lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = "s" + ("-" + slug if slug else "")
    slug = slug[:40].rstrip("-")
    day = (now or datetime.now()).strftime("%Y%m%d")
    suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(4))
    return f"{slug}-{day}-{suffix}"


def template_name(template: str, parent: Parent) -> str:
    """A template id resolves under the session's parent; full names pass unchanged."""
    if template.startswith(("projects/", "https://")):
        return template
    return parent.template(template)


def session_body(args: argparse.Namespace, parent: Parent) -> dict[str, Any]:
    """The Session JSON a ``create`` asks for (only what the user set; the server fills in
    the defaults). Raises InvalidArgument on labels the API would refuse."""
    from ..api.codec import format_duration
    from ..api.validation import validate_labels

    body: dict[str, Any] = {}
    if args.spark_connect:
        body["sparkConnectSession"] = {}
    elif args.kernel or not args.template:
        # With a template and no explicit kernel, the template decides.
        body["jupyterSession"] = {"kernel": (args.kernel or "python").upper()}
    if args.template:
        body["sessionTemplate"] = template_name(args.template, parent)
    labels = dict(args.label)
    if labels:
        body["labels"] = validate_labels(labels)
    runtime: dict[str, Any] = {}
    if args.version:
        runtime["version"] = args.version
    if args.property:
        runtime["properties"] = dict(args.property)
    if runtime:
        body["runtimeConfig"] = runtime
    execution: dict[str, Any] = {}
    if args.ttl:
        execution["ttl"] = format_duration(args.ttl)
    if args.max_idle:
        execution["idleTtl"] = format_duration(args.max_idle)
    if args.service_account:
        execution["serviceAccount"] = args.service_account
    if args.subnet:
        execution["subnetworkUri"] = args.subnet
    if execution:
        body["environmentConfig"] = {"executionConfig": execution}
    return body


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def list_filter(
    states: list[str] | None, labels: list[tuple[str, str]], expr: str | None
) -> str | None:
    """One AIP-160 filter from ``--state``, ``--label`` and ``--filter`` (ANDed)."""
    parts: list[str] = []
    if states:
        terms = [f"state = {s}" for s in states]
        parts.append(terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")")
    for key, value in labels:
        parts.append(f"labels.{key} = {_quote(value)}" if value else f"labels.{key}:*")
    if expr and expr.strip():
        parts.append(f"({expr.strip()})")
    return " AND ".join(parts) or None


def list_sessions(client: SessionsClient, args: argparse.Namespace) -> tuple[list[Session], bool]:
    """The sessions ``list`` shows (newest first) and whether more exist than shown."""
    from itertools import islice

    limit = None if args.all else args.limit
    # One page holds what is shown, plus one row to tell whether more exist.
    page_size = 1000 if limit is None else min(limit + 1, 1000)
    found = client.list_sessions(
        list_filter(args.state, args.label, args.filter), page_size=page_size
    )
    if limit is None:
        return list(found), False
    items = list(islice(found, limit + 1))
    return items[:limit], len(items) > limit


# --- connecting --------------------------------------------------------------------------------


def connect(
    url: str | None = None,
    token: str | None = None,
    project: str | None = None,
    location: str | None = None,
    timeout: float = 30.0,
) -> SessionsClient:
    """A client for the Jupyter server at ``url`` (its extension's proxy), for a Sessions API
    endpoint given directly (e.g. a standalone emulator), or, without ``url``, for the
    server found from ``$JUPYTER_SESSIONS_URL`` or the running-server list.

    Raises DiscoveryError when nothing answers.
    """
    from ..client import DiscoveryError, SessionsClient, fetch_server_config

    if not url:
        return SessionsClient.from_environment(project=project, location=location, timeout=timeout)
    try:
        config = fetch_server_config(url, token)
    except DiscoveryError:
        api_root = _direct_api_root(url)
        if api_root is None:
            raise
        return SessionsClient(
            api_root, bearer=token or None, project=project, location=location, timeout=timeout
        )
    client = SessionsClient(
        config.api_root,
        token=token or None,
        project=project or config.project or None,
        location=location or config.location or None,
        timeout=timeout,
    )
    client.server_config = config
    return client


def _direct_api_root(url: str) -> str | None:
    """``url`` itself when it is a Sessions API endpoint (the emulator answers /healthz)."""
    import httpx

    root = url if url.endswith("/") else url + "/"
    try:
        response = httpx.get(root + "healthz", timeout=5.0)
        data = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return root if isinstance(data, dict) and "runtime" in data else None


# --- errors ---------------------------------------------------------------------------------


def is_unreachable(exc: BaseException) -> bool:
    """The server could not be reached at all (as opposed to answering with an error)."""
    import httpx

    from ..client import DiscoveryError

    return isinstance(exc, DiscoveryError) or isinstance(exc.__cause__, httpx.TransportError)


_HINTS: dict[str, str] = {
    "ALREADY_EXISTS": "pick another id, or attach to it with `%session use {id}`",
    "ABORTED": "wait until it is ACTIVE (`%session wait {id}`), then try again",
}


def describe_error(exc: ApiError, session_id: str = "") -> str:
    """One readable line for an API error: the server's message, its status, a hint."""
    if is_unreachable(exc):
        return f"Cannot reach the sessions server: {exc.message}"
    status = exc.code.name
    line = f"{exc.message} ({status})"
    hint = _HINTS.get(status)
    if hint and session_id:
        line += "; " + hint.format(id=session_id)
    return line


class WaitError(Exception):
    """A wait that could not succeed; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class WaitTimeout(WaitError):
    """A wait ran past its ``--timeout`` (the session itself is unaffected)."""


class SessionEnded(WaitError):
    """A wait cannot succeed: the session reached a final state it was not waited for
    (e.g. FAILED while starting)."""

    def __init__(self, session: Session) -> None:
        detail = f": {session.state_message}" if session.state_message else ""
        super().__init__(f"Session {session.session_id} is {session.state.name}{detail}")
        self.session = session


# --- bounded waits with progress ---------------------------------------------------------------

Progress = Callable[["Session", float], Any]
# Polls start fast (a warm kernel is ACTIVE within a second) and settle at once a second,
# often enough for a live elapsed-time display.
_POLL_FIRST = 0.1
_POLL_MAX = 1.0


def wait_for_state(
    client: SessionsClient,
    name: str,
    wanted: frozenset[State],
    timeout: float,
    progress: Progress | None = None,
) -> Session:
    """Poll until the session is in one of ``wanted``; SessionEnded if it ends in another
    final state; WaitTimeout after ``timeout`` seconds."""
    started = time.monotonic()
    from ..api.backoff import Backoff

    poll = Backoff(first=_POLL_FIRST, cap=_POLL_MAX, factor=1.5, jitter=0.0)
    polls = 0
    while True:
        session = client.get_session(name)
        elapsed = time.monotonic() - started
        if progress is not None:
            progress(session, elapsed)
        if session.state in wanted:
            return session
        if session.state.is_final:
            raise SessionEnded(session)
        if elapsed >= timeout:
            goal = " or ".join(sorted(s.name for s in wanted))
            raise WaitTimeout(
                f"Session {session.session_id} is still {session.state.name} after "
                f"{_human(elapsed)}; it did not become {goal} within the "
                f"{_human(timeout)} timeout"
            )
        time.sleep(min(poll.step(polls), max(0.0, timeout - elapsed)))
        polls += 1


def wait_for_operation(
    client: SessionsClient,
    operation: Operation,
    timeout: float,
    progress: Callable[[Operation, float], Any] | None = None,
) -> Operation:
    """Poll until the operation is done (its error raised); WaitTimeout after ``timeout``."""
    from ..api.errors import ApiError

    started = time.monotonic()
    from ..api.backoff import Backoff

    poll = Backoff(first=_POLL_FIRST, cap=_POLL_MAX, factor=1.5, jitter=0.0)
    polls = 0
    op = operation
    while True:
        elapsed = time.monotonic() - started
        if progress is not None:
            progress(op, elapsed)
        if op.done:
            if op.error is not None:
                raise ApiError.from_status(op.error.to_json())
            return op
        if elapsed >= timeout:
            what = op.metadata.description.lower() if op.metadata else "operation"
            raise WaitTimeout(
                f"The {what} operation did not finish within the "
                f"{_human(timeout)} timeout; it goes on in the background"
            )
        time.sleep(min(poll.step(polls), max(0.0, timeout - elapsed)))
        polls += 1
        op = client.get_operation(op.name)


def terminate_when_possible(
    client: SessionsClient,
    name: str,
    timeout: float = ABORT_WAIT,
    progress: Progress | None = None,
) -> tuple[bool, str]:
    """Terminate a session, waiting (bounded) for a CREATING one to become ACTIVE first,
    since terminate answers ABORTED while it is created. Returns (done, one-line outcome);
    a second Ctrl-C while waiting gives up with the command to run later."""
    from ..api.errors import Aborted, FailedPrecondition, NotFound
    from ..api.model import State

    sid = name.rsplit("/", 1)[-1]
    later = f"run `%session terminate {sid}` (or `jupyter-sessions terminate {sid}`)"
    try:
        try:
            client.terminate_session(name)
            return True, f"Session {sid} is being terminated"
        except Aborted:
            pass
        try:
            wait_for_state(client, name, frozenset({State.ACTIVE}), timeout, progress)
        except SessionEnded:
            return True, f"Session {sid} ended while starting; nothing is left running"
        except WaitTimeout:
            return False, (
                f"Session {sid} is still being created after {_human(timeout)} "
                f"and cannot be terminated until it is ACTIVE: {later}"
            )
        client.terminate_session(name)
        return True, f"Session {sid} is being terminated"
    except (FailedPrecondition, NotFound):
        return True, f"Session {sid} is already terminated"
    except KeyboardInterrupt:
        return False, f"Session {sid} may still be starting; {later} once it is ACTIVE"
