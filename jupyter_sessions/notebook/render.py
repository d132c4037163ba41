"""How sessions look: HTML for notebooks, plain text for terminals and the command line.

The objects the magics return carry both (``_repr_html_`` and ``_repr_pretty_``), so a
notebook shows a table and a terminal shows text, and code can still use them as data:
``SessionList`` is a list of sessions, ``SessionView`` is a Session.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from ..api.defaults import SYSTEM_LABEL_PREFIX
from ..api.durations import format_human_duration
from ..api.model import ExecutionConfig, Kernel, Session, SessionTemplate, State
from .present import format_dcu, format_duration, format_time, format_usage, state_style

_TABLE_STYLE = "border-collapse:collapse;font-size:0.9em;text-align:left"
_CELL_STYLE = "padding:2px 10px;text-align:left;vertical-align:top"
_MUTED = "color:var(--jp-ui-font-color2,#666)"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def badge(state: State) -> str:
    """A pill with the state name in the state's theme colour (the same as the panels)."""
    style = state_style(state)
    colour = style.css_colour
    return (
        f'<span class="jp-sessions-state jp-sessions-state-{state.name.lower()}" '
        f'title="{_esc(style.description)}" '
        f'style="color:{colour};border:1px solid {colour};border-radius:9px;padding:0 7px;'
        f'font-size:0.85em;font-weight:600;white-space:nowrap">{state.name}</span>'
    )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def age(when: datetime | None, now: datetime | None = None) -> str:
    """``5m``, ``3h 05m``; empty when unknown."""
    if when is None:
        return ""
    return format_duration(max(timedelta(0), (now or _now()) - when))


def local_time(when: datetime | None) -> str:
    if when is None:
        return ""
    return format_time(when)


def user_labels(session: Session | SessionTemplate) -> dict[str, str]:
    return {k: v for k, v in session.labels.items() if not k.startswith(SYSTEM_LABEL_PREFIX)}


def labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" if v else k for k, v in sorted(labels.items()))


def execution_rows(ec: ExecutionConfig) -> list[tuple[str, str]]:
    """The max idle time, service account, subnet and network of a session or template."""
    rows: list[tuple[str, str]] = []
    if ec.idle_ttl is not None:
        rows.append(("max idle", format_human_duration(ec.idle_ttl)))
    for label, value in (
        ("service account", ec.service_account),
        ("subnet", ec.subnetwork_uri),
        ("network", ec.network_uri),
    ):
        if value:
            rows.append((label, value))
    return rows


def kind(session: Session | SessionTemplate) -> str:
    """What runs in the session: python, scala, spark-connect."""
    if session.spark_connect_session is not None:
        return "spark-connect"
    if session.jupyter_session is not None:
        k = session.jupyter_session.kernel
        return "scala" if k == Kernel.SCALA else "python"
    return ""


def dcu_hours(milli_dcu_seconds: int) -> str:
    return format_usage(milli_dcu_seconds)


def usage_text(session: Session) -> str:
    """What the session has used so far (and is using now, while it runs)."""
    info = session.runtime_info
    if info is None:
        return ""
    # As the panels write it: the rate while it runs, then the total (``0.5 DCU · 0.1 DCU·h``).
    parts = []
    if info.current_usage is not None and session.state == State.ACTIVE:
        parts.append(format_dcu(info.current_usage.milli_dcu))
    if info.approximate_usage is not None:
        parts.append(dcu_hours(info.approximate_usage.milli_dcu_seconds))
    return " · ".join(parts)


def _execution(session: Session | SessionTemplate) -> Any:
    env = session.environment_config
    return env.execution_config if env is not None else None


def expires_in(session: Session, now: datetime | None = None) -> str:
    """Time left before the session's ttl ends it (ACTIVE sessions only)."""
    ec = _execution(session)
    if session.state != State.ACTIVE or ec is None or ec.ttl is None:
        return ""
    started = session.state_time
    if started is None:
        return ""
    left = started + ec.ttl - (now or _now())
    return format_duration(left) if left > timedelta(0) else "now"


def _text_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(r) for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _html_table(headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str) -> str:
    """Rows are already HTML."""
    head = "".join(f'<th style="{_CELL_STYLE}">{_esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL_STYLE}">{c}</td>' for c in r) + "</tr>" for r in rows
    )
    return (
        f'<table class="{cls}" style="{_TABLE_STYLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _pretty(obj: Any, p: Any, cycle: bool) -> None:
    p.text(obj._text() if not cycle else "...")


class Shown:
    """A result shown as its ``_text()`` in terminals and by IPython's pretty printer (and as
    HTML by its own ``_repr_html_``)."""

    def _text(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self._text()

    _repr_pretty_ = _pretty


# --- a list of sessions -------------------------------------------------------------------


class SessionList(Shown, list[Session]):
    """Sessions as returned by ``%session list``: a list, shown as a table."""

    _HEADERS = ("", "session", "state", "age", "creator", "labels", "usage")

    def __init__(
        self,
        sessions: Iterable[Session] = (),
        *,
        parent: str = "",
        current: str = "",
        truncated: bool = False,
    ) -> None:
        super().__init__(sessions)
        self.parent = parent
        self.current = current
        self.truncated = truncated

    @property
    def ids(self) -> list[str]:
        return [s.session_id for s in self]

    def by_id(self, session_id: str) -> Session:
        for s in self:
            if session_id in (s.session_id, s.name):
                return s
        raise KeyError(session_id)

    def _caption(self) -> str:
        where = f" in {self.parent}" if self.parent else ""
        n = len(self)
        text = f"{n} session{'s' if n != 1 else ''}{where}"
        if self.truncated:
            text += " (newest first; more exist: use --all or --limit N)"
        return text

    def _text(self) -> str:
        if not self:
            return f"No sessions{' in ' + self.parent if self.parent else ''}."
        now = _now()
        rows = [
            (
                "*" if s.name == self.current else "",
                s.session_id,
                s.state.name,
                age(s.create_time, now),
                s.creator,
                labels_text(user_labels(s)),
                usage_text(s),
            )
            for s in self
        ]
        return _text_table(self._HEADERS, rows) + "\n" + self._caption()

    def _repr_html_(self) -> str:
        if not self:
            return f'<p style="{_MUTED}">{_esc(self._text())}</p>'
        now = _now()
        rows = []
        for s in self:
            mark = "&#9679;" if s.name == self.current else ""
            title = _esc(s.state_message or s.name)
            rows.append(
                (
                    f'<span title="current session">{mark}</span>',
                    f'<code title="{title}">{_esc(s.session_id)}</code>',
                    badge(s.state),
                    f'<span title="{_esc(local_time(s.create_time))}">'
                    f"{_esc(age(s.create_time, now))}</span>",
                    _esc(s.creator),
                    _esc(labels_text(user_labels(s))),
                    _esc(usage_text(s)),
                )
            )
        return (
            _html_table(self._HEADERS, rows, "jp-sessions-list")
            + f'<div style="{_MUTED};font-size:0.85em">{_esc(self._caption())}</div>'
        )


# --- one session -------------------------------------------------------------------------


class SessionView(Session):
    """A Session that shows itself: a one-line summary, or (``describe``) the full card
    with the state timeline, endpoints, configuration and usage."""

    _compact = False
    _current = False

    @classmethod
    def of(cls, session: Session, *, compact: bool = False, current: bool = False) -> SessionView:
        view = cls(**{f.name: getattr(session, f.name) for f in dataclasses.fields(session)})
        view._compact = compact
        view._current = current
        return view

    def __repr__(self) -> str:
        return f"<Session {self.session_id} {self.state.name}>"

    # --- parts ---------------------------------------------------------------------------

    def timeline(self) -> list[tuple[State, datetime | None, timedelta | None, str]]:
        """(state, since, how long, message) from the first state to the current one."""
        steps = [(h.state, h.state_start_time, h.state_message) for h in self.state_history]
        steps.append((self.state, self.state_time, self.state_message))
        out = []
        for i, (state, since, message) in enumerate(steps):
            until = steps[i + 1][1] if i + 1 < len(steps) else None
            if since is None:
                took = None
            elif until is not None:
                took = until - since
            elif not state.is_final:
                took = _now() - since
            else:
                took = None
            out.append((state, since, took, message))
        return out

    def configuration(self, properties: bool = True) -> list[tuple[str, str]]:
        """What the session was created with (and the server's defaults)."""
        rows: list[tuple[str, str]] = []
        rc = self.runtime_config
        ec = _execution(self)
        if kind(self):
            rows.append(("kind", kind(self)))
        if self.session_template:
            rows.append(("template", self.session_template))
        if rc is not None and rc.version:
            rows.append(("runtime version", rc.version))
        if ec is not None:
            if ec.ttl is not None:
                left = expires_in(self)
                rows.append(
                    ("ttl", format_human_duration(ec.ttl) + (f" (ends in {left})" if left else ""))
                )
            rows.extend(execution_rows(ec))
        labels = user_labels(self)
        if labels:
            rows.append(("labels", labels_text(labels)))
        if rc is not None and properties:
            for key, value in sorted(rc.properties.items()):
                rows.append((f"property {key}", value))
        return rows

    def usage(self) -> list[tuple[str, str]]:
        info = self.runtime_info
        rows: list[tuple[str, str]] = []
        if info is None:
            return rows
        if info.current_usage is not None and self.state == State.ACTIVE:
            cu = info.current_usage
            rows.append(("now", format_dcu(cu.milli_dcu)))
        if info.approximate_usage is not None:
            au = info.approximate_usage
            total = dcu_hours(au.milli_dcu_seconds)
            if au.shuffle_storage_gb_seconds:
                total += f", {au.shuffle_storage_gb_seconds / 3600:.2f} GB-h shuffle storage"
            rows.append(("so far" if self.state.is_live else "total", total))
        return rows

    def _summary(self) -> str:
        bits = [kind(self)]
        left = expires_in(self)
        if left:
            bits.append(f"ends in {left}")
        usage = usage_text(self)
        if usage:
            bits.append(usage)
        if self._current:
            bits.append("current session")
        return " · ".join(b for b in bits if b)

    # --- text ----------------------------------------------------------------------------

    def _text(self) -> str:
        head = f"{self.session_id}  {self.state.name}"
        if self._compact:
            summary = " · ".join(b for b in (self.state_message, self._summary()) if b)
            return head + (f"  ({summary})" if summary else "")
        if self.state_message:
            head += f"  {self.state_message}"
        lines = [head, f"  name     {self.name}"]
        if self._current:
            lines.append("  (the current session)")
        lines += [
            f"  uuid     {self.uuid}",
            f"  creator  {self.creator}",
            f"  created  {local_time(self.create_time)} ({age(self.create_time)} ago)",
            "timeline",
        ]
        for state, since, took, message in self.timeline():
            line = f"  {state.name:<12} {local_time(since):<24} {_took(took):>8}"
            lines.append((line + f"  {message}" if message else line).rstrip())
        endpoints = self.runtime_info.endpoints if self.runtime_info else {}
        if endpoints:
            lines.append("endpoints")
            lines += [f"  {k}: {v}" for k, v in sorted(endpoints.items())]
        for title, rows in (("configuration", self.configuration()), ("usage", self.usage())):
            if rows:
                lines.append(title)
                width = max(len(k) for k, _ in rows)
                lines += [f"  {k:<{width}}  {v}" for k, v in rows]
        return "\n".join(lines)

    _repr_pretty_ = _pretty

    # --- HTML ----------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        head = f"<code><b>{_esc(self.session_id)}</b></code> {badge(self.state)}"
        if self._compact:
            summary = " · ".join(b for b in (self.state_message, self._summary()) if b)
            tail = f' <span style="{_MUTED}">{_esc(summary)}</span>' if summary else ""
            return f'<div class="jp-sessions-session">{head}{tail}</div>'
        if self.state_message:
            head += f' <span style="{_MUTED}">{_esc(self.state_message)}</span>'
        parts = [f'<div class="jp-sessions-card"><div style="margin-bottom:4px">{head}</div>']
        facts = [
            ("name", f"<code>{_esc(self.name)}</code>"),
            ("uuid", _esc(self.uuid)),
            ("creator", _esc(self.creator)),
            (
                "created",
                f"{_esc(local_time(self.create_time))} ({_esc(age(self.create_time))} ago)",
            ),
        ]
        if self._current:
            facts.insert(0, ("", "<i>the current session</i>"))
        parts.append(_kv_table(facts))
        steps = [
            (
                badge(state),
                _esc(local_time(since)),
                _esc(_took(took)),
                _esc(message),
            )
            for state, since, took, message in self.timeline()
        ]
        parts.append(_section("Timeline"))
        parts.append(
            _html_table(("state", "since", "for", "message"), steps, "jp-sessions-timeline")
        )
        endpoints = self.runtime_info.endpoints if self.runtime_info else {}
        if endpoints:
            parts.append(_section("Endpoints"))
            parts.append(
                _kv_table(
                    [(_esc(k), f"<code>{_esc(v)}</code>") for k, v in sorted(endpoints.items())]
                )
            )
        config = self.configuration(properties=False)
        if config:
            parts.append(_section("Configuration"))
            parts.append(_kv_table([(_esc(k), _esc(v)) for k, v in config]))
        props = self.runtime_config.properties if self.runtime_config else {}
        if props:
            # Mostly server defaults: folded, so the card stays short.
            parts.append(
                f"<details><summary>{len(props)} runtime properties</summary>"
                + _kv_table([(_esc(k), _esc(v)) for k, v in sorted(props.items())])
                + "</details>"
            )
        usage = self.usage()
        if usage:
            parts.append(_section("Usage"))
            parts.append(_kv_table([(_esc(k), _esc(v)) for k, v in usage]))
        parts.append("</div>")
        return "".join(parts)


def _took(took: timedelta | None) -> str:
    if took is None:
        return ""
    seconds = took.total_seconds()
    return f"{seconds:.1f}s" if seconds < 60 else format_duration(took)


def _section(title: str) -> str:
    return f'<div style="font-weight:600;margin-top:6px">{_esc(title)}</div>'


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    """Rows are already HTML."""
    body = "".join(
        f'<tr><td style="{_CELL_STYLE};{_MUTED}">{k}</td><td style="{_CELL_STYLE}">{v}</td></tr>'
        for k, v in rows
    )
    return f'<table style="{_TABLE_STYLE}"><tbody>{body}</tbody></table>'


# --- templates ---------------------------------------------------------------------------


class TemplateList(Shown, list[SessionTemplate]):
    """Session templates as returned by ``%session templates``."""

    _HEADERS = ("template", "description", "kind", "version", "ttl", "max idle", "labels")

    def __init__(self, templates: Iterable[SessionTemplate] = (), *, parent: str = "") -> None:
        super().__init__(templates)
        self.parent = parent

    @property
    def ids(self) -> list[str]:
        return [t.template_id for t in self]

    def _rows(self) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for t in self:
            ec = _execution(t)
            rc = t.runtime_config
            rows.append(
                (
                    t.template_id,
                    t.description,
                    kind(t),
                    rc.version if rc is not None else "",
                    format_human_duration(ec.ttl) if ec is not None and ec.ttl else "",
                    format_human_duration(ec.idle_ttl) if ec is not None and ec.idle_ttl else "",
                    labels_text(user_labels(t)),
                )
            )
        return rows

    def _text(self) -> str:
        if not self:
            return f"No session templates{' in ' + self.parent if self.parent else ''}."
        return _text_table(self._HEADERS, self._rows())

    def _repr_html_(self) -> str:
        if not self:
            return f'<p style="{_MUTED}">{_esc(self._text())}</p>'
        rows = [(f"<code>{_esc(r[0])}</code>", *(_esc(c) for c in r[1:])) for r in self._rows()]
        return _html_table(self._HEADERS, rows, "jp-sessions-templates")


# --- small things ------------------------------------------------------------------------


class Notice:
    """A one-line outcome (``Deleted session x``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text)

    def _repr_html_(self) -> str:
        return f'<div class="jp-sessions-notice">{_esc(self.text)}</div>'


class KeyValues(Shown, dict[str, str]):
    """A small table of facts (``%session config``)."""

    def __init__(self, title: str, items: Iterable[tuple[str, str]]) -> None:
        super().__init__(items)
        self.title = title

    def _text(self) -> str:
        width = max((len(k) for k in self), default=0)
        return "\n".join([self.title, *(f"  {k:<{width}}  {v}" for k, v in self.items())])

    def _repr_html_(self) -> str:
        return _section(self.title) + _kv_table([(_esc(k), _esc(v)) for k, v in self.items()])


class HelpTable(Shown):
    """``%session help``: every subcommand with its flags and defaults, grouped."""

    def __init__(self, rows: Sequence[tuple[str, str, str, str]], title: str) -> None:
        self.rows = list(rows)
        self.title = title

    WIDTH = 80  # a terminal's width: nothing is longer
    FLAG_COLUMN = 26

    def _text(self) -> str:
        import textwrap

        def wrap(text: str, first: str, rest: str) -> list[str]:
            # Break between words only: never inside a flag such as --max-idle.
            return textwrap.wrap(
                text,
                self.WIDTH,
                initial_indent=first,
                subsequent_indent=rest,
                break_on_hyphens=False,
                break_long_words=False,
            )

        lines = [self.title]
        col = self.FLAG_COLUMN
        for usage, flag, default, text in self.rows:
            if usage:
                lines.append("")
                # Usage lines break between options ("[--ttl DURATION]" stays whole).
                words = re.findall(r"\[[^\]]*\]|\S+", usage)
                line = ""
                for word in words:
                    if line and len(line) + 1 + len(word) > self.WIDTH:
                        lines.append(line)
                        line = " " * 8 + word
                    else:
                        line = f"{line} {word}" if line else word
                lines.append(line)
                lines += wrap(text, "    ", "    ")
            else:
                left = f"  {flag}" + (f" (default {default})" if default else "")
                if len(left) < col - 1:
                    lines += wrap(text, f"{left:<{col}}", " " * col)
                else:
                    lines.append(left)
                    lines += wrap(text, " " * col, " " * col)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = []
        for usage, flag, default, text in self.rows:
            if usage:
                body.append(
                    f'<tr><td colspan="3" style="{_CELL_STYLE};padding-top:8px">'
                    f"<code><b>{_esc(usage)}</b></code></td>"
                    f'<td style="{_CELL_STYLE};padding-top:8px">{_esc(text)}</td></tr>'
                )
            else:
                body.append(
                    f'<tr><td style="{_CELL_STYLE}"></td>'
                    f'<td style="{_CELL_STYLE}"><code>{_esc(flag)}</code></td>'
                    f'<td style="{_CELL_STYLE};{_MUTED}">{_esc(default)}</td>'
                    f'<td style="{_CELL_STYLE}">{_esc(text)}</td></tr>'
                )
        head = "".join(
            f'<th style="{_CELL_STYLE}">{h}</th>'
            for h in ("command", "flag", "default", "description")
        )
        return (
            f"<div><b>{_esc(self.title)}</b></div>"
            f'<table class="jp-sessions-help" style="{_TABLE_STYLE}"><thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>"
        )


def progress_bundle(verb: str, session: Session, elapsed: float) -> dict[str, str]:
    """One progress line (text and HTML): state, elapsed time, state message."""
    took = f"{elapsed:.1f}s"
    text = f"{verb} {session.session_id}: {session.state.name} ({took})"
    if session.state_message:
        text += f" {session.state_message}"
    html_line = (
        f'<div class="jp-sessions-progress">{_esc(verb)} <code>{_esc(session.session_id)}</code> '
        f"{badge(session.state)} <span>{_esc(took)}</span>"
        + (
            f' <span style="{_MUTED}">{_esc(session.state_message)}</span>'
            if session.state_message
            else ""
        )
        + "</div>"
    )
    return {"text/plain": text, "text/html": html_line}
