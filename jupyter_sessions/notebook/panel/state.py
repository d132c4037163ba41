"""The sessions panel's pure core: no widgets, no threads, no I/O.

- ``PanelState`` applies the extension's events (``snapshot``, ``session``, ``removed``,
  ``status``, ``heartbeat``) and the event stream's own ``disconnected`` to an ordered
  dict of sessions, newest first.
- ``row_view`` formats one row: age, time in state, creator, labels, usage so far and the
  idle-TTL countdown.
- ``SessionFilter`` decides which rows are shown (by state, and "mine").
- ``check_create_form`` turns the create form's text into a request, or into one error
  message per field, with the rules of ``api.validation`` and ``api.durations``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ...api.codec import parse_timestamp
from ...api.defaults import SYSTEM_LABEL_PREFIX
from ...api.durations import format_human_duration, parse_human_duration
from ...api.errors import ApiError, InvalidArgument
from ...api.model import (
    EnvironmentConfig,
    ExecutionConfig,
    JupyterConfig,
    Kernel,
    RuntimeConfig,
    Session,
    SparkConnectConfig,
    State,
)
from ...api.validation import (
    validate_labels,
    validate_session_config,
    validate_session_id,
    validate_ttl,
)
from .. import present

# What the API applies when a session does not say (spec section 9).
DEFAULT_IDLE_TTL = timedelta(hours=1)
# How long "reachable again" / "reconnected" stays on the indicator.
RECOVERED_SHOWN_FOR = 5.0
# Deleted sessions remembered so a late event cannot bring their row back.
_TOMBSTONES = 1000

STATE_CLASSES: dict[State, str] = {
    State.STATE_UNSPECIFIED: "unknown",
    State.CREATING: "creating",
    State.ACTIVE: "active",
    State.TERMINATING: "terminating",
    State.TERMINATED: "terminated",
    State.FAILED: "failed",
}

LIVE_STATES = frozenset({State.CREATING, State.ACTIVE, State.TERMINATING})

# Options of the state filter: value -> the states shown (None: all).
STATE_FILTERS: dict[str, frozenset[State] | None] = {
    "all": None,
    "live": LIVE_STATES,
    "CREATING": frozenset({State.CREATING}),
    "ACTIVE": frozenset({State.ACTIVE}),
    "TERMINATING": frozenset({State.TERMINATING}),
    "TERMINATED": frozenset({State.TERMINATED}),
    "FAILED": frozenset({State.FAILED}),
}
STATE_FILTER_LABELS: dict[str, str] = {
    "all": "All states",
    "live": "Live",
    "CREATING": "Creating",
    "ACTIVE": "Active",
    "TERMINATING": "Terminating",
    "TERMINATED": "Terminated",
    "FAILED": "Failed",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- the reducer ------------------------------------------------------------------------


@dataclass
class StreamStatus:
    """What the indicator shows: is the event stream open, does the backend answer."""

    connected: bool = False
    synced: bool = False
    reachable: bool = True
    message: str = ""
    last_poll: datetime | None = None
    last_event: datetime | None = None
    retry_in: float | None = None
    recovered_at: datetime | None = None
    recovered_what: str = ""


def _rank(session: Session) -> tuple[int, datetime]:
    """Sessions only move forward: more history, or a later state time, is newer."""
    return (
        len(session.state_history),
        session.state_time or datetime.min.replace(tzinfo=timezone.utc),
    )


def _order_key(session: Session) -> tuple[datetime, str]:
    return (session.create_time or datetime.min.replace(tzinfo=timezone.utc), session.name)


def parse_session(data: Any) -> Session:
    """A Session from event JSON; tolerant of fields a newer server adds."""
    session = Session.from_json(data, strict=False)
    if not session.name:
        raise ValueError("session event without a name")
    return session


class PanelState:
    """The sessions of one parent, newest first, kept up to date by events."""

    def __init__(self) -> None:
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self.status = StreamStatus()
        self.version = 0
        self._deleted: OrderedDict[str, str] = OrderedDict()  # uuid -> name

    # --- events ---------------------------------------------------------------------------

    def apply(self, kind: str, data: Any, now: datetime | None = None) -> bool:
        """Apply one event; True if anything shown changed. Malformed data raises ValueError."""
        now = now or utcnow()
        if not isinstance(data, dict):
            raise ValueError(f"{kind} event data is not a JSON object")
        if kind != "disconnected":
            self.status.last_event = now
        if kind == "snapshot":
            raw = data.get("sessions", [])
            if not isinstance(raw, list):
                raise ValueError("snapshot event without a sessions list")
            changed = self.replace_all([parse_session(s) for s in raw])
            changed = self._set_connected(True, now) or changed
            self.status.synced = True
            return self._bump(changed)
        if kind == "session":
            changed = self.upsert(parse_session(data))
            return self._bump(self._set_connected(True, now) or changed)
        if kind == "removed":
            name = data.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError("removed event without a name")
            return self._bump(self.remove(name))
        if kind == "status":
            return self._bump(self._set_status(data, now))
        if kind == "heartbeat":
            return self._bump(self._set_connected(True, now))
        if kind == "disconnected":
            return self._bump(self._set_disconnected(data))
        return False  # unknown kinds come from a newer server: ignore them

    def _bump(self, changed: bool) -> bool:
        if changed:
            self.version += 1
        return changed

    def replace_all(self, sessions: Iterable[Session]) -> bool:
        """A snapshot: exactly these sessions (keeping any newer copy already held)."""
        fresh: dict[str, Session] = {}
        for session in sessions:
            if session.uuid and session.uuid in self._deleted:
                continue
            held = self.sessions.get(session.name)
            if held is not None and held.uuid == session.uuid and _rank(held) > _rank(session):
                session = held
            fresh[session.name] = session
        ordered = OrderedDict(
            (s.name, s) for s in sorted(fresh.values(), key=_order_key, reverse=True)
        )
        changed = list(ordered.items()) != list(self.sessions.items())
        self.sessions = ordered
        return changed

    def upsert(self, session: Session) -> bool:
        """A new or changed session; an older copy than the one held is ignored."""
        if session.uuid and session.uuid in self._deleted:
            return False
        held = self.sessions.get(session.name)
        if held is not None:
            if held.uuid == session.uuid and _rank(session) < _rank(held):
                return False
            if held == session:
                return False
            if held.create_time == session.create_time:
                self.sessions[session.name] = session
                return True
        self.sessions[session.name] = session
        self.sessions = OrderedDict(
            (s.name, s) for s in sorted(self.sessions.values(), key=_order_key, reverse=True)
        )
        return True

    def remove(self, name: str) -> bool:
        """A session is gone; a late event about it (same uuid) will not bring it back."""
        held = self.sessions.pop(name, None)
        if held is None:
            return False
        if held.uuid:
            self._deleted[held.uuid] = name
            while len(self._deleted) > _TOMBSTONES:
                self._deleted.popitem(last=False)
        return True

    def _set_connected(self, connected: bool, now: datetime) -> bool:
        st = self.status
        if st.connected == connected:
            return False
        if connected and st.retry_in is not None:
            st.recovered_at, st.recovered_what = now, "Reconnected to the Jupyter server"
        st.connected = connected
        st.retry_in = None
        if connected and st.reachable:
            st.message = ""
        return True

    def _set_disconnected(self, data: dict[str, Any]) -> bool:
        st = self.status
        retry = data.get("retryIn")
        st.connected = False
        st.retry_in = float(retry) if isinstance(retry, (int, float)) else 0.0
        st.message = str(data.get("message") or "the event stream stopped")
        st.recovered_at = None
        return True

    def _set_status(self, data: dict[str, Any], now: datetime) -> bool:
        st = self.status
        reachable = bool(data.get("reachable"))
        message = str(data.get("message") or "")
        last_poll = data.get("lastPoll")
        if isinstance(last_poll, str):
            try:
                st.last_poll = parse_timestamp(last_poll)
            except ValueError:
                pass
        changed = reachable != st.reachable or (not reachable and message != st.message)
        if reachable and not st.reachable:
            st.recovered_at, st.recovered_what = now, "The sessions backend is reachable again"
        st.reachable = reachable
        st.message = "" if reachable else message
        return changed


# --- the status indicator ---------------------------------------------------------------


@dataclass(frozen=True)
class StatusView:
    """The indicator: a CSS modifier, a short text and a longer tooltip."""

    kind: str  # connecting | live | unreachable | reconnecting | recovered | closed
    text: str
    title: str


def status_view(status: StreamStatus, now: datetime, closed: bool = False) -> StatusView:
    if closed:
        return StatusView("closed", "Closed", "This panel was closed: it no longer updates.")
    if not status.connected:
        if status.retry_in is None:
            return StatusView("connecting", "Connecting…", "Opening the live event stream")
        when = f"retrying in {status.retry_in:.0f}s" if status.retry_in >= 1 else "retrying"
        return StatusView(
            "reconnecting",
            f"Connection lost, {when}",
            f"The live event stream from the Jupyter server dropped: {status.message}",
        )
    if not status.reachable:
        return StatusView(
            "unreachable",
            "Backend unreachable",
            "The Jupyter server cannot reach the sessions backend"
            + (f": {status.message}" if status.message else "")
            + ". The table shows the last known state and updates again once it answers.",
        )
    if (
        status.recovered_at is not None
        and (now - status.recovered_at).total_seconds() < RECOVERED_SHOWN_FOR
    ):
        return StatusView("recovered", "Back online", status.recovered_what)
    title = "Live: updates arrive as they happen"
    if status.last_poll is not None:
        title += f" (backend last polled {status.last_poll:%H:%M:%S} UTC)"
    return StatusView("live", "Live", title)


# --- rows -----------------------------------------------------------------------------


def format_elapsed(seconds: float) -> str:
    """Compact elapsed time, as every surface writes it (``45s``, ``12m``, ``3h 05m``)."""
    return present.format_duration(seconds)


def format_time(value: datetime | None) -> str:
    return present.format_time(value)


def usage_text(session: Session) -> tuple[str, str]:
    """Usage so far: the current rate (DCU) and the total (DCU-hours), with a tooltip."""
    info = session.runtime_info
    parts: list[str] = []
    title: list[str] = []
    current = info.current_usage if info else None
    total = info.approximate_usage if info else None
    if current is not None and session.state in LIVE_STATES:
        parts.append(present.format_dcu(current.milli_dcu))
        title.append(f"Using {current.milli_dcu} milli-DCU now")
    if total is not None and (total.milli_dcu_seconds or session.state.is_final):
        parts.append(present.format_usage(total.milli_dcu_seconds))
        title.append(
            f"{total.milli_dcu_seconds} milli-DCU-seconds so far"
            + (f" (as of {format_time(total.update_time)})" if total.update_time else "")
        )
    if not parts:
        return "-", "No usage reported yet"
    return " · ".join(parts), "; ".join(title)


def _execution(session: Session) -> ExecutionConfig | None:
    env = session.environment_config
    return env.execution_config if env else None


def idle_remaining(session: Session, now: datetime) -> timedelta | None:
    """Idle TTL left of an ACTIVE session, counted from when it became ACTIVE.

    The API does not report activity, and activity postpones the idle TTL: this is the
    least time left, not the most.
    """
    if session.state != State.ACTIVE or session.state_time is None:
        return None
    ec = _execution(session)
    idle_ttl = (ec.idle_ttl if ec else None) or DEFAULT_IDLE_TTL
    return session.state_time + idle_ttl - now


def ttl_remaining(session: Session, now: datetime) -> timedelta | None:
    """Hard TTL left of an ACTIVE session (its total run time is bounded by ``ttl``)."""
    ec = _execution(session)
    if session.state != State.ACTIVE or session.state_time is None or not ec or not ec.ttl:
        return None
    return session.state_time + ec.ttl - now


def idle_text(session: Session, now: datetime) -> tuple[str, str]:
    idle = idle_remaining(session, now)
    if idle is None:
        return "", ""
    ec = _execution(session)
    idle_ttl = (ec.idle_ttl if ec else None) or DEFAULT_IDLE_TTL
    ttl = ttl_remaining(session, now)
    title = (
        f"Idle TTL {format_human_duration(idle_ttl)}: terminated after that long without "
        f"activity. At least {format_elapsed(idle.total_seconds())} left, counted from when it "
        "became ACTIVE; running code postpones it."
    )
    if ttl is not None:
        title += f" TTL {format_human_duration(ec.ttl if ec and ec.ttl else 0)}: "
        title += f"{format_elapsed(ttl.total_seconds())} left whatever happens."
        if ttl < idle:
            return (
                "due" if ttl.total_seconds() <= 0 else f"ttl {format_elapsed(ttl.total_seconds())}"
            ), title
    if idle.total_seconds() <= 0:
        return "due", title + " It is due now, unless activity postponed it."
    return format_elapsed(idle.total_seconds()), title


def user_labels(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    """Labels people set, without the system ``goog-dataproc-*`` ones."""
    return sorted((k, v) for k, v in labels.items() if not k.startswith(SYSTEM_LABEL_PREFIX))


def can_terminate(state: State) -> bool:
    """The API terminates only ACTIVE sessions."""
    return state == State.ACTIVE


def can_delete(state: State) -> bool:
    """The API refuses to delete a session that is still being created."""
    return state not in (State.CREATING, State.STATE_UNSPECIFIED)


def terminate_refusal(state: State) -> str:
    if state == State.CREATING:
        return "It is still being created: terminate it once it is ACTIVE."
    if state == State.TERMINATING:
        return "It is already terminating."
    if state.is_final:
        return f"It is already {state.name}."
    return "Only ACTIVE sessions can be terminated."


def delete_refusal(state: State) -> str:
    return "It is still being created: delete it once it is ACTIVE."


@dataclass(frozen=True)
class RowView:
    """One row, formatted."""

    name: str
    session_id: str
    state: State
    state_class: str
    busy: bool
    age: str
    created: str
    in_state: str
    state_since: str
    creator: str
    mine: bool
    labels: tuple[tuple[str, str], ...]
    usage: str
    usage_title: str
    idle: str
    idle_title: str
    state_message: str
    can_terminate: bool
    can_delete: bool


def row_view(session: Session, now: datetime, user: str = "") -> RowView:
    age = (now - session.create_time).total_seconds() if session.create_time else 0.0
    in_state = (now - session.state_time).total_seconds() if session.state_time else 0.0
    usage, usage_title = usage_text(session)
    idle, idle_title = idle_text(session, now)
    return RowView(
        name=session.name,
        session_id=session.session_id,
        state=session.state,
        state_class=STATE_CLASSES.get(session.state, "unknown"),
        busy=session.state.is_transition,
        age=format_elapsed(age) if session.create_time else "",
        created=format_time(session.create_time),
        in_state=format_elapsed(in_state) if session.state_time else "",
        state_since=format_time(session.state_time),
        creator=session.creator,
        mine=bool(user) and session.creator == user,
        labels=tuple(user_labels(session.labels)),
        usage=usage,
        usage_title=usage_title,
        idle=idle,
        idle_title=idle_title,
        state_message=session.state_message,
        can_terminate=can_terminate(session.state),
        can_delete=can_delete(session.state),
    )


# --- filters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFilter:
    """Which sessions the table shows."""

    states: frozenset[State] | None = None
    mine: bool = False
    user: str = ""

    @classmethod
    def from_choice(cls, state_choice: str, mine: bool = False, user: str = "") -> SessionFilter:
        if state_choice not in STATE_FILTERS:
            raise ValueError(f"unknown state filter {state_choice!r}")
        return cls(STATE_FILTERS[state_choice], mine, user)

    def matches(self, session: Session) -> bool:
        if self.states is not None and session.state not in self.states:
            return False
        # "Mine" with no known user shows nothing rather than everything: it is a promise.
        return not self.mine or (bool(self.user) and session.creator == self.user)

    def apply(self, sessions: Iterable[Session]) -> list[Session]:
        return [s for s in sessions if self.matches(s)]


# --- the create form --------------------------------------------------------------------

FORM_FIELDS = ("session_id", "template", "kernel", "ttl", "max_idle", "labels", "properties")
KERNELS: dict[str, str] = {
    "python": "Python",
    "scala": "Scala",
    "spark-connect": "Spark Connect",
    "": "Server default / template",
}


@dataclass
class CreateFormValues:
    """What the create form holds, as typed."""

    session_id: str = ""
    template: str = ""
    kernel: str = "python"
    ttl: str = ""
    max_idle: str = ""
    labels: str = ""
    properties: str = ""


@dataclass
class CreateRequest:
    session_id: str
    session: Session


@dataclass
class FormCheck:
    """Errors per field, or the request to send."""

    errors: dict[str, str] = field(default_factory=dict)
    request: CreateRequest | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.request is not None


def _violation(exc: ApiError) -> tuple[str, str]:
    """The (field, description) of an INVALID_ARGUMENT raised by api.validation."""
    for detail in exc.details:
        for violation in detail.get("fieldViolations", []) or []:
            return str(violation.get("field", "")), str(violation.get("description", ""))
    return "", exc.message


def check_session_id(value: str, known: Mapping[str, Session] | None = None) -> str | None:
    """The id's error message, or None. ``known``: sessions by name, to catch reuse."""
    text = value.strip()
    message = present.validate_session_id(text)
    if message:
        return message
    try:
        validate_session_id(text)
    except InvalidArgument as exc:
        return _violation(exc)[1]
    for session in (known or {}).values():
        if session.session_id == text:
            if session.state.is_final:
                return (
                    f"a {session.state.name} session named {text!r} exists: delete it to "
                    "reuse the id, or pick another"
                )
            return f"a session named {text!r} already exists ({session.state.name})"
    return None


def check_duration(value: str, api_field: str) -> tuple[timedelta | None, str | None]:
    """A human duration (``30m``, ``2h``) within the API's TTL range, or an error."""
    text = value.strip()
    if not text:
        return None, None
    message = present.validate_ttl(text)
    if message:
        return None, message
    duration = parse_human_duration(text)
    try:
        validate_ttl(duration, api_field)
    except InvalidArgument as exc:
        return None, _violation(exc)[1]
    return duration, None


def parse_pairs(text: str, what: str, *, commas: bool) -> dict[str, str]:
    """``k=v`` items, one per line (and comma-separated when ``commas``). ValueError."""
    items: list[str] = []
    for line in text.splitlines():
        items.extend(line.split(",") if commas else [line])
    pairs: dict[str, str] = {}
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        key, val = key.strip(), val.strip()
        if not sep or not key:
            raise ValueError(f"{item!r} is not {what}=value")
        if key in pairs:
            raise ValueError(f"{key!r} is given twice")
        pairs[key] = val
    return pairs


def check_labels(text: str) -> tuple[dict[str, str], str | None]:
    try:
        labels = parse_pairs(text, "key", commas=True)
        validate_labels(labels)
    except ValueError as exc:
        return {}, str(exc)
    except InvalidArgument as exc:
        where, description = _violation(exc)
        key = where.split(".", 1)[1] if "." in where else ""
        return {}, f"{key}: {description}" if key else description
    return labels, None


def check_properties(text: str) -> tuple[dict[str, str], str | None]:
    try:
        props = parse_pairs(text, "prefix:property", commas=False)
    except ValueError as exc:
        return {}, str(exc)
    for key in props:
        prefix, sep, rest = key.partition(":")
        if not sep or not prefix or not rest or any(c.isspace() for c in key):
            return {}, f"{key!r}: property keys carry a prefix, e.g. spark:spark.executor.memory"
    return props, None


def check_field(
    name: str, values: CreateFormValues, known: Mapping[str, Session] | None = None
) -> str | None:
    """The error of one field, for live validation as the user types."""
    if name == "session_id":
        return check_session_id(values.session_id, known)
    if name == "ttl":
        return check_duration(values.ttl, "environmentConfig.executionConfig.ttl")[1]
    if name == "max_idle":
        return check_duration(values.max_idle, "environmentConfig.executionConfig.idleTtl")[1]
    if name == "labels":
        return check_labels(values.labels)[1]
    if name == "properties":
        return check_properties(values.properties)[1]
    if name == "kernel" and values.kernel not in KERNELS:
        return f"unknown kernel {values.kernel!r}"
    return None


# Field paths of the API's own errors, mapped back to the form.
_API_FIELDS: tuple[tuple[str, str], ...] = (
    ("sessionId", "session_id"),
    ("labels", "labels"),
    ("environmentConfig.executionConfig.idleTtl", "max_idle"),
    ("environmentConfig.executionConfig.ttl", "ttl"),
    ("runtimeConfig.properties", "properties"),
    ("sessionTemplate", "template"),
    ("jupyterSession", "kernel"),
    ("sparkConnectSession", "kernel"),
)


def form_field_for(api_field: str) -> str | None:
    """The form field an API field violation belongs to."""
    for prefix, form_field in _API_FIELDS:
        if api_field == prefix or api_field.startswith(prefix + "."):
            return form_field
    return None


def api_error_fields(exc: ApiError) -> dict[str, str]:
    """Field errors carried by an API error (google.rpc.BadRequest), by form field."""
    found: dict[str, str] = {}
    for detail in exc.details:
        for violation in detail.get("fieldViolations", []) or []:
            where = form_field_for(str(violation.get("field", "")))
            if where and where not in found:
                found[where] = str(violation.get("description", "")) or exc.message
    return found


def check_create_form(
    values: CreateFormValues, known: Mapping[str, Session] | None = None
) -> FormCheck:
    """Every field checked; the request only when all are valid (nothing is sent otherwise)."""
    errors: dict[str, str] = {}
    sid_error = check_session_id(values.session_id, known)
    if sid_error:
        errors["session_id"] = sid_error
    ttl, ttl_error = check_duration(values.ttl, "environmentConfig.executionConfig.ttl")
    if ttl_error:
        errors["ttl"] = ttl_error
    idle, idle_error = check_duration(values.max_idle, "environmentConfig.executionConfig.idleTtl")
    if idle_error:
        errors["max_idle"] = idle_error
    labels, labels_error = check_labels(values.labels)
    if labels_error:
        errors["labels"] = labels_error
    props, props_error = check_properties(values.properties)
    if props_error:
        errors["properties"] = props_error
    if values.kernel not in KERNELS:
        errors["kernel"] = f"unknown kernel {values.kernel!r}"
    if errors:
        return FormCheck(errors)

    session = Session(labels=labels, session_template=values.template.strip())
    if values.kernel == "spark-connect":
        session.spark_connect_session = SparkConnectConfig()
    elif values.kernel:
        session.jupyter_session = JupyterConfig(kernel=Kernel[values.kernel.upper()])
    if props:
        session.runtime_config = RuntimeConfig(properties=props)
    if ttl is not None or idle is not None:
        session.environment_config = EnvironmentConfig(
            execution_config=ExecutionConfig(ttl=ttl, idle_ttl=idle)
        )
    try:
        validate_session_config(session)
    except InvalidArgument as exc:
        where, description = _violation(exc)
        return FormCheck({form_field_for(where) or "session_id": description})
    return FormCheck({}, CreateRequest(values.session_id.strip(), session))
