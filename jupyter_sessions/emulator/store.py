"""SQLite persistence for the emulator: sessions, templates, operations, request ids.

WAL mode with ``synchronous=NORMAL``: every committed change survives a kill -9 of the
emulator. The engine keeps the working set in memory and writes through on each change,
so reads never touch the disk.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api.errors import Unavailable
from . import changes

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
        self._db.executescript(_SCHEMA)
        changes.install(self._db)  # logs every session write, for the change feed
        self.changes = changes.ChangeLog(self._db)
        if max_pages is not None:
            # A size cap (tests use it to see how a full disk is handled).
            self._db.execute(f"PRAGMA max_page_count={int(max_pages)}")
        self._depth = 0

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes; nested use joins the outer transaction."""
        self._depth += 1
        try:
            if self._depth == 1:
                self._exec("BEGIN IMMEDIATE")
            yield
            if self._depth == 1:
                self._exec("COMMIT")
        except BaseException:
            if self._depth == 1 and self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        finally:
            self._depth -= 1

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            # A full disk, a read-only file or a locked database: the change is refused,
            # nothing is half-written (the transaction rolls back).
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
