"""The emulator's database carries its layout version (``PRAGMA user_version``) and upgrades
files written before the version existed, keeping everything in them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_sessions.emulator import changes
from jupyter_sessions.emulator.store import SCHEMA_VERSION, SchemaTooNew, SessionStore

from ..support import EmulatorProcess, wait_state
from .calls import create_ok, fresh_parent, terminate_ok

# The tables as the releases before the version wrote them, word for word.
FIRST_RELEASE = """
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
TABLES = ("sessions", "templates", "operations", "request_ids")
SIMULATED = ("--runtime", "simulated")


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def unversioned_copy(source: Path, target: Path, *, change_log: bool) -> None:
    """``target``: the rows of ``source`` in a file laid out as before the version (version
    0), with or without the change log that came later."""
    with sqlite3.connect(target) as db:
        db.executescript(FIRST_RELEASE + (changes.SCHEMA if change_log else ""))
        db.execute("ATTACH DATABASE ? AS src", (str(source),))
        for table in TABLES:
            db.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
        db.commit()
        db.execute("DETACH DATABASE src")
    assert user_version(target) == 0


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, dict]]:
    """A database with a terminated session, an active one, a template, operations and a
    requestId, written by a real emulator; and what the API answered for them."""
    workdir = tmp_path_factory.mktemp("schema-source")
    parent = fresh_parent()
    emulator = EmulatorProcess(workdir, *SIMULATED).start()
    try:
        with emulator.client() as api:
            api.post(
                f"/v1/{parent}/sessionTemplates",
                json={"name": f"{parent}/sessionTemplates/kept", "labels": {"t": "1"}},
            ).raise_for_status()
            create_ok(api, parent, "ended", {"labels": {"role": "ended"}})
            create_ok(api, parent, "live", {"labels": {"role": "live"}})
            wait_state(api, f"{parent}/sessions/ended", {"ACTIVE"})
            wait_state(api, f"{parent}/sessions/live", {"ACTIVE"})
            op = terminate_ok(api, f"{parent}/sessions/ended", {"requestId": "term-ended"})
            wait_state(api, f"{parent}/sessions/ended", {"TERMINATED"})
            seen: dict[str, dict] = {
                name: api.get(f"/v1/{parent}/{name}").json()
                for name in ("sessions/ended", "sessions/live", "sessionTemplates/kept")
            }
            seen["terminate"] = op
    finally:
        emulator.stop()
    return emulator.db, parent, seen


@pytest.mark.parametrize("change_log", [False, True], ids=["first-release", "with-change-log"])
def test_a_file_from_before_the_version_is_upgraded_and_keeps_everything(
    written: tuple[Path, str, dict[str, dict]], tmp_path: Path, change_log: bool
) -> None:
    # Given a database laid out as before the schema version (version 0)
    source, parent, seen = written
    old = EmulatorProcess(tmp_path, *SIMULATED)
    unversioned_copy(source, old.db, change_log=change_log)
    # When today's emulator opens it
    old.start()
    try:
        with old.client() as api:
            # Then the sessions, the template and the requestId are all there as they were
            ended = api.get(f"/v1/{parent}/sessions/ended").json()
            assert ended["state"] == "TERMINATED"
            assert ended["uuid"] == seen["sessions/ended"]["uuid"]
            assert ended["labels"] == seen["sessions/ended"]["labels"]
            template = api.get(f"/v1/{parent}/sessionTemplates/kept").json()
            assert template == seen["sessionTemplates/kept"]
            again = terminate_ok(api, f"{parent}/sessions/ended", {"requestId": "term-ended"})
            assert again["name"] == seen["terminate"]["name"]  # the requestId was kept
            live = api.get(f"/v1/{parent}/sessions/live").json()
            assert live["uuid"] == seen["sessions/live"]["uuid"]
            # and new writes reach the change feed
            create_ok(api, parent, "after")
            wait_state(api, f"{parent}/sessions/after", {"ACTIVE"})
    finally:
        old.stop()
    # And the file now says which layout it has
    assert user_version(old.db) == SCHEMA_VERSION
    with sqlite3.connect(old.db) as db:
        logged = db.execute("SELECT count(*) FROM changes WHERE name LIKE ?", ("%/after",))
        assert logged.fetchone()[0] >= 1


def test_a_versioned_file_is_opened_as_it_is(tmp_path: Path) -> None:
    # Given a database written at today's version
    db = tmp_path / "emulator.sqlite"
    store = SessionStore(db)
    assert store.upgraded_from == 0
    store.put_template("projects/p/locations/l/sessionTemplates/t", {"name": "t"})
    store.close()
    # When it is opened again, Then nothing is upgraded and nothing is lost
    again = SessionStore(db)
    try:
        assert again.upgraded_from == SCHEMA_VERSION
        assert list(again.load_templates()) == ["projects/p/locations/l/sessionTemplates/t"]
    finally:
        again.close()


def test_a_file_from_a_newer_release_is_refused_and_left_alone(tmp_path: Path) -> None:
    # Given a database whose layout is newer than this release knows
    db = tmp_path / "emulator.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(FIRST_RELEASE + f"PRAGMA user_version = {SCHEMA_VERSION + 1};")
    # When the store opens it, Then it refuses with what to do
    with pytest.raises(SchemaTooNew, match="newer jupyter-sessions"):
        SessionStore(db)
    # and the emulator command says so and exits, leaving the file as it was
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_sessions.cli", "emulator", "--port", "0", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert (
        f"layout version {SCHEMA_VERSION + 1}" in out.stderr
        and "Upgrade jupyter-sessions" in out.stderr
    )
    assert user_version(db) == SCHEMA_VERSION + 1
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "changes" not in tables
