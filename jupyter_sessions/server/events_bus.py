"""Session changes on the server's jupyter_events bus, for front ends that listen there."""

from __future__ import annotations

import logging
from typing import Any

from .watcher import WatchEvent

SCHEMA_ID = "https://events.jupyter.org/jupyter_sessions/session_change/v1"
SCHEMA: dict[str, Any] = {
    "$id": SCHEMA_ID,
    "version": "1",
    "title": "Session change",
    "personal-data": False,
    "description": "A Dataproc session changed state, appeared, went away, or the backend's "
    "reachability changed.",
    "type": "object",
    "required": ["kind", "parent"],
    "properties": {
        "kind": {"enum": ["session", "removed", "status"], "description": "What happened."},
        "parent": {"type": "string", "description": "projects/P/locations/L"},
        "name": {"type": "string", "description": "The session's full name."},
        "state": {"type": "string", "description": "The session's state, if known."},
        "reachable": {"type": "boolean", "description": "Backend reachability (status)."},
        "message": {"type": "string", "description": "State or status message."},
    },
}


class EventBus:
    """Publishes Watcher events on jupyter_events (on the server's loop thread only)."""

    def __init__(self, event_logger: Any, log: logging.Logger | Any) -> None:
        self.logger = event_logger
        self.log = log
        if self.logger is not None:
            try:
                self.logger.register_event_schema(SCHEMA)
            except Exception as exc:  # a second server app in one process re-registers
                self.log.debug("session event schema not registered: %s", exc)

    def publish(self, parent: str, event: WatchEvent) -> None:
        if self.logger is None:
            return
        data: dict[str, Any] = {"kind": event.kind, "parent": parent}
        if event.kind == "session":
            data["name"] = event.data.get("name", "")
            data["state"] = event.data.get("state", "")
            if event.data.get("stateMessage"):
                data["message"] = event.data["stateMessage"]
        elif event.kind == "removed":
            data["name"] = event.data.get("name", "")
        elif event.kind == "status":
            data["reachable"] = bool(event.data.get("reachable"))
            if event.data.get("message"):
                data["message"] = event.data["message"]
        try:
            self.logger.emit(schema_id=SCHEMA_ID, data=data)
        except Exception as exc:
            self.log.debug("could not emit a session event: %s", exc)
