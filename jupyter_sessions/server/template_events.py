"""``template`` events: a session template written through the proxy, told at once to
every subscriber of its parent's event stream (side panels refresh their templates and
their launcher cards).

Only writes that pass through this server are seen; the side panel also lists the
templates again when it reconnects and, slowly, while its Templates view is open, for
writes made elsewhere (another server, gcloud, the console).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .watcher import WatchEvent

if TYPE_CHECKING:
    import httpx

    from .watcher import WatcherRegistry

_TEMPLATE_PATH = re.compile(r"^(projects/[^/]+/locations/[^/]+)/sessionTemplates(?:/([^/]+))?\Z")


def template_event(method: str, path: str, response: httpx.Response) -> WatchEvent | None:
    """The event for a successful template write, or None (reads, failures, other paths).

    ``{"name": ..., "template": {...}}`` for a create or an update,
    ``{"name": ..., "deleted": true}`` for a delete.
    """
    match = _TEMPLATE_PATH.match(path)
    if method == "GET" or not match or response.status_code >= 400:
        return None
    if method == "DELETE":
        if not match.group(2):
            return None
        return WatchEvent("template", {"name": path, "deleted": True})
    try:
        body: Any = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        return None
    return WatchEvent("template", {"name": body["name"], "template": body})


def note_template_write(
    watchers: WatcherRegistry, parent: str, method: str, path: str, response: httpx.Response
) -> None:
    """Announce a template write to the parent's subscribers (if anyone watches)."""
    watcher = watchers.get(parent)
    if watcher is None:
        return
    event = template_event(method, path, response)
    if event is not None:
        watcher.announce(event)
