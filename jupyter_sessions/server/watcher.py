"""The Watcher: one per parent with subscribers, fanned out to all of them.

With a backend that has a change feed (the emulator) it follows the feed (feed.py): no
polling, every change in order. Otherwise it polls, and cost grows with live sessions, not
with history or subscribers: each round lists the live sessions (CREATING, ACTIVE,
TERMINATING) and those created since the previous round, fetches once each session that
left the live set to learn its final state, and lists everything only rarely, to notice
deletions; the interval adapts to transitions and use within a request budget. Whatever
passes through the proxy updates it at once; states a session went through unseen are
announced from its stateHistory. Errors back off with jitter and surface as ``status``
events; recovery is automatic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from ..api import errors
from ..api.backoff import Backoff
from ..api.codec import format_timestamp
from ..client.retry import retry_after
from .backend import BackendClient
from .feed import FeedFollower, Pacer, is_older, missed_states

log = logging.getLogger(__name__)

LIVE_FILTER = "state = CREATING OR state = ACTIVE OR state = TERMINATING"
LIVE_STATES = frozenset({"CREATING", "ACTIVE", "TERMINATING"})
TRANSITION_STATES = frozenset({"CREATING", "TERMINATING"})
QUEUE_LIMIT = 1000


@dataclass
class WatchSettings:
    """How often to look."""

    transition_interval: float = 0.5
    steady_interval: float = 10.0
    full_interval: float = 60.0
    max_backoff: float = 10.0
    page_size: int = 500
    # Polled backends: while the parent was used in the last active_window seconds, and
    # after idle_after seconds without use; never more than budget_per_minute requests.
    active_interval: float = 2.0
    idle_interval: float = 30.0
    active_window: float = 120.0
    idle_after: float = 600.0
    budget_per_minute: float = 60.0
    # Deadline of each of the Watcher's own looks (a hung backend shows in seconds).
    probe_timeout: float = 5.0
    # Follow the backend's change feed when it has one (the emulator), not Dataproc.
    use_feed: bool = True
    feed_heartbeat: float = 1.0
    # Sessions created this long before the previous look are asked for again (clock skew).
    created_margin: float = 60.0


class Throttled(Exception):
    """The backend answered a look with 429."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("throttled")
        self.retry_after = retry_after


@dataclass
class WatchEvent:
    """One Server-Sent Event: ``snapshot``, ``session``, ``removed`` or ``status``."""

    kind: str
    data: dict[str, Any]


@dataclass
class Subscription:
    parent: str
    queue: asyncio.Queue[WatchEvent] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))


def _now() -> str:
    return format_timestamp(datetime.now(timezone.utc))


class Watcher:
    """Polls one parent's sessions and tells every subscriber what changed."""

    def __init__(
        self,
        parent: str,
        client: BackendClient,
        settings: WatchSettings,
        *,
        publish: Callable[[str, WatchEvent], None] | None = None,
        on_idle: Callable[[Watcher], None] | None = None,
    ) -> None:
        self.parent = parent
        self.client = client
        self.settings = settings
        self.publish = publish
        self.on_idle = on_idle
        self.sessions: dict[str, dict[str, Any]] = {}
        self.synced = False
        self.reachable = True
        self.last_poll: str | None = None
        self.last_error = ""
        self.polls = 0
        self._subs: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._full_requested = True
        self.last_used = time.monotonic()
        self.feed = (
            FeedFollower(self) if settings.use_feed and client.backend.kind != "dataproc" else None
        )
        self.pacer = Pacer(
            settings.transition_interval,
            settings.active_interval,
            settings.steady_interval,
            settings.idle_interval,
            settings.active_window,
            settings.idle_after,
            settings.budget_per_minute,
        )
        self.requests = 0  # the Watcher's own requests to the backend
        self._look_requests = 0
        self._created_since: datetime | None = None

    # --- subscribers ------------------------------------------------------------------

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def subscribe(self) -> Subscription:
        sub = Subscription(self.parent)
        self._subs.append(sub)
        self.last_used = time.monotonic()  # a panel opening: someone is looking now
        if self.synced:
            sub.queue.put_nowait(self._snapshot())
            if not self.reachable:
                sub.queue.put_nowait(self._status())
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
        if not self._subs:
            self.stop()
            if self.on_idle is not None:
                self.on_idle(self)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def poke(self, full: bool = False) -> None:
        """Look now (after a mutation through the proxy) instead of at the next interval."""
        self._full_requested = self._full_requested or full
        self._wake.set()

    def backend_changed(self, up: bool, message: str) -> None:
        """The backend process went away or came back."""
        if not up:
            self._set_reachable(False, message)
        self.poke(full=True)

    # --- the loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        if self.feed is not None:
            await self.feed.follow()  # returns only if the backend has no change feed
            self.feed = None
        failures = 0
        schedule = Backoff(first=0.5, cap=self.settings.max_backoff)
        next_full = 0.0
        while True:
            self._look_requests = 0
            try:
                if self._full_requested or not self.synced or time.monotonic() >= next_full:
                    self._full_requested = False
                    await self._full_sync()
                    next_full = time.monotonic() + self.settings.full_interval
                else:
                    await self._poll_live()
                self.polls += 1
                self.last_poll = _now()
                self._set_reachable(True, "")
                failures = 0
                in_transition = any(
                    s.get("state") in TRANSITION_STATES for s in self.sessions.values()
                )
                self.pacer.succeeded()
                delay = self.pacer.delay(
                    in_transition=in_transition,
                    last_used=self.last_used,
                    requests=self._look_requests,
                )
            except asyncio.CancelledError:
                raise
            except Throttled as exc:  # 429: the quota is shared, so slow down for real
                self._set_reachable(True, "")
                delay = self.pacer.throttled(exc.retry_after)
                log.info(
                    "Watcher of %s throttled by the backend; next look in %.1fs", self.parent, delay
                )
            except Exception as exc:  # keep watching whatever happens
                if isinstance(exc, errors.ApiError):
                    self._set_reachable(False, str(exc))
                    self._full_requested = True  # resynchronise everything once it is back
                else:
                    log.exception("Watcher for %s failed", self.parent)
                    self._set_reachable(False, f"Watcher error: {exc}")
                failures += 1
                delay = schedule.step(failures - 1)
            await self.pause(delay)

    async def pause(self, delay: float) -> None:
        """Wait ``delay`` seconds; a poke (the backend came back, a subscriber asked) ends the
        wait early."""
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            pass

    async def _list(self, filter_text: str | None) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        token = ""
        for _ in range(10_000):  # bounded: at most 10,000 pages
            params: dict[str, Any] = {"pageSize": self.settings.page_size}
            if filter_text:
                params["filter"] = filter_text
            if token:
                params["pageToken"] = token
            page = await self._get(f"v1/{self.parent}/sessions", urlencode(params))
            for session in page.get("sessions", []):
                found[session["name"]] = session
            token = page.get("nextPageToken", "")
            if not token:
                break
        return found

    async def _get(self, path: str, query: str = "") -> dict[str, Any]:
        """One look of the Watcher's own: short deadline, no retries, 429 as Throttled."""
        self.requests += 1
        self._look_requests += 1
        response = await self.client.look(path, query, self.settings.probe_timeout)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code == 429:
            raise Throttled(retry_after(response))
        if response.status_code >= 400:
            raise self.client.backend.rewrite_error(
                "GET", path, errors.ApiError.from_http(response.status_code, data)
            )
        if not isinstance(data, dict):
            raise errors.Unavailable(f"The sessions backend sent a non-JSON answer for {path}")
        return data

    async def _full_sync(self) -> None:
        since = datetime.now(timezone.utc) - timedelta(seconds=self.settings.created_margin)
        self.apply_listing(await self._list(None))
        self._created_since = since  # the next live look also asks what was created since

    def apply_listing(self, current: dict[str, dict[str, Any]]) -> None:
        """A complete listing of the parent: the first one is the snapshot; later ones
        announce what changed, appeared or went away since."""
        if not self.synced:
            self.sessions = current
            self.synced = True
            self._broadcast(self._snapshot())
            return
        for name in [n for n in self.sessions if n not in current]:
            self.forget(name)
        for name, session in current.items():
            self._update(name, session)

    def _live_filter(self) -> str:
        """Live sessions, and those created since the previous look (minus a margin), so a
        session that started and ended (or failed) between two looks is still seen."""
        since = self._created_since
        self._created_since = datetime.now(timezone.utc) - timedelta(
            seconds=self.settings.created_margin
        )
        if since is None:
            return LIVE_FILTER
        return f'{LIVE_FILTER} OR create_time >= "{format_timestamp(since)}"'

    async def _poll_live(self) -> None:
        live = await self._list(self._live_filter())
        for name, session in live.items():
            self._update(name, session)
        gone = [
            name
            for name, s in self.sessions.items()
            if s.get("state") in LIVE_STATES and name not in live
        ]
        for name in gone:
            try:
                session = await self._get(f"v1/{name}")
            except errors.NotFound:
                self.forget(name)
                continue
            self._update(name, session)

    def _update(self, name: str, session: dict[str, Any]) -> None:
        """A session as some look (a poll, the feed, a proxied response) saw it."""
        known = self.sessions.get(name)
        if known == session or (known is not None and is_older(session, known)):
            return
        # States it went through unseen are announced first, in order, marked caughtUp.
        for state in missed_states(known, session):
            self._broadcast(WatchEvent("session", state))
        self.sessions[name] = session
        self._broadcast(WatchEvent("session", session))

    def forget(self, name: str) -> None:
        """The session is gone (deleted)."""
        if self.sessions.pop(name, None) is not None:
            self._broadcast(WatchEvent("removed", {"name": name}))

    def observe(self, session: dict[str, Any]) -> None:
        """A session in a response that passed through the proxy."""
        if self.synced and isinstance(session.get("name"), str):
            self._update(session["name"], session)

    def looked(self) -> None:
        """A look succeeded (the feed's lines count too)."""
        self.last_poll = _now()
        self._set_reachable(True, "")

    # --- events -----------------------------------------------------------------------

    def _snapshot(self) -> WatchEvent:
        ordered = sorted(
            self.sessions.values(),
            key=lambda s: (s.get("createTime", ""), s.get("name", "")),
            reverse=True,
        )
        return WatchEvent("snapshot", {"sessions": ordered, "time": _now()})

    def _status(self) -> WatchEvent:
        data: dict[str, Any] = {"reachable": self.reachable}
        if self.last_poll:
            data["lastPoll"] = self.last_poll
        if self.last_error and not self.reachable:
            data["message"] = self.last_error
        return WatchEvent("status", data)

    def _set_reachable(self, reachable: bool, message: str) -> None:
        changed = reachable != self.reachable or (not reachable and message != self.last_error)
        self.reachable = reachable
        self.last_error = message
        if changed:
            self._broadcast(self._status())

    def announce(self, event: WatchEvent) -> None:
        """Tell the subscribers of something other than a session (a template written
        through the proxy): not kept for snapshots, not on the jupyter_events bus."""
        for sub in self._subs:
            if not sub.queue.full():
                sub.queue.put_nowait(event)

    def _broadcast(self, event: WatchEvent) -> None:
        for sub in self._subs:
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                # A subscriber that stopped reading gets a fresh snapshot instead.
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                sub.queue.put_nowait(self._snapshot())
        if self.publish is not None and event.kind != "snapshot":
            self.publish(self.parent, event)


class WatcherRegistry:
    """One Watcher per parent that has subscribers; none without."""

    def __init__(
        self,
        client: BackendClient,
        settings: WatchSettings,
        publish: Callable[[str, WatchEvent], None] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.publish = publish
        self.watchers: dict[str, Watcher] = {}

    def subscribe(self, parent: str) -> tuple[Watcher, Subscription]:
        watcher = self.watchers.get(parent)
        if watcher is None:
            watcher = Watcher(
                parent, self.client, self.settings, publish=self.publish, on_idle=self._idle
            )
            self.watchers[parent] = watcher
        return watcher, watcher.subscribe()

    def _idle(self, watcher: Watcher) -> None:
        if self.watchers.get(watcher.parent) is watcher:
            del self.watchers[watcher.parent]

    def poke(self, parent: str, full: bool = False) -> None:
        watcher = self.watchers.get(parent)
        if watcher is not None:
            watcher.poke(full)

    def get(self, parent: str) -> Watcher | None:
        """The Watcher of ``parent``, if someone watches it."""
        return self.watchers.get(parent)

    def touch(self, parent: str) -> None:
        """Someone uses ``parent`` now (a visible panel): a polled backend is looked at
        at the active interval for a while."""
        watcher = self.watchers.get(parent)
        if watcher is not None:
            watcher.last_used = time.monotonic()
            watcher.poke()  # look now, not at the end of a steady or idle wait

    def backend_changed(self, up: bool, message: str) -> None:
        for watcher in list(self.watchers.values()):
            watcher.backend_changed(up, message)

    def close(self) -> None:
        for watcher in list(self.watchers.values()):
            watcher.stop()
        self.watchers.clear()
