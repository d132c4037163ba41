"""HTML fragments of the sessions panel, rendered from the pure core.

Everything that comes from the API is escaped; only http(s) endpoints become links.
CSS classes are prefixed ``jp-sessions-live-``: the JupyterLab side panel owns the rest of
``jp-sessions-``, and both stylesheets apply page-wide. Colours come from JupyterLab's theme
variables (with fallbacks), so the panel reads well in light and dark themes.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import urlsplit

from ...api.codec import format_duration
from ...api.durations import format_human_duration
from ...api.model import Session, State
from ..present import STATE_STYLES, state_style
from .state import (
    STATE_CLASSES,
    RowView,
    StatusView,
    format_elapsed,
    format_time,
    usage_text,
    user_labels,
)

MAX_LABEL_CHIPS = 3

CSS = """
<style>
.jp-sessions-live-panel { font-size: var(--jp-ui-font-size1, 13px); }
.jp-sessions-live-title { font-weight: 600; }
.jp-sessions-live-parent { color: var(--jp-ui-font-color2, #616161); font-weight: normal; }
.jp-sessions-live-status { display: inline-flex; align-items: center; gap: 6px; padding: 1px 8px;
  border-radius: 10px; border: 1px solid var(--jp-border-color2, #ccc); }
.jp-sessions-live-status-dot { width: 8px; height: 8px; border-radius: 50%;
  background: var(--jp-ui-font-color3, #999); }
.jp-sessions-live-status-live .jp-sessions-live-status-dot,
.jp-sessions-live-status-recovered .jp-sessions-live-status-dot {
  background: var(--jp-success-color1, #388e3c); }
.jp-sessions-live-status-recovered { border-color: var(--jp-success-color1, #388e3c); }
.jp-sessions-live-status-unreachable { border-color: var(--jp-error-color1, #d32f2f);
  color: var(--jp-error-color1, #d32f2f); }
.jp-sessions-live-status-unreachable .jp-sessions-live-status-dot {
  background: var(--jp-error-color1, #d32f2f); }
.jp-sessions-live-status-reconnecting { border-color: var(--jp-warn-color1, #f57c00);
  color: var(--jp-warn-color1, #f57c00); }
.jp-sessions-live-status-reconnecting .jp-sessions-live-status-dot {
  background: var(--jp-warn-color1, #f57c00); }
/* The table: one grid template for the header and every row, chosen by the table's own
   width (a container query), so columns stay aligned from 500 to 1400 px; narrow tables
   drop the secondary columns. Ids keep one column width everywhere, cut with an ellipsis
   (the full id is in the tooltip). */
.jp-sessions-live-table { container-type: inline-size; container-name: jp-sessions-live; }
.jp-sessions-live-header, .jp-sessions-live-row {
  --jp-sessions-live-idw: clamp(150px, 26%, 320px); }
.jp-sessions-live-grid { display: grid; align-items: center; column-gap: 8px; min-width: 0;
  grid-template-columns: 104px 64px 72px minmax(0, 1fr) minmax(0, 1fr) minmax(196px, 1.2fr) 72px; }
.jp-sessions-live-grid > span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  min-width: 0; }
@container jp-sessions-live (max-width: 900px) {
  .jp-sessions-live-grid {
    grid-template-columns: 104px 64px minmax(0, 1fr) minmax(196px, 1.2fr) 72px; }
  .jp-sessions-live-col-in-state, .jp-sessions-live-col-creator { display: none; }
}
@container jp-sessions-live (max-width: 640px) {
  .jp-sessions-live-header, .jp-sessions-live-row {
    --jp-sessions-live-idw: clamp(140px, 36%, 240px); }
  .jp-sessions-live-grid { grid-template-columns: 100px 52px minmax(0, 1fr) 60px; }
  .jp-sessions-live-col-labels, .jp-sessions-live-usage-rate { display: none; }
}
.jp-sessions-live-header { font-weight: 600; color: var(--jp-ui-font-color2, #616161);
  border-bottom: 1px solid var(--jp-border-color2, #ccc); padding: 2px 0; }
.jp-sessions-live-table > .jp-sessions-live-header.widget-html { margin: 0; }
.jp-sessions-live-head { display: flex; align-items: center; min-width: 0; }
.jp-sessions-live-header-id { flex: none; width: var(--jp-sessions-live-idw);
  margin-right: 4px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.jp-sessions-live-row { border-bottom: 1px solid var(--jp-border-color3, #eee); }
.jp-sessions-live-row > .widget-html { flex: 1 1 0; min-width: 0; margin: 0; }
.jp-sessions-live-row > .widget-html > .widget-html-content { min-width: 0; }
.jp-sessions-live-row-select, .jp-sessions-live-row-select.jupyter-button {
  flex: none; width: var(--jp-sessions-live-idw); text-align: left; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; font-family: var(--jp-code-font-family, monospace);
  /* Ids that share a prefix differ at the end: a long id loses its start, not its end
     (ids start with a letter and end with a letter or digit, so the order is kept). */
  direction: rtl;
  font-size: var(--jp-code-font-size, 13px); background: transparent;
  color: var(--jp-ui-font-color1, #212121); }
.jp-sessions-live-row-select:hover { background: var(--jp-layout-color2, #eee); }
.jp-sessions-live-row-selected { background: var(--jp-layout-color2, #eee);
  box-shadow: inset 3px 0 0 var(--jp-brand-color1, #1976d2); }
.jp-sessions-live-row-selected .jp-sessions-live-row-select { font-weight: 600; }
/* State badges: the state's theme colour as text and outline, as in the side panel. */
.jp-sessions-live-badge { --jp-sessions-live-state: var(--jp-ui-font-color3, #9e9e9e);
  display: inline-flex; align-items: center; gap: 4px; padding: 0 6px; border-radius: 9px;
  font-size: 0.9em; font-weight: 600; line-height: 16px; white-space: nowrap;
  color: var(--jp-sessions-live-state); border: 1px solid var(--jp-sessions-live-state); }
__STATE_RULES__
.jp-sessions-live-spinner { width: 8px; height: 8px; border: 2px solid currentcolor;
  border-right-color: transparent; border-radius: 50%;
  animation: jp-sessions-live-spin 0.8s linear infinite; }
@keyframes jp-sessions-live-spin { to { transform: rotate(360deg); } }
.jp-sessions-live-label { display: inline-block; padding: 0 5px; margin-right: 3px;
  border-radius: 3px; background: var(--jp-layout-color3, #e0e0e0); font-size: 0.9em;
  line-height: 18px; }
.jp-sessions-live-mine { font-weight: 600; }
.jp-sessions-live-muted { color: var(--jp-ui-font-color3, #999); }
.jp-sessions-live-empty { color: var(--jp-ui-font-color2, #616161); padding: 8px 0; }
.jp-sessions-live-details { border: 1px solid var(--jp-border-color2, #ccc); border-radius: 4px;
  padding: 6px 10px; margin-top: 6px; }
.jp-sessions-live-details h4 { margin: 4px 0; }
.jp-sessions-live-details table { border-collapse: collapse; }
.jp-sessions-live-details td, .jp-sessions-live-details th { padding: 1px 8px 1px 0;
  text-align: left; vertical-align: top; }
.jp-sessions-live-details th { white-space: nowrap; }
.jp-sessions-live-timeline { list-style: none; padding-left: 0; margin: 2px 0; }
.jp-sessions-live-timeline li { margin: 2px 0; }
.jp-sessions-live-failure { border-left: 3px solid var(--jp-error-color1, #d32f2f);
  padding: 4px 8px; background: var(--jp-error-color3, #fde8e8); margin: 4px 0;
  white-space: pre-wrap; }
.jp-sessions-live-field-error { color: var(--jp-error-color1, #d32f2f); font-size: 0.9em;
  margin: -2px 0 4px 0; }
.jp-sessions-live-message-ok { color: var(--jp-success-color1, #388e3c); }
.jp-sessions-live-message-error { color: var(--jp-error-color1, #d32f2f); }
.jp-sessions-live-message-busy { color: var(--jp-ui-font-color1, #222); }
</style>
""".replace(
    "__STATE_RULES__",
    "\n".join(
        f".jp-sessions-live-state-{STATE_CLASSES.get(state, 'unknown')} "
        f"{{ --jp-sessions-live-state: {style.css_colour}; }}"
        for state, style in STATE_STYLES.items()
    ),
)

COLUMNS = ("State", "Age", "In state", "Creator", "Labels", "Usage", "Idle TTL")
# The CSS class of each column (``jp-sessions-live-col-<key>``): narrow tables hide some.
COLUMN_KEYS = ("state", "age", "in-state", "creator", "labels", "usage", "idle")


def e(value: object) -> str:
    """Escape for HTML text and attribute values."""
    return escape(str(value), quote=True)


def badge(state: State, *, current: bool = True) -> str:
    """A state's coloured badge; a spinner while it is the current, transitional state."""
    cls = STATE_CLASSES.get(state, "unknown")
    spinning = current and state.is_transition
    spinner = '<span class="jp-sessions-live-spinner"></span>' if spinning else ""
    style = state_style(state)
    return (
        f'<span class="jp-sessions-live-badge jp-sessions-live-state-{cls}" '
        f'data-state="{e(state.name)}" title="{e(state.name)}: {e(style.description)}">'
        f"{spinner}{e(style.label)}</span>"
    )


def header_html() -> str:
    cells = "".join(
        f'<span class="jp-sessions-live-col-{key}" title="{e(c)}">{e(c)}</span>'
        for key, c in zip(COLUMN_KEYS, COLUMNS, strict=True)
    )
    return (
        '<div class="jp-sessions-live-head">'
        '<span class="jp-sessions-live-header-id">Session</span>'
        f'<div class="jp-sessions-live-grid" style="flex:1 1 0">{cells}</div></div>'
    )


def labels_html(labels: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str:
    chips = [
        f'<span class="jp-sessions-live-label">{e(k)}{"=" + e(v) if v else ""}</span>'
        for k, v in labels[:MAX_LABEL_CHIPS]
    ]
    if len(labels) > MAX_LABEL_CHIPS:
        chips.append(
            f'<span class="jp-sessions-live-muted">+{len(labels) - MAX_LABEL_CHIPS}</span>'
        )
    return "".join(chips)


def usage_html(usage: str) -> str:
    """``rate · total``: narrow tables keep the total (the rate is in the tooltip)."""
    rate, sep, total = usage.partition(" · ")
    if not sep:
        return e(usage)
    return f'<span class="jp-sessions-live-usage-rate">{e(rate)} · </span>{e(total)}'


def row_cells_html(view: RowView) -> str:
    """The cells of one row after its id (the id is the row's select button)."""
    all_labels = ", ".join(f"{k}={v}" if v else k for k, v in view.labels)
    state_title = f"Since {view.state_since}" + (
        f": {view.state_message}" if view.state_message else ""
    )
    creator_title = view.creator + (" (you)" if view.mine else "")
    mine = " jp-sessions-live-mine" if view.mine else ""
    cells = [
        ("state", "", state_title, badge(view.state)),
        ("age", "", f"Created {view.created}", e(view.age)),
        ("in-state", "", state_title, e(view.in_state)),
        ("creator", mine, creator_title, e(view.creator)),
        ("labels", "", all_labels, labels_html(view.labels)),
        ("usage", "", view.usage_title, usage_html(view.usage)),
        ("idle", "", view.idle_title, e(view.idle)),
    ]
    spans = "".join(
        f'<span class="jp-sessions-live-col-{key}{extra}" data-col="{key}" title="{e(title)}">'
        f"{inner}</span>"
        for key, extra, title, inner in cells
    )
    return f'<div class="jp-sessions-live-grid" data-session="{e(view.name)}">{spans}</div>'


def status_html(view: StatusView) -> str:
    return (
        f'<span class="jp-sessions-live-status jp-sessions-live-status-{e(view.kind)}" '
        f'title="{e(view.title)}"><span class="jp-sessions-live-status-dot"></span>'
        f"{e(view.text)}</span>"
    )


def title_html(parent: str, backend: str = "") -> str:
    where = f" · {backend}" if backend else ""
    return (
        f'<span class="jp-sessions-live-title">Sessions</span> '
        f'<span class="jp-sessions-live-parent">{e(parent)}{e(where)}</span>'
    )


def empty_html(synced: bool, filtered: bool) -> str:
    if not synced:
        text = "Loading sessions…"
    elif filtered:
        text = "No session matches the filter."
    else:
        text = "No sessions yet: create one with “New session”."
    return f'<div class="jp-sessions-live-empty">{e(text)}</div>'


def message_html(kind: str, text: str) -> str:
    """The panel's one-line outcome: kind is ok, error or busy."""
    if not text:
        return ""
    return (
        f'<div class="jp-sessions-live-message jp-sessions-live-message-{e(kind)}">{e(text)}</div>'
    )


def field_error_html(message: str | None) -> str:
    return f'<div class="jp-sessions-live-field-error">{e(message)}</div>' if message else ""


def _link(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        return f'<a href="{e(url)}" target="_blank" rel="noopener noreferrer">{e(url)}</a>'
    return f"<code>{e(url)}</code>"


def _table(rows: list[tuple[str, str]]) -> str:
    """Rows of (escaped label, already-safe HTML value)."""
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    return f"<table>{body}</table>"


def timeline_html(session: Session, now: datetime) -> str:
    """Every state the session went through, with when and for how long."""
    steps = [(h.state, h.state_start_time, h.state_message) for h in session.state_history]
    steps.append((session.state, session.state_time, session.state_message))
    items = []
    for i, (state, start, message) in enumerate(steps):
        end = steps[i + 1][1] if i + 1 < len(steps) else None
        current = i == len(steps) - 1
        if start is not None and (end is not None or current):
            stop = end if end is not None else now
            span = format_elapsed((stop - start).total_seconds())
            took = f" for {span}" + (" so far" if current and not state.is_final else "")
        else:
            took = ""
        if current and state.is_final:
            took = ""
        note = f' <span class="jp-sessions-live-muted">{e(message)}</span>' if message else ""
        items.append(
            f"<li>{badge(state, current=current)} {e(format_time(start))}{e(took)}{note}</li>"
        )
    return f'<ol class="jp-sessions-live-timeline">{"".join(items)}</ol>'


def details_html(session: Session, now: datetime) -> str:
    """The selected session: failure, timeline, endpoints, configuration."""
    parts = [f"<h4>{e(session.session_id)} {badge(session.state)}</h4>"]
    if session.state == State.FAILED and session.state_message:
        parts.append(f'<div class="jp-sessions-live-failure">{e(session.state_message)}</div>')
    elif session.state_message:
        parts.append(f'<div class="jp-sessions-live-muted">{e(session.state_message)}</div>')

    parts.append("<b>State history</b>")
    parts.append(timeline_html(session, now))

    info = session.runtime_info
    endpoints = sorted((info.endpoints if info else {}).items())
    links: list[tuple[str, str]] = [(e(k), _link(v)) for k, v in endpoints]
    if info and info.output_uri:
        links.append(("Output", _link(info.output_uri)))
    if info and info.diagnostic_output_uri:
        links.append(("Diagnostics", _link(info.diagnostic_output_uri)))
    parts.append("<b>Endpoints</b>")
    parts.append(
        _table(links) if links else '<div class="jp-sessions-live-muted">None reported</div>'
    )

    config: list[tuple[str, str]] = [("Name", f"<code>{e(session.name)}</code>")]
    if session.uuid:
        config.append(("UUID", f"<code>{e(session.uuid)}</code>"))
    config.append(("Created", e(format_time(session.create_time))))
    config.append(("Creator", e(session.creator or "-")))
    if session.user:
        config.append(("User", e(session.user)))
    if session.spark_connect_session is not None:
        config.append(("Type", "Spark Connect"))
    elif session.jupyter_session is not None:
        kernel = session.jupyter_session.kernel
        config.append(("Kernel", e(kernel.name.title() if kernel.value else "default")))
    if session.session_template:
        config.append(("Template", f"<code>{e(session.session_template)}</code>"))
    rc = session.runtime_config
    if rc and rc.version:
        config.append(("Runtime version", e(rc.version)))
    if rc and rc.container_image:
        config.append(("Container image", f"<code>{e(rc.container_image)}</code>"))
    env = session.environment_config
    ec = env.execution_config if env else None
    if ec:
        for label, value in (("TTL", ec.ttl), ("Idle TTL", ec.idle_ttl)):
            if value is not None:
                config.append(
                    (label, f"{e(format_human_duration(value))} ({e(format_duration(value))})")
                )
        for label, text in (
            ("Service account", ec.service_account),
            ("Network", ec.network_uri),
            ("Subnetwork", ec.subnetwork_uri),
            ("Staging bucket", ec.staging_bucket),
            ("KMS key", ec.kms_key),
        ):
            if text:
                config.append((label, e(text)))
    usage, usage_title = usage_text(session)
    config.append(("Usage", f'<span title="{e(usage_title)}">{e(usage)}</span>'))
    mine = user_labels(session.labels)
    system = sorted((k, v) for k, v in session.labels.items() if (k, v) not in mine)
    if mine:
        config.append(("Labels", labels_html(mine)))
    if system:
        config.append(
            (
                "System labels",
                '<span class="jp-sessions-live-muted">'
                + ", ".join(f"{e(k)}={e(v)}" for k, v in system)
                + "</span>",
            )
        )
    parts.append("<b>Configuration</b>")
    parts.append(_table(config))
    if rc and rc.properties:
        props = [(e(k), f"<code>{e(v)}</code>") for k, v in sorted(rc.properties.items())]
        parts.append(f"<details><summary><b>Properties</b> ({len(props)})</summary>")
        parts.append(_table(props) + "</details>")
    return f'<div class="jp-sessions-live-details">{"".join(parts)}</div>'


def gone_html(session_id: str) -> str:
    return (
        f'<div class="jp-sessions-live-details jp-sessions-live-muted">Session {e(session_id)} '
        "no longer exists.</div>"
    )
