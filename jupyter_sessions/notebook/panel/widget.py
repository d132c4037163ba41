"""SessionsPanel: a live ipywidgets 8 panel of the sessions of one project and location.

Threads and widgets:

- an event feed thread (``EventStream``: the extension's Server-Sent Events) puts events
  on a queue; it never touches widgets;
- the panel's updater thread drains the queue, applies the events to the pure
  ``PanelState`` and renders in one batch (``hold_sync``), and re-renders once a second
  so ages and countdowns move;
- create, terminate and delete run in worker threads that wait for the operation;
- every render holds the panel's lock, so the kernel's main thread (clicks, filters)
  and the workers never interleave trait changes;
- nothing prints from a thread: messages go to the panel's own ``output`` widget
  (``append_stdout``/``append_stderr``) and the ``message`` line.

``close()`` stops every thread, closes the HTTP stream and every widget of the panel.
Panels are kept in a module registry: a new panel for the same server and parent closes
the older one (re-running a cell leaks nothing), and ``SessionsPanel.close_all()``
closes them all.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import ipywidgets as widgets

from ...api.errors import AlreadyExists, ApiError, InvalidArgument, NotFound
from ...api.model import Session, SessionTemplate
from ...api.names import Parent
from ...client import SessionsClient
from ...client.event_stream import DEFAULT_READ_TIMEOUT, EventStream, PollingFeed
from . import html as H
from .actions import CANCELLED, RUNNING, SUCCEEDED, Action, ActionRunner
from .state import (
    FORM_FIELDS,
    KERNELS,
    STATE_FILTER_LABELS,
    CreateFormValues,
    PanelState,
    SessionFilter,
    api_error_fields,
    can_delete,
    can_terminate,
    check_create_form,
    check_field,
    delete_refusal,
    row_view,
    status_view,
    terminate_refusal,
    utcnow,
)

__all__ = ["CreateForm", "SessionsPanel"]

# Re-render period: ages, time in state and idle countdowns move without events.
TICK_SECONDS = 1.0
# close() waits at most this long for each thread.
JOIN_TIMEOUT = 5.0
# Lines kept in the panel's message log.
LOG_LINES = 200
MAX_TEMPLATES = 500

_registry: dict[int, SessionsPanel] = {}
_registry_lock = threading.Lock()
_panel_numbers = itertools.count(1)


def live_panels() -> list[SessionsPanel]:
    """Panels of this kernel that are not closed."""
    with _registry_lock:
        return list(_registry.values())


def _close_tree(widget: widgets.Widget) -> None:
    """Close a widget, its children and its layout and style models."""
    for child in getattr(widget, "children", ()) or ():
        _close_tree(child)
    for attr in ("layout", "style"):
        sub = getattr(widget, attr, None)
        if isinstance(sub, widgets.Widget):
            sub.close()
    widget.close()


def suggest_session_id() -> str:
    return f"session-{uuid.uuid4().hex[:8]}"


class _Row:
    """One session: its id as the select button, then the cells."""

    def __init__(self, name: str, on_select: Callable[[str], None]) -> None:
        session_id = name.rsplit("/", 1)[-1]
        # The id column's width comes from the table's CSS (it follows the table's width).
        self.button = widgets.Button(
            description=session_id,
            tooltip=f"{session_id}: show its details",
            layout=widgets.Layout(width="var(--jp-sessions-live-idw)", margin="1px 4px 1px 0"),
        )
        self.button.add_class("jp-sessions-live-row-select")
        self.cells = widgets.HTML(layout=widgets.Layout(flex="1 1 0", min_width="0"))
        self.box = widgets.HBox(
            [self.button, self.cells], layout=widgets.Layout(align_items="center")
        )
        self.box.add_class("jp-sessions-live-row")
        self.selected = False
        self.button.on_click(lambda _button: on_select(name))

    def update(self, html: str, selected: bool) -> None:
        if self.cells.value != html:
            self.cells.value = html
        if selected != self.selected:
            with self.box.hold_sync():
                if selected:
                    self.box.add_class("jp-sessions-live-row-selected")
                else:
                    self.box.remove_class("jp-sessions-live-row-selected")
            self.selected = selected

    def close(self) -> None:
        _close_tree(self.box)


class CreateForm:
    """The create form: each field with its own error line, then Create and Cancel.

    Fields are checked as they change, and all together on Create; nothing is sent while
    any is invalid.
    """

    def __init__(self, on_submit: Callable[[], Action | None], on_cancel: Callable[[], None]):
        self._on_submit = on_submit
        style = {"description_width": "100px"}
        wide = widgets.Layout(width="100%", max_width="460px")

        def field(kind: type[widgets.Widget], description: str, **kwargs: Any) -> Any:
            return kind(description=description, style=style, layout=wide, **kwargs)

        self.session_id = field(
            widgets.Text,
            "Session id",
            value=suggest_session_id(),
            placeholder="e.g. my-analysis",
            continuous_update=True,
        )
        self.template = field(widgets.Dropdown, "Template", options=[("(none)", "")], value="")
        self.kernel = field(
            widgets.Dropdown,
            "Kernel",
            options=[(label, value) for value, label in KERNELS.items()],
            value="python",
        )
        self.ttl = field(widgets.Text, "TTL", placeholder="24h by default; 10m to 14d")
        self.max_idle = field(widgets.Text, "Max idle", placeholder="1h by default; 10m to 14d")
        self.labels = field(
            widgets.Textarea, "Labels", placeholder="team=data, purpose=demo", rows=2
        )
        self.properties = field(
            widgets.Textarea,
            "Properties",
            placeholder="spark:spark.executor.memory=4g\n(one per line)",
            rows=2,
        )
        self.errors: dict[str, widgets.HTML] = {
            name: widgets.HTML(layout=widgets.Layout(margin="0 0 0 104px")) for name in FORM_FIELDS
        }
        self.create_button = widgets.Button(
            description="Create", button_style="primary", icon="play", tooltip="Create the session"
        )
        self.cancel_button = widgets.Button(description="Cancel", tooltip="Close the form")
        self.create_button.on_click(lambda _b: self.submit())
        self.cancel_button.on_click(lambda _b: on_cancel())
        rows: list[widgets.Widget] = []
        for name in FORM_FIELDS:
            rows += [self.field(name), self.errors[name]]
        # Why Create is disabled, beside it (nothing is sent while a field is invalid).
        self.blocked = widgets.HTML()
        self.blocked.add_class("jp-sessions-live-form-blocked")
        rows.append(
            widgets.HBox(
                [self.create_button, self.cancel_button, self.blocked],
                layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
            )
        )
        self.box = widgets.VBox(rows, layout=widgets.Layout(display="none", margin="4px 0"))
        self.box.add_class("jp-sessions-live-form")
        self.known: Callable[[], dict[str, Session]] = dict
        for name in FORM_FIELDS:
            self.field(name).observe(lambda change, n=name: self._changed(n), names="value")

    def field(self, name: str) -> widgets.ValueWidget:
        widget = getattr(self, name)
        assert isinstance(widget, widgets.ValueWidget)
        return widget

    def values(self) -> CreateFormValues:
        return CreateFormValues(
            session_id=self.session_id.value,
            template=self.template.value or "",
            kernel=self.kernel.value if self.kernel.value is not None else "",
            ttl=self.ttl.value,
            max_idle=self.max_idle.value,
            labels=self.labels.value,
            properties=self.properties.value,
        )

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, out in self.errors.items():
            html = H.field_error_html(errors.get(name))
            if out.value != html:
                out.value = html

    def show_error(self, name: str, message: str | None) -> None:
        self.errors[name].value = H.field_error_html(message)

    def submit(self) -> Action | None:
        """What Create does: check every field, then create (returns the action)."""
        return self._on_submit()

    def set_templates(self, templates: list[SessionTemplate]) -> None:
        current = self.template.value or ""
        options: list[tuple[str, str]] = [("(none)", "")]
        for t in templates:
            label = t.template_id + (f": {t.description}" if t.description else "")
            options.append((label, t.name))
        with self.template.hold_sync():
            self.template.options = options
            self.template.value = current if current in {v for _, v in options} else ""

    def _changed(self, name: str) -> None:
        if name == "template":
            # A template brings its own kernel or Spark Connect choice: don't override it.
            if self.template.value and self.kernel.value == "python":
                self.kernel.value = ""
            elif not self.template.value and self.kernel.value == "":
                self.kernel.value = "python"
        self.show_error(name, check_field(name, self.values(), self.known()))
        self.refresh_create()

    def refresh_create(self) -> None:
        """Create is enabled only when every field is valid; otherwise say which to fix."""
        errors = check_create_form(self.values(), self.known()).errors
        names = [self.field(n).description for n in FORM_FIELDS if n in errors]
        why = f"Fix {', '.join(names)} to create." if names else ""
        with self.create_button.hold_sync():
            self.create_button.disabled = bool(names)
            self.create_button.tooltip = why or "Create the session"
        html = f'<span class="jp-sessions-live-field-error">{H.e(why)}</span>' if why else ""
        if self.blocked.value != html:
            self.blocked.value = html

    def close(self) -> None:
        _close_tree(self.box)


class SessionsPanel(widgets.VBox):
    """Live sessions of one project and location: table, details, create form, actions.

    ``client`` defaults to ``SessionsClient.from_environment()`` (the Jupyter server that
    started this kernel); ``parent`` (``projects/P/locations/L``) to the client's.
    With ``start=False`` no thread runs until ``start()``.
    """

    poll_interval = 5.0
    """Seconds between listings when the client has no event stream (no extension)."""

    def __init__(
        self,
        client: SessionsClient | None = None,
        parent: str | None = None,
        *,
        start: bool = True,
        **kwargs: Any,
    ) -> None:
        given_parent = Parent.parse(parent).path if parent else None  # before any I/O
        self._owns_client = client is None
        self.client = client if client is not None else SessionsClient.from_environment()
        self.parent = given_parent or self.client.parent.path
        config = self.client.server_config
        self.user = config.user if config else ""
        self.backend = config.backend if config else ""
        self.number = next(_panel_numbers)
        self.state = PanelState()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._queue: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        self._closed = False
        self._started = False
        self._selected: str | None = None
        self._confirm: tuple[str, str] | None = None
        self._rows: dict[str, _Row] = {}
        self._feed: EventStream | PollingFeed | None = None
        self._updater: threading.Thread | None = None
        self._helpers: list[threading.Thread] = []
        self._runner = ActionRunner(self.client, self._stop, self._on_action)

        # Header: title, live indicator, filters, the form toggle.
        self.style_html = widgets.HTML(H.CSS, layout=widgets.Layout(height="0px"))
        self.title_html = widgets.HTML(H.title_html(self.parent, self.backend))
        self.summary_html = widgets.HTML()
        self.status_html = widgets.HTML(H.status_html(status_view(self.state.status, utcnow())))
        self.state_filter = widgets.Dropdown(
            options=[(label, value) for value, label in STATE_FILTER_LABELS.items()],
            value="all",
            layout=widgets.Layout(width="210px"),
            tooltip="Show sessions in these states",
        )
        self.mine_only = widgets.Checkbox(
            value=False,
            description="Mine only",
            indent=False,
            disabled=not self.user,
            tooltip=(
                f"Only sessions created by {self.user}"
                if self.user
                else "The Jupyter server does not say who you are"
            ),
            layout=widgets.Layout(width="110px"),
        )
        self.new_button = widgets.ToggleButton(
            value=False, description="New session", icon="plus", tooltip="Show the create form"
        )
        header = widgets.HBox(
            [
                self.title_html,
                self.status_html,
                self.summary_html,
                widgets.HBox(layout=widgets.Layout(flex="1 1 auto")),
                self.state_filter,
                self.mine_only,
                self.new_button,
            ],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
        )
        header.add_class("jp-sessions-live-toolbar")

        self.form = CreateForm(self._submit_form, lambda: self._show_form(False))
        self.form.known = lambda: self.sessions

        # The table: a header row, then one row widget per session shown.
        self._table_header = widgets.HTML(H.header_html())
        self._table_header.add_class("jp-sessions-live-header")
        self._empty = widgets.HTML(H.empty_html(False, False))
        self.table = widgets.VBox([self._table_header, self._empty])
        self.table.add_class("jp-sessions-live-table")

        # Details of the selected session, with its actions and their confirmation.
        self.details_html = widgets.HTML()
        self.terminate_button = widgets.Button(
            description="Terminate", icon="stop", button_style="warning", disabled=True
        )
        self.delete_button = widgets.Button(
            description="Delete", icon="trash", button_style="danger", disabled=True
        )
        self.close_details_button = widgets.Button(description="Hide details", icon="times")
        self.confirm_html = widgets.HTML()
        self.confirm_button = widgets.Button(description="Confirm", button_style="danger")
        self.cancel_button = widgets.Button(description="Cancel")
        self.confirm_bar = widgets.HBox(
            [self.confirm_html, self.confirm_button, self.cancel_button],
            layout=widgets.Layout(display="none", align_items="center"),
        )
        self.confirm_bar.add_class("jp-sessions-live-confirm")
        self.details_box = widgets.VBox(
            [
                self.details_html,
                widgets.HBox(
                    [self.terminate_button, self.delete_button, self.close_details_button]
                ),
                self.confirm_bar,
            ],
            layout=widgets.Layout(display="none"),
        )

        # Outcomes: the latest on one line, all of them in the log.
        self.message = widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(max_height="140px", overflow="auto"))
        self.output.add_class("jp-sessions-live-log")

        self.state_filter.observe(lambda _c: self.render(), names="value")
        self.mine_only.observe(lambda _c: self.render(), names="value")
        self.new_button.observe(lambda c: self._show_form(bool(c["new"])), names="value")
        self.terminate_button.on_click(lambda _b: self._ask("terminate"))
        self.delete_button.on_click(lambda _b: self._ask("delete"))
        self.confirm_button.on_click(lambda _b: self._confirmed())
        self.cancel_button.on_click(lambda _b: self._cancel_confirm())
        self.close_details_button.on_click(lambda _b: self.select(None))

        super().__init__(
            [
                self.style_html,
                header,
                self.form.box,
                self.table,
                self.details_box,
                self.message,
                self.output,
            ],
            **kwargs,
        )
        self.add_class("jp-sessions-live-panel")
        if start:
            self.start()

    # --- public state -------------------------------------------------------------------

    @property
    def sessions(self) -> dict[str, Session]:
        """Every known session of the parent, by name, newest first (a copy)."""
        with self._lock:
            return dict(self.state.sessions)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def selected(self) -> str | None:
        """The name of the session whose details are shown."""
        return self._selected

    @property
    def actions(self) -> list[Action]:
        """Recent create, terminate and delete actions, oldest first."""
        return list(self._runner.actions)

    @property
    def last_action(self) -> Action | None:
        actions = self._runner.actions
        return actions[-1] if actions else None

    def visible(self) -> list[str]:
        """Names of the sessions the table shows (after the filters), in order."""
        with self._lock:
            return [s.name for s in self._filter().apply(self.state.sessions.values())]

    def row_html(self, name_or_id: str) -> str | None:
        """The rendered cells of a session's row, or None when it is not shown."""
        with self._lock:
            row = self._rows.get(self._name(name_or_id))
            if row is None or row.box not in self.table.children:
                return None
            return str(row.cells.value)

    def threads(self) -> list[threading.Thread]:
        """The panel's threads that are still running."""
        found = [self._feed.thread if self._feed else None, self._updater, *self._helpers]
        alive = [t for t in found if t is not None and t.is_alive()]
        return alive + self._runner.threads()

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Open the live feed and start updating (once). Closes older panels of the same
        server and parent in this kernel, so a re-run cell leaves nothing behind."""
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
        key = self._key()
        with _registry_lock:
            older = [p for p in _registry.values() if p._key() == key]
            _registry[id(self)] = self
        for panel in older:
            panel.close()
        config = self.client.server_config
        if config is not None:
            self._feed = EventStream(
                config.url,
                self.parent,
                self._enqueue,
                headers=self.client.request_headers(),
                # A few heartbeats may be late before a connection counts as dead.
                read_timeout=max(DEFAULT_READ_TIMEOUT, 1.5 * config.heartbeat_interval + 5),
            )
        else:  # a client straight to a Sessions API: no event stream there, so poll
            self._feed = PollingFeed(
                self.client, self.parent, self._enqueue, interval=self.poll_interval
            )
        self._updater = threading.Thread(
            target=self._update_loop, name=f"jupyter-sessions-panel-{self.number}", daemon=True
        )
        self._updater.start()
        self._feed.start()
        self._spawn("templates", self._load_templates)

    def close(self) -> None:
        """Stop the threads, close the event stream and every widget of the panel."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._queue.put(("wake", {}))  # the updater returns now, not at its next tick
        me = threading.current_thread()
        if self._feed is not None:
            self._feed.close(JOIN_TIMEOUT)
        for thread in [self._updater, *self._helpers]:
            if thread is not None and thread is not me and thread.is_alive():
                thread.join(JOIN_TIMEOUT)
        self._runner.join(JOIN_TIMEOUT)
        with _registry_lock:
            _registry.pop(id(self), None)
        if self._owns_client:
            self.client.close()
        with self._lock:
            for row in self._rows.values():
                row.close()
            self._rows.clear()
            self.form.close()
            _close_tree(self._empty)  # not in the table while rows are shown
            for child in list(self.children):
                _close_tree(child)
            layout = getattr(self, "layout", None)
            if isinstance(layout, widgets.Widget):
                layout.close()
            super().close()

    @classmethod
    def close_all(cls) -> None:
        """Close every SessionsPanel of this kernel."""
        for panel in live_panels():
            panel.close()

    # --- actions ------------------------------------------------------------------------

    def select(self, name_or_id: str | None) -> None:
        """Show the details of a session (None hides them)."""
        with self._lock:
            name = self._name(name_or_id) if name_or_id else None
            if name != self._selected:
                self._confirm = None
            self._selected = name
            self.render()

    def _toggle(self, name: str) -> None:
        """A row's id was clicked: show its details, or hide them if already shown."""
        self.select(None if self._selected == name else name)

    def terminate(self, name_or_id: str) -> Action:
        """Terminate a session now (no confirmation), waiting for the outcome in a thread."""
        return self._start_action("terminate", self._name(name_or_id))

    def delete(self, name_or_id: str) -> Action:
        """Delete a session now (no confirmation), waiting for the outcome in a thread."""
        return self._start_action("delete", self._name(name_or_id))

    def apply_event(self, kind: str, data: dict[str, Any]) -> None:
        """Apply one event as if it came from the live feed, and redraw."""
        with self._lock:
            if not self._closed:
                self._apply(kind, data)
                self._render()

    def render(self) -> None:
        """Redraw from the current state (the updater does this on every change)."""
        with self._lock:
            if not self._closed:
                self._render()

    # --- internals: feed and updater ----------------------------------------------------

    def _key(self) -> tuple[str, str]:
        config = self.client.server_config
        return (config.url if config else self.client.api_root, self.parent)

    def _enqueue(self, kind: str, data: dict[str, Any]) -> None:
        self._queue.put((kind, data))

    def _update_loop(self) -> None:
        while not self._stop.is_set():
            batch: list[tuple[str, dict[str, Any]]] = []
            try:
                batch.append(self._queue.get(timeout=TICK_SECONDS))
            except queue.Empty:
                pass
            # Everything that arrived meanwhile is applied together and rendered once.
            with contextlib.suppress(queue.Empty):
                while len(batch) < 10_000:
                    batch.append(self._queue.get_nowait())
            with self._lock:
                if self._closed:
                    return
                for kind, data in batch:
                    self._apply(kind, data)
                try:
                    self._render()
                except Exception as exc:  # keep updating; say what went wrong
                    self._log(f"Could not draw the sessions table: {exc!r}", error=True)

    def _apply(self, kind: str, data: dict[str, Any]) -> None:
        before = (self.state.status.connected, self.state.status.reachable)
        try:
            self.state.apply(kind, data)
        except (ValueError, ApiError) as exc:
            self._log(f"Ignored a malformed {kind} event: {exc}", error=True)
            return
        st = self.state.status
        if kind == "disconnected" and before[0]:
            self._log(f"Lost the live event stream: {st.message}", error=True)
        elif st.connected and not before[0] and st.recovered_at is not None:
            self._log("Reconnected to the live event stream")
        if before[1] and not st.reachable:
            self._log(f"The sessions backend is unreachable: {st.message}", error=True)
        elif not before[1] and st.reachable:
            self._log("The sessions backend is reachable again")

    def _spawn(self, what: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(
            target=target, name=f"jupyter-sessions-{what}-{self.number}", daemon=True
        )
        self._helpers.append(thread)
        thread.start()

    def _load_templates(self) -> None:
        try:
            templates = list(
                itertools.islice(self.client.list_templates(parent=self.parent), MAX_TEMPLATES)
            )
        except ApiError as exc:
            with self._lock:
                if not self._closed:
                    self.form.show_error("template", f"Could not load templates: {exc.message}")
            return
        with self._lock:
            if not self._closed:
                self.form.set_templates(templates)

    # --- internals: rendering (the lock is held) ----------------------------------------

    def _filter(self) -> SessionFilter:
        return SessionFilter.from_choice(
            str(self.state_filter.value), bool(self.mine_only.value), self.user
        )

    def _name(self, name_or_id: str) -> str:
        if name_or_id.startswith("projects/"):
            return name_or_id
        return f"{self.parent}/sessions/{name_or_id}"

    def _render(self) -> None:
        now = utcnow()
        flt = self._filter()
        sessions = self.state.sessions
        shown = flt.apply(sessions.values())
        with self.table.hold_sync():
            boxes: list[widgets.Widget] = []
            for session in shown:
                row = self._rows.get(session.name)
                if row is None:
                    row = self._rows[session.name] = _Row(session.name, self._toggle)
                view = row_view(session, now, self.user)
                row.update(H.row_cells_html(view), session.name == self._selected)
                boxes.append(row.box)
            if not boxes:
                filtered = bool(sessions) and len(shown) < len(sessions)
                self._empty.value = H.empty_html(self.state.status.synced, filtered)
            children = (self._table_header, *boxes) if boxes else (self._table_header, self._empty)
            if tuple(self.table.children) != children:
                self.table.children = children
        for name in [n for n in self._rows if n not in sessions]:
            self._rows.pop(name).close()  # after it left the table's children
        self.status_html.value = H.status_html(status_view(self.state.status, now))
        live = sum(1 for s in sessions.values() if s.state.is_live)
        summary = f"{len(sessions)} sessions · {live} live" if sessions else ""
        if len(shown) != len(sessions):
            summary += f" · {len(shown)} shown"
        self.summary_html.value = f'<span class="jp-sessions-live-muted">{H.e(summary)}</span>'
        self._render_details(now)

    def _render_details(self, now: datetime) -> None:
        name = self._selected
        with self.details_box.hold_sync():
            if name is None:
                self.details_box.layout.display = "none"
                return
            self.details_box.layout.display = ""
            session = self.state.sessions.get(name)
            busy = self._runner.in_flight(name)
            if session is None:
                self.details_html.value = H.gone_html(name.rsplit("/", 1)[-1])
                allow_terminate = allow_delete = False
                terminate_tip = delete_tip = "The session no longer exists."
            else:
                self.details_html.value = H.details_html(session, now)
                allow_terminate = can_terminate(session.state) and busy is None
                allow_delete = can_delete(session.state) and busy is None
                terminate_tip = (
                    "Stop the session's runtime"
                    if allow_terminate
                    else (busy.message if busy else terminate_refusal(session.state))
                )
                delete_tip = (
                    "Delete the session (terminating it first if needed)"
                    if allow_delete
                    else (busy.message if busy else delete_refusal(session.state))
                )
            with self.terminate_button.hold_sync():
                self.terminate_button.disabled = not allow_terminate
                self.terminate_button.tooltip = terminate_tip
            with self.delete_button.hold_sync():
                self.delete_button.disabled = not allow_delete
                self.delete_button.tooltip = delete_tip
            confirm = self._confirm
            if confirm is not None and confirm[1] == name:
                still = allow_terminate if confirm[0] == "terminate" else allow_delete
                if not still:  # the state moved on since the question was asked
                    self._confirm = confirm = None
            self.confirm_bar.layout.display = "" if confirm else "none"

    def _show_form(self, show: bool) -> None:
        with self._lock:
            if self._closed:
                return
            self.form.box.layout.display = "" if show else "none"
            if show:
                self.form.refresh_create()
            if self.new_button.value != show:
                self.new_button.value = show

    # --- internals: actions -------------------------------------------------------------

    def _log(self, text: str, *, error: bool = False) -> None:
        """One timestamped line in the panel's log (thread-safe: never prints)."""
        line = f"{utcnow():%H:%M:%S} {text}\n"
        with self._lock:
            if self._closed:
                return
            if error:
                self.output.append_stderr(line)
            else:
                self.output.append_stdout(line)
            if len(self.output.outputs) > LOG_LINES:
                self.output.outputs = self.output.outputs[-LOG_LINES:]

    def _say(self, kind: str, text: str) -> None:
        self.message.value = H.message_html(kind, text)

    def _submit_form(self) -> Action | None:
        with self._lock:
            if self._closed:
                return None
            check = check_create_form(self.form.values(), self.state.sessions)
            self.form.show_errors(check.errors)
            if not check.ok or check.request is None:
                fields = ", ".join(k.replace("_", " ") for k in check.errors)
                self._say("error", f"Not created: check {fields}")
                return None
            request = check.request
            if self._runner.in_flight(self._name(request.session_id)):
                self.form.show_error("session_id", "this session is being created already")
                return None
            self._selected = self._name(request.session_id)
            action = self._runner.create(request.session_id, request.session)
            self._log(f"Creating {request.session_id}…")
            return action

    def _start_action(self, kind: str, name: str) -> Action:
        with self._lock:
            self._selected = self._selected or name
            if kind == "terminate":
                action = self._runner.terminate(name)
            else:
                action = self._runner.delete(name)
            self._log(f"{kind.capitalize()} {action.session_id}: requested")
            return action

    def _ask(self, kind: str) -> None:
        with self._lock:
            name = self._selected
            session = self.state.sessions.get(name) if name else None
            if name is None or session is None:
                return
            allowed = (
                can_terminate(session.state) if kind == "terminate" else can_delete(session.state)
            )
            if not allowed:
                refusal = terminate_refusal if kind == "terminate" else delete_refusal
                self._say("error", f"Cannot {kind} {session.session_id}: {refusal(session.state)}")
                return
            what = (
                "Its runtime stops; this cannot be undone."
                if kind == "terminate"
                else "It is terminated first if needed, then removed for good."
            )
            self._confirm = (kind, name)
            self.confirm_html.value = (
                f"<b>{H.e(kind.capitalize())} session {H.e(session.session_id)}?</b> {H.e(what)}"
            )
            self.confirm_button.description = kind.capitalize()
            self._render()

    def _confirmed(self) -> Action | None:
        with self._lock:
            confirm, self._confirm = self._confirm, None
            if confirm is None:
                return None
            kind, name = confirm
            return self._start_action(kind, name)

    def _cancel_confirm(self) -> None:
        with self._lock:
            self._confirm = None
            self.render()

    def _on_action(self, action: Action) -> None:
        """Progress and outcomes of actions (called from workers and the main thread)."""
        with self._lock:
            if self._closed:
                return
            if action.status == RUNNING:
                self._say("busy", action.message)
            elif action.status == CANCELLED:
                return
            else:
                self._finished(action)
            self._render()

    def _finished(self, action: Action) -> None:
        ok = action.status == SUCCEEDED
        self._say("ok" if ok else "error", action.message)
        self._log(action.message, error=not ok)
        if ok and action.kind == "delete":
            self.state.remove(action.name)
        elif action.session is not None:
            # The operation's own snapshot is the truth now; the stream may lag a poll.
            self.state.upsert(action.session)
        if action.kind == "create":
            err = action.error
            if ok and self.form.session_id.value.strip() == action.session_id:
                self.form.session_id.value = suggest_session_id()
            elif isinstance(err, AlreadyExists):
                self.form.show_error("session_id", err.message)
            elif isinstance(err, InvalidArgument):
                for name, message in api_error_fields(err).items():
                    self.form.show_error(name, message)
            elif isinstance(err, NotFound) and self.form.template.value:
                # Creating names nothing else that could be missing: the template went away.
                self.form.show_error("template", err.message)
