"""How the Watcher learns of changes without missing any.

- ``FeedFollower``: with a backend that offers the emulator's change feed
  (``sessions:watch``), the Watcher follows it instead of polling: one open request per
  parent, each change within milliseconds, resumed from the last position after a
  broken connection, a hung backend noticed when heartbeats stop.
- ``missed_states``: when a look shows that a session went through states nobody was
  told about, those states, in order, from its ``stateHistory``.
- ``Pacer``: for polled backends (Dataproc), how long to wait before the next look: fast
  while a session is in transition or someone uses the parent, slower otherwise, never
  above a request budget, slower still when the backend says 429.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from ..api import errors
from ..api.backoff import Backoff
from ..api.codec import parse_timestamp

if TYPE_CHECKING:
    from .watcher import Watcher, WatcherRegistry

log = logging.getLogger(__name__)

# Seconds a feed request stays open before the follower reconnects (with its position).
FEED_WAIT = 300.0
# Statuses that mean "this backend has no change feed": poll it instead.
NO_FEED = frozenset({400, 404, 405, 501})
# A stream that ends sooner than this was not a feed staying open: wait before the next.
SHORT_STREAM = 1.0
# A Dataproc regional quota is 7,500 requests per minute; one server watching one parent
# stays within this share of it (0.8%), however many panels are open.
REGIONAL_QUOTA_PER_MINUTE = 7500


class FeedUnsupported(Exception):
    """The backend answered the change feed with "no such method"."""


class FeedFollower:
    """Follows one parent's change feed for a Watcher."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.position = ""  # the last position read: a reconnect resumes after it
        self.connections = 0
        self.resets = 0

    async def follow(self) -> None:
        """Follow until cancelled; return only if the backend has no feed."""
        w = self.watcher
        failures = 0
        schedule = Backoff(first=0.25, cap=w.settings.max_backoff)
        while True:
            opened = time.monotonic()
            try:
                await self._follow_once()
                if time.monotonic() - opened >= SHORT_STREAM:
                    failures = 0  # the stream ended on time: reconnect at once
                    continue
            except FeedUnsupported:
                log.info("The backend of %s has no change feed; polling it", w.parent)
                return
            except asyncio.CancelledError:
                raise
            except errors.ApiError as exc:
                w._set_reachable(False, str(exc))
            except Exception as exc:  # keep following whatever happens
                log.exception("Following the change feed of %s failed", w.parent)
                w._set_reachable(False, f"Watcher error: {exc}")
            failures += 1
            await w.pause(schedule.step(failures - 1))

    async def _follow_once(self) -> None:
        w = self.watcher
        params: dict[str, Any] = {"wait": FEED_WAIT, "heartbeat": w.settings.feed_heartbeat}
        if self.position:
            params["since"] = self.position
        # Heartbeats come every feed_heartbeat seconds: silence beyond the probe timeout
        # means the backend hangs.
        read_timeout = max(w.settings.probe_timeout, 2 * w.settings.feed_heartbeat)
        async with w.client.stream(
            f"v1/{w.parent}/sessions:watch", urlencode(params), read_timeout
        ) as response:
            if response.status_code != 200:
                body = await response.aread()
                if response.status_code in NO_FEED:
                    raise FeedUnsupported()
                try:
                    data = json.loads(body)
                except ValueError:
                    data = None
                raise errors.ApiError.from_http(response.status_code, data)
            if not response.headers.get("content-type", "").startswith("application/x-ndjson"):
                raise FeedUnsupported()  # something answered, but not a change feed
            self.connections += 1
            async for line in response.aiter_lines():
                if line.strip():
                    self._apply(json.loads(line))

    def _apply(self, line: dict[str, Any]) -> None:
        w = self.watcher
        if not isinstance(line, dict) or not line.get("position"):
            raise FeedUnsupported()
        if line.get("reset"):
            self.resets += 1
            w.apply_listing({s["name"]: s for s in line.get("sessions", [])})
        elif "session" in line:
            session = line["session"]
            w._update(session["name"], session)
        elif "deleted" in line:
            w.forget(str(line["deleted"]))
        self.position = str(line.get("position") or self.position)
        w.looked()


# --- states nobody was told about --------------------------------------------------------


def _time(value: Any) -> datetime | None:
    try:
        return parse_timestamp(str(value)) if value else None
    except ValueError:
        return None


def _version(session: dict[str, Any]) -> tuple[int, datetime | None, str]:
    usage = (session.get("runtimeInfo") or {}).get("approximateUsage") or {}
    return (
        len(session.get("stateHistory") or []),
        _time(session.get("stateTime")),
        str(usage.get("updateTime", "")),
    )


def is_older(new: dict[str, Any], known: dict[str, Any]) -> bool:
    """True if ``new`` is an earlier version of ``known`` (a read that lost a race with
    a newer one): it must not move the session back."""
    if new.get("uuid") != known.get("uuid"):
        a, b = _time(new.get("createTime")), _time(known.get("createTime"))
        return a is not None and b is not None and a < b
    nv, kv = _version(new), _version(known)
    if nv[0] != kv[0]:
        return nv[0] < kv[0]
    if nv[1] is not None and kv[1] is not None and nv[1] != kv[1]:
        return nv[1] < kv[1]
    return bool(nv[2] and kv[2] and nv[2] < kv[2])


def missed_states(known: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """The states ``new`` went through since ``known`` (None: never announced) that were
    never announced, oldest first, each as the session then was (``caughtUp: true``)."""
    history = new.get("stateHistory") or []
    if known is not None and known.get("uuid") == new.get("uuid"):
        # history[len(known's history)] is the state announced last: skip up to it.
        start = len(known.get("stateHistory") or []) + 1
    else:
        start = 0
    replay = []
    for index in range(start, len(history)):
        entry = history[index]
        replay.append(
            {
                **new,
                "state": entry.get("state", "STATE_UNSPECIFIED"),
                "stateMessage": entry.get("stateMessage", ""),
                "stateTime": entry.get("stateStartTime", ""),
                "stateHistory": history[:index],
                "caughtUp": True,
            }
        )
    return replay


# --- pacing the looks of a polled backend ------------------------------------------------


@dataclass
class Pacer:
    """The wait before the next look at a polled backend."""

    transition: float
    active: float
    steady: float
    idle: float
    active_window: float  # seconds a use of the parent counts as "recently used"
    idle_after: float  # seconds without use after which looks slow down to ``idle``
    budget_per_minute: float
    slowdown: float = 1.0  # grows on 429, shrinks on success

    def delay(
        self, *, in_transition: bool, last_used: float, requests: int, now: float | None = None
    ) -> float:
        now = time.monotonic() if now is None else now
        unused = now - last_used
        if in_transition:
            base = self.transition
        elif unused <= self.active_window:
            base = self.active
        elif unused <= self.idle_after:
            base = self.steady
        else:
            base = self.idle
        # Each request of the last look "costs" 60/budget seconds: on average the looks
        # of one parent never exceed the budget.
        floor = max(1, requests) * 60.0 / max(self.budget_per_minute, 0.1)
        return max(base * self.slowdown, floor)

    def throttled(self, retry_after: float | None) -> float:
        """The backend said 429: slow down (at least as long as it asked)."""
        self.slowdown = min(self.slowdown * 2, 32.0)
        wait = self.steady * self.slowdown
        return max(wait, retry_after or 0.0)

    def succeeded(self) -> None:
        self.slowdown = max(1.0, self.slowdown * 0.8)


# --- what passes through the proxy -------------------------------------------------------

_SESSION_PATH = re.compile(r"^projects/[^/]+/locations/[^/]+/sessions/[^/:]+$")


def note_proxied(
    watchers: WatcherRegistry, parent: str, method: str, path: str, response: httpx.Response
) -> None:
    """Tell the parent's Watcher (if someone watches) what a proxied answer showed: the
    sessions in it, a session that is gone, and that the parent is in use."""
    watcher = watchers.get(parent)
    if watcher is None:
        return  # nobody watches: nothing to parse
    watcher.last_used = time.monotonic()
    status = response.status_code
    if method != "GET" and status < 400:
        watcher.poke(full=method == "DELETE")  # a polled backend looks at once
    if method != "GET" or ("/sessions" not in path and "/operations/" not in path):
        return
    if status == 404 and _SESSION_PATH.match(path):
        watcher.forget(path)
        return
    if status != 200 or "json" not in response.headers.get("content-type", ""):
        return
    try:
        data = response.json()
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    if _SESSION_PATH.match(path):
        watcher.observe(data)
    elif "/operations/" in path:
        # A finished session operation carries the session as it then was.
        done = data.get("response")
        if isinstance(done, dict) and "/sessions/" in str(done.get("name", "")):
            watcher.observe({k: v for k, v in done.items() if k != "@type"})
    elif path.endswith("/sessions"):
        for session in data.get("sessions") or []:
            if isinstance(session, dict):
                watcher.observe(session)
