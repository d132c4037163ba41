"""How values read for people, the same on every surface.

The magics (HTML and text), the widget panel and the command line format durations, ages,
times, usage, states and validation messages through these functions; the JupyterLab side
panel's ``format.ts`` and ``validation.ts`` follow the same rules, and both are checked
against ``tests/golden/format_cases.json``.

Rules:

- Durations: ``45s``, ``1m 30s`` (seconds only under 10 minutes), ``12m``, ``3h 05m``,
  ``2d 4h``.
- Ages: ``just now`` under 5 seconds, then ``<duration> ago``.
- Times: always UTC with a 24-hour clock, so a remote kernel, a terminal and a browser in
  another zone say the same thing: ``2026-11-30 09:19:40 UTC`` in full; short forms
  ``09:19:40 UTC`` (same UTC day), ``Nov 3, 09:19 UTC`` (same year), ``Nov 3, 2025``.
- Usage: one unit, DCU-hours (``DCU·h``), with two significant digits below 10
  (``0.00017 DCU·h``), one decimal below 1000, whole numbers above.
- States: one label, description and theme colour each.
- Validation: one message per mistake (``At least 10 minutes.``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..api.durations import parse_human_duration
from ..api.model import State

__all__ = [
    "MAX_LABELS",
    "MAX_TTL_SECONDS",
    "MIN_TTL_SECONDS",
    "STATE_STYLES",
    "StateStyle",
    "format_age",
    "format_dcu",
    "format_duration",
    "format_time",
    "format_time_short",
    "format_usage",
    "state_style",
    "validate_labels_text",
    "validate_session_id",
    "validate_ttl",
]

MIN_TTL_SECONDS = 10 * 60
MAX_TTL_SECONDS = 14 * 24 * 3600
MAX_LABELS = 32
_SESSION_ID = re.compile(r"[a-z][a-z0-9-]{2,61}[a-z0-9]\Z")
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}\Z")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}\Z")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _seconds(value: timedelta | float) -> int:
    raw = value.total_seconds() if isinstance(value, timedelta) else value
    return max(0, math.floor(raw))


def format_duration(value: timedelta | float) -> str:
    """A compact duration: ``45s``, ``1m 30s``, ``12m``, ``3h 05m``, ``2d 4h``."""
    s = _seconds(value)
    if s < 60:
        return f"{s}s"
    minutes = s // 60
    if minutes < 60:
        rest = s % 60
        return f"{minutes}m {rest}s" if rest and minutes < 10 else f"{minutes}m"
    hours = minutes // 60
    if hours < 24:
        return f"{hours}h {minutes % 60:02d}m"
    days, rest_hours = divmod(hours, 24)
    return f"{days}d {rest_hours}h" if rest_hours else f"{days}d"


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def format_age(when: datetime | None, now: datetime) -> str:
    """How long ago: ``just now``, ``5m ago``; empty when unknown."""
    if when is None:
        return ""
    seconds = (_utc(now) - _utc(when)).total_seconds()
    if seconds < 5:
        return "just now"
    return f"{format_duration(seconds)} ago"


def format_time(when: datetime | None) -> str:
    """A full time, in UTC: ``2026-11-30 09:19:40 UTC``; empty when unknown."""
    if when is None:
        return ""
    return _utc(when).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_time_short(when: datetime | None, now: datetime) -> str:
    """A short UTC time: the clock on the same day, the date and clock this year, else the date."""
    if when is None:
        return ""
    t, today = _utc(when), _utc(now)
    if t.date() == today.date():
        return t.strftime("%H:%M:%S UTC")
    month = _MONTHS[t.month - 1]
    if t.year == today.year:
        return f"{month} {t.day}, {t:%H:%M} UTC"
    return f"{month} {t.day}, {t.year}"


def _trim(number: float, digits: int) -> str:
    text = f"{number:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_usage(milli_dcu_seconds: int | float) -> str:
    """Usage so far in DCU-hours: ``0 DCU·h``, ``0.00017 DCU·h``, ``2.5 DCU·h``, ``12.3 DCU·h``."""
    hours = max(0.0, float(milli_dcu_seconds)) / 1000 / 3600
    if hours == 0:
        return "0 DCU·h"
    if hours < 0.00001:
        return "<0.00001 DCU·h"
    if hours < 10:
        digits = 1 - math.floor(math.log10(hours))
        return f"{_trim(hours, max(0, digits))} DCU·h"
    if hours < 1000:
        return f"{_trim(hours, 1)} DCU·h"
    return f"{round(hours)} DCU·h"


def format_dcu(milli_dcu: int | float) -> str:
    """A rate in DCU: ``4 DCU``, ``0.5 DCU``."""
    return f"{_trim(float(milli_dcu) / 1000, 2)} DCU"


@dataclass(frozen=True)
class StateStyle:
    """How a state reads: its label, what it means and its colour (a theme variable)."""

    label: str
    description: str
    colour_var: str
    fallback: str

    @property
    def css_colour(self) -> str:
        return f"var({self.colour_var}, {self.fallback})"


STATE_STYLES: dict[State, StateStyle] = {
    State.STATE_UNSPECIFIED: StateStyle(
        "Unknown", "The state is not known", "--jp-ui-font-color3", "#9e9e9e"
    ),
    State.CREATING: StateStyle(
        "Creating", "Being created; not running yet", "--jp-brand-color1", "#1976d2"
    ),
    State.ACTIVE: StateStyle("Active", "Running", "--jp-success-color1", "#388e3c"),
    State.TERMINATING: StateStyle("Terminating", "Shutting down", "--jp-warn-color1", "#f57c00"),
    State.TERMINATED: StateStyle(
        "Terminated",
        "Terminated; delete it to reuse its ID",
        "--jp-ui-font-color2",
        "#616161",
    ),
    State.FAILED: StateStyle(
        "Failed", "No longer running because of an error", "--jp-error-color1", "#d32f2f"
    ),
}


def state_style(state: State) -> StateStyle:
    return STATE_STYLES.get(state, STATE_STYLES[State.STATE_UNSPECIFIED])


def validate_session_id(session_id: str) -> str | None:
    """The message for a bad session id, or None."""
    if not session_id:
        return "Enter a session ID."
    if len(session_id) < 4:
        return "Use at least 4 characters."
    if len(session_id) > 63:
        return f"Use at most 63 characters (this one has {len(session_id)})."
    if not ("a" <= session_id[0] <= "z"):
        return "Start with a lowercase letter."
    bad = list(dict.fromkeys(c for c in session_id if not re.match(r"[a-z0-9-]", c)))
    if bad:
        listed = ", ".join(f'"{c}"' for c in bad)
        return f"Use only lowercase letters, digits and hyphens (not {listed})."
    if session_id.endswith("-"):
        return "Do not end with a hyphen."
    return None if _SESSION_ID.match(session_id) else "Not a valid session ID."


def validate_ttl(text: str) -> str | None:
    """The message for a bad TTL or idle TTL (``30m``, ``2h``); empty means the default."""
    if not text.strip():
        return None
    try:
        seconds = round(parse_human_duration(text).total_seconds())
    except ValueError:
        return "Write a duration such as 90s, 30m, 2h or 1d."
    if seconds < MIN_TTL_SECONDS:
        return "At least 10 minutes."
    if seconds > MAX_TTL_SECONDS:
        return "At most 14 days."
    return None


def validate_labels_text(text: str) -> str | None:
    """The message for bad labels written ``k=v`` separated by commas or lines, or None."""
    labels: dict[str, str] = {}
    entries = [entry.strip() for entry in re.split(r"[,\n]", text)]
    for entry in (e for e in entries if e):
        key, sep, value = entry.partition("=")
        key, value = key.strip(), value.strip() if sep else ""
        if not key:
            return f'"{entry}": the key is empty.'
        if not _LABEL_KEY.match(key):
            return (
                f'Label key "{key}": start with a lowercase letter; use lowercase letters, '
                'digits, "_" or "-"; at most 63 characters.'
            )
        if not _LABEL_VALUE.match(value):
            return (
                f'Label value "{value}" (key "{key}"): use lowercase letters, digits, "_" or '
                '"-"; at most 63 characters.'
            )
        if key in labels:
            return f'Label key "{key}" appears twice.'
        labels[key] = value
    if len(labels) > MAX_LABELS:
        return f"At most {MAX_LABELS} labels (found {len(labels)})."
    return None
