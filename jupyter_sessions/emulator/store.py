"""SQLite persistence for the emulator: sessions, templates, operations, request ids.

WAL mode with ``synchronous=NORMAL``: every committed change survives a kill -9 of the
emulator. The engine keeps the working set in memory and writes through on each change,
so reads never touch the disk.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api.errors import Unavailable
from . import changes

# Pages kept back under --db-max-pages for changes that end sessions, besides what the
# live sessions themselves need to end (see ``end_cost``).
RESERVE_PAGES = 8

# The layout of the database, in ``PRAGMA user_version``. Files written before the version
# existed read 0: they hold version 1's tables (or some of them) and are upgraded in place.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    runtime TEXT,
    last_activity REAL,
    pending_delete TEXT
);
CREATE TABLE IF NOT EXISTS templates (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS operations (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS request_ids (
    scope TEXT NOT NULL,
    request_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    PRIMARY KEY (scope, request_id)
);
"""


class SchemaTooNew(RuntimeError):
    """The database was written by a newer emulator, whose layout this one cannot read."""


def _upgrades() -> dict[int, str]:
    """The script that brings a database from version ``n - 1`` to ``n``, by ``n``."""
    return {
        # Version 1: the tables of the first releases (idempotent: files from before the
        # version already hold them) and the change log of the change feed.
        1: _SCHEMA + changes.SCHEMA,
    }


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def upgrade(db: sqlite3.Connection, path: str) -> int:
    """Bring the database to ``SCHEMA_VERSION``, one version at a time, each in its own
    transaction (a crash leaves a whole version, never half of one). Returns the version
    found."""
    found = schema_version(db)
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"The database {path} has layout version {found}, written by a newer "
            f"jupyter-sessions; this one reads up to version {SCHEMA_VERSION}. Upgrade "
            "jupyter-sessions or use another --db."
        )
    scripts = _upgrades()
    for version in range(found + 1, SCHEMA_VERSION + 1):
        # executescript commits what is pending first, so the script holds its own
        # transaction; the version is written inside it.
        db.executescript(
            f"BEGIN IMMEDIATE;\n{scripts[version]}\nPRAGMA user_version = {version};\nCOMMIT;"
        )
    return found


@dataclass
class StoredSession:
    body: dict[str, Any]
    runtime: dict[str, Any] | None
    last_activity: float | None
    pending_delete: str | None


class SessionStore:
    """Durable rows behind the engine's in-memory state."""

    def __init__(self, path: Path | str, *, max_pages: int | None = None) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        try:
            self.upgraded_from = upgrade(self._db, self.path)
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._db.close()
            raise
        changes.install(self._db)  # logs every session write, for the change feed
        self.changes = changes.ChangeLog(self._db)
        # A size cap (tests use it to see how a full disk is handled). Part of it is kept
        # back for changes that end sessions (terminate, delete, a runtime that stopped):
        # with a full database, space can still be freed through the API. ``end_cost``
        # (set by the engine) says how many bytes ending every live session would write.
        self.max_pages = int(max_pages) if max_pages is not None else None
        self.end_cost: Callable[[], int] = lambda: 0
        self._depth = 0
        self._set_cap(reserve=False)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self, *, reserve: bool = False) -> Iterator[None]:
        """Group writes; nested use joins the outer transaction. ``reserve``: the change
        ends or removes sessions and may use the pages kept back for that."""
        self._depth += 1
        outer = self._depth == 1
        try:
            if outer:
                self._set_cap(reserve=reserve)
                self._exec("BEGIN IMMEDIATE")
            yield
            if outer:
                if not reserve:
                    self._check_room()
                self._exec("COMMIT")
        except BaseException:
            if outer and self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        finally:
            self._depth -= 1

    @property
    def reserve_pages(self) -> int:
        """Pages ordinary changes leave free under the cap."""
        if self.max_pages is None:
            return 0
        page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        return RESERVE_PAGES + -(-self.end_cost() // page_size)

    def _set_cap(self, *, reserve: bool) -> None:
        if self.max_pages is None:
            return
        pages = self.max_pages if reserve else max(1, self.max_pages - self.reserve_pages)
        # SQLite never sets it below the current size: a grown file stays as it is.
        self._db.execute(f"PRAGMA max_page_count={pages}")

    def _check_room(self) -> None:
        """Refuse an ordinary change that leaves less than the reserve free. SQLite's cap
        only stops the file growing: a change written into free pages inside a grown
        file would eat into the reserve unseen."""
        if self.max_pages is None:
            return
        pages, free = (
            int(self._db.execute(f"PRAGMA {name}").fetchone()[0])
            for name in ("page_count", "freelist_count")
        )
        if pages - free > self.max_pages - self.reserve_pages:
            raise self._full()

    def _full(self) -> Unavailable:
        return Unavailable(
            f"The emulator's database refused the change: it is full ({self.room()})."
            " Terminating and deleting sessions still works and frees room."
        )

    def room(self) -> str:
        """How much room is left, and where the file is, for a "database is full" error."""
        try:
            page_size, pages, free = (
                int(self._db.execute(f"PRAGMA {name}").fetchone()[0])
                for name in ("page_size", "page_count", "freelist_count")
            )
            disk = shutil.disk_usage(Path(self.path).resolve().parent).free
        except (sqlite3.Error, OSError):
            return f"the database is {self.path}"
        parts = [f"the database {self.path} holds {pages * page_size // 1024} KiB"]
        if self.max_pages is not None:
            left = max(0, self.max_pages - self.reserve_pages - pages + free) * page_size
            parts.append(
                f"{left // 1024} KiB left under its cap of {self.max_pages} pages "
                f"(--db-max-pages; {self.reserve_pages} more kept for terminate and delete)"
            )
        parts.append(f"{disk // (1024 * 1024)} MiB free on its disk")
        return ", ".join(parts)

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            # A full disk, a read-only file or a locked database: the change is refused,
            # nothing is half-written (the transaction rolls back).
            if "full" in str(exc):
                raise self._full() from exc
            raise Unavailable(f"The emulator's database refused the change: {exc}") from exc

    # sessions -----------------------------------------------------------------------

    def put_session(
        self,
        name: str,
        body: dict[str, Any],
        runtime: dict[str, Any] | None,
        last_activity: float | None,
        pending_delete: str | None,
    ) -> None:
        self._exec(
            "INSERT OR REPLACE INTO sessions(name, body, runtime, last_activity, pending_delete)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                name,
                json.dumps(body, separators=(",", ":")),
                json.dumps(runtime) if runtime is not None else None,
                last_activity,
                pending_delete,
            ),
        )

    def delete_session(self, name: str) -> None:
        self._exec("DELETE FROM sessions WHERE name = ?", (name,))

    def load_sessions(self) -> dict[str, StoredSession]:
        rows = self._exec(
            "SELECT name, body, runtime, last_activity, pending_delete FROM sessions"
        ).fetchall()
        return {
            name: StoredSession(
                json.loads(body), json.loads(runtime) if runtime else None, activity, pending
            )
            for name, body, runtime, activity, pending in rows
        }

    # templates ----------------------------------------------------------------------

    def put_template(self, name: str, body: dict[str, Any]) -> None:
        self._exec(
            "INSERT OR REPLACE INTO templates(name, body) VALUES (?, ?)",
            (name, json.dumps(body, separators=(",", ":"))),
        )

    def delete_template(self, name: str) -> None:
        self._exec("DELETE FROM templates WHERE name = ?", (name,))

    def load_templates(self) -> dict[str, dict[str, Any]]:
        rows = self._exec("SELECT name, body FROM templates").fetchall()
        return {name: json.loads(body) for name, body in rows}

    # operations and request ids -----------------------------------------------------

    def put_operation(self, name: str, body: dict[str, Any], seq: int) -> None:
        self._exec(
            "INSERT OR REPLACE INTO operations(name, body, seq) VALUES (?, ?, ?)",
            (name, json.dumps(body, separators=(",", ":")), seq),
        )

    def delete_operation(self, name: str) -> None:
        self._exec("DELETE FROM operations WHERE name = ?", (name,))

    def load_operations(self) -> list[tuple[str, dict[str, Any], int]]:
        rows = self._exec("SELECT name, body, seq FROM operations ORDER BY seq").fetchall()
        return [(name, json.loads(body), seq) for name, body, seq in rows]

    def put_request_id(self, scope: str, request_id: str, operation: str) -> None:
        self._exec(
            "INSERT OR REPLACE INTO request_ids(scope, request_id, operation) VALUES (?, ?, ?)",
            (scope, request_id, operation),
        )

    def load_request_ids(self) -> dict[tuple[str, str], str]:
        rows = self._exec("SELECT scope, request_id, operation FROM request_ids").fetchall()
        return {(scope, rid): op for scope, rid, op in rows}

    def integrity_check(self) -> str:
        return str(self._exec("PRAGMA integrity_check").fetchone()[0])
