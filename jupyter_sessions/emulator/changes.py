"""The change log and change feed: an addition of the emulator beyond the Dataproc API.

Every write to a session row (a new state, new usage figures, a deletion) is logged by
SQLite triggers in the same transaction as the write itself, so the log holds exactly
what was committed, in commit order, whichever code path made the change. The feed
(``GET /v1/projects/P/locations/L/sessions:watch``) streams one parent's log as
newline-delimited JSON, each line carrying a resume position: a follower that reconnects
with ``since=POSITION`` gets every change it has not seen, or, when that position is
unknown or too old, a ``reset`` line with the whole current set.

Lines (``position`` on every one):
- ``{"reset": true, "sessions": [...]}``: every session of the parent, now;
- ``{"session": {...}}``: a session as it was written (every state, in order);
- ``{"deleted": "projects/P/locations/L/sessions/ID"}``: a session was deleted;
- ``{"heartbeat": true}``: nothing new (sent every ``heartbeat`` seconds, so a follower
  notices a hung emulator with a short read timeout).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from tornado.iostream import StreamClosedError

from ..api import errors
from ..api.names import Parent

if TYPE_CHECKING:
    from tornado.web import RequestHandler

# Changes kept for followers that reconnect; older ones are dropped (a follower that
# missed them gets a reset and can replay states from each session's stateHistory).
RETAINED = 5000
MAX_LINES = 500  # per read; a long backlog arrives in several reads of one stream
MAX_WAIT = 3600.0
DEFAULT_HEARTBEAT = 1.0

_PARENT_OF_NAME = "substr({row}.name, 1, instr({row}.name, '/sessions/') - 1)"
_LOG_ROW = (
    "INSERT INTO changes(parent, name, body) VALUES (" + _PARENT_OF_NAME + ", {row}.name, {body});"
    f" DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - {RETAINED};"
)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    parent TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT
);
CREATE INDEX IF NOT EXISTS changes_by_parent ON changes(parent, seq);
CREATE INDEX IF NOT EXISTS changes_by_name ON changes(name, seq);
CREATE TABLE IF NOT EXISTS change_log_epoch (id TEXT NOT NULL);
INSERT INTO change_log_epoch(id)
    SELECT lower(hex(randomblob(6))) WHERE NOT EXISTS (SELECT 1 FROM change_log_epoch);
CREATE TRIGGER IF NOT EXISTS session_written AFTER INSERT ON sessions
WHEN NEW.body IS NOT (SELECT body FROM changes WHERE name = NEW.name ORDER BY seq DESC LIMIT 1)
BEGIN {_LOG_ROW.format(row="NEW", body="NEW.body")} END;
CREATE TRIGGER IF NOT EXISTS session_updated AFTER UPDATE OF body ON sessions
WHEN NEW.body IS NOT OLD.body
BEGIN {_LOG_ROW.format(row="NEW", body="NEW.body")} END;
CREATE TRIGGER IF NOT EXISTS session_deleted AFTER DELETE ON sessions
BEGIN {_LOG_ROW.format(row="OLD", body="NULL")} END;
"""


def install(db: sqlite3.Connection) -> None:
    """Create the log and its triggers (idempotent; runs before anything is written)."""
    db.executescript(SCHEMA)


class ChangeLog:
    """Reads the log of one database and wakes feeds when a change is committed."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.epoch = str(db.execute("SELECT id FROM change_log_epoch").fetchone()[0])
        self._waiters: set[asyncio.Future[None]] = set()
        self._wake_scheduled = False
        self.generation = 0  # counts logged rows, so a reader knows what it has seen
        # The trigger calls back into this process for each logged row. All writes run
        # synchronously on the loop thread, so by the time the scheduled wake-up runs the
        # transaction has committed (or rolled back, and readers find nothing new).
        db.create_function("jupyter_sessions_changed", 1, self._changed, deterministic=False)
        db.execute(
            "CREATE TEMP TRIGGER IF NOT EXISTS notify_change AFTER INSERT ON main.changes"
            " BEGIN SELECT jupyter_sessions_changed(NEW.seq); END"
        )

    # --- positions --------------------------------------------------------------------

    def head(self) -> int:
        row = self._db.execute("SELECT max(seq) FROM changes").fetchone()
        return int(row[0] or 0)

    def token(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    def resume_point(self, token: str | None) -> int | None:
        """The sequence number after which to resume, or None when a reset is needed
        (no position, another database's, or older than the retained log)."""
        if not token:
            return None
        epoch, _, seq_text = token.rpartition("-")
        if epoch != self.epoch or not seq_text.isdigit():
            return None
        seq = int(seq_text)
        if seq > self.head():
            return None
        oldest = self._db.execute("SELECT min(seq) FROM changes").fetchone()[0]
        if oldest is not None and seq < int(oldest) - 1:
            return None  # changes after it were dropped
        return seq

    # --- reading ----------------------------------------------------------------------

    def snapshot(self, parent: str) -> tuple[list[dict[str, Any]], int]:
        """Every session of ``parent`` and the position they are current at."""
        rows = self._db.execute(
            "SELECT body FROM sessions WHERE name > ? AND name < ? ORDER BY name",
            (parent + "/sessions/", parent + "/sessions0"),  # '0' sorts right after '/'
        ).fetchall()
        return [json.loads(body) for (body,) in rows], self.head()

    def read(self, parent: str, after: int) -> tuple[list[dict[str, Any]], int]:
        """Up to MAX_LINES changes of ``parent`` after ``after``, and the new position."""
        rows = self._db.execute(
            "SELECT seq, name, body FROM changes WHERE parent = ? AND seq > ? ORDER BY seq LIMIT ?",
            (parent, after, MAX_LINES),
        ).fetchall()
        lines: list[dict[str, Any]] = []
        for seq, name, body in rows:
            line: dict[str, Any] = {"position": self.token(seq)}
            if body is None:
                line["deleted"] = name
            else:
                line["session"] = json.loads(body)
            lines.append(line)
        # A quiet parent still moves to the head, so its position does not age out.
        position = int(rows[-1][0]) if len(rows) == MAX_LINES else max(after, self.head())
        return lines, position

    # --- waiting ----------------------------------------------------------------------

    def _changed(self, _seq: int) -> int:
        self.generation += 1
        if not self._wake_scheduled and self._waiters:
            try:
                asyncio.get_running_loop().call_soon(self._wake)
                self._wake_scheduled = True
            except RuntimeError:  # no loop (a tool writing the database): nobody waits
                pass
        return 0

    def _wake(self) -> None:
        self._wake_scheduled = False
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, timeout: float, seen: int) -> None:
        """Until a change (of any parent) after generation ``seen`` is committed, or
        ``timeout`` seconds."""
        if self.generation != seen:
            await asyncio.sleep(0)  # let the writer's transaction finish first
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)


def _number(raw: str | None, name: str, default: float, low: float, high: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise errors.bad_request(name, f"expected a number of seconds, got {raw!r}") from None
    if not low <= value <= high:
        raise errors.bad_request(name, f"must be between {low:g} and {high:g} seconds")
    return value


async def stream_feed(
    handler: RequestHandler,
    log: ChangeLog,
    parent_path: str,
    since: str | None,
    wait: str | None,
    heartbeat: str | None,
) -> None:
    """Answer ``sessions:watch``: the backlog at once, then changes as they commit for
    ``wait`` seconds (0: just the backlog), with heartbeats while nothing happens."""
    parent = Parent.parse(parent_path).path
    wait_s = _number(wait, "wait", 0.0, 0.0, MAX_WAIT)
    beat = _number(heartbeat, "heartbeat", DEFAULT_HEARTBEAT, 0.05, 60.0)
    handler.set_header("Content-Type", "application/x-ndjson; charset=UTF-8")
    handler.set_header("Cache-Control", "no-cache")
    handler.set_header("X-Accel-Buffering", "no")
    deadline = time.monotonic() + wait_s
    after = log.resume_point(since)
    out: list[dict[str, Any]] = []
    last_write: float | None = None
    if after is None:
        sessions, after = log.snapshot(parent)
        out.append({"position": log.token(after), "reset": True, "sessions": sessions})
    try:
        while True:
            seen = log.generation
            lines, after = log.read(parent, after)
            out.extend(lines)
            if not out and (last_write is None or time.monotonic() - last_write >= beat):
                out.append({"position": log.token(after), "heartbeat": True})
            if out:
                handler.write(
                    "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in out)
                )
                await handler.flush()
                last_write = time.monotonic()
                out = []
                if len(lines) == MAX_LINES:
                    continue  # more backlog right away
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            since_write = time.monotonic() - (last_write or 0.0)
            await log.wait(max(0.01, min(remaining, beat - since_write)), seen)
    except StreamClosedError:
        return  # the follower went away
    except sqlite3.ProgrammingError:
        return  # the emulator is shutting down (its database is closed)
